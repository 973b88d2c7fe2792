/* test_sampler.c - the PRNG and the calibration-set policies: pinned results
 * (computed by an independent Python transcription of rng.h and sampler.h),
 * and property tests on random data sets with fixed seeds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "data/dataset.h"
#include "base/rng.h"
#include "data/sampler.h"

static cq_dataset *make_ds(const int32_t *counts, int64_t n)
{
    cq_err err;
    cq_dataset *ds = cq_dataset_new(&err);
    assert_non_null(ds);
    char path[32];
    for (int64_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "img%lld.jpg", (long long)i);
        assert_true(cq_dataset_add(ds, path, i + 1, 100, 100, counts[i], &err) == i);
    }
    return ds;
}

static void test_sampler_rng_pinned(void **state)
{
    (void)state;
    cq_rng r;
    cq_rng_seed(&r, 0);
    assert_true(cq_rng_next(&r) == 0x99ec5f36cb75f2b4ULL);
    assert_true(cq_rng_next(&r) == 0xbf6e1f784956452aULL);
    assert_true(cq_rng_next(&r) == 0x1a5f849d4933e6e0ULL);
    cq_rng_seed(&r, 42);
    const uint64_t want[5] = {742, 102, 9, 193, 476};
    for (int i = 0; i < 5; i++)
        assert_true(cq_rng_below(&r, 1000) == want[i]);
    assert_true(cq_rng_below(&r, 0) == 0);
}

static void test_sampler_rng_below_uniform(void **state)
{
    (void)state;
    cq_rng r;
    cq_rng_seed(&r, 3);
    int64_t hist[7] = {0};
    for (int i = 0; i < 70000; i++)
        hist[cq_rng_below(&r, 7)]++;
    for (int i = 0; i < 7; i++) /* 10000 expected; 5 sigma is 480 */
        assert_true(hist[i] > 9500 && hist[i] < 10500);
}

static void run_balanced(const cq_dataset *ds, const cq_sample_opts *o, int64_t *out, int64_t *n,
                         cq_sample_report *rep)
{
    cq_err err;
    cq_status st = cq_sample_balanced(ds, NULL, 0, o, out, ds->n ? ds->n : 1, n, rep, &err);
    if (st)
        fail_msg("%s", err.msg);
}

static void test_sampler_balanced_pinned(void **state)
{
    (void)state;
    int32_t c1[20], c2[30];
    for (int i = 0; i < 20; i++)
        c1[i] = (i * 7 + 3) % 5;
    for (int i = 0; i < 30; i++)
        c2[i] = i % 3;
    cq_sample_opts o = cq_sample_defaults();
    int64_t out[30], n;
    cq_sample_report rep;

    cq_dataset *ds = make_ds(c1, 20);
    o.size = 8, o.threshold = 1, o.seed = 42;
    run_balanced(ds, &o, out, &n, &rep);
    const int64_t want1[8] = {9, 11, 19, 18, 8, 14, 4, 7};
    assert_int_equal(n, 8);
    assert_memory_equal(out, want1, sizeof want1);
    assert_int_equal(rep.replaced, 2);
    assert_int_equal(rep.pool_left, 0);
    assert_true(rep.pool_dry);
    assert_int_equal(rep.above_left, 3);
    cq_dataset_free(ds);

    ds = make_ds(c2, 30);
    o.size = 6, o.threshold = 1, o.seed = 7;
    run_balanced(ds, &o, out, &n, &rep);
    const int64_t want2[6] = {24, 4, 0, 16, 10, 7};
    assert_int_equal(n, 6);
    assert_memory_equal(out, want2, sizeof want2);
    assert_int_equal(rep.replaced, 1);
    assert_int_equal(rep.pool_left, 6);
    assert_false(rep.pool_dry);
    cq_dataset_free(ds);
}

/* Every documented property on random data sets. */
static void check_balanced_props(const int32_t *counts, int64_t nds, int64_t size, int32_t thr,
                                 uint64_t seed)
{
    cq_dataset *ds = make_ds(counts, nds);
    cq_sample_opts o = cq_sample_defaults();
    o.size = size, o.threshold = thr, o.seed = seed;
    int64_t cap = nds ? nds : 1;
    int64_t *out = malloc((size_t)cap * sizeof *out), *out2 = malloc((size_t)cap * sizeof *out);
    int64_t *first = malloc((size_t)cap * sizeof *first);
    int64_t n, n2, nf;
    cq_sample_report rep, rep2;
    cq_err err;
    run_balanced(ds, &o, out, &n, &rep);
    int64_t k = size < nds ? size : nds;
    assert_int_equal(n, k); /* size as requested, or all when the set is smaller */
    assert_int_equal(rep.chosen, k);
    /* same seed, same set */
    run_balanced(ds, &o, out2, &n2, &rep2);
    assert_int_equal(n2, n);
    assert_memory_equal(out, out2, (size_t)n * sizeof *out);
    /* the first draw is the uniform policy with the same seed */
    assert_int_equal(cq_sample_uniform(ds, NULL, 0, &o, first, cap, &nf, NULL, &err), CQ_OK);
    assert_int_equal(nf, k);
    uint8_t *seen = calloc((size_t)cap, 1), *in_first = calloc((size_t)cap, 1);
    for (int64_t i = 0; i < k; i++)
        in_first[first[i]] = 1;
    int64_t replaced = 0, above = 0, pool_total = 0;
    for (int64_t i = 0; i < nds; i++)
        pool_total += counts[i] == 1 && counts[i] <= thr && !in_first[i];
    for (int64_t i = 0; i < n; i++) {
        assert_false(seen[out[i]]); /* no duplicates */
        seen[out[i]] = 1;
        if (counts[first[i]] <= thr) {
            assert_int_equal(out[i], first[i]); /* below the threshold: kept */
        } else if (out[i] != first[i]) {
            /* every replacement comes from the pool */
            assert_int_equal(counts[out[i]], 1);
            assert_false(in_first[out[i]]);
            replaced++;
        } else {
            above++;
        }
        if (counts[out[i]] > thr)
            assert_true(rep.pool_dry); /* above the threshold only when the pool ran dry */
    }
    assert_int_equal(replaced, rep.replaced);
    assert_int_equal(above, rep.above_left);
    assert_int_equal(rep.pool_start, pool_total);
    assert_int_equal(rep.pool_left, pool_total - replaced);
    if (rep.pool_dry)
        assert_int_equal(rep.pool_left, 0);
    int64_t h[CQ_HIST_BINS];
    cq_dataset_histogram(ds, out, n, h, CQ_HIST_BINS);
    assert_memory_equal(h, rep.hist_after, sizeof h);
    cq_dataset_histogram(ds, first, k, h, CQ_HIST_BINS);
    assert_memory_equal(h, rep.hist_before, sizeof h);
    free(seen);
    free(in_first);
    free(out);
    free(out2);
    free(first);
    cq_dataset_free(ds);
}

static void test_sampler_balanced_properties(void **state)
{
    (void)state;
    cq_rng r;
    cq_rng_seed(&r, 2024);
    int32_t counts[300];
    for (int trial = 0; trial < 300; trial++) {
        int64_t n = (int64_t)cq_rng_below(&r, 301);
        int32_t maxc = 1 + (int32_t)cq_rng_below(&r, 8);
        for (int64_t i = 0; i < n; i++)
            counts[i] = (int32_t)cq_rng_below(&r, (uint64_t)maxc + 1);
        int64_t size = (int64_t)cq_rng_below(&r, (uint64_t)n + 20);
        int32_t thr = (int32_t)cq_rng_below(&r, 4);
        check_balanced_props(counts, n, size, thr, cq_rng_next(&r));
    }
}

static void test_sampler_balanced_edges(void **state)
{
    (void)state;
    int32_t none[1] = {0}, threes[10], ones[10], mix[10];
    for (int i = 0; i < 10; i++)
        threes[i] = 3, ones[i] = 1, mix[i] = i % 4;
    check_balanced_props(none, 0, 5, 1, 1);     /* empty data set */
    check_balanced_props(threes, 10, 4, 1, 1);  /* empty pool */
    check_balanced_props(mix, 10, 6, 0, 9);     /* threshold 0: pool empty by definition */
    check_balanced_props(mix, 10, 6, 1, 9);     /* threshold 1 */
    check_balanced_props(mix, 10, 25, 1, 9);    /* size larger than the data set */
    check_balanced_props(ones, 10, 0, 1, 9);    /* size 0 */

    cq_dataset *ds = make_ds(threes, 10);
    cq_sample_opts o = cq_sample_defaults();
    o.size = 4, o.seed = 1;
    int64_t out[10], n;
    cq_sample_report rep;
    run_balanced(ds, &o, out, &n, &rep);
    assert_int_equal(n, 4);
    assert_true(rep.pool_dry);
    assert_int_equal(rep.above_left, 4);
    assert_int_equal(rep.replaced, 0);
    /* a settable pool criterion: counts 2..3 (but never above the threshold) */
    o.threshold = 2, o.pool_min = 2, o.pool_max = 3;
    run_balanced(ds, &o, out, &n, &rep);
    assert_int_equal(rep.pool_start, 0);
    cq_dataset_free(ds);

    ds = make_ds(mix, 10);
    o = cq_sample_defaults();
    o.size = 3, o.threshold = 0, o.seed = 5;
    run_balanced(ds, &o, out, &n, &rep);
    assert_int_equal(rep.pool_start, 0); /* count 1 > threshold 0 cannot be a replacement */
    cq_dataset_free(ds);
}

static void test_sampler_bad_candidates(void **state)
{
    (void)state;
    int32_t c[5] = {1, 2, 1, 3, 1};
    cq_dataset *ds = make_ds(c, 5);
    cq_sample_opts o = cq_sample_defaults();
    o.size = 2;
    int64_t out[5], n;
    cq_err err;
    int64_t dup[3] = {0, 2, 0}, range[2] = {1, 5};
    assert_int_equal(cq_sample_balanced(ds, dup, 3, &o, out, 5, &n, NULL, &err), CQ_EINVAL);
    assert_string_equal(err.msg, "sampler: candidate 3 is given twice (dataset has 5 images)");
    assert_int_equal(cq_sample_uniform(ds, range, 2, &o, out, 5, &n, NULL, &err), CQ_EINVAL);
    assert_string_equal(err.msg, "sampler: candidate 2 is out of range (dataset has 5 images)");
    o.size = -1;
    assert_int_equal(cq_sample_first(ds, NULL, 0, &o, out, 5, &n, NULL, &err), CQ_EINVAL);
    o.size = 4;
    assert_int_equal(cq_sample_first(ds, NULL, 0, &o, out, 3, &n, NULL, &err), CQ_EINVAL);
    assert_string_equal(err.msg, "sampler: output capacity 3 < 4");
    o.threshold = -1;
    assert_int_equal(cq_sample_balanced(ds, NULL, 0, &o, out, 5, &n, NULL, &err), CQ_EINVAL);
    /* candidates restrict the draw */
    int64_t cand[3] = {4, 1, 3};
    o = cq_sample_defaults();
    o.size = 3;
    assert_int_equal(cq_sample_first(ds, cand, 3, &o, out, 5, &n, NULL, &err), CQ_OK);
    assert_int_equal(n, 3);
    assert_memory_equal(out, cand, sizeof cand);
    cq_dataset_free(ds);
}

static void test_sampler_other_policies(void **state)
{
    (void)state;
    cq_rng r;
    cq_rng_seed(&r, 77);
    cq_err err;
    for (int trial = 0; trial < 50; trial++) {
        int64_t nds = 1 + (int64_t)cq_rng_below(&r, 200);
        cq_dataset *ds = cq_dataset_new(&err);
        int32_t ncls = 1 + (int32_t)cq_rng_below(&r, 6);
        char name[16];
        for (int64_t i = 0; i < nds; i++) {
            assert_true(cq_dataset_add(ds, "x.jpg", i + 1, 100, 100, -1, &err) == i);
            for (int b = 0, nb = (int)cq_rng_below(&r, 5); b < nb; b++) {
                snprintf(name, sizeof name, "c%d", (int)cq_rng_below(&r, (uint64_t)ncls));
                int32_t c = cq_dataset_category(ds, name, -1, &err);
                assert_int_equal(cq_dataset_add_box(ds, 1, 1, 5, 5, c, 0, &err), CQ_OK);
            }
        }
        cq_sample_opts o = cq_sample_defaults();
        o.size = (int64_t)cq_rng_below(&r, (uint64_t)nds + 5);
        o.seed = cq_rng_next(&r);
        o.per_class = 1 + (int64_t)cq_rng_below(&r, 4);
        int64_t *out = malloc((size_t)nds * sizeof *out), n;
        int64_t k = o.size < nds ? o.size : nds;
        uint8_t *seen = calloc((size_t)nds, 1);
        /* first-N */
        assert_int_equal(cq_sample_first(ds, NULL, 0, &o, out, nds, &n, NULL, &err), CQ_OK);
        assert_int_equal(n, k);
        for (int64_t i = 0; i < n; i++)
            assert_int_equal(out[i], i);
        /* stratified: size, no duplicates, each stratum within one of its share */
        cq_sample_report rep;
        assert_int_equal(cq_sample_stratified(ds, NULL, 0, &o, out, nds, &n, &rep, &err), CQ_OK);
        assert_int_equal(n, k);
        int64_t all[CQ_HIST_BINS];
        cq_dataset_histogram(ds, NULL, 0, all, CQ_HIST_BINS);
        for (int c = 0; c < CQ_HIST_BINS; c++) {
            double share = (double)k * (double)all[c] / (double)nds;
            assert_true((double)rep.hist_after[c] >= share - 1.0 && (double)rep.hist_after[c] <= share + 1.0);
        }
        for (int64_t i = 0; i < n; i++) {
            assert_false(seen[out[i]]);
            seen[out[i]] = 1;
        }
        /* class-balanced: no duplicates, every class reaches min(k, available) */
        memset(seen, 0, (size_t)nds);
        assert_int_equal(cq_sample_class_balanced(ds, NULL, 0, &o, out, nds, &n, NULL, &err), CQ_OK);
        int64_t taken[8] = {0}, avail[8] = {0};
        for (int64_t i = 0; i < nds; i++) {
            uint8_t has[8] = {0};
            for (int64_t b = ds->box_first[i]; b < ds->box_first[i] + ds->box_n[i]; b++)
                has[ds->box_label[b]] = 1;
            for (int c = 0; c < ds->ncat; c++)
                avail[c] += has[c];
        }
        for (int64_t i = 0; i < n; i++) {
            assert_false(seen[out[i]]);
            seen[out[i]] = 1;
            assert_true(ds->box_n[out[i]] > 0);
            uint8_t has[8] = {0};
            for (int64_t b = ds->box_first[out[i]]; b < ds->box_first[out[i]] + ds->box_n[out[i]]; b++)
                has[ds->box_label[b]] = 1;
            for (int c = 0; c < ds->ncat; c++)
                taken[c] += has[c];
        }
        for (int c = 0; c < ds->ncat; c++)
            assert_true(taken[c] >= (avail[c] < o.per_class ? avail[c] : o.per_class));
        free(out);
        free(seen);
        cq_dataset_free(ds);
    }
}

static void test_sampler_million(void **state)
{
    (void)state;
    int64_t n = 1000000;
    int32_t *c = malloc((size_t)n * sizeof *c);
    cq_rng r;
    cq_rng_seed(&r, 5);
    for (int64_t i = 0; i < n; i++)
        c[i] = (int32_t)cq_rng_below(&r, 5);
    cq_dataset *ds = make_ds(c, n);
    cq_sample_opts o = cq_sample_defaults();
    o.size = 100000, o.seed = 1;
    int64_t *out = malloc((size_t)n * sizeof *out), m;
    cq_sample_report rep;
    run_balanced(ds, &o, out, &m, &rep);
    assert_int_equal(m, 100000);
    assert_false(rep.pool_dry);
    for (int64_t i = 0; i < m; i++)
        assert_true(c[out[i]] <= 1);
    free(out);
    free(c);
    cq_dataset_free(ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sampler_rng_pinned),
        cmocka_unit_test(test_sampler_rng_below_uniform),
        cmocka_unit_test(test_sampler_balanced_pinned),
        cmocka_unit_test(test_sampler_balanced_properties),
        cmocka_unit_test(test_sampler_balanced_edges),
        cmocka_unit_test(test_sampler_bad_candidates),
        cmocka_unit_test(test_sampler_other_policies),
        cmocka_unit_test(test_sampler_million),
    };
    return cmocka_run_group_tests_name("sampler", tests, NULL, NULL);
}
