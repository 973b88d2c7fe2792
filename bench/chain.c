/* chain.c - time a chain of N Relu nodes through every stage calq takes it:
 * building the graph, writing it as ONNX, loading it back, planning
 * (cq_exec_new) and a first and second run. Planning and the reader must be
 * linear in the node count (issue 17; bench/NOTES.md "Linear planning").
 *     build/bench/chain N [out.onnx]
 * With out.onnx the model is also written there (bench/chain.sh gives it to
 * ONNX Runtime in the same run). Prints one JSON line, times in ms;
 * load_plan_run_cpu_ms is the process's CPU time over load, plan and the
 * first run (what the machine's other load disturbs least). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exec/exec.h"
#include "onnx/onnx.h"

static double clock_ms(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double now_ms(void) { return clock_ms(CLOCK_MONOTONIC); }

static int fail(const char *what, const cq_err *err)
{
    fprintf(stderr, "chain: %s: %s\n", what, err->msg);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2 || atol(argv[1]) < 1) {
        fprintf(stderr, "usage: %s N [out.onnx]\n", argv[0]);
        return 2;
    }
    int n = (int)atol(argv[1]);
    cq_err err;
    double t0 = now_ms();
    cq_graph *g = cq_graph_new(&err);
    if (!g)
        return fail("graph", &err);
    int x = cq_graph_value(g, "x", &err);
    g->values[x].has_type = 1;
    g->values[x].dtype = CQ_F32;
    g->values[x].onnx_elem_type = 1;
    g->values[x].ndim = 2;
    g->values[x].shape[0] = 1;
    g->values[x].shape[1] = 16;
    g->ir_version = 8;
    g->opsets = calloc(1, sizeof *g->opsets);
    g->opsets[0].domain = calloc(1, 1);
    g->opsets[0].version = 13;
    g->n_opsets = 1;
    if (cq_graph_add_input(g, x, &err))
        return fail("input", &err);
    char in[32] = "x", out[32], name[32];
    for (int i = 0; i < n; i++) {
        snprintf(out, sizeof out, i == n - 1 ? "y" : "v%d", i);
        snprintf(name, sizeof name, "relu%d", i);
        const char *ins[1] = {in}, *outs[1] = {out};
        if (cq_graph_add_node(g, "Relu", name, "", 1, ins, 1, outs, &err) < 0)
            return fail("node", &err);
        memcpy(in, out, sizeof in);
    }
    if (cq_graph_add_output(g, cq_graph_find(g, "y"), &err))
        return fail("output", &err);
    double t1 = now_ms();
    void *buf;
    size_t len;
    if (cq_onnx_save_buffer(g, &buf, &len, &err))
        return fail("save", &err);
    cq_graph_free(g);
    if (argc > 2) {
        FILE *f = fopen(argv[2], "wb");
        if (!f || fwrite(buf, 1, len, f) != len || fclose(f)) {
            fprintf(stderr, "chain: cannot write %s\n", argv[2]);
            return 1;
        }
    }
    double t2 = now_ms(), c2 = clock_ms(CLOCK_PROCESS_CPUTIME_ID);
    g = cq_onnx_load_buffer(buf, len, "chain", &err);
    free(buf);
    if (!g)
        return fail("load", &err);
    double t3 = now_ms();
    cq_exec *e = cq_exec_new(g, NULL, &err);
    if (!e)
        return fail("plan", &err);
    double t4 = now_ms();
    int64_t shape[2] = {1, 16};
    cq_tensor *xt = cq_tensor_empty(CQ_F32, 2, shape, &err);
    float *p = cq_tensor_data(xt);
    for (int i = 0; i < 16; i++)
        p[i] = (float)i - 8.0f;
    cq_tensor *y = NULL;
    if (cq_exec_run(e, 1, &xt, &y, &err))
        return fail("run", &err);
    double t5 = now_ms(), c5 = clock_ms(CLOCK_PROCESS_CPUTIME_ID);
    cq_tensor_release(y);
    if (cq_exec_run(e, 1, &xt, &y, &err))
        return fail("run", &err);
    double t6 = now_ms();
    const float *r = cq_tensor_data(y);
    int ok = r[0] == 0.0f && r[15] == 7.0f;
    cq_tensor_release(y);
    cq_tensor_release(xt);
    cq_exec_free(e);
    cq_graph_free(g);
    double t7 = now_ms();
    printf("{\"nodes\": %d, \"build_ms\": %.1f, \"save_ms\": %.1f, \"load_ms\": %.1f, "
           "\"plan_ms\": %.1f, \"run1_ms\": %.1f, \"run2_ms\": %.1f, \"free_ms\": %.1f, "
           "\"load_plan_run_ms\": %.1f, \"load_plan_run_cpu_ms\": %.1f, \"ok\": %s}\n",
           n, t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t7 - t6, t5 - t2, c5 - c2,
           ok ? "true" : "false");
    return ok ? 0 : 1;
}
