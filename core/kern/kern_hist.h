/*
 * kern_hist.h - the inner loops of calibration histograms (core/calib/):
 * one pass that adds a block's values into a symmetric power-of-two grid
 * while it finds their finite range and counts their NaN and infinities,
 * and a scan that only does the latter (per-channel min-max, and finding
 * how far the grid must grow).
 *
 * The grid (core/calib/observer.h explains why it is built this way): nb bins
 * on each side of zero, nb a power of two; with inv_width = 2^k (k an integer),
 * a finite x goes to magnitude bin i = floor(|x| * inv_width), which is exact
 * in float because the product only moves the exponent. Signed bin
 *
 *     j = nb + i          for x >= 0 (and -0.0)
 *     j = nb - 1 - i      for x < 0
 *
 * so j runs over [0, 2 nb) from the most negative values to the most positive.
 * NaN and infinities go to the dump slot j = 2 nb, which callers ignore (the
 * statistics count them).
 *
 * A finite x with |x| * inv_width >= nb lies beyond the grid. Such values are
 * rare (the grid only grows), so the binning pass does not handle them: it
 * stops before the block of CQ_HIST_BLOCK values that holds the first one and
 * says how far it got. The caller then grows the grid (observer.c scans the
 * rest of its batch for the new maximum) and calls again from there. One pass
 * over the data in the common case, instead of a scan and a binning pass.
 *
 * Counts go to CQ_HIST_COPIES interleaved copies of 16-bit counters, element
 * t of a call to copy t % CQ_HIST_COPIES: consecutive increments of one bin
 * (the zeros of a ReLU output) land in different copies and do not wait for
 * each other's store. A copy has cq_hist_stride(nb) counters. The caller folds
 * the copies into 64-bit counts with cq_hist_fold before any copy can reach
 * 65535: a call of n elements adds at most ceil(n / CQ_HIST_COPIES) to a copy.
 *
 *     cq_hist_scan s;
 *     cq_hist_scan_init(&s);
 *     int64_t done = cq_hist_bin_f32(x, n, ldexpf(1.0f, k), nb, scratch, &s);
 *     // done < n: x[done..) holds a value beyond the grid; grow it, go on
 *     cq_hist_fold(scratch, nb, counts);          // counts: uint64_t[2 nb]
 *
 * cq_hist_scan_f32, cq_hist_bin_f32 and cq_hist_fold use the instruction set
 * of cq_kern_isa(); the _ref functions are the scalar references the tests
 * compare them with (bit-identical results, the same stopping point).
 */
#ifndef CQ_KERN_HIST_H
#define CQ_KERN_HIST_H

#include <stddef.h>
#include <stdint.h>

/* Running statistics of the values scanned so far. */
typedef struct cq_hist_scan {
    float min, max;          /* of the finite values; +inf / -inf while there are none */
    int64_t finite;          /* finite values */
    int64_t nan, pinf, ninf; /* NaN, +inf, -inf */
} cq_hist_scan;

void cq_hist_scan_init(cq_hist_scan *s);
/* Add x[0..n) to s. */
void cq_hist_scan_f32(const float *x, int64_t n, cq_hist_scan *s);
void cq_hist_scan_f32_ref(const float *x, int64_t n, cq_hist_scan *s);

#define CQ_HIST_COPIES 4
/* Most a 16-bit counter holds; fold before a copy could pass it. */
#define CQ_HIST_COUNTER_MAX 65535

/* Counters per copy for nb bins per side: 2 nb bins and the dump slot, padded
 * to a multiple of 32 (64-byte lines). */
static inline int64_t cq_hist_stride(int32_t nb) { return ((int64_t)2 * nb + 1 + 31) / 32 * 32; }

/* Values per block: the binning pass stops only at a block boundary. */
#define CQ_HIST_BLOCK 64

/* Add x[0..n) to the copies in cnt (CQ_HIST_COPIES * cq_hist_stride(nb)
 * uint16_t, zeroed by the caller at first) and their statistics to s, up to
 * the first block (x[b CQ_HIST_BLOCK .. (b + 1) CQ_HIST_BLOCK)) that holds a
 * finite value beyond the grid (|x| * inv_width >= nb). Returns how many
 * values were added: n, or b CQ_HIST_BLOCK < n (nothing of that block is
 * added). The caller guarantees that no counter overflows; inv_width is a
 * power of two and nb a power of two. */
int64_t cq_hist_bin_f32(const float *x, int64_t n, float inv_width, int32_t nb, uint16_t *cnt,
                        cq_hist_scan *s);
int64_t cq_hist_bin_f32_ref(const float *x, int64_t n, float inv_width, int32_t nb, uint16_t *cnt,
                            cq_hist_scan *s);

/* counts[j] += sum of the copies' bin j, j < 2 nb; then zero the copies. */
void cq_hist_fold(uint16_t *cnt, int32_t nb, uint64_t *counts);
void cq_hist_fold_ref(uint16_t *cnt, int32_t nb, uint64_t *counts);

#endif
