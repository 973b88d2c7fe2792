/* test_limits_quant.c - linear time past planning (issue 17): a chain of
 * 10^3, 10^4 and 10^5 small Conv nodes (1 channel 1x1, each followed by a
 * Relu) is planned, run, calibrated (min-max observers: the histograms take
 * about 40 KB a value), quantized (cq_quant_new, cq_quant_graph), lowered
 * to the integer form (cq_quant_lower), planned and run again, and a chain
 * of 32-channel convolutions (the NCHW16c layout's planning) is planned and
 * run; each step ten times the nodes must take about ten times the CPU
 * time, not a hundred. Before, the quantizer asked who reads each value by
 * walking every node, named each new node by walking every node, the
 * statistics were a list searched per value and a profile walked every node
 * per node: a chain of 16,000 took 15 s, 10^5 would have taken hours.
 * Also here: the readers window (graph.h) answers as the walk does through
 * a pass's edits, and the suffix hints of new names give the lowest free
 * suffix. The per-node sensitivity (cq_quant_sens_*) is timed on chains of
 * 10^2 .. 10^4 (it built each node's graph from a copy of the whole graph:
 * a chain of 1,000 took 3.8 s, 10^4 would have taken minutes). Each timed
 * case runs in a forked child that measures its CPU time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "child_testutil.h"

#include "calib/calibrate.h"
#include "exec/exec.h"
#include "kern/kern.h"
#include "quant/quant.h"

/* Under AddressSanitizer everything runs several times slower and takes
 * more memory: the chains stop at 10^4 there. */
#if defined(__SANITIZE_ADDRESS__)
#define SLOW 4
#define TOP 10000
#else
#define SLOW 1
#define TOP 100000
#endif

/* The maps' side: 7x7 for 32 channels, where the 1x1 pixel-major kernel
 * holds NCHW16c (its 7-pixel tiles fill a row), 4x4 otherwise. */
#define HW(c) ((c) == 32 ? 7 : 4)

/* x [1, c, HW, HW] -> n x (Conv 1x1 -> Relu) -> y; the weights 1 / c, their
 * own per node unless shared. */
static cq_graph *conv_chain(int n, int c, int shared, cq_err *err)
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
    int64_t xs[4] = {1, c, HW(c), HW(c)}, ws[4] = {c, c, 1, 1}, bs[1] = {c};
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
            cq_status st = wv < 0 || bv < 0 ? CQ_ENOMEM : cq_graph_add_initializer(g, wv, wt, err);
            if (!st)
                st = cq_graph_add_initializer(g, bv, bt, err);
            cq_tensor_release(wt);
            cq_tensor_release(bt);
            if (st)
                goto fail;
        }
        snprintf(out, sizeof out, "c%d", i);
        snprintf(name, sizeof name, "conv%d", i);
        const char *ins[3] = {in, w, b}, *outs[1] = {out};
        if (cq_graph_add_node(g, "Conv", name, "", 3, ins, 1, outs, err) < 0)
            goto fail;
        memcpy(in, out, sizeof in);
        snprintf(out, sizeof out, i == n - 1 ? "y" : "r%d", i);
        snprintf(name, sizeof name, "relu%d", i);
        const char *rin[1] = {in}, *rout[1] = {out};
        if (cq_graph_add_node(g, "Relu", name, "", 1, rin, 1, rout, err) < 0)
            goto fail;
        memcpy(in, out, sizeof in);
    }
    if (cq_graph_add_output(g, cq_graph_find(g, "y"), err))
        goto fail;
    return g;
fail:
    cq_graph_free(g);
    return NULL;
}

/* Plan h, run it on x, ask every node's work (as a profile does); y[0],
 * and the count of values kept blocked (NCHW16c). */
static cq_status plan_run(cq_graph *h, cq_tensor *x, float *y0, int *blocked, cq_err *err)
{
    cq_exec *e = cq_exec_new(h, NULL, err);
    if (!e)
        return err->code;
    *blocked = 0;
    for (int v = 0; v < h->n_values; v++)
        *blocked += cq_exec_value_blocked(e, v) != 0;
    cq_tensor *y = NULL;
    cq_status st = cq_exec_run(e, 1, &x, &y, err);
    if (!st) {
        *y0 = ((const float *)cq_tensor_data(y))[0];
        for (int i = 0; i < h->n_nodes; i++) {
            int64_t f, b;
            cq_exec_node_work(e, i, &f, &b);
        }
    }
    cq_tensor_release(y);
    cq_exec_free(e);
    return st;
}

typedef struct job {
    int n, c, shared, quantize, sens;
} job;

/* The whole path on one chain; the result's first value checked (inputs
 * 1, weights 1 / c: every layer keeps 1; int8 within a step). */
static cq_status chain_job(const job *j, cq_err *err)
{
    cq_graph *g = conv_chain(j->n, j->c, j->shared, err);
    if (!g)
        return err->code;
    int64_t xs[4] = {1, j->c, HW(j->c), HW(j->c)};
    cq_tensor *x = cq_tensor_empty(CQ_F32, 4, xs, err);
    cq_calib *cal = NULL;
    cq_quant *q = NULL;
    cq_graph *h = NULL;
    cq_status st = x ? CQ_OK : err->code;
    for (int k = 0; !st && k < j->c * HW(j->c) * HW(j->c); k++)
        ((float *)cq_tensor_data(x))[k] = 1.0f;
    float y0 = 0, z0 = 0;
    int blocked = 0;
    if (!st)
        st = plan_run(g, x, &y0, &blocked, err);
    if (!st && y0 != 1.0f)
        st = cq_errf(err, CQ_ESTATE, "fp32 chain: %g, not 1", (double)y0);
    /* 32 channels on AVX-512: the convolutions hand NCHW16c to each other
     * (the last output, a graph output, stays NCHW) */
    if (!st && j->c == 32 && cq_kern_isa() == CQ_ISA_AVX512 && blocked != j->n - 1)
        st = cq_errf(err, CQ_ESTATE, "%d values blocked, not %d", blocked, j->n - 1);
    if (!st && j->quantize) {
        cq_calib_opts co = CQ_CALIB_OPTS_DEFAULT;
        co.kind = CQ_OBS_MINMAX;
        cq_quant_opts qo = CQ_QUANT_OPTS_DEFAULT;
        qo.act_method = CQ_CALIB_MINMAX;
        cal = cq_calib_new(g, &co, err);
        st = !cal ? err->code : cq_calib_feed(cal, 1, &x, err);
        if (!st && !(q = cq_quant_new(g, cq_calib_get_stats(cal), &qo, err)))
            st = err->code;
        if (!st && !(h = cq_quant_graph(q, err)))
            st = err->code;
        int count = 0;
        if (!st)
            st = cq_quant_lower(h, &count, err);
        if (!st && count != j->n)
            st = cq_errf(err, CQ_ESTATE, "lowered %d of %d convolutions", count, j->n);
        if (!st)
            st = plan_run(h, x, &z0, &blocked, err);
        if (!st && (z0 < 0.98f || z0 > 1.02f))
            st = cq_errf(err, CQ_ESTATE, "int8 chain: %g, not 1", (double)z0);
    }
    cq_graph_free(h);
    cq_quant_free(q);
    cq_calib_free(cal);
    cq_tensor_release(x);
    cq_graph_free(g);
    return st;
}

/* The sensitivity of every node of the chain (min-max statistics over the
 * one item): cq_quant_sens_new, a feed and a get per node; *cpu_s gets
 * its CPU time. Inputs 1, weights 1: each Conv's output is 1 and its
 * input's range [0, 1] (the Relu's), so the quantized node is exact. */
static cq_status sens_job(const job *j, double *cpu_s, cq_err *err)
{
    cq_graph *g = conv_chain(j->n, j->c, j->shared, err);
    if (!g)
        return err->code;
    int64_t xs[4] = {1, j->c, HW(j->c), HW(j->c)};
    cq_tensor *x = cq_tensor_empty(CQ_F32, 4, xs, err);
    if (x)
        cq_tensor_fill(x, 1.0);
    cq_calib_opts co = CQ_CALIB_OPTS_DEFAULT;
    co.kind = CQ_OBS_MINMAX;
    cq_quant_opts qo = CQ_QUANT_OPTS_DEFAULT;
    qo.act_method = CQ_CALIB_MINMAX;
    cq_calib *cal = x ? cq_calib_new(g, &co, err) : NULL;
    cq_status st = !cal ? err->code : cq_calib_feed(cal, 1, &x, err);
    cq_quant *q = NULL;
    cq_quant_sens *s = NULL;
    if (!st && !(q = cq_quant_new(g, cq_calib_get_stats(cal), &qo, err)))
        st = err->code;
    double t0 = tu_cpu_s();
    if (!st && !(s = cq_quant_sens_new(q, 1, 0, err)))
        st = err->code;
    if (!st)
        st = cq_quant_sens_feed(s, 1, &x, err);
    int count = 0;
    for (int i = 0; !st && i < g->n_nodes; i++) {
        double db;
        int64_t items;
        if (cq_quant_sens_get(s, i, &db, &items))
            continue;
        count++;
        if (items != 1 || db != INFINITY)
            st = cq_errf(err, CQ_ESTATE, "node %d: SQNR %g dB over %lld items, not +inf over 1",
                         i, db, (long long)items);
    }
    *cpu_s = tu_cpu_s() - t0;
    if (!st && count != j->n)
        st = cq_errf(err, CQ_ESTATE, "the sensitivity of %d nodes, not %d", count, j->n);
    cq_quant_sens_free(s);
    cq_quant_free(q);
    cq_calib_free(cal);
    cq_tensor_release(x);
    cq_graph_free(g);
    return st;
}

typedef struct outcome {
    cq_status code;
    char msg[CQ_ERR_MSG_MAX];
    double cpu_s;
} outcome;

static void measure(const job *j, outcome *o)
{
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fd[0]);
        outcome r;
        memset(&r, 0, sizeof r);
        cq_err err;
        memset(&err, 0, sizeof err);
        double t0 = tu_cpu_s();
        if (j->sens) {
            r.code = sens_job(j, &r.cpu_s, &err);
        } else {
            r.code = chain_job(j, &err);
            r.cpu_s = tu_cpu_s() - t0;
        }
        if (r.code)
            memcpy(r.msg, err.msg, sizeof r.msg);
        ssize_t w = write(fd[1], &r, sizeof r);
        _exit(w == (ssize_t)sizeof r ? 0 : 1);
    }
    close(fd[1]);
    memset(o, 0, sizeof *o);
    size_t got = tu_read_full(fd[0], o, sizeof *o);
    close(fd[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || got != sizeof *o)
        fail_msg("the chain's process died (status %#x)", status);
}

/* Chains of lo .. top nodes (decades): each decade's CPU time at most 40x
 * the one before (linear is 10x; the growing node arrays leave the caches,
 * the host is shared) and the top one under max_s. */
static void expect_linear(const char *what, job base, int lo, int top, double max_s)
{
    double prev = 0;
    for (int n = lo; n <= top; n *= 10) {
        job j = base;
        j.n = n;
        outcome best = {0};
        for (int r = 0; r < (n < top ? 2 : 1); r++) { /* best of two: a shared machine */
            outcome o;
            measure(&j, &o);
            if (o.code != CQ_OK)
                fail_msg("%s, %d nodes: %s", what, n, o.msg);
            if (r == 0 || o.cpu_s < best.cpu_s)
                best = o;
        }
        print_message("  %s, chain of %d: %.3f s CPU\n", what, n, best.cpu_s);
        double floor = prev > 0.005 ? prev : 0.005;
        if (prev > 0 && best.cpu_s > 40 * floor)
            fail_msg("%s: %d nodes took %.1fx the time of %d: not linear", what, n,
                     best.cpu_s / prev, n / 10);
        if (n == top && best.cpu_s > max_s * SLOW)
            fail_msg("%s: %d nodes took %.3f s of CPU, above %.0f s", what, n, best.cpu_s,
                     max_s * SLOW);
        prev = best.cpu_s;
    }
}

static void test_limits_quant_chain_linear(void **state)
{
    (void)state;
    /* 10^5 Conv + Relu pairs: about 13 s of CPU on the 2-vCPU VM at load 10 */
    expect_linear("Conv+Relu plan, calibrate, quantize, lower, run", (job){0, 1, 0, 1, 0}, 1000,
                  TOP, 120);
}

static void test_limits_layout_chain_linear(void **state)
{
    (void)state;
    /* 32 channels 7x7: the convolutions hold NCHW16c between them */
    expect_linear("32-channel Conv+Relu plan and run", (job){0, 32, 1, 0, 0}, 1000, TOP, 60);
}

static void test_limits_sens_chain_linear(void **state)
{
    (void)state;
    /* 10^4 Conv + Relu pairs: about 0.7 s of CPU at load 5 (10^5: 11 s) */
    expect_linear("Conv+Relu sensitivity per node", (job){0, 1, 0, 1, 1}, 100, 10000, 20);
}

/* The readers window answers as the walk does through adds, rewires (noted)
 * and deaths; the reference is computed here from the inputs. */
static void test_limits_readers_window(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    assert_non_null(g);
    char a[16], b[16], c[16];
    uint32_t rng = 12345;
#define RND(m) ((int)((rng = rng * 1664525u + 1013904223u) >> 8) % (m))
    for (int i = 0; i < 200; i++) { /* value i+40 from two of the earlier ones */
        snprintf(a, sizeof a, "v%d", RND(i + 40));
        snprintf(b, sizeof b, "v%d", RND(i + 40));
        snprintf(c, sizeof c, "v%d", i + 40);
        const char *in[2] = {a, b}, *out[1] = {c};
        assert_true(cq_graph_add_node(g, "Add", c, "", 2, in, 1, out, &err) >= 0);
    }
    assert_int_equal(cq_graph_readers_begin(g, &err), CQ_OK);
    assert_int_equal(cq_graph_readers_begin(g, &err), CQ_OK); /* nested */
    int got[512], want[512];
    for (int round = 0; round < 400; round++) {
        int kind = RND(4), nv = g->n_values;
        if (kind == 0) { /* a node added */
            snprintf(a, sizeof a, "v%d", RND(nv));
            snprintf(c, sizeof c, "n%d", round);
            const char *in[2] = {a, a}, *out[1] = {c};
            assert_true(cq_graph_add_node(g, "Add", c, "", 2, in, 1, out, &err) >= 0);
        } else if (kind == 1) { /* an input rewired, noted */
            int i = RND(g->n_nodes), v = RND(nv);
            g->nodes[i].inputs[RND(2)] = v;
            cq_graph_readers_note(g, i, v);
        } else if (kind == 2) {
            g->nodes[RND(g->n_nodes)].dead = 1;
        }
        int v = RND(g->n_values), n = 0;
        for (int i = 0; i < g->n_nodes; i++) {
            const cq_node *nd = &g->nodes[i];
            if (!nd->dead && (nd->inputs[0] == v || nd->inputs[1] == v))
                want[n++] = i;
        }
        int k = cq_graph_consumers(g, v, got, 512);
        assert_int_equal(k, n);
        assert_memory_equal(got, want, (size_t)n * sizeof *got);
        if (round % 50 == 0) { /* node names hashed in the window */
            int i = RND(g->n_nodes);
            assert_int_equal(cq_graph_find_node(g, g->nodes[i].name), i);
            assert_int_equal(cq_graph_find_node(g, "no such node"), -1);
        }
    }
#undef RND
    cq_graph_readers_end(g);
    assert_non_null(g->readers);
    cq_graph_readers_end(g);
    assert_null(g->readers);
    cq_graph_free(g);
}

/* New names take the lowest free suffix, hinted or not. */
static void test_limits_name_hints(void **state)
{
    (void)state;
    cq_err err;
    cq_graph *g = cq_graph_new(&err);
    assert_non_null(g);
    char want[32];
    for (int k = 0; k < 1000; k++) {
        int v = cq_graph_new_value(g, "w", &err);
        assert_true(v >= 0);
        if (k == 0)
            snprintf(want, sizeof want, "w");
        else
            snprintf(want, sizeof want, "w__%d", k);
        assert_string_equal(g->values[v].name, want);
    }
    /* a name taken behind the hint's back is skipped */
    assert_true(cq_graph_value(g, "w__1000", &err) >= 0);
    assert_string_equal(g->values[cq_graph_new_value(g, "w", &err)].name, "w__1001");
    /* nodes: the name is free until the caller adds the node */
    const char *in[1] = {"w"};
    for (int k = 0; k < 3; k++) {
        char *nm = cq_graph_new_node_name(g, "q");
        char *again = cq_graph_new_node_name(g, "q");
        assert_string_equal(nm, again);
        snprintf(want, sizeof want, k ? "q__%d" : "q", k);
        assert_string_equal(nm, want);
        char out[16];
        snprintf(out, sizeof out, "o%d", k);
        const char *outs[1] = {out};
        assert_true(cq_graph_add_node(g, "Relu", nm, "", 1, in, 1, outs, &err) >= 0);
        free(nm);
        free(again);
    }
    cq_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits_readers_window),
        cmocka_unit_test(test_limits_name_hints),
        cmocka_unit_test(test_limits_layout_chain_linear),
        cmocka_unit_test(test_limits_quant_chain_linear),
        cmocka_unit_test(test_limits_sens_chain_linear),
    };
    return cmocka_run_group_tests_name("limits_quant", tests, NULL, NULL);
}
