/* test_kern_bgemm.c - the bf16 GEMM (kern_bgemm.h): every path (the
 * fallback on scalar and AVX2, vdpbf16ps on AVX-512 where the CPU has
 * AVX512-BF16) against cq_bgemm_ref on random and odd shapes (m, n, k off the
 * tiles, odd k, several k blocks, row strides), AMX-BF16 tiles where the
 * CPU has them and with AMX off, both weight layouts, every
 * activation, residuals, one and two threads (the same bits); the rounding
 * against cq_f32_to_bf16; the reference against the f32 GEMM within bf16's
 * precision. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "kern_testutil.h"
#include "kern/kern_bgemm.h"

static float *falloc(int64_t n)
{
    float *p = cq_alloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    assert_non_null(p);
    return p;
}

/* |got - want| <= 1e-5 * sum_t |x w| (+ a denormal's worth): the paths agree
 * on the products and differ in the order of the f32 sums. */
static void check_close(const cq_bgemm_params *p, const float *w, const float *x,
                        const float *got, const float *want, const char *what)
{
    int64_t ldx = p->ldx ? p->ldx : p->k, ldy = p->ldy ? p->ldy : p->n;
    for (int64_t i = 0; i < p->m; i++)
        for (int64_t j = 0; j < p->n; j++) {
            double mag = 0;
            for (int64_t t = 0; t < p->k; t++)
                mag += fabs((double)x[i * ldx + t] *
                            (double)(p->w_kn ? w[t * p->n + j] : w[j * p->k + t]));
            double g = got[i * ldy + j], e = want[i * ldy + j];
            double tol = 1e-5 * (mag + fabs(e)) + 1e-30;
            if (!(fabs(g - e) <= tol)) {
                print_error("%s: m %lld n %lld k %lld, y[%lld][%lld] = %.9g, reference %.9g\n",
                            what, (long long)p->m, (long long)p->n, (long long)p->k,
                            (long long)i, (long long)j, g, e);
                fail();
            }
        }
}

/* Every ISA (and thread count) against the reference; bit-identical across
 * thread counts of one ISA. */
static void run_case(const cq_bgemm_params *p, kt_rng *r, int with_bias, int with_res)
{
    int64_t ldx = p->ldx ? p->ldx : p->k, ldy = p->ldy ? p->ldy : p->n;
    float *w = falloc(p->n * p->k), *bias = falloc(p->n), *x = falloc(p->m * ldx);
    float *res = falloc(p->m * ldy), *want = falloc(p->m * ldy), *got = falloc(p->m * ldy),
          *got1 = falloc(p->m * ldy);
    kt_fill(r, w, p->n * p->k);
    kt_fill(r, bias, p->n);
    kt_fill(r, x, p->m * ldx);
    kt_fill(r, res, p->m * ldy);
    cq_err err;
    const float *b = with_bias ? bias : NULL, *rs = with_res ? res : NULL;
    memset(want, 0, (size_t)(p->m * ldy) * sizeof(float));
    assert_int_equal(cq_bgemm_ref(p, w, b, x, want, rs, &err), CQ_OK);
    cq_isa isas[] = KT_ISAS;
    for (size_t ii = 0; ii < sizeof isas / sizeof isas[0]; ii++) {
        if (cq_kern_set_isa(isas[ii]) != isas[ii])
            continue;
        for (int amx = cq_kern_set_amx(1); amx >= 0; amx--)
        for (int th = 1; th <= 2; th++) {
            cq_kern_set_amx(amx);
            cq_kern_set_threads(th);
            cq_bgemm_plan *pl = cq_bgemm_plan_new(p, w, b, &err);
            assert_non_null(pl);
            assert_int_equal(cq_bgemm_plan_native(pl), cq_bgemm_native());
            size_t sb = cq_bgemm_scratch_bytes(pl);
            void *s = cq_alloc(sb);
            assert_non_null(s);
            float *y = th == 1 ? got1 : got;
            memcpy(y, want, (size_t)(p->m * ldy) * sizeof(float)); /* gaps between rows kept */
            assert_int_equal(cq_bgemm_run(pl, x, y, rs, s, sb, &err), CQ_OK);
            char what[96];
            snprintf(what, sizeof what, "%s, %d thread(s)%s", cq_isa_name(isas[ii]), th,
                     cq_bgemm_plan_amx(pl) ? ", AMX" : cq_bgemm_plan_native(pl) ? ", vdpbf16ps" : "");
            check_close(p, w, x, y, want, what);
            if (th == 2 && cq_bgemm_plan_native(pl))
                assert_memory_equal(got, got1, (size_t)(p->m * ldy) * sizeof(float));
            cq_free(s);
            cq_bgemm_plan_free(pl);
        }
        cq_kern_set_threads(1);
    }
    cq_kern_set_isa(CQ_ISA_COUNT);
    cq_kern_set_amx(1);
    cq_free(w);
    cq_free(bias);
    cq_free(x);
    cq_free(res);
    cq_free(want);
    cq_free(got);
    cq_free(got1);
}

static void test_kern_bgemm_random_shapes(void **state)
{
    (void)state;
    kt_rng r = {0x9e3779b97f4a7c15ull};
    for (int it = 0; it < 40; it++) {
        cq_bgemm_params p = cq_bgemm_params_default();
        p.m = kt_int(&r, 1, 140);
        p.n = kt_int(&r, 1, 300);
        p.k = it % 5 == 0 ? kt_int(&r, 257, 700) : kt_int(&r, 1, 90); /* several k blocks */
        p.w_kn = it % 2;
        p.act.kind = (cq_act_kind)(it % CQ_ACT_COUNT);
        p.act.a = p.act.kind == CQ_ACT_CLIP ? -0.5f : 0.1f;
        p.act.b = 0.75f;
        if (it % 3 == 1) {
            p.ldx = p.k + kt_int(&r, 0, 5);
            p.ldy = p.n + kt_int(&r, 0, 5);
        }
        run_case(&p, &r, it % 4 != 3, it % 2 == 0);
    }
}

/* The tile's edges: m around multiples of 6 and 96, n around 16, 64, 256. */
static void test_kern_bgemm_edges(void **state)
{
    (void)state;
    kt_rng r = {12345};
    int64_t ms[] = {1, 5, 6, 7, 95, 96, 97, 193};
    int64_t ns[] = {1, 15, 16, 17, 63, 64, 65, 255, 257};
    for (size_t a = 0; a < sizeof ms / sizeof ms[0]; a++)
        for (size_t b = 0; b < sizeof ns / sizeof ns[0]; b++) {
            cq_bgemm_params p = cq_bgemm_params_default();
            p.m = ms[a];
            p.n = ns[b];
            p.k = (int64_t)(1 + (a * 7 + b * 13) % 41);
            p.act.kind = CQ_ACT_RELU;
            run_case(&p, &r, 1, (a + b) % 2);
        }
}

static void test_kern_bgemm_rounding(void **state)
{
    (void)state;
    kt_rng r = {777};
    for (int i = 0; i < 100000; i++) {
        uint32_t u = kt_u32(&r) ^ (kt_u32(&r) << 21);
        float v;
        memcpy(&v, &u, 4);
        float got = cq_bgemm_round(v);
        if ((u & 0x7f800000u) == 0) { /* denormal or zero: signed zero */
            uint32_t g;
            memcpy(&g, &got, 4);
            assert_int_equal(g, u & 0x80000000u);
            continue;
        }
        if (isnan(v)) {
            assert_true(isnan(got));
            continue;
        }
        assert_true(got == cq_bf16_to_f32(cq_f32_to_bf16(v)));
    }
    /* ties to even, saturation to infinity */
    assert_true(cq_bgemm_round(1.0f + 1.0f / 256.0f) == 1.0f);
    assert_true(cq_bgemm_round(1.0f + 3.0f / 256.0f) == 1.0f + 4.0f / 256.0f);
    assert_true(isinf(cq_bgemm_round(3.4e38f)));
}

/* bf16 against f32: a relative error near bf16's 2^-8 per operand, averaged
 * down in long sums. */
static void test_kern_bgemm_vs_f32(void **state)
{
    (void)state;
    kt_rng r = {4242};
    cq_bgemm_params p = cq_bgemm_params_default();
    p.m = 50;
    p.n = 70;
    p.k = 300;
    float *w = falloc(p.n * p.k), *x = falloc(p.m * p.k), *y = falloc(p.m * p.n),
          *yf = falloc(p.m * p.n);
    kt_fill(&r, w, p.n * p.k);
    kt_fill(&r, x, p.m * p.k);
    cq_err err;
    assert_int_equal(cq_bgemm_ref(&p, w, NULL, x, y, NULL, &err), CQ_OK);
    cq_gemm_params g = {p.m, p.n, p.k, 0, 1, 1.0f, 0.0f, 0, 0};
    assert_int_equal(cq_gemm_f32_ref(&g, x, w, NULL, yf, &err), CQ_OK);
    double num = 0, den = 0;
    for (int64_t i = 0; i < p.m * p.n; i++) {
        num += (y[i] - yf[i]) * (double)(y[i] - yf[i]);
        den += (double)yf[i] * yf[i];
    }
    assert_true(sqrt(num / den) < 1e-2);
    assert_true(sqrt(num / den) > 1e-5); /* it did round */
    cq_free(w);
    cq_free(x);
    cq_free(y);
    cq_free(yf);
}

static void test_kern_bgemm_bad_params(void **state)
{
    (void)state;
    cq_err err;
    float w[4] = {1, 2, 3, 4};
    cq_bgemm_params p = cq_bgemm_params_default();
    p.m = 0;
    p.n = 2;
    p.k = 2;
    assert_null(cq_bgemm_plan_new(&p, w, NULL, &err));
    assert_int_equal(err.code, CQ_EINVAL);
    p.m = 2;
    p.ldx = 1;
    assert_null(cq_bgemm_plan_new(&p, w, NULL, &err));
    p.ldx = 0;
    assert_null(cq_bgemm_plan_new(&p, NULL, NULL, &err));
    cq_bgemm_plan *pl = cq_bgemm_plan_new(&p, w, NULL, &err);
    assert_non_null(pl);
    float x[4] = {1, 1, 1, 1}, y[4];
    assert_int_equal(cq_bgemm_run(pl, x, y, NULL, NULL, 0, &err), CQ_EINVAL);
    cq_bgemm_plan_free(pl);
    cq_bgemm_plan_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kern_bgemm_rounding),
        cmocka_unit_test(test_kern_bgemm_random_shapes),
        cmocka_unit_test(test_kern_bgemm_edges),
        cmocka_unit_test(test_kern_bgemm_vs_f32),
        cmocka_unit_test(test_kern_bgemm_bad_params),
    };
    return cmocka_run_group_tests_name("kern_bgemm", tests, NULL, NULL);
}
