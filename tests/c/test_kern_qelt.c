/* test_kern_qelt.c - the int8 executor's memory-bound kernels (kern_qelt.h)
 * on every instruction set, bit for bit against the references of kern.h:
 * quantize (NaN, infinities, ties, saturation) and dequantize in both
 * layouts, per axis (u8, s8, s32 codes), the 8-bit transposes, QLinearAdd
 * with scalar operands on either side, max pooling on codes against the f32
 * reference pool of the dequantized values quantized back (every window
 * rule: pads, strides, dilations, ceil_mode, windows of padding only, huge
 * windows, rows too long for the row buffer), the global average pool, the
 * lookup table, the nearest upsampling of NHWC codes; odd sizes throughout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "kern_testutil.h"
#include "kern/kern_qelt.h"

static void *xalloc(size_t n)
{
    void *p = cq_alloc(n ? n : 1);
    assert_non_null(p);
    return p;
}

/* The instruction sets this machine has, as cq_kern_set_isa grants them. */
static int isa_list(cq_isa out[3])
{
    cq_isa all[] = KT_ISAS;
    int n = 0;
    for (int i = 0; i < 3; i++)
        if (cq_kern_set_isa(all[i]) == all[i])
            out[n++] = all[i];
    cq_kern_set_isa(CQ_ISA_COUNT);
    return n;
}

/* Plain loops: NCHW (n, c, hw) <-> NHWC (n, hw, c) on bytes. */
static void to_nhwc(const uint8_t *s, int64_t n, int64_t c, int64_t hw, uint8_t *d)
{
    for (int64_t i = 0; i < n; i++)
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t p = 0; p < hw; p++)
                d[(i * hw + p) * c + ch] = s[(i * c + ch) * hw + p];
}

static void to_nchw(const uint8_t *s, int64_t n, int64_t c, int64_t hw, uint8_t *d)
{
    for (int64_t i = 0; i < n; i++)
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t p = 0; p < hw; p++)
                d[(i * c + ch) * hw + p] = s[(i * hw + p) * c + ch];
}

/* Shapes: products 1, 15, 17, 63, 65 and others, and random ones. */
static void shape_at(kt_rng *r, int k, int64_t *n, int64_t *c, int64_t *hw)
{
    static const int64_t fixed[][3] = {{1, 1, 1},  {1, 15, 1}, {1, 1, 17},  {1, 3, 21},
                                       {1, 63, 1}, {1, 5, 13}, {1, 65, 1},  {2, 16, 16},
                                       {1, 17, 33}, {3, 64, 49}, {1, 3, 224}, {2, 130, 7},
                                       {1, 1, 1000}, {1, 256, 20}, {0, 4, 4},
                                       {1, 64, 200}, {2, 100, 130}, {1, 3, 1000}};
    int nf = (int)(sizeof fixed / sizeof fixed[0]);
    if (k < nf) {
        *n = fixed[k][0];
        *c = fixed[k][1];
        *hw = fixed[k][2];
        return;
    }
    *n = kt_int(r, 1, 3);
    *c = kt_int(r, 1, 140);
    *hw = kt_int(r, 1, 150);
}

#define NSHAPES 40

static float random_scale(kt_rng *r)
{
    switch (kt_int(r, 0, 4)) {
    case 0:
        return 1e-30f * (float)kt_int(r, 1, 1000);
    case 1:
        return 1e20f * (float)kt_int(r, 1, 1000);
    case 2:
        return 1.0f / (float)kt_int(r, 1, 255);
    default:
        return (float)kt_int(r, 1, 100000) * 1e-5f;
    }
}

/* x: mostly a few hundred codes wide, with ties (k + 0.5) * scale, NaN,
 * infinities, huge values, zeros of both signs and subnormals. */
static void fill_x(kt_rng *r, float *x, int64_t n, float scale)
{
    for (int64_t i = 0; i < n; i++) {
        int k = (int)kt_int(r, 0, 19);
        if (k == 0)
            x[i] = NAN;
        else if (k == 1)
            x[i] = kt_int(r, 0, 1) ? INFINITY : -INFINITY;
        else if (k == 2)
            x[i] = kt_f(r) * 3e38f;
        else if (k == 3)
            x[i] = ((float)kt_int(r, -300, 300) + 0.5f) * scale;
        else if (k == 4)
            x[i] = kt_int(r, 0, 1) ? -0.0f : 1e-41f;
        else
            x[i] = kt_f(r) * 300.0f * scale;
    }
}

static void test_kern_qelt_quantize(void **state)
{
    (void)state;
    cq_isa isas[3];
    int ni = isa_list(isas);
    kt_rng r = {0x51e7};
    cq_err err;
    for (int k = 0; k < NSHAPES; k++) {
        int64_t n, c, hw;
        shape_at(&r, k, &n, &c, &hw);
        int64_t cnt = n * c * hw;
        float *x = xalloc((size_t)cnt * 4), *xw = xalloc((size_t)cnt * 4);
        float *xg = xalloc((size_t)cnt * 4);
        uint8_t *want = xalloc((size_t)cnt), *wt = xalloc((size_t)cnt),
                *got = xalloc((size_t)cnt);
        for (int d = 0; d < 2; d++) {
            cq_dtype dt = d ? CQ_S8 : CQ_U8;
            float scale = random_scale(&r);
            int32_t zp = d ? (int32_t)kt_int(&r, -128, 127) : (int32_t)kt_int(&r, 0, 255);
            fill_x(&r, x, cnt, scale);
            assert_int_equal(cq_quantize_linear_ref(x, 1, 1, cnt, &scale, &zp, 1, dt, want, &err),
                             CQ_OK);
            to_nhwc(want, n, c, hw, wt);
            assert_int_equal(cq_dequantize_linear_ref(want, dt, 1, 1, cnt, &scale, &zp, 1, xw,
                                                      &err), CQ_OK);
            for (int ii = 0; ii < ni; ii++) {
                cq_kern_set_isa(isas[ii]);
                for (int nhwc = 0; nhwc < 2; nhwc++) {
                    memset(got, 0x5a, (size_t)cnt);
                    assert_int_equal(cq_quantize_f32_8(x, n, c, hw, scale, zp, dt, got, nhwc,
                                                       &err), CQ_OK);
                    if (memcmp(got, nhwc ? wt : want, (size_t)cnt) != 0)
                        fail_msg("quantize %s nhwc %d isa %s (%lld, %lld, %lld) scale %g zp %d",
                                 d ? "s8" : "u8", nhwc, cq_isa_name(isas[ii]), (long long)n,
                                 (long long)c, (long long)hw, (double)scale, (int)zp);
                    memset(xg, 0x5a, (size_t)cnt * 4);
                    assert_int_equal(cq_dequantize_8_f32(nhwc ? wt : want, dt, n, c, hw, nhwc,
                                                         scale, zp, xg, &err), CQ_OK);
                    if (memcmp(xg, xw, (size_t)cnt * 4) != 0)
                        fail_msg("dequantize %s nhwc %d isa %s (%lld, %lld, %lld)",
                                 d ? "s8" : "u8", nhwc, cq_isa_name(isas[ii]), (long long)n,
                                 (long long)c, (long long)hw);
                }
            }
            cq_kern_set_isa(CQ_ISA_COUNT);
        }
        cq_free(x);
        cq_free(xw);
        cq_free(xg);
        cq_free(want);
        cq_free(wt);
        cq_free(got);
    }
}

/* x within a few ulps of (k + 0.5) * scale, and of the products 4096 *
 * scale where the fast paths' check switches: where x * (1 / scale) and
 * x / scale round to different integers, the quotient's must win. */
static void test_kern_qelt_quantize_ties(void **state)
{
    (void)state;
    cq_isa isas[3];
    int ni = isa_list(isas);
    kt_rng r = {0x7135};
    const int64_t n = 20000;
    float *x = xalloc((size_t)n * 4);
    uint8_t *want = xalloc((size_t)n), *got = xalloc((size_t)n);
    cq_err err;
    for (int trial = 0; trial < 60; trial++) {
        float scale = trial < 6 ? (float[]){0.1f, 0.3f, 1.0f / 255, 0.007f, 3e-5f, 7.5f}[trial]
                                : random_scale(&r);
        int32_t zp = (int32_t)kt_int(&r, -128, 127);
        cq_dtype dt = CQ_S8;
        if (trial & 1) {
            dt = CQ_U8;
            zp += 128;
        }
        for (int64_t i = 0; i < n; i++) {
            float base = i % 7 == 0 ? (float)kt_int(&r, 4094, 4098) * (kt_int(&r, 0, 1) ? 1 : -1)
                                    : (float)kt_int(&r, -300, 300) + 0.5f;
            float v = base * scale;
            for (int64_t u = kt_int(&r, -4, 4); u != 0; u += u > 0 ? -1 : 1)
                v = nextafterf(v, u > 0 ? INFINITY : -INFINITY);
            x[i] = v;
        }
        assert_int_equal(cq_quantize_linear_ref(x, 1, 1, n, &scale, &zp, 1, dt, want, &err),
                         CQ_OK);
        for (int ii = 0; ii < ni; ii++) {
            cq_kern_set_isa(isas[ii]);
            assert_int_equal(cq_quantize_f32_8(x, 1, 1, n, scale, zp, dt, got, 0, &err), CQ_OK);
            if (memcmp(got, want, (size_t)n) != 0)
                fail_msg("ties: isa %s scale %g zp %d", cq_isa_name(isas[ii]), (double)scale,
                         (int)zp);
        }
        cq_kern_set_isa(CQ_ISA_COUNT);
    }
    cq_free(x);
    cq_free(want);
    cq_free(got);
}

/* Zero points outside the int32 window the vector loops subtract in. */
static void test_kern_qelt_dequantize_far_zp(void **state)
{
    (void)state;
    cq_isa isas[3];
    int ni = isa_list(isas);
    uint8_t q[37];
    float want[37], got[37];
    for (int i = 0; i < 37; i++)
        q[i] = (uint8_t)(i * 7);
    int32_t zps[] = {INT32_MIN, INT32_MAX, (1 << 24) + 1, -(1 << 24) - 3};
    float scale = 0.75f;
    cq_err err;
    for (int z = 0; z < 4; z++) {
        assert_int_equal(cq_dequantize_linear_ref(q, CQ_U8, 1, 1, 37, &scale, &zps[z], 1, want,
                                                  &err), CQ_OK);
        for (int ii = 0; ii < ni; ii++) {
            cq_kern_set_isa(isas[ii]);
            assert_int_equal(cq_dequantize_8_f32(q, CQ_U8, 1, 1, 37, 0, scale, zps[z], got, &err),
                             CQ_OK);
            assert_memory_equal(got, want, sizeof want);
        }
        cq_kern_set_isa(CQ_ISA_COUNT);
    }
}

/* Per axis and per tensor, u8 / s8 / s32 codes, every axis position a
 * (outer, len, inner) view takes: the last (inner 1), inner odd, len 1, zero
 * points NULL, in range, far (8-bit: the reference's path) and extreme
 * (s32, whose difference is taken in int64). */
static void test_kern_qelt_dequantize_axis(void **state)
{
    (void)state;
    cq_isa isas[3];
    int ni = isa_list(isas);
    kt_rng r = {0xd0a7};
    static const int64_t fixed[][3] = {{1, 1, 1},   {1, 17, 1},  {3, 33, 1},  {1, 16, 16},
                                       {2, 5, 13},  {1, 64, 49}, {7, 3, 1},   {1, 1, 100},
                                       {2, 130, 7}, {0, 4, 4},   {1, 255, 1}, {4, 1, 17}};
    const cq_dtype dts[] = {CQ_U8, CQ_S8, CQ_S32};
    for (int k = 0; k < 60; k++) {
        int64_t outer, len, inner;
        if (k < (int)(sizeof fixed / sizeof fixed[0])) {
            outer = fixed[k][0], len = fixed[k][1], inner = fixed[k][2];
        } else {
            outer = kt_int(&r, 1, 4);
            len = kt_int(&r, 1, 70);
            inner = kt_int(&r, 0, 2) ? 1 : kt_int(&r, 1, 40);
        }
        int64_t n = outer * len * inner;
        for (int d = 0; d < 3; d++)
            for (int mode = 0; mode < 4; mode++) {
                cq_dtype dt = dts[d];
                int64_t ns = mode == 3 ? 1 : len;
                size_t es = dt == CQ_S32 ? 4 : 1;
                uint8_t *q = xalloc((size_t)n * es);
                float *sc = xalloc((size_t)ns * sizeof(float));
                int32_t *zp = mode ? xalloc((size_t)ns * sizeof(int32_t)) : NULL;
                float *want = xalloc((size_t)n * sizeof(float));
                float *got = xalloc((size_t)n * sizeof(float));
                for (int64_t i = 0; i < n; i++) {
                    if (dt == CQ_S32)
                        ((int32_t *)q)[i] = kt_int(&r, 0, 9) ? (int32_t)kt_int(&r, -70000, 70000)
                                          : kt_int(&r, 0, 1) ? INT32_MAX : INT32_MIN;
                    else
                        q[i] = (uint8_t)kt_int(&r, 0, 255);
                }
                for (int64_t j = 0; j < ns; j++) {
                    sc[j] = random_scale(&r);
                    if (zp && dt == CQ_S32)
                        zp[j] = kt_int(&r, 0, 4) ? (int32_t)kt_int(&r, -1000, 1000)
                                : kt_int(&r, 0, 1) ? INT32_MAX : INT32_MIN;
                    else if (zp)
                        zp[j] = mode == 2 && j == ns / 2 ? (1 << 24) + 5
                                : (int32_t)kt_int(&r, dt == CQ_S8 ? -128 : 0, dt == CQ_S8 ? 127 : 255);
                }
                cq_err err;
                assert_int_equal(cq_dequantize_linear_ref(q, dt, outer, len, inner, sc, zp, ns,
                                                          want, &err), CQ_OK);
                for (int ii = 0; ii < ni; ii++) {
                    cq_kern_set_isa(isas[ii]);
                    memset(got, 0xa5, (size_t)n * sizeof(float));
                    assert_int_equal(cq_dequantize_axis_f32(q, dt, outer, len, inner, sc, zp, ns,
                                                            got, &err), CQ_OK);
                    assert_memory_equal(got, want, (size_t)n * sizeof(float));
                }
                cq_kern_set_isa(CQ_ISA_COUNT);
                cq_free(q), cq_free(sc), cq_free(zp), cq_free(want), cq_free(got);
            }
    }
}

static void test_kern_qelt_transpose(void **state)
{
    (void)state;
    cq_isa isas[3];
    int ni = isa_list(isas);
    kt_rng r = {0x7a5};
    for (int k = 0; k < NSHAPES; k++) {
        int64_t n, c, hw;
        shape_at(&r, k, &n, &c, &hw);
        size_t cnt = (size_t)(n * c * hw);
        uint8_t *s = xalloc(cnt), *want = xalloc(cnt), *got = xalloc(cnt), *back = xalloc(cnt);
        for (size_t i = 0; i < cnt; i++)
            s[i] = (uint8_t)kt_u32(&r);
        to_nhwc(s, n, c, hw, want);
        for (int ii = 0; ii < ni; ii++) {
            cq_kern_set_isa(isas[ii]);
            memset(got, 0, cnt);
            cq_nchw_to_nhwc_8(s, n, c, hw, got);
            assert_memory_equal(got, want, cnt);
            memset(back, 0, cnt);
            cq_nhwc_to_nchw_8(got, n, c, hw, back);
            assert_memory_equal(back, s, cnt);
        }
        cq_kern_set_isa(CQ_ISA_COUNT);
        cq_free(s);
        cq_free(want);
        cq_free(got);
        cq_free(back);
    }
}

typedef cq_status (*binary8_fn)(cq_dtype dt, const void *a, int64_t na, float a_scale,
                                 int32_t a_zp, const void *b, int64_t nb, float b_scale,
                                 int32_t b_zp, float c_scale, int32_t c_zp, void *c, int64_t n,
                                 cq_err *err);

/* fast on every ISA against ref (QLinearAdd's or QLinearMul's contract), with
 * a side of one value on either side, scales that leave the code range or
 * int32, comparable scales with many ties, and the extremes (b = a or ~a). */
static void binary_trials(const char *what, binary8_fn ref, binary8_fn fast, uint64_t seed,
                          float cs_div, int b_flip)
{
    cq_isa isas[3];
    int ni = isa_list(isas);
    kt_rng r = {seed};
    static const int64_t sizes[] = {1, 2, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 1000, 4099};
    cq_err err;
    for (int trial = 0; trial < 120; trial++) {
        int64_t n = sizes[trial % (int)(sizeof sizes / sizeof sizes[0])];
        int form = (int)kt_int(&r, 0, 2); /* 0: both n, 1: a scalar, 2: b scalar */
        int64_t na = form == 1 ? 1 : n, nb = form == 2 ? 1 : n;
        cq_dtype dt = kt_int(&r, 0, 1) ? CQ_S8 : CQ_U8;
        int32_t lo = dt == CQ_S8 ? -128 : 0, hi = dt == CQ_S8 ? 127 : 255;
        float as = random_scale(&r), bs = random_scale(&r), cs = random_scale(&r);
        if (trial % 3) { /* comparable scales: results inside the range, many ties */
            as = (float)kt_int(&r, 1, 64) / 256.0f;
            bs = (float)kt_int(&r, 1, 64) / 256.0f;
            cs = (float)kt_int(&r, 1, 64) / cs_div;
        }
        int32_t az = (int32_t)kt_int(&r, lo, hi), bz = (int32_t)kt_int(&r, lo, hi),
                cz = (int32_t)kt_int(&r, lo, hi);
        if (trial % 17 == 5)
            az = bz = cz = 0;
        uint8_t *a = xalloc((size_t)n), *b = xalloc((size_t)n), *want = xalloc((size_t)n),
                *got = xalloc((size_t)n);
        for (int64_t i = 0; i < n; i++) {
            a[i] = (uint8_t)kt_u32(&r);
            b[i] = (uint8_t)kt_u32(&r);
        }
        if (trial % 11 == 3) /* the extremes */
            for (int64_t i = 0; i < n; i++) {
                a[i] = dt == CQ_S8 ? (uint8_t)(i & 1 ? 0x80 : 0x7f) : (uint8_t)(i & 1 ? 0 : 255);
                b[i] = b_flip ? (uint8_t)~a[i] : a[i];
            }
        assert_int_equal(ref(dt, a, na, as, az, b, nb, bs, bz, cs, cz, want, n, &err), CQ_OK);
        for (int ii = 0; ii < ni; ii++) {
            cq_kern_set_isa(isas[ii]);
            memset(got, 0x5a, (size_t)n);
            assert_int_equal(fast(dt, a, na, as, az, b, nb, bs, bz, cs, cz, got, n, &err), CQ_OK);
            if (memcmp(got, want, (size_t)n) != 0)
                fail_msg("%s trial %d isa %s n %lld na %lld nb %lld", what, trial,
                         cq_isa_name(isas[ii]), (long long)n, (long long)na, (long long)nb);
        }
        cq_kern_set_isa(CQ_ISA_COUNT);
        cq_free(a);
        cq_free(b);
        cq_free(want);
        cq_free(got);
    }
}

static void test_kern_qelt_qadd(void **state)
{
    (void)state;
    binary_trials("qadd", cq_qlinear_add_ref, cq_qadd_8, 0xadd, 128.0f, 0);
}

/* QLinearMul: cq_qmul_8 against cq_qlinear_mul_ref (a sum outside int32 gives
 * the minimum), and the reference itself on one value by hand. */
static void test_kern_qelt_qmul(void **state)
{
    (void)state;
    binary_trials("qmul", cq_qlinear_mul_ref, cq_qmul_8, 0x3a1, 64.0f, 1);
    cq_err err;
    uint8_t a1 = 200, b1 = 100, c1 = 0;
    assert_int_equal(cq_qlinear_mul_ref(CQ_U8, &a1, 1, 0.01f, 0, &b1, 1, 0.02f, 0, 0.1f, 3, &c1,
                                        1, &err), CQ_OK);
    /* 200 * 100 * (0.01 * 0.02 / 0.1) + 3 = 43 */
    assert_int_equal(c1, 43);
    /* rows against one row (a per-channel scale on NHWC codes), each row the
     * reference's product with na = nb = n, on every ISA */
    cq_isa isas[3];
    int ni = isa_list(isas);
    kt_rng r = {0x9e11};
    static const int64_t ns[] = {1, 3, 16, 17, 40, 64, 65, 200};
    for (int k = 0; k < 16; k++) {
        int64_t n = ns[k % 8], rows = kt_int(&r, 0, 9);
        cq_dtype dt = k % 2 ? CQ_S8 : CQ_U8;
        size_t m = (size_t)(rows * n);
        uint8_t *a = xalloc(m), *b = xalloc((size_t)n), *want = xalloc(m), *got = xalloc(m);
        for (size_t i = 0; i < m; i++)
            a[i] = (uint8_t)kt_u32(&r);
        for (int64_t i = 0; i < n; i++)
            b[i] = (uint8_t)kt_u32(&r);
        float sa = (float)kt_int(&r, 1, 999) / 256.0f, sb = (float)kt_int(&r, 1, 999) / 512.0f;
        float scl = (float)kt_int(&r, 1, 999) / 64.0f;
        int32_t za = (int32_t)kt_int(&r, 0, 127), zb = (int32_t)kt_int(&r, 0, 127), zc = 3;
        for (int64_t i = 0; i < rows; i++)
            assert_int_equal(cq_qlinear_mul_ref(dt, a + i * n, n, sa, za, b, n, sb, zb, scl, zc,
                                                want + i * n, n, &err), CQ_OK);
        for (int ii = 0; ii < ni; ii++) {
            cq_kern_set_isa(isas[ii]);
            memset(got, 0x77, m);
            assert_int_equal(cq_qmul_8_rows(dt, a, rows, n, sa, za, b, sb, zb, scl, zc, got, &err),
                             CQ_OK);
            assert_memory_equal(got, want, m);
        }
        cq_kern_set_isa(CQ_ISA_COUNT);
        cq_free(a), cq_free(b), cq_free(want), cq_free(got);
    }
    assert_int_equal(cq_qmul_8_rows(CQ_U8, &a1, -1, 1, 0.1f, 0, &b1, 0.1f, 0, 0.1f, 0, &c1, &err),
                     CQ_EINVAL);
}

/* The oracle: dequantize, cq_pool2d_f32_ref, quantize back (a window of
 * padding only gives -inf, which saturates to the lowest code). */
static void pool_want(const cq_pool2d_params *p, cq_dtype dt, const uint8_t *x, float scale,
                      int32_t zp, int64_t oh, int64_t ow, uint8_t *y)
{
    size_t nx = (size_t)(p->n * p->c * p->h * p->w), ny = (size_t)(p->n * p->c * oh * ow);
    float *xf = xalloc(nx * 4), *yf = xalloc(ny * 4);
    cq_err err;
    assert_int_equal(cq_dequantize_linear_ref(x, dt, 1, 1, (int64_t)nx, &scale, &zp, 1, xf, &err),
                     CQ_OK);
    assert_int_equal(cq_pool2d_f32_ref(p, xf, nx, yf, ny, &err), CQ_OK);
    assert_int_equal(cq_quantize_linear_ref(yf, 1, 1, (int64_t)ny, &scale, &zp, 1, dt, y, &err),
                     CQ_OK);
    cq_free(xf);
    cq_free(yf);
}

static void pool_check(const cq_pool2d_params *p, cq_dtype dt, kt_rng *r, const cq_isa *isas,
                       int ni, const char *what)
{
    int64_t oh, ow;
    cq_err err;
    assert_int_equal(cq_pool2d_out_shape(p, &oh, &ow, &err), CQ_OK);
    size_t nx = (size_t)(p->n * p->c * p->h * p->w), ny = (size_t)(p->n * p->c * oh * ow);
    uint8_t *x = xalloc(nx), *xt = xalloc(nx), *want = xalloc(ny), *got = xalloc(ny),
            *gt = xalloc(ny);
    for (size_t i = 0; i < nx; i++)
        x[i] = (uint8_t)kt_u32(r);
    float scale = (float)kt_int(r, 1, 1000) / 512.0f;
    int32_t zp = dt == CQ_S8 ? (int32_t)kt_int(r, -128, 127) : (int32_t)kt_int(r, 0, 255);
    pool_want(p, dt, x, scale, zp, oh, ow, want);
    to_nhwc(x, p->n, p->c, p->h * p->w, xt);
    for (int ii = 0; ii < ni; ii++) {
        cq_kern_set_isa(isas[ii]);
        for (int nhwc = 0; nhwc < 2; nhwc++) {
            memset(got, 0x5a, ny);
            assert_int_equal(cq_maxpool2d_8(p, dt, nhwc ? xt : x, nhwc ? gt : got, nhwc, &err),
                             CQ_OK);
            if (nhwc)
                to_nchw(gt, p->n, p->c, oh * ow, got);
            if (memcmp(got, want, ny) != 0)
                fail_msg("maxpool %s %s nhwc %d isa %s: n %lld c %lld %lldx%lld k %lldx%lld "
                         "s %lld,%lld pads %lld %lld %lld %lld dil %lld,%lld ceil %d", what,
                         dt == CQ_S8 ? "s8" : "u8", nhwc, cq_isa_name(isas[ii]),
                         (long long)p->n, (long long)p->c, (long long)p->h, (long long)p->w,
                         (long long)p->kh, (long long)p->kw, (long long)p->stride_h,
                         (long long)p->stride_w, (long long)p->pad_top, (long long)p->pad_left,
                         (long long)p->pad_bottom, (long long)p->pad_right, (long long)p->dil_h,
                         (long long)p->dil_w, p->ceil_mode);
        }
    }
    cq_kern_set_isa(CQ_ISA_COUNT);
    cq_free(x);
    cq_free(xt);
    cq_free(want);
    cq_free(got);
    cq_free(gt);
}

static void test_kern_qelt_maxpool_random(void **state)
{
    (void)state;
    cq_isa isas[3];
    int ni = isa_list(isas);
    kt_rng r = {0xb001};
    int done = 0;
    while (done < 300) {
        cq_pool2d_params p = cq_pool2d_params_default();
        p.n = kt_int(&r, 1, 2);
        p.c = kt_int(&r, 1, 70);
        p.h = kt_int(&r, 1, 20);
        p.w = kt_int(&r, 1, done % 10 == 0 ? 150 : 30);
        p.kh = kt_int(&r, 1, 5);
        p.kw = kt_int(&r, 1, 5);
        p.stride_h = kt_int(&r, 1, 3);
        p.stride_w = kt_int(&r, 1, 3);
        p.dil_h = done % 4 == 0 ? kt_int(&r, 1, 3) : 1;
        p.dil_w = done % 4 == 0 ? kt_int(&r, 1, 3) : 1;
        /* pads up to the kernel and beyond: windows of padding only */
        p.pad_top = kt_int(&r, 0, p.kh);
        p.pad_left = kt_int(&r, 0, p.kw);
        p.pad_bottom = kt_int(&r, 0, p.kh);
        p.pad_right = kt_int(&r, 0, p.kw);
        p.ceil_mode = (int)kt_int(&r, 0, 1);
        int64_t oh, ow;
        cq_err e;
        if (cq_pool2d_out_shape(&p, &oh, &ow, &e) != CQ_OK)
            continue;
        pool_check(&p, done & 1 ? CQ_S8 : CQ_U8, &r, isas, ni, "random");
        done++;
    }
}

static void test_kern_qelt_maxpool_edges(void **state)
{
    (void)state;
    cq_isa isas[3];
    int ni = isa_list(isas);
    kt_rng r = {0xed9e};
    /* ResNet's stem pool, 3x3 s2 p1 */
    cq_pool2d_params p = cq_pool2d_params_default();
    p.n = 1;
    p.c = 64;
    p.h = p.w = 112;
    p.kh = p.kw = 3;
    p.stride_h = p.stride_w = 2;
    p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
    pool_check(&p, CQ_U8, &r, isas, ni, "stem");
    pool_check(&p, CQ_S8, &r, isas, ni, "stem");
    /* more rows and taps than one call to the row kernel takes (64) */
    p = cq_pool2d_params_default();
    p.n = 1;
    p.c = 3;
    p.h = 80;
    p.w = 75;
    p.kh = 70;
    p.kw = 9;
    p.pad_top = 3;
    p.pad_left = 4;
    pool_check(&p, CQ_U8, &r, isas, ni, "tall");
    p.kh = 9;
    p.kw = 70;
    p.stride_w = 2;
    pool_check(&p, CQ_S8, &r, isas, ni, "wide");
    p.kh = 12;
    p.kw = 12;
    p.c = 100;
    pool_check(&p, CQ_S8, &r, isas, ni, "144 taps");
    /* rows longer than the NCHW row buffer */
    p = cq_pool2d_params_default();
    p.n = 1;
    p.c = 2;
    p.h = 3;
    p.w = 17000;
    p.kh = 2;
    p.kw = 3;
    p.stride_w = 1;
    p.pad_left = p.pad_right = 1;
    pool_check(&p, CQ_U8, &r, isas, ni, "long rows");
    p.c = 200;
    p.h = 12;
    p.w = 100;
    p.kh = p.kw = 9;
    p.stride_h = p.stride_w = 2;
    pool_check(&p, CQ_S8, &r, isas, ni, "wide NHWC rows, 81 taps");
    /* global: the window is the image */
    p = cq_pool2d_params_default();
    p.n = 2;
    p.c = 65;
    p.h = 7;
    p.w = 7;
    p.kh = 7;
    p.kw = 7;
    pool_check(&p, CQ_S8, &r, isas, ni, "global");
}

/* Global average pool on codes: every ISA, both layouts, the reference's
 * bits; the reference within one code of the float mean quantized. */
static void test_kern_qelt_global_avgpool(void **state)
{
    (void)state;
    cq_isa isas[3];
    int ni = isa_list(isas);
    kt_rng r = {0x6a9};
    static const int64_t shapes[][3] = {{1, 1, 1},   {1, 3, 7},     {2, 65, 49},  {1, 300, 3},
                                        {1, 64, 3136}, {2, 17, 1000}, {1, 512, 1}, {3, 5, 257}};
    cq_err err;
    for (int k = 0; k < 40; k++) {
        int64_t n, c, hw;
        if (k < 8) {
            n = shapes[k][0], c = shapes[k][1], hw = shapes[k][2];
        } else {
            n = kt_int(&r, 1, 3), c = kt_int(&r, 1, 130), hw = kt_int(&r, 1, 600);
        }
        cq_dtype dt = k & 1 ? CQ_S8 : CQ_U8;
        int32_t lo = dt == CQ_S8 ? -128 : 0, hi = dt == CQ_S8 ? 127 : 255;
        size_t cnt = (size_t)(n * c * hw);
        uint8_t *x = xalloc(cnt), *xt = xalloc(cnt), *want = xalloc((size_t)(n * c)),
                *got = xalloc((size_t)(n * c));
        for (size_t i = 0; i < cnt; i++)
            x[i] = k % 5 == 4 ? (uint8_t)hi : (uint8_t)kt_u32(&r); /* the largest sums too */
        to_nhwc(x, n, c, hw, xt);
        float xs = (float)kt_int(&r, 1, 1000) / 4096.0f, ys = (float)kt_int(&r, 1, 1000) / 8192.0f;
        int32_t xz = (int32_t)kt_int(&r, lo, hi), yz = (int32_t)kt_int(&r, lo, hi);
        assert_int_equal(cq_global_avgpool_8_ref(dt, x, n, c, hw, 0, xs, xz, ys, yz, want, &err),
                         CQ_OK);
        assert_int_equal(cq_global_avgpool_8_ref(dt, xt, n, c, hw, 1, xs, xz, ys, yz, got, &err),
                         CQ_OK);
        assert_memory_equal(got, want, (size_t)(n * c));
        for (int64_t j = 0; j < n * c; j++) { /* the float mean, quantized */
            double m = 0;
            for (int64_t p = 0; p < hw; p++)
                m += (dt == CQ_S8 ? (int8_t)x[j * hw + p] : x[j * hw + p]) - xz;
            double q = nearbyint(m * xs / hw / ys) + yz;
            q = q < lo ? lo : (q > hi ? hi : q);
            int32_t gv = dt == CQ_S8 ? (int8_t)want[j] : want[j];
            assert_true(fabs(q - gv) <= 1);
        }
        for (int ii = 0; ii < ni; ii++) {
            cq_kern_set_isa(isas[ii]);
            for (int nhwc = 0; nhwc < 2; nhwc++) {
                memset(got, 0x5a, (size_t)(n * c));
                assert_int_equal(cq_global_avgpool_8(dt, nhwc ? xt : x, n, c, hw, nhwc, xs, xz, ys,
                                                     yz, got, &err), CQ_OK);
                if (memcmp(got, want, (size_t)(n * c)) != 0)
                    fail_msg("global avgpool isa %s nhwc %d (%lld, %lld, %lld)",
                             cq_isa_name(isas[ii]), nhwc, (long long)n, (long long)c,
                             (long long)hw);
            }
        }
        cq_kern_set_isa(CQ_ISA_COUNT);
        cq_free(x);
        cq_free(xt);
        cq_free(want);
        cq_free(got);
    }
    uint8_t q[4] = {0}, y[2];
    assert_int_equal(cq_global_avgpool_8(CQ_U8, q, 1, 2, 0, 0, 1, 0, 1, 0, y, &err), CQ_EINVAL);
    assert_int_equal(cq_global_avgpool_8(CQ_U8, q, 1, 2, 2, 0, 1, 300, 1, 0, y, &err), CQ_EINVAL);
    assert_int_equal(cq_global_avgpool_8(CQ_S8, q, 1, 2, 2, 0, 1, 0, 1, 128, y, &err), CQ_EINVAL);
    assert_int_equal(cq_global_avgpool_8(CQ_S8, q, 1, 2, 2, 0, 1, 0, 0, 0, y, &err), CQ_EINVAL);
    assert_int_equal(cq_global_avgpool_8(CQ_S32, q, 1, 2, 2, 0, 1, 0, 1, 0, y, &err),
                     CQ_EUNSUPPORTED);
}

static void test_kern_qelt_lut(void **state)
{
    (void)state;
    cq_isa isas[3];
    int ni = isa_list(isas);
    kt_rng r = {0x1017};
    uint8_t lut[256];
    for (int i = 0; i < 256; i++)
        lut[i] = (uint8_t)kt_u32(&r);
    static const int64_t sizes[] = {0, 1, 15, 17, 63, 64, 65, 127, 129, 1000};
    for (int s = 0; s < (int)(sizeof sizes / sizeof sizes[0]); s++) {
        int64_t n = sizes[s];
        uint8_t *x = xalloc((size_t)n), *y = xalloc((size_t)n), *want = xalloc((size_t)n);
        for (int64_t i = 0; i < n; i++) {
            x[i] = (uint8_t)(i < 256 ? i : kt_u32(&r));
            want[i] = lut[x[i]];
        }
        for (int ii = 0; ii < ni; ii++) {
            cq_kern_set_isa(isas[ii]);
            memset(y, 0, (size_t)n);
            cq_lut_8(lut, x, y, n);
            assert_memory_equal(y, want, (size_t)n);
            uint8_t *z = xalloc((size_t)n); /* in place */
            memcpy(z, x, (size_t)n);
            cq_lut_8(lut, z, z, n);
            assert_memory_equal(z, want, (size_t)n);
            cq_free(z);
        }
        cq_kern_set_isa(CQ_ISA_COUNT);
        cq_free(x);
        cq_free(y);
        cq_free(want);
    }
}

/* Nearest upsampling of NHWC codes by whole factors against the byte loop:
 * pixels of 1-200 bytes (under, at and past one 64-byte vector), factors
 * 1-3 each way, odd sizes; a canary past the output. */
static void test_kern_qelt_upsample(void **state)
{
    (void)state;
    cq_isa isas[3];
    int ni = isa_list(isas);
    kt_rng r = {0x0b5a};
    static const int64_t cs[] = {1, 3, 16, 32, 63, 64, 65, 130, 200};
    for (int k = 0; k < 36; k++) {
        int64_t n = kt_int(&r, 1, 2), h = kt_int(&r, 1, 7), w = kt_int(&r, 1, 9);
        int64_t c = cs[k % 9], fh = kt_int(&r, 1, 3), fw = k % 4 == 0 ? 2 : kt_int(&r, 1, 3);
        size_t nx = (size_t)(n * h * w * c), ny = nx * (size_t)(fh * fw);
        uint8_t *x = xalloc(nx), *want = xalloc(ny), *y = xalloc(ny + 64);
        for (size_t i = 0; i < nx; i++)
            x[i] = (uint8_t)kt_u32(&r);
        cq_upsample_8_ref(n, h, w, c, fh, fw, x, want);
        for (int ii = 0; ii < ni; ii++) {
            cq_kern_set_isa(isas[ii]);
            memset(y, 0xee, ny + 64);
            cq_upsample_8(n, h, w, c, fh, fw, x, y);
            assert_memory_equal(y, want, ny);
            for (size_t i = ny; i < ny + 64; i++)
                assert_int_equal(y[i], 0xee);
        }
        cq_kern_set_isa(CQ_ISA_COUNT);
        cq_free(x), cq_free(want), cq_free(y);
    }
}

static void test_kern_qelt_bad_args(void **state)
{
    (void)state;
    cq_err err;
    float x[4] = {0}, y[4];
    uint8_t q[4] = {0};
    assert_int_equal(cq_quantize_f32_8(x, 1, 2, 2, 1.0f, 0, CQ_F32, q, 0, &err), CQ_EUNSUPPORTED);
    assert_int_equal(cq_quantize_f32_8(x, 1, 2, 2, 0.0f, 0, CQ_U8, q, 0, &err), CQ_EINVAL);
    assert_int_equal(cq_quantize_f32_8(x, 1, 2, 2, NAN, 0, CQ_U8, q, 1, &err), CQ_EINVAL);
    assert_int_equal(cq_quantize_f32_8(x, 1, 2, 2, INFINITY, 0, CQ_U8, q, 1, &err), CQ_EINVAL);
    assert_int_equal(cq_quantize_f32_8(x, -1, 2, 2, 1.0f, 0, CQ_U8, q, 1, &err), CQ_EINVAL);
    assert_int_equal(cq_dequantize_8_f32(q, CQ_S32, 1, 2, 2, 0, 1.0f, 0, y, &err),
                     CQ_EUNSUPPORTED);
    assert_int_equal(cq_dequantize_8_f32(q, CQ_S8, 1, 2, 2, 0, -1.0f, 0, y, &err), CQ_EINVAL);
    float sc[2] = {1.0f, 2.0f};
    assert_int_equal(cq_dequantize_axis_f32(q, CQ_F32, 1, 2, 2, sc, NULL, 2, y, &err),
                     CQ_EUNSUPPORTED);
    assert_int_equal(cq_dequantize_axis_f32(q, CQ_U8, 1, 2, 2, sc, NULL, 3, y, &err), CQ_EINVAL);
    assert_int_equal(cq_dequantize_axis_f32(q, CQ_U8, 1, 2, 2, NULL, NULL, 2, y, &err),
                     CQ_EINVAL);
    assert_int_equal(cq_dequantize_axis_f32(q, CQ_U8, -1, 2, 2, sc, NULL, 2, y, &err), CQ_EINVAL);
    assert_int_equal(cq_qadd_8(CQ_F32, q, 4, 1, 0, q, 4, 1, 0, 1, 0, q, 4, &err), CQ_EUNSUPPORTED);
    assert_int_equal(cq_qadd_8(CQ_U8, q, 3, 1, 0, q, 4, 1, 0, 1, 0, q, 4, &err), CQ_EINVAL);
    assert_int_equal(cq_qadd_8(CQ_U8, q, 4, 1, 0, q, 4, 1, 0, 0, 0, q, 4, &err), CQ_EINVAL);
    cq_pool2d_params p = cq_pool2d_params_default();
    p.n = p.c = 1;
    p.h = p.w = 2;
    p.kh = p.kw = 2;
    assert_int_equal(cq_maxpool2d_8(&p, CQ_F32, q, y, 0, &err), CQ_EUNSUPPORTED);
    p.kind = CQ_POOL_AVG;
    assert_int_equal(cq_maxpool2d_8(&p, CQ_U8, q, y, 0, &err), CQ_EINVAL);
    p.kind = CQ_POOL_MAX;
    p.kh = 3;
    assert_int_equal(cq_maxpool2d_8(&p, CQ_U8, q, y, 0, &err), CQ_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kern_qelt_quantize),
        cmocka_unit_test(test_kern_qelt_quantize_ties),
        cmocka_unit_test(test_kern_qelt_dequantize_far_zp),
        cmocka_unit_test(test_kern_qelt_dequantize_axis),
        cmocka_unit_test(test_kern_qelt_transpose),
        cmocka_unit_test(test_kern_qelt_qadd),
        cmocka_unit_test(test_kern_qelt_qmul),
        cmocka_unit_test(test_kern_qelt_maxpool_random),
        cmocka_unit_test(test_kern_qelt_maxpool_edges),
        cmocka_unit_test(test_kern_qelt_global_avgpool),
        cmocka_unit_test(test_kern_qelt_lut),
        cmocka_unit_test(test_kern_qelt_upsample),
        cmocka_unit_test(test_kern_qelt_bad_args),
    };
    return cmocka_run_group_tests_name("kern_qelt", tests, NULL, NULL);
}
