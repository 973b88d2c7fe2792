/* kern_qconv_dwf_avx512.c - the int8 depthwise 3x3, stride 1, dilation 1, pad
 * 1 left and right, on AVX-512 VNNI, for channel counts that are a multiple
 * of 16 but not of 64, 48 to 176 (MobileNetV2's 96 and 144), or of 4 but not
 * of 16, 12 to 108 (BlazeFace's 24, MobileNetV3's 72): each row as one flat
 * stream of bytes (the "flat" pass of path "dw"). The ranges are where this
 * beat the chunk passes (bench/NOTES.md, session 19).
 *
 * In NHWC a row of w pixels of C channels is R = w C contiguous bytes, and
 * output byte o of a row takes its column taps from input bytes o - C, o and
 * o + C of the same rows. So a row runs as R / 64 chunks of 64 bytes at
 * 64-byte steps of the row, whatever pixel and channel a byte is: every
 * lane used, every load and store a whole chunk (at one 64-byte line where
 * the row is aligned). The chunk-per-pixel passes (kern_qconv_dw3_avx512.c)
 * would run 144 channels as two 64-channel chunks whose stores straddle two
 * lines at 3 pixels of 4 (144-byte pixels) and a 16-channel tail of 4-pixel
 * vectors on rows copied compactly; 96 as a chunk and a half-empty one.
 *
 * A chunk's bytes are interleaved over 4 input rows as in
 * kern_qconv_dw3_avx512.c (dword 4 L + i of vector j: byte 16 L + 4 j + i's
 * 4 rows), once per chunk, into a ring of 8 entries. The centre tap is the
 * chunk's own entry; the side taps start C = 64 q + 16 r bytes before and
 * after it, 16 r bytes into an entry, which is r 128-bit lanes: valignd of
 * two neighbouring entries by 4 r dwords (or 4 (4 - r)). With C = 64 q + 16 r
 * + 4 b (b 1 to 3) a tap also moves b vectors along: one vpermt2d a vector
 * (fshift). The lane of row byte o is channel o % C: the weights,
 * compensation and multipliers repeat every C / gcd(C, 64) chunks (the
 * phases: 9 for 144, 3 for 24), packed per phase at plan time (pl->wf,
 * pl->compf, pl->multf). Padding is the zero point: entries
 * before the row's start and past its end are the zero-point byte, and so
 * is each side tap that reaches out of the row (pixel 0's left, pixel w -
 * 1's right); rows outside the input are the zero-point row zl.
 *
 * Specialised on q (0 to 2: the ring's slots are constants in a body
 * unrolled 8 chunks), r (the valignd count) or b (the vectors' order; the
 * lanes are index vectors), s8 input (flipped to u8 as it is loaded) and the
 * epilogue (b > 0: the general one only): u8 out with the plain range, or
 * any other (codes in u8 with the zero point and the range moved up 128 for
 * s8 out, then flipped back: the same bytes as cq__qdw_codes64's). Plans with the
 * clamp before vcvtps2dq (no_min 0) or a residual run the chunk passes. */
#include "kern/kern_qconv_internal.h"
#include "kern/x86/kern_qconv_x86.h"

#include <immintrin.h>
#include <stdint.h>

#define AI static inline __attribute__((always_inline))

typedef cq__qdw_ent fent;

/* Chunk L (bytes 64 L .. 64 L + 63 of rows of R bytes) of the 4 rows,
 * interleaved; bytes outside the row are fill (x's dtype), all flipped to u8
 * for s8 input. */
AI void fbuild(fent *d, const uint8_t *r0, const uint8_t *r1, const uint8_t *r2,
               const uint8_t *r3, int64_t L, int64_t R, __m512i fill, __m512i flip,
               const int FLIP)
{
    int64_t off = 64 * L;
    __m512i a0, a1, a2, a3;
    if (off >= 0 && off + 64 <= R) {
        a0 = _mm512_loadu_si512(r0 + off);
        a1 = _mm512_loadu_si512(r1 + off);
        a2 = _mm512_loadu_si512(r2 + off);
        a3 = _mm512_loadu_si512(r3 + off);
    } else {
        __mmask64 m = 0;
        if (off > -64 && off < R) {
            int64_t lo = off < 0 ? -off : 0, hi = R - off < 64 ? R - off : 64;
            m = (hi >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << hi) - 1)) &
                ~(((__mmask64)1 << lo) - 1);
        }
        /* (masked-off bytes are not read: off may be before the row) */
        a0 = _mm512_mask_loadu_epi8(fill, m, r0 + off);
        a1 = _mm512_mask_loadu_epi8(fill, m, r1 + off);
        a2 = _mm512_mask_loadu_epi8(fill, m, r2 + off);
        a3 = _mm512_mask_loadu_epi8(fill, m, r3 + off);
    }
    *d = cq__qdw_interleave(a0, a1, a2, a3, flip, FLIP);
}

/* 64 codes from the sums a0..a3 (lane order), multipliers mp. GEN 0: u8,
 * zero point 0, the whole range (the packs saturate); GEN 1: + zp, clamped
 * to [lo, hi] in u8, then xo (0x80 for s8 out: zp, lo, hi moved up 128). */
AI __m512i fcodes(__m512i a0, __m512i a1, __m512i a2, __m512i a3, const float *mp, __m512i zp,
                  __m512i lo, __m512i hi, __m512i xo, const int GEN)
{
    __m512 f0 = _mm512_mul_ps(_mm512_cvtepi32_ps(a0), _mm512_loadu_ps(mp));
    __m512 f1 = _mm512_mul_ps(_mm512_cvtepi32_ps(a1), _mm512_loadu_ps(mp + 16));
    __m512 f2 = _mm512_mul_ps(_mm512_cvtepi32_ps(a2), _mm512_loadu_ps(mp + 32));
    __m512 f3 = _mm512_mul_ps(_mm512_cvtepi32_ps(a3), _mm512_loadu_ps(mp + 48));
    __m512i w01 = _mm512_packs_epi32(_mm512_cvtps_epi32(f0), _mm512_cvtps_epi32(f1));
    __m512i w23 = _mm512_packs_epi32(_mm512_cvtps_epi32(f2), _mm512_cvtps_epi32(f3));
    if (!GEN)
        return _mm512_packus_epi16(w01, w23);
    w01 = _mm512_adds_epi16(w01, zp);
    w23 = _mm512_adds_epi16(w23, zp);
    __m512i u = _mm512_min_epu8(_mm512_max_epu8(_mm512_packus_epi16(w01, w23), lo), hi);
    return _mm512_xor_si512(u, xo);
}

/* Vector k of e. */
AI __m512i fvec(const fent *e, const int k)
{
    return k == 0 ? e->v0 : k == 1 ? e->v1 : k == 2 ? e->v2 : e->v3;
}

/* The bytes 16 a + 4 B further along the rows of the entries lo, hi end to
 * end (B 1 to 3: channel counts a multiple of 4, not of 16): byte 16 L + 4 j
 * + i of the result is byte 16 (L + a) + 4 (j + B) + i, which is vector j +
 * B of lane L + a, or past vector 3, vector j + B - 4 of lane L + a + 1: one
 * vpermt2d of that vector in lo and hi, the lanes by index vectors ia (lane
 * + a) and ib (lane + a + 1). */
AI fent fshift(const fent *lo, const fent *hi, const int B, __m512i ia, __m512i ib)
{
    fent e;
    e.v0 = _mm512_permutex2var_epi32(fvec(lo, B & 3), B < 4 ? ia : ib, fvec(hi, B & 3));
    e.v1 = _mm512_permutex2var_epi32(fvec(lo, (1 + B) & 3), 1 + B < 4 ? ia : ib,
                                     fvec(hi, (1 + B) & 3));
    e.v2 = _mm512_permutex2var_epi32(fvec(lo, (2 + B) & 3), 2 + B < 4 ? ia : ib,
                                     fvec(hi, (2 + B) & 3));
    e.v3 = _mm512_permutex2var_epi32(fvec(lo, (3 + B) & 3), 3 + B < 4 ? ia : ib,
                                     fvec(hi, (3 + B) & 3));
    return e;
}

#define FDOT(blk, tap, e, A0, A1, A2, A3)                                                     \
    {                                                                                         \
        const int8_t *wk = wp + ((blk) * 3 + (tap)) * 256;                                    \
        A0 = _mm512_dpbusd_epi32(A0, (e).v0, _mm512_load_si512(wk));                          \
        A1 = _mm512_dpbusd_epi32(A1, (e).v1, _mm512_load_si512(wk + 64));                     \
        A2 = _mm512_dpbusd_epi32(A2, (e).v2, _mm512_load_si512(wk + 128));                    \
        A3 = _mm512_dpbusd_epi32(A3, (e).v3, _mm512_load_si512(wk + 192));                    \
    }

/* One pass: output rows ya (input rows 0..2 of rw) and yb (1..3). */
AI void fpass(const cq_qconv2d_plan *pl, const uint8_t *const *rw, uint8_t *ya, uint8_t *yb,
              const int Q, const int RR, const int B, const int FLIP, const int GEN)
{
    const cq_qconv2d_params *p = &pl->p;
    int64_t R = p->c.w * p->c.c_in, NP = pl->nph, full = R / 64, nch = (R + 63) / 64;
    const uint8_t *r0 = rw[0], *r1 = rw[1], *r2 = rw[2], *r3 = rw[3];
    __m512i fill = _mm512_set1_epi8((char)p->x_zp), flip = _mm512_set1_epi8((char)0x80);
    int up = p->y_dt == CQ_S8 ? 128 : 0;
    __m512i zp = _mm512_set1_epi16((short)(p->y_zp + up));
    __m512i lo = _mm512_set1_epi8((char)(p->y_min + up));
    __m512i hi = _mm512_set1_epi8((char)(p->y_max + up));
    __m512i xo = _mm512_set1_epi8((char)up);
    /* B > 0: the side taps' lanes (C % 64 = 16 RR + 4 B: the right tap 16 RR
     * + 4 B bytes into its entry, the left 16 (3 - RR) + 4 (4 - B)) */
    int64_t ar = p->c.c_in % 64 / 16, al = 3 - ar;
    __m512i io = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m512i la = _mm512_add_epi32(io, _mm512_set1_epi32((int)(4 * al)));
    __m512i lb = _mm512_add_epi32(io, _mm512_set1_epi32((int)(4 * al + 4)));
    __m512i ra = _mm512_add_epi32(io, _mm512_set1_epi32((int)(4 * ar)));
    __m512i rb = _mm512_add_epi32(io, _mm512_set1_epi32((int)(4 * ar + 4)));
    fent ring[8];
    for (int64_t L = -Q - 1; L <= Q; L++)
        fbuild(&ring[L & 7], r0, r1, r2, r3, L, R, fill, flip, FLIP);
    int64_t ph = 0, bs = 0, L = 0;
    /* chunk L in slot (bs + k) & 7; it builds the entry its right tap
     * reaches last, L + q + 1 */
#define FBODY(L, k)                                                                           \
    {                                                                                         \
        fbuild(&ring[(bs + (k) + Q + 1) & 7], r0, r1, r2, r3, (L) + Q + 1, R, fill, flip,     \
               FLIP);                                                                         \
        const int8_t *wp = pl->wf + ph * 1536;                                                \
        const int32_t *cp = pl->compf + ph * 64;                                              \
        const float *mp = pl->multf + ph * 64;                                                \
        __m512i a0 = _mm512_load_si512(cp), a1 = _mm512_load_si512(cp + 16),                  \
                a2 = _mm512_load_si512(cp + 32), a3 = _mm512_load_si512(cp + 48);             \
        __m512i b0 = a0, b1 = a1, b2 = a2, b3 = a3;                                           \
        fent ec = ring[(bs + (k)) & 7];                                                       \
        FDOT(0, 1, ec, a0, a1, a2, a3)                                                        \
        FDOT(1, 1, ec, b0, b1, b2, b3)                                                        \
        fent el = B ? fshift(&ring[(bs + (k) - Q - 1) & 7], &ring[(bs + (k) - Q) & 7],       \
                             (4 - B) & 3, la, lb)                                             \
                    : cq__qdw_lanes(&ring[(bs + (k) - Q - 1) & 7], &ring[(bs + (k) - Q) & 7], \
                                    4 * (4 - RR));                                            \
        FDOT(0, 0, el, a0, a1, a2, a3)                                                        \
        FDOT(1, 0, el, b0, b1, b2, b3)                                                        \
        fent er = B ? fshift(&ring[(bs + (k) + Q) & 7], &ring[(bs + (k) + Q + 1) & 7], B, ra,  \
                             rb)                                                              \
                    : cq__qdw_lanes(&ring[(bs + (k) + Q) & 7], &ring[(bs + (k) + Q + 1) & 7], \
                                    4 * RR);                                                  \
        FDOT(0, 2, er, a0, a1, a2, a3)                                                        \
        FDOT(1, 2, er, b0, b1, b2, b3)                                                        \
        __m512i qa = fcodes(a0, a1, a2, a3, mp, zp, lo, hi, xo, GEN);                         \
        __m512i qb = fcodes(b0, b1, b2, b3, mp, zp, lo, hi, xo, GEN);                         \
        if ((L) < full) {                                                                     \
            _mm512_storeu_si512(ya + 64 * (L), qa);                                           \
            _mm512_storeu_si512(yb + 64 * (L), qb);                                           \
        } else {                                                                              \
            __mmask64 sm = ((__mmask64)1 << (R - 64 * (L))) - 1;                              \
            _mm512_mask_storeu_epi8(ya + 64 * (L), sm, qa);                                   \
            _mm512_mask_storeu_epi8(yb + 64 * (L), sm, qb);                                   \
        }                                                                                     \
        if (++ph == NP)                                                                       \
            ph = 0;                                                                           \
    }
    /* bs stays 0 here: L is a multiple of 8 */
    for (; L + 8 <= full; L += 8) {
#pragma GCC unroll 8
        for (int k = 0; k < 8; k++)
            FBODY(L + k, k)
    }
    for (bs = L; L < nch; L++)
        FBODY(L, L - bs)
#undef FBODY
}

#define FPASS_FN(q, rr, f, g)                                                                 \
    static void fpass_##q##rr##f##g(const cq_qconv2d_plan *pl, const uint8_t *const *rw,      \
                                    uint8_t *ya, uint8_t *yb)                                 \
    {                                                                                         \
        fpass(pl, rw, ya, yb, q, rr, 0, f, g);                                                \
    }
/* channels a multiple of 4, not of 16 (q 0 or 1): the general epilogue only */
#define FPASS_B(q, b, f)                                                                      \
    static void fpass_b##q##b##f(const cq_qconv2d_plan *pl, const uint8_t *const *rw,         \
                                 uint8_t *ya, uint8_t *yb)                                    \
    {                                                                                         \
        fpass(pl, rw, ya, yb, q, 0, b, f, 1);                                                 \
    }
#define FPASS_QR(q, rr)                                                                       \
    FPASS_FN(q, rr, 0, 0) FPASS_FN(q, rr, 0, 1) FPASS_FN(q, rr, 1, 0) FPASS_FN(q, rr, 1, 1)
FPASS_QR(0, 3)
FPASS_QR(1, 1)
FPASS_QR(1, 2)
FPASS_QR(1, 3)
FPASS_QR(2, 1)
FPASS_QR(2, 2)
FPASS_QR(2, 3)
FPASS_B(0, 1, 0) FPASS_B(0, 2, 0) FPASS_B(0, 3, 0) FPASS_B(1, 1, 0) FPASS_B(1, 2, 0)
FPASS_B(1, 3, 0) FPASS_B(0, 1, 1) FPASS_B(0, 2, 1) FPASS_B(0, 3, 1) FPASS_B(1, 1, 1)
FPASS_B(1, 2, 1) FPASS_B(1, 3, 1)

typedef void (*fpass_fn)(const cq_qconv2d_plan *, const uint8_t *const *, uint8_t *, uint8_t *);
#define FPASS_ROW(q, rr)                                                                      \
    { fpass_##q##rr##00, fpass_##q##rr##01, fpass_##q##rr##10, fpass_##q##rr##11 }

void cq__qconv_dwf_avx512_pass(const cq_qconv2d_plan *pl, const uint8_t *const *rw, uint8_t *ya,
                               uint8_t *yb, int plain)
{
    static const fpass_fn fns[7][4] = {FPASS_ROW(0, 3), FPASS_ROW(1, 1), FPASS_ROW(1, 2),
                                       FPASS_ROW(1, 3), FPASS_ROW(2, 1), FPASS_ROW(2, 2),
                                       FPASS_ROW(2, 3)};
    static const fpass_fn fnb[2][3][2] = {
        {{fpass_b010, fpass_b011}, {fpass_b020, fpass_b021}, {fpass_b030, fpass_b031}},
        {{fpass_b110, fpass_b111}, {fpass_b120, fpass_b121}, {fpass_b130, fpass_b131}}};
    const cq_qconv2d_params *p = &pl->p;
    int64_t C = p->c.c_in, q = C / 64, r = C % 64 / 16, b = C % 16 / 4;
    int s8 = p->x_dt == CQ_S8;
    if (b) {
        fnb[q][b - 1][s8](pl, rw, ya, yb);
        return;
    }
    int row = q == 0 ? 0 : (int)(1 + (q - 1) * 3 + (r - 1));
    int gen = !(plain && p->y_dt == CQ_U8);
    fns[row][(s8 ? 2 : 0) + gen](pl, rw, ya, yb);
}

void cq__qconv_dwf_avx512_pack(cq_qconv2d_plan *pl, const int8_t *w)
{
    const cq_qconv2d_params *p = &pl->p;
    int64_t C = p->c.c_in, zpp = p->x_zp + (p->x_dt == CQ_S8 ? 128 : 0);
    for (int64_t ph = 0; ph < pl->nph; ph++)
        for (int64_t j = 0; j < 4; j++)
            for (int64_t l = 0; l < 16; l++) {
                int64_t ch = (64 * ph + 16 * (l / 4) + 4 * j + l % 4) % C, s = 0;
                for (int64_t t = 0; t < 9; t++)
                    s += w[ch * 9 + t];
                int64_t bias = pl->bias ? pl->bias[ch] : 0;
                pl->compf[ph * 64 + j * 16 + l] = (int32_t)(bias - zpp * s);
                pl->multf[ph * 64 + j * 16 + l] = pl->mult[ch];
                for (int64_t blk = 0; blk < 2; blk++)
                    for (int64_t tap = 0; tap < 3; tap++) {
                        int8_t *d = pl->wf + ph * 1536 + (blk * 3 + tap) * 256 + j * 64 + l * 4;
                        for (int64_t k = 0; k < 4; k++) {
                            int64_t ky = k - blk;
                            d[k] = ky >= 0 && ky < 3 ? w[(ch * 3 + ky) * 3 + tap] : 0;
                        }
                    }
            }
}
