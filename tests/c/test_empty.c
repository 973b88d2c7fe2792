/* test_empty.c - every operator of the op table on tensors with a 0
 * dimension (issue 17: defined and tested behaviour for empty tensors).
 * ONNX allows a dimension of 0 almost everywhere (a batch of none, a
 * channel-less slice); each case puts one where the operator's spec allows
 * it and runs the node twice: with the input's shape declared (shape
 * inference and planning see the 0) and with it unknown until the run. The
 * node must end within the time bound, in a forked child (a crash or a hang
 * is a failure, not a stuck test run), with the empty output the spec says,
 * or with a clear error (code and message). Under make asan the same runs
 * check for reads of uninitialised or freed memory. A last test checks that
 * every operator of the table has a case here, so a new one gets one. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "child_testutil.h"

#include "exec/exec.h"
#include "ops/ops.h"

#if defined(__SANITIZE_ADDRESS__)
#define MAX_S 20
#else
#define MAX_S 5
#endif

#define MAXC 10 /* constant inputs of a case */

/* A constant input: dtype, shape, values (as doubles, cycled). */
typedef struct cin {
    const char *name; /* NULL ends; "" is an omitted optional input */
    cq_dtype dt;
    int nd;
    int64_t dims[4];
    int nv;
    double v[8];
} cin;

typedef struct ecase {
    const char *op, *domain;
    cq_dtype xdt;     /* the input x (the graph's one input, zeros) */
    int xnd;
    int64_t xdims[5];
    int x_at;         /* x's slot among the inputs; the constants fill the others */
    cin c[MAXC];
    const char *ints[3];     /* attributes "name=v" (int) */
    const char *intlists[2]; /* "name=a,b,c" */
    const char *floats[2];   /* "name=v" */
    const char *strings[2];  /* "name=v" */
    int n_out;
    int ynd;          /* expected output 0 rank; -1: an error is the answer */
    int64_t ydims[5];
} ecase;

#define F CQ_F32
#define U8 CQ_U8
#define S8 CQ_S8
#define I64 CQ_S64
#define SC(nm, dt, val) {nm, dt, 0, {0}, 1, {val}}

static const ecase CASES[] = {
    /* elementwise, one input */
    {"Relu", "", F, 2, {0, 3}, 0, {{0}}, {0}, {0}, {0}, {0}, 1, 2, {0, 3}},
    {"LeakyRelu", "", F, 2, {0, 3}, 0, {{0}}, {0}, {0}, {"alpha=0.1"}, {0}, 1, 2, {0, 3}},
    {"Sigmoid", "", F, 2, {3, 0}, 0, {{0}}, {0}, {0}, {0}, {0}, 1, 2, {3, 0}},
    {"HardSigmoid", "", F, 2, {0, 3}, 0, {{0}}, {0}, {0}, {0}, {0}, 1, 2, {0, 3}},
    {"HardSwish", "", F, 2, {0, 3}, 0, {{0}}, {0}, {0}, {0}, {0}, 1, 2, {0, 3}},
    {"Tanh", "", F, 2, {0, 3}, 0, {{0}}, {0}, {0}, {0}, {0}, 1, 2, {0, 3}},
    {"Erf", "", F, 2, {0, 3}, 0, {{0}}, {0}, {0}, {0}, {0}, 1, 2, {0, 3}},
    {"Gelu", "", F, 2, {0, 3}, 0, {{0}}, {0}, {0}, {0}, {0}, 1, 2, {0, 3}},
    {"Clip", "", F, 2, {0, 3}, 0, {SC("lo", F, 0), SC("hi", F, 6)}, {0}, {0}, {0}, {0}, 1, 2,
     {0, 3}},
    {"Identity", "", F, 2, {0, 3}, 0, {{0}}, {0}, {0}, {0}, {0}, 1, 2, {0, 3}},
    {"Cast", "", F, 2, {0, 3}, 0, {{0}}, {"to=7"}, {0}, {0}, {0}, 1, 2, {0, 3}},
    {"Softmax", "", F, 2, {2, 0}, 0, {{0}}, {"axis=-1"}, {0}, {0}, {0}, 1, 2, {2, 0}},
    {"Softmax", "", F, 2, {0, 3}, 0, {{0}}, {"axis=-1"}, {0}, {0}, {0}, 1, 2, {0, 3}},
    /* elementwise, two inputs (broadcast against a constant) */
    {"Add", "", F, 2, {0, 3}, 0, {{"b", F, 1, {3}, 1, {1}}}, {0}, {0}, {0}, {0}, 1, 2, {0, 3}},
    {"Sub", "", F, 2, {0, 3}, 0, {{"b", F, 1, {3}, 1, {1}}}, {0}, {0}, {0}, {0}, 1, 2, {0, 3}},
    {"Mul", "", F, 2, {0, 3}, 0, {{"b", F, 1, {3}, 1, {2}}}, {0}, {0}, {0}, {0}, 1, 2, {0, 3}},
    {"Div", "", F, 2, {0, 3}, 0, {{"b", F, 1, {3}, 1, {2}}}, {0}, {0}, {0}, {0}, 1, 2, {0, 3}},
    {"PRelu", "", F, 2, {0, 3}, 0, {{"s", F, 1, {3}, 1, {0.1}}}, {0}, {0}, {0}, {0}, 1, 2,
     {0, 3}},
    /* an empty constant broadcast against a non-empty input is empty */
    {"Add", "", F, 2, {1, 3}, 0, {{"b", F, 2, {0, 3}, 0, {0}}}, {0}, {0}, {0}, {0}, 1, 2,
     {0, 3}},
    /* 2 against 0 does not broadcast (only 1 does): an error naming both */
    {"Add", "", F, 2, {2, 3}, 0, {{"b", F, 2, {0, 3}, 0, {0}}}, {0}, {0}, {0}, {0}, 1, -1,
     {0}},
    /* reductions and normalisations */
    {"ReduceMean", "", F, 2, {0, 3}, 0, {{"axes", I64, 1, {1}, 1, {1}}}, {0}, {0}, {0}, {0}, 1,
     2, {0, 1}},
    {"ReduceMean", "", F, 2, {2, 0}, 0, {{"axes", I64, 1, {1}, 1, {1}}}, {0}, {0}, {0}, {0}, 1,
     2, {2, 1}}, /* the mean of nothing: NaN (VALUES) */
    {"LayerNormalization", "", F, 2, {0, 4}, 0,
     {{"sc", F, 1, {4}, 1, {1}}, {"bi", F, 1, {4}, 1, {0}}}, {"axis=-1"}, {0}, {0}, {0}, 1, 2,
     {0, 4}},
    {"BatchNormalization", "", F, 4, {0, 3, 2, 2}, 0,
     {{"sc", F, 1, {3}, 1, {1}}, {"bi", F, 1, {3}, 1, {0}}, {"me", F, 1, {3}, 1, {0}},
      {"va", F, 1, {3}, 1, {1}}},
     {0}, {0}, {0}, {0}, 1, 4, {0, 3, 2, 2}},
    /* products */
    {"MatMul", "", F, 2, {0, 3}, 0, {{"w", F, 2, {3, 4}, 1, {1}}}, {0}, {0}, {0}, {0}, 1, 2,
     {0, 4}},
    {"MatMul", "", F, 2, {2, 0}, 0, {{"w", F, 2, {0, 4}, 0, {0}}}, {0}, {0}, {0}, {0}, 1, 2,
     {2, 4}}, /* a sum of nothing: zeros */
    {"Gemm", "", F, 2, {0, 3}, 0, {{"w", F, 2, {4, 3}, 1, {1}}, {"c", F, 1, {4}, 1, {1}}},
     {"transB=1"}, {0}, {0}, {0}, 1, 2, {0, 4}},
    {"Conv", "", F, 4, {0, 3, 5, 5}, 0, {{"w", F, 4, {2, 3, 3, 3}, 1, {1}}}, {0}, {0}, {0}, {0},
     1, 4, {0, 2, 3, 3}},
    /* no rows: calq refuses (the kernel is larger than the padded input) */
    {"Conv", "", F, 4, {1, 16, 0, 4}, 0, {{"w", F, 4, {16, 16, 1, 1}, 1, {1}}}, {0}, {0}, {0},
     {0}, 1, -1, {0}},
    {"ConvTranspose", "", F, 4, {0, 2, 3, 3}, 0, {{"w", F, 4, {2, 3, 3, 3}, 1, {1}}}, {0}, {0},
     {0}, {0}, 1, 4, {0, 3, 5, 5}},
    /* pooling */
    {"MaxPool", "", F, 4, {0, 3, 4, 4}, 0, {{0}}, {0}, {"kernel_shape=2,2"}, {0}, {0}, 1, 4,
     {0, 3, 3, 3}},
    {"AveragePool", "", F, 4, {0, 3, 4, 4}, 0, {{0}}, {0}, {"kernel_shape=2,2"}, {0}, {0}, 1, 4,
     {0, 3, 3, 3}},
    {"GlobalAveragePool", "", F, 4, {0, 3, 4, 4}, 0, {{0}}, {0}, {0}, {0}, {0}, 1, 4,
     {0, 3, 1, 1}},
    {"GlobalAveragePool", "", F, 4, {1, 3, 0, 0}, 0, {{0}}, {0}, {0}, {0}, {0}, 1, 4,
     {1, 3, 1, 1}}, /* no pixels: 0 (VALUES) */
    /* quantization */
    {"QuantizeLinear", "", F, 2, {0, 3}, 0, {SC("s", F, 0.1), SC("z", U8, 0)}, {0}, {0}, {0},
     {0}, 1, 2, {0, 3}},
    {"DequantizeLinear", "", U8, 2, {0, 3}, 0, {SC("s", F, 0.1), SC("z", U8, 0)}, {0}, {0},
     {0}, {0}, 1, 2, {0, 3}},
    {"MatMulInteger", "", U8, 2, {0, 3}, 0, {{"b", U8, 2, {3, 4}, 1, {1}}}, {0}, {0}, {0}, {0},
     1, 2, {0, 4}},
    {"QLinearMatMul", "", U8, 2, {0, 3}, 0,
     {SC("as", F, 0.1), SC("az", U8, 0), {"b", U8, 2, {3, 4}, 1, {1}}, SC("bs", F, 0.1),
      SC("bz", U8, 0), SC("ys", F, 0.1), SC("yz", U8, 0)},
     {0}, {0}, {0}, {0}, 1, 2, {0, 4}},
    {"ConvInteger", "", U8, 4, {0, 3, 4, 4}, 0, {{"w", U8, 4, {2, 3, 1, 1}, 1, {1}}}, {0}, {0},
     {0}, {0}, 1, 4, {0, 2, 4, 4}},
    {"QLinearConv", "", U8, 4, {0, 3, 4, 4}, 0,
     {SC("xs", F, 0.1), SC("xz", U8, 0), {"w", S8, 4, {2, 3, 1, 1}, 1, {1}}, SC("ws", F, 0.1),
      SC("wz", S8, 0), SC("ys", F, 0.1), SC("yz", U8, 0)},
     {0}, {0}, {0}, {0}, 1, 4, {0, 2, 4, 4}},
    {"QLinearAdd", "com.microsoft", U8, 2, {0, 3}, 0,
     {SC("as", F, 0.1), SC("az", U8, 0), {"b", U8, 1, {3}, 1, {1}}, SC("bs", F, 0.1),
      SC("bz", U8, 0), SC("ys", F, 0.1), SC("yz", U8, 0)},
     {0}, {0}, {0}, {0}, 1, 2, {0, 3}},
    {"QLinearMul", "com.microsoft", U8, 2, {0, 3}, 0,
     {SC("as", F, 0.1), SC("az", U8, 0), {"b", U8, 1, {3}, 1, {1}}, SC("bs", F, 0.1),
      SC("bz", U8, 0), SC("ys", F, 0.1), SC("yz", U8, 0)},
     {0}, {0}, {0}, {0}, 1, 2, {0, 3}},
    {"QLinearGlobalAveragePool", "com.microsoft", U8, 4, {0, 3, 4, 4}, 0,
     {SC("xs", F, 0.1), SC("xz", U8, 0), SC("ys", F, 0.1), SC("yz", U8, 0)}, {0}, {0}, {0},
     {0}, 1, 4, {0, 3, 1, 1}},
    /* shapes and moves */
    {"Concat", "", F, 2, {0, 3}, 0, {{"b", F, 2, {0, 3}, 0, {0}}}, {"axis=0"}, {0}, {0}, {0}, 1,
     2, {0, 3}},
    {"Concat", "", F, 2, {2, 0}, 0, {{"b", F, 2, {2, 3}, 1, {1}}}, {"axis=1"}, {0}, {0}, {0}, 1,
     2, {2, 3}},
    {"Reshape", "", F, 2, {0, 3}, 0, {{"s", I64, 1, {2}, 2, {-1, 3}}}, {0}, {0}, {0}, {0}, 1, 2,
     {0, 3}},
    {"Reshape", "", F, 2, {0, 3}, 0, {{"s", I64, 1, {2}, 2, {3, 0}}}, {"allowzero=1"}, {0}, {0},
     {0}, 1, 2, {3, 0}},
    {"Flatten", "", F, 3, {0, 3, 2}, 0, {{0}}, {"axis=1"}, {0}, {0}, {0}, 1, 2, {0, 6}},
    {"Transpose", "", F, 2, {0, 3}, 0, {{0}}, {0}, {"perm=1,0"}, {0}, {0}, 1, 2, {3, 0}},
    {"Squeeze", "", F, 3, {0, 1, 3}, 0, {{"a", I64, 1, {1}, 1, {1}}}, {0}, {0}, {0}, {0}, 1, 2,
     {0, 3}},
    {"Unsqueeze", "", F, 2, {0, 3}, 0, {{"a", I64, 1, {1}, 1, {0}}}, {0}, {0}, {0}, {0}, 1, 3,
     {1, 0, 3}},
    {"Shape", "", F, 2, {0, 3}, 0, {{0}}, {0}, {0}, {0}, {0}, 1, 1, {2}},
    {"Gather", "", F, 2, {0, 3}, 0, {{"i", I64, 1, {2}, 2, {0, 2}}}, {"axis=1"}, {0}, {0}, {0},
     1, 2, {0, 2}},
    {"Gather", "", F, 2, {2, 3}, 0, {{"i", I64, 1, {0}, 0, {0}}}, {"axis=0"}, {0}, {0}, {0}, 1,
     2, {0, 3}},
    {"Slice", "", F, 2, {0, 3}, 0,
     {{"st", I64, 1, {1}, 1, {0}}, {"en", I64, 1, {1}, 1, {2}}, {"ax", I64, 1, {1}, 1, {1}}},
     {0}, {0}, {0}, {0}, 1, 2, {0, 2}},
    {"Pad", "", F, 2, {0, 3}, 0, {{"p", I64, 1, {4}, 4, {0, 1, 0, 1}}}, {0}, {0}, {0}, {0}, 1, 2,
     {0, 5}},
    {"Pad", "", F, 2, {0, 3}, 0, {{"p", I64, 1, {4}, 4, {1, 0, 1, 0}}}, {0}, {0}, {0}, {0}, 1, 2,
     {2, 3}}, /* padding an empty tensor makes values */
    {"Split", "", F, 2, {0, 4}, 0, {{"sp", I64, 1, {2}, 2, {2, 2}}}, {"axis=1"}, {0}, {0}, {0},
     2, 2, {0, 2}},
    {"Resize", "", F, 4, {0, 3, 2, 2}, 0,
     {{"", F, 0, {0}, 0, {0}}, {"sc", F, 1, {4}, 4, {1, 1, 2, 2}}}, {0}, {0}, {0},
     {"mode=nearest"}, 1, 4, {0, 3, 4, 4}},
    /* x is the shape: [0, 0] zeros make an empty tensor */
    {"ConstantOfShape", "", I64, 1, {2}, 0, {{0}}, {0}, {0}, {0}, {0}, 1, 2, {0, 0}},
    /* Constant: its value (an empty tensor) added to x */
    {"Constant", "", F, 2, {0, 3}, -1, {{0}}, {0}, {0}, {0}, {0}, 1, 2, {0, 3}},
};

#define N_CASES ((int)(sizeof CASES / sizeof CASES[0]))

/* Values where an empty input makes a non-empty output: the case of op
 * whose expected output starts with dim0 has v as its first value (NaN: a
 * NaN). */
static const struct value_check {
    const char *op;
    int64_t dim0;
    double v;
} VALUES[] = {
    {"ReduceMean", 2, NAN},       /* the mean of nothing, 0 / 0 */
    {"GlobalAveragePool", 1, 0},  /* no pixels: the kernel writes 0 (kern_pool.c) */
    {"MatMul", 2, 0},             /* a sum of nothing */
    {"Pad", 2, 0},                /* all padding, constant 0 */
};

/* Whether output 0's first value is wrong for case c. */
static int wrong_value(const ecase *c, double first)
{
    for (size_t k = 0; k < sizeof VALUES / sizeof VALUES[0]; k++)
        if (!strcmp(VALUES[k].op, c->op) && c->ynd > 0 && c->ydims[0] == VALUES[k].dim0)
            return isnan(VALUES[k].v) ? !isnan(first) : first != VALUES[k].v;
    return 0;
}

static cq_tensor *const_tensor(const cin *c, cq_err *err)
{
    cq_tensor *t = cq_tensor_new(c->dt, c->nd, c->dims, err);
    if (!t)
        return NULL;
    int64_t n = cq_tensor_numel(t);
    for (int64_t k = 0; k < n && c->nv > 0; k++) {
        double v = c->v[k % c->nv];
        void *p = cq_tensor_data(t);
        switch (c->dt) {
        case CQ_F32: ((float *)p)[k] = (float)v; break;
        case CQ_U8: ((uint8_t *)p)[k] = (uint8_t)v; break;
        case CQ_S8: ((int8_t *)p)[k] = (int8_t)v; break;
        case CQ_S64: ((int64_t *)p)[k] = (int64_t)v; break;
        default: break;
        }
    }
    return t;
}

static cq_status set_attrs(cq_graph *g, int n, const ecase *c, cq_err *err)
{
    char name[64];
    for (int k = 0; k < 3 && c->ints[k]; k++) {
        long long v;
        if (sscanf(c->ints[k], "%63[^=]=%lld", name, &v) != 2 ||
            cq_node_set_int(g, n, name, v, err))
            return CQ_EINVAL;
    }
    for (int k = 0; k < 2 && c->intlists[k]; k++) {
        const char *eq = strchr(c->intlists[k], '=');
        int64_t v[8];
        int nv = 0;
        snprintf(name, sizeof name, "%.*s", (int)(eq - c->intlists[k]), c->intlists[k]);
        for (const char *p = eq + 1; *p && nv < 8; p++) {
            v[nv++] = strtoll(p, (char **)&p, 10);
            if (!*p)
                break;
        }
        if (cq_node_set_ints(g, n, name, nv, v, err))
            return CQ_EINVAL;
    }
    for (int k = 0; k < 2 && c->floats[k]; k++) {
        float v;
        if (sscanf(c->floats[k], "%63[^=]=%f", name, &v) != 2 ||
            cq_node_set_float(g, n, name, v, err))
            return CQ_EINVAL;
    }
    for (int k = 0; k < 2 && c->strings[k]; k++) {
        char val[64];
        if (sscanf(c->strings[k], "%63[^=]=%63s", name, val) != 2 ||
            cq_node_set_string(g, n, name, val, strlen(val), err))
            return CQ_EINVAL;
    }
    return CQ_OK;
}

/* The case's graph: x (declared shape when declared, else every dim
 * unknown) -> op -> y0 [, y1]. */
static cq_graph *build(const ecase *c, int declared, cq_err *err)
{
    cq_graph *g = cq_graph_new(err);
    if (!g)
        return NULL;
    int x = cq_graph_value(g, "x", err);
    cq_value *xv = &g->values[x];
    xv->has_type = 1;
    xv->dtype = c->xdt;
    xv->onnx_elem_type = cq_dtype_info(c->xdt)->onnx_type;
    xv->ndim = c->xnd;
    for (int d = 0; d < c->xnd; d++)
        xv->shape[d] = declared ? c->xdims[d] : -1;
    if (cq_graph_add_input(g, x, err))
        goto fail;
    const char *in[MAXC + 1], *out[2] = {"y0", "y1"};
    int n_in = 0;
    if (c->x_at >= 0)
        in[n_in++] = "x";
    for (int k = 0; k < MAXC && c->c[k].name; k++) {
        if (!*c->c[k].name) {
            in[n_in++] = "";
            continue;
        }
        cq_tensor *t = const_tensor(&c->c[k], err);
        int v = t ? cq_graph_value(g, c->c[k].name, err) : -1;
        cq_status st = v < 0 ? CQ_EINVAL : cq_graph_add_initializer(g, v, t, err);
        cq_tensor_release(t);
        if (st)
            goto fail;
        in[n_in++] = c->c[k].name;
    }
    if (c->x_at < 0) { /* Constant: y0 = x + value */
        int64_t dims[2] = {0, 3};
        cq_tensor *t = cq_tensor_new(CQ_F32, 2, dims, err);
        out[0] = "k";
        int n = t ? cq_graph_add_node(g, "Constant", "op", "", 0, NULL, 1, out, err) : -1;
        cq_status st = n < 0 ? CQ_EINVAL : cq_node_set_tensor(g, n, "value", t, err);
        cq_tensor_release(t);
        const char *ain[2] = {"x", "k"}, *aout[1] = {"y0"};
        if (st || cq_graph_add_node(g, "Add", "add", "", 2, ain, 1, aout, err) < 0)
            goto fail;
    } else {
        int n = cq_graph_add_node(g, c->op, "op", c->domain, n_in, in, c->n_out, out, err);
        if (n < 0 || set_attrs(g, n, c, err))
            goto fail;
    }
    for (int k = 0; k < c->n_out; k++)
        if (cq_graph_add_output(g, cq_graph_find(g, out[k] && k == 0 ? "y0" : "y1"), err))
            goto fail;
    return g;
fail:
    cq_graph_free(g);
    return NULL;
}

typedef struct result {
    cq_status code;
    char msg[CQ_ERR_MSG_MAX];
    int nd;
    int64_t dims[CQ_MAX_DIMS];
    double first; /* output 0's first value (f32), NaN when none */
    double cpu_s;
} result;

static void run_case(const ecase *c, int declared, result *r)
{
    cq_err err;
    memset(&err, 0, sizeof err);
    memset(r, 0, sizeof *r);
    r->nd = -1;
    cq_graph *g = build(c, declared, &err);
    if (!g) {
        r->code = err.code ? err.code : CQ_EINVAL;
        snprintf(r->msg, sizeof r->msg, "BUILD: %.900s", err.msg);
        return;
    }
    cq_exec *e = cq_exec_new(g, NULL, &err);
    cq_tensor *x = e ? cq_tensor_new(c->xdt, c->xnd, c->xdims, &err) : NULL;
    cq_tensor *y[2] = {NULL, NULL};
    cq_status st = !e || !x ? err.code : cq_exec_run(e, 1, &x, y, &err);
    r->code = st;
    if (st) {
        memcpy(r->msg, err.msg, sizeof r->msg);
    } else {
        r->nd = y[0]->ndim;
        memcpy(r->dims, y[0]->shape, sizeof r->dims);
        r->first = y[0]->dtype == CQ_F32 && cq_tensor_numel(y[0]) > 0
                       ? ((const float *)cq_tensor_data(y[0]))[0]
                       : NAN;
        /* read every output value: ASan and UBSan see an uninitialised or
         * freed buffer here */
        volatile double sum = 0;
        for (int k = 0; k < c->n_out; k++) {
            const unsigned char *p = cq_tensor_data(y[k]);
            size_t nb = (size_t)cq_tensor_numel(y[k]) * cq_dtype_info(y[k]->dtype)->size;
            for (size_t b = 0; b < nb; b++)
                sum += p[b];
        }
    }
    for (int k = 0; k < 2; k++)
        cq_tensor_release(y[k]);
    cq_tensor_release(x);
    cq_exec_free(e);
    cq_graph_free(g);
}

/* run_case in a child that the alarm ends: a hang is SIGALRM. */
static int run_forked(const ecase *c, int declared, result *r)
{
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fd[0]);
        alarm(MAX_S * 4);
        result res;
        double t0 = tu_cpu_s();
        run_case(c, declared, &res);
        res.cpu_s = tu_cpu_s() - t0;
        ssize_t w = write(fd[1], &res, sizeof res);
        _exit(w == (ssize_t)sizeof res ? 0 : 1);
    }
    close(fd[1]);
    size_t got = tu_read_full(fd[0], r, sizeof *r);
    close(fd[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
        return -2; /* a hang */
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || got != sizeof *r)
        return -1; /* a crash */
    return 0;
}

static void test_empty_every_op(void **state)
{
    (void)state;
    int failures = 0;
    for (int i = 0; i < N_CASES; i++) {
        const ecase *c = &CASES[i];
        for (int declared = 1; declared >= 0; declared--) {
            result r;
            int how = run_forked(c, declared, &r);
            char shape[96] = "";
            size_t o = 0;
            for (int d = 0; d < r.nd && o < sizeof shape - 24; d++)
                o += (size_t)snprintf(shape + o, sizeof shape - o, "%s%lld", d ? ", " : "",
                                      (long long)r.dims[d]);
            const char *why = NULL;
            if (how == -2)
                why = "did not end (a hang)";
            else if (how == -1)
                why = "crashed";
            else if (r.cpu_s > MAX_S)
                why = "took too long";
            else if (r.code != CQ_OK && (!r.msg[0] || !strncmp(r.msg, "BUILD", 5)))
                why = "failed without a message, or the case did not build";
            else if (r.code == CQ_OK && c->ynd < 0)
                why = "an error was expected";
            else if (r.code == CQ_OK && c->ynd >= 0 &&
                     (r.nd != c->ynd || memcmp(r.dims, c->ydims, sizeof(int64_t) * (size_t)r.nd)))
                why = "wrong output shape";
            else if (r.code == CQ_OK && wrong_value(c, r.first))
                why = "wrong value";
            print_message("  %-24s %-8s %s: %s [%s] first %g, %.3f s%s%s\n", c->op,
                          declared ? "declared" : "unknown", how ? "--" : cq_status_name(r.code),
                          r.code ? r.msg : "", shape, r.first, r.cpu_s, why ? "  FAIL: " : "",
                          why ? why : "");
            failures += why != NULL;
        }
    }
    if (failures)
        fail_msg("%d empty-tensor runs failed", failures);
}

/* Every operator of the table has a case. */
static void test_empty_covers_table(void **state)
{
    (void)state;
    int missing = 0;
    for (int k = 0; k < cq_op_count(); k++) {
        const cq_op *op = cq_op_at(k);
        int found = 0;
        for (int i = 0; i < N_CASES && !found; i++)
            found = !strcmp(CASES[i].op, op->name) &&
                    !strcmp(CASES[i].domain, op->domain ? op->domain : "");
        if (!found) {
            print_message("  no empty-tensor case for %s (%s)\n", op->name, op->domain);
            missing++;
        }
    }
    assert_int_equal(missing, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_covers_table),
        cmocka_unit_test(test_empty_every_op),
    };
    return cmocka_run_group_tests_name("empty", tests, NULL, NULL);
}
