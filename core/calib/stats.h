/*
 * stats.h - a set of named observers (one per observed tensor) and its file.
 *
 * Calibration statistics are the unit of exchange: a set is saved to one calq
 * tensor file (io/tfile.h: lz4 frames with checksums, an index with a CRC),
 * loaded back, and merged with sets made on other shards of the data; for
 * min-max and histogram observers the merge is exact (observer.h).
 *
 *     cq_err err;
 *     cq_calib_stats *s = cq_calib_stats_new(&err);
 *     cq_observer *o = cq_calib_stats_add(s, "conv1.out", CQ_OBS_HIST, NULL, &err);
 *     cq_observer_update(o, x, n, &err);
 *     if (cq_calib_stats_save(s, "shard0.calq", &err) != CQ_OK) ...
 *     cq_calib_stats *t = cq_calib_stats_load("shard1.calq", &err);
 *     if (!t || cq_calib_stats_merge(s, t, &err) != CQ_OK) ...
 *     cq_calib_stats_free(t);
 *     cq_calib_stats_free(s);
 *
 * The file (format version CQ_CALIB_STATS_VERSION, metadata "calq.calib";
 * "calq.calib.observers" is the observer count) holds for observer NAME:
 *
 *   NAME#head   s64[12]  kind, channels, axis, bins, exp, batches, finite,
 *                        nan, +inf, -inf, averaging constant (f32 bits), 0
 *   NAME#range  f32[2, channels]  min row, max row (+inf / -inf when empty)
 *   NAME#hist   s64[2 bins]       HIST only: the signed bins' counts
 *
 * Loading checks every size and the consistency of the counts (the histogram
 * sums to the finite count, the grid is the one the range implies) and fails
 * with a message naming the file, the observer and the problem.
 */
#ifndef CQ_CALIB_STATS_H
#define CQ_CALIB_STATS_H

#include "calib/observer.h"

#define CQ_CALIB_STATS_VERSION 1

typedef struct cq_calib_stats cq_calib_stats;

/* Empty set; NULL and ENOMEM on failure. The caller frees it. */
cq_calib_stats *cq_calib_stats_new(cq_err *err);
/* Frees the set and its observers; NULL is a no-op. */
void cq_calib_stats_free(cq_calib_stats *s);

/* Add a new observer under name (copied; non-empty, unique: EINVAL
 * otherwise). Returns it, owned by the set; NULL on failure (errors of
 * cq_observer_new too). */
cq_observer *cq_calib_stats_add(cq_calib_stats *s, const char *name, cq_obs_kind kind,
                                const cq_observer_opts *opts, cq_err *err);
/* The observer called name (owned by the set), or NULL. */
cq_observer *cq_calib_stats_find(const cq_calib_stats *s, const char *name);
int cq_calib_stats_count(const cq_calib_stats *s);
/* Observer i in the order they were added and its name; NULL out of range. */
cq_observer *cq_calib_stats_at(const cq_calib_stats *s, int i);
const char *cq_calib_stats_name(const cq_calib_stats *s, int i);

/* Merge src into dst: observers of the same name merge (cq_observer_merge),
 * the others are copied. Every pair is checked before anything changes:
 * EINVAL / EUNSUPPORTED as cq_observer_merge (naming the observer), and dst
 * is left as it was; ENOMEM part-way may leave dst partly merged. */
cq_status cq_calib_stats_merge(cq_calib_stats *dst, cq_calib_stats *src, cq_err *err);

/* Write the set to path (through path.tmp, renamed when complete). EIO /
 * ENOMEM / EINVAL (a name too long for the file) on failure. */
cq_status cq_calib_stats_save(cq_calib_stats *s, const char *path, cq_err *err);
/* Read a set saved by cq_calib_stats_save. NULL and EIO / EFORMAT (damaged
 * or inconsistent) / EUNSUPPORTED (another format version) / ENOMEM. */
cq_calib_stats *cq_calib_stats_load(const char *path, cq_err *err);

#endif
