/* kern_convt.c - ConvTranspose2d: per image and group one sgemm
 * (W_g^T x X_g into a column matrix), then col2im scatters the columns into
 * the NCHW output (see kern.h); with AVX-512 both split over the kernel
 * threads by blocks of output channels. */
#include "kern/kern_internal.h"
#include "base/par.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>


struct cq_convt2d_plan {
    cq_convt2d_params p;
    int64_t oh, ow;
    float *w;    /* (c_in, c_out / groups * kh * kw) */
    float *bias; /* (c_out) or NULL */
    float *ap;   /* per group, W_g^T packed for the AVX-512 sgemm */
    int64_t ap_group;
    size_t col_bytes;
};

cq_convt2d_params cq_convt2d_params_default(void)
{
    cq_convt2d_params p;
    memset(&p, 0, sizeof p);
    p.groups = p.stride_h = p.stride_w = p.dil_h = p.dil_w = 1;
    return p;
}

static cq_status axis_out(const char *what, int64_t in, int64_t k, int64_t s, int64_t d,
                          int64_t p0, int64_t p1, int64_t op, int64_t *out, cq_err *err)
{
    cq_status st = cq__kern_axis_check(what, in, k, s, d, p0, p1, err);
    if (st != CQ_OK)
        return st;
    if (op < 0 || op > CQ__DIM_MAX)
        return cq_errf(err, CQ_EINVAL, "%s: output padding %lld (must be 0 to 2^30)", what,
                       (long long)op);
    if (op >= s && op >= d)
        return cq_errf(err, CQ_EINVAL, "%s: output padding %lld must be smaller than the stride "
                       "(%lld) or the dilation (%lld)", what, (long long)op, (long long)s,
                       (long long)d);
    int64_t o = s * (in - 1) + op + d * (k - 1) + 1 - p0 - p1;
    if (o < 1)
        return cq_errf(err, CQ_EINVAL, "%s: the pads leave an empty output (%lld)", what,
                       (long long)o);
    *out = o;
    return CQ_OK;
}

cq_status cq_convt2d_out_shape(const cq_convt2d_params *p, int64_t *oh, int64_t *ow, cq_err *err)
{
    if (!p)
        return cq_errf(err, CQ_EINVAL, "convtranspose2d: NULL parameters");
    cq_status st = cq__kern_chan_check("convtranspose2d", p->n, p->c_in, p->c_out, p->groups,
                                       p->act, err);
    if (st != CQ_OK)
        return st;
    st = axis_out("convtranspose2d height", p->h, p->kh, p->stride_h, p->dil_h,
                            p->pad_top, p->pad_bottom, p->out_pad_h, oh, err);
    if (st == CQ_OK)
        st = axis_out("convtranspose2d width", p->w, p->kw, p->stride_w, p->dil_w, p->pad_left,
                      p->pad_right, p->out_pad_w, ow, err);
    if (st != CQ_OK)
        return st;
    int64_t nx = p->n, ny = p->n, ncol = p->c_out / p->groups;
    if (!cq__kern_mul_ok(&nx, p->c_in) || !cq__kern_mul_ok(&nx, p->h) || !cq__kern_mul_ok(&nx, p->w) ||
        !cq__kern_mul_ok(&ny, p->c_out) || !cq__kern_mul_ok(&ny, *oh) || !cq__kern_mul_ok(&ny, *ow) ||
        !cq__kern_mul_ok(&ncol, p->kh) || !cq__kern_mul_ok(&ncol, p->kw) || !cq__kern_mul_ok(&ncol, p->h) ||
        !cq__kern_mul_ok(&ncol, p->w) || !cq__kern_mul_ok(&ncol, p->c_in))
        return cq_errf(err, CQ_ENOMEM, "convtranspose2d: a tensor would exceed %llu bytes",
                       (unsigned long long)CQ_TENSOR_MAX_BYTES);
    return CQ_OK;
}

cq_convt2d_plan *cq_convt2d_plan_new(const cq_convt2d_params *p, const float *w, size_t w_count,
                                     const float *bias, size_t bias_count, cq_err *err)
{
    int64_t oh, ow;
    if (cq_convt2d_out_shape(p, &oh, &ow, err) != CQ_OK)
        return NULL;
    int64_t m = p->c_out / p->groups * p->kh * p->kw;
    if (!w || w_count != (size_t)(p->c_in * m)) {
        cq_errf(err, CQ_EINVAL, "convtranspose2d: weight has %zu elements, expected %lld (%lld x "
                "%lld x %lld x %lld)", w ? w_count : 0, (long long)(p->c_in * m),
                (long long)p->c_in, (long long)(p->c_out / p->groups), (long long)p->kh,
                (long long)p->kw);
        return NULL;
    }
    if ((bias && bias_count != (size_t)p->c_out) || (!bias && bias_count)) {
        cq_errf(err, CQ_EINVAL, "convtranspose2d: bias has %zu elements, expected %lld",
                bias_count, (long long)p->c_out);
        return NULL;
    }
    cq_convt2d_plan *pl = calloc(1, sizeof *pl);
    if (!pl) {
        cq_errf(err, CQ_ENOMEM, "convtranspose2d: out of memory for the plan");
        return NULL;
    }
    pl->p = *p;
    pl->oh = oh;
    pl->ow = ow;
    pl->w = cq_alloc(w_count * sizeof(float));
    pl->bias = bias ? cq_alloc(bias_count * sizeof(float)) : NULL;
    if (!pl->w || (bias && !pl->bias)) {
        cq_convt2d_plan_free(pl);
        cq_errf(err, CQ_ENOMEM, "convtranspose2d: out of memory for %zu weights", w_count);
        return NULL;
    }
    memcpy(pl->w, w, w_count * sizeof(float));
    if (bias)
        memcpy(pl->bias, bias, bias_count * sizeof(float));
    /* W_g^T (m, cig) packed for the AVX-512 sgemm, used when that ISA is on */
    int64_t cig = p->c_in / p->groups;
    pl->ap_group = (m + 7) / 8 * 8 * cig;
    pl->ap = cq_alloc((size_t)(pl->ap_group * p->groups) * sizeof(float));
    float *wt = cq_alloc((size_t)(m * cig) * sizeof(float));
    if (!pl->ap || !wt) {
        cq_free(wt);
        cq_convt2d_plan_free(pl);
        cq_errf(err, CQ_ENOMEM, "convtranspose2d: out of memory for %zu weights", w_count);
        return NULL;
    }
    for (int64_t g = 0; g < p->groups; g++) {
        for (int64_t c = 0; c < cig; c++)
            for (int64_t r = 0; r < m; r++)
                wt[r * cig + c] = w[(g * cig + c) * m + r];
        cq__sgemm_pack_a(wt, m, cig, pl->ap + g * pl->ap_group);
    }
    cq_free(wt);
    pl->col_bytes = ((size_t)(m * p->h * p->w) * sizeof(float) + 63) / 64 * 64;
    return pl;
}

/* The column matrix, then the AVX-512 sgemm's scratch for each kernel
 * thread. */
size_t cq_convt2d_scratch_bytes(const cq_convt2d_plan *pl)
{
    if (!pl)
        return 0;
    size_t t = (size_t)cq_kern_threads();
    return pl->col_bytes + t * ((cq__sgemm_scratch_avx512() + 63) / 64 * 64);
}

void cq_convt2d_plan_free(cq_convt2d_plan *pl)
{
    if (!pl)
        return;
    cq_free(pl->w);
    cq_free(pl->bias);
    cq_free(pl->ap);
    free(pl);
}

/* Add col (cog * kh * kw, h * w) into y (cog, oh, ow). */
static void col2im(const cq_convt2d_params *p, int64_t cog, int64_t oh, int64_t ow,
                   const float *col, float *y)
{
    int64_t HW = p->h * p->w;
    for (int64_t c = 0; c < cog; c++)
        for (int64_t ky = 0; ky < p->kh; ky++)
            for (int64_t kx = 0; kx < p->kw; kx++) {
                const float *row = col + ((c * p->kh + ky) * p->kw + kx) * HW;
                int64_t xoff = kx * p->dil_w - p->pad_left;
                for (int64_t iy = 0; iy < p->h; iy++) {
                    int64_t oy = iy * p->stride_h - p->pad_top + ky * p->dil_h;
                    if (oy < 0 || oy >= oh)
                        continue;
                    float *dst = y + (c * oh + oy) * ow;
                    const float *src = row + iy * p->w;
                    for (int64_t ix = 0; ix < p->w; ix++) {
                        int64_t ox = ix * p->stride_w + xoff;
                        if (ox >= 0 && ox < ow)
                            dst[ox] += src[ix];
                    }
                }
            }
}

/* Whether every output takes exactly one tap (stride = kernel, no
 * dilation, pads or output padding: U-Net's 2x2 / 2 upsampling). */
static int convt_tiles(const cq_convt2d_params *p)
{
    return p->stride_h == p->kh && p->stride_w == p->kw && p->dil_h == 1 && p->dil_w == 1 &&
           !p->pad_top && !p->pad_left && !p->pad_bottom && !p->pad_right && !p->out_pad_h &&
           !p->out_pad_w;
}

/* col2im for convt_tiles: each output written once, bias added, no zeroing
 * and no read-modify-write; the tap's rows interleaved along W. */
static void col2im_tiles(const cq_convt2d_params *p, int64_t cog, int64_t ow, const float *col,
                         const float *bias, float *y)
{
    int64_t HW = p->h * p->w, kh = p->kh, kw = p->kw, W = p->w;
    for (int64_t c = 0; c < cog; c++) {
        float b = bias ? bias[c] : 0.0f;
        for (int64_t iy = 0; iy < p->h; iy++)
            for (int64_t ky = 0; ky < kh; ky++) {
                float *dst = y + (c * p->h * kh + iy * kh + ky) * ow;
                const float *src = col + (c * kh + ky) * kw * HW + iy * W;
                if (kw == 2) {
                    const float *s0 = src, *s1 = src + HW;
                    for (int64_t ix = 0; ix < W; ix++) {
                        dst[2 * ix] = s0[ix] + b;
                        dst[2 * ix + 1] = s1[ix] + b;
                    }
                    continue;
                }
                for (int64_t kx = 0; kx < kw; kx++)
                    for (int64_t ix = 0; ix < W; ix++)
                        dst[ix * kw + kx] = src[kx * HW + ix] + b;
            }
    }
}

/* One image and group on the AVX-512 path, shared out over the kernel
 * threads by blocks of output channels (whole 8-row panels of packed W^T):
 * each share makes its channels' rows of the column matrix, then scatters
 * them into its channels of y, so the columns stay in its core's cache. */
typedef struct convt_job {
    const cq_convt2d_plan *pl;
    const float *xg;
    float *yg, *col;
    char *slices; /* thread tid's sgemm scratch at slices + tid * slice */
    size_t slice;
    int64_t g, cb, units; /* channels per unit, units */
} convt_job;

static void convt_part(void *ctx, int i, int n, int tid)
{
    const convt_job *j = ctx;
    const cq_convt2d_plan *pl = j->pl;
    const cq_convt2d_params *p = &pl->p;
    int64_t kk = p->kh * p->kw, cog = p->c_out / p->groups, cig = p->c_in / p->groups;
    int64_t HW = p->h * p->w, P = pl->oh * pl->ow;
    int64_t c0 = j->units * i / n * j->cb, c1 = j->units * (i + 1) / n * j->cb;
    c1 = c1 < cog ? c1 : cog;
    if (c1 <= c0)
        return;
    cq_act none = {CQ_ACT_NONE, 0.0f, 0.0f};
    float *col = j->col + c0 * kk * HW, *yc = j->yg + c0 * P;
    const float *bias = pl->bias ? pl->bias + j->g * cog + c0 : NULL;
    /* col (rows of channels c0 .. c1 - 1, HW) = W_g^T x X_g */
    cq__sgemm_avx512((c1 - c0) * kk, HW, cig, pl->ap + j->g * pl->ap_group + c0 * kk * cig, j->xg,
                     HW, col, HW, NULL, NULL, none, (float *)(j->slices + (size_t)tid * j->slice));
    if (convt_tiles(p)) {
        col2im_tiles(p, c1 - c0, pl->ow, col, bias, yc);
        if (p->act.kind != CQ_ACT_NONE)
            cq_act_apply_f32(p->act, yc, (c1 - c0) * P);
        return;
    }
    memset(yc, 0, (size_t)((c1 - c0) * P) * sizeof(float));
    col2im(p, c1 - c0, pl->oh, pl->ow, col, yc);
    if (bias || p->act.kind != CQ_ACT_NONE)
        for (int64_t co = 0; co < c1 - c0; co++)
            cq__kern()->bias_act(bias ? bias[co] : 0.0f, p->act, yc + co * P, P);
}

cq_status cq_convt2d_run(const cq_convt2d_plan *pl, const float *x, size_t x_count, float *y,
                         size_t y_count, void *scratch, size_t scratch_bytes, cq_err *err)
{
    if (!pl || !x || !y)
        return cq_errf(err, CQ_EINVAL, "convtranspose2d: NULL plan or buffer");
    const cq_convt2d_params *p = &pl->p;
    int64_t oh = pl->oh, ow = pl->ow, P = oh * ow, HW = p->h * p->w;
    if (x_count != (size_t)(p->n * p->c_in * HW) || y_count != (size_t)(p->n * p->c_out * P))
        return cq_errf(err, CQ_EINVAL, "convtranspose2d: input has %zu elements (expected "
                       "%lld), output %zu (expected %lld)", x_count,
                       (long long)(p->n * p->c_in * HW), y_count,
                       (long long)(p->n * p->c_out * P));
    size_t need = cq_convt2d_scratch_bytes(pl);
    if (scratch_bytes < need || !scratch)
        return cq_errf(err, CQ_EINVAL, "convtranspose2d: scratch of %zu bytes, the plan needs "
                       "%zu", scratch_bytes, need);
    const cq__kern_vtab *k = cq__kern();
    int64_t cig = p->c_in / p->groups, cog = p->c_out / p->groups, m = cog * p->kh * p->kw;
    float *col = scratch;
    if (cq_kern_isa() == CQ_ISA_AVX512) {
        /* calq's AVX-512 sgemm (as in kern_conv.c), over the kernel threads:
         * units of cb channels, cb * kh * kw rows a multiple of 8; a share
         * needs 3e5 flop */
        int64_t kk = p->kh * p->kw, cb = 8;
        while (cb > 1 && (cb / 2 * kk) % 8 == 0)
            cb /= 2;
        convt_job j = {pl, NULL, NULL, col, (char *)scratch + pl->col_bytes,
                       (cq__sgemm_scratch_avx512() + 63) / 64 * 64, 0, cb, (cog + cb - 1) / cb};
        double most = 2.0 * (double)m * (double)HW * (double)cig / 3e5;
        int t = cq_kern_threads();
        int n = most < 2.0 ? 1 : most < (double)t ? (int)most : t;
        n = (int64_t)n < j.units ? n : (int)j.units;
        for (int64_t img = 0; img < p->n; img++)
            for (int64_t g = 0; g < p->groups; g++) {
                j.xg = x + (img * p->c_in + g * cig) * HW;
                j.yg = y + (img * p->c_out + g * cog) * P;
                j.g = g;
                cq_par_run(n, convt_part, &j);
            }
        return CQ_OK;
    }
    for (int64_t img = 0; img < p->n; img++)
        for (int64_t g = 0; g < p->groups; g++) {
            const float *xg = x + (img * p->c_in + g * cig) * HW;
            float *yg = y + (img * p->c_out + g * cog) * P;
            /* col (m, HW) = W_g^T (m, cig) x X_g (cig, HW); W_g is stored (cig, m) */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)m, (int)HW, (int)cig,
                        1.0f, pl->w + g * cig * m, (int)m, xg, (int)HW, 0.0f, col, (int)HW);
            if (convt_tiles(p)) {
                col2im_tiles(p, cog, ow, col, pl->bias ? pl->bias + g * cog : NULL, yg);
                if (p->act.kind != CQ_ACT_NONE)
                    cq_act_apply_f32(p->act, yg, cog * P);
                continue;
            }
            memset(yg, 0, (size_t)(cog * P) * sizeof(float));
            col2im(p, cog, oh, ow, col, yg);
            if (pl->bias || p->act.kind != CQ_ACT_NONE)
                for (int64_t co = 0; co < cog; co++)
                    k->bias_act(pl->bias ? pl->bias[g * cog + co] : 0.0f, p->act, yg + co * P, P);
        }
    return CQ_OK;
}
