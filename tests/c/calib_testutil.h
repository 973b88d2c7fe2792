/* calib_testutil.h - helpers shared by test_calib.c and test_calib_search.c:
 * a scratch folder per run, random data, observers fed in one call. */
#ifndef CALIB_TESTUTIL_H
#define CALIB_TESTUTIL_H

static char dir[512];

static inline int setup(void **state)
{
    (void)state;
    tio_tmpdir(dir, sizeof dir, "calib");
    return dir[0] ? 0 : -1;
}

static inline int teardown(void **state)
{
    (void)state;
    tio_rmdir(dir);
    return 0;
}

static inline const char *path_of(const char *name)
{
    static char buf[4][600];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static inline float uniform(void) { return (float)(tio_u64() >> 40) / 16777216.0f; }
static inline float gauss(void)
{
    float s = 0;
    for (int k = 0; k < 4; k++)
        s += uniform();
    return (s - 2.0f) * 1.7320508f;
}

/* Activation-like values: a gaussian at `scale`, a few outliers. */
static inline void fill(float *x, int64_t n, float scale)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = gauss() * scale;
    for (int64_t i = 0; i < n / 500; i++)
        x[tio_u64() % n] = (uniform() - 0.3f) * 20.0f * scale;
}

static inline cq_observer *new_obs(cq_obs_kind kind, int64_t channels, int32_t bins)
{
    cq_err err;
    cq_observer_opts o = {channels, 1, 0.0f, bins};
    cq_observer *ob = cq_observer_new(kind, &o, &err);
    assert_non_null(ob);
    return ob;
}

static inline void update(cq_observer *o, const float *x, int64_t n)
{
    cq_err err;
    assert_int_equal(cq_observer_update(o, x, n, &err), CQ_OK);
}

/* ---- kernels ------------------------------------------------------------ */

/* Bin x with isa's kernels: the counts (2 nb), the statistics, the return. */
static inline int64_t bins_with(cq_isa isa, const float *x, int64_t n, float inv, int32_t nb, uint64_t *out,
                         cq_hist_scan *s)
{
    uint16_t *cnt = calloc((size_t)(CQ_HIST_COPIES * cq_hist_stride(nb)), sizeof *cnt);
    assert_non_null(cnt);
    cq_kern_set_isa(isa);
    cq_hist_scan_init(s);
    int64_t done = cq_hist_bin_f32(x, n, inv, nb, cnt, s);
    memset(out, 0, (size_t)(2 * nb) * sizeof *out);
    cq_hist_fold(cnt, nb, out);
    for (int64_t j = 0; j < CQ_HIST_COPIES * cq_hist_stride(nb); j++)
        assert_int_equal(cnt[j], 0); /* the fold zeroes the copies */
    free(cnt);
    return done;
}

/* Awkward values for a grid of magnitudes [0, 8): zeros of both signs, bin
 * edges, denormals, NaN and infinities, the largest values on the grid. */
static inline float awkward(void)
{
    switch (tio_u64() % 8) {
    case 0: return 0.0f;
    case 1: return -0.0f;
    case 2: return (float)((int64_t)(tio_u64() % 511) - 255) / 32.0f; /* on bin edges */
    case 3: return (tio_u64() & 1 ? 1 : -1) * 1e-40f * (float)(tio_u64() % 100);
    case 4: return (float[]){NAN, INFINITY, -INFINITY, -NAN}[tio_u64() % 4];
    case 5: return nextafterf(8.0f, 0.0f) * (tio_u64() & 1 ? 1 : -1);
    default: return (uniform() - 0.5f) * 15.9f;
    }
}

static inline void assert_scan_equal(const cq_hist_scan *a, const cq_hist_scan *b)
{
    assert_true(memcmp(&a->min, &b->min, 4) == 0 && memcmp(&a->max, &b->max, 4) == 0);
    assert_int_equal(a->finite, b->finite);
    assert_int_equal(a->nan, b->nan);
    assert_int_equal(a->pinf, b->pinf);
    assert_int_equal(a->ninf, b->ninf);
}

#endif
