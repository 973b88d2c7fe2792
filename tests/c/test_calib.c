/* test_calib.c - calibration observers (core/calib/): the histogram kernels
 * against their scalar reference, min-max and moving average, exact merges,
 * range growth, NaN and infinities, constant tensors, the percentile,
 * entropy and L2 searches against tests/ref/calib_ref.py, scales and zero
 * points, per-channel weights, statistics files and damaged ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include "calib/calib_search.h"
#include "calib/observer.h"
#include "calib/stats.h"
#include "io/tfile.h"
#include "kern/kern.h"
#include "kern/kern_hist.h"
#include "tio_util.h"
#include "calib_testutil.h"


static void test_calib_kern_avx512_matches_scalar(void **state)
{
    (void)state;
    cq_isa was = cq_kern_isa();
    if (cq_kern_set_isa(CQ_ISA_AVX512) != CQ_ISA_AVX512) {
        cq_kern_set_isa(was);
        skip();
    }
    tio_seed(11);
    int32_t nb = 256;
    float inv = ldexpf(1.0f, 8 - 3); /* magnitudes [0, 8) */
    const int64_t sizes[] = {0, 1, 3, 15, 16, 17, 63, 64, 65, 127, 128, 129, 1000, 4099};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        int64_t n = sizes[k];
        float *x = malloc((size_t)(n + 1) * sizeof *x);
        for (int64_t i = 0; i < n; i++)
            x[i] = awkward();
        uint64_t a[512], b[512];
        cq_hist_scan sa, sb, ss;
        assert_int_equal(bins_with(CQ_ISA_SCALAR, x, n, inv, nb, a, &sa), n);
        assert_int_equal(bins_with(CQ_ISA_AVX512, x, n, inv, nb, b, &sb), n);
        assert_memory_equal(a, b, sizeof a);
        assert_scan_equal(&sa, &sb);
        cq_hist_scan_init(&ss); /* the binning pass's statistics are the scan's */
        cq_hist_scan_f32(x, n, &ss);
        assert_scan_equal(&sa, &ss);
        uint64_t total = 0;
        for (int j = 0; j < 512; j++)
            total += a[j];
        assert_int_equal(total, sa.finite);

        /* a value beyond the grid at every place: both stop before its block */
        for (int64_t p = 0; p < n; p += 1 + p / 3) {
            float keep = x[p];
            x[p] = (tio_u64() & 1 ? 8.0f : -1e30f);
            int64_t want = p / CQ_HIST_BLOCK * CQ_HIST_BLOCK;
            assert_int_equal(bins_with(CQ_ISA_SCALAR, x, n, inv, nb, a, &sa), want);
            assert_int_equal(bins_with(CQ_ISA_AVX512, x, n, inv, nb, b, &sb), want);
            assert_memory_equal(a, b, sizeof a);
            assert_scan_equal(&sa, &sb);
            cq_hist_scan_init(&ss);
            cq_hist_scan_f32_ref(x, want, &ss);
            assert_scan_equal(&sa, &ss);
            x[p] = keep;
        }
        free(x);
    }
    /* bin edges land where the definition says */
    float e[6] = {0.0f, 0.03125f, -0.03125f, 0.0624999963f, -1e-42f, 7.96875f};
    uint64_t h[512];
    cq_hist_scan s;
    bins_with(CQ_ISA_AVX512, e, 6, inv, nb, h, &s);
    assert_int_equal(h[256 + 0], 1); /* bins of 1/32: 0 */
    assert_int_equal(h[256 + 1], 2); /* 1/32 (on the edge) and 0.0624999963 */
    assert_int_equal(h[255 - 0], 1); /* -1e-42 */
    assert_int_equal(h[255 - 1], 1); /* -1/32 */
    assert_int_equal(h[256 + 255], 1);
    assert_int_equal(s.finite, 6);
    /* grids at the ends of the exponents: 2^128 (every finite value is on it)
     * and 2^-100 (only tiny values are) */
    float f[4] = {FLT_MAX, -FLT_MAX, 1.0f, -0.0f};
    uint64_t g[2 * 128];
    for (int isa = 0; isa < 2; isa++) {
        cq_isa i = isa ? CQ_ISA_AVX512 : CQ_ISA_SCALAR;
        assert_int_equal(bins_with(i, f, 4, ldexpf(1.0f, 7 - 128), 128, g, &s), 4);
        assert_int_equal(g[255], 1); /* FLT_MAX: magnitude bin 127 of 2^121 */
        assert_int_equal(g[0], 1);
        assert_int_equal(g[128] + g[127], 2);
        float tiny[3] = {1e-35f, -0.0f, ldexpf(1.0f, -100)};
        assert_int_equal(bins_with(i, tiny, 3, ldexpf(1.0f, 7 + 100), 128, g, &s), 0);
        assert_int_equal(bins_with(i, tiny, 2, ldexpf(1.0f, 7 + 100), 128, g, &s), 2);
        assert_int_equal(g[128], 2); /* 1e-35 = 2^-116.3 and -0.0: bin 0 (of width 2^-107) */
    }
    cq_kern_set_isa(was);
}

/* The observer's histogram equals binning every value at the final grid,
 * however the batches fell, with either instruction set. */
static void test_calib_hist_equals_direct_binning(void **state)
{
    (void)state;
    enum { N = 300000 };
    float *x = malloc(N * sizeof *x);
    tio_seed(17);
    for (int i = 0; i < N; i++) { /* the range grows along the data, with stragglers */
        float g = gauss() * ldexpf(1.0f, i / 20000 - 5);
        x[i] = i % 9973 == 0 ? awkward() : i % 7919 == 0 ? g * 1000.0f : g;
    }
    cq_isa was = cq_kern_isa();
    for (int isa = 0; isa < 2; isa++) {
        cq_isa want = isa ? CQ_ISA_AVX512 : CQ_ISA_SCALAR;
        if (cq_kern_set_isa(want) != want)
            continue;
        const int64_t batch[3] = {N, 65536 * 5 + 17, 1000};
        for (int k = 0; k < 3; k++) {
            cq_observer *o = new_obs(CQ_OBS_HIST, 1, 2048);
            for (int64_t t = 0; t < N; t += batch[k])
                update(o, x + t, N - t < batch[k] ? N - t : batch[k]);
            cq_observer_info in;
            cq_observer_get_info(o, &in);
            static uint64_t h[4096];
            memset(h, 0, sizeof h);
            int64_t fin = 0, nan = 0;
            float mn = INFINITY, mx = -INFINITY;
            for (int i = 0; i < N; i++) {
                if (isnan(x[i]))
                    nan++;
                if (!isfinite(x[i]))
                    continue;
                double m = floor(fabs((double)x[i]) * ldexp(1.0, 11 - in.exp));
                assert_true(m < 2048);
                h[x[i] < 0 ? 2047 - (int)m : 2048 + (int)m]++;
                fin++;
                mn = fminf(mn, x[i]);
                mx = fmaxf(mx, x[i]);
            }
            assert_memory_equal(h, cq_observer_hist(o), sizeof h);
            assert_int_equal(in.finite, fin);
            assert_int_equal(in.nan, nan);
            assert_true(in.min == mn && in.max == mx);
            assert_true(ldexpf(1.0f, in.exp - 1) <= fmaxf(-mn, mx) && fmaxf(-mn, mx) < ldexpf(1.0f, in.exp));
            cq_observer_free(o);
        }
    }
    cq_kern_set_isa(was);
    free(x);
}

/* ---- min-max and moving average --------------------------------------- */

static void test_calib_minmax_exact(void **state)
{
    (void)state;
    tio_seed(3);
    float x[1001];
    fill(x, 1001, 2.0f);
    float mn = INFINITY, mx = -INFINITY;
    for (int i = 0; i < 1001; i++) {
        mn = x[i] < mn ? x[i] : mn;
        mx = x[i] > mx ? x[i] : mx;
    }
    cq_observer *o = new_obs(CQ_OBS_MINMAX, 1, 0);
    update(o, x, 500);
    update(o, x + 500, 501);
    cq_observer_info in;
    cq_observer_get_info(o, &in);
    assert_true(in.min == mn && in.max == mx);
    assert_int_equal(in.finite, 1001);
    assert_int_equal(in.batches, 2);
    cq_observer_free(o);

    /* per channel on (outer 2, channels 3, inner 4) */
    float y[24];
    for (int i = 0; i < 24; i++)
        y[i] = (float)((i * 7) % 24) - 10.0f;
    cq_err err;
    o = new_obs(CQ_OBS_MINMAX, 3, 0);
    assert_int_equal(cq_observer_update(o, y, 24, &err), CQ_EINVAL);
    assert_int_equal(cq_observer_update_axis(o, y, 2, 4, 6, &err), CQ_EINVAL);
    assert_int_equal(cq_observer_update_axis(o, y, 2, 3, 4, &err), CQ_OK);
    for (int c = 0; c < 3; c++) {
        float lo, hi, want_lo = INFINITY, want_hi = -INFINITY;
        for (int b = 0; b < 2; b++)
            for (int i = 0; i < 4; i++) {
                float v = y[(b * 3 + c) * 4 + i];
                want_lo = v < want_lo ? v : want_lo;
                want_hi = v > want_hi ? v : want_hi;
            }
        assert_int_equal(cq_observer_channel_range(o, c, &lo, &hi, &err), CQ_OK);
        assert_true(lo == want_lo && hi == want_hi);
    }
    assert_int_equal(cq_observer_channel_range(o, 3, &(float){0}, &(float){0}, &err), CQ_ERANGE);
    cq_calib_spec spec = {CQ_S8, 1, CQ_CALIB_MINMAX, 0, CQ_CALIB_ZERO_KEEP};
    cq_qparams qp;
    assert_int_equal(cq_observer_qparams(o, &spec, &qp, &err), CQ_OK);
    assert_int_equal(qp.axis, 1);
    assert_int_equal(cq_tensor_numel(qp.scale), 3);
    cq_qparams_clear(&qp);
    spec.method = CQ_CALIB_ENTROPY;
    assert_int_equal(cq_observer_qparams(o, &spec, &qp, &err), CQ_EINVAL);
    assert_non_null(strstr(err.msg, "needs a histogram observer"));
    cq_observer_free(o);
}

static void test_calib_moving_avg_matches_torch(void **state)
{
    (void)state;
    /* tests/ref/calib_ref.py: torch's MovingAverageMinMaxObserver, c 0.01 */
    static const float batches[5][4] = {
        {-1.0f, 2.0f, 0.5f}, {-3.0f, 7.0f}, {0.25f, 0.75f}, {-0.1f, 100.0f, 3.0f}, {-2.5f, -2.0f}};
    static const int len[5] = {3, 2, 2, 3, 2};
    static const float want[5][2] = {{-1, 2},
                                     {-1.01999998f, 2.04999995f},
                                     {-1.00730002f, 2.03699994f},
                                     {-0.998227f, 3.01662993f},
                                     {-1.01324475f, 2.96646357f}};
    cq_observer *o = new_obs(CQ_OBS_MOVING_AVG, 1, 0);
    float nan = NAN;
    update(o, &nan, 1); /* no finite value: the average does not move */
    for (int b = 0; b < 5; b++) {
        update(o, batches[b], len[b]);
        cq_observer_info in;
        cq_observer_get_info(o, &in);
        assert_true(in.min == want[b][0]);
        assert_true(in.max == want[b][1]);
    }
    cq_observer *p = new_obs(CQ_OBS_MOVING_AVG, 1, 0);
    cq_err err;
    assert_int_equal(cq_observer_merge(p, o, &err), CQ_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "order of the batches"));
    cq_observer_free(p);
    cq_observer_free(o);
}

/* ---- merges and growth ------------------------------------------------- */

static const cq_calib_spec specs[] = {
    {CQ_S8, 1, CQ_CALIB_MINMAX, 0, CQ_CALIB_ZERO_KEEP},
    {CQ_U8, 0, CQ_CALIB_MINMAX, 0, CQ_CALIB_ZERO_KEEP},
    {CQ_S8, 1, CQ_CALIB_PERCENTILE, 99.99, CQ_CALIB_ZERO_KEEP},
    {CQ_U8, 0, CQ_CALIB_PERCENTILE, 99.9, CQ_CALIB_ZERO_KEEP},
    {CQ_S8, 1, CQ_CALIB_ENTROPY, 0, CQ_CALIB_ZERO_KEEP},
    {CQ_U8, 0, CQ_CALIB_ENTROPY, 0, CQ_CALIB_ZERO_AS_NEXT},
    {CQ_S8, 0, CQ_CALIB_ENTROPY_ASYM, 0, CQ_CALIB_ZERO_KEEP},
    {CQ_U8, 1, CQ_CALIB_ENTROPY_ASYM, 0, CQ_CALIB_ZERO_AS_NEXT},
    {CQ_S8, 1, CQ_CALIB_MSE, 0, CQ_CALIB_ZERO_KEEP},
    {CQ_U8, 0, CQ_CALIB_MSE, 0, CQ_CALIB_ZERO_KEEP},
};
#define NSPECS ((int)(sizeof specs / sizeof *specs))

/* Two observers hold the same statistics, bit for bit, and give the same
 * parameters for every method. */
static void assert_same(cq_observer *a, cq_observer *b)
{
    cq_observer_info ia, ib;
    cq_observer_get_info(a, &ia);
    cq_observer_get_info(b, &ib);
    ia.batches = ib.batches = 0;
    assert_memory_equal(&ia, &ib, sizeof ia);
    if (ia.kind == CQ_OBS_HIST)
        assert_memory_equal(cq_observer_hist(a), cq_observer_hist(b),
                            2 * (size_t)ia.bins * sizeof(uint64_t));
    for (int k = 0; k < NSPECS; k++) {
        if (ia.kind != CQ_OBS_HIST && specs[k].method != CQ_CALIB_MINMAX)
            continue;
        cq_qparams qa, qb;
        cq_err err;
        assert_int_equal(cq_observer_qparams(a, &specs[k], &qa, &err), CQ_OK);
        assert_int_equal(cq_observer_qparams(b, &specs[k], &qb, &err), CQ_OK);
        assert_memory_equal(cq_tensor_data(qa.scale), cq_tensor_data(qb.scale), 4);
        assert_memory_equal(cq_tensor_data(qa.zero_point), cq_tensor_data(qb.zero_point), 4);
        cq_qparams_clear(&qa);
        cq_qparams_clear(&qb);
    }
}

static void test_calib_merge_equals_union(void **state)
{
    (void)state;
    enum { N = 60000 };
    float *x = malloc(N * sizeof *x);
    tio_seed(5);
    /* pieces at scales far apart, so shards grow their grids differently */
    fill(x, 20000, 0.01f);
    fill(x + 20000, 20000, 3.0f);
    fill(x + 40000, 20000, 0.2f);
    for (int i = 40000; i < 50000; i++)
        x[i] = x[i] > 0 ? x[i] : 0.0f; /* a ReLU stretch */
    x[123] = NAN;
    x[4567] = -INFINITY;
    const cq_obs_kind kinds[2] = {CQ_OBS_HIST, CQ_OBS_MINMAX};
    for (int kk = 0; kk < 2; kk++) {
        cq_observer *all = new_obs(kinds[kk], 1, 2048);
        update(all, x, N);
        for (int trial = 0; trial < 6; trial++) {
            /* random shard count, random cut points, random batch sizes */
            int shards = 2 + (int)(tio_u64() % 4);
            int64_t cut[8] = {0};
            for (int s = 1; s < shards; s++)
                cut[s] = (int64_t)(tio_u64() % N);
            cut[shards] = N;
            for (int s = 1; s < shards; s++) /* sort */
                for (int t = s + 1; t < shards; t++)
                    if (cut[t] < cut[s]) {
                        int64_t v = cut[s];
                        cut[s] = cut[t];
                        cut[t] = v;
                    }
            cq_observer *parts[8];
            for (int s = 0; s < shards; s++) {
                parts[s] = new_obs(kinds[kk], 1, 2048);
                for (int64_t i = cut[s]; i < cut[s + 1];) {
                    int64_t m = 1 + (int64_t)(tio_u64() % 9000);
                    m = m < cut[s + 1] - i ? m : cut[s + 1] - i;
                    update(parts[s], x + i, m);
                    i += m;
                }
            }
            /* merge in a random order into a fresh observer */
            cq_observer *acc = new_obs(kinds[kk], 1, 2048);
            int first = (int)(tio_u64() % shards);
            cq_err err;
            for (int s = 0; s < shards; s++)
                assert_int_equal(cq_observer_merge(acc, parts[(first + s) % shards], &err), CQ_OK);
            assert_same(all, acc);
            /* a merge into a shard with a wider grid, the other way round */
            cq_observer *c = cq_observer_clone(parts[shards - 1], &err);
            for (int s = 0; s < shards - 1; s++)
                assert_int_equal(cq_observer_merge(c, parts[s], &err), CQ_OK);
            assert_same(all, c);
            cq_observer_free(c);
            cq_observer_free(acc);
            for (int s = 0; s < shards; s++)
                cq_observer_free(parts[s]);
        }
        cq_observer_free(all);
    }
    cq_observer *a = new_obs(CQ_OBS_HIST, 1, 2048), *b = new_obs(CQ_OBS_HIST, 1, 1024);
    cq_err err;
    assert_int_equal(cq_observer_merge(a, b, &err), CQ_EINVAL);
    cq_observer_free(b);
    b = new_obs(CQ_OBS_MINMAX, 1, 0);
    assert_int_equal(cq_observer_merge(a, b, &err), CQ_EINVAL);
    cq_observer_free(a);
    cq_observer_free(b);
    free(x);
}

static void test_calib_growth_keeps_count(void **state)
{
    (void)state;
    cq_observer *o = new_obs(CQ_OBS_HIST, 1, 128);
    int64_t total = 0;
    float x[300];
    for (int step = 0; step < 40; step++) { /* the range doubles every step */
        for (int i = 0; i < 300; i++)
            x[i] = (float)(i - 150) * ldexpf(1.0f, step - 20);
        update(o, x, 300);
        total += 300;
        cq_observer_info in;
        cq_observer_get_info(o, &in);
        assert_int_equal(in.finite, total);
        const uint64_t *h = cq_observer_hist(o);
        uint64_t s = 0;
        for (int j = 0; j < 256; j++)
            s += h[j];
        assert_int_equal(s, total);
        assert_true(ldexpf(1.0f, in.exp) > in.max && ldexpf(1.0f, in.exp - 1) <= in.max);
    }
    cq_observer_free(o);
}

static void test_calib_nan_inf_counted(void **state)
{
    (void)state;
    float x[7] = {NAN, 1.0f, INFINITY, -INFINITY, -2.0f, -NAN, INFINITY};
    for (int k = 0; k < CQ_OBS_KIND_COUNT; k++) {
        cq_observer *o = new_obs((cq_obs_kind)k, 1, 0);
        update(o, x, 7);
        cq_observer_info in;
        cq_observer_get_info(o, &in);
        assert_int_equal(in.nan, 2);
        assert_int_equal(in.pinf, 2);
        assert_int_equal(in.ninf, 1);
        assert_int_equal(in.finite, 2);
        assert_true(in.min == -2.0f && in.max == 1.0f);
        if (k == CQ_OBS_HIST)
            assert_int_equal(in.exp, 2);
        cq_observer_free(o);
    }
    cq_observer *o = new_obs(CQ_OBS_HIST, 1, 0);
    update(o, x, 1);
    update(o, x + 2, 2);
    cq_calib_spec spec = {CQ_S8, 1, CQ_CALIB_ENTROPY, 0, CQ_CALIB_ZERO_KEEP};
    cq_qparams qp;
    cq_err err;
    assert_int_equal(cq_observer_qparams(o, &spec, &qp, &err), CQ_ESTATE);
    assert_string_equal(err.msg, "calibration: channel 0 has seen no finite value (1 NaN, 1 +inf, "
                                 "1 -inf over 2 batches)");
    assert_null(qp.scale);
    cq_observer_free(o);
}

static void test_calib_constant_tensor(void **state)
{
    (void)state;
    const float values[3] = {0.0f, 5.0f, -3.0f};
    float x[1000];
    for (int v = 0; v < 3; v++) {
        for (int i = 0; i < 1000; i++)
            x[i] = values[v];
        for (int k = 0; k < CQ_OBS_KIND_COUNT; k++) {
            cq_observer *o = new_obs((cq_obs_kind)k, 1, 0);
            update(o, x, 1000);
            for (int s = 0; s < NSPECS; s++) {
                if (k != CQ_OBS_HIST && specs[s].method != CQ_CALIB_MINMAX)
                    continue;
                cq_qparams qp;
                cq_err err;
                assert_int_equal(cq_observer_qparams(o, &specs[s], &qp, &err), CQ_OK);
                float sc = *(float *)cq_tensor_data(qp.scale);
                int32_t zp = *(int32_t *)cq_tensor_data(qp.zero_point), lo, hi;
                assert_true(isfinite(sc) && sc > 0.0f);
                assert_true(isfinite(1.0f / sc));
                cq_calib_qrange(specs[s].dtype, specs[s].symmetric, &lo, &hi);
                assert_true(zp >= lo && zp <= hi);
                /* the constant itself is representable */
                float q = nearbyintf(values[v] / sc) + (float)zp;
                assert_true(q >= (float)lo && q <= (float)hi);
                assert_true(fabsf(((q - (float)zp) * sc) - values[v]) <= 1e-6f * 5);
                if (values[v] == 0.0f)
                    assert_true(sc == 1.0f);
                cq_qparams_clear(&qp);
            }
            cq_observer_free(o);
        }
    }
}

/* ---- thresholds ------------------------------------------------------- */

static void test_calib_percentile_known(void **state)
{
    (void)state;
    /* 0, 0.001, ..., 99.999: the 99.9th percentile of |x| is at 99.9 */
    enum { N = 100000 };
    float *x = malloc(N * sizeof *x);
    for (int i = 0; i < N; i++)
        x[i] = (float)i / 1000.0f;
    cq_observer *o = new_obs(CQ_OBS_HIST, 1, 2048);
    update(o, x, N);
    cq_observer_info in;
    cq_observer_get_info(o, &in);
    float w = ldexpf(1.0f, in.exp - 11), lo, hi;
    cq_calib_spec spec = {CQ_U8, 1, CQ_CALIB_PERCENTILE, 99.9, CQ_CALIB_ZERO_KEEP};
    cq_err err;
    assert_int_equal(cq_observer_range(o, &spec, &lo, &hi, &err), CQ_OK);
    assert_true(hi >= 99.9f && hi <= 99.9f + w);
    assert_true(lo == 0.0f); /* -hi clipped to the observed min */
    spec.symmetric = 0;
    spec.percentile = 99.0;
    assert_int_equal(cq_observer_range(o, &spec, &lo, &hi, &err), CQ_OK);
    assert_true(hi >= 99.0f && hi <= 99.0f + w);
    assert_true(lo >= 1.0f - w && lo <= 1.0f);
    spec.percentile = 100.5;
    assert_int_equal(cq_observer_range(o, &spec, &lo, &hi, &err), CQ_EINVAL);
    cq_observer_free(o);
    free(x);
}

/* The histograms of tests/ref/calib_ref.py. */
static void test_calib_scale_zp(void **state)
{
    (void)state;
    float s;
    int32_t z;
    cq_err err;
    assert_int_equal(cq_calib_scale_zp(-1.0f, 2.54f, CQ_S8, 1, &s, &z, &err), CQ_OK);
    assert_true(s == (float)(2.54f / 127.0) && z == 0);
    assert_int_equal(cq_calib_scale_zp(-1.0f, 2.54f, CQ_U8, 1, &s, &z, &err), CQ_OK);
    assert_true(s == (float)(2.54f / 127.0) && z == 128);
    assert_int_equal(cq_calib_scale_zp(-1.0f, 1.55f, CQ_U8, 0, &s, &z, &err), CQ_OK);
    assert_true(s == (float)((1.55 + 1.0) / 255.0) && z == 100); /* round(1 / 0.01) */
    assert_int_equal(cq_calib_scale_zp(-1.0f, 1.55f, CQ_S8, 0, &s, &z, &err), CQ_OK);
    assert_int_equal(z, -28);
    assert_int_equal(cq_calib_scale_zp(2.0f, 3.0f, CQ_U8, 0, &s, &z, &err), CQ_OK); /* holds 0 */
    assert_true(s == (float)(3.0 / 255.0) && z == 0);
    assert_int_equal(cq_calib_scale_zp(0.0f, 0.0f, CQ_S8, 0, &s, &z, &err), CQ_OK);
    assert_true(s == 1.0f && z == -128);
    assert_int_equal(cq_calib_scale_zp(0.0f, 1e-44f, CQ_S8, 1, &s, &z, &err), CQ_OK);
    assert_true(s == FLT_MIN);
    assert_int_equal(cq_calib_scale_zp(0.0f, INFINITY, CQ_S8, 1, &s, &z, &err), CQ_EINVAL);
    assert_int_equal(cq_calib_scale_zp(0.0f, 1.0f, CQ_F32, 1, &s, &z, &err), CQ_EINVAL);
}

static void test_calib_weights_per_channel(void **state)
{
    (void)state;
    /* (outer 4, channels 3, inner 50); channel 2 has one outlier */
    enum { O = 4, C = 3, I = 50 };
    float w[O * C * I];
    tio_seed(21);
    for (int i = 0; i < O * C * I; i++)
        w[i] = gauss() * 0.05f * (float)(1 + (i / I) % C);
    w[(1 * C + 2) * I + 7] = 2.0f; /* the channel's max |w|: scale_zp gets -2 r .. 2 r */
    cq_calib_spec spec = {CQ_S8, 1, CQ_CALIB_MINMAX, 0, CQ_CALIB_ZERO_KEEP};
    cq_qparams mm, mse;
    cq_err err;
    assert_int_equal(cq_calib_weights(w, O, C, I, 0, &spec, &mm, &err), CQ_OK);
    spec.method = CQ_CALIB_MSE;
    assert_int_equal(cq_calib_weights(w, O, C, I, 0, &spec, &mse, &err), CQ_OK);
    assert_int_equal(mm.axis, 0);
    const float *sm = cq_tensor_data(mm.scale), *se = cq_tensor_data(mse.scale);
    for (int c = 0; c < C; c++) {
        float amax = 0;
        for (int b = 0; b < O; b++)
            for (int i = 0; i < I; i++)
                amax = fmaxf(amax, fabsf(w[(b * C + c) * I + i]));
        assert_true(sm[c] == (float)(amax / 127.0));
        assert_true(se[c] <= sm[c]);
    }
    /* channel 2 by brute force: the ratio with the least error wins */
    int32_t qmin, qmax;
    cq_calib_qrange(CQ_S8, 1, &qmin, &qmax);
    double best = INFINITY;
    float best_s = 0;
    for (int k = 0; k < CQ_CALIB_MSE_STEPS; k++) {
        float r = 1.0f - (float)k / 100.0f, s;
        int32_t z;
        cq_calib_scale_zp(-2.0f * r, 2.0f * r, CQ_S8, 1, &s, &z, &err);
        double e = 0;
        for (int b = 0; b < O; b++)
            for (int i = 0; i < I; i++) {
                float v = w[(b * C + 2) * I + i];
                float q = fminf(fmaxf(nearbyintf(v / s), (float)qmin), (float)qmax);
                e += (double)(q * s - v) * (q * s - v);
            }
        if (e < best) {
            best = e;
            best_s = s;
        }
    }
    assert_true(se[2] == best_s);
    cq_qparams_clear(&mm);
    cq_qparams_clear(&mse);
    spec.method = CQ_CALIB_ENTROPY;
    assert_int_equal(cq_calib_weights(w, O, C, I, 0, &spec, &mm, &err), CQ_EINVAL);
    assert_null(mm.scale);
}

/* ---- files ------------------------------------------------------------- */

static cq_calib_stats *sample_set(void)
{
    cq_err err;
    cq_calib_stats *s = cq_calib_stats_new(&err);
    cq_observer_opts pc = {3, 1, 0.0f, 0}, ma = {1, -1, 0.05f, 0}, hi = {1, -1, 0.0f, 512};
    cq_observer *a = cq_calib_stats_add(s, "conv1.out", CQ_OBS_HIST, &hi, &err);
    cq_observer *b = cq_calib_stats_add(s, "conv1.w", CQ_OBS_MINMAX, &pc, &err);
    cq_observer *c = cq_calib_stats_add(s, "relu#2/out", CQ_OBS_MOVING_AVG, &ma, &err);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_null(cq_calib_stats_add(s, "conv1.w", CQ_OBS_MINMAX, NULL, &err));
    assert_int_equal(err.code, CQ_EINVAL);
    float x[3000];
    tio_seed(2);
    fill(x, 3000, 1.5f);
    x[5] = NAN;
    update(a, x, 3000);
    assert_int_equal(cq_observer_update_axis(b, x, 10, 3, 100, &err), CQ_OK);
    update(c, x, 1000);
    update(c, x + 1000, 1000);
    return s;
}

static void test_calib_save_load_roundtrip(void **state)
{
    (void)state;
    cq_err err;
    cq_calib_stats *s = sample_set();
    const char *p = path_of("stats.calq");
    assert_int_equal(cq_calib_stats_save(s, p, &err), CQ_OK);
    cq_calib_stats *t = cq_calib_stats_load(p, &err);
    if (!t)
        fail_msg("%s", err.msg);
    assert_int_equal(cq_calib_stats_count(t), 3);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(cq_calib_stats_name(s, i), cq_calib_stats_name(t, i));
        cq_observer *a = cq_calib_stats_at(s, i), *b = cq_calib_stats_at(t, i);
        cq_observer_info ia, ib;
        cq_observer_get_info(a, &ia);
        cq_observer_get_info(b, &ib);
        assert_memory_equal(&ia, &ib, sizeof ia);
        for (int64_t c = 0; c < ia.channels; c++) {
            float l1, h1, l2, h2;
            cq_observer_channel_range(a, c, &l1, &h1, &err);
            cq_observer_channel_range(b, c, &l2, &h2, &err);
            assert_true(l1 == l2 && h1 == h2);
        }
        if (ia.kind == CQ_OBS_HIST)
            assert_memory_equal(cq_observer_hist(a), cq_observer_hist(b), 1024 * sizeof(uint64_t));
    }
    /* merging sets: same names merge, new ones are copied; moving averages refuse */
    cq_calib_stats *u = cq_calib_stats_new(&err);
    cq_observer *h = cq_calib_stats_add(u, "conv1.out", CQ_OBS_HIST,
                                        &(cq_observer_opts){1, -1, 0.0f, 512}, &err);
    float y[4] = {1, 2, 3, 400};
    update(h, y, 4);
    assert_int_equal(cq_calib_stats_merge(u, t, &err), CQ_OK);
    assert_int_equal(cq_calib_stats_count(u), 3);
    cq_observer_info in;
    cq_observer_get_info(cq_calib_stats_find(u, "conv1.out"), &in);
    assert_int_equal(in.finite, 2999 + 4);
    assert_true(in.max == 400.0f);
    assert_int_equal(cq_calib_stats_merge(u, t, &err), CQ_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "'relu#2/out'"));
    cq_observer_get_info(cq_calib_stats_find(u, "conv1.out"), &in);
    assert_int_equal(in.finite, 2999 + 4); /* nothing changed */
    cq_calib_stats_free(u);
    cq_calib_stats_free(t);
    cq_calib_stats_free(s);
}

/* Write a stats file by hand: the observer "x" with head h, a range and a
 * histogram of hn counts (hn 0: none), and the version meta. */
static const char *craft(const char *name, const char *version, const int64_t *head, int64_t hn,
                         const int64_t *hist, const char *count)
{
    cq_err err;
    const char *p = path_of(name);
    cq_tfile_writer *w = cq_tfile_create(p, &err);
    assert_non_null(w);
    if (version)
        cq_tfile_set_meta(w, "calq.calib", version, &err);
    cq_tfile_set_meta(w, "calq.calib.observers", count, &err);
    int64_t hs = 12, rs[2] = {2, 1};
    float range[2] = {-1.0f, 3.0f};
    cq_tensor *t = cq_tensor_wrap(CQ_S64, 1, &hs, (void *)head, NULL, NULL, &err);
    assert_int_equal(cq_tfile_add(w, "x#head", t, &err), CQ_OK);
    cq_tensor_release(t);
    t = cq_tensor_wrap(CQ_F32, 2, rs, range, NULL, NULL, &err);
    assert_int_equal(cq_tfile_add(w, "x#range", t, &err), CQ_OK);
    cq_tensor_release(t);
    if (hn) {
        t = cq_tensor_wrap(CQ_S64, 1, &hn, (void *)hist, NULL, NULL, &err);
        assert_int_equal(cq_tfile_add(w, "x#hist", t, &err), CQ_OK);
        cq_tensor_release(t);
    }
    assert_int_equal(cq_tfile_close(w, &err), CQ_OK);
    return p;
}

static void expect_load_error(const char *p, cq_status code, const char *what)
{
    cq_err err;
    assert_null(cq_calib_stats_load(p, &err));
    assert_int_equal(err.code, code);
    char want[800];
    snprintf(want, sizeof want, "%s: %s", p, what);
    assert_string_equal(err.msg, want);
}

static void test_calib_corrupt_rejected(void **state)
{
    (void)state;
    static int64_t hist[256];
    memset(hist, 0, sizeof hist);
    hist[127] = 1;       /* -1 in negative bin 64 of [0, 2): bins of 1/64 */
    hist[128 + 96] = 1; /* 3 in [0, 4): bin 96 of width 1/32 */
    hist[127] = 0;
    hist[128 - 1 - 32] = 1; /* -1 at width 1/32: negative bin 32 */
    int64_t good[12] = {CQ_OBS_HIST, 1, -1, 128, 2, 1, 2, 0, 0, 0, 0x3c23d70a, 0};
    cq_err err;
    cq_calib_stats *s = cq_calib_stats_load(craft("good.calq", "1", good, 256, hist, "1"), &err);
    if (!s)
        fail_msg("%s", err.msg);
    cq_calib_stats_free(s);

    expect_load_error(craft("v2.calq", "2", good, 256, hist, "1"), CQ_EUNSUPPORTED,
                      "calibration statistics version '2' (calq reads 1)");
    expect_load_error(craft("nov.calq", NULL, good, 256, hist, "1"), CQ_EFORMAT,
                      "not calibration statistics (no 'calq.calib' metadata)");
    expect_load_error(craft("cnt.calq", "1", good, 256, hist, "2"), CQ_EFORMAT,
                      "1 observers, the metadata says 2");
    expect_load_error(craft("short.calq", "1", good, 200, hist, "1"), CQ_EFORMAT,
                      "observer 'x': 'x#hist' is s64[200], expected s64[256]");
    expect_load_error(craft("nohist.calq", "1", good, 0, hist, "1"), CQ_EFORMAT,
                      "observer 'x': no tensor 'x#hist'");
    int64_t h2[12];
    memcpy(h2, good, sizeof h2);
    h2[6] = 3;
    expect_load_error(craft("sum.calq", "1", h2, 256, hist, "1"), CQ_EFORMAT,
                      "observer 'x': histogram does not sum to the finite count");
    memcpy(h2, good, sizeof h2);
    h2[4] = 3;
    expect_load_error(craft("exp.calq", "1", h2, 256, hist, "1"), CQ_EFORMAT,
                      "observer 'x': grid exponent does not match the range");
    memcpy(h2, good, sizeof h2);
    h2[3] = 100;
    expect_load_error(craft("bins.calq", "1", h2, 256, hist, "1"), CQ_EFORMAT,
                      "observer 'x': bad bin count");
    memcpy(h2, good, sizeof h2);
    h2[0] = 7;
    expect_load_error(craft("kind.calq", "1", h2, 256, hist, "1"), CQ_EFORMAT,
                      "observer 'x': unknown kind");
    memcpy(h2, good, sizeof h2);
    h2[1] = -4;
    expect_load_error(craft("ch.calq", "1", h2, 256, hist, "1"), CQ_EFORMAT,
                      "observer 'x': bad channel count");
    hist[5] = -1;
    expect_load_error(craft("neg.calq", "1", good, 256, hist, "1"), CQ_EFORMAT,
                      "observer 'x': bad histogram count");
    hist[5] = 0;
    memcpy(h2, good, sizeof h2);
    h2[0] = CQ_OBS_MINMAX;
    h2[3] = h2[4] = 0;
    expect_load_error(craft("stray.calq", "1", h2, 256, hist, "1"), CQ_EFORMAT,
                      "observer 'x': a histogram for a minmax observer");

    /* every byte of a real file changed: an error or a consistent set, never a crash */
    s = sample_set();
    const char *p = path_of("real.calq"), *q = path_of("damaged.calq");
    assert_int_equal(cq_calib_stats_save(s, p, &err), CQ_OK);
    cq_calib_stats_free(s);
    size_t n = 0;
    unsigned char *good_bytes = tio_slurp(p, &n), *f = malloc(n);
    int loaded = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(f, good_bytes, n);
        f[i] ^= 0x5a;
        tio_spit(q, f, n);
        cq_calib_stats *d = cq_calib_stats_load(q, &err);
        loaded += d != NULL;
        cq_calib_stats_free(d);
    }
    for (size_t cut = 0; cut < n; cut += 7) {
        tio_spit(q, good_bytes, cut);
        assert_null(cq_calib_stats_load(q, &err));
    }
    assert_true(loaded < (int)n / 20);
    free(f);
    free(good_bytes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calib_kern_avx512_matches_scalar),
        cmocka_unit_test(test_calib_hist_equals_direct_binning),
        cmocka_unit_test(test_calib_minmax_exact),
        cmocka_unit_test(test_calib_moving_avg_matches_torch),
        cmocka_unit_test(test_calib_merge_equals_union),
        cmocka_unit_test(test_calib_growth_keeps_count),
        cmocka_unit_test(test_calib_nan_inf_counted),
        cmocka_unit_test(test_calib_constant_tensor),
        cmocka_unit_test(test_calib_percentile_known),
        cmocka_unit_test(test_calib_scale_zp),
        cmocka_unit_test(test_calib_weights_per_channel),
        cmocka_unit_test(test_calib_save_load_roundtrip),
        cmocka_unit_test(test_calib_corrupt_rejected),
    };
    return cmocka_run_group_tests_name("calib", tests, setup, teardown);
}
