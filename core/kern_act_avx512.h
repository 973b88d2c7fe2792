/* kern_act_avx512.h - the fused activations on 16 floats, shared by the AVX-512
 * GEMM epilogues (include only from files built with the AVX-512 flags). The
 * scalar definitions they must match are cq_act's in kern.h. */
#ifndef CQ_KERN_ACT_AVX512_H
#define CQ_KERN_ACT_AVX512_H

#include <immintrin.h>
#include "kern.h"

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
