/* kern_avx2.c - the AVX2 + FMA inner loops (primitives for kern_simd.h). */
#include <immintrin.h>

#include "kern/kern_internal.h"
#include "kern/x86/kern_tr.h"

#define VL 8
typedef __m256 vf;

static inline vf v_ld(const float *p) { return _mm256_loadu_ps(p); }
static inline void v_st(float *p, vf v) { _mm256_storeu_ps(p, v); }
static inline vf v_ld2(const float *p)
{
    /* [a0 a2 b0 b2 | a4 a6 b4 b6] then swap the middle 64-bit lanes */
    __m256 s =
        _mm256_shuffle_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8), _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), _MM_SHUFFLE(3, 1, 2, 0)));
}
static inline vf v_set1(float x) { return _mm256_set1_ps(x); }
static inline vf v_add(vf a, vf b) { return _mm256_add_ps(a, b); }
static inline vf v_sub(vf a, vf b) { return _mm256_sub_ps(a, b); }
static inline vf v_mul(vf a, vf b) { return _mm256_mul_ps(a, b); }
static inline vf v_div(vf a, vf b) { return _mm256_div_ps(a, b); }
static inline vf v_min(vf a, vf b) { return _mm256_min_ps(a, b); }
static inline vf v_max(vf a, vf b) { return _mm256_max_ps(a, b); }
static inline vf v_fma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
static inline vf v_round(vf v)
{
    return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
static inline vf v_pow2i(vf n)
{
    __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
}
static inline vf v_abs(vf v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }
static inline vf v_sign(vf v) { return _mm256_and_ps(_mm256_set1_ps(-0.0f), v); }
static inline vf v_or(vf a, vf b) { return _mm256_or_ps(a, b); }
static inline vf v_rcp(vf d)
{
    vf r = _mm256_rcp_ps(d);
    return _mm256_mul_ps(r, _mm256_fnmadd_ps(d, r, _mm256_set1_ps(2.0f)));
}
static inline vf v_lt_sel(vf x, vf t, vf a, vf b)
{
    return _mm256_blendv_ps(b, a, _mm256_cmp_ps(x, t, _CMP_LT_OQ));
}
static inline float v_hsum(vf v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
static inline float v_hmax(vf v)
{
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* d (8 rows of stride ds) = s (8 rows of stride ss)^T */
static inline void tr8x8(const float *s, int64_t ss, float *d, int64_t ds)
{
    __m256 r[8];
    for (int i = 0; i < 8; i++)
        r[i] = _mm256_loadu_ps(s + i * ss);
    cq__tr8x8_ps(r);
    for (int i = 0; i < 8; i++)
        _mm256_storeu_ps(d + i * ds, r[i]);
}

void cq__transpose_avx2(const float *src, int64_t rows, int64_t cols, float *dst)
{
    enum { T = 64 };
    int64_t r8 = rows / 8 * 8, c8 = cols / 8 * 8;
    for (int64_t r0 = 0; r0 < r8; r0 += T)
        for (int64_t c0 = 0; c0 < c8; c0 += T) {
            int64_t r1 = r0 + T < r8 ? r0 + T : r8, c1 = c0 + T < c8 ? c0 + T : c8;
            /* The 8 rows on the wide-stride side stay fixed in the inner
             * loop: with a power-of-two stride every row of a 64 x 64 tile
             * maps to the same L1 set, and walking across them would evict
             * each line before its next 32 bytes are read (bench/NOTES.md,
             * second round). */
            if (rows > cols) {
                for (int64_t c = c0; c < c1; c += 8)
                    for (int64_t r = r0; r < r1; r += 8)
                        tr8x8(src + r * cols + c, cols, dst + c * rows + r, rows);
            } else {
                for (int64_t r = r0; r < r1; r += 8)
                    for (int64_t c = c0; c < c1; c += 8)
                        tr8x8(src + r * cols + c, cols, dst + c * rows + r, rows);
            }
        }
    for (int64_t r = 0; r < rows; r++) /* the ragged right and bottom edges */
        for (int64_t c = r < r8 ? c8 : 0; c < cols; c++)
            dst[c * rows + r] = src[r * cols + c];
}

#define CQ__VTAB cq__kern_avx2
#define CQ__TRANSPOSE cq__transpose_avx2
#include "kern/x86/kern_simd.h"
