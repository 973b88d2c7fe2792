/* kern_qconv_dw3_avx512.c - the int8 depthwise 3x3, stride 1, dilation 1, on
 * AVX-512 (path "dw", kern_qconv.h): two output rows per pass, the input
 * interleaved in registers.
 *
 * vpdpbusd sums 4 u8 x s8 products per int32 lane, so a lane's 4 input
 * bytes must be 4 taps of one channel: here 4 input rows of one column. The
 * 4 input rows oy - 1 .. oy + 2 (with pad_top 1) of a 64-channel chunk,
 * loaded at one column and unpacked as bytes then words (8 shuffles), give 4
 * vectors whose dword 4 L + i (128-bit lane L) of vector j holds channel
 * 16 L + 4 j + i's 4 rows (the dw lane order, kern_qconv_internal.h). Output
 * row oy takes rows 0..2 of the quad (weights [w0 w1 w2 0] per channel and
 * column tap) and row oy + 1 rows 1..3 (weights [0 w0 w1 w2]: the plan's
 * second weight block), so one interleave serves both rows: per 64 outputs
 * 12 vpdpbusd and 4 shuffles, where the row-buffer kernel
 * (kern_qconv_avx512.c) spends 8 shuffles and a store and reload of each
 * entry. The interleaved columns stay in registers: a ring of the 3 the
 * column taps of one output need.
 *
 * 32 and 16 channels (pl->pix 2 and 4): a vector holds 2 or 4 pixels of one
 * row; column tap kx is the pair of vectors shifted by kx pixels (valignd of
 * 16 / pix dwords per pixel). With 32 channels on 32-byte aligned rows whose
 * pixel pairs would straddle cache lines (64-byte aligned rows and pad 1, as
 * the executor's tensors) and no residual, a pass runs the halves of
 * kern_qconv_dw3h_avx512.c instead: a vector holds output pixels g and g +
 * ow2 (ow2 = ow / 2 rounded up), two 32-byte loads a row, no valignd. Whole
 * 64-channel chunks without a residual run there too (two sweeps with the
 * weights in registers, rows kept from pass to pass); partial chunks, 16
 * channels, tails and residuals run pass_t below.
 *
 * A tail of 16 or fewer channels after the chunks (pl->tail: 144 = 2 x 64 +
 * 16) runs the same way as 16 channels: its input rows are copied compactly
 * (16 bytes a pixel, flipped to u8; a ring of 4 rows, each copied once per
 * thread) and a vector's 4 pixels are stored c_out bytes apart. 144@56's tail
 * took 0.021 ms of 0.058 as 16-channel vectors per pixel (kern_qconv_avx512.c).
 *
 * Padding is the zero point (x_zp, + 128 for s8 input, which runs as u8 =
 * x ^ 0x80): rows outside the input read a row of zero-point bytes (zl),
 * columns outside it are masked loads filled with it; the plan's
 * compensation bias - zp * sum w takes it back. A pass whose second row is
 * not there (the last row of an image, the last of a thread's rows) writes
 * that row to a scratch row (sink). The epilogue is the row-buffer kernel's
 * (kern_qconv_x86.h): the same bits. */
#include "kern/kern_qconv_internal.h"
#include "kern/x86/kern_qconv_x86.h"

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define AI static inline __attribute__((always_inline))

/* One interleaved column: 4 vectors in lane order. */
typedef cq__qdw_ent ent;

/* Column group j (pixels P j - pad .. P j - pad + P - 1) of the 4 rows r0..r3
 * (at the chunk's first channel, cn channels; C bytes a pixel), padding
 * filled with fill (x's dtype), flipped to u8 for s8 input. */
AI ent build(const uint8_t *r0, const uint8_t *r1, const uint8_t *r2, const uint8_t *r3,
             int64_t j, int64_t C, int64_t W, int64_t pad, int64_t cn, __m512i fill,
             __m512i flip, const int P, const int FLIP)
{
    int64_t first = P * j - pad, off = first * C;
    __m512i a0, a1, a2, a3;
    if (first >= 0 && first + P <= W && (P > 1 || cn == 64)) {
        a0 = _mm512_loadu_si512(r0 + off);
        a1 = _mm512_loadu_si512(r1 + off);
        a2 = _mm512_loadu_si512(r2 + off);
        a3 = _mm512_loadu_si512(r3 + off);
    } else {
        int64_t lo = first < 0 ? -first : 0, hi = W - first < P ? W - first : P;
        __mmask64 cm = 0;
        if (hi > lo) {
            int64_t bl = lo * C, bh = P > 1 ? hi * C : cn;
            cm = (bh >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << bh) - 1)) &
                 ~(((__mmask64)1 << bl) - 1);
        }
        a0 = _mm512_mask_loadu_epi8(fill, cm, r0 + off);
        a1 = _mm512_mask_loadu_epi8(fill, cm, r1 + off);
        a2 = _mm512_mask_loadu_epi8(fill, cm, r2 + off);
        a3 = _mm512_mask_loadu_epi8(fill, cm, r3 + off);
    }
    return cq__qdw_interleave(a0, a1, a2, a3, flip, FLIP);
}

/* cq__qdw_codes64 (kern_qconv_x86.h), the same bits, with the multipliers in
 * registers: loaded once per pass, not 8 vmulps memory operands per group
 * next to the 24 weights' (32@112 0.040 -> 0.037 ms, bench/NOTES.md). */
AI __m512i codes64r(const cq__qdw_epi *E, const int s8, const int no_min, const int plain,
                    __m512i a0, __m512i a1, __m512i a2, __m512i a3, __m512 m0, __m512 m1,
                    __m512 m2, __m512 m3)
{
    __m512 f0 = _mm512_mul_ps(_mm512_cvtepi32_ps(a0), m0);
    __m512 f1 = _mm512_mul_ps(_mm512_cvtepi32_ps(a1), m1);
    __m512 f2 = _mm512_mul_ps(_mm512_cvtepi32_ps(a2), m2);
    __m512 f3 = _mm512_mul_ps(_mm512_cvtepi32_ps(a3), m3);
    if (!no_min) {
        f0 = _mm512_min_ps(f0, E->cap);
        f1 = _mm512_min_ps(f1, E->cap);
        f2 = _mm512_min_ps(f2, E->cap);
        f3 = _mm512_min_ps(f3, E->cap);
    }
    __m512i w01 = _mm512_packs_epi32(_mm512_cvtps_epi32(f0), _mm512_cvtps_epi32(f1));
    __m512i w23 = _mm512_packs_epi32(_mm512_cvtps_epi32(f2), _mm512_cvtps_epi32(f3));
    if (plain)
        return s8 ? _mm512_packs_epi16(w01, w23) : _mm512_packus_epi16(w01, w23);
    w01 = _mm512_adds_epi16(w01, E->zp16);
    w23 = _mm512_adds_epi16(w23, E->zp16);
    if (s8)
        return _mm512_min_epi8(_mm512_max_epi8(_mm512_packs_epi16(w01, w23), E->lo8), E->hi8);
    return _mm512_min_epu8(_mm512_max_epu8(_mm512_packus_epi16(w01, w23), E->lo8), E->hi8);
}

/* A weight vector: with 2 or 4 pixels a vector the 64 bytes repeat 32 or 16
 * (channel ch % c, kern_qconv_avx512.c's packing), loaded as a broadcast of
 * those: half or a quarter of the bytes (alone, 16 zmm loads next to 16
 * vector ops cost 12.5 cycles, 16 256-bit broadcasts 10.4; in this loop no
 * difference was measured, bench/NOTES.md). */
#define WLD(p)                                                                                \
    (P == 1   ? _mm512_load_si512(p)                                                          \
     : P == 2 ? _mm512_broadcast_i64x4(_mm256_load_si256((const __m256i *)(const void *)(p))) \
              : _mm512_broadcast_i32x4(_mm_load_si128((const __m128i *)(const void *)(p))))
#define DOT2(e, kx)                                                                           \
    a0 = _mm512_dpbusd_epi32(a0, (e).v0, WLD(wa + (kx) * 256));                               \
    b0 = _mm512_dpbusd_epi32(b0, (e).v0, WLD(wb + (kx) * 256));                               \
    a1 = _mm512_dpbusd_epi32(a1, (e).v1, WLD(wa + (kx) * 256 + 64));                          \
    b1 = _mm512_dpbusd_epi32(b1, (e).v1, WLD(wb + (kx) * 256 + 64));                          \
    a2 = _mm512_dpbusd_epi32(a2, (e).v2, WLD(wa + (kx) * 256 + 128));                         \
    b2 = _mm512_dpbusd_epi32(b2, (e).v2, WLD(wb + (kx) * 256 + 128));                         \
    a3 = _mm512_dpbusd_epi32(a3, (e).v3, WLD(wa + (kx) * 256 + 192));                         \
    b3 = _mm512_dpbusd_epi32(b3, (e).v3, WLD(wb + (kx) * 256 + 192));

/* One chunk of a pass: rows[4] the input rows at the chunk's first channel
 * (C bytes a pixel); wa, wb the two weight blocks, cp, mp the compensation
 * and multipliers (lane order); ya, yb (ra, rb) the two output (residual) rows
 * at the chunk's first channel; m the chunk's channels (P 1). SC: the tail
 * (P 4 on its rows copied compactly, C 16, FLIP 0: already u8): a vector's 4
 * pixels go to y c_out bytes apart, channels tm. */
AI void pass_t(const cq_qconv2d_plan *pl, const cq__qdw_epi *E, const uint8_t *const *rows,
               const int8_t *wa, const int8_t *wb, const int32_t *cp, const float *mp,
               __mmask64 m, __mmask16 tm, const uint8_t *ra, const uint8_t *rb, uint8_t *ya,
               uint8_t *yb, const int S8, const int NOMIN, const int PLAIN, const int RES,
               const int P, const int FLIP, const int SC)
{
    const cq_conv2d_params *c = &pl->p.c;
    int64_t C = SC ? 16 : c->c_in, W = c->w, pad = c->pad_left, ow = pl->ow, cn = E->cn;
    int64_t OC = c->c_out, G = (ow + P - 1) / P, os = P * (SC ? OC : C);
    const uint8_t *r0 = rows[0], *r1 = rows[1], *r2 = rows[2], *r3 = rows[3];
    /* padding: x's zero point, which the flip makes u8 (SC's rows are u8) */
    uint8_t zpp = (uint8_t)pl->p.x_zp ^ (pl->p.x_dt == CQ_S8 && !FLIP ? 0x80 : 0);
    __m512i fill = _mm512_set1_epi8((char)zpp);
    __m512i flip = _mm512_set1_epi8((char)0x80);
    __m512i c0 = _mm512_loadu_si512(cp), c1 = _mm512_loadu_si512(cp + 16),
            c2 = _mm512_loadu_si512(cp + 32), c3 = _mm512_loadu_si512(cp + 48);
    __m512 m0 = _mm512_loadu_ps(mp), m1 = _mm512_loadu_ps(mp + 16), m2 = _mm512_loadu_ps(mp + 32),
           m3 = _mm512_loadu_ps(mp + 48);
#define BUILD(j) build(r0, r1, r2, r3, (j), C, W, pad, cn, fill, flip, P, FLIP)
    ent e0 = BUILD(0), e1 = BUILD(1), e2 = e1;
    if (P == 1)
        e2 = BUILD(2);
    __mmask64 mm = m;
    for (int64_t g = 0, o = 0; g < G; g++, o += os) {
        __m512i a0 = c0, a1 = c1, a2 = c2, a3 = c3, b0 = c0, b1 = c1, b2 = c2, b3 = c3;
        if (P == 1) {
            DOT2(e0, 0)
            DOT2(e1, 1)
            DOT2(e2, 2)
        } else if (P == 2) {
            ent s1 = cq__qdw_lanes(&e0, &e1, 8);
            DOT2(e0, 0)
            DOT2(s1, 1)
            DOT2(e1, 2)
        } else {
            ent s1 = cq__qdw_lanes(&e0, &e1, 4), s2 = cq__qdw_lanes(&e0, &e1, 8);
            DOT2(e0, 0)
            DOT2(s1, 1)
            DOT2(s2, 2)
        }
        if (SC) {
            int64_t npx = ow - g * P < P ? ow - g * P : P;
            if (RES) {
                cq__qdw_epi64_res_px(&pl->p, E, npx, OC, tm, a0, a1, a2, a3, ra + o, ya + o);
                cq__qdw_epi64_res_px(&pl->p, E, npx, OC, tm, b0, b1, b2, b3, rb + o, yb + o);
            } else {
                __m512i qa = codes64r(E, S8, NOMIN, PLAIN, a0, a1, a2, a3, m0, m1, m2, m3);
                __m512i qb = codes64r(E, S8, NOMIN, PLAIN, b0, b1, b2, b3, m0, m1, m2, m3);
                _mm_mask_storeu_epi8(ya + o, tm, _mm512_castsi512_si128(qa));
                _mm_mask_storeu_epi8(yb + o, tm, _mm512_castsi512_si128(qb));
                if (npx > 1) {
                    _mm_mask_storeu_epi8(ya + o + OC, tm, _mm512_extracti32x4_epi32(qa, 1));
                    _mm_mask_storeu_epi8(yb + o + OC, tm, _mm512_extracti32x4_epi32(qb, 1));
                }
                if (npx > 2) {
                    _mm_mask_storeu_epi8(ya + o + 2 * OC, tm, _mm512_extracti32x4_epi32(qa, 2));
                    _mm_mask_storeu_epi8(yb + o + 2 * OC, tm, _mm512_extracti32x4_epi32(qb, 2));
                }
                if (npx > 3) {
                    _mm_mask_storeu_epi8(ya + o + 3 * OC, tm, _mm512_extracti32x4_epi32(qa, 3));
                    _mm_mask_storeu_epi8(yb + o + 3 * OC, tm, _mm512_extracti32x4_epi32(qb, 3));
                }
            }
        } else {
        if (P > 1) {
            cn = (ow - g * P < P ? ow - g * P : P) * C;
            mm = cn >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << cn) - 1);
        }
        if (RES) {
            cq__qdw_epi64_res(&pl->p, E, cn, a0, a1, a2, a3, ra + o, ya + o);
            cq__qdw_epi64_res(&pl->p, E, cn, b0, b1, b2, b3, rb + o, yb + o);
        } else {
            __m512i qa = codes64r(E, S8, NOMIN, PLAIN, a0, a1, a2, a3, m0, m1, m2, m3);
            __m512i qb = codes64r(E, S8, NOMIN, PLAIN, b0, b1, b2, b3, m0, m1, m2, m3);
            _mm512_mask_storeu_epi8(ya + o, mm, qa);
            _mm512_mask_storeu_epi8(yb + o, mm, qb);
        }
        }
        e0 = e1;
        if (P == 1) {
            e1 = e2;
            e2 = BUILD(g + 3);
        } else {
            e1 = BUILD(g + 2);
        }
    }
#undef BUILD
}

/* The epilogue's choices as constants (kern_qconv_x86.h): s8 out, no clamp
 * before vcvtps2dq, plain; a residual ignores them. */
#define PASS_FN(name, P, FLIP, SC)                                                            \
    static void name(const cq_qconv2d_plan *pl, const cq__qdw_epi *E,                         \
                     const uint8_t *const *rows, const int8_t *wa, const int8_t *wb,          \
                     const int32_t *cp, const float *mp, __mmask64 m, __mmask16 tm,           \
                     const uint8_t *ra, const uint8_t *rb, uint8_t *ya, uint8_t *yb,          \
                     int plain)                                                               \
    {                                                                                         \
        if (E->res) {                                                                         \
            PASS(0, 0, 0, 1, P, FLIP, SC);                                                    \
            return;                                                                           \
        }                                                                                     \
        switch ((E->s8 ? 4 : 0) + (E->no_min ? 2 : 0) + (plain ? 1 : 0)) {                    \
        case 0: PASS(0, 0, 0, 0, P, FLIP, SC); break;                                         \
        case 1: PASS(0, 0, 1, 0, P, FLIP, SC); break;                                         \
        case 2: PASS(0, 1, 0, 0, P, FLIP, SC); break;                                         \
        case 3: PASS(0, 1, 1, 0, P, FLIP, SC); break;                                         \
        case 4: PASS(1, 0, 0, 0, P, FLIP, SC); break;                                         \
        case 5: PASS(1, 0, 1, 0, P, FLIP, SC); break;                                         \
        case 6: PASS(1, 1, 0, 0, P, FLIP, SC); break;                                         \
        default: PASS(1, 1, 1, 0, P, FLIP, SC); break;                                        \
        }                                                                                     \
    }
#define PASS(s8, nm, pn, res, p, f, sc)                                                       \
    pass_t(pl, E, rows, wa, wb, cp, mp, m, tm, ra, rb, ya, yb, s8, nm, pn, res, p, f, sc)

PASS_FN(pass_p1, 1, 0, 0)
PASS_FN(pass_p2, 2, 0, 0)
PASS_FN(pass_p4, 4, 0, 0)
PASS_FN(pass_p1f, 1, 1, 0)
PASS_FN(pass_p2f, 2, 1, 0)
PASS_FN(pass_p4f, 4, 1, 0)
PASS_FN(pass_tail, 4, 0, 1)

/* The tail's input row iy of image img (16 bytes a pixel, channels tm, u8)
 * in one of 4 slots of tq (row iy's slot iy % 4; tag: the row it holds);
 * rows outside the input are the row of zero points z. */
static const uint8_t *tail_row(const cq_qconv2d_plan *pl, const uint8_t *x, int64_t img,
                               int64_t iy, int64_t c0, __mmask16 tm, uint8_t *tq, int64_t rs,
                               int64_t to, int64_t *tag, const uint8_t *z)
{
    const cq_conv2d_params *c = &pl->p.c;
    if (iy < 0 || iy >= c->h)
        return z;
    int64_t s = iy & 3, id = img * c->h + iy, C = c->c_in;
    uint8_t *d = tq + s * rs + to;
    if (tag[s] == id)
        return d;
    tag[s] = id;
    const uint8_t *src = x + id * c->w * C + c0;
    __m128i f = _mm_set1_epi8(pl->p.x_dt == CQ_S8 ? (char)0x80 : 0);
    for (int64_t i = 0; i < c->w; i++)
        _mm_store_si128((__m128i *)(d + 16 * i),
                        _mm_xor_si128(_mm_maskz_loadu_epi8(tm, src + i * C), f));
    return d;
}

void cq__qconv_dw3_avx512_rows(const cq_qconv2d_plan *pl, const cq__qdw_epi *E0, const void *x,
                               const void *res, void *y, int64_t r0, int64_t r1, int64_t nb,
                               const uint8_t *zl, uint8_t *sink, uint8_t *tq)
{
    const cq_qconv2d_params *p = &pl->p;
    const cq_conv2d_params *c = &p->c;
    int64_t C = c->c_out, H = c->h, W = c->w, oh = pl->oh, ow = pl->ow, P = pl->pix;
    int64_t half = pl->nch * 3 * 256, row = ow * C;
    int flip = p->x_dt == CQ_S8, lo = p->y_dt == CQ_S8 ? -128 : 0;
    int plain = p->y_zp == 0 && p->y_min == lo && p->y_max == lo + 255;
    cq__qdw_epi E = *E0;
    int two = 0;
    /* the tail: 4 row slots of rs bytes, then a row of zero points (u8);
     * each row to bytes into its slot, so that the 4-pixel loads at pixel
     * 4 g - pad_left are 64-byte aligned, not split over two lines */
    int64_t to = 16 * c->pad_left % 64, rs = (to + c->w * 16 + 63) / 64 * 64;
    int64_t tag[4] = {-1, -1, -1, -1}, tc0 = nb * 64;
    __mmask16 tm = (__mmask16)((1u << pl->tail) - 1);
    if (pl->tail)
        memset(tq + 4 * rs, (uint8_t)p->x_zp ^ (flip ? 0x80 : 0), (size_t)rs);
    /* the halves' kept rows: tq holds rows h2 and h3's interleaves */
    const uint8_t *h2 = NULL, *h3 = NULL;
    int hpar = 0;
    /* pix 1: after the tail's rows, ow * 128 bytes of word rows, then each
     * whole chunk's two kept-row buffers */
    uint8_t *hq = tq + (pl->tail ? 5 * ((c->w * 16 + 48 + 63) / 64 * 64) : 0) + ow * 128;
    for (int64_t r = r0; r < r1; r += two ? 2 : 1) {
        int64_t img = r / oh, oy = r % oh;
        two = r + 1 < r1 && oy + 1 < oh;
        const uint8_t *rw[4];
        for (int k = 0; k < 4; k++) {
            int64_t iy = oy - c->pad_top + k;
            rw[k] = iy >= 0 && iy < H ? (const uint8_t *)x + (img * H + iy) * W * C : zl;
        }
        uint8_t *ya = (uint8_t *)y + (img * oh + oy) * row, *yb = two ? ya + row : sink;
        const uint8_t *ra = res ? (const uint8_t *)res + (img * oh + oy) * row : NULL;
        const uint8_t *rb = res && two ? ra + row : ra;
        if (pl->nph && !res) { /* flat rows: kern_qconv_dwf_avx512.c */
            cq__qconv_dwf_avx512_pass(pl, rw, ya, yb, plain);
            continue;
        }
        /* the halves (32 channels, one chunk), where they save split loads:
         * the input rows 32-byte aligned, the pairs' loads not 64-byte
         * aligned (32@112 0.0347 -> 0.0325 ms); rows the pairs load aligned
         * keep them (0.0343 against 0.0353 ms with the halves) */
        uintptr_t a1 = (uintptr_t)rw[1];
        if (P == 2 && !res && a1 % 32 == 0 && (a1 - 32 * (uintptr_t)c->pad_left) % 64 != 0) {
            int reuse = h2 == rw[0] && h3 == rw[1];
            hpar = reuse ? !hpar : 0;
            cq__qconv_dw3h_avx512_pass(pl, &E, rw, ya, yb, tq, hpar, reuse, plain);
            h2 = rw[2];
            h3 = rw[3];
            continue;
        }
        /* whole 64-channel chunks of one pixel a vector without a residual:
         * kern_qconv_dw3h_avx512.c's two sweeps, rows kept from pass to pass */
        int sw = P == 1 && !res, reuse1 = sw && h2 == rw[0] && h3 == rw[1];
        if (sw) {
            hpar = reuse1 ? !hpar : 0;
            h2 = rw[2];
            h3 = rw[3];
        } else {
            h2 = h3 = NULL;
        }
        for (int64_t b = 0; b < nb; b++) {
            int64_t c0 = b * 64, cn = P > 1 || C - c0 >= 64 ? 64 : C - c0;
            if (sw && cn == 64) {
                const uint8_t *rows[4] = {rw[0] + c0, rw[1] + c0, rw[2] + c0, rw[3] + c0};
                cq__qconv_dw3h_avx512_chunk(pl, &E, rows, b, ya + c0, yb + c0, hq, hpar, reuse1,
                                            plain);
                continue;
            }
            __mmask64 m = cn == 64 ? ~(__mmask64)0 : (((__mmask64)1 << cn) - 1);
            const uint8_t *rows[4] = {rw[0] + c0, rw[1] + c0, rw[2] + c0, rw[3] + c0};
            const int8_t *wa = pl->wd + b * 768, *wb = wa + half;
            const int32_t *cp = pl->comp + c0;
            const float *mp = pl->multp + c0;
            E.mult = pl->mult + c0;
            E.cn = cn;
            const uint8_t *rac = ra ? ra + c0 : NULL, *rbc = rb ? rb + c0 : NULL;
            void (*fn)(const cq_qconv2d_plan *, const cq__qdw_epi *, const uint8_t *const *,
                       const int8_t *, const int8_t *, const int32_t *, const float *, __mmask64,
                       __mmask16, const uint8_t *, const uint8_t *, uint8_t *, uint8_t *, int);
            if (P == 1)
                fn = flip ? pass_p1f : pass_p1;
            else if (P == 2)
                fn = flip ? pass_p2f : pass_p2;
            else
                fn = flip ? pass_p4f : pass_p4;
            fn(pl, &E, rows, wa, wb, cp, mp, m, 0, rac, rbc, ya + c0, yb + c0, plain);
        }
        if (pl->tail) {
            const uint8_t *rows[4];
            for (int k = 0; k < 4; k++)
                rows[k] = tail_row(pl, x, img, oy - c->pad_top + k, tc0, tm, tq, rs, to, tag,
                                   tq + 4 * rs + to);
            E.mult = pl->mult + tc0;
            E.cn = 64;
            pass_tail(pl, &E, rows, pl->wq, pl->wq + 768, pl->compq, pl->multq, ~(__mmask64)0,
                      tm, ra ? ra + tc0 : NULL, rb ? rb + tc0 : NULL, ya + tc0, yb + tc0,
                      plain);
        }
    }
}
