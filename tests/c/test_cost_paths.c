/* test_cost_paths.c - the cost estimators price the paths the executor runs
 * on NCHW16c where test_cost.c's graphs do not reach them: the nearest
 * upsampling by whole factors (cq_upsample_blocked_f32: call_ns.blk_px an
 * output pixel of 16 floats) and ConvTranspose with its kernel the size of
 * its stride (ops_convt.c's k_is_s: a 1x1 convolution on NCHW16c to kh kw
 * c_out channels at the input's pixels, its scratch written and read back,
 * a 64-byte copy an output pixel), and QLinearMul's own loop an element
 * (call_ns.s8_mul_elem), the int8 global average pool's class (s8_gap),
 * a large graph output's fresh pages (call_ns.page), the channel lanes of
 * the int8 depthwise and grp paths, the int8 stems' class, the input copy
 * of AMX's 1x1s (call_ns.s8_acopy), the strided 1x1s on NCHW and an exp
 * activation fused into a float conv (call_ns.f32_act_exp, f32_dw_act_exp),
 * weights from DRAM that a conv streams under its arithmetic
 * (call_ns.f32_wline), the requantize inside the int8 depthwise and grp
 * classes, the pass that adds a residual the conv's epilogue cannot, and
 * the output and residual a conv streams beside its tiles. Each NCHW16c case first checks that the
 * executor planned the layout the rule assumes (AVX-512 hosts; skipped
 * elsewhere), then the row against figures computed by hand. */
#include "quant_testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cost/cost.h"
#include "cost_testutil.h"
#include "exec/exec_info.h"

static void set_call(cq_hw *hw, const char *name, double ns)
{
    snprintf(hw->call[hw->n_call].name, sizeof hw->call[hw->n_call].name, "%s", name);
    hw->call[hw->n_call++].value = ns;
}

static int value_named(const cq_graph *g, const char *name)
{
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].name && !strcmp(g->values[v].name, name))
            return v;
    fail_msg("no value '%s'", name);
    return -1;
}

/* x (1, 16, h, w) -> Conv 3x3 pad 1 (16 > c) -> OP -> Conv 3x3 pad 1 (m > 16)
 * -> y: the convolutions keep NCHW16c around OP where the host has AVX-512. */
static cq_graph *sandwich(int64_t h, int64_t w, int64_t c, int convt, int64_t f, int64_t m)
{
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    int64_t xs[4] = {1, 16, h, w}, w1[4] = {c, 16, 3, 3}, w2[4] = {16, m, 3, 3};
    add_io(g, "x", 4, xs, "y");
    add_init(g, "w1", rand_tensor(4, w1));
    add_init(g, "w2", rand_tensor(4, w2));
    int n = node(g, "Conv", "c1", 2, (const char *[]){"x", "w1"}, "a");
    cq_node_set_ints(g, n, "pads", 4, (int64_t[]){1, 1, 1, 1}, &err);
    if (convt) {
        int64_t wt[4] = {c, m, f, f};
        add_init(g, "wt", rand_tensor(4, wt));
        n = node(g, "ConvTranspose", "op", 2, (const char *[]){"a", "wt"}, "b");
        cq_node_set_ints(g, n, "strides", 2, (int64_t[]){f, f}, &err);
    } else {
        add_init(g, "roi", cq_tensor_new(CQ_F32, 1, (int64_t[]){0}, &err));
        cq_tensor *sc = cq_tensor_new(CQ_F32, 1, (int64_t[]){4}, &err);
        float *scv = cq_tensor_data(sc);
        scv[0] = scv[1] = 1.0f;
        scv[2] = scv[3] = (float)f;
        add_init(g, "scales", sc);
        node(g, "Resize", "op", 3, (const char *[]){"a", "roi", "scales"}, "b");
    }
    n = node(g, "Conv", "c2", 2, (const char *[]){"b", "w2"}, "y");
    cq_node_set_ints(g, n, "pads", 4, (int64_t[]){1, 1, 1, 1}, &err);
    return g;
}

static cq_exec *planned(cq_graph *g, const int64_t *xs)
{
    cq_err err;
    cq_exec *e = cq_exec_new(g, NULL, &err);
    assert_non_null(e);
    run_rand(e, 4, xs);
    return e;
}

/* Resize nearest 2x2 and 3x1 on NCHW16c: blk_px an output pixel of 16
 * floats, no elementwise operations; a profile without blk_px keeps the old
 * price (one vector operation an output element). */
static void test_upsample_blocked(void **state)
{
    (void)state;
    if (cq_kern_isa() != CQ_ISA_AVX512)
        skip();
    static const int64_t cases[][4] = {{7, 9, 32, 2}, {5, 6, 48, 3}};
    for (int k = 0; k < 2; k++) {
        int64_t h = cases[k][0], w = cases[k][1], c = cases[k][2], f = cases[k][3];
        cq_graph *g = sandwich(h, w, c, 0, f, c);
        cq_exec *e = planned(g, (int64_t[]){1, 16, h, w});
        assert_true(cq_exec_value_blocked(e, value_named(g, "a")));
        cq_hw hw = fast_hw();
        cq_cost r0, r1;
        cq_err err;
        assert_int_equal(cq_cost_exec(e, &hw, NULL, &r0, &err), CQ_OK);
        set_call(&hw, "blk_px", 2.5);
        assert_int_equal(cq_cost_exec(e, &hw, NULL, &r1, &err), CQ_OK);
        double px = (double)(c / 16) * (double)(h * f) * (double)(w * f);
        const cq_cost_row *a = row_of(&r0, "Resize"), *b = row_of(&r1, "Resize");
        assert_true(fabs(a->compute_ns - px * 16 / 16) < 1e-6 * px);
        assert_true(fabs(b->compute_ns - 2.5 * px) < 1e-6 * px);
        cq_cost_free(&r0);
        cq_cost_free(&r1);
        cq_exec_free(e);
        cq_graph_free(g);
    }
}

/* ConvTranspose 2x2/2 (c > m) on NCHW16c: the 1x1 on NCHW16c to 4 m
 * channels at the input's h x w pixels, the pixel-major tiles (here
 * c_out 64 / 128 in whole 64-channel panels: 6 pixels across rows, fill(h
 * w, 6)); its scratch (4 m h w floats) written and read back; blk_px an
 * output pixel. The sgemm path's tiles would be fill(m, 8) x fill(4 h w, 48),
 * and no scratch. */
static void test_convt_blocked(void **state)
{
    (void)state;
    if (cq_kern_isa() != CQ_ISA_AVX512)
        skip();
    static const int64_t cases[][4] = {{5, 5, 32, 16}, {7, 3, 64, 32}};
    for (int k = 0; k < 2; k++) {
        int64_t h = cases[k][0], w = cases[k][1], c = cases[k][2], m = cases[k][3];
        cq_graph *g = sandwich(h, w, c, 1, 2, m);
        cq_exec *e = planned(g, (int64_t[]){1, 16, h, w});
        assert_true(cq_exec_value_blocked(e, value_named(g, "a")));
        assert_true(cq_exec_value_blocked(e, value_named(g, "b")));
        cq_hw hw = fast_hw();
        cq_cost r0, r1;
        cq_err err;
        assert_int_equal(cq_cost_exec(e, &hw, NULL, &r0, &err), CQ_OK);
        set_call(&hw, "blk_px", 2.5);
        assert_int_equal(cq_cost_exec(e, &hw, NULL, &r1, &err), CQ_OK);
        const cq_cost_row *a = row_of(&r0, "ConvTranspose"), *b = row_of(&r1, "ConvTranspose");
        int64_t p = h * w, want6 = (p + 5) / 6 * 6;
        double tile = (double)p / (double)want6;
        if (fabs(a->tile_eff - tile) > 1e-12)
            fail_msg("%lldx%lld %lld>%lld: tile_eff %g, want %g", (long long)h, (long long)w,
                     (long long)c, (long long)m, a->tile_eff, tile);
        assert_string_equal(a->kclass, "f32_conv");
        double macs = (double)(c * 4 * m * p), px = (double)(m / 16) * (double)(4 * p);
        assert_int_equal(a->macs, (int64_t)macs);
        assert_true(fabs(a->compute_ns - macs / (16 * tile)) < 1e-6 * a->compute_ns);
        assert_true(fabs(b->compute_ns - a->compute_ns - 2.5 * px) < 1e-6 * b->compute_ns);
        /* the scratch's bytes, twice, beside the tensors' (at 1 byte a ns) */
        cq_cost r2;
        hw.cache[0].bw = 1;
        assert_int_equal(cq_cost_exec(e, &hw, NULL, &r2, &err), CQ_OK);
        const cq_cost_row *d = row_of(&r2, "ConvTranspose");
        double scratch = 4.0 * (double)(4 * m * p);
        assert_true(fabs(d->memory_ns - ((double)d->bytes + 2 * scratch)) < 1e-6 * d->memory_ns);
        cq_cost_free(&r2);
        cq_cost_free(&r0);
        cq_cost_free(&r1);
        cq_exec_free(e);
        cq_graph_free(g);
    }
}

/* An opset-13 graph with a u8 input named x of shape xs and an output "y". */
static cq_graph *u8_graph(const char *x_name, const int64_t *xs, cq_err *err)
{
    cq_graph *g = cq_graph_new(err);
    set_opset(g, 13);
    int x = cq_graph_value(g, x_name, err);
    g->values[x].has_type = 1;
    g->values[x].dtype = CQ_U8;
    g->values[x].onnx_elem_type = cq_dtype_info(CQ_U8)->onnx_type;
    g->values[x].ndim = 4;
    memcpy(g->values[x].shape, xs, 4 * sizeof xs[0]);
    assert_int_equal(cq_graph_add_input(g, x, err), CQ_OK);
    assert_int_equal(cq_graph_add_output(g, cq_graph_value(g, "y", err), err), CQ_OK);
    return g;
}

static cq_tensor *scalar_t(cq_dtype dt, double v)
{
    cq_err err;
    cq_tensor *t = cq_tensor_new(dt, 0, NULL, &err);
    assert_non_null(t);
    if (dt == CQ_F32)
        *(float *)cq_tensor_data(t) = (float)v;
    else
        *(uint8_t *)cq_tensor_data(t) = (uint8_t)v;
    return t;
}

/* QLinearMul (a u8 (1, 4, 5, 7) input times a constant of its shape): its
 * loop an element, call_ns.s8_mul_elem each, where the profile has it, and
 * no requantizing table's conversion; without it, the table's rate. */
static void test_qmul_elem(void **state)
{
    (void)state;
    cq_err err;
    const int64_t xs[4] = {1, 4, 5, 7};
    cq_graph *g = u8_graph("a", xs, &err);
    cq_tensor *b = cq_tensor_new(CQ_U8, 4, xs, &err);
    memset(cq_tensor_data(b), 7, 140);
    add_init(g, "b", b);
    add_init(g, "as", scalar_t(CQ_F32, 0.1));
    add_init(g, "az", scalar_t(CQ_U8, 3));
    add_init(g, "bs", scalar_t(CQ_F32, 0.2));
    add_init(g, "bz", scalar_t(CQ_U8, 1));
    add_init(g, "ys", scalar_t(CQ_F32, 0.3));
    add_init(g, "yz", scalar_t(CQ_U8, 2));
    const char *in[8] = {"a", "as", "az", "b", "bs", "bz", "ys", "yz"}, *out[1] = {"y"};
    assert_true(cq_graph_add_node(g, "QLinearMul", "mul", "com.microsoft", 8, in, 1, out, &err) >=
                0);
    cq_exec *e = cq_exec_new(g, NULL, &err);
    assert_non_null(e);
    cq_tensor *a = cq_tensor_new(CQ_U8, 4, xs, &err), *y[1];
    memset(cq_tensor_data(a), 9, 140);
    assert_int_equal(cq_exec_run(e, 1, &a, y, &err), CQ_OK);
    cq_tensor_release(y[0]);
    cq_tensor_release(a);
    cq_hw hw = fast_hw();
    cq_cost r0, r1;
    assert_int_equal(cq_cost_exec(e, &hw, NULL, &r0, &err), CQ_OK);
    set_call(&hw, "s8_mul_elem", 0.5);
    assert_int_equal(cq_cost_exec(e, &hw, NULL, &r1, &err), CQ_OK);
    const cq_cost_row *p0 = row_of(&r0, "QLinearMul"), *p1 = row_of(&r1, "QLinearMul");
    assert_true(fabs(p0->cvt_ns - 140.0 / 8) < 1e-9); /* cvt.requant 8 a cycle at 1 GHz */
    assert_true(p1->cvt_ns == 0);
    assert_true(fabs(p1->compute_ns - 0.5 * 140) < 1e-9);
    cq_cost_free(&r0);
    cq_cost_free(&r1);
    cq_exec_free(e);
    cq_graph_free(g);
}

/* QLinearGlobalAveragePool (u8 (1, 16, 7, 7) -> (1, 16, 1, 1)) takes its own
 * memory-bound class where the profile measured it: s8_gap's efficiency in
 * place of eltwise's, no requantizing conversion apart. */
static void test_gap_class(void **state)
{
    (void)state;
    cq_err err;
    const int64_t xs[4] = {1, 16, 7, 7};
    cq_graph *g = u8_graph("x", xs, &err);
    add_init(g, "xs", scalar_t(CQ_F32, 0.1));
    add_init(g, "xz", scalar_t(CQ_U8, 3));
    add_init(g, "ys", scalar_t(CQ_F32, 0.05));
    add_init(g, "yz", scalar_t(CQ_U8, 2));
    const char *in[5] = {"x", "xs", "xz", "ys", "yz"}, *out[1] = {"y"};
    assert_true(cq_graph_add_node(g, "QLinearGlobalAveragePool", "gap", "com.microsoft", 5, in, 1,
                                  out, &err) >= 0);
    cq_exec *e = cq_exec_new(g, NULL, &err);
    assert_non_null(e);
    cq_tensor *a = cq_tensor_new(CQ_U8, 4, xs, &err), *y[1];
    memset(cq_tensor_data(a), 9, 16 * 49);
    assert_int_equal(cq_exec_run(e, 1, &a, y, &err), CQ_OK);
    cq_tensor_release(y[0]);
    cq_tensor_release(a);
    cq_hw hw = fast_hw();
    hw.cache[0].bw = 1; /* 1 byte a ns: the memory term is the bytes */
    cq_cost r0, r1;
    assert_int_equal(cq_cost_exec(e, &hw, NULL, &r0, &err), CQ_OK);
    hw.n_eff = 1;
    snprintf(hw.eff[0].name, sizeof hw.eff[0].name, "s8_gap");
    hw.eff[0].value = 0.5;
    assert_int_equal(cq_cost_exec(e, &hw, NULL, &r1, &err), CQ_OK);
    const cq_cost_row *p0 = row_of(&r0, "QLinearGlobalAveragePool");
    const cq_cost_row *p1 = row_of(&r1, "QLinearGlobalAveragePool");
    assert_string_equal(p0->kclass, "eltwise");
    assert_string_equal(p1->kclass, "s8_gap");
    assert_true(p0->cvt_ns > 0 && p1->cvt_ns == 0);
    assert_true(p1->memory_far_ns == 0);
    assert_true(fabs(p1->memory_ns - 2 * p0->memory_ns) < 1e-6 * p1->memory_ns);
    cq_cost_free(&r0);
    cq_cost_free(&r1);
    cq_exec_free(e);
    cq_graph_free(g);
}

/* A graph output of 1 MiB or more comes as new pages in a cold run: with
 * the profile's call_ns.page each 4 KiB page's first write costs that, in
 * the far part of the memory term (x (1, 16, 128, 128) -> Relu -> y, 1 MiB:
 * 256 pages). A warm run writes into the block the last run's output was
 * freed to (alloc.c): no fault. */
static void test_fresh_pages(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    const int64_t xs[4] = {1, 16, 128, 128};
    add_io(g, "x", 4, xs, "y");
    node(g, "Relu", "relu", 1, (const char *[]){"x"}, "y");
    cq_exec *e = planned(g, xs);
    cq_hw hw = fast_hw();
    cq_cost r0, r1, r2;
    cq_cost_opts cold = CQ_COST_OPTS_DEFAULT;
    cold.warm = 0;
    assert_int_equal(cq_cost_exec(e, &hw, &cold, &r0, &err), CQ_OK);
    set_call(&hw, "page", 100);
    assert_int_equal(cq_cost_exec(e, &hw, &cold, &r1, &err), CQ_OK);
    assert_int_equal(cq_cost_exec(e, &hw, NULL, &r2, &err), CQ_OK);
    const cq_cost_row *a = row_of(&r0, "Relu"), *b = row_of(&r1, "Relu");
    const cq_cost_row *w = row_of(&r2, "Relu");
    /* the bytes themselves cost a few ns at these bandwidths */
    if (!(a->memory_ns < 10))
        fail_msg("without call_ns.page: memory %g ns, far %g", a->memory_ns, a->memory_far_ns);
    assert_true(fabs(b->memory_far_ns - 256 * 100) < 10);
    assert_true(fabs(b->memory_ns - 256 * 100) < 10);
    if (!(w->memory_ns < 10))
        fail_msg("warm: memory %g ns, far %g", w->memory_ns, w->memory_far_ns);
    cq_cost_free(&r0);
    cq_cost_free(&r1);
    cq_cost_free(&r2);
    cq_exec_free(e);
    cq_graph_free(g);
}

/* x u8 (1, c_in, 8, 8) -> QLinearConv k x k (pad k / 2, group g) to c_out ->
 * y, planned and run once. */
static cq_exec *qconv_exec(int64_t c_in, int64_t c_out, int64_t k, int64_t g)
{
    cq_err err;
    const int64_t xs[4] = {1, c_in, 8, 8}, ws[4] = {c_out, c_in / g, k, k};
    cq_graph *gr = u8_graph("x", xs, &err);
    cq_tensor *w = cq_tensor_new(CQ_S8, 4, ws, &err);
    memset(cq_tensor_data(w), 3, (size_t)(c_out * (c_in / g) * k * k));
    add_init(gr, "w", w);
    add_init(gr, "xs", scalar_t(CQ_F32, 0.1));
    add_init(gr, "xz", scalar_t(CQ_U8, 3));
    add_init(gr, "ws", scalar_t(CQ_F32, 0.01));
    cq_tensor *wz = cq_tensor_new(CQ_S8, 0, NULL, &err);
    *(int8_t *)cq_tensor_data(wz) = 0;
    add_init(gr, "wz", wz);
    add_init(gr, "ys", scalar_t(CQ_F32, 0.2));
    add_init(gr, "yz", scalar_t(CQ_U8, 2));
    const char *in[8] = {"x", "xs", "xz", "w", "ws", "wz", "ys", "yz"}, *out[1] = {"y"};
    int n = cq_graph_add_node(gr, "QLinearConv", "conv", NULL, 8, in, 1, out, &err);
    assert_true(n >= 0);
    cq_node_set_int(gr, n, "group", g, &err);
    cq_node_set_ints(gr, n, "pads", 4, (int64_t[]){k / 2, k / 2, k / 2, k / 2}, &err);
    cq_exec *e = cq_exec_new(gr, NULL, &err);
    assert_non_null(e);
    cq_tensor *x = cq_tensor_new(CQ_U8, 4, xs, &err), *y[1];
    memset(cq_tensor_data(x), 9, (size_t)(c_in * 64));
    assert_int_equal(cq_exec_run(e, 1, &x, y, &err), CQ_OK);
    cq_tensor_release(y[0]);
    cq_tensor_release(x);
    return e;
}

/* The row of a QLinearConv k x k from c_in to c_out in g groups (pad k / 2):
 * its class and tile fill, on fast_hw with s8 MACs (vnni: VNNI's, else
 * s8_novnni's) and the efficiency classes named in eff (NULL-ended). */
static double qconv_row(int64_t c_in, int64_t c_out, int64_t k, int64_t g, int vnni,
                        const char *const *eff, const char *kclass)
{
    cq_err err;
    cq_exec *e = qconv_exec(c_in, c_out, k, g);
    cq_hw hw = fast_hw();
    hw.macs[vnni ? CQ_HW_MAC_S8 : CQ_HW_MAC_S8_NOVNNI] = 64;
    for (; eff && *eff; eff++) {
        snprintf(hw.eff[hw.n_eff].name, sizeof hw.eff[hw.n_eff].name, "%s", *eff);
        hw.eff[hw.n_eff++].value = 0.5;
    }
    cq_cost r;
    assert_int_equal(cq_cost_exec(e, &hw, NULL, &r, &err), CQ_OK);
    const cq_cost_row *p = row_of(&r, "QLinearConv");
    assert_string_equal(p->kclass, kclass);
    double t = p->tile_eff;
    cq_cost_free(&r);
    cq_graph *gr = (cq_graph *)cq_exec_graph(e);
    cq_exec_free(e);
    cq_graph_free(gr);
    return t;
}

static double qconv_tile_eff(int64_t c, int vnni)
{
    return qconv_row(c, c, 3, c, vnni, NULL, "s8_dw");
}

/* The grp path: groups of 8 channels in and out run in lane mode, every
 * lane used (the vector fill of 16-channel output vectors would say 8 of
 * 16); 12 channels a group fill 12 of 16; the stems are s8_stem where the
 * profile measured it, else s8_grp. */
static void test_qgrp_lanes(void **state)
{
    (void)state;
    const char *const grp[] = {"s8_grp", NULL}, *const both[] = {"s8_grp", "s8_stem", NULL};
    assert_true(fabs(qconv_row(16, 16, 3, 2, 1, grp, "s8_grp") - 1.0) < 1e-12);
    assert_true(fabs(qconv_row(24, 24, 3, 2, 1, grp, "s8_grp") - 0.75) < 1e-12);
    assert_true(fabs(qconv_row(3, 16, 3, 1, 1, grp, "s8_grp") - 27.0 / 28) < 1e-12);
    assert_true(fabs(qconv_row(3, 16, 3, 1, 1, both, "s8_stem") - 27.0 / 28) < 1e-12);
}

/* The int8 depthwise 3x3 with VNNI on AVX-512 fills chunks of 64 channels
 * (a last one of up to 16 as 16-channel vectors; 16 and 32 channels a few
 * pixels a vector; channels a multiple of 16 but not of 64, 48 to 176, or of
 * 4 but not of 16, 12 to 108, on flat rows every lane), 3 of 4 kernel rows a
 * quad; without VNNI (AVX2)
 * vectors of 16 channels. The flat rows are s8_dwf where the profile
 * measured it, else s8_dw. */
static void test_qdw_lanes(void **state)
{
    (void)state;
    const double q = 0.75;
    const char *const dwf[] = {"s8_dw", "s8_dwf", NULL};
    assert_true(fabs(qconv_tile_eff(24, 1) - q) < 1e-9);         /* flat rows */
    assert_true(fabs(qconv_tile_eff(36, 1) - q) < 1e-9);         /* flat rows */
    assert_true(fabs(qconv_tile_eff(120, 1) - 120.0 / 128 * q) < 1e-9); /* 64 + 56 */
    assert_true(fabs(qconv_tile_eff(144, 1) - q) < 1e-9);        /* flat rows */
    assert_true(fabs(qconv_tile_eff(96, 1) - q) < 1e-9);         /* flat rows */
    assert_true(fabs(qconv_tile_eff(200, 1) - 200.0 / 208 * q) < 1e-9); /* 3 x 64 + 8 */
    assert_true(fabs(qconv_tile_eff(72, 1) - q) < 1e-9);         /* flat rows */
    assert_true(fabs(qconv_tile_eff(136, 1) - 136.0 / 144 * q) < 1e-9); /* 2 x 64 + 8 */
    assert_true(fabs(qconv_tile_eff(32, 1) - q) < 1e-9);
    assert_true(fabs(qconv_tile_eff(24, 0) - 24.0 / 32 * q) < 1e-9);
    assert_true(fabs(qconv_row(144, 144, 3, 144, 1, dwf, "s8_dwf") - q) < 1e-9);
    assert_true(fabs(qconv_row(192, 192, 3, 192, 1, dwf, "s8_dw") - q) < 1e-9);
    assert_true(fabs(qconv_row(24, 24, 3, 24, 1, dwf, "s8_dwf") - q) < 1e-9);
    assert_true(fabs(qconv_row(120, 120, 3, 120, 1, dwf, "s8_dw") - 120.0 / 128 * q) < 1e-9);
}

/* On AMX a 1x1 whose input channels do not fill 64-byte rows has its input
 * copied to padded rows first: call_ns.s8_acopy a byte of them (72 channels
 * at 8 x 8: 64 pixels x 128 bytes); 128 channels are read in place. */
static void test_qconv_acopy(void **state)
{
    (void)state;
    cq_err err;
    const int64_t cins[2] = {72, 128};
    for (int i = 0; i < 2; i++) {
        cq_exec *e = qconv_exec(cins[i], 24, 1, 1);
        cq_hw hw = fast_hw();
        hw.macs[CQ_HW_MAC_S8] = 64;
        hw.amx = 1;
        hw.amx_macs[CQ_HW_MAC_S8] = 1024;
        hw.amx_macs[CQ_HW_MAC_BF16] = 512;
        cq_cost r0, r1;
        assert_int_equal(cq_cost_exec(e, &hw, NULL, &r0, &err), CQ_OK);
        set_call(&hw, "s8_acopy", 0.5);
        assert_int_equal(cq_cost_exec(e, &hw, NULL, &r1, &err), CQ_OK);
        double d = row_of(&r1, "QLinearConv")->compute_ns - row_of(&r0, "QLinearConv")->compute_ns;
        if (fabs(d - (i == 0 ? 64 * 128 * 0.5 : 0)) > 1e-6)
            fail_msg("c_in %d: s8_acopy added %g ns", (int)cins[i], d);
        cq_cost_free(&r0);
        cq_cost_free(&r1);
        cq_graph *g = (cq_graph *)cq_exec_graph(e);
        cq_exec_free(e);
        cq_graph_free(g);
    }
}

/* A 1x1 at stride 2 on NCHW (x (1, 12, 10, 10): 12 channels are not kept
 * blocked) runs as im2col + sgemm, not the pixel-major kernel: its 12 x 25
 * im2col elements copied one a cycle, 8 x 48 tiles (12 of 16 channels, 25 of
 * 48 pixels), the im2col matrix written and read back. */
static void test_conv1x1_s2_nchw(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    const int64_t xs[4] = {1, 12, 10, 10};
    add_io(g, "x", 4, xs, "y");
    add_init(g, "w", rand_tensor(4, (int64_t[]){12, 12, 1, 1}));
    int n = node(g, "Conv", "conv", 2, (const char *[]){"x", "w"}, "y");
    cq_node_set_ints(g, n, "strides", 2, (int64_t[]){2, 2}, &err);
    cq_exec *e = planned(g, xs);
    assert_false(cq_exec_value_blocked(e, value_named(g, "x")));
    cq_hw hw = fast_hw();
    cq_cost r;
    assert_int_equal(cq_cost_exec(e, &hw, NULL, &r, &err), CQ_OK);
    const cq_cost_row *c = row_of(&r, "Conv");
    double te = 12.0 / 16 * 25.0 / 48;
    assert_true(fabs(c->tile_eff - te) < 1e-12);
    double want = 12.0 * 12 * 25 / (16 * te) + 12 * 25;
    if (fabs(c->compute_ns - want) > 1e-6)
        fail_msg("compute %g ns, expected %g", c->compute_ns, want);
    cq_cost_free(&r);
    cq_exec_free(e);
    cq_graph_free(g);
}

/* x (1, 16, hw, hw) -> Conv, a 1x1 16 > 16 or (dw) a 3x3 depthwise with
 * pads 1, into value `a` (the graph's output is y). */
static cq_graph *conv16(int dw, int64_t hw, const char *a)
{
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    const int64_t xs[4] = {1, 16, hw, hw};
    add_io(g, "x", 4, xs, "y");
    add_init(g, "w", rand_tensor(4, (int64_t[]){16, dw ? 1 : 16, dw ? 3 : 1, dw ? 3 : 1}));
    int n = node(g, "Conv", "conv", 2, (const char *[]){"x", "w"}, a);
    if (dw) {
        cq_node_set_int(g, n, "group", 16, &err);
        cq_node_set_ints(g, n, "pads", 4, (int64_t[]){1, 1, 1, 1}, &err);
    }
    return g;
}

/* x (1, 16, 32, 32) -> Conv (1x1 16 > 16, or 3x3 depthwise pad 1) -> SiLU
 * (Sigmoid, Mul), fused into the conv: with call_ns.f32_act_exp (the
 * pixel-major epilogue's) or f32_dw_act_exp (the depthwise pass's) in the
 * profile, the Sigmoid's 16 operations an element (one a cycle a vector of
 * 16) give way to that price an output element; the other conv kind's
 * price changes nothing. */
static void test_conv_act_exp(void **state)
{
    (void)state;
    cq_err err;
    const int64_t xs[4] = {1, 16, 32, 32};
    for (int dw = 0; dw < 2; dw++) {
        cq_graph *g = conv16(dw, 32, "a");
        node(g, "Sigmoid", "sig", 1, (const char *[]){"a"}, "s");
        node(g, "Mul", "silu", 2, (const char *[]){"a", "s"}, "y");
        cq_exec *e = planned(g, xs);
        cq_hw hw = fast_hw();
        cq_cost r0, r1, r2;
        assert_int_equal(cq_cost_exec(e, &hw, NULL, &r0, &err), CQ_OK);
        const cq_cost_row *c0 = row_of(&r0, "Conv");
        assert_int_equal(c0->n_fused, 2); /* the SiLU runs in the conv */
        set_call(&hw, dw ? "f32_act_exp" : "f32_dw_act_exp", 0.5); /* the other kind's */
        assert_int_equal(cq_cost_exec(e, &hw, NULL, &r1, &err), CQ_OK);
        set_call(&hw, dw ? "f32_dw_act_exp" : "f32_act_exp", 0.25);
        assert_int_equal(cq_cost_exec(e, &hw, NULL, &r2, &err), CQ_OK);
        double d1 = row_of(&r1, "Conv")->compute_ns - c0->compute_ns;
        double d2 = row_of(&r2, "Conv")->compute_ns - c0->compute_ns;
        double want = 16 * 32 * 32 * (0.25 - 16.0 / 16);
        if (fabs(d1) > 1e-6 || fabs(d2 - want) > 1e-6)
            fail_msg("%s: the other kind's unit moved compute by %g ns, its own by %g (want %g)",
                     dw ? "depthwise" : "1x1", d1, d2, want);
        cq_cost_free(&r0);
        cq_cost_free(&r1);
        cq_cost_free(&r2);
        cq_exec_free(e);
        cq_graph_free(g);
    }
}

/* The fp32 plane depthwise kernel (rows of >= 14, planes past 14x14)
 * streams its planes: on a profile whose one cache holds none of x (1, 16,
 * 64, 64), its traffic from DRAM overlaps the arithmetic (memory_far_ns 0,
 * ns = max(compute, memory)), where a 1x1 conv's on the same input adds. */
static void test_dw_plane_streams(void **state)
{
    (void)state;
    cq_err err;
    const int64_t xs[4] = {1, 16, 64, 64};
    for (int dw = 0; dw < 2; dw++) {
        cq_graph *g = conv16(dw, 64, "y");
        cq_exec *e = planned(g, xs);
        cq_hw hw = one_level_hw(4096, 64, 1.0);
        cq_cost r;
        assert_int_equal(cq_cost_exec(e, &hw, NULL, &r, &err), CQ_OK);
        const cq_cost_row *c = row_of(&r, "Conv");
        assert_true(c->memory_ns > 0);
        if (dw) {
            assert_string_equal(c->kclass, "f32_dw");
            assert_true(c->memory_far_ns == 0);
            double want = fmax(c->compute_ns + c->cvt_ns, c->memory_ns) + c->overhead_ns;
            if (fabs(c->ns - want) > 1e-6 * want)
                fail_msg("depthwise: %g ns, expected max(c, m) = %g", c->ns, want);
        } else {
            assert_true(c->memory_far_ns > 0);
        }
        cq_cost_free(&r);
        cq_exec_free(e);
        cq_graph_free(g);
    }
}

/* A QLinearConv on the depthwise or grp paths: the profile's factor for the
 * class is the probe's whole kernel, its requantizing epilogue inside, so
 * no conversion adds to it; with no factor for the class (s8_conv's MACs
 * standing in) the requantize adds cvt.requant an output (8 a cycle). */
static void test_qconv_requant(void **state)
{
    (void)state;
    cq_err err;
    static const struct {
        int64_t c_in, c_out, k, g;
        const char *kclass;
    } cases[] = {{32, 32, 3, 32, "s8_dw"}, {16, 16, 3, 2, "s8_grp"}, {16, 32, 1, 1, "s8_grp1"}};
    for (int i = 0; i < 3; i++) {
        cq_exec *e = qconv_exec(cases[i].c_in, cases[i].c_out, cases[i].k, cases[i].g);
        cq_hw hw = fast_hw();
        hw.macs[CQ_HW_MAC_S8] = 64;
        cq_cost r0, r1;
        assert_int_equal(cq_cost_exec(e, &hw, NULL, &r0, &err), CQ_OK);
        const char *cls[2] = {"s8_grp", cases[i].kclass};
        for (int j = 0; j < 2; j++) {
            snprintf(hw.eff[j].name, sizeof hw.eff[j].name, "%s", cls[j]);
            hw.eff[j].value = 0.5;
        }
        hw.n_eff = 2;
        assert_int_equal(cq_cost_exec(e, &hw, NULL, &r1, &err), CQ_OK);
        const cq_cost_row *a = row_of(&r0, "QLinearConv"), *b = row_of(&r1, "QLinearConv");
        assert_string_equal(b->kclass, cases[i].kclass);
        double outs = (double)cases[i].c_out * 64 / 8;
        if (!(fabs(a->cvt_ns - outs) < 1e-9 && b->cvt_ns == 0))
            fail_msg("%s: requantize %g ns without the class, %g with it (want %g, 0)",
                     cases[i].kclass, a->cvt_ns, b->cvt_ns, outs);
        cq_cost_free(&r0);
        cq_cost_free(&r1);
        cq_graph *g = (cq_graph *)cq_exec_graph(e);
        cq_exec_free(e);
        cq_graph_free(g);
    }
}

/* x (1, c, 8, 8) -> Conv k x k pad k / 2 (c > c) -> Add x -> Relu -> y, the
 * Add and Relu fused into the conv, x and y in NCHW (graph input and
 * output). The pixel-major kernel (the 3x3, 16 channels) cannot add the
 * residual into NCHW: a pass of its own reads y and x and writes y again
 * (3 x 4 KB from L1 at 64 B a cycle: 192 ns, after the kernel's time); the
 * im2col + sgemm path (the 1x1 of 24 channels, its tiles fuller than the
 * pixel-major kernel's) starts its sums from the residual: no pass. */
static void test_conv_res_pass(void **state)
{
    (void)state;
    cq_err err;
    for (int pm = 0; pm < 2; pm++) {
        int64_t c = pm ? 16 : 24, k = pm ? 3 : 1;
        const int64_t xs[4] = {1, c, 8, 8};
        cq_graph *g = cq_graph_new(&err);
        set_opset(g, 13);
        add_io(g, "x", 4, xs, "y");
        add_init(g, "w", rand_tensor(4, (int64_t[]){c, c, k, k}));
        int n = node(g, "Conv", "conv", 2, (const char *[]){"x", "w"}, "a");
        cq_node_set_ints(g, n, "pads", 4, (int64_t[]){k / 2, k / 2, k / 2, k / 2}, &err);
        node(g, "Add", "add", 2, (const char *[]){"a", "x"}, "s");
        node(g, "Relu", "relu", 1, (const char *[]){"s"}, "y");
        cq_exec *e = planned(g, xs);
        assert_int_equal(cq_exec_fused_into(e, 1), 0);
        assert_false(cq_exec_value_blocked(e, value_named(g, "y")));
        cq_hw hw = two_level_hw();
        cq_cost r;
        assert_int_equal(cq_cost_exec(e, &hw, NULL, &r, &err), CQ_OK);
        const cq_cost_row *p = row_of(&r, "Conv");
        double pass = pm && cq_kern_isa() == CQ_ISA_AVX512 ? 3.0 * c * 64 * 4 / 64 : 0;
        double mem = p->memory_ns - pass, work = p->compute_ns + p->cvt_ns;
        double want = fmax(work, mem - p->memory_far_ns) + p->memory_far_ns + p->overhead_ns + pass;
        if (fabs(p->ns - want) > 1e-6)
            fail_msg("%s: %g ns, want %g (pass %g)", pm ? "3x3" : "1x1", p->ns, want, pass);
        cq_cost_free(&r);
        cq_exec_free(e);
        cq_graph_free(g);
    }
}

/* x (1, 16, 32, 32) -> Conv r -> Conv a -> Conv b, b + r -> Relu -> s -> Conv y
 * (3x3 pads 1, 16 > 16): the Add and Relu fused into the third conv, which
 * writes s in NCHW16c. The pixel-major kernel writes its output and reads
 * the residual in order beside its tiles, so their trips past the private
 * levels overlap the arithmetic: with a 4 KB cache every tensor comes from
 * DRAM, and the row's far part is a's and the weights' alone. */
static void test_conv_out_streams(void **state)
{
    (void)state;
    if (cq_kern_isa() != CQ_ISA_AVX512)
        skip();
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    const int64_t xs[4] = {1, 16, 32, 32};
    add_io(g, "x", 4, xs, "y");
    const char *names[4][3] = {{"x", "w0", "r"}, {"r", "w1", "a"}, {"a", "w2", "b"}, {"s", "w3", "y"}};
    for (int i = 0; i < 4; i++) {
        add_init(g, names[i][1], rand_tensor(4, (int64_t[]){16, 16, 3, 3}));
        int n = node(g, "Conv", names[i][1], 2, (const char *[]){names[i][0], names[i][1]},
                     names[i][2]);
        cq_node_set_ints(g, n, "pads", 4, (int64_t[]){1, 1, 1, 1}, &err);
        if (i == 2) {
            node(g, "Add", "add", 2, (const char *[]){"b", "r"}, "t");
            node(g, "Relu", "relu", 1, (const char *[]){"t"}, "s");
        }
    }
    cq_exec *e = planned(g, xs);
    assert_int_equal(cq_exec_fused_into(e, 3), 2);
    assert_true(cq_exec_value_blocked(e, value_named(g, "s")));
    assert_true(cq_exec_value_blocked(e, value_named(g, "r")));
    cq_hw hw = one_level_hw(4096, 64, 10);
    cq_cost r;
    assert_int_equal(cq_cost_exec(e, &hw, NULL, &r, &err), CQ_OK);
    const cq_cost_row *c = &r.rows[2];
    assert_string_equal(c->name, "w2");
    double t = 16.0 * 32 * 32 * 4, w = 16.0 * 16 * 9 * 4;
    /* a, w, r read once, s written (twice past L1), at DRAM's 10 B/ns, but
     * for a's last 4 KB (written just before: L1 at 64 B/ns) */
    double far = (t - 4096 + w) / 10, mem = far + 4096.0 / 64 + (t + 2 * t) / 10;
    if (fabs(c->memory_ns - mem) > 1e-6 || fabs(c->memory_far_ns - far) > 1e-6)
        fail_msg("memory %g ns, far %g; want %g, %g", c->memory_ns, c->memory_far_ns, mem, far);
    cq_cost_free(&r);
    cq_exec_free(e);
    cq_graph_free(g);
}

/* x (1, 64, 7, 7) -> Conv 3x3 pad 1 (64 > 256) -> y, a cold run: its 590 KB
 * of weights come from DRAM. The pixel-major kernel prefetches them a panel
 * ahead, so with call_ns.f32_wline they take lines x that, under the
 * arithmetic (no less than DRAM's bandwidth allows); without it they add
 * at DRAM's bandwidth, as any far traffic. */
static void test_weight_stream(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    const int64_t xs[4] = {1, 64, 7, 7}, wb = 256 * 64 * 9 * 4;
    add_io(g, "x", 4, xs, "y");
    add_init(g, "w", rand_tensor(4, (int64_t[]){256, 64, 3, 3}));
    int n = node(g, "Conv", "conv", 2, (const char *[]){"x", "w"}, "y");
    cq_node_set_ints(g, n, "pads", 4, (int64_t[]){1, 1, 1, 1}, &err);
    cq_exec *e = planned(g, xs);
    cq_hw hw = two_level_hw(); /* 1 GHz, DRAM 10 B/ns */
    cq_cost_opts o = CQ_COST_OPTS_DEFAULT;
    o.warm = 0;
    cq_cost a, b, c;
    assert_int_equal(cq_cost_exec(e, &hw, &o, &a, &err), CQ_OK);
    const cq_cost_row *ra = row_of(&a, "Conv");
    assert_string_equal(ra->kclass, "f32_conv");
    assert_true(ra->memory_stream_ns == 0);
    assert_true(ra->memory_far_ns >= (double)wb / 10 - 1e-6); /* x and w from DRAM */
    /* 100 ns a line: the stream (922 us) outlasts the arithmetic (7.2 M
     * MACs, 452 us at 16 a cycle, over the tile fill) and sets the row's time */
    set_call(&hw, "f32_wline", 100);
    assert_int_equal(cq_cost_exec(e, &hw, &o, &b, &err), CQ_OK);
    const cq_cost_row *rb = row_of(&b, "Conv");
    double stream = (double)wb / 64 * 100;
    if (fabs(rb->memory_stream_ns - stream) > 1e-6 * stream)
        fail_msg("stream %g ns, want %g", rb->memory_stream_ns, stream);
    assert_true(fabs(rb->memory_far_ns - (ra->memory_far_ns - (double)wb / 10)) < 1e-6);
    assert_true(fabs(rb->memory_ns - (ra->memory_ns - (double)wb / 10 + stream)) < 1e-6);
    double work = rb->compute_ns + rb->cvt_ns, near = rb->memory_ns - rb->memory_far_ns - stream;
    assert_true(stream > work && stream > near);
    assert_true(fabs(rb->ns - (stream + rb->memory_far_ns + rb->overhead_ns)) < 1e-6);
    /* a stream faster than DRAM's bandwidth is held to it, and then the
     * arithmetic is the longer: the weights cost nothing beyond it */
    hw.call[hw.n_call - 1].value = 1;
    assert_int_equal(cq_cost_exec(e, &hw, &o, &c, &err), CQ_OK);
    const cq_cost_row *rc = row_of(&c, "Conv");
    assert_true(fabs(rc->memory_stream_ns - (double)wb / 10) < 1e-6);
    assert_true(rc->ns < ra->ns - (double)wb / 10 + 1e-6);
    cq_cost_free(&a);
    cq_cost_free(&b);
    cq_cost_free(&c);
    cq_exec_free(e);
    cq_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upsample_blocked),
        cmocka_unit_test(test_convt_blocked),
        cmocka_unit_test(test_qmul_elem),
        cmocka_unit_test(test_fresh_pages),
        cmocka_unit_test(test_gap_class),
        cmocka_unit_test(test_qdw_lanes),
        cmocka_unit_test(test_qgrp_lanes),
        cmocka_unit_test(test_qconv_acopy),
        cmocka_unit_test(test_conv1x1_s2_nchw),
        cmocka_unit_test(test_conv_act_exp),
        cmocka_unit_test(test_dw_plane_streams),
        cmocka_unit_test(test_weight_stream),
        cmocka_unit_test(test_qconv_requant),
        cmocka_unit_test(test_conv_res_pass),
        cmocka_unit_test(test_conv_out_streams),
    };
    return cmocka_run_group_tests_name("cost_paths", tests, NULL, NULL);
}
