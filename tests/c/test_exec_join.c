/* test_exec_join.c - Concats whose inputs' producers write into their
 * slices (CQ_FUSE_JOIN, exec_join.c): which ones the plan takes, and that
 * the outputs are bit for bit those of the plan that copies, in NCHW16c and
 * NCHW, on one and two threads, over repeated runs; and that the cost
 * model prices a joined Concat as the pass the executor makes of it. */
#include "cost/cost.h"
#include "cost_testutil.h"
#include "exec_testutil.h"
#include "kern/kern.h"
#include "onnx/onnx.h"

#include <stdio.h>
#include <stdlib.h>

#define NO_JOIN (CQ_FUSE_ACT | CQ_FUSE_RESIDUAL | CQ_FUSE_POOL | CQ_FUSE_ACT_FN | CQ_FUSE_LUT)

enum { SKIP_OUT = 1, SKIP_LATE = 2, X_IN = 4, THREE = 8 };

static void conv(cq_graph *g, const char *name, const char *x, const char *w, int64_t co,
                 int64_t ci, int64_t k, const char *y)
{
    cq_err err;
    add_init(g, w, rand_tensor(4, (int64_t[]){co, ci, k, k}));
    int n = node(g, "Conv", name, 2, (const char *[]){x, w}, y);
    int64_t p = k / 2;
    cq_node_set_ints(g, n, "pads", 4, (int64_t[]){p, p, p, p}, &err);
}

/* x (n, c, h, w) -> conv 3x3 to c1 -> Relu -> s; s -> MaxPool 2x2 ->
 * conv 3x3 to 32 -> nearest x2 -> conv 1x1 to c2 -> u; [THREE: s -> conv
 * 1x1 to 16 -> t]; Concat(u, s[, t]) (or Concat(x, u) with X_IN) -> conv
 * 3x3 to 16 -> y. SKIP_OUT makes s a graph output too, SKIP_LATE has y
 * added to s after the Concat (s read after it). */
static cq_graph *skip_net(const int64_t *xs, int64_t c1, int64_t c2, int flags)
{
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    add_io(g, "x", 4, xs, "y");
    rng_state = 2024u;
    conv(g, "ca", "x", "wa", c1, xs[1], 3, "a");
    node(g, "Relu", "ra", 1, (const char *[]){"a"}, "s");
    int n = node(g, "MaxPool", "pool", 1, (const char *[]){"s"}, "p");
    cq_node_set_ints(g, n, "kernel_shape", 2, (int64_t[]){2, 2}, &err);
    cq_node_set_ints(g, n, "strides", 2, (int64_t[]){2, 2}, &err);
    conv(g, "cb", "p", "wb", 32, c1, 3, "q");
    cq_tensor *sc = cq_tensor_new(CQ_F32, 1, (int64_t[]){4}, &err);
    float *scv = cq_tensor_data(sc);
    scv[0] = scv[1] = 1.0f;
    scv[2] = scv[3] = 2.0f;
    add_init(g, "scales", sc);
    add_init(g, "roi", cq_tensor_new(CQ_F32, 1, (int64_t[]){0}, &err));
    node(g, "Resize", "rs", 3, (const char *[]){"q", "roi", "scales"}, "r");
    conv(g, "cu", "r", "wu", c2, 32, 1, "u");
    int64_t ck = (flags & X_IN ? xs[1] : c1) + c2;
    if (flags & THREE) {
        conv(g, "ct", "s", "wt", 16, c1, 1, "t");
        ck += 16;
        n = node(g, "Concat", "cat", 3, (const char *[]){"u", "s", "t"}, "k");
    } else if (flags & X_IN) {
        n = node(g, "Concat", "cat", 2, (const char *[]){"x", "u"}, "k");
    } else {
        n = node(g, "Concat", "cat", 2, (const char *[]){"u", "s"}, "k");
    }
    cq_node_set_int(g, n, "axis", 1, &err);
    if (flags & SKIP_LATE) {
        conv(g, "cc", "k", "wc", c1, ck, 3, "c");
        node(g, "Add", "add", 2, (const char *[]){"c", "s"}, "y");
    } else {
        conv(g, "cc", "k", "wc", 16, ck, 3, "y");
    }
    if (flags & SKIP_OUT)
        assert_int_equal(cq_graph_add_output(g, cq_graph_value(g, "s", &err), &err), CQ_OK);
    return g;
}

/* g planned with every fusion (join) or all but the joins, NCHW only or not. */
static cq_exec *planned(cq_graph *g, int join, int nchw)
{
    cq_err err;
    cq_exec_opts o = CQ_EXEC_OPTS_DEFAULT;
    o.fuse = join ? CQ_FUSE_ALL : NO_JOIN;
    o.nchw_only = nchw;
    cq_exec *e = cq_exec_new(g, &o, &err);
    assert_non_null(e);
    return e;
}

/* The Concat joined or not as expected; then two runs of each of the plans
 * with and without joins, on nthreads threads, equal bit for bit. */
static void check(const int64_t *xs, int64_t c1, int64_t c2, int flags, int nchw, int expect)
{
    cq_err err;
    cq_graph *g[2] = {skip_net(xs, c1, c2, flags), skip_net(xs, c1, c2, flags)};
    cq_exec *e[2];
    for (int i = 0; i < 2; i++)
        e[i] = planned(g[i], !i, nchw);
    int cat = cq_graph_find_node(g[0], "cat");
    if (cq_exec_is_joined(e[0], cat) != expect)
        fail_msg("(%lld, %lld, %lld, %lld) c1 %lld c2 %lld flags %d nchw %d: joined %d",
                 (long long)xs[0], (long long)xs[1], (long long)xs[2], (long long)xs[3],
                 (long long)c1, (long long)c2, flags, nchw, !expect);
    assert_false(cq_exec_is_joined(e[1], cq_graph_find_node(g[1], "cat")));
    int no = g[0]->n_outputs;
    for (int th = 1; th <= 2; th++)
        for (int run = 0; run < 2; run++) {
            rng_state = 31u * (uint32_t)th + (uint32_t)run;
            cq_tensor *x = rand_tensor(4, xs), *out[2][2];
            for (int i = 0; i < 2; i++) {
                cq_exec_set_threads(e[i], th);
                assert_int_equal(cq_exec_run(e[i], 1, &x, out[i], &err), CQ_OK);
            }
            for (int k = 0; k < no; k++) {
                size_t bytes = (size_t)cq_tensor_numel(out[0][k]) * sizeof(float);
                assert_true(cq_tensor_same_shape(out[0][k], out[1][k]));
                if (memcmp(cq_tensor_data(out[0][k]), cq_tensor_data(out[1][k]), bytes))
                    fail_msg("output %d differs (max %g), flags %d nchw %d", k,
                             maxdiff(out[0][k], out[1][k]), flags, nchw);
                cq_tensor_release(out[0][k]);
                cq_tensor_release(out[1][k]);
            }
            cq_tensor_release(x);
        }
    for (int i = 0; i < 2; i++) {
        cq_exec_free(e[i]);
        cq_graph_free(g[i]);
    }
}

static void test_exec_join_skip(void **state)
{
    (void)state;
    const int64_t a[4] = {1, 3, 16, 22}, b[4] = {1, 8, 10, 14}, two[4] = {2, 3, 12, 10};
    for (int nchw = 0; nchw < 2; nchw++) {
        check(a, 16, 16, 0, nchw, 1);  /* U-Net's level */
        check(b, 32, 16, 0, nchw, 1);
        check(a, 16, 32, THREE, nchw, 1);
        check(two, 16, 16, 0, nchw, 0);      /* a batch of two: no one run an input */
        check(a, 16, 16, SKIP_OUT, nchw, 0); /* s is handed to the caller */
        check(a, 16, 16, SKIP_LATE, nchw, 0);
        check(a, 16, 16, X_IN, nchw, 0);     /* x is the caller's */
    }
    /* NCHW, channels no multiple of 16: s's slice starts 5 x 16 x 22
     * floats in (whole cache lines) */
    check(a, 8, 5, 0, 1, 1);
    /* 3 x 6 x 10 floats: it would start inside a cache line */
    const int64_t c[4] = {1, 3, 6, 10};
    check(c, 8, 3, 0, 1, 0);
}

/* The cost model: a joined Concat costs the node's dispatch alone (nothing
 * computed or moved), the copying plan's its bytes. */
static void test_exec_join_cost(void **state)
{
    (void)state;
    cq_err err;
    const int64_t xs[4] = {1, 3, 16, 22};
    for (int nchw = 0; nchw < 2; nchw++) {
        cq_graph *g[2] = {skip_net(xs, 16, 16, 0), skip_net(xs, 16, 16, 0)};
        cq_exec *e[2];
        const cq_cost_row *row[2];
        cq_cost r[2];
        cq_hw hw = one_level_hw(1 << 20, 16, 8);
        hw.node_ns = 100;
        for (int i = 0; i < 2; i++) {
            e[i] = planned(g[i], !i, nchw);
            assert_int_equal(cq_exec_is_joined(e[i], cq_graph_find_node(g[i], "cat")), !i);
            run_rand(e[i], 4, xs);
            assert_int_equal(cq_cost_exec(e[i], &hw, NULL, &r[i], &err), CQ_OK);
            row[i] = NULL;
            for (int k = 0; k < r[i].n; k++)
                if (!strcmp(r[i].rows[k].name, "cat"))
                    row[i] = &r[i].rows[k];
            assert_non_null(row[i]);
        }
        assert_true(row[0]->compute_ns == 0 && row[0]->memory_ns == 0 && row[0]->bytes == 0);
        assert_true(fabs(row[0]->ns - 100) < 1e-9);
        assert_true(row[1]->memory_ns > 0 && row[1]->ns > 100);
        for (int i = 0; i < 2; i++) {
            cq_cost_free(&r[i]);
            cq_exec_free(e[i]);
            cq_graph_free(g[i]);
        }
    }
}

/* U-Net (CALQ_CACHE's models/unet_small.onnx; skipped without it): its four
 * skip Concats joined, the output the same bits as the copying plan's. */
static void test_exec_join_unet(void **state)
{
    (void)state;
    const char *cache = getenv("CALQ_CACHE");
    char path[1024];
    snprintf(path, sizeof path, "%s/models/unet_small.onnx", cache ? cache : ".cache");
    FILE *f = fopen(path, "rb");
    if (!f)
        skip();
    fclose(f);
    cq_err err;
    cq_graph *g[2];
    cq_exec *e[2];
    cq_tensor *out[2];
    rng_state = 5u;
    cq_tensor *x = rand_tensor(4, (int64_t[]){1, 3, 224, 224});
    for (int i = 0; i < 2; i++) {
        g[i] = cq_onnx_load(path, &err);
        assert_non_null(g[i]);
        cq_exec_opts o = CQ_EXEC_OPTS_DEFAULT;
        o.fuse = i ? NO_JOIN : CQ_FUSE_ALL;
        e[i] = cq_exec_new(g[i], &o, &err);
        assert_non_null(e[i]);
        int joined = 0;
        for (int k = 0; k < g[i]->n_nodes; k++)
            joined += cq_exec_is_joined(e[i], k);
        assert_int_equal(joined, i ? 0 : 4);
        assert_int_equal(cq_exec_run(e[i], 1, &x, &out[i], &err), CQ_OK);
    }
    size_t bytes = (size_t)cq_tensor_numel(out[0]) * sizeof(float);
    assert_true(cq_tensor_same_shape(out[0], out[1]));
    assert_memory_equal(cq_tensor_data(out[0]), cq_tensor_data(out[1]), bytes);
    for (int i = 0; i < 2; i++) {
        cq_tensor_release(out[i]);
        cq_exec_free(e[i]);
        cq_graph_free(g[i]);
    }
    cq_tensor_release(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exec_join_skip),
        cmocka_unit_test(test_exec_join_cost),
        cmocka_unit_test(test_exec_join_unet),
    };
    return cmocka_run_group_tests_name("exec_join", tests, NULL, NULL);
}
