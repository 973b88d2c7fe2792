/* kern_tr8.h - an 8x8 float transpose in AVX registers, for the AVX-512
 * kernels' epilogues (kern_convpm_avx512.c: pixels x channels into NCHW
 * planes; kern_stem_avx512.c: pooled channel rows into NCHW16c). */
#ifndef CQ_KERN_TR8_H
#define CQ_KERN_TR8_H

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

#endif
