/* kern_qgemm_avx512.c - the int8 GEMM's AVX-512 VNNI block kernel
 * (kern_qgemm.h). Weights packed as [np / 64][kp / 4][64][4] s8; the register
 * tile is 6 rows x 64 columns (24 zmm sums, 4 weight vectors, 1 broadcast):
 * per group of 4 along k, 4 weight loads and 6 broadcasts of 4 u8 feed 24
 * vpdpbusd. A panel of fewer columns runs as many vectors as it has, on
 * more rows (tile_rows). The sums start from the compensation (comp). The
 * epilogue gives the scalar one's codes (cq__qgemm_epi_row, or with a
 * folded Add kern_qconv.c's): 16 columns at a time (epi16c, the same float
 * operations in the same order), or, for u8 / s8 codes on a float scale, 64
 * at a time packed into one store (epi64, epi64_add; kern_q8_x86.h). Each
 * panel's row tiles prefetch the next panel's weights between them (pfetch).
 * The implicit GEMM's rows can also be read in place, in runs of pieces
 * (cq__qgemm_avx512_unit_runs, tile_vnv*). */
#include "kern/kern_qgemm_internal.h"
#include "kern/x86/kern_q8_x86.h"

#include <immintrin.h>
#include <string.h>

#define AI static inline __attribute__((always_inline))

void cq__qgemm_avx512_pack(const cq_qgemm_plan *pl, const int8_t *w, void *wp)
{
    int64_t n = pl->p.n, k = pl->p.k, kq = pl->kp / 4;
    int8_t *o = wp;
    for (int64_t pn = 0; pn < pl->np / 64; pn++)
        for (int64_t g = 0; g < kq; g++)
            for (int64_t c = 0; c < 64; c++)
                for (int64_t r = 0; r < 4; r++) {
                    int64_t j = pn * 64 + c, t = 4 * g + r;
                    *o++ = j < n && t < k ? w[j * k + t] : 0;
                }
}

size_t cq__qgemm_avx512_scratch(const cq_qgemm_plan *pl)
{
    size_t part = pl->nk > 1 ? (size_t)CQ__QG_MC * CQ__QG_NC * sizeof(int32_t) : 0;
    size_t abuf = pl->p.x_dt == CQ_S8 ? (size_t)CQ__QG_MC * (size_t)pl->kc : 0;
    return part + abuf;
}

/* The epilogue's parameters, read once a tile into locals: y is written
 * through char pointers, which may alias anything, so an epilogue that read
 * them from the plan at each vector read them again after every store. */
typedef struct qepi {
    int ydt, req, act, rs8;
    int64_t ldy;
    __m512 fa, fb;          /* f32 out: the Clip's bounds */
    __m512 zp, lo, hi;      /* float requantization: the output's zero point and range */
    __m512i zp64, lo64, hi64;
    __m512i rzp;            /* the residual's zero point and scale (8-bit out) */
    __m512 rmul;
    int add, res_first;     /* a folded Add (cq__qgemm_add) */
    __m512 qzp, qlo, qhi, ra, rb, fix;
    __m512i zp16, lo8, hi8, perm; /* epi64 */
    __m512 cap;
} qepi;

AI qepi qepi_of(const cq_qgemm_plan *pl)
{
    const cq_qgemm_params *p = &pl->p;
    qepi e;
    e.ydt = p->y_dt;
    e.req = p->req;
    e.act = p->act.kind;
    e.rs8 = p->y_dt == CQ_S8;
    e.ldy = p->ldy;
    e.fa = _mm512_set1_ps(p->act.a);
    e.fb = _mm512_set1_ps(p->act.b);
    e.zp = _mm512_set1_ps((float)p->y_zp);
    e.lo = _mm512_set1_ps((float)p->y_min);
    e.hi = _mm512_set1_ps((float)p->y_max);
    e.zp64 = _mm512_set1_epi64(p->y_zp);
    e.lo64 = _mm512_set1_epi64(p->y_min);
    e.hi64 = _mm512_set1_epi64(p->y_max);
    e.rzp = _mm512_set1_epi32(p->res_zp);
    e.rmul = _mm512_set1_ps(p->res_mult);
    e.add = pl->add.on;
    e.res_first = pl->add.res_first;
    e.qzp = _mm512_set1_ps((float)pl->add.q_zp);
    e.qlo = _mm512_set1_ps((float)pl->add.q_min);
    e.qhi = _mm512_set1_ps((float)pl->add.q_max);
    e.ra = _mm512_set1_ps(pl->add.ra);
    e.rb = _mm512_set1_ps(pl->add.rb);
    e.fix = _mm512_set1_ps(pl->add.fixed);
    e.zp16 = _mm512_set1_epi16((short)p->y_zp);
    e.lo8 = _mm512_set1_epi8((char)p->y_min);
    e.hi8 = _mm512_set1_epi8((char)p->y_max);
    e.perm = cq__q8_perm();
    e.cap = _mm512_set1_ps(1073741824.0f);
    return e;
}

/* A column vector's own parameters (columns j.., padded to the panel):
 * loaded once for all the tile's rows. */
typedef struct qcol {
    __m512i comp, qm, sh;
    __m512 mult;
} qcol;

AI qcol qcol_of(const cq_qgemm_plan *pl, const qepi *e, int64_t j)
{
    qcol c;
    c.comp = _mm512_loadu_si512(pl->comp + j);
    c.mult = _mm512_setzero_ps();
    c.qm = c.sh = _mm512_setzero_si512();
    if (e->req == CQ_QREQ_FIXED) {
        c.qm = _mm512_loadu_si512(pl->qmult + j);
        c.sh = _mm512_loadu_si512(pl->shift + j);
    } else if (e->req == CQ_QREQ_FLOAT) {
        c.mult = _mm512_loadu_ps(pl->mult + j);
    }
    return c;
}

/* The folded Add on 16 sums v (comp in them) with scales mu and residual
 * codes r8: the conv's own code, then the Add, clamped to y's range, as
 * int32 (cq__qconv_res16k's operations in its order) */
AI __m512i add16(const qepi *e, __m512i v, __m512 mu, __m128i r8)
{
    __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(v), mu);
    f = _mm512_roundscale_ps(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    f = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(f, e->qzp), e->qlo), e->qhi);
    __m512 rf = _mm512_cvtepi32_ps(e->rs8 ? _mm512_cvtepi8_epi32(r8) : _mm512_cvtepu8_epi32(r8));
    __m512 s = e->res_first ? _mm512_fmadd_ps(rf, e->ra, _mm512_fmadd_ps(f, e->rb, e->fix))
                            : _mm512_fmadd_ps(f, e->ra, _mm512_fmadd_ps(rf, e->rb, e->fix));
    return _mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(s, e->lo), e->hi));
}

/* The epilogue of 16 sums v of row i, columns j.. (mask m): see
 * cq__qgemm_epi_row for the arithmetic. */
AI void epi16c(const qepi *e, const qcol *c, int addc, __m512i v, int64_t i, int64_t j,
               __mmask16 m, const void *res, void *y)
{
    int64_t o = i * e->ldy + j;
    if (addc) /* else the sums started from comp (the tile's Q_INIT) */
        v = _mm512_add_epi32(v, c->comp);
    if (e->ydt == CQ_S32) {
        _mm512_mask_storeu_epi32((int32_t *)y + o, m, v);
        return;
    }
    if (e->ydt == CQ_F32) {
        __m512 f = _mm512_cvtepi32_ps(v);
        if (e->req == CQ_QREQ_FLOAT)
            f = _mm512_mul_ps(f, c->mult);
        if (res)
            f = _mm512_add_ps(f, _mm512_maskz_loadu_ps(m, (const float *)res + o));
        if (e->act == CQ_ACT_RELU) {
            f = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(f, _mm512_setzero_ps(), _CMP_GT_OQ), f);
        } else if (e->act == CQ_ACT_CLIP) {
            f = _mm512_mask_mov_ps(f, _mm512_cmp_ps_mask(f, e->fa, _CMP_LT_OQ), e->fa);
            f = _mm512_mask_mov_ps(f, _mm512_cmp_ps_mask(f, e->fb, _CMP_GT_OQ), e->fb);
        }
        _mm512_mask_storeu_ps((float *)y + o, m, f);
        return;
    }
    __m512i q;
    if (e->req == CQ_QREQ_FIXED) {
        __m512i one = _mm512_set1_epi64(1), lo32 = _mm512_set1_epi64(0xffffffffLL);
        __m512i she = _mm512_and_si512(c->sh, lo32), sho = _mm512_srli_epi64(c->sh, 32);
        __m512i ev = _mm512_mul_epi32(v, c->qm);
        __m512i od = _mm512_mul_epi32(_mm512_srli_epi64(v, 32), _mm512_srli_epi64(c->qm, 32));
        ev = _mm512_srav_epi64(
            _mm512_add_epi64(ev, _mm512_sllv_epi64(one, _mm512_sub_epi64(she, one))), she);
        od = _mm512_srav_epi64(
            _mm512_add_epi64(od, _mm512_sllv_epi64(one, _mm512_sub_epi64(sho, one))), sho);
        ev = _mm512_min_epi64(_mm512_max_epi64(_mm512_add_epi64(ev, e->zp64), e->lo64), e->hi64);
        od = _mm512_min_epi64(_mm512_max_epi64(_mm512_add_epi64(od, e->zp64), e->lo64), e->hi64);
        q = _mm512_mask_blend_epi32(0xAAAA, ev, _mm512_slli_epi64(od, 32));
    } else if (e->add) {
        q = add16(e, v, c->mult, _mm_maskz_loadu_epi8(m, (const char *)res + o));
    } else {
        __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(v), c->mult);
        if (res) {
            __m128i r8 = _mm_maskz_loadu_epi8(m, (const char *)res + o);
            __m512i r = e->rs8 ? _mm512_cvtepi8_epi32(r8) : _mm512_cvtepu8_epi32(r8);
            __m512 rv = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(r, e->rzp)), e->rmul);
            f = _mm512_add_ps(f, rv);
        }
        f = _mm512_roundscale_ps(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        f = _mm512_add_ps(f, e->zp);
        f = _mm512_min_ps(_mm512_max_ps(f, e->lo), e->hi);
        q = _mm512_cvtps_epi32(f);
    }
    _mm512_mask_cvtepi32_storeu_epi8((char *)y + o, m, q);
}

/* Four vectors of sums (comp in them), each on its scale vector, to 64 u8 /
 * s8 codes at y (kern_q8_x86.h): one 64-byte store where epi16c makes four
 * conversions and masked stores. A row's 64 columns (epi64), or 4 rows of a
 * 16-column conv, 2 of a 32-column one (their rows are contiguous). */
AI void st_pack4(const qepi *e, __m512i a0, __m512 m0, __m512i a1, __m512 m1, __m512i a2,
                 __m512 m2, __m512i a3, __m512 m3, uint8_t *y)
{
    _mm512_storeu_si512(y, cq__q8_pack64(cq__q8_scale(a0, m0, e->cap),
                                         cq__q8_scale(a1, m1, e->cap),
                                         cq__q8_scale(a2, m2, e->cap),
                                         cq__q8_scale(a3, m3, e->cap), e->zp16, e->lo8,
                                         e->hi8, e->perm, e->rs8));
}

AI void epi64(const qepi *e, const float *mult, __m512i a0, __m512i a1, __m512i a2, __m512i a3,
              uint8_t *y)
{
    st_pack4(e, a0, _mm512_loadu_ps(mult), a1, _mm512_loadu_ps(mult + 16), a2,
             _mm512_loadu_ps(mult + 32), a3, _mm512_loadu_ps(mult + 48), y);
}

/* The same with the folded Add (cq__qgemm_add): each 16 columns through
 * add16, the codes (already in y's range) packed and stored once. */
AI void epi64_add(const qepi *e, const float *mult, __m512i a0, __m512i a1, __m512i a2,
                  __m512i a3, const uint8_t *res, uint8_t *y)
{
    __m512i r = _mm512_loadu_si512(res);
    __m512i v0 = add16(e, a0, _mm512_loadu_ps(mult), _mm512_castsi512_si128(r));
    __m512i v1 = add16(e, a1, _mm512_loadu_ps(mult + 16), _mm512_extracti32x4_epi32(r, 1));
    __m512i v2 = add16(e, a2, _mm512_loadu_ps(mult + 32), _mm512_extracti32x4_epi32(r, 2));
    __m512i v3 = add16(e, a3, _mm512_loadu_ps(mult + 48), _mm512_extracti32x4_epi32(r, 3));
    _mm512_storeu_si512(y, cq__q8_pack64(v0, v1, v2, v3, _mm512_setzero_si512(), e->lo8,
                                         e->hi8, e->perm, e->rs8));
}

/* rows rows of x at a (stride lda) times nv 16-column vectors of one
 * 64-column panel bp over kg groups of 4 (the last one only tail bytes long
 * when tail != 0); sums start from part (stride lp) unless first, go back
 * there unless last, else through the epilogue into row i, columns j.. (nc
 * of them). The sums are named variables, not an array: GCC kept an array's
 * zmm in memory (bench/NOTES.md, "int8 GEMM"). rows and nv are constants
 * where tile_any calls this, so only the rows x nv sums in use are kept: at
 * most 24 (6 x 4, 8 x 3, 12 x 2; 12 x 1). */
#define Q_COL(r, c, X)                                                                        \
    if (nv > c) {                                                                             \
        X(r, c)                                                                               \
    }
#define Q_ROW(r, X)                                                                           \
    if (rows > r) {                                                                           \
        Q_COL(r, 0, X) Q_COL(r, 1, X) Q_COL(r, 2, X) Q_COL(r, 3, X)                           \
    }
#define Q_ALL(X)                                                                              \
    Q_ROW(0, X) Q_ROW(1, X) Q_ROW(2, X) Q_ROW(3, X) Q_ROW(4, X) Q_ROW(5, X) Q_ROW(6, X)       \
        Q_ROW(7, X) Q_ROW(8, X) Q_ROW(9, X) Q_ROW(10, X) Q_ROW(11, X)
#define Q_DECL(r)                                                                             \
    __m512i s##r##_0 = z, s##r##_1 = z, s##r##_2 = z, s##r##_3 = z;
#define Q_INIT(r, c)                                                                          \
    s##r##_##c = first ? _mm512_loadu_si512(pl->comp + j + 16 * c)                            \
                       : _mm512_loadu_si512(part + r * lp + 16 * c);
#define Q_SAVE(r, c) _mm512_storeu_si512(part + r * lp + 16 * c, s##r##_##c);
#define Q_DOT(r, c) s##r##_##c = _mm512_dpbusd_epi32(s##r##_##c, av, b##c);
#define Q_BCAST(r)                                                                            \
    if (rows > r) {                                                                           \
        int32_t v = 0;                                                                        \
        memcpy(&v, ag + r * lda, nb);                                                         \
        __m512i av = _mm512_set1_epi32(v);                                                    \
        Q_COL(r, 0, Q_DOT) Q_COL(r, 1, Q_DOT) Q_COL(r, 2, Q_DOT) Q_COL(r, 3, Q_DOT)           \
    }
#define Q_LOADB(c)                                                                            \
    if (nv > c)                                                                               \
        b##c = _mm512_load_si512(b + 64 * c);
/* group G of 4 along k: rows at A + r lda + 4 G, weights at BP + 256 G */
#define Q_GROUP_AT(NB, A, BP, G)                                                              \
    {                                                                                         \
        const size_t nb = NB;                                                                 \
        const uint8_t *ag = (A) + 4 * (G);                                                    \
        const int8_t *b = (BP) + (G) * 256;                                                   \
        __m512i b0 = z, b1 = z, b2 = z, b3 = z;                                               \
        Q_LOADB(0) Q_LOADB(1) Q_LOADB(2) Q_LOADB(3)                                           \
        Q_BCAST(0) Q_BCAST(1) Q_BCAST(2) Q_BCAST(3) Q_BCAST(4) Q_BCAST(5) Q_BCAST(6)          \
            Q_BCAST(7) Q_BCAST(8) Q_BCAST(9) Q_BCAST(10) Q_BCAST(11)                          \
    }
#define Q_GROUP(NB) Q_GROUP_AT(NB, a, bp, g)
/* The epilogue column by column: a column vector's parameters and mask
 * once for all its rows, its sums freed as they go (24 sums, the column's
 * parameters and the output range fit the 32 registers; all four columns'
 * parameters at once did not) */
#define Q_EPR(r, c)                                                                           \
    if (rows > r)                                                                             \
        epi16c(&ep, &qc, 0, s##r##_##c, i + r, j + 16 * c, mk, res, y);
#define Q_EP64(r)                                                                             \
    if (rows > r)                                                                             \
        epi64(&ep, pl->mult + j, s##r##_0, s##r##_1, s##r##_2, s##r##_3,                     \
              (uint8_t *)y + (i + r) * ep.ldy + j);
/* Four rows of one column vector (or two of two), packed where the rows are
 * whole (rows r3 or r1 in the tile), else each row by itself (epi16c). */
#define Q_EPF(r, c)                                                                           \
    if (rows > r)                                                                             \
        epi16c(&ep, &qc, 0, s##r##_##c, i + r, j + 16 * c, 0xffff, res, y);
#define Q_EP4R(r0, r1, r2, r3)                                                                \
    if (rows > r3) {                                                                          \
        __m512 m0 = _mm512_loadu_ps(mu);                                                      \
        st_pack4(&ep, s##r0##_0, m0, s##r1##_0, m0, s##r2##_0, m0, s##r3##_0, m0,             \
                 yr + r0 * 16);                                                               \
    } else {                                                                                  \
        qcol qc = qcol_of(pl, &ep, j);                                                        \
        Q_EPF(r0, 0) Q_EPF(r1, 0) Q_EPF(r2, 0)                                                \
    }
#define Q_EP2R(r0, r1)                                                                        \
    if (rows > r1) {                                                                          \
        __m512 m0 = _mm512_loadu_ps(mu), m1 = _mm512_loadu_ps(mu + 16);                       \
        st_pack4(&ep, s##r0##_0, m0, s##r0##_1, m1, s##r1##_0, m0, s##r1##_1, m1,             \
                 yr + r0 * 32);                                                               \
    } else if (rows > r0) {                                                                   \
        qcol qa = qcol_of(pl, &ep, j), qb = qcol_of(pl, &ep, j + 16);                         \
        epi16c(&ep, &qa, 0, s##r0##_0, i + r0, j, 0xffff, res, y);                            \
        epi16c(&ep, &qb, 0, s##r0##_1, i + r0, j + 16, 0xffff, res, y);                       \
    }
#define Q_EP64A(r)                                                                            \
    if (rows > r)                                                                             \
        epi64_add(&ep, pl->mult + j, s##r##_0, s##r##_1, s##r##_2, s##r##_3,                 \
                  (const uint8_t *)res + (i + r) * ep.ldy + j,                                \
                  (uint8_t *)y + (i + r) * ep.ldy + j);
#define Q_EPCOL(c)                                                                            \
    if (nv > c && 16 * c < nc) {                                                              \
        qcol qc = qcol_of(pl, &ep, j + 16 * c);                                               \
        __mmask16 mk = q_mask(nc - 16 * c);                                                   \
        Q_EPR(0, c) Q_EPR(1, c) Q_EPR(2, c) Q_EPR(3, c) Q_EPR(4, c) Q_EPR(5, c) Q_EPR(6, c)   \
            Q_EPR(7, c) Q_EPR(8, c) Q_EPR(9, c) Q_EPR(10, c) Q_EPR(11, c)                     \
    }

/* Lines of the next weight panel to prefetch while a tile runs: the
 * weights come from memory on a model's first row block (a model's weights
 * are evicted between runs), and the first row tile of a panel otherwise
 * waits for them. Into L2 (_MM_HINT_T1: _T0 measured the same, and the next
 * panel then does not push the current one out of L1). */
typedef struct pfetch {
    const int8_t *p;
    int64_t n;
} pfetch;

AI __mmask16 q_mask(int64_t left)
{
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

/* A piece of a k block read in place (cq__qgemm_avx512_unit_runs): nq groups
 * of 4 at row + ao, their weights bq groups into the block's. */
typedef struct qpiece {
    int64_t ao, bq, nq;
} qpiece;

/* npc > 0: the k block is the npc pieces pc (rows at a + r lda + ao), not
 * kg groups at a + r lda; no tail, no prefetch. npc is a constant 0 where the
 * rows are the GEMM's own, so that loop is not compiled in. */
AI void tile(const int rows, const int nv, const uint8_t *a, int64_t lda, int64_t kg, int tail,
             const int8_t *bp, const pfetch *pf, int32_t *part, int64_t lp, int first,
             int last, const cq_qgemm_plan *pl, int64_t i, int64_t j, int64_t nc,
             const void *res, void *y, const qpiece *pc, const int npc)
{
    __m512i z = _mm512_setzero_si512();
    Q_DECL(0) Q_DECL(1) Q_DECL(2) Q_DECL(3) Q_DECL(4) Q_DECL(5)
    Q_DECL(6) Q_DECL(7) Q_DECL(8) Q_DECL(9) Q_DECL(10) Q_DECL(11)
    Q_ALL(Q_INIT)
    for (int q = 0; q < npc; q++) {
        const uint8_t *aq = a + pc[q].ao;
        const int8_t *bq = bp + pc[q].bq * 256;
        for (int64_t g = 0; g < pc[q].nq; g++)
            Q_GROUP_AT(4, aq, bq, g)
    }
    if (npc)
        kg = 0;
    int64_t gm = tail ? kg - 1 : kg, g = 0;
    /* the tile's share of the next panel's lines, a few a step (a burst of
     * misses at once stalls the loop) */
    if (pf->n > 0 && gm > 0) {
        int64_t lps = (pf->n + gm - 1) / gm;
        for (; g < gm && g * lps < pf->n; g++) {
            for (int64_t l = g * lps; l < (g + 1) * lps && l < pf->n; l++)
                _mm_prefetch((const char *)(pf->p + 64 * l), _MM_HINT_T1);
            Q_GROUP(4)
        }
    }
    for (; g < gm; g++)
        Q_GROUP(4)
    if (tail && !npc) /* the row's last bytes: read no further than they go */
        Q_GROUP((size_t)tail)
    if (!last) {
        Q_ALL(Q_SAVE)
        return;
    }
    qepi ep = qepi_of(pl);
    if (nv == 4 && nc == 64 && ep.req == CQ_QREQ_FLOAT && (ep.ydt == CQ_U8 || ep.ydt == CQ_S8)) {
        if (!res && !ep.add) {
            Q_EP64(0) Q_EP64(1) Q_EP64(2) Q_EP64(3) Q_EP64(4) Q_EP64(5)
            return;
        }
        if (res && ep.add) {
            Q_EP64A(0) Q_EP64A(1) Q_EP64A(2) Q_EP64A(3) Q_EP64A(4) Q_EP64A(5)
            return;
        }
    }
    if (nv <= 2 && nc == 16 * nv && ep.ldy == nc && !res && !ep.add &&
        ep.req == CQ_QREQ_FLOAT && (ep.ydt == CQ_U8 || ep.ydt == CQ_S8)) {
        /* a conv of 16 or 32 output channels: its rows are contiguous, so 4
         * rows of 16 (or 2 of 32) are one 64-byte store */
        uint8_t *yr = (uint8_t *)y + i * nc;
        const float *mu = pl->mult + j;
        if (nv == 1) {
            Q_EP4R(0, 1, 2, 3) Q_EP4R(4, 5, 6, 7) Q_EP4R(8, 9, 10, 11)
        } else {
            Q_EP2R(0, 1) Q_EP2R(2, 3) Q_EP2R(4, 5) Q_EP2R(6, 7) Q_EP2R(8, 9) Q_EP2R(10, 11)
        }
        return;
    }
    Q_EPCOL(0) Q_EPCOL(1) Q_EPCOL(2) Q_EPCOL(3)
}

/* The tile's rows for nv vectors of columns: 24 sums or fewer, so that the
 * weight vectors and a broadcast fit beside them. A panel of 16 or 32
 * columns (U-Net's and MobileNet's narrow convs, a 64-wide panel's tail)
 * runs nv 1 or 2, not 4 vectors of which 3 or 2 sum zeros. */
static int tile_rows(int nv)
{
    return nv >= 4 ? 6 : nv == 3 ? 8 : 12;
}

/* The tiles by rows for nv vectors: tile_nv* on the GEMM's own rows (NPC
 * 0), tile_vnv* on rows read in place (pieces) */
#define T_CASE(R, NV, NPC)                                                                    \
    case R:                                                                                   \
        tile(R, NV, a, lda, kg, tail, bp, pf, part, lp, first, last, pl, i, j, nc, res, y, pc, \
             NPC);                                                                            \
        break;
#define T_NV(NAME, NV, NPC, CASES)                                                            \
    static void NAME(int rows, const uint8_t *a, int64_t lda, int64_t kg, int tail,           \
                     const int8_t *bp, const pfetch *pf, int32_t *part, int64_t lp,           \
                     int first, int last, const cq_qgemm_plan *pl, int64_t i, int64_t j,      \
                     int64_t nc, const void *res, void *y, const qpiece *pc, int npc)         \
    {                                                                                         \
        (void)npc;                                                                            \
        switch (rows) {                                                                       \
            CASES                                                                             \
        default:                                                                              \
            tile(1, NV, a, lda, kg, tail, bp, pf, part, lp, first, last, pl, i, j, nc, res,   \
                 y, pc, NPC);                                                                 \
            break;                                                                            \
        }                                                                                     \
    }
#define T_TO6(NV, NPC)                                                                        \
    T_CASE(6, NV, NPC) T_CASE(5, NV, NPC) T_CASE(4, NV, NPC) T_CASE(3, NV, NPC)               \
        T_CASE(2, NV, NPC)
#define T_TO8(NV, NPC) T_CASE(8, NV, NPC) T_CASE(7, NV, NPC) T_TO6(NV, NPC)
#define T_TO12(NV, NPC)                                                                       \
    T_CASE(12, NV, NPC) T_CASE(11, NV, NPC) T_CASE(10, NV, NPC) T_CASE(9, NV, NPC)            \
        T_TO8(NV, NPC)
T_NV(tile_nv1, 1, 0, T_TO12(1, 0))
T_NV(tile_nv2, 2, 0, T_TO12(2, 0))
T_NV(tile_nv3, 3, 0, T_TO8(3, 0))
T_NV(tile_nv4, 4, 0, T_TO6(4, 0))
T_NV(tile_vnv1, 1, npc, T_TO12(1, npc))
T_NV(tile_vnv2, 2, npc, T_TO12(2, npc))
T_NV(tile_vnv3, 3, npc, T_TO8(3, npc))
T_NV(tile_vnv4, 4, npc, T_TO6(4, npc))

typedef void (*tile_fn)(int, const uint8_t *, int64_t, int64_t, int, const int8_t *,
                        const pfetch *, int32_t *, int64_t, int, int, const cq_qgemm_plan *,
                        int64_t, int64_t, int64_t, const void *, void *, const qpiece *, int);

void cq__qgemm_avx512_unit(const cq_qgemm_plan *pl, const void *x, void *y, const void *res,
                           int64_t i0, int64_t i1, int64_t j0, int64_t j1, void *scratch)
{
    const cq_qgemm_params *p = &pl->p;
    int64_t kq = pl->kp / 4, lp = CQ__QG_NC;
    int32_t *part = pl->nk > 1 ? scratch : NULL;
    uint8_t *abuf = (uint8_t *)scratch + (part ? (size_t)CQ__QG_MC * CQ__QG_NC * 4 : 0);
    const int8_t *wp = pl->wp;
    for (int64_t pc = 0; pc < pl->nk; pc++) {
        int64_t k0 = pc * pl->kc, kl = p->k - k0 < pl->kc ? p->k - k0 : pl->kc;
        int64_t kg = (kl + 3) / 4, lda;
        int tail = (int)(kl % 4);
        const uint8_t *a;
        if (p->x_dt == CQ_S8) { /* u8 = s8 + 128, zeros past k */
            const int8_t *xs = (const int8_t *)x + i0 * p->ldx + k0;
            for (int64_t r = 0; r < i1 - i0; r++) {
                uint8_t *d = abuf + r * pl->kc;
                for (int64_t t = 0; t < kl; t++)
                    d[t] = (uint8_t)(xs[r * p->ldx + t] ^ 0x80);
                for (int64_t t = kl; t < kg * 4; t++)
                    d[t] = 0;
            }
            a = abuf;
            lda = pl->kc;
            tail = 0;
        } else {
            a = (const uint8_t *)x + i0 * p->ldx + k0;
            lda = p->ldx;
        }
        int first = pc == 0, last = pc == pl->nk - 1;
        for (int64_t jn = j0; jn < j1; jn += 64) {
            const int8_t *bp = wp + ((jn / 64) * kq + k0 / 4) * 256;
            int64_t nc = j1 - jn < 64 ? j1 - jn : 64;
            int nv = (int)((nc + 15) / 16), mr = tile_rows(nv);
            tile_fn fn = nv == 1 ? tile_nv1 : nv == 2 ? tile_nv2 : nv == 3 ? tile_nv3 : tile_nv4;
            /* the next panel: the next 64 columns of this k block, else the
             * first of the next k block */
            const int8_t *nb = NULL;
            int64_t nl = 0;
            if (jn + 64 < j1) {
                nb = bp + kq * 256;
                nl = kg * 4;
            } else if (last == 0) {
                int64_t k1 = k0 + pl->kc, kl1 = p->k - k1 < pl->kc ? p->k - k1 : pl->kc;
                nb = wp + ((j0 / 64) * kq + k1 / 4) * 256;
                nl = (kl1 + 3) / 4 * 4;
            }
            int64_t nt = (i1 - i0 + mr - 1) / mr, t = 0;
            for (int64_t ir = i0; ir < i1; ir += mr, t++) {
                int rows = (int)(i1 - ir < mr ? i1 - ir : mr);
                int32_t *pt = part ? part + (ir - i0) * lp + (jn - j0) : NULL;
                int64_t l0 = nl * t / nt, l1 = nl * (t + 1) / nt;
                pfetch pf = {nb ? nb + 64 * l0 : NULL, nb ? l1 - l0 : 0};
                fn(rows, a + (ir - i0) * lda, lda, kg, tail, bp, &pf, pt, lp, first, last, pl, ir,
                   jn, nc, res, y, NULL, 0);
            }
        }
    }
}

int cq__qgemm_avx512_runs_ok(const cq_qgemm_plan *pl, int64_t seg, int nseg)
{
    return pl->isa == CQ_ISA_AVX512 && !pl->amx && pl->p.x_dt == CQ_U8 && pl->p.k % 4 == 0 &&
           seg > 0 && seg % 4 == 0 && nseg >= 1 && nseg <= CQ__QG_VIEW_SEGS &&
           seg * nseg == pl->p.k;
}

/* cq__qgemm_avx512_unit's loops with the runs innermost; each k block cut,
 * run by run, where it crosses from one segment to the next into pieces (at
 * most nseg + 1: kc <= k). */
void cq__qgemm_avx512_unit_runs(const cq_qgemm_plan *pl, const cq__qg_run *runs, int nrun,
                                int64_t seg, void *y, const void *res, int64_t j0, int64_t j1,
                                void *scratch)
{
    int64_t kq = pl->kp / 4, lp = CQ__QG_NC;
    int32_t *part = pl->nk > 1 ? scratch : NULL;
    const int8_t *wp = pl->wp;
    pfetch none = {NULL, 0};
    for (int64_t pc = 0; pc < pl->nk; pc++) {
        int64_t k0 = pc * pl->kc, kl = pl->p.k - k0 < pl->kc ? pl->p.k - k0 : pl->kc;
        int first = pc == 0, last = pc == pl->nk - 1;
        for (int64_t jn = j0; jn < j1; jn += 64) {
            const int8_t *bp = wp + ((jn / 64) * kq + k0 / 4) * 256;
            int64_t nc = j1 - jn < 64 ? j1 - jn : 64;
            int nv = (int)((nc + 15) / 16), mr = tile_rows(nv);
            tile_fn fn = nv == 1 ? tile_vnv1 : nv == 2 ? tile_vnv2 : nv == 3 ? tile_vnv3
                                                                              : tile_vnv4;
            for (int q = 0; q < nrun; q++) {
                const cq__qg_run *u = &runs[q];
                qpiece ps[CQ__QG_VIEW_SEGS + 1];
                int np = 0;
                for (int64_t k = k0; k < k0 + kl;) {
                    int64_t s = k / seg, e = (s + 1) * seg < k0 + kl ? (s + 1) * seg : k0 + kl;
                    ps[np++] = (qpiece){u->off[s] + k - s * seg, (k - k0) / 4, (e - k) / 4};
                    k = e;
                }
                for (int64_t r = 0; r < u->rows; r += mr) {
                    int rows = (int)(u->rows - r < mr ? u->rows - r : mr);
                    int64_t ir = u->i + r;
                    int32_t *pt = part ? part + ir * lp + (jn - j0) : NULL;
                    fn(rows, u->a + r * u->lda, u->lda, 0, 0, bp, &none, pt, lp, first, last, pl,
                       ir, jn, nc, res, y, ps, np);
                }
            }
        }
    }
}

void cq__qgemm_avx512_epi(const cq_qgemm_plan *pl, const int32_t *acc, int64_t lda, int rows,
                          int64_t i, int64_t j, int64_t nc, const void *res, void *y)
{
    qepi e = qepi_of(pl);
    for (int64_t c = 0; c < nc; c += 16) {
        qcol q = qcol_of(pl, &e, j + c);
        for (int r = 0; r < rows; r++)
            epi16c(&e, &q, 1, _mm512_loadu_si512(acc + r * lda + c), i + r, j + c,
                   q_mask(nc - c), res, y);
    }
}
