/* test_numerics.c - what the executor does with NaN and infinities, denormals
 * and empty tensors (docs/reliability.md, "Numerics"). The observers' side
 * (NaN/Inf counted and skipped, constant tensors, scale never 0) is in
 * test_calib.c, the quantizer's (NaN/Inf quantized, the bias clamped and
 * counted) in test_kern_qelt.c and test_quant.c. */
#include "exec_testutil.h"

#include <float.h>
#include <immintrin.h>

#include "calib/observer.h"
#include "kern/kern.h"

/* MXCSR's flush-to-zero (bit 15) and denormals-are-zero (bit 6) bits; its
 * low 6 bits are the sticky exception flags, which arithmetic sets. */
#define CSR_FTZ_DAZ 0x8040u
#define CSR_FLAGS 0x3fu

static int same_bits(const float *a, const float *b, int64_t n)
{
    return memcmp(a, b, (size_t)n * sizeof *a) == 0;
}

/* A NaN or an infinity in one item of a batch stays in that item: the run
 * succeeds and the other items' outputs have the bits of a clean run. In
 * the item, NaN and the infinities propagate through Conv and Add as IEEE
 * arithmetic has it (Inf - Inf is NaN); Relu, fused or not, is max(x, 0)
 * with NaN giving 0 (what vmaxps(x, 0) and x > 0 ? x : 0 do), so after a
 * Relu the item is finite but for +Inf. At 1 and 2 kernel threads, on the
 * best instruction set and the scalar one. */
static void test_nonfinite_stay_in_their_item(void **state)
{
    (void)state;
    const int64_t xs[4] = {3, 8, 9, 9};
    cq_isa best = cq_kern_isa();
    for (int k = 0; k < 6; k++) {
        int threads = 1 + k % 2, relu = k / 2 % 2;
        cq_kern_set_isa(k < 4 ? best : CQ_ISA_SCALAR);
        cq_exec_opts o = {.threads = threads};
        cq_graph *g = residual_block(1, xs, 3, relu, 0);
        rng_state = 99;
        cq_tensor *x = rand_tensor(4, xs);
        cq_tensor *clean = run1(g, &o, x);
        float *p = cq_tensor_data(x);
        int64_t per = 8 * 9 * 9;
        p[per + 40] = NAN;
        p[per + 100] = INFINITY;
        p[per + 200] = -INFINITY;
        cq_tensor *dirty = run1(g, &o, x);
        const float *c = cq_tensor_data(clean), *d = cq_tensor_data(dirty);
        assert_true(same_bits(c, d, per));                   /* item 0 */
        assert_true(same_bits(c + 2 * per, d + 2 * per, per)); /* item 2 */
        int nan = 0;
        for (int64_t i = per; i < 2 * per; i++)
            nan += isnan(d[i]);
        if (relu)
            assert_int_equal(nan, 0);
        else
            assert_true(nan > 0);
        cq_tensor_release(clean);
        cq_tensor_release(dirty);
        cq_tensor_release(x);
        cq_graph_free(g);
    }
    cq_kern_set_isa(best);
}

/* Denormals: calq leaves the floating-point environment as the host set it
 * (no FTZ/DAZ: MXCSR is the same after a run) and the fp32 kernels compute
 * with denormal inputs and results instead of flushing them: a 1x1 Conv
 * (weight 0.5) and a Gemm of denormal inputs give the exact denormal
 * products. (The bf16 paths read f32 denormals as zero: kern_bgemm.h.) */
static void test_denormals_not_flushed(void **state)
{
    (void)state;
    cq_err err;
    unsigned csr = _mm_getcsr();
    assert_int_equal(csr & CSR_FTZ_DAZ, 0);
    const int64_t xs[4] = {1, 16, 4, 4}, ws[4] = {16, 16, 1, 1};
    for (int threads = 1; threads <= 2; threads++) {
        cq_graph *g = cq_graph_new(&err);
        set_opset(g, 13);
        add_io(g, "x", 4, xs, "y");
        cq_tensor *w = cq_tensor_empty(CQ_F32, 4, ws, &err);
        float *wp = cq_tensor_data(w);
        for (int i = 0; i < 16 * 16; i++)
            wp[i] = i % 17 == 0 ? 0.5f : 0.0f; /* the identity, halved */
        add_init(g, "w", w);
        node(g, "Conv", "conv", 2, (const char *[]){"x", "w"}, "y");
        cq_tensor *x = cq_tensor_empty(CQ_F32, 4, xs, &err);
        float *p = cq_tensor_data(x);
        for (int i = 0; i < 16 * 16; i++)
            p[i] = FLT_MIN * (float)(i % 7 + 1) / 8.0f; /* denormals (and FLT_MIN) */
        cq_exec_opts o = {.threads = threads};
        cq_tensor *y = run1(g, &o, x);
        const float *q = cq_tensor_data(y);
        int denormal = 0;
        for (int i = 0; i < 16 * 16; i++) {
            assert_true(q[i] == p[i] * 0.5f);
            denormal += q[i] != 0.0f && fabsf(q[i]) < FLT_MIN;
        }
        assert_true(denormal > 0);
        assert_int_equal(_mm_getcsr() & ~CSR_FLAGS, csr & ~CSR_FLAGS);
        cq_tensor_release(y);
        cq_tensor_release(x);
        cq_graph_free(g);
    }
}

/* Empty tensors: a batch of 0 items runs through Conv, Add and Relu and
 * gives a 0-item output of the right shape; an empty Gemm too. */
static void test_empty_batch(void **state)
{
    (void)state;
    cq_err err;
    const int64_t decl[4] = {-1, 8, 9, 9}, xs[4] = {0, 8, 9, 9};
    cq_graph *g = residual_block(0, decl, 3, 1, 0);
    cq_tensor *x = cq_tensor_empty(CQ_F32, 4, xs, &err);
    assert_non_null(x);
    cq_exec *e = cq_exec_new(g, NULL, &err);
    assert_non_null(e);
    cq_tensor *out[1];
    assert_int_equal(cq_exec_run(e, 1, &x, out, &err), CQ_OK);
    assert_int_equal(out[0]->ndim, 4);
    assert_int_equal(out[0]->shape[0], 0);
    assert_int_equal(out[0]->shape[1], 8);
    assert_int_equal(cq_tensor_numel(out[0]), 0);
    cq_tensor_release(out[0]);
    /* the same executor then runs a real batch */
    const int64_t one[4] = {1, 8, 9, 9};
    cq_tensor *x1 = rand_tensor(4, one);
    assert_int_equal(cq_exec_run(e, 1, &x1, out, &err), CQ_OK);
    assert_int_equal(out[0]->shape[0], 1);
    cq_tensor_release(out[0]);
    cq_tensor_release(x1);
    cq_exec_free(e);
    cq_tensor_release(x);
    cq_graph_free(g);

    /* Gemm: [0, 5] x [5, 3] */
    g = cq_graph_new(&err);
    set_opset(g, 13);
    const int64_t ad[2] = {-1, 5}, a0[2] = {0, 5}, bs[2] = {5, 3};
    add_io(g, "a", 2, ad, "y");
    add_init(g, "b", rand_tensor(2, bs));
    node(g, "Gemm", "gemm", 2, (const char *[]){"a", "b"}, "y");
    x = cq_tensor_empty(CQ_F32, 2, a0, &err);
    e = cq_exec_new(g, NULL, &err);
    assert_non_null(e);
    assert_int_equal(cq_exec_run(e, 1, &x, out, &err), CQ_OK);
    assert_int_equal(out[0]->shape[0], 0);
    assert_int_equal(out[0]->shape[1], 3);
    cq_tensor_release(out[0]);
    cq_exec_free(e);
    cq_tensor_release(x);
    cq_graph_free(g);
}

/* Weights with NaN or infinities: each channel's range leaves them out (the
 * scale is the one of its finite values, by min-max and by MSE); a channel
 * with no finite value is an error naming the problem, not a scale of NaN. */
static void test_weights_nonfinite(void **state)
{
    (void)state;
    float clean[2 * 8], dirty[2 * 8];
    for (int i = 0; i < 16; i++)
        clean[i] = dirty[i] = (float)(i % 8) * 0.25f - 0.9f;
    dirty[1] = NAN;
    dirty[9] = INFINITY;
    dirty[10] = -INFINITY;
    clean[1] = dirty[0]; /* the finite values are the same: drop 1, 9, 10 */
    clean[9] = clean[10] = dirty[8];
    for (int m = 0; m < 2; m++) {
        cq_calib_spec spec = {CQ_S8, 1, m ? CQ_CALIB_MSE : CQ_CALIB_MINMAX, 0, CQ_CALIB_ZERO_KEEP};
        cq_qparams a, b;
        cq_err err;
        assert_int_equal(cq_calib_weights(clean, 1, 2, 8, 0, &spec, &a, &err), CQ_OK);
        assert_int_equal(cq_calib_weights(dirty, 1, 2, 8, 0, &spec, &b, &err), CQ_OK);
        const float *sa = cq_tensor_data(a.scale), *sb = cq_tensor_data(b.scale);
        for (int c = 0; c < 2; c++) {
            assert_true(isfinite(sb[c]) && sb[c] > 0.0f);
            if (m == 0)
                assert_true(sa[c] == sb[c]);
        }
        cq_qparams_clear(&a);
        cq_qparams_clear(&b);
        float nan8[8] = {NAN, NAN, INFINITY, NAN, -INFINITY, NAN, NAN, NAN};
        assert_int_equal(cq_calib_weights(nan8, 1, 1, 8, 0, &spec, &a, &err), CQ_ESTATE);
        assert_true(strlen(err.msg) > 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nonfinite_stay_in_their_item),
        cmocka_unit_test(test_denormals_not_flushed),
        cmocka_unit_test(test_empty_batch),
        cmocka_unit_test(test_weights_nonfinite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
