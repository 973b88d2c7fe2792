/* kern_pool_avx512.c - MaxPool 2-D over whole rows with AVX-512 (no
 * dilation, stride_w 1 or 2, kw <= 16): per output row, the max over the
 * window's input rows inside the image (kh - 1 vector maxes per 16 columns)
 * goes to a row buffer with -inf in the left / right padding, then each
 * 16-output block takes the max of its kw taps (stride 2: the even lanes of
 * a two-vector load). No border case and no scalar tail, where the generic
 * row kernel (kern_simd.h) leaves the end of a stride-2 row, which its
 * two-vector loads would read past, to a scalar loop: a third of ResNet's
 * 3x3/2 pool outputs (bench/NOTES.md, third round (c)). The row function
 * takes the window's rows as pointers, so that a producer keeping only a
 * ring of rows (the stem conv, kern_stem_avx512.c) pools from it. */
#include <immintrin.h>
#include <math.h>

#include "kern/x86/kern_act_avx512.h"
#include "kern/kern_internal.h"

#define ROW_MAX 4096 /* padded input row the buffer holds (floats) */
/* prefetch distance in output rows: 8 is the fastest for ResNet-18's pool
 * in the model (bench/NOTES.md, "Kernel comments moved here") */
#ifndef PF_ROWS
#define PF_ROWS 8
#endif

/* Floats of the row buffer that the last 16-output block reaches. */
static int64_t buf_reach(const cq_pool2d_params *p, int64_t ow)
{
    int64_t nb = (ow + 15) / 16, s = p->stride_w;
    int64_t len = (nb - 1) * 16 * s + p->kw - 1 + 16 * s;
    return len > p->pad_left + p->w ? len : p->pad_left + p->w;
}

int cq__maxpool_rows_applies(const cq_pool2d_params *p, int64_t ow)
{
    int64_t s = p->stride_w;
    return p->kind == CQ_POOL_MAX && p->dil_h == 1 && p->dil_w == 1 && (s == 1 || s == 2) &&
           p->kw <= 16 && p->kh <= CQ__MAXPOOL_MAX_KH && ow >= 1 &&
           buf_reach(p, ow) <= ROW_MAX + 64;
}

void cq__maxpool_buf_init(const cq_pool2d_params *p, int64_t ow, float *buf)
{
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    for (int64_t i = 0, n = buf_reach(p, ow); i < n; i += 16)
        _mm512_storeu_ps(buf + i, ninf);
}

static inline __attribute__((always_inline)) void
maxpool_row_s2k3_n(const float *const *rows, int64_t nr, int64_t W, int64_t ow, __m512 ninf,
                   float *yr)
{
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28,
                                         30);
    const __m512i od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29,
                                         31);
    __m512 oprev = ninf;
    /* blocks whose 32 columns all lie in the row: plain loads, no masks */
    int64_t nfull = W / 32 < (ow + 15) / 16 ? W / 32 : (ow + 15) / 16;
    for (int64_t b = 0; 16 * b < ow; b++) {
        int64_t c = 32 * b;
        __m512 v0 = ninf, v1 = ninf;
        if (b < nfull) {
            for (int64_t k = 0; k < nr; k++) {
                v0 = _mm512_max_ps(v0, _mm512_loadu_ps(rows[k] + c));
                v1 = _mm512_max_ps(v1, _mm512_loadu_ps(rows[k] + c + 16));
            }
        } else {
            __mmask16 m0 = range_mask(c, W), m1 = range_mask(c + 16, W);
            for (int64_t k = 0; k < nr; k++) {
                v0 = _mm512_max_ps(v0, _mm512_mask_loadu_ps(ninf, m0, rows[k] + c));
                v1 = _mm512_max_ps(v1, _mm512_mask_loadu_ps(ninf, m1, rows[k] + c + 16));
            }
        }
        __m512 e = _mm512_permutex2var_ps(v0, ev, v1), o = _mm512_permutex2var_ps(v0, od, v1);
        __m512 sh = _mm512_castsi512_ps(
            _mm512_alignr_epi32(_mm512_castps_si512(o), _mm512_castps_si512(oprev), 15));
        oprev = o;
        __m512 r = _mm512_max_ps(_mm512_max_ps(e, o), sh);
        if (16 * b + 16 <= ow)
            _mm512_storeu_ps(yr + 16 * b, r);
        else
            _mm512_mask_storeu_ps(yr + 16 * b, range_mask(16 * b, ow), r);
    }
}

/* One output row of a 3-wide, stride-2, left-pad-1 max pool: the vertical
 * max of the nr rows over 32 columns at a time, deinterleaved into even (E)
 * and odd (O) columns; output ox = max(col 2 ox - 1, 2 ox, 2 ox + 1) =
 * max(O shifted right by one lane, E, O), the lane shifted in being the
 * block before's last odd column (-inf at the row's start and past its end).
 * No row buffer: the general path's costs a store-to-load forwarding stall
 * on most of its unaligned loads (bench/NOTES.md, fourth round). Three rows
 * (the rows inside the image) with the row count known to the compiler. */
static void maxpool_row_s2k3(const float *const *rows, int64_t nr, int64_t W, int64_t ow,
                             __m512 ninf, float *yr)
{
    if (nr == 3)
        maxpool_row_s2k3_n(rows, 3, W, ow, ninf, yr);
    else
        maxpool_row_s2k3_n(rows, nr, W, ow, ninf, yr);
}

void cq__maxpool_row_avx512(const cq_pool2d_params *p, const float *const *rows, int64_t nr,
                            int64_t ow, float *buf, float *yr)
{
    int64_t s = p->stride_w, kw = p->kw, W = p->w, pl = p->pad_left;
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    /* 3 wide, stride 2, left pad 1 (ResNet's pool): in registers, no row
     * buffer */
    if (s == 2 && kw == 3 && pl == 1) {
        maxpool_row_s2k3(rows, nr, W, ow, ninf, yr);
        return;
    }
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    int64_t nwv = (W + 15) / 16;
    __mmask16 wtail = (__mmask16)(W % 16 ? (1u << (W % 16)) - 1u : 0xffffu);
    /* vertical max into buf[pl ..]; the padding around stays -inf */
    for (int64_t v = 0; v < nwv; v++) {
        __mmask16 m = v == nwv - 1 ? wtail : (__mmask16)0xffffu;
        __m512 acc = ninf;
        if (v < nwv - 1)
            for (int64_t k = 0; k < nr; k++)
                acc = _mm512_max_ps(acc, _mm512_loadu_ps(rows[k] + 16 * v));
        else
            for (int64_t k = 0; k < nr; k++)
                acc = _mm512_max_ps(acc, _mm512_mask_loadu_ps(ninf, m, rows[k] + 16 * v));
        _mm512_mask_storeu_ps(buf + pl + 16 * v, m, acc);
    }
    for (int64_t b = 0, nb = (ow + 15) / 16; b < nb; b++) {
        const float *q = buf + 16 * s * b;
        __m512 acc = ninf;
        if (s == 1)
            for (int64_t k = 0; k < kw; k++)
                acc = _mm512_max_ps(acc, _mm512_loadu_ps(q + k));
        else
            for (int64_t k = 0; k < kw; k++)
                acc = _mm512_max_ps(acc, _mm512_permutex2var_ps(_mm512_loadu_ps(q + k), even,
                                                                _mm512_loadu_ps(q + k + 16)));
        _mm512_mask_storeu_ps(yr + 16 * b, range_mask(16 * b, ow), acc);
    }
}

int cq__maxpool_avx512(const cq_pool2d_params *p, int64_t oh, int64_t ow, const float *x,
                       float *y)
{
    if (!cq__maxpool_rows_applies(p, ow))
        return 0;
    int64_t W = p->w;
    float buf[CQ__MAXPOOL_BUF_FLOATS] __attribute__((aligned(64)));
    cq__maxpool_buf_init(p, ow, buf);
    const float *rows[CQ__MAXPOOL_MAX_KH];
    for (int64_t nc = 0; nc < p->n * p->c; nc++) {
        const float *xc = x + nc * p->h * W;
        float *yc = y + nc * oh * ow;
        for (int64_t oy = 0; oy < oh; oy++) {
            int64_t y0 = oy * p->stride_h - p->pad_top;
            int64_t ya = y0 < 0 ? 0 : y0, yb = y0 + p->kh > p->h ? p->h : y0 + p->kh;
            /* the rows PF_ROWS output rows ahead (in the model the input
             * comes from memory, and the loads below would stall on it) */
            int64_t py = (oy + PF_ROWS) * p->stride_h - p->pad_top;
            const float *px = xc;
            if (oy + PF_ROWS >= oh) { /* past the plane's end: the next plane's first rows */
                py = (oy + PF_ROWS - oh) * p->stride_h - p->pad_top;
                px = nc + 1 < p->n * p->c ? xc + p->h * W : NULL;
            }
            for (int64_t iy = py < 0 ? 0 : py; px && iy < py + p->kh && iy < p->h; iy++)
                for (int64_t i = 0; i < W; i += 16)
                    _mm_prefetch((const char *)(px + iy * W + i), _MM_HINT_T0);
            int64_t nr = 0;
            for (int64_t iy = ya; iy < yb; iy++)
                rows[nr++] = xc + iy * W;
            cq__maxpool_row_avx512(p, rows, nr, ow, buf, yc + oy * ow);
        }
    }
    return 1;
}
