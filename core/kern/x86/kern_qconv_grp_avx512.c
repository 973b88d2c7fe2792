/* kern_qconv_grp_avx512.c - the int8 convolution's direct AVX-512 kernel
 * over 16-output-channel vectors (path "grp", kern_qconv.h): grouped
 * convolutions that are not plain depthwise (RegNet's group width 8, a
 * depthwise with a channel multiplier) and the few-input-channel stems.
 *
 * NHWC. A band of output rows first gets its input rows copied into a
 * padded buffer: iwp columns of C4 = c_in rounded up to 4 bytes, the pads
 * and the channels past c_in filled with the zero point (x_zp, + 128 for
 * s8 input, which is flipped to u8 = x ^ 0x80 on the copy), so the plan's
 * per-channel compensation bias - zp * sum w takes the padding back as in
 * the int8 GEMM. Output vector b (channels 16 b .. 16 b + 15) needs the
 * input channels of the groups it touches: quads [q0, q0 + nq) of 4
 * channels. Its weights are packed [tap][quad][16 lanes][4]: lane l's 4
 * bytes are w[16 b + l][ci] for the quad's 4 input channels ci in its group,
 * 0 elsewhere (the block-diagonal part of a dense kernel). A pixel's sums
 * are then, per tap and quad, one vpdpbusd of the quad's 4 input bytes
 * broadcast with the weight vector; 8 output pixels share each weight load.
 * The epilogue is row16's (kern_qconv_avx512.c): the float operations of
 * cq_requantize, or of the residual (kern_qconv.h). */
#include "kern/kern_qconv_internal.h"
#include "kern/x86/kern_q8_x86.h"
#include "kern/x86/kern_qconv_x86.h"

#include <immintrin.h>
#include <string.h>

#define AI static inline __attribute__((always_inline))

/* ---- packing -------------------------------------------------------------- */

/* Lane mode (cig == cog, 4 or 8): the channel of lane (L, j) of vector b. */
static int64_t lane_ch(int64_t cig, int64_t L, int64_t j)
{
    return cig == 4 ? 4 * j + L : 8 * (j / 2) + 2 * L + j % 2;
}

static int pack_lanes(cq_qconv2d_plan *pl, const int8_t *w)
{
    const cq_qconv2d_params *p = &pl->p;
    const cq_conv2d_params *c = &p->c;
    int64_t C = c->c_out, cig = pl->cig, taps = c->kh * c->kw, nb = (C + 15) / 16;
    int64_t S = cig / 4, zpp = p->x_zp + (p->x_dt == CQ_S8 ? 128 : 0);
    size_t tot = (size_t)(nb * taps * S * 64);
    pl->glane = S;
    pl->wd = cq_alloc(tot);
    pl->multp = cq_alloc((size_t)nb * 16 * sizeof(float));
    if (!pl->wd || !pl->multp)
        return 0;
    memset(pl->wd, 0, tot);
    for (int64_t i = 0; i < 16; i++) {
        int64_t ch = lane_ch(cig, i / 4, i % 4);
        pl->gin[i] = (uint8_t)ch;
        pl->gout[ch] = (uint8_t)i;
    }
    for (int64_t b = 0; b < nb; b++) {
        pl->gq0[b] = (int32_t)(4 * b);
        pl->gnq[b] = 4;
        pl->goff[b] = b * taps * S * 64;
        for (int64_t i = 0; i < 16; i++) {
            int64_t j = i % 4, co = 16 * b + lane_ch(cig, i / 4, j), g = co / cig, s = 0;
            if (co >= C) {
                pl->comp[16 * b + i] = 0;
                pl->multp[16 * b + i] = 0.0f;
                continue;
            }
            for (int64_t t = 0; t < taps; t++)
                for (int64_t st = 0; st < S; st++)
                    for (int64_t k = 0; k < 4; k++) {
                        int64_t ci = 16 * b + 4 * (j ^ st) + k; /* input channel */
                        int8_t v = w[(co * cig + ci - g * cig) * taps + t];
                        pl->wd[pl->goff[b] + ((t * S + st) * 16 + i) * 4 + k] = v;
                        s += v;
                    }
            pl->comp[16 * b + i] = (int32_t)((pl->bias ? pl->bias[co] : 0) - zpp * s);
            pl->multp[16 * b + i] = pl->mult[co];
        }
    }
    return 1;
}

int cq__qconv_grp_avx512_pack(cq_qconv2d_plan *pl, const int8_t *w)
{
    const cq_qconv2d_params *p = &pl->p;
    const cq_conv2d_params *c = &p->c;
    int64_t C = c->c_out, cig = pl->cig, cog = C / c->groups, taps = c->kh * c->kw;
    int64_t nb = (C + 15) / 16, zpp = p->x_zp + (p->x_dt == CQ_S8 ? 128 : 0);
    pl->c4 = (c->c_in + 3) / 4 * 4;
    pl->gq0 = cq_alloc((size_t)nb * sizeof(int32_t));
    pl->gnq = cq_alloc((size_t)nb * sizeof(int32_t));
    pl->goff = cq_alloc((size_t)(nb + 1) * sizeof(int64_t));
    pl->comp = cq_alloc((size_t)nb * 16 * sizeof(int32_t));
    pl->toff = cq_alloc((size_t)taps * sizeof(int64_t));
    if (!pl->gq0 || !pl->gnq || !pl->goff || !pl->comp || !pl->toff)
        return 0;
    int64_t iwp = c->w + c->pad_left + c->pad_right, rb = iwp * pl->c4;
    for (int64_t ky = 0; ky < c->kh; ky++)
        for (int64_t kx = 0; kx < c->kw; kx++)
            pl->toff[ky * c->kw + kx] = (ky * c->dil_h * iwp + kx * c->dil_w) * pl->c4;
    /* bands of about 96 KiB of input rows (L2) */
    int64_t fit = (96 * 1024 / rb - (c->kh - 1) * c->dil_h - 1) / c->stride_h + 1;
    pl->band = fit < 1 ? 1 : fit > pl->oh ? pl->oh : fit;
    pl->direct = c->pad_top == 0 && c->pad_left == 0 && c->pad_bottom == 0 &&
                 c->pad_right == 0 && c->c_in % 4 == 0 && p->x_dt == CQ_U8;
    if (cig == cog && (cig == 4 || cig == 8)) {
        pl->direct = 0; /* 16-byte loads may pass the input's end */
        return pack_lanes(pl, w);
    }
    int64_t tot = 0;
    for (int64_t b = 0; b < nb; b++) {
        int64_t o1 = 16 * b + 15 < C ? 16 * b + 15 : C - 1;
        int64_t lo = 16 * b / cog * cig, hi = (o1 / cog + 1) * cig; /* input channels */
        pl->gq0[b] = (int32_t)(lo / 4);
        pl->gnq[b] = (int32_t)((hi + 3) / 4 - lo / 4);
        pl->goff[b] = tot;
        tot += taps * pl->gnq[b] * 64;
    }
    pl->goff[nb] = tot;
    pl->wd = cq_alloc((size_t)tot);
    if (!pl->wd)
        return 0;
    memset(pl->wd, 0, (size_t)tot);
    for (int64_t b = 0; b < nb; b++)
        for (int64_t l = 0; l < 16; l++) {
            int64_t co = 16 * b + l, g = co / cog, s = 0;
            if (co >= C) {
                pl->comp[co] = 0;
                continue;
            }
            for (int64_t t = 0; t < taps; t++)
                for (int64_t qi = 0; qi < pl->gnq[b]; qi++)
                    for (int64_t k = 0; k < 4; k++) {
                        int64_t ci = 4 * (pl->gq0[b] + qi) + k;
                        if (ci < g * cig || ci >= (g + 1) * cig)
                            continue;
                        int8_t v = w[(co * cig + ci - g * cig) * taps + t];
                        pl->wd[pl->goff[b] + ((t * pl->gnq[b] + qi) * 16 + l) * 4 + k] = v;
                        s += v;
                    }
            pl->comp[co] = (int32_t)((pl->bias ? pl->bias[co] : 0) - zpp * s);
        }
    return 1;
}

/* Output rows per band and the band buffer's bytes, from the plan. */
size_t cq__qconv_grp_avx512_scratch(const cq_qconv2d_plan *pl)
{
    const cq_conv2d_params *c = &pl->p.c;
    int64_t iwp = c->w + c->pad_left + c->pad_right;
    int64_t rows = (pl->band - 1) * c->stride_h + (c->kh - 1) * c->dil_h + 1;
    return (size_t)(rows * iwp * pl->c4) + 64;
}

/* ---- the band buffer ------------------------------------------------------ */

/* Input rows [iy0, iy0 + rows) of image img (rows outside the input are
 * padding) into buf, padded as above. */
static void band_build(const cq_qconv2d_plan *pl, const uint8_t *x, int64_t img, int64_t iy0,
                       int64_t rows, uint8_t *buf)
{
    const cq_qconv2d_params *p = &pl->p;
    const cq_conv2d_params *c = &p->c;
    int64_t C = c->c_in, C4 = pl->c4, W = c->w, iwp = W + c->pad_left + c->pad_right;
    int64_t rb = iwp * C4;
    uint8_t zpp = (uint8_t)(p->x_zp + (p->x_dt == CQ_S8 ? 128 : 0));
    uint8_t fl = p->x_dt == CQ_S8 ? 0x80 : 0;
    __m512i flip = _mm512_set1_epi8((char)fl);
    for (int64_t r = 0; r < rows; r++) {
        uint8_t *d = buf + r * rb;
        int64_t iy = iy0 + r;
        if (iy < 0 || iy >= c->h) {
            memset(d, zpp, (size_t)rb);
            continue;
        }
        const uint8_t *s = x + (img * c->h + iy) * W * C;
        memset(d, zpp, (size_t)(c->pad_left * C4));
        memset(d + (c->pad_left + W) * C4, zpp, (size_t)(c->pad_right * C4));
        d += c->pad_left * C4;
        if (C == C4) {
            int64_t n = W * C, i = 0;
            for (; i + 64 <= n; i += 64)
                _mm512_storeu_si512(d + i, _mm512_xor_si512(_mm512_loadu_si512(s + i), flip));
            if (i < n) {
                __mmask64 m = ((__mmask64)1 << (n - i)) - 1;
                _mm512_mask_storeu_epi8(d + i, m,
                                        _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, s + i), flip));
            }
        } else if (C == 3) { /* 4 pixels of 12 bytes into 16 */
            __m128i idx = _mm_setr_epi8(0, 1, 2, 0, 3, 4, 5, 0, 6, 7, 8, 0, 9, 10, 11, 0);
            __m128i zv = _mm_set1_epi8((char)zpp), f = _mm_set1_epi8((char)fl);
            int64_t ix = 0;
            for (; ix < W; ix += 4) {
                int64_t n = (W - ix < 4 ? W - ix : 4) * 3;
                __m128i a = _mm_xor_si128(_mm_maskz_loadu_epi8((__mmask16)((1u << n) - 1),
                                                               s + ix * 3), f);
                __m128i v = _mm_mask_shuffle_epi8(zv, (__mmask16)0x7777, a, idx);
                _mm_mask_storeu_epi8(d + ix * 4, (__mmask16)((1u << (n / 3 * 4)) - 1), v);
            }
        } else {
            for (int64_t ix = 0; ix < W; ix++) {
                for (int64_t ch = 0; ch < C; ch++)
                    d[ix * C4 + ch] = s[ix * C + ch] ^ fl;
                for (int64_t ch = C; ch < C4; ch++)
                    d[ix * C4 + ch] = zpp;
            }
        }
    }
}

/* ---- the epilogue ---------------------------------------------------------- */

typedef struct grp_epi {
    __m512i zp, lo, hi;
    __m512 cap, ncap;
    __m512i zp16, lo8, hi8, perm; /* epi4 */
    int s8;
    cq__qconv_resk k; /* the residual's constants */
} grp_epi;

/* 4 vectors of 16 sums (4 pixels, one multiplier vector mu) to their 64
 * codes, pixel k in 128-bit lane k (kern_q8_x86.h). */
AI __m512i epi4(const grp_epi *E, __m512i a0, __m512i a1, __m512i a2, __m512i a3, __m512 mu)
{
    return cq__q8_pack64(cq__q8_scale(a0, mu, E->cap), cq__q8_scale(a1, mu, E->cap),
                         cq__q8_scale(a2, mu, E->cap), cq__q8_scale(a3, mu, E->cap), E->zp16,
                         E->lo8, E->hi8, E->perm, E->s8);
}

/* The 4 pixels' 16-byte lanes of b to y + o[k] (m: the vector's channels). */
AI void store4(__m512i b, const int64_t *o, __mmask16 m, uint8_t *y)
{
    if (m == 0xffff && o[3] - o[0] == 48) { /* 16 channels, contiguous pixels */
        _mm512_storeu_si512(y + o[0], b);
        return;
    }
    _mm_mask_storeu_epi8(y + o[0], m, _mm512_castsi512_si128(b));
    _mm_mask_storeu_epi8(y + o[1], m, _mm512_extracti32x4_epi32(b, 1));
    _mm_mask_storeu_epi8(y + o[2], m, _mm512_extracti32x4_epi32(b, 2));
    _mm_mask_storeu_epi8(y + o[3], m, _mm512_extracti32x4_epi32(b, 3));
}


AI void out16(const cq__qconv_resk *k, const grp_epi *E, __m512i a, __m512 mu, __mmask16 m,
              const uint8_t *res, uint8_t *y)
{
    if (res) {
        __m512i r = cq__qconv_ld_resk(k, res, m);
        _mm_mask_storeu_epi8(y, m, cq__qconv_res16k(k, a, mu, r));
        return;
    }
    __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(a), mu);
    f = _mm512_max_ps(_mm512_min_ps(f, E->cap), E->ncap); /* keeps the clamp's result */
    __m512i v = _mm512_add_epi32(_mm512_cvtps_epi32(f), E->zp);
    v = _mm512_min_epi32(_mm512_max_epi32(v, E->lo), E->hi);
    _mm_mask_storeu_epi8(y, m, _mm512_cvtepi32_epi8(v));
}

/* With a residual, the first cn <= 8 sums of a and of b (pixels at o0 and
 * o1, m their channels) as one vector: half the epilogue's operations. */
AI void out8x2(const cq__qconv_resk *k, __m512i a, __m512i b, __m512 mu, __mmask16 m,
               const uint8_t *res, uint8_t *y, int64_t o0, int64_t o1)
{
    __m512i ab = _mm512_shuffle_i32x4(a, b, 0x44);
    __m512 mu2 = _mm512_shuffle_f32x4(mu, mu, 0x44);
    __m128i r8 = _mm_unpacklo_epi64(_mm_maskz_loadu_epi8(m, res + o0),
                                    _mm_maskz_loadu_epi8(m, res + o1));
    __m512i r = k->s8 ? _mm512_cvtepi8_epi32(r8) : _mm512_cvtepu8_epi32(r8);
    __m128i v = cq__qconv_res16k(k, ab, mu2, r);
    _mm_mask_storeu_epi8(y + o0, m, v);
    _mm_mask_storeu_epi8(y + o1, m, _mm_srli_si128(v, 8));
}

/* ---- the tiles ------------------------------------------------------------- */

#define BC(pp, o) _mm512_set1_epi32(*(const int32_t *)((pp) + (o)))

/* a += u8 x . s8 w by 4-byte groups (vpdpbusd). The intrinsic in these
 * loops made GCC copy every accumulator to another register after each
 * product (16 moves per 8 vpdpbusd); the asm keeps each in its register. */
#define DPB(a, x, w) __asm__("vpdpbusd %2, %1, %0" : "+v"(a) : "v"(x), "v"(w))

/* 8 output pixels (input bases e[0..7] in the band buffer, outputs o[0..7]
 * as byte offsets of y / res) of output vector b. */
static void tile8(const cq_qconv2d_plan *pl, const grp_epi *E, int64_t b,
                  const uint8_t *const *e, const int64_t *o, const uint8_t *res, uint8_t *y)
{
    int64_t taps = pl->p.c.kh * pl->p.c.kw, nq = pl->gnq[b], q0 = 4 * (int64_t)pl->gq0[b];
    const int8_t *wb = pl->wd + pl->goff[b];
    __m512i cp = _mm512_loadu_si512(pl->comp + 16 * b);
    __m512i a0 = cp, a1 = cp, a2 = cp, a3 = cp, a4 = cp, a5 = cp, a6 = cp, a7 = cp;
    const uint8_t *e0 = e[0] + q0, *e1 = e[1] + q0, *e2 = e[2] + q0, *e3 = e[3] + q0;
    const uint8_t *e4 = e[4] + q0, *e5 = e[5] + q0, *e6 = e[6] + q0, *e7 = e[7] + q0;
    for (int64_t t = 0; t < taps; t++) {
        int64_t off = pl->toff[t];
        for (int64_t qi = 0; qi < nq; qi++, off += 4, wb += 64) {
            __m512i wv = _mm512_loadu_si512(wb);
            DPB(a0, BC(e0, off), wv);
            DPB(a1, BC(e1, off), wv);
            DPB(a2, BC(e2, off), wv);
            DPB(a3, BC(e3, off), wv);
            DPB(a4, BC(e4, off), wv);
            DPB(a5, BC(e5, off), wv);
            DPB(a6, BC(e6, off), wv);
            DPB(a7, BC(e7, off), wv);
        }
    }
    int64_t C = pl->p.c.c_out, cn = C - 16 * b < 16 ? C - 16 * b : 16;
    __mmask16 m = (__mmask16)((1u << cn) - 1);
    __m512 mu = _mm512_maskz_loadu_ps(m, pl->mult + 16 * b);
    y += 16 * b;
    if (!res) {
        store4(epi4(E, a0, a1, a2, a3, mu), o, m, y);
        store4(epi4(E, a4, a5, a6, a7, mu), o + 4, m, y);
        return;
    }
    res += 16 * b;
    cq__qconv_resk k = E->k; /* in registers across the char stores */
    if (cn <= 8) { /* two pixels a vector (BlazeFace's 24 channels: the second 8) */
        out8x2(&k, a0, a1, mu, m, res, y, o[0], o[1]);
        out8x2(&k, a2, a3, mu, m, res, y, o[2], o[3]);
        out8x2(&k, a4, a5, mu, m, res, y, o[4], o[5]);
        out8x2(&k, a6, a7, mu, m, res, y, o[6], o[7]);
        return;
    }
    out16(&k, E, a0, mu, m, res + o[0], y + o[0]);
    out16(&k, E, a1, mu, m, res + o[1], y + o[1]);
    out16(&k, E, a2, mu, m, res + o[2], y + o[2]);
    out16(&k, E, a3, mu, m, res + o[3], y + o[3]);
    out16(&k, E, a4, mu, m, res + o[4], y + o[4]);
    out16(&k, E, a5, mu, m, res + o[5], y + o[5]);
    out16(&k, E, a6, mu, m, res + o[6], y + o[6]);
    out16(&k, E, a7, mu, m, res + o[7], y + o[7]);
}

/* One output pixel of output vector b. */
static void tile1(const cq_qconv2d_plan *pl, const grp_epi *E, int64_t b, const uint8_t *e,
                  int64_t o, const uint8_t *res, uint8_t *y)
{
    int64_t taps = pl->p.c.kh * pl->p.c.kw, nq = pl->gnq[b];
    const int8_t *wb = pl->wd + pl->goff[b];
    __m512i a0 = _mm512_loadu_si512(pl->comp + 16 * b), a1 = _mm512_setzero_si512();
    e += 4 * (int64_t)pl->gq0[b];
    for (int64_t t = 0; t < taps; t++) {
        int64_t off = pl->toff[t], qi = 0;
        for (; qi + 2 <= nq; qi += 2, off += 8, wb += 128) {
            a0 = _mm512_dpbusd_epi32(a0, BC(e, off), _mm512_loadu_si512(wb));
            a1 = _mm512_dpbusd_epi32(a1, BC(e, off + 4), _mm512_loadu_si512(wb + 64));
        }
        if (qi < nq) {
            a0 = _mm512_dpbusd_epi32(a0, BC(e, off), _mm512_loadu_si512(wb));
            wb += 64;
        }
    }
    int64_t C = pl->p.c.c_out, cn = C - 16 * b < 16 ? C - 16 * b : 16;
    __mmask16 m = (__mmask16)((1u << cn) - 1);
    __m512 mu = _mm512_maskz_loadu_ps(m, pl->mult + 16 * b);
    out16(&E->k, E, _mm512_add_epi32(a0, a1), mu, m, res ? res + o + 16 * b : NULL,
          y + o + 16 * b);
}

/* Lane mode: 16 sums in lane order to 16 codes in channel order. */
AI void out16l(const cq_qconv2d_plan *pl, const grp_epi *E, __m512i a, __m512 mu, __mmask16 m,
               const uint8_t *res, uint8_t *y)
{
    const cq_qconv2d_params *p = &pl->p;
    __m128i v8;
    __m128i go = _mm_loadu_si128((const __m128i *)pl->gout);
    if (res) {
        __m128i r8 = _mm_shuffle_epi8(_mm_maskz_loadu_epi8(m, res),
                                      _mm_loadu_si128((const __m128i *)pl->gin));
        __m512i r = p->y_dt == CQ_S8 ? _mm512_cvtepi8_epi32(r8) : _mm512_cvtepu8_epi32(r8);
        v8 = cq__qconv_res16k(&E->k, a, mu, r);
    } else {
        __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(a), mu);
        f = _mm512_max_ps(_mm512_min_ps(f, E->cap), E->ncap);
        __m512i v = _mm512_add_epi32(_mm512_cvtps_epi32(f), E->zp);
        v8 = _mm512_cvtepi32_epi8(_mm512_min_epi32(_mm512_max_epi32(v, E->lo), E->hi));
    }
    _mm_mask_storeu_epi8(y, m, _mm_shuffle_epi8(v8, go));
}

#define BQ(pp, o) _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)((pp) + (o))))
#define LSTEP(a, pp)                                                                          \
    do {                                                                                      \
        __m512i v_ = BQ(pp, off);                                                             \
        DPB(a, v_, w0);                                                                       \
        if (S == 2)                                                                           \
            DPB(a, _mm512_shuffle_epi32(v_, (_MM_PERM_ENUM)0xB1), w1);                        \
    } while (0)

/* tile8 in lane mode, S = glane. */
AI void tile8l_t(const cq_qconv2d_plan *pl, const grp_epi *E, int64_t b,
                 const uint8_t *const *e, const int64_t *o, const uint8_t *res, uint8_t *y,
                 const int S)
{
    int64_t taps = pl->p.c.kh * pl->p.c.kw, q0 = 16 * b;
    const int8_t *wb = pl->wd + pl->goff[b];
    __m512i cp = _mm512_loadu_si512(pl->comp + 16 * b);
    __m512i a0 = cp, a1 = cp, a2 = cp, a3 = cp, a4 = cp, a5 = cp, a6 = cp, a7 = cp;
    const uint8_t *e0 = e[0] + q0, *e1 = e[1] + q0, *e2 = e[2] + q0, *e3 = e[3] + q0;
    const uint8_t *e4 = e[4] + q0, *e5 = e[5] + q0, *e6 = e[6] + q0, *e7 = e[7] + q0;
    for (int64_t t = 0; t < taps; t++, wb += S * 64) {
        int64_t off = pl->toff[t];
        __m512i w0 = _mm512_loadu_si512(wb), w1 = S == 2 ? _mm512_loadu_si512(wb + 64) : w0;
        LSTEP(a0, e0);
        LSTEP(a1, e1);
        LSTEP(a2, e2);
        LSTEP(a3, e3);
        LSTEP(a4, e4);
        LSTEP(a5, e5);
        LSTEP(a6, e6);
        LSTEP(a7, e7);
    }
    int64_t C = pl->p.c.c_out, cn = C - 16 * b < 16 ? C - 16 * b : 16;
    __mmask16 m = (__mmask16)((1u << cn) - 1);
    __m512 mu = _mm512_loadu_ps(pl->multp + 16 * b);
    y += 16 * b;
    if (res)
        res += 16 * b;
    out16l(pl, E, a0, mu, m, res ? res + o[0] : NULL, y + o[0]);
    out16l(pl, E, a1, mu, m, res ? res + o[1] : NULL, y + o[1]);
    out16l(pl, E, a2, mu, m, res ? res + o[2] : NULL, y + o[2]);
    out16l(pl, E, a3, mu, m, res ? res + o[3] : NULL, y + o[3]);
    out16l(pl, E, a4, mu, m, res ? res + o[4] : NULL, y + o[4]);
    out16l(pl, E, a5, mu, m, res ? res + o[5] : NULL, y + o[5]);
    out16l(pl, E, a6, mu, m, res ? res + o[6] : NULL, y + o[6]);
    out16l(pl, E, a7, mu, m, res ? res + o[7] : NULL, y + o[7]);
}

static void tile8l(const cq_qconv2d_plan *pl, const grp_epi *E, int64_t b,
                   const uint8_t *const *e, const int64_t *o, const uint8_t *res, uint8_t *y)
{
    if (pl->glane == 2)
        tile8l_t(pl, E, b, e, o, res, y, 2);
    else
        tile8l_t(pl, E, b, e, o, res, y, 1);
}

static void tile1l(const cq_qconv2d_plan *pl, const grp_epi *E, int64_t b, const uint8_t *e,
                   int64_t o, const uint8_t *res, uint8_t *y)
{
    int64_t taps = pl->p.c.kh * pl->p.c.kw, S = pl->glane;
    const int8_t *wb = pl->wd + pl->goff[b];
    __m512i a = _mm512_loadu_si512(pl->comp + 16 * b);
    e += 16 * b;
    for (int64_t t = 0; t < taps; t++, wb += S * 64) {
        __m512i v = BQ(e, pl->toff[t]);
        a = _mm512_dpbusd_epi32(a, v, _mm512_loadu_si512(wb));
        if (S == 2)
            a = _mm512_dpbusd_epi32(a, _mm512_shuffle_epi32(v, (_MM_PERM_ENUM)0xB1),
                                    _mm512_loadu_si512(wb + 64));
    }
    int64_t C = pl->p.c.c_out, cn = C - 16 * b < 16 ? C - 16 * b : 16;
    __mmask16 m = (__mmask16)((1u << cn) - 1);
    out16l(pl, E, a, _mm512_loadu_ps(pl->multp + 16 * b), m, res ? res + o + 16 * b : NULL,
           y + o + 16 * b);
}

/* ---- rows ------------------------------------------------------------------ */

void cq__qconv_grp_avx512_rows(const cq_qconv2d_plan *pl, const void *x, const void *res,
                               void *y, int64_t r0, int64_t r1, void *scratch)
{
    const cq_qconv2d_params *p = &pl->p;
    const cq_conv2d_params *c = &p->c;
    int64_t C = c->c_out, oh = pl->oh, ow = pl->ow, C4 = pl->c4;
    int64_t iwp = c->w + c->pad_left + c->pad_right, nb = (C + 15) / 16;
    const uint8_t *buf = scratch;
    grp_epi E;
    E.zp = _mm512_set1_epi32(p->y_zp);
    E.lo = _mm512_set1_epi32(p->y_min);
    E.hi = _mm512_set1_epi32(p->y_max);
    E.cap = _mm512_set1_ps(1073741824.0f);
    E.ncap = _mm512_set1_ps(-1073741824.0f);
    E.zp16 = _mm512_set1_epi16((short)p->y_zp);
    E.lo8 = _mm512_set1_epi8((char)p->y_min);
    E.hi8 = _mm512_set1_epi8((char)p->y_max);
    E.perm = cq__q8_perm();
    E.s8 = p->y_dt == CQ_S8;
    E.k = cq__qconv_resk_make(p);
    const uint8_t *rs = res;
    uint8_t *yy = y;
    for (int64_t r = r0; r < r1;) {
        int64_t img = r / oh, oy0 = r % oh;
        int64_t n = r1 - r < pl->band ? r1 - r : pl->band;
        if (n > oh - oy0)
            n = oh - oy0;
        int64_t iy0 = oy0 * c->stride_h - c->pad_top;
        if (pl->direct)
            buf = (const uint8_t *)x + (img * c->h + iy0) * c->w * C4;
        else
            band_build(pl, x, img, iy0, (n - 1) * c->stride_h + (c->kh - 1) * c->dil_h + 1,
                       scratch);
        int64_t np = n * ow, base = (img * oh + oy0) * ow;
        int64_t rstep = c->stride_h * iwp * C4, xstep = c->stride_w * C4;
        /* pixels outer, vectors inner: a tile's output lines fill while in L1 */
        int64_t i = 0, ox = 0;
        const uint8_t *row = buf, *e[8];
        int64_t o[8];
        for (; i + 8 <= np; i += 8) {
            for (int k = 0; k < 8; k++) { /* (dy, ox) of pixel i + k, counted */
                e[k] = row + ox * xstep;
                o[k] = (base + i + k) * C;
                if (++ox == ow) {
                    ox = 0;
                    row += rstep;
                }
            }
            for (int64_t b = 0; b < nb; b++) {
                if (pl->glane)
                    tile8l(pl, &E, b, e, o, rs, yy);
                else
                    tile8(pl, &E, b, e, o, rs, yy);
            }
        }
        for (; i < np; i++) {
            for (int64_t b = 0; b < nb; b++) {
                if (pl->glane)
                    tile1l(pl, &E, b, row + ox * xstep, (base + i) * C, rs, yy);
                else
                    tile1(pl, &E, b, row + ox * xstep, (base + i) * C, rs, yy);
            }
            if (++ox == ow) {
                ox = 0;
                row += rstep;
            }
        }
        r += n;
    }
}
