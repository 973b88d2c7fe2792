/* kern_qgemm.c - the int8 GEMM's plan, its scalar reference and the run that
 * splits the work over threads (kern_qgemm.h); the block kernels are in
 * x86/kern_qgemm_avx512.c and x86/kern_qgemm_avx2.c. */
#include "kern/kern_qgemm_internal.h"
#include "kern/kern_internal.h"
#include "base/par.h"

#include <math.h>
#include <string.h>

cq_qgemm_params cq_qgemm_params_default(void)
{
    cq_qgemm_params p;
    memset(&p, 0, sizeof p);
    p.x_dt = CQ_U8;
    p.y_dt = CQ_U8;
    p.req = CQ_QREQ_FLOAT;
    p.y_min = 0;
    p.y_max = 255;
    return p;
}

static int q_range(cq_dtype dt, int32_t *lo, int32_t *hi)
{
    if (dt != CQ_S8 && dt != CQ_U8)
        return 0;
    *lo = dt == CQ_S8 ? -128 : 0;
    *hi = dt == CQ_S8 ? 127 : 255;
    return 1;
}

static cq_status check_params(const cq_qgemm_params *p, const float *mult, const int32_t *qmult,
                              const int32_t *shift, cq_err *err)
{
    int32_t lo, hi;
    if (p->m <= 0 || p->n <= 0 || p->k <= 0 || p->m > INT32_MAX || p->n > INT32_MAX ||
        p->k > INT32_MAX)
        return cq_errf(err, CQ_EINVAL, "qgemm: sizes m %lld, n %lld, k %lld", (long long)p->m,
                       (long long)p->n, (long long)p->k);
    if ((p->ldx && p->ldx < p->k) || (p->ldy && p->ldy < p->n))
        return cq_errf(err, CQ_EINVAL, "qgemm: row strides %lld, %lld below k, n",
                       (long long)p->ldx, (long long)p->ldy);
    if (!q_range(p->x_dt, &lo, &hi))
        return cq_errf(err, CQ_EUNSUPPORTED, "qgemm: x dtype must be u8 or s8");
    if (p->x_zp < lo || p->x_zp > hi)
        return cq_errf(err, CQ_EINVAL, "qgemm: x zero point %d outside %d..%d", (int)p->x_zp,
                       (int)lo, (int)hi);
    if (p->y_dt == CQ_S32) {
        if (p->req != CQ_QREQ_NONE)
            return cq_errf(err, CQ_EINVAL, "qgemm: an s32 output takes no requantization");
        return CQ_OK;
    }
    if (p->y_dt == CQ_F32) {
        if (p->req == CQ_QREQ_FIXED)
            return cq_errf(err, CQ_EINVAL, "qgemm: an f32 output takes a float scale or none");
        if (p->act.kind != CQ_ACT_NONE && p->act.kind != CQ_ACT_RELU &&
            p->act.kind != CQ_ACT_CLIP)
            return cq_errf(err, CQ_EUNSUPPORTED, "qgemm: activation must be none, relu or clip");
    } else if (!q_range(p->y_dt, &lo, &hi)) {
        return cq_errf(err, CQ_EUNSUPPORTED, "qgemm: y dtype must be s32, f32, u8 or s8");
    } else {
        if (p->req != CQ_QREQ_FLOAT && p->req != CQ_QREQ_FIXED)
            return cq_errf(err, CQ_EINVAL, "qgemm: a u8 / s8 output needs a requantization");
        if (p->y_min < lo || p->y_max > hi || p->y_min > p->y_max || p->y_zp < lo ||
            p->y_zp > hi)
            return cq_errf(err, CQ_EINVAL, "qgemm: y range %d..%d or zero point %d outside "
                           "%d..%d", (int)p->y_min, (int)p->y_max, (int)p->y_zp, (int)lo,
                           (int)hi);
        if (!isfinite(p->res_mult) || p->res_zp < lo || p->res_zp > hi)
            return cq_errf(err, CQ_EINVAL, "qgemm: residual multiplier or zero point");
    }
    for (int64_t j = 0; j < p->n; j++) {
        if (p->req == CQ_QREQ_FLOAT && (!mult || !isfinite(mult[j])))
            return cq_errf(err, CQ_EINVAL, "qgemm: multiplier %lld missing or not finite",
                           (long long)j);
        if (p->req == CQ_QREQ_FIXED &&
            (!qmult || !shift || qmult[j] < 0 || shift[j] < 1 || shift[j] > 62))
            return cq_errf(err, CQ_EINVAL, "qgemm: fixed-point multiplier %lld missing or "
                           "outside [0, 2^31) with shift 1..62", (long long)j);
    }
    return CQ_OK;
}

/* ---- the epilogue: one scalar definition ------------------------------- */

static void st_code(cq_dtype dt, void *y, int64_t o, int32_t v)
{
    if (dt == CQ_S8)
        ((int8_t *)y)[o] = (int8_t)v;
    else
        ((uint8_t *)y)[o] = (uint8_t)v;
}

void cq__qgemm_epi_row(const cq_qgemm_params *p, const float *mult, const int32_t *qmult,
                       const int32_t *shift, int64_t i, int64_t j0, int64_t nc,
                       const int32_t *acc, const void *res, void *y)
{
    int64_t ld = p->ldy ? p->ldy : p->n, o = i * ld + j0;
    if (p->y_dt == CQ_S32) {
        memcpy((int32_t *)y + o, acc, (size_t)nc * sizeof(int32_t));
        return;
    }
    if (p->y_dt == CQ_F32) {
        float *yf = (float *)y + o;
        const float *rf = res ? (const float *)res + o : NULL;
        for (int64_t j = 0; j < nc; j++) {
            float v = (float)acc[j];
            if (p->req == CQ_QREQ_FLOAT)
                v = v * mult[j0 + j];
            if (rf)
                v = v + rf[j];
            yf[j] = cq__act1(p->act, v);
        }
        return;
    }
    for (int64_t j = 0; j < nc; j++) {
        int32_t q;
        if (p->req == CQ_QREQ_FIXED) {
            int64_t s = shift[j0 + j];
            int64_t v = ((int64_t)acc[j] * qmult[j0 + j] + ((int64_t)1 << (s - 1))) >> s;
            v += p->y_zp;
            q = (int32_t)(v < p->y_min ? p->y_min : (v > p->y_max ? p->y_max : v));
        } else if (res) {
            int32_t r = p->y_dt == CQ_S8 ? ((const int8_t *)res)[o + j]
                                          : ((const uint8_t *)res)[o + j];
            float v = (float)acc[j] * mult[j0 + j];
            float rv = (float)(r - p->res_zp) * p->res_mult;
            v = v + rv;
            q = cq_round_sat(nearbyintf(v) + (float)p->y_zp, p->y_min, p->y_max);
        } else {
            q = cq_requantize(acc[j], mult[j0 + j], p->y_zp, p->y_min, p->y_max);
        }
        st_code(p->y_dt, y, o + j, q);
    }
}

static cq_status res_check(const cq_qgemm_params *p, const void *res, cq_err *err)
{
    if (res && (p->y_dt == CQ_S32 || p->req == CQ_QREQ_FIXED))
        return cq_errf(err, CQ_EINVAL, "qgemm: a residual needs an f32 output or a float "
                       "requantization");
    return CQ_OK;
}

cq_status cq_qgemm_ref(const cq_qgemm_params *p, const int8_t *w, const int32_t *bias,
                       const float *mult, const int32_t *qmult, const int32_t *shift,
                       const void *x, void *y, const void *res, cq_err *err)
{
    cq_status st = check_params(p, mult, qmult, shift, err);
    if (st == CQ_OK)
        st = res_check(p, res, err);
    if (st != CQ_OK)
        return st;
    int32_t *acc = cq_alloc((size_t)p->n * sizeof(int32_t));
    if (!acc)
        return cq_errf(err, CQ_ENOMEM, "qgemm: out of memory");
    int64_t ldx = p->ldx ? p->ldx : p->k;
    for (int64_t i = 0; i < p->m && st == CQ_OK; i++) {
        for (int64_t j = 0; j < p->n; j++) {
            int64_t s = bias ? bias[j] : 0;
            for (int64_t t = 0; t < p->k; t++) {
                int64_t xv = p->x_dt == CQ_S8 ? ((const int8_t *)x)[i * ldx + t]
                                              : ((const uint8_t *)x)[i * ldx + t];
                int64_t wv = p->w_kn ? w[t * p->n + j] : w[j * p->k + t];
                s += (xv - p->x_zp) * wv;
            }
            if (s < INT32_MIN || s > INT32_MAX) {
                st = cq_errf(err, CQ_ERANGE, "qgemm: sum (%lld, %lld) leaves int32",
                             (long long)i, (long long)j);
                break;
            }
            acc[j] = (int32_t)s;
        }
        if (st == CQ_OK)
            cq__qgemm_epi_row(p, mult, qmult, shift, i, 0, p->n, acc, res, y);
    }
    cq_free(acc);
    return st;
}

/* ---- plan --------------------------------------------------------------- */

void cq_qgemm_plan_free(cq_qgemm_plan *pl)
{
    if (!pl)
        return;
    cq_free(pl->w);
    cq_free(pl->bias);
    cq_free(pl->wp);
    cq_free(pl->comp);
    cq_free(pl->mult);
    cq_free(pl->qmult);
    cq_free(pl->shift);
    cq_free(pl);
}

cq_isa cq_qgemm_isa(const cq_qgemm_plan *pl) { return pl->isa; }

int cq_qgemm_amx(const cq_qgemm_plan *pl) { return pl->amx; }

cq_qgemm_plan *cq_qgemm_plan_new(const cq_qgemm_params *p, const int8_t *w, const int32_t *bias,
                                 const float *mult, const int32_t *qmult, const int32_t *shift,
                                 cq_err *err)
{
    if (check_params(p, mult, qmult, shift, err) != CQ_OK)
        return NULL;
    if (!w) {
        cq_errf(err, CQ_EINVAL, "qgemm: NULL weights");
        return NULL;
    }
    cq_qgemm_plan *pl = cq_alloc(sizeof *pl);
    if (!pl) {
        cq_errf(err, CQ_ENOMEM, "qgemm: out of memory");
        return NULL;
    }
    memset(pl, 0, sizeof *pl);
    pl->p = *p;
    if (!pl->p.ldx)
        pl->p.ldx = p->k;
    if (!pl->p.ldy)
        pl->p.ldy = p->n;
    pl->p.w_kn = 0; /* the copy below is (n, k) */
    pl->isa = cq_kern_isa_s8();
    int64_t n = p->n, k = p->k, panel = pl->isa == CQ_ISA_AVX512 ? 64 : 16;
    pl->kp = pl->isa == CQ_ISA_AVX512 ? (k + 3) / 4 * 4 : (k + 1) / 2 * 2;
    pl->np = (n + panel - 1) / panel * panel;
    pl->nk = (k + CQ__QG_KC_MAX - 1) / CQ__QG_KC_MAX;
    pl->kc = ((k + pl->nk - 1) / pl->nk + 3) / 4 * 4;
    pl->amx = pl->isa == CQ_ISA_AVX512 && p->m >= CQ__QG_AMX_MIN_M && k >= CQ__QG_AMX_MIN_K &&
              cq_kern_amx();
    if (pl->amx) { /* tiles of 64 k */
        pl->kp = (k + 63) / 64 * 64;
        pl->nk = (k + CQ__QG_KC_AMX - 1) / CQ__QG_KC_AMX;
        pl->kc = ((k + pl->nk - 1) / pl->nk + 63) / 64 * 64;
        pl->nk = (k + pl->kc - 1) / pl->kc;
    }
    int ok = 1;
    pl->w = cq_alloc((size_t)(n * k));
    if (pl->w) { /* keep (n, k) */
        for (int64_t j = 0; j < n; j++)
            for (int64_t t = 0; t < k; t++)
                pl->w[j * k + t] = p->w_kn ? w[t * n + j] : w[j * k + t];
    } else {
        ok = 0;
    }
    if (ok && bias) {
        pl->bias = cq_alloc((size_t)n * sizeof(int32_t));
        ok = pl->bias != NULL;
        if (ok)
            memcpy(pl->bias, bias, (size_t)n * sizeof(int32_t));
    }
    size_t np = (size_t)pl->np;
    if (ok && p->req == CQ_QREQ_FLOAT) {
        ok = (pl->mult = cq_alloc(np * sizeof(float))) != NULL;
        if (ok) {
            memset(pl->mult, 0, np * sizeof(float));
            memcpy(pl->mult, mult, (size_t)n * sizeof(float));
        }
    }
    if (ok && p->req == CQ_QREQ_FIXED) {
        ok = (pl->qmult = cq_alloc(np * sizeof(int32_t))) != NULL &&
             (pl->shift = cq_alloc(np * sizeof(int32_t))) != NULL;
        if (ok) {
            for (size_t j = 0; j < np; j++) {
                pl->qmult[j] = j < (size_t)n ? qmult[j] : 0;
                pl->shift[j] = j < (size_t)n ? shift[j] : 1;
            }
        }
    }
    if (ok && pl->isa != CQ_ISA_SCALAR) {
        /* s8 activations run as u8 = x + 128: sum (x - zp) w = sum u w - (zp + 128) sum w */
        int64_t c = p->x_zp + (p->x_dt == CQ_S8 ? 128 : 0);
        ok = (pl->comp = cq_alloc(np * sizeof(int32_t))) != NULL;
        for (int64_t j = 0; ok && j < pl->np; j++) {
            int64_t s = 0;
            for (int64_t t = 0; j < n && t < k; t++)
                s += pl->w[j * k + t];
            pl->comp[j] = (int32_t)((j < n && bias ? bias[j] : 0) - c * s);
        }
        size_t bytes = np * (size_t)pl->kp * (pl->isa == CQ_ISA_AVX512 ? 1 : 2);
        if (ok)
            ok = (pl->wp = cq_alloc(bytes)) != NULL;
        if (ok && pl->amx)
            cq__qgemm_amx_pack(pl, pl->w, pl->wp);
        else if (ok && pl->isa == CQ_ISA_AVX512)
            cq__qgemm_avx512_pack(pl, pl->w, pl->wp);
        else if (ok)
            cq__qgemm_avx2_pack(pl, pl->w, pl->wp);
    }
    if (!ok) {
        cq_qgemm_plan_free(pl);
        cq_errf(err, CQ_ENOMEM, "qgemm: out of memory packing %lld x %lld weights",
                (long long)n, (long long)k);
        return NULL;
    }
    return pl;
}

/* ---- run ---------------------------------------------------------------- */

static size_t per_thread(const cq_qgemm_plan *pl)
{
    size_t b = pl->amx                   ? cq__qgemm_amx_scratch(pl)
               : pl->isa == CQ_ISA_AVX512 ? cq__qgemm_avx512_scratch(pl)
               : pl->isa == CQ_ISA_AVX2 ? cq__qgemm_avx2_scratch(pl)
                                        : 0;
    return (b + 63) / 64 * 64;
}

size_t cq_qgemm_scratch_bytes(const cq_qgemm_plan *pl)
{
    size_t b = per_thread(pl);
    return b ? b * (size_t)cq_kern_threads() + 64 : 0;
}

typedef struct run_ctx {
    const cq_qgemm_plan *pl;
    const void *x, *res;
    void *y;
    char *scratch;
    size_t per;
    int64_t mu; /* row blocks; units are (column block, row block), column-major */
} run_ctx;

/* One unit through the per-ISA dispatch (kern_qgemm_internal.h): what
 * cq_qgemm_run runs, and the int8 convolutions on their row blocks. */
size_t cq__qgemm_unit_scratch(const cq_qgemm_plan *pl) { return per_thread(pl); }

void cq__qgemm_unit(const cq_qgemm_plan *pl, const void *x, void *y, const void *res,
                    int64_t i0, int64_t i1, int64_t j0, int64_t j1, void *scratch)
{
    if (pl->amx)
        cq__qgemm_amx_unit(pl, x, y, res, i0, i1, j0, j1, scratch);
    else if (pl->isa == CQ_ISA_AVX512)
        cq__qgemm_avx512_unit(pl, x, y, res, i0, i1, j0, j1, scratch);
    else
        cq__qgemm_avx2_unit(pl, x, y, res, i0, i1, j0, j1, scratch);
}

int cq__qgemm_fold_add(cq_qgemm_plan *pl, const cq__qgemm_add *add)
{
    if (pl->isa != CQ_ISA_AVX512 || pl->p.req != CQ_QREQ_FLOAT ||
        (pl->p.y_dt != CQ_U8 && pl->p.y_dt != CQ_S8))
        return 0;
    pl->add = *add;
    pl->add.on = 1;
    return 1;
}

static void run_part(void *vctx, int i, int n, int tid)
{
    (void)n;
    const run_ctx *c = vctx;
    const cq_qgemm_plan *pl = c->pl;
    int64_t ib = i % c->mu, jb = i / c->mu;
    int64_t i0 = ib * CQ__QG_MC, i1 = i0 + CQ__QG_MC < pl->p.m ? i0 + CQ__QG_MC : pl->p.m;
    int64_t j0 = jb * CQ__QG_NC, j1 = j0 + CQ__QG_NC < pl->p.n ? j0 + CQ__QG_NC : pl->p.n;
    void *s = c->scratch + (size_t)tid * c->per;
    cq__qgemm_unit(pl, c->x, c->y, c->res, i0, i1, j0, j1, s);
}

cq_status cq_qgemm_run(const cq_qgemm_plan *pl, const void *x, void *y, const void *res,
                       void *scratch, size_t scratch_bytes, cq_err *err)
{
    const cq_qgemm_params *p = &pl->p;
    cq_status st = res_check(p, res, err);
    if (st != CQ_OK)
        return st;
    if (pl->isa == CQ_ISA_SCALAR)
        return cq_qgemm_ref(p, pl->w, pl->bias, pl->mult, pl->qmult, pl->shift, x, y, res, err);
    size_t need = cq_qgemm_scratch_bytes(pl);
    if (scratch_bytes < need || (need && !scratch))
        return cq_errf(err, CQ_EINVAL, "qgemm: scratch of %zu bytes, %zu needed", scratch_bytes,
                       need);
    run_ctx c = {pl, x, res, y, NULL, per_thread(pl), (p->m + CQ__QG_MC - 1) / CQ__QG_MC};
    c.scratch = (char *)(((uintptr_t)scratch + 63) / 64 * 64);
    int64_t units = c.mu * ((p->n + CQ__QG_NC - 1) / CQ__QG_NC);
    if (units > INT32_MAX)
        return cq_errf(err, CQ_EINVAL, "qgemm: too many blocks");
    cq_par_run((int)units, run_part, &c);
    return CQ_OK;
}
