/* test_calibrate.c - the calibration driver (calib/calibrate.h): which
 * tensors it observes (where the quantized graph quantizes them: after a
 * folded Relu/Clip, a Conv's output before a residual Add or a pool; no
 * shape-only or non-float values), statistics that do not depend on the
 * batching or the thread count, shards whose merge is the single run's file
 * byte for byte, NaN and infinities counted, and the errors. */
#include "exec_testutil.h"
#include "calib/calibrate.h"

#include <unistd.h>

/* x (3 channels, 12x12; batch N static 1 or symbolic) ->
 *   stem: Conv c0 -> Relu r0 -> MaxPool p0
 *   block: Conv c1 (on p0), Add s1 = c1 + p0, Relu y1
 *   head: Flatten f (graph output)
 *   shapes: Shape sh (s64) -> ConstantOfShape z (f32, from shapes only; output) */
static cq_graph *model(int dynamic)
{
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    int64_t xs[4] = {dynamic ? -1 : 1, 3, 12, 12};
    add_io(g, "x", 4, xs, "f");
    assert_int_equal(cq_graph_add_output(g, cq_graph_value(g, "z", &err), &err), CQ_OK);
    rng_state = 99;
    add_init(g, "w0", rand_tensor(4, (int64_t[]){16, 3, 3, 3}));
    add_init(g, "b0", rand_tensor(1, (int64_t[]){16}));
    add_init(g, "w1", rand_tensor(4, (int64_t[]){16, 16, 3, 3}));
    add_init(g, "b1", rand_tensor(1, (int64_t[]){16}));
    int n = node(g, "Conv", "conv0", 3, (const char *[]){"x", "w0", "b0"}, "c0");
    cq_node_set_ints(g, n, "pads", 4, (int64_t[]){1, 1, 1, 1}, &err);
    node(g, "Relu", "relu0", 1, (const char *[]){"c0"}, "r0");
    n = node(g, "MaxPool", "pool0", 1, (const char *[]){"r0"}, "p0");
    cq_node_set_ints(g, n, "kernel_shape", 2, (int64_t[]){2, 2}, &err);
    cq_node_set_ints(g, n, "strides", 2, (int64_t[]){2, 2}, &err);
    n = node(g, "Conv", "conv1", 3, (const char *[]){"p0", "w1", "b1"}, "c1");
    cq_node_set_ints(g, n, "pads", 4, (int64_t[]){1, 1, 1, 1}, &err);
    node(g, "Add", "add1", 2, (const char *[]){"c1", "p0"}, "s1");
    node(g, "Relu", "relu1", 1, (const char *[]){"s1"}, "y1");
    node(g, "Flatten", "flat", 1, (const char *[]){"y1"}, "f");
    node(g, "Shape", "shape", 1, (const char *[]){"y1"}, "sh");
    node(g, "ConstantOfShape", "zeros", 1, (const char *[]){"sh"}, "z");
    return g;
}

static const char *const observed[] = {"x", "r0", "p0", "c1", "y1", "f"};
#define N_OBSERVED 6

static cq_tensor *items(int n, uint32_t seed)
{
    rng_state = seed;
    return rand_tensor(4, (int64_t[]){n, 3, 12, 12});
}

/* Feed x's items in batches of the sizes in sizes[] (cycling). */
static void feed_batched(cq_calib *c, cq_tensor *x, const int *sizes, int n_sizes)
{
    cq_err err;
    int64_t n = x->shape[0];
    for (int64_t k = 0, b = 0; k < n; b++) {
        int64_t m = sizes[b % n_sizes];
        if (m > n - k)
            m = n - k;
        cq_tensor *part = cq_tensor_slice(x, 0, k, k + m, 1, &err);
        assert_non_null(part);
        assert_int_equal(cq_calib_feed(c, 1, &part, &err), CQ_OK);
        cq_tensor_release(part);
        k += m;
    }
}

/* The bytes of a file. */
static unsigned char *slurp(const char *path, long *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc((size_t)*len + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)*len, f), (size_t)*len);
    fclose(f);
    return p;
}

static void tmp_path(char *buf, size_t n, const char *what)
{
    snprintf(buf, n, "/tmp/test_calibrate_%d_%s.calq", (int)getpid(), what);
}

static void assert_same_file(const char *a, const char *b)
{
    long la, lb;
    unsigned char *pa = slurp(a, &la), *pb = slurp(b, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(pa, pb, (size_t)la);
    free(pa);
    free(pb);
}

/* Run x through a new calibrator with the options, batching and threads,
 * and save the statistics to path. */
static void calibrate_to(const char *path, cq_tensor *x, int threads, const int *sizes, int n_sizes,
                         int dynamic)
{
    cq_err err;
    cq_graph *g = model(dynamic);
    cq_calib_opts o = CQ_CALIB_OPTS_DEFAULT;
    o.threads = threads;
    cq_calib *c = cq_calib_new(g, &o, &err);
    assert_non_null(c);
    feed_batched(c, x, sizes, n_sizes);
    assert_int_equal(cq_calib_items(c), x->shape[0]);
    assert_int_equal(cq_calib_stats_save(cq_calib_get_stats(c), path, &err), CQ_OK);
    cq_calib_free(c);
    cq_graph_free(g);
}

/* The observers are exactly the f32 values computed from the input that the
 * act-fused plan writes, Relu folded (r0, y1 seen, c0, s1 not), the Conv
 * output before the residual Add and before the pool kept (c1, and p0 as a
 * node of its own), the shape branch left out (sh, z), in order; the same
 * with a static and a symbolic batch. */
static void test_calibrate_observes_the_act_fused_outputs(void **state)
{
    (void)state;
    for (int dynamic = 0; dynamic < 2; dynamic++) {
        cq_err err;
        cq_graph *g = model(dynamic);
        cq_calib *c = cq_calib_new(g, NULL, &err);
        assert_non_null(c);
        cq_tensor *x = items(2, 5);
        assert_int_equal(cq_calib_feed(c, 1, &x, &err), CQ_OK);
        cq_calib_stats *s = cq_calib_get_stats(c);
        assert_int_equal(cq_calib_stats_count(s), N_OBSERVED);
        for (int i = 0; i < N_OBSERVED; i++) {
            assert_string_equal(cq_calib_stats_name(s, i), observed[i]);
            assert_true(cq_calib_observes(c, cq_graph_find(g, observed[i])));
            cq_observer_info in;
            cq_observer_get_info(cq_calib_stats_at(s, i), &in);
            assert_int_equal(in.kind, CQ_OBS_HIST);
            assert_int_equal(in.batches, 2); /* once per item */
        }
        for (int v = 0; v < g->n_values; v++) {
            int listed = 0;
            for (int i = 0; i < N_OBSERVED; i++)
                listed |= strcmp(g->values[v].name, observed[i]) == 0;
            assert_int_equal(cq_calib_observes(c, v), listed);
        }
        /* relu outputs are never negative: the folded activation was applied */
        cq_observer_info in;
        cq_observer_get_info(cq_calib_stats_find(s, "r0"), &in);
        assert_true(in.min >= 0);
        cq_observer_get_info(cq_calib_stats_find(s, "c1"), &in);
        assert_true(in.min < 0);
        cq_tensor_release(x);
        cq_calib_free(c);
        cq_graph_free(g);
    }
}

/* The executor's fusion flags: CQ_FUSE_ACT writes c1 and s1's activation
 * only; CQ_FUSE_ALL (1, the default) swallows the residual Add into conv1
 * (c1 and s1 never exist); 0 writes every node output; bits outside the
 * flags are refused. */
static void test_calibrate_exec_fusion_flags(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = model(0);
    cq_exec_opts o = CQ_EXEC_OPTS_DEFAULT;
    assert_int_equal(o.fuse, CQ_FUSE_ALL);
    cq_exec *all = cq_exec_new(g, &o, &err);
    assert_non_null(all);
    o.fuse = CQ_FUSE_ACT;
    cq_exec *act = cq_exec_new(g, &o, &err);
    assert_non_null(act);
    o.fuse = 0;
    cq_exec *none = cq_exec_new(g, &o, &err);
    assert_non_null(none);
    int c0 = cq_graph_find(g, "c0"), r0 = cq_graph_find(g, "r0"), c1 = cq_graph_find(g, "c1");
    int s1 = cq_graph_find(g, "s1"), y1 = cq_graph_find(g, "y1"), x = cq_graph_find(g, "x");
    assert_false(cq_exec_value_written(all, c1));
    assert_false(cq_exec_value_written(all, s1));
    assert_true(cq_exec_value_written(all, y1));
    assert_false(cq_exec_value_written(act, c0));
    assert_true(cq_exec_value_written(act, r0));
    assert_true(cq_exec_value_written(act, c1));
    assert_false(cq_exec_value_written(act, s1));
    assert_true(cq_exec_value_written(act, y1));
    for (int v = 0; v < g->n_values; v++)
        assert_int_equal(cq_exec_value_written(none, v),
                         g->values[v].producer >= 0 && !g->values[v].data);
    assert_false(cq_exec_value_written(act, x));
    /* the same outputs, whatever the fusion */
    cq_tensor *in = items(1, 8), *ya[2], *yn[2];
    assert_int_equal(cq_exec_run(act, 1, &in, ya, &err), CQ_OK);
    assert_int_equal(cq_exec_run(none, 1, &in, yn, &err), CQ_OK);
    assert_true(maxdiff(ya[0], yn[0]) < 1e-5);
    for (int i = 0; i < 2; i++) {
        cq_tensor_release(ya[i]);
        cq_tensor_release(yn[i]);
    }
    cq_tensor_release(in);
    cq_exec_free(all);
    cq_exec_free(act);
    cq_exec_free(none);
    o.fuse = 1 << 20; /* no CQ_FUSE_* flag */
    assert_null(cq_exec_new(g, &o, &err));
    assert_int_equal(err.code, CQ_EINVAL);
    cq_graph_free(g);
}

/* One batch of 9, batches of 1, of 2 and 4 alternating, at 1 and 2 threads,
 * with a static and a symbolic batch: the same file, byte for byte. */
static void test_calibrate_deterministic_over_batching_and_threads(void **state)
{
    (void)state;
    char ref[128], other[128];
    tmp_path(ref, sizeof ref, "ref");
    tmp_path(other, sizeof other, "other");
    cq_tensor *x = items(9, 77);
    calibrate_to(ref, x, 1, (int[]){9}, 1, 1);
    calibrate_to(other, x, 2, (int[]){1}, 1, 1);
    assert_same_file(ref, other);
    calibrate_to(other, x, 2, (int[]){2, 4}, 2, 1);
    assert_same_file(ref, other);
    calibrate_to(other, x, 1, (int[]){3}, 1, 0);
    assert_same_file(ref, other);
    unlink(ref);
    unlink(other);
    cq_tensor_release(x);
}

/* Three shards (items i, i+3, ...) calibrated apart, saved, loaded and
 * merged in two orders: the merged file is the single run's, byte for byte. */
static void test_calibrate_shards_merge_to_the_single_run(void **state)
{
    (void)state;
    cq_err err;
    char ref[128], part[3][128], merged[128];
    tmp_path(ref, sizeof ref, "single");
    tmp_path(merged, sizeof merged, "merged");
    cq_tensor *x = items(10, 31);
    calibrate_to(ref, x, 0, (int[]){4}, 1, 1);
    for (int i = 0; i < 3; i++) {
        char what[32];
        snprintf(what, sizeof what, "shard%d", i % 10);
        tmp_path(part[i], sizeof part[i], what);
        cq_tensor *sh = cq_tensor_slice(x, 0, i, 10, 3, &err);
        assert_non_null(sh);
        calibrate_to(part[i], sh, 0, (int[]){2}, 1, 1);
        cq_tensor_release(sh);
    }
    static const int orders[2][3] = {{0, 1, 2}, {2, 0, 1}};
    for (int k = 0; k < 2; k++) {
        cq_calib_stats *m = cq_calib_stats_load(part[orders[k][0]], &err);
        assert_non_null(m);
        for (int j = 1; j < 3; j++) {
            cq_calib_stats *s = cq_calib_stats_load(part[orders[k][j]], &err);
            assert_non_null(s);
            assert_int_equal(cq_calib_stats_merge(m, s, &err), CQ_OK);
            cq_calib_stats_free(s);
        }
        assert_int_equal(cq_calib_stats_save(m, merged, &err), CQ_OK);
        assert_same_file(ref, merged);
        cq_calib_stats_free(m);
    }
    for (int i = 0; i < 3; i++)
        unlink(part[i]);
    unlink(ref);
    unlink(merged);
    cq_tensor_release(x);
}

/* NaN and infinities in the input are counted (input and downstream),
 * skipped, and the run goes on. */
static void test_calibrate_counts_nan_and_inf(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = model(1);
    cq_calib *c = cq_calib_new(g, NULL, &err);
    assert_non_null(c);
    cq_tensor *x = items(2, 12);
    float *p = cq_tensor_data(x);
    p[5] = NAN;
    p[100] = INFINITY;
    p[500] = -INFINITY; /* item 2 */
    assert_int_equal(cq_calib_feed(c, 1, &x, &err), CQ_OK);
    cq_calib_stats *s = cq_calib_get_stats(c);
    cq_observer_info in;
    cq_observer_get_info(cq_calib_stats_find(s, "x"), &in);
    assert_int_equal(in.nan, 1);
    assert_int_equal(in.pinf, 1);
    assert_int_equal(in.ninf, 1);
    assert_int_equal(in.finite, cq_tensor_numel(x) - 3);
    assert_true(isfinite(in.min) && isfinite(in.max));
    int64_t downstream = 0;
    for (int i = 1; i < cq_calib_stats_count(s); i++) {
        cq_observer_get_info(cq_calib_stats_at(s, i), &in);
        downstream += in.nan + in.pinf + in.ninf;
    }
    assert_true(downstream > 0);
    cq_calib_spec spec = {CQ_U8, 0, CQ_CALIB_MINMAX, 0, CQ_CALIB_ZERO_KEEP};
    cq_qparams qp;
    assert_int_equal(cq_observer_qparams(cq_calib_stats_find(s, "r0"), &spec, &qp, &err), CQ_OK);
    float sc = ((float *)cq_tensor_data(qp.scale))[0];
    assert_true(isfinite(sc) && sc > 0);
    cq_qparams_clear(&qp);
    cq_tensor_release(x);
    cq_calib_free(c);
    cq_graph_free(g);
}

/* Other observer kinds: min-max merges, the moving average refuses to. */
static void test_calibrate_observer_kinds(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = model(1);
    cq_calib_opts o = CQ_CALIB_OPTS_DEFAULT;
    o.kind = CQ_OBS_MOVING_AVG;
    cq_calib *a = cq_calib_new(g, &o, &err), *b = cq_calib_new(g, &o, &err);
    assert_non_null(a);
    assert_non_null(b);
    cq_tensor *x = items(3, 4);
    assert_int_equal(cq_calib_feed(a, 1, &x, &err), CQ_OK);
    assert_int_equal(cq_calib_feed(b, 1, &x, &err), CQ_OK);
    assert_int_equal(cq_calib_stats_merge(cq_calib_get_stats(a), cq_calib_get_stats(b), &err),
                     CQ_EUNSUPPORTED);
    cq_calib_free(a);
    cq_calib_free(b);
    o.kind = CQ_OBS_MINMAX;
    a = cq_calib_new(g, &o, &err);
    assert_non_null(a);
    assert_int_equal(cq_calib_feed(a, 1, &x, &err), CQ_OK);
    cq_observer_info in;
    cq_observer_get_info(cq_calib_stats_at(cq_calib_get_stats(a), 0), &in);
    assert_int_equal(in.kind, CQ_OBS_MINMAX);
    assert_int_equal(cq_calib_stats_count(cq_calib_get_stats(a)), N_OBSERVED);
    cq_calib_free(a);
    o.kind = CQ_OBS_KIND_COUNT;
    assert_null(cq_calib_new(g, &o, &err));
    assert_int_equal(err.code, CQ_EINVAL);
    o = (cq_calib_opts)CQ_CALIB_OPTS_DEFAULT;
    o.bins = 100; /* not a power of two */
    assert_null(cq_calib_new(g, &o, &err));
    assert_int_equal(err.code, CQ_EINVAL);
    cq_tensor_release(x);
    cq_graph_free(g);
}

/* Bad batches are refused with a message naming the input. */
static void test_calibrate_bad_feeds(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = model(1);
    cq_calib *c = cq_calib_new(g, NULL, &err);
    assert_non_null(c);
    cq_tensor *x = items(2, 3);
    assert_int_equal(cq_calib_feed(c, 2, (cq_tensor *[]){x, x}, &err), CQ_EINVAL);
    assert_non_null(strstr(err.msg, "takes 1 inputs"));
    cq_tensor *empty = cq_tensor_empty(CQ_F32, 4, (int64_t[]){0, 3, 12, 12}, &err);
    assert_int_equal(cq_calib_feed(c, 1, &empty, &err), CQ_EINVAL);
    assert_non_null(strstr(err.msg, "'x'"));
    cq_tensor *wrong = cq_tensor_empty(CQ_F32, 4, (int64_t[]){2, 4, 12, 12}, &err);
    assert_int_equal(cq_calib_feed(c, 1, &wrong, &err), CQ_EINVAL);
    assert_non_null(strstr(err.msg, "item 1"));
    assert_int_equal(cq_calib_items(c), 0);
    assert_null(cq_calib_new(NULL, NULL, &err));
    cq_tensor_release(x);
    cq_tensor_release(empty);
    cq_tensor_release(wrong);
    cq_calib_free(c);
    cq_calib_free(NULL);
    cq_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calibrate_observes_the_act_fused_outputs),
        cmocka_unit_test(test_calibrate_exec_fusion_flags),
        cmocka_unit_test(test_calibrate_deterministic_over_batching_and_threads),
        cmocka_unit_test(test_calibrate_shards_merge_to_the_single_run),
        cmocka_unit_test(test_calibrate_counts_nan_and_inf),
        cmocka_unit_test(test_calibrate_observer_kinds),
        cmocka_unit_test(test_calibrate_bad_feeds),
    };
    return cmocka_run_group_tests_name("calibrate", tests, NULL, NULL);
}
