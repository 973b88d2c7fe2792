/*
 * calib_search.h - clipping thresholds from histograms: TensorRT's entropy
 * (KL-divergence) search, PyTorch HistogramObserver's L2 search, quantiles.
 * observer.c applies them to its grid; they are public for tests and tools.
 * Every histogram here is h[0..n) of counts on bins of width 1 (callers scale
 * the results by their bin width); the functions only read h.
 *
 *     int64_t i = cq_calib_kl_search(abs_hist, 2048, 128, CQ_CALIB_ZERO_KEEP, &kl);  // T = i * width
 *     cq_calib_l2_search(hist, n, 256, &start, &end);              // [start, end + 1) * width
 *
 * tests/ref/calib_ref.py is an independent NumPy version of both searches
 * (and checks its L2 search against PyTorch's own); test_calib.c pins its
 * numbers.
 */
#ifndef CQ_CALIB_SEARCH_H
#define CQ_CALIB_SEARCH_H

#include <stdint.h>

#include "calib/observer.h"

/* TensorRT's entropy calibration ("8-bit Inference with TensorRT", 2017) on
 * the histogram h of |x|, with MXNet's and TVM's smoothing. For every i from
 * `levels` to top (one past the last non-zero bin):
 *
 *   P = h[0..i) with the outliers sum(h[i..n)) added to P[i-1];
 *   Q = h[0..i) merged into `levels` groups (bin j in group floor(j levels / i):
 *       the quantizer's equal steps) and expanded back, each group's count
 *       spread evenly over its bins where P is not zero;
 *   both smoothed as MXNet's / TVM's _smooth_distribution does: CQ_CALIB_KL_EPS
 *       (1e-4, in counts) to every zero bin, the same mass taken evenly from
 *       the non-zero ones;
 *   KL(P || Q) of the normalised distributions.
 *
 * Smoothing gives a finite divergence where Q is 0 and P is not (an outlier
 * folded into an empty last bin), so a far outlier alone after a gap can be
 * clipped. A candidate where MXNet's smoothing fails (Q all zero: every count
 * lies beyond i; or a smoothed bin not positive) is left out. Returns the i
 * with the least divergence, divergences within CQ_CALIB_KL_TIE of the least
 * counting as equal (the smallest such i wins: differences below it are
 * rounding); top when top <= levels (no search: each bin has a level of its
 * own); 0 for an empty histogram; -1 when memory runs out. *kl (may be NULL)
 * gets the divergence (0 when no search ran).
 *
 * zero_bin: CQ_CALIB_ZERO_KEEP searches h as it is (TensorRT, MXNet);
 * CQ_CALIB_ZERO_AS_NEXT counts bin 0 as bin 1 (NVIDIA's pytorch-quantization),
 * which takes a ReLU's spike of zeros out of the search (zero is exact in
 * the quantizer, but Q spreads it over level 0's bins); unless that leaves
 * the histogram empty, then h is kept.
 *
 * O(n) memory, O(n levels) time: each candidate costs one pass over the
 * groups, from prefix sums of h, of its non-zero bins, of h log h and of the
 * terms of the Taylor series of (h - e) log(h - e) in e (the smoothing's
 * epsilon; exact to rounding while e <= 0.01, and summed directly over the
 * few non-zero bins when it is larger). tests/ref/calib_ref.py builds P and Q
 * bin by bin as MXNet does; test_calib.c pins its figures. */
#define CQ_CALIB_KL_EPS 1e-4
#define CQ_CALIB_KL_TIE 1e-12
int64_t cq_calib_kl_search(const uint64_t *h, int64_t n, int levels, cq_calib_zero_bin zero_bin,
                           double *kl);
/* The divergence of candidate i alone (as cq_calib_kl_search computes it);
 * INFINITY where the candidate is left out; NAN when i is outside
 * [levels, n] or memory runs out. */
double cq_calib_kl_divergence(const uint64_t *h, int64_t n, int levels, cq_calib_zero_bin zero_bin,
                              int64_t i);

/* PyTorch 1.13 HistogramObserver._non_linear_param_search on h (its
 * histogram over [min, max]), with dst_bins quantized bins (256 for 8 bits):
 * moves the start or end bin by quantile steps of 1e-5, whichever side gains
 * more bins, until the L2 error estimate stops decreasing. The kept bins are
 * [*start, *end]. In double precision where PyTorch uses f32 tensors. */
void cq_calib_l2_search(const uint64_t *h, int64_t n, int dst_bins, int64_t *start, int64_t *end);
/* _compute_quantization_error: the L2 error estimate of quantizing with bins
 * [start, end] kept, in units of bin width^2 * count. */
double cq_calib_l2_error(const uint64_t *h, int64_t n, int dst_bins, int64_t start, int64_t end);

/* Smallest k with h[0] + ... + h[k] >= q * sum(h), q in (0, 1]; -1 when h is
 * empty. */
int64_t cq_calib_quantile_bin(const uint64_t *h, int64_t n, double q);

#endif
