/* sampler.c - calibration-set policies (see sampler.h for the exact algorithms). */
#include "data/sampler.h"

#include <stdlib.h>
#include <string.h>

#include "base/rng.h"

cq_sample_opts cq_sample_defaults(void)
{
    cq_sample_opts o;
    memset(&o, 0, sizeof o);
    o.threshold = 1;
    o.pool_min = 1;
    o.pool_max = 1;
    o.per_class = 1;
    return o;
}

int64_t cq_sample_bound(const cq_dataset *ds, const int64_t *cand, int64_t ncand,
                        const cq_sample_opts *o)
{
    (void)o; /* class-balanced may take every candidate, so the bound is the candidates */
    int64_t n = cand ? ncand : ds->n;
    return n > 0 ? n : 1;
}

/* A copy of the candidates (0..n-1 when cand is NULL), checked: every index
 * in range, none twice. Returns NULL with err filled. The copy has room for
 * at least one element, so a 0-candidate run needs no special case. */
static int64_t *take_candidates(const cq_dataset *ds, const int64_t *cand, int64_t *ncand,
                                uint8_t **mark_out, cq_err *err)
{
    int64_t n = cand ? *ncand : ds->n;
    if (n < 0) {
        cq_errf(err, CQ_EINVAL, "sampler: negative candidate count %lld", (long long)n);
        return NULL;
    }
    int64_t *a = malloc((size_t)(n ? n : 1) * sizeof *a);
    uint8_t *mark = calloc((size_t)(ds->n ? ds->n : 1), 1);
    if (!a || !mark) {
        free(a);
        free(mark);
        cq_errf(err, CQ_ENOMEM, "sampler: out of memory for %lld candidates", (long long)n);
        return NULL;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t r = cand ? cand[i] : i;
        if (r < 0 || r >= ds->n || mark[r]) {
            cq_errf(err, CQ_EINVAL, "sampler: candidate %lld is %s (dataset has %lld images)",
                    (long long)(i + 1), r < 0 || r >= ds->n ? "out of range" : "given twice",
                    (long long)ds->n);
            free(a);
            free(mark);
            return NULL;
        }
        mark[r] = 1;
        a[i] = r;
    }
    *ncand = n;
    if (mark_out)
        *mark_out = mark;
    else
        free(mark);
    return a;
}

static cq_status check_common(const cq_sample_opts *o, int64_t cap, int64_t k, cq_err *err)
{
    if (o->size < 0)
        return cq_errf(err, CQ_EINVAL, "sampler: size %lld < 0", (long long)o->size);
    if (cap < k)
        return cq_errf(err, CQ_EINVAL, "sampler: output capacity %lld < %lld", (long long)cap,
                       (long long)k);
    return CQ_OK;
}

static void report_start(cq_sample_report *rep, const cq_dataset *ds, const cq_sample_opts *o,
                         int64_t ncand, const int64_t *set, int64_t k)
{
    memset(rep, 0, sizeof *rep);
    rep->candidates = ncand;
    rep->requested = o->size;
    cq_dataset_histogram(ds, set, k, rep->hist_before, CQ_HIST_BINS);
}

static void report_end(cq_sample_report *rep, const cq_dataset *ds, const int64_t *set, int64_t k)
{
    rep->chosen = k;
    cq_dataset_histogram(ds, set, k, rep->hist_after, CQ_HIST_BINS);
}

cq_status cq_sample_balanced(const cq_dataset *ds, const int64_t *cand, int64_t ncand,
                             const cq_sample_opts *o, int64_t *out, int64_t cap, int64_t *nout,
                             cq_sample_report *rep, cq_err *err)
{
    cq_sample_report dummy;
    if (!rep)
        rep = &dummy;
    *nout = 0;
    if (o->threshold < 0)
        return cq_errf(err, CQ_EINVAL, "sampler: threshold %d < 0", (int)o->threshold);
    uint8_t *drawn;
    int64_t *a = take_candidates(ds, cand, &ncand, &drawn, err);
    if (!a)
        return err->code;
    int64_t k = o->size < ncand ? o->size : ncand;
    cq_status st = check_common(o, cap, k, err);
    int64_t *pool = st ? NULL : malloc((size_t)(ncand ? ncand : 1) * sizeof *pool);
    if (!st && !pool)
        st = cq_errf(err, CQ_ENOMEM, "sampler: out of memory for the pool");
    if (st) {
        free(a);
        free(drawn);
        free(pool);
        return st;
    }
    const int32_t *cnt = ds->count;
    /* 1. the pool, in candidate order (taken before the shuffle) */
    int64_t np = 0;
    for (int64_t i = 0; i < ncand; i++) {
        int32_t c = cnt[a[i]];
        int in = o->pool_mask ? o->pool_mask[a[i]] != 0 : c >= o->pool_min && c <= o->pool_max;
        if (in && c <= o->threshold)
            pool[np++] = a[i];
    }
    /* 2. the first draw */
    cq_rng r;
    cq_rng_seed(&r, o->seed);
    cq_rng_shuffle(&r, a, ncand, k);
    report_start(rep, ds, o, ncand, a, k);
    /* 3. drawn images leave the pool: `drawn` marks candidates; clear, mark S */
    for (int64_t i = 0; i < ncand; i++)
        drawn[a[i]] = 0;
    for (int64_t i = 0; i < k; i++)
        drawn[a[i]] = 1;
    int64_t w = 0;
    for (int64_t i = 0; i < np; i++)
        if (!drawn[pool[i]])
            pool[w++] = pool[i];
    np = w;
    rep->pool_start = np;
    /* 4. replacements */
    for (int64_t i = 0; i < k; i++) {
        int64_t s = a[i];
        if (cnt[s] <= o->threshold) {
            out[i] = s;
            continue;
        }
        if (np == 0) {
            rep->pool_dry = 1;
            rep->above_left++;
            out[i] = s;
            continue;
        }
        int64_t j = (int64_t)cq_rng_below(&r, (uint64_t)np);
        out[i] = pool[j];
        pool[j] = pool[--np];
        rep->replaced++;
    }
    rep->pool_left = np;
    report_end(rep, ds, out, k);
    *nout = k;
    free(a);
    free(drawn);
    free(pool);
    return CQ_OK;
}

cq_status cq_sample_first(const cq_dataset *ds, const int64_t *cand, int64_t ncand,
                          const cq_sample_opts *o, int64_t *out, int64_t cap, int64_t *nout,
                          cq_sample_report *rep, cq_err *err)
{
    *nout = 0;
    int64_t *a = take_candidates(ds, cand, &ncand, NULL, err);
    if (!a)
        return err->code;
    int64_t k = o->size < ncand ? o->size : ncand;
    cq_status st = check_common(o, cap, k, err);
    if (!st) {
        memcpy(out, a, (size_t)k * sizeof *out);
        *nout = k;
        if (rep) {
            report_start(rep, ds, o, ncand, out, k);
            report_end(rep, ds, out, k);
        }
    }
    free(a);
    return st;
}

cq_status cq_sample_uniform(const cq_dataset *ds, const int64_t *cand, int64_t ncand,
                            const cq_sample_opts *o, int64_t *out, int64_t cap, int64_t *nout,
                            cq_sample_report *rep, cq_err *err)
{
    *nout = 0;
    int64_t *a = take_candidates(ds, cand, &ncand, NULL, err);
    if (!a)
        return err->code;
    int64_t k = o->size < ncand ? o->size : ncand;
    cq_status st = check_common(o, cap, k, err);
    if (!st) {
        cq_rng r;
        cq_rng_seed(&r, o->seed);
        cq_rng_shuffle(&r, a, ncand, k);
        memcpy(out, a, (size_t)k * sizeof *out);
        *nout = k;
        if (rep) {
            report_start(rep, ds, o, ncand, out, k);
            report_end(rep, ds, out, k);
        }
    }
    free(a);
    return st;
}

cq_status cq_sample_class_balanced(const cq_dataset *ds, const int64_t *cand, int64_t ncand,
                                   const cq_sample_opts *o, int64_t *out, int64_t cap,
                                   int64_t *nout, cq_sample_report *rep, cq_err *err)
{
    *nout = 0;
    if (o->per_class < 0)
        return cq_errf(err, CQ_EINVAL, "sampler: per_class %lld < 0", (long long)o->per_class);
    int64_t *a = take_candidates(ds, cand, &ncand, NULL, err);
    if (!a)
        return err->code;
    int64_t *taken = calloc((size_t)(ds->ncat ? ds->ncat : 1), sizeof *taken);
    if (!taken) {
        free(a);
        return cq_errf(err, CQ_ENOMEM, "sampler: out of memory");
    }
    cq_rng r;
    cq_rng_seed(&r, o->seed);
    cq_rng_shuffle(&r, a, ncand, ncand);
    int64_t k = 0;
    cq_status st = CQ_OK;
    for (int64_t i = 0; i < ncand; i++) {
        int64_t s = a[i], b0 = ds->box_first[s], b1 = b0 + ds->box_n[s];
        int want = 0;
        for (int64_t b = b0; b < b1 && !want; b++) {
            int32_t l = ds->box_label[b];
            want = l >= 0 && !(ds->box_flags[b] & CQ_BOX_IGNORE) && taken[l] < o->per_class;
        }
        if (!want)
            continue;
        if (k == cap) {
            st = cq_errf(err, CQ_EINVAL, "sampler: output capacity %lld too small", (long long)cap);
            break;
        }
        out[k++] = s;
        /* count each label once per image */
        for (int64_t b = b0; b < b1; b++) {
            int32_t l = ds->box_label[b];
            if (l < 0 || (ds->box_flags[b] & CQ_BOX_IGNORE))
                continue;
            int seen = 0;
            for (int64_t e = b0; e < b && !seen; e++)
                seen = ds->box_label[e] == l && !(ds->box_flags[e] & CQ_BOX_IGNORE);
            if (!seen)
                taken[l]++;
        }
    }
    if (!st) {
        *nout = k;
        if (rep) {
            report_start(rep, ds, o, ncand, out, k);
            report_end(rep, ds, out, k);
        }
    }
    free(taken);
    free(a);
    return st;
}

cq_status cq_sample_stratified(const cq_dataset *ds, const int64_t *cand, int64_t ncand,
                               const cq_sample_opts *o, int64_t *out, int64_t cap,
                               int64_t *nout, cq_sample_report *rep, cq_err *err)
{
    *nout = 0;
    int64_t *a = take_candidates(ds, cand, &ncand, NULL, err);
    if (!a)
        return err->code;
    int64_t k = o->size < ncand ? o->size : ncand;
    cq_status st = check_common(o, cap, k, err);
    int32_t maxc = 0;
    for (int64_t i = 0; i < ncand; i++)
        if (ds->count[a[i]] > maxc)
            maxc = ds->count[a[i]];
    if (!st && maxc > CQ_SAMPLE_MAX_STRATUM)
        st = cq_errf(err, CQ_EINVAL, "sampler: count %d too large to stratify", (int)maxc);
    size_t ns = st ? 0 : (size_t)maxc + 2;
    int64_t *start = st ? NULL : calloc(ns, sizeof *start);
    int64_t *take = st ? NULL : calloc(ns, sizeof *take);
    int64_t *sorted = st ? NULL : malloc((size_t)(ncand ? ncand : 1) * sizeof *sorted);
    double *frac = st ? NULL : malloc(ns * sizeof *frac);
    if (!st && (!start || !take || !sorted || !frac))
        st = cq_errf(err, CQ_ENOMEM, "sampler: out of memory for strata");
    if (st)
        goto done;
    for (int64_t i = 0; i < ncand; i++)
        start[ds->count[a[i]] + 1]++;
    for (size_t c = 1; c < ns; c++)
        start[c] += start[c - 1];
    for (int64_t i = 0; i < ncand; i++) /* stable: strata keep candidate order */
        sorted[start[ds->count[a[i]]]++] = a[i];
    for (size_t c = ns - 1; c > 0; c--) /* start[c] was advanced to the end of stratum c */
        start[c] = start[c - 1];
    start[0] = 0;
    /* proportional shares, largest remainder */
    int64_t given = 0;
    for (size_t c = 0; c + 1 < ns; c++) {
        int64_t m = start[c + 1] - start[c];
        double exact = ncand ? (double)k * (double)m / (double)ncand : 0;
        take[c] = (int64_t)exact;
        frac[c] = exact - (double)take[c];
        given += take[c];
    }
    while (given < k) {
        size_t best = 0;
        double bf = -1;
        for (size_t c = 0; c + 1 < ns; c++) {
            int64_t m = start[c + 1] - start[c];
            if (take[c] < m && frac[c] > bf) {
                bf = frac[c];
                best = c;
            }
        }
        take[best]++;
        frac[best] = -1;
        given++;
    }
    cq_rng r;
    cq_rng_seed(&r, o->seed);
    int64_t w = 0;
    for (size_t c = 0; c + 1 < ns; c++) {
        int64_t m = start[c + 1] - start[c];
        cq_rng_shuffle(&r, sorted + start[c], m, take[c]);
        memcpy(out + w, sorted + start[c], (size_t)take[c] * sizeof *out);
        w += take[c];
    }
    *nout = w;
    if (rep) {
        report_start(rep, ds, o, ncand, out, w);
        report_end(rep, ds, out, w);
    }
done:
    free(start);
    free(take);
    free(sorted);
    free(frac);
    free(a);
    return st;
}
