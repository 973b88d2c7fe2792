/*
 * cost.h - the cost estimators: a planned executor's per-node latency on a
 * hardware profile (hw.h), without running anything on that hardware.
 *
 * Per node that runs (fused nodes count in the node that absorbed them, as
 * model:profile() reports them):
 *   compute  MACs / (profile MACs/cycle of the node's precision x the kernel
 *            class's efficiency x the tile efficiency of that kernel on those
 *            shapes (padding waste, remainder tiles) x clock x threads)
 *   memory   sum over the tensors the node moves of bytes / bandwidth of the
 *            level the tensor comes from. The level comes from a whole-model
 *            cache simulation: the nodes in execution order, run after run
 *            (weights and activations reused from one run to the next), an
 *            LRU at tensor granularity (a tensor's reuse distance in bytes
 *            against each level's capacity; a shared level split by the cores
 *            in use), and the kernel's tiling reuse: the operand a kernel
 *            re-reads per tile comes from the level its working set fits.
 *   cvt      precision conversions the node does (QuantizeLinear,
 *            DequantizeLinear, the requantize epilogue of QLinear*, the f32
 *            -> bf16 rounding of a bf16 kernel's inputs), elements / profile
 *            cvt rate.
 *   total    with c = compute + cvt, m = memory and f its part from the
 *            shared levels and DRAM: max(c, m - f) + f + profile node_ns (the
 *            private levels' traffic overlaps the arithmetic, the far one
 *            adds), or with opts.overlap = 1 the roofline max(c, m);
 *            docs/cost-model.md, "Validation", compares them. bound names
 *            the largest of c, m and node_ns.
 * Every constant comes from the profile; nothing is fitted per model.
 *
 *     cq_cost_opts o = CQ_COST_OPTS_DEFAULT;
 *     o.threads = 1;
 *     cq_cost c;
 *     if (cq_cost_exec(e, &hw, &o, &c, &err) == CQ_OK) {   // e: a planned cq_exec
 *         for (int k = 0; k < c.n; k++)
 *             printf("%s %.3f ms\n", c.rows[k].name, c.rows[k].ns / 1e6);
 *         cq_cost_free(&c);
 *     }
 *
 * Shapes: the executor's last run, else the planner's static shapes; a node
 * whose shapes are unknown fails the call (EINVAL naming it: run the model
 * once, or give its inputs fixed shapes).
 * Ownership: rows borrow the graph's names (valid while the graph lives).
 */
#ifndef CALQ_COST_COST_H
#define CALQ_COST_COST_H

#include <stdint.h>

#include "base/status.h"
#include "cost/hw.h"
#include "exec/exec.h"

typedef enum cq_cost_bound {
    CQ_COST_COMPUTE = 0,
    CQ_COST_MEMORY,
    CQ_COST_OVERHEAD,
} cq_cost_bound;

typedef struct cq_cost_opts {
    int threads; /* cores the model uses (min(threads, hw->cores)); < 1: 1 */
    /* 1: the memory/cache estimator (the default). 0: the ablation: no
     * memory term and no cache simulation (compute + cvt + node_ns only),
     * for bench/cost_validate.lua's "what the memory side is worth". */
    int memory;
    /* Runs simulated before the one reported: 1 (the default) is a warm
     * steady state (weights and activations of the previous run in cache
     * where they fit); 0 a cold first run. */
    int warm;
    /* How much of the far memory traffic (shared levels, DRAM) hides under
     * the arithmetic, in [0, 1]: with c = compute + cvt, m = memory, f its
     * far part, ns = overlap max(c, m) + (1 - overlap) (max(c, m - f) + f).
     * 1 is the roofline maximum; 0 (the default) lets only the private
     * levels' traffic overlap: measured better on this host's zoo
     * (docs/cost-model.md, "Validation"). */
    double overlap;
} cq_cost_opts;

#define CQ_COST_OPTS_DEFAULT {.threads = 1, .memory = 1, .warm = 1, .overlap = 0.0}

/* One node's estimate. Times in nanoseconds. */
typedef struct cq_cost_row {
    int node;               /* index into g->nodes */
    const char *name;       /* the ONNX node name (g->nodes[node].name) */
    const char *op;         /* its op_type */
    cq_dtype precision;     /* CQ_F32, CQ_BF16, or CQ_U8 / CQ_S8 for int8 */
    const char *kclass;     /* the kernel class: "f32_conv", "s8_dw", "eltwise"... */
    int64_t macs;           /* multiply-accumulates (fused nodes' included) */
    int64_t bytes;          /* bytes of the tensors moved (each value once) */
    int64_t cvt_elems;      /* elements converted between precisions */
    double tile_eff;        /* the tile efficiency used (1: none lost) */
    int level;              /* where most of the bytes came from: 0 L1, ...,
                             * hw->n_cache - 1 the last cache, hw->n_cache DRAM */
    double compute_ns, memory_ns, cvt_ns, overhead_ns;
    double memory_far_ns;   /* the part of memory_ns from the shared levels and DRAM
                             * that adds to the arithmetic */
    double memory_stream_ns; /* the part of memory_ns that overlaps it: the weights'
                             * trips past the private caches of a kernel that
                             * prefetches them (call_ns.f32_wline / s8_wline a line
                             * from DRAM); the row takes at least this long */
    double ns;              /* the total */
    cq_cost_bound bound;
    int n_fused;            /* nodes fused into this one (their time is here) */
} cq_cost_row;

typedef struct cq_cost {
    int n;                  /* rows: the nodes that run, in execution order */
    cq_cost_row *rows;
    double total_ns;        /* the sum of the rows */
} cq_cost;

/* Estimate every node e runs on hw. out is filled (cq_cost_free it) on
 * CQ_OK; on failure it is zeroed and err names the node or profile field. */
cq_status cq_cost_exec(const cq_exec *e, const cq_hw *hw, const cq_cost_opts *opts, cq_cost *out,
                       cq_err *err);
void cq_cost_free(cq_cost *c); /* zeroes c; a zeroed c is fine */

/* The time, ns, of converting `elements` values (kind: hw.h's cq_hw_cvt) as a
 * node of its own on `threads` cores: elements / (hw->cvt[kind] x clock x
 * threads) + the memory moved at the bandwidth of the level its size fits,
 * the roofline max of the two, + node_ns. What a precision change between
 * two nodes costs when it is a node (a QuantizeLinear, a DequantizeLinear). */
double cq_cost_convert_ns(const cq_hw *hw, cq_hw_cvt kind, int64_t elements, int threads);

/* The conversion an edge needs when its producer runs at `from` and its
 * consumer at `to` (CQ_F32, CQ_BF16, or CQ_U8/CQ_S8 for int8), for calq's
 * executor: int8 -> f32/bf16 a DequantizeLinear, f32/bf16 -> int8 a
 * QuantizeLinear; f32 <-> bf16 none (calq's bf16 kernels take and give f32
 * and round inside: that cost is the bf16 node's cvt_ns); int8 -> int8 none
 * (the requantize is the consumer's epilogue). Returns the cq_hw_cvt kind,
 * or -1 when none is needed. */
int cq_cost_edge_cvt(cq_dtype from, cq_dtype to);

#endif
