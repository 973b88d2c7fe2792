/* kern_avx512.c - the AVX-512 inner loops (primitives for kern_simd.h). */
#include <immintrin.h>

#include "kern/kern_internal.h"

#define VL 16
typedef __m512 vf;

static inline vf v_ld(const float *p) { return _mm512_loadu_ps(p); }
static inline void v_st(float *p, vf v) { _mm512_storeu_ps(p, v); }
static inline vf v_ld2(const float *p)
{
    const __m512i even =
        _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return _mm512_permutex2var_ps(_mm512_loadu_ps(p), even, _mm512_loadu_ps(p + 16));
}
static inline vf v_set1(float x) { return _mm512_set1_ps(x); }
static inline vf v_add(vf a, vf b) { return _mm512_add_ps(a, b); }
static inline vf v_sub(vf a, vf b) { return _mm512_sub_ps(a, b); }
static inline vf v_mul(vf a, vf b) { return _mm512_mul_ps(a, b); }
static inline vf v_div(vf a, vf b) { return _mm512_div_ps(a, b); }
static inline vf v_min(vf a, vf b) { return _mm512_min_ps(a, b); }
static inline vf v_max(vf a, vf b) { return _mm512_max_ps(a, b); }
static inline vf v_fma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
static inline vf v_round(vf v)
{
    return _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
static inline vf v_pow2i(vf n)
{
    __m512i e = _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127));
    return _mm512_castsi512_ps(_mm512_slli_epi32(e, 23));
}
static inline vf v_abs(vf v) { return _mm512_abs_ps(v); }
static inline vf v_sign(vf v)
{
    return _mm512_castsi512_ps(
        _mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32((int)0x80000000u)));
}
static inline vf v_or(vf a, vf b)
{
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(a), _mm512_castps_si512(b)));
}
static inline vf v_rcp(vf d)
{
    vf r = _mm512_rcp14_ps(d);
    return _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(2.0f)));
}
static inline vf v_lt_sel(vf x, vf t, vf a, vf b)
{
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, t, _CMP_LT_OQ), b, a);
}
static inline float v_hsum(vf v) { return _mm512_reduce_add_ps(v); }
static inline float v_hmax(vf v) { return _mm512_reduce_max_ps(v); }

/* Fewer than 8 columns (an NHWC image with 3 channels going to NCHW): the
 * 8x8 blocks never apply, and the scalar edge loop would move every value
 * one at a time. 3 columns take two permutes per column, other widths one
 * 16-row gather per column (bench/NOTES.md, second round and third round
 * (b)). 8 columns or more: the AVX 8x8 blocks. */
static void transpose512(const float *src, int64_t rows, int64_t cols, float *dst)
{
    if (cols >= 8 || rows < 16) {
        cq__transpose_avx2(src, rows, cols, dst);
        return;
    }
    if (cols == 3) {
        /* 16 rows = 3 vectors; two permutes make a column's 16 values,
         * much cheaper than a gather */
        int32_t i1[3][16], i2[3][16];
        for (int k = 0; k < 3; k++)
            for (int j = 0; j < 16; j++) {
                int g = 3 * j + k;
                i1[k][j] = g < 32 ? g : 0;
                i2[k][j] = g < 32 ? j : 16 + g - 32;
            }
        __m512i a1[3], a2[3];
        for (int k = 0; k < 3; k++) {
            a1[k] = _mm512_loadu_si512(i1[k]);
            a2[k] = _mm512_loadu_si512(i2[k]);
        }
        int64_t r = 0;
        for (; r + 16 <= rows; r += 16) {
            const float *s = src + r * 3;
            __m512 va = _mm512_loadu_ps(s), vb = _mm512_loadu_ps(s + 16),
                   vc = _mm512_loadu_ps(s + 32);
            for (int k = 0; k < 3; k++)
                _mm512_storeu_ps(dst + k * rows + r,
                                 _mm512_permutex2var_ps(_mm512_permutex2var_ps(va, a1[k], vb),
                                                        a2[k], vc));
        }
        for (; r < rows; r++)
            for (int64_t c = 0; c < 3; c++)
                dst[c * rows + r] = src[r * 3 + c];
        return;
    }
    __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
                                                       13, 14, 15),
                                     _mm512_set1_epi32((int)cols));
    int64_t r = 0;
    for (; r + 16 <= rows; r += 16)
        for (int64_t c = 0; c < cols; c++)
            _mm512_storeu_ps(dst + c * rows + r, _mm512_i32gather_ps(idx, src + r * cols + c, 4));
    for (; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            dst[c * rows + r] = src[r * cols + c];
}

#define CQ__VTAB cq__kern_avx512
#define CQ__TRANSPOSE transpose512
#include "kern/x86/kern_simd.h"
