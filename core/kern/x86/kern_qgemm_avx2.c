/* kern_qgemm_avx2.c - the int8 GEMM's AVX2 block kernel (kern_qgemm.h).
 * vpmaddubsw (u8 x s8 pairs into s16) saturates: 255 * 127 + 255 * 127 =
 * 64770 > 32767. So activations widen to u16 as a block is copied (s8 ones
 * shifted to u8 first), weights are packed as s16, [np / 16][kp / 2][16][2],
 * and vpmaddwd adds each pair into s32: at most 2 * 255 * 128 = 65280 per
 * pair, exact, and the s32 sums wrap as the other paths' do. Register tile
 * 6 rows x 16 columns (12 ymm sums). The epilogue is the scalar one. */
#include "kern/kern_qgemm_internal.h"

#include <immintrin.h>
#include <string.h>

#define MR 6
#define AI static inline __attribute__((always_inline))

void cq__qgemm_avx2_pack(const cq_qgemm_plan *pl, const int8_t *w, void *wp)
{
    int64_t n = pl->p.n, k = pl->p.k, kq = pl->kp / 2;
    int16_t *o = wp;
    for (int64_t pn = 0; pn < pl->np / 16; pn++)
        for (int64_t g = 0; g < kq; g++)
            for (int64_t c = 0; c < 16; c++)
                for (int64_t r = 0; r < 2; r++) {
                    int64_t j = pn * 16 + c, t = 2 * g + r;
                    *o++ = (int16_t)(j < n && t < k ? w[j * k + t] : 0);
                }
}

size_t cq__qgemm_avx2_scratch(const cq_qgemm_plan *pl)
{
    size_t part = pl->nk > 1 ? (size_t)CQ__QG_MC * CQ__QG_NC * sizeof(int32_t) : 0;
    return part + (size_t)CQ__QG_MC * (size_t)pl->kc * sizeof(uint16_t);
}

AI void tile(const int rows, const uint16_t *a, int64_t lda, int64_t kg, const int16_t *bp,
             int32_t *part, int64_t lp, int first, int last, const cq_qgemm_plan *pl, int64_t i,
             int64_t j, int64_t nc, const void *res, void *y)
{
    __m256i acc[MR][2];
#pragma GCC unroll 6
    for (int r = 0; r < rows; r++)
#pragma GCC unroll 2
        for (int c = 0; c < 2; c++)
            acc[r][c] = first ? _mm256_setzero_si256()
                              : _mm256_loadu_si256((const __m256i *)(part + r * lp + 8 * c));
    for (int64_t g = 0; g < kg; g++) {
        const int16_t *b = bp + g * 32;
        __m256i b0 = _mm256_loadu_si256((const __m256i *)b),
                b1 = _mm256_loadu_si256((const __m256i *)(b + 16));
#pragma GCC unroll 6
        for (int r = 0; r < rows; r++) {
            int32_t v;
            memcpy(&v, a + r * lda + 2 * g, 4);
            __m256i av = _mm256_set1_epi32(v);
            acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(av, b0));
            acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(av, b1));
        }
    }
    if (!last) {
#pragma GCC unroll 6
        for (int r = 0; r < rows; r++)
#pragma GCC unroll 2
            for (int c = 0; c < 2; c++)
                _mm256_storeu_si256((__m256i *)(part + r * lp + 8 * c), acc[r][c]);
        return;
    }
    int32_t t[16];
    __m256i c0 = _mm256_loadu_si256((const __m256i *)(pl->comp + j)),
            c1 = _mm256_loadu_si256((const __m256i *)(pl->comp + j + 8));
    for (int r = 0; r < rows; r++) {
        _mm256_storeu_si256((__m256i *)t, _mm256_add_epi32(acc[r][0], c0));
        _mm256_storeu_si256((__m256i *)(t + 8), _mm256_add_epi32(acc[r][1], c1));
        cq__qgemm_epi_row(&pl->p, pl->mult, pl->qmult, pl->shift, i + r, j, nc, t, res, y);
    }
}

static void tile_any(int rows, const uint16_t *a, int64_t lda, int64_t kg, const int16_t *bp,
                     int32_t *part, int64_t lp, int first, int last, const cq_qgemm_plan *pl,
                     int64_t i, int64_t j, int64_t nc, const void *res, void *y)
{
    switch (rows) {
    case 6:
        tile(6, a, lda, kg, bp, part, lp, first, last, pl, i, j, nc, res, y);
        break;
    case 5:
        tile(5, a, lda, kg, bp, part, lp, first, last, pl, i, j, nc, res, y);
        break;
    case 4:
        tile(4, a, lda, kg, bp, part, lp, first, last, pl, i, j, nc, res, y);
        break;
    case 3:
        tile(3, a, lda, kg, bp, part, lp, first, last, pl, i, j, nc, res, y);
        break;
    case 2:
        tile(2, a, lda, kg, bp, part, lp, first, last, pl, i, j, nc, res, y);
        break;
    default:
        tile(1, a, lda, kg, bp, part, lp, first, last, pl, i, j, nc, res, y);
        break;
    }
}

void cq__qgemm_avx2_unit(const cq_qgemm_plan *pl, const void *x, void *y, const void *res,
                         int64_t i0, int64_t i1, int64_t j0, int64_t j1, void *scratch)
{
    const cq_qgemm_params *p = &pl->p;
    int64_t kq = pl->kp / 2, lp = CQ__QG_NC;
    int32_t *part = pl->nk > 1 ? scratch : NULL;
    uint16_t *abuf =
        (uint16_t *)((char *)scratch + (part ? (size_t)CQ__QG_MC * CQ__QG_NC * 4 : 0));
    const int16_t *wp = pl->wp;
    for (int64_t pc = 0; pc < pl->nk; pc++) {
        int64_t k0 = pc * pl->kc, kl = p->k - k0 < pl->kc ? p->k - k0 : pl->kc;
        int64_t kg = (kl + 1) / 2;
        for (int64_t r = 0; r < i1 - i0; r++) { /* widen to u16 (s8 + 128), zeros past k */
            uint16_t *d = abuf + r * pl->kc;
            if (p->x_dt == CQ_S8) {
                const int8_t *xs = (const int8_t *)x + (i0 + r) * p->ldx + k0;
                for (int64_t t = 0; t < kl; t++)
                    d[t] = (uint16_t)(xs[t] + 128);
            } else {
                const uint8_t *xs = (const uint8_t *)x + (i0 + r) * p->ldx + k0;
                for (int64_t t = 0; t < kl; t++)
                    d[t] = xs[t];
            }
            if (kl % 2)
                d[kl] = 0;
        }
        int first = pc == 0, last = pc == pl->nk - 1;
        for (int64_t jn = j0; jn < j1; jn += 16) {
            const int16_t *bp = wp + ((jn / 16) * kq + k0 / 2) * 32;
            int64_t nc = j1 - jn < 16 ? j1 - jn : 16;
            for (int64_t ir = i0; ir < i1; ir += MR) {
                int rows = (int)(i1 - ir < MR ? i1 - ir : MR);
                int32_t *pt = part ? part + (ir - i0) * lp + (jn - j0) : NULL;
                tile_any(rows, abuf + (ir - i0) * pl->kc, pl->kc, kg, bp, pt, lp, first, last,
                         pl, ir, jn, nc, res, y);
            }
        }
    }
}
