/*
 * calib_internal.h - the observer's fields, shared by the files of
 * core/calib/ (observer.c, qparams.c, stats.c). Not a public header.
 */
#ifndef CQ_CALIB_INTERNAL_H
#define CQ_CALIB_INTERNAL_H

#include "calib/observer.h"
#include "kern/kern_hist.h"

struct cq_observer {
    cq_obs_kind kind;
    int64_t channels;
    int axis;
    float avg;       /* MOVING_AVG's averaging constant */
    int64_t batches; /* update calls */
    int64_t finite, nan, pinf, ninf;
    float *lo, *hi;  /* per channel: min and max (MOVING_AVG: averaged); +inf / -inf when empty */
    cq_hist_scan *cs; /* per-channel scan of one update_axis call (channels > 1) */
    /* HIST */
    int32_t bins;    /* per side, 2^lg */
    int lg;
    int exp;         /* the grid covers magnitudes [0, 2^exp) */
    uint64_t *hist;  /* 2 bins counts, signed bins (kern_hist.h) */
    uint16_t *cnt;   /* CQ_HIST_COPIES * cq_hist_stride(bins) pending counters */
    int64_t pending; /* most any copy may hold since the last fold */
};

/* Fold the pending counters into o->hist (HIST; a no-op otherwise). */
void cq__obs_fold(cq_observer *o);
/* log2 of bins when bins is a power of two in [CQ_HIST_BINS_MIN, MAX], else -1. */
int cq__obs_bins_lg(int64_t bins);

/* Add o under name to s (o is owned by s from now on, freed on failure);
 * ENOMEM. The name is not checked (stats.c's add checks it). */
struct cq_calib_stats;
cq_status cq__calib_stats_put(struct cq_calib_stats *s, const char *name, cq_observer *o,
                              cq_err *err);

#endif
