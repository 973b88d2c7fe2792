/*
 * ops_internal.h - what the ops_*.c files and passes.c share (cq__ prefix):
 * small helpers, the Conv geometry, the per-family tables. Not part of the
 * API; the executor uses ops.h and passes.h only.
 */
#ifndef CQ_OPS_INTERNAL_H
#define CQ_OPS_INTERNAL_H

#include "ops/ops.h"

/* Scratch space of at least size bytes from env; NULL on ENOMEM. */
void *cq__scratch(cq_openv *env, size_t size);

/* Gemm / MatMul in bf16 (ops_bf16.c): y (m, nn) = bf(a) (m, k) bf(b), b (k,
 * nn), or (nn, k) with tb; acc: y = alpha bf(a) bf(b) + y instead. The
 * kernel plan lives in env's plan slot when input 1 is constant; the rows'
 * hooks are cq__bgemm_hooks. */
cq_status cq__bf16_gemm(const cq_node *n, const float *a, int64_t m, int64_t k,
                        const cq_tensor *b, int tb, int64_t nn, int acc, float alpha, float *y,
                        cq_openv *env, cq_err *err);
extern const cq_op_hooks cq__bgemm_hooks;
/* numpy broadcasting of two shapes; EINVAL naming the node on mismatch. */
cq_status cq__broadcast(const cq_node *n, int na, const int64_t *a, int nb, const int64_t *b,
                        int *nout, int64_t *out, cq_err *err);
int64_t cq__numel(int ndim, const int64_t *shape);
/* a * b, saturating at INT64_MAX / INT64_MIN instead of overflowing: a
 * model's declared shapes may be anything (base/limits.h); cq__numel
 * saturates the same way. */
int64_t cq__mul_sat(int64_t a, int64_t b);
/* Integer data of a small constant tensor (any integer or float dtype) into
 * out (up to max); returns the count, -1 when too many. */
int64_t cq__ints_of(const cq_tensor *t, int64_t *out, int64_t max);
/* Normalise an axis in [-r, r); -1 when out of range. */
int cq__axis(int64_t axis, int rank);
/* Copy the input info to out (dtype and shape). */
void cq__same(const cq_tinfo *in, cq_tinfo *out);
/* Error for a missing input's data at plan time. */
cq_status cq__need_data(const cq_node *n, int input, cq_err *err);

/* A 2-D MaxPool (kind 0) or AveragePool (1) node on an input of shape xs as
 * kern.h's pool parameters (auto_pad resolved); EUNSUPPORTED where kern.h
 * cannot express it (not 2-D, an empty input), EINVAL for bad attributes. */
cq_status cq__pool2d_of(const cq_node *n, int kind, int ndim, const int64_t *xs,
                        cq_pool2d_params *p, cq_err *err);
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
/* 3-D convolutions run as 2-D ones (kern.h), one output depth plane at a
 * time: the plane's input is x's depth taps stacked as channels, (n, c * kd,
 * H, W), channel c * kd + t holding tap t of channel c (taps outside x hold
 * *fill, esize bytes each). Conv's weights (m, c / group, kd, kh, kw) are the
 * plane's 2-D weights as they are; ConvTranspose's must be reordered to
 * (c, kd, m / group, kh, kw). With one depth plane (1-D and 2-D) x itself
 * is returned; else buf (n * c * kd * H * W elements). */
int cq__conv_planar(const cq_convgeo *g); /* whether x is its own single plane */
/* ConvTranspose (ops_convt.c): its run and hooks for ops_conv.c's table */
cq_status cq__run_convtranspose(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                                cq_tensor *const *out, cq_openv *env, cq_err *err);
extern const cq_op_hooks cq__convt_hooks;
const void *cq__conv_plane_in(const cq_convgeo *g, int transpose, size_t esize, const void *x,
                              int64_t od, const void *fill, void *buf);
/* Copy a plane's output (n, m, oh, ow) into y (n, m, od_count, oh, ow) at
 * depth od; nothing when y has one plane (then it is the plane). */
void cq__conv_plane_out(const cq_convgeo *g, size_t esize, const void *plane, int64_t od,
                        void *y);
/* kern.h's Conv parameters of one plane (c_in is c * kd; no activation). */
cq_conv2d_params cq__conv_plane_params(const cq_convgeo *g);
/* QLinearConv on the int8 kernels (ops_qconv.c): its hooks (plan, NHWC),
 * and the run: 1 done, 0 when the kernels do not take it (the reference
 * runs it), -1 on error (err filled). */
extern const cq_op_hooks cq__qconv_hooks;
int cq__qconv_run(const cq_node *n, int n_in, cq_tensor *const *in, cq_tensor *y, cq_openv *env,
                  cq_err *err);
/* Resize (ops_resize.c), a row of the shape family. */
cq_status cq__infer_resize(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                           int n_out, cq_tinfo *out, cq_err *err);
/* NHWC codes in and out (nearest, N and C kept): the CQ_OP_BLOCKED_OUT hook. */
int cq__resize_blocked_ok(const cq_graph *g, const cq_node *n, int x_blocked);
cq_status cq__run_resize(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                         cq_tensor *const *out, cq_openv *env, cq_err *err);
/* Tests: 1 makes Resize run its generic loop (the reference) everywhere. */
extern int cq__resize_generic_only;
/* Slice, Pad and Split (ops_slice.c), rows of the shape family: views of
 * the input moved by kern.h's cq_copy_strided. */
cq_status cq__infer_slice(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                          int n_out, cq_tinfo *out, cq_err *err);
cq_status cq__run_slice(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                        cq_tensor *const *out, cq_openv *env, cq_err *err);
cq_status cq__infer_pad(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                        int n_out, cq_tinfo *out, cq_err *err);
cq_status cq__run_pad(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                      cq_tensor *const *out, cq_openv *env, cq_err *err);
cq_status cq__infer_split(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                          int n_out, cq_tinfo *out, cq_err *err);
cq_status cq__run_split(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                        cq_tensor *const *out, cq_openv *env, cq_err *err);
/* LayerNormalization (ops_norm.c), a row of the math family. */
cq_status cq__infer_layernorm(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                              int n_out, cq_tinfo *out, cq_err *err);
cq_status cq__run_layernorm(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                            cq_tensor *const *out, cq_openv *env, cq_err *err);

/* Run node i of g once on the given dense inputs (passes.c), allocating its
 * outputs (new references in out, NULL for omitted ones); a plan the op
 * makes lives for this call only. */
cq_status cq__run_node(const cq_graph *g, int i, cq_tensor *const *in, cq_tensor **out,
                       cq_openv *env, cq_err *err);

/* Compile-time check (C99 has no static_assert). */
#define CQ__STATIC_ASSERT(cond, tag) typedef char cq__assert_##tag[(cond) ? 1 : -1]

/* The per-family tables, concatenated by ops.c. Each family file checks its
 * row count against these at compile time, and ops.c checks the total, so an
 * op added to one place and not the others breaks the build. */
#define CQ_OPS_MATH_N 21
#define CQ_OPS_CONV_N 3
#define CQ_OPS_SHAPE_N 14
#define CQ_OPS_POOL_N 3
#define CQ_OPS_QUANT_N 9
#define CQ_OPS_TOTAL 50
extern const cq_op cq__ops_math[CQ_OPS_MATH_N];
extern const cq_op cq__ops_conv[CQ_OPS_CONV_N];
extern const cq_op cq__ops_shape[CQ_OPS_SHAPE_N];
extern const cq_op cq__ops_pool[CQ_OPS_POOL_N];
extern const cq_op cq__ops_quant[CQ_OPS_QUANT_N];

#endif
