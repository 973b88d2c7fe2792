/* stats_read.c - loading a set of observers from its file (stats.h), with
 * every size and count checked before it is trusted. */
#include "calib/stats.h"
#include "calib/calib_internal.h"
#include "io/tfile.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEAD_LEN 12

static void describe(cq_dtype dt, int ndim, const int64_t *shape, char *buf, size_t size)
{
    const cq_dtype_traits *tr = cq_dtype_info(dt);
    int k = snprintf(buf, size, "%s[", tr ? tr->name : "?");
    for (int i = 0; i < ndim && k > 0 && (size_t)k < size; i++)
        k += snprintf(buf + k, size - (size_t)k, "%s%lld", i ? "," : "", (long long)shape[i]);
    if (k > 0 && (size_t)k < size)
        snprintf(buf + k, size - (size_t)k, "]");
}

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s", a, b);
    return s;
}

/* Tensor name + suffix, which must be dt[shape]. */
static cq_tensor *read_part(cq_tfile *r, const char *path, const char *name, const char *suffix,
                            cq_dtype dt, int ndim, const int64_t *shape, cq_err *err)
{
    char *full = join(name, suffix);
    if (!full) {
        cq_errf(err, CQ_ENOMEM, "%s: out of memory", path);
        return NULL;
    }
    int idx = cq_tfile_find(r, full);
    const cq_tfile_entry *e = idx >= 0 ? cq_tfile_entry_at(r, idx) : NULL;
    cq_tensor *t = NULL;
    if (!e)
        cq_errf(err, CQ_EFORMAT, "%s: observer '%s': no tensor '%s'", path, name, full);
    else {
        int same = e->dtype == dt && e->ndim == ndim;
        for (int i = 0; same && i < ndim; i++)
            same = e->shape[i] == shape[i];
        if (!same) {
            char got[128], want[128];
            describe(e->dtype, e->ndim, e->shape, got, sizeof got);
            describe(dt, ndim, shape, want, sizeof want);
            cq_errf(err, CQ_EFORMAT, "%s: observer '%s': '%s' is %s, expected %s", path, name, full,
                    got, want);
        } else
            t = cq_tfile_read(r, idx, err);
    }
    free(full);
    return t;
}

/* What is wrong with a head, or NULL. */
static const char *bad_head(const int64_t *h)
{
    if (h[0] < 0 || h[0] >= CQ_OBS_KIND_COUNT)
        return "unknown kind";
    if (h[1] < 1 || h[1] > CQ_OBS_CHANNELS_MAX || (h[0] == CQ_OBS_HIST && h[1] != 1))
        return "bad channel count";
    if (h[2] < -1 || h[2] >= CQ_MAX_DIMS)
        return "bad axis";
    if (h[0] == CQ_OBS_HIST ? cq__obs_bins_lg(h[3]) < 0 : h[3] != 0)
        return "bad bin count";
    if (h[0] == CQ_OBS_HIST ? h[4] < CQ_HIST_EXP_MIN || h[4] > CQ_HIST_EXP_MAX : h[4] != 0)
        return "bad grid exponent";
    for (int i = 5; i < 10; i++)
        if (h[i] < 0)
            return "negative count";
    if (h[10] < 0 || h[10] > UINT32_MAX || h[11] != 0)
        return "bad averaging constant";
    float a;
    uint32_t bits = (uint32_t)h[10];
    memcpy(&a, &bits, sizeof a);
    if (!(a > 0.0f && a <= 1.0f))
        return "bad averaging constant";
    return NULL;
}

/* What is wrong with the ranges and the histogram of o, or NULL. */
static const char *bad_counts(const cq_observer *o)
{
    for (int64_t c = 0; c < o->channels; c++) {
        float lo = o->lo[c], hi = o->hi[c];
        int empty = lo == INFINITY && hi == -INFINITY;
        if (o->finite == 0 ? !empty : !empty && (!isfinite(lo) || !isfinite(hi) || lo > hi))
            return "bad min / max";
        if (o->channels == 1 && empty && o->finite)
            return "no min / max for its finite values";
    }
    if (o->kind != CQ_OBS_HIST)
        return NULL;
    uint64_t sum = 0;
    for (int64_t j = 0; j < 2 * (int64_t)o->bins; j++) {
        if ((int64_t)o->hist[j] < 0 || sum + o->hist[j] < sum)
            return "bad histogram count";
        sum += o->hist[j];
    }
    if (sum != (uint64_t)o->finite)
        return "histogram does not sum to the finite count";
    int want = CQ_HIST_EXP_MIN;
    if (o->finite) {
        float amax = -o->lo[0] > o->hi[0] ? -o->lo[0] : o->hi[0];
        int e = 0;
        if (amax > 0.0f)
            frexpf(amax, &e);
        want = e > want ? e : want;
    }
    return o->exp != want ? "grid exponent does not match the range" : NULL;
}

static cq_observer *load_one(cq_tfile *r, const char *path, const char *name, cq_err *err)
{
    int64_t hshape = HEAD_LEN;
    cq_tensor *ht = read_part(r, path, name, "#head", CQ_S64, 1, &hshape, err), *rt = NULL,
              *nt = NULL;
    if (!ht)
        return NULL;
    const int64_t *h = cq_tensor_data(ht);
    const char *why = bad_head(h);
    cq_observer *o = NULL;
    if (why) {
        cq_errf(err, CQ_EFORMAT, "%s: observer '%s': %s", path, name, why);
        goto done;
    }
    uint32_t bits = (uint32_t)h[10];
    cq_observer_opts opts = {h[1], (int)h[2], 0.0f, (int32_t)h[3]};
    memcpy(&opts.averaging_constant, &bits, sizeof bits);
    if (!(o = cq_observer_new((cq_obs_kind)h[0], &opts, err))) {
        cq_err_prefix(err, err->code, "%s: observer '%s': ", path, name);
        goto done;
    }
    o->axis = (int)h[2];
    o->exp = o->kind == CQ_OBS_HIST ? (int)h[4] : 0;
    o->batches = h[5];
    o->finite = h[6];
    o->nan = h[7];
    o->pinf = h[8];
    o->ninf = h[9];
    int64_t rshape[2] = {2, o->channels}, nshape = 2 * (int64_t)o->bins;
    if (!(rt = read_part(r, path, name, "#range", CQ_F32, 2, rshape, err)))
        goto fail;
    memcpy(o->lo, cq_tensor_data(rt), (size_t)o->channels * sizeof *o->lo);
    memcpy(o->hi, (float *)cq_tensor_data(rt) + o->channels, (size_t)o->channels * sizeof *o->hi);
    if (o->kind == CQ_OBS_HIST) {
        if (!(nt = read_part(r, path, name, "#hist", CQ_S64, 1, &nshape, err)))
            goto fail;
        memcpy(o->hist, cq_tensor_data(nt), (size_t)nshape * sizeof *o->hist);
    } else {
        char *hn = join(name, "#hist");
        int stray = hn && cq_tfile_find(r, hn) >= 0;
        free(hn);
        if (stray) {
            cq_errf(err, CQ_EFORMAT, "%s: observer '%s': a histogram for a %s observer", path,
                    name, cq_obs_kind_name(o->kind));
            goto fail;
        }
    }
    if ((why = bad_counts(o))) {
        cq_errf(err, CQ_EFORMAT, "%s: observer '%s': %s", path, name, why);
        goto fail;
    }
    goto done;
fail:
    cq_observer_free(o);
    o = NULL;
done:
    cq_tensor_release(ht);
    cq_tensor_release(rt);
    cq_tensor_release(nt);
    return o;
}

static int ends_with(const char *s, const char *suffix, size_t *prefix)
{
    size_t n = strlen(s), m = strlen(suffix);
    *prefix = n - m;
    return n > m && strcmp(s + n - m, suffix) == 0;
}

cq_calib_stats *cq_calib_stats_load(const char *path, cq_err *err)
{
    cq_tfile *r = cq_tfile_open(path, err);
    if (!r)
        return NULL;
    cq_calib_stats *s = NULL;
    const char *v = cq_tfile_meta(r, "calq.calib"), *cnt = cq_tfile_meta(r, "calq.calib.observers");
    char *end = NULL;
    long want = -1;
    if (cnt) {
        errno = 0;
        want = strtol(cnt, &end, 10);
        if (errno || end == cnt || *end || want < 0)
            want = -1;
    }
    if (!v) {
        cq_errf(err, CQ_EFORMAT, "%s: not calibration statistics (no 'calq.calib' metadata)", path);
        goto fail;
    }
    if (strcmp(v, "1") != 0) {
        cq_errf(err, CQ_EUNSUPPORTED, "%s: calibration statistics version '%s' (calq reads %d)",
                path, v, CQ_CALIB_STATS_VERSION);
        goto fail;
    }
    if (want < 0) {
        cq_errf(err, CQ_EFORMAT, "%s: bad or missing observer count", path);
        goto fail;
    }
    if (!(s = cq_calib_stats_new(err)))
        goto fail;
    for (int i = 0; i < cq_tfile_count(r); i++) {
        const char *tn = cq_tfile_entry_at(r, i)->name;
        size_t k;
        char *name = NULL;
        if (ends_with(tn, "#head", &k)) {
            cq_observer *o = NULL;
            if (!(name = strndup(tn, k)))
                cq_errf(err, CQ_ENOMEM, "%s: out of memory", path);
            else if ((o = load_one(r, path, name, err)) && cq__calib_stats_put(s, name, o, err))
                o = NULL;
            free(name);
            if (!o)
                goto fail;
            continue;
        }
        if ((ends_with(tn, "#range", &k) || ends_with(tn, "#hist", &k)) && (name = strndup(tn, k))) {
            char *head = join(name, "#head");
            int found = head && cq_tfile_find(r, head) >= 0;
            free(head);
            free(name);
            if (found)
                continue;
        }
        cq_errf(err, CQ_EFORMAT, "%s: tensor '%s' belongs to no observer", path, tn);
        goto fail;
    }
    if (cq_calib_stats_count(s) != want) {
        cq_errf(err, CQ_EFORMAT, "%s: %d observers, the metadata says %ld", path,
                cq_calib_stats_count(s), want);
        goto fail;
    }
    cq_tfile_free(r);
    return s;
fail:
    cq_calib_stats_free(s);
    cq_tfile_free(r);
    return NULL;
}
