/*
 * sampler.h - choosing the calibration set from a cq_dataset.
 *
 * Every policy maps a list of candidate images (indices into the dataset;
 * NULL = every image, in order) to a list of chosen indices, written into a
 * caller-owned buffer of capacity cap (cq_sample_bound() says how big). So
 * policies chain: the output of one is the candidate list of the next.
 *
 * The label-balanced policy (cq_sample_balanced), exactly, with r a cq_rng
 * seeded with opts.seed (rng.h) and C the candidates in the order given:
 *
 *   1. pool P = the candidates c, in order, with pool_min <= count(c) <= pool_max
 *      (default 1..1: single-object images; or pool_mask[c] != 0 when a mask
 *      is given, e.g. from a Lua predicate) and count(c) <= threshold
 *      (a replacement must not itself be above the threshold; so with
 *      threshold 0 and the default pool, the pool is empty).
 *   2. k = min(size, |C|). Draw the calibration set S: copy C and run the
 *      partial Fisher-Yates shuffle of rng.h over its first k positions
 *      (for i = 0 .. k-1: j = i + below(|C| - i); swap); S = the first k.
 *      (When k == |C| the shuffle still runs, over |C| - 1 positions.)
 *   3. remove every image of S from P (P keeps its order).
 *   4. for i = 0 .. k-1, in order: if count(S[i]) > threshold:
 *        if P is not empty: j = below(|P|); S[i] = P[j]; P[j] = P[|P|-1]; |P|--;
 *                           replaced++.
 *        else: the pool ran dry; S[i] stays (counted in above_left).
 *
 * No other draws happen, so the set depends only on (candidates, counts,
 * size, threshold, pool range, seed). The pool running dry is not an error:
 * the report says so (pool_dry, above_left) and the remaining images stay.
 *
 * Other policies (each documented at its function): first-N (Intel Neural
 * Compressor's default), uniform random (NNCF's), class-balanced (k per
 * category), stratified by ground-truth count.
 *
 *     cq_sample_opts o = cq_sample_defaults();
 *     o.size = 100; o.threshold = 3; o.seed = 7;
 *     int64_t *out = malloc(cq_sample_bound(ds, NULL, ds->n, &o) * sizeof *out);
 *     int64_t n; cq_sample_report rep;
 *     if (cq_sample_balanced(ds, NULL, 0, &o, out, &n, &rep, &err)) ...
 */
#ifndef CQ_SAMPLER_H
#define CQ_SAMPLER_H

#include <stdint.h>
#include "data/dataset.h"

#define CQ_HIST_BINS 17 /* counts 0..15, and 16 or more */
/* The stratified draw keeps one bucket per count value up to the largest. */
#define CQ_SAMPLE_MAX_STRATUM (1 << 20)

typedef struct cq_sample_opts {
    int64_t size;      /* images wanted (balanced, first, uniform, stratified) */
    int32_t threshold; /* balanced: images with count > threshold are replaced */
    uint64_t seed;
    int32_t pool_min;  /* balanced: pool criterion pool_min <= count <= pool_max */
    int32_t pool_max;
    const uint8_t *pool_mask; /* balanced: if not NULL, pool_mask[record] != 0 replaces the range */
    int64_t per_class; /* class-balanced: images per category */
} cq_sample_opts;

typedef struct cq_sample_report {
    int64_t candidates;           /* images offered */
    int64_t requested, chosen;    /* size asked for, size delivered */
    int64_t hist_before[CQ_HIST_BINS]; /* counts of the first draw */
    int64_t hist_after[CQ_HIST_BINS];  /* counts of the final set */
    int64_t pool_start;           /* pool size after removing the drawn images */
    int64_t pool_left;
    int64_t replaced;
    int pool_dry;                 /* a replacement was needed with the pool empty */
    int64_t above_left;           /* images above the threshold kept for that reason */
} cq_sample_report;

/* size 0, threshold 1, seed 0, pool 1..1, no mask, per_class 1 */
cq_sample_opts cq_sample_defaults(void);

/* Capacity the output needs: the number of candidates (at least 1). */
int64_t cq_sample_bound(const cq_dataset *ds, const int64_t *cand, int64_t ncand,
                        const cq_sample_opts *o);

/* The label-balanced policy above. cand/ncand: candidates (NULL = all ds->n).
 * out: capacity cap >= min(size, candidates). rep may be NULL. Returns CQ_OK,
 * CQ_EINVAL (size < 0, threshold < 0, index out of range, duplicate
 * candidate, cap too small) or CQ_ENOMEM. Scratch memory is O(candidates). */
cq_status cq_sample_balanced(const cq_dataset *ds, const int64_t *cand, int64_t ncand,
                             const cq_sample_opts *o, int64_t *out, int64_t cap, int64_t *nout,
                             cq_sample_report *rep, cq_err *err);

/* The first min(size, candidates) candidates, in order (no randomness). */
cq_status cq_sample_first(const cq_dataset *ds, const int64_t *cand, int64_t ncand,
                          const cq_sample_opts *o, int64_t *out, int64_t cap, int64_t *nout,
                          cq_sample_report *rep, cq_err *err);

/* Uniform random: step 2 of the balanced policy alone (partial Fisher-Yates). */
cq_status cq_sample_uniform(const cq_dataset *ds, const int64_t *cand, int64_t ncand,
                            const cq_sample_opts *o, int64_t *out, int64_t cap, int64_t *nout,
                            cq_sample_report *rep, cq_err *err);

/* Class-balanced: shuffle all candidates (full Fisher-Yates), then walk them
 * in that order and take an image when one of its non-ignored box labels has
 * fewer than per_class images taken; a taken image counts for every label it
 * carries. Images without labelled boxes are never taken. size is ignored. */
cq_status cq_sample_class_balanced(const cq_dataset *ds, const int64_t *cand, int64_t ncand,
                                   const cq_sample_opts *o, int64_t *out, int64_t cap,
                                   int64_t *nout, cq_sample_report *rep, cq_err *err);

/* Stratified by ground-truth count: strata = distinct counts, ascending; k =
 * min(size, candidates) is shared in proportion to the strata sizes (floor of
 * k * n_s / n, then the remainder one each to the strata with the largest
 * fractional parts, ties to the smaller count); each stratum (candidate
 * order) gets a partial Fisher-Yates, strata in ascending order, and the
 * output is the strata concatenated. */
cq_status cq_sample_stratified(const cq_dataset *ds, const int64_t *cand, int64_t ncand,
                               const cq_sample_opts *o, int64_t *out, int64_t cap,
                               int64_t *nout, cq_sample_report *rep, cq_err *err);

#endif
