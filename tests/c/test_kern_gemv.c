/* test_kern_gemv.c - Gemm with one row or one column (calq's AVX-512 gemv,
 * OpenBLAS sgemv) against cq_gemm_f32_ref, for every ISA. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include <cblas.h>

#include "kern_testutil.h"

/* One row or one column (the classifiers): calq's AVX-512 gemv and OpenBLAS
 * sgemv, every ISA, 8-row blocks with row and k tails, 64-column blocks
 * with a masked tail, alpha and a broadcast C; at 2 threads (the larger
 * shapes shared out) the bits of 1 on AVX-512. */
static void test_kern_gemv_shapes(void **state)
{
    (void)state;
    kt_rng r = {2024};
    cq_err err;
    static const int64_t shapes[][3] = {/* m, n, k */
                                        {1, 1000, 1280}, {1, 1000, 512}, {1, 67, 45},
                                        {1, 9, 16},      {1, 200, 7},    {37, 1, 131},
                                        {130, 1, 33},    {1, 1, 100},    {1, 1003, 301},
                                        {1501, 1, 67}};
    cq_isa isas[] = KT_ISAS;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int tr = 0; tr < 4; tr++) {
            cq_gemm_params p = {shapes[si][0], shapes[si][1], shapes[si][2], tr & 1, tr >> 1,
                                tr == 2 ? 1.0f : 0.7f, tr == 1 ? 0.0f : 1.3f, 1,
                                shapes[si][1]};
            size_t na = (size_t)(p.m * p.k), nb = (size_t)(p.k * p.n), ny = (size_t)(p.m * p.n);
            float *a = malloc(na * 4), *b = malloc(nb * 4), *c = malloc((size_t)p.n * 4);
            float *want = malloc(ny * 4), *got = malloc(ny * 4), *one = malloc(ny * 4);
            kt_fill(&r, a, (int64_t)na);
            kt_fill(&r, b, (int64_t)nb);
            kt_fill(&r, c, p.n);
            assert_int_equal(cq_gemm_f32_ref(&p, a, b, c, want, &err), CQ_OK);
            for (size_t i = 0; i < 2 * sizeof isas / sizeof isas[0]; i++) {
                cq_kern_set_isa(isas[i / 2]);
                cq_kern_set_threads(1 + (int)(i % 2));
                memset(got, 0xff, ny * 4);
                assert_int_equal(cq_gemm_f32(&p, a, b, c, got, &err), CQ_OK);
                /* calq's gemv shares out blocks of outputs: 1 thread's bits */
                if (i % 2 == 0)
                    memcpy(one, got, ny * 4);
                if (kt_mismatch(got, want, (int64_t)ny, p.k) >= 0 ||
                    (i % 2 == 1 && isas[i / 2] == CQ_ISA_AVX512 && memcmp(got, one, ny * 4)))
                    fail_msg("gemv %s t%d m%lld n%lld k%lld ta%d tb%d", cq_isa_name(isas[i / 2]),
                             cq_kern_threads(), (long long)p.m, (long long)p.n, (long long)p.k,
                             p.trans_a, p.trans_b);
            }
            cq_kern_set_threads(1);
            cq_kern_set_isa(CQ_ISA_COUNT);
            free(a);
            free(b);
            free(c);
            free(want);
            free(got);
            free(one);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kern_gemv_shapes),
    };
    return cmocka_run_group_tests_name("kern_gemv", tests, NULL, NULL);
}
