/* observer.c - calibration observers: life cycle, updates, merging
 * (observer.h). The clipping ranges and parameters are in qparams.c. */
#include "calib/calib_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Values binned between checks of the 16-bit counters: the copies are
 * folded every 4 chunks (4 CHUNK / CQ_HIST_COPIES <= CQ_HIST_COUNTER_MAX).
 * A multiple of CQ_HIST_BLOCK keeps the chunks' starts aligned as x is. */
#define CHUNK (CQ_HIST_BLOCK * 1023)

const char *cq_obs_kind_name(cq_obs_kind k)
{
    static const char *const names[] = {"minmax", "moving_avg", "hist"};
    return (int)k >= 0 && k < CQ_OBS_KIND_COUNT ? names[k] : "?";
}

const char *cq_calib_method_name(cq_calib_method m)
{
    static const char *const names[] = {"minmax", "percentile", "entropy", "entropy_asym", "mse"};
    return (int)m >= 0 && m < CQ_CALIB_METHOD_COUNT ? names[m] : "?";
}

int cq__obs_bins_lg(int64_t bins)
{
    if (bins < CQ_HIST_BINS_MIN || bins > CQ_HIST_BINS_MAX || (bins & (bins - 1)))
        return -1;
    int lg = 0;
    while (((int64_t)1 << lg) < bins)
        lg++;
    return lg;
}

void cq_observer_free(cq_observer *o)
{
    if (!o)
        return;
    free(o->lo);
    free(o->hi);
    free(o->cs);
    free(o->hist);
    free(o->cnt);
    free(o);
}

cq_observer *cq_observer_new(cq_obs_kind kind, const cq_observer_opts *opts, cq_err *err)
{
    cq_observer_opts d = {1, -1, 0.0f, 0};
    if (opts)
        d = *opts;
    if ((int)kind < 0 || kind >= CQ_OBS_KIND_COUNT) {
        cq_errf(err, CQ_EINVAL, "observer: unknown kind %d", (int)kind);
        return NULL;
    }
    if (d.channels == 0)
        d.channels = 1;
    if (d.channels < 0 || d.channels > CQ_OBS_CHANNELS_MAX) {
        cq_errf(err, CQ_EINVAL, "observer: %lld channels (1 to %lld)", (long long)d.channels,
                (long long)CQ_OBS_CHANNELS_MAX);
        return NULL;
    }
    if (kind == CQ_OBS_HIST && d.channels > 1) {
        cq_errf(err, CQ_EINVAL, "observer: histograms are per tensor (%lld channels asked)",
                (long long)d.channels);
        return NULL;
    }
    if (d.averaging_constant == 0.0f)
        d.averaging_constant = 0.01f;
    if (!(d.averaging_constant > 0.0f && d.averaging_constant <= 1.0f)) {
        cq_errf(err, CQ_EINVAL, "observer: averaging constant %g (in (0, 1])",
                (double)d.averaging_constant);
        return NULL;
    }
    if (d.bins == 0)
        d.bins = CQ_HIST_BINS_DEFAULT;
    int lg = cq__obs_bins_lg(d.bins);
    if (kind == CQ_OBS_HIST && lg < 0) {
        cq_errf(err, CQ_EINVAL, "observer: %d bins (a power of two from %d to %d)", (int)d.bins,
                CQ_HIST_BINS_MIN, CQ_HIST_BINS_MAX);
        return NULL;
    }
    cq_observer *o = calloc(1, sizeof *o);
    if (!o)
        goto nomem;
    o->kind = kind;
    o->channels = d.channels;
    o->axis = d.channels > 1 ? d.axis : -1;
    o->avg = d.averaging_constant;
    o->lo = malloc((size_t)d.channels * sizeof *o->lo);
    o->hi = malloc((size_t)d.channels * sizeof *o->hi);
    if (!o->lo || !o->hi)
        goto nomem;
    for (int64_t c = 0; c < d.channels; c++) {
        o->lo[c] = INFINITY;
        o->hi[c] = -INFINITY;
    }
    if (d.channels > 1 && !(o->cs = malloc((size_t)d.channels * sizeof *o->cs)))
        goto nomem;
    if (kind == CQ_OBS_HIST) {
        o->bins = d.bins;
        o->lg = lg;
        o->exp = CQ_HIST_EXP_MIN;
        o->hist = calloc((size_t)(2 * d.bins), sizeof *o->hist);
        o->cnt = calloc((size_t)(CQ_HIST_COPIES * cq_hist_stride(d.bins)), sizeof *o->cnt);
        if (!o->hist || !o->cnt)
            goto nomem;
    }
    return o;
nomem:
    cq_observer_free(o);
    cq_errf(err, CQ_ENOMEM, "observer: out of memory");
    return NULL;
}

void cq__obs_fold(cq_observer *o)
{
    if (o->kind == CQ_OBS_HIST && o->pending) {
        cq_hist_fold(o->cnt, o->bins, o->hist);
        o->pending = 0;
    }
}

cq_observer *cq_observer_clone(cq_observer *o, cq_err *err)
{
    cq_observer_opts opts = {o->channels, o->axis, o->avg, o->bins};
    cq_observer *c = cq_observer_new(o->kind, &opts, err);
    if (!c)
        return NULL;
    cq__obs_fold(o);
    c->axis = o->axis;
    c->batches = o->batches;
    c->finite = o->finite;
    c->nan = o->nan;
    c->pinf = o->pinf;
    c->ninf = o->ninf;
    memcpy(c->lo, o->lo, (size_t)o->channels * sizeof *o->lo);
    memcpy(c->hi, o->hi, (size_t)o->channels * sizeof *o->hi);
    if (o->kind == CQ_OBS_HIST) {
        c->exp = o->exp;
        memcpy(c->hist, o->hist, (size_t)(2 * o->bins) * sizeof *o->hist);
    }
    return c;
}

/* ---- the grid ------------------------------------------------------------ */

/* Smallest e with amax < 2^e (amax finite, > 0). */
static int exp_cover(float amax)
{
    int e;
    frexpf(amax, &e);
    return e;
}

/* One side of the histogram, magnitude bin i at base[i * step], summed 2^shift
 * bins at a time (in place: bin i reads bins >= i). */
static void coarsen_side(uint64_t *base, int64_t step, int32_t nb, int shift)
{
    if (shift > 40)
        shift = 40; /* nb <= 2^13: everything lands in bin 0 long before */
    int64_t g = (int64_t)1 << shift;
    for (int64_t i = 0; i < nb; i++) {
        uint64_t s = 0;
        if (i * g < nb)
            for (int64_t k = i * g; k < (i + 1) * g && k < nb; k++)
                s += base[k * step];
        base[i * step] = s;
    }
}

/* Counts of h (2 nb signed bins) as the grid at exponent exp + shift. */
static void coarsen(uint64_t *h, int32_t nb, int shift)
{
    if (shift <= 0)
        return;
    coarsen_side(h + nb, 1, nb, shift);
    coarsen_side(h + nb - 1, -1, nb, shift);
}

static void hist_grow(cq_observer *o, int e)
{
    cq__obs_fold(o);
    coarsen(o->hist, o->bins, e - o->exp);
    o->exp = e;
}

static void add_scan(cq_observer *o, const cq_hist_scan *s)
{
    o->finite += s->finite;
    o->nan += s->nan;
    o->pinf += s->pinf;
    o->ninf += s->ninf;
}

/* Channel c takes a batch's min and max. */
static void take_range(cq_observer *o, int64_t c, const cq_hist_scan *s)
{
    if (!s->finite)
        return;
    if (o->kind == CQ_OBS_MOVING_AVG && o->lo[c] != INFINITY) {
        float a = o->avg;
        o->lo[c] = o->lo[c] + a * (s->min - o->lo[c]);
        o->hi[c] = o->hi[c] + a * (s->max - o->hi[c]);
    } else {
        o->lo[c] = s->min < o->lo[c] ? s->min : o->lo[c];
        o->hi[c] = s->max > o->hi[c] ? s->max : o->hi[c];
    }
}

/* One pass per value in the common case: cq_hist_bin_f32 bins with the
 * current grid and gathers the batch's statistics as it goes. When it stops
 * at a value beyond the grid, the rest of the batch is scanned for its
 * largest magnitude and the grid grows once to cover it all, so a batch
 * grows the grid at most once and is read twice only then. */
static void hist_update(cq_observer *o, const float *x, int64_t n, cq_hist_scan *batch)
{
    int64_t t = 0;
    while (t < n) {
        int64_t m = n - t < CHUNK ? n - t : CHUNK;
        int64_t per_copy = (m + CQ_HIST_COPIES - 1) / CQ_HIST_COPIES;
        if (o->pending + per_copy > CQ_HIST_COUNTER_MAX)
            cq__obs_fold(o);
        o->pending += per_copy;
        int64_t done = cq_hist_bin_f32(x + t, m, ldexpf(1.0f, o->lg - o->exp), o->bins, o->cnt,
                                       batch);
        t += done;
        if (done < m) {
            cq_hist_scan r;
            cq_hist_scan_init(&r);
            cq_hist_scan_f32(x + t, n - t, &r); /* finite: a value beyond the grid is there */
            hist_grow(o, exp_cover(-r.min > r.max ? -r.min : r.max));
        }
    }
}

cq_status cq_observer_update(cq_observer *o, const float *x, int64_t n, cq_err *err)
{
    if (n < 0 || (n > 0 && !x))
        return cq_errf(err, CQ_EINVAL, "observer update: %lld values at %p", (long long)n,
                       (const void *)x);
    if (o->channels > 1)
        return cq_errf(err, CQ_EINVAL,
                       "observer update: per-channel observer (%lld channels): use update_axis",
                       (long long)o->channels);
    cq_hist_scan s;
    cq_hist_scan_init(&s);
    if (o->kind == CQ_OBS_HIST)
        hist_update(o, x, n, &s);
    else
        cq_hist_scan_f32(x, n, &s);
    add_scan(o, &s);
    take_range(o, 0, &s);
    o->batches++;
    return CQ_OK;
}

cq_status cq_observer_update_axis(cq_observer *o, const float *x, int64_t outer, int64_t axis_len,
                                  int64_t inner, cq_err *err)
{
    if (outer < 0 || axis_len < 0 || inner < 0 ||
        (inner && axis_len && outer > INT64_MAX / inner / axis_len))
        return cq_errf(err, CQ_EINVAL, "observer update: bad layout (%lld, %lld, %lld)",
                       (long long)outer, (long long)axis_len, (long long)inner);
    if (o->channels == 1)
        return cq_observer_update(o, x, outer * axis_len * inner, err);
    if (axis_len != o->channels)
        return cq_errf(err, CQ_EINVAL, "observer update: axis of %lld, observer has %lld channels",
                       (long long)axis_len, (long long)o->channels);
    if (!x && outer * inner > 0)
        return cq_errf(err, CQ_EINVAL, "observer update: NULL data");
    for (int64_t c = 0; c < axis_len; c++)
        cq_hist_scan_init(&o->cs[c]);
    for (int64_t b = 0; b < outer; b++)
        for (int64_t c = 0; c < axis_len; c++)
            cq_hist_scan_f32(x + (b * axis_len + c) * inner, inner, &o->cs[c]);
    for (int64_t c = 0; c < axis_len; c++) {
        add_scan(o, &o->cs[c]);
        take_range(o, c, &o->cs[c]);
    }
    o->batches++;
    return CQ_OK;
}

cq_status cq_observer_merge(cq_observer *dst, cq_observer *src, cq_err *err)
{
    if (dst->kind != src->kind)
        return cq_errf(err, CQ_EINVAL, "observer merge: kinds differ (%s, %s)",
                       cq_obs_kind_name(dst->kind), cq_obs_kind_name(src->kind));
    if (dst->kind == CQ_OBS_MOVING_AVG)
        return cq_errf(err, CQ_EUNSUPPORTED,
                       "observer merge: a moving average depends on the order of the batches "
                       "and does not merge (use minmax or hist)");
    if (dst->channels != src->channels || dst->bins != src->bins)
        return cq_errf(err, CQ_EINVAL,
                       "observer merge: shapes differ (%lld channels %d bins, %lld channels %d bins)",
                       (long long)dst->channels, (int)dst->bins, (long long)src->channels,
                       (int)src->bins);
    if (dst->kind == CQ_OBS_HIST) {
        cq__obs_fold(src);
        cq__obs_fold(dst);
        const uint64_t *sh = src->hist;
        uint64_t *tmp = NULL;
        if (src->exp < dst->exp) {
            tmp = malloc((size_t)(2 * src->bins) * sizeof *tmp);
            if (!tmp)
                return cq_errf(err, CQ_ENOMEM, "observer merge: out of memory");
            memcpy(tmp, src->hist, (size_t)(2 * src->bins) * sizeof *tmp);
            coarsen(tmp, src->bins, dst->exp - src->exp);
            sh = tmp;
        } else if (src->exp > dst->exp)
            hist_grow(dst, src->exp);
        for (int64_t j = 0; j < 2 * (int64_t)dst->bins; j++)
            dst->hist[j] += sh[j];
        free(tmp);
    }
    for (int64_t c = 0; c < dst->channels; c++) {
        dst->lo[c] = src->lo[c] < dst->lo[c] ? src->lo[c] : dst->lo[c];
        dst->hi[c] = src->hi[c] > dst->hi[c] ? src->hi[c] : dst->hi[c];
    }
    dst->batches += src->batches;
    dst->finite += src->finite;
    dst->nan += src->nan;
    dst->pinf += src->pinf;
    dst->ninf += src->ninf;
    return CQ_OK;
}

void cq_observer_get_info(cq_observer *o, cq_observer_info *info)
{
    cq__obs_fold(o);
    memset(info, 0, sizeof *info);
    info->kind = o->kind;
    info->channels = o->channels;
    info->axis = o->axis;
    info->averaging_constant = o->avg;
    info->bins = o->bins;
    info->exp = o->kind == CQ_OBS_HIST ? o->exp : 0;
    info->batches = o->batches;
    info->finite = o->finite;
    info->nan = o->nan;
    info->pinf = o->pinf;
    info->ninf = o->ninf;
    info->min = INFINITY;
    info->max = -INFINITY;
    for (int64_t c = 0; c < o->channels; c++) {
        info->min = o->lo[c] < info->min ? o->lo[c] : info->min;
        info->max = o->hi[c] > info->max ? o->hi[c] : info->max;
    }
}

cq_status cq_observer_channel_range(cq_observer *o, int64_t c, float *lo, float *hi, cq_err *err)
{
    if (c < 0 || c >= o->channels)
        return cq_errf(err, CQ_ERANGE, "observer: channel %lld of %lld", (long long)c,
                       (long long)o->channels);
    *lo = o->lo[c];
    *hi = o->hi[c];
    return CQ_OK;
}

const uint64_t *cq_observer_hist(cq_observer *o)
{
    if (o->kind != CQ_OBS_HIST)
        return NULL;
    cq__obs_fold(o);
    return o->hist;
}
