/* probe_misc.c - the probe's conversion throughputs (calq's quantize,
 * dequantize, requantize-table and bf16 loops), the executor's fixed cost a
 * node, the fp32 depthwise block kernel's fit, and the memory-bound loops
 * (eltwise's Relu, the int8 Mul's cost a call); the kernels' timing helpers
 * are probe_kern.c's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/tensor.h"
#include "cost/probe_internal.h"
#include "exec/exec.h"
#include "graph/graph.h"
#include "kern/kern.h"
#include "kern/kern_qelt.h"

/* ---- conversions ---- */

typedef struct c_ctx {
    int which;
    float *f;
    void *q;
    uint8_t lut[256];
    int64_t n;
} c_ctx;

static cq_status c_run(void *ctx, cq_err *err)
{
    c_ctx *c = ctx;
    switch (c->which) {
    case 0:
        return cq_quantize_f32_8(c->f, 1, 64, c->n / 64, 0.05f, 128, CQ_U8, c->q, 1, err);
    case 1:
        return cq_dequantize_8_f32(c->q, CQ_U8, 1, 64, c->n / 64, 1, 0.05f, 128, c->f, err);
    case 2:
        cq_lut_8(c->lut, c->q, (uint8_t *)c->q + c->n, c->n);
        return CQ_OK;
    case 3: {
        uint16_t *h = c->q;
        for (int64_t i = 0; i < c->n; i++)
            h[i] = cq_f32_to_bf16(c->f[i]);
        return CQ_OK;
    }
    default: {
        const uint16_t *h = c->q;
        for (int64_t i = 0; i < c->n; i++)
            c->f[i] = cq_bf16_to_f32(h[i]);
        return CQ_OK;
    }
    }
}

double cq_probe_cvt_rate(int which, double ms, cq_err *err)
{
    if (which < 0 || which > 4)
        return cq_errf(err, CQ_EINVAL, "probe: conversion %d is not 0..4", which), -1;
    c_ctx c = {.which = which, .n = 64 * 1024};
    c.f = cq_alloc((size_t)c.n * sizeof(float));
    c.q = cq_alloc((size_t)c.n * 4);
    if (!c.f || !c.q) {
        cq_free(c.f);
        cq_free(c.q);
        return cq_errf(err, CQ_ENOMEM, "probe: no memory for the conversion buffers"), -1;
    }
    cq__probe_fill_f32(c.f, (size_t)c.n, 4.0f);
    cq__probe_fill_8(c.q, (size_t)c.n * 4);
    for (int i = 0; i < 256; i++) { /* requantize: scale 0.05 zp 128 -> scale 0.07 zp 120 */
        float v = roundf((float)(i - 128) * 0.05f / 0.07f) + 120;
        c.lut[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
    double t = cq__probe_best_time(c_run, &c, ms, err);
    cq_free(c.f);
    cq_free(c.q);
    return t > 0 ? (double)c.n / t : -1;
}

/* ---- the executor's fixed cost per node ---- */

/* A graph of nodes Add nodes in a chain, y_i = y_(i-1) + x on 16 floats,
 * run by the executor; the time per node that runs (not fused away). The
 * arithmetic is a few ns, so this is the dispatch, the plan's bookkeeping and
 * the observer-free run loop. */
double cq_probe_node_ns(int nodes, double ms, cq_err *err)
{
    if (nodes < 1 || nodes > 4096)
        return cq_errf(err, CQ_EINVAL, "probe: %d nodes is not 1..4096", nodes), -1;
    double ns = -1;
    cq_tensor *x = NULL, *out = NULL;
    cq_exec *e = NULL;
    cq_graph *g = cq_graph_new(err);
    if (!g)
        return -1;
    int64_t shape[2] = {1, 16};
    int v = cq_graph_value(g, "x", err);
    if (v < 0 || cq_graph_add_input(g, v, err))
        goto out;
    g->values[v].has_type = 1;
    g->values[v].dtype = CQ_F32;
    g->values[v].ndim = 2;
    g->values[v].shape[0] = 1;
    g->values[v].shape[1] = 16;
    char prev[32] = "x", name[32];
    for (int i = 0; i < nodes; i++) {
        snprintf(name, sizeof name, "y%d", i);
        const char *in[2] = {prev, "x"}, *o[1] = {name};
        if (cq_graph_add_node(g, "Add", name, "", 2, in, 1, o, err) < 0)
            goto out;
        memcpy(prev, name, sizeof prev);
    }
    int vo = cq_graph_find(g, prev);
    if (cq_graph_add_output(g, vo, err))
        goto out;
    e = cq_exec_new(g, NULL, err);
    if (!e)
        goto out;
    x = cq_tensor_new(CQ_F32, 2, shape, err);
    if (!x)
        goto out;
    memset(cq_tensor_data(x), 0, 16 * sizeof(float));
    int ran = 0;
    double best = 1e30, spent = 0;
    for (int r = 0; r < 10000 && (r < 5 || spent < ms * 1e-3); r++) {
        double t0 = cq_probe_now();
        if (cq_exec_run(e, 1, &x, &out, err))
            goto out;
        double t = cq_probe_now() - t0;
        cq_tensor_release(out);
        out = NULL;
        spent += t;
        best = t < best ? t : best;
    }
    for (int i = 0; i < nodes; i++)
        ran += !cq_exec_is_fused(e, i);
    ns = best / (ran > 0 ? ran : 1) * 1e9;
out:
    cq_tensor_release(out);
    cq_tensor_release(x);
    cq_exec_free(e);
    cq_graph_free(g);
    return ns;
}

/* ---- fp32 depthwise, the 16-channel-block kernel ---- */

static double fill(int64_t n, int64_t t)
{
    return n <= 0 || t <= 1 ? 1.0 : (double)n / (double)(((n + t - 1) / t) * t);
}

/* Generic shapes, none a model's own layer, each on the block kernel (kern_conv.c's
 * dwcb_chosen): small 3x3 planes, 5x5 on rows under 64, strided and dilated.
 * Its time is a MAC part and a part an element (the input copied into the
 * padded block, the output stored): the 3x3s pay more a MAC than the 5x5s. */
double cq__probe_dwcb_fit(double ms, double *macs, double *elem_s, cq_err *err)
{
    static const conv_ref r[5] = {{256, 256, 3, 14, 256, 1}, {96, 96, 3, 10, 96, 1},
                                  {160, 160, 5, 24, 160, 1}, {96, 96, 5, 48, 96, 2},
                                  {128, 128, 3, 32, 128, 1}};
    static const int flags[5] = {0, 0, 0, 0, CONV_DIL2};
    double x[5][3], t[5], mm[5], c[2], sum_u = 0, sum_t = 0;
    for (int pass = 0; pass < CQ_PROBE_FIT_PASSES; pass++)
        for (int i = 0; i < 5; i++) {
            double ti = cq__probe_time_conv(r[i], flags[i], ms / CQ_PROBE_FIT_PASSES, &mm[i], err);
            if (ti < 0)
                return -1;
            t[i] = pass == 0 || ti < t[i] ? ti : t[i];
        }
    for (int i = 0; i < 5; i++) {
        double m = mm[i];
        int64_t o = (r[i].hw + r[i].stride - 1) / r[i].stride, k = r[i].k;
        /* cost_kernel.c's fill: 16 channels; 4 pixels a row (3x3), else 8 of the plane */
        double f = fill(r[i].c_out, 16) *
                   (k * k > 9 || flags[i] ? fill(o * o, 8) : fill(o, 4));
        x[i][0] = m / f;
        x[i][1] = (double)(r[i].c_in * r[i].hw * r[i].hw + r[i].c_out * o * o);
        sum_u += x[i][0];
        sum_t += t[i];
    }
    *macs = sum_u;
    if (cq__probe_lsq(5, 2, (const double(*)[3])x, t, c)) {
        *elem_s = 0;
        return sum_t;
    }
    /* the MAC part no faster than the FMA peak (cq__probe_fit_capped) */
    double peak = cq_probe_chain_ok(CQ_PROBE_FMA_F32) ? cq_probe_chain_rate(CQ_PROBE_FMA_F32, 10, 3) : 0;
    cq__probe_fit_capped(5, 2, (const double(*)[3])x, t, peak, c);
    *elem_s = c[1];
    return c[0] * sum_u;
}

/* ---- eltwise: Relu over 256 K floats (1 MB in, 1 MB out: in L2) ---- */

typedef struct e_ctx {
    float *x, *y;
    int64_t n;
} e_ctx;

static cq_status e_run(void *ctx, cq_err *err)
{
    (void)err;
    e_ctx *e = ctx;
    cq_unary_f32(CQ_UN_RELU, 0, 0, e->x, e->y, e->n);
    return CQ_OK;
}

double cq__probe_time_eltwise(double ms, double *bytes, cq_err *err)
{
    e_ctx e = {cq_alloc((256 << 10) * sizeof(float)), cq_alloc((256 << 10) * sizeof(float)), 256 << 10};
    double t = -1;
    if (e.x && e.y) {
        cq__probe_fill_f32(e.x, (size_t)e.n, 1.0f);
        t = cq__probe_best_time(e_run, &e, ms, err);
    } else {
        cq_errf(err, CQ_ENOMEM, "probe: no memory for the eltwise buffers");
    }
    cq_free(e.x);
    cq_free(e.y);
    /* the bytes as cost.c counts them for this loop: the input read from
     * L2, the output written to L2 twice (its lines read for ownership,
     * then written back), so the estimator gives it its measured time */
    *bytes = 3.0 * (double)e.n * 4;
    return t;
}

/* ---- nearest upsampling on NCHW16c: 64 channels at 28x28 by 2x2 (200 KB
 * in, 800 KB out: in L2) ---- */

typedef struct u_ctx {
    float *x, *y;
} u_ctx;

static cq_status u_run(void *ctx, cq_err *err)
{
    (void)err;
    u_ctx *u = ctx;
    cq_upsample_blocked_f32(4, 28, 28, 2, 2, u->x, u->y);
    return CQ_OK;
}

double cq__probe_time_upsample_px(double ms, cq_err *err)
{
    u_ctx u = {cq_alloc(64 * 28 * 28 * sizeof(float)), cq_alloc(64 * 56 * 56 * sizeof(float))};
    double t = -1;
    if (u.x && u.y) {
        cq__probe_fill_f32(u.x, 64 * 28 * 28, 1.0f);
        t = cq__probe_best_time(u_run, &u, ms, err);
    } else {
        cq_errf(err, CQ_ENOMEM, "probe: no memory for the upsampling buffers");
    }
    cq_free(u.x);
    cq_free(u.y);
    return t < 0 ? -1 : t / (4.0 * 56 * 56);
}

/* ---- QLinearMul a row a pixel (a per-channel scale on NHWC codes) ---- */

typedef struct m_ctx {
    uint8_t *a, *b, *y;
    int64_t n, c; /* elements; c per call (0: one call) */
} m_ctx;

static cq_status m_run(void *ctx, cq_err *err)
{
    m_ctx *m = ctx;
    if (!m->c)
        return cq_qmul_8(CQ_U8, m->a, m->n, 0.02f, 128, m->b, m->n, 0.01f, 0, 0.03f, 128, m->y,
                         m->n, err);
    /* rows of c against one row, as the executor runs a per-channel scale */
    return cq_qmul_8_rows(CQ_U8, m->a, m->n / m->c, m->c, 0.02f, 128, m->b, 0.01f, 0, 0.03f, 128,
                          m->y, err);
}

double cq__probe_time_qmul_call(double ms, double *elem_s, cq_err *err)
{
    *elem_s = 0;
    m_ctx m = {cq_alloc(1 << 17), cq_alloc(1 << 17), cq_alloc(1 << 17), 1 << 17, 0};
    double t = -1;
    if (m.a && m.b && m.y) {
        cq__probe_fill_8(m.a, (size_t)m.n);
        cq__probe_fill_8(m.b, (size_t)m.n);
        double t1 = cq__probe_best_time(m_run, &m, ms, err);
        *elem_s = t1 > 0 ? t1 / (double)m.n : 0;
        m.c = 32;
        double t2 = t1 >= 0 ? cq__probe_best_time(m_run, &m, ms, err) : -1;
        t = t2 >= 0 ? (t2 > t1 ? (t2 - t1) / (double)(m.n / m.c) : 0) : -1;
    } else {
        cq_errf(err, CQ_ENOMEM, "probe: no memory for QLinearMul");
    }
    cq_free(m.a);
    cq_free(m.b);
    cq_free(m.y);
    return t;
}

/* ---- QLinearGlobalAveragePool on NHWC codes: 96 channels at 56x56 (301 KB
 * in L2), the executor's layout between int8 kernels ---- */

typedef struct g_ctx {
    uint8_t *x, *y;
} g_ctx;

static cq_status g_run(void *ctx, cq_err *err)
{
    g_ctx *g = ctx;
    return cq_global_avgpool_8(CQ_U8, g->x, 1, 96, 56 * 56, 1, 0.05f, 128, 0.02f, 128, g->y, err);
}

double cq__probe_time_gap8(double ms, double *bytes, cq_err *err)
{
    g_ctx g = {cq_alloc(96 * 56 * 56), cq_alloc(96)};
    double t = -1;
    if (g.x && g.y) {
        cq__probe_fill_8(g.x, 96 * 56 * 56);
        t = cq__probe_best_time(g_run, &g, ms, err);
    } else {
        cq_errf(err, CQ_ENOMEM, "probe: no memory for the global average pool");
    }
    cq_free(g.x);
    cq_free(g.y);
    /* as cost.c counts them: the codes read (from L2), the 96 outputs
     * written (twice past L1) */
    *bytes = 96.0 * 56 * 56 + 2 * 96.0;
    return t;
}

/* What an exp activation (Sigmoid, SiLU, Tanh, HardSigmoid: a polynomial exp
 * and a reciprocal a vector) costs a conv an output element, as k's unit
 * `name`: conv r with SiLU against r with Relu, the difference over its
 * outputs (0 where SiLU measured no slower). The pixel-major convs apply it
 * in their tile epilogue, the depthwise kernels in a pass over each plane
 * they wrote (kern_act_avx512.h), so each kind has its own unit. 0 or -1. */
int cq__probe_act_exp(cq_probe_kern *k, const char *name, conv_ref r, double ms, cq_err *err)
{
    double m, relu = cq__probe_time_conv(r, 0, ms, &m, err), silu;
    if (relu < 0 || (silu = cq__probe_time_conv(r, CONV_SILU, ms, &m, err)) < 0)
        return -1;
    if (k) {
        int64_t o = (r.hw + 2 * (r.k / 2) - r.k) / r.stride + 1;
        k->unit = name;
        k->unit_s = silu > relu ? (silu - relu) / ((double)r.c_out * (double)(o * o)) : 0;
    }
    return 0;
}
