/* kern_qelt_x86.h - the byte transpose the AVX2 and AVX-512 tables of
 * kern_qelt share: 16 x 16 blocks in SSE registers (four rounds of
 * unpacks), the edges byte by byte. */
#ifndef CQ_KERN_QELT_X86_H
#define CQ_KERN_QELT_X86_H

#include <immintrin.h>
#include <stdint.h>

/* The 16 x 16 block at src (row stride lds) into dst (row stride ldd),
 * transposed. */
static inline __attribute__((always_inline)) void cq__tr8_16x16(const uint8_t *src, int64_t lds,
                                                                uint8_t *dst, int64_t ldd)
{
    __m128i a[16], b[16];
    for (int i = 0; i < 16; i++)
        a[i] = _mm_loadu_si128((const __m128i *)(src + i * lds));
    /* round 1: bytes of row pairs; 2: 16-bit pairs; 3: 32-bit; 4: 64-bit */
    for (int i = 0; i < 8; i++) {
        b[i] = _mm_unpacklo_epi8(a[2 * i], a[2 * i + 1]);
        b[i + 8] = _mm_unpackhi_epi8(a[2 * i], a[2 * i + 1]);
    }
    for (int i = 0; i < 8; i++) {
        a[i] = _mm_unpacklo_epi16(b[2 * i], b[2 * i + 1]);
        a[i + 8] = _mm_unpackhi_epi16(b[2 * i], b[2 * i + 1]);
    }
    for (int i = 0; i < 8; i++) {
        b[i] = _mm_unpacklo_epi32(a[2 * i], a[2 * i + 1]);
        b[i + 8] = _mm_unpackhi_epi32(a[2 * i], a[2 * i + 1]);
    }
    for (int i = 0; i < 8; i++) {
        a[i] = _mm_unpacklo_epi64(b[2 * i], b[2 * i + 1]);
        a[i + 8] = _mm_unpackhi_epi64(b[2 * i], b[2 * i + 1]);
    }
    /* a[k] now holds column perm(k): the four rounds shuffle the index bits */
    static const int col[16] = {0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15};
    for (int k = 0; k < 16; k++)
        _mm_storeu_si128((__m128i *)(dst + col[k] * ldd), a[k]);
}

/* dst[j * ldd + i] = src[i * lds + j], i < rows, j < cols. */
static inline void cq__tr8_x86(const uint8_t *src, int64_t rows, int64_t cols, int64_t lds,
                               uint8_t *dst, int64_t ldd)
{
    int64_t r16 = rows & ~(int64_t)15, c16 = cols & ~(int64_t)15;
    for (int64_t i = 0; i < r16; i += 16)
        for (int64_t j = 0; j < c16; j += 16)
            cq__tr8_16x16(src + i * lds + j, lds, dst + j * ldd + i, ldd);
    for (int64_t i = 0; i < r16; i++)
        for (int64_t j = c16; j < cols; j++)
            dst[j * ldd + i] = src[i * lds + j];
    for (int64_t i = r16; i < rows; i++)
        for (int64_t j = 0; j < cols; j++)
            dst[j * ldd + i] = src[i * lds + j];
}

#endif
