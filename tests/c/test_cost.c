/* test_cost.c - the cost estimators (core/cost/cost.h) on hand-built graphs
 * and hand-built profiles whose figures make each term computable by hand:
 * the compute term and the tile fill, the cache simulation's levels (warm,
 * cold, a level too small), the ablation, threads, fused nodes counted once,
 * the conversions, and the error for unknown shapes. */
#include "quant_testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cost/cost.h"
#include "cost/probe.h"
#include "cost_testutil.h"
#include "kern/kern_internal.h"


/* x (1, c, 14, 14) -> Conv 3x3 pad 1 (c > c) -> Relu -> y */
static cq_graph *conv_relu(int64_t c)
{
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    int64_t xs[4] = {1, c, 14, 14}, ws[4] = {c, c, 3, 3};
    add_io(g, "x", 4, xs, "y");
    add_init(g, "w", rand_tensor(4, ws));
    int n = node(g, "Conv", "conv", 2, (const char *[]){"x", "w"}, "r");
    cq_node_set_ints(g, n, "pads", 4, (int64_t[]){1, 1, 1, 1}, &err);
    node(g, "Relu", "relu", 1, (const char *[]){"r"}, "y");
    return g;
}

static void test_compute(void **state)
{
    (void)state;
    cq_hw hw = two_level_hw();
    hw.cache[0].size = 1 << 30; /* everything in one fast level: compute only */
    hw.cache[0].bw = 1e6;
    for (int64_t c = 16; c <= 32; c += 16) {
        cq_graph *g = conv_relu(c);
        cq_err err;
        cq_exec *e = cq_exec_new(g, NULL, &err);
        assert_non_null(e);
        cq_cost r;
        assert_int_equal(cq_cost_exec(e, &hw, NULL, &r, &err), CQ_OK);
        /* Conv + its Relu: one row, named as model:profile() names it */
        assert_int_equal(r.n, 1);
        assert_string_equal(r.rows[0].name, "conv");
        assert_int_equal(r.rows[0].n_fused, 1);
        assert_int_equal(r.rows[0].precision, CQ_F32);
        assert_string_equal(r.rows[0].kclass, "f32_conv");
        int64_t macs = 14 * 14 * c * c * 9;
        assert_int_equal(r.rows[0].macs, macs);
        /* rows of 14 fill two tiles of 7; 16 channels take a one-vector
         * panel, load-bound at 7/8 of its rate; 32 fill a 32-wide panel */
        double fill = c == 16 ? 7.0 / 8.0 : 1.0;
        assert_true(fabs(r.rows[0].tile_eff - fill) < 1e-12);
        /* + the fused Relu: one vector op per 16 lanes of output, a cycle each */
        double want = (double)macs / (16.0 * fill) + 14.0 * 14.0 * (double)c / 16.0;
        assert_true(fabs(r.rows[0].compute_ns - want) < 1e-6 * want);
        assert_int_equal(r.rows[0].bound, CQ_COST_COMPUTE);
        assert_true(fabs(r.total_ns - r.rows[0].ns) < 1e-9);
        /* two cores: half the compute time */
        hw.cores = 2;
        cq_cost_opts o = CQ_COST_OPTS_DEFAULT;
        o.threads = 2;
        cq_cost r2;
        assert_int_equal(cq_cost_exec(e, &hw, &o, &r2, &err), CQ_OK);
        assert_true(fabs(r2.rows[0].compute_ns - want / 2) < 1e-6 * want);
        /* threads beyond the profile's cores count as its cores */
        o.threads = 8;
        cq_cost r3;
        assert_int_equal(cq_cost_exec(e, &hw, &o, &r3, &err), CQ_OK);
        assert_true(fabs(r3.rows[0].compute_ns - want / 2) < 1e-6 * want);
        hw.cores = 1;
        cq_cost_free(&r);
        cq_cost_free(&r2);
        cq_cost_free(&r3);
        assert_null(r.rows);
        cq_exec_free(e);
        cq_graph_free(g);
    }
}

/* The fp32 pixel-major conv's tile fill (kern_convpm_avx512.c): tiles of 7
 * pixels of one output row (a 1x1 on NCHW: of the flat plane) x a panel of
 * 16 (c_out <= 16, 7/8 of its rate), 32 or 48 channels, or (c_out in whole
 * 64-channel panels) 6 pixels of the plane x 64 channels (a last panel of
 * 33-48 channels: x 48); a 1x1 at stride 1
 * the channel-major sgemm's 8 channels x 16-pixel vectors where that wastes
 * fewer lanes, as the kernel picks (checked against cq__convpm_applies where
 * this host has AVX-512; the graph's input is NCHW). */
static void conv_tiles_case(int64_t cin, int64_t cout, int64_t k, int64_t hw_, double tile,
                            int pm)
{
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    const int64_t xs[4] = {1, cin, hw_, hw_};
    add_io(g, "x", 4, xs, "y");
    add_init(g, "w", rand_tensor(4, (int64_t[]){cout, cin, k, k}));
    int n = node(g, "Conv", "conv", 2, (const char *[]){"x", "w"}, "y");
    int64_t pad = k / 2;
    cq_node_set_ints(g, n, "pads", 4, (int64_t[]){pad, pad, pad, pad}, &err);
    cq_exec *e = cq_exec_new(g, NULL, &err);
    assert_non_null(e);
    cq_hw hw = two_level_hw();
    cq_cost r;
    assert_int_equal(cq_cost_exec(e, &hw, NULL, &r, &err), CQ_OK);
    assert_string_equal(r.rows[0].kclass, "f32_conv");
    if (fabs(r.rows[0].tile_eff - tile) > 1e-12)
        fail_msg("%lld>%lld %lldx%lld at %lld: tile_eff %g, want %g", (long long)cin,
                 (long long)cout, (long long)k, (long long)k, (long long)hw_, r.rows[0].tile_eff,
                 tile);
    if (cq_kern_isa() == CQ_ISA_AVX512) {
        cq_conv2d_params p = cq_conv2d_params_default();
        p.n = 1;
        p.c_in = cin;
        p.c_out = cout;
        p.h = p.w = hw_;
        p.kh = p.kw = k;
        p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = pad;
        if (cq__convpm_applies(&p) != pm)
            fail_msg("%lld>%lld %lldx%lld at %lld: the kernel %s pixel-major", (long long)cin,
                     (long long)cout, (long long)k, (long long)k, (long long)hw_,
                     pm ? "does not run" : "runs");
    }
    cq_cost_free(&r);
    cq_exec_free(e);
    cq_graph_free(g);
}

static void test_conv_tiles(void **state)
{
    (void)state;
    conv_tiles_case(32, 32, 3, 16, 16.0 / 21.0, 1);        /* rows of 16: 3 tiles of 7 */
    conv_tiles_case(16, 16, 3, 14, 7.0 / 8.0, 1);          /* one-vector panel */
    conv_tiles_case(16, 8, 3, 28, 0.5 * 7.0 / 8.0, 1);     /* half of it */
    conv_tiles_case(24, 24, 3, 14, 0.75, 1);               /* 32-wide panel */
    conv_tiles_case(40, 40, 3, 7, 40.0 / 48.0, 1);         /* 48-wide panel */
    conv_tiles_case(64, 64, 1, 16, 1.0, 0);                /* 1x1: the sgemm, 256 pixels */
    conv_tiles_case(64, 64, 1, 7, 1.0, 1);                 /* 1x1 on 7x7: 7-pixel tiles */
    conv_tiles_case(64, 24, 1, 128, 1.0, 0);               /* 8-channel sgemm tiles */
    conv_tiles_case(64, 64, 1, 9, 81.0 / 84.0, 1);         /* 81 pixels flat: 81 / 84 against 81 / 96 */
    conv_tiles_case(64, 16, 1, 5, 25.0 / 28.0 * 7.0 / 8.0, 1); /* 25 pixels: 25 / 32 for the sgemm */
    conv_tiles_case(64, 64, 3, 16, 256.0 / 258.0, 1);      /* flat64: 6-pixel tiles across rows */
    conv_tiles_case(64, 128, 3, 7, 1.0, 1);                /* 7x7: the 7-pixel rows (49 / 54 x 1.07 < 1) */
    conv_tiles_case(32, 112, 3, 10, 100.0 / 102.0, 1); /* flat64, a last panel of 48 (6 x 3) */
    conv_tiles_case(32, 96, 3, 10, 10.0 / 14.0, 1);        /* 96: one 48-wide panel pair, not flat64 */
}


/* The bf16 conv without AMX (kern_convpm_bf16_avx512.c): tiles of 7 pixels of
 * a row x a panel of 32 or 48 channels, k in pairs where the CPU has
 * vdpbf16ps; c_out <= 16 runs one 16-lane vector a broadcast (its nv), the
 * fp32 kernel's 7/8, not half of a 32-wide panel. */
static void test_bf16_tiles(void **state)
{
    (void)state;
    const int64_t cs[3] = {16, 24, 40};
    const double want[3] = {7.0 / 8.0, 24.0 / 32.0, 40.0 / 48.0};
    for (int i = 0; i < 3; i++) {
        cq_graph *g = conv_relu(cs[i]);
        cq_dtype prec[2] = {CQ_BF16, CQ_BF16};
        cq_exec_opts o = CQ_EXEC_OPTS_DEFAULT;
        o.precision = prec;
        o.n_precision = g->n_nodes;
        cq_err err;
        cq_exec *e = cq_exec_new(g, &o, &err);
        assert_non_null(e);
        cq_hw hw = two_level_hw();
        hw.amx = 0;
        cq_cost r;
        assert_int_equal(cq_cost_exec(e, &hw, NULL, &r, &err), CQ_OK);
        assert_string_equal(r.rows[0].kclass, "bf16_conv");
        /* 14 pixels a row (two whole tiles of 7), K = 9 c_in in whole pairs */
        if (fabs(r.rows[0].tile_eff - want[i]) > 1e-12)
            fail_msg("c_out %lld: tile_eff %g, want %g", (long long)cs[i], r.rows[0].tile_eff,
                     want[i]);
        cq_cost_free(&r);
        cq_exec_free(e);
        cq_graph_free(g);
    }
}

/* The work the probe prices apart from the MACs (call_ns.bf16_elem): a bf16
 * conv pays it for each element it rounds in (channels padded to 32 on AMX)
 * and each it writes; a profile without the key adds nothing. */
static void test_units(void **state)
{
    (void)state;
    for (int amx = 0; amx <= 1; amx++) {
        cq_graph *g = conv_relu(16);
        cq_dtype prec[2] = {CQ_BF16, CQ_BF16};
        cq_exec_opts o = CQ_EXEC_OPTS_DEFAULT;
        o.precision = prec;
        o.n_precision = g->n_nodes;
        assert_int_equal(g->n_nodes, 2);
        cq_err err;
        cq_exec *e = cq_exec_new(g, &o, &err);
        assert_non_null(e);
        cq_hw hw = two_level_hw();
        hw.amx = amx;
        hw.amx_macs[CQ_HW_MAC_BF16] = 512;
        hw.amx_macs[CQ_HW_MAC_S8] = 1024;
        cq_cost r, ru;
        assert_int_equal(cq_cost_exec(e, &hw, NULL, &r, &err), CQ_OK);
        assert_string_equal(r.rows[0].kclass, "bf16_conv");
        assert_int_equal(r.rows[0].precision, CQ_BF16);
        hw.n_call = 1;
        snprintf(hw.call[0].name, sizeof hw.call[0].name, "bf16_elem");
        hw.call[0].value = 3.0;
        assert_int_equal(cq_cost_exec(e, &hw, NULL, &ru, &err), CQ_OK);
        double elems = 14.0 * 14.0 * (amx ? 32 : 16) + 14.0 * 14.0 * 16;
        assert_true(fabs(ru.rows[0].compute_ns - r.rows[0].compute_ns - 3.0 * elems) < 1e-6);
        cq_cost_free(&r);
        cq_cost_free(&ru);
        cq_exec_free(e);
        cq_graph_free(g);
    }
}

/* The AMX bf16 conv re-reads a channel pair's weight tiles for each pair of
 * pixel chunks after the first: 3x3 128>128 at 7x7, one row group, 7
 * one-row chunks (4 pairs), 36 k steps x 8 column tiles of 1 KiB: 3 x 288
 * KiB again. The pair's slice (72 KiB) is past L1 (32 KiB here): from L2
 * at 32 B/ns, added to the compute term (the loads feed the multiplies in
 * order); nothing without the memory estimator. At 14x14 with 16 channels
 * the slice (18 KiB) stays in L1: nothing. */
static void test_amx_btiles(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    const int64_t xs[4] = {1, 128, 7, 7};
    add_io(g, "x", 4, xs, "y");
    add_init(g, "w", rand_tensor(4, (int64_t[]){128, 128, 3, 3}));
    int n = node(g, "Conv", "conv", 2, (const char *[]){"x", "w"}, "y");
    cq_node_set_ints(g, n, "pads", 4, (int64_t[]){1, 1, 1, 1}, &err);
    cq_dtype prec[1] = {CQ_BF16};
    cq_exec_opts eo = CQ_EXEC_OPTS_DEFAULT;
    eo.precision = prec;
    eo.n_precision = 1;
    cq_exec *e = cq_exec_new(g, &eo, &err);
    assert_non_null(e);
    cq_hw hw = two_level_hw();
    hw.amx = 1;
    hw.amx_macs[CQ_HW_MAC_BF16] = 512;
    hw.cache[1].size = 64 << 20; /* everything else in L2 */
    cq_cost r, nm;
    assert_int_equal(cq_cost_exec(e, &hw, NULL, &r, &err), CQ_OK);
    cq_cost_opts o = CQ_COST_OPTS_DEFAULT;
    o.memory = 0;
    assert_int_equal(cq_cost_exec(e, &hw, &o, &nm, &err), CQ_OK);
    assert_string_equal(r.rows[0].kclass, "bf16_conv");
    double want = 3.0 * 36 * 8 * 1024 / 32.0;
    assert_true(fabs(r.rows[0].compute_ns - nm.rows[0].compute_ns - want) < 1e-6 * want);
    cq_cost_free(&r);
    cq_cost_free(&nm);
    cq_exec_free(e);
    cq_graph_free(g);
    g = conv_relu(16);
    cq_dtype p2[2] = {CQ_BF16, CQ_BF16};
    eo.precision = p2;
    eo.n_precision = 2;
    e = cq_exec_new(g, &eo, &err);
    assert_non_null(e);
    assert_int_equal(cq_cost_exec(e, &hw, NULL, &r, &err), CQ_OK);
    assert_int_equal(cq_cost_exec(e, &hw, &o, &nm, &err), CQ_OK);
    assert_true(fabs(r.rows[0].compute_ns - nm.rows[0].compute_ns) < 1e-9);
    cq_cost_free(&r);
    cq_cost_free(&nm);
    cq_exec_free(e);
    cq_graph_free(g);
}

/* A linear Resize over H and W (ops_resize.c's planar path): each input row
 * resampled along W one element at a time (4 planes x 8 rows x 16 outputs,
 * one cycle each at 1 GHz), then 3 vector operations an output (4 x 16 x 16
 * over 16 lanes); everything in one fast level: compute only. */
static void test_resize_linear(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    const int64_t xs[4] = {1, 4, 8, 8};
    add_io(g, "x", 4, xs, "y");
    add_init(g, "roi", cq_tensor_new(CQ_F32, 1, (int64_t[]){0}, &err));
    cq_tensor *sc = cq_tensor_new(CQ_F32, 1, (int64_t[]){4}, &err);
    float *scv = cq_tensor_data(sc);
    scv[0] = scv[1] = 1.0f;
    scv[2] = scv[3] = 2.0f;
    add_init(g, "scales", sc);
    int n = node(g, "Resize", "rs", 3, (const char *[]){"x", "roi", "scales"}, "y");
    assert_int_equal(cq_node_set_string(g, n, "mode", "linear", 6, &err), CQ_OK);
    cq_exec *e = cq_exec_new(g, NULL, &err);
    assert_non_null(e);
    run_rand(e, 4, xs);
    cq_hw hw = two_level_hw();
    hw.cache[0].size = 1 << 30;
    hw.cache[0].bw = 1e6;
    cq_cost r;
    assert_int_equal(cq_cost_exec(e, &hw, NULL, &r, &err), CQ_OK);
    assert_int_equal(r.n, 1);
    double want = 4.0 * 8 * 16 + 4.0 * 16 * 16 * 3 / 16;
    assert_true(fabs(r.rows[0].compute_ns - want) < 1e-6 * want);
    cq_cost_free(&r);
    cq_exec_free(e);
    cq_graph_free(g);
}

/* A 1x1 conv on a 1x1 map (squeeze-excite) runs as a matrix-vector product:
 * the GEMM's class, row dots of 16 lanes over c_in. */
static void test_gemv(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    const int64_t xs[4] = {1, 40, 1, 1};
    add_io(g, "x", 4, xs, "y");
    add_init(g, "w", rand_tensor(4, (int64_t[]){24, 40, 1, 1}));
    node(g, "Conv", "se", 2, (const char *[]){"x", "w"}, "y");
    cq_exec *e = cq_exec_new(g, NULL, &err);
    assert_non_null(e);
    cq_hw hw = two_level_hw();
    cq_cost r;
    assert_int_equal(cq_cost_exec(e, &hw, NULL, &r, &err), CQ_OK);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.rows[0].kclass, "f32_gemm");
    assert_true(fabs(r.rows[0].tile_eff - 40.0 / 48.0) < 1e-12);
    cq_cost_free(&r);
    cq_exec_free(e);
    cq_graph_free(g);
}

/* fp32 depthwise: the path kern_conv.c picks (checked against the plan where
 * this host has AVX-512), its class and tile fill. The 16-channel-block
 * kernel (f32_dw_cb) on planes up to 14x14 and, past 3x3 or dilated, on rows
 * under 64; the plane kernel (f32_dw) on rows of >= 14 without dilation;
 * else channel-last where rows are short (narrower vectors here), else the
 * row kernel. With the class measured, call_ns.f32_dw_elem an element in or
 * out. */
static void dw_case(int vbits, int64_t c, int64_t hw_, int64_t k, int64_t dil, int64_t stride,
                    const char *kclass, double tile, int block)
{
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    const int64_t xs[4] = {1, c, hw_, hw_};
    int64_t pad = dil * (k / 2), o = (hw_ + stride - 1) / stride;
    add_io(g, "x", 4, xs, "y");
    add_init(g, "w", rand_tensor(4, (int64_t[]){c, 1, k, k}));
    int n = node(g, "Conv", "dw", 2, (const char *[]){"x", "w"}, "y");
    cq_node_set_int(g, n, "group", c, &err);
    cq_node_set_ints(g, n, "pads", 4, (int64_t[]){pad, pad, pad, pad}, &err);
    cq_node_set_ints(g, n, "dilations", 2, (int64_t[]){dil, dil}, &err);
    cq_node_set_ints(g, n, "strides", 2, (int64_t[]){stride, stride}, &err);
    cq_exec *e = cq_exec_new(g, NULL, &err);
    assert_non_null(e);
    cq_hw hw = two_level_hw();
    hw.vector_bits = vbits;
    cq_cost r, ru;
    assert_int_equal(cq_cost_exec(e, &hw, NULL, &r, &err), CQ_OK);
    assert_string_equal(r.rows[0].kclass, kclass);
    assert_true(fabs(r.rows[0].tile_eff - tile) < 1e-12);
    hw.n_eff = 1;
    snprintf(hw.eff[0].name, sizeof hw.eff[0].name, "f32_dw_cb");
    hw.eff[0].value = 1.0;
    hw.n_call = 1;
    snprintf(hw.call[0].name, sizeof hw.call[0].name, "f32_dw_elem");
    hw.call[0].value = 2.0;
    assert_int_equal(cq_cost_exec(e, &hw, NULL, &ru, &err), CQ_OK);
    double units = 2.0 * (double)(c * hw_ * hw_ + c * o * o);
    double d = ru.rows[0].compute_ns - r.rows[0].compute_ns;
    assert_true(strcmp(kclass, "f32_dw_cb") ? fabs(d) < 1e-6 : fabs(d - units) < 1e-6);
    if (vbits == 512 && cq_kern_isa() == CQ_ISA_AVX512) {
        cq_conv2d_params p = cq_conv2d_params_default();
        p.n = 1;
        p.c_in = p.c_out = p.groups = c;
        p.h = p.w = hw_;
        p.kh = p.kw = k;
        p.dil_h = p.dil_w = dil;
        p.stride_h = p.stride_w = stride;
        p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = pad;
        float *w = calloc((size_t)(c * k * k), sizeof *w);
        cq_conv2d_plan *pl = cq_conv2d_plan_new(&p, w, (size_t)(c * k * k), NULL, 0, &err);
        assert_non_null(pl);
        assert_int_equal(cq_conv2d_algo(pl), block ? CQ_CONV_DEPTHWISE_NHWC : CQ_CONV_DEPTHWISE);
        cq_conv2d_plan_free(pl);
        free(w);
    }
    cq_cost_free(&r);
    cq_cost_free(&ru);
    cq_exec_free(e);
    cq_graph_free(g);
}

static void test_dw_paths(void **state)
{
    (void)state;
    dw_case(512, 32, 14, 3, 1, 1, "f32_dw_cb", 14.0 / 16.0, 1); /* a 14x14 plane */
    dw_case(512, 24, 7, 3, 1, 1, "f32_dw_cb", 24.0 / 32.0 * 7.0 / 8.0, 1);
    dw_case(512, 32, 56, 3, 1, 1, "f32_dw", 56.0 / 64.0, 0); /* the plane kernel */
    dw_case(512, 32, 40, 5, 1, 1, "f32_dw_cb", 1.0, 1);      /* 5x5, rows under 64 */
    dw_case(512, 32, 56, 5, 1, 2, "f32_dw_cb", 784.0 / 784.0, 1);
    dw_case(512, 32, 20, 5, 2, 1, "f32_dw_cb", 1.0, 1);      /* dilated */
    dw_case(512, 32, 80, 5, 1, 1, "f32_dw", 80.0 / 80.0, 0);  /* 5x5 on rows of 80 */
    dw_case(512, 32, 64, 3, 2, 1, "f32_dw", 1.0, 0);         /* dilated, rows of 64: row kernel */
    dw_case(256, 32, 20, 3, 1, 1, "f32_dw", 1.0, 0);         /* channel-last */
    dw_case(256, 32, 40, 3, 1, 1, "f32_dw", 40.0 / 48.0, 0); /* the row kernel */
}


/* g (input shape xs) quantized with calq's defaults and lowered: the int8
 * graph in *h, what made it in *q and *st (the caller frees all three). */
static void int8_graph(cq_graph *g, const int64_t *xs, cq_graph **h, cq_quant **q,
                       cq_calib_stats **st)
{
    cq_err err;
    *st = stats_of(g, 4, xs, 8, 3);
    cq_quant_opts qo = CQ_QUANT_OPTS_DEFAULT;
    *q = cq_quant_new(g, *st, &qo, &err);
    assert_non_null(*q);
    *h = cq_quant_graph(*q, &err);
    assert_non_null(*h);
    int count;
    assert_int_equal(cq_quant_lower(*h, &count, &err), CQ_OK);
}

/* An int8 graph: a 3x3 conv (the GEMM path), a 1x1 of 16 channels (the grp
 * path's narrow 1x1s) with a residual Add fused, whose residual a Transpose
 * writes in NCHW. The probe's units land on the rows they say: s8_res an
 * output of the conv with the Add, s8_nchw an element converted (here the
 * residual), s8_out / s8_row the GEMM path's outputs and gathered rows. */
static void test_int8_units(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    const int64_t xs[4] = {1, 16, 6, 6};
    add_io(g, "x", 4, xs, "y");
    rng_state = 5;
    add_init(g, "w1", rand_tensor(4, (int64_t[]){16, 16, 3, 3}));
    add_init(g, "w2", rand_tensor(4, (int64_t[]){16, 16, 1, 1}));
    int n = node(g, "Conv", "conv1", 2, (const char *[]){"x", "w1"}, "c1");
    cq_node_set_ints(g, n, "pads", 4, (int64_t[]){1, 1, 1, 1}, &err);
    node(g, "Relu", "relu1", 1, (const char *[]){"c1"}, "r1");
    node(g, "Conv", "conv2", 2, (const char *[]){"r1", "w2"}, "c2");
    n = node(g, "Transpose", "tr", 1, (const char *[]){"r1"}, "t1");
    cq_node_set_ints(g, n, "perm", 4, (int64_t[]){0, 1, 3, 2}, &err);
    node(g, "Add", "add", 2, (const char *[]){"c2", "t1"}, "s");
    node(g, "Relu", "relu2", 1, (const char *[]){"s"}, "y");
    cq_calib_stats *st;
    cq_quant *q;
    cq_graph *h;
    int8_graph(g, xs, &h, &q, &st);
    assert_int_equal(count_op(h, "QLinearAdd"), 1);
    cq_exec *e = cq_exec_new(h, NULL, &err);
    assert_non_null(e);
    cq_hw hw = two_level_hw();
    hw.n_eff = 1;
    snprintf(hw.eff[0].name, sizeof hw.eff[0].name, "s8_grp1");
    hw.eff[0].value = 1.0;
    cq_cost r;
    assert_int_equal(cq_cost_exec(e, &hw, NULL, &r, &err), CQ_OK);
    int c1 = -1, c2 = -1;
    for (int k = 0; k < r.n; k++) {
        if (!strcmp(r.rows[k].kclass, "s8_conv"))
            c1 = k;
        if (!strcmp(r.rows[k].kclass, "s8_grp1"))
            c2 = k;
    }
    assert_true(c1 >= 0 && c2 >= 0);
    assert_int_equal(r.rows[c2].n_fused, 1); /* the Add (its Relu folded into its range) */
    static const struct {
        const char *unit;
        double c1, c2; /* units on conv1's row, on conv2's */
    } want[] = {{"s8_res", 0, 576}, {"s8_out", 576, 0}, {"s8_row", 36 * 3, 0}, {"s8_nchw", 0, 576}};
    for (size_t u = 0; u < sizeof want / sizeof want[0]; u++) {
        cq_hw hu = hw;
        hu.n_call = 1;
        snprintf(hu.call[0].name, sizeof hu.call[0].name, "%s", want[u].unit);
        hu.call[0].value = 1000.0;
        cq_cost ru;
        assert_int_equal(cq_cost_exec(e, &hu, NULL, &ru, &err), CQ_OK);
        assert_int_equal(ru.n, r.n);
        for (int k = 0; k < r.n; k++) {
            double d = ru.rows[k].compute_ns + ru.rows[k].cvt_ns - r.rows[k].compute_ns -
                       r.rows[k].cvt_ns;
            double w = k == c1 ? want[u].c1 : k == c2 ? want[u].c2 : 0;
            /* s8_out replaces the conv's requantize (cvt) */
            if (!strcmp(want[u].unit, "s8_out") && k == c1)
                d += r.rows[k].cvt_ns;
            if (fabs(d - 1000.0 * w) > 1e-6)
                fail_msg("%s: row %d (%s) +%g ns, want %g", want[u].unit, k, ru.rows[k].name, d,
                         1000.0 * w);
        }
        cq_cost_free(&ru);
    }
    cq_cost_free(&r);
    cq_exec_free(e);
    cq_graph_free(h);
    cq_quant_free(q);
    cq_calib_stats_free(st);
    cq_graph_free(g);
}

/* The gathered rows of an int8 3x3 16 > 16 (pad 1) on 30 x 40: with
 * AVX-512 VNNI the kernel reads the rows in place and gathers only the
 * pixels whose window meets the padding (two whole rows and two pixels of
 * each of the 28 others: 136), kh rows each; narrower vectors gather all
 * 1200. */
static void test_int8_rows_in_place(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    const int64_t xs[4] = {1, 16, 30, 40};
    add_io(g, "x", 4, xs, "y");
    rng_state = 7;
    add_init(g, "w1", rand_tensor(4, (int64_t[]){16, 16, 3, 3}));
    int n = node(g, "Conv", "conv1", 2, (const char *[]){"x", "w1"}, "c1");
    cq_node_set_ints(g, n, "pads", 4, (int64_t[]){1, 1, 1, 1}, &err);
    node(g, "Relu", "relu1", 1, (const char *[]){"c1"}, "y");
    cq_calib_stats *st;
    cq_quant *q;
    cq_graph *h;
    int8_graph(g, xs, &h, &q, &st);
    cq_exec *e = cq_exec_new(h, NULL, &err);
    assert_non_null(e);
    for (int wide = 0; wide < 2; wide++) {
        cq_hw hw = two_level_hw();
        hw.vector_bits = wide ? 512 : 256;
        cq_cost r, ru;
        assert_int_equal(cq_cost_exec(e, &hw, NULL, &r, &err), CQ_OK);
        hw.n_call = 1;
        snprintf(hw.call[0].name, sizeof hw.call[0].name, "s8_row");
        hw.call[0].value = 1000.0;
        assert_int_equal(cq_cost_exec(e, &hw, NULL, &ru, &err), CQ_OK);
        double units = 0;
        for (int k = 0; k < r.n; k++)
            units += (ru.rows[k].compute_ns - r.rows[k].compute_ns) / 1000.0;
        assert_float_equal(units, wide ? 136 * 3 : 1200 * 3, 1e-6);
        cq_cost_free(&r);
        cq_cost_free(&ru);
    }
    cq_exec_free(e);
    cq_graph_free(h);
    cq_quant_free(q);
    cq_calib_stats_free(st);
    cq_graph_free(g);
}

/* x (1, 64, 32, 32): 256 KB -> Relu -> a -> Relu -> y */
static cq_graph *two_relus(void)
{
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    int64_t xs[4] = {1, 64, 32, 32};
    add_io(g, "x", 4, xs, "y");
    node(g, "Relu", "r1", 1, (const char *[]){"x"}, "a");
    node(g, "Relu", "r2", 1, (const char *[]){"a"}, "y");
    return g;
}

static void test_memory_levels(void **state)
{
    (void)state;
    const int64_t xs[4] = {1, 64, 32, 32}, b = 64 * 32 * 32 * 4;
    cq_graph *g = two_relus();
    cq_err err;
    cq_exec *e = cq_exec_new(g, NULL, &err);
    assert_non_null(e);
    run_rand(e, 4, xs);
    cq_hw hw = two_level_hw();
    cq_cost r;
    assert_int_equal(cq_cost_exec(e, &hw, NULL, &r, &err), CQ_OK);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.rows[0].name, "r1");
    assert_string_equal(r.rows[0].kclass, "eltwise");
    assert_int_equal(r.rows[0].bytes, 2 * b);
    /* warm: r1 reads x, touched a run ago with a and y (512 KB) after it:
     * from L2; it writes a above its input, in L2 too, each line twice (the
     * read for ownership, the write-back): 3 b / 32 B/ns */
    assert_int_equal(r.rows[0].level, 1);
    assert_true(fabs(r.rows[0].memory_ns - 3.0 * (double)b / 32) < 1e-6);
    assert_int_equal(r.rows[0].bound, CQ_COST_MEMORY);
    /* r2 reads a just written (distance 0): its first 32 KB from L1 */
    assert_true(r.rows[1].memory_ns < r.rows[0].memory_ns);
    /* cold: x was never touched: from DRAM at 10 B/ns */
    cq_cost_opts o = CQ_COST_OPTS_DEFAULT;
    o.warm = 0;
    cq_cost c;
    assert_int_equal(cq_cost_exec(e, &hw, &o, &c, &err), CQ_OK);
    assert_true(c.rows[0].memory_ns > (double)b / 10);
    /* an L2 smaller than what was touched since: the read spills to DRAM */
    cq_hw small = hw;
    small.cache[1].size = 300 << 10;
    cq_cost s;
    assert_int_equal(cq_cost_exec(e, &small, NULL, &s, &err), CQ_OK);
    assert_int_equal(s.rows[0].level, 2);
    assert_true(s.rows[0].memory_ns > r.rows[0].memory_ns);
    /* the ablation: no memory term at all */
    o = (cq_cost_opts)CQ_COST_OPTS_DEFAULT;
    o.memory = 0;
    cq_cost a;
    assert_int_equal(cq_cost_exec(e, &hw, &o, &a, &err), CQ_OK);
    assert_true(a.rows[0].memory_ns == 0);
    assert_true(a.total_ns < r.total_ns);
    /* L2 is private: its traffic overlaps the arithmetic, nothing is far */
    const cq_cost_row *w = &r.rows[0];
    double work = w->compute_ns + w->cvt_ns;
    assert_true(work > 0);
    assert_true(w->memory_far_ns == 0);
    assert_true(fabs(w->ns - fmax(work, w->memory_ns)) < 1e-6);
    /* cold, x comes from DRAM: that part adds; overlap 1 is the roofline max */
    const cq_cost_row *wc = &c.rows[0];
    double far = wc->memory_far_ns, near = wc->memory_ns - far;
    assert_true(fabs(far - (double)b / 10) < 1e-6);
    assert_true(fabs(wc->ns - (fmax(work, near) + far)) < 1e-6);
    o = (cq_cost_opts)CQ_COST_OPTS_DEFAULT;
    o.overlap = 1;
    o.warm = 0;
    cq_cost mx;
    assert_int_equal(cq_cost_exec(e, &hw, &o, &mx, &err), CQ_OK);
    assert_true(fabs(mx.rows[0].ns - fmax(work, wc->memory_ns)) < 1e-6);
    assert_true(mx.rows[0].ns <= wc->ns + 1e-9);
    cq_cost_free(&mx);
    /* the eltwise factor slows the private levels' traffic only (the probe's
     * loop rate in L2); DRAM comes at its streaming bandwidth */
    cq_hw he = hw;
    he.n_eff = 1;
    snprintf(he.eff[0].name, sizeof he.eff[0].name, "eltwise");
    he.eff[0].value = 0.5;
    o = (cq_cost_opts)CQ_COST_OPTS_DEFAULT;
    o.warm = 0;
    cq_cost ce;
    assert_int_equal(cq_cost_exec(e, &he, &o, &ce, &err), CQ_OK);
    assert_true(fabs(ce.rows[0].memory_far_ns - far) < 1e-6);
    assert_true(fabs(ce.rows[0].memory_ns - (2 * near + far)) < 1e-6);
    cq_cost_free(&ce);
    o.overlap = 1.5;
    assert_int_equal(cq_cost_exec(e, &hw, &o, &mx, &err), CQ_EINVAL);
    assert_non_null(strstr(err.msg, "overlap"));
    /* the fixed cost: every row pays node_ns, and alone it is "overhead" */
    hw.node_ns = 1e9;
    cq_cost h;
    assert_int_equal(cq_cost_exec(e, &hw, NULL, &h, &err), CQ_OK);
    assert_int_equal(h.rows[0].bound, CQ_COST_OVERHEAD);
    assert_true(fabs(h.total_ns - r.total_ns - 2e9) < 1e-3);
    cq_cost_free(&r);
    cq_cost_free(&c);
    cq_cost_free(&s);
    cq_cost_free(&a);
    cq_cost_free(&h);
    cq_exec_free(e);
    cq_graph_free(g);
}

static void test_residual(void **state)
{
    (void)state;
    const int64_t xs[4] = {1, 16, 9, 9};
    cq_graph *g = residual_block(1, xs, 3, 1, 0);
    cq_err err;
    cq_exec *e = cq_exec_new(g, NULL, &err);
    assert_non_null(e);
    cq_hw hw = two_level_hw();
    hw.node_ns = 100;
    cq_cost r;
    assert_int_equal(cq_cost_exec(e, &hw, NULL, &r, &err), CQ_OK);
    /* a row per node that runs, none for those fused into another */
    int running = 0, fused = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].dead)
            continue;
        if (cq_exec_is_fused(e, i))
            fused++;
        else
            running++;
    }
    assert_int_equal(r.n, running);
    double sum = 0;
    int nf = 0;
    for (int k = 0; k < r.n; k++) {
        assert_false(cq_exec_is_fused(e, r.rows[k].node));
        assert_true(r.rows[k].ns >= r.rows[k].compute_ns + 100 - 1e-9);
        sum += r.rows[k].ns;
        nf += r.rows[k].n_fused;
    }
    assert_int_equal(nf, fused);
    assert_true(fabs(sum - r.total_ns) < 1e-6);
    /* a class's fixed cost a call: added to its rows only, the contractions */
    int conv = -1;
    for (int k = 0; k < r.n; k++)
        if (!strcmp(r.rows[k].op, "Conv"))
            conv = k;
    assert_true(conv >= 0);
    cq_hw hc = hw;
    hc.n_call = 1;
    snprintf(hc.call[0].name, sizeof hc.call[0].name, "%s", r.rows[conv].kclass);
    hc.call[0].value = 1e6;
    cq_cost rc;
    assert_int_equal(cq_cost_exec(e, &hc, NULL, &rc, &err), CQ_OK);
    assert_int_equal(rc.n, r.n);
    for (int k = 0; k < r.n; k++) {
        int same = !strcmp(r.rows[k].kclass, r.rows[conv].kclass) && r.rows[k].macs > 0;
        assert_true(fabs(rc.rows[k].ns - r.rows[k].ns - (same ? 1e6 : 0)) < 1e-6);
        assert_true(fabs(rc.rows[k].overhead_ns - 100 - (same ? 1e6 : 0)) < 1e-6);
    }
    cq_cost_free(&rc);
    cq_cost_free(&r);
    cq_exec_free(e);
    cq_graph_free(g);
}

static void test_unknown_shape(void **state)
{
    (void)state;
    const int64_t xs[4] = {1, 64, -1, 32};
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    add_io(g, "x", 4, xs, "y");
    node(g, "Relu", "only", 1, (const char *[]){"x"}, "y");
    cq_exec *e = cq_exec_new(g, NULL, &err);
    assert_non_null(e);
    cq_hw hw = two_level_hw();
    cq_cost r;
    assert_int_equal(cq_cost_exec(e, &hw, NULL, &r, &err), CQ_EINVAL);
    assert_non_null(strstr(err.msg, "'only'"));
    assert_int_equal(r.n, 0);
    assert_null(r.rows);
    /* after a run the shapes are the run's */
    run_rand(e, 4, (const int64_t[]){1, 64, 5, 32});
    assert_int_equal(cq_cost_exec(e, &hw, NULL, &r, &err), CQ_OK);
    assert_int_equal(r.rows[0].bytes, 2 * 64 * 5 * 32 * 4);
    cq_cost_free(&r);
    /* a profile without a clock is refused, naming it */
    hw.ghz = 0;
    assert_int_equal(cq_cost_exec(e, &hw, NULL, &r, &err), CQ_EINVAL);
    assert_non_null(strstr(err.msg, "'test'"));
    cq_exec_free(e);
    cq_graph_free(g);
}

static void test_conversions(void **state)
{
    (void)state;
    cq_hw hw = two_level_hw();
    hw.cache[0].size = 1 << 30;
    hw.cache[0].bw = 1e6;
    /* compute-bound at 8 elements a cycle */
    double t = cq_cost_convert_ns(&hw, CQ_HW_CVT_QUANT, 8000, 1);
    assert_true(fabs(t - 1000) < 1e-6);
    hw.node_ns = 50;
    assert_true(fabs(cq_cost_convert_ns(&hw, CQ_HW_CVT_QUANT, 8000, 1) - 1050) < 1e-6);
    assert_true(cq_cost_convert_ns(&hw, CQ_HW_CVT_DEQUANT, 0, 1) == 0);
    /* memory-bound when the bandwidth is low */
    hw = two_level_hw();
    assert_true(cq_cost_convert_ns(&hw, CQ_HW_CVT_F32_BF16, 1 << 20, 1) >
                (double)(1 << 20) * 6 / 32);
    assert_int_equal(cq_cost_edge_cvt(CQ_U8, CQ_F32), CQ_HW_CVT_DEQUANT);
    assert_int_equal(cq_cost_edge_cvt(CQ_S8, CQ_BF16), CQ_HW_CVT_DEQUANT);
    assert_int_equal(cq_cost_edge_cvt(CQ_F32, CQ_U8), CQ_HW_CVT_QUANT);
    assert_int_equal(cq_cost_edge_cvt(CQ_BF16, CQ_S8), CQ_HW_CVT_QUANT);
    assert_int_equal(cq_cost_edge_cvt(CQ_F32, CQ_BF16), -1);
    assert_int_equal(cq_cost_edge_cvt(CQ_U8, CQ_U8), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compute), cmocka_unit_test(test_conv_tiles), cmocka_unit_test(test_units), cmocka_unit_test(test_bf16_tiles), cmocka_unit_test(test_amx_btiles), cmocka_unit_test(test_int8_units), cmocka_unit_test(test_int8_rows_in_place), cmocka_unit_test(test_gemv), cmocka_unit_test(test_resize_linear), cmocka_unit_test(test_dw_paths),    cmocka_unit_test(test_memory_levels),
        cmocka_unit_test(test_residual),  cmocka_unit_test(test_unknown_shape),
        cmocka_unit_test(test_conversions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
