/* bench/bgemm.c - calq's bf16 GEMM (kern_bgemm.h), one thread, on the shapes
 * of bench/qgemm_common.h: x (m, k) f32 activations rounded to bf16 as they
 * are packed, w (n, k) packed bf16 weights, f32 out; next to it the f32 GEMM
 * on the same shape (cq_gemm_f32, A (m, k) times B^T), and the bf16 GEMM on
 * AMX-BF16 tiles where the CPU has them (0 where not). The first bf16
 * figure is the AVX512-BF16 path (AMX off while it is planned). Best of 5
 * slices of about `seconds` each. bench/bgemm.sh puts the figures against
 * the vdpbf16ps peak of bench/peak.c in the same run.
 *   bgemm [seconds] [--tsv]  (tsv: m n k bf16_gflops f32_gflops native amx_gflops) */
#include <stdio.h>

#include "qgemm_common.h"
#include "kern/kern_bgemm.h"

static double best_rate(double flop, double secs, cq_status (*run)(void *), void *ctx)
{
    int reps = 1;
    double t0 = now();
    run(ctx);
    double once = now() - t0;
    if (once > 0)
        reps = (int)(secs / once) + 1;
    double best = 1e30;
    for (int s = 0; s < 5; s++) {
        t0 = now();
        for (int r = 0; r < reps; r++)
            run(ctx);
        double t = (now() - t0) / reps;
        best = t < best ? t : best;
    }
    return flop / best * 1e-9;
}

typedef struct ctx {
    cq_bgemm_plan *pl;
    cq_gemm_params g;
    const float *x, *w;
    float *y;
    void *s;
    size_t sb;
} ctx;

static cq_status run_b(void *v)
{
    ctx *c = v;
    cq_err err;
    return cq_bgemm_run(c->pl, c->x, c->y, NULL, c->s, c->sb, &err);
}

static cq_status run_f(void *v)
{
    ctx *c = v;
    cq_err err;
    return cq_gemm_f32(&c->g, c->x, c->w, NULL, c->y, &err);
}

int main(int argc, char **argv)
{
    double secs = 0.3;
    int tsv;
    parse_args(argc, argv, &secs, &tsv);
    cq_kern_set_threads(1);
    if (!tsv)
        printf("bf16 GEMM, 1 thread, %s\n",
               cq_bgemm_native() ? "vdpbf16ps" : "fallback (no AVX512-BF16)");
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        int64_t m = shapes[si][0], n = shapes[si][1], k = shapes[si][2];
        float *x = cq_alloc((size_t)(m * k) * 4), *w = cq_alloc((size_t)(n * k) * 4);
        float *y = cq_alloc((size_t)(m * n) * 4);
        if (!x || !w || !y)
            return 1;
        for (int64_t i = 0; i < m * k; i++)
            x[i] = (float)((i * 7919) % 1000) * 1e-3f - 0.5f;
        for (int64_t i = 0; i < n * k; i++)
            w[i] = (float)((i * 104729) % 1000) * 1e-3f - 0.5f;
        cq_bgemm_params p = cq_bgemm_params_default();
        p.m = m;
        p.n = n;
        p.k = k;
        cq_err err;
        int amx = cq_kern_set_amx(0);
        ctx c = {cq_bgemm_plan_new(&p, w, NULL, &err), {m, n, k, 0, 1, 1.0f, 0.0f, 0, 0},
                 x, w, y, NULL, 0};
        cq_kern_set_amx(1);
        if (!c.pl) {
            fprintf(stderr, "bgemm: %s\n", err.msg);
            return 1;
        }
        c.sb = cq_bgemm_scratch_bytes(c.pl);
        c.s = cq_alloc(c.sb);
        double flop = 2.0 * (double)m * (double)n * (double)k;
        double gb = best_rate(flop, secs, run_b, &c), gf = best_rate(flop, secs, run_f, &c);
        double ga = 0;
        (void)amx;
        cq_bgemm_plan *pa = cq_bgemm_plan_new(&p, w, NULL, &err);
        if (pa && cq_bgemm_plan_amx(pa)) {
            ctx a = c;
            a.pl = pa;
            a.sb = cq_bgemm_scratch_bytes(pa);
            a.s = cq_alloc(a.sb);
            ga = best_rate(flop, secs, run_b, &a);
            cq_free(a.s);
        }
        cq_bgemm_plan_free(pa);
        if (tsv)
            printf("%lld\t%lld\t%lld\t%.1f\t%.1f\t%d\t%.1f\n", (long long)m, (long long)n,
                   (long long)k, gb, gf, cq_bgemm_native(), ga);
        else
            printf("%5lld x %5lld x %5lld  bf16 %7.1f GFLOP/s  f32 %7.1f GFLOP/s  (%.2fx)  "
                   "bf16 AMX %7.1f\n", (long long)m, (long long)n, (long long)k, gb, gf,
                   gb / gf, ga);
        cq_free(c.s);
        cq_bgemm_plan_free(c.pl);
        cq_free(x);
        cq_free(w);
        cq_free(y);
    }
    return 0;
}
