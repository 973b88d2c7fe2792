/* test_quant.c - the quantizer (quant/quant.h): QDQ placement on small
 * hand-built graphs (Conv-Relu-Conv, a residual Add, Concat with zero
 * padding, pass-through ops, Sigmoid kept float, Gemm and MatMul), the
 * precision map and its patterns, bias scales and the int32 clamp, the
 * opset, deterministic bytes, the QDQ -> QLinear rewrite against the QDQ
 * graph run in float, sensitivity, and the errors; the rewrite on a graph
 * written as PyTorch's exporter writes it (Constant nodes, Casts); MaxPool
 * lowered onto the codes, and run on s8 / u8. */
#include "exec_testutil.h"
#include "calib/calibrate.h"
#include "kern/kern.h"
#include "onnx/onnx.h"
#include "quant/quant.h"

/* Statistics of g over n random items of shape xs (a copy the caller frees). */
static cq_calib_stats *stats_of(cq_graph *g, int nd, const int64_t *xs, int n, uint32_t seed)
{
    cq_err err;
    cq_calib *c = cq_calib_new(g, NULL, &err);
    assert_non_null(c);
    int64_t s[CQ_MAX_DIMS];
    memcpy(s, xs, sizeof(int64_t) * (size_t)nd);
    s[0] = n;
    rng_state = seed;
    cq_tensor *x = rand_tensor(nd, s);
    if (cq_calib_feed(c, 1, &x, &err) != CQ_OK)
        fail_msg("cq_calib_feed: %s", err.msg);
    cq_tensor_release(x);
    cq_calib_stats *out = cq_calib_stats_new(&err);
    assert_non_null(out);
    assert_int_equal(cq_calib_stats_merge(out, cq_calib_get_stats(c), &err), CQ_OK);
    cq_calib_free(c);
    return out;
}

static int count_op(const cq_graph *g, const char *op)
{
    int k = 0;
    for (int i = 0; i < g->n_nodes; i++)
        k += !g->nodes[i].dead && !strcmp(g->nodes[i].op_type, op);
    return k;
}

static int node_named(const cq_graph *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i].name, name))
            return i;
    fail_msg("no node '%s'", name);
    return -1;
}

static cq_quant_node_info info_of(const cq_quant *q, const char *name)
{
    cq_err err;
    cq_quant_node_info in;
    assert_int_equal(cq_quant_node(q, node_named(cq_quant_source(q), name), &in, &err), CQ_OK);
    return in;
}

/* The node of h that writes value name (-1: none). */
static int producer_of(const cq_graph *h, const char *name)
{
    int v = cq_graph_find(h, name);
    return v < 0 ? -1 : h->values[v].producer;
}

static const cq_tensor *init_of(const cq_graph *h, const char *name)
{
    int v = cq_graph_find(h, name);
    assert_true(v >= 0);
    assert_non_null(h->values[v].data);
    return h->values[v].data;
}

/* x [1, 3, 8, 8] -> conv1 (pads 1) -> r1 = Relu -> conv2 -> y */
static cq_graph *conv_relu_conv(void)
{
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    add_io(g, "x", 4, (int64_t[]){1, 3, 8, 8}, "y");
    rng_state = 7;
    add_init(g, "w1", rand_tensor(4, (int64_t[]){4, 3, 3, 3}));
    add_init(g, "b1", rand_tensor(1, (int64_t[]){4}));
    add_init(g, "w2", rand_tensor(4, (int64_t[]){5, 4, 1, 1}));
    add_init(g, "b2", rand_tensor(1, (int64_t[]){5}));
    int n = node(g, "Conv", "conv1", 3, (const char *[]){"x", "w1", "b1"}, "c1");
    cq_node_set_ints(g, n, "pads", 4, (int64_t[]){1, 1, 1, 1}, &err);
    node(g, "Relu", "relu1", 1, (const char *[]){"c1"}, "r1");
    node(g, "Conv", "conv2", 3, (const char *[]){"r1", "w2", "b2"}, "y");
    return g;
}

/* QDQ graph of g quantized with opts; *qout gets the quantizer unless NULL. */
static cq_graph *qdq_of(cq_graph *g, cq_calib_stats *st, const cq_quant_opts *o, cq_quant **qout)
{
    cq_err err;
    cq_quant *q = cq_quant_new(g, st, o, &err);
    if (!q)
        fail_msg("cq_quant_new: %s", err.msg);
    cq_graph *h = cq_quant_graph(q, &err);
    if (!h)
        fail_msg("cq_quant_graph: %s", err.msg);
    if (qout)
        *qout = q;
    else
        cq_quant_free(q);
    return h;
}

/* A deep copy of h (through the ONNX writer). */
static cq_graph *copy_of(const cq_graph *h)
{
    cq_err err;
    void *buf;
    size_t len;
    assert_int_equal(cq_onnx_save_buffer(h, &buf, &len, &err), CQ_OK);
    cq_graph *c = cq_onnx_load_buffer(buf, len, "copy", &err);
    free(buf);
    assert_non_null(c);
    return c;
}

/* Run h as QDQ in float and lowered onto the integer kernels on the same
 * input; every output value of the two within `steps` of scale. */
static void lowered_matches(const cq_graph *h, int nd, const int64_t *xs, float scale, int steps,
                            int want_rewrites)
{
    cq_err err;
    cq_graph *f = copy_of(h), *l = copy_of(h);
    int count;
    assert_int_equal(cq_quant_lower(l, &count, &err), CQ_OK);
    assert_int_equal(count, want_rewrites);
    rng_state = 555;
    cq_tensor *x = rand_tensor(nd, xs);
    cq_tensor *a = run1(f, NULL, x), *b = run1(l, NULL, x);
    assert_true(maxdiff(a, b) <= steps * scale * 1.0001);
    cq_tensor_release(a);
    cq_tensor_release(b);
    cq_tensor_release(x);
    cq_graph_free(f);
    cq_graph_free(l);
}

static void test_quant_conv_relu_conv(void **state)
{
    (void)state;
    cq_graph *g = conv_relu_conv();
    cq_calib_stats *st = stats_of(g, 4, (int64_t[]){1, 3, 8, 8}, 8, 11);
    cq_quant *q;
    cq_graph *h = qdq_of(g, st, NULL, &q);
    cq_quant_node_info c1 = info_of(q, "conv1"), r1 = info_of(q, "relu1"), c2 = info_of(q, "conv2");
    assert_int_equal(c1.kind, CQ_QK_COMPUTE);
    assert_true(c1.int8 && c2.int8);
    /* the Relu's range is the conv's: u8 with zero point 0 makes it a no-op */
    assert_true(r1.int8 && r1.removed);
    assert_int_equal(r1.folded_into, node_named(g, "conv1"));
    assert_int_equal(c1.out_zero_point, 0);
    assert_int_equal(c1.out_dtype, CQ_U8);
    assert_string_equal(g->values[c1.out_value].name, "r1");
    /* x, r1 and y quantized; weights and biases behind DequantizeLinear */
    assert_int_equal(count_op(h, "QuantizeLinear"), 3);
    assert_int_equal(count_op(h, "DequantizeLinear"), 7);
    assert_int_equal(count_op(h, "Relu"), 0);
    assert_true(cq_graph_opset(h, "") >= 13);
    /* the graph output keeps its name: the DequantizeLinear writes it */
    int y = producer_of(h, "y");
    assert_true(y >= 0);
    assert_string_equal(h->nodes[y].op_type, "DequantizeLinear");
    /* weights: s8, per output channel on axis 0; bias: s32 at s_x * s_w[c] */
    const cq_tensor *wq = init_of(h, "w1_quantized"), *ws = init_of(h, "w1_scale");
    assert_int_equal(wq->dtype, CQ_S8);
    assert_int_equal(cq_tensor_numel(ws), 4);
    int wdq = producer_of(h, "w1_dequantized");
    assert_int_equal(cq_node_int(&h->nodes[wdq], "axis", 1), 0);
    const cq_tensor *bq = init_of(h, "b1_quantized"), *bs = init_of(h, "b1_scale");
    assert_int_equal(bq->dtype, CQ_S32);
    float sx = ((const float *)cq_tensor_data(init_of(h, "x_scale")))[0];
    for (int c = 0; c < 4; c++)
        assert_true(((const float *)cq_tensor_data(bs))[c] ==
                    sx * ((const float *)cq_tensor_data(ws))[c]);
    assert_int_equal(c1.bias_clamped, 0);
    lowered_matches(h, 4, (int64_t[]){1, 3, 8, 8}, c2.out_scale, 2, 2);
    cq_graph_free(h);
    cq_quant_free(q);

    /* s8 symmetric activations: the Relu is no no-op, it stays */
    cq_quant_opts o = CQ_QUANT_OPTS_DEFAULT;
    o.act_dtype = CQ_S8;
    h = qdq_of(g, st, &o, &q);
    r1 = info_of(q, "relu1");
    assert_true(r1.int8 && !r1.removed);
    assert_int_equal(count_op(h, "Relu"), 1);
    assert_int_equal(info_of(q, "conv1").out_zero_point, 0);
    assert_int_equal(info_of(q, "conv1").out_dtype, CQ_S8);
    lowered_matches(h, 4, (int64_t[]){1, 3, 8, 8}, info_of(q, "conv2").out_scale, 2, 2);
    cq_graph_free(h);
    cq_quant_free(q);
    cq_calib_stats_free(st);
    cq_graph_free(g);
}

/* The same graph, statistics and options: the same bytes. */
static void test_quant_deterministic_bytes(void **state)
{
    (void)state;
    void *buf[2];
    size_t len[2];
    for (int k = 0; k < 2; k++) {
        cq_err err;
        cq_graph *g = conv_relu_conv();
        cq_calib_stats *st = stats_of(g, 4, (int64_t[]){1, 3, 8, 8}, 8, 11);
        cq_graph *h = qdq_of(g, st, NULL, NULL);
        assert_int_equal(cq_onnx_save_buffer(h, &buf[k], &len[k], &err), CQ_OK);
        cq_graph_free(h);
        cq_calib_stats_free(st);
        cq_graph_free(g);
    }
    assert_int_equal(len[0], len[1]);
    assert_memory_equal(buf[0], buf[1], len[0]);
    free(buf[0]);
    free(buf[1]);
}

/* Two convs reading one bias initializer (as torch's exporter writes equal
 * biases): each gets its own bias codes, and no two nodes of the QDQ graph
 * or of its lowered form share a name (ONNX Runtime refuses such a file). */
static void test_quant_shared_bias_names(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    add_io(g, "x", 4, (int64_t[]){1, 3, 8, 8}, "y");
    rng_state = 9;
    add_init(g, "w1", rand_tensor(4, (int64_t[]){3, 3, 3, 3}));
    add_init(g, "w2", rand_tensor(4, (int64_t[]){3, 3, 1, 1}));
    add_init(g, "b", rand_tensor(1, (int64_t[]){3}));
    int n = node(g, "Conv", "conv1", 3, (const char *[]){"x", "w1", "b"}, "c1");
    cq_node_set_ints(g, n, "pads", 4, (int64_t[]){1, 1, 1, 1}, &err);
    node(g, "Relu", "relu1", 1, (const char *[]){"c1"}, "r1");
    node(g, "Conv", "conv2", 3, (const char *[]){"r1", "w2", "b"}, "c2");
    node(g, "Relu", "relu2", 1, (const char *[]){"c2"}, "y");
    cq_calib_stats *st = stats_of(g, 4, (int64_t[]){1, 3, 8, 8}, 8, 3);
    cq_graph *h = qdq_of(g, st, NULL, NULL);
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < h->n_nodes; i++)
            for (int j = i + 1; j < h->n_nodes; j++)
                if (!h->nodes[i].dead && !h->nodes[j].dead &&
                    !strcmp(h->nodes[i].name, h->nodes[j].name))
                    fail_msg("pass %d: two nodes named '%s'", pass, h->nodes[i].name);
        int count;
        if (pass == 0)
            assert_int_equal(cq_quant_lower(h, &count, &err), CQ_OK);
    }
    cq_graph_free(h);
    cq_calib_stats_free(st);
    cq_graph_free(g);
}

/* The int8 executor: a lowered graph with a 3x3 conv, a max pool on codes, a
 * 1x1 conv, a transpose, a residual QLinearAdd, a depthwise conv, a nearest
 * upsampling and a Concat on codes keeps its 8-bit values NHWC between those
 * nodes (the transpose, which moves NCHW codes only, reading a converted copy) (QuantizeLinear writes NHWC, DequantizeLinear
 * reads it), and gives the same bits NCHW-only, on every ISA and at 2
 * threads. */
static void int8_layouts(int order)
{
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    const int64_t xs[4] = {1, 5, 12, 12};
    add_io(g, "x", 4, xs, "y");
    rng_state = 21;
    add_init(g, "w1", rand_tensor(4, (int64_t[]){16, 5, 3, 3}));
    add_init(g, "b1", rand_tensor(1, (int64_t[]){16}));
    add_init(g, "w2", rand_tensor(4, (int64_t[]){16, 16, 1, 1}));
    add_init(g, "b2", rand_tensor(1, (int64_t[]){16}));
    add_init(g, "w3", rand_tensor(4, (int64_t[]){16, 1, 3, 3}));
    add_init(g, "b3", rand_tensor(1, (int64_t[]){16}));
    int n = node(g, "Conv", "conv1", 3, (const char *[]){"x", "w1", "b1"}, "c1");
    cq_node_set_ints(g, n, "pads", 4, (int64_t[]){1, 1, 1, 1}, &err);
    node(g, "Relu", "relu1", 1, (const char *[]){"c1"}, "r1");
    n = node(g, "MaxPool", "pool", 1, (const char *[]){"r1"}, "p1");
    cq_node_set_ints(g, n, "kernel_shape", 2, (int64_t[]){2, 2}, &err);
    cq_node_set_ints(g, n, "strides", 2, (int64_t[]){2, 2}, &err);
    node(g, "Conv", "conv2", 3, (const char *[]){"p1", "w2", "b2"}, "c2");
    /* a Transpose moves codes in NCHW only: it reads an NCHW copy of p1, and
     * the Add an NHWC copy of what it writes */
    n = node(g, "Transpose", "tr", 1, (const char *[]){"p1"}, "t1");
    cq_node_set_ints(g, n, "perm", 4, (int64_t[]){0, 1, 3, 2}, &err);
    /* order 0: the conv's output is the Add's a; 1: its b */
    node(g, "Add", "add", 2,
         order ? (const char *[]){"t1", "c2"} : (const char *[]){"c2", "t1"}, "s");
    node(g, "Relu", "relu2", 1, (const char *[]){"s"}, "r2");
    n = node(g, "Conv", "dw", 3, (const char *[]){"r2", "w3", "b3"}, "d3");
    cq_node_set_ints(g, n, "pads", 4, (int64_t[]){1, 1, 1, 1}, &err);
    cq_node_set_int(g, n, "group", 16, &err);
    /* a nearest x2 upsampling and a Concat of it with itself, on codes */
    add_init(g, "roi", cq_tensor_new(CQ_F32, 1, (int64_t[]){0}, &err));
    cq_tensor *sc = cq_tensor_new(CQ_F32, 1, (int64_t[]){4}, &err);
    float *scv = cq_tensor_data(sc);
    scv[0] = scv[1] = 1.0f;
    scv[2] = scv[3] = 2.0f;
    add_init(g, "scales", sc);
    node(g, "Resize", "up", 3, (const char *[]){"d3", "roi", "scales"}, "u3");
    n = node(g, "Concat", "cat", 2, (const char *[]){"u3", "u3"}, "k3");
    cq_node_set_int(g, n, "axis", 1, &err);
    add_init(g, "w4", rand_tensor(4, (int64_t[]){8, 32, 1, 1}));
    node(g, "Conv", "conv4", 2, (const char *[]){"k3", "w4"}, "y");
    cq_calib_stats *st = stats_of(g, 4, xs, 8, 5);
    cq_quant_opts o = CQ_QUANT_OPTS_DEFAULT;
    cq_quant *q = cq_quant_new(g, st, &o, &err);
    assert_non_null(q);
    cq_graph *h = cq_quant_graph(q, &err);
    assert_non_null(h);
    int count;
    assert_int_equal(cq_quant_lower(h, &count, &err), CQ_OK);
    assert_int_equal(count_op(h, "QLinearConv"), 4);
    assert_int_equal(count_op(h, "QLinearAdd"), 1);
    rng_state = 77;
    cq_tensor *x = rand_tensor(4, xs);
    /* the reference: NCHW, scalar, the QLinearAdd run on its own */
    cq_exec_opts nchw = CQ_EXEC_OPTS_DEFAULT;
    nchw.nchw_only = 1;
    nchw.fuse = CQ_FUSE_ACT | CQ_FUSE_POOL | CQ_FUSE_ACT_FN | CQ_FUSE_LUT;
    cq_isa isa0 = cq_kern_isa();
    cq_kern_set_isa(CQ_ISA_SCALAR);
    cq_tensor *ref = run1(h, &nchw, x);
    cq_kern_set_isa(isa0);
    /* the layout: every 8-bit value between Q and DQ is NHWC; the Add (its
     * addend a the 1x1 conv's output) runs in that conv's epilogue */
    cq_exec *e = cq_exec_new(h, NULL, &err);
    assert_non_null(e);
    for (int i = 0; i < h->n_nodes; i++)
        if (!h->nodes[i].dead && !strcmp(h->nodes[i].op_type, "QLinearAdd"))
            assert_true(cq_exec_is_fused(e, i));
    const char *nhwc[] = {"x_quantized", "p1_quantized", "r2_quantized", "u3_quantized",
                          "k3_quantized"};
    for (int k = 0; k < 5; k++) {
        int v = -1;
        for (int j = 0; j < h->n_values; j++)
            if (strstr(h->values[j].name, nhwc[k]) == h->values[j].name &&
                h->values[j].producer >= 0)
                v = j;
        if (v < 0)
            fail_msg("no value %s", nhwc[k]);
        if (!cq_exec_value_blocked(e, v))
            fail_msg("%s is not kept NHWC", h->values[v].name);
    }
    cq_exec_free(e);
    for (int isa = CQ_ISA_SCALAR; isa < CQ_ISA_COUNT; isa++)
        for (int threads = 1; threads <= 4; threads++) {
            cq_kern_set_isa((cq_isa)isa);
            cq_exec_opts eo = CQ_EXEC_OPTS_DEFAULT;
            eo.threads = 1 + (threads - 1) % 2;
            eo.nchw_only = threads > 2;
            cq_tensor *y = run1(h, &eo, x);
            if (maxdiff(y, ref) != 0.0)
                fail_msg("isa %d, %d threads, nchw %d: differs from the NCHW scalar run by %g",
                         isa, eo.threads, eo.nchw_only, maxdiff(y, ref));
            cq_tensor_release(y);
        }
    cq_kern_set_isa(isa0);
    cq_tensor_release(ref);
    cq_tensor_release(x);
    cq_graph_free(h);
    cq_quant_free(q);
    cq_calib_stats_free(st);
    cq_graph_free(g);
}

static void test_quant_int8_executor_layouts(void **state)
{
    (void)state;
    int8_layouts(0);
    int8_layouts(1);
}

/* The executor's 256-entry tables: a SiLU (DQ -> Sigmoid -> Q -> DQ -> Mul
 * with the first DQ -> Q) and a HardSwish between int8 convolutions run as
 * lookups on the codes, with the bits of the float chains they replace. */
static void test_quant_lut_chains(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 14);
    const int64_t xs[4] = {1, 4, 9, 9};
    add_io(g, "x", 4, xs, "y");
    rng_state = 31;
    add_init(g, "w1", rand_tensor(4, (int64_t[]){8, 4, 3, 3}));
    add_init(g, "w2", rand_tensor(4, (int64_t[]){8, 8, 1, 1}));
    add_init(g, "w3", rand_tensor(4, (int64_t[]){6, 8, 1, 1}));
    node(g, "Conv", "conv1", 2, (const char *[]){"x", "w1"}, "c1");
    node(g, "Sigmoid", "sig", 1, (const char *[]){"c1"}, "s1");
    node(g, "Mul", "silu", 2, (const char *[]){"c1", "s1"}, "m1");
    node(g, "Conv", "conv2", 2, (const char *[]){"m1", "w2"}, "c2");
    node(g, "HardSwish", "hs", 1, (const char *[]){"c2"}, "h2");
    node(g, "Conv", "conv3", 2, (const char *[]){"h2", "w3"}, "y");
    cq_calib_stats *st = stats_of(g, 4, xs, 8, 9);
    cq_quant *q = cq_quant_new(g, st, NULL, &err);
    assert_non_null(q);
    cq_graph *h = cq_quant_graph(q, &err);
    assert_non_null(h);
    int count;
    assert_int_equal(cq_quant_lower(h, &count, &err), CQ_OK);
    assert_int_equal(count_op(h, "Sigmoid"), 1);
    assert_int_equal(count_op(h, "HardSwish"), 1);
    rng_state = 5;
    cq_tensor *x = rand_tensor(4, xs);
    cq_exec_opts no_lut = CQ_EXEC_OPTS_DEFAULT;
    no_lut.fuse = CQ_FUSE_ACT | CQ_FUSE_RESIDUAL | CQ_FUSE_POOL | CQ_FUSE_ACT_FN;
    cq_tensor *ref = run1(h, &no_lut, x);
    cq_exec *e = cq_exec_new(h, NULL, &err);
    assert_non_null(e);
    int absorbed = 0;
    for (int i = 0; i < h->n_nodes; i++)
        if (!h->nodes[i].dead && (!strcmp(h->nodes[i].op_type, "Sigmoid") ||
                                  !strcmp(h->nodes[i].op_type, "HardSwish") ||
                                  !strcmp(h->nodes[i].op_type, "Mul")))
            absorbed += cq_exec_is_fused(e, i);
    assert_int_equal(absorbed, 3);
    cq_tensor *out[1];
    assert_int_equal(cq_exec_run(e, 1, &x, out, &err), CQ_OK);
    assert_true(maxdiff(out[0], ref) == 0.0);
    cq_tensor_release(out[0]);
    cq_exec_free(e);
    cq_tensor_release(ref);
    cq_tensor_release(x);
    cq_graph_free(h);
    cq_quant_free(q);
    cq_calib_stats_free(st);
    cq_graph_free(g);
}

/* A squeeze-excite block: the pool of codes becomes QLinearGlobalAveragePool
 * and the per-channel scaling QLinearMul (ONNX Runtime's arithmetic: within
 * a step of the float QDQ graph at each), the same bits on every ISA and
 * NCHW-only; a SiLU's Mul is left to the executor's table. */
static void test_quant_squeeze_excite(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    const int64_t xs[4] = {1, 4, 7, 7};
    add_io(g, "x", 4, xs, "y");
    rng_state = 41;
    add_init(g, "w1", rand_tensor(4, (int64_t[]){16, 4, 3, 3}));
    add_init(g, "w2", rand_tensor(4, (int64_t[]){16, 16, 1, 1}));
    add_init(g, "w3", rand_tensor(4, (int64_t[]){5, 16, 1, 1}));
    int n = node(g, "Conv", "conv1", 2, (const char *[]){"x", "w1"}, "c1");
    cq_node_set_ints(g, n, "pads", 4, (int64_t[]){1, 1, 1, 1}, &err);
    node(g, "Relu", "relu1", 1, (const char *[]){"c1"}, "r1");
    node(g, "GlobalAveragePool", "gap", 1, (const char *[]){"r1"}, "p1");
    node(g, "Conv", "conv2", 2, (const char *[]){"p1", "w2"}, "c2");
    node(g, "Sigmoid", "sig", 1, (const char *[]){"c2"}, "s2");
    node(g, "Mul", "scale", 2, (const char *[]){"r1", "s2"}, "m1");
    node(g, "Conv", "conv3", 2, (const char *[]){"m1", "w3"}, "y");
    cq_calib_stats *st = stats_of(g, 4, xs, 8, 13);
    cq_quant *q = cq_quant_new(g, st, NULL, &err);
    assert_non_null(q);
    cq_graph *h = cq_quant_graph(q, &err);
    assert_non_null(h);
    cq_graph *l = copy_of(h);
    int count;
    assert_int_equal(cq_quant_lower(l, &count, &err), CQ_OK);
    assert_int_equal(count_op(l, "QLinearGlobalAveragePool"), 1);
    assert_int_equal(count_op(l, "QLinearMul"), 1);
    rng_state = 99;
    cq_tensor *x = rand_tensor(4, xs);
    cq_tensor *f = run1(h, NULL, x);
    cq_exec_opts nchw = CQ_EXEC_OPTS_DEFAULT;
    nchw.nchw_only = 1;
    cq_isa isa0 = cq_kern_isa();
    cq_kern_set_isa(CQ_ISA_SCALAR);
    cq_tensor *ref = run1(l, &nchw, x);
    cq_kern_set_isa(isa0);
    assert_true(maxdiff(f, ref) <= 0.1 * fmax(1.0, maxabs(f)));
    for (int isa = CQ_ISA_SCALAR; isa < CQ_ISA_COUNT; isa++) {
        cq_kern_set_isa((cq_isa)isa);
        cq_tensor *y = run1(l, NULL, x);
        if (maxdiff(y, ref) != 0.0)
            fail_msg("isa %d: differs from the NCHW scalar run by %g", isa, maxdiff(y, ref));
        cq_tensor_release(y);
    }
    cq_kern_set_isa(isa0);
    cq_tensor_release(ref);
    cq_tensor_release(f);
    cq_tensor_release(x);
    cq_graph_free(l);
    cq_graph_free(h);
    cq_quant_free(q);
    cq_calib_stats_free(st);
    cq_graph_free(g);
}

/* x -> conv -> c; s = Add(c, x) -> Relu -> y: both inputs requantized */
static void test_quant_residual_add(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    add_io(g, "x", 4, (int64_t[]){1, 4, 6, 6}, "y");
    rng_state = 21;
    add_init(g, "w", rand_tensor(4, (int64_t[]){4, 4, 3, 3}));
    int n = node(g, "Conv", "conv", 2, (const char *[]){"x", "w"}, "c");
    cq_node_set_ints(g, n, "pads", 4, (int64_t[]){1, 1, 1, 1}, &err);
    node(g, "Add", "add", 2, (const char *[]){"c", "x"}, "s");
    node(g, "Relu", "relu", 1, (const char *[]){"s"}, "y");
    cq_calib_stats *st = stats_of(g, 4, (int64_t[]){1, 4, 6, 6}, 6, 3);
    cq_quant *q;
    cq_graph *h = qdq_of(g, st, NULL, &q);
    cq_quant_node_info a = info_of(q, "add");
    assert_int_equal(a.kind, CQ_QK_REQUANT);
    assert_true(a.int8);
    assert_true(info_of(q, "relu").removed);
    /* both inputs of the Add come from DequantizeLinear, on their own scales */
    int ai = node_named(h, "add");
    for (int k = 0; k < 2; k++)
        assert_string_equal(h->nodes[h->values[h->nodes[ai].inputs[k]].producer].op_type,
                            "DequantizeLinear");
    assert_true(info_of(q, "conv").out_scale != a.out_scale);
    /* calq's integer form: QLinearConv, QLinearAdd */
    lowered_matches(h, 4, (int64_t[]){1, 4, 6, 6}, a.out_scale, 2, 2);
    cq_graph *l = copy_of(h);
    assert_int_equal(cq_quant_lower(l, NULL, &err), CQ_OK);
    assert_int_equal(count_op(l, "QLinearAdd"), 1);
    assert_int_equal(count_op(l, "QLinearConv"), 1);
    assert_true(cq_graph_opset(l, "com.microsoft") >= 1);
    cq_graph_free(l);
    cq_graph_free(h);
    cq_quant_free(q);
    cq_calib_stats_free(st);
    cq_graph_free(g);
}

/* x -> Relu (float) ... MaxPool p; Concat(p, zeros) keeps p's parameters
 * (zero padding is exact at any scale); Concat(p, x) requantizes;
 * Reshape and Flatten pass int8 through at the same scale. */
static void test_quant_concat_and_pass_through(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    add_io(g, "x", 4, (int64_t[]){1, 2, 6, 6}, "f");
    assert_int_equal(cq_graph_add_output(g, cq_graph_value(g, "k", &err), &err), CQ_OK);
    rng_state = 5;
    add_init(g, "w", rand_tensor(4, (int64_t[]){2, 2, 1, 1}));
    add_init(g, "zeros", cq_tensor_new(CQ_F32, 4, (int64_t[]){1, 2, 3, 3}, &err));
    cq_tensor *shape = cq_tensor_new(CQ_S64, 1, (int64_t[]){2}, &err);
    ((int64_t *)cq_tensor_data(shape))[0] = 1;
    ((int64_t *)cq_tensor_data(shape))[1] = -1;
    add_init(g, "shape", shape);
    node(g, "Conv", "conv", 2, (const char *[]){"x", "w"}, "c");
    node(g, "Relu", "relu", 1, (const char *[]){"c"}, "r");
    int n = node(g, "MaxPool", "pool", 1, (const char *[]){"r"}, "p");
    cq_node_set_ints(g, n, "kernel_shape", 2, (int64_t[]){2, 2}, &err);
    cq_node_set_ints(g, n, "strides", 2, (int64_t[]){2, 2}, &err);
    n = node(g, "Concat", "cat", 2, (const char *[]){"p", "zeros"}, "cz");
    cq_node_set_int(g, n, "axis", 1, &err);
    node(g, "Reshape", "reshape", 2, (const char *[]){"cz", "shape"}, "rs");
    node(g, "Flatten", "flatten", 1, (const char *[]){"rs"}, "f");
    n = node(g, "Concat", "cat2", 2, (const char *[]){"p", "p2"}, "k");
    cq_node_set_int(g, n, "axis", 1, &err);
    n = node(g, "MaxPool", "pool2", 1, (const char *[]){"x"}, "p2");
    cq_node_set_ints(g, n, "kernel_shape", 2, (int64_t[]){2, 2}, &err);
    cq_node_set_ints(g, n, "strides", 2, (int64_t[]){2, 2}, &err);
    assert_int_equal(cq_graph_toposort(g, &err), CQ_OK);
    cq_calib_stats *st = stats_of(g, 4, (int64_t[]){1, 2, 6, 6}, 5, 9);
    cq_quant *q;
    cq_graph *h = qdq_of(g, st, NULL, &q);
    cq_quant_node_info c = info_of(q, "conv"), p = info_of(q, "pool"), cz = info_of(q, "cat");
    cq_quant_node_info rs = info_of(q, "reshape"), fl = info_of(q, "flatten"), k = info_of(q, "cat2");
    assert_int_equal(p.kind, CQ_QK_PASS);
    assert_true(p.int8 && cz.int8 && rs.int8 && fl.int8);
    assert_true(p.out_scale == c.out_scale && p.out_zero_point == c.out_zero_point);
    assert_true(cz.out_scale == c.out_scale && cz.out_zero_point == c.out_zero_point);
    assert_true(rs.out_scale == c.out_scale && fl.out_scale == c.out_scale);
    /* the zeros are quantized at the shared scale, behind a DequantizeLinear */
    assert_true(((const float *)cq_tensor_data(init_of(h, "zeros_scale")))[0] == c.out_scale);
    /* pool2 reads x, which conv quantized: int8 at x's parameters; cat2
     * joins two scales, so it requantizes on its own range */
    cq_quant_node_info p2 = info_of(q, "pool2");
    assert_true(p2.int8);
    assert_true(p2.out_scale == ((const float *)cq_tensor_data(init_of(h, "x_scale")))[0]);
    assert_true(k.int8);
    assert_true(k.out_scale != c.out_scale && k.out_scale != p2.out_scale);
    /* lowered: the ops at one scale move codes (no DequantizeLinear before
     * them); cat2, joining two scales, concatenates codes requantized to its
     * output's parameters (DQ -> Q, which the executor runs as a table) */
    cq_graph *l = copy_of(h);
    int cnt;
    assert_int_equal(cq_quant_lower(l, &cnt, &err), CQ_OK);
    int moved = 0;
    for (int i = 0; i < l->n_nodes; i++) {
        const cq_node *m = &l->nodes[i];
        if (m->dead || m->n_inputs < 1 || m->inputs[0] < 0)
            continue;
        int pr = l->values[m->inputs[0]].producer;
        int from_dq = pr >= 0 && !strcmp(l->nodes[pr].op_type, "DequantizeLinear");
        if (!strcmp(m->name, "cat2"))
            for (int j = 0; j < m->n_inputs; j++) {
                int pk = l->values[m->inputs[j]].producer;
                assert_true(pk >= 0 && !strcmp(l->nodes[pk].op_type, "QuantizeLinear"));
            }
        else if (!strcmp(m->op_type, "Reshape") || !strcmp(m->op_type, "Flatten") ||
                 !strcmp(m->op_type, "Concat") || !strcmp(m->op_type, "MaxPool"))
            moved += !from_dq;
    }
    assert_int_equal(moved, 5); /* pool, cat, reshape, flatten, pool2 */
    /* and the lowered graph gives the float QDQ graph's outputs bit for bit */
    {
        cq_graph *f = copy_of(h);
        rng_state = 123;
        cq_tensor *xin = rand_tensor(4, (int64_t[]){1, 2, 6, 6});
        cq_exec *ef = cq_exec_new(f, NULL, &err), *el = cq_exec_new(l, NULL, &err);
        assert_non_null(ef);
        assert_non_null(el);
        cq_tensor *of[2], *ol[2];
        assert_int_equal(cq_exec_run(ef, 1, &xin, of, &err), CQ_OK);
        assert_int_equal(cq_exec_run(el, 1, &xin, ol, &err), CQ_OK);
        for (int j = 0; j < f->n_outputs; j++) {
            assert_true(maxdiff(of[j], ol[j]) == 0.0);
            cq_tensor_release(of[j]);
            cq_tensor_release(ol[j]);
        }
        cq_exec_free(ef);
        cq_exec_free(el);
        cq_tensor_release(xin);
        cq_graph_free(f);
    }
    cq_graph_free(l);
    cq_graph_free(h);
    cq_quant_free(q);
    cq_calib_stats_free(st);
    cq_graph_free(g);
}

/* Sigmoid stays float and reads the dequantized value; a node kept fp32
 * by the map gets no QDQ on its input. */
static void test_quant_float_ops_and_map(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = conv_relu_conv();
    /* y -> Sigmoid -> z (the new graph output) */
    node(g, "Sigmoid", "sig", 1, (const char *[]){"y"}, "z");
    g->values[cq_graph_find(g, "y")].is_output = 0;
    g->n_outputs = 0;
    assert_int_equal(cq_graph_add_output(g, cq_graph_value(g, "z", &err), &err), CQ_OK);
    cq_calib_stats *st = stats_of(g, 4, (int64_t[]){1, 3, 8, 8}, 8, 11);
    cq_quant *q;
    cq_graph *h = qdq_of(g, st, NULL, &q);
    cq_quant_node_info s = info_of(q, "sig");
    assert_int_equal(s.kind, CQ_QK_FLOAT);
    assert_false(s.int8);
    assert_non_null(s.reason);
    assert_false(cq_quant_quantizable(q, node_named(g, "sig")));
    int si = node_named(h, "sig");
    assert_string_equal(h->nodes[h->values[h->nodes[si].inputs[0]].producer].op_type,
                        "DequantizeLinear");
    cq_quant_free(q);
    cq_graph_free(h);

    /* conv1 fp32 (the map; bf16 too is kept fp32 and reported): x gets no
     * QuantizeLinear, r1 is quantized for conv2 */
    for (int k = 0; k < 2; k++) {
        cq_dtype *map = malloc(sizeof *map * (size_t)g->n_nodes);
        for (int i = 0; i < g->n_nodes; i++)
            map[i] = CQ_S8;
        map[node_named(g, "conv1")] = k ? CQ_BF16 : CQ_F32;
        cq_quant_opts o = CQ_QUANT_OPTS_DEFAULT;
        o.precision = map;
        o.n_precision = g->n_nodes;
        h = qdq_of(g, st, &o, &q);
        cq_quant_node_info c1 = info_of(q, "conv1");
        assert_false(c1.int8);
        assert_int_equal(c1.precision, k ? CQ_BF16 : CQ_F32);
        assert_non_null(strstr(c1.reason, k ? "bf16" : "fp32"));
        assert_true(cq_quant_quantizable(q, node_named(g, "conv1")));
        assert_int_equal(producer_of(h, "x_quantized"), -1);
        assert_false(info_of(q, "relu1").int8);
        assert_true(info_of(q, "conv2").int8);
        assert_true(producer_of(h, "r1_quantized") >= 0);
        assert_int_equal(count_op(h, "Relu"), 1);
        cq_graph_free(h);
        cq_quant_free(q);
        /* a map of the wrong size */
        o.n_precision = 2;
        assert_null(cq_quant_new(g, st, &o, &err));
        assert_int_equal(err.code, CQ_EINVAL);
        free(map);
    }
    cq_calib_stats_free(st);
    cq_graph_free(g);
}

/* A bias beyond int32 at s_x * s_w is clamped and counted. */
static void test_quant_bias_clamp(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    add_io(g, "x", 4, (int64_t[]){1, 2, 4, 4}, "y");
    cq_tensor *w = cq_tensor_new(CQ_F32, 4, (int64_t[]){2, 2, 1, 1}, &err);
    cq_tensor_fill(w, 1e-3);
    add_init(g, "w", w);
    cq_tensor *b = cq_tensor_new(CQ_F32, 1, (int64_t[]){2}, &err);
    ((float *)cq_tensor_data(b))[0] = 1e9f;
    ((float *)cq_tensor_data(b))[1] = 0.5f;
    add_init(g, "b", b);
    node(g, "Conv", "conv", 3, (const char *[]){"x", "w", "b"}, "y");
    cq_calib_stats *st = stats_of(g, 4, (int64_t[]){1, 2, 4, 4}, 4, 1);
    cq_quant *q;
    cq_graph *h = qdq_of(g, st, NULL, &q);
    assert_int_equal(info_of(q, "conv").bias_clamped, 1);
    const int32_t *bq = cq_tensor_data(init_of(h, "b_quantized"));
    assert_int_equal(bq[0], INT32_MAX);
    assert_true(bq[1] > 0 && bq[1] < INT32_MAX);
    cq_graph_free(h);
    cq_quant_free(q);
    cq_calib_stats_free(st);
    cq_graph_free(g);
}

/* x [2, 16] -> Gemm (transB) -> Relu -> MatMul [8, 4] -> y */
static void test_quant_gemm_matmul(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    add_io(g, "x", 2, (int64_t[]){-1, 16}, "y");
    rng_state = 77;
    add_init(g, "wg", rand_tensor(2, (int64_t[]){8, 16}));
    add_init(g, "bg", rand_tensor(1, (int64_t[]){8}));
    add_init(g, "wm", rand_tensor(2, (int64_t[]){8, 4}));
    int n = node(g, "Gemm", "gemm", 3, (const char *[]){"x", "wg", "bg"}, "gm");
    cq_node_set_int(g, n, "transB", 1, &err);
    node(g, "Relu", "relu", 1, (const char *[]){"gm"}, "r");
    node(g, "MatMul", "matmul", 2, (const char *[]){"r", "wm"}, "y");
    cq_calib_stats *st = stats_of(g, 2, (int64_t[]){2, 16}, 8, 4);
    cq_quant *q;
    cq_graph *h = qdq_of(g, st, NULL, &q);
    assert_true(info_of(q, "gemm").int8 && info_of(q, "matmul").int8);
    /* Gemm's weights [N, K] with transB: per channel on axis 0; MatMul's [K, N] on 1 */
    assert_int_equal(cq_node_int(&h->nodes[producer_of(h, "wg_dequantized")], "axis", 1), 0);
    assert_int_equal(cq_node_int(&h->nodes[producer_of(h, "wm_dequantized")], "axis", 0), 1);
    assert_int_equal(cq_tensor_numel(init_of(h, "wm_scale")), 4);
    lowered_matches(h, 2, (int64_t[]){2, 16}, info_of(q, "matmul").out_scale, 2, 2);
    cq_graph *l = copy_of(h);
    assert_int_equal(cq_quant_lower(l, NULL, &err), CQ_OK);
    assert_int_equal(count_op(l, "QLinearConv"), 1);
    assert_int_equal(count_op(l, "QLinearMatMul"), 1);
    assert_int_equal(count_op(l, "Gemm") + count_op(l, "MatMul"), 0);
    cq_graph_free(l);
    cq_graph_free(h);
    cq_quant_free(q);
    cq_calib_stats_free(st);
    cq_graph_free(g);
}

static int matches(cq_graph *g, const char *pattern, const char *const *want, int n_want)
{
    cq_err err;
    unsigned char *hit = calloc((size_t)g->n_nodes + 1, 1);
    int k = cq_quant_match(g, pattern, hit, &err);
    if (k >= 0) {
        assert_int_equal(k, n_want);
        for (int i = 0; i < n_want; i++)
            assert_true(hit[node_named(g, want[i])]);
    }
    free(hit);
    return k;
}

static void test_quant_patterns(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = residual_block(0, (int64_t[]){1, 3, 5, 5}, 3, 1, 0);
    assert_int_equal(cq_quant_plan(g, &err), CQ_OK);
    matches(g, "conv_a", (const char *[]){"conv_a"}, 1);
    matches(g, "c", (const char *[]){"conv_b"}, 1); /* the node writing value c */
    matches(g, "op:Conv", (const char *[]){"conv_a", "conv_b"}, 2);
    matches(g, "first:Conv", (const char *[]){"conv_a"}, 1);
    matches(g, "last:Conv", (const char *[]){"conv_b"}, 1);
    matches(g, "last:*", (const char *[]){"conv_b"}, 1);
    matches(g, "first:Add", (const char *[]){"add"}, 1);
    matches(g, "conv_*", (const char *[]){"conv_a", "conv_b"}, 2);
    matches(g, "conv_a, relu", (const char *[]){"conv_a", "relu"}, 2);
    matches(g, "nothing", NULL, 0);
    assert_int_equal(matches(g, "op:", NULL, 0), -1);
    assert_int_equal(matches(g, "a,,b", NULL, 0), -1);
    cq_graph_free(g);
}

/* Missing statistics, bad options, an old opset with an operator that
 * changed meaning on the way to 13. */
static void test_quant_errors(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = conv_relu_conv();
    cq_calib_stats *none = cq_calib_stats_new(&err);
    assert_null(cq_quant_new(g, none, NULL, &err));
    assert_int_equal(err.code, CQ_EINVAL);
    assert_non_null(strstr(err.msg, "no statistics for value 'x'"));
    cq_calib_stats *st = stats_of(g, 4, (int64_t[]){1, 3, 8, 8}, 4, 2);
    cq_quant_opts o = CQ_QUANT_OPTS_DEFAULT;
    o.weight_method = CQ_CALIB_ENTROPY;
    assert_null(cq_quant_new(g, st, &o, &err));
    assert_int_equal(err.code, CQ_EINVAL);
    o = (cq_quant_opts)CQ_QUANT_OPTS_DEFAULT;
    o.act_dtype = CQ_S32;
    assert_null(cq_quant_new(g, st, &o, &err));
    assert_int_equal(err.code, CQ_EINVAL);
    cq_calib_stats_free(none);
    cq_calib_stats_free(st);
    cq_graph_free(g);

    /* opset 12: moved to 13; with a Softmax, refused */
    for (int soft = 0; soft < 2; soft++) {
        g = conv_relu_conv();
        g->opsets[0].version = 12;
        if (soft) {
            node(g, "Softmax", "soft", 1, (const char *[]){"y"}, "z");
            assert_int_equal(cq_graph_add_output(g, cq_graph_value(g, "z", &err), &err), CQ_OK);
        }
        st = stats_of(g, 4, (int64_t[]){1, 3, 8, 8}, 4, 2);
        cq_quant *q = cq_quant_new(g, st, NULL, &err);
        assert_non_null(q);
        cq_graph *h = cq_quant_graph(q, &err);
        if (soft) {
            assert_null(h);
            assert_int_equal(err.code, CQ_EUNSUPPORTED);
            assert_non_null(strstr(err.msg, "Softmax 'soft'"));
        } else {
            assert_non_null(h);
            assert_int_equal(cq_graph_opset(h, ""), 13);
        }
        cq_graph_free(h);
        cq_quant_free(q);
        cq_calib_stats_free(st);
        cq_graph_free(g);
    }
}

/* Each quantizable node alone against fp32: finite and plausible SQNRs,
 * the items counted, none for other nodes; the float and integer runs
 * agree. */
static void test_quant_sensitivity(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = conv_relu_conv();
    cq_calib_stats *st = stats_of(g, 4, (int64_t[]){1, 3, 8, 8}, 8, 11);
    cq_quant *q = cq_quant_new(g, st, NULL, &err);
    assert_non_null(q);
    double db[2][2];
    for (int integer = 0; integer < 2; integer++) {
        cq_quant_sens *s = cq_quant_sens_new(q, 1, integer, &err);
        assert_non_null(s);
        rng_state = 8;
        cq_tensor *x = rand_tensor(4, (int64_t[]){3, 3, 8, 8});
        assert_int_equal(cq_quant_sens_feed(s, 1, &x, &err), CQ_OK);
        cq_tensor_release(x);
        const char *names[2] = {"conv1", "conv2"};
        for (int k = 0; k < 2; k++) {
            int64_t items;
            assert_int_equal(cq_quant_sens_get(s, node_named(g, names[k]), &db[integer][k], &items),
                             0);
            assert_int_equal(items, 3);
            assert_true(db[integer][k] > 20 && db[integer][k] < 80);
        }
        double d;
        int64_t items;
        assert_int_equal(cq_quant_sens_get(s, node_named(g, "relu1"), &d, &items), -1);
        /* a feed of the wrong dtype */
        cq_tensor *bad = cq_tensor_new(CQ_S32, 4, (int64_t[]){1, 3, 8, 8}, &err);
        assert_int_equal(cq_quant_sens_feed(s, 1, &bad, &err), CQ_EINVAL);
        cq_tensor_release(bad);
        cq_quant_sens_free(s);
    }
    for (int k = 0; k < 2; k++)
        assert_true(fabs(db[0][k] - db[1][k]) < 0.5);
    cq_quant_free(q);
    cq_calib_stats_free(st);
    cq_graph_free(g);
}

/* ---- other tools' QDQ files ----------------------------------------------- */

/* A Constant node called name writing value name, holding t (released). */
static void constant(cq_graph *g, const char *name, cq_tensor *t)
{
    cq_err err;
    int n = node(g, "Constant", name, 0, NULL, name);
    assert_int_equal(cq_node_set_tensor(g, n, "value", t, &err), CQ_OK);
    cq_tensor_release(t);
}

static cq_tensor *scalar(cq_dtype dt, double v)
{
    cq_err err;
    cq_tensor *t = cq_tensor_scalar(dt, v, &err);
    assert_non_null(t);
    return t;
}

/* What torch.onnx writes for a quantized Conv-Relu (PyTorch 1.13, as in
 * tests/data/fmnist_torch_qdq.onnx): every scale, zero point, weight and
 * bias a Constant node, a Cast (to x_cast) between each QuantizeLinear and
 * its DequantizeLinear, the bias zero point ConstantOfShape -> Cast. x
 * [1, 3, 8, 8] -> Q -> Cast -> DQ -> Conv (w s8 per channel, b s32) -> Relu
 * -> Q -> Cast (uint8) -> DQ -> y. x_cast: the ONNX type of the first Cast;
 * the DequantizeLinear after it takes its zero point in that type. */
static cq_graph *torch_like(int x_cast)
{
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    add_io(g, "x", 4, (int64_t[]){1, 3, 8, 8}, "y");
    const float sx = 2.0f / 255, sy = 0.02f;
    cq_dtype xdt = x_cast == 6 ? CQ_S32 : CQ_U8;
    constant(g, "s_x", scalar(CQ_F32, sx));
    constant(g, "z_x", scalar(CQ_U8, 128));
    node(g, "QuantizeLinear", "q_x", 3, (const char *[]){"x", "s_x", "z_x"}, "xq");
    int n = node(g, "Cast", "cast_x", 1, (const char *[]){"xq"}, "xc");
    cq_node_set_int(g, n, "to", x_cast, &err);
    constant(g, "s_x2", scalar(CQ_F32, sx));
    constant(g, "z_x2", scalar(xdt, 128));
    node(g, "DequantizeLinear", "dq_x", 3, (const char *[]){"xc", "s_x2", "z_x2"}, "xd");
    /* weights: s8 codes, per output channel */
    cq_tensor *w = cq_tensor_new(CQ_S8, 4, (int64_t[]){4, 3, 3, 3}, &err);
    cq_tensor *ws = cq_tensor_new(CQ_F32, 1, (int64_t[]){4}, &err);
    cq_tensor *bc = cq_tensor_new(CQ_S32, 1, (int64_t[]){4}, &err);
    cq_tensor *bs = cq_tensor_new(CQ_F32, 1, (int64_t[]){4}, &err);
    rng_state = 99;
    for (int i = 0; i < 108; i++)
        ((int8_t *)cq_tensor_data(w))[i] = (int8_t)(frand() * 127);
    for (int c = 0; c < 4; c++) {
        ((float *)cq_tensor_data(ws))[c] = 0.01f + 0.002f * (float)c;
        ((float *)cq_tensor_data(bs))[c] = sx * ((float *)cq_tensor_data(ws))[c];
        ((int32_t *)cq_tensor_data(bc))[c] = (int32_t)(frand() * 3000);
    }
    constant(g, "w", w);
    constant(g, "w_scale", ws);
    constant(g, "w_zp", cq_tensor_new(CQ_S8, 1, (int64_t[]){4}, &err));
    n = node(g, "DequantizeLinear", "dq_w", 3, (const char *[]){"w", "w_scale", "w_zp"}, "wd");
    cq_node_set_int(g, n, "axis", 0, &err);
    /* bias: s32 codes at s_x * s_w, its zero point ConstantOfShape -> Cast */
    cq_tensor *four = cq_tensor_new(CQ_S64, 1, (int64_t[]){1}, &err);
    ((int64_t *)cq_tensor_data(four))[0] = 4;
    constant(g, "b_len", four);
    n = node(g, "ConstantOfShape", "b_zeros", 1, (const char *[]){"b_len"}, "bz0");
    cq_tensor *zero = cq_tensor_new(CQ_S32, 1, (int64_t[]){1}, &err);
    assert_int_equal(cq_node_set_tensor(g, n, "value", zero, &err), CQ_OK);
    cq_tensor_release(zero);
    n = node(g, "Cast", "cast_bz", 1, (const char *[]){"bz0"}, "bz");
    cq_node_set_int(g, n, "to", 6, &err);
    constant(g, "b", bc);
    constant(g, "b_scale", bs);
    n = node(g, "DequantizeLinear", "dq_b", 3, (const char *[]){"b", "b_scale", "bz"}, "bd");
    cq_node_set_int(g, n, "axis", 0, &err);
    n = node(g, "Conv", "conv", 3, (const char *[]){"xd", "wd", "bd"}, "c");
    cq_node_set_ints(g, n, "pads", 4, (int64_t[]){1, 1, 1, 1}, &err);
    node(g, "Relu", "relu", 1, (const char *[]){"c"}, "r");
    constant(g, "s_y", scalar(CQ_F32, sy));
    constant(g, "z_y", scalar(CQ_U8, 0));
    node(g, "QuantizeLinear", "q_y", 3, (const char *[]){"r", "s_y", "z_y"}, "yq");
    n = node(g, "Cast", "cast_y", 1, (const char *[]){"yq"}, "yc");
    cq_node_set_int(g, n, "to", 2, &err);
    constant(g, "s_y2", scalar(CQ_F32, sy));
    constant(g, "z_y2", scalar(CQ_U8, 0));
    node(g, "DequantizeLinear", "dq_y", 3, (const char *[]){"yc", "s_y2", "z_y2"}, "y");
    return g;
}

static void test_quant_lower_other_tools(void **state)
{
    (void)state;
    cq_err err;
    /* PyTorch's form: constants folded (14 Constant nodes, the
     * ConstantOfShape and its Cast), the two uint8 Casts removed, the Conv
     * lowered; the integer run within a step of the QDQ graph's float run */
    cq_graph *g = torch_like(2);
    cq_graph *l = copy_of(g);
    cq_quant_lower_result r;
    assert_int_equal(cq_quant_lower_report(l, &r, &err), CQ_OK);
    assert_int_equal(r.lowered, 1);
    assert_int_equal(r.folded, 16);
    assert_int_equal(r.casts, 2);
    assert_int_equal(r.n_kept, 0);
    cq_quant_lower_result_clear(&r);
    assert_int_equal(count_op(l, "QLinearConv"), 1);
    assert_int_equal(count_op(l, "Cast") + count_op(l, "Constant") + count_op(l, "Relu") +
                     count_op(l, "DequantizeLinear"), 1); /* the output's DequantizeLinear */
    assert_int_equal(count_op(l, "QuantizeLinear"), 1);  /* the input's */
    cq_graph_free(l);
    lowered_matches(g, 4, (int64_t[]){1, 3, 8, 8}, 0.02f, 1, 1);
    cq_graph_free(g);

    /* a Cast of the input's codes to int32 stays (the DequantizeLinear
     * reads int32 codes, which the integer kernels do not take): the Conv
     * stays float, the report says why; the graph still runs the same */
    g = torch_like(6);
    l = copy_of(g);
    assert_int_equal(cq_quant_lower_report(l, &r, &err), CQ_OK);
    assert_int_equal(r.lowered, 0);
    assert_int_equal(r.casts, 1);
    assert_int_equal(r.n_kept, 2);
    assert_string_equal(r.kept[0].node, "cast_x");
    assert_string_equal(r.kept[0].op_type, "Cast");
    assert_string_equal(r.kept[0].reason, "Cast of u8 codes to s32: stays, what reads it sees "
                                          "the codes it makes");
    assert_string_equal(r.kept[1].node, "conv");
    assert_string_equal(r.kept[1].reason, "input 0: int32 codes");
    cq_quant_lower_result_clear(&r);
    assert_int_equal(count_op(l, "Cast"), 1);
    rng_state = 5;
    cq_tensor *x = rand_tensor(4, (int64_t[]){1, 3, 8, 8});
    cq_tensor *a = run1(g, NULL, x), *b = run1(l, NULL, x);
    assert_true(maxdiff(a, b) == 0 && maxabs(a) > 10 * 0.02);
    cq_tensor_release(a);
    cq_tensor_release(b);
    cq_tensor_release(x);
    cq_graph_free(l);
    cq_graph_free(g);

    /* no DequantizeLinear: not a QDQ graph, left exactly as it is */
    g = cq_graph_new(&err);
    set_opset(g, 13);
    add_io(g, "x", 2, (int64_t[]){1, 4}, "y");
    constant(g, "k", scalar(CQ_F32, 2));
    node(g, "Mul", "mul", 2, (const char *[]){"x", "k"}, "y");
    void *buf[2];
    size_t len[2];
    assert_int_equal(cq_onnx_save_buffer(g, &buf[0], &len[0], &err), CQ_OK);
    assert_int_equal(cq_quant_lower_report(g, &r, &err), CQ_OK);
    assert_true(!r.lowered && !r.folded && !r.casts && !r.n_kept && !r.kept);
    assert_int_equal(cq_onnx_save_buffer(g, &buf[1], &len[1], &err), CQ_OK);
    assert_int_equal(len[0], len[1]);
    assert_memory_equal(buf[0], buf[1], len[0]);
    free(buf[0]);
    free(buf[1]);
    cq_quant_lower_result_clear(NULL);
    cq_graph_free(g);
}

/* ---- MaxPool on codes ------------------------------------------------------ */

/* x [2, 3, 9, 10] -> Q -> DQ (s1, z1) -> MaxPool 3x3 s2 p1 ceil -> Q -> DQ
 * (s2, z2) -> y, codes of dt, at opset. */
static cq_graph *qdq_pool(cq_dtype dt, float s1, int32_t z1, float s2, int32_t z2, int64_t opset)
{
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, opset);
    add_io(g, "x", 4, (int64_t[]){2, 3, 9, 10}, "y");
    add_init(g, "s1", scalar(CQ_F32, s1));
    add_init(g, "z1", scalar(dt, z1));
    add_init(g, "s2", scalar(CQ_F32, s2));
    add_init(g, "z2", scalar(dt, z2));
    node(g, "QuantizeLinear", "q_x", 3, (const char *[]){"x", "s1", "z1"}, "xq");
    node(g, "DequantizeLinear", "dq_x", 3, (const char *[]){"xq", "s1", "z1"}, "xd");
    int n = node(g, "MaxPool", "pool", 1, (const char *[]){"xd"}, "p");
    cq_node_set_ints(g, n, "kernel_shape", 2, (int64_t[]){3, 3}, &err);
    cq_node_set_ints(g, n, "strides", 2, (int64_t[]){2, 2}, &err);
    cq_node_set_ints(g, n, "pads", 4, (int64_t[]){1, 1, 1, 1}, &err);
    cq_node_set_int(g, n, "ceil_mode", 1, &err);
    node(g, "QuantizeLinear", "q_p", 3, (const char *[]){"p", "s2", "z2"}, "pq");
    node(g, "DequantizeLinear", "dq_p", 3, (const char *[]){"pq", "s2", "z2"}, "y");
    return g;
}

/* The lowered graph's output is the QDQ graph's float run's, bit for bit,
 * codes saturating at both ends; kept float (and why) when the
 * QuantizeLinear is not the DequantizeLinear's inverse or the opset is
 * below 12. */
static void test_quant_lower_maxpool(void **state)
{
    (void)state;
    cq_err err;
    struct {
        cq_dtype dt;
        float s1;
        int32_t z1;
        float s2;
        int32_t z2;
        int64_t opset;
        const char *why; /* NULL: lowered */
    } cases[] = {
        {CQ_U8, 0.005f, 128, 0.005f, 128, 13, NULL},
        {CQ_S8, 0.004f, -3, 0.004f, -3, 12, NULL},
        {CQ_U8, 0.005f, 128, 0.006f, 128, 13,
         "its QuantizeLinear (u8, scale 0.006, zero point 128) is not its DequantizeLinear's "
         "inverse (u8, 0.005, 128)"},
        {CQ_S8, 0.004f, -3, 0.004f, 0, 13,
         "its QuantizeLinear (s8, scale 0.004, zero point 0) is not its DequantizeLinear's "
         "inverse (s8, 0.004, -3)"},
        {CQ_U8, 0.005f, 128, 0.005f, 128, 11, "opset 11: MaxPool takes 8-bit codes from opset 12"},
    };
    for (int k = 0; k < (int)(sizeof cases / sizeof cases[0]); k++) {
        cq_graph *g = qdq_pool(cases[k].dt, cases[k].s1, cases[k].z1, cases[k].s2, cases[k].z2,
                               cases[k].opset);
        cq_graph *l = copy_of(g);
        cq_quant_lower_result r;
        assert_int_equal(cq_quant_lower_report(l, &r, &err), CQ_OK);
        assert_int_equal(r.lowered, cases[k].why ? 0 : 1);
        assert_int_equal(r.n_kept, cases[k].why ? 1 : 0);
        if (cases[k].why) {
            assert_string_equal(r.kept[0].node, "pool");
            assert_string_equal(r.kept[0].reason, cases[k].why);
        } else {
            /* Q -> MaxPool on the codes -> DQ */
            int p = producer_of(l, "pq");
            assert_true(p >= 0);
            assert_string_equal(l->nodes[p].op_type, "MaxPool");
            assert_int_equal(l->nodes[p].inputs[0], cq_graph_find(l, "xq"));
            assert_int_equal(count_op(l, "QuantizeLinear"), 1);
            assert_int_equal(count_op(l, "DequantizeLinear"), 1);
            assert_int_equal(cq_node_int(&l->nodes[p], "ceil_mode", 0), 1);
        }
        cq_quant_lower_result_clear(&r);
        rng_state = 31 + (uint32_t)k;
        cq_tensor *x = rand_tensor(4, (int64_t[]){2, 3, 9, 10});
        cq_tensor *a = run1(g, NULL, x), *b = run1(l, NULL, x);
        assert_true(maxdiff(a, b) == 0);
        cq_tensor_release(a);
        cq_tensor_release(b);
        cq_tensor_release(x);
        cq_graph_free(l);
        cq_graph_free(g);
    }
}

/* x (dt) -> op (2x3 window, dilations 2,1, pads, ceil_mode) -> y at opset. */
static cq_graph *pool_graph(const char *op, cq_dtype dt, int64_t opset)
{
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, opset);
    add_io(g, "x", 4, (int64_t[]){2, 5, 11, 13}, "y");
    int x = cq_graph_find(g, "x");
    g->values[x].dtype = dt;
    g->values[x].onnx_elem_type = cq_dtype_info(dt)->onnx_type;
    int n = node(g, op, "pool", 1, (const char *[]){"x"}, "y");
    cq_node_set_ints(g, n, "kernel_shape", 2, (int64_t[]){2, 3}, &err);
    cq_node_set_ints(g, n, "strides", 2, (int64_t[]){2, 1}, &err);
    cq_node_set_ints(g, n, "pads", 4, (int64_t[]){1, 2, 0, 1}, &err);
    cq_node_set_int(g, n, "ceil_mode", 1, &err);
    if (!strcmp(op, "MaxPool"))
        cq_node_set_ints(g, n, "dilations", 2, (int64_t[]){2, 1}, &err);
    return g;
}

/* MaxPool on s8 / u8 tensors gives the codes the f32 pool gives their
 * values; AveragePool takes no codes, MaxPool none below opset 12. */
static void test_quant_maxpool_codes(void **state)
{
    (void)state;
    cq_err err;
    for (int d = 0; d < 2; d++) {
        cq_dtype dt = d ? CQ_S8 : CQ_U8;
        cq_graph *g8 = pool_graph("MaxPool", dt, 13), *gf = pool_graph("MaxPool", CQ_F32, 13);
        cq_tensor *x8 = cq_tensor_empty(dt, 4, (int64_t[]){2, 5, 11, 13}, &err);
        assert_non_null(x8);
        rng_state = 77;
        for (int64_t i = 0; i < cq_tensor_numel(x8); i++)
            ((uint8_t *)cq_tensor_data(x8))[i] = (uint8_t)(frand() * 128 + 128);
        cq_tensor *xf = cq_tensor_to(x8, CQ_F32, &err);
        cq_tensor *y8 = run1(g8, NULL, x8), *yf = run1(gf, NULL, xf);
        assert_int_equal(y8->dtype, dt);
        cq_tensor *y8f = cq_tensor_to(y8, CQ_F32, &err);
        assert_true(maxdiff(y8f, yf) == 0);
        cq_tensor_release(x8);
        cq_tensor_release(xf);
        cq_tensor_release(y8);
        cq_tensor_release(yf);
        cq_tensor_release(y8f);
        cq_graph_free(g8);
        cq_graph_free(gf);
        const char *want[2] = {"MaxPool 'pool': %s input at opset 11 (8-bit from opset 12)",
                               "AveragePool 'pool': %s input (float only)"};
        for (int k = 0; k < 2; k++) {
            cq_graph *g = pool_graph(k ? "AveragePool" : "MaxPool", dt, k ? 13 : 11);
            assert_null(cq_exec_new(g, NULL, &err));
            char msg[200];
            snprintf(msg, sizeof msg, want[k], cq_dtype_info(dt)->name);
            if (!strstr(err.msg, msg))
                fail_msg("'%s' does not say '%s'", err.msg, msg);
            cq_graph_free(g);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quant_conv_relu_conv),
        cmocka_unit_test(test_quant_deterministic_bytes),
        cmocka_unit_test(test_quant_shared_bias_names),
        cmocka_unit_test(test_quant_int8_executor_layouts),
        cmocka_unit_test(test_quant_lut_chains),
        cmocka_unit_test(test_quant_squeeze_excite),
        cmocka_unit_test(test_quant_residual_add),
        cmocka_unit_test(test_quant_concat_and_pass_through),
        cmocka_unit_test(test_quant_float_ops_and_map),
        cmocka_unit_test(test_quant_bias_clamp),
        cmocka_unit_test(test_quant_gemm_matmul),
        cmocka_unit_test(test_quant_patterns),
        cmocka_unit_test(test_quant_errors),
        cmocka_unit_test(test_quant_sensitivity),
        cmocka_unit_test(test_quant_lower_other_tools),
        cmocka_unit_test(test_quant_lower_maxpool),
        cmocka_unit_test(test_quant_maxpool_codes),
    };
    return cmocka_run_group_tests_name("quant", tests, NULL, NULL);
}
