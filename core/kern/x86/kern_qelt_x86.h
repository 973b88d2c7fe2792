/* kern_qelt_x86.h - the byte transpose the AVX2 and AVX-512 tables of
 * kern_qelt share: 16 x 16 blocks in SSE registers (four rounds of
 * unpacks), three planes <-> pixels by byte shuffles, the edges byte by
 * byte. */
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

/* Three planes of 16 bytes <-> 48 interleaved bytes (an RGB image's c = 3):
 * output vector k of the interleave is the OR of il3[k * 3 + r] applied to
 * plane r; plane r of the deinterleave the OR of dl3[r * 3 + k] applied to
 * input vector k (Z: a zero byte). */
#define Z 0x80
static const uint8_t cq__il3[9][16] = {{0, Z, Z, 1, Z, Z, 2, Z, Z, 3, Z, Z, 4, Z, Z, 5},
    {Z, 0, Z, Z, 1, Z, Z, 2, Z, Z, 3, Z, Z, 4, Z, Z},
    {Z, Z, 0, Z, Z, 1, Z, Z, 2, Z, Z, 3, Z, Z, 4, Z},
    {Z, Z, 6, Z, Z, 7, Z, Z, 8, Z, Z, 9, Z, Z, 10, Z},
    {5, Z, Z, 6, Z, Z, 7, Z, Z, 8, Z, Z, 9, Z, Z, 10},
    {Z, 5, Z, Z, 6, Z, Z, 7, Z, Z, 8, Z, Z, 9, Z, Z},
    {Z, 11, Z, Z, 12, Z, Z, 13, Z, Z, 14, Z, Z, 15, Z, Z},
    {Z, Z, 11, Z, Z, 12, Z, Z, 13, Z, Z, 14, Z, Z, 15, Z},
    {10, Z, Z, 11, Z, Z, 12, Z, Z, 13, Z, Z, 14, Z, Z, 15}};
static const uint8_t cq__dl3[9][16] = {{0, 3, 6, 9, 12, 15, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z},
    {Z, Z, Z, Z, Z, Z, 2, 5, 8, 11, 14, Z, Z, Z, Z, Z},
    {Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, 1, 4, 7, 10, 13},
    {1, 4, 7, 10, 13, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z},
    {Z, Z, Z, Z, Z, 0, 3, 6, 9, 12, 15, Z, Z, Z, Z, Z},
    {Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, 2, 5, 8, 11, 14},
    {2, 5, 8, 11, 14, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z},
    {Z, Z, Z, Z, Z, 1, 4, 7, 10, 13, Z, Z, Z, Z, Z, Z},
    {Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, 0, 3, 6, 9, 12, 15}};
#undef Z

static inline __m128i cq__shuf3(__m128i a, __m128i b, __m128i c, const uint8_t (*t)[16])
{
    __m128i x = _mm_shuffle_epi8(a, _mm_loadu_si128((const __m128i *)t[0]));
    x = _mm_or_si128(x, _mm_shuffle_epi8(b, _mm_loadu_si128((const __m128i *)t[1])));
    return _mm_or_si128(x, _mm_shuffle_epi8(c, _mm_loadu_si128((const __m128i *)t[2])));
}

/* dst[j * ldd + i] = src[i * lds + j], i < rows, j < cols. */
static inline void cq__tr8_x86(const uint8_t *src, int64_t rows, int64_t cols, int64_t lds,
                               uint8_t *dst, int64_t ldd)
{
    if (rows == 3 && ldd == 3) { /* three planes into pixels */
        int64_t j = 0;
        for (; j + 16 <= cols; j += 16) {
            __m128i a = _mm_loadu_si128((const __m128i *)(src + j));
            __m128i b = _mm_loadu_si128((const __m128i *)(src + lds + j));
            __m128i c = _mm_loadu_si128((const __m128i *)(src + 2 * lds + j));
            for (int k = 0; k < 3; k++)
                _mm_storeu_si128((__m128i *)(dst + 3 * j + 16 * k), cq__shuf3(a, b, c,
                                                                              cq__il3 + 3 * k));
        }
        for (; j < cols; j++)
            for (int64_t i = 0; i < 3; i++)
                dst[j * 3 + i] = src[i * lds + j];
        return;
    }
    if (cols == 3 && lds == 3) { /* pixels into three planes */
        int64_t i = 0;
        for (; i + 16 <= rows; i += 16) {
            __m128i a = _mm_loadu_si128((const __m128i *)(src + 3 * i));
            __m128i b = _mm_loadu_si128((const __m128i *)(src + 3 * i + 16));
            __m128i c = _mm_loadu_si128((const __m128i *)(src + 3 * i + 32));
            for (int r = 0; r < 3; r++)
                _mm_storeu_si128((__m128i *)(dst + r * ldd + i), cq__shuf3(a, b, c,
                                                                           cq__dl3 + 3 * r));
        }
        for (; i < rows; i++)
            for (int64_t j = 0; j < 3; j++)
                dst[j * ldd + i] = src[i * 3 + j];
        return;
    }
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
