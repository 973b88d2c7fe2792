/* kern_bgemm.c - the bf16 GEMM's plan, its scalar reference, the fallback
 * (fp32 GEMM on the rounded operands) and the run that splits the work over
 * threads (kern_bgemm.h); the AVX512-BF16 block kernel is in
 * x86/kern_bgemm_avx512.c. */
#include "kern/kern_bgemm_internal.h"
#include "kern/kern_internal.h"
#include "base/par.h"

#include <cblas.h>
#include <string.h>

cq_bgemm_params cq_bgemm_params_default(void)
{
    cq_bgemm_params p;
    memset(&p, 0, sizeof p);
    return p;
}

float cq_bgemm_round(float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    if ((u & 0x7f800000u) == 0) /* zero or denormal: signed zero */
        u &= 0x80000000u;
    else if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: quiet */
        u |= 0x00400000u;
    else
        u += 0x7fffu + ((u >> 16) & 1u);
    u &= 0xffff0000u;
    memcpy(&v, &u, 4);
    return v;
}

int cq_bgemm_native(void) { return cq_kern_isa() == CQ_ISA_AVX512 && cq__bf16_cpu(); }

static cq_status check_params(const cq_bgemm_params *p, cq_err *err)
{
    if (!p)
        return cq_errf(err, CQ_EINVAL, "bgemm: NULL parameters");
    if (p->m <= 0 || p->n <= 0 || p->k <= 0 || p->m > CQ__DIM_MAX || p->n > CQ__DIM_MAX ||
        p->k > CQ__DIM_MAX)
        return cq_errf(err, CQ_EINVAL, "bgemm: sizes m %lld, n %lld, k %lld", (long long)p->m,
                       (long long)p->n, (long long)p->k);
    if ((p->ldx && p->ldx < p->k) || (p->ldy && p->ldy < p->n))
        return cq_errf(err, CQ_EINVAL, "bgemm: row strides %lld, %lld below k, n",
                       (long long)p->ldx, (long long)p->ldy);
    if ((int)p->act.kind < 0 || p->act.kind >= CQ_ACT_COUNT)
        return cq_errf(err, CQ_EINVAL, "bgemm: unknown activation %d", (int)p->act.kind);
    return CQ_OK;
}

cq_status cq_bgemm_ref(const cq_bgemm_params *p, const float *w, const float *bias,
                       const float *x, float *y, const float *res, cq_err *err)
{
    cq_status st = check_params(p, err);
    if (st != CQ_OK)
        return st;
    if (!w || !x || !y)
        return cq_errf(err, CQ_EINVAL, "bgemm: NULL buffer");
    int64_t ldx = p->ldx ? p->ldx : p->k, ldy = p->ldy ? p->ldy : p->n;
    for (int64_t i = 0; i < p->m; i++)
        for (int64_t j = 0; j < p->n; j++) {
            double s = 0.0;
            for (int64_t t = 0; t < p->k; t++) {
                float wv = p->w_kn ? w[t * p->n + j] : w[j * p->k + t];
                s += (double)cq_bgemm_round(x[i * ldx + t]) * (double)cq_bgemm_round(wv);
            }
            float v = (float)s + (bias ? bias[j] : 0.0f);
            if (res)
                v = v + res[i * ldy + j];
            y[i * ldy + j] = cq__act1(p->act, v);
        }
    return CQ_OK;
}

void cq_bgemm_plan_free(cq_bgemm_plan *pl)
{
    if (!pl)
        return;
    cq_free(pl->w);
    cq_free(pl->bias);
    cq_free(pl->wp);
    cq_free(pl);
}

int cq_bgemm_plan_native(const cq_bgemm_plan *pl) { return pl && pl->native; }
int cq_bgemm_plan_amx(const cq_bgemm_plan *pl) { return pl && pl->amx; }

cq_bgemm_plan *cq_bgemm_plan_new(const cq_bgemm_params *p, const float *w, const float *bias,
                                 cq_err *err)
{
    if (check_params(p, err) != CQ_OK)
        return NULL;
    if (!w) {
        cq_errf(err, CQ_EINVAL, "bgemm: NULL weights");
        return NULL;
    }
    cq_bgemm_plan *pl = cq_alloc(sizeof *pl);
    if (!pl) {
        cq_errf(err, CQ_ENOMEM, "bgemm: out of memory");
        return NULL;
    }
    memset(pl, 0, sizeof *pl);
    pl->p = *p;
    pl->p.ldx = p->ldx ? p->ldx : p->k;
    pl->p.ldy = p->ldy ? p->ldy : p->n;
    pl->p.w_kn = 0; /* the copy below is (n, k) */
    pl->native = cq_bgemm_native();
    pl->amx = pl->native && cq__amx_bf16() && (p->k + 31) / 32 * 64 <= 65535;
    int64_t n = p->n, k = p->k;
    pl->kp = (k + 1) / 2 * 2;
    pl->np = (n + 63) / 64 * 64;
    pl->nk = (k + CQ__BG_KC_MAX - 1) / CQ__BG_KC_MAX;
    pl->kc = ((k + pl->nk - 1) / pl->nk + 31) / 32 * 32;
    float *wr = cq_alloc((size_t)(n * k) * sizeof(float));
    pl->bias = cq_alloc((size_t)pl->np * sizeof(float));
    int ok = wr && pl->bias;
    if (ok) {
        for (int64_t j = 0; j < n; j++)
            for (int64_t t = 0; t < k; t++)
                wr[j * k + t] = cq_bgemm_round(p->w_kn ? w[t * n + j] : w[j * k + t]);
        for (int64_t j = 0; j < pl->np; j++)
            pl->bias[j] = bias && j < n ? bias[j] : 0.0f;
    }
    if (ok && pl->native) {
        int64_t kw = pl->amx ? (k + 31) / 32 * 32 : pl->kp;
        ok = (pl->wp = cq_alloc((size_t)(pl->np * kw) * sizeof(uint16_t))) != NULL;
        if (ok && pl->amx)
            cq__bgemm_amx_pack(pl, wr, pl->wp);
        else if (ok)
            cq__bgemm_avx512_pack(pl, wr, pl->wp);
        cq_free(wr);
    } else {
        pl->w = wr;
    }
    if (!ok) {
        cq_bgemm_plan_free(pl);
        cq_errf(err, CQ_ENOMEM, "bgemm: out of memory packing %lld x %lld weights",
                (long long)n, (long long)k);
        return NULL;
    }
    return pl;
}

/* ---- run ---------------------------------------------------------------- */

/* The fallback's rows per block: x rounded into scratch, then one sgemm. */
#define FB_ROWS 64

static size_t per_thread(const cq_bgemm_plan *pl)
{
    size_t b = pl->amx      ? cq__bgemm_amx_scratch(pl)
               : pl->native ? cq__bgemm_avx512_scratch(pl)
                          : (size_t)(FB_ROWS * pl->p.k) * sizeof(float);
    return (b + 63) / 64 * 64;
}

size_t cq_bgemm_scratch_bytes(const cq_bgemm_plan *pl)
{
    if (!pl)
        return 0;
    return per_thread(pl) * (size_t)(pl->native ? cq_kern_threads() : 1) + 64;
}

typedef struct run_ctx {
    const cq_bgemm_plan *pl;
    const float *x, *res;
    float *y;
    char *scratch;
    size_t per;
    int64_t mu; /* row blocks; units are (column block, row block), column-major */
} run_ctx;

/* Fallback: rows [i0, i1) of y, all columns. */
static void fb_rows(const cq_bgemm_plan *pl, const float *x, float *y, const float *res,
                    int64_t i0, int64_t i1, float *xr)
{
    const cq_bgemm_params *p = &pl->p;
    int64_t k = p->k, n = p->n, rows = i1 - i0;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t t = 0; t < k; t++)
            xr[r * k + t] = cq_bgemm_round(x[(i0 + r) * p->ldx + t]);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)n, (int)k, 1.0f, xr,
                (int)k, pl->w, (int)k, 0.0f, y + i0 * p->ldy, (int)p->ldy);
    for (int64_t i = i0; i < i1; i++) {
        float *yr = y + i * p->ldy;
        const float *rr = res ? res + i * p->ldy : NULL;
        for (int64_t j = 0; j < n; j++) {
            float v = yr[j] + pl->bias[j];
            if (rr)
                v = v + rr[j];
            yr[j] = cq__act1(p->act, v);
        }
    }
}

static void run_part(void *vctx, int i, int n, int tid)
{
    (void)n;
    const run_ctx *c = vctx;
    const cq_bgemm_plan *pl = c->pl;
    void *s = c->scratch + (size_t)tid * c->per;
    int64_t ib = i % c->mu, jb = i / c->mu;
    int64_t i0 = ib * CQ__BG_MC, i1 = i0 + CQ__BG_MC < pl->p.m ? i0 + CQ__BG_MC : pl->p.m;
    int64_t j0 = jb * CQ__BG_NC, j1 = j0 + CQ__BG_NC < pl->p.n ? j0 + CQ__BG_NC : pl->p.n;
    if (pl->amx)
        cq__bgemm_amx_unit(pl, c->x, c->y, c->res, i0, i1, j0, j1, s);
    else
        cq__bgemm_avx512_unit(pl, c->x, c->y, c->res, i0, i1, j0, j1, s);
}

cq_status cq_bgemm_run(const cq_bgemm_plan *pl, const float *x, float *y, const float *res,
                       void *scratch, size_t scratch_bytes, cq_err *err)
{
    if (!pl || !x || !y)
        return cq_errf(err, CQ_EINVAL, "bgemm: NULL plan or buffer");
    const cq_bgemm_params *p = &pl->p;
    size_t need = cq_bgemm_scratch_bytes(pl);
    if (scratch_bytes < need || !scratch)
        return cq_errf(err, CQ_EINVAL, "bgemm: scratch of %zu bytes, %zu needed", scratch_bytes,
                       need);
    run_ctx c = {pl, x, res, y, NULL, per_thread(pl), 0};
    c.scratch = (char *)(((uintptr_t)scratch + 63) / 64 * 64);
    if (!pl->native) {
        /* one thread here: OpenBLAS splits each sgemm over the kernel threads */
        for (int64_t i0 = 0; i0 < p->m; i0 += FB_ROWS)
            fb_rows(pl, x, y, res, i0, i0 + FB_ROWS < p->m ? i0 + FB_ROWS : p->m,
                    (float *)c.scratch);
        return CQ_OK;
    }
    c.mu = (p->m + CQ__BG_MC - 1) / CQ__BG_MC;
    int64_t units = c.mu * ((p->n + CQ__BG_NC - 1) / CQ__BG_NC);
    if (units > INT32_MAX)
        return cq_errf(err, CQ_EINVAL, "bgemm: too many blocks");
    cq_par_run((int)units, run_part, &c);
    return CQ_OK;
}
