/* kern_conv.c - Conv2d plans: checks, the algorithm choice, weights copied
 * and packed for the path that runs them, scratch sizes (see kern.h). The
 * runs are in kern_conv_run.c, the plain loops in kern_conv_ref.c. */
#include "kern/kern_conv_internal.h"

#include <stdlib.h>
#include <string.h>

cq_conv2d_params cq_conv2d_params_default(void)
{
    cq_conv2d_params p;
    memset(&p, 0, sizeof p);
    p.groups = p.stride_h = p.stride_w = p.dil_h = p.dil_w = 1;
    return p;
}

/* One spatial axis: out = (in + p0 + p1 - d (k - 1) - 1) / s + 1. */
static cq_status axis_out(const char *what, int64_t in, int64_t k, int64_t s, int64_t d,
                          int64_t p0, int64_t p1, int64_t *out, cq_err *err)
{
    cq_status st = cq__kern_axis_check(what, in, k, s, d, p0, p1, err);
    if (st != CQ_OK)
        return st;
    int64_t span = d * (k - 1) + 1, padded = in + p0 + p1;
    if (span > padded)
        return cq_errf(err, CQ_EINVAL, "%s: the dilated kernel (%lld) is larger than the padded "
                       "input (%lld)", what, (long long)span, (long long)padded);
    *out = (padded - span) / s + 1;
    return CQ_OK;
}

cq_status cq_conv2d_out_shape(const cq_conv2d_params *p, int64_t *oh, int64_t *ow, cq_err *err)
{
    if (!p)
        return cq_errf(err, CQ_EINVAL, "conv2d: NULL parameters");
    cq_status st = cq__kern_chan_check("conv2d", p->n, p->c_in, p->c_out, p->groups, p->act,
                                       err);
    if (st != CQ_OK)
        return st;
    st = axis_out("conv2d height", p->h, p->kh, p->stride_h, p->dil_h, p->pad_top,
                            p->pad_bottom, oh, err);
    if (st == CQ_OK)
        st = axis_out("conv2d width", p->w, p->kw, p->stride_w, p->dil_w, p->pad_left,
                      p->pad_right, ow, err);
    if (st != CQ_OK)
        return st;
    int64_t nx = p->n, ny = p->n, nw = p->c_out, ncol = p->c_in / p->groups;
    if (!cq__kern_mul_ok(&nx, p->c_in) || !cq__kern_mul_ok(&nx, p->h) || !cq__kern_mul_ok(&nx, p->w) ||
        !cq__kern_mul_ok(&ny, p->c_out) || !cq__kern_mul_ok(&ny, *oh) || !cq__kern_mul_ok(&ny, *ow) ||
        !cq__kern_mul_ok(&nw, ncol) || !cq__kern_mul_ok(&nw, p->kh) || !cq__kern_mul_ok(&nw, p->kw) ||
        !cq__kern_mul_ok(&ncol, p->kh * p->kw) || !cq__kern_mul_ok(&ncol, *oh) || !cq__kern_mul_ok(&ncol, *ow))
        return cq_errf(err, CQ_ENOMEM, "conv2d: a tensor would exceed %llu bytes",
                       (unsigned long long)CQ_TENSOR_MAX_BYTES);
    return CQ_OK;
}

const char *cq_conv_algo_name(cq_conv_algo a)
{
    switch (a) {
    case CQ_CONV_IM2COL:
        return "im2col";
    case CQ_CONV_1X1:
        return "1x1";
    case CQ_CONV_DEPTHWISE:
        return "depthwise";
    case CQ_CONV_DEPTHWISE_NHWC:
        return "dw-nhwc";
    default:
        return "?";
    }
}

static int algo_applies(const cq_conv2d_params *p, cq_conv_algo a)
{
    switch (a) {
    case CQ_CONV_IM2COL:
        return 1;
    case CQ_CONV_1X1:
        return p->kh == 1 && p->kw == 1 && p->stride_h == 1 && p->stride_w == 1 &&
               p->pad_top == 0 && p->pad_left == 0 && p->pad_bottom == 0 && p->pad_right == 0;
    case CQ_CONV_DEPTHWISE:
        return p->groups == p->c_in && p->kh <= DW_MAX_KH;
    case CQ_CONV_DEPTHWISE_NHWC:
        return p->groups == p->c_in && p->c_out == p->c_in && p->kh * p->kw <= CQ__DW_MAX_TAPS;
    default:
        return 0;
    }
}

/* Depthwise planes of up to 14x14 outputs, and kernels past 3x3 or dilated
 * on rows of under 64 outputs: the 16-channel-block kernel (plan_make's
 * choice, with AVX-512). The plane kernel has blocked code for 3x3 only;
 * its generic taps run four vectors of a row at once, so a row of one to
 * three vectors (5x5 on 28x28 or 40x40: MobileNetV3, EfficientNet,
 * LRASPP) ran one or two FMA chains; it takes no dilation, and the
 * channel-last path that did (LRASPP's dilated 5x5) transposed the whole
 * tensor twice. */
static int dwcb_chosen(const cq_conv2d_params *p, int64_t oh, int64_t ow)
{
    int big = p->kh * p->kw > 9 || p->dil_h > 1 || p->dil_w > 1;
    return algo_applies(p, CQ_CONV_DEPTHWISE_NHWC) && cq__dwcb_applies(p) &&
           (oh * ow <= 196 || (big && ow < 64));
}

static cq_conv2d_plan *plan_make(const cq_conv2d_params *p, const float *w, size_t w_count,
                                 const float *bias, size_t bias_count, int algo, cq_err *err)
{
    int64_t oh, ow;
    if (cq_conv2d_out_shape(p, &oh, &ow, err) != CQ_OK)
        return NULL;
    int64_t k = p->c_in / p->groups * p->kh * p->kw;
    if (!w || w_count != (size_t)(p->c_out * k)) {
        cq_errf(err, CQ_EINVAL, "conv2d: weight has %zu elements, expected %lld (%lld x %lld x "
                "%lld x %lld)", w ? w_count : 0, (long long)(p->c_out * k), (long long)p->c_out,
                (long long)(p->c_in / p->groups), (long long)p->kh, (long long)p->kw);
        return NULL;
    }
    if ((bias && bias_count != (size_t)p->c_out) || (!bias && bias_count)) {
        cq_errf(err, CQ_EINVAL, "conv2d: bias has %zu elements, expected %lld", bias_count,
                (long long)p->c_out);
        return NULL;
    }
    if ((p->x_blocked && p->c_in % 16) || ((p->y_blocked || p->res_blocked) && p->c_out % 16)) {
        cq_errf(err, CQ_EINVAL, "conv2d: the NCHW16c layout needs channels in multiples of 16 "
                "(c_in %lld, c_out %lld)", (long long)p->c_in, (long long)p->c_out);
        return NULL;
    }
    if (algo < 0) {
        /* Depthwise, fastest first on single layers (bench/kern.sh;
         * bench/NOTES.md has the runs): with AVX-512, planes of up to 14x14
         * outputs and kernels past 3x3 or dilated on rows under 64 go to the
         * 16-channel-block kernel (kern_dwcb_avx512.c, dwcb_chosen), rows of
         * >= 14 outputs to the plane kernel (kern_dw_avx512.c).
         * Otherwise, and on AVX2, channel-last (vectors over channels, two
         * transposes) where output rows are short (< 32, or < 64 with >= 128
         * channels), the row kernel on wider rows. */
        int avx512 = cq_kern_isa() == CQ_ISA_AVX512;
        if (avx512 && dwcb_chosen(p, oh, ow))
            algo = CQ_CONV_DEPTHWISE_NHWC;
        else if (algo_applies(p, CQ_CONV_DEPTHWISE) && avx512 && cq__dwp_applies(p) &&
                 ow >= 14)
            algo = CQ_CONV_DEPTHWISE;
        else if (algo_applies(p, CQ_CONV_DEPTHWISE_NHWC) &&
                 (ow < 32 || (ow < 64 && p->c_in >= 128)))
            algo = CQ_CONV_DEPTHWISE_NHWC;
        else
            algo = algo_applies(p, CQ_CONV_DEPTHWISE) ? CQ_CONV_DEPTHWISE
                   : algo_applies(p, CQ_CONV_1X1)     ? CQ_CONV_1X1
                                                      : CQ_CONV_IM2COL;
    } else if (algo >= CQ_CONV_ALGO_COUNT || !algo_applies(p, (cq_conv_algo)algo)) {
        cq_errf(err, CQ_EINVAL, "conv2d: algorithm %d does not apply to these parameters", algo);
        return NULL;
    }
    cq_conv2d_plan *pl = calloc(1, sizeof *pl);
    if (!pl) {
        cq_errf(err, CQ_ENOMEM, "conv2d: out of memory for the plan");
        return NULL;
    }
    pl->p = *p;
    pl->oh = oh;
    pl->ow = ow;
    pl->algo = (cq_conv_algo)algo;
    pl->w = cq_alloc(w_count * sizeof(float));
    pl->bias = bias ? cq_alloc(bias_count * sizeof(float)) : NULL;
    if (!pl->w || (bias && !pl->bias)) {
        cq_conv2d_plan_free(pl);
        cq_errf(err, CQ_ENOMEM, "conv2d: out of memory for %zu weights", w_count);
        return NULL;
    }
    memcpy(pl->w, w, w_count * sizeof(float));
    if (bias)
        memcpy(pl->bias, bias, bias_count * sizeof(float));
    if (bf16_applies(p)) {
        /* bf16: every path below packs the rounded weights; the f32 paths
         * round x too, run by run */
        for (size_t i = 0; i < w_count; i++)
            pl->w[i] = cq_bgemm_round(pl->w[i]);
        w = pl->w;
        pl->bf16_x = 1;
    }
    if (pl->algo == CQ_CONV_IM2COL)
        pl->scratch = pl->col_bytes = (size_t)(k * oh * ow) * sizeof(float);
    if (pl->algo == CQ_CONV_IM2COL || pl->algo == CQ_CONV_1X1) {
        pl->col_bytes = (pl->col_bytes + 63) / 64 * 64;
        pl->scratch = pl->col_bytes + cq__sgemm_scratch_avx512();
    }
    int gemm_algo = pl->algo == CQ_CONV_IM2COL || pl->algo == CQ_CONV_1X1;
    if (gemm_algo && bf16_applies(p) && cq__amx_bf16() && cq__convamx_applies(p)) {
        /* bf16 with AMX-BF16: tdpbf16ps tiles, both layouts */
        int64_t npad = (p->c_out + 31) / 32 * 32;
        pl->wpa = cq_alloc(cq__convamx_wcount(p) * sizeof(uint16_t));
        pl->bpm = cq_alloc((size_t)npad * sizeof(float));
        if (!pl->wpa || !pl->bpm) {
            cq_conv2d_plan_free(pl);
            cq_errf(err, CQ_ENOMEM, "conv2d: out of memory for %zu weights", w_count);
            return NULL;
        }
        cq__convamx_pack_w(p, w, pl->wpa);
        for (int64_t c = 0; c < npad; c++)
            pl->bpm[c] = bias && c < p->c_out ? bias[c] : 0.0f;
        size_t s = cq__convamx_scratch(p, oh, ow);
        pl->scratch = s > pl->scratch ? s : pl->scratch;
    } else if (gemm_algo && bf16_applies(p) && cq_bgemm_native() && cq__convpmb_applies(p)) {
        /* bf16 with AVX512-BF16: the bf16 pixel-major GEMM, both layouts */
        int64_t pw = cq__convpm_pw(p->c_out), npad = (p->c_out + pw - 1) / pw * pw;
        pl->wpb = cq_alloc(cq__convpmb_wcount(p) * sizeof(uint16_t));
        pl->bpm = cq_alloc((size_t)npad * sizeof(float));
        if (!pl->wpb || !pl->bpm) {
            cq_conv2d_plan_free(pl);
            cq_errf(err, CQ_ENOMEM, "conv2d: out of memory for %zu weights", w_count);
            return NULL;
        }
        cq__convpmb_pack_w(p, w, pl->wpb);
        for (int64_t c = 0; c < npad; c++)
            pl->bpm[c] = bias && c < p->c_out ? bias[c] : 0.0f;
        size_t s = cq__convpmb_scratch(p, oh, ow);
        pl->scratch = s > pl->scratch ? s : pl->scratch;
    } else if (pl->algo == CQ_CONV_IM2COL && cq__stem_applies(p)) {
        /* Few input channels (the stems): the direct kernel beats the
         * pixel-major GEMM, whose K is too short to fill its tiles
         * (bench/NOTES.md, third round (b)) */
        int64_t npad = (p->c_out + 7) / 8 * 8;
        pl->wst = cq_alloc((size_t)(npad * k) * sizeof(float));
        pl->bpm = cq_alloc((size_t)npad * sizeof(float));
        if (!pl->wst || !pl->bpm) {
            cq_conv2d_plan_free(pl);
            cq_errf(err, CQ_ENOMEM, "conv2d: out of memory for %zu weights", w_count);
            return NULL;
        }
        cq__stem_pack_w(w, p->c_out, k, pl->wst);
        for (int64_t c = 0; c < npad; c++)
            pl->bpm[c] = bias && c < p->c_out ? bias[c] : 0.0f;
        size_t s = cq__stem_scratch(p, oh, ow);
        pl->scratch = s > pl->scratch ? s : pl->scratch;
    } else if (pl->algo == CQ_CONV_IM2COL && cq__convgr_applies(p)) {
        /* grouped, a few channels a group (RegNet): the direct kernel, no
         * column matrix (kern_convgr_avx512.c) */
        pl->wgr = cq_alloc(w_count * sizeof(float));
        if (!pl->wgr) {
            cq_conv2d_plan_free(pl);
            cq_errf(err, CQ_ENOMEM, "conv2d: out of memory for %zu weights", w_count);
            return NULL;
        }
        cq__convgr_pack_w(p, w, pl->wgr);
        size_t s = cq__convgr_scratch(p, oh, ow);
        pl->scratch = s > pl->scratch ? s : pl->scratch;
    } else if ((pl->algo == CQ_CONV_IM2COL || pl->algo == CQ_CONV_1X1) &&
               cq__convpm_applies(p)) {
        int64_t pw = cq__convpm_pw(p->c_out), npad = (p->c_out + pw - 1) / pw * pw;
        pl->wpm_bytes = (size_t)(npad * k) * sizeof(float);
        pl->wpm = cq_alloc(pl->wpm_bytes);
        pl->bpm = cq_alloc((size_t)npad * sizeof(float));
        if (!pl->wpm || !pl->bpm) {
            cq_conv2d_plan_free(pl);
            cq_errf(err, CQ_ENOMEM, "conv2d: out of memory for %zu weights", w_count);
            return NULL;
        }
        cq__convpm_pack_w(p, w, pl->wpm);
        for (int64_t c = 0; c < npad; c++)
            pl->bpm[c] = bias && c < p->c_out ? bias[c] : 0.0f;
        size_t s = cq__convpm_scratch(p, oh, ow);
        pl->scratch = s > pl->scratch ? s : pl->scratch;
    }
    if ((pl->algo == CQ_CONV_IM2COL || pl->algo == CQ_CONV_1X1) && !pl->wst && !pl->wpm &&
        !pl->wpb && !pl->wpa && !pl->wgr) {
        /* weights packed for the AVX-512 sgemm, used when that ISA is on
         * (not for the stem and pixel-major paths, which pack their own:
         * one packed copy of the weights per plan) */
        int64_t cog = p->c_out / p->groups;
        pl->ap_group = (cog + 7) / 8 * 8 * k;
        pl->ap = cq_alloc((size_t)(pl->ap_group * p->groups) * sizeof(float));
        if (!pl->ap) {
            cq_conv2d_plan_free(pl);
            cq_errf(err, CQ_ENOMEM, "conv2d: out of memory for %zu weights", w_count);
            return NULL;
        }
        for (int64_t g = 0; g < p->groups; g++)
            cq__sgemm_pack_a(w + g * cog * k, cog, k, pl->ap + g * pl->ap_group);
    }
    if (pl->algo == CQ_CONV_DEPTHWISE && cq__dwp_applies(p)) {
        pl->dwp = 1;
        pl->scratch = cq__dwp_scratch(p, oh, ow);
    }
    if (pl->algo == CQ_CONV_DEPTHWISE_NHWC) {
        int64_t C = p->c_in, T = p->kh * p->kw;
        pl->wt = cq_alloc((size_t)(T * C) * sizeof(float));
        pl->bt = cq_alloc((size_t)C * sizeof(float));
        if (!pl->wt || !pl->bt) {
            cq_conv2d_plan_free(pl);
            cq_errf(err, CQ_ENOMEM, "conv2d: out of memory for %zu weights", w_count);
            return NULL;
        }
        for (int64_t c = 0; c < C; c++) {
            for (int64_t t = 0; t < T; t++)
                pl->wt[t * C + c] = w[c * T + t];
            pl->bt[c] = bias ? bias[c] : 0.0f;
        }
        pl->scratch = (size_t)(C * (p->h * p->w + oh * ow)) * sizeof(float);
        if (cq__dwcb_applies(p)) {
            int64_t nb = (C + 15) / 16;
            pl->wcb = cq_alloc((size_t)(nb * 16 * T) * sizeof(float));
            pl->bcb = cq_alloc((size_t)(nb * 16) * sizeof(float));
            if (!pl->wcb || !pl->bcb) {
                cq_conv2d_plan_free(pl);
                cq_errf(err, CQ_ENOMEM, "conv2d: out of memory for %zu weights", w_count);
                return NULL;
            }
            cq__dwcb_pack_w(p, w, bias, pl->wcb, pl->bcb);
            size_t sb = cq__dwcb_scratch(p, oh, ow);
            pl->scratch = sb > pl->scratch ? sb : pl->scratch;
        }
    }
    pl->tscratch = pl->wpa    ? cq__convamx_scratch(p, oh, ow)
                   : pl->wpb  ? cq__convpmb_scratch(p, oh, ow)
                   : pl->wcb  ? cq__dwcb_scratch(p, oh, ow)
                   : pl->dwp  ? cq__dwp_scratch(p, oh, ow)
                   : pl->wst  ? cq__stem_scratch(p, oh, ow)
                   : pl->wgr  ? cq__convgr_scratch(p, oh, ow)
                   : pl->wpm  ? cq__convpm_scratch(p, oh, ow)
                   : pl->ap   ? cq__sgemm_scratch_avx512()
                              : 0;
    return pl;
}

cq_conv2d_plan *cq_conv2d_plan_new(const cq_conv2d_params *p, const float *w, size_t w_count,
                                   const float *bias, size_t bias_count, cq_err *err)
{
    return plan_make(p, w, w_count, bias, bias_count, -1, err);
}

cq_conv2d_plan *cq_conv2d_plan_new_algo(const cq_conv2d_params *p, const float *w,
                                        size_t w_count, const float *bias, size_t bias_count,
                                        cq_conv_algo algo, cq_err *err)
{
    return plan_make(p, w, w_count, bias, bias_count, (int)algo, err);
}

size_t cq_conv2d_scratch_bytes(const cq_conv2d_plan *pl)
{
    if (!pl)
        return 0;
    own_path o = own_of(pl);
    size_t own = o ? own_bytes(pl, o, cq_kern_threads()) : 0;
    /* bf16 on an f32 path: x rounded in front of the rest */
    size_t xr = pl->bf16_x && o != OWN_CONVPMB && o != OWN_CONVAMX ? x_bytes(pl) + 64 : 0;
    return (own > pl->scratch ? own : pl->scratch) + layout_bytes(pl) + xr;
}

int cq_conv2d_grouped_direct(const cq_conv2d_params *p) { return p && cq__convgr_applies(p); }

int cq_conv2d_blocked_native(const cq_conv2d_params *p)
{
    /* plan_make's choices: for groups 1 the stem kernel, else the
     * pixel-major GEMM where it applies; depthwise on small planes the
     * channel-block kernel */
    int64_t oh, ow;
    cq_err ignored; /* a shape the kernels refuse: not native */
    if (!p || cq_kern_isa() != CQ_ISA_AVX512 || cq_conv2d_out_shape(p, &oh, &ow, &ignored) ||
        (p->x_blocked && p->c_in % 16) || ((p->y_blocked || p->res_blocked) && p->c_out % 16))
        return 0;
    if (bf16_applies(p) && cq__amx_bf16() && cq__convamx_applies(p))
        return 1;
    if (bf16_applies(p) && cq_bgemm_native())
        return cq__convpmb_applies(p);
    if (p->groups == 1)
        return !cq__stem_applies(p) && cq__convpm_applies(p);
    return dwcb_chosen(p, oh, ow);
}
const void *cq_conv2d_pm_weights(const cq_conv2d_plan *pl, size_t *bytes)
{
    *bytes = pl->wpm ? pl->wpm_bytes : 0;
    return pl->wpm;
}

cq_conv_algo cq_conv2d_algo(const cq_conv2d_plan *pl) { return pl->algo; }

void cq_conv2d_plan_free(cq_conv2d_plan *pl)
{
    if (!pl)
        return;
    cq_free(pl->w);
    cq_free(pl->bias);
    cq_free(pl->wt);
    cq_free(pl->bt);
    cq_free(pl->wcb);
    cq_free(pl->bcb);
    cq_free(pl->ap);
    cq_free(pl->wpm);
    cq_free(pl->bpm);
    cq_free(pl->wst);
    cq_free(pl->wgr);
    cq_free(pl->wpb);
    cq_free(pl->wpa);
    free(pl);
}

int cq_conv2d_pool_fusable(const cq_conv2d_params *p, const cq_pool2d_params *pool)
{
    int64_t oh, ow, ph, pw;
    cq_err e;
    /* the default algorithm is IM2COL (neither depthwise nor 1x1), which
     * plan_make hands to the stem kernel where cq__stem_applies */
    return p && pool && cq_kern_isa() == CQ_ISA_AVX512 &&
           cq_conv2d_out_shape(p, &oh, &ow, &e) == CQ_OK && pool->n == p->n &&
           pool->c == p->c_out && pool->h == oh && pool->w == ow &&
           cq_pool2d_out_shape(pool, &ph, &pw, &e) == CQ_OK &&
           !algo_applies(p, CQ_CONV_DEPTHWISE) && !algo_applies(p, CQ_CONV_1X1) &&
           cq__stem_applies(p) && cq__maxpool_rows_applies(pool, pw) && !p->x_blocked &&
           (!p->y_blocked || p->c_out % 16 == 0);
}
