/* probe_gemm.c - the probe's fp32 and bf16 GEMMs (kern.h's cq_gemm_f32,
 * kern_bgemm.h's plans) on a reference shape: the f32_gemm and bf16_gemm
 * classes of probe_kern.c. */
#include "cost/probe_internal.h"
#include "kern/kern.h"
#include "kern/kern_bgemm.h"

/* ---- fp32 GEMM ---- */

typedef struct gemm_ctx {
    cq_gemm_params p;
    float *a, *b, *y;
} gemm_ctx;

static cq_status gemm_run(void *c, cq_err *err)
{
    gemm_ctx *g = c;
    return cq_gemm_f32(&g->p, g->a, g->b, NULL, g->y, err);
}

double cq__probe_time_gemm(int64_t m, int64_t n, int64_t k, double ms, double *macs, cq_err *err)
{
    gemm_ctx g = {.p = {m, n, k, 0, 0, 1.0f, 0.0f, 1, 1}};
    g.a = cq_alloc((size_t)(m * k) * sizeof(float));
    g.b = cq_alloc((size_t)(k * n) * sizeof(float));
    g.y = cq_alloc((size_t)(m * n) * sizeof(float));
    double t = -1;
    if (g.a && g.b && g.y) {
        cq__probe_fill_f32(g.a, (size_t)(m * k), 1.0f);
        cq__probe_fill_f32(g.b, (size_t)(k * n), 0.1f);
        t = cq__probe_best_time(gemm_run, &g, ms, err);
        *macs = (double)m * (double)n * (double)k;
    } else {
        cq_errf(err, CQ_ENOMEM, "probe: no memory for the GEMM");
    }
    cq_free(g.a);
    cq_free(g.b);
    cq_free(g.y);
    return t;
}

/* ---- bf16 GEMM ---- */

typedef struct b_ctx {
    cq_bgemm_plan *pl;
    float *x, *y;
    void *scratch;
    size_t sn;
} b_ctx;

static cq_status b_run(void *ctx, cq_err *err)
{
    b_ctx *b = ctx;
    return cq_bgemm_run(b->pl, b->x, b->y, NULL, b->scratch, b->sn, err);
}

double cq__probe_time_bgemm(int64_t m, int64_t n, int64_t k, double ms, double *macs, int *amx,
                            cq_err *err)
{
    b_ctx b = {0};
    float *w = cq_alloc((size_t)(n * k) * sizeof(float));
    b.x = cq_alloc((size_t)(m * k) * sizeof(float));
    b.y = cq_alloc((size_t)(m * n) * sizeof(float));
    double t = -1;
    if (!w || !b.x || !b.y) {
        cq_errf(err, CQ_ENOMEM, "probe: no memory for the bf16 GEMM");
        goto out;
    }
    cq__probe_fill_f32(w, (size_t)(n * k), 0.1f);
    cq__probe_fill_f32(b.x, (size_t)(m * k), 1.0f);
    cq_bgemm_params p = cq_bgemm_params_default();
    p.m = m;
    p.n = n;
    p.k = k;
    b.pl = cq_bgemm_plan_new(&p, w, NULL, err);
    if (!b.pl)
        goto out;
    *amx = cq_bgemm_plan_amx(b.pl);
    b.sn = cq_bgemm_scratch_bytes(b.pl);
    b.scratch = b.sn ? cq_alloc(b.sn) : NULL;
    if (b.sn && !b.scratch) {
        cq_errf(err, CQ_ENOMEM, "probe: no memory for the bf16 GEMM's scratch");
        goto out;
    }
    t = cq__probe_best_time(b_run, &b, ms, err);
    *macs = (double)m * (double)n * (double)k;
out:
    cq_bgemm_plan_free(b.pl);
    cq_free(b.scratch);
    cq_free(w);
    cq_free(b.x);
    cq_free(b.y);
    return t;
}
