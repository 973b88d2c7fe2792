/* test_exec_work.c - cq_exec_node_work and cq_op_flops: the work a profile
 * divides by the time, on a Conv, an Add and a ConvTranspose of known shapes,
 * with and without fusion. */
#include "exec_testutil.h"

#include "ops/ops.h"

/* x (1,3,8,8) -> Conv (w 4x3x3x3, b 4, pads 1) -> c (1,4,8,8) -> Relu -> r
 *   -> Add(r, z (1,4,1,1), broadcast) -> y */
static cq_graph *conv_relu_add(void)
{
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    int64_t xs[4] = {1, 3, 8, 8}, ws[4] = {4, 3, 3, 3}, bs[1] = {4}, zs[4] = {1, 4, 1, 1};
    add_io(g, "x", 4, xs, "y");
    add_init(g, "w", rand_tensor(4, ws));
    add_init(g, "b", rand_tensor(1, bs));
    add_init(g, "z", rand_tensor(4, zs));
    int n = node(g, "Conv", "conv", 3, (const char *[]){"x", "w", "b"}, "c");
    cq_node_set_ints(g, n, "pads", 4, (int64_t[]){1, 1, 1, 1}, &err);
    node(g, "Relu", "relu", 1, (const char *[]){"c"}, "r");
    node(g, "Add", "add", 2, (const char *[]){"r", "z"}, "y");
    return g;
}

enum {
    CONV_FLOPS = 2 * (4 * 8 * 8) * (3 * 3 * 3),      /* 2 per term, 27 terms per output */
    X_BYTES = 3 * 64 * 4, W_BYTES = 108 * 4, B_BYTES = 4 * 4, Y_BYTES = 4 * 64 * 4,
    Z_BYTES = 4 * 4,
};

static void check_work(const cq_exec *e, int i, int kind, int64_t flops, int64_t bytes)
{
    int64_t f = -7, b = -7;
    assert_int_equal(cq_exec_node_work(e, i, &f, &b), kind);
    assert_int_equal(f, flops);
    assert_int_equal(b, bytes);
}

static void test_exec_work_conv_and_add(void **state)
{
    (void)state;
    cq_err err;
    int64_t xs[4] = {1, 3, 8, 8};
    for (int fuse = 0; fuse < 2; fuse++) {
        cq_graph *g = conv_relu_add();
        cq_exec_opts o = CQ_EXEC_OPTS_DEFAULT;
        o.optimize = 0;
        o.fuse = fuse;
        o.nchw_only = 1;
        cq_exec *e = cq_exec_new(g, &o, &err);
        assert_non_null(e);
        assert_int_equal(g->n_nodes, 3);
        /* twice: the static shapes before the run, the run's after it */
        for (int run = 0; run < 2; run++) {
            if (run) {
                cq_tensor *x = rand_tensor(4, xs), *y[1];
                assert_int_equal(cq_exec_run(e, 1, &x, y, &err), CQ_OK);
                cq_tensor_release(y[0]);
                cq_tensor_release(x);
            }
            if (fuse) {
                /* Relu rides on the Conv: its flops count there, c never exists */
                assert_true(cq_exec_is_fused(e, 1));
                check_work(e, 0, 1, CONV_FLOPS + 4 * 64, X_BYTES + W_BYTES + B_BYTES + Y_BYTES);
                check_work(e, 1, -1, 0, 0);
            } else {
                check_work(e, 0, 1, CONV_FLOPS, X_BYTES + W_BYTES + B_BYTES + Y_BYTES);
                check_work(e, 1, 0, 4 * 64, 2 * Y_BYTES);
            }
            /* the broadcast Add: one per output element; r, z read, y written */
            check_work(e, 2, 0, 4 * 64, Y_BYTES + Z_BYTES + Y_BYTES);
        }
        check_work(e, 3, -1, 0, 0);
        check_work(e, -1, -1, 0, 0);
        cq_exec_free(e);
        cq_graph_free(g);
    }
}

static void test_exec_work_op_flops(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    /* ConvTranspose x (1,8,5,5), w (8, 6/2, 2, 2), group 2: every input
     * element meets 3 * 2 * 2 weights */
    int n = node(g, "ConvTranspose", "ct", 2, (const char *[]){"x", "w"}, "y");
    cq_tinfo in[2] = {{CQ_F32, 4, {1, 8, 5, 5}, NULL}, {CQ_F32, 4, {8, 3, 2, 2}, NULL}};
    cq_tinfo out = {CQ_F32, 4, {1, 6, 10, 10}, NULL};
    int64_t f;
    assert_int_equal(cq_op_flops(&g->nodes[n], 2, in, 1, &out, &f), 1);
    assert_int_equal(f, 2 * 200 * 12);
    /* Gemm a (7,5) transposed: k = 7 */
    n = node(g, "Gemm", "gemm", 2, (const char *[]){"a", "bm"}, "c");
    cq_node_set_int(g, n, "transA", 1, &err);
    cq_tinfo gi[2] = {{CQ_F32, 2, {7, 5}, NULL}, {CQ_F32, 2, {7, 9}, NULL}};
    cq_tinfo go = {CQ_F32, 2, {5, 9}, NULL};
    assert_int_equal(cq_op_flops(&g->nodes[n], 2, gi, 1, &go, &f), 1);
    assert_int_equal(f, 2 * 45 * 7);
    /* MaxPool 3x2 windows; Transpose moves only; unknown shapes say so */
    n = node(g, "MaxPool", "mp", 1, (const char *[]){"x"}, "p");
    cq_node_set_ints(g, n, "kernel_shape", 2, (int64_t[]){3, 2}, &err);
    cq_tinfo po = {CQ_F32, 4, {1, 8, 3, 4}, NULL};
    assert_int_equal(cq_op_flops(&g->nodes[n], 1, in, 1, &po, &f), 0);
    assert_int_equal(f, 96 * 6);
    n = node(g, "Transpose", "tr", 1, (const char *[]){"x"}, "t");
    assert_int_equal(cq_op_flops(&g->nodes[n], 1, in, 1, &in[0], &f), 0);
    assert_int_equal(f, 0);
    cq_tinfo unknown = {CQ_F32, -1, {0}, NULL};
    assert_int_equal(cq_op_flops(&g->nodes[n], 1, in, 1, &unknown, &f), -1);
    cq_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exec_work_conv_and_add),
        cmocka_unit_test(test_exec_work_op_flops),
    };
    return cmocka_run_group_tests_name("exec_work", tests, NULL, NULL);
}
