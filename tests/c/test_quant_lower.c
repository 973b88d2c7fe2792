/* test_quant_lower.c - calq's integer form of a QDQ graph and the int8
 * executor that runs it: NHWC codes between the int8 nodes (converted on
 * read), the residual Add in the conv's epilogue, 256-entry tables,
 * squeeze-excite on codes; the rewrite on a graph written as PyTorch's
 * exporter writes it (Constant nodes, Casts); MaxPool lowered onto the
 * codes, and run on s8 / u8. */
#include "quant_testutil.h"

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
 * NCHW-only. (A SiLU's Mul is left to the executor's table: lut_chains.) */
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
        cmocka_unit_test(test_quant_int8_executor_layouts),
        cmocka_unit_test(test_quant_lut_chains),
        cmocka_unit_test(test_quant_squeeze_excite),
        cmocka_unit_test(test_quant_lower_other_tools),
        cmocka_unit_test(test_quant_lower_maxpool),
        cmocka_unit_test(test_quant_maxpool_codes),
    };
    return cmocka_run_group_tests_name("quant_lower", tests, NULL, NULL);
}
