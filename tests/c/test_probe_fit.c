/* test_probe_fit.c - the probe against the estimator: the probe's figures of
 * a reference shape give the estimator that shape's measured time, and the
 * probe's fits keep a kernel's MAC part within its instruction's peak. */
#include "quant_testutil.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cost/cost.h"
#include "cost/probe.h"
#include "cost/probe_internal.h"
#include "cost_testutil.h"
#include "kern/kern.h"

/* The probe and the estimator agree on a reference shape, so a profile made
 * from the probe's figures gives it its measured time: the probe divides its
 * MACs by the tile fill the estimator multiplies by (the plane depthwise
 * kernel's 3x3 144 at 56x56: rows of 56 fill 56 / 64 of its vectors) and
 * counts an elementwise loop's bytes as the estimator does (a write past L1
 * twice). Timed by the probe itself at a small budget. */
static void test_probe_reference(void **state)
{
    (void)state;
    if (cq_kern_isa() != CQ_ISA_AVX512)
        skip(); /* the plane kernel is AVX-512's */
    cq_probe_kern k[CQ_PROBE_MAX_KERN];
    cq_err err;
    int n = cq_probe_kernels(k, CQ_PROBE_MAX_KERN, 0.5, &err);
    assert_true(n > 0);
    int dw = -1;
    for (int i = 0; i < n; i++)
        if (!strcmp(k[i].name, "f32_dw"))
            dw = i;
    assert_true(dw >= 0);
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    const int64_t xs[4] = {1, 144, 56, 56};
    add_io(g, "x", 4, xs, "y");
    add_init(g, "w", rand_tensor(4, (int64_t[]){144, 1, 3, 3}));
    int c = node(g, "Conv", "dw", 2, (const char *[]){"x", "w"}, "y");
    cq_node_set_int(g, c, "group", 144, &err);
    cq_node_set_ints(g, c, "pads", 4, (int64_t[]){1, 1, 1, 1}, &err);
    cq_exec *e = cq_exec_new(g, NULL, &err);
    assert_non_null(e);
    cq_hw hw = two_level_hw();
    hw.n_eff = 1;
    snprintf(hw.eff[0].name, sizeof hw.eff[0].name, "f32_dw");
    hw.eff[0].value = k[dw].macs / k[dw].seconds / (hw.macs[CQ_HW_MAC_F32] * hw.ghz * 1e9);
    cq_cost r;
    assert_int_equal(cq_cost_exec(e, &hw, NULL, &r, &err), CQ_OK);
    assert_string_equal(r.rows[0].kclass, "f32_dw");
    assert_true(fabs(r.rows[0].compute_ns - k[dw].seconds * 1e9) < 1e-6 * r.rows[0].compute_ns);
    cq_cost_free(&r);
    cq_exec_free(e);
    cq_graph_free(g);
    /* eltwise: Relu over 256 K floats, input and output in L2 (here 4 MB;
     * the first Relu of two, whose output is no graph output) */
    int el = -1;
    for (int i = 0; i < n; i++)
        if (!strcmp(k[i].name, "eltwise"))
            el = i;
    assert_true(el >= 0);
    g = cq_graph_new(&err);
    set_opset(g, 13);
    const int64_t rs[2] = {1, 256 << 10};
    add_io(g, "x", 2, rs, "y");
    node(g, "Relu", "r1", 1, (const char *[]){"x"}, "a");
    node(g, "Relu", "r2", 1, (const char *[]){"a"}, "y");
    e = cq_exec_new(g, NULL, &err);
    assert_non_null(e);
    run_rand(e, 2, rs);
    hw = two_level_hw();
    hw.cache[1].size = 4 << 20;
    hw.n_eff = 1;
    snprintf(hw.eff[0].name, sizeof hw.eff[0].name, "eltwise");
    hw.eff[0].value = k[el].macs / k[el].seconds / (hw.cache[1].bw * hw.ghz * 1e9);
    assert_int_equal(cq_cost_exec(e, &hw, NULL, &r, &err), CQ_OK);
    assert_string_equal(r.rows[0].name, "r1");
    assert_int_equal(r.rows[0].level, 1);
    assert_true(fabs(r.rows[0].memory_ns - k[el].seconds * 1e9) < 1e-6 * r.rows[0].memory_ns);
    cq_cost_free(&r);
    cq_exec_free(e);
    cq_graph_free(g);
}

/* The probe's fits hold the MAC part at the instruction's peak where the
 * free fit makes it faster (cq__probe_fit_capped): a slower MAC part is
 * kept as fitted; a faster one becomes 1 / peak, and the two other costs,
 * fitted again to what the MACs leave, stay at or above 0 and take less. */
static void test_probe_fit_capped(void **state)
{
    (void)state;
    const double peak = 1e11; /* MACs a second */
    double x[5][3] = {{2e8, 1e5, 3e3}, {2e8, 5e4, 2e3}, {1e8, 1.6e5, 0},
                      {1e8, 4e5, 0},   {6e7, 1.5e5, 2.7e4}};
    for (int fast = 0; fast < 2; fast++) {
        double a = (fast ? 0.8 : 1.2) / peak, b = 3e-10, d = 1e-8, t[5], c[3];
        for (int i = 0; i < 5; i++)
            t[i] = a * x[i][0] + b * x[i][1] + d * x[i][2];
        assert_int_equal(cq__probe_lsq(5, 3, (const double(*)[3])x, t, c), 0);
        assert_true(fabs(c[0] - a) < 1e-6 * a); /* the free fit finds them */
        cq__probe_fit_capped(5, 3, (const double(*)[3])x, t, peak, c);
        if (!fast) {
            assert_true(fabs(c[0] - a) < 1e-6 * a && fabs(c[1] - b) < 1e-6 * b);
            continue;
        }
        assert_true(fabs(c[0] - 1.0 / peak) < 1e-9 / peak);
        assert_true(c[1] >= 0 && c[2] >= 0);
        assert_true(c[1] * 1e5 + c[2] * 3e3 < b * 1e5 + d * 3e3);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probe_reference),
        cmocka_unit_test(test_probe_fit_capped),
    };
    return cmocka_run_group_tests_name("probe_fit", tests, NULL, NULL);
}
