/* test_exec_state.c - what belongs to an executor and not to the graph:
 * several executors over one graph (other precision maps, fusion, layout,
 * threads), the precision map's checks, kernel plans made while planning,
 * and a second run that allocates no buffer. */
#include "exec_testutil.h"
#include "kern/kern.h"
#include "kern/kern_bgemm.h"

/* The residual block the tests share: conv_a -> r, conv_b -> c, add(c, r),
 * relu -> y, 32 channels (NCHW16c between the convolutions on AVX-512). */
static const int64_t block_xs[4] = {1, 32, 10, 14};

static cq_graph *block(void) { return residual_block(5, block_xs, 3, 1, 0); }

typedef struct {
    int calls, threads_seen, blas_seen;
} thread_log;

static int note_threads(void *ud, const cq_graph *g, int nd, int output, const cq_tensor *t)
{
    (void)g, (void)nd, (void)output, (void)t;
    thread_log *l = ud;
    l->calls++;
    l->threads_seen = cq_kern_threads();
    l->blas_seen = cq_kern_blas_threads();
    return 0;
}

/* Two executors on one graph, one fused in NCHW16c at the process's thread
 * count, the other unfused, NCHW only, 2 threads, with a precision map
 * (OpenBLAS, process-wide, at each run's count during the run, then back:
 * before, it stayed at its default, every core, even for one-thread runs):
 * interleaved runs give each its own same bits every time and both the
 * reference values (e1's conv_a in bf16: within bf16's precision); each keeps its own timings; planning a third finds the
 * graph optimized already; freeing one leaves the other running. */
static void test_exec_state_two_executors_share_a_graph(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = block(), *plain = block();
    rng_state = 404;
    cq_tensor *x = rand_tensor(4, block_xs);
    cq_exec_opts none = CQ_EXEC_OPTS_DEFAULT;
    none.optimize = none.fuse = 0;
    none.nchw_only = 1;
    cq_tensor *ref = run1(plain, &none, x);

    cq_exec *e0 = cq_exec_new(g, NULL, &err);
    assert_non_null(e0);
    int nodes = g->n_nodes;
    cq_dtype prec[4] = {CQ_BF16, CQ_S8, CQ_U8, CQ_F32};
    assert_int_equal(nodes, 4);
    cq_exec_opts o1 = CQ_EXEC_OPTS_DEFAULT;
    o1.fuse = 0;
    o1.nchw_only = 1;
    o1.threads = 2;
    o1.precision = prec;
    o1.n_precision = nodes;
    cq_exec *e1 = cq_exec_new(g, &o1, &err);
    assert_non_null(e1);
    assert_int_equal(g->n_nodes, nodes);
    assert_false(cq_exec_is_stale(e0));
    /* the decisions are each executor's own */
    assert_true(cq_exec_is_fused(e0, 2));
    assert_false(cq_exec_is_fused(e1, 2));
    int r = cq_graph_find(g, "r");
    assert_int_equal(cq_exec_value_blocked(e0, r), cq_kern_isa() == CQ_ISA_AVX512);
    assert_false(cq_exec_value_blocked(e1, r));
    for (int i = 0; i < nodes; i++) {
        assert_int_equal(cq_exec_node_precision(e0, i), CQ_F32);
        assert_int_equal(cq_exec_node_precision(e1, i), prec[i]);
    }
    thread_log tl = {0, 0, 0}, tl0 = {0, 0, 0};
    cq_exec_set_observer(e1, note_threads, &tl);
    cq_exec_set_observer(e0, note_threads, &tl0);
    int before = cq_kern_threads();
    cq_tensor *first[2] = {NULL, NULL};
    for (int round = 0; round < 3; round++) {
        cq_exec *e[2] = {e0, e1};
        for (int k = 0; k < 2; k++) {
            cq_tensor *y;
            assert_int_equal(cq_exec_run(e[k], 1, &x, &y, &err), CQ_OK);
            assert_true(maxdiff(y, ref) < (k ? 2e-2 : 1e-5) * fmax(10.0, maxabs(ref)));
            if (!first[k])
                first[k] = y;
            else {
                assert_memory_equal(cq_tensor_data(y), cq_tensor_data(first[k]),
                                    cq_tensor_nbytes(y));
                cq_tensor_release(y);
            }
            /* e1's runs use 2 threads and give the process its count back */
            assert_int_equal(cq_kern_threads(), before);
            assert_int_equal(cq_kern_blas_threads(), before);
        }
    }
    assert_int_equal(tl.calls, 3 * nodes);
    assert_int_equal(tl.threads_seen, 2);
    assert_int_equal(tl.blas_seen, 2);
    assert_int_equal(tl0.threads_seen, before);
    assert_int_equal(tl0.blas_seen, before);
    double ns;
    int64_t runs;
    cq_exec_node_time(e0, 2, &ns, &runs);
    assert_int_equal(runs, 0); /* the Add rides on conv_b in e0 */
    cq_exec_node_time(e1, 2, &ns, &runs);
    assert_int_equal(runs, 3);
    cq_exec_reset_profile(e1);
    cq_exec_node_time(e0, 0, &ns, &runs);
    assert_int_equal(runs, 3);
    /* a third executor plans the already optimized graph without changing it */
    cq_exec *e2 = cq_exec_new(g, NULL, &err);
    assert_non_null(e2);
    assert_false(cq_exec_is_stale(e0));
    assert_false(cq_exec_is_stale(e1));
    cq_exec_free(e2);
    cq_exec_free(e0);
    cq_tensor *y;
    assert_int_equal(cq_exec_run(e1, 1, &x, &y, &err), CQ_OK);
    assert_memory_equal(cq_tensor_data(y), cq_tensor_data(first[1]), cq_tensor_nbytes(y));
    cq_tensor_release(y);
    cq_exec_free(e1);
    for (int k = 0; k < 2; k++)
        cq_tensor_release(first[k]);
    cq_tensor_release(ref);
    cq_tensor_release(x);
    cq_graph_free(plain);
    cq_graph_free(g);
}

/* The precision map: one entry per node after the passes, each a compute
 * precision; the errors say which node and what is wrong. */
static void test_exec_state_precision_map_checked(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = block();
    cq_exec *e = cq_exec_new(g, NULL, &err); /* runs the passes */
    assert_non_null(e);
    cq_exec_free(e);
    cq_dtype prec[4] = {CQ_F32, CQ_F32, CQ_F32, CQ_F32};
    cq_exec_opts o = CQ_EXEC_OPTS_DEFAULT;
    o.precision = prec;
    o.n_precision = 3;
    assert_null(cq_exec_new(g, &o, &err));
    assert_int_equal(err.code, CQ_EINVAL);
    assert_string_equal(err.msg, "precision map: 3 entries for 4 nodes (index it like the "
                                 "nodes after the passes)");
    o.n_precision = 4;
    prec[1] = CQ_S32;
    assert_null(cq_exec_new(g, &o, &err));
    assert_int_equal(err.code, CQ_EINVAL);
    assert_string_equal(err.msg, "precision map: node 'conv_b' (Conv): s32 is no compute "
                                 "precision (f32, bf16, s8 or u8)");
    prec[1] = CQ_F32;
    prec[3] = (cq_dtype)99;
    assert_null(cq_exec_new(g, &o, &err));
    assert_string_equal(err.msg, "precision map: node 'relu' (Relu): dtype 99 is no compute "
                                 "precision (f32, bf16, s8 or u8)");
    prec[3] = CQ_U8;
    e = cq_exec_new(g, &o, &err);
    assert_non_null(e);
    assert_int_equal(cq_exec_node_precision(e, 3), CQ_U8);
    assert_int_equal(cq_exec_node_precision(e, 4), CQ_F32); /* out of range */
    cq_exec_free(e);
    cq_graph_free(g);
}

/* Kernel plans come from cq_exec_new where the input shape is known; with a
 * symbolic batch, from the first run. */
static void test_exec_state_kernel_plans_at_planning(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = block();
    cq_exec *e = cq_exec_new(g, NULL, &err);
    assert_non_null(e);
    assert_true(cq_exec_node_planned(e, 0));
    assert_true(cq_exec_node_planned(e, 1));
    assert_false(cq_exec_node_planned(e, 3)); /* a Relu has none */
    cq_exec_free(e);
    cq_graph_free(g);

    g = cq_graph_new(&err);
    set_opset(g, 13);
    int64_t xs[4] = {-1, 3, 8, 8}, ws[4] = {4, 3, 3, 3};
    add_io(g, "x", 4, xs, "y");
    add_init(g, "w", rand_tensor(4, ws));
    node(g, "Conv", "conv", 2, (const char *[]){"x", "w"}, "y");
    e = cq_exec_new(g, NULL, &err);
    assert_non_null(e);
    assert_false(cq_exec_node_planned(e, 0));
    xs[0] = 2;
    cq_tensor *x = rand_tensor(4, xs), *y;
    assert_int_equal(cq_exec_run(e, 1, &x, &y, &err), CQ_OK);
    assert_true(cq_exec_node_planned(e, 0));
    cq_tensor_release(y);
    cq_tensor_release(x);
    cq_exec_free(e);
    cq_graph_free(g);
}

/* Shapes that change from run to run: a planned node's shape inference
 * and a Conv's geometry are kept while its inputs' shapes stay (exec.c
 * memo_get, ops_conv.c conv_geo_of), and must be made anew when they
 * change. Each run of one executor against a fresh executor's run. */
static void test_exec_state_shapes_change_between_runs(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    int64_t xs[4] = {-1, 3, -1, -1}, ws[4] = {4, 3, 3, 3};
    add_io(g, "x", 4, xs, "y");
    add_init(g, "w", rand_tensor(4, ws));
    node(g, "Conv", "conv", 2, (const char *[]){"x", "w"}, "y");
    cq_exec *e = cq_exec_new(g, NULL, &err);
    assert_non_null(e);
    static const int64_t shapes[][3] = {{2, 8, 8}, {2, 8, 8}, {3, 8, 8}, {3, 8, 8}, {1, 5, 9},
                                        {1, 5, 9}, {2, 8, 8}, {1, 3, 3}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        int64_t s[4] = {shapes[k][0], 3, shapes[k][1], shapes[k][2]};
        cq_tensor *x = rand_tensor(4, s), *y, *want;
        assert_int_equal(cq_exec_run(e, 1, &x, &y, &err), CQ_OK);
        cq_exec *f = cq_exec_new(g, NULL, &err);
        assert_non_null(f);
        assert_int_equal(cq_exec_run(f, 1, &x, &want, &err), CQ_OK);
        int64_t ys[4] = {s[0], 4, s[2] - 2, s[3] - 2};
        assert_int_equal(y->ndim, 4);
        assert_memory_equal(y->shape, ys, sizeof ys);
        assert_memory_equal(want->shape, ys, sizeof ys);
        assert_memory_equal(cq_tensor_data(y), cq_tensor_data(want),
                            (size_t)cq_tensor_numel(y) * sizeof(float));
        cq_tensor_release(want);
        cq_exec_free(f);
        cq_tensor_release(y);
        cq_tensor_release(x);
    }
    cq_exec_free(e);
    cq_graph_free(g);
}

static int n_allocs;

static void *count_alloc(size_t size, void *ud)
{
    (void)ud;
    void *p = NULL;
    n_allocs++;
    size = (size + CQ_ALIGN - 1) / CQ_ALIGN * CQ_ALIGN;
    return posix_memalign(&p, CQ_ALIGN, size ? size : CQ_ALIGN) ? NULL : p;
}

static void count_free(void *p, void *ud)
{
    (void)ud;
    free(p);
}

static int observe_nothing(void *ud, const cq_graph *g, int nd, int output, const cq_tensor *t)
{
    (void)ud, (void)g, (void)nd, (void)output, (void)t;
    return 0;
}

/* After the first run, a run allocates tensor data only for the graph's
 * output it hands over: no buffer, no kernel plan, no NCHW copy for the
 * observer of a value kept in NCHW16c. */
static void test_exec_state_second_run_allocates_nothing(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = block();
    cq_exec *e = cq_exec_new(g, NULL, &err);
    assert_non_null(e);
    cq_exec_set_observer(e, observe_nothing, NULL);
    rng_state = 8;
    cq_tensor *x = rand_tensor(4, block_xs), *y;
    cq_set_allocator(count_alloc, count_free, NULL);
    assert_int_equal(cq_exec_run(e, 1, &x, &y, &err), CQ_OK);
    cq_tensor_release(y);
    size_t peak = cq_exec_peak_bytes(e);
    n_allocs = 0;
    assert_int_equal(cq_exec_run(e, 1, &x, &y, &err), CQ_OK);
    assert_int_equal(n_allocs, g->n_outputs);
    assert_int_equal(cq_exec_peak_bytes(e), peak);
    cq_tensor_release(y);
    cq_exec_free(e);
    cq_set_allocator(NULL, NULL, NULL);
    cq_tensor_release(x);
    cq_graph_free(g);
}

/* ConvTranspose keeps its kernel plan (W^T packed) from the first run: the
 * second run allocates only its output, and both equal the scalar sum
 * y[co][2 iy + ky][2 ix + kx] = b[co] + sum_ci x[ci][iy][ix] w[ci][co][ky][kx]. */
static void test_exec_state_convtranspose_keeps_its_plan(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    assert_non_null(g);
    enum { CI = 24, CO = 20, H = 5, W = 7 };
    int n = node(g, "ConvTranspose", "ct", 3, (const char *[]){"x", "w", "b"}, "y");
    assert_int_equal(cq_node_set_ints(g, n, "strides", 2, (int64_t[]){2, 2}, &err), CQ_OK);
    assert_int_equal(cq_node_set_ints(g, n, "kernel_shape", 2, (int64_t[]){2, 2}, &err), CQ_OK);
    rng_state = 21;
    cq_tensor *w = rand_tensor(4, (int64_t[]){CI, CO, 2, 2});
    cq_tensor *b = rand_tensor(1, (int64_t[]){CO});
    const float *pw = cq_tensor_data(w), *pb = cq_tensor_data(b);
    static float ref[CO][2 * H][2 * W];
    cq_tensor *x = rand_tensor(4, (int64_t[]){1, CI, H, W});
    const float *px = cq_tensor_data(x);
    for (int co = 0; co < CO; co++)
        for (int oy = 0; oy < 2 * H; oy++)
            for (int ox = 0; ox < 2 * W; ox++) {
                double s = pb[co];
                for (int ci = 0; ci < CI; ci++)
                    s += (double)px[(ci * H + oy / 2) * W + ox / 2] *
                         pw[((ci * CO + co) * 2 + oy % 2) * 2 + ox % 2];
                ref[co][oy][ox] = (float)s;
            }
    add_init(g, "w", w);
    add_init(g, "b", b);
    add_io(g, "x", 4, (int64_t[]){1, CI, H, W}, "y");
    cq_exec *e = cq_exec_new(g, NULL, &err);
    assert_non_null(e);
    cq_set_allocator(count_alloc, count_free, NULL);
    for (int run = 0; run < 2; run++) {
        cq_tensor *y;
        n_allocs = 0;
        assert_int_equal(cq_exec_run(e, 1, &x, &y, &err), CQ_OK);
        if (run)
            assert_int_equal(n_allocs, 1);
        const float *py = cq_tensor_data(y);
        assert_int_equal(cq_tensor_numel(y), CO * 4 * H * W);
        for (int i = 0; i < CO * 4 * H * W; i++)
            assert_true(fabsf(py[i] - (&ref[0][0][0])[i]) < 1e-4f);
        cq_tensor_release(y);
    }
    cq_set_allocator(NULL, NULL, NULL);
    cq_exec_free(e);
    cq_tensor_release(x);
    cq_graph_free(g);
}

/* A precision map with bf16 Convs: the convolutions run in bf16 (outputs
 * near f32's, not its bits) with their fusions and layouts, in NCHW16c and
 * in NCHW, the same bits run after run, within f32 reassociation of each
 * other across layouts; an f32 map
 * gives f32's bits. */
static void test_exec_state_bf16_convs(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = block();
    rng_state = 505;
    cq_tensor *x = rand_tensor(4, block_xs);
    cq_exec *e0 = cq_exec_new(g, NULL, &err);
    assert_non_null(e0);
    cq_tensor *ref;
    assert_int_equal(cq_exec_run(e0, 1, &x, &ref, &err), CQ_OK);
    int nodes = g->n_nodes;
    cq_dtype prec[8];
    assert_true(nodes <= 8);
    for (int i = 0; i < nodes; i++)
        prec[i] = strcmp(g->nodes[i].op_type, "Conv") == 0 ? CQ_BF16 : CQ_F32;
    cq_tensor *y[2] = {NULL, NULL};
    for (int nchw = 0; nchw < 2; nchw++) {
        cq_exec_opts o = CQ_EXEC_OPTS_DEFAULT;
        o.precision = prec;
        o.n_precision = nodes;
        o.nchw_only = nchw;
        cq_exec *e = cq_exec_new(g, &o, &err);
        assert_non_null(e);
        if (!nchw)
            assert_int_equal(cq_exec_value_blocked(e, cq_graph_find(g, "r")),
                             cq_kern_isa() == CQ_ISA_AVX512);
        assert_int_equal(cq_exec_run(e, 1, &x, &y[nchw], &err), CQ_OK);
        double d = maxdiff(y[nchw], ref), m = maxabs(ref);
        assert_true(d < 2e-2 * fmax(1.0, m));
        assert_true(d > 1e-6 * m); /* rounded to bf16: not f32's result */
        cq_tensor *again;
        assert_int_equal(cq_exec_run(e, 1, &x, &again, &err), CQ_OK);
        assert_memory_equal(cq_tensor_data(again), cq_tensor_data(y[nchw]),
                            cq_tensor_nbytes(again));
        cq_tensor_release(again);
        cq_exec_free(e);
    }
    /* NCHW16c or NCHW: the same products, summed in another order (pairs of
     * channels along K differ) */
    assert_true(maxdiff(y[0], y[1]) < 1e-5 * fmax(10.0, maxabs(ref)));
    for (int i = 0; i < nodes; i++)
        prec[i] = CQ_F32;
    cq_exec_opts o = CQ_EXEC_OPTS_DEFAULT;
    o.precision = prec;
    o.n_precision = nodes;
    cq_tensor *f = run1(g, &o, x);
    assert_memory_equal(cq_tensor_data(f), cq_tensor_data(ref), cq_tensor_nbytes(f));
    cq_tensor_release(f);
    cq_tensor_release(y[0]);
    cq_tensor_release(y[1]);
    cq_tensor_release(ref);
    cq_tensor_release(x);
    cq_exec_free(e0);
    cq_graph_free(g);
}

/* Gemm (alpha, beta, C, transB) and MatMul (batched A, matrix B) in bf16:
 * the bf16 GEMM's results (against cq_bgemm_ref), run after run, with the
 * kernel plan kept; f32's results in f32. */
static void test_exec_state_bf16_gemm_matmul(void **state)
{
    (void)state;
    cq_err err;
    for (int mm = 0; mm < 2; mm++) {
        cq_graph *g = cq_graph_new(&err);
        set_opset(g, 13);
        int64_t xs[3] = {2, 3, 40}, ws[2] = {40, 30}, wt[2] = {30, 40}, cs[1] = {30};
        add_io(g, "x", mm ? 3 : 2, mm ? xs : xs + 1, "y");
        rng_state = 77u + (uint32_t)mm;
        cq_tensor *w = rand_tensor(2, mm ? ws : wt), *c = rand_tensor(1, cs);
        cq_tensor_retain(w); /* kept for the reference below */
        add_init(g, "w", w);
        if (mm) {
            node(g, "MatMul", "mm", 2, (const char *[]){"x", "w"}, "y");
        } else {
            cq_tensor_retain(c);
            add_init(g, "c", c);
            int k = node(g, "Gemm", "gemm", 3, (const char *[]){"x", "w", "c"}, "y");
            cq_node_set_int(g, k, "transB", 1, &err);
            cq_node_set_float(g, k, "alpha", 0.5f, &err);
            cq_node_set_float(g, k, "beta", 2.0f, &err);
        }
        cq_tensor *x = rand_tensor(mm ? 3 : 2, mm ? xs : xs + 1);
        cq_tensor *f = run1(g, NULL, x);
        cq_dtype prec[1] = {CQ_BF16};
        assert_int_equal(g->n_nodes, 1);
        cq_exec_opts o = CQ_EXEC_OPTS_DEFAULT;
        o.precision = prec;
        o.n_precision = 1;
        cq_exec *e = cq_exec_new(g, &o, &err);
        assert_non_null(e);
        cq_tensor *y, *again;
        assert_int_equal(cq_exec_run(e, 1, &x, &y, &err), CQ_OK);
        assert_true(cq_exec_node_planned(e, 0)); /* the bf16 plan kept */
        assert_int_equal(cq_exec_run(e, 1, &x, &again, &err), CQ_OK);
        assert_memory_equal(cq_tensor_data(y), cq_tensor_data(again), cq_tensor_nbytes(y));
        /* the reference: rows of x times w (n, k) for Gemm's transB, (k, n) for MatMul */
        int64_t rows = mm ? 6 : 3;
        float want[6 * 30];
        cq_bgemm_params p = cq_bgemm_params_default();
        p.m = rows;
        p.n = 30;
        p.k = 40;
        p.w_kn = mm;
        assert_int_equal(cq_bgemm_ref(&p, cq_tensor_data(w), NULL, cq_tensor_data(x), want,
                                      NULL, &err), CQ_OK);
        const float *got = cq_tensor_data(y), *cf = cq_tensor_data(c), *ff = cq_tensor_data(f);
        double d32 = 0;
        for (int64_t i = 0; i < rows * 30; i++) {
            float v = mm ? want[i] : 0.5f * want[i] + 2.0f * cf[i % 30];
            assert_true(fabs((double)got[i] - v) <= 1e-5 * (1.0 + fabs((double)v)) * 40);
            d32 = fmax(d32, fabs((double)got[i] - ff[i]));
        }
        assert_true(d32 > 1e-6 && d32 < 5e-2); /* bf16, near f32 */
        cq_tensor_release(again);
        cq_tensor_release(y);
        cq_tensor_release(f);
        cq_tensor_release(x);
        cq_tensor_release(w);
        cq_tensor_release(c);
        cq_exec_free(e);
        cq_graph_free(g);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exec_state_two_executors_share_a_graph),
        cmocka_unit_test(test_exec_state_shapes_change_between_runs),
        cmocka_unit_test(test_exec_state_precision_map_checked),
        cmocka_unit_test(test_exec_state_bf16_convs),
        cmocka_unit_test(test_exec_state_bf16_gemm_matmul),
        cmocka_unit_test(test_exec_state_kernel_plans_at_planning),
        cmocka_unit_test(test_exec_state_second_run_allocates_nothing),
        cmocka_unit_test(test_exec_state_convtranspose_keeps_its_plan),
    };
    return cmocka_run_group_tests_name("exec_state", tests, NULL, NULL);
}
