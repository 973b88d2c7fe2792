/* test_pass_resize.c - the pass that runs a 1x1 Conv before the nearest
 * Resize feeding it (cq_pass_conv_before_resize): where it fires, the
 * outputs are bit for bit those of the graph run as written (every layout
 * the executor picks, NCHW only too, one and two threads); where the
 * arithmetic or the cost would change (linear, a pad, a stride, a second
 * reader, a shrinking resize, extrapolation...) it leaves the graph alone.
 * With CALQ_CACHE holding models/unet_small.onnx, the same on U-Net. */
#include "exec_testutil.h"
#include "onnx/onnx.h"
#include "ops/passes.h"

#include <stdio.h>
#include <stdlib.h>

/* What to build: x (n, c, h, w) -> [3x3 conv to c, so that the Resize reads
 * what a conv wrote: NCHW16c on AVX-512] -> Resize -> Conv 1x1 (c_out, bias)
 * -> [Relu] -> y. */
typedef struct rcase {
    int64_t n, c, h, w, c_out;
    const char *mode, *ctm, *nm; /* NULL: the attribute is left out */
    float sc[4];                 /* scales; sc[0] == 0: sizes instead */
    int64_t sizes[4];
    int pre_conv, relu, group;
    int conv_k, conv_stride, conv_pad; /* the second conv (1, 1, 0: pointwise) */
    int y_read_twice, y_output;       /* the Resize's output also elsewhere */
    int opset;
} rcase;

static cq_graph *build(const rcase *rc)
{
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, rc->opset ? rc->opset : 17);
    int64_t xs[4] = {rc->n, rc->c, rc->h, rc->w};
    add_io(g, "x", 4, xs, "y");
    rng_state = 991u;
    const char *rin = "x";
    if (rc->pre_conv) {
        add_init(g, "wp", rand_tensor(4, (int64_t[]){rc->c, rc->c, 3, 3}));
        int n = node(g, "Conv", "pre", 2, (const char *[]){"x", "wp"}, "p0");
        cq_node_set_ints(g, n, "pads", 4, (int64_t[]){1, 1, 1, 1}, &err);
        node(g, "Relu", "prelu", 1, (const char *[]){"p0"}, "p");
        rin = "p";
    }
    int n;
    if (rc->opset == 10) {
        cq_tensor *sc = cq_tensor_new(CQ_F32, 1, (int64_t[]){4}, &err);
        memcpy(cq_tensor_data(sc), rc->sc, sizeof rc->sc);
        add_init(g, "scales", sc);
        n = node(g, "Resize", "rs", 2, (const char *[]){rin, "scales"}, "r");
    } else if (rc->sc[0] != 0) {
        cq_tensor *sc = cq_tensor_new(CQ_F32, 1, (int64_t[]){4}, &err);
        memcpy(cq_tensor_data(sc), rc->sc, sizeof rc->sc);
        add_init(g, "scales", sc);
        add_init(g, "roi", cq_tensor_new(CQ_F32, 1, (int64_t[]){0}, &err));
        n = node(g, "Resize", "rs", 3, (const char *[]){rin, "roi", "scales"}, "r");
    } else {
        cq_tensor *sz = cq_tensor_new(CQ_S64, 1, (int64_t[]){4}, &err);
        memcpy(cq_tensor_data(sz), rc->sizes, sizeof rc->sizes);
        add_init(g, "sizes", sz);
        n = node(g, "Resize", "rs", 4, (const char *[]){rin, "", "", "sizes"}, "r");
    }
    if (rc->mode)
        cq_node_set_string(g, n, "mode", rc->mode, strlen(rc->mode), &err);
    if (rc->ctm)
        cq_node_set_string(g, n, "coordinate_transformation_mode", rc->ctm, strlen(rc->ctm),
                           &err);
    if (rc->nm)
        cq_node_set_string(g, n, "nearest_mode", rc->nm, strlen(rc->nm), &err);
    int k = rc->conv_k ? rc->conv_k : 1, grp = rc->group ? rc->group : 1;
    add_init(g, "wu", rand_tensor(4, (int64_t[]){rc->c_out, rc->c / grp, k, k}));
    add_init(g, "bu", rand_tensor(1, (int64_t[]){rc->c_out}));
    const char *cout = rc->relu ? "u" : "y";
    n = node(g, "Conv", "cu", 3, (const char *[]){"r", "wu", "bu"}, cout);
    if (grp > 1)
        cq_node_set_int(g, n, "group", grp, &err);
    if (rc->conv_stride)
        cq_node_set_ints(g, n, "strides", 2, (int64_t[]){rc->conv_stride, rc->conv_stride}, &err);
    if (rc->conv_pad)
        cq_node_set_ints(g, n, "pads", 4,
                         (int64_t[]){rc->conv_pad, rc->conv_pad, rc->conv_pad, rc->conv_pad}, &err);
    if (rc->relu)
        node(g, "Relu", "ru", 1, (const char *[]){"u"}, "y");
    if (rc->y_read_twice) {
        node(g, "Sigmoid", "sg", 1, (const char *[]){"r"}, "s");
        assert_int_equal(cq_graph_add_output(g, cq_graph_value(g, "s", &err), &err), CQ_OK);
    }
    if (rc->y_output)
        assert_int_equal(cq_graph_add_output(g, cq_graph_value(g, "r", &err), &err), CQ_OK);
    return g;
}

/* Every pass but the swap, as cq_passes_run orders them; then the executor
 * is made with optimize 0 (toposort only). */
static void passes_but_swap(cq_graph *g)
{
    cq_err err;
    int k;
    assert_int_equal(cq_graph_toposort(g, &err), CQ_OK);
    assert_int_equal(cq_pass_remove_identity(g, &k, &err), CQ_OK);
    assert_int_equal(cq_pass_fold_constants(g, &k, &err), CQ_OK);
    assert_int_equal(cq_pass_fold_bn(g, &k, &err), CQ_OK);
    assert_int_equal(cq_graph_compact(g, &err), CQ_OK);
    assert_int_equal(cq_graph_toposort(g, &err), CQ_OK);
}

/* Runs g (the pass applied by cq_exec_new) and h (not applied) on x with
 * options o and threads; every output must be equal bit for bit. */
static void same_bits(cq_graph *g, cq_graph *h, cq_exec_opts o, int threads, int n_in,
                      cq_tensor **x)
{
    cq_err err;
    o.threads = threads;
    cq_exec *e = cq_exec_new(g, &o, &err);
    assert_non_null(e);
    o.optimize = 0;
    cq_exec *f = cq_exec_new(h, &o, &err);
    assert_non_null(f);
    assert_int_equal(g->n_outputs, h->n_outputs);
    cq_tensor *a[4], *b[4];
    assert_true(g->n_outputs <= 4);
    assert_int_equal(cq_exec_run(e, n_in, x, a, &err), CQ_OK);
    assert_int_equal(cq_exec_run(f, n_in, x, b, &err), CQ_OK);
    for (int i = 0; i < g->n_outputs; i++) {
        assert_true(cq_tensor_same_shape(a[i], b[i]));
        size_t bytes = (size_t)cq_tensor_numel(a[i]) * sizeof(float);
        if (memcmp(cq_tensor_data(a[i]), cq_tensor_data(b[i]), bytes))
            fail_msg("output %d differs (max %g)", i, maxdiff(a[i], b[i]));
        cq_tensor_release(a[i]);
        cq_tensor_release(b[i]);
    }
    cq_exec_free(e);
    cq_exec_free(f);
}

/* The pass on rc: how many pairs it swapped (0 or 1), and when it did, the
 * graph's nodes: the conv keeps its name, reads x (or the pre conv's
 * output) and writes y_lowres; the Resize writes the conv's old output. */
static int swapped(const rcase *rc)
{
    cq_err err;
    cq_graph *g = build(rc);
    cq_pass_stats st;
    if (cq_passes_run(g, &st, &err))
        fail_msg("%s", err.msg);
    int cu = cq_graph_find_node(g, "cu"), rs = cq_graph_find_node(g, "rs");
    assert_true(cu >= 0 && rs >= 0);
    const char *rin = rc->pre_conv ? "p" : "x", *cout = rc->relu ? "u" : "y";
    if (st.conv_before_resize) {
        assert_true(cu < rs);
        assert_string_equal(g->values[g->nodes[cu].inputs[0]].name, rin);
        assert_int_equal(g->nodes[rs].inputs[0], g->nodes[cu].outputs[0]);
        assert_string_equal(g->values[g->nodes[rs].outputs[0]].name, cout);
        char low[16];
        snprintf(low, sizeof low, "%s_lowres", cout);
        assert_string_equal(g->values[g->nodes[cu].outputs[0]].name, low);
    } else {
        assert_string_equal(g->values[g->nodes[rs].inputs[0]].name, rin);
        assert_string_equal(g->values[g->nodes[cu].inputs[0]].name, "r");
    }
    cq_graph_free(g);
    return st.conv_before_resize;
}

/* rc run with the pass and without, under the default layouts and NCHW
 * only, on one and two threads. */
static void check_exact(const rcase *rc)
{
    cq_err err;
    int64_t xs[4] = {rc->n, rc->c, rc->h, rc->w};
    rng_state = 4321u + (uint32_t)rc->h;
    cq_tensor *x = rand_tensor(4, xs);
    for (int layout = 0; layout < 2; layout++)
        for (int th = 1; th <= 2; th++) {
            cq_graph *g = build(rc), *h = build(rc);
            passes_but_swap(h);
            cq_exec_opts o = CQ_EXEC_OPTS_DEFAULT;
            o.nchw_only = layout;
            same_bits(g, h, o, th, 1, &x);
            cq_graph_free(g);
            cq_graph_free(h);
        }
    cq_tensor_release(x);
    (void)err;
}

static void test_pass_resize_fires_exact(void **state)
{
    (void)state;
    const rcase cases[] = {
        /* U-Net's: torch's nearest x2 (asymmetric, floor), 32 > 16 */
        {.n = 1, .c = 32, .h = 7, .w = 9, .c_out = 16, .ctm = "asymmetric", .nm = "floor",
         .sc = {1, 1, 2, 2}, .pre_conv = 1},
        {.n = 1, .c = 32, .h = 28, .w = 28, .c_out = 16, .ctm = "asymmetric", .nm = "floor",
         .sc = {1, 1, 2, 2}, .pre_conv = 1},
        /* opset defaults (half_pixel, round_prefer_floor), x3 by x2, two images */
        {.n = 2, .c = 16, .h = 5, .w = 11, .c_out = 16, .sc = {1, 1, 3, 2}, .pre_conv = 1},
        /* a factor that is no whole number; more channels out than in */
        {.n = 1, .c = 8, .h = 6, .w = 13, .c_out = 24, .ctm = "asymmetric", .nm = "floor",
         .sc = {1, 1, 1.5f, 2.5f}},
        /* sizes; align_corners; round_prefer_ceil; grouped; a Relu after */
        {.n = 1, .c = 16, .h = 9, .w = 7, .c_out = 32, .ctm = "align_corners",
         .nm = "round_prefer_ceil", .sizes = {1, 16, 19, 15}, .group = 2, .relu = 1,
         .pre_conv = 1},
        /* opset 10: Resize(X, scales), asymmetric floor by default */
        {.n = 1, .c = 16, .h = 4, .w = 6, .c_out = 16, .sc = {1, 1, 2, 2}, .opset = 10},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (swapped(&cases[i]) != 1)
            fail_msg("case %zu: not swapped", i);
        check_exact(&cases[i]);
    }
}

static void test_pass_resize_leaves(void **state)
{
    (void)state;
    const rcase base = {.n = 1, .c = 32, .h = 7, .w = 9, .c_out = 16, .ctm = "asymmetric",
                        .nm = "floor", .sc = {1, 1, 2, 2}, .pre_conv = 1};
    rcase cases[12];
    int nc = 0;
    for (int i = 0; i < 12; i++)
        cases[i] = base;
    cases[nc++].mode = "linear";
    cases[nc++].y_read_twice = 1;
    cases[nc++].y_output = 1;
    cases[nc].sc[2] = cases[nc].sc[3] = 0.5f; /* shrinks: the conv would do more */
    nc++;
    cases[nc].sc[2] = cases[nc].sc[3] = 1; /* as many pixels: nothing to gain */
    nc++;
    cases[nc++].conv_k = 3;
    cases[nc++].conv_stride = 2;
    cases[nc++].conv_pad = 1;
    cases[nc++].ctm = "tf_crop_and_resize"; /* extrapolates */
    cases[nc].ctm = "tf_half_pixel_for_nn";
    cases[nc++].nm = "round_prefer_ceil";
    cases[nc++].c_out = 160; /* 160 p > 32 * 4p: more bytes to move */
    cases[nc].sc[0] = 2;     /* the batch resized too: only H and W are asked for */
    nc++;
    for (int i = 0; i < nc; i++) {
        if (swapped(&cases[i]))
            fail_msg("case %d: swapped", i);
    }
    /* (the shrinking and channel-resizing cases still run, and as written) */
    check_exact(&cases[0]);
    check_exact(&cases[3]);
}

/* U-Net from bench/torchvision_export.py, planned with and without the
 * pass: its two nearest Resizes swap with their 1x1 convs, and the output
 * is the same bits. */
static void test_pass_resize_unet(void **state)
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
    cq_graph *g = cq_onnx_load(path, &err), *h = cq_onnx_load(path, &err);
    assert_non_null(g);
    assert_non_null(h);
    cq_pass_stats st;
    assert_int_equal(cq_passes_run(g, &st, &err), CQ_OK);
    assert_int_equal(st.conv_before_resize, 2);
    passes_but_swap(h);
    int64_t xs[4] = {1, 3, 224, 224};
    rng_state = 17u;
    cq_tensor *x = rand_tensor(4, xs);
    cq_exec_opts o = CQ_EXEC_OPTS_DEFAULT;
    o.optimize = 1;
    same_bits(g, h, o, 1, 1, &x);
    cq_tensor_release(x);
    cq_graph_free(g);
    cq_graph_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pass_resize_fires_exact),
        cmocka_unit_test(test_pass_resize_leaves),
        cmocka_unit_test(test_pass_resize_unet),
    };
    return cmocka_run_group_tests_name("pass_resize", tests, NULL, NULL);
}
