/* kern_qconv.c - the int8 convolution's plan (path choice, weight packing),
 * the layout conversions and the runs split over the kernel threads
 * (kern_qconv.h). The GEMM paths run the int8 GEMM's units
 * (cq__qgemm_unit) on row blocks, the implicit GEMM on AVX-512 mostly on
 * the input's own rows (cq__qgemm_avx512_unit_runs: a pixel's window is kh
 * spans of kw c_in bytes in NHWC); the depthwise kernels are in
 * x86/kern_qconv_avx512.c and x86/kern_qconv_avx2.c; the loops in
 * kern_qconv_ref.c. */
#include "kern/kern_qconv_internal.h"
#include "kern/kern_qgemm_internal.h"
#include "kern/kern_qelt.h"
#include "base/par.h"

#include <stdlib.h>
#include <string.h>

static const char *const path_names[] = {"ref", "gemm1x1", "igemm", "dw", "dwc", "grp"};

const char *cq_qconv2d_path(const cq_qconv2d_plan *pl) { return path_names[pl->path]; }

const void *cq_qconv2d_gemm_weights(const cq_qconv2d_plan *pl, size_t *bytes)
{
    const cq_qgemm_plan *g = pl->g;
    int on = g && g->wp && g->isa == CQ_ISA_AVX512;
    *bytes = on ? (size_t)(g->np * g->kp) : 0;
    return on ? g->wp : NULL;
}

void cq_qconv2d_out_hw(const cq_qconv2d_plan *pl, int64_t *oh, int64_t *ow)
{
    *oh = pl->oh;
    *ow = pl->ow;
}

void cq_qconv2d_plan_free(cq_qconv2d_plan *pl)
{
    if (!pl)
        return;
    cq_free(pl->w);
    cq_free(pl->bias);
    cq_free(pl->mult);
    cq_qgemm_plan_free(pl->g);
    cq_free(pl->wd);
    cq_free(pl->comp);
    cq_free(pl->multp);
    cq_free(pl->wt);
    cq_free(pl->compt);
    cq_free(pl->multt);
    cq_free(pl->wq);
    cq_free(pl->compq);
    cq_free(pl->multq);
    cq_free(pl->wf);
    cq_free(pl->compf);
    cq_free(pl->multf);
    cq_free(pl->gq0);
    cq_free(pl->gnq);
    cq_free(pl->goff);
    cq_free(pl->toff);
    cq_free(pl);
}

static size_t r64(size_t b) { return (b + 63) / 64 * 64; }

/* The ranges are where flat rows beat the chunk passes (bench/NOTES.md,
 * session 19). */
int cq_qconv2d_flat_rows(const cq_conv2d_params *c)
{
    int64_t C = c->c_in;
    return c->groups == C && c->c_out == C && c->kh == 3 && c->kw == 3 && c->stride_h == 1 &&
           c->stride_w == 1 && c->dil_h == 1 && c->dil_w == 1 && c->pad_left == 1 &&
           c->pad_right == 1 && C % 64 != 0 &&
           (C % 16 == 0 ? C >= 48 && C <= 176 : C % 4 == 0 && C >= 12 && C <= 108);
}

/* A run of the implicit GEMM's rows in a block (pl->view): pixels whose
 * window lies inside the input, within one output row, read it in place
 * from byte xoff of x on; the stretches between them (the edges: xoff -1)
 * are gathered. */
typedef struct qc_run {
    int64_t i, rows, xoff;
} qc_run;

/* Rows [i0, i1) of c's output (oh x ow a picture) as runs (a row or more
 * each, so at most i1 - i0 of them). */
static int split_runs(const cq_conv2d_params *c, int64_t oh, int64_t ow, int64_t i0,
                      int64_t i1, qc_run *runs)
{
    int64_t P = oh * ow, sw = c->stride_w, sh = c->stride_h;
    /* inside columns [xa, xb): ox sw - pad_left >= 0, ox sw - pad_left + kw <= w */
    int64_t xa = (c->pad_left + sw - 1) / sw;
    int64_t xb = c->w - c->kw + c->pad_left >= 0 ? (c->w - c->kw + c->pad_left) / sw + 1 : 0;
    xb = xb < ow ? xb : ow;
    int nrun = 0;
    for (int64_t r = i0, e; r < i1; r = e) {
        int64_t img = r / P, oy = r % P / ow, ox = r % ow;
        int64_t iy = oy * sh - c->pad_top;
        qc_run *u = &runs[nrun++];
        u->i = r - i0;
        if (iy >= 0 && iy + (c->kh - 1) * c->dil_h < c->h && ox >= xa && ox < xb) {
            e = r + (xb - ox) < i1 ? r + (xb - ox) : i1;
            u->xoff = ((img * c->h + iy) * c->w + ox * sw - c->pad_left) * c->c_in;
        } else { /* up to the next inside pixel */
            for (e = r + 1; e < i1; e++) {
                int64_t oy2 = e % P / ow, ox2 = e % ow, iy2 = oy2 * sh - c->pad_top;
                if (iy2 >= 0 && iy2 + (c->kh - 1) * c->dil_h < c->h && ox2 >= xa && ox2 < xb)
                    break;
            }
            u->xoff = -1;
        }
        u->rows = e - r;
    }
    return nrun;
}

/* Whether reading the rows in place beats gathering them all: the row
 * tiles both ways (a run's tiles stop at its end; one costs about what a
 * whole one does, K / 4 groups times its vpdpbusd at 2 a cycle) and the
 * pixels gathered (about 16 + K / 8 cycles each, for each block of
 * CQ__QG_NC output channels; bench/NOTES.md, "int8 3x3 rows in place"). */
int64_t cq_qconv2d_gathered(const cq_conv2d_params *c)
{
    int64_t oh, ow, K = c->kh * c->kw * c->c_in;
    cq_err err;
    if (c->groups != 1 || c->dil_w != 1 || (c->kw * c->c_in) % 4 || c->kh > CQ__QG_VIEW_SEGS ||
        c->kh < 1 || cq_conv2d_out_shape(c, &oh, &ow, &err) != CQ_OK)
        return -1;
    int64_t M = c->n * oh * ow, N = c->c_out;
    int64_t panels = (N + 63) / 64, nv = N < 64 ? (N + 15) / 16 : 4;
    int64_t mr = nv >= 4 ? 6 : nv == 3 ? 8 : 12, edges = 0;
    double tile = (double)(K / 4) * (double)(mr * nv) / 2.0 * (double)panels;
    /* (each block of CQ__QG_NC output channels gathers its rows again) */
    double px = (16.0 + (double)K / 8.0) * (double)((N + CQ__QG_NC - 1) / CQ__QG_NC);
    double view = 0, gemm = 0;
    qc_run rr[CQ__QG_MC];
    for (int64_t i0 = 0; i0 < M; i0 += CQ__QG_MC) {
        int64_t i1 = i0 + CQ__QG_MC < M ? i0 + CQ__QG_MC : M;
        gemm += (double)((i1 - i0 + mr - 1) / mr) * tile + (double)(i1 - i0) * px;
        int nrun = split_runs(c, oh, ow, i0, i1, rr);
        for (int q = 0; q < nrun; q++) {
            view += (double)((rr[q].rows + mr - 1) / mr) * tile;
            if (rr[q].xoff < 0) {
                view += (double)rr[q].rows * px;
                edges += rr[q].rows;
            }
        }
    }
    return view < gemm ? edges : -1;
}

/* The GEMM paths: w (c_out, cig, kh, kw) as rows (c_out, kh, kw, cig), the
 * order the gathered rows have. */
static int plan_gemm(cq_qconv2d_plan *pl, cq_err *err)
{
    const cq_conv2d_params *c = &pl->p.c;
    int64_t K = pl->K, taps = c->kh * c->kw;
    int8_t *wr = cq_alloc((size_t)(c->c_out * K));
    if (!wr) {
        cq_errf(err, CQ_ENOMEM, "qconv2d: out of memory");
        return 0;
    }
    for (int64_t co = 0; co < c->c_out; co++)
        for (int64_t ci = 0; ci < pl->cig; ci++)
            for (int64_t t = 0; t < taps; t++)
                wr[co * K + t * pl->cig + ci] = pl->w[(co * pl->cig + ci) * taps + t];
    cq_qgemm_params q = cq_qgemm_params_default();
    q.m = c->n * pl->oh * pl->ow;
    q.n = c->c_out;
    q.k = K;
    q.x_dt = pl->p.x_dt;
    q.x_zp = pl->p.x_zp;
    /* an Add goes in the GEMM's epilogue on AVX-512 (cq__qgemm_fold_add, the
     * GEMM's ISA being this plan's); elsewhere the GEMM gives s32 sums and
     * the Add is a pass of its own (gemm_part) */
    int fold = pl->p.add.on && pl->isa == CQ_ISA_AVX512;
    if (pl->p.add.on && !fold) {
        q.y_dt = CQ_S32;
        q.req = CQ_QREQ_NONE;
    } else {
        q.y_dt = pl->p.y_dt;
        q.req = CQ_QREQ_FLOAT;
        q.y_zp = pl->p.y_zp;
        q.y_min = pl->p.y_min;
        q.y_max = pl->p.y_max;
    }
    q.ldx = K;
    q.ldy = c->c_out;
    pl->g = cq_qgemm_plan_new(&q, wr, pl->bias, pl->mult, NULL, NULL, err);
    cq_free(wr);
    if (pl->g && fold) {
        const cq_qconv2d_add *a = &pl->p.add;
        cq__qgemm_add ga = {1, a->res_first, a->q_zp, a->q_min, a->q_max, a->ra, a->rb,
                            a->fixed};
        pl->g_add = cq__qgemm_fold_add(pl->g, &ga);
        if (!pl->g_add) {
            cq_qgemm_plan_free(pl->g);
            pl->g = NULL;
            cq_errf(err, CQ_EUNSUPPORTED, "qconv2d: the GEMM refused the Add");
        }
    }
    if (!pl->g)
        return 0;
    pl->view = pl->path == QC_IGEMM && (!pl->p.add.on || pl->g_add) &&
               cq__qgemm_avx512_runs_ok(pl->g, c->kw * pl->cig, (int)c->kh) &&
               cq_qconv2d_gathered(c) >= 0;
    pl->per = r64(cq__qgemm_unit_scratch(pl->g));
    if (pl->path == QC_IGEMM)
        pl->per += r64((size_t)CQ__QG_MC * (size_t)K);
    if (pl->p.add.on && !pl->g_add)
        pl->per += r64((size_t)CQ__QG_MC * (size_t)c->c_out * sizeof(int32_t));
    return 1;
}

static int plan_dwc(cq_qconv2d_plan *pl)
{
    const cq_conv2d_params *c = &pl->p.c;
    int64_t taps = c->kh * c->kw, C = c->c_out;
    int16_t *wd = cq_alloc((size_t)(taps * C) * sizeof(int16_t));
    pl->wd = (int8_t *)wd;
    pl->comp = cq_alloc((size_t)C * sizeof(int32_t));
    if (!wd || !pl->comp)
        return 0;
    for (int64_t ch = 0; ch < C; ch++) {
        for (int64_t t = 0; t < taps; t++)
            wd[t * C + ch] = pl->w[ch * taps + t];
        pl->comp[ch] = pl->bias ? pl->bias[ch] : 0;
    }
    pl->per = r64((size_t)C * sizeof(int32_t));
    return 1;
}

cq_qconv2d_plan *cq_qconv2d_plan_new(const cq_qconv2d_params *p, const int8_t *w,
                                     const int32_t *bias, const float *mult, cq_err *err)
{
    int64_t oh, ow;
    if (cq__qconv_check(p, mult, &oh, &ow, err) != CQ_OK)
        return NULL;
    if (!w) {
        cq_errf(err, CQ_EINVAL, "qconv2d: NULL weights");
        return NULL;
    }
    const cq_conv2d_params *c = &p->c;
    int64_t cig = c->c_in / c->groups, taps = c->kh * c->kw, K = cig * taps;
    for (int64_t co = 0; co < c->c_out; co++) { /* |x - x_zp| <= 255 */
        int64_t s = 0;
        for (int64_t t = 0; t < K; t++)
            s += abs(w[co * K + t]);
        s = s * 255 + (bias ? llabs((long long)bias[co]) : 0);
        if (s > INT32_MAX) {
            cq_errf(err, CQ_ERANGE, "qconv2d: sums of output channel %lld could leave int32",
                    (long long)co);
            return NULL;
        }
    }
    cq_qconv2d_plan *pl = cq_alloc(sizeof *pl);
    if (!pl) {
        cq_errf(err, CQ_ENOMEM, "qconv2d: out of memory");
        return NULL;
    }
    memset(pl, 0, sizeof *pl);
    pl->p = *p;
    pl->oh = oh;
    pl->ow = ow;
    pl->cig = cig;
    pl->K = K;
    pl->isa = cq_kern_isa_s8();
    int ok = (pl->w = cq_alloc((size_t)(c->c_out * K))) != NULL;
    if (ok) {
        memcpy(pl->w, w, (size_t)(c->c_out * K));
        size_t nm = (size_t)(c->c_out + CQ__QCDW_CH);
        ok = (pl->mult = cq_alloc(nm * sizeof(float))) != NULL;
        if (ok) {
            memset(pl->mult, 0, nm * sizeof(float));
            memcpy(pl->mult, mult, (size_t)c->c_out * sizeof(float));
        }
    }
    if (ok && bias) {
        ok = (pl->bias = cq_alloc((size_t)c->c_out * sizeof(int32_t))) != NULL;
        if (ok)
            memcpy(pl->bias, bias, (size_t)c->c_out * sizeof(int32_t));
    }
    if (!ok) {
        cq_qconv2d_plan_free(pl);
        cq_errf(err, CQ_ENOMEM, "qconv2d: out of memory");
        return NULL;
    }
    int dw = c->groups == c->c_in && c->c_in == c->c_out;
    int few = c->groups == 1 && (c->kh * c->kw > 1 ? c->c_in <= CQ__QCGRP_FEW
                                                   : c->c_in <= CQ__QCGRP_1X1);
    if (pl->isa == CQ_ISA_SCALAR)
        pl->path = QC_REF;
    else if (pl->isa == CQ_ISA_AVX512 && (few || (c->groups > 1 && !dw)))
        pl->path = QC_GRP;
    else if (c->groups == 1)
        pl->path = c->kh == 1 && c->kw == 1 && c->stride_h == 1 && c->stride_w == 1 &&
                           c->pad_top == 0 && c->pad_left == 0 && c->pad_bottom == 0 &&
                           c->pad_right == 0
                       ? QC_GEMM1X1
                       : QC_IGEMM;
    else if (dw)
        pl->path = pl->isa == CQ_ISA_AVX512 ? QC_DW : QC_DWC;
    else
        pl->path = QC_REF;
    if (pl->path == QC_GEMM1X1 || pl->path == QC_IGEMM) {
        if (!plan_gemm(pl, err)) {
            cq_qconv2d_plan_free(pl);
            return NULL;
        }
        return pl;
    }
    if (pl->path == QC_DW) {
        pl->nch = (c->c_out + CQ__QCDW_CH - 1) / CQ__QCDW_CH;
        pl->pix = c->stride_w == 1 && (c->c_out == 16 || c->c_out == 32) ? 64 / c->c_out : 1;
        pl->nq = (c->kh + 3) / 4;
        /* one quad of rows: a second block for kern_qconv_dw3_avx512.c's second row */
        size_t nw = (size_t)(pl->nch * pl->nq * c->kw * 256) * (pl->nq == 1 ? 2 : 1);
        size_t nv = (size_t)(pl->nch * 64);
        int64_t last = c->c_out - (pl->nch - 1) * CQ__QCDW_CH;
        pl->tail = pl->pix == 1 && last <= 16 ? last : 0;
        ok = (pl->wd = cq_alloc(nw)) != NULL && (pl->comp = cq_alloc(nv * 4)) != NULL &&
             (pl->multp = cq_alloc(nv * 4)) != NULL &&
             (pl->wt = cq_alloc((size_t)(pl->nq * c->kw * 64))) != NULL &&
             (pl->compt = cq_alloc(64)) != NULL && (pl->multt = cq_alloc(64)) != NULL &&
             (!pl->tail || ((pl->wq = cq_alloc(2 * 3 * 256)) != NULL &&
                            (pl->compq = cq_alloc(256)) != NULL &&
                            (pl->multq = cq_alloc(256)) != NULL));
        if (ok) {
            cq__qconv_dw_avx512_pack(pl, w);
            pl->per = r64(cq__qconv_dw_avx512_scratch(pl));
        }
        /* flat rows where they apply: every lane used, no split stores */
        if (ok && cq_qconv2d_flat_rows(c) && !pl->p.add.on && pl->no_min && !pl->p.dw_chunks) {
            int64_t g = 4;
            while (c->c_in % (2 * g) == 0 && g < 64)
                g *= 2;
            pl->nph = c->c_in / g;
            ok = (pl->wf = cq_alloc((size_t)pl->nph * 1536)) != NULL &&
                 (pl->compf = cq_alloc((size_t)pl->nph * 256)) != NULL &&
                 (pl->multf = cq_alloc((size_t)pl->nph * 256)) != NULL;
            if (ok)
                cq__qconv_dwf_avx512_pack(pl, w);
        }
    } else if (pl->path == QC_DWC) {
        ok = plan_dwc(pl);
    } else if (pl->path == QC_GRP) {
        ok = cq__qconv_grp_avx512_pack(pl, w);
        if (ok)
            pl->per = r64(cq__qconv_grp_avx512_scratch(pl));
    }
    if (!ok) {
        cq_qconv2d_plan_free(pl);
        cq_errf(err, CQ_ENOMEM, "qconv2d: out of memory packing the weights");
        return NULL;
    }
    return pl;
}

/* ---- run ---------------------------------------------------------------- */

/* Scratch: [x NHWC][res NHWC][y NHWC] where the caller's are NCHW, then one
 * slice per thread. */
static size_t x_bytes(const cq_qconv2d_plan *pl)
{
    const cq_conv2d_params *c = &pl->p.c;
    return pl->p.x_nhwc ? 0 : r64((size_t)(c->n * c->c_in * c->h * c->w));
}

static size_t y_bytes(const cq_qconv2d_plan *pl)
{
    const cq_conv2d_params *c = &pl->p.c;
    return r64((size_t)(c->n * c->c_out * pl->oh * pl->ow));
}

size_t cq_qconv2d_scratch_bytes(const cq_qconv2d_plan *pl)
{
    if (pl->path == QC_REF)
        return 0;
    size_t b = x_bytes(pl) + (pl->p.y_nhwc ? 0 : y_bytes(pl)) +
               (pl->p.add.on && !pl->p.res_nhwc ? y_bytes(pl) : 0);
    return b + pl->per * (size_t)cq_kern_threads() + 64;
}

typedef struct qc_job {
    const cq_qconv2d_plan *pl;
    const uint8_t *x, *res; /* NHWC */
    uint8_t *y;             /* NHWC */
    char *slices;
    int64_t mu, rows;       /* GEMM: row blocks; dw: output rows (n * oh) */
} qc_job;

/* n bytes from s to d: the gather's spans (kw c_in bytes, or c_in) of up
 * to 64 bytes in multiples of 16 go as fixed 16-byte moves the compiler
 * inlines (libc's memcpy costs its call and size dispatch each time); longer
 * ones to memcpy, whose wide moves beat a loop of 16-byte ones (ResNet-18's
 * 192-byte rows at 56x56: 0.18 -> 0.225 ms a conv with the loop). */
static inline void copy_span(uint8_t *d, const uint8_t *s, int64_t n)
{
    if (n % 16 == 0 && n <= 64) {
        for (int64_t o = 0; o < n; o += 16)
            memcpy(d + o, s + o, 16);
        return;
    }
    memcpy(d, s, (size_t)n);
}

/* Rows [i0, i1) of the implicit GEMM's matrix (output pixels in NHWC order)
 * into buf (rows of K bytes): padding is the zero point. */
static void gather(const cq_qconv2d_plan *pl, const uint8_t *x, int64_t i0, int64_t i1,
                   uint8_t *buf)
{
    const cq_conv2d_params *c = &pl->p.c;
    int64_t C = c->c_in, P = pl->oh * pl->ow, span = c->kw * C;
    uint8_t zp = (uint8_t)pl->p.x_zp;
    /* the pixel's image, row and column counted along, not divided out
     * each row (three 64-bit divisions a pixel cost as much as its copies) */
    int64_t img = i0 / P, oy = i0 % P / pl->ow, ox = i0 % pl->ow;
    for (int64_t r = i0; r < i1; r++, ox++) {
        if (ox == pl->ow) {
            ox = 0;
            if (++oy == pl->oh) {
                oy = 0;
                img++;
            }
        }
        uint8_t *d = buf + (r - i0) * pl->K;
        int64_t ix0 = ox * c->stride_w - c->pad_left;
        int whole = c->dil_w == 1 && ix0 >= 0 && ix0 + c->kw <= c->w;
        for (int64_t ky = 0; ky < c->kh; ky++, d += span) {
            int64_t iy = oy * c->stride_h - c->pad_top + ky * c->dil_h;
            if (iy < 0 || iy >= c->h) {
                memset(d, zp, (size_t)span);
                continue;
            }
            const uint8_t *row = x + (img * c->h + iy) * c->w * C;
            if (whole) {
                copy_span(d, row + ix0 * C, span);
                continue;
            }
            for (int64_t kx = 0; kx < c->kw; kx++) {
                int64_t ix = ix0 + kx * c->dil_w;
                if (ix < 0 || ix >= c->w)
                    memset(d + kx * C, zp, (size_t)C);
                else
                    copy_span(d + kx * C, row + ix * C, C);
            }
        }
    }
}

/* Rows [i0, i1) of the implicit GEMM (pl->view), the edges gathered into
 * buf. y and res are row i0's. */
static void igemm_view(const cq_qconv2d_plan *pl, const uint8_t *x, int64_t i0, int64_t i1,
                       uint8_t *y, const uint8_t *res, int64_t j0, int64_t j1, uint8_t *buf,
                       void *s_g)
{
    const cq_conv2d_params *c = &pl->p.c;
    int64_t off_x[CQ__QG_VIEW_SEGS], off_b[CQ__QG_VIEW_SEGS], seg = c->kw * c->c_in;
    for (int s = 0; s < c->kh; s++) {
        off_x[s] = s * c->dil_h * c->w * c->c_in;
        off_b[s] = s * seg;
    }
    qc_run rr[CQ__QG_MC];
    cq__qg_run runs[CQ__QG_MC];
    int nrun = split_runs(c, pl->oh, pl->ow, i0, i1, rr);
    int64_t nb = 0; /* rows gathered into buf */
    for (int q = 0; q < nrun; q++) {
        cq__qg_run *u = &runs[q];
        u->i = rr[q].i;
        u->rows = rr[q].rows;
        if (rr[q].xoff >= 0) {
            u->a = x + rr[q].xoff;
            u->lda = c->stride_w * c->c_in;
            u->off = off_x;
        } else {
            gather(pl, x, i0 + u->i, i0 + u->i + u->rows, buf + nb * pl->K);
            u->a = buf + nb * pl->K;
            u->lda = pl->K;
            u->off = off_b;
            nb += u->rows;
        }
    }
    cq__qgemm_avx512_unit_runs(pl->g, runs, nrun, seg, y, res, j0, j1, s_g);
}

static void gemm_part(void *vctx, int i, int n, int tid)
{
    (void)n;
    const qc_job *j = vctx;
    const cq_qconv2d_plan *pl = j->pl;
    const cq_qgemm_plan *g = pl->g;
    int64_t M = j->rows, N = pl->p.c.c_out;
    int64_t ib = i % j->mu, jb = i / j->mu;
    int64_t i0 = ib * CQ__QG_MC, i1 = i0 + CQ__QG_MC < M ? i0 + CQ__QG_MC : M;
    int64_t j0 = jb * CQ__QG_NC, j1 = j0 + CQ__QG_NC < N ? j0 + CQ__QG_NC : N;
    char *s = j->slices + (size_t)tid * pl->per;
    char *s_g = s;
    s += r64(cq__qgemm_unit_scratch(g));
    const uint8_t *a = j->x + i0 * pl->K;
    if (pl->view) {
        igemm_view(pl, j->x, i0, i1, j->y + i0 * N, pl->g_add ? j->res + i0 * N : NULL, j0, j1,
                   (uint8_t *)s, s_g);
        return;
    }
    if (pl->path == QC_IGEMM) {
        gather(pl, j->x, i0, i1, (uint8_t *)s);
        a = (const uint8_t *)s;
        s += r64((size_t)CQ__QG_MC * (size_t)pl->K);
    }
    uint8_t *y = j->y + i0 * N;
    if (!pl->p.add.on || pl->g_add) {
        cq__qgemm_unit(g, a, y, pl->g_add ? j->res + i0 * N : NULL, 0, i1 - i0, j0, j1, s_g);
        return;
    }
    int32_t *acc = (int32_t *)s;
    cq__qgemm_unit(g, a, acc, NULL, 0, i1 - i0, j0, j1, s_g);
    if (pl->isa == CQ_ISA_AVX512)
        cq__qconv_res_rows_avx512(&pl->p, pl->mult, acc, i1 - i0, j0, j1, j->res + i0 * N, y);
    else
        cq__qconv_res_rows(&pl->p, pl->mult, acc, i1 - i0, j0, j1, j->res + i0 * N, y);
}

static void dw_part(void *vctx, int i, int n, int tid)
{
    const qc_job *j = vctx;
    const cq_qconv2d_plan *pl = j->pl;
    int64_t r0 = j->rows * i / n, r1 = j->rows * (i + 1) / n;
    void *s = j->slices + (size_t)tid * pl->per;
    if (r1 <= r0)
        return;
    if (pl->path == QC_DW)
        cq__qconv_dw_avx512_rows(pl, j->x, j->res, j->y, r0, r1, s);
    else if (pl->path == QC_GRP)
        cq__qconv_grp_avx512_rows(pl, j->x, j->res, j->y, r0, r1, s);
    else
        cq__qconv_dwc_avx2_rows(pl, j->x, j->res, j->y, r0, r1, s);
}

/* Shares: one per thread where each has at least about 1e6 multiply-adds. */
static int shares(const cq_qconv2d_plan *pl, int64_t most)
{
    const cq_conv2d_params *c = &pl->p.c;
    double macs = (double)(c->n * pl->oh * pl->ow) * (double)c->c_out * (double)pl->K;
    int t = cq_kern_threads();
    double fit = macs / 1e6;
    int n = fit < (double)t ? (int)fit : t;
    n = n < 1 ? 1 : n;
    return most < n ? (int)most : n;
}

cq_status cq_qconv2d_run(const cq_qconv2d_plan *pl, const void *x, void *y, const void *res,
                         void *scratch, size_t scratch_bytes, cq_err *err)
{
    const cq_qconv2d_params *p = &pl->p;
    const cq_conv2d_params *c = &p->c;
    if (!p->add.on != !res)
        return cq_errf(err, CQ_EINVAL, "qconv2d: a residual %s", res ? "the plan does not take"
                                                                     : "is missing");
    if (!x || !y)
        return cq_errf(err, CQ_EINVAL, "qconv2d: NULL input or output");
    if (pl->path == QC_REF)
        return cq_qconv2d_ref(p, pl->w, pl->bias, pl->mult, x, y, res, err);
    size_t need = cq_qconv2d_scratch_bytes(pl);
    if (scratch_bytes < need || !scratch)
        return cq_errf(err, CQ_EINVAL, "qconv2d: scratch of %zu bytes, %zu needed",
                       scratch_bytes, need);
    char *s = (char *)(((uintptr_t)scratch + 63) / 64 * 64);
    int64_t P = pl->oh * pl->ow, HW = c->h * c->w;
    qc_job j;
    memset(&j, 0, sizeof j);
    j.pl = pl;
    j.x = x;
    j.y = y;
    j.res = res;
    /* NCHW values go through NHWC scratch (kern_qelt.c's byte-tile transposes:
     * a byte at a time they took a fifth of ShuffleNetV2 int8's time) */
    if (!p->x_nhwc) {
        cq_nchw_to_nhwc_8(x, c->n, c->c_in, HW, s);
        j.x = (const uint8_t *)s;
        s += x_bytes(pl);
    }
    if (res && !p->res_nhwc) {
        cq_nchw_to_nhwc_8(res, c->n, c->c_out, P, s);
        j.res = (const uint8_t *)s;
        s += y_bytes(pl);
    }
    if (!p->y_nhwc) {
        j.y = (uint8_t *)s;
        s += y_bytes(pl);
    }
    j.slices = s;
    if (pl->path == QC_GEMM1X1 || pl->path == QC_IGEMM) {
        j.rows = c->n * P;
        j.mu = (j.rows + CQ__QG_MC - 1) / CQ__QG_MC;
        int64_t units = j.mu * ((c->c_out + CQ__QG_NC - 1) / CQ__QG_NC);
        if (units > INT32_MAX)
            return cq_errf(err, CQ_EINVAL, "qconv2d: too many blocks");
        cq_par_run((int)units, gemm_part, &j);
    } else {
        j.rows = c->n * pl->oh;
        cq_par_run(shares(pl, j.rows), dw_part, &j);
    }
    if (!p->y_nhwc)
        cq_nhwc_to_nchw_8(j.y, c->n, c->c_out, P, y);
    return CQ_OK;
}
