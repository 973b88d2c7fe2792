/* kern_testutil.h - helpers shared by the kernel tests: a seeded generator,
 * named tolerances, and the list of instruction sets to run every test on. */
#ifndef KERN_TESTUTIL_H
#define KERN_TESTUTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "kern.h"

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

#endif
