/* test_calib_search.c - the range searches of core/calib (entropy, asymmetric
 * entropy, L2) against tests/ref/calib_ref.py's numbers on fixed histograms. */
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

static void hist_fill(const char *name, int64_t n, uint64_t *h)
{
    for (int64_t j = 0; j < n; j++) {
        uint64_t u = (uint64_t)j;
        if (!strcmp(name, "cauchy"))
            h[j] = 1000000ull * 2500 / (2500 + u * u);
        else if (!strcmp(name, "tri"))
            h[j] = j < 1200 ? 40000 - 33 * u : j % 50 == 0 ? 2 : 0;
        else if (!strcmp(name, "sparse"))
            h[j] = j % 4 == 0 && j < 1800 ? 1000000 / (1 + u) : 0;
        else if (!strcmp(name, "laplace"))
            h[j] = j / 64 < 63 ? 1000000ull >> (j / 64) : 0;
        else if (!strcmp(name, "offset"))
            h[j] = 10000000000ull / (uint64_t)(10000 + (j - 800) * (j - 800));
        else if (!strcmp(name, "relu"))
            h[j] = j == 0 ? 300000 : 20000000ull / (200 + u);
        else if (!strcmp(name, "relu_spike"))
            h[j] = j < 1400 ? 2000000ull * 90000 / (90000 + u * u) : 0;
        else if (!strcmp(name, "gap"))
            h[j] = j < 100 ? 50000 - 400 * u : 0;
        else if (!strcmp(name, "gap_wide"))
            h[j] = j < 700 ? 70000 - 100 * u : 0;
        else if (!strcmp(name, "lone"))
            h[j] = j == 1500 ? 1000000 : j == 1600 ? 7 : 0;
        else if (!strcmp(name, "relu_gauss")) /* 2e6 400^4 / (400^4 + j^4) */
            h[j] = j < 2000 ? (uint64_t)((unsigned __int128)2000000 * 25600000000ull /
                                         (25600000000ull + u * u * u * u))
                            : 0;
        else if (!strcmp(name, "few"))
            h[j] = j % 300 == 7 ? 1 + u % 7 : j % 300 == 8 ? 50 + u % 13 : 0;
        else if (!strcmp(name, "scarce"))
            h[j] = j % 51 == 0 ? 100 + u : j % 51 == 1 ? 3 + u % 5 : 0;
        else
            fail_msg("no histogram '%s'", name);
    }
    if (!strcmp(name, "sparse"))
        h[2040] = 1;
    if (!strcmp(name, "relu_spike")) {
        h[0] = 4000000;
        h[1700] = 3;
        h[2000] = 1;
    }
    if (!strcmp(name, "gap"))
        h[1900] = 2;
    if (!strcmp(name, "gap_wide"))
        h[2040] = 1;
    if (!strcmp(name, "relu_gauss"))
        h[0] = 900000000;
}

/* Divergences from prefix sums against the reference's direct sums. */
static int kl_close(double got, double want)
{
    return fabs(got - want) <= 1e-12 + 1e-8 * want;
}

static void test_calib_entropy_reference(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int64_t n;
        int zero_as_next;
        int64_t i;
        double kl;
    } ref[] = {
        /* tests/ref/calib_ref.py: entropy (name, n, zero bin as next, bin, KL); unsmoothed: */
        {"cauchy", 2048, 0, 2048, 2.130798822469e-03}, /* 2048 */
        {"tri", 2048, 0, 1200, 2.200282869665e-05}, /* 1200 */
        {"sparse", 2048, 0, 1533, 2.516054036418e-01}, /* 1533 */
        {"laplace", 2048, 0, 1170, 5.187528837335e-06}, /* 1170 */
        {"relu_spike", 2048, 0, 1400, 8.678490754906e-04}, /* 1400 */
        {"relu_spike", 2048, 1, 1400, 3.123852748820e-05}, /* 1400 */
        {"gap", 2048, 0, 128, 5.896290697048e-06}, /* 1901 */
        {"gap_wide", 2048, 0, 698, 2.512069617016e-05}, /* 698 */
        {"lone", 2048, 0, 1501, 5.980409790121e-17}, /* 1501 */
        {"few", 2048, 0, 915, 2.797740012562e-01}, /* 915 */
        {"scarce", 2048, 0, 1633, 4.592024041676e-01}, /* 1633 */
        {"relu", 2048, 1, 2048, 5.428840085080e-05}, /* 2048 */
        {"relu_gauss", 2048, 0, 640, 9.327411178715e-01}, /* 640 */
        {"relu_gauss", 2048, 1, 2000, 9.529836723441e-05}, /* 640 */
    }, one[] = {
        /* entropy of single candidates (name, n, zero bin as next, i, KL; -1: infinite) */
        {"tri", 2048, 0, 128, 3.437537350753e+00},
        {"tri", 2048, 0, 129, 3.434852096068e+00},
        {"tri", 2048, 0, 255, 2.880252894279e+00},
        {"tri", 2048, 0, 640, 1.012917779389e+00},
        {"tri", 2048, 0, 1000, 1.129014082994e-01},
        {"tri", 2048, 0, 1501, 5.148241683110e-05},
        {"tri", 2048, 0, 1999, 8.452584465869e-05},
        {"tri", 2048, 0, 2048, 6.540858442791e-05},
        {"sparse", 2048, 0, 128, 5.502009170637e+00},
        {"sparse", 2048, 0, 129, 8.482904702956e-01},
        {"sparse", 2048, 0, 255, 4.006119573094e+00},
        {"sparse", 2048, 0, 640, 5.881486097274e-01},
        {"sparse", 2048, 0, 1000, 3.790710459370e-01},
        {"sparse", 2048, 0, 1501, 2.597479861374e-01},
        {"sparse", 2048, 0, 1999, 2.750444794935e-01},
        {"sparse", 2048, 0, 2048, 2.750427493706e-01},
        {"relu_spike", 2048, 1, 128, 2.896840864970e+00},
        {"relu_spike", 2048, 1, 129, 2.891317154493e+00},
        {"relu_spike", 2048, 1, 255, 2.158440842059e+00},
        {"relu_spike", 2048, 1, 640, 8.110143133315e-01},
        {"relu_spike", 2048, 1, 1000, 2.754709839239e-01},
        {"relu_spike", 2048, 1, 1501, 3.609721383671e-05},
        {"relu_spike", 2048, 1, 1999, 6.404811336728e-05},
        {"relu_spike", 2048, 1, 2048, 6.703669165616e-05},
        {"gap", 2048, 0, 128, 5.896290697048e-06},
        {"gap", 2048, 0, 129, 6.162252509212e-06},
        {"gap", 2048, 0, 255, 3.227686307711e-05},
        {"gap", 2048, 0, 640, 2.168237910647e-04},
        {"gap", 2048, 0, 1000, 5.060693752605e-04},
        {"gap", 2048, 0, 1501, 1.080218682995e-03},
        {"gap", 2048, 0, 1999, 1.881227698683e-03},
        {"gap", 2048, 0, 2048, 2.038718401136e-03},
        {"lone", 2048, 0, 128, -1.000000000000e+00},
        {"lone", 2048, 0, 129, -1.000000000000e+00},
        {"lone", 2048, 0, 255, -1.000000000000e+00},
        {"lone", 2048, 0, 640, -1.000000000000e+00},
        {"lone", 2048, 0, 1000, -1.000000000000e+00},
        {"lone", 2048, 0, 1501, 5.980409790121e-17},
        {"lone", 2048, 0, 1999, 0.000000000000e+00},
        {"lone", 2048, 0, 2048, 0.000000000000e+00},
        {"few", 2048, 0, 128, 1.105980811485e+01},
        {"few", 2048, 0, 129, 1.105980693981e+01},
        {"few", 2048, 0, 255, 1.105965889052e+01},
        {"few", 2048, 0, 640, 7.534096356848e+00},
        {"few", 2048, 0, 1000, 5.423600074634e+00},
        {"few", 2048, 0, 1501, 3.407223260064e+00},
        {"few", 2048, 0, 1999, 4.596255706294e-01},
        {"few", 2048, 0, 2048, 3.339780895483e-01},
        {"scarce", 2048, 0, 128, 1.514629490487e+01},
        {"scarce", 2048, 0, 129, 1.514749028895e+01},
        {"scarce", 2048, 0, 255, 1.569063470167e+01},
        {"scarce", 2048, 0, 640, 1.543471531935e+01},
        {"scarce", 2048, 0, 1000, 1.340502567012e+01},
        {"scarce", 2048, 0, 1501, 8.364712443378e+00},
        {"scarce", 2048, 0, 1999, 6.208770106770e-01},
        {"scarce", 2048, 0, 2048, 6.149616226998e-01},
        {"relu_gauss", 2048, 0, 128, 1.611450279673e+00},
        {"relu_gauss", 2048, 0, 129, 1.947984788984e+00},
        {"relu_gauss", 2048, 0, 255, 1.294612799118e+00},
        {"relu_gauss", 2048, 0, 640, 9.327411178715e-01},
        {"relu_gauss", 2048, 0, 1000, 1.047541036753e+00},
        {"relu_gauss", 2048, 0, 1501, 1.203092574706e+00},
        {"relu_gauss", 2048, 0, 1999, 1.324501802718e+00},
        {"relu_gauss", 2048, 0, 2048, 1.324503352684e+00},
    };
    uint64_t h[2048];
    for (size_t k = 0; k < sizeof ref / sizeof *ref; k++) {
        hist_fill(ref[k].name, ref[k].n, h);
        double kl;
        cq_calib_zero_bin zb = ref[k].zero_as_next ? CQ_CALIB_ZERO_AS_NEXT : CQ_CALIB_ZERO_KEEP;
        int64_t i = cq_calib_kl_search(h, ref[k].n, 128, zb, &kl);
        if (i != ref[k].i || !kl_close(kl, ref[k].kl))
            fail_msg("%s (zero bin %d): bin %lld KL %.12e, reference %lld %.12e", ref[k].name,
                     (int)zb, (long long)i, kl, (long long)ref[k].i, ref[k].kl);
    }
    for (size_t k = 0; k < sizeof one / sizeof *one; k++) {
        hist_fill(one[k].name, one[k].n, h);
        cq_calib_zero_bin zb = one[k].zero_as_next ? CQ_CALIB_ZERO_AS_NEXT : CQ_CALIB_ZERO_KEEP;
        double d = cq_calib_kl_divergence(h, one[k].n, 128, zb, one[k].i);
        if (one[k].kl < 0 ? d != INFINITY : !kl_close(d, one[k].kl))
            fail_msg("%s (zero bin %d) at %lld: KL %.12e, reference %.12e", one[k].name, (int)zb,
                     (long long)one[k].i, d, one[k].kl);
    }
    assert_true(isnan(cq_calib_kl_divergence(h, 2048, 128, CQ_CALIB_ZERO_KEEP, 127)));
    assert_true(isnan(cq_calib_kl_divergence(h, 2048, 128, CQ_CALIB_ZERO_KEEP, 2049)));
    memset(h, 0, sizeof h);
    assert_int_equal(cq_calib_kl_search(h, 2048, 128, CQ_CALIB_ZERO_KEEP, NULL), 0);
    assert_true(cq_calib_kl_divergence(h, 2048, 128, CQ_CALIB_ZERO_KEEP, 200) == INFINITY);
    h[0] = 9; /* only bin 0: as next would empty it, so it is kept */
    assert_int_equal(cq_calib_kl_search(h, 2048, 128, CQ_CALIB_ZERO_AS_NEXT, NULL), 1);
    h[100] = 5;
    assert_int_equal(cq_calib_kl_search(h, 2048, 128, CQ_CALIB_ZERO_KEEP, NULL), 101); /* fewer bins than levels */
    /* the far outlier after a gap: clipped with smoothing, whatever the gap */
    memset(h, 0, sizeof h);
    for (int j = 0; j < 90; j++)
        h[j] = 1000 + (uint64_t)(90 - j) * 50;
    for (int far = 300; far < 2048; far += 347) {
        h[far] = 1;
        assert_true(cq_calib_kl_search(h, 2048, 128, CQ_CALIB_ZERO_KEEP, NULL) < far);
        h[far] = 0;
    }
}

static void test_calib_l2_reference(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int64_t n, start, end;
        double norm;
    } ref[] = {
        /* tests/ref/calib_ref.py: L2 search (start, end, error there); torch agrees */
        {"offset", 2048, 0, 2035, 1.556451749053e+09},
        {"relu", 1500, 0, 1498, 1.237189445612e+08},
        {"tri", 2048, 0, 1192, 5.177922408877e+07},
        {"cauchy", 2048, 0, 2025, 4.095716261704e+08},
    };
    uint64_t h[2048];
    for (size_t k = 0; k < sizeof ref / sizeof *ref; k++) {
        hist_fill(ref[k].name, ref[k].n, h);
        int64_t s, e;
        cq_calib_l2_search(h, ref[k].n, 256, &s, &e);
        assert_int_equal(s, ref[k].start);
        assert_int_equal(e, ref[k].end);
        double norm = cq_calib_l2_error(h, ref[k].n, 256, s, e);
        assert_true(fabs(norm - ref[k].norm) <= 1e-9 * ref[k].norm);
    }
}

static void test_calib_entropy_asym(void **state)
{
    (void)state;
    /* negatives half the positives' spread; one far outlier on each side */
    enum { N = 200000 };
    float *x = malloc(N * sizeof *x);
    tio_seed(9);
    for (int i = 0; i < N; i++) {
        float g = gauss();
        x[i] = g < 0 ? g : 2.0f * g;
    }
    x[0] = -20.0f;
    x[1] = 60.0f;
    cq_observer *o = new_obs(CQ_OBS_HIST, 1, 2048);
    update(o, x, N);
    cq_calib_spec spec = {CQ_U8, 0, CQ_CALIB_ENTROPY_ASYM, 0, CQ_CALIB_ZERO_KEEP};
    float lo, hi, slo, shi;
    cq_err err;
    assert_int_equal(cq_observer_range(o, &spec, &lo, &hi, &err), CQ_OK);
    /* each side is its own search on the observer's grid */
    cq_observer_info in;
    cq_observer_get_info(o, &in);
    const uint64_t *h = cq_observer_hist(o);
    uint64_t neg[2048];
    for (int i = 0; i < 2048; i++)
        neg[i] = h[2047 - i];
    double w = ldexp(1.0, in.exp - 11);
    float want_hi = (float)((double)cq_calib_kl_search(h + 2048, 2048, 128, CQ_CALIB_ZERO_KEEP, NULL) * w);
    float want_lo = (float)(-(double)cq_calib_kl_search(neg, 2048, 128, CQ_CALIB_ZERO_KEEP, NULL) * w);
    assert_true(hi == fminf(want_hi, in.max) && lo == fmaxf(want_lo, in.min));
    assert_true(hi > 5.0f && hi < 12.0f); /* the 60 outlier clipped */
    /* the -20 outlier clipped too (smoothing gives the candidates past the gap a
     * finite divergence), the bulk kept: it spans ~111 bins of 1/32, fewer than
     * the 128 levels, the least threshold the search takes */
    float bulk = 0.0f;
    for (int i = 2; i < N; i++)
        bulk = fminf(bulk, x[i]);
    assert_true(lo > -5.0f && lo <= bulk && lo >= -128 * (float)w);
    spec.method = CQ_CALIB_ENTROPY; /* one threshold for |x|: the same on both sides */
    assert_int_equal(cq_observer_range(o, &spec, &slo, &shi, &err), CQ_OK);
    assert_true(slo == -shi && shi > 5.0f && shi < 12.0f);
    spec.method = CQ_CALIB_MSE;
    assert_int_equal(cq_observer_range(o, &spec, &slo, &shi, &err), CQ_OK);
    assert_true(shi < 60.0f && shi > 4.0f);
    cq_observer_free(o);
    free(x);
}

/* A ReLU's zeros: KEEP lets the spike in bin 0 pull the threshold down,
 * AS_NEXT takes it out; a side narrower than the levels is kept whole. */
static void test_calib_entropy_zero_bin_and_narrow_side(void **state)
{
    (void)state;
    enum { N = 400000 };
    float *x = malloc(N * sizeof *x);
    tio_seed(12);
    for (int i = 0; i < N; i++) {
        float g = gauss() + gauss();
        x[i] = g > 0 ? g : 0.0f;
    }
    cq_observer *o = new_obs(CQ_OBS_HIST, 1, 2048);
    update(o, x, N);
    cq_observer_info in;
    cq_observer_get_info(o, &in);
    const uint64_t *h = cq_observer_hist(o);
    double w = ldexp(1.0, in.exp - 11);
    cq_calib_spec spec = {CQ_U8, 0, CQ_CALIB_ENTROPY, 0, CQ_CALIB_ZERO_KEEP};
    float lo, hi[2];
    cq_err err;
    for (int zb = 0; zb < 2; zb++) {
        spec.zero_bin = (cq_calib_zero_bin)zb;
        assert_int_equal(cq_observer_range(o, &spec, &lo, &hi[zb], &err), CQ_OK);
        assert_true(lo == 0.0f);
        int64_t k = cq_calib_kl_search(h + 2048, 2048, 128, spec.zero_bin, NULL);
        assert_true(hi[zb] == fminf((float)(k * w), in.max));
    }
    assert_true(hi[0] < 0.6f * hi[1]); /* half the values are zeros: the spike wins */
    spec.zero_bin = CQ_CALIB_ZERO_BIN_COUNT;
    assert_int_equal(cq_observer_range(o, &spec, &lo, &hi[0], &err), CQ_EINVAL);
    cq_observer_free(o);

    /* negatives within 100 bins of the grid: kept whole, whatever they hold */
    for (int i = 0; i < N; i++)
        x[i] = i % 3 ? fabsf(gauss()) * 1.5f : -(float)(i % 97) * 0.0005f;
    x[7] = -0.048f;
    o = new_obs(CQ_OBS_HIST, 1, 2048);
    update(o, x, N);
    cq_observer_get_info(o, &in);
    assert_true(in.min == -0.048f && -in.min < 100 * ldexpf(1.0f, in.exp - 11));
    spec.method = CQ_CALIB_ENTROPY_ASYM;
    spec.zero_bin = CQ_CALIB_ZERO_KEEP;
    assert_int_equal(cq_observer_range(o, &spec, &lo, &hi[0], &err), CQ_OK);
    assert_true(lo == in.min && hi[0] > 3.0f);
    cq_observer_free(o);
    free(x);
}

/* ---- parameters -------------------------------------------------------- */


int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calib_entropy_reference),
        cmocka_unit_test(test_calib_l2_reference),
        cmocka_unit_test(test_calib_entropy_asym),
        cmocka_unit_test(test_calib_entropy_zero_bin_and_narrow_side),
    };
    return cmocka_run_group_tests_name("calib_search", tests, setup, teardown);
}
