/* conv_chain.c - time a chain of N Conv nodes (1x1, C channels, each with its
 * own weights unless shared, a Relu after each when asked) through every
 * stage calq's quantizer takes it: planning and a run (cq_exec_new, the
 * per-node work of cq_exec_node_work), calibration over one item, the
 * quantizer (cq_quant_new, cq_quant_graph), the lowering to the integer form
 * (cq_quant_lower) and the lowered graph's planning and run. Every stage
 * must be linear in the node count (issue 17; bench/NOTES.md "Linear
 * planning").
 *     build/bench/conv_chain N [C [relu [shared [minmax [sens]]]]]
 * minmax 1: min-max observers and ranges (the default histograms take
 * about 40 KB a value: 10^5 nodes would want 8 GB). sens 1: the per-node
 * sensitivity too (cq_quant_sens_new, which builds a graph per quantizable
 * node, and cq_quant_sens_feed on the one item; sens 2: on the integer
 * kernels), after the rest. Prints one JSON line: per stage the process's
 * CPU time in ms (the host's other load disturbs it least), and the total
 * (without the sensitivity). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "calib/calibrate.h"
#include "exec/exec.h"
#include "quant/quant.h"

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int fail(const char *what, const cq_err *err)
{
    fprintf(stderr, "conv_chain: %s: %s\n", what, err->msg);
    return 1;
}

/* x [1, c, 4, 4] -> N x (Conv 1x1 [-> Relu]) -> y; weights 1 / c, bias 0. */
static cq_graph *build(int n, int c, int relu, int shared, cq_err *err)
{
    cq_graph *g = cq_graph_new(err);
    if (!g)
        return NULL;
    g->ir_version = 8;
    g->opsets = calloc(1, sizeof *g->opsets);
    g->opsets[0].domain = calloc(1, 1);
    g->opsets[0].version = 13;
    g->n_opsets = 1;
    int x = cq_graph_value(g, "x", err);
    cq_value *xv = &g->values[x];
    xv->has_type = 1;
    xv->dtype = CQ_F32;
    xv->onnx_elem_type = 1;
    xv->ndim = 4;
    int64_t xs[4] = {1, c, 4, 4}, ws[4] = {c, c, 1, 1}, bs[1] = {c};
    memcpy(xv->shape, xs, sizeof xs);
    if (cq_graph_add_input(g, x, err))
        goto fail;
    char in[32] = "x", out[32], name[32], w[32], b[32];
    for (int i = 0; i < n; i++) {
        if (!shared || i == 0) {
            snprintf(w, sizeof w, "w%d", i);
            snprintf(b, sizeof b, "b%d", i);
            cq_tensor *wt = cq_tensor_empty(CQ_F32, 4, ws, err);
            cq_tensor *bt = wt ? cq_tensor_new(CQ_F32, 1, bs, err) : NULL;
            if (!bt) {
                cq_tensor_release(wt);
                goto fail;
            }
            float *p = cq_tensor_data(wt);
            for (int k = 0; k < c * c; k++)
                p[k] = 1.0f / (float)c;
            int wv = cq_graph_value(g, w, err), bv = cq_graph_value(g, b, err);
            cq_status st = wv < 0 || bv < 0 ? err->code : cq_graph_add_initializer(g, wv, wt, err);
            if (!st)
                st = cq_graph_add_initializer(g, bv, bt, err);
            cq_tensor_release(wt);
            cq_tensor_release(bt);
            if (st)
                goto fail;
        }
        snprintf(out, sizeof out, i == n - 1 && !relu ? "y" : "c%d", i);
        snprintf(name, sizeof name, "conv%d", i);
        const char *ins[3] = {in, w, b}, *outs[1] = {out};
        if (cq_graph_add_node(g, "Conv", name, "", 3, ins, 1, outs, err) < 0)
            goto fail;
        memcpy(in, out, sizeof in);
        if (relu) {
            snprintf(out, sizeof out, i == n - 1 ? "y" : "r%d", i);
            snprintf(name, sizeof name, "relu%d", i);
            const char *rin[1] = {in}, *rout[1] = {out};
            if (cq_graph_add_node(g, "Relu", name, "", 1, rin, 1, rout, err) < 0)
                goto fail;
            memcpy(in, out, sizeof in);
        }
    }
    if (cq_graph_add_output(g, cq_graph_find(g, "y"), err))
        goto fail;
    return g;
fail:
    cq_graph_free(g);
    return NULL;
}

/* Plan h, run it on x, sum the per-node work (as calq.exec's profile
 * asks it); the output's first element into *y0. */
static int plan_run(cq_graph *h, cq_tensor *x, float *y0, int64_t *flops, cq_err *err)
{
    cq_exec *e = cq_exec_new(h, NULL, err);
    if (!e)
        return 1;
    cq_tensor *y = NULL;
    if (cq_exec_run(e, 1, &x, &y, err)) {
        cq_exec_free(e);
        return 1;
    }
    *y0 = ((const float *)cq_tensor_data(y))[0];
    *flops = 0;
    for (int i = 0; i < h->n_nodes; i++) {
        int64_t f, b;
        if (cq_exec_node_work(e, i, &f, &b) >= 0)
            *flops += f;
    }
    cq_tensor_release(y);
    cq_exec_free(e);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || atol(argv[1]) < 1) {
        fprintf(stderr, "usage: %s N [C [relu [shared [minmax [sens]]]]]\n", argv[0]);
        return 2;
    }
    int n = (int)atol(argv[1]), c = argc > 2 ? atoi(argv[2]) : 1;
    int relu = argc > 3 ? atoi(argv[3]) : 0, shared = argc > 4 ? atoi(argv[4]) : 0;
    int minmax = argc > 5 ? atoi(argv[5]) : 0, sens = argc > 6 ? atoi(argv[6]) : 0;
    cq_calib_opts co = CQ_CALIB_OPTS_DEFAULT;
    cq_quant_opts qo = CQ_QUANT_OPTS_DEFAULT;
    if (minmax) {
        co.kind = CQ_OBS_MINMAX;
        qo.act_method = CQ_CALIB_MINMAX;
    }
    if (c < 1)
        c = 1;
    cq_err err;
    double t[10];
    t[0] = cpu_ms();
    cq_graph *g = build(n, c, relu, shared, &err);
    if (!g)
        return fail("build", &err);
    int64_t xs[4] = {1, c, 4, 4};
    cq_tensor *x = cq_tensor_empty(CQ_F32, 4, xs, &err);
    float *p = cq_tensor_data(x);
    for (int k = 0; k < c * 16; k++)
        p[k] = (float)(k % 7) + 1.0f;
    t[1] = cpu_ms();
    float y0;
    int64_t flops;
    if (plan_run(g, x, &y0, &flops, &err))
        return fail("plan and run", &err);
    t[2] = cpu_ms();
    cq_calib *cal = cq_calib_new(g, &co, &err);
    if (!cal || cq_calib_feed(cal, 1, &x, &err))
        return fail("calibrate", &err);
    t[3] = cpu_ms();
    cq_quant *q = cq_quant_new(g, cq_calib_get_stats(cal), &qo, &err);
    if (!q)
        return fail("quant_new", &err);
    t[4] = cpu_ms();
    cq_graph *h = cq_quant_graph(q, &err);
    if (!h)
        return fail("quant_graph", &err);
    t[5] = cpu_ms();
    int count = 0;
    if (cq_quant_lower(h, &count, &err))
        return fail("lower", &err);
    t[6] = cpu_ms();
    float z0;
    int64_t zflops;
    if (plan_run(h, x, &z0, &zflops, &err))
        return fail("lowered plan and run", &err);
    t[7] = cpu_ms();
    t[8] = t[9] = t[7];
    if (sens) {
        cq_quant_sens *sq = cq_quant_sens_new(q, 1, sens == 2, &err);
        if (!sq)
            return fail("sens_new", &err);
        t[8] = cpu_ms();
        if (cq_quant_sens_feed(sq, 1, &x, &err))
            return fail("sens_feed", &err);
        t[9] = cpu_ms();
        double db = 0;
        int64_t items = 0;
        for (int i = 0; i < g->n_nodes; i++)
            if (cq_quant_quantizable(q, i) && (cq_quant_sens_get(sq, i, &db, &items) || items != 1)) {
                fprintf(stderr, "conv_chain: node %d has no sensitivity\n", i);
                return 1;
            }
        cq_quant_sens_free(sq);
    }
    printf("{\"nodes\": %d, \"channels\": %d, \"relu\": %d, \"build_ms\": %.1f, "
           "\"plan_run_ms\": %.1f, \"calib_ms\": %.1f, \"quant_new_ms\": %.1f, "
           "\"quant_graph_ms\": %.1f, \"lower_ms\": %.1f, \"lowered_plan_run_ms\": %.1f, "
           "\"total_ms\": %.1f, \"minmax\": %d, \"rewrites\": %d, \"y0\": %g, \"int8_y0\": %g, "
           "\"sens\": %d, \"sens_new_ms\": %.1f, \"sens_feed_ms\": %.1f}\n",
           n, c, relu, t[1] - t[0], t[2] - t[1], t[3] - t[2], t[4] - t[3], t[5] - t[4],
           t[6] - t[5], t[7] - t[6], t[7] - t[1], minmax, count, (double)y0, (double)z0, sens,
           t[8] - t[7], t[9] - t[8]);
    cq_graph_free(h);
    cq_quant_free(q);
    cq_calib_free(cal);
    cq_tensor_release(x);
    cq_graph_free(g);
    return 0;
}
