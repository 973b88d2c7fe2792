/* kern_qconv_dw3h_avx512.c - two-row passes of the int8 depthwise 3x3/1 on
 * AVX-512 (kern_qconv_dw3_avx512.c's) as two sweeps with rows kept, for
 * 32 channels ("the halves") and for whole 64-channel chunks (P1).
 *
 * The halves: a vector holds output pixels g and g + ow2 (ow2 = ow / 2
 * rounded up) of the 32 channels, so that the column taps of a group are 3
 * consecutive entries (no valignd) and the loads are 32-byte halves at
 * 32-byte steps (the pixel pairs' 64-byte loads straddle two cache lines on
 * the executor's 64-byte aligned rows with pad 1: bench/NOTES.md). P1: a
 * vector holds one pixel of a 64-channel chunk, entry k is pixel k - pad
 * (a group: 1 pixel x 2 rows x 64 channels), each chunk with its own kept
 * rows (144@56's two chunks 0.0441 -> 0.0421 ms with the tail as before).
 *
 * The lane order is kern_qconv_dw3_avx512.c's: an entry's 4 vectors come
 * from the byte unpacks (lo, hi) of rows 0/1 and 2/3, then word unpacks;
 * vectors 0 and 1 take the lo byte unpacks only, 2 and 3 the hi ones, and
 * the epilogue packs vectors 0 and 1 into one word vector, 2 and 3 into
 * another, then those into bytes. So the pass runs as two sweeps over the
 * row, lo then hi, each with half an entry (2 vectors): a ring of 3 half
 * entries, 4 sums and the 12 weight vectors of its channels (3 taps x 2
 * vectors x the two output rows' blocks) in registers, where one sweep of
 * whole entries loaded its 24 weight vectors for every group (32@112
 * 0.0332-0.0342 -> 0.0310-0.0320 ms with what follows). The lo sweep loads
 * the rows and leaves the hi byte interleaves in scratch for the hi sweep
 * (which loads no rows), and its word vectors in wt for the hi sweep's last
 * pack.
 *
 * Rows kept: the byte interleaves of a pass's rows 2 and 3 (128 bytes an
 * entry, lo and hi) go to kc; the next pass, two rows on, whose rows 0 and
 * 1 they are, swaps kc and kp and reads them (reuse): it loads only rows 2
 * and 3, and per 128 outputs the two sweeps together run 2 inserts, 2 byte
 * and 4 word unpacks. Inside the row (both pixels of the next entry in it,
 * the upper outputs there) the groups run without bounds or masks. Same
 * bits as the other passes (test_kern_qconv). */
#include "kern/kern_qconv_internal.h"
#include "kern/x86/kern_qconv_x86.h"

#include <immintrin.h>
#include <stdint.h>

#define AI static inline __attribute__((always_inline))

/* Half an entry: word unpacks lo and hi of the byte interleaves b01, b23. */
typedef struct hent {
    __m512i v0, v1;
} hent;

AI hent hwords(__m512i b01, __m512i b23)
{
    hent e;
    e.v0 = _mm512_unpacklo_epi16(b01, b23);
    e.v1 = _mm512_unpackhi_epi16(b01, b23);
    return e;
}

AI __m512i bytes2(__m512i a, __m512i b, const int HI)
{
    return HI ? _mm512_unpackhi_epi8(a, b) : _mm512_unpacklo_epi8(a, b);
}

#define LD32(q) _mm256_loadu_si256((const __m256i *)(const void *)(q))

/* The lo sweep's half entry k from the (flipped) rows a0..a3 at entry k:
 * the byte interleaves of rows 2/3 to kc (lo, hi), rows 0/1's hi one to kp
 * (for the hi sweep). */
AI hent hlo_rows(__m512i a0, __m512i a1, __m512i a2, __m512i a3, uint8_t *kp, uint8_t *kc)
{
    __m512i l23 = _mm512_unpacklo_epi8(a2, a3);
    _mm512_store_si512(kc, l23);
    _mm512_store_si512(kc + 64, _mm512_unpackhi_epi8(a2, a3));
    _mm512_store_si512(kp + 64, _mm512_unpackhi_epi8(a0, a1));
    return hwords(_mm512_unpacklo_epi8(a0, a1), l23);
}

/* Entry k (input pixel k - pad low, k - pad + ow2 high) of rows r0..r3,
 * masked where outside the row (fill: x's zero point as u8). */
AI hent hlo_m(const uint8_t *r0, const uint8_t *r1, const uint8_t *r2, const uint8_t *r3,
              int64_t k, int64_t W, int64_t pad, int64_t ow2, __m512i fill, __m512i flip,
              uint8_t *kp, uint8_t *kc, const int FLIP, const int P1, int64_t C)
{
    int64_t p0 = k - pad, p1 = p0 + ow2;
    if (P1) { /* one pixel of 64 channels, C bytes a pixel */
        __mmask64 mk = p0 >= 0 && p0 < W ? ~(__mmask64)0 : 0;
        int64_t off = mk ? C * p0 : 0;
        __m512i b0 = _mm512_mask_loadu_epi8(fill, mk, r0 + off);
        __m512i b1 = _mm512_mask_loadu_epi8(fill, mk, r1 + off);
        __m512i b2 = _mm512_mask_loadu_epi8(fill, mk, r2 + off);
        __m512i b3 = _mm512_mask_loadu_epi8(fill, mk, r3 + off);
        if (FLIP) {
            b0 = _mm512_xor_si512(b0, flip);
            b1 = _mm512_xor_si512(b1, flip);
            b2 = _mm512_xor_si512(b2, flip);
            b3 = _mm512_xor_si512(b3, flip);
        }
        return hlo_rows(b0, b1, b2, b3, kp, kc);
    }
    __m256i f = _mm512_castsi512_si256(fill);
    __mmask32 m0 = p0 >= 0 && p0 < W ? ~(__mmask32)0 : 0;
    __mmask32 m1 = p1 >= 0 && p1 < W ? ~(__mmask32)0 : 0;
    int64_t o0 = m0 ? 32 * p0 : 0, o1 = m1 ? 32 * p1 : 0;
#define LDM(r)                                                                                \
    _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_mask_loadu_epi8(f, m0, (r) + o0)),       \
                       _mm256_mask_loadu_epi8(f, m1, (r) + o1), 1)
    __m512i a0 = LDM(r0), a1 = LDM(r1), a2 = LDM(r2), a3 = LDM(r3);
#undef LDM
    if (FLIP) {
        a0 = _mm512_xor_si512(a0, flip);
        a1 = _mm512_xor_si512(a1, flip);
        a2 = _mm512_xor_si512(a2, flip);
        a3 = _mm512_xor_si512(a3, flip);
    }
    return hlo_rows(a0, a1, a2, a3, kp, kc);
}

/* The same inside the row, at q_i = the rows at entry k's lower pixel (its
 * upper one hs bytes on); REUSE: rows 0 and 1's interleaves are kp's (the
 * last pass's rows 2 and 3), only rows 2 and 3 are loaded. */
AI hent hlo_f(const uint8_t *q0, const uint8_t *q1, const uint8_t *q2, const uint8_t *q3,
              int64_t hs, __m512i flip, uint8_t *kp, uint8_t *kc, const int FLIP,
              const int REUSE, const int P1)
{
#define LDH(q)                                                                                \
    (P1 ? _mm512_loadu_si512(q)                                                               \
        : _mm512_inserti64x4(_mm512_castsi256_si512(LD32(q)), LD32((q) + hs), 1))
    __m512i a2 = LDH(q2), a3 = LDH(q3);
    if (FLIP) {
        a2 = _mm512_xor_si512(a2, flip);
        a3 = _mm512_xor_si512(a3, flip);
    }
    if (!REUSE) {
        __m512i a0 = LDH(q0), a1 = LDH(q1);
        if (FLIP) {
            a0 = _mm512_xor_si512(a0, flip);
            a1 = _mm512_xor_si512(a1, flip);
        }
        return hlo_rows(a0, a1, a2, a3, kp, kc);
    }
#undef LDH
    __m512i l23 = _mm512_unpacklo_epi8(a2, a3);
    _mm512_store_si512(kc, l23);
    _mm512_store_si512(kc + 64, _mm512_unpackhi_epi8(a2, a3));
    return hwords(_mm512_load_si512(kp), l23);
}

/* The hi sweep's half entry: rows 0/1's hi interleave from kp, 2/3's from kc. */
AI hent hhi(const uint8_t *kp, const uint8_t *kc)
{
    return hwords(_mm512_load_si512(kp + 64), _mm512_load_si512(kc + 64));
}

/* 32 int32 sums (lane order) to 32 words, cq__qdw_codes64's first half. */
AI __m512i hcodes(const cq__qdw_epi *E, const int NOMIN, const int PLAIN, __m512i a0,
                  __m512i a1, __m512 m0, __m512 m1)
{
    __m512 f0 = _mm512_mul_ps(_mm512_cvtepi32_ps(a0), m0);
    __m512 f1 = _mm512_mul_ps(_mm512_cvtepi32_ps(a1), m1);
    if (!NOMIN) {
        f0 = _mm512_min_ps(f0, E->cap);
        f1 = _mm512_min_ps(f1, E->cap);
    }
    __m512i w = _mm512_packs_epi32(_mm512_cvtps_epi32(f0), _mm512_cvtps_epi32(f1));
    return PLAIN ? w : _mm512_adds_epi16(w, E->zp16);
}

/* ... and the bytes of 64 outputs from the two word vectors. */
AI __m512i hbytes(const cq__qdw_epi *E, const int S8, const int PLAIN, __m512i w01, __m512i w23)
{
    if (PLAIN)
        return S8 ? _mm512_packs_epi16(w01, w23) : _mm512_packus_epi16(w01, w23);
    if (S8)
        return _mm512_min_epi8(_mm512_max_epi8(_mm512_packs_epi16(w01, w23), E->lo8), E->hi8);
    return _mm512_min_epu8(_mm512_max_epu8(_mm512_packus_epi16(w01, w23), E->lo8), E->hi8);
}

/* One sweep (HI 0: entry vectors 0 and 1, HI 1: 2 and 3) of a pass over the
 * row: rows r0..r3, weights wa / wb (the two output rows' blocks, [kx][4
 * vectors][64]), cp / mp compensation and multipliers (lane order), ya /
 * yb the output rows, hb the kept interleaves, wt the lo sweep's words. */
AI void sweep(const cq_qconv2d_plan *pl, const cq__qdw_epi *E, const uint8_t *r0,
              const uint8_t *r1, const uint8_t *r2, const uint8_t *r3, const int8_t *wa,
              const int8_t *wb, const int32_t *cp, const float *mp, uint8_t *ya, uint8_t *yb,
              uint8_t *kp, uint8_t *kc, uint8_t *wt, int reuse, const int S8, const int NOMIN,
              const int PLAIN, const int FLIP, const int HI, const int P1)
{
    const cq_conv2d_params *c = &pl->p.c;
    int64_t W = c->w, pad = c->pad_left, ow = pl->ow, ow2 = P1 ? ow : (ow + 1) / 2;
    int64_t hs = 32 * ow2, C = P1 ? c->c_in : 32; /* C: bytes from entry to entry */
    /* [gs, ge): the groups whose next entry (g + 3) is inside the row and
     * whose upper outputs (g + ow2) exist (P1: one pixel a group, ow2 = ow) */
    int64_t gs = pad > 3 ? pad - 3 : 0, ge = P1 ? W + pad - 3 : W - ow2 + pad - 3;
    ge = P1 || ge < ow - ow2 ? ge : ow - ow2;
    ge = ge < ow2 ? ge : ow2;
    ge = ge > gs ? ge : gs;
    uint8_t zpp = (uint8_t)pl->p.x_zp ^ (pl->p.x_dt == CQ_S8 && !FLIP ? 0x80 : 0);
    __m512i fill = _mm512_set1_epi8((char)zpp), flip = _mm512_set1_epi8((char)0x80);
    int o = 32 * HI; /* the sweep's first dword lane of 64: vectors 2 HI, 2 HI + 1 */
    __m512i c0 = _mm512_loadu_si512(cp + o), c1 = _mm512_loadu_si512(cp + o + 16);
    __m512 m0 = _mm512_loadu_ps(mp + o), m1 = _mm512_loadu_ps(mp + o + 16);
#define WV(w, kx, j)                                                                          \
    (P1 ? _mm512_load_si512((w) + (kx) * 256 + (2 * HI + (j)) * 64)                           \
        : _mm512_broadcast_i64x4(_mm256_load_si256(                                           \
              (const __m256i *)(const void *)((w) + (kx) * 256 + (2 * HI + (j)) * 64))))
    __m512i wa00 = WV(wa, 0, 0), wa01 = WV(wa, 0, 1), wa10 = WV(wa, 1, 0), wa11 = WV(wa, 1, 1),
            wa20 = WV(wa, 2, 0), wa21 = WV(wa, 2, 1);
    __m512i wb00 = WV(wb, 0, 0), wb01 = WV(wb, 0, 1), wb10 = WV(wb, 1, 0), wb11 = WV(wb, 1, 1),
            wb20 = WV(wb, 2, 0), wb21 = WV(wb, 2, 1);
#undef WV
#define BM(k)                                                                                 \
    (HI ? hhi(kp + 128 * (k), kc + 128 * (k))                                                 \
        : hlo_m(r0, r1, r2, r3, (k), W, pad, ow2, fill, flip, kp + 128 * (k), kc + 128 * (k),  \
                FLIP, P1, C))
#define BF(g, RU)                                                                             \
    (HI ? hhi(kp + 128 * ((g) + 3), kc + 128 * ((g) + 3))                                     \
        : hlo_f(r0 + C * ((g) + 3 - pad), r1 + C * ((g) + 3 - pad), r2 + C * ((g) + 3 - pad), \
                r3 + C * ((g) + 3 - pad), hs, flip, kp + 128 * ((g) + 3), kc + 128 * ((g) + 3), \
                FLIP, RU, P1))
#define DOT(e, kx)                                                                            \
    a0 = _mm512_dpbusd_epi32(a0, (e).v0, wa##kx##0);                                          \
    b0 = _mm512_dpbusd_epi32(b0, (e).v0, wb##kx##0);                                          \
    a1 = _mm512_dpbusd_epi32(a1, (e).v1, wa##kx##1);                                          \
    b1 = _mm512_dpbusd_epi32(b1, (e).v1, wb##kx##1);
    /* FAST 0: at the row's ends, 1 inside, 2 inside with rows 0 and 1 kept */
#define GROUP(g, FAST)                                                                        \
    {                                                                                         \
        __m512i a0 = c0, a1 = c1, b0 = c0, b1 = c1;                                           \
        DOT(e0, 0)                                                                            \
        DOT(e1, 1)                                                                            \
        DOT(e2, 2)                                                                            \
        __m512i wqa = hcodes(E, NOMIN, PLAIN, a0, a1, m0, m1);                                \
        __m512i wqb = hcodes(E, NOMIN, PLAIN, b0, b1, m0, m1);                                \
        if (!HI) {                                                                            \
            _mm512_store_si512(wt + 128 * (g), wqa);                                          \
            _mm512_store_si512(wt + 128 * (g) + 64, wqb);                                     \
        } else {                                                                              \
            __m512i qa = hbytes(E, S8, PLAIN, _mm512_load_si512(wt + 128 * (g)), wqa);        \
            __m512i qb = hbytes(E, S8, PLAIN, _mm512_load_si512(wt + 128 * (g) + 64), wqb);   \
            if (P1) {                                                                         \
                _mm512_storeu_si512(ya + C * (g), qa);                                        \
                _mm512_storeu_si512(yb + C * (g), qb);                                        \
            } else {                                                                          \
                _mm256_storeu_si256((__m256i *)(void *)(ya + 32 * (g)),                       \
                                    _mm512_castsi512_si256(qa));                              \
                _mm256_storeu_si256((__m256i *)(void *)(yb + 32 * (g)),                       \
                                    _mm512_castsi512_si256(qb));                              \
            }                                                                                 \
            if (!P1 && (FAST || (g) + ow2 < ow)) {                                            \
                _mm256_storeu_si256((__m256i *)(void *)(ya + 32 * ((g) + ow2)),               \
                                    _mm512_extracti64x4_epi64(qa, 1));                        \
                _mm256_storeu_si256((__m256i *)(void *)(yb + 32 * ((g) + ow2)),               \
                                    _mm512_extracti64x4_epi64(qb, 1));                        \
            }                                                                                 \
        }                                                                                     \
        e0 = e1;                                                                              \
        e1 = e2;                                                                              \
        e2 = FAST == 2 ? BF(g, 1) : FAST ? BF(g, 0) : BM((g) + 3);                            \
    }
    hent e0 = BM(0), e1 = BM(1), e2 = BM(2);
    int64_t g = 0;
    for (; g < gs; g++)
        GROUP(g, 0)
    if (reuse && !HI)
        for (; g < ge; g++)
            GROUP(g, 2)
    else
        for (; g < ge; g++)
            GROUP(g, 1)
    for (; g < ow2; g++)
        GROUP(g, 0)
#undef GROUP
#undef DOT
#undef BF
#undef BM
}

#define PASS(s8, nm, pn, f, p1)                                                               \
    do {                                                                                      \
        sweep(pl, E, r[0], r[1], r[2], r[3], wa, wb, cp, mp, ya, yb, kp, kc, wt, reuse, s8,   \
              nm, pn, f, 0, p1);                                                              \
        sweep(pl, E, r[0], r[1], r[2], r[3], wa, wb, cp, mp, ya, yb, kp, kc, wt, reuse, s8,   \
              nm, pn, f, 1, p1);                                                              \
    } while (0)
#define PASSES(f, P1)                                                                         \
    static void passes_##f##_##P1(const cq_qconv2d_plan *pl, const cq__qdw_epi *E,            \
                           const uint8_t *const *r, const int8_t *wa, const int8_t *wb,       \
                           const int32_t *cp, const float *mp, uint8_t *ya, uint8_t *yb,      \
                           uint8_t *kp, uint8_t *kc, uint8_t *wt, int reuse, int plain)       \
    {                                                                                         \
        switch ((E->s8 ? 4 : 0) + (E->no_min ? 2 : 0) + (plain ? 1 : 0)) {                    \
        case 0: PASS(0, 0, 0, f, P1); break;                                                      \
        case 1: PASS(0, 0, 1, f, P1); break;                                                      \
        case 2: PASS(0, 1, 0, f, P1); break;                                                      \
        case 3: PASS(0, 1, 1, f, P1); break;                                                      \
        case 4: PASS(1, 0, 0, f, P1); break;                                                      \
        case 5: PASS(1, 0, 1, f, P1); break;                                                      \
        case 6: PASS(1, 1, 0, f, P1); break;                                                      \
        default: PASS(1, 1, 1, f, P1); break;                                                     \
        }                                                                                     \
    }
PASSES(0, 0)
PASSES(1, 0)
PASSES(0, 1)
PASSES(1, 1)

void cq__qconv_dw3h_avx512_pass(const cq_qconv2d_plan *pl, const cq__qdw_epi *E,
                                const uint8_t *const *rows, uint8_t *ya, uint8_t *yb,
                                uint8_t *hb, int par, int reuse, int plain)
{
    int64_t ow2 = (pl->ow + 1) / 2, kb = (ow2 + 3) * 128;
    const int8_t *wa = pl->wd, *wb = wa + pl->nch * 3 * 256;
    uint8_t *kp = hb + (par ? kb : 0), *kc = hb + (par ? 0 : kb), *wt = hb + 2 * kb;
    if (pl->p.x_dt == CQ_S8)
        passes_1_0(pl, E, rows, wa, wb, pl->comp, pl->multp, ya, yb, kp, kc, wt, reuse, plain);
    else
        passes_0_0(pl, E, rows, wa, wb, pl->comp, pl->multp, ya, yb, kp, kc, wt, reuse, plain);
}

void cq__qconv_dw3h_avx512_chunk(const cq_qconv2d_plan *pl, const cq__qdw_epi *E,
                                 const uint8_t *const *rows, int64_t b, uint8_t *ya,
                                 uint8_t *yb, uint8_t *hb, int par, int reuse, int plain)
{
    int64_t ow = pl->ow, kb = (ow + 3) * 128;
    const int8_t *wa = pl->wd + b * 768, *wb = wa + pl->nch * 3 * 256;
    uint8_t *kp = hb + (2 * b + (par ? 1 : 0)) * kb, *kc = hb + (2 * b + (par ? 0 : 1)) * kb;
    uint8_t *wt = hb - ow * 128; /* the word rows, before the chunks' kept rows */
    const int32_t *cp = pl->comp + b * 64;
    const float *mp = pl->multp + b * 64;
    if (pl->p.x_dt == CQ_S8)
        passes_1_1(pl, E, rows, wa, wb, cp, mp, ya, yb, kp, kc, wt, reuse, plain);
    else
        passes_0_1(pl, E, rows, wa, wb, cp, mp, ya, yb, kp, kc, wt, reuse, plain);
}
