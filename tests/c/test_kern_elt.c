/* test_kern_elt.c - broadcast binary ops, unary ops, activations and softmax
 * against plain loops written here, for every ISA. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kern_testutil.h"
#include "kern/kern_internal.h" /* cq__mem_shares */

static double binop_naive(cq_binop op, double a, double b)
{
    switch (op) {
    case CQ_BIN_ADD:
        return a + b;
    case CQ_BIN_SUB:
        return a - b;
    case CQ_BIN_MUL:
        return a * b;
    default:
        return a / b;
    }
}

static void test_kern_elt_binary_broadcast(void **state)
{
    (void)state;
    kt_rng r = {2024};
    cq_err err;
    static const struct {
        int an, bn;
        int64_t as[4], bs[4];
    } cases[] = {
        {4, 4, {2, 3, 5, 7}, {2, 3, 5, 7}},  /* same shape */
        {4, 0, {2, 3, 5, 7}, {0}},           /* scalar right */
        {1, 3, {1}, {3, 5, 17}},             /* scalar left */
        {4, 3, {2, 3, 5, 7}, {3, 1, 1}},     /* per channel, NCHW bias */
        {4, 4, {1, 3, 1, 1}, {2, 3, 5, 7}},  /* per channel on the left */
        {4, 1, {2, 3, 5, 37}, {37}},         /* row broadcast */
        {2, 2, {3, 1}, {1, 4}},              /* outer product shape */
        {4, 4, {2, 1, 5, 1}, {1, 3, 1, 7}},  /* every dim alternating */
        {3, 2, {4, 1, 33}, {6, 33}},
        {2, 2, {0, 3}, {1, 3}},              /* empty */
    };
    cq_isa isas[] = KT_ISAS;
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        int yn;
        int64_t ys[CQ_MAX_DIMS];
        assert_int_equal(cq_broadcast_shape(cases[ci].an, cases[ci].as, cases[ci].bn,
                                            cases[ci].bs, &yn, ys, &err), CQ_OK);
        int64_t na = 1, nb = 1, ny = 1;
        for (int i = 0; i < cases[ci].an; i++)
            na *= cases[ci].as[i];
        for (int i = 0; i < cases[ci].bn; i++)
            nb *= cases[ci].bs[i];
        for (int i = 0; i < yn; i++)
            ny *= ys[i];
        float *a = malloc((size_t)na * 4 + 4), *b = malloc((size_t)nb * 4 + 4);
        float *want = malloc((size_t)ny * 4 + 4), *got = malloc((size_t)ny * 4 + 4);
        kt_fill(&r, a, na);
        kt_fill(&r, b, nb);
        for (int64_t i = 0; i < nb; i++)
            b[i] += b[i] < 0 ? -0.5f : 0.5f; /* keep divisors away from 0 */
        for (int op = 0; op < CQ_BIN_COUNT; op++) {
            for (int64_t i = 0; i < ny; i++) {
                /* unravel i in y, then ravel in a and b with size-1 dims pinned */
                int64_t rem = i, ao = 0, bo = 0, sa = 1, sb = 1;
                for (int d = yn - 1; d >= 0; d--) {
                    int64_t c = rem % ys[d];
                    rem /= ys[d];
                    int da = d - (yn - cases[ci].an), db = d - (yn - cases[ci].bn);
                    if (da >= 0) {
                        ao += (cases[ci].as[da] == 1 ? 0 : c) * sa;
                        sa *= cases[ci].as[da];
                    }
                    if (db >= 0) {
                        bo += (cases[ci].bs[db] == 1 ? 0 : c) * sb;
                        sb *= cases[ci].bs[db];
                    }
                }
                want[i] = (float)binop_naive((cq_binop)op, a[ao], b[bo]);
            }
            for (int k = 0; k < 3; k++) {
                cq_kern_set_isa(isas[k]);
                memset(got, 0xff, (size_t)ny * 4);
                assert_int_equal(cq_binary_f32((cq_binop)op, cases[ci].an, cases[ci].as, a,
                                               cases[ci].bn, cases[ci].bs, b, got, (size_t)ny,
                                               &err), CQ_OK);
                if (kt_mismatch(got, want, ny, 1) >= 0)
                    fail_msg("binary case %zu op %d isa %s", ci, op, cq_isa_name(isas[k]));
            }
            memset(got, 0xff, (size_t)ny * 4);
            assert_int_equal(cq_binary_f32_ref((cq_binop)op, cases[ci].an, cases[ci].as, a,
                                               cases[ci].bn, cases[ci].bs, b, got, (size_t)ny,
                                               &err), CQ_OK);
            assert_int_equal(kt_mismatch(got, want, ny, 1), -1);
        }
        free(a);
        free(b);
        free(want);
        free(got);
    }
    cq_kern_set_isa(CQ_ISA_COUNT);
    int64_t s1[2] = {3, 4}, s2[2] = {2, 4};
    float z[12] = {0};
    assert_int_equal(cq_binary_f32(CQ_BIN_ADD, 2, s1, z, 2, s2, z, z, 12, &err), CQ_EINVAL);
    assert_non_null(strstr(err.msg, "dimension 0 is 3 in one operand and 2 in the other"));
    assert_int_equal(cq_binary_f32(CQ_BIN_ADD, 2, s1, z, 1, s2 + 1, z, z, 11, &err), CQ_EINVAL);
    assert_non_null(strstr(err.msg, "output has 11 elements"));
}

/* cq_binary_chan_blocked_f32 on NCHW16c against cq_binary_f32 on NCHW (the
 * per-channel operand second), bit for bit: one value, one per channel, one
 * per image and channel; every op, ISA and 1-3 threads; in place too. */
static void test_kern_elt_binary_chan_blocked(void **state)
{
    (void)state;
    kt_rng r = {77};
    cq_err err;
    cq_isa isas[] = KT_ISAS;
    for (int trial = 0; trial < 24; trial++) {
        /* every fourth trial large enough to be shared out over the threads
         * (cq__mem_shares: 64 KB a share, checked below) */
        int big = trial % 4 == 3;
        int64_t n = big ? 2 : kt_int(&r, 1, 3), c = 16 * kt_int(&r, big ? 2 : 1, 5);
        int64_t hw = big ? kt_int(&r, 300, 800) : kt_int(&r, 1, 60);
        int64_t counts[3] = {1, c, n * c}, cnt = counts[trial % 3];
        int64_t xs[4] = {n, c, hw, 1}, ss[4] = {trial % 3 == 2 ? n : 1, c, 1, 1};
        int64_t total = n * c * hw;
        float *x = malloc((size_t)total * 4), *xb = malloc((size_t)total * 4);
        float *want = malloc((size_t)total * 4), *wantb = malloc((size_t)total * 4);
        float *got = malloc((size_t)total * 4), *s = malloc((size_t)(n * c) * 4);
        kt_fill(&r, x, total);
        kt_fill(&r, s, n * c);
        cq_binop op = (cq_binop)(trial % CQ_BIN_COUNT);
        assert_int_equal(cq_binary_f32(op, 4, xs, x, cnt == 1 ? 0 : 4, ss, s, want,
                                       (size_t)total, &err),
                         CQ_OK);
        cq_to_blocked_f32(want, n, c, hw, wantb);
        cq_to_blocked_f32(x, n, c, hw, xb);
        for (int k = 0; k < 3; k++)
            for (int th = 1; th <= 3; th++) {
                cq_kern_set_isa(isas[k]);
                cq_kern_set_threads(th);
                if (big && th > 1)
                    assert_true(cq__mem_shares(n * c / 16, 8.0 * (double)total) > 1);
                memset(got, 0xff, (size_t)total * 4);
                assert_int_equal(
                    cq_binary_chan_blocked_f32(op, n, c, hw, xb, s, cnt, got, &err), CQ_OK);
                if (memcmp(got, wantb, (size_t)total * 4))
                    fail_msg("trial %d op %d count %lld isa %s threads %d", trial, (int)op,
                             (long long)cnt, cq_isa_name(isas[k]), th);
            }
        memcpy(got, xb, (size_t)total * 4);
        assert_int_equal(cq_binary_chan_blocked_f32(op, n, c, hw, got, s, cnt, got, &err), CQ_OK);
        assert_memory_equal(got, wantb, (size_t)total * 4);
        free(x);
        free(xb);
        free(want);
        free(wantb);
        free(got);
        free(s);
    }
    cq_kern_set_threads(1);
    cq_kern_set_isa(CQ_ISA_COUNT);
    float z[32] = {0};
    assert_int_equal(cq_binary_chan_blocked_f32(CQ_BIN_MUL, 1, 24, 1, z, z, 24, z, &err),
                     CQ_EINVAL);
    assert_non_null(strstr(err.msg, "a multiple of 16"));
    assert_int_equal(cq_binary_chan_blocked_f32(CQ_BIN_MUL, 2, 16, 1, z, z, 8, z, &err),
                     CQ_EINVAL);
}

static double unary_naive(cq_unop op, double a, double b, double x)
{
    switch (op) {
    case CQ_UN_RELU:
        return x > 0 ? x : 0;
    case CQ_UN_LEAKY_RELU:
        return x >= 0 ? x : a * x;
    case CQ_UN_CLIP:
        return fmin(fmax(x, a), b);
    case CQ_UN_SIGMOID:
        return 1 / (1 + exp(-x));
    case CQ_UN_TANH:
        return tanh(x);
    case CQ_UN_HARDSIGMOID:
        return fmax(0, fmin(1, a * x + b));
    case CQ_UN_HARDSWISH:
        return x * fmin(fmax(x + 3, 0), 6) / 6;
    case CQ_UN_EXP:
        return exp(x);
    case CQ_UN_ERF:
        return erf(x);
    case CQ_UN_GELU:
        return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    case CQ_UN_GELU_TANH:
        return 0.5 * x * (1 + tanh(0.79788456080286536 * (x + 0.044715 * x * x * x)));
    case CQ_UN_SILU:
        return x / (1 + exp(-x));
    default:
        return NAN;
    }
}

/* Calls long enough to be shared out over the kernel threads (rows of the
 * broadcast, or 16-float lines of one row, cq__mem_shares): at 2 and 3
 * threads the bits of 1 thread, and the reference's values, on every ISA. */
static void test_kern_elt_binary_threads(void **state)
{
    (void)state;
    kt_rng r = {77};
    cq_err err;
    static const struct {
        int an, bn;
        int64_t as[4], bs[4];
    } cases[] = {
        {4, 4, {1, 96, 56, 57}, {1, 96, 1, 1}}, /* the squeeze-excite scale: rows */
        {2, 2, {1, 70001}, {1, 70001}},         /* one row, lines; the last one short */
        {1, 0, {50003}, {0}},                   /* a scalar operand */
        {3, 3, {2, 9001, 3}, {2, 1, 3}},        /* short rows, many */
        {2, 2, {3, 30011}, {3, 30011}},         /* fewer rows than 16-float lines */
    };
    cq_isa isas[] = KT_ISAS;
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        int yn;
        int64_t ys[CQ_MAX_DIMS], na = 1, nb = 1, ny = 1;
        assert_int_equal(cq_broadcast_shape(cases[ci].an, cases[ci].as, cases[ci].bn,
                                            cases[ci].bs, &yn, ys, &err), CQ_OK);
        for (int i = 0; i < cases[ci].an; i++)
            na *= cases[ci].as[i];
        for (int i = 0; i < cases[ci].bn; i++)
            nb *= cases[ci].bs[i];
        for (int i = 0; i < yn; i++)
            ny *= ys[i];
        float *a = malloc((size_t)na * 4), *b = malloc((size_t)nb * 4);
        float *want = malloc((size_t)ny * 4), *one = malloc((size_t)ny * 4);
        float *got = malloc((size_t)ny * 4);
        kt_fill(&r, a, na);
        kt_fill(&r, b, nb);
        for (int op = 0; op < CQ_BIN_COUNT; op++) {
            assert_int_equal(cq_binary_f32_ref((cq_binop)op, cases[ci].an, cases[ci].as, a,
                                               cases[ci].bn, cases[ci].bs, b, want, (size_t)ny,
                                               &err), CQ_OK);
            for (int k = 0; k < 3; k++)
                for (int th = 1; th <= 3; th++) {
                    cq_kern_set_isa(isas[k]);
                    cq_kern_set_threads(th);
                    float *y = th == 1 ? one : got;
                    memset(y, 0xff, (size_t)ny * 4);
                    assert_int_equal(cq_binary_f32((cq_binop)op, cases[ci].an, cases[ci].as, a,
                                                   cases[ci].bn, cases[ci].bs, b, y, (size_t)ny,
                                                   &err), CQ_OK);
                    if (kt_mismatch(y, want, ny, 1) >= 0 ||
                        (th > 1 && memcmp(y, one, (size_t)ny * 4)))
                        fail_msg("binary case %zu op %d isa %s threads %d", ci, op,
                                 cq_isa_name(isas[k]), th);
                }
        }
        cq_kern_set_threads(1);
        cq_kern_set_isa(CQ_ISA_COUNT);
        free(a);
        free(b);
        free(want);
        free(one);
        free(got);
    }
}

/* NCHW <-> NCHW16c and the activation pass over 2 and 3 kernel threads
 * (16-channel blocks, 16-float lines): the layout by its definition, the
 * activation with the bits of 1 thread. */
static void test_kern_elt_layout_threads(void **state)
{
    (void)state;
    kt_rng r = {515};
    int64_t n = 2, c = 48, hw = 37 * 41, count = n * c * hw;
    float *x = malloc((size_t)count * 4), *b = malloc((size_t)count * 4);
    float *back = malloc((size_t)count * 4), *one = malloc((size_t)count * 4);
    kt_fill(&r, x, count);
    cq_act act = {CQ_ACT_CLIP, -0.25f, 0.5f};
    for (int th = 1; th <= 3; th++) {
        cq_kern_set_threads(th);
        cq_to_blocked_f32(x, n, c, hw, b);
        for (int64_t i = 0; i < count; i++) {
            int64_t img = i / (c * hw), ch = i / hw % c, px = i % hw;
            int64_t at = ((img * (c / 16) + ch / 16) * hw + px) * 16 + ch % 16;
            if (b[at] != x[i])
                fail_msg("to_blocked threads %d: element %lld misplaced", th, (long long)i);
        }
        cq_from_blocked_f32(b, n, c, hw, back);
        assert_memory_equal(back, x, (size_t)count * 4);
        memcpy(back, x, (size_t)count * 4);
        cq_act_apply_f32(act, back, count - 5); /* a tail shorter than a line */
        if (th == 1)
            memcpy(one, back, (size_t)count * 4);
        else
            assert_memory_equal(back, one, (size_t)count * 4);
        assert_true(back[count - 1] == x[count - 1]);
    }
    cq_kern_set_threads(1);
    free(x);
    free(b);
    free(back);
    free(one);
}

static void test_kern_elt_unary(void **state)
{
    (void)state;
    kt_rng r = {11};
    enum { N = 1003 };
    float x[N], want[N], got[N];
    for (int i = 0; i < N; i++)
        x[i] = kt_f(&r) * 12.0f;
    /* values where the approximations are weakest */
    float special[] = {0.0f, -0.0f, 1e-6f, -1e-6f, 3e-4f, 0.5f, -3.0f, 3.0f, 20.0f, -20.0f,
                       87.0f, -87.0f, -100.0f, 60.0f, -60.0f, 0.999f, 1.0f, -1.0f, 1.001f,
                       -0.9999f, 2.5f, -4.0f, 9.0f, -9.0f, 1e-30f, 1e30f, -1e30f};
    memcpy(x, special, sizeof special);
    cq_isa isas[] = KT_ISAS;
    for (int op = 0; op < CQ_UN_COUNT; op++) {
        float a = op == CQ_UN_CLIP ? -0.7f : 0.2f, b = op == CQ_UN_CLIP ? 1.5f : 0.5f;
        for (int i = 0; i < N; i++)
            want[i] = (float)unary_naive((cq_unop)op, a, b, x[i]);
        for (int k = 0; k < 3; k++) {
            cq_kern_set_isa(isas[k]);
            for (int n = 0; n <= 40; n += 13) { /* several tails */
                memset(got, 0xff, sizeof got);
                cq_unary_f32((cq_unop)op, a, b, x, got, N - n);
                int64_t bad = kt_mismatch(got, want, N - n, 1);
                if (bad >= 0)
                    fail_msg("unary op %d isa %s x %g: %g, want %g", op, cq_isa_name(isas[k]),
                             (double)x[bad], (double)got[bad], (double)want[bad]);
            }
        }
        cq_unary_f32_ref((cq_unop)op, a, b, x, got, N);
        assert_int_equal(kt_mismatch(got, want, N, 1), -1);
    }
    /* long calls split over two kernel threads, the share ends inside a line */
    {
        enum { L = (1 << 16) + 37 };
        float *lx = malloc(L * 4), *ly = malloc(L * 4), *lw = malloc(L * 4);
        for (int i = 0; i < L; i++)
            lx[i] = x[i % N];
        cq_unary_f32_ref(CQ_UN_SILU, 0, 0, lx, lw, L);
        cq_kern_set_threads(2);
        cq_unary_f32(CQ_UN_SILU, 0, 0, lx, ly, L);
        cq_kern_set_threads(1);
        assert_int_equal(kt_mismatch(ly, lw, L, 1), -1);
        free(lx);
        free(ly);
        free(lw);
    }
    /* in place */
    memcpy(got, x, sizeof x);
    cq_unary_f32(CQ_UN_SIGMOID, 0, 0, got, got, N);
    for (int i = 0; i < N; i++)
        want[i] = (float)unary_naive(CQ_UN_SIGMOID, 0, 0, x[i]);
    assert_int_equal(kt_mismatch(got, want, N, 1), -1);
    cq_kern_set_isa(CQ_ISA_COUNT);
}

static void test_kern_elt_act_apply(void **state)
{
    (void)state;
    kt_rng r = {12};
    enum { N = 77 };
    float x[N], want[N], got[N];
    kt_fill(&r, x, N);
    for (int i = 0; i < N; i++)
        x[i] *= 5.0f;
    cq_isa isas[] = KT_ISAS;
    cq_act acts[] = {{CQ_ACT_NONE, 0, 0},        {CQ_ACT_RELU, 0, 0},
                     {CQ_ACT_CLIP, 0.0f, 6.0f},  {CQ_ACT_LEAKY, 0.1f, 0},
                     {CQ_ACT_HARDSWISH, 0, 0},   {CQ_ACT_SIGMOID, 0, 0},
                     {CQ_ACT_SILU, 0, 0},        {CQ_ACT_HARDSIGMOID, 0.2f, 0.5f},
                     {CQ_ACT_TANH, 0, 0}};
    assert_int_equal(sizeof acts / sizeof acts[0], CQ_ACT_COUNT);
    x[0] = 0.0f, x[1] = -100.0f, x[2] = 100.0f, x[3] = 1e-6f, x[4] = -89.0f, x[5] = 88.5f;
    for (size_t ai = 0; ai < sizeof acts / sizeof acts[0]; ai++) {
        cq_act a = acts[ai];
        for (int i = 0; i < N; i++) {
            double v = x[i], w = v;
            switch (a.kind) {
            case CQ_ACT_RELU: w = fmax(v, 0); break;
            case CQ_ACT_CLIP: w = fmin(fmax(v, a.a), a.b); break;
            case CQ_ACT_LEAKY: w = v >= 0 ? v : a.a * v; break;
            case CQ_ACT_HARDSWISH: w = v * fmin(fmax(v + 3, 0), 6) / 6; break;
            case CQ_ACT_SIGMOID: w = 1 / (1 + exp(-v)); break;
            case CQ_ACT_SILU: w = v / (1 + exp(-v)); break;
            case CQ_ACT_HARDSIGMOID: w = fmax(0, fmin(1, a.a * v + a.b)); break;
            case CQ_ACT_TANH: w = tanh(v); break;
            default: break;
            }
            want[i] = (float)w;
        }
        for (int k = 0; k < 3; k++) {
            cq_kern_set_isa(isas[k]);
            memcpy(got, x, sizeof x);
            cq_act_apply_f32(a, got, N);
            assert_int_equal(kt_mismatch(got, want, N, 1), -1);
        }
    }
    cq_kern_set_isa(CQ_ISA_COUNT);
}

static void test_kern_elt_softmax(void **state)
{
    (void)state;
    kt_rng r = {13};
    int64_t shapes[][2] = {{1, 1}, {3, 10}, {4, 1000}, {2, 37}, {5, 17}};
    cq_isa isas[] = KT_ISAS;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t rows = shapes[s][0], cols = shapes[s][1], n = rows * cols;
        float *x = malloc((size_t)n * 4), *want = malloc((size_t)n * 4);
        float *got = malloc((size_t)n * 4);
        for (int64_t i = 0; i < n; i++)
            x[i] = kt_f(&r) * 30.0f; /* large logits: the max shift matters */
        for (int64_t i = 0; i < rows; i++) {
            double m = -INFINITY, sum = 0;
            for (int64_t j = 0; j < cols; j++)
                m = fmax(m, x[i * cols + j]);
            for (int64_t j = 0; j < cols; j++)
                sum += exp(x[i * cols + j] - m);
            for (int64_t j = 0; j < cols; j++)
                want[i * cols + j] = (float)(exp(x[i * cols + j] - m) / sum);
        }
        for (int k = 0; k < 3; k++) {
            cq_kern_set_isa(isas[k]);
            cq_softmax_f32(rows, cols, x, got);
            assert_int_equal(kt_mismatch(got, want, n, 1), -1);
            memcpy(got, x, (size_t)n * 4);
            cq_softmax_f32(rows, cols, got, got); /* in place */
            assert_int_equal(kt_mismatch(got, want, n, 1), -1);
        }
        cq_softmax_f32_ref(rows, cols, x, got);
        assert_int_equal(kt_mismatch(got, want, n, 1), -1);
        free(x);
        free(want);
        free(got);
    }
    cq_kern_set_isa(CQ_ISA_COUNT);
}

/* cq_concat_nhwc_8 against per-pixel copies: 1 to 4 inputs, channel counts
 * taking each of its moves (16-byte, 8-byte, any), small and 64 KB+ sizes
 * (shared out over the threads) at 1 to 3 threads, nothing written past y. */
static void test_kern_elt_concat_nhwc_8(void **state)
{
    (void)state;
    kt_rng r = {0x5851f42d4c957f2dull};
    static const int64_t chans[] = {16, 32, 8, 24, 3, 1, 144, 64, 5, 48};
    for (int t = 0; t < 60; t++) {
        int n_in = (int)kt_int(&r, 1, 4);
        int64_t pix = t % 3 == 0 ? kt_int(&r, 3000, 9000) : kt_int(&r, 1, 40), c[4], yc = 0;
        const uint8_t *x[4];
        uint8_t *xb[4];
        for (int i = 0; i < n_in; i++) {
            c[i] = chans[kt_int(&r, 0, 9)];
            yc += c[i];
            xb[i] = malloc((size_t)(pix * c[i]));
            for (int64_t b = 0; b < pix * c[i]; b++)
                xb[i][b] = (uint8_t)kt_u32(&r);
            x[i] = xb[i];
        }
        size_t ny = (size_t)(pix * yc);
        uint8_t *want = malloc(ny + 64), *got = malloc(ny + 64);
        memset(want, 0xcd, ny + 64);
        for (int i = 0, off = 0; i < n_in; off += (int)c[i], i++)
            for (int64_t q = 0; q < pix; q++)
                for (int64_t b = 0; b < c[i]; b++)
                    want[q * yc + off + b] = x[i][q * c[i] + b];
        for (int th = 1; th <= 3; th++) {
            cq_kern_set_threads(th);
            memset(got, 0xcd, ny + 64);
            cq_concat_nhwc_8(n_in, x, c, pix, got);
            if (memcmp(got, want, ny + 64))
                fail_msg("concat_nhwc_8 case %d (%d inputs, %lld pixels, %d threads) differs",
                         t, n_in, (long long)pix, th);
        }
        cq_kern_set_threads(1);
        for (int i = 0; i < n_in; i++)
            free(xb[i]);
        free(want);
        free(got);
    }
}

/* cq_copy_strided against its odometer on random boxes: negative, zero
 * (repeat) and permuted strides, offsets into larger buffers, element sizes
 * 1, 2, 4 and 8; large boxes at 1, 2 and 3 threads. */
static void test_kern_elt_copy_strided(void **state)
{
    (void)state;
    kt_rng r = {21};
    enum { BUF = 1 << 14 };
    unsigned char *src = malloc(BUF), *got = malloc(BUF), *want = malloc(BUF);
    for (int i = 0; i < BUF; i++)
        src[i] = (unsigned char)kt_int(&r, 0, 255);
    size_t sizes[] = {1, 2, 4, 8};
    int ran = 0;
    for (int t = 0; t < 400; t++) {
        size_t es = sizes[t % 4];
        int nd = (int)kt_int(&r, 0, 5);
        int64_t shape[CQ_MAX_DIMS], ss[CQ_MAX_DIMS], ds[CQ_MAX_DIMS], n = 1;
        for (int d = 0; d < nd; d++) {
            shape[d] = kt_int(&r, 1, 6);
            n *= shape[d];
        }
        /* dst: a permutation of the dense strides, sometimes padded */
        int perm[CQ_MAX_DIMS];
        for (int d = 0; d < nd; d++)
            perm[d] = d;
        if (t % 3 == 0)
            for (int d = nd - 1; d > 0; d--) {
                int j = (int)kt_int(&r, 0, d), tmp = perm[d];
                perm[d] = perm[j];
                perm[j] = tmp;
            }
        int64_t st = 1 + (t % 5 == 0);
        for (int d = nd - 1; d >= 0; d--) {
            ds[perm[d]] = st;
            st *= shape[perm[d]] + (t % 7 == 0);
        }
        /* src: dense, stepped, reversed or repeated per dim */
        int64_t s = 1, base = 0;
        for (int d = nd - 1; d >= 0; d--) {
            int kind = (int)kt_int(&r, 0, 3);
            ss[d] = kind == 0 ? s : kind == 1 ? 2 * s : kind == 2 ? -s : 0;
            if (ss[d] < 0)
                base += (shape[d] - 1) * s;
            s *= 2 * shape[d];
        }
        if ((size_t)(s + base) * es > BUF || (size_t)st * es > BUF)
            continue;
        ran++;
        memset(got, 0xab, BUF);
        memset(want, 0xab, BUF);
        cq_copy_strided(es, nd, shape, src + base * (int64_t)es, ss, got, ds);
        cq_copy_strided_ref(es, nd, shape, src + base * (int64_t)es, ss, want, ds);
        if (memcmp(got, want, BUF))
            fail_msg("copy_strided case %d (nd %d, es %zu, n %lld) differs", t, nd, es,
                     (long long)n);
    }
    assert_true(ran >= 200);
    /* boxes of 64 KB and more, shared out over 2 and 3 kernel threads (rows,
     * or 64-byte lines / element ranges of a single row): the odometer's
     * bytes. Single rows contiguous and stepped, then random boxes. */
    enum { BIG = 1 << 22 };
    unsigned char *bsrc = malloc(BIG), *bgot = malloc(BIG), *bwant = malloc(BIG);
    for (int i = 0; i < BIG; i++)
        bsrc[i] = (unsigned char)kt_int(&r, 0, 255);
    int big = 0;
    for (int t = 0; t < 60; t++) {
        size_t es = sizes[t % 4];
        int nd = t < 8 ? 1 : (int)kt_int(&r, 2, 4);
        int64_t shape[CQ_MAX_DIMS], ss[CQ_MAX_DIMS], ds[CQ_MAX_DIMS], n = 1;
        for (int d = 0; d < nd; d++) {
            shape[d] = nd == 1 ? kt_int(&r, 40000, 400000) / (int64_t)es : kt_int(&r, 1, 90);
            n *= shape[d];
        }
        int64_t st = 1, s = 1;
        for (int d = nd - 1; d >= 0; d--) {
            ds[d] = st;
            st *= shape[d] + (t % 5 == 0);
            ss[d] = t % 2 || (t < 8 && t % 4 == 0) ? s : 2 * s;
            s *= 2 * shape[d];
        }
        if (n * (int64_t)es < 70000 || (size_t)s * es > BIG || (size_t)st * es > BIG)
            continue;
        big++;
        memset(bwant, 0xab, BIG);
        cq_copy_strided_ref(es, nd, shape, bsrc, ss, bwant, ds);
        for (int th = 1; th <= 3; th++) {
            cq_kern_set_threads(th);
            memset(bgot, 0xab, BIG);
            cq_copy_strided(es, nd, shape, bsrc, ss, bgot, ds);
            if (memcmp(bgot, bwant, BIG))
                fail_msg("copy_strided big case %d (nd %d, es %zu, n %lld) threads %d differs",
                         t, nd, es, (long long)n, th);
        }
        cq_kern_set_threads(1);
    }
    assert_true(big >= 20);
    free(bsrc);
    free(bgot);
    free(bwant);
    /* a fill of each size */
    for (int k = 0; k < 4; k++) {
        uint64_t v = 0x0102030405060708ull;
        cq_fill(sizes[k], &v, got, 37);
        for (int i = 0; i < 37; i++)
            assert_memory_equal(got + i * sizes[k], &v, sizes[k]);
    }
    free(src);
    free(got);
    free(want);
}

static void test_kern_elt_layernorm(void **state)
{
    (void)state;
    kt_rng r = {22};
    int64_t shapes[][2] = {{1, 1}, {3, 7}, {4, 16}, {2, 33}, {5, 768}, {1, 1001}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        int64_t rows = shapes[k][0], cols = shapes[k][1], n = rows * cols;
        float *x = malloc((size_t)n * 4), *y = malloc((size_t)n * 4), *w = malloc((size_t)n * 4);
        float *sc = malloc((size_t)cols * 4), *bi = malloc((size_t)cols * 4);
        float m[8], iv[8], mw[8], ivw[8];
        kt_fill(&r, x, n);
        for (int64_t i = 0; i < n; i++)
            x[i] = x[i] * 3.0f + 100.0f; /* an offset: the mean must come out first */
        kt_fill(&r, sc, cols);
        kt_fill(&r, bi, cols);
        for (int b = 0; b < 2; b++) {
            cq_layernorm_f32_ref(rows, cols, x, sc, b ? bi : NULL, 1e-5f, w, mw, ivw);
            cq_layernorm_f32(rows, cols, x, sc, b ? bi : NULL, 1e-5f, y, m, iv);
            assert_int_equal(kt_mismatch(y, w, n, 1), -1);
            assert_int_equal(kt_mismatch(m, mw, rows, 1), -1);
            assert_int_equal(kt_mismatch(iv, ivw, rows, 1), -1);
            memcpy(y, x, (size_t)n * 4); /* in place */
            cq_layernorm_f32(rows, cols, y, sc, b ? bi : NULL, 1e-5f, y, NULL, NULL);
            assert_int_equal(kt_mismatch(y, w, n, 1), -1);
        }
        free(x);
        free(y);
        free(w);
        free(sc);
        free(bi);
    }
}

static void test_kern_elt_lerp(void **state)
{
    (void)state;
    kt_rng r = {23};
    enum { N = 203 };
    float a[N], b[N], want[N], got[N];
    kt_fill(&r, a, N);
    kt_fill(&r, b, N);
    a[0] = 3e38f, b[0] = -3e38f; /* no intermediate overflow with weights < 1 */
    for (int i = 0; i < N; i++)
        want[i] = (float)(0.3 * a[i] + 0.7 * (double)b[i]);
    cq_isa isas[] = KT_ISAS;
    for (int k = 0; k < 3; k++) {
        cq_kern_set_isa(isas[k]);
        for (int n = N - 20; n <= N; n += 7) {
            memset(got, 0, sizeof got);
            cq_lerp_f32(a, b, 0.3f, 0.7f, got, n);
            assert_int_equal(kt_mismatch(got, want, n, 1), -1);
        }
        memcpy(got, a, sizeof a); /* in place */
        cq_lerp_f32(got, b, 0.3f, 0.7f, got, N);
        assert_int_equal(kt_mismatch(got, want, N, 1), -1);
    }
    cq_lerp_f32_ref(a, b, 0.3f, 0.7f, got, N);
    assert_int_equal(kt_mismatch(got, want, N, 1), -1);
    cq_kern_set_isa(CQ_ISA_COUNT);
}

static void test_kern_elt_isa_select(void **state)
{
    (void)state;
    assert_int_equal(cq_kern_set_isa(CQ_ISA_SCALAR), CQ_ISA_SCALAR);
    assert_string_equal(cq_isa_name(cq_kern_isa()), "scalar");
    /* never above the CPU */
    cq_isa best = cq_kern_set_isa(CQ_ISA_AVX512);
    assert_true(best <= CQ_ISA_AVX512);
    assert_int_equal(cq_kern_set_isa(CQ_ISA_COUNT), best);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kern_elt_binary_broadcast),
        cmocka_unit_test(test_kern_elt_binary_threads),
        cmocka_unit_test(test_kern_elt_binary_chan_blocked),
        cmocka_unit_test(test_kern_elt_layout_threads),
        cmocka_unit_test(test_kern_elt_unary),
        cmocka_unit_test(test_kern_elt_act_apply),
        cmocka_unit_test(test_kern_elt_softmax),
        cmocka_unit_test(test_kern_elt_concat_nhwc_8),
        cmocka_unit_test(test_kern_elt_copy_strided),
        cmocka_unit_test(test_kern_elt_layernorm),
        cmocka_unit_test(test_kern_elt_lerp),
        cmocka_unit_test(test_kern_elt_isa_select),
    };
    return cmocka_run_group_tests_name("kern_elt", tests, NULL, NULL);
}
