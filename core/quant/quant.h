/*
 * quant.h - the quantizer: a planned fp32 graph and its calibration
 * statistics in, a QDQ graph out; the QDQ -> QLinear rewrite calq runs on
 * its integer reference kernels; the precision map's patterns.
 *
 * The quantizer works on the graph as the executor plans it (the passes of
 * passes.h: constant folding, BatchNorm folding, Identity removal), so the
 * value names are those the calibrator observed (calib/calibrate.h). It
 * decides, node by node in topological order (docs/quantize.md has the
 * rules and why):
 *
 *   compute   Conv, Gemm, MatMul: QuantizeLinear/DequantizeLinear pairs on
 *             the activation inputs, weights s8 symmetric per output channel
 *             (DequantizeLinear with axis), bias s32 with scale s_x * s_w
 *             (values beyond int32 clamped and counted), output quantized
 *   requant   Add, Mul: every input quantized on its own scale, the output
 *             on its own (requantization); Concat: the same, except that
 *             when every input already has the same parameters (constants
 *             that those parameters represent exactly, e.g. zero padding,
 *             count as sharing them) the output keeps them: no requantization
 *   pass      MaxPool, Reshape, Transpose, Flatten, Squeeze, Unsqueeze,
 *             Identity, Resize (mode nearest): int8 when input 0 is, the
 *             output at the same scale and zero point (exact)
 *   act       Relu, Clip after a compute or requant node (whose output feeds
 *             nothing else): folded into the preceding range (the output is
 *             quantized with the activation's statistics); the node is
 *             removed where the quantized range makes it a no-op (u8
 *             asymmetric after Relu: zero point 0), else it stays between
 *             the producer and the QuantizeLinear
 *   float     everything else (Sigmoid, Softmax, ...); reads dequantized
 *             values where its producer is int8
 *
 * A quantized value v becomes v -> QuantizeLinear -> DequantizeLinear; the
 * consumers that read the dequantized value are all of them when v's
 * producer is int8 (its float value no longer exists in the integer run),
 * else only the int8 ones (a node kept fp32 reads the exact float). A graph
 * output keeps its name (the DequantizeLinear writes it). Names of new
 * values and nodes derive from the value they quantize (v_quantized,
 * v_scale, v_zero_point, v_QuantizeLinear, ...; "__N" added on a clash), so
 * the same graph, statistics and options give the same graph, bit for bit.
 *
 * The precision map (cq_quant_opts.precision, indexed like the planned
 * graph's nodes, the same kind of array as cq_exec_opts.precision): CQ_S8
 * or CQ_U8 (int8: quantize where the rules above allow), CQ_F32 (keep fp32:
 * no QDQ on its inputs), CQ_BF16 (recorded and reported; kept fp32 in the
 * QDQ file until calq runs bf16). cq_quant_match turns a pattern into the
 * nodes it names.
 *
 *     cq_err err;
 *     cq_graph *g = cq_onnx_load("model.onnx", &err);
 *     cq_calib_stats *st = cq_calib_stats_load("model.stats", &err);
 *     cq_quant_opts o = CQ_QUANT_OPTS_DEFAULT;
 *     cq_quant *q = cq_quant_new(g, st, &o, &err);       // plans g, decides
 *     cq_graph *qdq = q ? cq_quant_graph(q, &err) : NULL; // the QDQ model
 *     cq_onnx_save(qdq, "model.qdq.onnx", &err);
 *     cq_quant_lower(qdq, NULL, &err);                     // calq's integer form
 *     ...
 *     cq_graph_free(qdq); cq_quant_free(q); cq_calib_stats_free(st); cq_graph_free(g);
 *
 * Ownership: a cq_quant borrows g and the statistics (both must outlive its
 * use; freeing it reads neither, so it may outlive them); cq_quant_graph
 * returns a new graph the caller frees. Every function taking
 * a cq_err fills it on failure; err is never NULL.
 */
#ifndef CQ_QUANT_QUANT_H
#define CQ_QUANT_QUANT_H

#include <stdint.h>
#include "calib/observer.h"
#include "calib/stats.h"
#include "graph/graph.h"

/* What the quantizer does with a node (the rules above). */
typedef enum cq_quant_kind {
    CQ_QK_FLOAT = 0,
    CQ_QK_COMPUTE,
    CQ_QK_REQUANT,
    CQ_QK_PASS,
    CQ_QK_ACT
} cq_quant_kind;

typedef struct cq_quant_opts {
    cq_dtype act_dtype;            /* activations: CQ_U8 or CQ_S8 */
    int act_symmetric;             /* -1: by dtype (u8 asymmetric, s8 symmetric); 0; 1 */
    cq_calib_method act_method;    /* how a range comes from the statistics */
    double percentile;             /* CQ_CALIB_PERCENTILE: in (0, 100] */
    cq_calib_zero_bin zero_bin;    /* the entropy searches' bin 0 (observer.h); AS_NEXT */
    cq_calib_method weight_method; /* CQ_CALIB_MINMAX or CQ_CALIB_MSE */
    int per_channel;               /* weights: 1 per output channel, 0 per tensor */
    const cq_dtype *precision;     /* NULL: every node int8 where it can be */
    int n_precision;               /* == g->n_nodes after planning */
} cq_quant_opts;

/* calq's first choice (docs/quantize.md): u8 asymmetric activations from
 * the L2 (MSE) search on their histograms, s8 per-channel min-max weights. */
#define CQ_QUANT_OPTS_DEFAULT {.act_dtype = CQ_U8, .act_symmetric = -1, \
                               .act_method = CQ_CALIB_MSE, .percentile = 99.99, \
                               .zero_bin = CQ_CALIB_ZERO_AS_NEXT, \
                               .weight_method = CQ_CALIB_MINMAX, .per_channel = 1, \
                               .precision = NULL, .n_precision = 0}

typedef struct cq_quant cq_quant;

/* Plan g as the executor (and the calibrator) does: the passes, shape
 * inference. Node indices and value names are then those every map and
 * statistics set refers to. Errors of cq_exec_new. */
cq_status cq_quant_plan(cq_graph *g, cq_err *err);

/* Plan g (cq_quant_plan)
 * and decide every node and value from stats (opts NULL: the defaults).
 * NULL on failure: the planning errors (EUNSUPPORTED, EFORMAT), EINVAL for
 * bad options or a precision map of the wrong size (naming the node), for a
 * quantized value the statistics do not hold or cannot answer (naming the
 * value and the method), ENOMEM. The caller frees it. */
cq_quant *cq_quant_new(cq_graph *g, const cq_calib_stats *stats, const cq_quant_opts *opts,
                       cq_err *err);
void cq_quant_free(cq_quant *q); /* NULL is fine */

/* The QDQ graph (a new one the caller frees): a valid ONNX model whose
 * default-domain opset is at least 13 (per-axis DequantizeLinear).
 * EUNSUPPORTED when the model imports an older opset and holds an operator
 * whose meaning changed on the way to 13 (Softmax, Split, Squeeze, ...),
 * ENOMEM. */
cq_graph *cq_quant_graph(cq_quant *q, cq_err *err);

/* What was decided for a node. */
typedef struct cq_quant_node_info {
    cq_quant_kind kind;
    cq_dtype precision;     /* asked by the map: CQ_F32, CQ_BF16 or CQ_S8 (int8) */
    int int8;               /* quantized in the QDQ graph (for an act: folded) */
    const char *reason;     /* why a node that could be int8 stays float; NULL */
    int folded_into;        /* act: the node whose range it joined; -1 */
    int removed;            /* act: removed from the QDQ graph (a no-op on the range) */
    int64_t bias_clamped;   /* compute: bias values clamped to int32 */
    /* int8 nodes: the output's parameters (after a folded act: the act's
     * output) and the value they quantize */
    cq_dtype out_dtype;
    float out_scale;
    int32_t out_zero_point;
    int out_value;          /* -1 for float nodes */
} cq_quant_node_info;

/* Node i's decisions; EINVAL (err filled) when i is out of range. */
cq_status cq_quant_node(const cq_quant *q, int i, cq_quant_node_info *info, cq_err *err);
/* The planned graph q decided on (borrowed). */
const cq_graph *cq_quant_source(const cq_quant *q);
/* Whether node i could be int8 at all (its kind and attributes, whatever
 * the map says): the nodes sensitivity is measured for. */
int cq_quant_quantizable(const cq_quant *q, int i);

/* Which kind the quantizer gives op_type (default domain). */
cq_quant_kind cq_quant_kind_of(const char *op_type);
/* "float", "compute", "requant", "pass", "act". */
const char *cq_quant_kind_name(cq_quant_kind k);

/* ---- calq's integer form ------------------------------------------------ */

/* Rewrite a QDQ graph in place for calq's integer reference kernels, before
 * it is planned (planning folds DequantizeLinear of constants into floats):
 *   DQ(x) -> Conv(DQ(w), DQ(b)) -> [Relu/Clip ->] Q   becomes QLinearConv
 *   DQ(a) -> MatMul(DQ(b)) -> [Relu/Clip ->] Q         becomes QLinearMatMul
 *   DQ(x) -> Gemm(DQ(w), DQ(c)) -> [Relu/Clip ->] Q    becomes Reshape ->
 *       QLinearConv (1x1, the bias added to the int32 sums as Gemm's
 *       integer form does) -> Reshape
 *   DQ(a) + DQ(b) -> [Relu/Clip ->] Q                  becomes QLinearAdd
 *       (com.microsoft, ONNX Runtime's arithmetic: kern.h)
 *   DQ(x) -> MaxPool, Reshape, Flatten, Squeeze, Unsqueeze, Transpose,
 *       Slice, nearest Resize -> Q, the Q's scale and zero point the DQ's (Concat: every
 *       input's), becomes the op on the codes (exact: moving values commutes
 *       with the dequantization, and so does a max; ONNX's MaxPool takes s8
 *       / u8 from opset 12, so not below)
 * x, a per tensor; weights per tensor or per output channel; a bias given
 * as DequantizeLinear of int32 at scale s_x * s_w is taken as is, a float
 * bias is quantized to it. An activation between the product and the
 * QuantizeLinear is dropped where it is a no-op on the output's codes, else
 * kept between a DequantizeLinear and the QuantizeLinear (exact either
 * way). Everything else keeps running in float between its
 * DequantizeLinear and QuantizeLinear.
 * Works on QDQ files of other tools: a graph with DequantizeLinear nodes
 * first has its constants folded (Constant nodes, ConstantOfShape, Cast of
 * constants, ...: cq_pass_fold_constants, DequantizeLinear nodes kept) and
 * the Casts that convert a QuantizeLinear's codes to their own type (as
 * PyTorch's export writes) removed; a Cast to another type stays and runs
 * on the codes. A graph without DequantizeLinear is left as it is, and
 * calq's own QDQ graphs (no constant nodes) are rewritten as they are, so
 * their lowered form keeps its bytes.
 * *count (may be NULL) gets the number of nodes rewritten. EFORMAT for a
 * broken graph, ENOMEM, constant folding's errors; a pattern that does not
 * match is left alone. */
cq_status cq_quant_lower(cq_graph *g, int *count, cq_err *err);

/* A node cq_quant_lower_report left float, and why. */
typedef struct cq_quant_lower_note {
    char *node;    /* its name (its output's when it has none) */
    char *op_type;
    char *reason;  /* e.g. "input 0: not written by a DequantizeLinear" */
} cq_quant_lower_note;

/* What cq_quant_lower_report did and left. */
typedef struct cq_quant_lower_result {
    int lowered;                /* nodes rewritten (cq_quant_lower's count) */
    int folded;                 /* constant nodes folded into initializers first */
    int casts;                  /* identity Casts of codes removed */
    int n_kept;
    cq_quant_lower_note *kept;  /* every Conv, Gemm, MatMul and Add left float,
                                 * every MaxPool reading a DequantizeLinear left
                                 * float, and every Cast of codes that stays, in
                                 * graph order */
} cq_quant_lower_result;

/* cq_quant_lower, filling *r (which the caller clears with
 * cq_quant_lower_result_clear; on failure it is left cleared). */
cq_status cq_quant_lower_report(cq_graph *g, cq_quant_lower_result *r, cq_err *err);
void cq_quant_lower_result_clear(cq_quant_lower_result *r); /* NULL is fine */

/* ---- the precision map's patterns --------------------------------------- */

/* Mark in hit[i] (g->n_nodes entries, set to 1, never cleared) the live
 * nodes of g that pattern names; returns how many it names, -1 on a bad
 * pattern (EINVAL with the reason). Patterns (docs/quantize.md):
 *   NAME         the node called NAME, or the node writing the value NAME
 *   op:TYPE      every node of op type TYPE
 *   first:TYPE   the TYPE nodes with no TYPE node before them on any path
 *                from a graph input ("first:Conv": the first convolution);
 *                TYPE * means any compute op (Conv, Gemm, MatMul)
 *   last:TYPE    the TYPE nodes with no TYPE node after them on any path to
 *                a graph output ("last:Conv": the detection heads)
 *   GLOB         a pattern with * ? or [...] (fnmatch) matched against node
 *                names and output value names
 * Several patterns may be joined by commas. */
int cq_quant_match(const cq_graph *g, const char *pattern, unsigned char *hit, cq_err *err);

/* ---- sensitivity ---------------------------------------------------------- */

/* For every quantizable node (cq_quant_quantizable) of q's graph, the SQNR
 * of its output (its quantization point, after a folded activation) when it
 * alone is quantized, against the fp32 output, over the items fed: each
 * node is taken out with its folded activation as a graph of its own,
 * quantized with q's statistics and options and run on the fp32 graph's own
 * values: as QDQ in float (weights dequantized once; the fast float
 * kernels), or, with integer, lowered (cq_quant_lower) onto the integer
 * reference kernels. The two differ only where a rounding tie falls the
 * other way: on BlazeFace back-256 the 102 nodes' SQNRs agree within 0.005
 * dB, the float runs taking a quarter of the time (docs/quantize.md).
 *
 *     cq_quant_sens *s = cq_quant_sens_new(q, 1, 0, &err);
 *     for (each batch) cq_quant_sens_feed(s, 1, &x, &err);
 *     double db; int64_t items;
 *     cq_quant_sens_get(s, node, &db, &items);   // +inf: no error at all
 *
 * The sensitivity object borrows q (and so its graph and statistics); free
 * it before q (freeing it reads q, never the graph). */
typedef struct cq_quant_sens cq_quant_sens;

/* NULL on failure (the errors of cq_quant_new and cq_exec_new for the
 * single-node graphs, ENOMEM). threads: kernel threads of its runs (0: the
 * process's count); integer: run the nodes on the integer kernels. */
cq_quant_sens *cq_quant_sens_new(cq_quant *q, int threads, int integer, cq_err *err);
void cq_quant_sens_free(cq_quant_sens *s); /* NULL is fine */
/* Run n_in inputs (order of the graph's inputs, same first dimension: the
 * items, each run on its own) through the fp32 graph and every node's
 * quantized graph. EINVAL on a count or dtype mismatch, the executors'
 * errors (naming the node). */
cq_status cq_quant_sens_feed(cq_quant_sens *s, int n_in, cq_tensor *const *in, cq_err *err);
/* Node i's SQNR in dB so far (+inf when the quantized output equals fp32,
 * NaN before any item) and the items it was measured on; -1 when i is no
 * quantizable node, else 0. */
int cq_quant_sens_get(const cq_quant_sens *s, int i, double *sqnr_db, int64_t *items);

#endif
