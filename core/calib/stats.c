/* stats.c - sets of named observers, their merge and their file (stats.h). */
#include "calib/stats.h"
#include "calib/calib_internal.h"
#include "io/tfile.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEAD_LEN 12
#define META_VERSION "calq.calib"
#define META_COUNT "calq.calib.observers"

struct cq_calib_stats {
    int n, cap;
    char **names;
    cq_observer **obs;
    /* name -> index + 1 (0 empty), the first observer of each name: a
     * lookup per activation stays constant-time (calibration and the
     * quantizer ask one per value) */
    int *slots;
    size_t n_slots;
};

static uint64_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* The slot holding name, or the empty one where it would go. */
static size_t slot_of(const cq_calib_stats *s, const char *name)
{
    size_t m = s->n_slots - 1, k = (size_t)name_hash(name) & m;
    while (s->slots[k] && strcmp(s->names[s->slots[k] - 1], name))
        k = (k + 1) & m;
    return k;
}

/* Index observer i's name (kept when an earlier one has it); -1 ENOMEM. */
static int slots_put(cq_calib_stats *s, int i)
{
    if ((size_t)(i + 1) * 2 > s->n_slots) {
        size_t cap = s->n_slots ? s->n_slots : 32;
        while ((size_t)(i + 1) * 2 > cap)
            cap *= 2;
        int *t = calloc(cap, sizeof *t);
        if (!t)
            return -1;
        free(s->slots);
        s->slots = t;
        s->n_slots = cap;
        for (int j = 0; j < i; j++) {
            size_t k = slot_of(s, s->names[j]);
            if (!s->slots[k])
                s->slots[k] = j + 1;
        }
    }
    size_t k = slot_of(s, s->names[i]);
    if (!s->slots[k])
        s->slots[k] = i + 1;
    return 0;
}

cq_calib_stats *cq_calib_stats_new(cq_err *err)
{
    cq_calib_stats *s = calloc(1, sizeof *s);
    if (!s)
        cq_errf(err, CQ_ENOMEM, "calibration statistics: out of memory");
    return s;
}

void cq_calib_stats_free(cq_calib_stats *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n; i++) {
        free(s->names[i]);
        cq_observer_free(s->obs[i]);
    }
    free(s->names);
    free(s->obs);
    free(s->slots);
    free(s);
}

cq_observer *cq_calib_stats_find(const cq_calib_stats *s, const char *name)
{
    if (!s->n_slots)
        return NULL;
    size_t k = slot_of(s, name);
    return s->slots[k] ? s->obs[s->slots[k] - 1] : NULL;
}

int cq_calib_stats_count(const cq_calib_stats *s) { return s->n; }

cq_observer *cq_calib_stats_at(const cq_calib_stats *s, int i)
{
    return i >= 0 && i < s->n ? s->obs[i] : NULL;
}

const char *cq_calib_stats_name(const cq_calib_stats *s, int i)
{
    return i >= 0 && i < s->n ? s->names[i] : NULL;
}

cq_status cq__calib_stats_put(cq_calib_stats *s, const char *name, cq_observer *o, cq_err *err)
{
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 16;
        char **nn = realloc(s->names, (size_t)cap * sizeof *nn);
        if (nn)
            s->names = nn;
        cq_observer **no = nn ? realloc(s->obs, (size_t)cap * sizeof *no) : NULL;
        if (!no) {
            cq_observer_free(o);
            return cq_errf(err, CQ_ENOMEM, "calibration statistics: out of memory");
        }
        s->obs = no;
        s->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy) {
        cq_observer_free(o);
        return cq_errf(err, CQ_ENOMEM, "calibration statistics: out of memory");
    }
    s->names[s->n] = copy;
    s->obs[s->n] = o;
    if (slots_put(s, s->n)) {
        free(copy);
        cq_observer_free(o);
        return cq_errf(err, CQ_ENOMEM, "calibration statistics: out of memory");
    }
    s->n++;
    return CQ_OK;
}

cq_observer *cq_calib_stats_add(cq_calib_stats *s, const char *name, cq_obs_kind kind,
                                const cq_observer_opts *opts, cq_err *err)
{
    if (!name || !*name) {
        cq_errf(err, CQ_EINVAL, "calibration statistics: empty observer name");
        return NULL;
    }
    if (cq_calib_stats_find(s, name)) {
        cq_errf(err, CQ_EINVAL, "calibration statistics: observer '%s' exists", name);
        return NULL;
    }
    cq_observer *o = cq_observer_new(kind, opts, err);
    if (!o || cq__calib_stats_put(s, name, o, err))
        return NULL;
    return o;
}

cq_status cq_calib_stats_merge(cq_calib_stats *dst, cq_calib_stats *src, cq_err *err)
{
    for (int i = 0; i < src->n; i++) {
        cq_observer *d = cq_calib_stats_find(dst, src->names[i]), *o = src->obs[i];
        const char *why = NULL;
        if (!d)
            continue;
        if (d->kind != o->kind)
            why = "kinds differ";
        else if (d->channels != o->channels || d->bins != o->bins)
            why = "channels or bins differ";
        else if (d->kind == CQ_OBS_MOVING_AVG)
            return cq_errf(err, CQ_EUNSUPPORTED,
                           "calibration statistics merge: observer '%s': a moving average "
                           "depends on the order of the batches and does not merge",
                           src->names[i]);
        if (why)
            return cq_errf(err, CQ_EINVAL, "calibration statistics merge: observer '%s': %s",
                           src->names[i], why);
    }
    for (int i = 0; i < src->n; i++) {
        cq_observer *d = cq_calib_stats_find(dst, src->names[i]);
        cq_status st;
        if (d)
            st = cq_observer_merge(d, src->obs[i], err);
        else {
            cq_observer *c = cq_observer_clone(src->obs[i], err);
            st = c ? cq__calib_stats_put(dst, src->names[i], c, err) : (err->code);
        }
        if (st)
            return cq_err_prefix(err, st, "calibration statistics merge: observer '%s': ",
                                 src->names[i]);
    }
    return CQ_OK;
}

/* ---- the file -------------------------------------------------------------- */

static cq_status add_tensor(cq_tfile_writer *w, const char *name, const char *suffix, cq_dtype dt,
                            int ndim, const int64_t *shape, void *data, cq_err *err)
{
    size_t len = strlen(name) + strlen(suffix);
    if (len > CQ_TFILE_NAME_MAX)
        return cq_errf(err, CQ_EINVAL, "observer name of %zu bytes is too long", strlen(name));
    char *full = malloc(len + 1);
    if (!full)
        return cq_errf(err, CQ_ENOMEM, "out of memory");
    memcpy(full, name, strlen(name));
    memcpy(full + strlen(name), suffix, strlen(suffix) + 1);
    cq_tensor *t = cq_tensor_wrap(dt, ndim, shape, data, NULL, NULL, err);
    cq_status st = t ? cq_tfile_add(w, full, t, err) : (err->code);
    cq_tensor_release(t);
    free(full);
    return st;
}

static cq_status save_one(cq_tfile_writer *w, const char *name, cq_observer *o, cq_err *err)
{
    cq__obs_fold(o);
    uint32_t avg_bits;
    memcpy(&avg_bits, &o->avg, sizeof avg_bits);
    int64_t head[HEAD_LEN] = {o->kind,    o->channels, o->axis, o->bins,
                              o->kind == CQ_OBS_HIST ? o->exp : 0,
                              o->batches, o->finite,   o->nan,  o->pinf,
                              o->ninf,    avg_bits,    0};
    int64_t hshape = HEAD_LEN, rshape[2] = {2, o->channels}, nshape = 2 * (int64_t)o->bins;
    float *range = malloc((size_t)(2 * o->channels) * sizeof *range);
    if (!range)
        return cq_errf(err, CQ_ENOMEM, "out of memory");
    memcpy(range, o->lo, (size_t)o->channels * sizeof *range);
    memcpy(range + o->channels, o->hi, (size_t)o->channels * sizeof *range);
    cq_status st = add_tensor(w, name, "#head", CQ_S64, 1, &hshape, head, err);
    if (!st)
        st = add_tensor(w, name, "#range", CQ_F32, 2, rshape, range, err);
    if (!st && o->kind == CQ_OBS_HIST)
        st = add_tensor(w, name, "#hist", CQ_S64, 1, &nshape, o->hist, err);
    free(range);
    return st;
}

cq_status cq_calib_stats_save(cq_calib_stats *s, const char *path, cq_err *err)
{
    cq_tfile_writer *w = cq_tfile_create(path, err);
    if (!w)
        return err->code;
    char count[32], version[32];
    snprintf(count, sizeof count, "%d", s->n);
    snprintf(version, sizeof version, "%d", CQ_CALIB_STATS_VERSION);
    cq_status st = cq_tfile_set_meta(w, META_VERSION, version, err);
    if (!st)
        st = cq_tfile_set_meta(w, META_COUNT, count, err);
    for (int i = 0; !st && i < s->n; i++)
        if ((st = save_one(w, s->names[i], s->obs[i], err)))
            cq_err_prefix(err, st, "%s: observer '%s': ", path, s->names[i]);
    if (st) {
        cq_tfile_abort(w);
        return st;
    }
    return cq_tfile_close(w, err);
}
