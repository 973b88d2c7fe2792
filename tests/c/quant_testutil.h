/* quant_testutil.h - helpers shared by test_quant.c (the quantizer) and
 * test_quant_lower.c (the lowering and the int8 executor): statistics of
 * random items, small graphs, QDQ graphs, copies, lookups by name. */
#ifndef QUANT_TESTUTIL_H
#define QUANT_TESTUTIL_H

#include "exec_testutil.h"
#include "calib/calibrate.h"
#include "kern/kern.h"
#include "onnx/onnx.h"
#include "quant/quant.h"

/* Statistics of g over n random items of shape xs (a copy the caller frees). */
static inline cq_calib_stats *stats_of(cq_graph *g, int nd, const int64_t *xs, int n, uint32_t seed)
{
    cq_err err;
    cq_calib *c = cq_calib_new(g, NULL, &err);
    assert_non_null(c);
    int64_t s[CQ_MAX_DIMS];
    memcpy(s, xs, sizeof(int64_t) * (size_t)nd);
    s[0] = n;
    rng_state = seed;
    cq_tensor *x = rand_tensor(nd, s);
    if (cq_calib_feed(c, 1, &x, &err) != CQ_OK)
        fail_msg("cq_calib_feed: %s", err.msg);
    cq_tensor_release(x);
    cq_calib_stats *out = cq_calib_stats_new(&err);
    assert_non_null(out);
    assert_int_equal(cq_calib_stats_merge(out, cq_calib_get_stats(c), &err), CQ_OK);
    cq_calib_free(c);
    return out;
}

static inline int count_op(const cq_graph *g, const char *op)
{
    int k = 0;
    for (int i = 0; i < g->n_nodes; i++)
        k += !g->nodes[i].dead && !strcmp(g->nodes[i].op_type, op);
    return k;
}

static inline int node_named(const cq_graph *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i].name, name))
            return i;
    fail_msg("no node '%s'", name);
    return -1;
}

static inline cq_quant_node_info info_of(const cq_quant *q, const char *name)
{
    cq_err err;
    cq_quant_node_info in;
    assert_int_equal(cq_quant_node(q, node_named(cq_quant_source(q), name), &in, &err), CQ_OK);
    return in;
}

/* The node of h that writes value name (-1: none). */
static inline int producer_of(const cq_graph *h, const char *name)
{
    int v = cq_graph_find(h, name);
    return v < 0 ? -1 : h->values[v].producer;
}

static inline const cq_tensor *init_of(const cq_graph *h, const char *name)
{
    int v = cq_graph_find(h, name);
    assert_true(v >= 0);
    assert_non_null(h->values[v].data);
    return h->values[v].data;
}

/* x [1, 3, 8, 8] -> conv1 (pads 1) -> r1 = Relu -> conv2 -> y */
static inline cq_graph *conv_relu_conv(void)
{
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    set_opset(g, 13);
    add_io(g, "x", 4, (int64_t[]){1, 3, 8, 8}, "y");
    rng_state = 7;
    add_init(g, "w1", rand_tensor(4, (int64_t[]){4, 3, 3, 3}));
    add_init(g, "b1", rand_tensor(1, (int64_t[]){4}));
    add_init(g, "w2", rand_tensor(4, (int64_t[]){5, 4, 1, 1}));
    add_init(g, "b2", rand_tensor(1, (int64_t[]){5}));
    int n = node(g, "Conv", "conv1", 3, (const char *[]){"x", "w1", "b1"}, "c1");
    cq_node_set_ints(g, n, "pads", 4, (int64_t[]){1, 1, 1, 1}, &err);
    node(g, "Relu", "relu1", 1, (const char *[]){"c1"}, "r1");
    node(g, "Conv", "conv2", 3, (const char *[]){"r1", "w2", "b2"}, "y");
    return g;
}

/* QDQ graph of g quantized with opts; *qout gets the quantizer unless NULL. */
static inline cq_graph *qdq_of(cq_graph *g, cq_calib_stats *st, const cq_quant_opts *o, cq_quant **qout)
{
    cq_err err;
    cq_quant *q = cq_quant_new(g, st, o, &err);
    if (!q)
        fail_msg("cq_quant_new: %s", err.msg);
    cq_graph *h = cq_quant_graph(q, &err);
    if (!h)
        fail_msg("cq_quant_graph: %s", err.msg);
    if (qout)
        *qout = q;
    else
        cq_quant_free(q);
    return h;
}

/* A deep copy of h (through the ONNX writer). */
static inline cq_graph *copy_of(const cq_graph *h)
{
    cq_err err;
    void *buf;
    size_t len;
    assert_int_equal(cq_onnx_save_buffer(h, &buf, &len, &err), CQ_OK);
    cq_graph *c = cq_onnx_load_buffer(buf, len, "copy", &err);
    free(buf);
    assert_non_null(c);
    return c;
}

/* Run h as QDQ in float and lowered onto the integer kernels on the same
 * input; every output value of the two within `steps` of scale. */
static inline void lowered_matches(const cq_graph *h, int nd, const int64_t *xs, float scale, int steps,
                            int want_rewrites)
{
    cq_err err;
    cq_graph *f = copy_of(h), *l = copy_of(h);
    int count;
    assert_int_equal(cq_quant_lower(l, &count, &err), CQ_OK);
    assert_int_equal(count, want_rewrites);
    rng_state = 555;
    cq_tensor *x = rand_tensor(nd, xs);
    cq_tensor *a = run1(f, NULL, x), *b = run1(l, NULL, x);
    assert_true(maxdiff(a, b) <= steps * scale * 1.0001);
    cq_tensor_release(a);
    cq_tensor_release(b);
    cq_tensor_release(x);
    cq_graph_free(f);
    cq_graph_free(l);
}

#endif
