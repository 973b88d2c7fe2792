/*
 * observer.h - calibration observers: what a tensor's values looked like over
 * a calibration run, and the quantization parameters chosen from it.
 *
 * An observer is fed batch after batch of f32 values (cq_observer_update)
 * and keeps a fixed-size summary: memory is O(bins x channels), whatever the
 * number of images. Three kinds of summary:
 *
 *   CQ_OBS_MINMAX      running min and max (per tensor or per channel)
 *   CQ_OBS_MOVING_AVG  PyTorch's MovingAverageMinMaxObserver: the first batch
 *                      sets min and max, every later one moves them by
 *                      c * (batch min - min), c * (batch max - max), in f32
 *   CQ_OBS_HIST        min, max and a histogram (per tensor)
 *
 * The method that turns a summary into a clipping range is chosen when the
 * parameters are asked for (cq_calib_spec), so one histogram serves them all:
 *
 *   CQ_CALIB_MINMAX        the observed (or averaged) min and max
 *   CQ_CALIB_PERCENTILE    symmetric: the p-th percentile of |x|; asymmetric:
 *                          the (100 - p)-th and p-th percentiles of x
 *   CQ_CALIB_ENTROPY       TensorRT's KL-divergence search (128 levels, MXNet's
 *                          smoothing; calib_search.h) on the histogram of |x|,
 *                          one threshold T: [-T, T]; spec->zero_bin says how
 *                          bin 0 (a ReLU's zeros) counts
 *   CQ_CALIB_ENTROPY_ASYM  the same search on each side of zero on its own,
 *                          for activations that are not ReLU outputs. The
 *                          search never clips below 128 bins (one bin a level:
 *                          the histogram cannot tell finer), so a side whose
 *                          data span fewer bins is kept whole. Such a side is
 *                          narrow beside the other: the grid is fitted to the
 *                          largest magnitude, whose side spans at least bins / 2
 *                          bins (1024 of the default 2048), and the quantizer's
 *                          step is set by the sum of both sides, so clipping
 *                          the narrow one would change the step by little
 *   CQ_CALIB_MSE           PyTorch HistogramObserver's _non_linear_param_search:
 *                          the start and end bins that minimise its L2 estimate
 *
 * Every range is clipped to the observed [min, max]. Scale and zero point for
 * s8 / u8, symmetric or not, follow from the range (cq_calib_scale_zp).
 *
 * The histogram grid. Each side of zero has `bins` bins (a power of two,
 * 2^lg) covering magnitudes [0, 2^e): bin width 2^(e - lg), and x goes to
 * magnitude bin floor(|x| * 2^(lg - e)), a product that is exact in float.
 * Negative and positive values have their own halves, so ReLU outputs waste
 * no bins and asymmetric ranges keep their shape. When a batch holds a value
 * with |x| >= 2^e, e grows to the smallest exponent that covers it and
 * adjacent bins are summed 2^(growth) at a time: floor(floor(a) / 2^s) =
 * floor(a / 2^s), so the counts are exactly those a histogram made at the
 * final e from the start would hold. The bin of every value depends only on
 * the final e, hence statistics merge exactly: merge(stats(A), stats(B)) is
 * bit for bit stats(A u B) (counts, min, max, NaN and infinity counts, and so
 * every threshold and scale), whatever the sharding, order and batching.
 * Min-max merges exactly too. The moving average depends on the order of the
 * batches and does not merge: cq_observer_merge refuses it (EUNSUPPORTED).
 * e never goes below CQ_HIST_EXP_MIN (values below 2^(CQ_HIST_EXP_MIN - lg)
 * share bin 0). The occupied part of a side spans between bins / 2 and bins
 * bins (the top value lies in [2^(e-1), 2^e)); choose bins = 4096 for at
 * least TensorRT's 2048 occupied bins.
 *
 * NaN and infinities are counted (cq_observer_info), skipped, and never move
 * min, max or the grid. A constant tensor gets a valid, non-zero scale (the
 * range always contains 0; an all-zero tensor gets scale 1).
 *
 * Counts are 64-bit. Updates are fast (kern_hist.h: one pass that bins into
 * interleaved 16-bit counters and gathers min, max, NaN and infinities on the
 * way, folded into the 64-bit counts before they can overflow, before a grid
 * change and before any read; a batch is read a second time only when it
 * grows the grid).
 *
 *     cq_err err;
 *     cq_observer *o = cq_observer_new(CQ_OBS_HIST, NULL, &err);   // 2048 bins a side
 *     for (each batch)
 *         if (cq_observer_update(o, x, n, &err) != CQ_OK) goto fail;
 *     cq_calib_spec spec = {CQ_S8, 1, CQ_CALIB_ENTROPY, 0};
 *     cq_qparams qp;
 *     if (cq_observer_qparams(o, &spec, &qp, &err) != CQ_OK) goto fail;
 *     float s = ((float *)cq_tensor_data(qp.scale))[0];
 *     cq_qparams_clear(&qp);
 *     cq_observer_free(o);
 *
 * Weights are seen once and whole: cq_calib_weights computes per-channel
 * min-max or MSE parameters straight from the values, with no observer.
 *
 * Scales and zero points are tensors with an axis and a group size (one
 * scale per `group` consecutive indices along `axis`; group 1 is per channel,
 * larger groups are room for per-group quantization). Observers do not
 * assume convolutions: per-channel data arrive as (outer, channels, inner).
 * Statistics are saved, loaded and merged as sets (stats.h).
 *
 * Observers are not thread-safe: reads fold pending counts, so even
 * cq_observer_info writes.
 */
#ifndef CQ_CALIB_OBSERVER_H
#define CQ_CALIB_OBSERVER_H

#include <stdint.h>
#include "base/status.h"
#include "base/tensor.h"

typedef enum cq_obs_kind {
    CQ_OBS_MINMAX = 0,
    CQ_OBS_MOVING_AVG,
    CQ_OBS_HIST,
    CQ_OBS_KIND_COUNT
} cq_obs_kind;

typedef enum cq_calib_method {
    CQ_CALIB_MINMAX = 0,
    CQ_CALIB_PERCENTILE,
    CQ_CALIB_ENTROPY,
    CQ_CALIB_ENTROPY_ASYM,
    CQ_CALIB_MSE,
    CQ_CALIB_METHOD_COUNT
} cq_calib_method;

#define CQ_HIST_BINS_DEFAULT 2048
#define CQ_HIST_BINS_MIN 128
#define CQ_HIST_BINS_MAX 8192
#define CQ_HIST_EXP_MIN (-100)
#define CQ_HIST_EXP_MAX 128
/* Most channels one observer keeps. */
#define CQ_OBS_CHANNELS_MAX ((int64_t)1 << 24)

typedef struct cq_observer_opts {
    /* 1 (or 0): per tensor. More: per channel along `axis`, fed through
     * cq_observer_update_axis (MINMAX and MOVING_AVG only). */
    int64_t channels;
    int axis;                 /* the axis the channels are on (recorded, reported) */
    float averaging_constant; /* MOVING_AVG; 0 means 0.01 (PyTorch's default) */
    int32_t bins;             /* HIST: bins a side, power of two in [MIN, MAX]; 0: default */
} cq_observer_opts;

typedef struct cq_observer cq_observer;

/* Kind and method names ("minmax", "moving_avg", "hist"; "minmax",
 * "percentile", "entropy", "entropy_asym", "mse"); "?" when out of range. */
const char *cq_obs_kind_name(cq_obs_kind k);
const char *cq_calib_method_name(cq_calib_method m);

/* New observer (opts NULL: per tensor, defaults). NULL and EINVAL (bad kind
 * or options) / ENOMEM on failure. The caller frees it. */
cq_observer *cq_observer_new(cq_obs_kind kind, const cq_observer_opts *opts, cq_err *err);
/* NULL is a no-op. */
void cq_observer_free(cq_observer *o);
/* A new observer with the same statistics; NULL and ENOMEM on failure. */
cq_observer *cq_observer_clone(cq_observer *o, cq_err *err);

/* Observe n values (a per-tensor observer; x may be NULL when n is 0).
 * EINVAL on a per-channel observer or n < 0. */
cq_status cq_observer_update(cq_observer *o, const float *x, int64_t n, cq_err *err);
/* Observe a dense (outer, axis_len, inner) block; on a per-channel observer
 * axis_len must equal its channels (EINVAL otherwise). On a per-tensor one
 * this is cq_observer_update over all the values. */
cq_status cq_observer_update_axis(cq_observer *o, const float *x, int64_t outer, int64_t axis_len,
                                  int64_t inner, cq_err *err);
/* Add src's statistics to dst (src keeps its own; its pending counts are
 * folded). EINVAL when kinds, channels or bins differ; EUNSUPPORTED for
 * MOVING_AVG, which depends on the order of batches. */
cq_status cq_observer_merge(cq_observer *dst, cq_observer *src, cq_err *err);

typedef struct cq_observer_info {
    cq_obs_kind kind;
    int64_t channels;
    int axis;
    float averaging_constant; /* MOVING_AVG */
    int32_t bins;             /* HIST: bins a side; 0 otherwise */
    int exp;                  /* HIST: the grid covers magnitudes [0, 2^exp) */
    int64_t batches;          /* update calls (merged: summed) */
    int64_t finite, nan, pinf, ninf;
    float min, max;           /* over all channels (MOVING_AVG: averaged); +inf / -inf when empty */
} cq_observer_info;

void cq_observer_get_info(cq_observer *o, cq_observer_info *info);
/* Channel c's min and max (MOVING_AVG: averaged). ERANGE when c is out of range. */
cq_status cq_observer_channel_range(cq_observer *o, int64_t c, float *lo, float *hi, cq_err *err);
/* The 2 * bins 64-bit counts (signed bins, most negative first; kern_hist.h),
 * owned by o and valid until its next update, merge or free; NULL unless HIST. */
const uint64_t *cq_observer_hist(cq_observer *o);

/* ---- quantization parameters ------------------------------------------- */

/* The entropy search's bin 0 (calib_search.h): as counted (TensorRT, MXNet),
 * or counted as bin 1 (pytorch-quantization), which keeps a ReLU's spike of
 * zeros from pulling the threshold. */
typedef enum cq_calib_zero_bin {
    CQ_CALIB_ZERO_KEEP = 0,
    CQ_CALIB_ZERO_AS_NEXT,
    CQ_CALIB_ZERO_BIN_COUNT
} cq_calib_zero_bin;

typedef struct cq_calib_spec {
    cq_dtype dtype; /* CQ_S8 or CQ_U8 */
    int symmetric;  /* zero point 0 (s8) or 128 (u8), range +-max(|lo|, |hi|) */
    cq_calib_method method;
    double percentile; /* PERCENTILE: in (0, 100], e.g. 99.99 */
    cq_calib_zero_bin zero_bin; /* ENTROPY, ENTROPY_ASYM; 0 (KEEP) by default */
} cq_calib_spec;

typedef struct cq_qparams {
    cq_dtype dtype;
    int axis;               /* -1: one scale for the whole tensor */
    int64_t group;          /* indices along axis sharing a scale (1: per channel) */
    cq_tensor *scale;       /* f32[count] */
    cq_tensor *zero_point;  /* s32[count] */
} cq_qparams;

/* Release q's tensors and zero it; NULL is a no-op. */
void cq_qparams_clear(cq_qparams *q);

/* Clipping range per channel (lo, hi: channels entries each) by spec's method.
 * EINVAL on a bad spec or a histogram method without a histogram; ESTATE
 * when the observer has seen no finite value. */
cq_status cq_observer_range(cq_observer *o, const cq_calib_spec *spec, float *lo, float *hi,
                            cq_err *err);
/* Scale and zero point per channel into out (new tensors the caller releases
 * with cq_qparams_clear; out is zeroed on failure). Errors as
 * cq_observer_range, ENOMEM. */
cq_status cq_observer_qparams(cq_observer *o, const cq_calib_spec *spec, cq_qparams *out,
                              cq_err *err);

/* Scale and zero point of the range [lo, hi] (widened to contain 0):
 *   symmetric s8: zp 0,   scale max(|lo|, |hi|) / 127   (codes -127..127)
 *   symmetric u8: zp 128, scale max(|lo|, |hi|) / 127   (codes 1..255)
 *   asymmetric:   scale (hi - lo) / 255, zp = qmin - round_half_even(lo / scale)
 * A zero range gives scale 1; a positive scale is at least FLT_MIN.
 * EINVAL when dt is not s8 / u8 or lo, hi are not finite. */
cq_status cq_calib_scale_zp(float lo, float hi, cq_dtype dt, int symmetric, float *scale,
                            int32_t *zp, cq_err *err);
/* The codes [qmin, qmax] those parameters use. */
void cq_calib_qrange(cq_dtype dt, int symmetric, int32_t *qmin, int32_t *qmax);

/* Number of clipping ratios the weights' MSE search tries: 1, 0.99, ... */
#define CQ_CALIB_MSE_STEPS 100

/* Per-channel parameters of weights w, dense (outer, axis_len, inner), one
 * channel per index along the axis (recorded as out->axis). spec->method:
 * MINMAX (the channel's min and max) or MSE (of the ratios r = 1 - k / 100,
 * k < CQ_CALIB_MSE_STEPS, the one whose range [r lo, r hi] gives the least
 * squared quantize-dequantize error over the channel; ties go to the larger
 * r). EINVAL on a bad spec or shape, ESTATE for a channel with no finite
 * value, ENOMEM. out as cq_observer_qparams. */
cq_status cq_calib_weights(const float *w, int64_t outer, int64_t axis_len, int64_t inner, int axis,
                           const cq_calib_spec *spec, cq_qparams *out, cq_err *err);

#endif
