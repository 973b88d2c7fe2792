/* test_exec_blocked.c - the executor's NCHW16c layout between operators on
 * hand-built graphs: which values a plan keeps blocked (Conv, MaxPool,
 * Concat, nearest Resize, ConvTranspose, the narrow heads) and that its
 * outputs equal the all-NCHW plan's. */
#include "exec_testutil.h"
#include "kern/kern.h"
#include "kern/kern_internal.h" /* cq__kern_set_min_share */
#include "ops/passes.h"

#include <stdlib.h>
#include <time.h>

typedef struct obs_keep {
    int calls;
    cq_tensor *seen[8];
} obs_keep;

static int keep_seen(void *ud, const cq_graph *g, int nd, int output, const cq_tensor *t)
{
    (void)g, (void)nd, (void)output;
    obs_keep *k = ud;
    cq_err err;
    if (k->calls < 8)
        k->seen[k->calls] = cq_tensor_clone(t, &err);
    k->calls++;
    return 0;
}

/* 32-channel residual block, a 1x1 stride-2 projection and a global
 * average pool: the values between the convolutions and into the pool are
 * kept in NCHW16c (on AVX-512), the graph's output and what the observer
 * sees stay NCHW, and the results match the all-NCHW plan of the same
 * graph. */
static void test_exec_blocked_layout(void **state)
{
    (void)state;
    cq_err err;
    int64_t xs[4] = {1, 32, 10, 14};
    cq_graph *g[2];
    for (int i = 0; i < 2; i++) {
        g[i] = residual_block(5, xs, 3, 1, 0);
        int64_t ws[4] = {48, 32, 1, 1};
        add_init(g[i], "wp", rand_tensor(4, ws));
        cq_value *y = &g[i]->values[cq_graph_value(g[i], "y", &err)];
        y->is_output = 0;
        g[i]->n_outputs = 0;
        int n = node(g[i], "Conv", "proj", 2, (const char *[]){"y", "wp"}, "z");
        cq_node_set_ints(g[i], n, "strides", 2, (int64_t[]){2, 2}, &err);
        node(g[i], "GlobalAveragePool", "gap", 1, (const char *[]){"z"}, "m");
        assert_int_equal(cq_graph_add_output(g[i], cq_graph_value(g[i], "m", &err), &err), CQ_OK);
    }
    cq_exec_opts nchw = CQ_EXEC_OPTS_DEFAULT;
    nchw.nchw_only = 1;
    cq_exec *e[2] = {cq_exec_new(g[0], NULL, &err), cq_exec_new(g[1], &nchw, &err)};
    assert_non_null(e[0]);
    assert_non_null(e[1]);
    int r = cq_graph_value(g[0], "r", &err), y = cq_graph_value(g[0], "y", &err);
    int z = cq_graph_value(g[0], "z", &err), m = cq_graph_value(g[0], "m", &err);
    int avx512 = cq_kern_isa() == CQ_ISA_AVX512;
    assert_int_equal(cq_exec_value_blocked(e[0], r), avx512);
    assert_int_equal(cq_exec_value_blocked(e[0], y), avx512);
    assert_int_equal(cq_exec_value_blocked(e[0], z), avx512);
    assert_false(cq_exec_value_blocked(e[0], m)); /* a graph output */
    for (int v = 0; v < g[1]->n_values; v++)
        assert_false(cq_exec_value_blocked(e[1], v));
    rng_state = 77u;
    cq_tensor *x = rand_tensor(4, xs), *out[2];
    obs_keep seen[2];
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < 2; i++) {
        cq_exec_set_observer(e[i], keep_seen, &seen[i]);
        assert_int_equal(cq_exec_run(e[i], 1, &x, &out[i], &err), CQ_OK);
    }
    assert_int_equal(seen[0].calls, seen[1].calls);
    assert_int_equal(seen[0].calls, 4); /* relu(conv_a), relu(conv_b + r), proj, gap */
    for (int k = 0; k < seen[0].calls; k++) {
        double d = maxdiff(seen[0].seen[k], seen[1].seen[k]);
        assert_true(d < 1e-5 * fmax(10.0, maxabs(seen[1].seen[k])));
        cq_tensor_release(seen[0].seen[k]);
        cq_tensor_release(seen[1].seen[k]);
    }
    assert_true(maxdiff(out[0], out[1]) < 1e-5 * fmax(10.0, maxabs(out[1])));
    for (int i = 0; i < 2; i++) {
        cq_tensor_release(out[i]);
        cq_exec_free(e[i]);
        cq_graph_free(g[i]);
    }
    cq_tensor_release(x);
}

/* A small U-Net level in f32: conv -> MaxPool -> conv -> ConvTranspose
 * and a nearest Resize + 1x1 conv (16 output channels) up again, each
 * Concat'ed with the skip connection, then convs. On AVX-512 the values
 * between the convolutions are kept in NCHW16c (MaxPool, Concat, Resize and
 * ConvTranspose's output take it; ConvTranspose reads NCHW), the graph
 * output stays NCHW, and the
 * result matches the all-NCHW plan of the same graph. */
static cq_graph *unet_level(const int64_t *xs)
{
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    add_io(g, "x", 4, xs, "y");
    rng_state = 4242u;
    int64_t c = xs[1];
    add_init(g, "wa", rand_tensor(4, (int64_t[]){16, c, 3, 3}));
    add_init(g, "ba", rand_tensor(1, (int64_t[]){16}));
    add_init(g, "wb", rand_tensor(4, (int64_t[]){32, 16, 3, 3}));
    add_init(g, "wt", rand_tensor(4, (int64_t[]){32, 16, 2, 2})); /* (c_in, c_out, kh, kw) */
    add_init(g, "bt", rand_tensor(1, (int64_t[]){16}));
    add_init(g, "wc", rand_tensor(4, (int64_t[]){16, 32, 3, 3}));
    add_init(g, "wu", rand_tensor(4, (int64_t[]){16, 32, 1, 1}));
    add_init(g, "wr", rand_tensor(4, (int64_t[]){32, 32, 3, 3}));
    add_init(g, "wd", rand_tensor(4, (int64_t[]){32, 32, 3, 3}));
    add_init(g, "we", rand_tensor(4, (int64_t[]){2, 32, 1, 1}));
    add_init(g, "roi", cq_tensor_new(CQ_F32, 1, (int64_t[]){0}, &err));
    cq_tensor *sc = cq_tensor_new(CQ_F32, 1, (int64_t[]){4}, &err);
    float *scv = cq_tensor_data(sc);
    scv[0] = scv[1] = 1.0f;
    scv[2] = scv[3] = 2.0f;
    add_init(g, "scales", sc);
    const int64_t p1[4] = {1, 1, 1, 1};
    int n = node(g, "Conv", "ca", 3, (const char *[]){"x", "wa", "ba"}, "a0");
    cq_node_set_ints(g, n, "pads", 4, p1, &err);
    node(g, "Relu", "ra", 1, (const char *[]){"a0"}, "s");
    n = node(g, "MaxPool", "pool", 1, (const char *[]){"s"}, "p");
    cq_node_set_ints(g, n, "kernel_shape", 2, (int64_t[]){2, 2}, &err);
    cq_node_set_ints(g, n, "strides", 2, (int64_t[]){2, 2}, &err);
    n = node(g, "Conv", "cb", 2, (const char *[]){"p", "wb"}, "b0");
    cq_node_set_ints(g, n, "pads", 4, p1, &err);
    node(g, "Relu", "rb", 1, (const char *[]){"b0"}, "q");
    /* up by ConvTranspose, concat with the skip, conv */
    n = node(g, "ConvTranspose", "up", 3, (const char *[]){"q", "wt", "bt"}, "u");
    cq_node_set_ints(g, n, "kernel_shape", 2, (int64_t[]){2, 2}, &err);
    cq_node_set_ints(g, n, "strides", 2, (int64_t[]){2, 2}, &err);
    n = node(g, "Concat", "cat", 2, (const char *[]){"u", "s"}, "k");
    cq_node_set_int(g, n, "axis", 1, &err);
    n = node(g, "Conv", "cc", 2, (const char *[]){"k", "wc"}, "c0");
    cq_node_set_ints(g, n, "pads", 4, p1, &err);
    /* up by a nearest Resize and a 1x1 conv to 16 channels, concat, conv */
    n = node(g, "Conv", "cr", 2, (const char *[]){"q", "wr"}, "q2");
    cq_node_set_ints(g, n, "pads", 4, p1, &err);
    node(g, "Resize", "rs", 3, (const char *[]){"q2", "roi", "scales"}, "r");
    node(g, "Conv", "cu", 2, (const char *[]){"r", "wu"}, "r1");
    n = node(g, "Concat", "cat2", 2, (const char *[]){"r1", "c0"}, "k2");
    cq_node_set_int(g, n, "axis", 1, &err);
    n = node(g, "Conv", "cd", 2, (const char *[]){"k2", "wd"}, "d0");
    cq_node_set_ints(g, n, "pads", 4, p1, &err);
    node(g, "Relu", "rd", 1, (const char *[]){"d0"}, "d");
    node(g, "Conv", "head", 2, (const char *[]){"d", "we"}, "y");
    return g;
}

/* Runs both plans (e[0] with NCHW16c, e[1] all NCHW) on one random input
 * of shape xs drawn from seed, checks their outputs agree, and frees both
 * plans and graphs. */
static void same_outputs(cq_graph *g[2], cq_exec *e[2], const int64_t *xs, uint32_t seed)
{
    cq_err err;
    rng_state = seed;
    cq_tensor *x = rand_tensor(4, xs), *out[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(cq_exec_run(e[i], 1, &x, &out[i], &err), CQ_OK);
    assert_true(maxdiff(out[0], out[1]) < 1e-5 * fmax(10.0, maxabs(out[1])));
    for (int i = 0; i < 2; i++) {
        cq_tensor_release(out[i]);
        cq_exec_free(e[i]);
        cq_graph_free(g[i]);
    }
    cq_tensor_release(x);
}

static void test_exec_blocked_unet(void **state)
{
    (void)state;
    cq_err err;
    const int64_t shapes[3][4] = {{1, 8, 14, 14}, {2, 16, 16, 12}, {1, 6, 10, 22}};
    for (int t = 0; t < 3; t++) {
        const int64_t *xs = shapes[t];
        cq_graph *g[2] = {unet_level(xs), unet_level(xs)};
        cq_exec_opts nchw = CQ_EXEC_OPTS_DEFAULT;
        nchw.nchw_only = 1;
        cq_exec *e[2] = {cq_exec_new(g[0], NULL, &err), cq_exec_new(g[1], &nchw, &err)};
        assert_non_null(e[0]);
        assert_non_null(e[1]);
        int avx512 = cq_kern_isa() == CQ_ISA_AVX512;
        /* (q: read by the 2x2/2 ConvTranspose as a 1x1 conv to 64 channels) */
        /* (d: read by the 32 > 2 head, which reads NCHW16c and writes NCHW) */
        /* (r1_lowres: the 1x1 conv cu runs before the Resize, passes.h) */
        const char *kept[] = {"s", "p", "q", "u", "k", "q2", "r1_lowres", "r1", "k2", "d"};
        /* (the other shapes: rows of 12 and 22 pixels, where the 1x1 conv
         * to 16 channels wastes lanes of its 7-pixel tiles, takes NCHW) */
        for (size_t i = 0; t == 0 && i < sizeof kept / sizeof kept[0]; i++)
            if (cq_exec_value_blocked(e[0], cq_graph_value(g[0], kept[i], &err)) != avx512)
                fail_msg("value '%s' %s NCHW16c", kept[i], avx512 ? "not in" : "in");
        assert_false(cq_exec_value_blocked(e[0], cq_graph_value(g[0], "y", &err)));
        for (int v = 0; v < g[1]->n_values; v++)
            assert_false(cq_exec_value_blocked(e[1], v));
        same_outputs(g, e, xs, 99u + (uint32_t)t);
    }
}

/* ConvTranspose reading a conv's output: kernel k, stride st, pad pd, to
 * m channels, into the graph's output (NCHW) or into a 3x3 conv. */
static cq_graph *convt_graph(const int64_t *xs, int64_t k, int64_t st, int64_t pd, int64_t m,
                             int to_conv)
{
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    add_io(g, "x", 4, xs, "y");
    rng_state = 777u;
    add_init(g, "wa", rand_tensor(4, (int64_t[]){32, xs[1], 3, 3}));
    add_init(g, "wt", rand_tensor(4, (int64_t[]){32, m, k, k}));
    add_init(g, "bt", rand_tensor(1, (int64_t[]){m}));
    add_init(g, "wc", rand_tensor(4, (int64_t[]){16, m, 3, 3}));
    const int64_t p1[4] = {1, 1, 1, 1};
    int n = node(g, "Conv", "ca", 2, (const char *[]){"x", "wa"}, "a");
    cq_node_set_ints(g, n, "pads", 4, p1, &err);
    n = node(g, "ConvTranspose", "up", 3, (const char *[]){"a", "wt", "bt"},
             to_conv ? "u" : "y");
    cq_node_set_ints(g, n, "kernel_shape", 2, (int64_t[]){k, k}, &err);
    cq_node_set_ints(g, n, "strides", 2, (int64_t[]){st, st}, &err);
    cq_node_set_ints(g, n, "pads", 4, (int64_t[]){pd, pd, pd, pd}, &err);
    if (to_conv) {
        n = node(g, "Conv", "cc", 2, (const char *[]){"u", "wc"}, "y");
        cq_node_set_ints(g, n, "pads", 4, p1, &err);
    }
    return g;
}

/* ConvTranspose on an NCHW16c input: a kernel the size of its stride (2x2/2,
 * 3x3/3) reads it as it is, into NCHW16c (a conv after it) or into the
 * graph's NCHW output (then converting its input first); 3x3/2 with pad 1
 * takes NCHW. All equal the all-NCHW plan's results. */
static void test_exec_blocked_convt(void **state)
{
    (void)state;
    cq_err err;
    static const struct {
        int64_t k, st, pd, m, to_conv, x_kept;
    } cases[] = {{2, 2, 0, 16, 1, 1}, {2, 2, 0, 32, 0, 1}, {3, 3, 0, 48, 1, 1},
                 {3, 2, 1, 16, 1, 0}, {2, 2, 0, 16, 0, 1}};
    const int64_t shapes[2][4] = {{1, 8, 14, 14}, {2, 16, 10, 28}};
    int avx512 = cq_kern_isa() == CQ_ISA_AVX512;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int t = 0; t < 2; t++) {
            const int64_t *xs = shapes[t];
            cq_graph *g[2];
            for (int i = 0; i < 2; i++)
                g[i] = convt_graph(xs, cases[c].k, cases[c].st, cases[c].pd, cases[c].m,
                                   (int)cases[c].to_conv);
            cq_exec_opts nchw = CQ_EXEC_OPTS_DEFAULT;
            nchw.nchw_only = 1;
            cq_exec *e[2] = {cq_exec_new(g[0], NULL, &err), cq_exec_new(g[1], &nchw, &err)};
            assert_non_null(e[0]);
            assert_non_null(e[1]);
            int kept = cq_exec_value_blocked(e[0], cq_graph_value(g[0], "a", &err));
            if (kept != (avx512 && cases[c].x_kept))
                fail_msg("case %zu: the ConvTranspose's input %s NCHW16c", c,
                         kept ? "in" : "not in");
            same_outputs(g, e, xs, 5u + (uint32_t)t);
        }
}

/* A squeeze-excite block: 1x1 conv to c channels, depthwise 3x3, global
 * average pool, two 1x1 convs on the pooled values (Relu, HardSigmoid),
 * the Mul of the depthwise output by them (the per-channel operand first
 * or second), a 1x1 projection. On AVX-512 with c a multiple of 16 the Mul
 * keeps NCHW16c between the depthwise and the projection (its per-channel
 * operand, one per image and channel, stays NCHW); with c = 24, or rows of
 * 9 pixels (the projection then reads NCHW: cq__convpm_applies), the Mul and
 * the depthwise keep NCHW. Batch 2: the operand differs from image to
 * image. */
static cq_graph *se_graph(const int64_t *xs, int64_t c, int scale_first)
{
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    add_io(g, "x", 4, xs, "y");
    rng_state = 31u;
    add_init(g, "we", rand_tensor(4, (int64_t[]){c, xs[1], 1, 1}));
    add_init(g, "wd", rand_tensor(4, (int64_t[]){c, 1, 3, 3}));
    add_init(g, "w1", rand_tensor(4, (int64_t[]){8, c, 1, 1}));
    add_init(g, "w2", rand_tensor(4, (int64_t[]){c, 8, 1, 1}));
    add_init(g, "wp", rand_tensor(4, (int64_t[]){16, c, 1, 1}));
    node(g, "Conv", "expand", 2, (const char *[]){"x", "we"}, "e");
    int n = node(g, "Conv", "dw", 2, (const char *[]){"e", "wd"}, "d");
    cq_node_set_ints(g, n, "pads", 4, (int64_t[]){1, 1, 1, 1}, &err);
    cq_node_set_int(g, n, "group", c, &err);
    node(g, "GlobalAveragePool", "gap", 1, (const char *[]){"d"}, "p");
    node(g, "Conv", "fc1", 2, (const char *[]){"p", "w1"}, "f1");
    node(g, "Relu", "relu", 1, (const char *[]){"f1"}, "r");
    node(g, "Conv", "fc2", 2, (const char *[]){"r", "w2"}, "f2");
    node(g, "HardSigmoid", "gate", 1, (const char *[]){"f2"}, "s");
    node(g, "Mul", "scale", 2,
         scale_first ? (const char *[]){"s", "d"} : (const char *[]){"d", "s"}, "m");
    node(g, "Conv", "proj", 2, (const char *[]){"m", "wp"}, "y");
    return g;
}

static void test_exec_blocked_se(void **state)
{
    (void)state;
    cq_err err;
    const int64_t shapes[3][4] = {{2, 16, 14, 14}, {1, 8, 7, 7}, {1, 8, 5, 9}};
    const int64_t chans[] = {32, 48, 24};
    int avx512 = cq_kern_isa() == CQ_ISA_AVX512;
    for (int t = 0; t < 3; t++)
        for (size_t ci = 0; ci < sizeof chans / sizeof chans[0]; ci++)
            for (int first = 0; first < 2; first++) {
                const int64_t *xs = shapes[t];
                cq_graph *g[2] = {se_graph(xs, chans[ci], first),
                                  se_graph(xs, chans[ci], first)};
                cq_exec_opts nchw = CQ_EXEC_OPTS_DEFAULT;
                nchw.nchw_only = 1;
                cq_exec *e[2] = {cq_exec_new(g[0], NULL, &err), cq_exec_new(g[1], &nchw, &err)};
                assert_non_null(e[0]);
                assert_non_null(e[1]);
                int want = avx512 && chans[ci] % 16 == 0 && t < 2;
                const char *kept[] = {"d", "m"};
                for (int i = 0; i < 2; i++)
                    if (cq_exec_value_blocked(e[0], cq_graph_value(g[0], kept[i], &err)) != want)
                        fail_msg("shape %d, %lld channels, scale %s: '%s' %s NCHW16c", t,
                                 (long long)chans[ci], first ? "first" : "second", kept[i],
                                 want ? "not in" : "in");
                assert_false(cq_exec_value_blocked(e[0], cq_graph_value(g[0], "s", &err)));
                same_outputs(g, e, xs, 17u + (uint32_t)t);
            }
}

int main(void)
{
    /* split every convolution over the kernel threads, however small */
    cq__kern_set_min_share(0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exec_blocked_layout),
        cmocka_unit_test(test_exec_blocked_unet),
        cmocka_unit_test(test_exec_blocked_convt),
        cmocka_unit_test(test_exec_blocked_se),
    };
    return cmocka_run_group_tests_name("exec_blocked", tests, NULL, NULL);
}
