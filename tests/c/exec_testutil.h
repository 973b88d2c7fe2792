/* exec_testutil.h - helpers shared by the executor tests: a seeded
 * generator, hand-built graphs (inputs, initializers, nodes, a residual
 * block), one-shot runs and comparisons. */
#ifndef EXEC_TESTUTIL_H
#define EXEC_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "exec/exec.h"

static uint32_t rng_state = 12345;
static inline float frand(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)((rng_state >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static inline cq_tensor *rand_tensor(int nd, const int64_t *shape)
{
    cq_err err;
    cq_tensor *t = cq_tensor_empty(CQ_F32, nd, shape, &err);
    assert_non_null(t);
    float *p = cq_tensor_data(t);
    for (int64_t i = 0; i < cq_tensor_numel(t); i++)
        p[i] = frand();
    return t;
}

static inline int node(cq_graph *g, const char *op, const char *name, int n_in,
                       const char **in, const char *out)
{
    cq_err err;
    const char *o[1] = {out};
    int n = cq_graph_add_node(g, op, name, "", n_in, in, 1, o, &err);
    assert_true(n >= 0);
    return n;
}

static inline void add_init(cq_graph *g, const char *name, cq_tensor *t)
{
    cq_err err;
    int v = cq_graph_value(g, name, &err);
    assert_int_equal(cq_graph_add_initializer(g, v, t, &err), CQ_OK);
    cq_tensor_release(t);
}

static inline void add_io(cq_graph *g, const char *in, int nd, const int64_t *shape,
                          const char *out)
{
    cq_err err;
    int x = cq_graph_value(g, in, &err);
    g->values[x].has_type = 1;
    g->values[x].dtype = CQ_F32;
    g->values[x].onnx_elem_type = 1;
    g->values[x].ndim = nd;
    memcpy(g->values[x].shape, shape, sizeof(int64_t) * (size_t)nd);
    assert_int_equal(cq_graph_add_input(g, x, &err), CQ_OK);
    assert_int_equal(cq_graph_add_output(g, cq_graph_value(g, out, &err), &err), CQ_OK);
}

static inline void set_opset(cq_graph *g, int64_t v)
{
    g->opsets = calloc(1, sizeof *g->opsets);
    g->opsets[0].domain = calloc(1, 1);
    g->opsets[0].version = v;
    g->n_opsets = 1;
}

static inline cq_tensor *run1(cq_graph *g, const cq_exec_opts *o, cq_tensor *x)
{
    cq_err err;
    cq_exec *e = cq_exec_new(g, o, &err);
    assert_non_null(e);
    cq_tensor *out[1];
    assert_int_equal(cq_exec_run(e, 1, &x, out, &err), CQ_OK);
    cq_exec_free(e);
    return out[0];
}

/* One run of e on a random input of nd dimensions (its output dropped): the
 * plan made, the executor's values laid out as a run leaves them. */
static inline void run_rand(cq_exec *e, int nd, const int64_t *xs)
{
    cq_err err;
    cq_tensor *x = rand_tensor(nd, xs), *out[1];
    assert_int_equal(cq_exec_run(e, 1, &x, out, &err), CQ_OK);
    cq_tensor_release(out[0]);
    cq_tensor_release(x);
}

static inline double maxabs(const cq_tensor *a)
{
    const float *p = cq_tensor_data(a);
    double m = 0;
    for (int64_t i = 0; i < cq_tensor_numel(a); i++)
        m = fmax(m, fabs((double)p[i]));
    return m;
}

static inline double maxdiff(const cq_tensor *a, const cq_tensor *b)
{
    assert_true(cq_tensor_same_shape(a, b));
    const float *p = cq_tensor_data(a), *q = cq_tensor_data(b);
    double m = 0;
    for (int64_t i = 0; i < cq_tensor_numel(a); i++)
        m = fmax(m, fabs((double)p[i] - q[i]));
    return m;
}

/* x -> Conv a -> r -> Conv b -> c; Add(c, r) (slot order by trial) ->
 * [Relu] -> y: a residual block on random odd shapes. keep_c makes c a graph
 * output too (then it must not be fused). */
static inline cq_graph *residual_block(int trial, const int64_t *xs, int64_t k, int relu,
                                       int keep_c)
{
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    int64_t c = xs[1], ws[4] = {c, c, k, k}, p = k / 2;
    add_io(g, "x", 4, xs, relu ? "y" : "s");
    rng_state = 4242u + (uint32_t)trial;
    add_init(g, "wa", rand_tensor(4, ws));
    add_init(g, "wb", rand_tensor(4, ws));
    add_init(g, "bb", rand_tensor(1, &c));
    int n = node(g, "Conv", "conv_a", 2, (const char *[]){"x", "wa"}, "r");
    cq_node_set_ints(g, n, "pads", 4, (int64_t[]){p, p, p, p}, &err);
    n = node(g, "Conv", "conv_b", 3, (const char *[]){"r", "wb", "bb"}, "c");
    cq_node_set_ints(g, n, "pads", 4, (int64_t[]){p, p, p, p}, &err);
    node(g, "Add", "add", 2, trial % 2 ? (const char *[]){"c", "r"} : (const char *[]){"r", "c"},
         "s");
    if (relu)
        node(g, "Relu", "relu", 1, (const char *[]){"s"}, "y");
    if (keep_c)
        assert_int_equal(cq_graph_add_output(g, cq_graph_value(g, "c", &err), &err), CQ_OK);
    return g;
}

#endif
