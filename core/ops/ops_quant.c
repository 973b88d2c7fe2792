/* ops_quant.c - QuantizeLinear, DequantizeLinear, ConvInteger, MatMulInteger,
 * QLinearConv, QLinearMatMul, QLinearAdd, QLinearMul, QLinearGlobalAveragePool (com.microsoft): ONNX's inputs (scales and zero points of any
 * dtype, per tensor, per axis, per row or column) laid out for kern.h's
 * integer reference kernels, which hold the arithmetic (kern_int.c). */
#include "ops/ops_internal.h"

#include <stdlib.h>
#include <string.h>

#include "kern/kern_qelt.h"

/* ---- scales and zero points ------------------------------------------------------- */

/* Scale input s and zero-point input z (either may be NULL) as arrays of
 * *cnt entries, *cnt 1 or len: len when either holds len values (the other
 * one value, repeated), else 1. New arrays in *scale / *zp, NULL for a NULL
 * input; the caller frees them. EINVAL on other counts, ENOMEM. */
static cq_status qparams(const cq_node *n, const char *what, const cq_tensor *s,
                         const cq_tensor *z, int64_t len, float **scale, int32_t **zp,
                         int64_t *cnt, cq_err *err)
{
    int64_t ns = s ? cq_tensor_numel(s) : 1, nz = z ? cq_tensor_numel(z) : 1;
    *scale = NULL;
    *zp = NULL;
    *cnt = ns > 1 || nz > 1 ? len : 1;
    if ((ns != 1 && ns != *cnt) || (nz != 1 && nz != *cnt))
        return cq_errf(err, CQ_EINVAL, "%s '%s': %s has %lld scales and %lld zero points for %lld "
                       "(1 or %lld each)", n->op_type, n->name, what, (long long)ns,
                       (long long)nz, (long long)len, (long long)len);
    *scale = s ? malloc((size_t)*cnt * sizeof **scale) : NULL;
    *zp = z ? malloc((size_t)*cnt * sizeof **zp) : NULL;
    if ((s && !*scale) || (z && !*zp)) {
        free(*scale), free(*zp);
        *scale = NULL, *zp = NULL;
        return cq_errf(err, CQ_ENOMEM, "%s '%s': out of memory", n->op_type, n->name);
    }
    for (int64_t i = 0; i < *cnt; i++) {
        if (s) {
            const cq_dtype_traits *tr = cq_dtype_info(s->dtype);
            (*scale)[i] = (float)tr->get((const char *)cq_tensor_data(s) +
                                         (size_t)(ns == 1 ? 0 : i) * tr->size);
        }
        if (z) {
            const cq_dtype_traits *tr = cq_dtype_info(z->dtype);
            (*zp)[i] = (int32_t)tr->get((const char *)cq_tensor_data(z) +
                                        (size_t)(nz == 1 ? 0 : i) * tr->size);
        }
    }
    return CQ_OK;
}

/* One value of a per-tensor input (s: a scale; z: a zero point, 0 when NULL). */
static cq_status scalar_of(const cq_node *n, const char *what, const cq_tensor *t, float *s,
                           int32_t *z, cq_err *err)
{
    float *sv;
    int32_t *zv;
    int64_t cnt;
    if (qparams(n, what, s ? t : NULL, z ? t : NULL, 1, &sv, &zv, &cnt, err))
        return err->code;
    if (s)
        *s = sv[0];
    if (z)
        *z = zv ? zv[0] : 0;
    free(sv), free(zv);
    return CQ_OK;
}

/* ---- Quantize / Dequantize -------------------------------------------------------- */

static cq_status infer_q(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                         int n_out, cq_tinfo *out, cq_err *err)
{
    (void)opset, (void)n_out, (void)err;
    cq__same(&in[0], &out[0]);
    if (!strcmp(n->op_type, "QuantizeLinear"))
        out[0].dtype = n_in > 2 && in[2].ndim >= 0 ? in[2].dtype : CQ_U8;
    else
        out[0].dtype = CQ_F32;
    return CQ_OK;
}

static cq_status run_q(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                       cq_tensor *const *out, cq_openv *env, cq_err *err)
{
    (void)n_out;
    const cq_tensor *x = in[0], *s = in[1], *z = n_in > 2 ? in[2] : NULL;
    int64_t ns = cq_tensor_numel(s), outer = 1, len = 1, inner = cq_tensor_numel(x);
    if (ns > 1) {
        /* per axis (opset 13): the axis attribute, default 1 */
        int a = cq__axis(cq_node_int(n, "axis", 1), x->ndim);
        if (a < 0 || x->shape[a] != ns)
            return cq_errf(err, CQ_EINVAL, "%s '%s': %lld scales do not match the axis",
                           n->op_type, n->name, (long long)ns);
        outer = cq__numel(a, x->shape);
        len = ns;
        inner = cq__numel(x->ndim - a - 1, x->shape + a + 1);
    }
    float *sc;
    int32_t *zp;
    int64_t cnt;
    if (qparams(n, "x", s, z, len, &sc, &zp, &cnt, err))
        return err->code;
    cq_status st;
    int quant = !strcmp(n->op_type, "QuantizeLinear");
    if (cnt == 1 && (quant ? x->dtype == CQ_F32 : x->dtype == CQ_U8 || x->dtype == CQ_S8)) {
        /* per tensor: the vector kernels, in the layout the executor planned
         * (NHWC for the 8-bit side when blocked) */
        int64_t nn = 1, c = 1, hw = cq_tensor_numel(x);
        if (x->ndim == 4)
            nn = x->shape[0], c = x->shape[1], hw = x->shape[2] * x->shape[3];
        st = quant ? cq_quantize_f32_8(cq_tensor_data(x), nn, c, hw, sc[0], zp ? zp[0] : 0,
                                       out[0]->dtype, cq_tensor_data(out[0]), env->y_blocked, err)
                   : cq_dequantize_8_f32(cq_tensor_data(x), x->dtype, nn, c, hw, env->x_blocked,
                                         sc[0], zp ? zp[0] : 0, cq_tensor_data(out[0]), err);
    } else if (env->x_blocked || env->y_blocked) {
        st = cq_errf(err, CQ_ESTATE, "planned in NHWC but not per tensor");
    } else if (quant) {
        cq_tensor *xf = cq_tensor_to(x, CQ_F32, err);
        st = xf ? cq_quantize_linear_ref(cq_tensor_data(xf), outer, len, inner, sc, zp, cnt,
                                         out[0]->dtype, cq_tensor_data(out[0]), err)
                : err->code;
        cq_tensor_release(xf);
    } else {
        st = cq_dequantize_axis_f32(cq_tensor_data(x), x->dtype, outer, len, inner, sc, zp, cnt,
                                    cq_tensor_data(out[0]), err);
    }
    free(sc), free(zp);
    return st ? cq_err_prefix(err, st, "%s '%s': ", n->op_type, n->name) : CQ_OK;
}

/* ---- the integer products ------------------------------------------------------- */

/* MatMulInteger, QLinearMatMul, ConvInteger, QLinearConv: the float op's
 * shape from a / x and b / w; s32, or y_zp's dtype for the QLinear ones. */
static cq_status infer_int(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                           int n_out, cq_tinfo *out, cq_err *err)
{
    int q = !strncmp(n->op_type, "QLinear", 7);
    const cq_op *f = cq_op_find(strstr(n->op_type, "Conv") ? "Conv" : "MatMul", "");
    cq_tinfo ab[2] = {in[0], in[q ? 3 : 1]};
    (void)n_in;
    if (f->infer(n, opset, 2, ab, n_out, out, err))
        return err->code;
    out[0].dtype = q ? in[7].dtype : CQ_S32;
    return CQ_OK;
}

/* ---- MatMulInteger / QLinearMatMul ------------------------------------------------ */

/* Inputs: MatMulInteger (a, b, a_zp?, b_zp?); QLinearMatMul (a, a_scale,
 * a_zp, b, b_scale, b_zp, y_scale, y_zp). Zero points and scales per tensor,
 * per row of a, per column of b. */
static cq_status run_mm(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                        cq_tensor *const *out, cq_openv *env, cq_err *err)
{
    (void)n_out, (void)env;
    int q = !strcmp(n->op_type, "QLinearMatMul");
    const cq_tensor *a = in[0], *b = in[q ? 3 : 1];
    const cq_tensor *az = q ? in[2] : n_in > 2 ? in[2] : NULL;
    const cq_tensor *bz = q ? in[5] : n_in > 3 ? in[3] : NULL;
    cq_matmul_dims d;
    if (cq_matmul_dims_init(&d, a->ndim, a->shape, b->ndim, b->shape, err))
        return cq_err_prefix(err, err->code, "%s '%s': ", n->op_type, n->name);
    float *as = NULL, *bs = NULL, ys = 0.0f;
    int32_t *azp = NULL, *bzp = NULL, yz = 0;
    int64_t ac, bc;
    cq_status st = qparams(n, "a", q ? in[1] : NULL, az, d.m, &as, &azp, &ac, err);
    if (!st)
        st = qparams(n, "b", q ? in[4] : NULL, bz, d.n, &bs, &bzp, &bc, err);
    if (!st && q)
        st = scalar_of(n, "y", in[6], &ys, NULL, err);
    if (!st && q)
        st = scalar_of(n, "y", in[7], NULL, &yz, err);
    if (!st) {
        st = q ? cq_qlinear_matmul_ref(&d, a->dtype, cq_tensor_data(a), as, azp, ac, b->dtype,
                                       cq_tensor_data(b), bs, bzp, bc, out[0]->dtype, ys, yz,
                                       cq_tensor_data(out[0]), err)
               : cq_matmul_integer_ref(&d, a->dtype, cq_tensor_data(a), azp, ac, b->dtype,
                                       cq_tensor_data(b), bzp, bc, cq_tensor_data(out[0]), err);
        if (st)
            cq_err_prefix(err, st, "%s '%s': ", n->op_type, n->name);
    }
    free(as), free(bs), free(azp), free(bzp);
    return st;
}

/* ---- ConvInteger / QLinearConv ---------------------------------------------------- */

/* Inputs: ConvInteger (x, w, x_zp?, w_zp?); QLinearConv (x, x_scale, x_zp,
 * w, w_scale, w_zp, y_scale, y_zp, bias?). x per tensor, w per tensor or
 * per output channel. 3-D ones run one output depth plane at a time. */
static cq_status run_cv(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                        cq_tensor *const *out, cq_openv *env, cq_err *err)
{
    (void)n_out;
    int q = !strcmp(n->op_type, "QLinearConv");
    if (q && n_in >= 8) {
        int r = cq__qconv_run(n, n_in, in, out[0], env, err);
        if (r)
            return r < 0 ? err->code : CQ_OK;
    }
    const cq_tensor *x = in[0], *w = in[q ? 3 : 1];
    const cq_tensor *xz = q ? in[2] : n_in > 2 ? in[2] : NULL;
    const cq_tensor *wz = q ? in[5] : n_in > 3 ? in[3] : NULL;
    const cq_tensor *bias = q && n_in > 8 ? in[8] : NULL;
    if (x->dtype != CQ_S8 && x->dtype != CQ_U8)
        return cq_errf(err, CQ_EUNSUPPORTED, "%s '%s': x must be s8 or u8", n->op_type, n->name);
    cq_convgeo g;
    if (cq__conv_geo(n, x->ndim, x->shape, w->ndim, w->shape, &g, err))
        return err->code;
    if (bias && (bias->dtype != CQ_S32 || cq_tensor_numel(bias) != g.m))
        return cq_errf(err, CQ_EINVAL, "%s '%s': bias must hold %lld s32 values", n->op_type,
                       n->name, (long long)g.m);
    if (cq_tensor_numel(out[0]) == 0)
        return CQ_OK;
    float xs = 0.0f, ys = 0.0f, *ws = NULL;
    int32_t zx = 0, yz = 0, *wzp = NULL;
    int64_t wc;
    cq_status st = xz ? scalar_of(n, "x", xz, NULL, &zx, err) : CQ_OK;
    if (!st && q)
        st = scalar_of(n, "x", in[1], &xs, NULL, err);
    if (!st && q)
        st = scalar_of(n, "y", in[6], &ys, NULL, err);
    if (!st && q)
        st = scalar_of(n, "y", in[7], NULL, &yz, err);
    if (!st)
        st = qparams(n, "w", q ? in[4] : NULL, wz, g.m, &ws, &wzp, &wc, err);
    if (st) {
        free(ws), free(wzp);
        return st;
    }
    cq_conv2d_params p = cq__conv_plane_params(&g);
    int planar = cq__conv_planar(&g);
    size_t ye = cq_dtype_info(out[0]->dtype)->size, P = (size_t)(g.out[1] * g.out[2]);
    size_t in_b = planar ? 0 : (size_t)(p.n * p.c_in * p.h * p.w);
    size_t out_b = planar ? 0 : (size_t)(g.n * g.m) * P * ye;
    char *s = cq__scratch(env, in_b + out_b + 1);
    if (!s)
        st = cq_errf(err, CQ_ENOMEM, "%s '%s': no memory", n->op_type, n->name);
    /* depth taps outside x hold x's zero point: they add nothing */
    unsigned char fill = (unsigned char)zx;
    for (int64_t od = 0; !st && od < g.out[0]; od++) {
        const void *xp = cq__conv_plane_in(&g, 0, 1, cq_tensor_data(x), od, &fill, s);
        void *yp = planar ? cq_tensor_data(out[0]) : s + in_b;
        st = q ? cq_qlinear_conv_ref(&p, x->dtype, xp, xs, zx, w->dtype, cq_tensor_data(w), ws,
                                     wzp, wc, bias ? cq_tensor_data(bias) : NULL, out[0]->dtype,
                                     ys, yz, yp, err)
               : cq_conv_integer_ref(&p, x->dtype, xp, zx, w->dtype, cq_tensor_data(w), wzp, wc,
                                     yp, err);
        if (st)
            cq_err_prefix(err, st, "%s '%s': ", n->op_type, n->name);
        else
            cq__conv_plane_out(&g, ye, yp, od, cq_tensor_data(out[0]));
    }
    free(ws), free(wzp);
    return st;
}

/* ---- QLinearAdd (com.microsoft) ------------------------------------------------- */

/* Inputs (a, a_scale, a_zp, b, b_scale, b_zp, c_scale, c_zp): numpy
 * broadcasting of a and b, c of a's dtype; per-tensor scales and zero points. */
static cq_status infer_qadd(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                            int n_out, cq_tinfo *out, cq_err *err)
{
    (void)opset, (void)n_out;
    if (n_in < 7 || in[0].ndim < 0 || in[3].ndim < 0) {
        if (n_in < 7)
            return cq_errf(err, CQ_EINVAL, "%s '%s': needs 7 or 8 inputs", n->op_type, n->name);
        return cq_errf(err, CQ_ESTATE, "%s '%s': shapes unknown", n->op_type, n->name);
    }
    if (cq__broadcast(n, in[0].ndim, in[0].shape, in[3].ndim, in[3].shape, &out[0].ndim,
                      out[0].shape, err))
        return err->code;
    out[0].dtype = in[0].dtype;
    out[0].data = NULL;
    return CQ_OK;
}

/* QLinearAdd's and QLinearMul's inputs (a, a_scale, a_zp, b, b_scale, b_zp,
 * c_scale, c_zp?): the per-tensor scales and zero points, a, b and c of one
 * dtype. */
static cq_status binary_params(const cq_node *n, int n_in, cq_tensor *const *in,
                               const cq_tensor *y, float *sa, int32_t *za, float *sb,
                               int32_t *zb, float *sc, int32_t *zc, cq_err *err)
{
    if (in[0]->dtype != in[3]->dtype || in[0]->dtype != y->dtype)
        return cq_errf(err, CQ_EINVAL, "%s '%s': A, B and C must share a dtype", n->op_type,
                       n->name);
    cq_status st = scalar_of(n, "a", in[1], sa, NULL, err);
    if (!st)
        st = scalar_of(n, "a", in[2], NULL, za, err);
    if (!st)
        st = scalar_of(n, "b", in[4], sb, NULL, err);
    if (!st)
        st = scalar_of(n, "b", in[5], NULL, zb, err);
    if (!st)
        st = scalar_of(n, "c", in[6], sc, NULL, err);
    if (!st)
        st = scalar_of(n, "c", n_in > 7 ? in[7] : NULL, NULL, zc, err);
    return st;
}

static cq_status run_qadd(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                          cq_tensor *const *out, cq_openv *env, cq_err *err)
{
    (void)n_out;
    cq_tensor *a = in[0], *b = in[3], *y = out[0];
    float sa, sb, sc;
    int32_t za, zb, zc;
    cq_status st = binary_params(n, n_in, in, y, &sa, &za, &sb, &zb, &sc, &zc, err);
    if (st)
        return st;
    int64_t m = cq_tensor_numel(y);
    if ((cq_tensor_numel(a) == m || cq_tensor_numel(a) == 1) &&
        (cq_tensor_numel(b) == m || cq_tensor_numel(b) == 1)) {
        /* same shapes (in one layout, whichever the executor planned) or a
         * scalar side: elementwise on the codes */
        st = cq_qadd_8(y->dtype, cq_tensor_data(a), cq_tensor_numel(a), sa, za, cq_tensor_data(b),
                       cq_tensor_numel(b), sb, zb, sc, zc, cq_tensor_data(y), m, err);
        return st ? cq_err_prefix(err, st, "QLinearAdd '%s': ", n->name) : CQ_OK;
    }
    if (env->x_blocked || env->y_blocked)
        return cq_errf(err, CQ_ESTATE, "QLinearAdd '%s': planned in NHWC but broadcasting",
                       n->name);
    /* a side of one value runs as ONNX Runtime's scalar case; others expand */
    cq_tensor *ae = cq_tensor_numel(a) == 1 ? (cq_tensor_retain(a), a)
                                          : cq_tensor_expand(a, y->ndim, y->shape, err);
    cq_tensor *be = !ae ? NULL : cq_tensor_numel(b) == 1 ? (cq_tensor_retain(b), b)
                                                     : cq_tensor_expand(b, y->ndim, y->shape, err);
    cq_tensor *ad = be ? cq_tensor_contiguous(ae, err) : NULL;
    cq_tensor *bd = ad ? cq_tensor_contiguous(be, err) : NULL;
    st = bd ? cq_qlinear_add_ref(y->dtype, cq_tensor_data(ad), cq_tensor_numel(ad), sa, za,
                                 cq_tensor_data(bd), cq_tensor_numel(bd), sb, zb, sc, zc,
                                 cq_tensor_data(y), m, err)
            : err->code;
    cq_tensor_release(ae), cq_tensor_release(be), cq_tensor_release(ad), cq_tensor_release(bd);
    return st ? cq_err_prefix(err, st, "QLinearAdd '%s': ", n->name) : CQ_OK;
}

/* ---- layouts ----------------------------------------------------------------- */

/* Whether value v is 4-D with every dimension known. */
static int known4(const cq_graph *g, int v)
{
    if (v < 0 || !g->values[v].has_type || g->values[v].ndim != 4)
        return 0;
    for (int d = 0; d < 4; d++)
        if (g->values[v].shape[d] <= 0)
            return 0;
    return 1;
}

/* A per-tensor scale: a constant of one value (the zero point likewise). */
static int per_tensor(const cq_graph *g, const cq_node *n)
{
    for (int k = 1; k < 3 && k < n->n_inputs; k++) {
        int v = n->inputs[k];
        if (v >= 0 && (!g->values[v].data || cq_tensor_numel(g->values[v].data) != 1))
            return 0;
    }
    return n->n_inputs >= 2 && n->inputs[1] >= 0;
}

/* QuantizeLinear writes NHWC codes from NCHW floats (per tensor). */
static int q_blocked_ok(const cq_graph *g, const cq_node *n, int x_blocked)
{
    return !x_blocked && n->n_outputs > 0 && known4(g, n->inputs[0]) &&
           g->values[n->inputs[0]].dtype == CQ_F32 && per_tensor(g, n);
}

/* DequantizeLinear reads NHWC codes into NCHW floats (per tensor); it has
 * no BLOCKED_OUT, so this is asked of nothing but kept for the table check. */
static int dq_blocked_ok(const cq_graph *g, const cq_node *n, int x_blocked)
{
    (void)x_blocked;
    return known4(g, n->inputs[0]) && per_tensor(g, n);
}

/* QLinearAdd keeps NHWC when a, b and c have one shape. */
static int qadd_blocked_ok(const cq_graph *g, const cq_node *n, int x_blocked)
{
    (void)x_blocked;
    if (n->n_inputs < 7 || n->n_outputs < 1 || !known4(g, n->inputs[0]) ||
        !known4(g, n->inputs[3]) || !known4(g, n->outputs[0]))
        return 0;
    const cq_value *a = &g->values[n->inputs[0]], *b = &g->values[n->inputs[3]];
    const cq_value *c = &g->values[n->outputs[0]];
    for (int d = 0; d < 4; d++)
        if (a->shape[d] != c->shape[d] || b->shape[d] != c->shape[d])
            return 0;
    return 1;
}

static const cq_op_hooks q_hooks = {.blocked_ok = q_blocked_ok};
static const cq_op_hooks dq_hooks = {.blocked_ok = dq_blocked_ok};
static const cq_op_hooks qadd_hooks = {
    .blocked_ok = qadd_blocked_ok, .blocked_in = 1u << 3, .res_operands = 1u | 1u << 3};

/* QLinearMul keeps NHWC with a and c of one shape and b the same or one
 * value per channel (N, C, 1, 1). */
static int qmul_blocked_ok(const cq_graph *g, const cq_node *n, int x_blocked)
{
    (void)x_blocked;
    if (n->n_inputs < 7 || n->n_outputs < 1 || !known4(g, n->inputs[0]) ||
        !known4(g, n->inputs[3]) || !known4(g, n->outputs[0]))
        return 0;
    const cq_value *a = &g->values[n->inputs[0]], *b = &g->values[n->inputs[3]];
    const cq_value *c = &g->values[n->outputs[0]];
    if (a->shape[0] * a->shape[1] * a->shape[2] * a->shape[3] <
        b->shape[0] * b->shape[1] * b->shape[2] * b->shape[3]) {
        const cq_value *t = a;
        a = b, b = t;
    }
    int same = 1, per_channel = b->shape[0] == c->shape[0] && b->shape[1] == c->shape[1] &&
                                b->shape[2] == 1 && b->shape[3] == 1;
    for (int d = 0; d < 4; d++) {
        if (a->shape[d] != c->shape[d])
            return 0;
        same &= b->shape[d] == c->shape[d];
    }
    return same || per_channel;
}

static const cq_op_hooks qmul_hooks = {.blocked_ok = qmul_blocked_ok, .blocked_in = 1u << 3};

/* ---- QLinearMul (com.microsoft) ------------------------------------------------- */

/* Inputs as QLinearAdd's. Same shapes or a scalar side run as one call;
 * a per-channel side ((N, C, 1, 1) against (N, C, H, W), a squeeze-excite
 * scale) one call per plane, or per pixel with NHWC codes; other
 * broadcasts expand (NCHW). */
static cq_status run_qmul(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                          cq_tensor *const *out, cq_openv *env, cq_err *err)
{
    (void)n_out;
    cq_tensor *a = in[0], *b = in[3], *y = out[0];
    float sa, sb, sc;
    int32_t za, zb, zc;
    cq_status st = binary_params(n, n_in, in, y, &sa, &za, &sb, &zb, &sc, &zc, err);
    if (st)
        return st;
    /* the product commutes: b is the smaller side */
    if (cq_tensor_numel(b) > cq_tensor_numel(a)) {
        cq_tensor *t = a;
        a = b, b = t;
        float ts = sa;
        sa = sb, sb = ts;
        int32_t tz = za;
        za = zb, zb = tz;
    }
    int64_t m = cq_tensor_numel(y), na = cq_tensor_numel(a), nb = cq_tensor_numel(b);
    const char *pa = cq_tensor_data(a), *pb = cq_tensor_data(b);
    char *py = cq_tensor_data(y);
    if (na == m && (nb == m || nb == 1)) {
        st = cq_qmul_8(y->dtype, pa, na, sa, za, pb, nb, sb, zb, sc, zc, py, m, err);
    } else if (na == m && y->ndim == 4 && b->ndim == 4 && b->shape[0] == y->shape[0] &&
               b->shape[1] == y->shape[1] && b->shape[2] == 1 && b->shape[3] == 1) {
        int64_t nc = y->shape[0] * y->shape[1], hw = y->shape[2] * y->shape[3], c = y->shape[1];
        if (env->y_blocked) /* NHWC: each pixel's c codes against b's c */
            for (int64_t i = 0; !st && i < y->shape[0]; i++)
                st = cq_qmul_8_rows(y->dtype, pa + i * hw * c, hw, c, sa, za, pb + i * c, sb, zb,
                                    sc, zc, py + i * hw * c, err);
        else
            for (int64_t p = 0; !st && p < nc; p++)
                st = cq_qmul_8(y->dtype, pa + p * hw, hw, sa, za, pb + p, 1, sb, zb, sc,
                                        zc, py + p * hw, hw, err);
    } else if (env->x_blocked || env->y_blocked) {
        st = cq_errf(err, CQ_ESTATE, "planned in NHWC but broadcasting");
    } else {
        cq_tensor *ae = cq_tensor_expand(a, y->ndim, y->shape, err);
        cq_tensor *be = ae ? cq_tensor_expand(b, y->ndim, y->shape, err) : NULL;
        cq_tensor *ad = be ? cq_tensor_contiguous(ae, err) : NULL;
        cq_tensor *bd = ad ? cq_tensor_contiguous(be, err) : NULL;
        st = bd ? cq_qmul_8(y->dtype, cq_tensor_data(ad), m, sa, za, cq_tensor_data(bd),
                                     m, sb, zb, sc, zc, py, m, err)
                : err->code;
        cq_tensor_release(ae), cq_tensor_release(be), cq_tensor_release(ad), cq_tensor_release(bd);
    }
    return st ? cq_err_prefix(err, st, "QLinearMul '%s': ", n->name) : CQ_OK;
}

/* ---- QLinearGlobalAveragePool (com.microsoft) ----------------------------------- */

/* Inputs (x, x_scale, x_zp, y_scale, y_zp), channels_last 0: x (N, C, H, W)
 * -> y (N, C, 1, 1) of x's dtype. */
static cq_status infer_qgap(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                            int n_out, cq_tinfo *out, cq_err *err)
{
    (void)opset, (void)n_out;
    if (n_in < 4)
        return cq_errf(err, CQ_EINVAL, "%s '%s': needs 4 or 5 inputs", n->op_type, n->name);
    if (cq_node_int(n, "channels_last", 0))
        return cq_errf(err, CQ_EUNSUPPORTED, "%s '%s': channels_last", n->op_type, n->name);
    if (in[0].ndim < 3)
        return in[0].ndim < 0 ? cq_errf(err, CQ_ESTATE, "%s '%s': shape unknown", n->op_type,
                                        n->name)
                              : cq_errf(err, CQ_EINVAL, "%s '%s': x has %d dims", n->op_type,
                                        n->name, in[0].ndim);
    out[0].dtype = in[0].dtype;
    out[0].ndim = in[0].ndim;
    out[0].data = NULL;
    for (int d = 0; d < in[0].ndim; d++)
        out[0].shape[d] = d < 2 ? in[0].shape[d] : 1;
    return CQ_OK;
}

static cq_status run_qgap(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                          cq_tensor *const *out, cq_openv *env, cq_err *err)
{
    (void)n_out;
    const cq_tensor *x = in[0];
    float sx = 0, sy = 0;
    int32_t zx = 0, zy = 0;
    cq_status st = scalar_of(n, "x", in[1], &sx, NULL, err);
    if (!st)
        st = scalar_of(n, "x", in[2], NULL, &zx, err);
    if (!st)
        st = scalar_of(n, "y", in[3], &sy, NULL, err);
    if (!st)
        st = scalar_of(n, "y", n_in > 4 ? in[4] : NULL, NULL, &zy, err);
    if (st)
        return st;
    int64_t hw = 1;
    for (int d = 2; d < x->ndim; d++)
        hw *= x->shape[d];
    st = cq_global_avgpool_8(x->dtype, cq_tensor_data(x), x->shape[0], x->shape[1], hw,
                             env->x_blocked, sx, zx, sy, zy, cq_tensor_data(out[0]), err);
    return st ? cq_err_prefix(err, st, "%s '%s': ", n->op_type, n->name) : CQ_OK;
}

/* NHWC codes in; the (N, C, 1, 1) output is the same bytes in both layouts. */
static int qgap_blocked_ok(const cq_graph *g, const cq_node *n, int x_blocked)
{
    (void)x_blocked;
    return n->n_outputs > 0 && known4(g, n->inputs[0]) && known4(g, n->outputs[0]);
}

static const cq_op_hooks qgap_hooks = {.blocked_ok = qgap_blocked_ok};

const cq_op cq__ops_quant[] = {
    {"QuantizeLinear", "", infer_q, run_q, CQ_OP_BLOCKED_OUT | CQ_OP_QUANT, &q_hooks},
    {"DequantizeLinear", "", infer_q, run_q, CQ_OP_BLOCKED_IN | CQ_OP_DEQUANT, &dq_hooks},
    {"MatMulInteger", "", infer_int, run_mm, 0, NULL},
    {"QLinearMatMul", "", infer_int, run_mm, 0, NULL},
    {"ConvInteger", "", infer_int, run_cv, 0, NULL},
    {"QLinearConv", "", infer_int, run_cv,
     CQ_OP_BLOCKED_IN | CQ_OP_BLOCKED_OUT | CQ_OP_PLAN | CQ_OP_TAKES_RESIDUAL, &cq__qconv_hooks},
    {"QLinearAdd", "com.microsoft", infer_qadd, run_qadd,
     CQ_OP_BLOCKED_IN | CQ_OP_BLOCKED_OUT | CQ_OP_RESIDUAL_ADD, &qadd_hooks},
    {"QLinearMul", "com.microsoft", infer_qadd, run_qmul, CQ_OP_BLOCKED_IN | CQ_OP_BLOCKED_OUT,
     &qmul_hooks},
    {"QLinearGlobalAveragePool", "com.microsoft", infer_qgap, run_qgap,
     CQ_OP_BLOCKED_IN | CQ_OP_BLOCKED_OUT, &qgap_hooks},
};
CQ__STATIC_ASSERT(sizeof cq__ops_quant / sizeof cq__ops_quant[0] == CQ_OPS_QUANT_N, quant_rows);
