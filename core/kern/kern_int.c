/* kern_int.c - exact scalar integer kernels: Quantize/DequantizeLinear,
 * ConvInteger, MatMulInteger, QLinearConv, QLinearMatMul, QLinearAdd (see kern.h). They
 * run the QDQ / integer ONNX ops and serve as oracles for fast integer code. */
#include "kern/kern_internal.h"

#include <math.h>
#include <string.h>

static int q_range(cq_dtype dt, int32_t *lo, int32_t *hi)
{
    if (dt == CQ_S8) {
        *lo = -128;
        *hi = 127;
        return 1;
    }
    if (dt == CQ_U8) {
        *lo = 0;
        *hi = 255;
        return 1;
    }
    return 0;
}

static inline int32_t ld8(cq_dtype dt, const void *p, int64_t i)
{
    return dt == CQ_S8 ? (int32_t)((const int8_t *)p)[i] : (int32_t)((const uint8_t *)p)[i];
}

static inline void st8(cq_dtype dt, void *p, int64_t i, int32_t v)
{
    if (dt == CQ_S8)
        ((int8_t *)p)[i] = (int8_t)v;
    else
        ((uint8_t *)p)[i] = (uint8_t)v;
}

static cq_status scales_check(const char *what, const float *scale, int64_t n, cq_err *err)
{
    if (!scale)
        return cq_errf(err, CQ_EINVAL, "%s: NULL scale", what);
    for (int64_t i = 0; i < n; i++)
        if (!(scale[i] > 0.0f) || isinf(scale[i]))
            return cq_errf(err, CQ_EINVAL, "%s: scale %lld is %g (must be positive and finite)",
                           what, (long long)i, (double)scale[i]);
    return CQ_OK;
}

static cq_status axis_check(const char *what, int64_t outer, int64_t axis_len, int64_t inner,
                            int64_t n_scale, cq_err *err)
{
    if (outer < 0 || axis_len < 0 || inner < 0)
        return cq_errf(err, CQ_EINVAL, "%s: negative size", what);
    if (n_scale != 1 && n_scale != axis_len)
        return cq_errf(err, CQ_EINVAL, "%s: %lld scales for an axis of %lld", what,
                       (long long)n_scale, (long long)axis_len);
    return CQ_OK;
}

/* Scale and zero point of row r of a (outer, axis_len, inner) view. */
static inline void row_qparams(int64_t r, int64_t axis_len, const float *scale,
                               const int32_t *zp, int64_t n_scale, float *s, int32_t *z)
{
    int64_t g = n_scale == 1 ? 0 : r % axis_len;
    *s = scale[g];
    *z = zp ? zp[g] : 0;
}

cq_status cq_quantize_linear_ref(const float *x, int64_t outer, int64_t axis_len, int64_t inner,
                                 const float *scale, const int32_t *zp, int64_t n_scale,
                                 cq_dtype q_dt, void *q, cq_err *err)
{
    int32_t lo, hi;
    if (!q_range(q_dt, &lo, &hi))
        return cq_errf(err, CQ_EUNSUPPORTED, "quantize_linear: output dtype must be s8 or u8");
    cq_status st = axis_check("quantize_linear", outer, axis_len, inner, n_scale, err);
    if (st == CQ_OK)
        st = scales_check("quantize_linear", scale, n_scale, err);
    if (st != CQ_OK)
        return st;
    for (int64_t r = 0; r < outer * axis_len; r++) {
        float s;
        int32_t z;
        row_qparams(r, axis_len, scale, zp, n_scale, &s, &z);
        /* round(x / s) to nearest even, then + zp, then saturate */
        for (int64_t i = r * inner; i < (r + 1) * inner; i++)
            st8(q_dt, q, i, cq_round_sat(nearbyintf(x[i] / s) + (float)z, lo, hi));
    }
    return CQ_OK;
}

cq_status cq_dequantize_linear_ref(const void *q, cq_dtype q_dt, int64_t outer, int64_t axis_len,
                                   int64_t inner, const float *scale, const int32_t *zp,
                                   int64_t n_scale, float *x, cq_err *err)
{
    if (q_dt != CQ_S8 && q_dt != CQ_U8 && q_dt != CQ_S32)
        return cq_errf(err, CQ_EUNSUPPORTED, "dequantize_linear: input dtype must be s8, u8 or "
                       "s32");
    cq_status st = axis_check("dequantize_linear", outer, axis_len, inner, n_scale, err);
    if (st != CQ_OK)
        return st;
    if (!scale)
        return cq_errf(err, CQ_EINVAL, "dequantize_linear: NULL scale");
    for (int64_t r = 0; r < outer * axis_len; r++) {
        float s;
        int32_t z;
        row_qparams(r, axis_len, scale, zp, n_scale, &s, &z);
        for (int64_t i = r * inner; i < (r + 1) * inner; i++) {
            int64_t v = q_dt == CQ_S32 ? ((const int32_t *)q)[i] : ld8(q_dt, q, i);
            x[i] = (float)(v - (int64_t)z) * s;
        }
    }
    return CQ_OK;
}

/* ---- the same on tensors ------------------------------------------------- */

/* Scales finite and > 0; zero points, when the integer dtype qt is s8 or u8,
 * inside its range (as ONNX, where they are tensors of that dtype). The
 * tensor viewed as (outer, *groups, inner) around axis. */
static cq_status tensor_qparams(const cq_tensor *x, const float *scale, const int32_t *zp,
                                cq_dtype qt, int axis, int64_t *outer, int64_t *groups,
                                int64_t *inner, cq_err *err)
{
    if (axis >= x->ndim)
        return cq_errf(err, CQ_EINVAL, "quantization axis %d of a %d-dimensional tensor", axis,
                       x->ndim);
    *groups = axis < 0 ? 1 : x->shape[axis];
    *outer = *inner = 1;
    for (int i = 0; i < x->ndim; i++)
        if (axis < 0 || i > axis)
            *inner *= x->shape[i];
        else if (i < axis)
            *outer *= x->shape[i];
    for (int64_t g = 0; g < *groups; g++)
        if (!(scale[g] > 0.0f) || isinf(scale[g]))
            return cq_errf(err, CQ_EINVAL, "scale[%lld] is %g (must be finite and > 0)",
                           (long long)g, (double)scale[g]);
    int32_t lo, hi;
    if (zp && q_range(qt, &lo, &hi))
        for (int64_t g = 0; g < *groups; g++)
            if (zp[g] < lo || zp[g] > hi)
                return cq_errf(err, CQ_EINVAL, "zero_point[%lld] is %d, outside %s's %d..%d",
                               (long long)g, (int)zp[g], cq_dtype_info(qt)->name, (int)lo,
                               (int)hi);
    return CQ_OK;
}

cq_tensor *cq_quantize(const cq_tensor *x, cq_dtype dt, const float *scale, const int32_t *zp,
                       int axis, cq_err *err)
{
    int64_t outer, groups, inner;
    int32_t lo, hi;
    if (!q_range(dt, &lo, &hi)) {
        cq_errf(err, CQ_EINVAL, "quantize to %s (s8 or u8 only)",
                cq_dtype_info(dt) ? cq_dtype_info(dt)->name : "?");
        return NULL;
    }
    if (tensor_qparams(x, scale, zp, dt, axis, &outer, &groups, &inner, err) != CQ_OK)
        return NULL;
    cq_tensor *xf = cq_tensor_to(x, CQ_F32, err);
    cq_tensor *q = xf ? cq_tensor_empty(dt, x->ndim, x->shape, err) : NULL;
    if (q && cq_quantize_linear_ref(cq_tensor_data(xf), outer, groups, inner, scale, zp, groups,
                                    dt, cq_tensor_data(q), err) != CQ_OK) {
        cq_tensor_release(q);
        q = NULL;
    }
    cq_tensor_release(xf);
    return q;
}

cq_tensor *cq_dequantize(const cq_tensor *q, const float *scale, const int32_t *zp, int axis,
                         cq_err *err)
{
    int64_t outer, groups, inner;
    if (tensor_qparams(q, scale, zp, q->dtype, axis, &outer, &groups, &inner, err) != CQ_OK)
        return NULL;
    cq_tensor *qi = cq_tensor_to(q, CQ_S32, err); /* any integer dtype, dense */
    cq_tensor *x = qi ? cq_tensor_empty(CQ_F32, q->ndim, q->shape, err) : NULL;
    if (x && cq_dequantize_linear_ref(cq_tensor_data(qi), CQ_S32, outer, groups, inner, scale,
                                      zp, groups, cq_tensor_data(x), err) != CQ_OK) {
        cq_tensor_release(x);
        x = NULL;
    }
    cq_tensor_release(qi);
    return x;
}

int32_t cq_requantize(int32_t acc, float mult, int32_t y_zp, int32_t lo, int32_t hi)
{
    float r = nearbyintf((float)acc * mult);
    return cq_round_sat(r + (float)y_zp, lo, hi);
}

cq_status cq_qlinear_add_ref(cq_dtype dt, const void *a, int64_t na, float a_scale, int32_t a_zp,
                             const void *b, int64_t nb, float b_scale, int32_t b_zp,
                             float c_scale, int32_t c_zp, void *c, int64_t n, cq_err *err)
{
    int32_t lo, hi;
    if (!q_range(dt, &lo, &hi))
        return cq_errf(err, CQ_EUNSUPPORTED, "qlinear_add: dtype must be s8 or u8");
    if (n < 0 || (na != 1 && na != n) || (nb != 1 && nb != n))
        return cq_errf(err, CQ_EINVAL, "qlinear_add: %lld and %lld values for %lld", (long long)na,
                       (long long)nb, (long long)n);
    float sc[3] = {a_scale, b_scale, c_scale};
    cq_status st = scales_check("qlinear_add", sc, 3, err);
    if (st != CQ_OK)
        return st;
    float ra = a_scale / c_scale, rb = b_scale / c_scale;
    /* separate statements: no contraction into an fma where ONNX Runtime has none */
    float fa = ra * (float)a_zp, fb = rb * (float)b_zp;
    float fsum = fa + fb;
    float fixed = (float)c_zp - fsum;
    if (na == 1 && n > 1) {
        float t = (float)ld8(dt, a, 0) * ra;
        fixed = fixed + t;
    } else if (nb == 1 && n > 1) {
        float t = (float)ld8(dt, b, 0) * rb;
        fixed = fixed + t;
    }
    for (int64_t i = 0; i < n; i++) {
        float v;
        if (na == 1 && n > 1)
            v = fmaf((float)ld8(dt, b, i), rb, fixed);
        else if (nb == 1 && n > 1)
            v = fmaf((float)ld8(dt, a, i), ra, fixed);
        else
            v = fmaf((float)ld8(dt, a, i), ra, fmaf((float)ld8(dt, b, i), rb, fixed));
        st8(dt, c, i, cq_round_sat(v, lo, hi));
    }
    return CQ_OK;
}

cq_status cq_qlinear_mul_ref(cq_dtype dt, const void *a, int64_t na, float a_scale, int32_t a_zp,
                             const void *b, int64_t nb, float b_scale, int32_t b_zp,
                             float c_scale, int32_t c_zp, void *c, int64_t n, cq_err *err)
{
    int32_t lo, hi;
    if (!q_range(dt, &lo, &hi))
        return cq_errf(err, CQ_EUNSUPPORTED, "qlinear_mul: dtype must be s8 or u8");
    if (n < 0 || (na != 1 && na != n) || (nb != 1 && nb != n))
        return cq_errf(err, CQ_EINVAL, "qlinear_mul: %lld and %lld values for %lld", (long long)na,
                       (long long)nb, (long long)n);
    float sc[3] = {a_scale, b_scale, c_scale};
    cq_status st = scales_check("qlinear_mul", sc, 3, err);
    if (st != CQ_OK)
        return st;
    float ab = a_scale * b_scale;
    float r = ab / c_scale, zc = (float)c_zp;
    for (int64_t i = 0; i < n; i++) {
        int32_t p = (ld8(dt, a, na == 1 ? 0 : i) - a_zp) * (ld8(dt, b, nb == 1 ? 0 : i) - b_zp);
        /* separate statements: no contraction into an fma where ONNX Runtime has none */
        float v = (float)p * r;
        v = v + zc;
        int32_t q = v >= -2147483648.0f && v < 2147483648.0f ? (int32_t)nearbyintf(v) : INT32_MIN;
        st8(dt, c, i, q < lo ? lo : q > hi ? hi : q);
    }
    return CQ_OK;
}

/* Integer accumulation of one conv output; *ok cleared when it leaves int32. */
static cq_status iconv(const cq_conv2d_params *p, cq_dtype x_dt, const void *x, int32_t x_zp,
                       cq_dtype w_dt, const void *w, const int32_t *w_zp, int64_t w_zp_count,
                       const int32_t *bias, int32_t *acc_out, int64_t *oh_out, int64_t *ow_out,
                       const char *what, cq_err *err)
{
    int64_t oh, ow;
    int32_t lo, hi;
    if (!q_range(x_dt, &lo, &hi) || !q_range(w_dt, &lo, &hi))
        return cq_errf(err, CQ_EUNSUPPORTED, "%s: x and w dtypes must be s8 or u8", what);
    cq_status st = cq_conv2d_out_shape(p, &oh, &ow, err);
    if (st != CQ_OK)
        return st;
    if (w_zp_count != 1 && w_zp_count != p->c_out && !(w_zp_count == 0 && !w_zp))
        return cq_errf(err, CQ_EINVAL, "%s: %lld weight zero points for %lld output channels",
                       what, (long long)w_zp_count, (long long)p->c_out);
    int64_t cig = p->c_in / p->groups, cog = p->c_out / p->groups;
    for (int64_t n = 0; n < p->n; n++)
        for (int64_t co = 0; co < p->c_out; co++) {
            int64_t g = co / cog;
            int64_t wz = w_zp ? w_zp[w_zp_count == 1 ? 0 : co] : 0;
            for (int64_t oy = 0; oy < oh; oy++)
                for (int64_t ox = 0; ox < ow; ox++) {
                    int64_t s = bias ? bias[co] : 0;
                    for (int64_t ci = 0; ci < cig; ci++)
                        for (int64_t ky = 0; ky < p->kh; ky++) {
                            int64_t iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;
                            if (iy < 0 || iy >= p->h)
                                continue; /* padding holds x_zp: contributes 0 */
                            for (int64_t kx = 0; kx < p->kw; kx++) {
                                int64_t ix = ox * p->stride_w - p->pad_left + kx * p->dil_w;
                                if (ix < 0 || ix >= p->w)
                                    continue;
                                int64_t xv = ld8(x_dt, x, ((n * p->c_in + g * cig + ci) * p->h +
                                                           iy) * p->w + ix);
                                int64_t wv = ld8(w_dt, w, ((co * cig + ci) * p->kh + ky) * p->kw +
                                                              kx);
                                s += (xv - x_zp) * (wv - wz);
                            }
                        }
                    if (s < INT32_MIN || s > INT32_MAX)
                        return cq_errf(err, CQ_ERANGE, "%s: accumulator at output (%lld, %lld, "
                                       "%lld, %lld) leaves int32", what, (long long)n,
                                       (long long)co, (long long)oy, (long long)ox);
                    acc_out[((n * p->c_out + co) * oh + oy) * ow + ox] = (int32_t)s;
                }
        }
    *oh_out = oh;
    *ow_out = ow;
    return CQ_OK;
}

cq_status cq_conv_integer_ref(const cq_conv2d_params *p, cq_dtype x_dt, const void *x,
                              int32_t x_zp, cq_dtype w_dt, const void *w, const int32_t *w_zp,
                              int64_t w_zp_count, int32_t *y, cq_err *err)
{
    int64_t oh, ow;
    return iconv(p, x_dt, x, x_zp, w_dt, w, w_zp, w_zp_count, NULL, y, &oh, &ow, "conv_integer",
                 err);
}

cq_status cq_qlinear_conv_ref(const cq_conv2d_params *p, cq_dtype x_dt, const void *x,
                              float x_scale, int32_t x_zp, cq_dtype w_dt, const void *w,
                              const float *w_scale, const int32_t *w_zp, int64_t w_q_count,
                              const int32_t *bias, cq_dtype y_dt, float y_scale, int32_t y_zp,
                              void *y, cq_err *err)
{
    int32_t lo, hi;
    if (!q_range(y_dt, &lo, &hi))
        return cq_errf(err, CQ_EUNSUPPORTED, "qlinear_conv: y dtype must be s8 or u8");
    cq_status st = scales_check("qlinear_conv", &x_scale, 1, err);
    if (st == CQ_OK)
        st = scales_check("qlinear_conv", &y_scale, 1, err);
    if (st == CQ_OK && w_q_count != 1 && w_q_count != p->c_out)
        st = cq_errf(err, CQ_EINVAL, "qlinear_conv: %lld weight scales for %lld output channels",
                     (long long)w_q_count, (long long)p->c_out);
    if (st == CQ_OK)
        st = scales_check("qlinear_conv", w_scale, w_q_count, err);
    if (st != CQ_OK)
        return st;
    int64_t oh, ow;
    if (cq_conv2d_out_shape(p, &oh, &ow, err) != CQ_OK)
        return err ? err->code : CQ_EINVAL;
    size_t ny = (size_t)(p->n * p->c_out * oh * ow);
    int32_t *acc = cq_alloc(ny * sizeof(int32_t));
    if (!acc)
        return cq_errf(err, CQ_ENOMEM, "qlinear_conv: out of memory for %zu accumulators", ny);
    st = iconv(p, x_dt, x, x_zp, w_dt, w, w_zp, w_zp ? w_q_count : 0, bias, acc, &oh, &ow,
               "qlinear_conv", err);
    if (st == CQ_OK) {
        int64_t P = oh * ow;
        for (int64_t n = 0; n < p->n; n++)
            for (int64_t co = 0; co < p->c_out; co++) {
                float mult = (x_scale * w_scale[w_q_count == 1 ? 0 : co]) / y_scale;
                int64_t base = (n * p->c_out + co) * P;
                for (int64_t i = 0; i < P; i++)
                    st8(y_dt, y, base + i, cq_requantize(acc[base + i], mult, y_zp, lo, hi));
            }
    }
    cq_free(acc);
    return st;
}

static cq_status imatmul(const cq_matmul_dims *d, cq_dtype a_dt, const void *a,
                         const int32_t *a_zp, int64_t a_zp_count, cq_dtype b_dt, const void *b,
                         const int32_t *b_zp, int64_t b_zp_count, int32_t *acc, const char *what,
                         cq_err *err)
{
    int32_t lo, hi;
    if (!q_range(a_dt, &lo, &hi) || !q_range(b_dt, &lo, &hi))
        return cq_errf(err, CQ_EUNSUPPORTED, "%s: a and b dtypes must be s8 or u8", what);
    if (a_zp && a_zp_count != 1 && a_zp_count != d->m)
        return cq_errf(err, CQ_EINVAL, "%s: %lld zero points for A's %lld rows", what,
                       (long long)a_zp_count, (long long)d->m);
    if (b_zp && b_zp_count != 1 && b_zp_count != d->n)
        return cq_errf(err, CQ_EINVAL, "%s: %lld zero points for B's %lld columns", what,
                       (long long)b_zp_count, (long long)d->n);
    for (int64_t bi = 0; bi < d->batch; bi++) {
        int64_t am, bm;
        cq_matmul_batch_index(d, bi, &am, &bm);
        int64_t ao = am * d->m * d->k, bo = bm * d->k * d->n;
        for (int64_t i = 0; i < d->m; i++) {
            int64_t az = a_zp ? a_zp[a_zp_count == 1 ? 0 : i] : 0;
            for (int64_t j = 0; j < d->n; j++) {
                int64_t bz = b_zp ? b_zp[b_zp_count == 1 ? 0 : j] : 0, s = 0;
                for (int64_t t = 0; t < d->k; t++)
                    s += (ld8(a_dt, a, ao + i * d->k + t) - az) *
                         (ld8(b_dt, b, bo + t * d->n + j) - bz);
                if (s < INT32_MIN || s > INT32_MAX)
                    return cq_errf(err, CQ_ERANGE, "%s: accumulator (%lld, %lld, %lld) leaves "
                                   "int32", what, (long long)bi, (long long)i, (long long)j);
                acc[(bi * d->m + i) * d->n + j] = (int32_t)s;
            }
        }
    }
    return CQ_OK;
}

cq_status cq_matmul_integer_ref(const cq_matmul_dims *d, cq_dtype a_dt, const void *a,
                                const int32_t *a_zp, int64_t a_zp_count, cq_dtype b_dt,
                                const void *b, const int32_t *b_zp, int64_t b_zp_count,
                                int32_t *y, cq_err *err)
{
    return imatmul(d, a_dt, a, a_zp, a_zp_count, b_dt, b, b_zp, b_zp_count, y, "matmul_integer",
                   err);
}

cq_status cq_qlinear_matmul_ref(const cq_matmul_dims *d, cq_dtype a_dt, const void *a,
                                const float *a_scale, const int32_t *a_zp, int64_t a_q_count,
                                cq_dtype b_dt, const void *b, const float *b_scale,
                                const int32_t *b_zp, int64_t b_q_count, cq_dtype y_dt,
                                float y_scale, int32_t y_zp, void *y, cq_err *err)
{
    int32_t lo, hi;
    if (!q_range(y_dt, &lo, &hi))
        return cq_errf(err, CQ_EUNSUPPORTED, "qlinear_matmul: y dtype must be s8 or u8");
    if ((a_q_count != 1 && a_q_count != d->m) || (b_q_count != 1 && b_q_count != d->n))
        return cq_errf(err, CQ_EINVAL, "qlinear_matmul: %lld A scales for %lld rows, %lld B "
                       "scales for %lld columns", (long long)a_q_count, (long long)d->m,
                       (long long)b_q_count, (long long)d->n);
    cq_status st = scales_check("qlinear_matmul", a_scale, a_q_count, err);
    if (st == CQ_OK)
        st = scales_check("qlinear_matmul", b_scale, b_q_count, err);
    if (st == CQ_OK)
        st = scales_check("qlinear_matmul", &y_scale, 1, err);
    if (st != CQ_OK)
        return st;
    size_t ny = (size_t)(d->batch * d->m * d->n);
    int32_t *acc = cq_alloc(ny * sizeof(int32_t));
    if (!acc)
        return cq_errf(err, CQ_ENOMEM, "qlinear_matmul: out of memory for %zu accumulators", ny);
    st = imatmul(d, a_dt, a, a_zp, a_q_count, b_dt, b, b_zp, b_q_count, acc, "qlinear_matmul",
                 err);
    if (st == CQ_OK)
        for (int64_t bi = 0; bi < d->batch; bi++)
            for (int64_t i = 0; i < d->m; i++)
                for (int64_t j = 0; j < d->n; j++) {
                    float mult = (a_scale[a_q_count == 1 ? 0 : i] *
                                  b_scale[b_q_count == 1 ? 0 : j]) / y_scale;
                    int64_t o = (bi * d->m + i) * d->n + j;
                    st8(y_dt, y, o, cq_requantize(acc[o], mult, y_zp, lo, hi));
                }
    cq_free(acc);
    return st;
}
