/*
 * kern_qconv_internal.h - what the int8 convolution's files share: the plan,
 * the one scalar definition of an output code, and the per-ISA kernels
 * (x86/kern_qconv_avx512.c, x86/kern_qconv_avx2.c). Not a public header.
 */
#ifndef CQ_KERN_QCONV_INTERNAL_H
#define CQ_KERN_QCONV_INTERNAL_H

#include <math.h>

#include "kern/kern_qconv.h"
#include "kern/kern_qgemm.h"

typedef enum qc_path {
    QC_REF = 0,  /* plain loops (cq_qconv2d_ref's) */
    QC_GEMM1X1,  /* 1x1, stride 1, no pad, groups 1: int8 GEMM on the NHWC rows */
    QC_IGEMM,    /* groups 1: int8 GEMM on the rows of the pixels' windows, gathered per
                  * block or read in place (view) */
    QC_DW,       /* groups == c_in == c_out, AVX-512: vpdpbusd on quads of taps */
    QC_DWC,      /* groups == c_in == c_out, AVX2: int32 loops over channel vectors */
    QC_GRP       /* AVX-512, other groups and few input channels: vpdpbusd on broadcast
                  * input quads over 16-output-channel vectors (kern_qconv_grp_avx512.c) */
} qc_path;

/* Depthwise AVX-512: channels in chunks of 64; the kernel's rows in quads
 * (nq = ceil(kh / 4)), each tap row of a quad one byte of a vpdpbusd group. */
#define CQ__QCDW_CH 64

/* groups 1 with at most this many input channels (and a kernel larger than
 * 1x1) runs the grp path: the stems (bench/NOTES.md, "int8 convolution"). */
#ifndef CQ__QCGRP_FEW
#define CQ__QCGRP_FEW 4
#endif
/* and so do 1x1 convolutions of at most this many input channels (the int8
 * GEMM's epilogue and tiles cost more than its k of 16 to 32 products) */
#ifndef CQ__QCGRP_1X1
#define CQ__QCGRP_1X1 32
#endif

struct cq_qconv2d_plan {
    cq_qconv2d_params p;
    int64_t oh, ow;
    int64_t cig, K;       /* c_in / groups; K = kh * kw * cig (a GEMM row) */
    cq_isa isa;
    qc_path path;
    int8_t *w;            /* copy of w (c_out, cig, kh, kw): the reference path */
    int32_t *bias;        /* copy or NULL */
    float *mult;          /* c_out (dw: padded to nch * 64 with zeros) */
    cq_qgemm_plan *g;     /* GEMM paths: w as (c_out, kh, kw, cig) rows */
    int g_add;            /* g's epilogue does the Add (cq__qgemm_fold_add); else g
                           * gives s32 sums and the Add is a pass of its own */
    int view;             /* QC_IGEMM on AVX-512: the output pixels whose window lies
                           * inside the input read their rows in place
                           * (cq__qgemm_avx512_unit_runs), the others gathered */
    /* depthwise */
    int64_t nch, nq;      /* 64-channel chunks, tap-row quads */
    int64_t pix;          /* dw AVX-512: output pixels per vector (64 / c at c 16 or 32,
                           * stride_w 1: a row's pixels are contiguous; else 1) */
    int64_t tail;         /* dw AVX-512: channels of the last chunk when 16 or fewer (pix
                           * 1): they run one 16-channel vector per pixel */
    int8_t *wt;           /* tail weights [quad][kx][16 channels][4 taps of the quad] */
    int32_t *compt;       /* tail: 16, channel order */
    float *multt;         /* tail: 16, channel order */
    int8_t *wq;           /* tail, for kern_qconv_dw3_avx512.c (one quad, kw 3): the tail's
                           * 16 channels as a chunk of 4 pixels (pix 4 of c 16), both
                           * blocks: [2][kx][4 vectors][16 x 4], lane order */
    int32_t *compq;       /* tail: 64, that lane order */
    float *multq;         /* tail: 64, that lane order */
    int8_t *wd;           /* AVX-512: [chunk][quad][kx][4 vectors][16 x 4] (lane order
                           * below), with one quad (kh <= 3) then the same with the taps
                           * one byte up ([0 w0 w1 w2]); AVX2: int16 [kh * kw][c] */
    int32_t *comp;        /* AVX-512: [chunk][4][16] bias - (x_zp (+128)) * sum w, lane
                           * order; AVX2: bias [c] */
    float *multp;         /* AVX-512: mult in lane order [chunk][4][16] */
    int no_min;           /* |acc * mult| stays below 2^30: the clamp before vcvtps2dq
                           * can go */
    int64_t nph;          /* dw AVX-512 on flat rows (kern_qconv_dwf_avx512.c): the phases
                           * C / gcd(C, 64) of wf, compf, multf; 0: the chunk passes */
    int8_t *wf;           /* [phase][2 blocks][kx][4 vectors][16 x 4], lane order */
    int32_t *compf;       /* [phase][4][16] */
    float *multf;         /* [phase][4][16] */
    /* grp (wd: the packed weights, comp: bias - zp * sum w, 16 per vector) */
    int64_t c4;           /* c_in rounded up to 4: the band buffer's pixel */
    int64_t band;         /* output rows per band buffer */
    int32_t *gq0, *gnq;   /* per output vector: first input quad, quads */
    int64_t *goff;        /* per output vector: byte offset of its weights in wd */
    int64_t *toff;        /* per tap: byte offset in the band buffer */
    int direct;           /* no pads, c_in % 4 == 0, u8 in, not lane mode: the input rows
                           * are the band buffer */
    int64_t glane;        /* c_in / groups == c_out / groups == 4 or 8: 1 or 2 (else 0):
                           * lane (L, j) of a vector (128-bit lane L, dword j) takes input
                           * quad j of a 128-bit broadcast of the vector's 16 input
                           * channels, then quad j ^ 1; weights [b][tap][glane][16][4],
                           * comp and multp in that lane order */
    uint8_t gout[16], gin[16]; /* lane mode: byte shuffles lane -> channel order, and back */
    size_t per;           /* per-thread scratch bytes (64-aligned) */
};

/* The dw lane order: vector j (0..3) of a 64-channel chunk, dword 4 L + i
 * (128-bit lane L, i 0..3), holds channel 16 L + 4 j + i of the chunk: what
 * unpacking bytes, then words, of four rows of 64 channels gives. */

/* The output code of one output, from its exact sum acc (bias included),
 * and the residual's code r when p->add.on (see kern_qconv.h). */
static inline int32_t cq__qconv_code(const cq_qconv2d_params *p, float mult, int32_t acc,
                                     int32_t r)
{
    if (!p->add.on)
        return cq_requantize(acc, mult, p->y_zp, p->y_min, p->y_max);
    int32_t q = cq_requantize(acc, mult, p->add.q_zp, p->add.q_min, p->add.q_max);
    float v = p->add.res_first
                  ? fmaf((float)r, p->add.ra, fmaf((float)q, p->add.rb, p->add.fixed))
                  : fmaf((float)q, p->add.ra, fmaf((float)r, p->add.rb, p->add.fixed));
    return cq_round_sat(v, p->y_min, p->y_max);
}

/* Check p (and mult: c_out finite values); oh, ow out. */
cq_status cq__qconv_check(const cq_qconv2d_params *p, const float *mult, int64_t *oh,
                          int64_t *ow, cq_err *err);

/* Residual epilogue of a row block: rows x c_out int32 sums acc (row stride
 * c_out; bias included) of which columns [j0, j1) are done; res and y are
 * the block's NHWC rows of c_out codes, y's dtype. */
void cq__qconv_res_rows(const cq_qconv2d_params *p, const float *mult, const int32_t *acc,
                        int64_t rows, int64_t j0, int64_t j1, const void *res, void *y);
void cq__qconv_res_rows_avx512(const cq_qconv2d_params *p, const float *mult,
                               const int32_t *acc, int64_t rows, int64_t j0, int64_t j1,
                               const void *res, void *y);

/* Depthwise AVX-512 (path QC_DW): pack w (c, 1, kh, kw) into pl->wd, pl->comp,
 * pl->multp; then output rows [r0, r1) of (n * oh) from x, res, y NHWC;
 * scratch cq__qconv_dw_avx512_scratch bytes (64-aligned). */
void cq__qconv_dw_avx512_pack(cq_qconv2d_plan *pl, const int8_t *w);
size_t cq__qconv_dw_avx512_scratch(const cq_qconv2d_plan *pl);
void cq__qconv_dw_avx512_rows(const cq_qconv2d_plan *pl, const void *x, const void *res,
                              void *y, int64_t r0, int64_t r1, void *scratch);

/* Depthwise 3x3/1 on flat rows (kern_qconv_dwf_avx512.c, where
 * cq_qconv2d_flat_rows and the plan take them: no residual, no clamp before
 * vcvtps2dq): pack pl->wf, compf, multf (pl->nph phases, allocated). */
void cq__qconv_dwf_avx512_pack(cq_qconv2d_plan *pl, const int8_t *w);

/* Depthwise AVX2 (path QC_DWC): pl->wd int16 [kh * kw][c], pl->comp = bias;
 * output rows [r0, r1) of (n * oh), NHWC; scratch c int32. */
void cq__qconv_dwc_avx2_rows(const cq_qconv2d_plan *pl, const void *x, const void *res,
                             void *y, int64_t r0, int64_t r1, void *scratch);

/* Grouped / few-channel AVX-512 (path QC_GRP): pack w into pl->wd, pl->comp,
 * gq0, gnq, goff, c4 (0 when out of memory); the band buffer's bytes (after
 * pl->band, pl->toff are set); output rows [r0, r1) of (n * oh), NHWC. */
int cq__qconv_grp_avx512_pack(cq_qconv2d_plan *pl, const int8_t *w);
size_t cq__qconv_grp_avx512_scratch(const cq_qconv2d_plan *pl);
void cq__qconv_grp_avx512_rows(const cq_qconv2d_plan *pl, const void *x, const void *res,
                               void *y, int64_t r0, int64_t r1, void *scratch);

#endif
