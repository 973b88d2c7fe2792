/* kern_gemv_avx512.c - AVX-512 matrix-vector products for Gemm / MatMul with
 * one row or column (the classifiers: 1 x 1280 times 1280 x 1000). They
 * stream the matrix once, so the point is to keep many loads in flight:
 * eight row dots at once (eight independent FMA chains over contiguous
 * rows), or 64 columns x two k steps for the transposed form. */
#include <immintrin.h>

#include "kern/kern_internal.h"

/* Prefetch distance along each row, in floats. With the matrix coming from
 * memory, 64 suits both classifier shapes (1 x 1280 x 1000 and 1 x 512 x
 * 1000) best; with a warm L3 the distance makes no difference up to 128, and
 * 256 or more is slower (bench/NOTES.md, third round (b), and "Kernel
 * comments moved here"). */
#define PF 64

/* Sum of the 16 lanes of each of 8 vectors, into the 8 floats of a ymm. */
static inline __m256 hsum8(const __m512 v[8])
{
    /* pairwise: lanes 0-7 of a + lanes 8-15, twice interleaved */
    __m512 s[4];
    for (int i = 0; i < 4; i++) {
        /* rows 2i and 2i+1: [lo(2i) lo(2i+1)] + [hi(2i) hi(2i+1)] (256-bit halves) */
        __m512 lo = _mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0x44); /* a0 a1 b0 b1 */
        __m512 hi = _mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0xee); /* a2 a3 b2 b3 */
        s[i] = _mm512_add_ps(lo, hi); /* 128-bit blocks: a(0+2) a(1+3) b(0+2) b(1+3) */
    }
    /* fold 128-bit blocks: t_i = [a01 b01] per 128 lane pair */
    __m512 t0 = _mm512_add_ps(_mm512_shuffle_f32x4(s[0], s[1], 0x88),
                              _mm512_shuffle_f32x4(s[0], s[1], 0xdd)); /* r0 r1 r2 r3 (4 each) */
    __m512 t1 = _mm512_add_ps(_mm512_shuffle_f32x4(s[2], s[3], 0x88),
                              _mm512_shuffle_f32x4(s[2], s[3], 0xdd)); /* r4 r5 r6 r7 */
    /* each 128-bit block of t0 / t1 holds 4 partial sums of one row */
    __m512 u = _mm512_add_ps(_mm512_unpacklo_ps(t0, t1), _mm512_unpackhi_ps(t0, t1));
    /* u block b: r(b) p0+p2, r(b+4) p0+p2, r(b) p1+p3, r(b+4) p1+p3 */
    __m512 w = _mm512_add_ps(u, _mm512_permute_ps(u, 0x4e));
    /* block b: lanes 0, 1 = r(b), r(b+4) totals */
    __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 0, 0, 0, 0, 0, 0, 0, 0);
    return _mm512_castps512_ps256(_mm512_permutexvar_ps(idx, w));
}

/* y[r] = alpha dot(a[r, :k], x) + beta y[r], r < rows; beta 0 ignores y. */
static void gemv_rows(int64_t rows, int64_t k, float alpha, const float *a, int64_t lda,
                      const float *x, float beta, float *y)
{
    int64_t kv = k / 16 * 16;
    __mmask16 tail = (__mmask16)((1u << (k - kv)) - 1u);
    int64_t r = 0;
    for (; r + 8 <= rows; r += 8) {
        __m512 acc[8];
        const float *ar = a + r * lda;
        for (int i = 0; i < 8; i++)
            acc[i] = _mm512_setzero_ps();
        for (int64_t t = 0; t < kv; t += 16) {
            __m512 xv = _mm512_loadu_ps(x + t);
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++) {
                _mm_prefetch((const char *)(ar + i * lda + t + PF), _MM_HINT_T0);
                acc[i] = _mm512_fmadd_ps(_mm512_loadu_ps(ar + i * lda + t), xv, acc[i]);
            }
        }
        if (tail) {
            __m512 xv = _mm512_maskz_loadu_ps(tail, x + kv);
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++)
                acc[i] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, ar + i * lda + kv), xv,
                                         acc[i]);
        }
        __m256 s = _mm256_mul_ps(hsum8(acc), _mm256_set1_ps(alpha));
        if (beta != 0.0f)
            s = _mm256_fmadd_ps(_mm256_loadu_ps(y + r), _mm256_set1_ps(beta), s);
        _mm256_storeu_ps(y + r, s);
    }
    for (; r < rows; r++) {
        const float *ar = a + r * lda;
        __m512 acc = _mm512_setzero_ps();
        for (int64_t t = 0; t < kv; t += 16)
            acc = _mm512_fmadd_ps(_mm512_loadu_ps(ar + t), _mm512_loadu_ps(x + t), acc);
        if (tail)
            acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, ar + kv),
                                  _mm512_maskz_loadu_ps(tail, x + kv), acc);
        float s = alpha * _mm512_reduce_add_ps(acc);
        y[r] = beta != 0.0f ? s + beta * y[r] : s;
    }
}

/* y[j] = alpha sum_t x[t] a[t, j] + beta y[j], j < cols, t < k. */
static void gemv_cols(int64_t k, int64_t cols, float alpha, const float *a, int64_t lda,
                      const float *x, float beta, float *y)
{
    for (int64_t j0 = 0; j0 < cols; j0 += 64) {
        int64_t w = cols - j0 < 64 ? cols - j0 : 64;
        __mmask16 mk[4];
        for (int v = 0; v < 4; v++) {
            int64_t n = w - 16 * v;
            mk[v] = n >= 16 ? (__mmask16)0xffff : n > 0 ? (__mmask16)((1u << n) - 1u) : 0;
        }
        __m512 acc[2][4];
        for (int u = 0; u < 2; u++)
            for (int v = 0; v < 4; v++)
                acc[u][v] = _mm512_setzero_ps();
        const float *ac = a + j0;
        int64_t t = 0;
        for (; t + 2 <= k; t += 2) {
#pragma GCC unroll 2
            for (int u = 0; u < 2; u++) {
                __m512 xb = _mm512_set1_ps(x[t + u]);
#pragma GCC unroll 4
                for (int v = 0; v < 4; v++)
                    acc[u][v] = _mm512_fmadd_ps(
                        _mm512_maskz_loadu_ps(mk[v], ac + (t + u) * lda + 16 * v), xb, acc[u][v]);
            }
        }
        if (t < k) {
            __m512 xb = _mm512_set1_ps(x[t]);
            for (int v = 0; v < 4; v++)
                acc[0][v] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk[v], ac + t * lda + 16 * v),
                                            xb, acc[0][v]);
        }
        for (int v = 0; v < 4; v++) {
            if (!mk[v])
                break;
            __m512 s = _mm512_mul_ps(_mm512_add_ps(acc[0][v], acc[1][v]), _mm512_set1_ps(alpha));
            if (beta != 0.0f)
                s = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk[v], y + j0 + 16 * v),
                                    _mm512_set1_ps(beta), s);
            _mm512_mask_storeu_ps(y + j0 + 16 * v, mk[v], s);
        }
    }
}

void cq__sgemv_avx512(int trans, int64_t rows, int64_t cols, float alpha, const float *a,
                      int64_t lda, const float *x, float beta, float *y)
{
    if (trans)
        gemv_cols(rows, cols, alpha, a, lda, x, beta, y);
    else
        gemv_rows(rows, cols, alpha, a, lda, x, beta, y);
}
