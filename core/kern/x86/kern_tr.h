/* kern_tr.h - float transposes in registers: 8x8 in AVX registers
 * (kern_avx2.c's transpose; the AVX-512 epilogues of kern_convpm_avx512.c,
 * pixels x channels into NCHW planes, and kern_stem_avx512.c, pooled channel
 * rows into NCHW16c) and 16x16 in AVX-512 registers, between NCHW16c and
 * planes (kern_dwcb_avx512.c, kern_convpl_avx512.c). */
#ifndef CQ_KERN_TR_H
#define CQ_KERN_TR_H

#include <immintrin.h>

/* r[0..7], the rows of an 8x8 block, become its columns, in place. */
static inline __attribute__((always_inline)) void cq__tr8x8_ps(__m256 r[8])
{
    __m256 u[8], v[8];
    for (int i = 0; i < 8; i += 2) {
        u[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        u[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        v[i] = _mm256_shuffle_ps(u[i], u[i + 2], 0x44);
        v[i + 1] = _mm256_shuffle_ps(u[i], u[i + 2], 0xee);
        v[i + 2] = _mm256_shuffle_ps(u[i + 1], u[i + 3], 0x44);
        v[i + 3] = _mm256_shuffle_ps(u[i + 1], u[i + 3], 0xee);
    }
    /* v[k]: rows 0-3 of column k (low half) and of column k + 4 (high
     * half); v[k + 4]: rows 4-7 of the same columns */
    for (int k = 0; k < 4; k++) {
        r[k] = _mm256_permute2f128_ps(v[k], v[k + 4], 0x20);
        r[k + 4] = _mm256_permute2f128_ps(v[k], v[k + 4], 0x31);
    }
}

/* r[0..15], the rows of a 16x16 block, become its columns, in place. */
static inline __attribute__((always_inline)) void cq__tr16x16_ps(__m512 r[16])
{
    __m512 t[16];
#pragma GCC unroll 8
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
#pragma GCC unroll 4
    for (int i = 0; i < 16; i += 4) {
        __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 2]);
        __m512d c = _mm512_castps_pd(t[i + 1]), d = _mm512_castps_pd(t[i + 3]);
        r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
        r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
        r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(c, d));
        r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(c, d));
    }
    /* now r[4 q + k], 128-bit lane l, holds rows 4 q .. 4 q + 3 of column
     * 4 l + k: two passes of 128-bit lane shuffles gather each column */
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
        t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
    }
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
        r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
        r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xdd);
    }
}

#endif
