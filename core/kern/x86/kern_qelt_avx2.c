/* kern_qelt_avx2.c - the AVX2 table of kern_qelt (kern_qelt_internal.h):
 * the AVX-512 file's arithmetic on 8 lanes (division kept, round to
 * nearest even, NaN -> 0, clamp in float, then packs), 32 codes a step;
 * tails shorter than a step take the scalar table. The lookup table and
 * the global average pool's sums stay scalar. */
#include "kern/kern_qelt_internal.h"
#include "kern/x86/kern_qelt_x86.h"

#include <immintrin.h>

#define AI static inline __attribute__((always_inline))

AI __m256i round_sat8(__m256 v, __m256 lo, __m256 hi)
{
    v = _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q));
    v = _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    return _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(v, lo), hi));
}

/* 32 int32 codes already in the dtype's range (four vectors, in order) to
 * 32 bytes. */
AI __m256i pack32(__m256i a, __m256i b, __m256i c, __m256i d, int s8)
{
    __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
    __m256i v = s8 ? _mm256_packs_epi16(ab, cd) : _mm256_packus_epi16(ab, cd);
    /* lanes hold dwords a0 b0 c0 d0 | a1 b1 c1 d1 (4 codes each) */
    return _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

AI __m256i quant8(const float *x, __m256 s, __m256 z, __m256 lo, __m256 hi)
{
    __m256 r = _mm256_round_ps(_mm256_div_ps(_mm256_loadu_ps(x), s),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    return round_sat8(_mm256_add_ps(r, z), lo, hi);
}

static void quant(const float *x, int64_t n, float scale, int32_t zp, cq_dtype dt, void *q)
{
    int s8 = dt == CQ_S8;
    __m256 s = _mm256_set1_ps(scale), z = _mm256_set1_ps((float)zp);
    __m256 lo = _mm256_set1_ps(s8 ? -128.0f : 0.0f), hi = _mm256_set1_ps(s8 ? 127.0f : 255.0f);
    uint8_t *o = q;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i a = quant8(x + i, s, z, lo, hi), b = quant8(x + i + 8, s, z, lo, hi);
        __m256i c = quant8(x + i + 16, s, z, lo, hi), d = quant8(x + i + 24, s, z, lo, hi);
        _mm256_storeu_si256((__m256i *)(o + i), pack32(a, b, c, d, s8));
    }
    if (i < n)
        cq__qelt_scalar.quant(x + i, n - i, scale, zp, dt, o + i);
}

AI __m256i load8_i32(const uint8_t *p, int s8)
{
    __m128i b = _mm_loadl_epi64((const __m128i *)p);
    return s8 ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
}

static void dequant(const void *q, cq_dtype dt, int64_t n, float scale, int32_t zp, float *x)
{
    if (dt == CQ_S32) {
        cq__qelt_scalar.dequant(q, dt, n, scale, zp, x);
        return;
    }
    const uint8_t *p = q;
    int s8 = dt == CQ_S8;
    __m256 s = _mm256_set1_ps(scale);
    __m256i z = _mm256_set1_epi32(zp);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i v = _mm256_sub_epi32(load8_i32(p + i, s8), z);
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_cvtepi32_ps(v), s));
    }
    if (i < n)
        cq__qelt_scalar.dequant(p + i, dt, n - i, scale, zp, x + i);
}

static void tr8(const uint8_t *src, int64_t rows, int64_t cols, int64_t lds, uint8_t *dst,
                int64_t ldd)
{
    cq__tr8_x86(src, rows, cols, lds, dst, ldd);
}

AI __m256i qadd8(const uint8_t *a, __m256 ra, const uint8_t *b, __m256 rb, __m256 f, __m256 lo,
                 __m256 hi, int s8)
{
    __m256 t = f;
    if (b)
        t = _mm256_fmadd_ps(_mm256_cvtepi32_ps(load8_i32(b, s8)), rb, t);
    t = _mm256_fmadd_ps(_mm256_cvtepi32_ps(load8_i32(a, s8)), ra, t);
    return round_sat8(t, lo, hi);
}

static void qadd(cq_dtype dt, const void *a, float ra, const void *b, float rb, float fixed,
                 void *c, int64_t n)
{
    const uint8_t *pa = a, *pb = b;
    uint8_t *pc = c;
    int s8 = dt == CQ_S8;
    __m256 va = _mm256_set1_ps(ra), vb = _mm256_set1_ps(rb), f = _mm256_set1_ps(fixed);
    __m256 lo = _mm256_set1_ps(s8 ? -128.0f : 0.0f), hi = _mm256_set1_ps(s8 ? 127.0f : 255.0f);
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i v[4];
        for (int k = 0; k < 4; k++)
            v[k] = qadd8(pa + i + 8 * k, va, pb ? pb + i + 8 * k : NULL, vb, f, lo, hi, s8);
        _mm256_storeu_si256((__m256i *)(pc + i), pack32(v[0], v[1], v[2], v[3], s8));
    }
    if (i < n)
        cq__qelt_scalar.qadd(dt, pa + i, ra, pb ? pb + i : NULL, rb, fixed, pc + i, n - i);
}

static void max8(cq_dtype dt, const uint8_t *const *rows, int64_t nr, int64_t n, uint8_t *y)
{
    int s8 = dt == CQ_S8;
    int64_t j = 0;
    for (; j + 32 <= n; j += 32) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(rows[0] + j));
        for (int64_t r = 1; r < nr; r++) {
            __m256i u = _mm256_loadu_si256((const __m256i *)(rows[r] + j));
            v = s8 ? _mm256_max_epi8(v, u) : _mm256_max_epu8(v, u);
        }
        _mm256_storeu_si256((__m256i *)(y + j), v);
    }
    if (j < n) {
        const uint8_t *t[64];
        for (int64_t r0 = 0; r0 < nr; r0 += 63) { /* y folds into the next group */
            int64_t m = 0;
            if (r0)
                t[m++] = y + j;
            for (int64_t r = r0; r < nr && r < r0 + 63; r++)
                t[m++] = rows[r] + j;
            cq__qelt_scalar.max8(dt, t, m, n - j, y + j);
        }
    }
}

static void pick2(const uint8_t *x, int64_t n, uint8_t *y)
{
    __m256i lo = _mm256_set1_epi16(0xff);
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) { /* reads x[2 i .. 2 i + 63]: the last pair whole */
        if (2 * i + 64 > 2 * n - 1)
            break;
        __m256i a = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(x + 2 * i)), lo);
        __m256i b = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(x + 2 * i + 32)), lo);
        _mm256_storeu_si256((__m256i *)(y + i),
                            _mm256_permute4x64_epi64(_mm256_packus_epi16(a, b), 0xd8));
    }
    if (i < n)
        cq__qelt_scalar.pick2(x + 2 * i, n - i, y + i);
}

static void lut(const uint8_t table[256], const uint8_t *x, uint8_t *y, int64_t n)
{
    cq__qelt_scalar.lut(table, x, y, n);
}

static void col_sums(cq_dtype dt, const uint8_t *x, int64_t rows, int64_t cols, int64_t ld,
                     int32_t *s)
{
    cq__qelt_scalar.col_sums(dt, x, rows, cols, ld, s);
}

static void row_sums(cq_dtype dt, const uint8_t *x, int64_t rows, int64_t len, int32_t *s)
{
    cq__qelt_scalar.row_sums(dt, x, rows, len, s);
}

static void dequant_pc(const void *q, cq_dtype dt, int64_t n, const float *scale,
                       const int32_t *zp, float *x)
{
    cq__qelt_scalar.dequant_pc(q, dt, n, scale, zp, x);
}

static void rep8(const uint8_t *x, int64_t w, int64_t c, int64_t fw, uint8_t *y)
{
    cq__qelt_scalar.rep8(x, w, c, fw, y);
}

const cq__qelt_vtab cq__qelt_avx2 = {quant, dequant, dequant_pc, tr8,      qadd,
                                     max8,  pick2,   col_sums,   row_sums, lut,
                                     cq__qelt_qmul_scalar, rep8};
