/* kern_hist_avx512.c - AVX-512 twins of the calibration histogram loops
 * (kern_hist.h; the scalar references are in kern_hist.c).
 *
 * Scan: masked min / max over the finite lanes; NaN and infinities are
 * counted only in the rare vectors that hold one. Binning: the signed bin of
 * 16 values at a time is computed in registers (the same float product and
 * truncation as the reference, so the same bins) into a 64-entry index
 * buffer, then the increments go to the interleaved copies, element t to copy
 * t % CQ_HIST_COPIES as in the reference. */
#include <immintrin.h>
#include <math.h>

#include "kern/kern_hist_internal.h"

#define ABS_MASK 0x7fffffff
#define EXP_ALL 0x7f800000

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

/* Signed bins of 16 values (lanes outside `lanes` go to the dump slot). */
static inline __m512i bins16(const float *x, __mmask16 lanes, __m512 inv, __m512i nbv,
                             __m512i nbm1, __m512i dump)
{
    const __m512i absm = _mm512_set1_epi32(ABS_MASK), expm = _mm512_set1_epi32(EXP_ALL);
    __m512 v = _mm512_maskz_loadu_ps(lanes, x);
    __m512i ab = _mm512_and_si512(_mm512_castps_si512(v), absm);
    __mmask16 fin = _mm512_mask_cmplt_epi32_mask(lanes, ab, expm);
    __m512i i = _mm512_cvttps_epi32(_mm512_mul_ps(_mm512_castsi512_ps(ab), inv));
    __mmask16 neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
    __m512i j = _mm512_add_epi32(nbv, i);
    j = _mm512_mask_sub_epi32(j, neg, nbm1, i);
    return _mm512_mask_mov_epi32(dump, fin, j);
}

void cq__hist_bin_f32_avx512(const float *x, int64_t n, float inv_width, int32_t nb,
                             uint16_t *cnt)
{
    int64_t st = cq_hist_stride(nb);
    uint16_t *c[CQ_HIST_COPIES];
    for (int k = 0; k < CQ_HIST_COPIES; k++)
        c[k] = cnt + k * st;
    const __m512 inv = _mm512_set1_ps(inv_width);
    const __m512i nbv = _mm512_set1_epi32(nb), nbm1 = _mm512_set1_epi32(nb - 1),
                  dump = _mm512_set1_epi32(2 * nb);
    int32_t idx[64] __attribute__((aligned(64)));
    int64_t t = 0;
    for (; t + 64 <= n; t += 64) {
        _mm512_store_si512((void *)idx, bins16(x + t, 0xffff, inv, nbv, nbm1, dump));
        _mm512_store_si512((void *)(idx + 16), bins16(x + t + 16, 0xffff, inv, nbv, nbm1, dump));
        _mm512_store_si512((void *)(idx + 32), bins16(x + t + 32, 0xffff, inv, nbv, nbm1, dump));
        _mm512_store_si512((void *)(idx + 48), bins16(x + t + 48, 0xffff, inv, nbv, nbm1, dump));
        for (int k = 0; k < 64; k += CQ_HIST_COPIES)
            for (int m = 0; m < CQ_HIST_COPIES; m++) /* unrolled: CQ_HIST_COPIES is a constant */
                c[m][idx[k + m]]++;
    }
    /* tail: vectors of 16, the last one masked; t stays a multiple of CQ_HIST_COPIES */
    for (; t < n; t += 16) {
        int64_t m = n - t < 16 ? n - t : 16;
        __mmask16 lanes = (__mmask16)((1u << m) - 1);
        _mm512_store_si512((void *)idx, bins16(x + t, lanes, inv, nbv, nbm1, dump));
        for (int64_t k = 0; k < m; k++)
            cnt[((t + k) % CQ_HIST_COPIES) * st + idx[k]]++;
    }
}
