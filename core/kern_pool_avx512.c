/* kern_pool_avx512.c - MaxPool 2-D over whole rows with AVX-512 (no
 * dilation, stride_w 1 or 2, kw <= 16): per output row, the max over the
 * window's input rows inside the image (kh - 1 vector maxes per 16 columns)
 * goes to a row buffer with -inf in the left / right padding, then each
 * 16-output block takes the max of its kw taps (stride 2: the even lanes of
 * a two-vector load). No border case and no scalar tail: ResNet's 3x3/2 pool
 * had a third of its outputs in the generic path's scalar tail. */
#include <immintrin.h>
#include <math.h>

#include "kern_act_avx512.h"
#include "kern_internal.h"

#define ROW_MAX 4096 /* padded input row the buffer holds (floats) */
/* prefetch distance in output rows (ResNet-18's pool in the model, medians
 * of 100, two alternations: 2 rows 0.135-0.173 ms, 4 0.129-0.150, 8
 * 0.119-0.122, 16 0.131) */
#ifndef PF_ROWS
#define PF_ROWS 8
#endif

/* One output row of a 3-wide, stride-2, left-pad-1 max pool: the vertical
 * max of input rows [ya, yb) over 32 columns at a time, deinterleaved into
 * even (E) and odd (O) columns; output ox = max(col 2 ox - 1, 2 ox, 2 ox + 1)
 * = max(O shifted right by one lane, E, O), the lane shifted in being the
 * block before's last odd column (-inf at the row's start and past its end).
 * The general path's row buffer cost a store-to-load forwarding stall on
 * most of its unaligned loads. */
static void maxpool_row_s2k3(const float *xc, int64_t W, int64_t ya, int64_t yb, int64_t ow,
                             __m512 ninf, float *yr)
{
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28,
                                         30);
    const __m512i od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29,
                                         31);
    __m512 oprev = ninf;
    for (int64_t b = 0; 16 * b < ow; b++) {
        int64_t c = 32 * b;
        __mmask16 m0 = range_mask(c, W), m1 = range_mask(c + 16, W);
        __m512 v0 = ninf, v1 = ninf;
        for (int64_t iy = ya; iy < yb; iy++) {
            const float *r = xc + iy * W + c;
            if (m1 == 0xffffu) {
                v0 = _mm512_max_ps(v0, _mm512_loadu_ps(r));
                v1 = _mm512_max_ps(v1, _mm512_loadu_ps(r + 16));
            } else {
                v0 = _mm512_max_ps(v0, _mm512_mask_loadu_ps(ninf, m0, r));
                v1 = _mm512_max_ps(v1, _mm512_mask_loadu_ps(ninf, m1, r + 16));
            }
        }
        __m512 e = _mm512_permutex2var_ps(v0, ev, v1), o = _mm512_permutex2var_ps(v0, od, v1);
        __m512 sh = _mm512_castsi512_ps(
            _mm512_alignr_epi32(_mm512_castps_si512(o), _mm512_castps_si512(oprev), 15));
        oprev = o;
        _mm512_mask_storeu_ps(yr + 16 * b, range_mask(16 * b, ow),
                              _mm512_max_ps(_mm512_max_ps(e, o), sh));
    }
}

int cq__maxpool_avx512(const cq_pool2d_params *p, int64_t oh, int64_t ow, const float *x,
                       float *y)
{
    int64_t s = p->stride_w, kw = p->kw, W = p->w, pl = p->pad_left;
    int64_t nb = (ow + 15) / 16; /* 16-output blocks */
    /* buffer reach: last block's first tap at (nb - 1) 16 s, kw taps, 16 s
     * floats each */
    int64_t len = (nb - 1) * 16 * s + kw - 1 + 16 * s;
    if (p->kind != CQ_POOL_MAX || p->dil_h != 1 || p->dil_w != 1 || (s != 1 && s != 2) ||
        kw > 16 || pl + W > ROW_MAX || len > ROW_MAX + 64)
        return 0;
    float buf[ROW_MAX + 64 + 16] __attribute__((aligned(64)));
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    int64_t blen = len > pl + W ? len : pl + W;
    for (int64_t i = 0; i < blen; i += 16)
        _mm512_storeu_ps(buf + i, ninf);
    /* 3 wide, stride 2, left pad 1 (ResNet's pool): in registers, no row
     * buffer */
    int s2k3 = s == 2 && kw == 3 && pl == 1;
    int64_t nwv = (W + 15) / 16;
    __mmask16 wtail = (__mmask16)(W % 16 ? (1u << (W % 16)) - 1u : 0xffffu);
    for (int64_t nc = 0; nc < p->n * p->c; nc++) {
        const float *xc = x + nc * p->h * W;
        float *yc = y + nc * oh * ow;
        for (int64_t oy = 0; oy < oh; oy++) {
            int64_t y0 = oy * p->stride_h - p->pad_top;
            int64_t ya = y0 < 0 ? 0 : y0, yb = y0 + p->kh > p->h ? p->h : y0 + p->kh;
            /* the rows PF_ROWS output rows ahead (in the model the input
             * comes from memory, and the loads below stalled on it) */
            int64_t py = (oy + PF_ROWS) * p->stride_h - p->pad_top;
            const float *px = xc;
            if (oy + PF_ROWS >= oh) { /* past the plane's end: the next plane's first rows */
                py = (oy + PF_ROWS - oh) * p->stride_h - p->pad_top;
                px = nc + 1 < p->n * p->c ? xc + p->h * W : NULL;
            }
            for (int64_t iy = py < 0 ? 0 : py; px && iy < py + p->kh && iy < p->h; iy++)
                for (int64_t i = 0; i < W; i += 16)
                    _mm_prefetch((const char *)(px + iy * W + i), _MM_HINT_T0);
            if (s2k3) {
                maxpool_row_s2k3(xc, W, ya, yb, ow, ninf, yc + oy * ow);
                continue;
            }
            /* vertical max into buf[pl ..]; the padding around stays -inf */
            for (int64_t v = 0; v < nwv; v++) {
                __mmask16 m = v == nwv - 1 ? wtail : (__mmask16)0xffffu;
                __m512 acc = ninf;
                if (v < nwv - 1)
                    for (int64_t iy = ya; iy < yb; iy++)
                        acc = _mm512_max_ps(acc, _mm512_loadu_ps(xc + iy * W + 16 * v));
                else
                    for (int64_t iy = ya; iy < yb; iy++)
                        acc = _mm512_max_ps(
                            acc, _mm512_mask_loadu_ps(ninf, m, xc + iy * W + 16 * v));
                _mm512_mask_storeu_ps(buf + pl + 16 * v, m, acc);
            }
            float *yr = yc + oy * ow;
            for (int64_t b = 0; b < nb; b++) {
                const float *q = buf + 16 * s * b;
                __m512 acc = ninf;
                if (s == 1)
                    for (int64_t k = 0; k < kw; k++)
                        acc = _mm512_max_ps(acc, _mm512_loadu_ps(q + k));
                else
                    for (int64_t k = 0; k < kw; k++)
                        acc = _mm512_max_ps(acc, _mm512_permutex2var_ps(_mm512_loadu_ps(q + k),
                                                                        even,
                                                                        _mm512_loadu_ps(q + k + 16)));
                int64_t r = ow - 16 * b;
                __mmask16 m = (__mmask16)(r >= 16 ? 0xffffu : (1u << r) - 1u);
                _mm512_mask_storeu_ps(yr + 16 * b, m, acc);
            }
        }
    }
    return 1;
}
