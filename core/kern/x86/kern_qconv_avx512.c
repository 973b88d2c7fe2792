/* kern_qconv_avx512.c - the int8 convolution's AVX-512 pieces (kern_qconv.h):
 * the depthwise kernel and the residual epilogue of the GEMM paths.
 *
 * Depthwise, NHWC, channels in chunks of 64. vpdpbusd sums groups of 4 u8 x
 * s8 products into one int32, so each group is 4 taps of one channel: the
 * rows of the kernel go in quads (ky = 4 q + k, k = 0..3; taps past kh get
 * weight 0). For an output row and a chunk, a row buffer holds, for every
 * padded input column, the 4 input rows of each quad interleaved byte by
 * byte: loads of the 4 rows' 64 channels, unpacked as bytes then as words,
 * give 4 vectors whose dword 4 L + i (lane L) of vector j is channel
 * 16 L + 4 j + i (the "lane order" of kern_qconv_internal.h; weights, sums
 * and multipliers are packed in it). An output pixel is then kw * nq * 4
 * vpdpbusd on that buffer at columns ox * stride + kx * dil, and each entry
 * serves kw output pixels. Padding is the zero point (x_zp, + 128 for s8
 * input, which runs as u8 = x ^ 0x80) and the plan's per-channel
 * compensation bias - zp * sum w takes it back, as in the int8 GEMM.
 * The epilogue (kern_qconv_x86.h) packs the 4 sum vectors into 64 bytes in
 * channel order (packs of dwords then words undo the lane order), the same
 * float operations as cq_requantize; a residual runs in channel order after
 * a 4 x 4 transpose of 128-bit lanes. 3x3 kernels of stride 1 and dilation 1
 * run kern_qconv_dw3_avx512.c's two-row passes instead (a 16-channel tail
 * too, as a chunk of 4 pixels). */
#include "kern/kern_qconv_internal.h"
#include "kern/x86/kern_qconv_x86.h"

#include <immintrin.h>
#include <string.h>

#define AI static inline __attribute__((always_inline))

/* ---- the residual epilogue (channel order) ------------------------------ */

void cq__qconv_res_rows_avx512(const cq_qconv2d_params *p, const float *mult,
                               const int32_t *acc, int64_t rows, int64_t j0, int64_t j1,
                               const void *res, void *y)
{
    int64_t N = p->c.c_out;
    cq__qconv_resk k = cq__qconv_resk_make(p);
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = j0; j < j1; j += 16) {
            __mmask16 m = cq__qconv_mask16(j1 - j);
            __m512i a = _mm512_maskz_loadu_epi32(m, acc + i * N + j);
            __m512 mu = _mm512_maskz_loadu_ps(m, mult + j);
            __m512i r = cq__qconv_ld_resk(&k, (const char *)res + i * N + j, m);
            _mm_mask_storeu_epi8((char *)y + i * N + j, m, cq__qconv_res16k(&k, a, mu, r));
        }
}

/* ---- depthwise: packing ------------------------------------------------- */

void cq__qconv_dw_avx512_pack(cq_qconv2d_plan *pl, const int8_t *w)
{
    const cq_qconv2d_params *p = &pl->p;
    const cq_conv2d_params *c = &p->c;
    int64_t C = c->c_out, kh = c->kh, kw = c->kw, nq = pl->nq, taps = kh * kw;
    int64_t zpp = p->x_zp + (p->x_dt == CQ_S8 ? 128 : 0);
    double worst = 0.0;
    for (int64_t b = 0; b < pl->nch; b++)
        for (int64_t j = 0; j < 4; j++)
            for (int64_t L = 0; L < 4; L++)
                for (int64_t i = 0; i < 4; i++) {
                    int64_t ch = b * 64 + 16 * L + 4 * j + i, lane = 4 * L + i;
                    if (pl->pix > 1) { /* pix pixels of c channels: channel ch % c */
                        if (ch >= C)
                            pl->mult[ch] = pl->mult[ch % C];
                        ch %= C;
                    }
                    int in = ch < C;
                    for (int64_t q = 0; q < nq; q++)
                        for (int64_t kx = 0; kx < kw; kx++)
                            for (int64_t k = 0; k < 4; k++) {
                                int64_t ky = 4 * q + k;
                                int8_t *d = pl->wd + ((((b * nq + q) * kw + kx) * 4 + j) * 16 +
                                                      lane) * 4 + k;
                                *d = in && ky < kh ? w[(ch * kh + ky) * kw + kx] : 0;
                            }
                    int64_t s = 0, sa = 0;
                    for (int64_t t = 0; in && t < taps; t++) {
                        s += w[ch * taps + t];
                        sa += w[ch * taps + t] < 0 ? -w[ch * taps + t] : w[ch * taps + t];
                    }
                    int64_t bias = in && pl->bias ? pl->bias[ch] : 0;
                    int64_t o = (b * 4 + j) * 16 + lane;
                    pl->comp[o] = in ? (int32_t)(bias - zpp * s) : 0;
                    pl->multp[o] = in ? pl->mult[ch] : 0.0f;
                    double bound = ((double)sa * 255.0 + (double)(bias < 0 ? -bias : bias)) *
                                   fabs((double)pl->multp[o]);
                    worst = bound > worst ? bound : worst;
                }
    pl->no_min = worst < 1073741824.0 * 0.99;
    /* kh <= 3, one quad: the second block [0 w0 w1 w2] (each dword's taps one
     * byte up), for the second output row of a pass of kern_qconv_dw3_avx512.c */
    if (nq == 1 && kh <= 3) {
        int64_t half = pl->nch * kw * 256;
        for (int64_t d = 0; d < half; d += 4) {
            uint32_t v;
            memcpy(&v, pl->wd + d, 4);
            v <<= 8;
            memcpy(pl->wd + half + d, &v, 4);
        }
    }
    /* the tail's 16 channels in channel order: lane 0 of the last chunk's vectors */
    int64_t b = pl->nch - 1;
    for (int64_t d = 0; d < 16; d++) {
        int64_t o = (b * 4 + d / 4) * 16 + d % 4;
        pl->compt[d] = pl->comp[o];
        pl->multt[d] = pl->multp[o];
        for (int64_t t = 0; t < nq * kw; t++)
            for (int64_t k = 0; k < 4; k++)
                pl->wt[(t * 16 + d) * 4 + k] = pl->wd[(((b * nq * kw + t) * 4 + d / 4) * 16 +
                                                       d % 4) * 4 + k];
    }
    /* and, for kern_qconv_dw3_avx512.c, as a chunk of 4 pixels of 16 channels:
     * lane (j, 4 L + i) is tail channel 4 j + i of pixel L; block 1 [0 w0 w1 w2] */
    if (pl->tail && nq == 1 && kw == 3)
        for (int64_t j = 0; j < 4; j++)
            for (int64_t l = 0; l < 16; l++) {
                int64_t d = 4 * j + l % 4;
                pl->compq[j * 16 + l] = pl->compt[d];
                pl->multq[j * 16 + l] = pl->multt[d];
                for (int64_t kx = 0; kx < 3; kx++) {
                    int8_t *a = pl->wq + ((kx * 4 + j) * 16 + l) * 4, *b2 = a + 768;
                    const int8_t *t = pl->wt + (kx * 16 + d) * 4;
                    for (int64_t k = 0; k < 4; k++) {
                        a[k] = t[k];
                        b2[k] = k ? t[k - 1] : 0;
                    }
                }
            }
}

/* 3x3, stride 1, dilation 1: kern_qconv_dw3_avx512.c's two-row passes */
static int dw3(const cq_qconv2d_plan *pl)
{
    const cq_conv2d_params *c = &pl->p.c;
    return c->kh == 3 && c->kw == 3 && c->stride_h == 1 && c->stride_w == 1 && c->dil_h == 1 &&
           c->dil_w == 1;
}

/* The row buffer (nq quads of padded columns of 256 bytes), then for dw3 a
 * row of zero points (w * c), a sink row (ow * c) and the rows of
 * cq__qconv_dw3_avx512_rows's tq (the tail's, or 32 channels' byte
 * interleaves). */
static size_t buf_bytes(const cq_qconv2d_plan *pl)
{
    const cq_conv2d_params *c = &pl->p.c;
    return (size_t)(pl->nq * (c->w + c->pad_left + c->pad_right)) * 256;
}

size_t cq__qconv_dw_avx512_scratch(const cq_qconv2d_plan *pl)
{
    const cq_conv2d_params *c = &pl->p.c;
    size_t b = buf_bytes(pl);
    if (dw3(pl))
        b += (size_t)((c->w * c->c_in + 63) / 64 * 64 + (pl->ow * c->c_out + 63) / 64 * 64 +
                      (pl->tail ? 5 * ((c->w * 16 + 48 + 63) / 64 * 64) : 0) +
                      (pl->pix == 2 ? ((pl->ow + 1) / 2 * 3 + 6) * 128 : 0) +
                      (pl->pix == 1 ? (pl->ow + c->c_in / 64 * 2 * (pl->ow + 3)) * 128 : 0));
    return b;
}

/* ---- depthwise: the row buffer ------------------------------------------ */

/* Quad q of output row oy of image img, chunk at channel c0 (mask m), into
 * buf: iwp entries of 256 bytes. Rows outside the input load nothing (mask
 * 0) and keep their fill, the zero point (or 0 past the kernel). */
#define FLIPPED(v) (FLIP ? _mm512_xor_si512((v), flip) : (v))

AI void build_t(const cq_qconv2d_plan *pl, const uint8_t *x, int64_t img, int64_t oy,
                int64_t q, int64_t c0, __mmask64 m, uint8_t *buf, const int FLIP)
{
    const cq_qconv2d_params *p = &pl->p;
    const cq_conv2d_params *c = &p->c;
    int64_t C = c->c_in, iwp = c->w + c->pad_left + c->pad_right;
    int64_t zpp = p->x_zp + (p->x_dt == CQ_S8 ? 128 : 0);
    __m512i zpv = _mm512_set1_epi8((char)zpp);
    __m512i flip = _mm512_set1_epi8(p->x_dt == CQ_S8 ? (char)0x80 : 0);
    const uint8_t *r[4];
    __m512i f[4];
    __mmask64 mk[4];
    for (int k = 0; k < 4; k++) {
        int64_t ky = 4 * q + k, iy = oy * c->stride_h - c->pad_top + ky * c->dil_h;
        int in = ky < c->kh && iy >= 0 && iy < c->h;
        r[k] = in ? x + ((img * c->h + iy) * c->w) * C + c0 : x;
        mk[k] = in ? m : 0;
        f[k] = _mm512_xor_si512(ky < c->kh ? zpv : _mm512_setzero_si512(), flip);
    }
    const uint8_t *r0 = r[0], *r1 = r[1], *r2 = r[2], *r3 = r[3];
    __m512i f0 = f[0], f1 = f[1], f2 = f[2], f3 = f[3];
    __mmask64 m0 = mk[0], m1 = mk[1], m2 = mk[2], m3 = mk[3];
    uint8_t *e = buf;
    if (pl->pix > 1) { /* each entry: pix pixels from padded column ixp, masked per pixel */
        int64_t P = pl->pix;
        for (int64_t ixp = 0; ixp < iwp; ixp++, e += 256) {
            int64_t ix = ixp - c->pad_left, lo = ix < 0 ? -ix : 0;
            int64_t hi = c->w - ix < P ? c->w - ix : P;
            __mmask64 cm = hi <= lo ? 0
                                    : (hi * C >= 64 ? ~(__mmask64)0
                                                    : (((__mmask64)1 << (hi * C)) - 1)) &
                                          ~(((__mmask64)1 << (lo * C)) - 1);
            __m512i a0 = FLIPPED(_mm512_mask_loadu_epi8(f0, m0 & cm, r0 + ix * C));
            __m512i a1 = FLIPPED(_mm512_mask_loadu_epi8(f1, m1 & cm, r1 + ix * C));
            __m512i a2 = FLIPPED(_mm512_mask_loadu_epi8(f2, m2 & cm, r2 + ix * C));
            __m512i a3 = FLIPPED(_mm512_mask_loadu_epi8(f3, m3 & cm, r3 + ix * C));
            __m512i l01 = _mm512_unpacklo_epi8(a0, a1), h01 = _mm512_unpackhi_epi8(a0, a1);
            __m512i l23 = _mm512_unpacklo_epi8(a2, a3), h23 = _mm512_unpackhi_epi8(a2, a3);
            _mm512_store_si512(e, _mm512_unpacklo_epi16(l01, l23));
            _mm512_store_si512(e + 64, _mm512_unpackhi_epi16(l01, l23));
            _mm512_store_si512(e + 128, _mm512_unpacklo_epi16(h01, h23));
            _mm512_store_si512(e + 192, _mm512_unpackhi_epi16(h01, h23));
        }
        return;
    }
    for (int64_t ixp = 0; ixp < c->pad_left && ixp < iwp; ixp++, e += 256) {
        _mm512_store_si512(e, zpv);
        _mm512_store_si512(e + 64, zpv);
        _mm512_store_si512(e + 128, zpv);
        _mm512_store_si512(e + 192, zpv);
    }
    for (int64_t o = 0; o < c->w * C; o += C, e += 256) {
        __m512i a0 = FLIPPED(_mm512_mask_loadu_epi8(f0, m0, r0 + o));
        __m512i a1 = FLIPPED(_mm512_mask_loadu_epi8(f1, m1, r1 + o));
        __m512i a2 = FLIPPED(_mm512_mask_loadu_epi8(f2, m2, r2 + o));
        __m512i a3 = FLIPPED(_mm512_mask_loadu_epi8(f3, m3, r3 + o));
        __m512i l01 = _mm512_unpacklo_epi8(a0, a1), h01 = _mm512_unpackhi_epi8(a0, a1);
        __m512i l23 = _mm512_unpacklo_epi8(a2, a3), h23 = _mm512_unpackhi_epi8(a2, a3);
        _mm512_store_si512(e, _mm512_unpacklo_epi16(l01, l23));
        _mm512_store_si512(e + 64, _mm512_unpackhi_epi16(l01, l23));
        _mm512_store_si512(e + 128, _mm512_unpacklo_epi16(h01, h23));
        _mm512_store_si512(e + 192, _mm512_unpackhi_epi16(h01, h23));
    }
    for (int64_t ixp = c->pad_left + c->w; ixp < iwp; ixp++, e += 256) {
        _mm512_store_si512(e, zpv);
        _mm512_store_si512(e + 64, zpv);
        _mm512_store_si512(e + 128, zpv);
        _mm512_store_si512(e + 192, zpv);
    }
}

/* s8 input flips each byte to u8; u8 input needs nothing. */
static void build(const cq_qconv2d_plan *pl, const uint8_t *x, int64_t img, int64_t oy,
                  int64_t q, int64_t c0, __mmask64 m, uint8_t *buf)
{
    if (pl->p.x_dt == CQ_S8)
        build_t(pl, x, img, oy, q, c0, m, buf, 1);
    else
        build_t(pl, x, img, oy, q, c0, m, buf, 0);
}

/* ---- depthwise: one output row of one chunk ----------------------------- */

#define DW_DOT(e, w0, w1, w2, w3)                                                             \
    a0 = _mm512_dpbusd_epi32(a0, _mm512_load_si512((e)), w0);                                 \
    a1 = _mm512_dpbusd_epi32(a1, _mm512_load_si512((e) + 64), w1);                            \
    a2 = _mm512_dpbusd_epi32(a2, _mm512_load_si512((e) + 128), w2);                           \
    a3 = _mm512_dpbusd_epi32(a3, _mm512_load_si512((e) + 192), w3);

#define DW_OUT                                                                                \
    if (RES)                                                                                  \
        cq__qdw_epi64_res(&pl->p, E, cn, a0, a1, a2, a3, (const uint8_t *)res + o, yb + o);   \
    else                                                                                      \
        cq__qdw_epi64(E, S8, NOMIN, 0, a0, a1, a2, a3, mp, mm, yb + o);

/* Pixels per vector: 1, or (PIX) pl->pix with stride_w 1, each group of
 * pixels masked to what is left of the row. */
#define DW_GROUP                                                                              \
    if (PIX) {                                                                                \
        cn = (ow - ox < P ? ow - ox : P) * C;                                                 \
        mm = cn >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << cn) - 1);                           \
    }

/* 3 taps in a row, one quad (kh <= 4): the 12 weight vectors stay in
 * registers. y, res at the chunk's first channel of the row's first pixel. */
AI void row_k3_t(const cq_qconv2d_plan *pl, const cq__qdw_epi *E, const uint8_t *buf,
                 const int8_t *wb, const int32_t *cp, const float *mp, __mmask64 m,
                 const void *res, uint8_t *yb, const int S8, const int NOMIN, const int RES,
                 const int PIX)
{
    const cq_conv2d_params *c = &pl->p.c;
    int64_t C = c->c_out, ow = pl->ow, P = PIX ? pl->pix : 1, cn = E->cn;
    int64_t st = PIX ? P * 256 : c->stride_w * 256, dl = c->dil_w * 256, os = P * C;
    __mmask64 mm = m;
    __m512i w00 = _mm512_loadu_si512(wb), w01 = _mm512_loadu_si512(wb + 64),
            w02 = _mm512_loadu_si512(wb + 128), w03 = _mm512_loadu_si512(wb + 192);
    __m512i w10 = _mm512_loadu_si512(wb + 256), w11 = _mm512_loadu_si512(wb + 320),
            w12 = _mm512_loadu_si512(wb + 384), w13 = _mm512_loadu_si512(wb + 448);
    __m512i w20 = _mm512_loadu_si512(wb + 512), w21 = _mm512_loadu_si512(wb + 576),
            w22 = _mm512_loadu_si512(wb + 640), w23 = _mm512_loadu_si512(wb + 704);
    __m512i c0 = _mm512_loadu_si512(cp), c1 = _mm512_loadu_si512(cp + 16),
            c2 = _mm512_loadu_si512(cp + 32), c3 = _mm512_loadu_si512(cp + 48);
    const uint8_t *e = buf;
    for (int64_t ox = 0, o = 0; ox < ow; ox += P, o += os, e += st) {
        DW_GROUP
        __m512i a0 = c0, a1 = c1, a2 = c2, a3 = c3;
        DW_DOT(e, w00, w01, w02, w03)
        DW_DOT(e + dl, w10, w11, w12, w13)
        DW_DOT(e + 2 * dl, w20, w21, w22, w23)
        DW_OUT
    }
}

AI void row_any_t(const cq_qconv2d_plan *pl, const cq__qdw_epi *E, const uint8_t *buf,
                  const int8_t *wb, const int32_t *cp, const float *mp, __mmask64 m,
                  const void *res, uint8_t *yb, const int S8, const int NOMIN, const int RES,
                  const int PIX)
{
    const cq_conv2d_params *c = &pl->p.c;
    int64_t C = c->c_out, ow = pl->ow, P = PIX ? pl->pix : 1, cn = E->cn, kw = c->kw;
    int64_t st = PIX ? 256 : c->stride_w * 256, dl = c->dil_w * 256, os = P * C;
    int64_t iwp = c->w + c->pad_left + c->pad_right, nq = pl->nq;
    __mmask64 mm = m;
    __m512i c0 = _mm512_loadu_si512(cp), c1 = _mm512_loadu_si512(cp + 16),
            c2 = _mm512_loadu_si512(cp + 32), c3 = _mm512_loadu_si512(cp + 48);
    for (int64_t ox = 0, o = 0; ox < ow; ox += P, o += os) {
        DW_GROUP
        __m512i a0 = c0, a1 = c1, a2 = c2, a3 = c3;
        for (int64_t q = 0; q < nq; q++)
            for (int64_t kx = 0; kx < kw; kx++) {
                const uint8_t *e = buf + q * iwp * 256 + ox * st + kx * dl;
                const int8_t *wt = wb + (q * kw + kx) * 256;
                DW_DOT(e, _mm512_loadu_si512(wt), _mm512_loadu_si512(wt + 64),
                       _mm512_loadu_si512(wt + 128), _mm512_loadu_si512(wt + 192))
            }
        DW_OUT
    }
}

/* The epilogue's choices as constants: each variant its own loop. */
#define CQ__QDW_VARIANTS(F, X)                                                                \
    switch ((E->s8 ? 4 : 0) + (E->no_min ? 2 : 0) + (E->res ? 1 : 0)) {                       \
    case 0: F(0, 0, 0, X); break;                                                             \
    case 1: F(0, 0, 1, X); break;                                                             \
    case 2: F(0, 1, 0, X); break;                                                             \
    case 3: F(0, 1, 1, X); break;                                                             \
    case 4: F(1, 0, 0, X); break;                                                             \
    case 5: F(1, 0, 1, X); break;                                                             \
    case 6: F(1, 1, 0, X); break;                                                             \
    default: F(1, 1, 1, X); break;                                                            \
    }

static void row_k3(const cq_qconv2d_plan *pl, const cq__qdw_epi *E, const uint8_t *buf,
                   const int8_t *wb, const int32_t *cp, const float *mp, __mmask64 m,
                   const void *res, uint8_t *yb)
{
#define K3(a, b, c, d) row_k3_t(pl, E, buf, wb, cp, mp, m, res, yb, a, b, c, d)
    if (pl->pix > 1)
        CQ__QDW_VARIANTS(K3, 1)
    else
        CQ__QDW_VARIANTS(K3, 0)
#undef K3
}

static void row_any(const cq_qconv2d_plan *pl, const cq__qdw_epi *E, const uint8_t *buf,
                    const int8_t *wb, const int32_t *cp, const float *mp, __mmask64 m,
                    const void *res, uint8_t *yb)
{
#define KA(a, b, c, d) row_any_t(pl, E, buf, wb, cp, mp, m, res, yb, a, b, c, d)
    if (pl->pix > 1)
        CQ__QDW_VARIANTS(KA, 1)
    else
        CQ__QDW_VARIANTS(KA, 0)
#undef KA
}

/* ---- depthwise: a tail of at most 16 channels ------------------------------ */

/* As build, for the 16 channels at c0 (mask m): 64-byte entries in channel
 * order (dword d: channel d's 4 taps), xmm unpacks. */
static void build16(const cq_qconv2d_plan *pl, const uint8_t *x, int64_t img, int64_t oy,
                    int64_t q, int64_t c0, __mmask16 m, uint8_t *buf)
{
    const cq_qconv2d_params *p = &pl->p;
    const cq_conv2d_params *c = &p->c;
    int64_t C = c->c_in, iwp = c->w + c->pad_left + c->pad_right;
    int64_t zpp = p->x_zp + (p->x_dt == CQ_S8 ? 128 : 0);
    __m128i zpv = _mm_set1_epi8((char)zpp);
    __m128i flip = _mm_set1_epi8(p->x_dt == CQ_S8 ? (char)0x80 : 0);
    const uint8_t *r[4];
    __m128i f[4];
    __mmask16 mk[4];
    for (int k = 0; k < 4; k++) {
        int64_t ky = 4 * q + k, iy = oy * c->stride_h - c->pad_top + ky * c->dil_h;
        int in = ky < c->kh && iy >= 0 && iy < c->h;
        r[k] = in ? x + ((img * c->h + iy) * c->w) * C + c0 : x;
        mk[k] = in ? m : 0;
        f[k] = _mm_xor_si128(ky < c->kh ? zpv : _mm_setzero_si128(), flip);
    }
    uint8_t *e = buf;
    for (int64_t ixp = 0; ixp < iwp; ixp++, e += 64) {
        int64_t ix = ixp - c->pad_left;
        if (ix < 0 || ix >= c->w) {
            _mm512_store_si512(e, _mm512_set1_epi8((char)zpp));
            continue;
        }
        __m128i a0 = _mm_xor_si128(_mm_mask_loadu_epi8(f[0], mk[0], r[0] + ix * C), flip);
        __m128i a1 = _mm_xor_si128(_mm_mask_loadu_epi8(f[1], mk[1], r[1] + ix * C), flip);
        __m128i a2 = _mm_xor_si128(_mm_mask_loadu_epi8(f[2], mk[2], r[2] + ix * C), flip);
        __m128i a3 = _mm_xor_si128(_mm_mask_loadu_epi8(f[3], mk[3], r[3] + ix * C), flip);
        __m128i l01 = _mm_unpacklo_epi8(a0, a1), h01 = _mm_unpackhi_epi8(a0, a1);
        __m128i l23 = _mm_unpacklo_epi8(a2, a3), h23 = _mm_unpackhi_epi8(a2, a3);
        _mm_store_si128((__m128i *)e, _mm_unpacklo_epi16(l01, l23));
        _mm_store_si128((__m128i *)(e + 16), _mm_unpackhi_epi16(l01, l23));
        _mm_store_si128((__m128i *)(e + 32), _mm_unpacklo_epi16(h01, h23));
        _mm_store_si128((__m128i *)(e + 48), _mm_unpackhi_epi16(h01, h23));
    }
}

/* One output row of the tail: a vector of 16 sums per pixel. */
static void row16(const cq_qconv2d_plan *pl, const uint8_t *buf, __mmask16 m, const void *res,
                  uint8_t *yb)
{
    const cq_qconv2d_params *p = &pl->p;
    const cq_conv2d_params *c = &p->c;
    int64_t C = c->c_out, kw = c->kw, nq = pl->nq, ow = pl->ow;
    int64_t iwp = c->w + c->pad_left + c->pad_right, st = c->stride_w * 64, dl = c->dil_w * 64;
    __m512i cp = _mm512_loadu_si512(pl->compt);
    __m512 mu = _mm512_loadu_ps(pl->multt), cap = _mm512_set1_ps(1073741824.0f);
    __m512 ncap = _mm512_set1_ps(-1073741824.0f);
    __m512i zp = _mm512_set1_epi32(p->y_zp), lo = _mm512_set1_epi32(p->y_min),
            hi = _mm512_set1_epi32(p->y_max);
    cq__qconv_resk k = cq__qconv_resk_make(p);
    for (int64_t ox = 0, o = 0; ox < ow; ox++, o += C) {
        __m512i a = cp;
        for (int64_t q = 0; q < nq; q++)
            for (int64_t kx = 0; kx < kw; kx++)
                a = _mm512_dpbusd_epi32(a, _mm512_load_si512(buf + q * iwp * 64 + ox * st +
                                                              kx * dl),
                                        _mm512_loadu_si512(pl->wt + (q * kw + kx) * 64));
        if (res) {
            __m512i r = cq__qconv_ld_resk(&k, (const uint8_t *)res + o, m);
            _mm_mask_storeu_epi8(yb + o, m, cq__qconv_res16k(&k, a, mu, r));
            continue;
        }
        __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(a), mu);
        f = _mm512_max_ps(_mm512_min_ps(f, cap), ncap); /* keeps the clamp's result */
        __m512i v = _mm512_add_epi32(_mm512_cvtps_epi32(f), zp);
        v = _mm512_min_epi32(_mm512_max_epi32(v, lo), hi);
        _mm_mask_storeu_epi8(yb + o, m, _mm512_cvtepi32_epi8(v));
    }
}

void cq__qconv_dw_avx512_rows(const cq_qconv2d_plan *pl, const void *x, const void *res,
                              void *y, int64_t r0, int64_t r1, void *scratch)
{
    const cq_qconv2d_params *p = &pl->p;
    const cq_conv2d_params *c = &p->c;
    int64_t C = c->c_out, oh = pl->oh, ow = pl->ow, kw = c->kw;
    int64_t iwp = c->w + c->pad_left + c->pad_right;
    uint8_t *buf = scratch;
    cq__qdw_epi E;
    E.zp16 = _mm512_set1_epi16((short)p->y_zp);
    E.lo8 = _mm512_set1_epi8((char)p->y_min);
    E.hi8 = _mm512_set1_epi8((char)p->y_max);
    E.cap = _mm512_set1_ps(1073741824.0f);
    E.s8 = p->y_dt == CQ_S8;
    E.no_min = pl->no_min;
    E.res = res != NULL;
    int64_t nb = pl->nch - (pl->tail ? 1 : 0);
    if (dw3(pl)) {
        uint8_t *zl = buf + buf_bytes(pl), *sink = zl + (c->w * c->c_in + 63) / 64 * 64;
        memset(zl, (uint8_t)p->x_zp, (size_t)(c->w * c->c_in));
        cq__qconv_dw3_avx512_rows(pl, &E, x, res, y, r0, r1, nb, zl, sink,
                                  sink + (ow * C + 63) / 64 * 64);
        return;
    }
    for (int64_t r = r0; r < r1; r++) {
        int64_t img = r / oh, oy = r % oh, obase = (img * oh + oy) * ow * C;
        for (int64_t b = 0; b < nb; b++) {
            int64_t c0 = b * 64, cn = C - c0 < 64 && pl->pix == 1 ? C - c0 : 64;
            __mmask64 m = cn == 64 ? ~(__mmask64)0 : (((__mmask64)1 << cn) - 1);
            for (int64_t q = 0; q < pl->nq; q++)
                build(pl, x, img, oy, q, c0, m, buf + q * iwp * 256);
            const int8_t *wb = pl->wd + b * pl->nq * kw * 256;
            const int32_t *cp = pl->comp + c0;
            const float *mp = pl->multp + c0;
            const void *rb = res ? (const uint8_t *)res + obase + c0 : NULL;
            uint8_t *yb = (uint8_t *)y + obase + c0;
            E.mult = pl->mult + c0;
            E.cn = cn;
            if (pl->nq == 1 && kw == 3)
                row_k3(pl, &E, buf, wb, cp, mp, m, rb, yb);
            else
                row_any(pl, &E, buf, wb, cp, mp, m, rb, yb);
        }
        if (pl->tail) {
            int64_t c0 = (pl->nch - 1) * 64;
            __mmask16 m16 = (__mmask16)((1u << pl->tail) - 1);
            for (int64_t q = 0; q < pl->nq; q++)
                build16(pl, x, img, oy, q, c0, m16, buf + q * iwp * 64);
            row16(pl, buf, m16, res ? (const uint8_t *)res + obase + c0 : NULL,
                  (uint8_t *)y + obase + c0);
        }
    }
}
