/*
 * exec.h - the graph executor: plan once, run many times.
 *
 * cq_exec_new() plans a graph: topological order, the graph passes
 * (passes.h: constant folding, BatchNorm folded into Conv, Identity removal),
 * a check that every operator is supported, static shape inference (which
 * fills each cq_value's dtype and shape where they are known before running),
 * fusion (Conv+Relu/Clip, Add+Relu/Clip, a residual Conv+Add[+Relu/Clip], and
 * a stem Conv[+Relu/Clip]+MaxPool whose conv rows are pooled from a ring and
 * never stored whole), the layout (NCHW16c between the convolutions that take
 * it), and the kernel plans (packed weights) of the nodes whose shapes are
 * known statically. cq_exec_run() then runs the nodes in order. Intermediate
 * tensors live in a buffer pool: a value's buffer goes back to the pool after
 * its last reader ran and the next output of a fitting size takes it, so a
 * second run with the same input shapes allocates no buffer (the observer's
 * NCHW copies come from the pool too); cq_exec_peak_bytes() reports the
 * pool's size. What the capabilities come from: ops.h's table rows.
 *
 *     cq_err err;
 *     cq_exec *e = cq_exec_new(g, NULL, &err);        // g: from cq_onnx_load
 *     cq_tensor *in[1] = {x}, *out[1];
 *     if (cq_exec_run(e, 1, in, out, &err)) ...       // out[0]: new reference
 *     cq_tensor_release(out[0]);
 *     cq_exec_free(e);
 *
 * Shared and per executor: the graph is a description several executors
 * share. cq_exec_new rewrites it (the passes, shape inference; the first
 * executor does the work, a later one finds nothing left to change) and
 * cq_exec_run only reads it, so executors planned with other options
 * (precision map, fusion, layout, threads) may coexist over one graph and
 * run in any order. Everything an executor decides or measures is its own:
 * fusion, layout, kernel plans, precisions, buffers, per-node timings.
 * Runs of executors must not overlap in time (the kernels' thread pool is
 * one per process).
 *
 * Ownership: the executor borrows g, which must outlive it; edit g only
 * between executors (cq_exec_is_stale). Outputs are new references owned by
 * the caller. The observer gets borrowed tensors valid only during the call.
 * Every function taking a cq_err fills it on failure; err is never NULL.
 */
#ifndef CQ_EXEC_H
#define CQ_EXEC_H

#include "base/limits.h"
#include "graph/graph.h"

typedef struct cq_exec cq_exec;

/* cq_exec_opts.fuse. 1 (CQ_FUSE_ALL) means every fusion, 0 none, so a
 * boolean keeps its meaning. ACT: Conv+Relu/Clip and Add+Relu/Clip (the
 * activation applied in the producer's epilogue). RESIDUAL: Conv+Add
 * [+Relu/Clip] (the residual added in the Conv's epilogue; the Conv's own
 * output never exists). POOL: Conv[+Relu/Clip]+MaxPool (the stem's pool on
 * the conv rows as they are made; the conv output never exists whole).
 * ACT_FN: Conv/Add + Sigmoid, HardSwish, HardSigmoid or Tanh, and Conv/Add
 * -> Sigmoid -> Mul(x, sigmoid(x)) as SiLU, in the producer's epilogue.
 * Calibration plans CQ_FUSE_ACT: the quantized graph folds Relu/Clip into
 * the preceding range but quantizes the Conv output that feeds an Add, a
 * pool or another activation. */
/* LUT: DequantizeLinear -> elementwise f32 ops (CQ_OP_ELEMENTWISE) ->
 * QuantizeLinear on per-tensor 8-bit codes as one 256-entry table on the
 * codes (exec_lut.c; the float chain's results bit for bit). JOIN: a
 * Concat of a batch of one along the channels (f32, every input computed
 * by a node and read by nothing after the Concat) is written by its
 * inputs' producers straight into its slices, and copies nothing itself
 * (exec_join.c). */
enum {
    CQ_FUSE_NONE = 0,
    CQ_FUSE_ALL = 1,
    CQ_FUSE_ACT = 1 << 1,
    CQ_FUSE_RESIDUAL = 1 << 2,
    CQ_FUSE_POOL = 1 << 3,
    CQ_FUSE_ACT_FN = 1 << 4,
    CQ_FUSE_LUT = 1 << 5,
    CQ_FUSE_JOIN = 1 << 6
};

typedef struct cq_exec_opts {
    int optimize;   /* run the graph passes */
    int fuse;       /* which fusions to plan: 0 none (every node's output is
                     * observed), CQ_FUSE_ALL (1) every one, else the CQ_FUSE_*
                     * flags it holds (calibration: CQ_FUSE_ACT) */
    int threads;    /* kernel threads of this executor's runs (cq_exec_set_threads);
                     * 0: the process's count (cq_kern_threads) */
    int nchw_only;  /* 1: every value in NCHW; 0: values between convolutions
                     * whose kernels read and write NCHW16c natively are kept
                     * in it (graph outputs and what the observer sees are
                     * NCHW either way). The environment variable CALQ_NCHW=1
                     * sets it too. */
    /* Compute precision per node, indexed like g->nodes after the passes
     * (plan the graph once, or run cq_passes_run, before building the map):
     * CQ_F32, CQ_BF16, CQ_S8 or CQ_U8 (int8, either signedness). NULL: every
     * node f32. n_precision must equal g->n_nodes. The executor checks and
     * keeps the map (cq_exec_node_precision); a Conv in CQ_BF16 plans and
     * runs kern.h's bf16 convolution (cq_conv2d_params.bf16), a Gemm (not
     * transA) or a MatMul with a matrix B the bf16 GEMM (kern_bgemm.h);
     * every other node still runs as it would in f32 (int8 comes from the
     * quantizer's lowered graph, not from this map). */
    const cq_dtype *precision;
    int n_precision;
    /* What the model may make calq allocate (base/limits.h; NULL:
     * CQ_LIMITS_DEFAULT): more than max_nodes nodes, a value whose shape
     * is known before running (declared or inferred) or a folded constant
     * above max_tensor_bytes are refused by cq_exec_new, a value above it
     * by the run that would make it; ENOMEM naming the value, its shape
     * and bytes, and the limit. The executor keeps a copy. */
    const cq_limits *limits;
} cq_exec_opts;

/* What cq_exec_new(g, NULL, err) uses:
 *     cq_exec_opts o = CQ_EXEC_OPTS_DEFAULT;
 *     o.fuse = CQ_FUSE_ACT; */
#define CQ_EXEC_OPTS_DEFAULT {.optimize = 1, .fuse = CQ_FUSE_ALL, .threads = 0, .nchw_only = 0, \
                              .precision = NULL, .n_precision = 0, .limits = NULL}

/* Called after each node with each of its outputs (node index into g->nodes,
 * output slot, tensor). For a Conv fused with its Relu/Clip, the call is made
 * for the activation node with the activated tensor; for a Conv whose
 * residual Add (and its activation) was fused into it, once, for the Add (or
 * the activation) with the final tensor: the Conv's own output never exists;
 * likewise for a MaxPool fused into its Conv, once, for the MaxPool.
 * Return non-zero to stop the run (cq_exec_run then fails with ESTATE). */
typedef int (*cq_exec_observer)(void *ud, const cq_graph *g, int node, int output,
                                const cq_tensor *t);

/* Plan g with opts (NULL: CQ_EXEC_OPTS_DEFAULT). NULL on failure:
 * EUNSUPPORTED listing every operator calq lacks ("unsupported operators:
 * Foo, Bar") or the dtype it cannot hold; EFORMAT for a broken graph; EINVAL
 * for a precision map of the wrong size or with a value that is no compute
 * precision (the message names the node). */
cq_exec *cq_exec_new(cq_graph *g, const cq_exec_opts *opts, cq_err *err);
void cq_exec_free(cq_exec *e); /* NULL is fine; g is untouched */

/* Run with n_in tensors in the order of g->inputs (any layout; converted to
 * dense); outputs receives g->n_outputs new references (NULL-filled on
 * failure). Errors name the node that failed. */
cq_status cq_exec_run(cq_exec *e, int n_in, cq_tensor *const *inputs, cq_tensor **outputs,
                      cq_err *err);

void cq_exec_set_observer(cq_exec *e, cq_exec_observer fn, void *ud);
/* Kernel threads for this executor's runs (0: the process's count,
 * cq_kern_threads; n < 0 counts as 0). A run's count is its host thread's
 * own (cq_par_set_local_threads), so runs on other host threads do not
 * change it; where it differs from OpenBLAS's process-wide count (which
 * the first run sets to the process's), the run also sets that count
 * (cq_kern_set_blas_threads) and restores it after, holding a lock that
 * makes such runs take turns. */
void cq_exec_set_threads(cq_exec *e, int n);

/* Bytes held by the intermediate buffer pool (its peak, as buffers are kept
 * between runs), and the bytes the same run would take with one buffer per
 * value (no reuse), for comparison. Both 0 before the first run. */
size_t cq_exec_peak_bytes(const cq_exec *e);
size_t cq_exec_naive_bytes(const cq_exec *e);

/* Node i's run time summed over this executor's runs since planning or the
 * last reset (*ns, nanoseconds) and how many runs ran it (*runs; 0 for a
 * node fused into another, whose time counts in that node's). -1 (both 0)
 * when i is out of range, else 0. */
int cq_exec_node_time(const cq_exec *e, int i, double *ns, int64_t *runs);
/* The work node i did in its last run, for achieved rates next to its time
 * (exec_work.c): *flops its arithmetic (ops.h's cq_op_flops) plus that of
 * the nodes fused into it, *bytes those of the tensors the fused whole
 * reads (activations, weights, a fused residual; each value once) and
 * writes (the fused intermediates never exist and count nothing), in the
 * shapes of the last run, or the static ones before any run. NCHW16c
 * values count as NCHW. Returns 1 when node i is a contraction (Conv,
 * Gemm, MatMul...; read its rate in FLOP/s), 0 for the memory-bound rest
 * (bytes/s; 0 with both 0 for a join its producers wrote, CQ_FUSE_JOIN),
 * -1 (both 0) when i is out of range, dead, fused into another node (its
 * work counts there) or a shape is unknown. */
int cq_exec_node_work(const cq_exec *e, int i, int64_t *flops, int64_t *bytes);
/* Zero every node's time and run count. */
void cq_exec_reset_profile(cq_exec *e);
/* The clock node times are read on: the wall clock (CLOCK_MONOTONIC, the
 * default), or the CPU time of the thread running the node
 * (CLOCK_THREAD_CPUTIME_ID), which leaves out the time other processes held
 * the CPU on a loaded host (not the cache and memory they share). The CPU
 * clock sees the calling thread only: with kernel threads
 * (cq_exec_set_threads > 1) the other threads' share of a node is not in
 * it. cq_exec_new starts on the CPU clock when the environment variable
 * CALQ_PROFILE_CLOCK is "cpu". Setting the clock resets the profile (times
 * on two clocks do not add). */
typedef enum { CQ_EXEC_CLOCK_WALL, CQ_EXEC_CLOCK_CPU } cq_exec_clock;
void cq_exec_set_profile_clock(cq_exec *e, cq_exec_clock clock);
cq_exec_clock cq_exec_profile_clock(const cq_exec *e);
/* Whether node i holds a kernel plan (packed weights): CQ_OP_PLAN nodes get
 * one from cq_exec_new where their shapes are known statically, else from
 * their first run. */
int cq_exec_node_planned(const cq_exec *e, int i);
/* Node i's compute precision from the map (CQ_F32 without one or when i is
 * out of range). */
cq_dtype cq_exec_node_precision(const cq_exec *e, int i);

/* The operators of g that calq cannot run, as "A, B" into buf (always
 * terminated); returns how many distinct ones. */
int cq_exec_unsupported(const cq_graph *g, char *buf, size_t size);

/* Shape value v had in the last run (into shape[CQ_MAX_DIMS]); returns its
 * rank, -1 when it was not computed (no run yet, or a fused intermediate). */
int cq_exec_value_shape(const cq_exec *e, int v, int64_t *shape);
/* Whether value v is kept in the blocked layout of its dtype: NCHW16c
 * between the f32 convolutions, NHWC for 8-bit codes (the layout plan in
 * exec_plan.c; cq_exec_opts.nchw_only). */
int cq_exec_value_blocked(const cq_exec *e, int v);
/* The value node i writes as its first output at run time: its own, or the
 * last one of the chain fused into it (a Conv's fused Relu's, residual Add's
 * or pool's); -1 for a node out of range or without outputs. */
int cq_exec_node_output(const cq_exec *e, int i);

/* 1 when g's node or value count changed since planning (a pass or a user
 * edited the graph): free the executor and plan again. A cheap guard, not a
 * full check: edit graphs only between executors. */
int cq_exec_is_stale(const cq_exec *e);

/* Whether value v is written by a node at run time: 1 for the outputs of
 * the nodes that run and the final output of a fused chain, 0 for a fused
 * intermediate that never exists (a Conv's output whose activation, residual
 * Add or pool it absorbed), graph inputs, constants and dead nodes' outputs. */
int cq_exec_value_written(const cq_exec *e, int v);

/* Whether node i is skipped at run time because it was fused into its producer. */
int cq_exec_is_fused(const cq_exec *e, int node);
/* Whether node i is a join its inputs' producers write (CQ_FUSE_JOIN). */
int cq_exec_is_joined(const cq_exec *e, int node);

#endif
