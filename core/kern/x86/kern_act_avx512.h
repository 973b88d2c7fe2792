/* kern_act_avx512.h - the fused activations on 16 floats, shared by the AVX-512
 * GEMM epilogues, and the lane masks the AVX-512 kernels share (include only
 * from files built with the AVX-512 flags). The scalar definitions the
 * activations must match are cq_act's in kern.h. */
#ifndef CQ_KERN_ACT_AVX512_H
#define CQ_KERN_ACT_AVX512_H

#include <immintrin.h>
#include <stdint.h>
#include "kern/kern.h"

/* Lanes i of 16 with 0 <= start + i < len. */
static inline __mmask16 range_mask(int64_t start, int64_t len)
{
    int64_t lo = start < 0 ? -start : 0, hi = len - start;
    if (hi > 16)
        hi = 16;
    if (hi <= lo)
        return 0;
    return (__mmask16)((((uint32_t)1 << hi) - 1u) & ~(((uint32_t)1 << lo) - 1u));
}

static inline __m512 act16(cq_act act, __m512 v)
{
    switch (act.kind) {
    case CQ_ACT_RELU:
        return _mm512_max_ps(v, _mm512_setzero_ps());
    case CQ_ACT_CLIP:
        return _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(act.a)), _mm512_set1_ps(act.b));
    case CQ_ACT_LEAKY: {
        __m512 z = _mm512_setzero_ps();
        return _mm512_fmadd_ps(_mm512_min_ps(v, z), _mm512_set1_ps(act.a), _mm512_max_ps(v, z));
    }
    case CQ_ACT_HARDSWISH: {
        __m512 t = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(v, _mm512_set1_ps(3.0f)),
                                               _mm512_setzero_ps()),
                                 _mm512_set1_ps(6.0f));
        return _mm512_mul_ps(_mm512_mul_ps(v, t), _mm512_set1_ps(1.0f / 6.0f));
    }
    default:
        return v;
    }
}

#endif
