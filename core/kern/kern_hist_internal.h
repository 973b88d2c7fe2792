/*
 * kern_hist_internal.h - the AVX-512 twins of kern_hist.h's loops
 * (x86/kern_hist_avx512.c), for kern_hist.c's dispatch. Not a public header.
 */
#ifndef CQ_KERN_HIST_INTERNAL_H
#define CQ_KERN_HIST_INTERNAL_H

#include "kern/kern_hist.h"

/* Call only when cq_kern_isa() is CQ_ISA_AVX512. */
void cq__hist_scan_f32_avx512(const float *x, int64_t n, cq_hist_scan *s);
int64_t cq__hist_bin_f32_avx512(const float *x, int64_t n, float inv_width, int32_t nb,
                                uint16_t *cnt, cq_hist_scan *s);
void cq__hist_fold_avx512(uint16_t *cnt, int32_t nb, uint64_t *counts);

#endif
