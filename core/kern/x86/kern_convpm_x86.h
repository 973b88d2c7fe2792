/* kern_convpm_x86.h - the input side of the pixel-major GEMM
 * (kern_convpm_avx512.c), in kern_convpm_fill_avx512.c: the zero-padded copy
 * of a row group's input rows the direct path broadcasts from, and the
 * per-k-block row packing of the few-channel stems. */
#ifndef CQ_KERN_CONVPM_X86_H
#define CQ_KERN_CONVPM_X86_H

#include <immintrin.h>
#include <stdint.h>

#include "kern/kern.h"

/* Where a packed row's 16-pixel chunk q of tap column kx reads: lane l is
 * input column off + s l (s = stride_w), valid where mask bit s l (s 1) or
 * bit l of the two-vector mask pair (s 2) is set. */
typedef struct chunk_src {
    int64_t off;
    __mmask16 m0, m1;
} chunk_src;

/* chunk_src for every (kx, chunk) of output rows ow wide in nq chunks:
 * cs[kx * nq + q]. */
void cq__convpm_chunk_srcs(const cq_conv2d_params *p, int64_t ow, int64_t nq, chunk_src *cs);
/* Output row oy, K rows k0 .. k0 + kc - 1, packed into xp (kc, ldx). */
void cq__convpm_pack_row(const cq_conv2d_params *p, const float *x, int64_t oy, int64_t k0,
                         int64_t kc, const chunk_src *cs, int64_t nq, int64_t ldx, float *xp);
/* The input rows under output rows g0.. into buf (c_in, gh, wp) (NCHW16c:
 * (c_in / 16, gh, wp, 16)), zero padded; buf has 16 floats to spare. */
void cq__convpm_fill_group(const cq_conv2d_params *p, const float *x, int64_t g0, int64_t gh,
                           int64_t wp, float *buf);

#endif
