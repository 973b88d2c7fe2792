/*
 * exec.h - the fp32 graph executor: plan once, run many times.
 *
 * cq_exec_new() plans a graph: topological order, the graph passes
 * (passes.h: constant folding, BatchNorm folded into Conv, Identity removal),
 * a check that every operator is supported, static shape inference (which
 * fills each cq_value's dtype and shape where they are known before running),
 * and fusion (kept in the executor and the Conv node's plan; the graph
 * itself stays valid ONNX): Conv+Relu/Clip, Add+Relu/Clip, a residual
 * Conv+Add[+Relu/Clip], and a stem Conv[+Relu/Clip]+MaxPool whose conv rows
 * are pooled from a ring and never stored whole. cq_exec_run() then runs the nodes in order. Intermediate
 * tensors live in a buffer pool: a value's buffer goes back to the pool after
 * its last reader ran and the next output of a fitting size takes it, so a
 * second run with the same input shapes allocates nothing; cq_exec_peak_bytes()
 * reports the pool's size.
 *
 *     cq_err err;
 *     cq_exec *e = cq_exec_new(g, NULL, &err);        // g: from cq_onnx_load
 *     cq_tensor *in[1] = {x}, *out[1];
 *     if (cq_exec_run(e, 1, in, out, &err)) ...       // out[0]: new reference
 *     cq_tensor_release(out[0]);
 *     cq_exec_free(e);
 *
 * Ownership: the executor borrows g (which must outlive it) and rewrites it in
 * place while planning (the passes); the node plans it hangs on g's nodes are
 * freed with g. Outputs are new references owned by the caller. The observer
 * gets borrowed tensors valid only during the call.
 */
#ifndef CQ_EXEC_H
#define CQ_EXEC_H

#include "graph/graph.h"

typedef struct cq_exec cq_exec;

typedef struct cq_exec_opts {
    int optimize;   /* run the graph passes (default 1 when opts is NULL) */
    int fuse;       /* fuse Conv+Relu/Clip, Add+Relu/Clip, Conv+Add[+Relu/Clip] and
                     * Conv[+Relu/Clip]+MaxPool (default 1); 0 when every
                     * node's output must be observed (calibration) */
    int threads;    /* 0: leave OpenBLAS's setting */
    int nchw_only;  /* 1: every value in NCHW; 0 (default): values between
                     * convolutions whose kernels read and write NCHW16c
                     * natively are kept in it (graph outputs and what the
                     * observer sees are NCHW either way). The environment
                     * variable CALQ_NCHW=1 sets it too. */
} cq_exec_opts;

/* Called after each node with each of its outputs (node index into g->nodes,
 * output slot, tensor). For a Conv fused with its Relu/Clip, the call is made
 * for the activation node with the activated tensor; for a Conv whose
 * residual Add (and its activation) was fused into it, once, for the Add (or
 * the activation) with the final tensor: the Conv's own output never exists;
 * likewise for a MaxPool fused into its Conv, once, for the MaxPool.
 * Return non-zero to stop
 * the run (cq_exec_run then fails with ESTATE). */
typedef int (*cq_exec_observer)(void *ud, const cq_graph *g, int node, int output,
                                const cq_tensor *t);

/* Plan g. NULL on failure: EUNSUPPORTED listing every operator calq lacks
 * ("unsupported operators: Foo, Bar") or the dtype it cannot hold; EFORMAT for
 * a broken graph. */
cq_exec *cq_exec_new(cq_graph *g, const cq_exec_opts *opts, cq_err *err);
/* Whether value v is kept in NCHW16c between the convolutions (plan_layout
 * in exec.c; cq_exec_opts.nchw_only). */
int cq_exec_value_blocked(const cq_exec *e, int v);
void cq_exec_free(cq_exec *e); /* NULL is fine */

/* Run with n_in tensors in the order of g->inputs (any layout; converted to
 * dense); outputs receives g->n_outputs new references (NULL-filled on
 * failure). Errors name the node that failed. */
cq_status cq_exec_run(cq_exec *e, int n_in, cq_tensor *const *inputs, cq_tensor **outputs,
                      cq_err *err);

void cq_exec_set_observer(cq_exec *e, cq_exec_observer fn, void *ud);
/* Threads for the BLAS calls (process-wide in OpenBLAS); n >= 1. */
void cq_exec_set_threads(cq_exec *e, int n);
int cq_exec_threads(const cq_exec *e);

/* Bytes held by the intermediate buffer pool (its peak, as buffers are kept
 * between runs), and the bytes the same run would take with one buffer per
 * value (no reuse), for comparison. Both 0 before the first run. */
size_t cq_exec_peak_bytes(const cq_exec *e);
size_t cq_exec_naive_bytes(const cq_exec *e);

/* Zero every node's time_ns and runs. */
void cq_exec_reset_profile(cq_graph *g);

/* The operators of g that calq cannot run, as "A, B" into buf (always
 * terminated); returns how many distinct ones. */
int cq_exec_unsupported(const cq_graph *g, char *buf, size_t size);

/* Shape value v had in the last run (into shape[CQ_MAX_DIMS]); returns its
 * rank, -1 when it was not computed (no run yet, or a fused intermediate). */
int cq_exec_value_shape(const cq_exec *e, int v, int64_t *shape);

/* 1 when g's node or value count changed since planning (a pass or a user
 * edited the graph): free the executor and plan again. A cheap guard, not a
 * full check: edit graphs only between executors. */
int cq_exec_is_stale(const cq_exec *e);

/* Whether node i is skipped at run time because it was fused into its producer. */
int cq_exec_is_fused(const cq_exec *e, int node);

#endif
