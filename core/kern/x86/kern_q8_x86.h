/* kern_q8_x86.h - int32 sums to u8 / s8 codes, 64 at a time (AVX-512BW): the
 * packed epilogue the int8 GEMM (kern_qgemm_avx512.c) and the grouped conv
 * (kern_qconv_grp_avx512.c) share. cq_requantize's operations with the clamp
 * done by saturating packs (int32 -> int16, + zero point saturating, -> 8
 * bits) and a clamp on bytes, which gives the same codes; the scale's
 * rounding is vcvtps2dq's (to nearest even, as nearbyintf), with scaled sums
 * past cap (2^30) held at cap, above every code, where vcvtps2dq would wrap
 * them to INT32_MIN. */
#ifndef CALQ_KERN_Q8_X86_H
#define CALQ_KERN_Q8_X86_H

#include <immintrin.h>

/* The sums a scaled by mu, rounded: codes before the zero point. */
static inline __attribute__((always_inline)) __m512i cq__q8_scale(__m512i a, __m512 mu,
                                                                  __m512 cap)
{
    return _mm512_cvtps_epi32(_mm512_min_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(a), mu), cap));
}

/* Four vectors of such codes to 64 bytes, + zp16 (16-bit lanes), clamped to
 * lo8..hi8 (bytes; signed where s8), sorted back to v0's 16, v1's, v2's,
 * v3's: the packs leave dword 4 L + k holding 128-bit chunk L of v_k, and
 * perm (0, 4, 8, 12, 1, 5, ...) undoes that. */
static inline __attribute__((always_inline)) __m512i
cq__q8_pack64(__m512i v0, __m512i v1, __m512i v2, __m512i v3, __m512i zp16, __m512i lo8,
              __m512i hi8, __m512i perm, int s8)
{
    __m512i w01 = _mm512_adds_epi16(_mm512_packs_epi32(v0, v1), zp16);
    __m512i w23 = _mm512_adds_epi16(_mm512_packs_epi32(v2, v3), zp16);
    __m512i b;
    if (s8)
        b = _mm512_min_epi8(_mm512_max_epi8(_mm512_packs_epi16(w01, w23), lo8), hi8);
    else
        b = _mm512_min_epu8(_mm512_max_epu8(_mm512_packus_epi16(w01, w23), lo8), hi8);
    return _mm512_permutexvar_epi32(perm, b);
}

/* perm above */
static inline __attribute__((always_inline)) __m512i cq__q8_perm(void)
{
    return _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
}

#endif
