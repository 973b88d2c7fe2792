/*
 * calib_search.h - clipping thresholds from histograms: TensorRT's entropy
 * (KL-divergence) search, PyTorch HistogramObserver's L2 search, quantiles.
 * observer.c applies them to its grid; they are public for tests and tools.
 * Every histogram here is h[0..n) of counts on bins of width 1 (callers scale
 * the results by their bin width); the functions only read h.
 *
 *     int64_t i = cq_calib_kl_search(abs_hist, 2048, 128, &kl);   // T = i * width
 *     cq_calib_l2_search(hist, n, 256, &start, &end);              // [start, end + 1) * width
 *
 * tests/ref/calib_ref.py is an independent NumPy version of both searches
 * (and checks its L2 search against PyTorch's own); test_calib.c pins its
 * numbers.
 */
#ifndef CQ_CALIB_SEARCH_H
#define CQ_CALIB_SEARCH_H

#include <stdint.h>

/* TensorRT's entropy calibration ("8-bit Inference with TensorRT", 2017) on
 * the histogram h of |x|. For every i from `levels` to top (one past the last
 * non-zero bin): P = h[0..i) with the outliers sum(h[i..n)) added to P[i-1];
 * Q = h[0..i) merged into `levels` groups (bin j in group floor(j levels / i))
 * and expanded back, each group's count spread evenly over its non-zero bins;
 * KL(P || Q) of the normalised distributions. An i whose last bin is empty
 * while outliers fold into it has Q = 0 where P > 0 (infinite divergence; NVIDIA's
 * pytorch-quantization gets inf there too) and is skipped; no smoothing is
 * needed anywhere else, since Q is non-zero wherever P is. Returns the i with
 * the least divergence (the smallest on ties), top when top <= levels, 0 for
 * an empty histogram, -1 when memory runs out. *kl (may be NULL) gets the
 * divergence (0 when no search ran). O(n) memory, O(n levels) time: each
 * candidate costs one pass over the groups (prefix sums of h, of the non-zero
 * count and of h log h). */
int64_t cq_calib_kl_search(const uint64_t *h, int64_t n, int levels, double *kl);

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
