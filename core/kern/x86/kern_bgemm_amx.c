/* kern_bgemm_amx.c - the bf16 GEMM's AMX-BF16 block kernel (kern_bgemm.h):
 * tdpbf16ps on bf16 tiles into f32 tiles over the whole k, then the
 * AVX-512 epilogue.
 *
 * Tiles (one configuration, every tile 16 rows x 64 bytes): 0-3 hold a 32 x
 * 32 block of sums (tile 2 mi + ni), 4-5 two 16-row slices of x (16 rows x
 * 32 k), 6-7 two 16-column slices of w (16 pairs of k x 16 columns x 2).
 * Weights are packed as [np / 16][kp / 32][16][16][2] (k padded to 32 with
 * zeros), one 1 KiB tile each. The unit's rows of x are rounded to bf16 once
 * into scratch (rows padded to 16 with zeros, k to 32), so no partial sums.
 * Every unit loads the tile configuration and releases the tiles at its
 * end. Same products as the other paths, f32 sums in AMX's order. */
#include "kern/kern_bgemm_internal.h"
#include "kern/x86/kern_act_avx512.h"

#include <immintrin.h>
#include <string.h>

#define AI static inline __attribute__((always_inline))
#define MCP ((CQ__BG_MC + 15) / 16 * 16)

typedef struct tile_cfg {
    uint8_t palette, start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_cfg;

static int64_t k32(const cq_bgemm_plan *pl) { return (pl->p.k + 31) / 32 * 32; }

void cq__bgemm_amx_pack(const cq_bgemm_plan *pl, const float *w, uint16_t *wp)
{
    int64_t n = pl->p.n, k = pl->p.k, ns = k32(pl) / 32;
    for (int64_t jt = 0; jt < pl->np / 16; jt++)
        for (int64_t s = 0; s < ns; s++) {
            uint16_t *t = wp + (jt * ns + s) * 512;
            for (int64_t pr = 0; pr < 16; pr++)
                for (int64_t c = 0; c < 16; c++)
                    for (int64_t e = 0; e < 2; e++) {
                        int64_t j = jt * 16 + c, tk = 32 * s + 2 * pr + e;
                        float v = j < n && tk < k ? w[j * k + tk] : 0.0f; /* rounded */
                        uint32_t u;
                        memcpy(&u, &v, 4);
                        t[pr * 32 + c * 2 + e] = (uint16_t)(u >> 16);
                    }
        }
}

size_t cq__bgemm_amx_scratch(const cq_bgemm_plan *pl)
{
    return (size_t)MCP * (size_t)k32(pl) * sizeof(uint16_t) + 4 * 256 * sizeof(float);
}

AI __mmask16 col_mask(int64_t left)
{
    return left >= 16 ? (__mmask16)0xffff : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
}

/* Sums s (16 rows x 16 columns) into y rows i.. (rows valid), columns j..
 * (nc valid). */
static void epi(const cq_bgemm_plan *pl, const float *s, int64_t i, int64_t rows, int64_t j,
                int64_t nc, const float *res, float *y)
{
    const cq_bgemm_params *p = &pl->p;
    __mmask16 m = col_mask(nc);
    if (!m)
        return;
    __m512 bv = _mm512_loadu_ps(pl->bias + j);
    for (int64_t r = 0; r < rows; r++) {
        __m512 v = _mm512_add_ps(_mm512_loadu_ps(s + 16 * r), bv);
        if (res)
            v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, res + (i + r) * p->ldy + j));
        _mm512_mask_storeu_ps(y + (i + r) * p->ldy + j, m, act16(p->act, v));
    }
}

AI void block(const int two_m, const int two_n, const uint16_t *a, int64_t lda,
              const uint16_t *b, int64_t bnext, int64_t ns, float *sb)
{
    _tile_zero(0);
    if (two_n)
        _tile_zero(1);
    if (two_m) {
        _tile_zero(2);
        if (two_n)
            _tile_zero(3);
    }
    for (int64_t s = 0; s < ns; s++) {
        _tile_loadd(4, a + 32 * s, lda);
        _tile_loadd(6, b + 512 * s, 64);
        _tile_dpbf16ps(0, 4, 6);
        if (two_n) {
            _tile_loadd(7, b + bnext + 512 * s, 64);
            _tile_dpbf16ps(1, 4, 7);
        }
        if (two_m) {
            _tile_loadd(5, a + 16 * (lda / 2) + 32 * s, lda);
            _tile_dpbf16ps(2, 5, 6);
            if (two_n)
                _tile_dpbf16ps(3, 5, 7);
        }
    }
    _tile_stored(0, sb, 64);
    if (two_n)
        _tile_stored(1, sb + 256, 64);
    if (two_m) {
        _tile_stored(2, sb + 512, 64);
        if (two_n)
            _tile_stored(3, sb + 768, 64);
    }
}

void cq__bgemm_amx_unit(const cq_bgemm_plan *pl, const float *x, float *y, const float *res,
                        int64_t i0, int64_t i1, int64_t j0, int64_t j1, void *scratch)
{
    const cq_bgemm_params *p = &pl->p;
    int64_t kp = k32(pl), ns = kp / 32, rows = i1 - i0, rows16 = (rows + 15) / 16 * 16;
    uint16_t *abuf = scratch;
    float *sb = (float *)((char *)scratch + (size_t)MCP * (size_t)kp * sizeof(uint16_t));
    for (int64_t r = 0; r < rows; r++)
        cq__bgemm_cvt_row(x + (i0 + r) * p->ldx, p->k, kp, abuf + r * kp);
    if (rows16 > rows)
        memset(abuf + rows * kp, 0, (size_t)((rows16 - rows) * kp) * sizeof(uint16_t));
    tile_cfg c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int t = 0; t < 8; t++) {
        c.colsb[t] = 64;
        c.rows[t] = 16;
    }
    _tile_loadconfig(&c);
    int64_t lda = kp * 2;
    for (int64_t jn = j0; jn < j1; jn += 32) {
        int two_n = jn + 16 < j1;
        const uint16_t *b = pl->wp + (jn / 16) * ns * 512;
        for (int64_t ir = 0; ir < rows; ir += 32) {
            int two_m = ir + 16 < rows;
            const uint16_t *a = abuf + ir * kp;
            if (two_m && two_n)
                block(1, 1, a, lda, b, ns * 512, ns, sb);
            else if (two_m)
                block(1, 0, a, lda, b, ns * 512, ns, sb);
            else if (two_n)
                block(0, 1, a, lda, b, ns * 512, ns, sb);
            else
                block(0, 0, a, lda, b, ns * 512, ns, sb);
            int64_t r0 = rows - ir < 16 ? rows - ir : 16, r1 = rows - ir - 16;
            epi(pl, sb, i0 + ir, r0, jn, j1 - jn, res, y);
            if (two_n)
                epi(pl, sb + 256, i0 + ir, r0, jn + 16, j1 - jn - 16, res, y);
            if (two_m) {
                r1 = r1 < 16 ? r1 : 16;
                epi(pl, sb + 512, i0 + ir + 16, r1, jn, j1 - jn, res, y);
                if (two_n)
                    epi(pl, sb + 768, i0 + ir + 16, r1, jn + 16, j1 - jn - 16, res, y);
            }
        }
    }
    _tile_release();
}
