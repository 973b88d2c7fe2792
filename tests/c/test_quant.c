/* test_quant.c - the quantizer (quant/quant.h): QDQ placement on small
 * hand-built graphs (Conv-Relu-Conv, a residual Add, Concat with zero
 * padding, pass-through ops, Sigmoid kept float, Gemm and MatMul), the
 * precision map and its patterns, bias scales and the int32 clamp, the
 * opset, deterministic bytes, unique node names, the QDQ -> QLinear rewrite
 * against the QDQ graph run in float, sensitivity, and the errors. The
 * lowering of other tools' files and the int8 executor: test_quant_lower.c. */
#include "quant_testutil.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quant_conv_relu_conv),
        cmocka_unit_test(test_quant_deterministic_bytes),
        cmocka_unit_test(test_quant_shared_bias_names),
        cmocka_unit_test(test_quant_residual_add),
        cmocka_unit_test(test_quant_concat_and_pass_through),
        cmocka_unit_test(test_quant_float_ops_and_map),
        cmocka_unit_test(test_quant_bias_clamp),
        cmocka_unit_test(test_quant_gemm_matmul),
        cmocka_unit_test(test_quant_patterns),
        cmocka_unit_test(test_quant_errors),
        cmocka_unit_test(test_quant_sensitivity),
    };
    return cmocka_run_group_tests_name("quant", tests, NULL, NULL);
}
