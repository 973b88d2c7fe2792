/* kern_convpm_fill_avx512.c - the input side of the pixel-major GEMM
 * (kern_convpm_avx512.c): the direct path's zero-padded copy of a row
 * group's input rows, and the few-channel stems' rows packed per k block. */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "kern/x86/kern_convpm_x86.h"

/* Output row oy, K rows k0 .. k0 + kc - 1, packed into xp (kc, ldx): xp[t][ox]
 * is the input under tap t for output column ox, 0 in the padding and past
 * ow. Whole-vector loads and stores: one pass per K row for all the row's
 * panels, much cheaper than a 7-pixel copy per panel (bench/NOTES.md, first
 * round). */
void cq__convpm_pack_row(const cq_conv2d_params *p, const float *x, int64_t oy, int64_t k0,
                         int64_t kc, const chunk_src *cs, int64_t nq, int64_t ldx, float *xp)
{
    int64_t khw = p->kh * p->kw;
    int64_t c = k0 / khw, r = k0 % khw, ky = r / p->kw, kx = r % p->kw;
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    int64_t iy_base = oy * p->stride_h - p->pad_top;
    for (int64_t t = 0; t < kc; t++) {
        int64_t iy = iy_base + ky * p->dil_h;
        float *dst = xp + t * ldx;
        if (iy < 0 || iy >= p->h) {
            for (int64_t q = 0; q < nq; q++)
                _mm512_storeu_ps(dst + 16 * q, _mm512_setzero_ps());
        } else {
            /* masked lanes are not read, so an offset may lie outside the row */
            uintptr_t src = (uintptr_t)(x + (c * p->h + iy) * p->w);
            const chunk_src *cq = cs + kx * nq;
            if (p->stride_w == 1)
                for (int64_t q = 0; q < nq; q++)
                    _mm512_storeu_ps(dst + 16 * q,
                                     _mm512_maskz_loadu_ps(cq[q].m0, (const void *)(
                                         src + (uintptr_t)cq[q].off * 4u)));
            else
                for (int64_t q = 0; q < nq; q++) {
                    const char *b = (const char *)(src + (uintptr_t)cq[q].off * 4u);
                    __m512 lo = _mm512_maskz_loadu_ps(cq[q].m0, b);
                    __m512 hi = _mm512_maskz_loadu_ps(cq[q].m1, b + 64);
                    _mm512_storeu_ps(dst + 16 * q, _mm512_permutex2var_ps(lo, even, hi));
                }
        }
        if (++kx == p->kw) {
            kx = 0;
            if (++ky == p->kh) {
                ky = 0;
                c++;
            }
        }
    }
}

/* chunk_src for every (kx, chunk): cs[kx * nq + q]. */
void cq__convpm_chunk_srcs(const cq_conv2d_params *p, int64_t ow, int64_t nq, chunk_src *cs)
{
    int64_t s = p->stride_w;
    for (int64_t kx = 0; kx < p->kw; kx++)
        for (int64_t q = 0; q < nq; q++) {
            chunk_src *e = cs + kx * nq + q;
            e->off = 16 * q * s - p->pad_left + kx * p->dil_w;
            uint32_t m = 0; /* bit j: element off + j of the (s * 16)-wide span */
            for (int64_t l = 0; l < 16; l++) {
                int64_t ox = 16 * q + l, ix = e->off + s * l;
                if (ox < ow && ix >= 0 && ix < p->w)
                    m |= 1u << (s * l);
            }
            e->m0 = (__mmask16)(m & 0xffffu);
            e->m1 = (__mmask16)(m >> 16);
        }
}

/* Input rows g0 s_h - pad_top + [0, gh) of every channel into buf (c_in, gh,
 * wpad), zeros in the padding and outside the image. Whole-vector stores
 * may run 15 floats past a row: rows go in order, and buf has 16 spare. */
void cq__convpm_fill_group(const cq_conv2d_params *p, const float *x, int64_t g0, int64_t gh,
                           int64_t wp, float *buf)
{
    int64_t pl = p->pad_left, W = p->w;
    if (p->x_blocked) {
        /* NCHW16c: buf (c_in / 16, gh, wpad, 16), each row one copy */
        for (int64_t cb = 0; cb < p->c_in / 16; cb++)
            for (int64_t gy = 0; gy < gh; gy++) {
                int64_t iy = g0 * p->stride_h - p->pad_top + gy;
                float *dst = buf + (cb * gh + gy) * wp * 16;
                if (iy < 0 || iy >= p->h) {
                    memset(dst, 0, (size_t)(wp * 16) * sizeof(float));
                    continue;
                }
                memset(dst, 0, (size_t)(pl * 16) * sizeof(float));
                memcpy(dst + pl * 16, x + (cb * p->h + iy) * W * 16,
                       (size_t)(W * 16) * sizeof(float));
                memset(dst + (pl + W) * 16, 0, (size_t)((wp - pl - W) * 16) * sizeof(float));
            }
        return;
    }
    for (int64_t c = 0; c < p->c_in; c++)
        for (int64_t gy = 0; gy < gh; gy++) {
            int64_t iy = g0 * p->stride_h - p->pad_top + gy;
            float *dst = buf + (c * gh + gy) * wp;
            if (iy < 0 || iy >= p->h) {
                for (int64_t i = 0; i < wp; i += 16)
                    _mm512_storeu_ps(dst + i, _mm512_setzero_ps());
                continue;
            }
            /* masked lanes are not read: src may point before the row */
            uintptr_t src = (uintptr_t)(x + (c * p->h + iy) * W);
            for (int64_t i = 0; i < wp; i += 16) {
                int64_t lo = pl - i, hi = pl + W - i; /* lanes [lo, hi) lie in the row */
                lo = lo < 0 ? 0 : lo;
                hi = hi > 16 ? 16 : hi;
                uint32_t m = hi > lo ? ((1u << hi) - 1u) & ~((1u << lo) - 1u) : 0u;
                _mm512_storeu_ps(dst + i,
                                 _mm512_maskz_loadu_ps((__mmask16)m,
                                                       (const void *)(src + (uintptr_t)(i - pl) *
                                                                                4u)));
            }
        }
}
