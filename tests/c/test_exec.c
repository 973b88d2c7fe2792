/* test_exec.c - the executor on hand-built graphs: passes (folding, BN into
 * Conv, Identity), Conv+Relu fusion, the buffer pool, the observer hook,
 * per-node timing, and its errors. The NCHW16c layout: test_exec_blocked.c. */
#include "exec_testutil.h"
#include "kern/kern.h"
#include "kern/kern_internal.h" /* cq__kern_set_min_share */
#include "ops/passes.h"

#include <stdlib.h>
#include <time.h>

/* x -> Conv(w, b) -> BatchNormalization -> Relu -> y, 1x3x9x9 -> 1x4x9x9 */
static cq_graph *conv_bn_relu(void)
{
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    rng_state = 99; /* the same weights every time */
    int64_t xs[4] = {1, 3, 9, 9}, ws[4] = {4, 3, 3, 3}, cs[1] = {4};
    add_io(g, "x", 4, xs, "y");
    add_init(g, "w", rand_tensor(4, ws));
    add_init(g, "b", rand_tensor(1, cs));
    const char *names[4] = {"scale", "bias", "mean", "var"};
    for (int i = 0; i < 4; i++) {
        cq_tensor *t = rand_tensor(1, cs);
        if (i == 3)
            for (int k = 0; k < 4; k++)
                ((float *)cq_tensor_data(t))[k] = 0.5f + fabsf(((float *)cq_tensor_data(t))[k]);
        add_init(g, names[i], t);
    }
    const char *ci[3] = {"x", "w", "b"};
    int c = node(g, "Conv", "conv", 3, ci, "c");
    cq_node_set_ints(g, c, "pads", 4, (int64_t[]){1, 1, 1, 1}, &err);
    const char *bi[5] = {"c", "scale", "bias", "mean", "var"};
    node(g, "BatchNormalization", "bn", 5, bi, "n");
    const char *ri[1] = {"n"};
    node(g, "Relu", "relu", 1, ri, "y");
    return g;
}


/* b computed at another thread count than a: calq's own kernels (AVX-512)
 * split the work so that every count sums in the same order, the same
 * bits; OpenBLAS's threaded sgemm, which the other ISAs use, does not. */
static void same_at_any_threads(const cq_tensor *a, const cq_tensor *b)
{
    if (cq_kern_isa() == CQ_ISA_AVX512)
        assert_memory_equal(cq_tensor_data(a), cq_tensor_data(b), cq_tensor_nbytes(b));
    else
        assert_true(maxdiff(a, b) < 1e-5 * fmax(10.0, maxabs(a)));
}

static void test_exec_bn_fold_and_fusion(void **state)
{
    (void)state;
    cq_err err;
    int64_t xs[4] = {1, 3, 9, 9};
    cq_tensor *x = rand_tensor(4, xs);
    cq_graph *plain = conv_bn_relu(), *opt = conv_bn_relu();
    cq_exec_opts none = CQ_EXEC_OPTS_DEFAULT;
    none.optimize = none.fuse = 0;
    cq_tensor *a = run1(plain, &none, x);
    cq_exec *e = cq_exec_new(opt, NULL, &err);
    assert_non_null(e);
    /* BN folded away: Conv and Relu remain, and Relu rides on the Conv. */
    assert_int_equal(opt->n_nodes, 2);
    assert_string_equal(opt->nodes[0].op_type, "Conv");
    assert_string_equal(opt->nodes[1].op_type, "Relu");
    assert_true(cq_exec_is_fused(e, 1));
    assert_false(cq_exec_is_fused(e, 0));
    cq_tensor *b[1];
    assert_int_equal(cq_exec_run(e, 1, &x, b, &err), CQ_OK);
    double d = maxdiff(a, b[0]);
    if (d >= 1e-5)
        fprintf(stderr, "bn fold maxdiff %g\n", d);
    assert_true(d < 1e-5);
    /* relu really applied: no negatives */
    const float *p = cq_tensor_data(b[0]);
    for (int64_t i = 0; i < cq_tensor_numel(b[0]); i++)
        assert_true(p[i] >= 0);
    /* inferred shapes reach the values */
    assert_int_equal(opt->values[opt->nodes[0].outputs[0]].ndim, 4);
    assert_int_equal(opt->values[opt->nodes[0].outputs[0]].shape[1], 4);
    cq_tensor_release(b[0]);
    cq_exec_free(e);
    cq_tensor_release(a);
    cq_tensor_release(x);
    cq_graph_free(plain);
    cq_graph_free(opt);
}

/* x(2x3x4) -> Shape -> Gather(0) -> Unsqueeze -> Concat(-1) -> Reshape(x) -> Identity -> y (2x12) */
static cq_graph *shape_chain(void)
{
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    int64_t xs[3] = {2, 3, 4};
    add_io(g, "x", 3, xs, "y");
    cq_tensor *idx = cq_tensor_scalar(CQ_S64, 0, &err);
    add_init(g, "zero", idx);
    int64_t one = 1;
    cq_tensor *ax = cq_tensor_new(CQ_S64, 1, &one, &err);
    add_init(g, "axes", ax);
    cq_tensor *m1 = cq_tensor_new(CQ_S64, 1, &one, &err);
    ((int64_t *)cq_tensor_data(m1))[0] = -1;
    add_init(g, "minus1", m1);
    const char *s[1] = {"x"};
    node(g, "Shape", "shape", 1, s, "s");
    const char *ga[2] = {"s", "zero"};
    node(g, "Gather", "gather", 2, ga, "n");
    const char *un[2] = {"n", "axes"};
    node(g, "Unsqueeze", "unsq", 2, un, "n1");
    const char *co[2] = {"n1", "minus1"};
    int c = node(g, "Concat", "concat", 2, co, "shp");
    cq_node_set_int(g, c, "axis", 0, &err);
    const char *re[2] = {"x", "shp"};
    node(g, "Reshape", "reshape", 2, re, "r");
    const char *id[1] = {"r"};
    node(g, "Identity", "id", 1, id, "r2");
    const char *re2[1] = {"r2"};
    node(g, "Relu", "relu", 1, re2, "y");
    return g;
}

static void test_exec_folds_shape_chain(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = shape_chain();
    cq_pass_stats st;
    assert_int_equal(cq_passes_run(g, &st, &err), CQ_OK);
    assert_int_equal(st.folded, 4);
    assert_int_equal(st.identities, 1);
    assert_int_equal(g->n_nodes, 2); /* Reshape and Relu */
    assert_string_equal(g->nodes[0].op_type, "Reshape");
    const cq_tensor *shp = g->values[g->nodes[0].inputs[1]].data;
    assert_non_null(shp);
    assert_int_equal(((const int64_t *)cq_tensor_data(shp))[0], 2);
    assert_int_equal(((const int64_t *)cq_tensor_data(shp))[1], -1);
    cq_exec *e = cq_exec_new(g, NULL, &err);
    assert_non_null(e);
    int64_t xs[3] = {2, 3, 4};
    cq_tensor *x = rand_tensor(3, xs), *y[1];
    assert_int_equal(cq_exec_run(e, 1, &x, y, &err), CQ_OK);
    assert_int_equal(y[0]->ndim, 2);
    assert_int_equal(y[0]->shape[1], 12);
    const float *px = cq_tensor_data(x), *py = cq_tensor_data(y[0]);
    for (int i = 0; i < 24; i++)
        assert_true(py[i] == (px[i] > 0 ? px[i] : 0));
    cq_tensor_release(y[0]);
    cq_tensor_release(x);
    cq_exec_free(e);
    cq_graph_free(g);
}

/* A chain of n Relu/Sigmoid nodes of one size. */
static cq_graph *chain(int n)
{
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    int64_t xs[2] = {16, 16};
    char a[16], b[16];
    snprintf(b, sizeof b, "v%d", n);
    add_io(g, "v0", 2, xs, b);
    for (int i = 0; i < n; i++) {
        snprintf(a, sizeof a, "v%d", i);
        snprintf(b, sizeof b, "v%d", i + 1);
        const char *in[1] = {a};
        node(g, i % 2 ? "Sigmoid" : "Relu", a, 1, in, b);
    }
    return g;
}

static void test_exec_pool_reuses_buffers(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = chain(10);
    cq_exec *e = cq_exec_new(g, NULL, &err);
    assert_non_null(e);
    assert_int_equal(cq_exec_peak_bytes(e), 0);
    int64_t xs[2] = {16, 16};
    cq_tensor *x = rand_tensor(2, xs), *y[1];
    assert_int_equal(cq_exec_run(e, 1, &x, y, &err), CQ_OK);
    size_t peak = cq_exec_peak_bytes(e);
    /* 9 intermediates of 1 KiB; two buffers take turns */
    assert_int_equal(cq_exec_naive_bytes(e), 9 * 1024);
    assert_int_equal(peak, 2 * 1024);
    cq_tensor_release(y[0]);
    /* a second run allocates nothing more, and times accumulate */
    assert_int_equal(cq_exec_run(e, 1, &x, y, &err), CQ_OK);
    assert_int_equal(cq_exec_peak_bytes(e), peak);
    double ns;
    int64_t runs;
    for (int i = 0; i < g->n_nodes; i++) {
        assert_int_equal(cq_exec_node_time(e, i, &ns, &runs), 0);
        assert_int_equal(runs, 2);
        assert_true(ns > 0);
    }
    assert_int_equal(cq_exec_node_time(e, g->n_nodes, &ns, &runs), -1);
    assert_int_equal(runs, 0);
    cq_exec_reset_profile(e);
    assert_int_equal(cq_exec_node_time(e, 3, &ns, &runs), 0);
    assert_int_equal(runs, 0);
    assert_true(ns == 0);
    cq_tensor_release(y[0]);
    cq_tensor_release(x);
    cq_exec_free(e);
    cq_graph_free(g);
}

/* The CPU clock (CALQ_PROFILE_CLOCK=cpu, cq_exec_set_profile_clock): node
 * times on the calling thread's CPU time, so their sum stays within the
 * thread's CPU time over the whole run; setting the clock resets. */
static void test_exec_profile_cpu_clock(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = chain(10);
    setenv("CALQ_PROFILE_CLOCK", "cpu", 1);
    cq_exec *e = cq_exec_new(g, NULL, &err);
    unsetenv("CALQ_PROFILE_CLOCK");
    assert_non_null(e);
    assert_int_equal(cq_exec_profile_clock(e), CQ_EXEC_CLOCK_CPU);
    int64_t xs[2] = {16, 16};
    cq_tensor *x = rand_tensor(2, xs), *y[1];
    struct timespec t0, t1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    for (int r = 0; r < 3; r++) {
        assert_int_equal(cq_exec_run(e, 1, &x, y, &err), CQ_OK);
        cq_tensor_release(y[0]);
    }
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
    double run_ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
    double ns, sum = 0;
    int64_t runs;
    for (int i = 0; i < g->n_nodes; i++) {
        assert_int_equal(cq_exec_node_time(e, i, &ns, &runs), 0);
        assert_int_equal(runs, 3);
        assert_true(ns >= 0);
        sum += ns;
    }
    assert_true(sum > 0);
    assert_true(sum <= run_ns);
    cq_exec_set_profile_clock(e, CQ_EXEC_CLOCK_WALL);
    assert_int_equal(cq_exec_profile_clock(e), CQ_EXEC_CLOCK_WALL);
    assert_int_equal(cq_exec_node_time(e, 0, &ns, &runs), 0);
    assert_int_equal(runs, 0);
    assert_int_equal(cq_exec_run(e, 1, &x, y, &err), CQ_OK);
    cq_tensor_release(y[0]);
    assert_int_equal(cq_exec_node_time(e, 0, &ns, &runs), 0);
    assert_int_equal(runs, 1);
    assert_true(ns > 0);
    cq_exec_free(e);
    /* without the variable: the wall clock */
    e = cq_exec_new(g, NULL, &err);
    assert_non_null(e);
    assert_int_equal(cq_exec_profile_clock(e), CQ_EXEC_CLOCK_WALL);
    cq_exec_free(e);
    cq_tensor_release(x);
    cq_graph_free(g);
}

typedef struct {
    int calls;
    int nodes[32];
    double sum;
    int stop_at;
} obs_log;

static int observe(void *ud, const cq_graph *g, int nd, int output, const cq_tensor *t)
{
    obs_log *l = ud;
    assert_int_equal(output, 0);
    assert_int_equal(g->values[g->nodes[nd].outputs[0]].ndim, t->ndim);
    l->nodes[l->calls++] = nd;
    l->sum += ((const float *)cq_tensor_data(t))[0];
    return l->calls == l->stop_at;
}

static void test_exec_observer_sees_every_output(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = chain(5);
    cq_exec *e = cq_exec_new(g, NULL, &err);
    obs_log log = {0};
    cq_exec_set_observer(e, observe, &log);
    int64_t xs[2] = {16, 16};
    cq_tensor *x = rand_tensor(2, xs), *y[1];
    assert_int_equal(cq_exec_run(e, 1, &x, y, &err), CQ_OK);
    assert_int_equal(log.calls, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(log.nodes[i], i);
    /* the last observed tensor is the output */
    cq_tensor_release(y[0]);
    obs_log stop = {0};
    stop.stop_at = 2;
    cq_exec_set_observer(e, observe, &stop);
    assert_int_equal(cq_exec_run(e, 1, &x, y, &err), CQ_ESTATE);
    assert_null(y[0]);
    assert_non_null(strstr(err.msg, "observer stopped"));
    assert_int_equal(stop.calls, 2);
    cq_exec_set_observer(e, NULL, NULL);
    assert_int_equal(cq_exec_run(e, 1, &x, y, &err), CQ_OK);
    cq_tensor_release(y[0]);
    cq_tensor_release(x);
    cq_exec_free(e);
    cq_graph_free(g);
}

static void test_exec_observer_on_fused_pair(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = conv_bn_relu();
    cq_exec *e = cq_exec_new(g, NULL, &err);
    obs_log log = {0};
    cq_exec_set_observer(e, observe, &log);
    int64_t xs[4] = {1, 3, 9, 9};
    cq_tensor *x = rand_tensor(4, xs), *y[1];
    assert_int_equal(cq_exec_run(e, 1, &x, y, &err), CQ_OK);
    /* Conv and Relu ran as one: one call, for the Relu node (index 1) */
    assert_int_equal(log.calls, 1);
    assert_int_equal(log.nodes[0], 1);
    cq_tensor_release(y[0]);
    cq_tensor_release(x);
    cq_exec_free(e);
    cq_graph_free(g);
}

static void test_exec_lists_every_unsupported_op(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = chain(2);
    cq_node *n = &g->nodes[0];
    free(n->op_type);
    n->op_type = strdup("Frobnicate");
    const char *in[1] = {"v2"};
    node(g, "Wibble", "w1", 1, in, "z");
    node(g, "Frobnicate", "w2", 1, (const char *[]){"z"}, "z2");
    assert_null(cq_exec_new(g, NULL, &err));
    assert_int_equal(err.code, CQ_EUNSUPPORTED);
    assert_string_equal(err.msg, "unsupported operators: Frobnicate, Wibble");
    cq_graph_free(g);
}

static void test_exec_checks_inputs(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = chain(2);
    cq_exec *e = cq_exec_new(g, NULL, &err);
    int64_t bad[2] = {16, 15};
    cq_tensor *x = rand_tensor(2, bad), *y[1];
    assert_int_equal(cq_exec_run(e, 1, &x, y, &err), CQ_EINVAL);
    assert_string_equal(err.msg, "input 'v0': shape f32[16,15] does not match the model's");
    assert_int_equal(cq_exec_run(e, 2, &x, y, &err), CQ_EINVAL);
    assert_string_equal(err.msg, "the model takes 1 inputs, 2 given");
    cq_tensor *s = cq_tensor_new(CQ_S32, 2, (int64_t[]){16, 16}, &err);
    assert_int_equal(cq_exec_run(e, 1, &s, y, &err), CQ_EINVAL);
    assert_string_equal(err.msg, "input 'v0' must be f32, got s32");
    cq_tensor_release(s);
    /* an edited graph is refused until planned again */
    assert_false(cq_exec_is_stale(e));
    node(g, "Relu", "extra", 1, (const char *[]){"v2"}, "v3");
    assert_true(cq_exec_is_stale(e));
    assert_int_equal(cq_exec_run(e, 1, &x, y, &err), CQ_ESTATE);
    assert_string_equal(err.msg, "the graph changed since it was planned: plan it again");
    cq_tensor_release(x);
    cq_exec_free(e);
    cq_graph_free(g);
}

/* Random Conv geometries: the planned path (kern.h, fused) against the
 * unoptimized generic path on the same graph. */
static void test_exec_conv_random_shapes(void **state)
{
    (void)state;
    cq_err err;
    for (int trial = 0; trial < 40; trial++) {
        int64_t c = 1 + (int64_t)(fabsf(frand()) * 6), grp = trial % 3 == 0 ? c : 1;
        int64_t m = grp > 1 ? c * (1 + trial % 2) : 1 + (int64_t)(fabsf(frand()) * 7);
        int64_t h = 3 + (int64_t)(fabsf(frand()) * 9), w = 3 + (int64_t)(fabsf(frand()) * 9);
        int64_t k = 1 + trial % 3, st = 1 + trial % 2, pad = trial % 2, dil = 1 + (trial % 5 == 4);
        if ((k - 1) * dil + 1 > h + 2 * pad || (k - 1) * dil + 1 > w + 2 * pad)
            continue;
        cq_graph *g[2];
        for (int v = 0; v < 2; v++) {
            g[v] = cq_graph_new(&err);
            set_opset(g[v], 13);
            int64_t xs[4] = {1 + trial % 2, c, h, w}, ws[4] = {m, c / grp, k, k};
            add_io(g[v], "x", 4, xs, "y");
            rng_state = 777u + (uint32_t)trial;
            add_init(g[v], "w", rand_tensor(4, ws));
            add_init(g[v], "b", rand_tensor(1, &m));
            int n = node(g[v], "Conv", "conv", 3, (const char *[]){"x", "w", "b"}, "c");
            cq_node_set_ints(g[v], n, "pads", 4, (int64_t[]){pad, pad, pad, pad}, &err);
            cq_node_set_ints(g[v], n, "strides", 2, (int64_t[]){st, st}, &err);
            cq_node_set_ints(g[v], n, "dilations", 2, (int64_t[]){dil, dil}, &err);
            cq_node_set_int(g[v], n, "group", grp, &err);
            node(g[v], "Relu", "relu", 1, (const char *[]){"c"}, "y");
        }
        int64_t xs[4] = {1 + trial % 2, c, h, w};
        cq_tensor *x = rand_tensor(4, xs);
        cq_exec_opts none = CQ_EXEC_OPTS_DEFAULT;
        none.optimize = none.fuse = 0;
        cq_tensor *a = run1(g[0], &none, x), *b = run1(g[1], NULL, x);
        assert_true(maxdiff(a, b) < 1e-4);
        cq_tensor_release(a);
        cq_tensor_release(b);
        cq_tensor_release(x);
        cq_graph_free(g[0]);
        cq_graph_free(g[1]);
    }
}

/* Conv -> Add -> [Relu] runs as one Conv adding the residual in its
 * epilogue: same result as the unfused graph, the Add (and Relu) skipped, the
 * observer called for the last node of the chain with the final tensor. */
static void test_exec_residual_fusion(void **state)
{
    (void)state;
    cq_err err;
    for (int trial = 0; trial < 24; trial++) {
        int64_t xs[4] = {1 + trial % 2, 1 + (int64_t)(fabsf(frand()) * 70),
                         1 + (int64_t)(fabsf(frand()) * 13), 1 + (int64_t)(fabsf(frand()) * 29)};
        int64_t k = trial % 3 == 0 ? 1 : 3;
        int relu = trial % 4 != 3, keep_c = trial % 7 == 6;
        cq_graph *g0 = residual_block(trial, xs, k, relu, keep_c);
        cq_graph *g1 = residual_block(trial, xs, k, relu, keep_c);
        rng_state = 31u + (uint32_t)trial;
        cq_tensor *x = rand_tensor(4, xs), *a[2], *b[2];
        cq_exec_opts none = CQ_EXEC_OPTS_DEFAULT;
        none.optimize = none.fuse = 0;
        cq_exec *e0 = cq_exec_new(g0, &none, &err), *e1 = cq_exec_new(g1, NULL, &err);
        assert_non_null(e0);
        assert_non_null(e1);
        assert_int_equal(cq_exec_is_fused(e1, 2), !keep_c);
        if (relu)
            assert_true(cq_exec_is_fused(e1, 3));
        obs_log log = {0};
        cq_exec_set_observer(e1, observe, &log);
        assert_int_equal(cq_exec_run(e0, 1, &x, a, &err), CQ_OK);
        /* 2 and 3 threads (every convolution split): the same as 1 */
        for (int th = 2; th <= 3; th++) {
            cq_tensor *c[2];
            cq_exec_set_threads(e1, th);
            assert_int_equal(cq_exec_run(e1, 1, &x, c, &err), CQ_OK);
            cq_exec_set_threads(e1, 1);
            log.calls = 0; /* the observer's calls of the last run */
            assert_int_equal(cq_exec_run(e1, 1, &x, b, &err), CQ_OK);
            for (int o = 0; o < 1 + keep_c; o++) {
                same_at_any_threads(c[o], b[o]);
                cq_tensor_release(c[o]);
                if (th == 2)
                    cq_tensor_release(b[o]);
            }
        }
        /* the fused graph may sum in another order (NCHW16c between the
         * convolutions where the channels are a multiple of 16) */
        for (int o = 0; o < 1 + keep_c; o++) {
            double d = maxdiff(a[o], b[o]), tol = 1e-5 * fmax(10.0, maxabs(a[o]));
            if (d >= tol)
                fprintf(stderr, "residual trial %d output %d maxdiff %g maxabs %g\n", trial, o, d,
                        maxabs(a[o]));
            assert_true(d < tol);
        }
        if (!keep_c) {
            assert_int_equal(log.calls, 2);
            assert_int_equal(log.nodes[0], 0);
            assert_int_equal(log.nodes[1], relu ? 3 : 2);
        }
        for (int o = 0; o < 1 + keep_c; o++) {
            cq_tensor_release(a[o]);
            cq_tensor_release(b[o]);
        }
        cq_tensor_release(x);
        cq_exec_free(e0);
        cq_exec_free(e1);
        cq_graph_free(g0);
        cq_graph_free(g1);
    }
}

/* x -> Conv (c_in 3, k x k / stride, bias) -> [Relu] -> MaxPool -> y: a
 * classifier's stem. variant 1 makes the conv's output a graph output too,
 * variant 2 asks for the MaxPool's Indices; neither may be fused. */
static cq_graph *stem_pool(int trial, const int64_t *xs, int64_t m, int64_t k, int64_t st,
                           int relu, const int64_t *pool, int variant)
{
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    int64_t ws[4] = {m, xs[1], k, k}, p = k / 2;
    add_io(g, "x", 4, xs, "y");
    rng_state = 9191u + (uint32_t)trial;
    add_init(g, "w", rand_tensor(4, ws));
    add_init(g, "b", rand_tensor(1, &m));
    int n = node(g, "Conv", "conv", 3, (const char *[]){"x", "w", "b"}, "c");
    cq_node_set_ints(g, n, "pads", 4, (int64_t[]){p, p, p, p}, &err);
    cq_node_set_ints(g, n, "strides", 2, (int64_t[]){st, st}, &err);
    if (relu)
        node(g, "Relu", "relu", 1, (const char *[]){"c"}, "r");
    const char *o[2] = {"y", "idx"};
    n = cq_graph_add_node(g, "MaxPool", "pool", "", 1, (const char *[]){relu ? "r" : "c"},
                          variant == 2 ? 2 : 1, o, &err);
    assert_true(n >= 0);
    cq_node_set_ints(g, n, "kernel_shape", 2, (int64_t[]){pool[0], pool[0]}, &err);
    cq_node_set_ints(g, n, "strides", 2, (int64_t[]){pool[1], pool[1]}, &err);
    cq_node_set_ints(g, n, "pads", 4, (int64_t[]){pool[2], pool[2], pool[2], pool[2]}, &err);
    cq_node_set_int(g, n, "ceil_mode", pool[3], &err);
    if (variant == 1)
        assert_int_equal(cq_graph_add_output(g, cq_graph_value(g, relu ? "r" : "c", &err), &err),
                         CQ_OK);
    return g;
}

/* Conv -> [Relu] -> MaxPool runs as one Conv pooling its rows from a ring
 * (on AVX-512, where the stem kernel runs): the same result as the unfused
 * graph, the Relu and MaxPool skipped, the observer called once, for the
 * MaxPool, with the pooled tensor; after the thread count changes (the
 * fused kernel is single-threaded) the same plan still gives the same
 * result. */
static void test_exec_stem_pool_fusion(void **state)
{
    (void)state;
    cq_err err;
    static const int64_t pools[][4] = {{3, 2, 1, 0}, {2, 2, 0, 1}, {3, 1, 1, 0}, {3, 2, 0, 1}};
    for (int trial = 0; trial < 16; trial++) {
        int64_t xs[4] = {1 + (trial % 5 == 4), 3 - (trial % 3 == 2),
                         20 + (int64_t)(fabsf(frand()) * 40), 16 + (int64_t)(fabsf(frand()) * 60)};
        int64_t m = 5 + (int64_t)(fabsf(frand()) * 60), k = trial % 2 ? 7 : 3;
        int64_t st = 1 + (trial % 4 != 3);
        int relu = trial % 3 != 1, variant = trial % 8 == 5 ? 1 : trial % 8 == 6 ? 2 : 0;
        const int64_t *pool = pools[trial % 4];
        cq_graph *g0 = stem_pool(trial, xs, m, k, st, relu, pool, variant);
        cq_graph *g1 = stem_pool(trial, xs, m, k, st, relu, pool, variant);
        rng_state = 57u + (uint32_t)trial;
        cq_tensor *x = rand_tensor(4, xs), *a[2] = {0}, *b[2] = {0};
        cq_exec_opts none = CQ_EXEC_OPTS_DEFAULT, fused = CQ_EXEC_OPTS_DEFAULT;
        none.optimize = none.fuse = 0;
        none.threads = fused.threads = 1;
        cq_exec *e0 = cq_exec_new(g0, &none, &err), *e1 = cq_exec_new(g1, &fused, &err);
        assert_non_null(e0);
        assert_non_null(e1);
        int pn = relu ? 2 : 1, want = !variant && cq_kern_isa() == CQ_ISA_AVX512;
        assert_int_equal(cq_exec_is_fused(e1, pn), want);
        if (relu)
            assert_true(cq_exec_is_fused(e1, 1));
        obs_log log = {0};
        if (variant != 2) /* (observe takes output 0 only) */
            cq_exec_set_observer(e1, observe, &log);
        assert_int_equal(cq_exec_run(e0, 1, &x, a, &err), CQ_OK);
        cq_tensor *one[2] = {0};
        for (int th = 1; th <= 3; th++) {
            cq_exec_set_threads(e1, th);
            log.calls = 0;
            assert_int_equal(cq_exec_run(e1, 1, &x, b, &err), CQ_OK);
            for (int o = 0; o < 1 + (variant == 1); o++) {
                double d = maxdiff(a[o], b[o]);
                if (d >= 1e-4)
                    fprintf(stderr, "stem pool trial %d threads %d output %d maxdiff %g\n", trial,
                            th, o, d);
                assert_true(d < 1e-4);
                /* every thread count gives the same result */
                if (th == 1)
                    one[o] = b[o];
                else {
                    same_at_any_threads(one[o], b[o]);
                    cq_tensor_release(b[o]);
                }
            }
            if (want) {
                assert_int_equal(log.calls, 1);
                assert_int_equal(log.nodes[0], pn);
            }
        }
        cq_exec_set_threads(e1, 1);
        for (int o = 0; o < 1 + (variant == 1); o++) {
            cq_tensor_release(a[o]);
            cq_tensor_release(one[o]);
        }
        cq_tensor_release(x);
        cq_exec_free(e0);
        cq_exec_free(e1);
        cq_graph_free(g0);
        cq_graph_free(g1);
    }
}

/* Transpose, every permutation of a 4-D odd shape (the (rows, cols) fast
 * path for NHWC <-> NCHW-like ones, the strided walk for the rest), against
 * index arithmetic. */
static void test_exec_transpose_every_perm(void **state)
{
    (void)state;
    cq_err err;
    int64_t xs[4] = {2, 3, 17, 5};
    rng_state = 5;
    cq_tensor *x = rand_tensor(4, xs);
    const float *px = cq_tensor_data(x);
    for (int code = 0; code < 256; code++) {
        int perm[4] = {code & 3, code >> 2 & 3, code >> 4 & 3, code >> 6 & 3}, seen = 0;
        for (int i = 0; i < 4; i++)
            seen |= 1 << perm[i];
        if (seen != 15)
            continue;
        cq_graph *g = cq_graph_new(&err);
        set_opset(g, 13);
        add_io(g, "x", 4, xs, "y");
        int n = node(g, "Transpose", "t", 1, (const char *[]){"x"}, "y");
        cq_node_set_ints(g, n, "perm", 4, (int64_t[]){perm[0], perm[1], perm[2], perm[3]}, &err);
        cq_tensor *y = run1(g, NULL, x);
        const float *py = cq_tensor_data(y);
        int64_t ys[4], i = 0, id[4];
        for (int d = 0; d < 4; d++)
            ys[d] = xs[perm[d]];
        for (id[0] = 0; id[0] < ys[0]; id[0]++)
            for (id[1] = 0; id[1] < ys[1]; id[1]++)
                for (id[2] = 0; id[2] < ys[2]; id[2]++)
                    for (id[3] = 0; id[3] < ys[3]; id[3]++, i++) {
                        int64_t xi[4];
                        for (int d = 0; d < 4; d++)
                            xi[perm[d]] = id[d];
                        int64_t off = ((xi[0] * xs[1] + xi[1]) * xs[2] + xi[2]) * xs[3] + xi[3];
                        if (py[i] != px[off])
                            fail_msg("perm %d%d%d%d: y[%lld] wrong", perm[0], perm[1], perm[2],
                                     perm[3], (long long)i);
                    }
        cq_tensor_release(y);
        cq_graph_free(g);
    }
    cq_tensor_release(x);
}

/* A hostile ConstantOfShape asking for 2^40 floats is refused, not allocated. */
static void test_exec_refuses_absurd_sizes(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    int64_t two = 2;
    cq_tensor *shp = cq_tensor_new(CQ_S64, 1, &two, &err);
    ((int64_t *)cq_tensor_data(shp))[0] = (int64_t)1 << 20;
    ((int64_t *)cq_tensor_data(shp))[1] = (int64_t)1 << 20;
    add_init(g, "shape", shp);
    node(g, "ConstantOfShape", "big", 1, (const char *[]){"shape"}, "y");
    assert_int_equal(cq_graph_add_output(g, cq_graph_value(g, "y", &err), &err), CQ_OK);
    assert_null(cq_exec_new(g, NULL, &err));
    assert_int_equal(err.code, CQ_ENOMEM);
    assert_string_equal(err.msg,
                        "constant folding: node 'big' (ConstantOfShape): output 0 (f32 [1048576, "
                        "1048576]) would take 4398046511104 bytes, above the limit of 4294967296 "
                        "bytes per tensor (max_tensor_bytes)");
    cq_graph_free(g);
}

int main(void)
{
    /* split every convolution over the kernel threads, however small */
    cq__kern_set_min_share(0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exec_bn_fold_and_fusion),
        cmocka_unit_test(test_exec_folds_shape_chain),
        cmocka_unit_test(test_exec_pool_reuses_buffers),
        cmocka_unit_test(test_exec_profile_cpu_clock),
        cmocka_unit_test(test_exec_observer_sees_every_output),
        cmocka_unit_test(test_exec_observer_on_fused_pair),
        cmocka_unit_test(test_exec_lists_every_unsupported_op),
        cmocka_unit_test(test_exec_checks_inputs),
        cmocka_unit_test(test_exec_conv_random_shapes),
        cmocka_unit_test(test_exec_residual_fusion),
        cmocka_unit_test(test_exec_stem_pool_fusion),
        cmocka_unit_test(test_exec_transpose_every_perm),
        cmocka_unit_test(test_exec_refuses_absurd_sizes),
    };
    return cmocka_run_group_tests_name("exec", tests, NULL, NULL);
}
