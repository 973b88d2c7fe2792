/* test_ops.c - operator semantics, one node at a time (cq__run_node), against
 * naive loops on random shapes and against hand-worked cases. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ops/ops_internal.h" /* cq__run_node, CQ_OPS_TOTAL */

static uint32_t seed = 4242;
static uint32_t urand(void)
{
    seed = seed * 1664525u + 1013904223u;
    return seed >> 8;
}
static float frand(void) { return (float)(urand() & 0xffff) / 32768.0f - 1.0f; }

static cq_tensor *tens(cq_dtype dt, int nd, const int64_t *shape, const double *v)
{
    cq_err err;
    cq_tensor *t = cq_tensor_empty(dt, nd, shape, &err);
    assert_non_null(t);
    const cq_dtype_traits *tr = cq_dtype_info(dt);
    for (int64_t i = 0; i < cq_tensor_numel(t); i++)
        tr->set((char *)cq_tensor_data(t) + (size_t)i * tr->size, v ? v[i] : frand());
    return t;
}

/* One node graph; returns the node's output 0 (new reference) or NULL with err. */
static cq_tensor *run_op(const char *op, int64_t opset, int n_in, cq_tensor **in,
                         void (*attrs)(cq_graph *, int, void *), void *ud, cq_err *err)
{
    cq_graph *g = cq_graph_new(err);
    g->opsets = calloc(1, sizeof *g->opsets);
    g->opsets[0].domain = calloc(1, 1);
    g->opsets[0].version = opset;
    g->n_opsets = 1;
    const char *names[8] = {"a", "b", "c", "d", "e", "f", "g", "h"};
    const char *out[1] = {"y"};
    int n = cq_graph_add_node(g, op, "n", "", n_in, names, 1, out, err);
    assert_true(n >= 0);
    if (attrs)
        attrs(g, n, ud);
    cq_openv env = {0};
    cq_tensor *y[1] = {NULL};
    cq_status st = cq__run_node(g, n, in, y, &env, err);
    cq_free(env.scratch);
    cq_graph_free(g);
    return st ? NULL : y[0];
}

static void test_ops_table(void **state)
{
    (void)state;
    assert_int_equal(cq_op_count(), CQ_OPS_TOTAL);
    for (int i = 0; i < cq_op_count(); i++) {
        const cq_op *op = cq_op_at(i);
        assert_non_null(op);
        /* rows of other domains (com.microsoft's QLinearAdd) are found by theirs */
        assert_ptr_equal(cq_op_find(op->name, op->domain), op);
        if (!*op->domain)
            assert_ptr_equal(cq_op_find(op->name, "ai.onnx"), op);
        assert_non_null(op->infer);
        assert_non_null(op->run);
        /* each capability comes with its hooks, and no hook without one */
        const cq_op_hooks *h = op->hooks;
        unsigned c = op->caps;
        assert_int_equal(h && h->act_of, !!(c & (CQ_OP_ACT | CQ_OP_ACT_FN)));
        assert_int_equal(h && h->pool_of, !!(c & CQ_OP_POOL));
        assert_int_equal(h && h->pool_fusable, !!(c & CQ_OP_TAKES_POOL));
        /* blocked_ok: required with BLOCKED_OUT, optional with BLOCKED_IN alone */
        if (c & CQ_OP_BLOCKED_OUT)
            assert_true(h && h->blocked_ok);
        else if (h && h->blocked_ok)
            assert_true(c & CQ_OP_BLOCKED_IN);
        if (h && h->blocked_in)
            assert_true(c & CQ_OP_BLOCKED_IN);
        assert_int_equal(h && h->join_of, !!(c & CQ_OP_JOIN));
        assert_int_equal(h && h->plan_new, !!(c & CQ_OP_PLAN));
        assert_int_equal(h && h->plan_free, !!(c & CQ_OP_PLAN));
        if (!(c & CQ_OP_BLOCKED_IN))
            assert_int_equal(h != NULL, !!(c & (CQ_OP_ACT | CQ_OP_ACT_FN | CQ_OP_POOL |
                                                CQ_OP_TAKES_POOL | CQ_OP_BLOCKED_OUT |
                                                CQ_OP_PLAN | CQ_OP_JOIN)));
    }
    /* the rows the executor's fusion and layout rely on */
    assert_true(cq_op_find("Conv", "")->caps & CQ_OP_PLAN);
    assert_true(cq_op_find("Conv", "")->caps & CQ_OP_BLOCKED_OUT);
    assert_true(cq_op_find("Concat", "")->caps & CQ_OP_JOIN);
    assert_true(cq_op_find("Add", "")->caps & CQ_OP_TAKES_ACT);
    assert_true(cq_op_find("Clip", "")->caps & CQ_OP_ACT);
    /* what the quantizer folds into a range is ACT; other functions are ACT_FN */
    assert_true(cq_op_find("Sigmoid", "")->caps & CQ_OP_ACT_FN);
    assert_false(cq_op_find("HardSwish", "")->caps & CQ_OP_ACT);
    assert_true(cq_op_find("Mul", "")->caps & CQ_OP_GATE);
    assert_true(cq_op_find("MaxPool", "")->caps & CQ_OP_POOL);
    assert_true(cq_op_find("GlobalAveragePool", "")->caps & CQ_OP_BLOCKED_IN);
    assert_true(cq_op_find("QLinearConv", "")->caps & CQ_OP_BLOCKED_OUT);
    assert_true(cq_op_find("DequantizeLinear", "")->caps & CQ_OP_BLOCKED_IN);
    assert_true(cq_op_find("Shape", "")->caps & CQ_OP_SHAPE_ONLY);
    assert_int_equal(cq_op_find("Sub", "")->caps, CQ_OP_ELEMENTWISE);
    assert_int_equal(cq_op_find("Softmax", "")->caps, 0);
    assert_true(cq_op_find("QuantizeLinear", "")->caps & CQ_OP_QUANT);
    assert_true(cq_op_find("DequantizeLinear", "")->caps & CQ_OP_DEQUANT);
    assert_null(cq_op_at(cq_op_count()));
    assert_null(cq_op_find("Conv", "com.microsoft"));
    assert_null(cq_op_find("LSTM", ""));
}

/* Broadcasting binary ops on random shapes against index arithmetic. */
static void test_ops_binary_broadcast_random(void **state)
{
    (void)state;
    const char *ops[4] = {"Add", "Sub", "Mul", "Div"};
    cq_err err;
    for (int trial = 0; trial < 200; trial++) {
        int r = 1 + (int)(urand() % 4);
        int64_t ys[4], as[4], bs[4];
        int ra = r - (int)(urand() % 2), rb = r;
        for (int d = 0; d < r; d++)
            ys[d] = 1 + urand() % 5;
        for (int d = 0; d < ra; d++)
            as[d] = urand() % 3 == 0 ? 1 : ys[d + r - ra];
        for (int d = 0; d < rb; d++)
            bs[d] = urand() % 3 == 0 ? 1 : ys[d];
        cq_dtype dt = trial % 5 == 0 ? CQ_S32 : CQ_F32;
        cq_tensor *in[2] = {tens(dt, ra, as, NULL), tens(dt, rb, bs, NULL)};
        if (dt == CQ_S32) /* nonzero divisors */
            for (int64_t i = 0; i < cq_tensor_numel(in[1]); i++)
                ((int32_t *)cq_tensor_data(in[1]))[i] = 1 + (int32_t)(urand() % 7);
        const char *op = ops[trial % 4];
        cq_tensor *y = run_op(op, 13, 2, in, NULL, NULL, &err);
        assert_non_null(y);
        assert_int_equal(y->ndim, r);
        for (int d = 0; d < r; d++) {
            int64_t da = d < r - ra ? 1 : as[d - (r - ra)];
            ys[d] = da > bs[d] ? da : bs[d]; /* where both are 1 the output is 1 too */
            assert_int_equal(y->shape[d], ys[d]);
        }
        int64_t idx[4] = {0};
        const cq_dtype_traits *tr = cq_dtype_info(dt);
        for (int64_t i = 0; i < cq_tensor_numel(y); i++) {
            int64_t ia[4], ib[4];
            for (int d = 0; d < ra; d++)
                ia[d] = as[d] == 1 ? 0 : idx[d + r - ra];
            for (int d = 0; d < rb; d++)
                ib[d] = bs[d] == 1 ? 0 : idx[d];
            double a = tr->get((char *)cq_tensor_data(in[0]) + cq_tensor_offset_of(in[0], ia));
            double b = tr->get((char *)cq_tensor_data(in[1]) + cq_tensor_offset_of(in[1], ib));
            double want = trial % 4 == 0 ? a + b : trial % 4 == 1 ? a - b : trial % 4 == 2 ? a * b
                                                                       : dt == CQ_S32 ? trunc(a / b) : a / b;
            double got = tr->get((char *)cq_tensor_data(y) + (size_t)i * tr->size);
            if (dt == CQ_F32)
                assert_true(fabs(got - (float)want) <= 1e-6 * (1 + fabs(want)));
            else
                assert_true(got == want);
            for (int d = r - 1; d >= 0; d--) {
                if (++idx[d] < ys[d])
                    break;
                idx[d] = 0;
            }
        }
        cq_tensor_release(y);
        cq_tensor_release(in[0]);
        cq_tensor_release(in[1]);
    }
    /* mismatch names the node */
    int64_t s3 = 3, s4 = 4;
    cq_tensor *in[2] = {tens(CQ_F32, 1, &s3, NULL), tens(CQ_F32, 1, &s4, NULL)};
    assert_null(run_op("Add", 13, 2, in, NULL, NULL, &err));
    assert_string_equal(err.msg, "Add 'n': shapes do not broadcast (dim 0: 3 vs 4)");
    cq_tensor_release(in[0]);
    cq_tensor_release(in[1]);
}

static void test_ops_slice_negative_steps(void **state)
{
    (void)state;
    cq_err err;
    int64_t ten = 10, one = 1;
    double v[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    double st = -1, en = -100, ax = 0, sp = -3;
    cq_tensor *in[5] = {tens(CQ_F32, 1, &ten, v), tens(CQ_S64, 1, &one, &st),
                        tens(CQ_S64, 1, &one, &en), tens(CQ_S64, 1, &one, &ax),
                        tens(CQ_S64, 1, &one, &sp)};
    cq_tensor *y = run_op("Slice", 13, 5, in, NULL, NULL, &err);
    assert_non_null(y);
    assert_int_equal(cq_tensor_numel(y), 4);
    const float *p = cq_tensor_data(y);
    assert_true(p[0] == 9 && p[1] == 6 && p[2] == 3 && p[3] == 0);
    cq_tensor_release(y);
    for (int i = 0; i < 5; i++)
        cq_tensor_release(in[i]);
}

static void set_reflect(cq_graph *g, int n, void *ud)
{
    (void)ud;
    cq_err err;
    cq_node_set_string(g, n, "mode", "reflect", 7, &err);
}

static void test_ops_pad_reflect(void **state)
{
    (void)state;
    cq_err err;
    int64_t four = 4, two = 2;
    double v[4] = {1, 2, 3, 4}, pads[2] = {3, 2};
    cq_tensor *in[2] = {tens(CQ_F32, 1, &four, v), tens(CQ_S64, 1, &two, pads)};
    cq_tensor *y = run_op("Pad", 13, 2, in, set_reflect, NULL, &err);
    assert_non_null(y);
    float want[9] = {4, 3, 2, 1, 2, 3, 4, 3, 2};
    assert_int_equal(cq_tensor_numel(y), 9);
    assert_memory_equal(cq_tensor_data(y), want, sizeof want);
    cq_tensor_release(y);
    cq_tensor_release(in[0]);
    cq_tensor_release(in[1]);
}

static void test_ops_softmax_rows_sum_to_one(void **state)
{
    (void)state;
    cq_err err;
    int64_t s[3] = {2, 3, 5};
    cq_tensor *in[1] = {tens(CQ_F32, 3, s, NULL)};
    /* opset 13: over the last axis; opset 11: over dims 1.. flattened */
    for (int v = 0; v < 2; v++) {
        cq_tensor *y = run_op("Softmax", v ? 11 : 13, 1, in, NULL, NULL, &err);
        assert_non_null(y);
        const float *p = cq_tensor_data(y);
        int64_t len = v ? 15 : 5;
        for (int64_t r = 0; r < 30 / len; r++) {
            double sum = 0;
            for (int64_t i = 0; i < len; i++)
                sum += p[r * len + i];
            assert_true(fabs(sum - 1) < 1e-6);
        }
        cq_tensor_release(y);
    }
    cq_tensor_release(in[0]);
}

static void test_ops_gather_negative_and_range(void **state)
{
    (void)state;
    cq_err err;
    int64_t s[2] = {3, 2}, two = 2;
    double v[6] = {1, 2, 3, 4, 5, 6}, ix[2] = {-1, 0}, bad[2] = {0, 3};
    cq_tensor *in[2] = {tens(CQ_F32, 2, s, v), tens(CQ_S64, 1, &two, ix)};
    cq_tensor *y = run_op("Gather", 13, 2, in, NULL, NULL, &err);
    float want[4] = {5, 6, 1, 2};
    assert_memory_equal(cq_tensor_data(y), want, sizeof want);
    cq_tensor_release(y);
    cq_tensor_release(in[1]);
    in[1] = tens(CQ_S64, 1, &two, bad);
    assert_null(run_op("Gather", 13, 2, in, NULL, NULL, &err));
    assert_string_equal(err.msg, "Gather 'n': index 3 out of range [0, 3)");
    cq_tensor_release(in[0]);
    cq_tensor_release(in[1]);
}

static void set_nearest(cq_graph *g, int n, void *ud)
{
    (void)ud;
    cq_err err;
    cq_node_set_string(g, n, "coordinate_transformation_mode", "asymmetric", 10, &err);
    cq_node_set_string(g, n, "nearest_mode", "floor", 5, &err);
}

static void test_ops_resize_nearest_upsample(void **state)
{
    (void)state;
    cq_err err;
    int64_t s[4] = {1, 1, 2, 2}, four = 4, zero = 0;
    double v[4] = {1, 2, 3, 4}, sc[4] = {1, 1, 2, 3};
    cq_tensor *in[3] = {tens(CQ_F32, 4, s, v), tens(CQ_F32, 1, &zero, NULL),
                        tens(CQ_F32, 1, &four, sc)};
    cq_tensor *y = run_op("Resize", 13, 3, in, set_nearest, NULL, &err);
    assert_non_null(y);
    assert_int_equal(y->shape[2], 4);
    assert_int_equal(y->shape[3], 6);
    float want[24] = {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4};
    assert_memory_equal(cq_tensor_data(y), want, sizeof want);
    cq_tensor_release(y);
    for (int i = 0; i < 3; i++)
        cq_tensor_release(in[i]);
}

static void test_ops_matmul_batch_broadcast(void **state)
{
    (void)state;
    cq_err err;
    for (int trial = 0; trial < 30; trial++) {
        int64_t m = 1 + urand() % 6, k = 1 + urand() % 6, n = 1 + urand() % 6, b = 1 + urand() % 3;
        int64_t as[3] = {b, m, k}, bs[2] = {k, n};
        cq_tensor *in[2] = {tens(CQ_F32, 3, as, NULL), tens(CQ_F32, 2, bs, NULL)};
        cq_tensor *y = run_op("MatMul", 13, 2, in, NULL, NULL, &err);
        assert_non_null(y);
        assert_int_equal(y->ndim, 3);
        const float *pa = cq_tensor_data(in[0]), *pb = cq_tensor_data(in[1]), *py = cq_tensor_data(y);
        for (int64_t t = 0; t < b; t++)
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = 0; j < n; j++) {
                    double s = 0;
                    for (int64_t p = 0; p < k; p++)
                        s += (double)pa[(t * m + i) * k + p] * pb[p * n + j];
                    assert_true(fabs(py[(t * m + i) * n + j] - s) < 1e-5);
                }
        cq_tensor_release(y);
        cq_tensor_release(in[0]);
        cq_tensor_release(in[1]);
    }
}

static void test_ops_quantize_rounds_half_even(void **state)
{
    (void)state;
    cq_err err;
    int64_t six = 6;
    double v[6] = {0.5, 1.5, 2.5, -0.5, 300, -300}, sc = 1, zp = 0;
    cq_tensor *in[3] = {tens(CQ_F32, 1, &six, v), tens(CQ_F32, 0, NULL, &sc),
                        tens(CQ_S8, 0, NULL, &zp)};
    cq_tensor *y = run_op("QuantizeLinear", 13, 3, in, NULL, NULL, &err);
    assert_non_null(y);
    assert_int_equal(y->dtype, CQ_S8);
    int8_t want[6] = {0, 2, 2, 0, 127, -128};
    assert_memory_equal(cq_tensor_data(y), want, sizeof want);
    cq_tensor *back = run_op("DequantizeLinear", 13, 3, (cq_tensor *[]){y, in[1], in[2]}, NULL,
                             NULL, &err);
    assert_non_null(back);
    assert_true(((float *)cq_tensor_data(back))[4] == 127.0f);
    cq_tensor_release(back);
    cq_tensor_release(y);
    for (int i = 0; i < 3; i++)
        cq_tensor_release(in[i]);
}

/* 3-D attributes: pads 1 all round, strides (2, 1, 2), group 2 */
static void conv3d_attrs(cq_graph *g, int n, void *ud)
{
    cq_err err;
    (void)ud;
    cq_node_set_ints(g, n, "pads", 6, (int64_t[]){1, 1, 1, 1, 1, 1}, &err);
    cq_node_set_ints(g, n, "strides", 3, (int64_t[]){2, 1, 2}, &err);
    cq_node_set_int(g, n, "group", 2, &err);
}

/* out (d, h, w) of a 3-D conv on an input of in (d, h, w), kernel 3 */
#define C3_IN(i) ((i) == 0 ? 5 : (i) == 1 ? 4 : 6)
#define C3_OUT(i) ((C3_IN(i) + 2 - 3) / ((i) == 1 ? 1 : 2) + 1)

/* Conv, ConvInteger and ConvTranspose in 3-D run one output depth plane at
 * a time through kern.h; against plain loops over every tap. */
static void test_ops_conv3d_planes(void **state)
{
    (void)state;
    cq_err err;
    int64_t xs[5] = {2, 4, C3_IN(0), C3_IN(1), C3_IN(2)}, ws[5] = {6, 2, 3, 3, 3}, six = 6;
    int64_t od = C3_OUT(0), oh = C3_OUT(1), ow = C3_OUT(2);
    cq_tensor *x = tens(CQ_F32, 5, xs, NULL), *w = tens(CQ_F32, 5, ws, NULL);
    cq_tensor *b = tens(CQ_F32, 1, &six, NULL);
    int64_t nx = cq_tensor_numel(x), nw = cq_tensor_numel(w);
    double *xi = malloc((size_t)nx * sizeof *xi), *wi = malloc((size_t)nw * sizeof *wi);
    for (int64_t i = 0; i < nx; i++)
        xi[i] = (double)(int)(urand() % 256);
    for (int64_t i = 0; i < nw; i++)
        wi[i] = (double)(int)(urand() % 256) - 128;
    cq_tensor *xq = tens(CQ_U8, 5, xs, xi), *wq = tens(CQ_S8, 5, ws, wi);
    double xzp = 100;
    cq_tensor *xz = tens(CQ_U8, 0, NULL, &xzp);
    cq_tensor *y = run_op("Conv", 13, 3, (cq_tensor *[]){x, w, b}, conv3d_attrs, NULL, &err);
    cq_tensor *yi = run_op("ConvInteger", 10, 3, (cq_tensor *[]){xq, wq, xz}, conv3d_attrs, NULL,
                           &err);
    assert_non_null(y);
    assert_non_null(yi);
    assert_int_equal(y->shape[2] * y->shape[3] * y->shape[4], od * oh * ow);
    const float *px = cq_tensor_data(x), *pw = cq_tensor_data(w), *pb = cq_tensor_data(b);
    for (int64_t n = 0; n < 2; n++)
        for (int64_t m = 0; m < 6; m++)
            for (int64_t d = 0; d < od; d++)
                for (int64_t r = 0; r < oh; r++)
                    for (int64_t c = 0; c < ow; c++) {
                        double s = pb[m];
                        int64_t si = 0;
                        for (int64_t ci = 0; ci < 2; ci++)
                            for (int64_t t = 0; t < 27; t++) {
                                int64_t id = d * 2 - 1 + t / 9, ih = r - 1 + t / 3 % 3;
                                int64_t iw = c * 2 - 1 + t % 3;
                                if (id < 0 || id >= xs[2] || ih < 0 || ih >= xs[3] || iw < 0 ||
                                    iw >= xs[4])
                                    continue;
                                int64_t xo = (((n * 4 + m / 3 * 2 + ci) * xs[2] + id) * xs[3] +
                                              ih) * xs[4] + iw;
                                s += (double)px[xo] * pw[(m * 2 + ci) * 27 + t];
                                si += ((int64_t)xi[xo] - 100) * (int64_t)wi[(m * 2 + ci) * 27 + t];
                            }
                        int64_t o = (((n * 6 + m) * od + d) * oh + r) * ow + c;
                        assert_true(fabs(((float *)cq_tensor_data(y))[o] - s) < 1e-4);
                        assert_int_equal(((int32_t *)cq_tensor_data(yi))[o], si);
                    }
    /* ConvTranspose of x (c 4) with W (4, 3, 3, 3, 3), group 2: c_out 6 */
    int64_t wts[5] = {4, 3, 3, 3, 3};
    cq_tensor *wt = tens(CQ_F32, 5, wts, NULL);
    cq_tensor *yt = run_op("ConvTranspose", 13, 2, (cq_tensor *[]){x, wt}, conv3d_attrs, NULL,
                           &err);
    assert_non_null(yt);
    int64_t td = yt->shape[2], th = yt->shape[3], tw = yt->shape[4];
    assert_int_equal(td, 2 * (xs[2] - 1) + 3 - 2);
    assert_int_equal(tw, 2 * (xs[4] - 1) + 3 - 2);
    double *want = calloc((size_t)cq_tensor_numel(yt), sizeof *want);
    const float *pt = cq_tensor_data(wt);
    int64_t st[3] = {2, 1, 2};
    for (int64_t n = 0; n < 2; n++)
        for (int64_t ci = 0; ci < 4; ci++)
            for (int64_t i = 0; i < xs[2] * xs[3] * xs[4]; i++)
                for (int64_t co = 0; co < 3; co++)
                    for (int64_t t = 0; t < 27; t++) {
                        int64_t d = i / (xs[3] * xs[4]) * st[0] - 1 + t / 9;
                        int64_t r = i / xs[4] % xs[3] * st[1] - 1 + t / 3 % 3;
                        int64_t c = i % xs[4] * st[2] - 1 + t % 3;
                        if (d < 0 || d >= td || r < 0 || r >= th || c < 0 || c >= tw)
                            continue;
                        want[(((n * 6 + ci / 2 * 3 + co) * td + d) * th + r) * tw + c] +=
                            (double)px[(n * 4 + ci) * xs[2] * xs[3] * xs[4] + i] *
                            pt[(ci * 3 + co) * 27 + t];
                    }
    for (int64_t i = 0; i < cq_tensor_numel(yt); i++)
        assert_true(fabs(((float *)cq_tensor_data(yt))[i] - want[i]) < 1e-4);
    free(want);
    free(xi);
    free(wi);
    cq_tensor *all[] = {x, w, b, xq, wq, xz, y, yi, wt, yt};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        cq_tensor_release(all[i]);
}

/* QuantizeLinear per axis (opset 13): a scale and a zero point per channel
 * of axis 1; hand-computed ties and saturation. */
static void test_ops_quantize_per_axis(void **state)
{
    (void)state;
    cq_err err;
    int64_t xs[2] = {2, 3}, three = 3;
    double v[6] = {1, 3, 5, -400, 7, 2.5}, sc[3] = {2, 2, 0.5}, zp[3] = {0, 10, 250};
    cq_tensor *in[3] = {tens(CQ_F32, 2, xs, v), tens(CQ_F32, 1, &three, sc),
                        tens(CQ_U8, 1, &three, zp)};
    cq_tensor *y = run_op("QuantizeLinear", 13, 3, in, NULL, NULL, &err);
    assert_non_null(y);
    /* 1/2 -> 0 (tie to even); 3/2 -> 2 + 10; 5/0.5 = 10 + 250 -> 255 (saturates);
     * -400/2 -> -200 -> 0; 7/2 -> 4 + 10 (tie to even); 2.5/0.5 -> 5 + 250 */
    uint8_t want[6] = {0, 12, 255, 0, 14, 255};
    assert_memory_equal(cq_tensor_data(y), want, sizeof want);
    cq_tensor *back = run_op("DequantizeLinear", 13, 3, (cq_tensor *[]){y, in[1], in[2]}, NULL,
                             NULL, &err);
    assert_non_null(back);
    float bw[6] = {0, 4, 2.5f, 0, 8, 2.5f};
    assert_memory_equal(cq_tensor_data(back), bw, sizeof bw);
    cq_tensor_release(back);
    cq_tensor_release(y);
    for (int i = 0; i < 3; i++)
        cq_tensor_release(in[i]);
}

/* The opset a node runs at: its domain's import, else the default. */
static void test_ops_opset_default(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    int n = cq_graph_add_node(g, "Relu", "r", "", 1, (const char *[]){"x"}, 1,
                              (const char *[]){"y"}, &err);
    assert_int_equal(cq_op_opset(g, &g->nodes[n]), CQ_OP_DEFAULT_OPSET);
    g->opsets = calloc(1, sizeof *g->opsets);
    g->opsets[0].domain = calloc(1, 1);
    g->opsets[0].version = 13;
    g->n_opsets = 1;
    assert_int_equal(cq_op_opset(g, &g->nodes[n]), 13);
    cq_graph_free(g);
}

/* Each operator's required inputs are checked before it runs: missing or
 * omitted ones are refused naming the node and the input; optional ones may
 * be omitted; the rows follow the opset (Slice's starts/ends from 10). */
static void test_ops_check_node_inputs(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    int ga = cq_graph_add_node(g, "Gather", "g1", "", 1, (const char *[]){"x"}, 1,
                               (const char *[]){"y"}, &err);
    int sl = cq_graph_add_node(g, "Slice", "s1", "", 1, (const char *[]){"x"}, 1,
                               (const char *[]){"ys"}, &err);
    int qa = cq_graph_add_node(g, "QLinearAdd", "qa", "com.microsoft", 8,
                               (const char *[]){"a", "as", "", "b", "bs", "", "cs", ""}, 1,
                               (const char *[]){"c"}, &err);
    int qb = cq_graph_add_node(g, "QLinearAdd", "qb", "com.microsoft", 8,
                               (const char *[]){"a", "as", "az", "", "bs", "bz", "cs", "cz"}, 1,
                               (const char *[]){"c2"}, &err);
    int co = cq_graph_add_node(g, "Constant", "k", "", 0, NULL, 1, (const char *[]){"kv"}, &err);
    assert_true(ga >= 0 && sl >= 0 && qa >= 0 && qb >= 0 && co >= 0);
    assert_int_equal(g->nodes[qa].inputs[2], -1);

    cq_err_clear(&err);
    assert_int_equal(cq_op_check_node(&g->nodes[ga], 13, &err), CQ_EFORMAT);
    assert_int_equal(err.code, CQ_EFORMAT);
    assert_string_equal(err.msg, "node 'g1' (Gather): input 1 is required and missing");
    assert_int_equal(cq_op_check_node(&g->nodes[sl], 9, &err), CQ_OK);
    assert_int_equal(cq_op_check_node(&g->nodes[sl], 10, &err), CQ_EFORMAT);
    assert_int_equal(cq_op_check_node(&g->nodes[qa], 1, &err), CQ_OK);
    cq_err_clear(&err);
    assert_int_equal(cq_op_check_node(&g->nodes[qb], 1, &err), CQ_EFORMAT);
    assert_string_equal(err.msg, "node 'qb' (QLinearAdd): input 3 is required and omitted");
    assert_int_equal(cq_op_check_node(&g->nodes[co], 13, &err), CQ_OK);
    cq_graph_free(g);
}

/* A Conv run through the table keeps its kernel plan in the caller's slot:
 * made on the first call, used again for the same shapes, remade for other
 * ones; Clip's activation hook reads constant bounds only. */
static void test_ops_plan_slot_and_act_hook(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    int n = cq_graph_add_node(g, "Conv", "c", "", 2, (const char *[]){"x", "w"}, 1,
                              (const char *[]){"y"}, &err);
    assert_true(n >= 0);
    const cq_op *op = cq_op_find("Conv", "");
    int64_t ws[4] = {4, 3, 3, 3}, xa[4] = {1, 3, 8, 8}, xb[4] = {1, 3, 6, 10};
    cq_tensor *w = tens(CQ_F32, 4, ws, NULL), *x[2] = {tens(CQ_F32, 4, xa, NULL),
                                                      tens(CQ_F32, 4, xb, NULL)};
    int64_t ya[4] = {1, 4, 6, 6}, yb[4] = {1, 4, 4, 8};
    cq_tensor *y[2] = {tens(CQ_F32, 4, ya, NULL), tens(CQ_F32, 4, yb, NULL)};
    unsigned char cst[2] = {0, 1};
    void *plan = NULL;
    cq_openv env = {0};
    env.in_const = cst;
    env.plan = &plan;
    env.opset = 13;
    cq_tensor *in[2] = {x[0], w};
    assert_int_equal(op->run(&g->nodes[n], 2, in, 1, &y[0], &env, &err), CQ_OK);
    void *first = plan;
    assert_non_null(first);
    assert_int_equal(op->run(&g->nodes[n], 2, in, 1, &y[0], &env, &err), CQ_OK);
    assert_ptr_equal(plan, first);
    in[0] = x[1];
    assert_int_equal(op->run(&g->nodes[n], 2, in, 1, &y[1], &env, &err), CQ_OK);
    assert_non_null(plan);
    /* without a slot, nothing is kept */
    void **slot = env.plan;
    env.plan = NULL;
    assert_int_equal(op->run(&g->nodes[n], 2, in, 1, &y[1], &env, &err), CQ_OK);
    env.plan = slot;
    op->hooks->plan_free(plan);
    cq_free(env.scratch);
    /* Clip: bounds from constant inputs (opset 11+) or attributes (before) */
    const cq_op *clip = cq_op_find("Clip", "");
    int64_t one = 1;
    int lo = cq_graph_value(g, "lo", &err);
    cq_tensor *t = tens(CQ_F32, 1, &one, (double[]){0.0});
    assert_int_equal(cq_graph_add_initializer(g, lo, t, &err), CQ_OK);
    cq_tensor_release(t);
    int k = cq_graph_add_node(g, "Clip", "k", "", 3, (const char *[]){"y", "lo", "hi"}, 1,
                              (const char *[]){"z"}, &err);
    cq_act act;
    assert_false(clip->hooks->act_of(g, &g->nodes[k], 13, &act)); /* hi not constant */
    int hi = cq_graph_find(g, "hi");
    t = tens(CQ_F32, 1, &one, (double[]){6.0});
    assert_int_equal(cq_graph_add_initializer(g, hi, t, &err), CQ_OK);
    cq_tensor_release(t);
    assert_true(clip->hooks->act_of(g, &g->nodes[k], 13, &act));
    assert_int_equal(act.kind, CQ_ACT_CLIP);
    assert_true(act.a == 0.0f && act.b == 6.0f);
    cq_node_set_float(g, k, "max", 2.0f, &err);
    assert_true(clip->hooks->act_of(g, &g->nodes[k], 6, &act));
    assert_true(act.a == -INFINITY && act.b == 2.0f);
    cq_tensor_release(w);
    for (int i = 0; i < 2; i++) {
        cq_tensor_release(x[i]);
        cq_tensor_release(y[i]);
    }
    cq_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ops_table),
        cmocka_unit_test(test_ops_binary_broadcast_random),
        cmocka_unit_test(test_ops_slice_negative_steps),
        cmocka_unit_test(test_ops_pad_reflect),
        cmocka_unit_test(test_ops_softmax_rows_sum_to_one),
        cmocka_unit_test(test_ops_gather_negative_and_range),
        cmocka_unit_test(test_ops_resize_nearest_upsample),
        cmocka_unit_test(test_ops_matmul_batch_broadcast),
        cmocka_unit_test(test_ops_quantize_rounds_half_even),
        cmocka_unit_test(test_ops_conv3d_planes),
        cmocka_unit_test(test_ops_quantize_per_axis),
        cmocka_unit_test(test_ops_opset_default),
        cmocka_unit_test(test_ops_check_node_inputs),
        cmocka_unit_test(test_ops_plan_slot_and_act_hook),
    };
    return cmocka_run_group_tests_name("ops", tests, NULL, NULL);
}
