/* kern_qelt_avx512.c - the AVX-512 table of kern_qelt (kern_qelt_internal.h).
 * Quantize keeps the reference's division (vdivps is correctly rounded as
 * the scalar x / scale is; a multiply by 1 / scale is not the same number),
 * rounds with vrndscaleps to nearest even, maps NaN to 0 and clamps in float
 * before the conversion, as cq_round_sat does. QLinearAdd is the reference's
 * two fmas. Tails are masked, so every length takes the vector code. */
#include "kern/kern_qelt_internal.h"
#include "kern/x86/kern_qelt_x86.h"

#include <immintrin.h>
#include <math.h>

#define AI static inline __attribute__((always_inline))

/* cq_round_sat on 16 floats: NaN -> 0, round half to even, clamp. */
AI __m512i round_sat16(__m512 v, __m512 lo, __m512 hi)
{
    v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, v, _CMP_ORD_Q), v);
    v = _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    return _mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(v, lo), hi));
}

AI __m512i quant16(__m512 x, __m512 s, __m512 z, __m512 lo, __m512 hi)
{
    __m512 r = _mm512_roundscale_ps(_mm512_div_ps(x, s), _MM_FROUND_TO_NEAREST_INT |
                                                         _MM_FROUND_NO_EXC);
    return round_sat16(_mm512_add_ps(r, z), lo, hi);
}

static void quant(const float *x, int64_t n, float scale, int32_t zp, cq_dtype dt, void *q)
{
    __m512 s = _mm512_set1_ps(scale), z = _mm512_set1_ps((float)zp);
    __m512 lo = _mm512_set1_ps(dt == CQ_S8 ? -128.0f : 0.0f);
    __m512 hi = _mm512_set1_ps(dt == CQ_S8 ? 127.0f : 255.0f);
    uint8_t *o = q;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512i a = quant16(_mm512_loadu_ps(x + i), s, z, lo, hi);
        __m512i b = quant16(_mm512_loadu_ps(x + i + 16), s, z, lo, hi);
        __m512i c = quant16(_mm512_loadu_ps(x + i + 32), s, z, lo, hi);
        __m512i d = quant16(_mm512_loadu_ps(x + i + 48), s, z, lo, hi);
        _mm_storeu_si128((__m128i *)(o + i), _mm512_cvtepi32_epi8(a));
        _mm_storeu_si128((__m128i *)(o + i + 16), _mm512_cvtepi32_epi8(b));
        _mm_storeu_si128((__m128i *)(o + i + 32), _mm512_cvtepi32_epi8(c));
        _mm_storeu_si128((__m128i *)(o + i + 48), _mm512_cvtepi32_epi8(d));
    }
    for (; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512i a = quant16(_mm512_maskz_loadu_ps(m, x + i), s, z, lo, hi);
        _mm512_mask_cvtepi32_storeu_epi8(o + i, m, a);
    }
}

AI __m512i load16_i32(const uint8_t *p, __mmask16 m, int s8)
{
    __m128i b = _mm_maskz_loadu_epi8(m, p);
    return s8 ? _mm512_cvtepi8_epi32(b) : _mm512_cvtepu8_epi32(b);
}

/* s32 codes: the difference in int64 (any zero point), converted to the
 * nearest float as the reference's (float)(int64_t) is; 8 lanes a step. */
AI __m256 diff8_s32(const int32_t *p, __mmask8 m, __m512i z)
{
    __m512i v = _mm512_cvtepi32_epi64(_mm256_maskz_loadu_epi32(m, p));
    return _mm512_cvtepi64_ps(_mm512_sub_epi64(v, z));
}

static void dequant(const void *q, cq_dtype dt, int64_t n, float scale, int32_t zp, float *x)
{
    if (dt == CQ_S32) {
        const int32_t *p = q;
        __m256 s = _mm256_set1_ps(scale);
        __m512i z = _mm512_set1_epi64(zp);
        for (int64_t i = 0; i < n; i += 8) {
            __mmask8 m = n - i >= 8 ? (__mmask8)0xff : (__mmask8)((1u << (n - i)) - 1);
            _mm256_mask_storeu_ps(x + i, m, _mm256_mul_ps(diff8_s32(p + i, m, z), s));
        }
        return;
    }
    const uint8_t *p = q;
    __m512 s = _mm512_set1_ps(scale);
    __m512i z = _mm512_set1_epi32(zp);
    int s8 = dt == CQ_S8;
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512i v = _mm512_sub_epi32(load16_i32(p + i, m, s8), z);
        _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(_mm512_cvtepi32_ps(v), s));
    }
}

static void dequant_pc(const void *q, cq_dtype dt, int64_t n, const float *scale,
                       const int32_t *zp, float *x)
{
    if (dt == CQ_S32) {
        const int32_t *p = q;
        for (int64_t i = 0; i < n; i += 8) {
            __mmask8 m = n - i >= 8 ? (__mmask8)0xff : (__mmask8)((1u << (n - i)) - 1);
            __m512i z = zp ? _mm512_cvtepi32_epi64(_mm256_maskz_loadu_epi32(m, zp + i))
                           : _mm512_setzero_si512();
            __m256 s = _mm256_maskz_loadu_ps(m, scale + i);
            _mm256_mask_storeu_ps(x + i, m, _mm256_mul_ps(diff8_s32(p + i, m, z), s));
        }
        return;
    }
    const uint8_t *p = q;
    int s8 = dt == CQ_S8;
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512i z = zp ? _mm512_maskz_loadu_epi32(m, zp + i) : _mm512_setzero_si512();
        __m512i v = _mm512_sub_epi32(load16_i32(p + i, m, s8), z);
        __m512 s = _mm512_maskz_loadu_ps(m, scale + i);
        _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(_mm512_cvtepi32_ps(v), s));
    }
}

/* 64 rows x 16 columns at src into 16 rows x 64 columns at dst: four 16 x 16
 * blocks, one per 128-bit lane, through the SSE rounds of unpacks, so each
 * dst row is one 64-byte store. */
AI void tr64x16(const uint8_t *src, int64_t lds, uint8_t *dst, int64_t ldd)
{
    __m512i a[16], b[16];
    for (int t = 0; t < 16; t++) {
        __m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(src + t * lds)));
        v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(src + (16 + t) * lds)), 1);
        v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(src + (32 + t) * lds)), 2);
        a[t] = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(src + (48 + t) * lds)),
                                  3);
    }
    for (int i = 0; i < 8; i++) {
        b[i] = _mm512_unpacklo_epi8(a[2 * i], a[2 * i + 1]);
        b[i + 8] = _mm512_unpackhi_epi8(a[2 * i], a[2 * i + 1]);
    }
    for (int i = 0; i < 8; i++) {
        a[i] = _mm512_unpacklo_epi16(b[2 * i], b[2 * i + 1]);
        a[i + 8] = _mm512_unpackhi_epi16(b[2 * i], b[2 * i + 1]);
    }
    for (int i = 0; i < 8; i++) {
        b[i] = _mm512_unpacklo_epi32(a[2 * i], a[2 * i + 1]);
        b[i + 8] = _mm512_unpackhi_epi32(a[2 * i], a[2 * i + 1]);
    }
    for (int i = 0; i < 8; i++) {
        a[i] = _mm512_unpacklo_epi64(b[2 * i], b[2 * i + 1]);
        a[i + 8] = _mm512_unpackhi_epi64(b[2 * i], b[2 * i + 1]);
    }
    static const int col[16] = {0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15};
    for (int k = 0; k < 16; k++)
        _mm512_storeu_si512(dst + col[k] * ldd, a[k]);
}

static void tr8(const uint8_t *src, int64_t rows, int64_t cols, int64_t lds, uint8_t *dst,
                int64_t ldd)
{
    int64_t r64 = rows & ~(int64_t)63, c16 = cols & ~(int64_t)15;
    if (c16 && r64)
        for (int64_t i = 0; i < r64; i += 64)
            for (int64_t j = 0; j < c16; j += 16)
                tr64x16(src + i * lds + j, lds, dst + j * ldd + i, ldd);
    else
        r64 = 0;
    if (r64 < rows) /* the rows below the 64-row blocks, then the columns right of them */
        cq__tr8_x86(src + r64 * lds, rows - r64, cols, lds, dst + r64, ldd);
    if (r64 && c16 < cols)
        cq__tr8_x86(src + c16, r64, cols - c16, lds, dst + c16 * ldd, ldd);
}

/* One QLinearAdd vector: the reference's two fmas; with b NULL, one. */
AI __m512 qadd16(const uint8_t *a, const uint8_t *b, __mmask16 m, int s8, __m512 va, __m512 vb,
                 __m512 f)
{
    __m512 t = f;
    if (b)
        t = _mm512_fmadd_ps(_mm512_cvtepi32_ps(load16_i32(b, m, s8)), vb, t);
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(load16_i32(a, m, s8)), va, t);
}

/* Codes of 16 sums known finite and inside +-2^30: vcvtps2dq rounds half to
 * even (the default mode, as nearbyintf), the saturating narrowing clamps. */
AI __m128i codes16(__m512 t, int s8)
{
    __m512i v = _mm512_cvtps_epi32(t);
    if (s8)
        return _mm512_cvtsepi32_epi8(v);
    return _mm512_cvtusepi32_epi8(_mm512_max_epi32(v, _mm512_setzero_si512()));
}

static void qadd(cq_dtype dt, const void *a, float ra, const void *b, float rb, float fixed,
                 void *c, int64_t n)
{
    const uint8_t *pa = a, *pb = b;
    uint8_t *pc = c;
    int s8 = dt == CQ_S8;
    __m512 va = _mm512_set1_ps(ra), vb = _mm512_set1_ps(rb), f = _mm512_set1_ps(fixed);
    __m512 lo = _mm512_set1_ps(s8 ? -128.0f : 0.0f), hi = _mm512_set1_ps(s8 ? 127.0f : 255.0f);
    /* |sum| <= |fixed| + 255 (|ra| + |rb|): small, finite constants give no
     * NaN and no sum outside int32, so the integer narrowing may clamp */
    float bound = fabsf(fixed) + 256.0f * (fabsf(ra) + fabsf(rb));
    int64_t i = 0;
    if (bound < 0x1p30f) /* false for NaN and infinities too */
        for (; i + 64 <= n; i += 64) {
            __m128i r[4];
            for (int k = 0; k < 4; k++)
                r[k] = codes16(qadd16(pa + i + 16 * k, pb ? pb + i + 16 * k : NULL,
                                      (__mmask16)0xffff, s8, va, vb, f), s8);
            for (int k = 0; k < 4; k++)
                _mm_storeu_si128((__m128i *)(pc + i + 16 * k), r[k]);
        }
    for (; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 t = qadd16(pa + i, pb ? pb + i : NULL, m, s8, va, vb, f);
        _mm512_mask_cvtepi32_storeu_epi8(pc + i, m, round_sat16(t, lo, hi));
    }
}

AI __m512i max64(__m512i a, __m512i b, int s8)
{
    return s8 ? _mm512_max_epi8(a, b) : _mm512_max_epu8(a, b);
}

static void max8(cq_dtype dt, const uint8_t *const *rows, int64_t nr, int64_t n, uint8_t *y)
{
    int s8 = dt == CQ_S8;
    for (int64_t j = 0; j < n; j += 64) {
        __mmask64 m = n - j >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (n - j)) - 1);
        __m512i v = _mm512_maskz_loadu_epi8(m, rows[0] + j);
        for (int64_t r = 1; r < nr; r++)
            v = max64(v, _mm512_maskz_loadu_epi8(m, rows[r] + j), s8);
        _mm512_mask_storeu_epi8(y + j, m, v);
    }
}

static void pick2(const uint8_t *x, int64_t n, uint8_t *y)
{
    for (int64_t i = 0; i < n; i += 32) { /* the low bytes of 32 16-bit lanes */
        int64_t m = n - i >= 32 ? 64 : 2 * (n - i) - 1;
        __mmask64 k = m == 64 ? ~(__mmask64)0 : (((__mmask64)1 << m) - 1);
        __m256i v = _mm512_cvtepi16_epi8(_mm512_maskz_loadu_epi8(k, x + 2 * i));
        _mm256_mask_storeu_epi8(y + i, (__mmask32)(n - i >= 32 ? ~0u : (1u << (n - i)) - 1), v);
    }
}

/* 256 entries as four 64-byte tables: vpermt2b picks from 128 by the low 7
 * bits, bit 7 chooses the pair. Needs AVX512_VBMI. */
__attribute__((target("avx512vbmi"))) static void lut_vbmi(const uint8_t lut[256],
                                                           const uint8_t *x, uint8_t *y,
                                                           int64_t n)
{
    __m512i t0 = _mm512_loadu_si512(lut), t1 = _mm512_loadu_si512(lut + 64);
    __m512i t2 = _mm512_loadu_si512(lut + 128), t3 = _mm512_loadu_si512(lut + 192);
    for (int64_t i = 0; i < n; i += 64) {
        __mmask64 m = n - i >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (n - i)) - 1);
        __m512i v = _mm512_maskz_loadu_epi8(m, x + i);
        __m512i lo = _mm512_permutex2var_epi8(t0, v, t1);
        __m512i hi = _mm512_permutex2var_epi8(t2, v, t3);
        _mm512_mask_storeu_epi8(y + i, m, _mm512_mask_blend_epi8(_mm512_movepi8_mask(v), lo, hi));
    }
}

static void lut(const uint8_t table[256], const uint8_t *x, uint8_t *y, int64_t n)
{
    if (__builtin_cpu_supports("avx512vbmi"))
        lut_vbmi(table, x, y, n);
    else
        cq__qelt_scalar.lut(table, x, y, n);
}

/* s8 codes as u8 (+ 128, taken back from the sums) so that vpsadbw and
 * the unsigned widenings apply. */
AI __m512i as_u8(__m512i v, int s8)
{
    return s8 ? _mm512_xor_si512(v, _mm512_set1_epi8((char)0x80)) : v;
}

static void row_sums(cq_dtype dt, const uint8_t *x, int64_t rows, int64_t len, int32_t *s)
{
    int s8 = dt == CQ_S8;
    for (int64_t r = 0; r < rows; r++) {
        const uint8_t *p = x + r * len;
        __m512i acc = _mm512_setzero_si512();
        for (int64_t j = 0; j < len; j += 64) {
            __mmask64 m = len - j >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (len - j)) - 1);
            __m512i v = _mm512_maskz_mov_epi8(m, as_u8(_mm512_maskz_loadu_epi8(m, p + j), s8));
            acc = _mm512_add_epi64(acc, _mm512_sad_epu8(v, _mm512_setzero_si512()));
        }
        s[r] = (int32_t)(_mm512_reduce_add_epi64(acc) - (s8 ? 128 * len : 0));
    }
}

/* 64 columns at a time: u16 sums of up to 256 rows (255 * 256 < 2^16), then
 * folded into u32. */
static void col_sums(cq_dtype dt, const uint8_t *x, int64_t rows, int64_t cols, int64_t ld,
                     int32_t *s)
{
    int s8 = dt == CQ_S8;
    for (int64_t j = 0; j < cols; j += 64) {
        __mmask64 m = cols - j >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (cols - j)) - 1);
        __m512i a32[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(),
                          _mm512_setzero_si512(), _mm512_setzero_si512()};
        for (int64_t r0 = 0; r0 < rows; r0 += 256) {
            __m512i a16[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
            for (int64_t r = r0; r < rows && r < r0 + 256; r++) {
                __m512i v = as_u8(_mm512_maskz_loadu_epi8(m, x + r * ld + j), s8);
                a16[0] = _mm512_add_epi16(a16[0],
                                          _mm512_cvtepu8_epi16(_mm512_castsi512_si256(v)));
                a16[1] = _mm512_add_epi16(a16[1],
                                          _mm512_cvtepu8_epi16(_mm512_extracti64x4_epi64(v, 1)));
            }
            for (int h = 0; h < 2; h++) {
                a32[2 * h] = _mm512_add_epi32(
                    a32[2 * h], _mm512_cvtepu16_epi32(_mm512_castsi512_si256(a16[h])));
                a32[2 * h + 1] = _mm512_add_epi32(
                    a32[2 * h + 1], _mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(a16[h], 1)));
            }
        }
        int32_t t[64];
        for (int q = 0; q < 4; q++)
            _mm512_storeu_si512(t + 16 * q, _mm512_sub_epi32(a32[q], _mm512_set1_epi32(
                                                                         s8 ? 128 * (int32_t)rows
                                                                            : 0)));
        for (int64_t k = 0; k < 64 && j + k < cols; k++)
            s[j + k] = t[k];
    }
}

/* 16 codes as int32 (masked lanes 0). */
AI __m512i codes_i32(const uint8_t *p, __mmask16 m, int s8)
{
    __m128i v = _mm_maskz_loadu_epi8(m, p);
    return s8 ? _mm512_cvtepi8_epi32(v) : _mm512_cvtepu8_epi32(v);
}

static void qmul(cq_dtype dt, const void *a, const void *b, int64_t nb, int32_t za, int32_t zb,
                 float r, float zc, void *c, int64_t n)
{
    const uint8_t *pa = a, *pb = b;
    uint8_t *pc = c;
    int s8 = dt == CQ_S8;
    __m512i vza = _mm512_set1_epi32(za), vzb = _mm512_set1_epi32(zb);
    __m512i lo = _mm512_set1_epi32(s8 ? -128 : 0), hi = _mm512_set1_epi32(s8 ? 127 : 255);
    __m512 vr = _mm512_set1_ps(r), vzc = _mm512_set1_ps(zc);
    int32_t b0 = s8 ? (int32_t)(int8_t)pb[0] : (int32_t)pb[0];
    __m512i bs = _mm512_set1_epi32(b0 - zb);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512i av = _mm512_sub_epi32(codes_i32(pa + i, m, s8), vza);
        __m512i bv = nb == 1 ? bs : _mm512_sub_epi32(codes_i32(pb + i, m, s8), vzb);
        /* the product exact in int32, then two float operations (no fma):
         * vcvtps2dq rounds half to even and gives INT32_MIN outside int32 */
        __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_mullo_epi32(av, bv)), vr);
        v = _mm512_add_ps(v, vzc);
        __m512i q = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvtps_epi32(v), lo), hi);
        _mm512_mask_cvtepi32_storeu_epi8(pc + i, m, q);
    }
}

/* A pixel's c bytes in 64-byte pieces (the last masked), each loaded once
 * and stored to its fw copies from the register. */
static void rep8(const uint8_t *x, int64_t w, int64_t c, int64_t fw, uint8_t *y)
{
    if (c <= 64) {
        __mmask64 m = c == 64 ? ~(__mmask64)0 : (((__mmask64)1 << c) - 1);
        if (fw == 2)
            for (int64_t b = 0; b < w; b++) {
                __m512i v = _mm512_maskz_loadu_epi8(m, x + b * c);
                _mm512_mask_storeu_epi8(y + 2 * b * c, m, v);
                _mm512_mask_storeu_epi8(y + (2 * b + 1) * c, m, v);
            }
        else
            for (int64_t b = 0; b < w; b++) {
                __m512i v = _mm512_maskz_loadu_epi8(m, x + b * c);
                for (int64_t j = 0; j < fw; j++)
                    _mm512_mask_storeu_epi8(y + (b * fw + j) * c, m, v);
            }
        return;
    }
    for (int64_t b = 0; b < w; b++)
        for (int64_t k = 0; k < c; k += 64) {
            __mmask64 m = c - k >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (c - k)) - 1);
            __m512i v = _mm512_maskz_loadu_epi8(m, x + b * c + k);
            for (int64_t j = 0; j < fw; j++)
                _mm512_mask_storeu_epi8(y + (b * fw + j) * c + k, m, v);
        }
}

const cq__qelt_vtab cq__qelt_avx512 = {quant, dequant,  dequant_pc, tr8, qadd, max8,
                                       pick2, col_sums, row_sums,   lut, qmul, rep8};
