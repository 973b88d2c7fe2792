/*
 * kern_conv_internal.h - what the Conv2d files share: the plan, which of
 * calq's own AVX-512 paths runs it, the scratch each part of a run takes,
 * and the plain loops of the generic paths. kern_conv.c plans,
 * kern_conv_run.c runs, kern_conv_ref.c holds the loops. Not a public header.
 */
#ifndef CQ_KERN_CONV_INTERNAL_H
#define CQ_KERN_CONV_INTERNAL_H

#include "kern/kern_internal.h"
#include "kern/kern_bgemm.h"

/* Dims, pads and products stay below this so that int (BLAS) and int64 index
 * arithmetic never overflow. */
#define DIM_MAX CQ__DIM_MAX
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
    size_t wpm_bytes; /* wpm's size */
    int dwp;     /* DEPTHWISE where cq__dwp_applies: the AVX-512 plane kernel runs it */
    uint16_t *wpb; /* bf16 (p.bf16, AVX512-BF16, cq__convpmb_applies): W^T pairs for the
                    * bf16 pixel-major GEMM (bias in bpm) */
    uint16_t *wpa; /* bf16 with AMX-BF16 (cq__convamx_applies): W packed in B tiles */
    int bf16_x;  /* bf16 on the f32 paths: weights rounded in the plan, x rounded into
                  * scratch by each run */
    float *wst;  /* IM2COL where cq__stem_applies: weights for the AVX-512 direct
                  * few-channel kernel (bias in bpm) */
    float *wgr;  /* IM2COL where cq__convgr_applies: weights for the AVX-512 direct
                  * grouped kernel (bias in bias) */
    size_t col_bytes; /* IM2COL: the column matrix at the start of scratch */
    size_t scratch;   /* one thread */
    size_t tscratch;  /* the own AVX-512 path's scratch per kernel thread (after
                       * col_bytes on the sgemm path) */
};

/* The own AVX-512 paths, which split their work over the kernel threads. */
typedef enum own_path {
    OWN_NONE = 0, OWN_DWCB, OWN_DWP, OWN_STEM, OWN_CONVPM, OWN_SGEMM, OWN_CONVPMB, OWN_CONVAMX,
    OWN_GRP
} own_path;

/* Whether the CPU has AMX-BF16 and cq_kern_amx() is on
 * (x86/kern_convpm_bf16_amx.c). */
int cq__amx_bf16(void);

/* Whether p.bf16 applies to p: groups 1 and no few-channel stem. */
static inline int bf16_applies(const cq_conv2d_params *p)
{
    return p->bf16 && p->groups == 1 &&
           (p->c_in > CQ__STEM_MAX_CIN || (p->kh == 1 && p->kw == 1));
}

static inline own_path own_of(const cq_conv2d_plan *pl)
{
    if (pl->wpa)
        return cq__amx_bf16() ? OWN_CONVAMX : OWN_NONE;
    if (pl->wpb)
        return cq_bgemm_native() ? OWN_CONVPMB : OWN_NONE;
    if (cq_kern_isa() != CQ_ISA_AVX512)
        return OWN_NONE;
    if (pl->algo == CQ_CONV_DEPTHWISE_NHWC)
        return pl->wcb ? OWN_DWCB : OWN_NONE;
    if (pl->algo == CQ_CONV_DEPTHWISE)
        return pl->dwp ? OWN_DWP : OWN_NONE;
    return pl->wst ? OWN_STEM : pl->wgr ? OWN_GRP : pl->wpm ? OWN_CONVPM : pl->ap ? OWN_SGEMM : OWN_NONE;
}

static inline size_t round64(size_t n) { return (n + 63) / 64 * 64; }

/* Whether the plan's kernel reads x and writes y in the layouts its params
 * name: the pixel-major GEMM (its W^T packed for them) and the 16-channel
 * block depthwise kernel. */
static inline int layout_native(const cq_conv2d_plan *pl)
{
    own_path o = own_of(pl);
    return o == OWN_CONVPM || o == OWN_DWCB || o == OWN_CONVPMB || o == OWN_CONVAMX;
}

static inline size_t x_bytes(const cq_conv2d_plan *pl)
{
    return round64((size_t)(pl->p.n * pl->p.c_in * pl->p.h * pl->p.w) * sizeof(float));
}

static inline size_t y_bytes(const cq_conv2d_plan *pl)
{
    return round64((size_t)(pl->p.n * pl->p.c_out * pl->oh * pl->ow) * sizeof(float));
}

/* Scratch for the layouts, before the kernel's own: a kernel that knows
 * only NCHW gets x, y and the residual converted; the native one gets the
 * residual converted to y's layout where the two differ. */
static inline size_t layout_bytes(const cq_conv2d_plan *pl)
{
    const cq_conv2d_params *p = &pl->p;
    if (!p->x_blocked && !p->y_blocked && !p->res_blocked)
        return 0;
    if (layout_native(pl))
        return p->res_blocked != p->y_blocked ? y_bytes(pl) + 64 : 0;
    return (p->x_blocked ? x_bytes(pl) : 0) + (p->y_blocked ? y_bytes(pl) : 0) +
           (p->res_blocked ? y_bytes(pl) : 0) + 64;
}

/* A thread's slice of the own path's scratch at t threads: the kernel's
 * own, and on the sgemm path over several groups at t > 1 a column matrix
 * after it (the groups are shared out, each share making its own). */
static inline size_t own_slice(const cq_conv2d_plan *pl, own_path o, int t)
{
    int own_cols = o == OWN_SGEMM && pl->p.groups > 1 && t > 1;
    return round64(pl->tscratch) + (own_cols ? pl->col_bytes : 0);
}

/* Scratch of the own path at t threads: the shared column matrix (sgemm
 * path), then a 64-byte-aligned slice per thread; 64 more for aligning the
 * base. */
static inline size_t own_bytes(const cq_conv2d_plan *pl, own_path o, int t)
{
    return (o == OWN_SGEMM ? pl->col_bytes : 0) + (size_t)t * own_slice(pl, o, t) + 64;
}

/* The bf16 pixel-major implicit GEMM (x86/kern_convpm_bf16_avx512.c):
 * applies to groups 1, stride_w 1 or 2, kw <= 16, padded rows up to 4096,
 * either layout. W (c_out, K) is rounded and packed by cq__convpmb_pack_w
 * into npad * K' bf16 (npad as cq__convpm_pw, K' = c_in rounded up to 16
 * (NCHW16c input) or 2, times kh kw); bias_pad has npad entries. One image
 * as cq__convpm_run, res likewise (y in NCHW16c only); scratch holds
 * cq__convpmb_scratch() bytes per share. Call only where cq_bgemm_native(). */
int cq__convpmb_applies(const cq_conv2d_params *p);
size_t cq__convpmb_wcount(const cq_conv2d_params *p);
void cq__convpmb_pack_w(const cq_conv2d_params *p, const float *w, uint16_t *wp);
size_t cq__convpmb_scratch(const cq_conv2d_params *p, int64_t oh, int64_t ow);
void cq__convpmb_run(const cq_conv2d_params *p, int64_t oh, int64_t ow, const float *x,
                     const uint16_t *wp, const float *bias_pad, float *y, const float *res,
                     void *scratch, int part, int nparts);

/* The bf16 convolution on AMX tiles (x86/kern_convpm_bf16_amx.c): where
 * the CPU has AMX-BF16 and cq_kern_amx() (cq__amx_bf16); applies to groups
 * 1, either layout, padded rows up to 256 KiB of bf16, up to 4096 k steps
 * (taps x 32-channel chunks). W is rounded and packed by cq__convamx_pack_w
 * into cq__convamx_wcount() bf16 (1 KiB B tiles); bias_pad holds c_out
 * rounded up to 32. One image as cq__convpm_run (res: y in NCHW16c only);
 * scratch holds cq__convamx_scratch() bytes per share. */
int cq__convamx_applies(const cq_conv2d_params *p);
size_t cq__convamx_wcount(const cq_conv2d_params *p);
void cq__convamx_pack_w(const cq_conv2d_params *p, const float *w, uint16_t *wp);
size_t cq__convamx_scratch(const cq_conv2d_params *p, int64_t oh, int64_t ow);
void cq__convamx_run(const cq_conv2d_params *p, int64_t oh, int64_t ow, const float *x,
                     const uint16_t *wp, const float *bias_pad, float *y, const float *res,
                     void *scratch, int part, int nparts);

/* col (cig * kh * kw, oh * ow) from x (cig, h, w) of one image and group. */
void cq__conv_im2col(const cq_conv2d_params *p, int64_t cig, int64_t oh, int64_t ow,
                     const float *x, float *col);
/* One depthwise output plane y (oh, ow) from the input plane x (h, w):
 * interior columns through k's dw_row, the border in plain loops. */
void cq__conv_dw_plane(const cq__kern_vtab *k, const cq_conv2d_params *p, int64_t oh,
                       int64_t ow, const float *x, const float *wk, float bias, float *y);

#endif
