/* kern_conv.c - Conv2d: plan (checks, weight copy, algorithm choice) and run
 * (im2col + sgemm, 1x1 sgemm, direct depthwise), plus the plain-loop reference.
 * Layout NCHW throughout (see kern.h for why). */
#include "kern/kern_internal.h"
#include "base/par.h"

#include <cblas.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Dims, pads and products stay below this so that int (BLAS) and int64 index
 * arithmetic never overflow. */
#define DIM_MAX ((int64_t)1 << 30)
#define DW_MAX_KH 64

struct cq_conv2d_plan {
    cq_conv2d_params p;
    int64_t oh, ow;
    cq_conv_algo algo;
    float *w;    /* (c_out, c_in / groups * kh * kw), a dense copy */
    float *bias; /* (c_out) or NULL */
    float *wt;   /* DEPTHWISE_NHWC: weights (kh * kw, c) */
    float *bt;   /* DEPTHWISE_NHWC: bias (c), zeros without one */
    float *wcb;  /* DEPTHWISE_NHWC where cq__dwcb_applies: weights and bias in blocks */
    float *bcb;  /* of 16 channels for the AVX-512 channel-block kernel */
    float *ap;   /* IM2COL / 1X1: per group, weights packed for the AVX-512 sgemm */
    int64_t ap_group; /* floats per group in ap */
    float *wpm;  /* IM2COL / 1X1 where cq__convpm_applies: W^T panels for the AVX-512
                  * pixel-major implicit GEMM (no column matrix) */
    float *bpm;  /* its bias, padded with zeros */
    int dwp;     /* DEPTHWISE where cq__dwp_applies: the AVX-512 plane kernel runs it */
    float *wst;  /* IM2COL where cq__stem_applies: weights for the AVX-512 direct
                  * few-channel kernel (bias in bpm) */
    size_t col_bytes; /* IM2COL: the column matrix at the start of scratch */
    size_t scratch;   /* one thread */
    size_t tscratch;  /* the own AVX-512 path's scratch per kernel thread (after
                       * col_bytes on the sgemm path) */
};

/* The own AVX-512 paths, which split their work over the kernel threads. */
typedef enum own_path { OWN_NONE = 0, OWN_DWCB, OWN_DWP, OWN_STEM, OWN_CONVPM, OWN_SGEMM } own_path;

static own_path own_of(const cq_conv2d_plan *pl)
{
    if (cq_kern_isa() != CQ_ISA_AVX512)
        return OWN_NONE;
    if (pl->algo == CQ_CONV_DEPTHWISE_NHWC)
        return pl->wcb ? OWN_DWCB : OWN_NONE;
    if (pl->algo == CQ_CONV_DEPTHWISE)
        return pl->dwp ? OWN_DWP : OWN_NONE;
    return pl->wst ? OWN_STEM : pl->wpm ? OWN_CONVPM : pl->ap ? OWN_SGEMM : OWN_NONE;
}

static size_t round64(size_t n) { return (n + 63) / 64 * 64; }

/* Whether the plan's kernel reads x and writes y in the layouts its params
 * name: the pixel-major GEMM (its W^T packed for them) and the 16-channel
 * block depthwise kernel. */
static int layout_native(const cq_conv2d_plan *pl)
{
    own_path o = own_of(pl);
    return o == OWN_CONVPM || o == OWN_DWCB;
}

static size_t x_bytes(const cq_conv2d_plan *pl)
{
    return round64((size_t)(pl->p.n * pl->p.c_in * pl->p.h * pl->p.w) * sizeof(float));
}

static size_t y_bytes(const cq_conv2d_plan *pl)
{
    return round64((size_t)(pl->p.n * pl->p.c_out * pl->oh * pl->ow) * sizeof(float));
}

/* Scratch for the layouts, before the kernel's own: a kernel that knows
 * only NCHW gets x, y and the residual converted; the native one gets the
 * residual converted to y's layout where the two differ. */
static size_t layout_bytes(const cq_conv2d_plan *pl)
{
    const cq_conv2d_params *p = &pl->p;
    if (!p->x_blocked && !p->y_blocked && !p->res_blocked)
        return 0;
    if (layout_native(pl))
        return p->res_blocked != p->y_blocked ? y_bytes(pl) + 64 : 0;
    return (p->x_blocked ? x_bytes(pl) : 0) + (p->y_blocked ? y_bytes(pl) : 0) +
           (p->res_blocked ? y_bytes(pl) : 0) + 64;
}

/* Scratch of the own path at t threads: the shared column matrix (sgemm
 * path), then a 64-byte-aligned slice per thread; 64 more for aligning the
 * base. */
static size_t own_bytes(const cq_conv2d_plan *pl, own_path o, int t)
{
    return (o == OWN_SGEMM ? pl->col_bytes : 0) + (size_t)t * round64(pl->tscratch) + 64;
}

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
    if (in < 1 || k < 1 || s < 1 || d < 1 || in > DIM_MAX || k > DIM_MAX || s > DIM_MAX ||
        d > DIM_MAX)
        return cq_errf(err, CQ_EINVAL,
                       "%s: size %lld, kernel %lld, stride %lld, dilation %lld (each must be "
                       "1 to 2^30)",
                       what, (long long)in, (long long)k, (long long)s, (long long)d);
    if (p0 < 0 || p1 < 0 || p0 > DIM_MAX || p1 > DIM_MAX)
        return cq_errf(err, CQ_EINVAL, "%s: pads %lld, %lld (must be 0 to 2^30)", what,
                       (long long)p0, (long long)p1);
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
    if (p->n < 1 || p->c_in < 1 || p->c_out < 1 || p->groups < 1 || p->n > DIM_MAX ||
        p->c_in > DIM_MAX || p->c_out > DIM_MAX)
        return cq_errf(err, CQ_EINVAL, "conv2d: n %lld, c_in %lld, c_out %lld, groups %lld "
                       "(each must be 1 to 2^30)", (long long)p->n, (long long)p->c_in,
                       (long long)p->c_out, (long long)p->groups);
    if (p->c_in % p->groups || p->c_out % p->groups)
        return cq_errf(err, CQ_EINVAL, "conv2d: groups %lld does not divide c_in %lld and "
                       "c_out %lld", (long long)p->groups, (long long)p->c_in,
                       (long long)p->c_out);
    if ((int)p->act.kind < 0 || p->act.kind >= CQ_ACT_COUNT)
        return cq_errf(err, CQ_EINVAL, "conv2d: unknown activation %d", (int)p->act.kind);
    cq_status st = axis_out("conv2d height", p->h, p->kh, p->stride_h, p->dil_h, p->pad_top,
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

/* Depthwise planes of up to 14x14 outputs: the 16-channel-block kernel
 * (plan_make's choice, with AVX-512). */
static int dwcb_chosen(const cq_conv2d_params *p, int64_t oh, int64_t ow)
{
    return algo_applies(p, CQ_CONV_DEPTHWISE_NHWC) && cq__dwcb_applies(p) && oh * ow <= 196;
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
        /* Depthwise with AVX-512: the plane kernel (kern_dw_avx512.c) on
         * rows of >= 14 outputs (MobileNetV2's 192x28x28/2 in the model:
         * 0.046-0.048 ms, channel-last 0.058-0.063); bench_kern,
         * best of 0.2 s, plane / channel-last: 32x112x112 0.106 / 0.431 ms,
         * 144x56x56 0.113 / 0.282, 192x28x28 0.039 / 0.092, 384x14x14 0.034
         * / 0.037, 96x112x112/2 0.215 / 0.322, 144x56x56/2 0.093 / 0.117,
         * 576x14x14/2 0.059 / 0.023, 960x7x7 0.048 / 0.025. Otherwise (and on AVX2):
         * channel-last (vectors over channels, two transposes)
         * beats the row kernel 1.5-12x when output rows are short; on
         * 112-wide rows the row kernel wins (bench/kern.sh). Rows of 32-63
         * go channel-last only with >= 128 channels: row kernel / channel-
         * last, 3x3, best of 200: 24x64x64/2 0.024 / 0.068 ms, 24x32x32
         * 0.026 / 0.061, 48x64x64/2 0.051 / 0.070, 96x112x112/2 0.27 /
         * 0.31, 144x56x56 0.34 / 0.26, 192x28x28 0.19 / 0.086. */
        int avx512 = cq_kern_isa() == CQ_ISA_AVX512;
        if (avx512 && dwcb_chosen(p, oh, ow))
            /* Planes of up to 14x14 outputs: the 16-channel-block kernel
             * (kern_dwcb_avx512.c) that DEPTHWISE_NHWC runs on AVX-512.
             * Single layers, median of 2000, plane kernel / channel blocks
             * (ms): 384x14x14 0.033 / 0.022, 576x14x14 0.049 / 0.033,
             * 192x28x28/2 0.030 / 0.025, 96x16x16/2 0.0068 / 0.0027, 96x8x8
             * 0.0045 / 0.0017; the old channel-last path on 576x14x14/2 and
             * 960x7x7: 0.031 and 0.033, channel blocks 0.018 and 0.020. On
             * larger planes the plane kernel wins: 88x16x16 0.0072 / 0.0086,
             * 48x32x32 0.0105 / 0.016, 144x56x56 0.120 / 0.142. */
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
    if (pl->algo == CQ_CONV_IM2COL)
        pl->scratch = pl->col_bytes = (size_t)(k * oh * ow) * sizeof(float);
    if (pl->algo == CQ_CONV_IM2COL || pl->algo == CQ_CONV_1X1) {
        pl->col_bytes = (pl->col_bytes + 63) / 64 * 64;
        pl->scratch = pl->col_bytes + cq__sgemm_scratch_avx512();
    }
    if (pl->algo == CQ_CONV_IM2COL && cq__stem_applies(p)) {
        /* The stems (3 channels in), pixel-major GEMM -> direct, single
         * thread, best of 200: ResNet-18's 7x7/2 1.47 -> 1.14 ms,
         * MobileNetV2's 3x3/2 0.229 -> 0.125, BlazeFace's 5x5/2 0.611 ->
         * 0.305 */
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
    } else if ((pl->algo == CQ_CONV_IM2COL || pl->algo == CQ_CONV_1X1) &&
               cq__convpm_applies(p)) {
        int64_t pw = cq__convpm_pw(p->c_out), npad = (p->c_out + pw - 1) / pw * pw;
        pl->wpm = cq_alloc((size_t)(npad * k) * sizeof(float));
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
    if ((pl->algo == CQ_CONV_IM2COL || pl->algo == CQ_CONV_1X1) && !pl->wst && !pl->wpm) {
        /* weights packed for the AVX-512 sgemm, used when that ISA is on
         * (not for the stem and pixel-major paths, which have their own:
         * a second copy there took 46 MB on ResNet-18) */
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
    pl->tscratch = pl->wcb    ? cq__dwcb_scratch(p, oh, ow)
                   : pl->dwp  ? cq__dwp_scratch(p, oh, ow)
                   : pl->wst  ? cq__stem_scratch(p, oh, ow)
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
    return (own > pl->scratch ? own : pl->scratch) + layout_bytes(pl);
}

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
    if (p->groups == 1)
        return !cq__stem_applies(p) && cq__convpm_applies(p);
    return dwcb_chosen(p, oh, ow);
}
cq_conv_algo cq_conv2d_algo(const cq_conv2d_plan *pl) { return pl->algo; }
const cq_conv2d_params *cq_conv2d_plan_params(const cq_conv2d_plan *pl) { return &pl->p; }

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
    free(pl);
}

/* Outputs o in [*lo, *hi) with 0 <= o * s + off < len, within [0, out). */
static void valid_range(int64_t off, int64_t s, int64_t len, int64_t out, int64_t *lo,
                        int64_t *hi)
{
    int64_t l = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t h = len - 1 - off < 0 ? 0 : (len - 1 - off) / s + 1;
    l = l > out ? out : l;
    h = h > out ? out : h;
    *lo = l;
    *hi = h < l ? l : h;
}

/* col (cig * kh * kw, oh * ow) from x (cig, h, w). */
static void im2col(const cq_conv2d_params *p, int64_t cig, int64_t oh, int64_t ow,
                   const float *x, float *col)
{
    int64_t P = oh * ow;
    for (int64_t c = 0; c < cig; c++)
        for (int64_t ky = 0; ky < p->kh; ky++)
            for (int64_t kx = 0; kx < p->kw; kx++) {
                float *row = col + ((c * p->kh + ky) * p->kw + kx) * P;
                int64_t xoff = kx * p->dil_w - p->pad_left, lo, hi;
                valid_range(xoff, p->stride_w, p->w, ow, &lo, &hi);
                for (int64_t oy = 0; oy < oh; oy++) {
                    float *dst = row + oy * ow;
                    int64_t iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;
                    if (iy < 0 || iy >= p->h) {
                        memset(dst, 0, (size_t)ow * sizeof(float));
                        continue;
                    }
                    const float *src = x + (c * p->h + iy) * p->w;
                    for (int64_t ox = 0; ox < lo; ox++)
                        dst[ox] = 0.0f;
                    if (p->stride_w == 1 && hi > lo)
                        memcpy(dst + lo, src + lo + xoff, (size_t)(hi - lo) * sizeof(float));
                    else
                        for (int64_t ox = lo; ox < hi; ox++)
                            dst[ox] = src[ox * p->stride_w + xoff];
                    for (int64_t ox = hi; ox < ow; ox++)
                        dst[ox] = 0.0f;
                }
            }
}

/* One depthwise output plane y (oh, ow) from the input plane x (h, w). */
static void dw_plane(const cq__kern_vtab *k, const cq_conv2d_params *p, int64_t oh, int64_t ow,
                     const float *x, const float *wk, float bias, float *y)
{
    const float *rows[DW_MAX_KH], *wrows[DW_MAX_KH];
    int64_t lo, hi, lo2, hi2;
    /* interior columns: every tap inside the row */
    valid_range(-p->pad_left, p->stride_w, p->w, ow, &lo, &hi);
    valid_range((p->kw - 1) * p->dil_w - p->pad_left, p->stride_w, p->w, ow, &lo2, &hi2);
    lo = lo2 > lo ? lo2 : lo;
    hi = hi2 < hi ? hi2 : hi;
    if (hi <= lo)
        lo = hi = 0;
    for (int64_t oy = 0; oy < oh; oy++) {
        int64_t nr = 0;
        for (int64_t ky = 0; ky < p->kh; ky++) {
            int64_t iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;
            if (iy >= 0 && iy < p->h) {
                rows[nr] = x + iy * p->w;
                wrows[nr++] = wk + ky * p->kw;
            }
        }
        float *yr = y + oy * ow;
        if (hi > lo)
            k->dw_row(rows, wrows, nr, p->kw, p->stride_w, p->dil_w, -p->pad_left, p->w, lo, hi,
                      bias, p->act, yr);
        for (int64_t ox = 0; ox < ow; ox++) {
            if (ox == lo && hi > lo)
                ox = hi;
            if (ox >= ow)
                break;
            float s = bias;
            for (int64_t r = 0; r < nr; r++)
                for (int64_t kx = 0; kx < p->kw; kx++) {
                    int64_t ix = ox * p->stride_w - p->pad_left + kx * p->dil_w;
                    if (ix >= 0 && ix < p->w)
                        s += wrows[r][kx] * rows[r][ix];
                }
            yr[ox] = cq__act1(p->act, s);
        }
    }
}

/* One own-path call split over the kernel threads: share i of n of image
 * img (group g on the sgemm path), scratch slice tid (the thread's). */
typedef struct conv_job {
    const cq_conv2d_plan *pl;
    own_path path;
    const float *x, *res; /* the image's (res: the group's on the sgemm path) */
    float *y;
    const float *b;       /* sgemm path: the group's B (the column matrix or x) */
    int64_t g;
    char *slices;         /* thread tid's scratch at slices + tid * slice */
    size_t slice;
    const cq_pool2d_params *pool; /* stem path with a fused pool */
    int64_t ph, pw;
} conv_job;

static void conv_part(void *ctx, int i, int n, int tid)
{
    const conv_job *j = ctx;
    const cq_conv2d_plan *pl = j->pl;
    const cq_conv2d_params *p = &pl->p;
    int64_t oh = pl->oh, ow = pl->ow, P = oh * ow, HW = p->h * p->w;
    void *sc = j->slices + (size_t)tid * j->slice;
    switch (j->path) {
    case OWN_STEM:
        if (j->pool)
            cq__stem_pool_run(p, oh, ow, j->x, pl->wst, pl->bpm, j->pool, j->ph, j->pw, j->y, sc,
                              i, n);
        else
            cq__stem_run(p, oh, ow, j->x, pl->wst, pl->bpm, j->y, sc, i, n);
        break;
    case OWN_CONVPM:
        cq__convpm_run(p, oh, ow, j->x, pl->wpm, pl->bpm, j->y, j->res, sc, i, n);
        break;
    case OWN_DWCB: {
        /* whole 16-channel blocks */
        int64_t nb = (p->c_out + 15) / 16, b0 = nb * i / n, b1 = nb * (i + 1) / n;
        int64_t c0 = 16 * b0, c1 = 16 * b1 < p->c_out ? 16 * b1 : p->c_out;
        if (c1 <= c0)
            break;
        cq_conv2d_params q = *p;
        q.c_in = q.c_out = q.groups = c1 - c0;
        cq__dwcb_run(&q, oh, ow, j->x + c0 * HW, pl->wcb + b0 * 16 * p->kh * p->kw,
                     pl->bcb + c0, j->y + c0 * P, sc);
        break;
    }
    case OWN_DWP: {
        /* input channels (with their c_out / c_in outputs each) */
        int64_t mult = p->c_out / p->c_in, c0 = p->c_in * i / n, c1 = p->c_in * (i + 1) / n;
        if (c1 <= c0)
            break;
        cq_conv2d_params q = *p;
        q.c_in = q.groups = c1 - c0;
        q.c_out = (c1 - c0) * mult;
        cq__dwp_run(&q, oh, ow, j->x + c0 * HW, pl->w + c0 * mult * p->kh * p->kw,
                    pl->bias ? pl->bias + c0 * mult : NULL, j->y + c0 * mult * P, sc);
        break;
    }
    case OWN_SGEMM: {
        /* pixel columns, in multiples of 48 (the sgemm's widest tile) */
        int64_t cog = p->c_out / p->groups, K = p->c_in / p->groups * p->kh * p->kw;
        int64_t nb = (P + 47) / 48, n0 = 48 * (nb * i / n), n1 = 48 * (nb * (i + 1) / n);
        n1 = n1 < P ? n1 : P;
        if (n1 <= n0)
            break;
        cq__sgemm_avx512(cog, n1 - n0, K, pl->ap + j->g * pl->ap_group, j->b + n0, P,
                         j->y + n0, P, pl->bias ? pl->bias + j->g * cog : NULL,
                         j->res ? j->res + n0 : NULL, p->act, sc);
        break;
    }
    default:
        break;
    }
}

/* Shares for a call of flops floating-point operations over bytes of
 * activations (input and output): one per kernel thread (claimed by
 * whichever thread is free: a worker the host has descheduled leaves its
 * share to the others), fewer where a share would be too small to pay for
 * the hand-over (MIN_SHARE_FLOP, a few microseconds of work), and none
 * where the work is thin for its data: the share a thread computes lands in
 * its own core's cache, and the next layer reads half of it from the
 * other's (35-40 GB/s here against 100-110 from its own). Whole models,
 * threads 2 against 1 in the same process, in quiet and in busy spells of
 * the host (2026-11-26): every convolution split, ResNet-18 0.59-0.60x,
 * MobileNetV2 0.66-0.92x, BlazeFace 0.72-1.17x; only those of >= 40 flop
 * per activation byte, 0.60-0.63x, 0.96-1.00x and 0.99-1.01x. The threshold
 * sits between BlazeFace's largest (24) and ResNet's 3x3 convolutions
 * (40-1200); MobileNetV2's 1x1 ones are at 7-130. More shares per thread (4
 * or 8) made ResNet-18 slower (0.70-0.86x): each share refills its input
 * rows. */
#define MIN_SHARE_FLOP 2e6
#define MIN_INTENSITY 32.0
static double min_share_flop = MIN_SHARE_FLOP;
void cq__kern_set_min_share(double flop) { min_share_flop = flop; }

static int shares_for(double flops, double bytes)
{
    int t = cq_kern_threads();
    if (t <= 1 || (min_share_flop > 0 && flops < MIN_INTENSITY * bytes))
        return 1;
    double most = min_share_flop > 0 ? flops / min_share_flop : (double)t;
    return most < 1.0 ? 1 : most < (double)t ? (int)most : t;
}

/* y = act(conv + bias + res); res NULL or the same size as y. pool (stem
 * path only): y is the pooled output (ph, pw a plane). */
static cq_status conv_run_own(const cq_conv2d_plan *pl, own_path o, const float *x, float *y,
                              const float *res, const cq_pool2d_params *pool, int64_t ph,
                              int64_t pw, void *scratch)
{
    const cq_conv2d_params *p = &pl->p;
    int64_t oh = pl->oh, ow = pl->ow, P = oh * ow, HW = p->h * p->w;
    int64_t cig = p->c_in / p->groups, cog = p->c_out / p->groups;
    char *base = (char *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    conv_job j;
    memset(&j, 0, sizeof j);
    j.pl = pl;
    j.path = o;
    j.slice = round64(pool ? cq__stem_pool_scratch(p, oh, ow, pool) : pl->tscratch);
    j.slices = base + (o == OWN_SGEMM ? pl->col_bytes : 0);
    j.pool = pool;
    j.ph = ph;
    j.pw = pw;
    int n = shares_for(2.0 * (double)P * (double)(p->c_out * cig * p->kh * p->kw),
                       4.0 * (double)(p->c_in * HW + p->c_out * P));
    int64_t yc = pool ? ph * pw : P;
    for (int64_t img = 0; img < p->n; img++) {
        j.x = x + img * p->c_in * HW;
        j.y = y + img * p->c_out * yc;
        j.res = res ? res + img * p->c_out * yc : NULL;
        if (o != OWN_SGEMM) {
            cq_par_run(n, conv_part, &j);
            continue;
        }
        for (int64_t g = 0; g < p->groups; g++) {
            const float *xg = j.x + g * cig * HW;
            j.b = xg;
            if (pl->algo == CQ_CONV_IM2COL) {
                im2col(p, cig, oh, ow, xg, (float *)base);
                j.b = (const float *)base;
            }
            j.g = g;
            j.y = y + (img * p->c_out + g * cog) * P;
            j.res = res ? res + (img * p->c_out + g * cog) * P : NULL;
            cq_par_run(n, conv_part, &j);
        }
    }
    return CQ_OK;
}

/* y = act(conv + bias + res); res NULL or the same size as y. */
static cq_status conv_run(const cq_conv2d_plan *pl, const float *x, size_t x_count, float *y,
                          size_t y_count, const float *res, void *scratch, size_t scratch_bytes,
                          cq_err *err)
{
    if (!pl || !x || !y)
        return cq_errf(err, CQ_EINVAL, "conv2d: NULL plan or buffer");
    const cq_conv2d_params *p = &pl->p;
    int64_t oh = pl->oh, ow = pl->ow, P = oh * ow, HW = p->h * p->w;
    if (x_count != (size_t)(p->n * p->c_in * HW) || y_count != (size_t)(p->n * p->c_out * P))
        return cq_errf(err, CQ_EINVAL, "conv2d: input has %zu elements (expected %lld), output "
                       "%zu (expected %lld)", x_count, (long long)(p->n * p->c_in * HW), y_count,
                       (long long)(p->n * p->c_out * P));
    size_t need = cq_conv2d_scratch_bytes(pl);
    if (scratch_bytes < need || (need && !scratch))
        return cq_errf(err, CQ_EINVAL, "conv2d: scratch of %zu bytes, the plan needs %zu",
                       scratch_bytes, need);
    const cq__kern_vtab *k = cq__kern();
    if (layout_bytes(pl)) {
        char *s = (char *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
        cq_conv2d_plan q = *pl;
        const float *xx = x, *rr = res;
        float *yy = y;
        if (!layout_native(pl)) {
            /* everything in NCHW for a kernel that knows only that */
            q.p.x_blocked = q.p.y_blocked = q.p.res_blocked = 0;
            if (p->x_blocked) {
                cq_from_blocked_f32(x, p->n, p->c_in, HW, (float *)s);
                xx = (const float *)s;
                s += x_bytes(pl);
            }
            if (p->y_blocked) {
                yy = (float *)s;
                s += y_bytes(pl);
            }
        }
        if (res && p->res_blocked != q.p.y_blocked) {
            if (p->res_blocked)
                cq_from_blocked_f32(res, p->n, p->c_out, P, (float *)s);
            else
                cq_to_blocked_f32(res, p->n, p->c_out, P, (float *)s);
            rr = (const float *)s;
            s += y_bytes(pl);
        }
        q.p.res_blocked = q.p.y_blocked;
        size_t used = (size_t)(s - (char *)scratch);
        if (conv_run(&q, xx, x_count, yy, y_count, rr, s, scratch_bytes - used, err))
            return err->code;
        if (yy != y)
            cq_to_blocked_f32(yy, p->n, p->c_out, P, y);
        return CQ_OK;
    }
    /* calq's own AVX-512 kernels (its sgemm is 1.3-1.8x faster than
     * OpenBLAS's Haswell kernels here), split over the kernel threads */
    own_path o = own_of(pl);
    int64_t cig = p->c_in / p->groups, cog = p->c_out / p->groups;
    int64_t K = cig * p->kh * p->kw;
    /* NCHW16c out of the pixel-major GEMM: the residual in its epilogue
     * (the same layout, one line per pixel and block) */
    int res_epilogue = o == OWN_SGEMM || (o == OWN_CONVPM && p->y_blocked);
    if (res && !res_epilogue) {
        /* No epilogue for it: convolve without the activation, then add and
         * activate in L1-sized chunks. The pixel-major GEMM is here too:
         * adding the residual after its 8x8 transposes made ResNet-18 ~0.5 ms
         * slower than the separate Add (3 alternations, 28.5-29.2 vs
         * 27.9-28.4 ms on a loaded machine). */
        cq_conv2d_plan bare = *pl;
        bare.p.act.kind = CQ_ACT_NONE;
        if (conv_run(&bare, x, x_count, y, y_count, NULL, scratch, scratch_bytes, err))
            return err->code;
        for (int64_t i = 0, n = (int64_t)y_count; i < n; i += 2048) {
            int64_t c = n - i < 2048 ? n - i : 2048;
            k->binary(CQ_BIN_ADD, y + i, 1, res + i, 1, y + i, c);
            if (p->act.kind != CQ_ACT_NONE)
                k->bias_act(0.0f, p->act, y + i, c);
        }
        return CQ_OK;
    }
    if (o)
        return conv_run_own(pl, o, x, y, res, NULL, 0, 0, scratch);
    for (int64_t img = 0; img < p->n; img++) {
        if (pl->algo == CQ_CONV_DEPTHWISE_NHWC) {
            float *xt = scratch, *yt = xt + p->c_in * HW;
            k->transpose(x + img * p->c_in * HW, p->c_in, HW, xt);
            k->dw_nhwc(p, oh, ow, xt, pl->wt, pl->bt, yt);
            k->transpose(yt, P, p->c_out, y + img * p->c_out * P);
            continue;
        }
        if (pl->algo == CQ_CONV_DEPTHWISE) {
            for (int64_t co = 0; co < p->c_out; co++) {
                const float *xc = x + (img * p->c_in + co / cog) * HW;
                dw_plane(k, p, oh, ow, xc, pl->w + co * K, pl->bias ? pl->bias[co] : 0.0f,
                         y + (img * p->c_out + co) * P);
            }
            continue;
        }
        for (int64_t g = 0; g < p->groups; g++) {
            const float *xg = x + (img * p->c_in + g * cig) * HW;
            float *yg = y + (img * p->c_out + g * cog) * P;
            const float *b = xg;
            if (pl->algo == CQ_CONV_IM2COL) {
                im2col(p, cig, oh, ow, xg, scratch);
                b = scratch;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)cog, (int)P, (int)K, 1.0f,
                        pl->w + g * cog * K, (int)K, b, (int)P, 0.0f, yg, (int)P);
            if (pl->bias || p->act.kind != CQ_ACT_NONE)
                for (int64_t co = 0; co < cog; co++)
                    k->bias_act(pl->bias ? pl->bias[g * cog + co] : 0.0f, p->act, yg + co * P, P);
        }
    }
    return CQ_OK;
}

cq_status cq_conv2d_run(const cq_conv2d_plan *pl, const float *x, size_t x_count, float *y,
                        size_t y_count, void *scratch, size_t scratch_bytes, cq_err *err)
{
    return conv_run(pl, x, x_count, y, y_count, NULL, scratch, scratch_bytes, err);
}

cq_status cq_conv2d_run_res(const cq_conv2d_plan *pl, const float *x, size_t x_count,
                            const float *res, float *y, size_t y_count, void *scratch,
                            size_t scratch_bytes, cq_err *err)
{
    if (!res)
        return cq_errf(err, CQ_EINVAL, "conv2d: NULL residual");
    return conv_run(pl, x, x_count, y, y_count, res, scratch, scratch_bytes, err);
}

/* The fused conv + pool: the AVX-512 stem kernel and a max pool its row
 * kernel takes. */
static int pool_fused(const cq_conv2d_plan *pl, const cq_pool2d_params *q, int64_t pw)
{
    return pl && q && own_of(pl) == OWN_STEM && cq__maxpool_rows_applies(q, pw);
}

/* The pool's output size when it fits the conv's output, else -1. */
static int pool_shape(const cq_conv2d_plan *pl, const cq_pool2d_params *q, int64_t *ph,
                      int64_t *pw)
{
    cq_err e;
    if (!pl || !q || q->n != pl->p.n || q->c != pl->p.c_out || q->h != pl->oh ||
        q->w != pl->ow || cq_pool2d_out_shape(q, ph, pw, &e) != CQ_OK)
        return -1;
    return 0;
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

int cq_conv2d_pool_fuses(const cq_conv2d_plan *pl, const cq_pool2d_params *pool)
{
    int64_t ph, pw;
    return pool_shape(pl, pool, &ph, &pw) == 0 && pool_fused(pl, pool, pw);
}

size_t cq_conv2d_pool_scratch_bytes(const cq_conv2d_plan *pl, const cq_pool2d_params *pool)
{
    int64_t ph, pw;
    if (pool_shape(pl, pool, &ph, &pw))
        return 0;
    if (pool_fused(pl, pool, pw))
        return (size_t)cq_kern_threads() * round64(cq__stem_pool_scratch(&pl->p, pl->oh, pl->ow,
                                                                         pool)) + 64;
    /* the conv output, the pooled output before NCHW16c, the conv's scratch */
    cq_conv2d_plan plain = *pl;
    plain.p.y_blocked = 0;
    return y_bytes(pl) +
           (pl->p.y_blocked ? round64((size_t)(pl->p.n * pl->p.c_out * ph * pw) * sizeof(float))
                            : 0) +
           cq_conv2d_scratch_bytes(&plain) + 64;
}

cq_status cq_conv2d_run_pool(const cq_conv2d_plan *pl, const cq_pool2d_params *pool,
                             const float *x, size_t x_count, float *y, size_t y_count,
                             void *scratch, size_t scratch_bytes, cq_err *err)
{
    int64_t ph, pw;
    if (!pl || !pool || !x || !y)
        return cq_errf(err, CQ_EINVAL, "conv2d: NULL plan, pool or buffer");
    const cq_conv2d_params *p = &pl->p;
    if (p->x_blocked)
        return cq_errf(err, CQ_EINVAL, "conv2d: a fused pool takes NCHW input only");
    if (pool_shape(pl, pool, &ph, &pw))
        return cq_errf(err, CQ_EINVAL, "conv2d: the pool (n %lld, c %lld, %lldx%lld) does not "
                       "take the conv's output (n %lld, c %lld, %lldx%lld)", (long long)pool->n,
                       (long long)pool->c, (long long)pool->h, (long long)pool->w,
                       (long long)p->n, (long long)p->c_out, (long long)pl->oh,
                       (long long)pl->ow);
    int64_t HW = p->h * p->w, PP = ph * pw;
    if (x_count != (size_t)(p->n * p->c_in * HW) || y_count != (size_t)(p->n * p->c_out * PP))
        return cq_errf(err, CQ_EINVAL, "conv2d: input has %zu elements (expected %lld), pooled "
                       "output %zu (expected %lld)", x_count, (long long)(p->n * p->c_in * HW),
                       y_count, (long long)(p->n * p->c_out * PP));
    size_t need = cq_conv2d_pool_scratch_bytes(pl, pool);
    if (scratch_bytes < need || !scratch)
        return cq_errf(err, CQ_EINVAL, "conv2d: scratch of %zu bytes, conv + pool needs %zu",
                       scratch_bytes, need);
    if (pool_fused(pl, pool, pw))
        return conv_run_own(pl, OWN_STEM, x, y, NULL, pool, ph, pw, scratch);
    /* the conv output in scratch (64-byte aligned), with y_blocked the
     * pooled NCHW output after it, then the conv's own scratch */
    cq_conv2d_plan plain = *pl;
    plain.p.y_blocked = 0;
    float *c = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    size_t cb = y_bytes(pl), cn = (size_t)(p->n * p->c_out * pl->oh * pl->ow);
    float *pooled = p->y_blocked ? (float *)((char *)c + cb) : y;
    if (p->y_blocked)
        cb += round64(y_count * sizeof(float));
    if (conv_run(&plain, x, x_count, c, cn, NULL, (char *)c + cb,
                 scratch_bytes - cb - (size_t)((char *)c - (char *)scratch), err) ||
        cq_pool2d_f32(pool, c, cn, pooled, y_count, err))
        return err->code;
    if (p->y_blocked)
        cq_to_blocked_f32(pooled, p->n, p->c_out, PP, y);
    return CQ_OK;
}

cq_status cq_conv2d_f32_ref(const cq_conv2d_params *p, const float *x, const float *w,
                            const float *bias, float *y, cq_err *err)
{
    int64_t oh, ow;
    cq_status st = cq_conv2d_out_shape(p, &oh, &ow, err);
    if (st != CQ_OK)
        return st;
    int64_t cig = p->c_in / p->groups, cog = p->c_out / p->groups;
    for (int64_t n = 0; n < p->n; n++)
        for (int64_t co = 0; co < p->c_out; co++) {
            int64_t g = co / cog;
            for (int64_t oy = 0; oy < oh; oy++)
                for (int64_t ox = 0; ox < ow; ox++) {
                    double s = bias ? bias[co] : 0.0;
                    for (int64_t ci = 0; ci < cig; ci++)
                        for (int64_t ky = 0; ky < p->kh; ky++) {
                            int64_t iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;
                            if (iy < 0 || iy >= p->h)
                                continue;
                            for (int64_t kx = 0; kx < p->kw; kx++) {
                                int64_t ix = ox * p->stride_w - p->pad_left + kx * p->dil_w;
                                if (ix < 0 || ix >= p->w)
                                    continue;
                                s += (double)x[((n * p->c_in + g * cig + ci) * p->h + iy) * p->w +
                                               ix] *
                                     w[((co * cig + ci) * p->kh + ky) * p->kw + kx];
                            }
                        }
                    y[((n * p->c_out + co) * oh + oy) * ow + ox] = cq__act1(p->act, (float)s);
                }
        }
    return CQ_OK;
}
