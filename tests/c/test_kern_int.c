/* test_kern_int.c - the integer reference kernels, bit-exact against plain
 * loops written here (and hand-checked rounding cases). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "kern_testutil.h"

static int32_t get8(cq_dtype dt, const void *p, int64_t i)
{
    return dt == CQ_S8 ? ((const int8_t *)p)[i] : ((const uint8_t *)p)[i];
}

/* round half to even without nearbyint: floor, then look at the fraction */
static double rhe(double v)
{
    double f = floor(v), d = v - f;
    if (d > 0.5)
        return f + 1;
    if (d < 0.5)
        return f;
    return fmod(f, 2.0) == 0 ? f : f + 1;
}

static int32_t sat(double v, cq_dtype dt)
{
    double lo = dt == CQ_S8 ? -128 : 0, hi = dt == CQ_S8 ? 127 : 255;
    return (int32_t)(v < lo ? lo : (v > hi ? hi : v));
}

static void test_kern_int_quantize_rounding(void **state)
{
    (void)state;
    cq_err err;
    /* x / 1 lands on ties: half to even; then saturation */
    float x[] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 126.5f, 127.5f, 300.0f, -300.0f, 3.49f};
    int8_t want_s8[] = {0, 2, 2, 0, -2, -2, 126, 127, 127, -128, 3};
    int8_t q[11];
    float s = 1.0f;
    assert_int_equal(cq_quantize_linear_ref(x, 1, 1, 11, &s, NULL, 1, CQ_S8, q, &err), CQ_OK);
    assert_memory_equal(q, want_s8, sizeof q);
    /* the zero point is added after rounding: 2.5 -> 2, + 3 -> 5 */
    int32_t zp = 3;
    uint8_t qu[11];
    assert_int_equal(cq_quantize_linear_ref(x, 1, 1, 11, &s, &zp, 1, CQ_U8, qu, &err), CQ_OK);
    uint8_t want_u8[] = {3, 5, 5, 3, 1, 1, 129, 131, 255, 0, 6};
    assert_memory_equal(qu, want_u8, sizeof qu);
    float bad = 0.0f;
    assert_int_equal(cq_quantize_linear_ref(x, 1, 1, 11, &bad, NULL, 1, CQ_S8, q, &err),
                     CQ_EINVAL);
    assert_non_null(strstr(err.msg, "scale 0 is 0"));
    assert_int_equal(cq_quantize_linear_ref(x, 1, 1, 11, &s, NULL, 1, CQ_S32, q, &err),
                     CQ_EUNSUPPORTED);
}

static void test_kern_int_quantize_per_axis(void **state)
{
    (void)state;
    kt_rng r = {21};
    cq_err err;
    enum { O = 3, A = 5, I = 7, N = O * A * I };
    float x[N], back[N], scale[A];
    int32_t zp[A];
    int8_t q8[N];
    uint8_t qu[N];
    for (int i = 0; i < N; i++)
        x[i] = kt_f(&r) * 4.0f;
    for (int a = 0; a < A; a++) {
        scale[a] = 0.01f + 0.02f * (float)a;
        zp[a] = (int32_t)kt_int(&r, -10, 10);
    }
    for (int dt = 0; dt < 2; dt++) {
        cq_dtype qt = dt ? CQ_U8 : CQ_S8;
        int32_t zps[A];
        for (int a = 0; a < A; a++)
            zps[a] = dt ? zp[a] + 128 : zp[a];
        void *q = dt ? (void *)qu : (void *)q8;
        assert_int_equal(cq_quantize_linear_ref(x, O, A, I, scale, zps, A, qt, q, &err), CQ_OK);
        for (int i = 0; i < N; i++) {
            int a = (i / I) % A;
            int32_t want = sat(rhe((double)(x[i] / scale[a])) + zps[a], qt);
            assert_int_equal(get8(qt, q, i), want);
        }
        assert_int_equal(cq_dequantize_linear_ref(q, qt, O, A, I, scale, zps, A, back, &err),
                         CQ_OK);
        for (int i = 0; i < N; i++) {
            int a = (i / I) % A;
            assert_true(back[i] == (float)(get8(qt, q, i) - zps[a]) * scale[a]);
        }
    }
    int32_t q32[3] = {-5, 0, 1000};
    float s = 0.5f, out[3];
    assert_int_equal(cq_dequantize_linear_ref(q32, CQ_S32, 1, 1, 3, &s, NULL, 1, out, &err),
                     CQ_OK);
    assert_true(out[0] == -2.5f && out[1] == 0.0f && out[2] == 500.0f);
    assert_int_equal(cq_dequantize_linear_ref(q32, CQ_S32, 1, 3, 1, scale, NULL, 2, out, &err),
                     CQ_EINVAL);
    assert_non_null(strstr(err.msg, "2 scales for an axis of 3"));
}

/* int64 direct convolution of (x - xz)(w - wz[co]) */
static void iconv_naive(const cq_conv2d_params *p, int64_t oh, int64_t ow, cq_dtype xd,
                        const void *x, int32_t xz, cq_dtype wd, const void *w, const int32_t *wz,
                        int64_t nwz, const int32_t *bias, int64_t *acc)
{
    int64_t cig = p->c_in / p->groups, cog = p->c_out / p->groups;
    for (int64_t n = 0; n < p->n; n++)
        for (int64_t co = 0; co < p->c_out; co++)
            for (int64_t oy = 0; oy < oh; oy++)
                for (int64_t ox = 0; ox < ow; ox++) {
                    int64_t s = bias ? bias[co] : 0;
                    for (int64_t ci = 0; ci < cig; ci++)
                        for (int64_t ky = 0; ky < p->kh; ky++)
                            for (int64_t kx = 0; kx < p->kw; kx++) {
                                int64_t iy = oy * p->stride_h + ky * p->dil_h - p->pad_top;
                                int64_t ix = ox * p->stride_w + kx * p->dil_w - p->pad_left;
                                if (iy < 0 || ix < 0 || iy >= p->h || ix >= p->w)
                                    continue;
                                int64_t c = co / cog * cig + ci;
                                s += (int64_t)(get8(xd, x, ((n * p->c_in + c) * p->h + iy) *
                                                               p->w + ix) - xz) *
                                     (get8(wd, w, ((co * cig + ci) * p->kh + ky) * p->kw + kx) -
                                      (wz ? wz[nwz == 1 ? 0 : co] : 0));
                            }
                    acc[((n * p->c_out + co) * oh + oy) * ow + ox] = s;
                }
}

static void test_kern_int_conv(void **state)
{
    (void)state;
    kt_rng r = {4242};
    cq_err err;
    int done = 0;
    while (done < 80) {
        cq_conv2d_params p = cq_conv2d_params_default();
        p.groups = kt_int(&r, 1, 3);
        p.n = kt_int(&r, 1, 2);
        p.c_in = p.groups * kt_int(&r, 1, 3);
        p.c_out = p.groups * kt_int(&r, 1, 3);
        p.h = kt_int(&r, 1, 9);
        p.w = kt_int(&r, 1, 11);
        p.kh = kt_int(&r, 1, 4);
        p.kw = kt_int(&r, 1, 4);
        p.stride_h = kt_int(&r, 1, 2);
        p.stride_w = kt_int(&r, 1, 3);
        p.dil_h = kt_int(&r, 1, 2);
        p.dil_w = kt_int(&r, 1, 2);
        p.pad_top = kt_int(&r, 0, 2);
        p.pad_left = kt_int(&r, 0, 2);
        p.pad_bottom = kt_int(&r, 0, 2);
        p.pad_right = kt_int(&r, 0, 2);
        int64_t oh, ow;
        cq_err shape_err; /* a random shape with no output: draw again */
        if (cq_conv2d_out_shape(&p, &oh, &ow, &shape_err) != CQ_OK)
            continue;
        done++;
        cq_dtype xd = kt_int(&r, 0, 1) ? CQ_U8 : CQ_S8, wd = kt_int(&r, 0, 1) ? CQ_U8 : CQ_S8;
        cq_dtype yd = kt_int(&r, 0, 1) ? CQ_U8 : CQ_S8;
        int64_t cig = p.c_in / p.groups;
        size_t nx = (size_t)(p.n * p.c_in * p.h * p.w), ny = (size_t)(p.n * p.c_out * oh * ow);
        size_t nw = (size_t)(p.c_out * cig * p.kh * p.kw);
        uint8_t *x = malloc(nx), *w = malloc(nw), *yq = malloc(ny);
        for (size_t i = 0; i < nx; i++)
            x[i] = (uint8_t)kt_u32(&r);
        for (size_t i = 0; i < nw; i++)
            w[i] = (uint8_t)kt_u32(&r);
        int64_t nwz = kt_int(&r, 0, 1) ? p.c_out : 1;
        int32_t *wz = malloc((size_t)p.c_out * 4), *bias = malloc((size_t)p.c_out * 4);
        float *ws = malloc((size_t)p.c_out * 4);
        for (int64_t i = 0; i < p.c_out; i++) {
            wz[i] = wd == CQ_U8 ? (int32_t)kt_int(&r, 0, 255) : (int32_t)kt_int(&r, -128, 127);
            bias[i] = (int32_t)kt_int(&r, -5000, 5000);
            ws[i] = 0.001f + 0.01f * (float)(kt_u32(&r) % 100) / 100.0f;
        }
        int32_t xz = xd == CQ_U8 ? (int32_t)kt_int(&r, 0, 255) : (int32_t)kt_int(&r, -128, 127);
        int64_t *acc = malloc(ny * 8);
        int32_t *got = malloc(ny * 4);
        iconv_naive(&p, oh, ow, xd, x, xz, wd, w, wz, nwz, NULL, acc);
        assert_int_equal(cq_conv_integer_ref(&p, xd, x, xz, wd, w, wz, nwz, got, &err), CQ_OK);
        for (size_t i = 0; i < ny; i++)
            assert_int_equal(got[i], acc[i]);
        /* QLinearConv: requantize with a float multiplier, half to even */
        int use_bias = (int)kt_int(&r, 0, 1);
        float xs = 0.02f, ys = 0.05f + 0.1f * (float)done / 80.0f;
        int32_t yz = yd == CQ_U8 ? 128 : -3;
        iconv_naive(&p, oh, ow, xd, x, xz, wd, w, wz, nwz, use_bias ? bias : NULL, acc);
        assert_int_equal(cq_qlinear_conv_ref(&p, xd, x, xs, xz, wd, w, ws, wz, nwz,
                                             use_bias ? bias : NULL, yd, ys, yz, yq, &err),
                         CQ_OK);
        int64_t P = oh * ow;
        for (size_t i = 0; i < ny; i++) {
            int64_t co = (int64_t)(i / (size_t)P) % p.c_out;
            float mult = (xs * ws[nwz == 1 ? 0 : co]) / ys;
            int32_t want = sat(rhe((double)((float)acc[i] * mult)) + yz, yd);
            assert_int_equal(get8(yd, yq, (int64_t)i), want);
        }
        free(x);
        free(w);
        free(yq);
        free(wz);
        free(bias);
        free(ws);
        free(acc);
        free(got);
    }
}

static void test_kern_int_matmul(void **state)
{
    (void)state;
    kt_rng r = {555};
    cq_err err;
    static const struct {
        int an, bn;
        int64_t as[3], bs[3];
    } cases[] = {
        {2, 2, {5, 7}, {7, 3}},
        {3, 2, {2, 4, 9}, {9, 5}},
        {3, 3, {1, 3, 4}, {2, 4, 6}},
        {1, 2, {6}, {6, 4}},
        {2, 1, {3, 8}, {8}},
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++)
        for (int variant = 0; variant < 4; variant++) {
            cq_matmul_dims d;
            assert_int_equal(cq_matmul_dims_init(&d, cases[ci].an, cases[ci].as, cases[ci].bn,
                                                 cases[ci].bs, &err), CQ_OK);
            cq_dtype ad = variant & 1 ? CQ_S8 : CQ_U8, bd = variant & 2 ? CQ_S8 : CQ_U8;
            cq_dtype yd = variant == 1 ? CQ_S8 : CQ_U8;
            int64_t na = 1, nb = 1, ny = d.batch * d.m * d.n;
            for (int i = 0; i < cases[ci].an; i++)
                na *= cases[ci].as[i];
            for (int i = 0; i < cases[ci].bn; i++)
                nb *= cases[ci].bs[i];
            uint8_t *a = malloc((size_t)na), *b = malloc((size_t)nb), *yq = malloc((size_t)ny);
            for (int64_t i = 0; i < na; i++)
                a[i] = (uint8_t)kt_u32(&r);
            for (int64_t i = 0; i < nb; i++)
                b[i] = (uint8_t)kt_u32(&r);
            int64_t naz = variant >= 2 ? d.m : 1, nbz = variant % 2 ? d.n : 1;
            int32_t az[16], bz[16];
            float as[16], bs[16];
            for (int i = 0; i < 16; i++) {
                az[i] = ad == CQ_U8 ? (int32_t)kt_int(&r, 0, 255) : (int32_t)kt_int(&r, -128, 127);
                bz[i] = bd == CQ_U8 ? (int32_t)kt_int(&r, 0, 255) : (int32_t)kt_int(&r, -128, 127);
                as[i] = 0.01f * (float)(1 + i);
                bs[i] = 0.003f * (float)(2 + i);
            }
            int64_t *acc = malloc((size_t)ny * 8);
            int32_t *got = malloc((size_t)ny * 4);
            /* batch index by hand: A / B batch dims broadcast against y's */
            for (int64_t bi = 0; bi < d.batch; bi++) {
                int64_t ab = cases[ci].an == 3 ? (cases[ci].as[0] == 1 ? 0 : bi) : 0;
                int64_t bb = cases[ci].bn == 3 ? (cases[ci].bs[0] == 1 ? 0 : bi) : 0;
                for (int64_t i = 0; i < d.m; i++)
                    for (int64_t j = 0; j < d.n; j++) {
                        int64_t s = 0;
                        for (int64_t t = 0; t < d.k; t++)
                            s += (int64_t)(get8(ad, a, ab * d.m * d.k + i * d.k + t) -
                                           az[naz == 1 ? 0 : i]) *
                                 (get8(bd, b, bb * d.k * d.n + t * d.n + j) -
                                  bz[nbz == 1 ? 0 : j]);
                        acc[(bi * d.m + i) * d.n + j] = s;
                    }
            }
            assert_int_equal(cq_matmul_integer_ref(&d, ad, a, az, naz, bd, b, bz, nbz, got, &err),
                             CQ_OK);
            for (int64_t i = 0; i < ny; i++)
                assert_int_equal(got[i], acc[i]);
            float ys = 0.07f;
            int32_t yz = yd == CQ_U8 ? 100 : 5;
            assert_int_equal(cq_qlinear_matmul_ref(&d, ad, a, as, az, naz, bd, b, bs, bz, nbz, yd,
                                                   ys, yz, yq, &err), CQ_OK);
            for (int64_t bi = 0; bi < d.batch; bi++)
                for (int64_t i = 0; i < d.m; i++)
                    for (int64_t j = 0; j < d.n; j++) {
                        int64_t o = (bi * d.m + i) * d.n + j;
                        float mult = (as[naz == 1 ? 0 : i] * bs[nbz == 1 ? 0 : j]) / ys;
                        int32_t want = sat(rhe((double)((float)acc[o] * mult)) + yz, yd);
                        assert_int_equal(get8(yd, yq, o), want);
                    }
            free(a);
            free(b);
            free(yq);
            free(acc);
            free(got);
        }
}

static void test_kern_int_requantize_ties(void **state)
{
    (void)state;
    /* 5 * 0.5 = 2.5 -> 2; 7 * 0.5 = 3.5 -> 4; -5 * 0.5 -> -2; saturation */
    assert_int_equal(cq_requantize(5, 0.5f, 0, -128, 127), 2);
    assert_int_equal(cq_requantize(7, 0.5f, 0, -128, 127), 4);
    assert_int_equal(cq_requantize(-5, 0.5f, 0, -128, 127), -2);
    assert_int_equal(cq_requantize(5, 0.5f, 10, -128, 127), 12);
    assert_int_equal(cq_requantize(1000, 1.0f, 0, -128, 127), 127);
    assert_int_equal(cq_requantize(-1000, 1.0f, 128, 0, 255), 0);
}

/* ---- the tensor-level quantizer (cq_quantize / cq_dequantize) ---------- */

/* Random shapes, axis -1 (per tensor) or per axis; exact ties (k + 0.5) *
 * scale, values far out of range and plain ones, against rhe + sat here. */
static void check_quant(cq_dtype dt, int axis, uint32_t seed)
{
    cq_err err;
    kt_rng r = {seed};
    int ndim = (int)kt_int(&r, 1, 4);
    int64_t shape[4];
    for (int i = 0; i < ndim; i++)
        shape[i] = kt_int(&r, 1, 6);
    if (axis >= ndim)
        axis = ndim - 1;
    cq_tensor *x = cq_tensor_empty(CQ_F32, ndim, shape, &err);
    assert_non_null(x);
    int64_t n = cq_tensor_numel(x), groups = axis < 0 ? 1 : shape[axis], inner = 1;
    for (int i = axis + 1; axis >= 0 && i < ndim; i++)
        inner *= shape[i];
    float scale[8];
    int32_t zp[8];
    for (int g = 0; g < groups; g++) {
        scale[g] = (float)kt_int(&r, 1, 64) / 16.0f;
        zp[g] = dt == CQ_S8 ? (int32_t)kt_int(&r, -20, 20) : (int32_t)kt_int(&r, 0, 255);
    }
    float *xd = cq_tensor_data(x);
    for (int64_t i = 0; i < n; i++) {
        int64_t g = axis < 0 ? 0 : (i / inner) % groups;
        switch (kt_int(&r, 0, 2)) {
        case 0: xd[i] = ((float)kt_int(&r, -300, 300) + 0.5f) * scale[g]; break;
        case 1: xd[i] = (float)kt_int(&r, -100000, 100000); break;
        default: xd[i] = (float)kt_int(&r, -5000, 5000) / 37.0f; break;
        }
    }
    cq_tensor *q = cq_quantize(x, dt, scale, zp, axis, &err);
    assert_non_null(q);
    assert_int_equal(q->dtype, dt);
    cq_tensor *d = cq_dequantize(q, scale, zp, axis, &err);
    assert_non_null(d);
    for (int64_t i = 0; i < n; i++) {
        int64_t g = axis < 0 ? 0 : (i / inner) % groups;
        int32_t want = sat(rhe((double)(xd[i] / scale[g])) + zp[g], dt);
        assert_int_equal(get8(dt, cq_tensor_data(q), i), want);
        assert_true(((float *)cq_tensor_data(d))[i] == (float)(want - zp[g]) * scale[g]);
    }
    cq_tensor_release(x);
    cq_tensor_release(q);
    cq_tensor_release(d);
}

/* QLinearAdd: ONNX Runtime's arithmetic, ties to even, saturation, a scalar side. */
static void test_kern_int_qlinear_add(void **state)
{
    (void)state;
    cq_err err;
    /* (10 * 0.5 + (20 - 10) * 0.25) / 1 + 3 = 10.5 -> 10 (a tie, to even);
     * 127.5 + 61.25 + 3 = 191.75 -> 192 */
    uint8_t a[3] = {10, 255, 0}, b[3] = {20, 255, 10}, c[3];
    assert_int_equal(cq_qlinear_add_ref(CQ_U8, a, 3, 0.5f, 0, b, 3, 0.25f, 10, 1.0f, 3, c, 3, &err),
                     CQ_OK);
    assert_int_equal(c[0], 10);
    assert_int_equal(c[1], 192);
    assert_int_equal(c[2], 3);
    /* s8, b one value: -100 - 100 saturates; 11 - 100 = -89 */
    int8_t sa[2] = {-100, 11}, sb[1] = {-100}, sc[2];
    assert_int_equal(cq_qlinear_add_ref(CQ_S8, sa, 2, 1.0f, 0, sb, 1, 1.0f, 0, 1.0f, 0, sc, 2, &err),
                     CQ_OK);
    assert_int_equal(sc[0], -128);
    assert_int_equal(sc[1], -89);
    assert_int_equal(cq_qlinear_add_ref(CQ_S8, sa, 2, 0.0f, 0, sb, 1, 1.0f, 0, 1.0f, 0, sc, 2, &err),
                     CQ_EINVAL);
    assert_int_equal(cq_qlinear_add_ref(CQ_S8, sa, 2, 1.0f, 0, sb, 3, 1.0f, 0, 1.0f, 0, sc, 2, &err),
                     CQ_EINVAL);
    assert_int_equal(cq_qlinear_add_ref(CQ_S32, sa, 2, 1.0f, 0, sb, 1, 1.0f, 0, 1.0f, 0, sc, 2, &err),
                     CQ_EUNSUPPORTED);
}

static void test_kern_int_quantize_tensor_per_tensor(void **state)
{
    (void)state;
    for (uint32_t s = 0; s < 200; s++)
        check_quant(s % 2 ? CQ_S8 : CQ_U8, -1, 100 + s);
}

static void test_kern_int_quantize_tensor_per_axis(void **state)
{
    (void)state;
    for (uint32_t s = 0; s < 200; s++)
        check_quant(s % 2 ? CQ_S8 : CQ_U8, (int)(s % 4), 500 + s);
}

/* Hand-computed: scale 2 per tensor, zero point 3 (u8); ties land even. */
static void test_kern_int_quantize_tensor_values(void **state)
{
    (void)state;
    cq_err err;
    int64_t shape[1] = {8};
    cq_tensor *x = cq_tensor_empty(CQ_F32, 1, shape, &err);
    float xv[8] = {1.0f, 3.0f, 5.0f, -1.0f, -7.0f, -9.0f, 600.0f, 0.9f};
    /* x / 2: 0.5 1.5 2.5 -0.5 -3.5 -4.5 300 0.45 -> 0 2 2 -0 -4 -4 300 0, + 3 */
    uint8_t want[8] = {3, 5, 5, 3, 0, 0, 255, 3};
    memcpy(cq_tensor_data(x), xv, sizeof xv);
    float s = 2.0f;
    int32_t z = 3;
    cq_tensor *q = cq_quantize(x, CQ_U8, &s, &z, -1, &err);
    assert_non_null(q);
    assert_memory_equal(cq_tensor_data(q), want, 8);
    cq_tensor *d = cq_dequantize(q, &s, &z, -1, &err);
    assert_non_null(d);
    float back[8] = {0.0f, 4.0f, 4.0f, 0.0f, -6.0f, -6.0f, 504.0f, 0.0f};
    assert_memory_equal(cq_tensor_data(d), back, sizeof back);
    cq_tensor_release(x);
    cq_tensor_release(q);
    cq_tensor_release(d);
}

static void test_kern_int_quantize_tensor_bad_params(void **state)
{
    (void)state;
    cq_err err;
    int64_t shape[1] = {3};
    cq_tensor *x = cq_tensor_new(CQ_F32, 1, shape, &err);
    float bad[3] = {0.0f, 1.0f, 1.0f};
    int32_t zp = 200;
    assert_null(cq_quantize(x, CQ_S8, bad, NULL, -1, &err));
    assert_int_equal(err.code, CQ_EINVAL);
    assert_string_equal(err.msg, "scale[0] is 0 (must be finite and > 0)");
    assert_null(cq_quantize(x, CQ_F32, bad + 1, NULL, -1, &err));
    assert_int_equal(err.code, CQ_EINVAL);
    assert_string_equal(err.msg, "quantize to f32 (s8 or u8 only)");
    assert_null(cq_quantize(x, CQ_S8, bad + 1, &zp, -1, &err));
    assert_string_equal(err.msg, "zero_point[0] is 200, outside s8's -128..127");
    assert_null(cq_dequantize(x, bad + 1, NULL, 1, &err));
    assert_string_equal(err.msg, "quantization axis 1 of a 1-dimensional tensor");
    cq_tensor_release(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kern_int_quantize_rounding),
        cmocka_unit_test(test_kern_int_quantize_per_axis),
        cmocka_unit_test(test_kern_int_conv),
        cmocka_unit_test(test_kern_int_matmul),
        cmocka_unit_test(test_kern_int_requantize_ties),
        cmocka_unit_test(test_kern_int_qlinear_add),
        cmocka_unit_test(test_kern_int_quantize_tensor_per_tensor),
        cmocka_unit_test(test_kern_int_quantize_tensor_per_axis),
        cmocka_unit_test(test_kern_int_quantize_tensor_values),
        cmocka_unit_test(test_kern_int_quantize_tensor_bad_params),
    };
    return cmocka_run_group_tests_name("kern_int", tests, NULL, NULL);
}
