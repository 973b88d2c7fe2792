/* kern_qelt.c - the int8 executor's memory-bound kernels (kern_qelt.h): the
 * argument checks, the layout changes (tiles of TP pixels x TC channels,
 * quantized or dequantized row by row through an L1 tile and transposed as
 * bytes), the pooling windows, the global average pool's reference, and the
 * scalar table, which calls the references of kern_int.c. Vector tables:
 * x86/kern_qelt_avx512.c, _avx2.c. */
#include "kern/kern_qelt_internal.h"

#include <math.h>
#include <string.h>

#define TP 64            /* pixels per layout tile */
#define TC 64            /* channels per layout tile */
#define ROWS_MAX 64      /* row pointers handed to max8 at once */
#define POOL_ROW_MAX 16384 /* padded row bytes the pool keeps on the stack (twice) */

static int lims(cq_dtype dt, int32_t *lo, int32_t *hi)
{
    if (dt != CQ_U8 && dt != CQ_S8)
        return 0;
    *lo = dt == CQ_S8 ? -128 : 0;
    *hi = dt == CQ_S8 ? 127 : 255;
    return 1;
}

static const cq__qelt_vtab *vt(void)
{
    switch (cq_kern_isa()) {
    case CQ_ISA_AVX512:
        return &cq__qelt_avx512;
    case CQ_ISA_AVX2:
        return &cq__qelt_avx2;
    default:
        return &cq__qelt_scalar;
    }
}

static cq_status args_check(const char *what, cq_dtype dt, int64_t n, int64_t c, int64_t hw,
                            float scale, int nscale, const void *p0, const void *p1, cq_err *err)
{
    int32_t lo, hi;
    if (!lims(dt, &lo, &hi))
        return cq_errf(err, CQ_EUNSUPPORTED, "%s: dtype must be u8 or s8", what);
    if (n < 0 || c < 0 || hw < 0)
        return cq_errf(err, CQ_EINVAL, "%s: negative size (%lld, %lld, %lld)", what,
                       (long long)n, (long long)c, (long long)hw);
    if (nscale && (!(scale > 0.0f) || isinf(scale)))
        return cq_errf(err, CQ_EINVAL, "%s: scale is %g (must be positive and finite)", what,
                       (double)scale);
    if ((!p0 || !p1) && n * c * hw > 0)
        return cq_errf(err, CQ_EINVAL, "%s: NULL buffer", what);
    return CQ_OK;
}

/* ---- quantize / dequantize with a layout change -------------------------- */

cq_status cq_quantize_f32_8(const float *x, int64_t n, int64_t c, int64_t hw, float scale,
                            int32_t zp, cq_dtype dt, void *q, int q_nhwc, cq_err *err)
{
    cq_status st = args_check("quantize_f32_8", dt, n, c, hw, scale, 1, x, q, err);
    if (st != CQ_OK)
        return st;
    const cq__qelt_vtab *k = vt();
    if (!q_nhwc || c == 1 || hw == 1) {
        k->quant(x, n * c * hw, scale, zp, dt, q);
        return CQ_OK;
    }
    uint8_t tile[TC * TP];
    for (int64_t i = 0; i < n; i++)
        for (int64_t p0 = 0; p0 < hw; p0 += TP) {
            int64_t pn = hw - p0 < TP ? hw - p0 : TP;
            for (int64_t c0 = 0; c0 < c; c0 += TC) {
                int64_t cn = c - c0 < TC ? c - c0 : TC;
                for (int64_t j = 0; j < cn; j++)
                    k->quant(x + (i * c + c0 + j) * hw + p0, pn, scale, zp, dt, tile + j * TP);
                k->tr8(tile, cn, pn, TP, (uint8_t *)q + (i * hw + p0) * c + c0, c);
            }
        }
    return CQ_OK;
}

cq_status cq_dequantize_8_f32(const void *q, cq_dtype dt, int64_t n, int64_t c, int64_t hw,
                              int q_nhwc, float scale, int32_t zp, float *x, cq_err *err)
{
    cq_status st = args_check("dequantize_8_f32", dt, n, c, hw, scale, 1, q, x, err);
    if (st != CQ_OK)
        return st;
    /* the vector loops subtract in int32: other zero points take the reference */
    const cq__qelt_vtab *k = zp >= -(1 << 24) && zp <= (1 << 24) ? vt() : &cq__qelt_scalar;
    if (!q_nhwc || c == 1 || hw == 1) {
        k->dequant(q, dt, n * c * hw, scale, zp, x);
        return CQ_OK;
    }
    uint8_t tile[TC * TP];
    for (int64_t i = 0; i < n; i++)
        for (int64_t p0 = 0; p0 < hw; p0 += TP) {
            int64_t pn = hw - p0 < TP ? hw - p0 : TP;
            for (int64_t c0 = 0; c0 < c; c0 += TC) {
                int64_t cn = c - c0 < TC ? c - c0 : TC;
                k->tr8((const uint8_t *)q + (i * hw + p0) * c + c0, pn, cn, c, tile, TP);
                for (int64_t j = 0; j < cn; j++)
                    k->dequant(tile + j * TP, dt, pn, scale, zp, x + (i * c + c0 + j) * hw + p0);
            }
        }
    return CQ_OK;
}

/* Per axis, the scale and zero point of a row are constants over its inner
 * elements: rows of inner elements each take the per-tensor loop; where the
 * axis is the last (inner 1) a row of the axis takes the loop with a scale
 * and zero point an element. */
cq_status cq_dequantize_axis_f32(const void *q, cq_dtype dt, int64_t outer, int64_t len,
                                 int64_t inner, const float *scale, const int32_t *zp,
                                 int64_t n_scale, float *x, cq_err *err)
{
    /* the reference's own checks, on no elements */
    cq_status st = cq_dequantize_linear_ref(q, dt, outer < 0 ? outer : 0, len, inner, scale, zp,
                                            n_scale, x, err);
    if (st != CQ_OK)
        return st;
    int64_t n = outer * len * inner;
    if (n > 0 && (!q || !x))
        return cq_errf(err, CQ_EINVAL, "dequantize_axis_f32: NULL buffer");
    /* the 8-bit vector loops subtract in int32: far zero points take the
     * reference */
    const cq__qelt_vtab *k = vt();
    for (int64_t j = 0; zp && dt != CQ_S32 && j < n_scale; j++)
        if (zp[j] < -(1 << 24) || zp[j] > (1 << 24))
            k = &cq__qelt_scalar;
    size_t es = dt == CQ_S32 ? 4 : 1;
    const uint8_t *p = q;
    if (n_scale == 1 || len == 1) {
        k->dequant(q, dt, n, scale[0], zp ? zp[0] : 0, x);
    } else if (inner == 1) {
        for (int64_t o = 0; o < outer; o++)
            k->dequant_pc(p + o * len * es, dt, len, scale, zp, x + o * len);
    } else {
        for (int64_t r = 0; r < outer * len; r++)
            k->dequant(p + r * inner * es, dt, inner, scale[r % len], zp ? zp[r % len] : 0,
                       x + r * inner);
    }
    return CQ_OK;
}

void cq_nchw_to_nhwc_8(const void *src, int64_t n, int64_t c, int64_t hw, void *dst)
{
    const cq__qelt_vtab *k = vt();
    for (int64_t i = 0; i < n; i++)
        k->tr8((const uint8_t *)src + i * c * hw, c, hw, hw, (uint8_t *)dst + i * c * hw, c);
}

void cq_nhwc_to_nchw_8(const void *src, int64_t n, int64_t c, int64_t hw, void *dst)
{
    const cq__qelt_vtab *k = vt();
    for (int64_t i = 0; i < n; i++)
        k->tr8((const uint8_t *)src + i * c * hw, hw, c, c, (uint8_t *)dst + i * c * hw, hw);
}

/* ---- QLinearAdd, QLinearMul ---------------------------------------------- */

/* The checks both take: dtype, counts (na, nb: 1 or n), scales (sc[3]:
 * positive and finite), buffers. */
static cq_status binary_check(const char *what, cq_dtype dt, const void *a, int64_t na,
                              const void *b, int64_t nb, const float *sc, const void *c, int64_t n,
                              cq_err *err)
{
    int32_t lo, hi;
    if (!lims(dt, &lo, &hi))
        return cq_errf(err, CQ_EUNSUPPORTED, "%s: dtype must be s8 or u8", what);
    if (n < 0 || (na != 1 && na != n) || (nb != 1 && nb != n))
        return cq_errf(err, CQ_EINVAL, "%s: %lld and %lld values for %lld", what, (long long)na,
                       (long long)nb, (long long)n);
    for (int i = 0; i < 3; i++)
        if (!(sc[i] > 0.0f) || isinf(sc[i]))
            return cq_errf(err, CQ_EINVAL, "%s: scale %d is %g (must be positive and finite)",
                           what, i, (double)sc[i]);
    if (n > 0 && (!a || !b || !c))
        return cq_errf(err, CQ_EINVAL, "%s: NULL buffer", what);
    return CQ_OK;
}

cq_status cq_qmul_8(cq_dtype dt, const void *a, int64_t na, float a_scale, int32_t a_zp,
                    const void *b, int64_t nb, float b_scale, int32_t b_zp, float c_scale,
                    int32_t c_zp, void *c, int64_t n, cq_err *err)
{
    float sc[3] = {a_scale, b_scale, c_scale};
    cq_status st = binary_check("qmul_8", dt, a, na, b, nb, sc, c, n, err);
    if (st != CQ_OK || n == 0)
        return st;
    if (na == 1 && nb != 1) { /* the product commutes: b the scalar side */
        const void *t = a;
        a = b, b = t;
        nb = 1;
        int32_t tz = a_zp;
        a_zp = b_zp, b_zp = tz;
    }
    float ab = a_scale * b_scale; /* commutes exactly */
    float r = ab / c_scale;
    vt()->qmul(dt, a, b, nb, a_zp, b_zp, r, (float)c_zp, c, n);
    return CQ_OK;
}

cq_status cq_qmul_8_rows(cq_dtype dt, const void *a, int64_t rows, int64_t n, float a_scale,
                         int32_t a_zp, const void *b, float b_scale, int32_t b_zp, float c_scale,
                         int32_t c_zp, void *c, cq_err *err)
{
    float sc[3] = {a_scale, b_scale, c_scale};
    /* a negative row count fails as a negative length */
    cq_status st = binary_check("qmul_8_rows", dt, a, n, b, n, sc, c, rows < 0 ? -1 : n, err);
    if (st != CQ_OK || n == 0 || rows == 0)
        return st;
    if (n == 1) /* one value a row: cq_qmul_8 takes the row's scalar as b */
        return cq_qmul_8(dt, a, rows, a_scale, a_zp, b, 1, b_scale, b_zp, c_scale, c_zp, c,
                         rows, err);
    float ab = a_scale * b_scale;
    float r = ab / c_scale;
    const cq__qelt_vtab *k = vt();
    for (int64_t i = 0; i < rows; i++)
        k->qmul(dt, (const uint8_t *)a + i * n, b, n, a_zp, b_zp, r, (float)c_zp,
                (uint8_t *)c + i * n, n);
    return CQ_OK;
}

cq_status cq_qadd_8(cq_dtype dt, const void *a, int64_t na, float a_scale, int32_t a_zp,
                    const void *b, int64_t nb, float b_scale, int32_t b_zp, float c_scale,
                    int32_t c_zp, void *c, int64_t n, cq_err *err)
{
    float sc[3] = {a_scale, b_scale, c_scale};
    cq_status st = binary_check("qadd_8", dt, a, na, b, nb, sc, c, n, err);
    if (st != CQ_OK || n == 0)
        return st;
    if (n == 1) /* both operands scalars: the reference's own formula */
        return cq_qlinear_add_ref(dt, a, na, a_scale, a_zp, b, nb, b_scale, b_zp, c_scale, c_zp,
                                  c, n, err);
    /* the constants exactly as cq_qlinear_add_ref makes them, statement by
     * statement (this file is built without FMA: nothing is contracted) */
    float ra = a_scale / c_scale, rb = b_scale / c_scale;
    float fa = ra * (float)a_zp, fb = rb * (float)b_zp;
    float fsum = fa + fb;
    float fixed = (float)c_zp - fsum;
    const cq__qelt_vtab *k = vt();
    int32_t a0 = dt == CQ_S8 ? *(const int8_t *)a : *(const uint8_t *)a;
    int32_t b0 = dt == CQ_S8 ? *(const int8_t *)b : *(const uint8_t *)b;
    if (na == 1) {
        float t = (float)a0 * ra;
        fixed = fixed + t;
        k->qadd(dt, b, rb, NULL, 0.0f, fixed, c, n);
    } else if (nb == 1) {
        float t = (float)b0 * rb;
        fixed = fixed + t;
        k->qadd(dt, a, ra, NULL, 0.0f, fixed, c, n);
    } else {
        k->qadd(dt, a, ra, b, rb, fixed, c, n);
    }
    return CQ_OK;
}

/* ---- max pooling on codes ------------------------------------------------ */

/* y (n bytes) = the max of rows[0..nr) (any nr; nr 0: the lowest code). */
static void max_rows(const cq__qelt_vtab *k, cq_dtype dt, const uint8_t **rows, int64_t nr,
                     int64_t n, uint8_t *y)
{
    if (nr == 0) {
        memset(y, dt == CQ_S8 ? 0x80 : 0, (size_t)n);
        return;
    }
    int64_t m = nr < ROWS_MAX ? nr : ROWS_MAX;
    k->max8(dt, rows, m, n, y);
    while (m < nr) { /* y is the first row of the next group */
        const uint8_t *g[ROWS_MAX];
        int64_t t = nr - m < ROWS_MAX - 1 ? nr - m : ROWS_MAX - 1;
        g[0] = y;
        memcpy(g + 1, rows + m, (size_t)t * sizeof *g);
        k->max8(dt, g, t + 1, n, y);
        m += t;
    }
}

/* Outputs along one axis: taps of output o are o * s - p0 + t * d, t < k;
 * the valid ones are t in [*t0, *t1). */
static void taps(int64_t o, int64_t s, int64_t p0, int64_t d, int64_t k, int64_t len, int64_t *t0,
                 int64_t *t1)
{
    int64_t st = o * s - p0;
    int64_t a = st >= 0 ? 0 : (-st + d - 1) / d;
    int64_t b = st >= len ? 0 : (len - 1 - st) / d + 1;
    *t0 = a;
    *t1 = b < k ? b : k;
    if (*t1 < *t0)
        *t1 = *t0;
}

static void pool_nhwc(const cq__qelt_vtab *k, const cq_pool2d_params *p, cq_dtype dt,
                      int64_t oh, int64_t ow, const uint8_t *x, uint8_t *y)
{
    int64_t c = p->c;
    const uint8_t *rows[ROWS_MAX];
    for (int64_t i = 0; i < p->n; i++)
        for (int64_t oy = 0; oy < oh; oy++) {
            int64_t ky0, ky1;
            taps(oy, p->stride_h, p->pad_top, p->dil_h, p->kh, p->h, &ky0, &ky1);
            for (int64_t ox = 0; ox < ow; ox++) {
                int64_t kx0, kx1, nr = 0;
                taps(ox, p->stride_w, p->pad_left, p->dil_w, p->kw, p->w, &kx0, &kx1);
                uint8_t *yo = y + ((i * oh + oy) * ow + ox) * c;
                for (int64_t ky = ky0; ky < ky1; ky++) {
                    int64_t iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;
                    for (int64_t kx = kx0; kx < kx1; kx++) {
                        int64_t ix = ox * p->stride_w - p->pad_left + kx * p->dil_w;
                        if (nr == ROWS_MAX) { /* a huge window: fold what we have into yo */
                            max_rows(k, dt, rows, nr, c, yo);
                            rows[0] = yo;
                            nr = 1;
                        }
                        rows[nr++] = x + ((i * p->h + iy) * p->w + ix) * c;
                    }
                }
                max_rows(k, dt, rows, nr, c, yo);
            }
        }
}

/* One output of an NCHW plane, every tap tested: where the row buffers of
 * pool_rows would not fit. */
static uint8_t pool1(const cq_pool2d_params *p, cq_dtype dt, const uint8_t *x, int64_t oy,
                     int64_t ox)
{
    int64_t ky0, ky1, kx0, kx1;
    taps(oy, p->stride_h, p->pad_top, p->dil_h, p->kh, p->h, &ky0, &ky1);
    taps(ox, p->stride_w, p->pad_left, p->dil_w, p->kw, p->w, &kx0, &kx1);
    int32_t m = dt == CQ_S8 ? -128 : 0;
    for (int64_t ky = ky0; ky < ky1; ky++) {
        const uint8_t *r = x + (oy * p->stride_h - p->pad_top + ky * p->dil_h) * p->w;
        for (int64_t kx = kx0; kx < kx1; kx++) {
            uint8_t b = r[ox * p->stride_w - p->pad_left + kx * p->dil_w];
            int32_t v = dt == CQ_S8 ? (int32_t)(int8_t)b : (int32_t)b;
            m = v > m ? v : m;
        }
    }
    return (uint8_t)m;
}

/* Each output row: the max of the window's rows into a padded row buffer
 * (the lowest code in the padding), then the max of the kw columns for every
 * start position, kept at every stride_w-th. A pixel is in bytes: 1 for
 * NCHW planes (n * c of them), c for NHWC images (n). 0 when the padded row
 * does not fit the stack buffers. */
static int pool_rows(const cq__qelt_vtab *k, const cq_pool2d_params *p, cq_dtype dt, int64_t oh,
                     int64_t ow, int64_t in, const uint8_t *x, uint8_t *y)
{
    int64_t sw = p->stride_w, dw = p->dil_w, pl = p->pad_left, w = p->w;
    int64_t nt = (ow - 1) * sw + 1;     /* start positions, padded coordinates */
    int64_t len = nt + (p->kw - 1) * dw; /* padded row pixels read */
    if (len * in > POOL_ROW_MAX)
        return 0;
    uint8_t buf[POOL_ROW_MAX], t[POOL_ROW_MAX];
    /* input columns [0, xb) land in buf[pl, xb + pl) */
    int64_t xb = len - pl < w ? len - pl : w, planes = in == 1 ? p->n * p->c : p->n;
    memset(buf, dt == CQ_S8 ? 0x80 : 0, (size_t)(len * in));
    const uint8_t *rows[ROWS_MAX];
    for (int64_t pc = 0; pc < planes; pc++) {
        const uint8_t *xc = x + pc * p->h * w * in;
        for (int64_t oy = 0; oy < oh; oy++) {
            int64_t ky0, ky1, nr = 0;
            taps(oy, p->stride_h, p->pad_top, p->dil_h, p->kh, p->h, &ky0, &ky1);
            uint8_t *yr = y + (pc * oh + oy) * ow * in;
            if (xb > 0) {
                uint8_t *bx = buf + pl * in;
                for (int64_t ky = ky0; ky < ky1; ky++) {
                    if (nr == ROWS_MAX) {
                        max_rows(k, dt, rows, nr, xb * in, bx);
                        rows[0] = bx;
                        nr = 1;
                    }
                    rows[nr++] = xc + (oy * p->stride_h - p->pad_top + ky * p->dil_h) * w * in;
                }
                max_rows(k, dt, rows, nr, xb * in, bx);
            }
            /* columns: t[j] = max over kx of buf[j + kx * dw] */
            uint8_t *dst = sw == 1 ? yr : t;
            int64_t nk = 0;
            for (int64_t kx = 0; kx < p->kw; kx++) {
                if (nk == ROWS_MAX) {
                    max_rows(k, dt, rows, nk, nt * in, dst);
                    rows[0] = dst;
                    nk = 1;
                }
                rows[nk++] = buf + kx * dw * in;
            }
            max_rows(k, dt, rows, nk, nt * in, dst);
            if (sw == 2 && in == 1)
                k->pick2(t, ow, yr);
            else if (sw != 1)
                for (int64_t ox = 0; ox < ow; ox++)
                    memcpy(yr + ox * in, t + ox * sw * in, (size_t)in);
        }
    }
    return 1;
}

cq_status cq_maxpool2d_8(const cq_pool2d_params *p, cq_dtype dt, const void *x, void *y,
                         int nhwc, cq_err *err)
{
    int32_t lo, hi;
    if (!lims(dt, &lo, &hi))
        return cq_errf(err, CQ_EUNSUPPORTED, "maxpool2d_8: dtype must be u8 or s8");
    int64_t oh, ow;
    cq_status st = cq_pool2d_out_shape(p, &oh, &ow, err);
    if (st != CQ_OK)
        return st;
    if (p->kind != CQ_POOL_MAX)
        return cq_errf(err, CQ_EINVAL, "maxpool2d_8: the kind must be max");
    if (!x || !y)
        return cq_errf(err, CQ_EINVAL, "maxpool2d_8: NULL buffer");
    const cq__qelt_vtab *k = vt();
    if (pool_rows(k, p, dt, oh, ow, nhwc ? p->c : 1, x, y))
        return CQ_OK;
    if (nhwc) /* rows too long for the stack: one output pixel at a time */
        pool_nhwc(k, p, dt, oh, ow, x, y);
    else
        for (int64_t nc = 0; nc < p->n * p->c; nc++)
            for (int64_t oy = 0; oy < oh; oy++)
                for (int64_t ox = 0; ox < ow; ox++)
                    ((uint8_t *)y)[(nc * oh + oy) * ow + ox] =
                        pool1(p, dt, (const uint8_t *)x + nc * p->h * p->w, oy, ox);
    return CQ_OK;
}

/* ---- global average pooling on codes ------------------------------------ */

static cq_status gap_check(cq_dtype dt, const void *x, int64_t n, int64_t c, int64_t hw,
                           float x_scale, int32_t x_zp, float y_scale, int32_t y_zp,
                           const void *y, cq_err *err)
{
    int32_t lo = 0, hi = 0;
    cq_status st = args_check("global_avgpool_8", dt, n, c, hw, x_scale, 1, x, y, err);
    if (st == CQ_OK)
        st = args_check("global_avgpool_8", dt, n, c, hw, y_scale, 1, x, y, err);
    if (st != CQ_OK)
        return st;
    lims(dt, &lo, &hi);
    if (hw < 1 || hw > (1 << 23))
        return cq_errf(err, CQ_EINVAL, "global_avgpool_8: %lld pixels (1 to 2^23)",
                       (long long)hw);
    if (x_zp < lo || x_zp > hi || y_zp < lo || y_zp > hi)
        return cq_errf(err, CQ_EINVAL, "global_avgpool_8: zero points %d, %d outside %d..%d",
                       (int)x_zp, (int)y_zp, (int)lo, (int)hi);
    return CQ_OK;
}

/* y[k] = the code of sum s[k], k < m. */
static void gap_out(cq_dtype dt, const int32_t *s, int64_t m, int64_t hw, float x_scale,
                    int32_t x_zp, float y_scale, int32_t y_zp, uint8_t *y)
{
    int32_t lo = dt == CQ_S8 ? -128 : 0, hi = dt == CQ_S8 ? 127 : 255;
    float mult = x_scale / (y_scale * (float)hw);
    for (int64_t k = 0; k < m; k++)
        y[k] = (uint8_t)cq_requantize(s[k] - x_zp * (int32_t)hw, mult, y_zp, lo, hi);
}

cq_status cq_global_avgpool_8_ref(cq_dtype dt, const void *x, int64_t n, int64_t c, int64_t hw,
                                  int nhwc, float x_scale, int32_t x_zp, float y_scale,
                                  int32_t y_zp, void *y, cq_err *err)
{
    cq_status st = gap_check(dt, x, n, c, hw, x_scale, x_zp, y_scale, y_zp, y, err);
    if (st != CQ_OK)
        return st;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < c; j++) {
            int64_t sum = 0;
            for (int64_t p = 0; p < hw; p++) {
                int64_t at = nhwc ? (i * hw + p) * c + j : (i * c + j) * hw + p;
                uint8_t b = ((const uint8_t *)x)[at];
                sum += dt == CQ_S8 ? (int8_t)b : b;
            }
            int32_t s = (int32_t)sum;
            gap_out(dt, &s, 1, hw, x_scale, x_zp, y_scale, y_zp, (uint8_t *)y + i * c + j);
        }
    return CQ_OK;
}

cq_status cq_global_avgpool_8(cq_dtype dt, const void *x, int64_t n, int64_t c, int64_t hw,
                              int nhwc, float x_scale, int32_t x_zp, float y_scale, int32_t y_zp,
                              void *y, cq_err *err)
{
    cq_status st = gap_check(dt, x, n, c, hw, x_scale, x_zp, y_scale, y_zp, y, err);
    if (st != CQ_OK)
        return st;
    const cq__qelt_vtab *k = vt();
    const uint8_t *xb = x;
    int32_t s[256];
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < c; j += 256) {
            int64_t m = c - j < 256 ? c - j : 256;
            if (nhwc)
                k->col_sums(dt, xb + i * hw * c + j, hw, m, c, s);
            else
                k->row_sums(dt, xb + (i * c + j) * hw, m, hw, s);
            gap_out(dt, s, m, hw, x_scale, x_zp, y_scale, y_zp, (uint8_t *)y + i * c + j);
        }
    return CQ_OK;
}

void cq_upsample_8(int64_t n, int64_t h, int64_t w, int64_t c, int64_t fh, int64_t fw,
                   const void *x, void *y)
{
    if (n <= 0 || h <= 0 || w <= 0 || c <= 0 || fh <= 0 || fw <= 0)
        return;
    const cq__qelt_vtab *k = vt();
    size_t orow = (size_t)(w * fw * c);
    for (int64_t r = 0; r < n * h; r++) {
        uint8_t *d = (uint8_t *)y + (size_t)(r * fh) * orow;
        k->rep8((const uint8_t *)x + r * w * c, w, c, fw, d);
        for (int64_t i = 1; i < fh; i++)
            memcpy(d + (size_t)i * orow, d, orow);
    }
}

void cq_upsample_8_ref(int64_t n, int64_t h, int64_t w, int64_t c, int64_t fh, int64_t fw,
                       const void *x, void *y)
{
    const uint8_t *px = x;
    uint8_t *py = y;
    for (int64_t i = 0; i < n; i++)
        for (int64_t a = 0; a < h * fh; a++)
            for (int64_t b = 0; b < w * fw; b++)
                for (int64_t k = 0; k < c; k++)
                    py[((i * h * fh + a) * w * fw + b) * c + k] =
                        px[((i * h + a / fh) * w + b / fw) * c + k];
}

void cq_lut_8(const uint8_t lut[256], const void *x, void *y, int64_t n)
{
    vt()->lut(lut, x, y, n);
}

/* ---- the scalar table ---------------------------------------------------- */

static void quant_s(const float *x, int64_t n, float scale, int32_t zp, cq_dtype dt, void *q)
{
    cq_quantize_linear_ref(x, 1, 1, n, &scale, &zp, 1, dt, q, NULL);
}

static void dequant_s(const void *q, cq_dtype dt, int64_t n, float scale, int32_t zp, float *x)
{
    cq_dequantize_linear_ref(q, dt, 1, 1, n, &scale, &zp, 1, x, NULL);
}

static void dequant_pc_s(const void *q, cq_dtype dt, int64_t n, const float *scale,
                         const int32_t *zp, float *x)
{
    for (int64_t i = 0; i < n; i++)
        cq_dequantize_linear_ref((const uint8_t *)q + i * (dt == CQ_S32 ? 4 : 1), dt, 1, 1, 1,
                                 scale + i, zp ? zp + i : NULL, 1, x + i, NULL);
}

static void tr8_s(const uint8_t *src, int64_t rows, int64_t cols, int64_t lds, uint8_t *dst,
                  int64_t ldd)
{
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++)
            dst[j * ldd + i] = src[i * lds + j];
}

static void qadd_s(cq_dtype dt, const void *a, float ra, const void *b, float rb, float fixed,
                   void *c, int64_t n)
{
    int32_t lo = dt == CQ_S8 ? -128 : 0, hi = dt == CQ_S8 ? 127 : 255;
    for (int64_t i = 0; i < n; i++) {
        int32_t av = dt == CQ_S8 ? ((const int8_t *)a)[i] : ((const uint8_t *)a)[i];
        float f = fixed;
        if (b)
            f = fmaf(dt == CQ_S8 ? ((const int8_t *)b)[i] : ((const uint8_t *)b)[i], rb, f);
        ((uint8_t *)c)[i] = (uint8_t)cq_round_sat(fmaf((float)av, ra, f), lo, hi);
    }
}

static void max8_s(cq_dtype dt, const uint8_t *const *rows, int64_t nr, int64_t n, uint8_t *y)
{
    for (int64_t j = 0; j < n; j++) {
        int32_t m = dt == CQ_S8 ? (int8_t)rows[0][j] : rows[0][j];
        for (int64_t r = 1; r < nr; r++) {
            int32_t v = dt == CQ_S8 ? (int8_t)rows[r][j] : rows[r][j];
            m = v > m ? v : m;
        }
        y[j] = (uint8_t)m;
    }
}

static void pick2_s(const uint8_t *x, int64_t n, uint8_t *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = x[2 * i];
}

static void col_sums_s(cq_dtype dt, const uint8_t *x, int64_t rows, int64_t cols, int64_t ld,
                       int32_t *s)
{
    for (int64_t j = 0; j < cols; j++)
        s[j] = 0;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < cols; j++)
            s[j] += dt == CQ_S8 ? (int8_t)x[r * ld + j] : x[r * ld + j];
}

static void row_sums_s(cq_dtype dt, const uint8_t *x, int64_t rows, int64_t len, int32_t *s)
{
    for (int64_t r = 0; r < rows; r++) {
        int32_t t = 0;
        for (int64_t j = 0; j < len; j++)
            t += dt == CQ_S8 ? (int8_t)x[r * len + j] : x[r * len + j];
        s[r] = t;
    }
}

static void lut_s(const uint8_t lut[256], const uint8_t *x, uint8_t *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = lut[x[i]];
}

static void qmul_s(cq_dtype dt, const void *a, const void *b, int64_t nb, int32_t za, int32_t zb,
                   float r, float zc, void *c, int64_t n)
{
    int32_t lo = dt == CQ_S8 ? -128 : 0, hi = dt == CQ_S8 ? 127 : 255;
    for (int64_t i = 0; i < n; i++) {
        int64_t j = nb == 1 ? 0 : i;
        int32_t av = dt == CQ_S8 ? ((const int8_t *)a)[i] : ((const uint8_t *)a)[i];
        int32_t bv = dt == CQ_S8 ? ((const int8_t *)b)[j] : ((const uint8_t *)b)[j];
        float v = (float)((av - za) * (bv - zb)) * r;
        v = v + zc;
        int32_t q = v >= -2147483648.0f && v < 2147483648.0f ? (int32_t)nearbyintf(v) : INT32_MIN;
        ((uint8_t *)c)[i] = (uint8_t)(q < lo ? lo : q > hi ? hi : q);
    }
}

static void rep8_s(const uint8_t *x, int64_t w, int64_t c, int64_t fw, uint8_t *y)
{
    for (int64_t b = 0; b < w; b++)
        for (int64_t j = 0; j < fw; j++)
            memcpy(y + (b * fw + j) * c, x + b * c, (size_t)c);
}

const cq__qelt_vtab cq__qelt_scalar = {quant_s,    dequant_s, dequant_pc_s, tr8_s, qadd_s,
                                       max8_s,     pick2_s,   col_sums_s,   row_sums_s, lut_s,
                                       qmul_s,     rep8_s};

/* Exposed for the AVX2 table, whose QLinearMul is this loop. */
void cq__qelt_qmul_scalar(cq_dtype dt, const void *a, const void *b, int64_t nb, int32_t za,
                          int32_t zb, float r, float zc, void *c, int64_t n)
{
    qmul_s(dt, a, b, nb, za, zb, r, zc, c, n);
}
