/* kern_qconv_x86.h - what the AVX-512 int8 convolution files share
 * (kern_qconv_avx512.c, kern_qconv_grp_avx512.c): the residual epilogue of
 * 16 outputs in channel order, QLinearAdd's arithmetic (kern_qconv.h, add). */
#ifndef CQ_KERN_QCONV_X86_H
#define CQ_KERN_QCONV_X86_H

#include <immintrin.h>

#include "kern/kern_qconv.h"

/* 16 outputs from sums a (bias included), multipliers m, residual codes r. */
static inline __attribute__((always_inline)) __m128i cq__qconv_res16(const cq_qconv2d_params *p, __m512i a, __m512 m, __m512i r)
{
    const cq_qconv2d_add *ad = &p->add;
    __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(a), m);
    f = _mm512_roundscale_ps(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    f = _mm512_add_ps(f, _mm512_set1_ps((float)ad->q_zp));
    f = _mm512_min_ps(_mm512_max_ps(f, _mm512_set1_ps((float)ad->q_min)),
                      _mm512_set1_ps((float)ad->q_max));
    __m512 rf = _mm512_cvtepi32_ps(r), fix = _mm512_set1_ps(ad->fixed);
    __m512 v = ad->res_first ? _mm512_fmadd_ps(rf, _mm512_set1_ps(ad->ra),
                                               _mm512_fmadd_ps(f, _mm512_set1_ps(ad->rb), fix))
                             : _mm512_fmadd_ps(f, _mm512_set1_ps(ad->ra),
                                               _mm512_fmadd_ps(rf, _mm512_set1_ps(ad->rb), fix));
    v = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps((float)p->y_min)),
                      _mm512_set1_ps((float)p->y_max));
    return _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(v));
}

static inline __attribute__((always_inline)) __m512i cq__qconv_ld_res(const cq_qconv2d_params *p, const void *res, __mmask16 m)
{
    __m128i r8 = _mm_maskz_loadu_epi8(m, res);
    return p->y_dt == CQ_S8 ? _mm512_cvtepi8_epi32(r8) : _mm512_cvtepu8_epi32(r8);
}

#endif
