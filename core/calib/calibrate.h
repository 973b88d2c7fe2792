/*
 * calibrate.h - the calibration driver: a model and a calibration set in, a
 * statistics set (stats.h) out.
 *
 * A calibrator plans its own fp32 executor over the graph and hooks the
 * executor's observer, so every tensor the quantized graph will quantize is
 * seen where it will be quantized:
 *
 *   - the graph's float inputs (observed by the calibrator itself);
 *   - every float node output of the graph as the executor runs it with
 *     activation fusion only (CQ_FUSE_ACT, exec.h): a Conv or Add followed by
 *     Relu/Clip is seen after the activation, never before (the quantized
 *     graph folds the activation into the preceding range), while a residual
 *     Add and a MaxPool stay nodes of their own, so the Conv's output that
 *     feeds them is seen too.
 *
 * Not observed: values that are not f32, and values computed from constants
 * and shapes only (no path from a graph input through a node that reads
 * data; CQ_OP_SHAPE_ONLY nodes read none). Observers are keyed by value
 * NAME in the graph as planned, i.e. after the passes (constant folding,
 * BatchNorm folding, Identity removal; passes.h): a quantizer that runs the
 * same passes finds them under the same names. A value's type may be
 * unknown until a run (shape inference stops at a symbolic batch
 * dimension), so the observers are added as the first item shows them:
 * graph inputs in order, then node outputs in the order the plan computes
 * them; two calibrators of one model hold the same names in the same
 * order.
 *
 * Determinism. The calibrator runs the executor one item (index along the
 * first dimension of the inputs) at a time and updates each observer once
 * per item, so what it computes depends only on the items, never on how
 * they are batched into cq_calib_feed calls; the kernels' results do not
 * depend on the thread count (par.h). Min-max and histogram observers merge
 * exactly (observer.h), and an observer's batch count is its item count, so
 * the statistics of shards, merged (cq_calib_stats_merge) in any order, are
 * bit for bit those of one run over the whole set, and save to the same
 * bytes. The moving average depends on the order and does not merge.
 *
 * Memory: O(bins x observed tensors) for the statistics, plus one executor
 * and one item's activations; never the number of items.
 *
 *     cq_err err;
 *     cq_graph *g = cq_onnx_load("model.onnx", &err);
 *     cq_calib *c = cq_calib_new(g, NULL, &err);       // histograms, default bins
 *     for (each batch x of shape (n, ...))              // x: f32, n items
 *         if (cq_calib_feed(c, 1, &x, &err) != CQ_OK) goto fail;
 *     if (cq_calib_stats_save(cq_calib_get_stats(c), "shard0.calq", &err)) goto fail;
 *     cq_calib_free(c);
 *     cq_graph_free(g);
 *
 * Ownership: the calibrator borrows g (which must outlive it; cq_calib_new
 * runs the passes on it, as cq_exec_new does) and owns its statistics.
 * Every function taking a cq_err fills it on failure; err is never NULL.
 */
#ifndef CQ_CALIB_CALIBRATE_H
#define CQ_CALIB_CALIBRATE_H

#include "calib/stats.h"
#include "graph/graph.h"

typedef struct cq_calib_opts {
    cq_obs_kind kind;         /* one observer of this kind per tensor: CQ_OBS_HIST (it
                               * also keeps min and max, so it answers every method of
                               * cq_calib_method), CQ_OBS_MINMAX or CQ_OBS_MOVING_AVG
                               * (which does not merge) */
    int32_t bins;             /* HIST: bins a side (observer.h); 0: CQ_HIST_BINS_DEFAULT */
    float averaging_constant; /* MOVING_AVG; 0: PyTorch's 0.01 */
    int threads;              /* kernel threads of the runs; 0: the process's count */
} cq_calib_opts;

#define CQ_CALIB_OPTS_DEFAULT {.kind = CQ_OBS_HIST, .bins = 0, .averaging_constant = 0, \
                               .threads = 0}

typedef struct cq_calib cq_calib;

/* Plan an fp32 executor over g (activation fusion only; opts NULL:
 * CQ_CALIB_OPTS_DEFAULT). NULL on failure: the errors of cq_exec_new
 * (EUNSUPPORTED, EFORMAT, ...), EINVAL for bad options or a graph with no
 * tensor to observe, ENOMEM. The caller frees it. */
cq_calib *cq_calib_new(cq_graph *g, const cq_calib_opts *opts, cq_err *err);
/* NULL is a no-op; g is untouched. */
void cq_calib_free(cq_calib *c);

/* Observe one batch: in[i] for g's input i (order of g->inputs), all with
 * the same first dimension n >= 1 (the items; any layout). Each item runs
 * on its own (inputs sliced to a first dimension of 1). EINVAL on a count,
 * dtype or shape mismatch (naming the input), the executor's errors
 * (naming the node) otherwise. On failure the statistics may hold part of
 * the batch: discard them. */
cq_status cq_calib_feed(cq_calib *c, int n_in, cq_tensor *const *in, cq_err *err);

/* The statistics so far, owned by c (valid until cq_calib_free; reading
 * them folds pending counts, so not concurrently with a feed). */
cq_calib_stats *cq_calib_get_stats(cq_calib *c);
/* Items observed so far (summed first dimensions). */
int64_t cq_calib_items(const cq_calib *c);

/* Whether value v of g (planned) has an observer: f32, computed from a
 * graph input's data, and a graph input or written by a node of the
 * act-fused plan (cq_exec_value_written). After the first item the
 * calibrator's observers are exactly these values; 0 for all before it. */
int cq_calib_observes(const cq_calib *c, int v);

#endif
