/* kern_qgemm_amx.c - the int8 GEMM's AMX block kernel (kern_qgemm.h): tdpbusd
 * on u8 x s8 tiles into s32 tiles, then the AVX-512 epilogue.
 *
 * Tiles (one configuration, every tile 16 rows x 64 bytes): 0-3 hold a 32 x
 * 32 block of sums (tile 2 * mi + ni: rows 16 mi.., columns 16 ni..), 4-5
 * the two 16-row slices of x (16 rows x 64 k, u8), 6-7 the two 16-column
 * slices of w (16 groups of 4 k x 16 columns x 4 bytes). Per 64 k: 4 tile
 * loads, 4 tdpbusd of 16 x 16 x 64 products each.
 * Weights are packed as [np / 16][kp / 4][16][4] (k padded to 64 with zeros),
 * so a weight tile is 1 KiB in a row. x tiles are read from x in place when
 * x is u8 and the unit's rows and k block fill whole tiles; otherwise the
 * block is copied to scratch first (s8 shifted to u8 = x + 128 as in the
 * AVX-512 path, zeros past k and past the last row). Inside a unit, each
 * 32 rows of x (in L1) meet all the unit's columns in turn.
 * Sums of the last k block go to a 32 x 32 buffer and through
 * cq__qgemm_avx512_epi (the plan's compensation added there), spread over
 * the next block's k steps so that the vector units work while the tiles
 * do; s32 outputs of whole blocks instead start from the compensation and
 * are stored from the tiles to y. The bits are the AVX-512 path's: int32
 * sums are exact in any order.
 * Every unit loads the tile configuration and releases the tiles at its
 * end: a unit is several microseconds, the pair about 50 ns (bench/peak,
 * amx_cfg), and no thread keeps tile state between runs. */
#include "kern/kern_qgemm_internal.h"

#include <immintrin.h>
#include <string.h>

#define AI static inline __attribute__((always_inline))
#define MCP ((CQ__QG_MC + 15) / 16 * 16)
#define CB 32 /* columns of the sums buffer */

typedef struct tile_cfg {
    uint8_t palette, start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_cfg;

static void tiles_config(void)
{
    tile_cfg c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int t = 0; t < 8; t++) {
        c.colsb[t] = 64;
        c.rows[t] = 16;
    }
    _tile_loadconfig(&c);
}

void cq__qgemm_amx_pack(const cq_qgemm_plan *pl, const int8_t *w, void *wp)
{
    int64_t n = pl->p.n, k = pl->p.k, kq = pl->kp / 4;
    int8_t *o = wp;
    for (int64_t pn = 0; pn < pl->np / 16; pn++)
        for (int64_t g = 0; g < kq; g++)
            for (int64_t c = 0; c < 16; c++)
                for (int64_t r = 0; r < 4; r++) {
                    int64_t j = pn * 16 + c, t = 4 * g + r;
                    *o++ = j < n && t < k ? w[j * k + t] : 0;
                }
}

size_t cq__qgemm_amx_scratch(const cq_qgemm_plan *pl)
{
    size_t part = pl->nk > 1 ? (size_t)CQ__QG_MC * CQ__QG_NC * sizeof(int32_t) : 0;
    return part + 2 * 32 * CB * sizeof(int32_t) + (size_t)MCP * (size_t)pl->kc;
}

/* rows rows of kl bytes from src (stride ldx) into d (stride ld), each
 * padded with zeros to kw bytes (a multiple of 64), flipped to u8 when
 * flip, then zero rows up to a multiple of 16. */
static void copy_a(const uint8_t *src, int64_t ldx, int64_t rows, int64_t kl, int64_t kw,
                   int flip, uint8_t *d, int64_t ld)
{
    __m512i fl = _mm512_set1_epi8(flip ? (char)0x80 : 0), z = _mm512_setzero_si512();
    for (int64_t r = 0; r < rows; r++)
        for (int64_t t = 0; t < kw; t += 64) {
            int64_t left = kl - t;
            __mmask64 m = left >= 64 ? ~(__mmask64)0
                          : left > 0 ? ((__mmask64)1 << left) - 1
                                     : 0;
            __m512i v = _mm512_maskz_loadu_epi8(m, src + r * ldx + t);
            _mm512_storeu_si512(d + r * ld + t, _mm512_maskz_mov_epi8(m, _mm512_xor_si512(v, fl)));
        }
    for (int64_t r = rows; r < (rows + 15) / 16 * 16; r++)
        for (int64_t t = 0; t < kw; t += 64)
            _mm512_storeu_si512(d + r * ld + t, z);
}

/* One block of up to 32 x 32 sums: m2 / n2 say whether the second row /
 * column half is there. a: 16 or 32 rows of ks * 64 bytes (stride lda); b:
 * the first weight slice's tiles (1 KiB each, one per 64 k), the second one
 * bnext bytes on. Sums start from pt (stride CQ__QG_NC) unless first, go
 * back there unless last, else through the epilogue into rows i.. (mr of
 * them), columns j.. (nc). */
/* A block's finished sums waiting for the epilogue: rows i.. (mr of
 * them; done of them through it), columns j.. (nc) in buf (32 x CB); step
 * rows go through it per k step of the next block. */
typedef struct pending {
    int32_t *buf;
    int64_t i, j, nc;
    int mr, done, step;
} pending;

AI void pend_rows(const cq_qgemm_plan *pl, pending *q, int upto, const void *res, void *y)
{
    upto = upto < q->mr ? upto : q->mr;
    if (q->buf && q->done < upto) {
        cq__qgemm_avx512_epi(pl, q->buf + q->done * CB, CB, upto - q->done, q->i + q->done, q->j,
                             q->nc, res, y);
        q->done = upto;
    }
}

AI void block(const int m2, const int n2, const uint8_t *a, int64_t lda, const int8_t *b,
              int64_t bnext, int64_t ks, int32_t *pt, int first, int last,
              const cq_qgemm_plan *pl, int32_t *cbuf, pending *q, int64_t i, int mr, int64_t j,
              int64_t nc, const void *res, void *y)
{
    const int64_t lp = CQ__QG_NC * 4;
    /* s32 out, a whole block: the sums start from the compensation and the
     * tiles go straight to y */
    const int direct = m2 && n2 && mr == 32 && nc == 32 && pl->p.y_dt == CQ_S32;
    if (first && direct) {
        _tile_loadd(0, pl->comp + j, 0);
        _tile_loadd(1, pl->comp + j + 16, 0);
        _tile_loadd(2, pl->comp + j, 0);
        _tile_loadd(3, pl->comp + j + 16, 0);
    } else if (first) {
        _tile_zero(0);
        if (n2)
            _tile_zero(1);
        if (m2) {
            _tile_zero(2);
            if (n2)
                _tile_zero(3);
        }
    } else {
        _tile_loadd(0, pt, lp);
        if (n2)
            _tile_loadd(1, pt + 16, lp);
        if (m2) {
            _tile_loadd(2, pt + 16 * CQ__QG_NC, lp);
            if (n2)
                _tile_loadd(3, pt + 16 * CQ__QG_NC + 16, lp);
        }
    }
    for (int64_t s = 0; s < ks; s++) {
        _tile_loadd(4, a + 64 * s, lda);
        _tile_loadd(6, b + 1024 * s, 64);
        _tile_dpbusd(0, 4, 6);
        if (n2) {
            _tile_loadd(7, b + bnext + 1024 * s, 64);
            _tile_dpbusd(1, 4, 7);
        }
        if (m2) {
            _tile_loadd(5, a + 16 * lda + 64 * s, lda);
            _tile_dpbusd(2, 5, 6);
            if (n2)
                _tile_dpbusd(3, 5, 7);
        }
        if (q->buf) /* the block before's epilogue, while the tiles work */
            pend_rows(pl, q, q->done + q->step, res, y);
    }
    pend_rows(pl, q, 32, res, y);
    q->buf = NULL;
    if (!last) {
        _tile_stored(0, pt, lp);
        if (n2)
            _tile_stored(1, pt + 16, lp);
        if (m2) {
            _tile_stored(2, pt + 16 * CQ__QG_NC, lp);
            if (n2)
                _tile_stored(3, pt + 16 * CQ__QG_NC + 16, lp);
        }
        return;
    }
    if (direct) {
        int32_t *yo = (int32_t *)y + i * pl->p.ldy + j;
        _tile_stored(0, yo, pl->p.ldy * 4);
        _tile_stored(1, yo + 16, pl->p.ldy * 4);
        _tile_stored(2, yo + 16 * pl->p.ldy, pl->p.ldy * 4);
        _tile_stored(3, yo + 16 * pl->p.ldy + 16, pl->p.ldy * 4);
        return;
    }
    _tile_stored(0, cbuf, CB * 4);
    if (n2)
        _tile_stored(1, cbuf + 16, CB * 4);
    if (m2) {
        _tile_stored(2, cbuf + 16 * CB, CB * 4);
        if (n2)
            _tile_stored(3, cbuf + 16 * CB + 16, CB * 4);
    }
    q->buf = cbuf;
    q->i = i;
    q->j = j;
    q->nc = nc;
    q->mr = mr;
    q->done = 0;
    q->step = (int)((mr + ks - 1) / ks);
}

static void block_any(int m2, int n2, const uint8_t *a, int64_t lda, const int8_t *b,
                      int64_t bnext, int64_t ks, int32_t *pt, int first, int last,
                      const cq_qgemm_plan *pl, int32_t *cbuf, pending *q, int64_t i, int mr,
                      int64_t j, int64_t nc, const void *res, void *y)
{
    if (m2 && n2)
        block(1, 1, a, lda, b, bnext, ks, pt, first, last, pl, cbuf, q, i, mr, j, nc, res, y);
    else if (m2)
        block(1, 0, a, lda, b, bnext, ks, pt, first, last, pl, cbuf, q, i, mr, j, nc, res, y);
    else if (n2)
        block(0, 1, a, lda, b, bnext, ks, pt, first, last, pl, cbuf, q, i, mr, j, nc, res, y);
    else
        block(0, 0, a, lda, b, bnext, ks, pt, first, last, pl, cbuf, q, i, mr, j, nc, res, y);
}

void cq__qgemm_amx_unit(const cq_qgemm_plan *pl, const void *x, void *y, const void *res,
                        int64_t i0, int64_t i1, int64_t j0, int64_t j1, void *scratch)
{
    const cq_qgemm_params *p = &pl->p;
    int64_t kq = pl->kp / 4, rows = i1 - i0;
    int32_t *part = pl->nk > 1 ? scratch : NULL;
    int32_t *cbuf = (int32_t *)((char *)scratch + (part ? (size_t)CQ__QG_MC * CQ__QG_NC * 4 : 0));
    uint8_t *abuf = (uint8_t *)(cbuf + 2 * 32 * CB);
    pending q = {NULL, 0, 0, 0, 0, 0, 1};
    const int8_t *wp = pl->wp;
    tiles_config();
    for (int64_t pc = 0; pc < pl->nk; pc++) {
        int64_t k0 = pc * pl->kc, kl = p->k - k0 < pl->kc ? p->k - k0 : pl->kc;
        int64_t ks = (kl + 63) / 64, lda;
        const uint8_t *a = (const uint8_t *)x + i0 * p->ldx + k0;
        lda = p->ldx;
        if (p->x_dt == CQ_S8 || rows % 16 || kl % 64) {
            copy_a(a, p->ldx, rows, kl, ks * 64, p->x_dt == CQ_S8, abuf, pl->kc);
            a = abuf;
            lda = pl->kc;
        }
        int first = pc == 0, last = pc == pl->nk - 1;
        /* 32 rows of x stay in L1 while the unit's weights go by */
        for (int64_t ir = 0; ir < rows; ir += 32) {
            int mr = (int)(rows - ir < 32 ? rows - ir : 32);
            for (int64_t jn = j0; jn < j1; jn += 32) {
                const int8_t *b = wp + (jn / 16) * kq * 64 + (k0 / 64) * 1024;
                int64_t nc = j1 - jn < 32 ? j1 - jn : 32;
                int32_t *pt = part ? part + ir * CQ__QG_NC + (jn - j0) : NULL;
                int32_t *cb = q.buf == cbuf ? cbuf + 32 * CB : cbuf; /* the free half */
                block_any(mr > 16, nc > 16, a + ir * lda, lda, b, kq * 64, ks, pt, first, last,
                          pl, cb, &q, i0 + ir, mr, jn, nc, res, y);
            }
        }
    }
    pend_rows(pl, &q, 32, res, y);
    _tile_release();
}
