/*
 * passes.h - graph rewrites run before execution, and static shape inference.
 *
 *     cq_pass_stats st;
 *     if (cq_passes_run(g, &st, &err)) ...   // fold, BN->Conv, Identity, Conv<->Resize, compact
 *     cq_graph_infer_shapes(g, &err);         // fill value dtypes and shapes
 *
 * Every pass keeps the graph valid ONNX (folded values become initializers,
 * folded BatchNorms change the Conv's weights and bias), so cq_onnx_save writes
 * the optimized model. Failures return a cq_status and fill err; the graph may
 * then be partly rewritten but stays consistent.
 */
#ifndef CQ_PASSES_H
#define CQ_PASSES_H

#include "base/limits.h"
#include "graph/graph.h"

typedef struct cq_pass_stats {
    int folded;        /* nodes replaced by constants */
    int bn_folded;     /* BatchNormalizations folded into Convs */
    int identities;    /* Identity nodes removed */
    int conv_before_resize; /* nearest Resize -> 1x1 Conv pairs swapped */
} cq_pass_stats;

/* All passes, then compact and toposort. stats may be NULL. */
cq_status cq_passes_run(cq_graph *g, cq_pass_stats *stats, cq_err *err);
/* The same, constant folding making no tensor above lim->max_tensor_bytes
 * (ENOMEM naming the node, the shape and the limit; lim NULL:
 * CQ_LIMITS_DEFAULT, which every other pass here uses). */
cq_status cq_passes_run_limited(cq_graph *g, cq_pass_stats *stats, const cq_limits *lim,
                                cq_err *err);

/* Constant folding: nodes whose inputs are all constant, and Shape nodes whose
 * input shape is statically known, are run once and replaced by initializers
 * (the Shape -> Gather -> Concat -> Reshape chains exporters emit). */
cq_status cq_pass_fold_constants(cq_graph *g, int *count, cq_err *err);
/* The same, leaving every node of op type keep_op (default domain; NULL:
 * none) and so whatever reads it: calq's QDQ lowering folds the Constant
 * nodes of a QDQ file but keeps its DequantizeLinear nodes (quant/quant.h). */
cq_status cq_pass_fold_constants_except(cq_graph *g, const char *keep_op, int *count,
                                        cq_err *err);
/* Conv -> BatchNormalization (inference mode, constant parameters, the Conv's
 * output read by nothing else) becomes one Conv with scaled weights and bias. */
cq_status cq_pass_fold_bn(cq_graph *g, int *count, cq_err *err);
/* A nearest Resize that enlarges the picture, read only by a 1x1 Conv
 * (stride 1, no pads), is swapped with it: the Conv runs first, on the
 * smaller picture, and writes a new value (<its output>_lowres) that the
 * Resize enlarges into the Conv's old output. Bit for bit the same result
 * (each output pixel is the same arithmetic on the same input pixel); taken
 * only where the bytes moved do not grow. Uses the shapes inferred by
 * constant folding. */
cq_status cq_pass_conv_before_resize(cq_graph *g, int *count, cq_err *err);
/* Identity nodes whose output is not a graph output are bypassed. */
cq_status cq_pass_remove_identity(cq_graph *g, int *count, cq_err *err);

/* Static shape inference in node order: sets has_type/dtype/ndim/shape of
 * every value whose shape follows from the graph inputs' declared shapes and
 * the constants. Values that depend on run-time data keep ndim -1. Never fails
 * on unknown shapes; fails (EINVAL...) when an op reports inconsistent ones. */
cq_status cq_graph_infer_shapes(cq_graph *g, cq_err *err);

#endif
