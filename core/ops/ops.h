/*
 * ops.h - ONNX operator semantics: one table row per op, {name, infer, run}
 * and what the planner may do with the op (capabilities and their hooks).
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
 *     cq_openv env = {0};                            // no plan slot, no fusion
 *     op->run(node, 1, &x, 1, &y, &env, &err);       // y allocated by the caller
 *
 * The planner reads capabilities from the row (cq_op.caps, cq_op.hooks), never
 * from the op's name: adding an operator is adding a row.
 *
 * Ownership: ops never retain their inputs or outputs and never write the
 * node; what an op derives for a node (a kernel plan with packed weights)
 * lives in the plan slot the caller hands over in cq_openv.plan, and the
 * caller frees it with the row's hooks->plan_free.
 */
#ifndef CQ_OPS_H
#define CQ_OPS_H

#include "graph/graph.h"
#include "kern/kern.h"

/* Limits every caller of the table shares. */
#define CQ_OP_MAX_INPUTS 32           /* inputs of one node */
#define CQ_OP_MAX_OUTPUTS 8           /* outputs of one node */
#define CQ_OP_DEFAULT_OPSET 21        /* for a domain the model does not import */
/* No single value above this many bytes: a hostile shape gets ENOMEM, not an
 * allocation the machine cannot back. */
#define CQ_MAX_VALUE_BYTES ((size_t)1 << 34)

/* What is known about a value at plan time. */
typedef struct cq_tinfo {
    cq_dtype dtype;
    int ndim;                       /* -1: unknown */
    int64_t shape[CQ_MAX_DIMS];
    const cq_tensor *data;          /* constant data when known (dense), else NULL */
} cq_tinfo;

/* ti[k] for the tensors t[k], k < n, as a run sees them: dtype, shape and
 * the tensor as data; ndim -1 for a NULL t[k] (an omitted input). */
void cq_tinfo_of(int n, cq_tensor *const *t, cq_tinfo *ti);

/* Per-run environment handed to every op; zero-filled means no fusion, no
 * blocked layout and no plan slot. */
typedef struct cq_openv {
    void *scratch;                  /* grown on demand by the ops */
    size_t scratch_size;
    int threads;
    int64_t opset;                  /* of the running node's domain */
    /* in_const[i]: input i of the running node is a constant (its data never
     * changes between runs), so plans may keep what they derive from it. */
    const unsigned char *in_const;
    /* The activation fused into the running node (CQ_OP_TAKES_ACT; kind
     * CQ_ACT_NONE when none): y = act(op(...)). */
    cq_act act;
    /* CQ_OP_TAKES_RESIDUAL: a residual fused into the node (Conv -> Add ->
     * [Relu]): y = act(conv + bias + residual), same shape as y; else NULL. */
    const cq_tensor *residual;
    /* The Add node fused with it (its scales and zero points, for an
     * integer one), else NULL. */
    const cq_node *res_node;
    /* CQ_OP_TAKES_POOL: a MaxPool fused into the node (Conv -> [Relu] ->
     * MaxPool): y = pool(act(conv + bias)), y the pool's output; else NULL. */
    const cq_pool2d_params *pool;
    /* CQ_OP_BLOCKED_IN / _OUT: input 0 (and the other inputs of
     * hooks->blocked_in), output 0, the residual in the blocked layout of
     * their dtype (NCHW16c for f32, kern.h's layout fields; NHWC for u8 /
     * s8), as the executor planned them; else 0. */
    int x_blocked, y_blocked, res_blocked;
    /* The node's compute precision from the executor's precision map:
     * CQ_F32 (0, so a zero-filled env means f32), CQ_BF16, CQ_S8 or CQ_U8. */
    cq_dtype precision;
    /* CQ_OP_PLAN: the node's plan slot, owned by the caller. The op uses the
     * plan found there, or makes one (replacing and freeing an older one)
     * when it is NULL or was made for other shapes; NULL slot: the op makes
     * what it needs for this call only. */
    void **plan;
    /* cq__run_node (constant folding): the most bytes an output may take;
     * 0: CQ_LIMITS_DEFAULT's max_tensor_bytes. */
    uint64_t max_bytes;
} cq_openv;

/* opset: the version of the node's domain imported by the model. */
typedef cq_status (*cq_op_infer_fn)(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                                    int n_out, cq_tinfo *out, cq_err *err);
/* in[i] dense (NULL for omitted optionals); out[i] dense, shaped by infer. */
typedef cq_status (*cq_op_run_fn)(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                                  cq_tensor *const *out, cq_openv *env, cq_err *err);

/* Capabilities (cq_op.caps): what the planner may do with a node of the op.
 * The fusions apply on f32 values only. */
enum {
    /* an elementwise activation its producer may absorb (hooks->act_of) */
    CQ_OP_ACT = 1 << 0,
    /* absorbs a following CQ_OP_ACT node (cq_openv.act) */
    CQ_OP_TAKES_ACT = 1 << 1,
    /* an addition of two same-shaped values a CQ_OP_TAKES_RESIDUAL producer
     * of one of them may absorb */
    CQ_OP_RESIDUAL_ADD = 1 << 2,
    /* absorbs a following CQ_OP_RESIDUAL_ADD (cq_openv.residual) */
    CQ_OP_TAKES_RESIDUAL = 1 << 3,
    /* a pool a CQ_OP_TAKES_POOL producer may absorb (hooks->pool_of) */
    CQ_OP_POOL = 1 << 4,
    /* absorbs a following CQ_OP_POOL where hooks->pool_fusable says so
     * (cq_openv.pool) */
    CQ_OP_TAKES_POOL = 1 << 5,
    /* reads input 0 (and the inputs of hooks->blocked_in, all in one
     * layout) in the blocked layout of its dtype (cq_openv.x_blocked):
     * NCHW16c for f32, NHWC for u8 / s8 (the int8 kernels' layout) */
    CQ_OP_BLOCKED_IN = 1 << 6,
    /* writes output 0 in the blocked layout of its dtype where
     * hooks->blocked_ok says so (cq_openv.y_blocked); its input 0 too when
     * it is also BLOCKED_IN */
    CQ_OP_BLOCKED_OUT = 1 << 7,
    /* keeps a kernel plan in cq_openv.plan (hooks->plan_new, plan_free);
     * its infer reads its inputs' dtypes and shapes, never their data, so
     * the executor reuses its last answer while they stay the same */
    CQ_OP_PLAN = 1 << 8,
    /* reads only its inputs' shapes, never their data (Shape) */
    CQ_OP_SHAPE_ONLY = 1 << 9,
    /* an elementwise function (Sigmoid, HardSwish, ...) a CQ_OP_TAKES_ACT
     * producer may apply in its epilogue (hooks->act_of) under
     * CQ_FUSE_ACT_FN; unlike CQ_OP_ACT the quantizer does not fold it into a
     * range, so calibration (CQ_FUSE_ACT) leaves it apart */
    CQ_OP_ACT_FN = 1 << 10,
    /* a product of two inputs (Mul): with x and sigmoid(x), x's producer
     * takes the pair as CQ_ACT_SILU (CQ_FUSE_ACT_FN) */
    CQ_OP_GATE = 1 << 11,
    /* y[i] = f(x[i], ...) on same-shaped f32 inputs (or one-value constants):
     * a chain of them between DequantizeLinear and QuantizeLinear on
     * per-tensor codes runs as a 256-entry table (exec_lut.c) */
    CQ_OP_ELEMENTWISE = 1 << 12,
    /* QuantizeLinear and DequantizeLinear, the ends of such a chain */
    CQ_OP_QUANT = 1 << 13,
    CQ_OP_DEQUANT = 1 << 14,
    /* output 0 is its inputs laid end to end where hooks->join_of says so:
     * their producers may write them straight into its slices, and the
     * node then has nothing left to do (exec_join.c) */
    CQ_OP_JOIN = 1 << 15
};

/* The functions the capabilities need; a row's hooks hold those its caps
 * name (test_ops checks it). */
typedef struct cq_op_hooks {
    /* CQ_OP_ACT, CQ_OP_ACT_FN: the activation node n applies, as kern.h's
     * cq_act; 0 when it cannot be expressed (Clip bounds that are not
     * constants). */
    int (*act_of)(const cq_graph *g, const cq_node *n, int64_t opset, cq_act *act);
    /* CQ_OP_POOL: node n on an input of shape xs as kern.h's pool
     * parameters; EUNSUPPORTED where kern.h cannot express it. */
    cq_status (*pool_of)(const cq_node *n, int ndim, const int64_t *xs, cq_pool2d_params *p,
                         cq_err *err);
    /* CQ_OP_TAKES_POOL: whether node n followed by the pool node would run
     * as one kernel, output in NCHW16c or not, from g's static shapes; 0
     * when a shape is unknown. */
    int (*pool_fusable)(const cq_graph *g, const cq_node *n, const cq_node *pool, int y_blocked);
    /* CQ_OP_BLOCKED_OUT: whether node n runs a kernel that writes its
     * blocked layout natively, reading its input blocked (x_blocked) or
     * NCHW. On a row with CQ_OP_BLOCKED_IN alone (optional): whether node n
     * reads its input blocked (x_blocked 1); without the hook it always can. */
    int (*blocked_ok)(const cq_graph *g, const cq_node *n, int x_blocked);
    /* CQ_OP_BLOCKED_IN: a mask of the inputs read in the blocked layout,
     * which then all share one layout with output 0 (QLinearAdd's a and b:
     * bits 0 and 3); 0 means input 0 alone. */
    unsigned blocked_in;
    /* CQ_OP_BLOCKED_IN (optional): the input read in the blocked layout in
     * input 0's place (a Mul whose per-channel operand comes first: its
     * other input), which then shares one layout with output 0 as a
     * blocked_in input does. Without the hook: input 0. */
    int (*x_input)(const cq_graph *g, const cq_node *n);
    /* CQ_OP_RESIDUAL_ADD: a mask of the two addends among the inputs
     * (QLinearAdd's a and b: bits 0 and 3); 0 means inputs 0 and 1. */
    unsigned res_operands;
    /* CQ_OP_TAKES_RESIDUAL (optional): whether node n can take the residual
     * Add node add whose addend k (0 or 1) it writes; without the hook it can. */
    int (*residual_ok)(const cq_graph *g, const cq_node *n, const cq_node *add, int k);
    /* CQ_OP_PLAN: make node n's plan into *plan from g's static shapes and
     * constants, with env's fusion and layout fields as the runs will set
     * them; *plan stays NULL (and CQ_OK) when it must wait for the run (a
     * shape unknown until then, weights that are not constants). */
    cq_status (*plan_new)(const cq_graph *g, const cq_node *n, const cq_openv *env, void **plan,
                          cq_err *err);
    void (*plan_free)(void *plan);  /* NULL is fine */
    /* CQ_OP_JOIN: whether output 0 of node n, in the blocked layout or NCHW
     * (y_blocked), is every input in turn, each one run of elements, from
     * g's static shapes (0 when one is unknown); their element offsets in
     * it then go to off (n->n_inputs of them). */
    int (*join_of)(const cq_graph *g, const cq_node *n, int y_blocked, int64_t *off);
} cq_op_hooks;

typedef struct cq_op {
    const char *name;
    const char *domain;             /* "" for ai.onnx */
    cq_op_infer_fn infer;
    cq_op_run_fn run;
    unsigned caps;                  /* CQ_OP_* */
    const cq_op_hooks *hooks;       /* NULL when caps needs none */
} cq_op;

/* The operator for (op_type, domain) or NULL when calq lacks it. */
const cq_op *cq_op_find(const char *op_type, const char *domain);
/* Number of rows of the table and row i (for listing the supported ops). */
int cq_op_count(void);
const cq_op *cq_op_at(int i);
/* The opset version node n runs at: its domain's in g, or CQ_OP_DEFAULT_OPSET
 * when g imports none. */
int64_t cq_op_opset(const cq_graph *g, const cq_node *n);

/* CQ_OK when node n has the inputs its operator requires at that opset
 * (present, not omitted: Conv's X and W, QLinearConv's eight...) and a first
 * output, else CQ_EFORMAT naming the node and the input. The executor and
 * the passes call it before a node's shape inference or run. */
cq_status cq_op_check_node(const cq_node *n, int64_t opset, cq_err *err);

/* The arithmetic of node n on inputs and outputs of the given shapes
 * (ops_work.c), for profiles and cost models: *flops counts 2 per
 * multiply-add of a contraction (Conv, ConvTranspose, Gemm, MatMul and
 * their integer forms, integer operations counted alike), the window of
 * each output of MaxPool/AveragePool, one per input element of a reduction
 * (GlobalAveragePool, Reduce*, Softmax, LayerNormalization), 0 for data
 * movement (Concat, Slice, Transpose, Resize, Reshape, ...), one per output
 * element for the rest (elementwise). Returns 1 for a contraction (its rate
 * reads in FLOP/s), 0 for the others (memory-bound: their rate reads in
 * bytes/s), -1 (*flops 0) when a shape it needs is unknown (ndim -1). */
int cq_op_flops(const cq_node *n, int n_in, const cq_tinfo *in, int n_out, const cq_tinfo *out,
                int64_t *flops);

#endif
