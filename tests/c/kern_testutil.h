/* kern_testutil.h - helpers shared by the kernel tests: a seeded generator,
 * named tolerances, and the list of instruction sets to run every test on. */
#ifndef KERN_TESTUTIL_H
#define KERN_TESTUTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "kern/kern.h"

/* fp32 kernels against double-accumulating loops: |got - want| <=
 * RTOL * |want| + ATOL * reduction length. */
#define KT_RTOL 1e-4
#define KT_ATOL 1e-5

typedef struct kt_rng {
    uint64_t s;
} kt_rng;

static inline uint32_t kt_u32(kt_rng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return (uint32_t)(r->s >> 11);
}

/* integer in [lo, hi] */
static inline int64_t kt_int(kt_rng *r, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(kt_u32(r) % (uint32_t)(hi - lo + 1));
}

/* float in [-1, 1) */
static inline float kt_f(kt_rng *r)
{
    return (float)((double)kt_u32(r) / 2147483648.0 - 1.0);
}

static inline void kt_fill(kt_rng *r, float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = kt_f(r);
}

/* Index of the first element off tolerance, or -1. */
static inline int64_t kt_mismatch(const float *got, const float *want, int64_t n, int64_t red)
{
    for (int64_t i = 0; i < n; i++) {
        double tol = KT_RTOL * fabs((double)want[i]) + KT_ATOL * (double)(red > 0 ? red : 1);
        if (!(fabs((double)got[i] - (double)want[i]) <= tol) &&
            !(isinf(got[i]) && got[i] == want[i]))
            return i;
    }
    return -1;
}

#define KT_ISAS {CQ_ISA_SCALAR, CQ_ISA_AVX2, CQ_ISA_AVX512}

/* The activation on a double, as the kernels define it in float. */
static inline float act_naive(cq_act a, double v)
{
    switch (a.kind) {
    case CQ_ACT_RELU:
        return (float)(v > 0 ? v : 0);
    case CQ_ACT_CLIP:
        return (float)(v < a.a ? a.a : (v > a.b ? a.b : v));
    case CQ_ACT_LEAKY:
        return (float)(v >= 0 ? v : a.a * v);
    case CQ_ACT_HARDSWISH:
        return (float)(v * fmin(fmax(v + 3, 0), 6) / 6);
    case CQ_ACT_SIGMOID:
        return (float)(1 / (1 + exp(-v)));
    case CQ_ACT_SILU:
        return (float)(v / (1 + exp(-v)));
    case CQ_ACT_HARDSIGMOID:
        return (float)fmax(0, fmin(1, a.a * v + a.b));
    case CQ_ACT_TANH:
        return (float)tanh(v);
    default:
        return (float)v;
    }
}

/* A random fused activation with fixed parameters. */
static inline cq_act random_act(kt_rng *r)
{
    cq_act a = {(cq_act_kind)kt_int(r, 0, CQ_ACT_COUNT - 1), 0.0f, 0.0f};
    if (a.kind == CQ_ACT_CLIP) {
        a.a = -0.3f;
        a.b = 0.4f;
    } else if (a.kind == CQ_ACT_LEAKY) {
        a.a = 0.1f;
    } else if (a.kind == CQ_ACT_HARDSIGMOID) {
        a.a = 0.2f;
        a.b = 0.5f;
    }
    return a;
}

#endif
