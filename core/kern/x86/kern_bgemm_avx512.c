/* kern_bgemm_avx512.c - the bf16 GEMM's AVX512-BF16 block kernel
 * (kern_bgemm.h). Weights packed as [np / 64][kp / 2][64][2] bf16: one
 * 64-byte vector holds 16 columns' pairs (w[2g][j], w[2g + 1][j]), the
 * operand vdpbf16ps takes. Per k block, the unit's rows of x are rounded to
 * bf16 into scratch (vcvtne2ps2bf16, 32 values a step, zeros past k), so a
 * row's pair along k is one 32-bit broadcast. The register tile is 6 rows x
 * 64 columns (24 zmm sums, 4 weight vectors, 1 broadcast): per pair, 4
 * weight loads and 6 broadcasts feed 24 vdpbf16ps. Partial sums of the k
 * blocks go to y itself; the last block adds bias and residual and applies
 * the activation (act16, the scalar cq__act1's twin). */
#include "kern/kern_bgemm_internal.h"
#include "kern/x86/kern_act_avx512.h"

#include <immintrin.h>
#include <string.h>

#define MR 6
#define AI static inline __attribute__((always_inline))

int cq__bf16_cpu(void)
{
    static int known = -1;
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
    }
    return known;
}

void cq__bgemm_avx512_pack(const cq_bgemm_plan *pl, const float *w, uint16_t *wp)
{
    int64_t n = pl->p.n, k = pl->p.k, kg = pl->kp / 2;
    uint16_t *o = wp;
    for (int64_t pn = 0; pn < pl->np / 64; pn++)
        for (int64_t g = 0; g < kg; g++)
            for (int64_t c = 0; c < 64; c++)
                for (int64_t r = 0; r < 2; r++) {
                    int64_t j = pn * 64 + c, t = 2 * g + r;
                    float v = j < n && t < k ? w[j * k + t] : 0.0f; /* already rounded */
                    uint32_t u;
                    memcpy(&u, &v, 4);
                    *o++ = (uint16_t)(u >> 16);
                }
}

size_t cq__bgemm_avx512_scratch(const cq_bgemm_plan *pl)
{
    return (size_t)CQ__BG_MC * (size_t)pl->kc * sizeof(uint16_t);
}

AI __mmask16 col_mask(int64_t left)
{
    return left >= 16 ? (__mmask16)0xffff : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
}

void cq__bgemm_cvt_row(const float *x, int64_t kl, int64_t kc, uint16_t *d)
{
    for (int64_t t = 0; t < kc; t += 32) {
        __m512 lo = _mm512_maskz_loadu_ps(col_mask(kl - t), x + t);
        __m512 hi = _mm512_maskz_loadu_ps(col_mask(kl - t - 16), x + t + 16);
        _mm512_storeu_si512(d + t, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
    }
}

/* The 24 sums are named variables, not an array (GCC keeps an array's zmm
 * in memory: bench/NOTES.md, "int8 GEMM"). */
#define B_ROW(r, X)                                                                           \
    if (rows > r) {                                                                           \
        X(r, 0) X(r, 1) X(r, 2) X(r, 3)                                                       \
    }
#define B_ALL(X) B_ROW(0, X) B_ROW(1, X) B_ROW(2, X) B_ROW(3, X) B_ROW(4, X) B_ROW(5, X)
#define B_INIT(r, c)                                                                          \
    if (!first && 16 * c < nc)                                                                \
        s##r##c = _mm512_maskz_loadu_ps(col_mask(nc - 16 * c), y + (i + r) * ldy + j + 16 * c);
#define B_SAVE(r, c)                                                                          \
    if (16 * c < nc)                                                                          \
        _mm512_mask_storeu_ps(y + (i + r) * ldy + j + 16 * c, col_mask(nc - 16 * c), s##r##c);
#define B_BCAST(r)                                                                            \
    if (rows > r) {                                                                           \
        int32_t v;                                                                            \
        memcpy(&v, a + r * lda + 2 * g, 4);                                                   \
        __m512bh av = (__m512bh)_mm512_set1_epi32(v);                                         \
        s##r##0 = _mm512_dpbf16_ps(s##r##0, av, b0);                                          \
        s##r##1 = _mm512_dpbf16_ps(s##r##1, av, b1);                                          \
        s##r##2 = _mm512_dpbf16_ps(s##r##2, av, b2);                                          \
        s##r##3 = _mm512_dpbf16_ps(s##r##3, av, b3);                                          \
    }
#define B_EPI(r, c)                                                                           \
    if (16 * c < nc) {                                                                        \
        __mmask16 m = col_mask(nc - 16 * c);                                                  \
        float *yo = y + (i + r) * ldy + j + 16 * c;                                           \
        __m512 v = _mm512_add_ps(s##r##c, _mm512_loadu_ps(bias + j + 16 * c));                \
        if (res)                                                                              \
            v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, res + (i + r) * ldy + j + 16 * c)); \
        _mm512_mask_storeu_ps(yo, m, act16(act, v));                                          \
    }

/* rows rows of bf16 x at a (stride lda) times the 64-column panel bp over kg
 * pairs; y rows i.., columns j.. (nc of them). */
AI void tile(const int rows, const uint16_t *a, int64_t lda, int64_t kg, const uint16_t *bp,
             int first, int last, const float *bias, cq_act act, int64_t i, int64_t j,
             int64_t nc, const float *res, float *y, int64_t ldy)
{
    __m512 z = _mm512_setzero_ps();
    __m512 s00 = z, s01 = z, s02 = z, s03 = z, s10 = z, s11 = z, s12 = z, s13 = z;
    __m512 s20 = z, s21 = z, s22 = z, s23 = z, s30 = z, s31 = z, s32 = z, s33 = z;
    __m512 s40 = z, s41 = z, s42 = z, s43 = z, s50 = z, s51 = z, s52 = z, s53 = z;
    B_ALL(B_INIT)
    for (int64_t g = 0; g < kg; g++) {
        const uint16_t *b = bp + g * 128;
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(b), b1 = (__m512bh)_mm512_loadu_si512(b + 32),
                 b2 = (__m512bh)_mm512_loadu_si512(b + 64),
                 b3 = (__m512bh)_mm512_loadu_si512(b + 96);
        B_BCAST(0) B_BCAST(1) B_BCAST(2) B_BCAST(3) B_BCAST(4) B_BCAST(5)
    }
    if (!last) {
        B_ALL(B_SAVE)
        return;
    }
    B_ALL(B_EPI)
}

static void tile_any(int rows, const uint16_t *a, int64_t lda, int64_t kg, const uint16_t *bp,
                     int first, int last, const float *bias, cq_act act, int64_t i, int64_t j,
                     int64_t nc, const float *res, float *y, int64_t ldy)
{
    switch (rows) {
    case 6:
        tile(6, a, lda, kg, bp, first, last, bias, act, i, j, nc, res, y, ldy);
        break;
    case 5:
        tile(5, a, lda, kg, bp, first, last, bias, act, i, j, nc, res, y, ldy);
        break;
    case 4:
        tile(4, a, lda, kg, bp, first, last, bias, act, i, j, nc, res, y, ldy);
        break;
    case 3:
        tile(3, a, lda, kg, bp, first, last, bias, act, i, j, nc, res, y, ldy);
        break;
    case 2:
        tile(2, a, lda, kg, bp, first, last, bias, act, i, j, nc, res, y, ldy);
        break;
    default:
        tile(1, a, lda, kg, bp, first, last, bias, act, i, j, nc, res, y, ldy);
        break;
    }
}

void cq__bgemm_avx512_unit(const cq_bgemm_plan *pl, const float *x, float *y, const float *res,
                           int64_t i0, int64_t i1, int64_t j0, int64_t j1, void *scratch)
{
    const cq_bgemm_params *p = &pl->p;
    int64_t kg_all = pl->kp / 2, kc = pl->kc;
    uint16_t *abuf = scratch;
    for (int64_t pc = 0; pc < pl->nk; pc++) {
        int64_t k0 = pc * kc, kl = p->k - k0 < kc ? p->k - k0 : kc, kg = (kl + 1) / 2;
        for (int64_t r = 0; r < i1 - i0; r++)
            cq__bgemm_cvt_row(x + (i0 + r) * p->ldx + k0, kl, kc, abuf + r * kc);
        int first = pc == 0, last = pc == pl->nk - 1;
        for (int64_t jn = j0; jn < j1; jn += 64) {
            const uint16_t *bp = pl->wp + ((jn / 64) * kg_all + k0 / 2) * 128;
            int64_t nc = j1 - jn < 64 ? j1 - jn : 64;
            for (int64_t ir = i0; ir < i1; ir += MR) {
                int rows = (int)(i1 - ir < MR ? i1 - ir : MR);
                tile_any(rows, abuf + (ir - i0) * kc, kc, kg, bp, first, last, pl->bias,
                         p->act, ir, jn, nc, res, y, p->ldy);
            }
        }
    }
}
