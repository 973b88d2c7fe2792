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
 * The epilogue packs the 4 sum vectors into 64 bytes in channel order
 * (packs of dwords then words undo the lane order), the same float
 * operations as cq_requantize; a residual runs in channel order after a 4 x
 * 4 transpose of 128-bit lanes. */
#include "kern/kern_qconv_internal.h"

#include <immintrin.h>
#include <string.h>

#define AI static inline __attribute__((always_inline))

/* ---- the residual epilogue (channel order) ------------------------------ */

/* 16 outputs from sums a (bias included), multipliers m, residual codes r. */
AI __m128i res16(const cq_qconv2d_params *p, __m512i a, __m512 m, __m512i r)
{
    const cq_qconv2d_add *ad = &p->add;
    __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(a), m);
    f = _mm512_roundscale_ps(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    f = _mm512_add_ps(f, _mm512_set1_ps((float)ad->q_zp));
    f = _mm512_min_ps(_mm512_max_ps(f, _mm512_set1_ps((float)ad->q_min)),
                      _mm512_set1_ps((float)ad->q_max));
    __m512 v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(r), _mm512_set1_ps(ad->rb),
                               _mm512_set1_ps(ad->fixed));
    v = _mm512_fmadd_ps(f, _mm512_set1_ps(ad->ra), v);
    v = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps((float)p->y_min)),
                      _mm512_set1_ps((float)p->y_max));
    return _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(v));
}

AI __m512i ld_res(const cq_qconv2d_params *p, const void *res, __mmask16 m)
{
    __m128i r8 = _mm_maskz_loadu_epi8(m, res);
    return p->y_dt == CQ_S8 ? _mm512_cvtepi8_epi32(r8) : _mm512_cvtepu8_epi32(r8);
}

AI __mmask16 mask16(int64_t left)
{
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

void cq__qconv_res_rows_avx512(const cq_qconv2d_params *p, const float *mult,
                               const int32_t *acc, int64_t rows, int64_t j0, int64_t j1,
                               const void *res, void *y)
{
    int64_t N = p->c.c_out;
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = j0; j < j1; j += 16) {
            __mmask16 m = mask16(j1 - j);
            __m512i a = _mm512_maskz_loadu_epi32(m, acc + i * N + j);
            __m512 mu = _mm512_maskz_loadu_ps(m, mult + j);
            __m512i r = ld_res(p, (const char *)res + i * N + j, m);
            _mm_mask_storeu_epi8((char *)y + i * N + j, m, res16(p, a, mu, r));
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
}

size_t cq__qconv_dw_avx512_scratch(const cq_qconv2d_plan *pl)
{
    const cq_conv2d_params *c = &pl->p.c;
    return (size_t)(pl->nq * (c->w + c->pad_left + c->pad_right)) * 256;
}

/* ---- depthwise: the row buffer ------------------------------------------ */

AI __m512i ld_row(const uint8_t *src, __mmask64 m, __m512i flip)
{
    return _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, src), flip);
}

/* Quad q of output row oy of image img, chunk at channel c0 (cn channels),
 * into buf: iwp entries of 256 bytes. */
static void build(const cq_qconv2d_plan *pl, const uint8_t *x, int64_t img, int64_t oy,
                  int64_t q, int64_t c0, __mmask64 m, uint8_t *buf)
{
    const cq_qconv2d_params *p = &pl->p;
    const cq_conv2d_params *c = &p->c;
    int64_t C = c->c_in, iwp = c->w + c->pad_left + c->pad_right;
    int64_t zpp = p->x_zp + (p->x_dt == CQ_S8 ? 128 : 0);
    __m512i zpv = _mm512_set1_epi8((char)zpp), zero = _mm512_setzero_si512();
    __m512i flip = _mm512_set1_epi8(p->x_dt == CQ_S8 ? (char)0x80 : 0);
    const uint8_t *rows[4];
    int kind[4]; /* 0: past the kernel, 1: padding row, 2: input row */
    for (int k = 0; k < 4; k++) {
        int64_t ky = 4 * q + k, iy = oy * c->stride_h - c->pad_top + ky * c->dil_h;
        kind[k] = ky >= c->kh ? 0 : iy < 0 || iy >= c->h ? 1 : 2;
        rows[k] = kind[k] == 2 ? x + ((img * c->h + iy) * c->w) * C + c0 : NULL;
    }
    uint8_t *e = buf;
    for (int64_t ixp = 0; ixp < c->pad_left && ixp < iwp; ixp++, e += 256)
        for (int j = 0; j < 4; j++)
            _mm512_store_si512(e + 64 * j, zpv);
    for (int64_t ix = 0; ix < c->w; ix++, e += 256) {
        __m512i a[4];
        for (int k = 0; k < 4; k++)
            a[k] = kind[k] == 2 ? ld_row(rows[k] + ix * C, m, flip) : kind[k] ? zpv : zero;
        __m512i l01 = _mm512_unpacklo_epi8(a[0], a[1]), h01 = _mm512_unpackhi_epi8(a[0], a[1]);
        __m512i l23 = _mm512_unpacklo_epi8(a[2], a[3]), h23 = _mm512_unpackhi_epi8(a[2], a[3]);
        _mm512_store_si512(e, _mm512_unpacklo_epi16(l01, l23));
        _mm512_store_si512(e + 64, _mm512_unpackhi_epi16(l01, l23));
        _mm512_store_si512(e + 128, _mm512_unpacklo_epi16(h01, h23));
        _mm512_store_si512(e + 192, _mm512_unpackhi_epi16(h01, h23));
    }
    for (int64_t ixp = c->pad_left + c->w; ixp < iwp; ixp++, e += 256)
        for (int j = 0; j < 4; j++)
            _mm512_store_si512(e + 64 * j, zpv);
}

/* ---- depthwise: the epilogue -------------------------------------------- */

/* 64 codes of one pixel from the 4 sum vectors in lane order, to y (m: the
 * chunk's channels). */
AI void epi64(const cq_qconv2d_plan *pl, const __m512i *acc, const float *mp, __mmask64 m,
              uint8_t *y)
{
    const cq_qconv2d_params *p = &pl->p;
    __m512i v[4];
    for (int j = 0; j < 4; j++) {
        __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(acc[j]), _mm512_loadu_ps(mp + 16 * j));
        if (!pl->no_min) /* beyond int32 vcvtps2dq gives INT32_MIN: keep large ones large */
            f = _mm512_min_ps(f, _mm512_set1_ps(1073741824.0f));
        v[j] = _mm512_cvtps_epi32(f);
    }
    __m512i zp = _mm512_set1_epi16((short)p->y_zp);
    __m512i w01 = _mm512_adds_epi16(_mm512_packs_epi32(v[0], v[1]), zp);
    __m512i w23 = _mm512_adds_epi16(_mm512_packs_epi32(v[2], v[3]), zp);
    __m512i b;
    if (p->y_dt == CQ_S8) {
        b = _mm512_packs_epi16(w01, w23);
        b = _mm512_min_epi8(_mm512_max_epi8(b, _mm512_set1_epi8((char)p->y_min)),
                            _mm512_set1_epi8((char)p->y_max));
    } else {
        b = _mm512_packus_epi16(w01, w23);
        b = _mm512_min_epu8(_mm512_max_epu8(b, _mm512_set1_epi8((char)p->y_min)),
                            _mm512_set1_epi8((char)p->y_max));
    }
    _mm512_mask_storeu_epi8(y, m, b);
}

/* The same with a residual: lane order to channel order, then res16. */
AI void epi64_res(const cq_qconv2d_plan *pl, const __m512i *acc, const float *mult, int64_t cn,
                  const uint8_t *res, uint8_t *y)
{
    __m512i t0 = _mm512_shuffle_i32x4(acc[0], acc[1], 0x44);
    __m512i t1 = _mm512_shuffle_i32x4(acc[0], acc[1], 0xEE);
    __m512i t2 = _mm512_shuffle_i32x4(acc[2], acc[3], 0x44);
    __m512i t3 = _mm512_shuffle_i32x4(acc[2], acc[3], 0xEE);
    __m512i nv[4] = {_mm512_shuffle_i32x4(t0, t2, 0x88), _mm512_shuffle_i32x4(t0, t2, 0xDD),
                     _mm512_shuffle_i32x4(t1, t3, 0x88), _mm512_shuffle_i32x4(t1, t3, 0xDD)};
    for (int L = 0; L < 4 && 16 * L < cn; L++) {
        __mmask16 m = mask16(cn - 16 * L);
        __m512 mu = _mm512_maskz_loadu_ps(m, mult + 16 * L);
        __m512i r = ld_res(&pl->p, res + 16 * L, m);
        _mm_mask_storeu_epi8(y + 16 * L, m, res16(&pl->p, nv[L], mu, r));
    }
}

/* ---- depthwise: one output row of one chunk ----------------------------- */

#define DW_ACC_INIT                                                                           \
    __m512i acc[4];                                                                           \
    for (int j = 0; j < 4; j++)                                                               \
        acc[j] = _mm512_loadu_si512(cp + 16 * j);

AI void dw_out(const cq_qconv2d_plan *pl, const __m512i *acc, int64_t o, int64_t c0,
               int64_t cn, __mmask64 m, const void *res, void *y)
{
    o += c0;
    if (res)
        epi64_res(pl, acc, pl->mult + c0, cn, (const uint8_t *)res + o, (uint8_t *)y + o);
    else
        epi64(pl, acc, pl->multp + c0, m, (uint8_t *)y + o);
}

/* 3 taps in a row, one quad (kh <= 4): the 12 weight vectors stay in
 * registers. */
static void row_k3(const cq_qconv2d_plan *pl, const uint8_t *buf, const int8_t *wb,
                   const int32_t *cp, int64_t obase, int64_t c0, int64_t cn, __mmask64 m,
                   const void *res, void *y)
{
    const cq_conv2d_params *c = &pl->p.c;
    int64_t sw = c->stride_w, dw = c->dil_w, C = c->c_out;
    __m512i w[3][4];
    for (int kx = 0; kx < 3; kx++)
        for (int j = 0; j < 4; j++)
            w[kx][j] = _mm512_loadu_si512(wb + (kx * 4 + j) * 64);
    for (int64_t ox = 0; ox < pl->ow; ox++) {
        DW_ACC_INIT
        for (int kx = 0; kx < 3; kx++) {
            const uint8_t *e = buf + (ox * sw + kx * dw) * 256;
            for (int j = 0; j < 4; j++)
                acc[j] = _mm512_dpbusd_epi32(acc[j], _mm512_load_si512(e + 64 * j), w[kx][j]);
        }
        dw_out(pl, acc, obase + ox * C, c0, cn, m, res, y);
    }
}

static void row_any(const cq_qconv2d_plan *pl, const uint8_t *buf, const int8_t *wb,
                    const int32_t *cp, int64_t obase, int64_t c0, int64_t cn, __mmask64 m,
                    const void *res, void *y)
{
    const cq_conv2d_params *c = &pl->p.c;
    int64_t sw = c->stride_w, dw = c->dil_w, C = c->c_out, kw = c->kw;
    int64_t iwp = c->w + c->pad_left + c->pad_right;
    for (int64_t ox = 0; ox < pl->ow; ox++) {
        DW_ACC_INIT
        for (int64_t q = 0; q < pl->nq; q++)
            for (int64_t kx = 0; kx < kw; kx++) {
                const uint8_t *e = buf + (q * iwp + ox * sw + kx * dw) * 256;
                const int8_t *wt = wb + (q * kw + kx) * 256;
                for (int j = 0; j < 4; j++)
                    acc[j] = _mm512_dpbusd_epi32(acc[j], _mm512_load_si512(e + 64 * j),
                                                 _mm512_loadu_si512(wt + 64 * j));
            }
        dw_out(pl, acc, obase + ox * C, c0, cn, m, res, y);
    }
}

void cq__qconv_dw_avx512_rows(const cq_qconv2d_plan *pl, const void *x, const void *res,
                              void *y, int64_t r0, int64_t r1, void *scratch)
{
    const cq_conv2d_params *c = &pl->p.c;
    int64_t C = c->c_out, oh = pl->oh, ow = pl->ow, kw = c->kw;
    int64_t iwp = c->w + c->pad_left + c->pad_right;
    uint8_t *buf = scratch;
    for (int64_t r = r0; r < r1; r++) {
        int64_t img = r / oh, oy = r % oh, obase = (img * oh + oy) * ow * C;
        for (int64_t b = 0; b < pl->nch; b++) {
            int64_t c0 = b * 64, cn = C - c0 < 64 ? C - c0 : 64;
            __mmask64 m = cn == 64 ? ~(__mmask64)0 : (((__mmask64)1 << cn) - 1);
            for (int64_t q = 0; q < pl->nq; q++)
                build(pl, x, img, oy, q, c0, m, buf + q * iwp * 256);
            const int8_t *wb = pl->wd + b * pl->nq * kw * 256;
            const int32_t *cp = pl->comp + b * 64;
            if (pl->nq == 1 && kw == 3)
                row_k3(pl, buf, wb, cp, obase, c0, cn, m, res, y);
            else
                row_any(pl, buf, wb, cp, obase, c0, cn, m, res, y);
        }
    }
}
