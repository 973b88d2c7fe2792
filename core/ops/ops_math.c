/* ops_math.c - elementwise (broadcasting binary, activations), Softmax,
 * ReduceMean, Cast, Identity, Gemm and MatMul. */
#include "ops/ops_internal.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- infer helpers ------------------------------------------------------ */

static cq_status infer_unary(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                             int n_out, cq_tinfo *out, cq_err *err)
{
    (void)opset, (void)n_out;
    if (n_in < 1)
        return cq_errf(err, CQ_EINVAL, "%s '%s': missing input", n->op_type, n->name);
    cq__same(&in[0], &out[0]);
    return CQ_OK;
}

static cq_status infer_binary(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                              int n_out, cq_tinfo *out, cq_err *err)
{
    (void)opset, (void)n_out;
    if (n_in < 2)
        return cq_errf(err, CQ_EINVAL, "%s '%s': needs 2 inputs", n->op_type, n->name);
    out[0].dtype = in[0].dtype;
    out[0].data = NULL;
    return cq__broadcast(n, in[0].ndim, in[0].shape, in[1].ndim, in[1].shape, &out[0].ndim,
                         out[0].shape, err);
}

/* Element strides of t broadcast to (ndim, shape): 0 on broadcast dims. */
static void bcast_strides(const cq_tensor *t, int ndim, const int64_t *shape, int64_t *st)
{
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        int j = i - (ndim - t->ndim);
        if (j < 0 || t->shape[j] == 1) {
            st[i] = 0;
        } else {
            st[i] = s;
            s *= t->shape[j];
        }
        (void)shape;
    }
}

/* ---- binary ------------------------------------------------------------- */

enum { B_ADD, B_SUB, B_MUL, B_DIV, B_PRELU };

static inline float bin_f(int op, float a, float b)
{
    switch (op) {
    case B_ADD: return a + b;
    case B_SUB: return a - b;
    case B_MUL: return a * b;
    case B_DIV: return a / b;
    default: return a < 0 ? a * b : a;
    }
}

static double bin_d(int op, double a, double b, int is_int)
{
    switch (op) {
    case B_ADD: return a + b;
    case B_SUB: return a - b;
    case B_MUL: return a * b;
    case B_DIV: return is_int ? (b != 0 ? trunc(a / b) : 0) : a / b;
    default: return a < 0 ? a * b : a;
    }
}

static cq_status run_binary(int op, const cq_node *n, cq_tensor *const *in,
                            cq_tensor *const *out, cq_act act, cq_err *err)
{
    cq_tensor *a = in[0], *b = in[1], *y = out[0];
    if (!a || !b || a->dtype != b->dtype)
        return cq_errf(err, CQ_EINVAL, "%s '%s': inputs must share a dtype", n->op_type, n->name);
    int nd = y->ndim;
    int64_t sa[CQ_MAX_DIMS], sb[CQ_MAX_DIMS], idx[CQ_MAX_DIMS] = {0};
    bcast_strides(a, nd, y->shape, sa);
    bcast_strides(b, nd, y->shape, sb);
    int64_t total = cq_tensor_numel(y);
    if (total == 0)
        return CQ_OK;
    int64_t inner = nd ? y->shape[nd - 1] : 1;
    int64_t ia = nd ? sa[nd - 1] : 0, ib = nd ? sb[nd - 1] : 0;
    int is_f32 = a->dtype == CQ_F32;
    const cq_dtype_traits *tr = cq_dtype_info(a->dtype);
    int is_int = !tr->is_float;
    const float *pa = cq_tensor_data(a), *pb = cq_tensor_data(b);
    float *py = cq_tensor_data(y);
    if (is_f32 && op != B_PRELU) {
        static const cq_binop kop[] = {CQ_BIN_ADD, CQ_BIN_SUB, CQ_BIN_MUL, CQ_BIN_DIV};
        if (cq_binary_f32(kop[op], a->ndim, a->shape, pa, b->ndim, b->shape, pb, py, (size_t)total,
                          err))
            return cq_err_prefix(err, err->code, "%s '%s': ", n->op_type, n->name);
        if (act.kind) /* fused by the executor (CQ_OP_TAKES_ACT) */
            cq_act_apply_f32(act, py, total);
        return CQ_OK;
    }
    for (int64_t o = 0; o < total; o += inner) {
        int64_t oa = 0, ob = 0;
        for (int d = 0; d < nd - 1; d++)
            oa += idx[d] * sa[d], ob += idx[d] * sb[d];
        if (is_f32) {
            const float *xa = pa + oa, *xb = pb + ob;
            float *xy = py + o;
            if (ia == 1 && ib == 1)
                for (int64_t i = 0; i < inner; i++)
                    xy[i] = bin_f(op, xa[i], xb[i]);
            else if (ia == 1 && ib == 0)
                for (int64_t i = 0; i < inner; i++)
                    xy[i] = bin_f(op, xa[i], xb[0]);
            else
                for (int64_t i = 0; i < inner; i++)
                    xy[i] = bin_f(op, xa[i * ia], xb[i * ib]);
        } else {
            const char *ca = (const char *)pa, *cb = (const char *)pb;
            char *cy = (char *)py;
            for (int64_t i = 0; i < inner; i++) {
                double v = bin_d(op, tr->get(ca + (size_t)(oa + i * ia) * tr->size),
                                 tr->get(cb + (size_t)(ob + i * ib) * tr->size), is_int);
                tr->set(cy + (size_t)(o + i) * tr->size, v);
            }
        }
        for (int d = nd - 2; d >= 0; d--) {
            if (++idx[d] < y->shape[d])
                break;
            idx[d] = 0;
        }
    }
    return CQ_OK;
}

/* ---- Mul on NCHW16c ------------------------------------------------------ */

/* Mul keeps NCHW16c (CQ_OP_BLOCKED_IN | _OUT) where x, the operand of the
 * output's shape (N, C, H, W) with C a multiple of 16, is multiplied by one
 * value or one per channel ((C, 1, 1), (1, C, 1, 1) or (N, C, 1, 1)): the
 * squeeze-excite products of MobileNetV3, EfficientNet and RegNetY, between
 * a depthwise conv and the projection that both keep the layout. */

/* The per-channel side s of an output (N, C, H, W) as counted by
 * cq_binary_chan_blocked_f32 (1, C or N C); 0: some other shape. */
static int64_t chan_count(const int64_t *s, int ndim, const int64_t *y)
{
    if (ndim < 0 || ndim > 4)
        return 0;
    int64_t d4[4] = {1, 1, 1, 1}, numel = 1;
    for (int d = 0; d < ndim; d++) {
        d4[4 - ndim + d] = s[d];
        numel *= s[d];
    }
    if (numel == 1)
        return 1;
    if (d4[2] != 1 || d4[3] != 1 || d4[1] != y[1] || (d4[0] != 1 && d4[0] != y[0]))
        return 0;
    return d4[0] * d4[1];
}

static int full_shape(const cq_value *v, const cq_value *y)
{
    if (!v->has_type || v->dtype != CQ_F32 || v->ndim != 4)
        return 0;
    for (int d = 0; d < 4; d++)
        if (v->shape[d] != y->shape[d])
            return 0;
    return 1;
}

/* The input of the output's shape: input 1 where input 0 is the smaller. */
static int mul_x_input(const cq_graph *g, const cq_node *n)
{
    if (n->n_inputs < 2 || n->inputs[0] < 0 || n->inputs[1] < 0 || n->n_outputs < 1 ||
        n->outputs[0] < 0)
        return 0;
    const cq_value *y = &g->values[n->outputs[0]];
    return !full_shape(&g->values[n->inputs[0]], y) && full_shape(&g->values[n->inputs[1]], y);
}

static int mul_blocked_ok(const cq_graph *g, const cq_node *n, int x_blocked)
{
    if (!x_blocked || n->n_inputs != 2 || n->inputs[0] < 0 || n->inputs[1] < 0 ||
        n->n_outputs < 1 || n->outputs[0] < 0)
        return 0;
    const cq_value *y = &g->values[n->outputs[0]];
    if (!y->has_type || y->dtype != CQ_F32 || y->ndim != 4 || y->shape[1] % 16)
        return 0;
    for (int d = 0; d < 4; d++)
        if (y->shape[d] <= 0)
            return 0;
    int xk = mul_x_input(g, n);
    const cq_value *x = &g->values[n->inputs[xk]], *s = &g->values[n->inputs[1 - xk]];
    return full_shape(x, y) && s->has_type && s->dtype == CQ_F32 &&
           chan_count(s->shape, s->ndim, y->shape) > 0;
}

static const cq_op_hooks mul_hooks = {.blocked_ok = mul_blocked_ok, .x_input = mul_x_input};

static cq_status run_mul_blocked(const cq_node *n, cq_tensor *const *in, cq_tensor *const *out,
                                 const cq_openv *env, cq_err *err)
{
    cq_tensor *y = out[0];
    int xk = in[0]->ndim != 4 || cq_tensor_numel(in[0]) != cq_tensor_numel(y);
    const cq_tensor *x = in[xk], *s = in[1 - xk];
    int64_t cnt = y->ndim == 4 ? chan_count(s->shape, s->ndim, y->shape) : 0;
    if (!env->y_blocked || x->dtype != CQ_F32 || s->dtype != CQ_F32 || x->ndim != 4 ||
        cq_tensor_numel(x) != cq_tensor_numel(y) || !cnt)
        return cq_errf(err, CQ_ESTATE, "Mul '%s': NCHW16c planned for operands it does not "
                       "take that way", n->name);
    if (cq_binary_chan_blocked_f32(CQ_BIN_MUL, y->shape[0], y->shape[1],
                                   y->shape[2] * y->shape[3], cq_tensor_data(x),
                                   cq_tensor_data(s), cnt, cq_tensor_data(y), err))
        return cq_err_prefix(err, err->code, "Mul '%s': ", n->name);
    return CQ_OK;
}

#define BINARY(NAME, OP)                                                                      \
    static cq_status run_##NAME(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,      \
                                cq_tensor *const *out, cq_openv *env, cq_err *err)          \
    {                                                                                        \
        (void)n_in, (void)n_out;                                                             \
        return run_binary(OP, n, in, out, env->act, err);                                    \
    }
BINARY(add, B_ADD)
BINARY(sub, B_SUB)

static cq_status run_mul(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                         cq_tensor *const *out, cq_openv *env, cq_err *err)
{
    (void)n_in, (void)n_out;
    if (env->x_blocked)
        return run_mul_blocked(n, in, out, env, err);
    return run_binary(B_MUL, n, in, out, env->act, err);
}
BINARY(div, B_DIV)
BINARY(prelu, B_PRELU)

/* ---- unary activations -------------------------------------------------- */

/* ---- activations a producer absorbs (CQ_OP_ACT) ------------------------- */

static int act_of_relu(const cq_graph *g, const cq_node *n, int64_t opset, cq_act *act)
{
    (void)g, (void)n, (void)opset;
    *act = (cq_act){CQ_ACT_RELU, 0, 0};
    return 1;
}

/* Clip's bounds: attributes before opset 11, constant f32 scalar inputs since. */
static int act_of_clip(const cq_graph *g, const cq_node *n, int64_t opset, cq_act *act)
{
    *act = (cq_act){CQ_ACT_CLIP, -INFINITY, INFINITY};
    if (opset < 11) {
        act->a = cq_node_float(n, "min", -INFINITY);
        act->b = cq_node_float(n, "max", INFINITY);
        return 1;
    }
    for (int k = 1; k < n->n_inputs && k < 3; k++) {
        int v = n->inputs[k];
        if (v < 0)
            continue;
        const cq_tensor *t = g->values[v].data;
        if (!t || t->dtype != CQ_F32 || cq_tensor_numel(t) != 1)
            return 0;
        float f = *(const float *)cq_tensor_data(t);
        if (k == 1)
            act->a = f;
        else
            act->b = f;
    }
    return 1;
}

static const cq_op_hooks relu_hooks = {.act_of = act_of_relu};
static const cq_op_hooks clip_hooks = {.act_of = act_of_clip};

static cq_status need_f32(const cq_node *n, const cq_tensor *x, cq_err *err)
{
    if (!x || x->dtype != CQ_F32)
        return cq_errf(err, CQ_EUNSUPPORTED, "%s '%s': calq runs it on f32 only", n->op_type,
                       n->name);
    return CQ_OK;
}

#define KUNARY(NAME, OP, A, B)                                                              \
    static cq_status run_##NAME(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,      \
                                cq_tensor *const *out, cq_openv *env, cq_err *err)          \
    {                                                                                        \
        (void)n_in, (void)n_out, (void)env;                                                  \
        if (need_f32(n, in[0], err))                                                         \
            return err->code;                                                                \
        cq_unary_f32(OP, A, B, cq_tensor_data(in[0]), cq_tensor_data(out[0]),                \
                     cq_tensor_numel(in[0]));                                                \
        return CQ_OK;                                                                        \
    }
KUNARY(relu, CQ_UN_RELU, 0, 0)
KUNARY(leakyrelu, CQ_UN_LEAKY_RELU, cq_node_float(n, "alpha", 0.01f), 0)
KUNARY(sigmoid, CQ_UN_SIGMOID, 0, 0)
KUNARY(tanh, CQ_UN_TANH, 0, 0)
KUNARY(hardsigmoid, CQ_UN_HARDSIGMOID, cq_node_float(n, "alpha", 0.2f),
       cq_node_float(n, "beta", 0.5f))
KUNARY(hardswish, CQ_UN_HARDSWISH, 0, 0)
KUNARY(erf, CQ_UN_ERF, 0, 0)
KUNARY(gelu, strcmp(cq_node_string(n, "approximate", "none"), "tanh") ? CQ_UN_GELU
                                                                      : CQ_UN_GELU_TANH, 0, 0)

/* ---- elementwise functions a producer applies in its epilogue (CQ_OP_ACT_FN) */

static int act_of_sigmoid(const cq_graph *g, const cq_node *n, int64_t opset, cq_act *act)
{
    (void)g, (void)n, (void)opset;
    *act = (cq_act){CQ_ACT_SIGMOID, 0, 0};
    return 1;
}

static int act_of_hardswish(const cq_graph *g, const cq_node *n, int64_t opset, cq_act *act)
{
    (void)g, (void)n, (void)opset;
    *act = (cq_act){CQ_ACT_HARDSWISH, 0, 0};
    return 1;
}

static int act_of_hardsigmoid(const cq_graph *g, const cq_node *n, int64_t opset, cq_act *act)
{
    (void)g, (void)opset;
    *act = (cq_act){CQ_ACT_HARDSIGMOID, cq_node_float(n, "alpha", 0.2f),
                    cq_node_float(n, "beta", 0.5f)};
    return 1;
}

static int act_of_tanh(const cq_graph *g, const cq_node *n, int64_t opset, cq_act *act)
{
    (void)g, (void)n, (void)opset;
    *act = (cq_act){CQ_ACT_TANH, 0, 0};
    return 1;
}

static const cq_op_hooks sigmoid_hooks = {.act_of = act_of_sigmoid};
static const cq_op_hooks hardswish_hooks = {.act_of = act_of_hardswish};
static const cq_op_hooks hardsigmoid_hooks = {.act_of = act_of_hardsigmoid};
static const cq_op_hooks tanh_hooks = {.act_of = act_of_tanh};

static cq_status run_identity(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                              cq_tensor *const *out, cq_openv *env, cq_err *err)
{
    (void)n, (void)n_in, (void)n_out, (void)env, (void)err;
    memcpy(cq_tensor_data(out[0]), cq_tensor_data(in[0]), cq_tensor_nbytes(in[0]));
    return CQ_OK;
}

static cq_status run_clip(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                          cq_tensor *const *out, cq_openv *env, cq_err *err)
{
    (void)n_out;
    const cq_dtype_traits *tr = cq_dtype_info(in[0]->dtype);
    double lo = -INFINITY, hi = INFINITY;
    if (env->opset < 11) {
        lo = cq_node_float(n, "min", -INFINITY);
        hi = cq_node_float(n, "max", INFINITY);
    } else {
        if (n_in > 1 && in[1])
            lo = cq_dtype_info(in[1]->dtype)->get(cq_tensor_data(in[1]));
        if (n_in > 2 && in[2])
            hi = cq_dtype_info(in[2]->dtype)->get(cq_tensor_data(in[2]));
    }
    int64_t k = cq_tensor_numel(in[0]);
    if (in[0]->dtype == CQ_F32) {
        cq_act a = {CQ_ACT_CLIP, (float)lo, (float)hi};
        memcpy(cq_tensor_data(out[0]), cq_tensor_data(in[0]), (size_t)k * 4);
        cq_act_apply_f32(a, cq_tensor_data(out[0]), k);
        return CQ_OK;
    }
    (void)err;
    const char *x = cq_tensor_data(in[0]);
    char *y = cq_tensor_data(out[0]);
    for (int64_t i = 0; i < k; i++) {
        double v = tr->get(x + (size_t)i * tr->size);
        tr->set(y + (size_t)i * tr->size, v < lo ? lo : v > hi ? hi : v);
    }
    return CQ_OK;
}

/* ---- Softmax -------------------------------------------------------------- */

static cq_status run_softmax(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                             cq_tensor *const *out, cq_openv *env, cq_err *err)
{
    (void)n_in, (void)n_out;
    if (need_f32(n, in[0], err))
        return err->code;
    const cq_tensor *x = in[0];
    int r = x->ndim;
    int axis = cq__axis(cq_node_int(n, "axis", env->opset < 13 ? 1 : -1), r);
    if (axis < 0)
        return cq_errf(err, CQ_EINVAL, "Softmax '%s': axis out of range", n->name);
    /* empty: nothing to do (a 0 along the axis with 2^62 after it would
     * loop over the inner dims for ever) */
    if (cq__numel(r, x->shape) == 0)
        return CQ_OK;
    int64_t outer = 1, len = 1, inner = 1;
    for (int i = 0; i < r; i++) {
        if (i < axis)
            outer *= x->shape[i];
        else if (env->opset < 13 || i == axis)
            len *= x->shape[i];
        else
            inner *= x->shape[i];
    }
    const float *px = cq_tensor_data(x);
    float *py = cq_tensor_data(out[0]);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            const float *a = px + o * len * inner + j;
            float *b = py + o * len * inner + j;
            float m = -INFINITY;
            for (int64_t i = 0; i < len; i++)
                m = fmaxf(m, a[i * inner]);
            double s = 0;
            for (int64_t i = 0; i < len; i++)
                s += (b[i * inner] = expf(a[i * inner] - m));
            float inv = (float)(1.0 / s);
            for (int64_t i = 0; i < len; i++)
                b[i * inner] *= inv;
        }
    return CQ_OK;
}

/* ---- ReduceMean ----------------------------------------------------------- */

/* Axes bitmask for ReduceMean: from the attribute (opset < 18) or input 1. */
static cq_status reduce_axes(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                             int *mask, cq_err *err)
{
    int64_t ax[CQ_MAX_DIMS];
    int64_t k = 0;
    int r = in[0].ndim;
    if (opset >= 18 && n_in > 1 && in[1].ndim >= 0 && in[1].shape[0] != 0) {
        if (!in[1].data)
            return cq__need_data(n, 1, err);
        k = cq__ints_of(in[1].data, ax, CQ_MAX_DIMS);
    } else if (opset < 18) {
        k = cq_node_ints(n, "axes", ax, CQ_MAX_DIMS);
    }
    *mask = 0;
    if (k < 0)
        return cq_errf(err, CQ_EINVAL, "ReduceMean '%s': too many axes", n->name);
    if (k == 0) {
        if (opset >= 18 && cq_node_int(n, "noop_with_empty_axes", 0))
            return CQ_OK;
        *mask = (1 << r) - 1;
        return CQ_OK;
    }
    for (int64_t i = 0; i < k; i++) {
        int a = cq__axis(ax[i], r);
        if (a < 0)
            return cq_errf(err, CQ_EINVAL, "ReduceMean '%s': axis %lld out of range", n->name,
                           (long long)ax[i]);
        *mask |= 1 << a;
    }
    return CQ_OK;
}

static cq_status infer_reducemean(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                                  int n_out, cq_tinfo *out, cq_err *err)
{
    (void)n_out;
    int mask;
    if (reduce_axes(n, opset, n_in, in, &mask, err))
        return err->code;
    int keep = (int)cq_node_int(n, "keepdims", 1);
    out[0].dtype = in[0].dtype;
    out[0].data = NULL;
    out[0].ndim = 0;
    for (int i = 0; i < in[0].ndim; i++) {
        if (mask >> i & 1) {
            if (keep)
                out[0].shape[out[0].ndim++] = 1;
        } else {
            out[0].shape[out[0].ndim++] = in[0].shape[i];
        }
    }
    return CQ_OK;
}

static cq_status run_reducemean(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                                cq_tensor *const *out, cq_openv *env, cq_err *err)
{
    (void)n_out;
    if (need_f32(n, in[0], err))
        return err->code;
    cq_tinfo ti[2] = {{0}};
    ti[0].ndim = in[0]->ndim;
    memcpy(ti[0].shape, in[0]->shape, sizeof ti[0].shape);
    if (n_in > 1 && in[1]) {
        ti[1].ndim = in[1]->ndim;
        memcpy(ti[1].shape, in[1]->shape, sizeof ti[1].shape);
        ti[1].data = in[1];
    }
    int mask;
    if (reduce_axes(n, env->opset, n_in > 1 && in[1] ? 2 : 1, ti, &mask, err))
        return err->code;
    const cq_tensor *x = in[0];
    int r = x->ndim;
    float *py = cq_tensor_data(out[0]);
    int64_t ny = cq_tensor_numel(out[0]), nx = cq_tensor_numel(x);
    /* trailing axes (a global average pool): one vector sum per row */
    int lead = 0;
    while (lead < r && !(mask >> lead & 1))
        lead++;
    if (r > 0 && mask == ((1 << r) - 1) - ((1 << lead) - 1) && ny > 0 && nx > 0) {
        cq_global_avgpool_f32(ny, nx / ny, cq_tensor_data(x), py);
        return CQ_OK;
    }
    double *acc = cq__scratch(env, (size_t)(ny ? ny : 1) * sizeof(double));
    if (!acc)
        return cq_errf(err, CQ_ENOMEM, "ReduceMean '%s': out of memory", n->name);
    memset(acc, 0, (size_t)ny * sizeof(double));
    int64_t ystr[CQ_MAX_DIMS], idx[CQ_MAX_DIMS] = {0}, s = 1;
    for (int i = r - 1; i >= 0; i--) {
        ystr[i] = mask >> i & 1 ? 0 : s;
        if (!(mask >> i & 1))
            s *= x->shape[i];
    }
    const float *px = cq_tensor_data(x);
    for (int64_t i = 0; i < nx; i++) {
        int64_t o = 0;
        for (int d = 0; d < r; d++)
            o += idx[d] * ystr[d];
        acc[o] += px[i];
        for (int d = r - 1; d >= 0; d--) {
            if (++idx[d] < x->shape[d])
                break;
            idx[d] = 0;
        }
    }
    double cnt = ny ? (double)nx / (double)ny : 1;
    for (int64_t i = 0; i < ny; i++)
        py[i] = (float)(acc[i] / cnt);
    return CQ_OK;
}

/* ---- Cast ----------------------------------------------------------------- */

static cq_status infer_cast(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                            int n_out, cq_tinfo *out, cq_err *err)
{
    (void)opset, (void)n_in, (void)n_out;
    cq_dtype dt;
    int64_t to = cq_node_int(n, "to", 0);
    if (cq_dtype_from_onnx((int)to, &dt) != 0)
        return cq_errf(err, CQ_EUNSUPPORTED, "Cast '%s': calq has no dtype for ONNX type %lld",
                       n->name, (long long)to);
    cq__same(&in[0], &out[0]);
    out[0].dtype = dt;
    return CQ_OK;
}

static cq_status run_cast(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                          cq_tensor *const *out, cq_openv *env, cq_err *err)
{
    (void)n, (void)n_in, (void)n_out, (void)env;
    return cq_tensor_copy(out[0], in[0], err);
}

/* ---- Gemm and MatMul -------------------------------------------------------- */

static cq_status infer_gemm(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                            int n_out, cq_tinfo *out, cq_err *err)
{
    (void)opset, (void)n_out;
    if (n_in < 2 || in[0].ndim != 2 || in[1].ndim != 2)
        return cq_errf(err, CQ_EINVAL, "Gemm '%s': A and B must be 2-D", n->name);
    int ta = (int)cq_node_int(n, "transA", 0), tb = (int)cq_node_int(n, "transB", 0);
    int64_t m = in[0].shape[ta ? 1 : 0], k = in[0].shape[ta ? 0 : 1];
    int64_t k2 = in[1].shape[tb ? 1 : 0], nn = in[1].shape[tb ? 0 : 1];
    if (k != k2)
        return cq_errf(err, CQ_EINVAL, "Gemm '%s': inner dimensions %lld and %lld differ",
                       n->name, (long long)k, (long long)k2);
    out[0].dtype = in[0].dtype;
    out[0].ndim = 2;
    out[0].shape[0] = m;
    out[0].shape[1] = nn;
    out[0].data = NULL;
    if (n_in > 2 && in[2].ndim >= 0) {
        int nd;
        int64_t sh[CQ_MAX_DIMS];
        if (cq__broadcast(n, in[2].ndim, in[2].shape, 2, out[0].shape, &nd, sh, err))
            return err->code;
        if (nd != 2 || sh[0] != m || sh[1] != nn)
            return cq_errf(err, CQ_EINVAL, "Gemm '%s': C does not broadcast to the output",
                           n->name);
    }
    return CQ_OK;
}

static cq_status run_gemm(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                          cq_tensor *const *out, cq_openv *env, cq_err *err)
{
    (void)n_out, (void)env;
    if (need_f32(n, in[0], err) || need_f32(n, in[1], err))
        return err->code;
    int ta = (int)cq_node_int(n, "transA", 0), tb = (int)cq_node_int(n, "transB", 0);
    float alpha = cq_node_float(n, "alpha", 1), beta = cq_node_float(n, "beta", 1);
    int64_t m = out[0]->shape[0], nn = out[0]->shape[1];
    int64_t k = in[0]->shape[ta ? 0 : 1];
    float *y = cq_tensor_data(out[0]);
    const cq_tensor *c = n_in > 2 ? in[2] : NULL;
    if (c && beta != 0) {
        if (need_f32(n, c, err))
            return err->code;
        int64_t st[2];
        bcast_strides(c, 2, out[0]->shape, st);
        const float *pc = cq_tensor_data(c);
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < nn; j++)
                y[i * nn + j] = pc[i * st[0] + j * st[1]];
    } else {
        beta = 0;
        memset(y, 0, (size_t)(m * nn) * 4);
    }
    if (m == 0 || nn == 0)
        return CQ_OK;
    if (env->precision == CQ_BF16 && !ta) {
        /* bf16 (the precision map): y = alpha bf(A) bf(B) + beta C */
        if (beta != 0 && beta != 1)
            for (int64_t i = 0; i < m * nn; i++)
                y[i] *= beta;
        return cq__bf16_gemm(n, cq_tensor_data(in[0]), m, k, in[1], tb, nn,
                             beta != 0 || alpha != 1.0f, alpha, y, env, err);
    }
    const float *a = cq_tensor_data(in[0]), *b = cq_tensor_data(in[1]);
    int lda = (int)in[0]->shape[1], ldb = (int)in[1]->shape[1];
    if (m == 1 && !ta) {
        /* kern.h's gemv (y already holds C): calq's AVX-512 one or sgemv */
        cq_gemm_params gp = {1, nn, k, 0, tb, alpha, beta, 1, nn};
        return cq_gemm_f32(&gp, a, b, beta != 0 ? y : NULL, y, err);
    } else
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    (int)m, (int)nn, (int)k, alpha, a, lda, b, ldb, beta, y, (int)nn);
    return CQ_OK;
}

static cq_status infer_matmul(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                              int n_out, cq_tinfo *out, cq_err *err)
{
    (void)opset, (void)n_out;
    if (n_in < 2 || in[0].ndim < 1 || in[1].ndim < 1)
        return cq_errf(err, CQ_EINVAL, "%s '%s': inputs must have rank >= 1", n->op_type,
                       n->name);
    int ra = in[0].ndim, rb = in[1].ndim;
    int64_t m = ra >= 2 ? in[0].shape[ra - 2] : 1, k = in[0].shape[ra - 1];
    int64_t k2 = rb >= 2 ? in[1].shape[rb - 2] : in[1].shape[0], nn = rb >= 2 ? in[1].shape[rb - 1] : 1;
    if (k != k2)
        return cq_errf(err, CQ_EINVAL, "%s '%s': inner dimensions %lld and %lld differ",
                       n->op_type, n->name, (long long)k, (long long)k2);
    int nb;
    int64_t bs[CQ_MAX_DIMS];
    if (cq__broadcast(n, ra > 2 ? ra - 2 : 0, in[0].shape, rb > 2 ? rb - 2 : 0, in[1].shape, &nb,
                      bs, err))
        return err->code;
    out[0].dtype = in[0].dtype;
    out[0].data = NULL;
    out[0].ndim = nb;
    memcpy(out[0].shape, bs, sizeof(int64_t) * (size_t)nb);
    if (ra >= 2)
        out[0].shape[out[0].ndim++] = m;
    if (rb >= 2)
        out[0].shape[out[0].ndim++] = nn;
    return CQ_OK;
}

/* Batched matrix product with broadcast batch dims (MatMul semantics): calls
 * fn(ctx, a_off, b_off, y_off, m, k, n) per batch, offsets in elements. */
static void matmul_batches(const cq_tensor *a, const cq_tensor *b, const cq_tensor *y,
                           void (*fn)(void *ctx, int64_t oa, int64_t ob, int64_t oy, int64_t m,
                                      int64_t k, int64_t n),
                           void *ctx)
{
    int ra = a->ndim, rb = b->ndim;
    int64_t m = ra >= 2 ? a->shape[ra - 2] : 1, k = a->shape[ra - 1];
    int64_t nn = rb >= 2 ? b->shape[rb - 1] : 1;
    int nb = y->ndim - (ra >= 2) - (rb >= 2);
    int64_t batch = cq__numel(nb, y->shape);
    int64_t sa[CQ_MAX_DIMS] = {0}, sb[CQ_MAX_DIMS] = {0}, idx[CQ_MAX_DIMS] = {0};
    int64_t s = m * k;
    for (int i = nb - 1; i >= 0; i--) {
        int j = i - (nb - (ra - 2));
        sa[i] = (j < 0 || a->shape[j] == 1) ? 0 : s;
        if (j >= 0)
            s *= a->shape[j];
    }
    s = k * nn;
    for (int i = nb - 1; i >= 0; i--) {
        int j = i - (nb - (rb - 2));
        sb[i] = (j < 0 || b->shape[j] == 1) ? 0 : s;
        if (j >= 0)
            s *= b->shape[j];
    }
    for (int64_t t = 0; t < batch; t++) {
        int64_t oa = 0, ob = 0;
        for (int d = 0; d < nb; d++)
            oa += idx[d] * sa[d], ob += idx[d] * sb[d];
        fn(ctx, oa, ob, t * m * nn, m, k, nn);
        for (int d = nb - 1; d >= 0; d--) {
            if (++idx[d] < y->shape[d])
                break;
            idx[d] = 0;
        }
    }
}

typedef struct {
    const float *a, *b;
    float *y;
} mm_ctx;

static void mm_f32(void *ctx, int64_t oa, int64_t ob, int64_t oy, int64_t m, int64_t k, int64_t n)
{
    mm_ctx *c = ctx;
    if (m == 0 || n == 0)
        return;
    if (k == 0) {
        memset(c->y + oy, 0, (size_t)(m * n) * 4);
        return;
    }
    if (m == 1)
        cblas_sgemv(CblasRowMajor, CblasTrans, (int)k, (int)n, 1.0f, c->b + ob, (int)n, c->a + oa,
                    1, 0.0f, c->y + oy, 1);
    else if (n == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)m, (int)k, 1.0f, c->a + oa, (int)k,
                    c->b + ob, 1, 0.0f, c->y + oy, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1.0f,
                    c->a + oa, (int)k, c->b + ob, (int)n, 0.0f, c->y + oy, (int)n);
}

static cq_status run_matmul(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                            cq_tensor *const *out, cq_openv *env, cq_err *err)
{
    (void)n_in, (void)n_out;
    if (need_f32(n, in[0], err) || need_f32(n, in[1], err))
        return err->code;
    if (env->precision == CQ_BF16 && in[1]->ndim == 2) {
        /* bf16 (the precision map), B a matrix: A's rows in one GEMM */
        int64_t k = in[1]->shape[0], nn = in[1]->shape[1];
        return cq__bf16_gemm(n, cq_tensor_data(in[0]), k ? cq_tensor_numel(in[0]) / k : 0, k,
                             in[1], 0, nn, 0, 1.0f, cq_tensor_data(out[0]), env, err);
    }
    mm_ctx c = {cq_tensor_data(in[0]), cq_tensor_data(in[1]), cq_tensor_data(out[0])};
    matmul_batches(in[0], in[1], out[0], mm_f32, &c);
    return CQ_OK;
}

const cq_op cq__ops_math[] = {
    {"Add", "", infer_binary, run_add, CQ_OP_TAKES_ACT | CQ_OP_RESIDUAL_ADD | CQ_OP_ELEMENTWISE,
     NULL},
    {"Sub", "", infer_binary, run_sub, CQ_OP_ELEMENTWISE, NULL},
    {"Mul", "", infer_binary, run_mul,
     CQ_OP_GATE | CQ_OP_ELEMENTWISE | CQ_OP_BLOCKED_IN | CQ_OP_BLOCKED_OUT, &mul_hooks},
    {"Div", "", infer_binary, run_div, CQ_OP_ELEMENTWISE, NULL},
    {"PRelu", "", infer_binary, run_prelu, 0, NULL},
    {"Relu", "", infer_unary, run_relu, CQ_OP_ACT | CQ_OP_ELEMENTWISE, &relu_hooks},
    {"LeakyRelu", "", infer_unary, run_leakyrelu, CQ_OP_ELEMENTWISE, NULL},
    {"Clip", "", infer_unary, run_clip, CQ_OP_ACT | CQ_OP_ELEMENTWISE, &clip_hooks},
    {"Sigmoid", "", infer_unary, run_sigmoid, CQ_OP_ACT_FN | CQ_OP_ELEMENTWISE, &sigmoid_hooks},
    {"HardSigmoid", "", infer_unary, run_hardsigmoid, CQ_OP_ACT_FN | CQ_OP_ELEMENTWISE, &hardsigmoid_hooks},
    {"HardSwish", "", infer_unary, run_hardswish, CQ_OP_ACT_FN | CQ_OP_ELEMENTWISE, &hardswish_hooks},
    {"Tanh", "", infer_unary, run_tanh, CQ_OP_ACT_FN | CQ_OP_ELEMENTWISE, &tanh_hooks},
    {"Erf", "", infer_unary, run_erf, CQ_OP_ELEMENTWISE, NULL},
    {"Gelu", "", infer_unary, run_gelu, CQ_OP_ELEMENTWISE, NULL},
    {"LayerNormalization", "", cq__infer_layernorm, cq__run_layernorm, 0, NULL},
    {"Softmax", "", infer_unary, run_softmax, 0, NULL},
    {"ReduceMean", "", infer_reducemean, run_reducemean, 0, NULL},
    {"Cast", "", infer_cast, run_cast, 0, NULL},
    {"Identity", "", infer_unary, run_identity, 0, NULL},
    {"Gemm", "", infer_gemm, run_gemm, CQ_OP_PLAN, &cq__bgemm_hooks},
    {"MatMul", "", infer_matmul, run_matmul, CQ_OP_PLAN, &cq__bgemm_hooks},
};
CQ__STATIC_ASSERT(sizeof cq__ops_math / sizeof cq__ops_math[0] == CQ_OPS_MATH_N, math_rows);
