/* bench/qgemm.c - single-thread speed of calq's int8 GEMM (core/kern/kern_qgemm.h)
 * on the shapes, per ISA and output. Shapes are m x n x k in calq's
 * terms: x (m, k) u8 activations times the packed s8 weights w (n, k); the
 * conv-shaped ones are pixels x Cout x Cin*kh*kw (Cout 64, 3136 pixels, K 576;
 * Cout 256, 196 pixels, K 2304). A multiply-add counts as 2 operations. Each
 * figure is the best of 5 timings of BENCH_SECONDS / 5 of repeated runs.
 * Paths: "amx" (AVX-512 with AMX tiles, where cq_kern_amx() allows it),
 * "avx512" (VNNI, AMX off), "avx2"; BENCH_PATHS=amx,avx512 (say) runs only those.
 * Usage: qgemm [seconds] [--tsv]   (--tsv: "path out m n k GOP/s" lines) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kern/kern_qgemm.h"
#include "qgemm_common.h"

int main(int argc, char **argv)
{
    double secs = 0.5;
    int tsv;
    parse_args(argc, argv, &secs, &tsv);
    cq_kern_set_threads(1);
    cq_isa isas[] = {CQ_ISA_AVX512, CQ_ISA_AVX512, CQ_ISA_AVX2};
    int amxs[] = {1, 0, 0};
    const char *names[] = {"amx", "avx512", "avx2"};
    cq_dtype outs[] = {CQ_S32, CQ_U8};
    srand(1);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        uint8_t *x = cq_alloc((size_t)(m * k));
        int8_t *w = cq_alloc((size_t)(n * k));
        int32_t *bias = cq_alloc((size_t)n * 4);
        float *mult = cq_alloc((size_t)n * 4);
        void *y = cq_alloc((size_t)(m * n) * 4);
        for (int64_t i = 0; i < m * k; i++)
            x[i] = (uint8_t)(rand() & 255);
        for (int64_t i = 0; i < n * k; i++)
            w[i] = (int8_t)(rand() & 255);
        for (int64_t j = 0; j < n; j++) {
            bias[j] = rand() % 1000;
            mult[j] = 1e-5f;
        }
        for (size_t ii = 0; ii < sizeof isas / sizeof isas[0]; ii++) {
            const char *only = getenv("BENCH_PATHS");
            if ((only && !strstr(only, names[ii])) || cq_kern_set_isa(isas[ii]) != isas[ii] ||
                cq_kern_set_amx(amxs[ii]) != amxs[ii])
                continue;
            for (size_t oi = 0; oi < sizeof outs / sizeof outs[0]; oi++) {
                cq_qgemm_params p = cq_qgemm_params_default();
                p.m = m;
                p.n = n;
                p.k = k;
                p.x_zp = 3;
                p.y_dt = outs[oi];
                p.req = outs[oi] == CQ_S32 ? CQ_QREQ_NONE : CQ_QREQ_FLOAT;
                p.y_zp = 5;
                cq_err err;
                cq_qgemm_plan *pl = cq_qgemm_plan_new(&p, w, bias, mult, NULL, NULL, &err);
                if (!pl) {
                    fprintf(stderr, "qgemm: %s\n", err.msg);
                    return 1;
                }
                size_t sb = cq_qgemm_scratch_bytes(pl);
                void *scr = cq_alloc(sb ? sb : 1);
                double ops = 2.0 * (double)m * (double)n * (double)k, best = 1e30;
                cq_qgemm_run(pl, x, y, NULL, scr, sb, &err); /* warm up */
                for (int r = 0; r < 5; r++) {
                    long reps = 0;
                    double t0 = now(), t;
                    do {
                        cq_qgemm_run(pl, x, y, NULL, scr, sb, &err);
                        reps++;
                        t = now() - t0;
                    } while (t < secs / 5);
                    if (t / (double)reps < best)
                        best = t / (double)reps;
                }
                double g = ops / best * 1e-9;
                const char *on = outs[oi] == CQ_S32 ? "s32" : "u8";
                if (tsv)
                    printf("%s\t%s\t%lld\t%lld\t%lld\t%.1f\n", names[ii], on,
                           (long long)m, (long long)n, (long long)k, g);
                else
                    printf("%-7s %-4s m %5lld n %5lld k %5lld  %8.3f ms  %7.1f GOP/s\n",
                           names[ii], on, (long long)m, (long long)n, (long long)k,
                           best * 1e3, g);
                fflush(stdout);
                cq_free(scr);
                cq_qgemm_plan_free(pl);
            }
        }
        cq_free(x);
        cq_free(w);
        cq_free(bias);
        cq_free(mult);
        cq_free(y);
    }
    return 0;
}
