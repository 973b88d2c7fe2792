/* kern_hist_avx512.c - AVX-512 twins of the calibration histogram loops
 * (kern_hist.h; the scalar references are in kern_hist.c).
 *
 * Scan: masked min / max over the finite lanes; NaN and infinities are
 * counted only in the rare vectors that hold one.
 *
 * Binning, one pass: for each block of CQ_HIST_BLOCK values, the signed bins
 * of its four vectors are computed in registers (the same float product and
 * truncation as the reference, so the same bins) with one compare of the
 * magnitude's bits against the grid's limit 2^e: below it means finite and
 * on the grid. Only when a lane fails it is the block looked at closer (NaN,
 * infinity, or a finite value beyond the grid: then the pass stops before
 * the block). Min and max go along in registers, the bins into a 64-entry
 * index buffer, then the increments go to the interleaved copies, element t
 * to copy t % CQ_HIST_COPIES as in the reference. The increments (a load
 * and a store each) bound the pass, not the arithmetic. */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kern/kern_hist_internal.h"

#define ABS_MASK 0x7fffffff
#define EXP_ALL 0x7f800000
/* Values the binning pass prefetches ahead (2 KiB): the hardware's own
 * prefetch alone leaves the pass waiting on memory for activations that are
 * not in cache (bench/NOTES.md). */
#define PREFETCH 512

void cq__hist_scan_f32_avx512(const float *x, int64_t n, cq_hist_scan *s)
{
    __m512 lo = _mm512_set1_ps(s->min), hi = _mm512_set1_ps(s->max);
    const __m512i absm = _mm512_set1_epi32(ABS_MASK), expm = _mm512_set1_epi32(EXP_ALL);
    int64_t nan = 0, pinf = 0, ninf = 0;
    for (int64_t t = 0; t < n; t += 16) {
        __mmask16 lanes = n - t >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - t)) - 1);
        __m512 v = _mm512_maskz_loadu_ps(lanes, x + t);
        __m512i ab = _mm512_and_si512(_mm512_castps_si512(v), absm);
        __mmask16 fin = _mm512_mask_cmplt_epi32_mask(lanes, ab, expm);
        lo = _mm512_mask_min_ps(lo, fin, lo, v);
        hi = _mm512_mask_max_ps(hi, fin, hi, v);
        if (fin != lanes) {
            __mmask16 isnan = _mm512_mask_cmpgt_epi32_mask(lanes, ab, expm);
            __mmask16 isinf = _mm512_mask_cmpeq_epi32_mask(lanes, ab, expm);
            __mmask16 neg = _mm512_mask_cmplt_epi32_mask(isinf, _mm512_castps_si512(v),
                                                         _mm512_setzero_si512());
            nan += __builtin_popcount(isnan);
            ninf += __builtin_popcount(neg);
            pinf += __builtin_popcount(isinf) - __builtin_popcount(neg);
        }
    }
    float mn = _mm512_reduce_min_ps(lo), mx = _mm512_reduce_max_ps(hi);
    s->min = mn == 0.0f ? 0.0f : mn;
    s->max = mx == 0.0f ? 0.0f : mx;
    s->nan += nan;
    s->pinf += pinf;
    s->ninf += ninf;
    s->finite += n - nan - pinf - ninf;
}

/* A block is four vectors (bin_block). */
typedef char block_is_four_vectors[CQ_HIST_BLOCK == 64 ? 1 : -1];

/* What the binning pass carries from block to block. */
typedef struct bin_state {
    __m512 inv, lo, hi;
    __m512i lim, nbv, nbm1, dump;
    int64_t nan, pinf, ninf;
} bin_state;

/* The signed bins of x[0..16 nv) into idx (the last vector's lanes: last),
 * min, max and the non-finite counts into b; 0 (and nothing done) when a
 * finite value lies beyond the grid. */
static inline __attribute__((always_inline)) int bin_block(const float *x, int nv, __mmask16 last,
                                                           bin_state *b, int32_t *idx)
{
    const __m512i absm = _mm512_set1_epi32(ABS_MASK), expm = _mm512_set1_epi32(EXP_ALL);
    __m512 v[4];
    __m512i ab[4];
    __mmask16 ln[4], in[4], odd = 0;
    for (int k = 0; k < 4; k++) {
        ln[k] = k < nv - 1 ? (__mmask16)0xffff : k == nv - 1 ? last : 0;
        v[k] = _mm512_maskz_loadu_ps(ln[k], x + 16 * k);
        ab[k] = _mm512_and_si512(_mm512_castps_si512(v[k]), absm);
        in[k] = _mm512_mask_cmplt_epi32_mask(ln[k], ab[k], b->lim); /* finite, on the grid */
        odd |= (__mmask16)(ln[k] & ~in[k]);
    }
    if (odd) { /* NaN, infinities or values beyond the grid: rare */
        __mmask16 fin[4];
        for (int k = 0; k < 4; k++) {
            fin[k] = _mm512_mask_cmplt_epi32_mask(ln[k], ab[k], expm);
            if (fin[k] & ~in[k])
                return 0;
        }
        for (int k = 0; k < 4; k++) {
            __mmask16 isnan = _mm512_mask_cmpgt_epi32_mask(ln[k], ab[k], expm);
            __mmask16 isinf = (__mmask16)(ln[k] & ~fin[k] & ~isnan);
            __mmask16 neg = _mm512_mask_cmplt_epi32_mask(isinf, _mm512_castps_si512(v[k]),
                                                         _mm512_setzero_si512());
            b->nan += __builtin_popcount(isnan);
            b->ninf += __builtin_popcount(neg);
            b->pinf += __builtin_popcount(isinf) - __builtin_popcount(neg);
        }
    }
    for (int k = 0; k < 4; k++) {
        b->lo = _mm512_mask_min_ps(b->lo, in[k], b->lo, v[k]);
        b->hi = _mm512_mask_max_ps(b->hi, in[k], b->hi, v[k]);
        __m512i i = _mm512_cvttps_epi32(_mm512_mul_ps(_mm512_castsi512_ps(ab[k]), b->inv));
        __mmask16 neg = _mm512_cmp_ps_mask(v[k], _mm512_setzero_ps(), _CMP_LT_OQ);
        __m512i j = _mm512_add_epi32(b->nbv, i);
        j = _mm512_mask_sub_epi32(j, neg, b->nbm1, i);
        _mm512_store_si512((void *)(idx + 16 * k), _mm512_mask_mov_epi32(b->dump, in[k], j));
    }
    return 1;
}

int64_t cq__hist_bin_f32_avx512(const float *x, int64_t n, float inv_width, int32_t nb,
                                uint16_t *cnt, cq_hist_scan *s)
{
    int64_t st = cq_hist_stride(nb);
    uint16_t *c[CQ_HIST_COPIES];
    for (int k = 0; k < CQ_HIST_COPIES; k++)
        c[k] = cnt + k * st;
    /* the grid's limit 2^e as float bits (+inf's bits when 2^e overflows):
     * |x|'s bits below it <=> x finite and on the grid */
    float lim = (float)nb / inv_width;
    int32_t lim_bits;
    memcpy(&lim_bits, &lim, sizeof lim_bits);
    bin_state b = {_mm512_set1_ps(inv_width), _mm512_set1_ps(s->min), _mm512_set1_ps(s->max),
                   _mm512_set1_epi32(lim_bits), _mm512_set1_epi32(nb), _mm512_set1_epi32(nb - 1),
                   _mm512_set1_epi32(2 * nb), 0, 0, 0};
    int32_t idx[CQ_HIST_BLOCK] __attribute__((aligned(64)));
    int64_t t = 0;
    for (; t + CQ_HIST_BLOCK <= n; t += CQ_HIST_BLOCK) {
        /* one line a vector; past the end of x is harmless, a hint never faults */
        uintptr_t ahead = (uintptr_t)(x + t) + PREFETCH * sizeof *x;
        for (int k = 0; k < CQ_HIST_BLOCK; k += 16)
            _mm_prefetch((const char *)(ahead + k * sizeof *x), _MM_HINT_T0);
        if (!bin_block(x + t, 4, 0xffff, &b, idx))
            goto out;
        /* Fully unrolled, the copies' pointers in registers: GCC -O2 does
         * not unroll these loops by itself, and the loop costs a third of
         * the throughput (bench/NOTES.md). */
#pragma GCC unroll 64
        for (int k = 0; k < CQ_HIST_BLOCK; k += CQ_HIST_COPIES)
#pragma GCC unroll 16
            for (int m = 0; m < CQ_HIST_COPIES; m++)
                c[m][idx[k + m]]++;
    }
    if (t < n) { /* the last, partial block; t is a multiple of CQ_HIST_COPIES */
        int64_t m = n - t;
        int nv = (int)((m + 15) / 16);
        __mmask16 last = (__mmask16)((1u << (m - 16 * (nv - 1))) - 1);
        if (!bin_block(x + t, nv, last, &b, idx))
            goto out;
        for (int64_t k = 0; k < m; k++)
            c[k % CQ_HIST_COPIES][idx[k]]++;
        t = n;
    }
out:;
    float mn = _mm512_reduce_min_ps(b.lo), mx = _mm512_reduce_max_ps(b.hi);
    s->min = mn == 0.0f ? 0.0f : mn;
    s->max = mx == 0.0f ? 0.0f : mx;
    s->nan += b.nan;
    s->pinf += b.pinf;
    s->ninf += b.ninf;
    s->finite += t - b.nan - b.pinf - b.ninf;
    return t;
}

void cq__hist_fold_avx512(uint16_t *cnt, int32_t nb, uint64_t *counts)
{
    int64_t st = cq_hist_stride(nb), m = 2 * (int64_t)nb; /* m: a multiple of 256 */
    for (int64_t j = 0; j < m; j += 16) {
        __m512i sum = _mm512_setzero_si512(); /* 16 bins, 32-bit: at most 4 x 65535 */
        for (int c = 0; c < CQ_HIST_COPIES; c++)
            sum = _mm512_add_epi32(sum, _mm512_cvtepu16_epi32(
                                            _mm256_loadu_si256((const void *)(cnt + c * st + j))));
        __m512i a = _mm512_cvtepu32_epi64(_mm512_castsi512_si256(sum));
        __m512i h = _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(sum, 1));
        _mm512_storeu_si512(counts + j, _mm512_add_epi64(_mm512_loadu_si512(counts + j), a));
        _mm512_storeu_si512(counts + j + 8, _mm512_add_epi64(_mm512_loadu_si512(counts + j + 8), h));
    }
    memset(cnt, 0, (size_t)(CQ_HIST_COPIES * st) * sizeof *cnt);
}
