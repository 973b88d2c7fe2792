/* test_cost_grp.c - the cost model prices a grouped convolution as the
 * kernel that runs it (kern_conv.c): the direct grouped kernel (f32_grp,
 * f32_grp_s2 at stride 2) with its lanes' fill over flat rows and a fixed
 * cost a group, where cq_conv2d_grouped_direct takes the shape on a 512-bit
 * profile; the im2col path's f32_grp_gemm elsewhere. */
#include "exec_testutil.h"
#include "cost_testutil.h"

/* x (1, c, h, h) -> Conv 3x3 pad 1, stride s, g groups, c -> m -> y,
 * planned and run once (its layout as the executor keeps it). */
static cq_exec *grouped(int64_t c, int64_t m, int64_t g, int64_t h, int64_t s, cq_graph **gp)
{
    cq_err err;
    cq_graph *gr = cq_graph_new(&err);
    set_opset(gr, 13);
    int64_t xs[4] = {1, c, h, h};
    add_io(gr, "x", 4, xs, "y");
    add_init(gr, "w", rand_tensor(4, (int64_t[]){m, c / g, 3, 3}));
    int n = node(gr, "Conv", "conv", 2, (const char *[]){"x", "w"}, "y");
    cq_node_set_ints(gr, n, "pads", 4, (int64_t[]){1, 1, 1, 1}, &err);
    cq_node_set_ints(gr, n, "strides", 2, (int64_t[]){s, s}, &err);
    cq_node_set_int(gr, n, "group", g, &err);
    cq_exec *e = cq_exec_new(gr, NULL, &err);
    assert_non_null(e);
    run_rand(e, 4, xs);
    *gp = gr;
    return e;
}

/* The Conv row's class, tile fill and fixed costs on fast_hw (vector_bits
 * bits, f32_grp and f32_grp_s2 at 0.5, a group's fixed cost call_ns ns). */
static const char *grp_row(int64_t c, int64_t m, int64_t g, int64_t h, int64_t s, int bits,
                           double call_ns, double *fill, double *overhead_ns)
{
    cq_err err;
    cq_graph *gr;
    cq_exec *e = grouped(c, m, g, h, s, &gr);
    cq_hw hw = fast_hw();
    hw.vector_bits = bits;
    static const char *const eff[2] = {"f32_grp", "f32_grp_s2"};
    for (int k = 0; k < 2; k++) {
        snprintf(hw.eff[hw.n_eff].name, sizeof hw.eff[hw.n_eff].name, "%s", eff[k]);
        hw.eff[hw.n_eff++].value = 0.5;
    }
    if (call_ns > 0) {
        snprintf(hw.call[hw.n_call].name, sizeof hw.call[hw.n_call].name, "f32_grp");
        hw.call[hw.n_call++].value = call_ns;
    }
    cq_cost r;
    assert_int_equal(cq_cost_exec(e, &hw, NULL, &r, &err), CQ_OK);
    const cq_cost_row *row = row_of(&r, "Conv");
    static const char *const classes[] = {"f32_grp", "f32_grp_s2", "f32_grp_gemm"};
    const char *cls = NULL;
    for (int k = 0; k < 3; k++)
        if (!strcmp(row->kclass, classes[k]))
            cls = classes[k];
    if (!cls)
        fail_msg("grouped conv priced as %s", row->kclass);
    *fill = row->tile_eff;
    *overhead_ns = row->overhead_ns;
    cq_cost_free(&r);
    cq_exec_free(e);
    cq_graph_free(gr);
    return cls;
}

static void test_cost_grouped_classes(void **state)
{
    (void)state;
    double f, t0, t1;
    /* 8 a group at 14x14: flat rows of 16, 196 outputs over 224 lanes */
    assert_string_equal(grp_row(48, 48, 6, 14, 1, 512, 0, &f, &t0), "f32_grp");
    assert_true(fabs(f - 196.0 / 224) < 1e-12);
    /* a fixed cost a group: 6 groups x 1000 ns more (stride 2: the same key) */
    assert_string_equal(grp_row(48, 48, 6, 14, 1, 512, 1000, &f, &t1), "f32_grp");
    if (fabs(t1 - t0 - 6000) > 1e-6 * t1)
        fail_msg("6 groups at 1000 ns added %g ns", t1 - t0);
    assert_string_equal(grp_row(48, 48, 6, 28, 2, 512, 1000, &f, &t1), "f32_grp_s2");
    assert_string_equal(grp_row(48, 48, 6, 28, 2, 512, 0, &f, &t0), "f32_grp_s2");
    if (fabs(t1 - t0 - 6000) > 1e-6 * t1)
        fail_msg("stride 2: 6 groups at 1000 ns added %g ns", t1 - t0);
    /* stride 2 from 28x28: rows of 15 (30 padded columns), 196 over 224 */
    assert_string_equal(grp_row(48, 48, 6, 28, 2, 512, 0, &f, &t0), "f32_grp_s2");
    assert_true(fabs(f - 196.0 / 224) < 1e-12);
    /* 7x7: rows of 9, 49 over 64 */
    assert_string_equal(grp_row(48, 48, 6, 7, 1, 512, 0, &f, &t0), "f32_grp");
    assert_true(fabs(f - 49.0 / 64) < 1e-12);
    /* 4 outputs a group, or no 512-bit vectors: the im2col path */
    assert_string_equal(grp_row(48, 48, 12, 14, 1, 512, 0, &f, &t0), "f32_grp_gemm");
    assert_string_equal(grp_row(48, 48, 6, 14, 1, 256, 0, &f, &t0), "f32_grp_gemm");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cost_grouped_classes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
