/*
 * kern_dwcb_avx512.c - depthwise 2-D convolution on small NCHW planes, 16
 * channels at a time (AVX-512).
 *
 * Vectors run across 16 channels. Per block of 16 channels the input planes
 * are transposed (16x16 in registers) into a zero-bordered pixel-major
 * buffer, [h + pads][w + pads][16], which stays in L1 for planes up to
 * about 14x14; each output pixel is then kh * kw plain loads and FMAs with
 * the block's weight vectors, and the block's outputs, [oh * ow][16], go
 * back to the NCHW planes through the same transpose. From NCHW16c (the
 * params' x_blocked) a block's rows are copied as they are, and into it
 * (y_blocked) the outputs are computed in place. Unlike the channel-last
 * path (kern_conv.c), nothing is transposed through a whole-tensor
 * scratch, and each tap's weights are loaded once per block, not once per
 * pixel (bench/NOTES.md, fourth round, "Small planes").
 */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "kern/x86/kern_act_avx512.h"
#include "kern/kern_internal.h"
#include "kern/x86/kern_tr.h"

#define CB 16

int cq__dwcb_applies(const cq_conv2d_params *p)
{
    /* the kernel's extent, dilation included */
    int64_t eh = p->dil_h * (p->kh - 1) + 1, ew = p->dil_w * (p->kw - 1) + 1;
    return p->groups == p->c_in && p->c_out == p->c_in && p->dil_h >= 1 && p->dil_w >= 1 &&
           p->kh * p->kw <= CQ__DWCB_MAX_TAPS && p->pad_left < ew && p->pad_right < ew &&
           p->pad_top < eh && p->pad_bottom < eh;
}

/* Padded buffer: rows of the input plus the pads, each of (w + pads) pixels,
 * rounded so the last output's taps stay inside. */
static void padded_dims(const cq_conv2d_params *p, int64_t oh, int64_t ow, int64_t *hp,
                        int64_t *wp)
{
    int64_t a = p->pad_top + p->h, b = (oh - 1) * p->stride_h + p->dil_h * (p->kh - 1) + 1;
    *hp = a > b ? a : b;
    a = p->pad_left + p->w;
    b = (ow - 1) * p->stride_w + p->dil_w * (p->kw - 1) + 1;
    *wp = a > b ? a : b;
}

size_t cq__dwcb_scratch(const cq_conv2d_params *p, int64_t oh, int64_t ow)
{
    int64_t hp, wp;
    padded_dims(p, oh, ow, &hp, &wp);
    return (size_t)((hp * wp + oh * ow) * CB) * sizeof(float) + 64;
}

void cq__dwcb_pack_w(const cq_conv2d_params *p, const float *w, const float *bias, float *wb,
                     float *bb)
{
    int64_t C = p->c_in, T = p->kh * p->kw, nb = (C + CB - 1) / CB;
    memset(wb, 0, (size_t)(nb * T * CB) * sizeof(float));
    memset(bb, 0, (size_t)(nb * CB) * sizeof(float));
    for (int64_t c = 0; c < C; c++) {
        for (int64_t t = 0; t < T; t++)
            wb[(c / CB * T + t) * CB + c % CB] = w[c * T + t];
        bb[c] = bias ? bias[c] : 0.0f;
    }
}

/* The output pixels of row oy from ox0, NP at a time: taps from the padded
 * buffer xb (row stride wp pixels), weights wv. */
static inline __attribute__((always_inline)) void out_row(const float *xb, int64_t wp,
                                                          int64_t sh, int64_t sw, int64_t kh,
                                                          int64_t kw, const __m512 *wv,
                                                          __m512 vb, cq_act act, int64_t oy,
                                                          int64_t ow, float *yb)
{
    int64_t ox = 0;
    for (; ox + 4 <= ow; ox += 4) {
        __m512 a0 = vb, a1 = vb, a2 = vb, a3 = vb;
        for (int64_t ky = 0; ky < kh; ky++) {
            const float *r = xb + ((oy * sh + ky) * wp + ox * sw) * CB;
            for (int64_t kx = 0; kx < kw; kx++) {
                __m512 w = wv[ky * kw + kx];
                a0 = _mm512_fmadd_ps(_mm512_load_ps(r + kx * CB), w, a0);
                a1 = _mm512_fmadd_ps(_mm512_load_ps(r + (sw + kx) * CB), w, a1);
                a2 = _mm512_fmadd_ps(_mm512_load_ps(r + (2 * sw + kx) * CB), w, a2);
                a3 = _mm512_fmadd_ps(_mm512_load_ps(r + (3 * sw + kx) * CB), w, a3);
            }
        }
        float *o = yb + (oy * ow + ox) * CB;
        _mm512_store_ps(o, act16(act, a0));
        _mm512_store_ps(o + CB, act16(act, a1));
        _mm512_store_ps(o + 2 * CB, act16(act, a2));
        _mm512_store_ps(o + 3 * CB, act16(act, a3));
    }
    for (; ox < ow; ox++) {
        __m512 a0 = vb;
        for (int64_t ky = 0; ky < kh; ky++) {
            const float *r = xb + ((oy * sh + ky) * wp + ox * sw) * CB;
            for (int64_t kx = 0; kx < kw; kx++)
                a0 = _mm512_fmadd_ps(_mm512_load_ps(r + kx * CB), wv[ky * kw + kx], a0);
        }
        _mm512_store_ps(yb + (oy * ow + ox) * CB, act16(act, a0));
    }
}

/* NP output pixels, p .. p + NP - 1 of the flat [oh][ow] order (a group
 * may span rows), into yb + p * CB: each pixel its own accumulator, NP
 * independent FMA chains through the kh * kw taps from the padded buffer xb
 * (row stride wp pixels), weights wv: kernels past 3x3, whose taps make
 * long chains (an FMA's latency is 4 cycles; the rows of four, 3x3's,
 * ran 5x5 on 14x14 planes 15 % slower, their ragged ends one chain at a
 * time). */
static inline __attribute__((always_inline)) void out_px(int np, const float *xb, int64_t wp,
                                                         int64_t sh, int64_t sw, int64_t kh,
                                                         int64_t kw, int64_t dh, int64_t dw,
                                                         const __m512 *wv,
                                                         __m512 vb, cq_act act, int64_t ow,
                                                         int64_t p, int64_t oy, int64_t ox,
                                                         float *yb)
{
    const float *r[8];
    __m512 a[8];
    /* pixel p is (oy, ox); the next ones step along the row and wrap */
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        r[i] = xb + (oy * sh * wp + ox * sw) * CB;
        a[i] = vb;
        if (++ox == ow) {
            ox = 0;
            oy++;
        }
    }
    for (int64_t ky = 0; ky < kh; ky++)
        for (int64_t kx = 0; kx < kw; kx++) {
            __m512 w = wv[ky * kw + kx];
            int64_t off = (ky * dh * wp + kx * dw) * CB;
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++)
                if (i < np)
                    a[i] = _mm512_fmadd_ps(_mm512_load_ps(r[i] + off), w, a[i]);
        }
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
        if (i < np)
            _mm512_store_ps(yb + (p + i) * CB, act16(act, a[i]));
}

/* (oy, ox) advanced by n pixels along the rows of ow. */
static inline void step(int64_t n, int64_t ow, int64_t *oy, int64_t *ox)
{
    for (*ox += n; *ox >= ow; *ox -= ow)
        ++*oy;
}

/* All oh * ow output pixels, eight at a time, then four, then one. */
static inline __attribute__((always_inline)) void out_plane(const float *xb, int64_t wp,
                                                            int64_t sh, int64_t sw, int64_t kh,
                                                            int64_t kw, int64_t dh, int64_t dw,
                                                            const __m512 *wv,
                                                            __m512 vb, cq_act act, int64_t oh,
                                                            int64_t ow, float *yb)
{
    int64_t P = oh * ow, p = 0, oy = 0, ox = 0;
    for (; p + 8 <= P; p += 8, step(8, ow, &oy, &ox))
        out_px(8, xb, wp, sh, sw, kh, kw, dh, dw, wv, vb, act, ow, p, oy, ox, yb);
    for (; p + 4 <= P; p += 4, step(4, ow, &oy, &ox))
        out_px(4, xb, wp, sh, sw, kh, kw, dh, dw, wv, vb, act, ow, p, oy, ox, yb);
    for (; p < P; p++, step(1, ow, &oy, &ox))
        out_px(1, xb, wp, sh, sw, kh, kw, dh, dw, wv, vb, act, ow, p, oy, ox, yb);
}

void cq__dwcb_run(const cq_conv2d_params *pin, int64_t oh, int64_t ow, const float *x,
                  const float *wb, const float *bb, float *y, void *scratch)
{
    /* the activations with an exp: each block bare, then act_exp_rows */
    cq_conv2d_params q = *pin;
    const cq_conv2d_params *p = &q;
    cq_act act = q.act;
    int late = act.kind >= CQ_ACT_SIGMOID;
    if (late)
        q.act.kind = CQ_ACT_NONE;
    int64_t C = p->c_in, T = p->kh * p->kw, HW = p->h * p->w, P = oh * ow, hp, wp;
    padded_dims(p, oh, ow, &hp, &wp);
    float *xb = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63), *yb = xb + hp * wp * CB;
    /* NCHW16c y, aligned: each block's outputs straight into it */
    int in_y = p->y_blocked && ((uintptr_t)y & 63) == 0;
    const float *xend = x + C * HW;
    /* the borders stay zero: the blocks write only the interior */
    memset(xb, 0, (size_t)(hp * wp * CB) * sizeof(float));
    for (int64_t c0 = 0; c0 < C; c0 += CB) {
        int64_t cb = C - c0 < CB ? C - c0 : CB;
        const float *xc = x + c0 * HW;
        /* the block's planes -> xb, 16 pixels of a row at a time (NCHW16c:
         * the block's rows as they are) */
        for (int64_t iy = 0; iy < p->h && p->x_blocked; iy++)
            memcpy(xb + ((iy + p->pad_top) * wp + p->pad_left) * CB, xc + iy * p->w * CB,
                   (size_t)(p->w * CB) * sizeof(float));
        for (int64_t iy = 0; iy < p->h && !p->x_blocked; iy++)
            for (int64_t ix = 0; ix < p->w; ix += CB) {
                int64_t n = p->w - ix < CB ? p->w - ix : CB;
                __mmask16 m = (__mmask16)((1u << n) - 1u);
                __m512 r[16];
                /* plain loads (the lanes past the row read the next row's
                 * pixels, never stored), masked ones only where a vector
                 * would run past x: masked loads that miss L1 are slow */
#pragma GCC unroll 16
                for (int c = 0; c < CB; c++) {
                    const float *src = xc + c * HW + iy * p->w + ix;
                    r[c] = c >= cb              ? _mm512_setzero_ps()
                           : src + CB <= xend ? _mm512_loadu_ps(src)
                                              : _mm512_maskz_loadu_ps(m, src);
                }
                cq__tr16x16_ps(r);
                float *d = xb + ((iy + p->pad_top) * wp + ix + p->pad_left) * CB;
#pragma GCC unroll 16
                for (int i = 0; i < CB; i++)
                    if (i < n)
                        _mm512_store_ps(d + i * CB, r[i]);
            }
        __m512 wv[CQ__DWCB_MAX_TAPS];
        for (int64_t t = 0; t < T; t++)
            wv[t] = _mm512_loadu_ps(wb + (c0 / CB * T + t) * CB);
        __m512 vb = _mm512_loadu_ps(bb + c0);
        float *yo = in_y ? y + c0 * P : yb;
        if (p->kh == 3 && p->kw == 3 && p->dil_h == 1 && p->dil_w == 1) {
            /* 3x3: row by row, four pixels a group (one base pointer, the
             * taps at constant offsets: eight pixels across rows measured
             * slower here) */
            for (int64_t oy = 0; oy < oh; oy++) {
                if (p->stride_w == 1)
                    out_row(xb, wp, p->stride_h, 1, 3, 3, wv, vb, p->act, oy, ow, yo);
                else if (p->stride_w == 2)
                    out_row(xb, wp, p->stride_h, 2, 3, 3, wv, vb, p->act, oy, ow, yo);
                else
                    out_row(xb, wp, p->stride_h, p->stride_w, 3, 3, wv, vb, p->act, oy, ow,
                            yo);
            }
        } else if (p->kh == 5 && p->kw == 5 && p->stride_w == 1 && p->dil_w == 1)
            out_plane(xb, wp, p->stride_h, 1, 5, 5, p->dil_h, 1, wv, vb, p->act, oh, ow, yo);
        else if (p->kh == 5 && p->kw == 5 && p->stride_w == 2 && p->dil_w == 1)
            out_plane(xb, wp, p->stride_h, 2, 5, 5, p->dil_h, 1, wv, vb, p->act, oh, ow, yo);
        else
            out_plane(xb, wp, p->stride_h, p->stride_w, p->kh, p->kw, p->dil_h, p->dil_w, wv,
                      vb, p->act, oh, ow, yo);
        if (late)
            act_exp_rows(act, yo, P * CB);
        if (p->y_blocked) {
            if (!in_y)
                memcpy(y + c0 * P, yb, (size_t)(P * CB) * sizeof(float));
            continue;
        }
        /* yb -> the block's output planes, 16 pixels at a time */
        float *yc = y + c0 * P;
        for (int64_t p0 = 0; p0 < P; p0 += CB) {
            int64_t n = P - p0 < CB ? P - p0 : CB;
            __mmask16 m = (__mmask16)((1u << n) - 1u);
            __m512 r[16];
#pragma GCC unroll 16
            for (int i = 0; i < CB; i++)
                r[i] = i < n ? _mm512_load_ps(yb + (p0 + i) * CB) : _mm512_setzero_ps();
            cq__tr16x16_ps(r);
#pragma GCC unroll 16
            for (int c = 0; c < CB; c++)
                if (c < cb)
                    _mm512_mask_storeu_ps(yc + c * P + p0, m, r[c]);
        }
    }
}
