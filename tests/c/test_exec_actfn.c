/* test_exec_actfn.c - the executor's CQ_FUSE_ACT_FN fusions: Conv/Add +
 * Sigmoid, HardSwish, HardSigmoid or Tanh in the producer's epilogue, and
 * Conv -> Sigmoid -> Mul(x, sigmoid(x)) as SiLU; each against the same graph
 * run unfused, on every ISA; where they must not apply. */
#include "exec_testutil.h"

#include "kern/kern.h"

/* x -> Conv (3x3, pads 1, bias) -> c -> act -> a [-> Mul(c, a) -> y];
 * gate_order 1 puts the sigmoid first in the Mul. extra: c is a graph
 * output too. */
static cq_graph *conv_act(const char *act, int gate, int gate_order, int extra, int64_t c_out)
{
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 17);
    int64_t xs[4] = {1, 5, 11, 13}, ws[4] = {c_out, 5, 3, 3};
    add_io(g, "x", 4, xs, gate ? "y" : "a");
    add_init(g, "w", rand_tensor(4, ws));
    add_init(g, "b", rand_tensor(1, &c_out));
    int n = node(g, "Conv", "conv", 3, (const char *[]){"x", "w", "b"}, "c");
    cq_node_set_ints(g, n, "pads", 4, (int64_t[]){1, 1, 1, 1}, &err);
    node(g, act, "act", 1, (const char *[]){"c"}, "a");
    if (gate)
        node(g, "Mul", "mul", 2,
             gate_order ? (const char *[]){"a", "c"} : (const char *[]){"c", "a"}, "y");
    if (extra)
        assert_int_equal(cq_graph_add_output(g, cq_graph_value(g, "c", &err), &err), CQ_OK);
    return g;
}

/* Run g fused (default options) and unfused; the outputs agree; returns
 * how many of its nodes the fused plan swallowed. */
static int fused_vs_plain(cq_graph *g)
{
    cq_err err;
    cq_exec_opts none = CQ_EXEC_OPTS_DEFAULT;
    none.fuse = CQ_FUSE_NONE;
    int64_t xs[4] = {1, 5, 11, 13};
    rng_state = 99;
    cq_tensor *x = rand_tensor(4, xs);
    float *px = cq_tensor_data(x);
    for (int64_t i = 0; i < cq_tensor_numel(x); i++)
        px[i] *= 4.0f; /* reach the saturated ends of the functions */
    cq_exec *ef = cq_exec_new(g, NULL, &err), *en = cq_exec_new(g, &none, &err);
    assert_non_null(ef);
    assert_non_null(en);
    int fused = 0;
    for (int i = 0; i < g->n_nodes; i++)
        fused += cq_exec_is_fused(ef, i);
    cq_isa isas[] = {CQ_ISA_SCALAR, CQ_ISA_AVX2, CQ_ISA_AVX512};
    for (int k = 0; k < 3; k++) {
        cq_kern_set_isa(isas[k]);
        cq_tensor *yf[2] = {0}, *yn[2] = {0};
        assert_int_equal(cq_exec_run(ef, 1, &x, yf, &err), CQ_OK);
        assert_int_equal(cq_exec_run(en, 1, &x, yn, &err), CQ_OK);
        for (int o = 0; o < g->n_outputs; o++) {
            double d = maxdiff(yf[o], yn[o]), m = maxabs(yn[o]);
            if (!(d <= 1e-5 * (m > 1 ? m : 1)))
                fail_msg("isa %s output %d: max diff %g of max %g", cq_isa_name(isas[k]), o, d,
                         m);
            cq_tensor_release(yf[o]);
            cq_tensor_release(yn[o]);
        }
    }
    cq_kern_set_isa(CQ_ISA_COUNT);
    cq_tensor_release(x);
    cq_exec_free(ef);
    cq_exec_free(en);
    return fused;
}

static void test_exec_actfn_epilogue(void **state)
{
    (void)state;
    const char *acts[] = {"Sigmoid", "HardSwish", "HardSigmoid", "Tanh"};
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++)
        for (int64_t c = 16; c <= 19; c += 3) { /* a blocked-friendly count and an odd one */
            cq_graph *g = conv_act(acts[i], 0, 0, 0, c);
            assert_int_equal(fused_vs_plain(g), 1);
            cq_graph_free(g);
        }
}

static void test_exec_actfn_silu(void **state)
{
    (void)state;
    for (int order = 0; order < 2; order++)
        for (int64_t c = 16; c <= 19; c += 3) {
            cq_graph *g = conv_act("Sigmoid", 1, order, 0, c);
            assert_int_equal(fused_vs_plain(g), 2); /* the Sigmoid and the Mul */
            cq_graph_free(g);
        }
    /* the conv output read elsewhere too: nothing fused */
    cq_graph *g = conv_act("Sigmoid", 1, 0, 1, 16);
    assert_int_equal(fused_vs_plain(g), 0);
    cq_graph_free(g);
    /* a gate on another function is no SiLU */
    g = conv_act("Tanh", 1, 0, 0, 16);
    assert_int_equal(fused_vs_plain(g), 0);
    cq_graph_free(g);
}

/* Calibration's CQ_FUSE_ACT keeps these apart (the quantizer does not fold
 * them into a range, so the Conv output must be observed); Relu still fuses. */
static void test_exec_actfn_not_under_fuse_act(void **state)
{
    (void)state;
    cq_err err;
    cq_exec_opts o = CQ_EXEC_OPTS_DEFAULT;
    o.fuse = CQ_FUSE_ACT;
    const char *acts[] = {"Sigmoid", "HardSwish", "Relu"};
    for (int i = 0; i < 3; i++) {
        cq_graph *g = conv_act(acts[i], 0, 0, 0, 16);
        cq_exec *e = cq_exec_new(g, &o, &err);
        assert_non_null(e);
        assert_int_equal(cq_exec_is_fused(e, 1), i == 2);
        int c = cq_graph_value(g, "c", &err);
        assert_int_equal(cq_exec_value_written(e, c), i != 2);
        cq_exec_free(e);
        cq_graph_free(g);
    }
    o.fuse = CQ_FUSE_ACT_FN;
    cq_graph *g = conv_act("Sigmoid", 1, 0, 0, 16);
    cq_exec *e = cq_exec_new(g, &o, &err);
    assert_non_null(e);
    assert_true(cq_exec_is_fused(e, 1) && cq_exec_is_fused(e, 2));
    cq_exec_free(e);
    cq_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exec_actfn_epilogue),
        cmocka_unit_test(test_exec_actfn_silu),
        cmocka_unit_test(test_exec_actfn_not_under_fuse_act),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
