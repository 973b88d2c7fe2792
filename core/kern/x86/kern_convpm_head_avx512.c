/* kern_convpm_head_avx512.c - the pixel-major GEMM's 1x1 heads of fewer
 * than 16 output channels on NCHW16c input, NCHW output (U-Net's 16 > 2):
 * kern_conv_run.c runs them here instead of cq__convpm_run. W^T as
 * cq__convpm_pack_w packs it for them (one 16-wide panel: w[o][k] at
 * wp[16 k + o]). */
#include <immintrin.h>
#include <stdint.h>

#include "kern/kern_internal.h"
#include "kern/x86/kern_act_avx512.h"
#include "kern/x86/kern_tr.h"

/* A 1x1 head of fewer than 16 output channels (U-Net's 16 > 2), NCHW16c in,
 * NCHW out: the 7-pixel tiles would use one vector of 16 channels for c_out
 * of them and transpose every tile's few channels with gathers (0.58-0.63
 * ms for U-Net's head against 0.31 on NCHW). Here 8 pixels at a time: each
 * 8-channel half of a block's 8 pixels transposed in registers (8x8) into
 * 8 channel rows, then c_out accumulators of 8 pixels; pixels are flat (P
 * contiguous in a block plane), the ragged last 8 masked. In the model
 * 0.25 ms (0.36-0.41 without the prefetch 64 pixels ahead) against the NCHW
 * head's 0.19-0.22, for 0.2 ms less in the conv before it (bench/NOTES.md,
 * fp32 U-Net fourth round). */
int cq__convpm_is_head(const cq_conv2d_params *p)
{
    return p->x_blocked && !p->y_blocked && p->c_out < 16 && p->kh == 1 && p->kw == 1 &&
           p->stride_h == 1 && p->stride_w == 1 && p->pad_top == 0 && p->pad_left == 0 &&
           p->pad_bottom == 0 && p->pad_right == 0;
}

/* 8 pixels from m (the first `valid` of them real: the others read as 0) */
static inline __attribute__((always_inline)) void head8(int co, const cq_conv2d_params *p,
                                                        int64_t P, const float *x,
                                                        const float *wp, const float *bias,
                                                        float *y, int64_t m, int valid)
{
    int64_t nb = p->c_in / 16;
    __m256 acc[15];
#pragma GCC unroll 15
    for (int o = 0; o < 15; o++)
        acc[o] = o < co ? _mm256_set1_ps(bias[o]) : _mm256_setzero_ps();
    for (int64_t cb = 0; cb < nb; cb++)
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            const float *xs = x + (cb * P + m) * 16 + 8 * h;
            if (h == 0 && valid == 8)
#pragma GCC unroll 8
                for (int i = 0; i < 8; i++) /* 64 pixels ahead (past P: a hint only) */
                    _mm_prefetch((const char *)(xs + 16 * (64 + i)), _MM_HINT_T0);
            __m256 r[8];
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++)
                r[i] = valid == 8 ? _mm256_loadu_ps(xs + 16 * i)
                                  : _mm256_maskz_loadu_ps((__mmask8)(i < valid ? 0xff : 0),
                                                          xs + 16 * i);
            cq__tr8x8_ps(r); /* r[j]: channel 16 cb + 8 h + j of the 8 pixels */
            const float *wk = wp + (cb * 16 + 8 * h) * 16;
#pragma GCC unroll 8
            for (int j = 0; j < 8; j++)
#pragma GCC unroll 15
                for (int o = 0; o < co; o++)
                    acc[o] = _mm256_fmadd_ps(_mm256_set1_ps(wk[16 * j + o]), r[j], acc[o]);
        }
    __mmask8 pm = (__mmask8)((1u << valid) - 1u);
#pragma GCC unroll 15
    for (int o = 0; o < co; o++) {
        __m512 v = act16(p->act, _mm512_zextps256_ps512(acc[o]));
        _mm256_mask_storeu_ps(y + o * P + m, pm, _mm512_castps512_ps256(v));
    }
}

static inline __attribute__((always_inline)) void head_units(int co, const cq_conv2d_params *p,
                                                             int64_t P, const float *x,
                                                             const float *wp, const float *bias,
                                                             float *y, int64_t ua, int64_t ub)
{
    int64_t full = P / 8 < ub ? P / 8 : ub; /* units of 8 real pixels */
    int64_t u = ua;
    for (; u < full; u++)
        head8(co, p, P, x, wp, bias, y, 8 * u, 8);
    for (; u < ub; u++)
        head8(co, p, P, x, wp, bias, y, 8 * u, (int)(P - 8 * u));
}

void cq__convpm_head_run(const cq_conv2d_params *p, int64_t P, const float *x, const float *wp,
                         const float *bias, float *y, int part, int nparts)
{
    int64_t nu = (P + 7) / 8, ua = nu * part / nparts, ub = nu * (part + 1) / nparts;
    int co = (int)p->c_out;
    /* constant counts for the usual heads (accumulators in registers) */
    if (co == 1)
        head_units(1, p, P, x, wp, bias, y, ua, ub);
    else if (co == 2)
        head_units(2, p, P, x, wp, bias, y, ua, ub);
    else if (co == 3)
        head_units(3, p, P, x, wp, bias, y, ua, ub);
    else if (co == 4)
        head_units(4, p, P, x, wp, bias, y, ua, ub);
    else
        head_units(co, p, P, x, wp, bias, y, ua, ub);
}
