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

/* exp(x) for x in [-88, 88] (callers clamp): 2^n p(r), x = n ln2 + r, the
 * Cephes polynomial, 2^n by scalef; relative error ~1e-7. */
static inline __m512 exp16(__m512 x)
{
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    x = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    x = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), x);
    __m512 p = _mm512_set1_ps(1.9875691500E-4f);
    p = _mm512_fmadd_ps(p, x, _mm512_set1_ps(1.3981999507E-3f));
    p = _mm512_fmadd_ps(p, x, _mm512_set1_ps(8.3334519073E-3f));
    p = _mm512_fmadd_ps(p, x, _mm512_set1_ps(4.1665795894E-2f));
    p = _mm512_fmadd_ps(p, x, _mm512_set1_ps(1.6666665459E-1f));
    p = _mm512_fmadd_ps(p, x, _mm512_set1_ps(5.0000001201E-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(x, x), _mm512_add_ps(x, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

/* 1 / (1 + exp(-v)): the reciprocal by rcp14 and one Newton step; 0 below
 * v = -87 (and for NaN), where the value would be a denormal: a denormal
 * reaching the next layer's FMAs costs microcode assists (EfficientNet's
 * SiLU outputs made its convolutions several times slower). */
static inline __m512 sigmoid16(__m512 v)
{
    __m512 c = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
    __m512 d = _mm512_add_ps(exp16(_mm512_sub_ps(_mm512_setzero_ps(), c)), _mm512_set1_ps(1.0f));
    __m512 r = _mm512_rcp14_ps(d);
    return _mm512_maskz_mul_ps(_mm512_cmp_ps_mask(v, _mm512_set1_ps(-87.0f), _CMP_GE_OQ), r,
                               _mm512_fnmadd_ps(d, r, _mm512_set1_ps(2.0f)));
}

/* The activations that take an exp (and HardSigmoid), inline: for
 * epilogues that stand apart from their kernel's main loop (the
 * channel-major sgemm's), where inlining costs the other paths nothing. */
static inline __m512 act16_exp_inl(cq_act act, __m512 v)
{
    switch (act.kind) {
    case CQ_ACT_SIGMOID:
        return sigmoid16(v);
    case CQ_ACT_SILU:
        return _mm512_mul_ps(v, sigmoid16(v));
    case CQ_ACT_TANH: {
        /* tanh v = 2 sigmoid(2 v) - 1 */
        __m512 s = sigmoid16(_mm512_add_ps(v, v));
        return _mm512_fmsub_ps(s, _mm512_set1_ps(2.0f), _mm512_set1_ps(1.0f));
    }
    case CQ_ACT_HARDSIGMOID:
        return _mm512_min_ps(_mm512_max_ps(_mm512_fmadd_ps(v, _mm512_set1_ps(act.a),
                                                           _mm512_set1_ps(act.b)),
                                           _mm512_setzero_ps()),
                             _mm512_set1_ps(1.0f));
    default:
        return v;
    }
}

/* The same out of line: inlined into the depthwise and pixel-major kernels
 * their code cost the light activations' paths (the depthwise plane kernel
 * ran 45% slower with act NONE, bench/NOTES.md). */
static __attribute__((noinline, unused)) __m512 act16_exp(cq_act act, __m512 v)
{
    return act16_exp_inl(act, v);
}

/* y[0 .. n) = act(y) for the activations act16 calls out of line (kind >=
 * CQ_ACT_SIGMOID), inline in a loop of its own: the depthwise kernels write
 * a plane or block without them and pass over it here while it is in L1 or
 * L2; a call per output vector in their loops spilled every live register
 * (a SiLU depthwise ran at half the speed of the bare one). */
static inline void act_exp_rows(cq_act act, float *y, int64_t n)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, act16_exp_inl(act, _mm512_loadu_ps(y + i)));
    if (i < n) {
        __mmask16 m = range_mask(0, n - i);
        _mm512_mask_storeu_ps(y + i, m, act16_exp_inl(act, _mm512_maskz_loadu_ps(m, y + i)));
    }
}

/* act_exp_rows over rows rows of n floats, stride apart: a GEMM tile's
 * epilogue stores its sums bare, then calls this once, with no accumulator
 * live, in place of a call per vector that spills them all (calq probe's
 * f32_act_exp, a SiLU 1x1's cost an output: 0.39 ns that way, 0.30-0.36
 * with this). */
static __attribute__((noinline, unused)) void act_exp_tile(cq_act act, float *y, int64_t stride,
                                                           int rows, int64_t n)
{
    for (int r = 0; r < rows; r++)
        act_exp_rows(act, y + r * stride, n);
}

/* act16 with every activation inline (see act16_exp_inl). */
static inline __m512 act16_inl(cq_act act, __m512 v)
{
    if (act.kind >= CQ_ACT_SIGMOID)
        return act16_exp_inl(act, v);
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
    case CQ_ACT_SIGMOID:
    case CQ_ACT_SILU:
    case CQ_ACT_TANH:
    case CQ_ACT_HARDSIGMOID:
        return act16_exp(act, v);
    default:
        return v;
    }
}

#endif
