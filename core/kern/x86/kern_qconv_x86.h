/* kern_qconv_x86.h - what the AVX-512 int8 convolution files share
 * (kern_qconv_avx512.c, kern_qconv_grp_avx512.c, kern_qconv_dw3_avx512.c):
 * the residual epilogue of 16 outputs in channel order, QLinearAdd's
 * arithmetic (kern_qconv.h, add), and the depthwise kernels' epilogue of 64
 * outputs in lane order. */
#ifndef CQ_KERN_QCONV_X86_H
#define CQ_KERN_QCONV_X86_H

#include <immintrin.h>

#include "kern/kern_qconv.h"

/* QLinearAdd's constants (kern_qconv.h, add) as vectors, made once a run:
 * the stores to y are char stores, which the compiler must assume alias the
 * plan, so read from p each field was loaded and converted again for every
 * 16 outputs (BlazeFace's int8 24 > 24 1x1s with their residual spent four
 * fifths of their time in that epilogue). Copy it to a local before a loop
 * of stores so that it stays in registers. */
typedef struct cq__qconv_resk {
    __m512 qzp, qmin, qmax, fix, ra, rb, ymin, ymax;
    int first, s8;
} cq__qconv_resk;

static inline __attribute__((always_inline)) cq__qconv_resk
cq__qconv_resk_make(const cq_qconv2d_params *p)
{
    const cq_qconv2d_add *ad = &p->add;
    cq__qconv_resk k;
    k.qzp = _mm512_set1_ps((float)ad->q_zp);
    k.qmin = _mm512_set1_ps((float)ad->q_min);
    k.qmax = _mm512_set1_ps((float)ad->q_max);
    k.fix = _mm512_set1_ps(ad->fixed);
    k.ra = _mm512_set1_ps(ad->ra);
    k.rb = _mm512_set1_ps(ad->rb);
    k.ymin = _mm512_set1_ps((float)p->y_min);
    k.ymax = _mm512_set1_ps((float)p->y_max);
    k.first = ad->res_first;
    k.s8 = p->y_dt == CQ_S8;
    return k;
}

/* 16 outputs from sums a (bias included), multipliers m, residual codes r. */
static inline __attribute__((always_inline)) __m128i
cq__qconv_res16k(const cq__qconv_resk *k, __m512i a, __m512 m, __m512i r)
{
    __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(a), m);
    f = _mm512_roundscale_ps(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    f = _mm512_add_ps(f, k->qzp);
    f = _mm512_min_ps(_mm512_max_ps(f, k->qmin), k->qmax);
    __m512 rf = _mm512_cvtepi32_ps(r);
    __m512 v = k->first ? _mm512_fmadd_ps(rf, k->ra, _mm512_fmadd_ps(f, k->rb, k->fix))
                        : _mm512_fmadd_ps(f, k->ra, _mm512_fmadd_ps(rf, k->rb, k->fix));
    v = _mm512_min_ps(_mm512_max_ps(v, k->ymin), k->ymax);
    return _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(v));
}

/* The residual codes of 16 outputs (m: those there are). */
static inline __attribute__((always_inline)) __m512i
cq__qconv_ld_resk(const cq__qconv_resk *k, const void *res, __mmask16 m)
{
    __m128i r8 = _mm_maskz_loadu_epi8(m, res);
    return k->s8 ? _mm512_cvtepi8_epi32(r8) : _mm512_cvtepu8_epi32(r8);
}

static inline __attribute__((always_inline)) __mmask16 cq__qconv_mask16(int64_t left)
{
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

/* ---- the depthwise interleave (kern_qconv_dw3_avx512.c, kern_qconv_dwf_avx512.c) ---- */

/* 64 bytes of 4 input rows a0..a3 interleaved for vpdpbusd: dword 4 L + i of
 * vector j holds byte 16 L + 4 j + i of each row (the dw lane order); FLIP:
 * s8 bytes flipped to u8 first (xor flip). */
typedef struct cq__qdw_ent {
    __m512i v0, v1, v2, v3;
} cq__qdw_ent;

static inline __attribute__((always_inline)) cq__qdw_ent
cq__qdw_interleave(__m512i a0, __m512i a1, __m512i a2, __m512i a3, __m512i flip, const int FLIP)
{
    if (FLIP) {
        a0 = _mm512_xor_si512(a0, flip);
        a1 = _mm512_xor_si512(a1, flip);
        a2 = _mm512_xor_si512(a2, flip);
        a3 = _mm512_xor_si512(a3, flip);
    }
    __m512i l01 = _mm512_unpacklo_epi8(a0, a1), h01 = _mm512_unpackhi_epi8(a0, a1);
    __m512i l23 = _mm512_unpacklo_epi8(a2, a3), h23 = _mm512_unpackhi_epi8(a2, a3);
    cq__qdw_ent e;
    e.v0 = _mm512_unpacklo_epi16(l01, l23);
    e.v1 = _mm512_unpackhi_epi16(l01, l23);
    e.v2 = _mm512_unpacklo_epi16(h01, h23);
    e.v3 = _mm512_unpackhi_epi16(h01, h23);
    return e;
}

/* Dwords s.. (1 to 15) of the entries lo, hi end to end: the bytes 4 s
 * further along each row (s a multiple of 4: whole 16-byte lanes). */
static inline __attribute__((always_inline)) cq__qdw_ent
cq__qdw_lanes(const cq__qdw_ent *lo, const cq__qdw_ent *hi, const int s)
{
    cq__qdw_ent e;
    e.v0 = _mm512_alignr_epi32(hi->v0, lo->v0, s);
    e.v1 = _mm512_alignr_epi32(hi->v1, lo->v1, s);
    e.v2 = _mm512_alignr_epi32(hi->v2, lo->v2, s);
    e.v3 = _mm512_alignr_epi32(hi->v3, lo->v3, s);
    return e;
}

/* ---- the depthwise epilogue (kern_qconv_avx512.c, kern_qconv_dw3_avx512.c) ---- */

/* What the epilogue needs, in registers (the stores to y are char stores,
 * which the compiler must assume alias the plan). */
typedef struct cq__qdw_epi {
    __m512i zp16, lo8, hi8;
    __m512 cap;
    int s8, no_min, res;
    const float *mult; /* channel order (residual) */
    int64_t cn;
} cq__qdw_epi;

static inline __attribute__((always_inline)) __m512i cq__qdw_codes16(__m512i a, const float *mp,
                                                                    __m512 cap, int no_min)
{
    __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(a), _mm512_loadu_ps(mp));
    if (!no_min) /* beyond int32 vcvtps2dq gives INT32_MIN: keep large ones large */
        f = _mm512_min_ps(f, cap);
    return _mm512_cvtps_epi32(f);
}

/* 64 codes of one pixel from the 4 sum vectors in the dw lane order
 * (kern_qconv_internal.h; mp: the multipliers in lane order), in channel
 * order: packs of dwords then words undo the lane order. plain: y_zp is 0 and
 * [y_min, y_max] the dtype's whole range, which the saturating packs give
 * alone (no add, no clamp). */
static inline __attribute__((always_inline)) __m512i
cq__qdw_codes64(const cq__qdw_epi *E, const int s8, const int no_min, const int plain,
                __m512i a0, __m512i a1, __m512i a2, __m512i a3, const float *mp)
{
    __m512i v0 = cq__qdw_codes16(a0, mp, E->cap, no_min);
    __m512i v1 = cq__qdw_codes16(a1, mp + 16, E->cap, no_min);
    __m512i v2 = cq__qdw_codes16(a2, mp + 32, E->cap, no_min);
    __m512i v3 = cq__qdw_codes16(a3, mp + 48, E->cap, no_min);
    __m512i w01 = _mm512_packs_epi32(v0, v1), w23 = _mm512_packs_epi32(v2, v3);
    if (plain)
        return s8 ? _mm512_packs_epi16(w01, w23) : _mm512_packus_epi16(w01, w23);
    w01 = _mm512_adds_epi16(w01, E->zp16);
    w23 = _mm512_adds_epi16(w23, E->zp16);
    if (s8)
        return _mm512_min_epi8(_mm512_max_epi8(_mm512_packs_epi16(w01, w23), E->lo8), E->hi8);
    return _mm512_min_epu8(_mm512_max_epu8(_mm512_packus_epi16(w01, w23), E->lo8), E->hi8);
}

/* The same to y (m: the bytes to store). */
static inline __attribute__((always_inline)) void
cq__qdw_epi64(const cq__qdw_epi *E, const int s8, const int no_min, const int plain,
              __m512i a0, __m512i a1, __m512i a2, __m512i a3, const float *mp, __mmask64 m,
              uint8_t *y)
{
    _mm512_mask_storeu_epi8(y, m, cq__qdw_codes64(E, s8, no_min, plain, a0, a1, a2, a3, mp));
}

/* The same with a residual (res, y at the same place; cn bytes): lane order
 * to channel order (a 4 x 4 transpose of 128-bit lanes), then res16 with
 * E->mult in channel order. */
static inline void cq__qdw_epi64_res(const cq_qconv2d_params *p, const cq__qdw_epi *E,
                                     int64_t cn, __m512i a0, __m512i a1, __m512i a2,
                                     __m512i a3, const uint8_t *res, uint8_t *y)
{
    __m512i t0 = _mm512_shuffle_i32x4(a0, a1, 0x44), t1 = _mm512_shuffle_i32x4(a0, a1, 0xEE);
    __m512i t2 = _mm512_shuffle_i32x4(a2, a3, 0x44), t3 = _mm512_shuffle_i32x4(a2, a3, 0xEE);
    __m512i nv[4] = {_mm512_shuffle_i32x4(t0, t2, 0x88), _mm512_shuffle_i32x4(t0, t2, 0xDD),
                     _mm512_shuffle_i32x4(t1, t3, 0x88), _mm512_shuffle_i32x4(t1, t3, 0xDD)};
    cq__qconv_resk k = cq__qconv_resk_make(p);
    for (int L = 0; L < 4 && 16 * L < cn; L++) {
        __mmask16 m = cq__qconv_mask16(cn - 16 * L);
        __m512 mu = _mm512_maskz_loadu_ps(m, E->mult + 16 * L);
        __m512i r = cq__qconv_ld_resk(&k, res + 16 * L, m);
        _mm_mask_storeu_epi8(y + 16 * L, m, cq__qconv_res16k(&k, nv[L], mu, r));
    }
}

/* The same for npx pixels of 16 channels (kern_qconv_dw3_avx512.c's tail: a
 * chunk of 4 pixels), pixel L at res, y + L * ps, tm its channels; E->mult the
 * 16 channels' multipliers in channel order. */
static inline void cq__qdw_epi64_res_px(const cq_qconv2d_params *p, const cq__qdw_epi *E,
                                        int64_t npx, int64_t ps, __mmask16 tm, __m512i a0,
                                        __m512i a1, __m512i a2, __m512i a3, const uint8_t *res,
                                        uint8_t *y)
{
    __m512i t0 = _mm512_shuffle_i32x4(a0, a1, 0x44), t1 = _mm512_shuffle_i32x4(a0, a1, 0xEE);
    __m512i t2 = _mm512_shuffle_i32x4(a2, a3, 0x44), t3 = _mm512_shuffle_i32x4(a2, a3, 0xEE);
    __m512i nv[4] = {_mm512_shuffle_i32x4(t0, t2, 0x88), _mm512_shuffle_i32x4(t0, t2, 0xDD),
                     _mm512_shuffle_i32x4(t1, t3, 0x88), _mm512_shuffle_i32x4(t1, t3, 0xDD)};
    __m512 mu = _mm512_maskz_loadu_ps(tm, E->mult);
    cq__qconv_resk k = cq__qconv_resk_make(p);
    for (int L = 0; L < 4 && L < npx; L++) {
        __m512i r = cq__qconv_ld_resk(&k, res + L * ps, tm);
        _mm_mask_storeu_epi8(y + L * ps, tm, cq__qconv_res16k(&k, nv[L], mu, r));
    }
}

/* Depthwise 3x3, stride 1, dilation 1, two output rows per pass
 * (kern_qconv_dw3_avx512.c): output rows [r0, r1) of (n * oh), the 64-channel
 * chunks below nb, x, res, y NHWC; E the epilogue's constants; zl a row of w *
 * c_in zero-point bytes (x's dtype), sink one of ow * c_out scratch bytes; with
 * pl->tail, tq 5 rows of w * 16 scratch bytes (each rounded up to 64): the
 * tail's input rows copied compactly; with 32 channels (pl->pix 2, no tail)
 * tq is (3 ceil(ow / 2) + 6) * 128 bytes, 64-byte aligned: the halves'
 * scratch (below). */
void cq__qconv_dw3_avx512_rows(const cq_qconv2d_plan *pl, const cq__qdw_epi *E, const void *x,
                               const void *res, void *y, int64_t r0, int64_t r1, int64_t nb,
                               const uint8_t *zl, uint8_t *sink, uint8_t *tq);

/* One two-row pass of the 32-channel depthwise 3x3/1 without a residual, a
 * vector holding output pixels g and g + ow2 (ow2 = ceil(ow / 2),
 * kern_qconv_dw3h_avx512.c): rows the 4 input rows (oy - pad_top .. + 3, x's
 * dtype), ya and yb the 2 output rows; hb (3 ow2 + 6) * 128 bytes of
 * scratch, 64-byte aligned: two buffers of (ow2 + 3) * 128, the kept byte
 * interleaves of two input rows, then ow2 * 128. The pass leaves its rows 2
 * and 3's interleaves in buffer 1 - par; reuse 1: buffer
 * par holds this pass's rows 0 and 1's (the last pass's rows 2 and 3, par
 * flipped since). plain as cq__qdw_codes64's. */
void cq__qconv_dw3h_avx512_pass(const cq_qconv2d_plan *pl, const cq__qdw_epi *E,
                                const uint8_t *const *rows, uint8_t *ya, uint8_t *yb,
                                uint8_t *hb, int par, int reuse, int plain);

/* The same for the whole 64-channel chunk b of a pass with one pixel a
 * vector (pl->pix 1, no residual): rows and ya, yb at the chunk's first
 * channel; hb the chunk 0's kept rows, 2 (ow + 3) * 128 bytes a chunk, after
 * ow * 128 bytes of word rows (hb - ow * 128), 64-byte aligned. */
/* One two-row pass on flat rows (kern_qconv_dwf_avx512.c; pl->nph > 0): rw
 * the 4 input rows (x's dtype, zl outside the input), ya and yb the 2 output
 * rows; plain as cq__qdw_codes64's. */
void cq__qconv_dwf_avx512_pass(const cq_qconv2d_plan *pl, const uint8_t *const *rw, uint8_t *ya,
                               uint8_t *yb, int plain);

void cq__qconv_dw3h_avx512_chunk(const cq_qconv2d_plan *pl, const cq__qdw_epi *E,
                                 const uint8_t *const *rows, int64_t b, uint8_t *ya,
                                 uint8_t *yb, uint8_t *hb, int par, int reuse, int plain);

#endif
