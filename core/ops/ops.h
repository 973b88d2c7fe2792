/*
 * ops.h - ONNX operator semantics: one table row {name, infer, run} per op.
 *
 * The executor (exec.h) calls infer with what it knows about each input
 * (dtype, shape, and the data when the value is constant or already computed)
 * to get the output dtypes and shapes, allocates the outputs dense, then calls
 * run with dense inputs. An infer that needs an input's *data* (Reshape's
 * shape, Slice's starts, ...) and does not have it returns CQ_ESTATE: the
 * planner then leaves the shapes downstream unknown until run time, where every
 * input has data.
 *
 *     const cq_op *op = cq_op_find("Relu", "");
 *     cq_tinfo in = {CQ_F32, 2, {2, 3}, NULL}, out;
 *     op->infer(node, 13, 1, &in, 1, &out, &err);   // out: f32[2,3]
 *     op->run(node, 1, &x, 1, &y, &env, &err);  // y allocated by the caller
 *
 * Ownership: ops never retain their inputs or outputs; a node's plan (packed
 * weights) hangs on cq_node.plan and is freed with the graph.
 */
#ifndef CQ_OPS_H
#define CQ_OPS_H

#include "graph/graph.h"
#include "kern/kern.h"

/* What is known about a value at plan time. */
typedef struct cq_tinfo {
    cq_dtype dtype;
    int ndim;                       /* -1: unknown */
    int64_t shape[CQ_MAX_DIMS];
    const cq_tensor *data;          /* constant data when known (dense), else NULL */
} cq_tinfo;

/* Per-run environment handed to every kernel. */
typedef struct cq_openv {
    void *scratch;                  /* grown on demand by cq__scratch */
    size_t scratch_size;
    int threads;
    int64_t opset;                  /* of the running node's domain */
    /* in_const[i]: input i of the running node is a constant (its data never
     * changes between runs), so plans may keep what they derive from it. */
    const unsigned char *in_const;
    /* Conv only: a residual fused into it by the executor (Conv -> Add ->
     * [Relu]): y = act(conv + bias + residual), same shape as y; else NULL. */
    const cq_tensor *residual;
    /* Conv only: a MaxPool fused into it by the executor (Conv -> [Relu] ->
     * MaxPool): y = pool(act(conv + bias)), y the pool's output; else NULL. */
    const cq_pool2d_params *pool;
    /* Conv only: x, y, the residual in NCHW16c (kern.h's layout fields),
     * as the executor planned them; else 0. */
    int x_blocked, y_blocked, res_blocked;
} cq_openv;

/* opset: the version of the node's domain imported by the model. */
typedef cq_status (*cq_op_infer_fn)(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in, int n_out,
                                    cq_tinfo *out, cq_err *err);
/* in[i] dense (NULL for omitted optionals); out[i] dense, shaped by infer. */
typedef cq_status (*cq_op_run_fn)(cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                                  cq_tensor *const *out, cq_openv *env, cq_err *err);

typedef struct cq_op {
    const char *name;
    const char *domain;             /* "" for ai.onnx */
    cq_op_infer_fn infer;
    cq_op_run_fn run;
} cq_op;

/* The operator for (op_type, domain) or NULL when calq lacks it. */
const cq_op *cq_op_find(const char *op_type, const char *domain);
/* Number of rows of the table and row i (for listing the supported ops). */
int cq_op_count(void);
const cq_op *cq_op_at(int i);

/* ---- helpers shared by the ops_*.c files (internal) --------------------- */

/* Scratch space of at least size bytes from env; NULL on ENOMEM. */
void *cq__scratch(cq_openv *env, size_t size);
/* numpy broadcasting of two shapes; EINVAL naming the node on mismatch. */
cq_status cq__broadcast(const cq_node *n, int na, const int64_t *a, int nb, const int64_t *b,
                        int *nout, int64_t *out, cq_err *err);
int64_t cq__numel(int ndim, const int64_t *shape);
/* Integer data of a small constant tensor (any integer or float dtype) into
 * out (up to max); returns the count, -1 when too many. */
int64_t cq__ints_of(const cq_tensor *t, int64_t *out, int64_t max);
/* Normalise an axis in [-r, r); -1 when out of range. */
int cq__axis(int64_t axis, int rank);
/* Copy the input info to out (dtype and shape). */
void cq__same(const cq_tinfo *in, cq_tinfo *out);
/* Error for a missing input's data at plan time. */
cq_status cq__need_data(const cq_node *n, int input, cq_err *err);

/* Every node plan starts with this header: the activation fused into the
 * node (kern.h's cq_act; kind CQ_ACT_NONE when none). */
typedef struct cq__plan_head {
    cq_act act;
} cq__plan_head;
/* Whether node n can absorb a following activation (Conv, Add on f32). */
int cq__can_fuse(const cq_node *n);
/* Fuse activation a into node n (kept in n->plan); EINVAL when n cannot take it. */
cq_status cq__fuse_act(cq_node *n, const cq_act *a, cq_err *err);
/* The activation fused into node n (kind CQ_ACT_NONE when none). */
cq_act cq__node_act(const cq_node *n);
/* A 2-D MaxPool (kind 0) or AveragePool (1) node on an input of shape xs as
 * kern.h's pool parameters (auto_pad resolved); EUNSUPPORTED where kern.h
 * cannot express it (not 2-D, an empty input), EINVAL for bad attributes. */
cq_status cq__pool2d_of(const cq_node *n, int kind, int ndim, const int64_t *xs,
                        cq_pool2d_params *p, cq_err *err);
/* Whether Conv node conv followed by MaxPool node pool (reading conv's
 * output or its fused activation's) would run as one fused kernel, from
 * the graph's static shapes (ops_conv.c); 0 when a shape is unknown. */
int cq__conv_pool_fusable(const cq_graph *g, const cq_node *conv, const cq_node *pool,
                          int y_blocked);
/* Whether the f32 Conv node (constant weights and bias, input shape known
 * at plan time) runs a kernel that writes NCHW16c natively, reading its
 * input in NCHW16c (x_blocked) or NCHW (cq_conv2d_blocked_native). */
int cq__conv_blocked_ok(const cq_graph *g, const cq_node *conv, int x_blocked);
/* Conv's node plan (ops_conv.c): its size and free function. */
size_t cq__conv_plan_size(void);
void cq__conv_plan_free(void *plan);
/* Batched matrix product with broadcast batch dims (MatMul semantics): calls
 * fn(ctx, a_off, b_off, y_off, m, k, n) per batch, offsets in elements. */
void cq__matmul_batches(const cq_tensor *a, const cq_tensor *b, const cq_tensor *y,
                        void (*fn)(void *ctx, int64_t oa, int64_t ob, int64_t oy, int64_t m,
                                   int64_t k, int64_t n),
                        void *ctx);
/* Conv geometry shared by Conv, ConvInteger and QLinearConv: spatial rank s
 * (1..3), everything padded to 3 spatial dims with leading 1s. */
typedef struct cq_convgeo {
    int s;
    int64_t n, c, m, group;
    int64_t in[3], k[3], out[3], stride[3], dil[3], pb[3], pe[3];
} cq_convgeo;
/* Geometry of a Conv-like node from X's and W's shapes; EINVAL naming the node. */
cq_status cq__conv_geo(const cq_node *n, int xnd, const int64_t *xs, int wnd, const int64_t *ws,
                       cq_convgeo *g, cq_err *err);
/* im2col of one group of one image: x is (Cg, D, H, W) floats, col is
 * (Cg*kd*kh*kw, od*oh*ow); pad value pad. */
void cq__im2col(const cq_convgeo *g, int64_t cg, const float *x, float *col, float pad);

/* Compile-time check (C99 has no static_assert). */
#define CQ__STATIC_ASSERT(cond, tag) typedef char cq__assert_##tag[(cond) ? 1 : -1]

/* The per-family tables, concatenated by ops.c. Each family file checks its
 * row count against these at compile time, and ops.c checks the total, so an
 * op added to one place and not the others breaks the build. */
#define CQ_OPS_MATH_N 18
#define CQ_OPS_CONV_N 3
#define CQ_OPS_SHAPE_N 13
#define CQ_OPS_POOL_N 3
#define CQ_OPS_QUANT_N 6
#define CQ_OPS_TOTAL 43
extern const cq_op cq__ops_math[CQ_OPS_MATH_N];
extern const cq_op cq__ops_conv[CQ_OPS_CONV_N];
extern const cq_op cq__ops_shape[CQ_OPS_SHAPE_N];
extern const cq_op cq__ops_pool[CQ_OPS_POOL_N];
extern const cq_op cq__ops_quant[CQ_OPS_QUANT_N];

#endif
