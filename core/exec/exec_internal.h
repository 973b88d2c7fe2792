/*
 * exec_internal.h - the executor's state, shared by exec.c (life cycle, the
 * buffer pool, running) and exec_plan.c (fusion, layout, kernel plans).
 */
#ifndef CQ_EXEC_INTERNAL_H
#define CQ_EXEC_INTERNAL_H

#include "exec/exec.h"
#include "ops/ops.h"

typedef struct cq__exec_block {
    void *p;
    size_t size;
    int used;
} cq__exec_block;

struct cq_exec {
    const cq_graph *g;        /* read only after planning */
    cq_limits lim;            /* cq_exec_opts.limits or the defaults */
    int n_nodes, n_values;    /* g's counts when planned (cq_exec_is_stale) */
    /* per node */
    const cq_op **ops;        /* NULL for dead ones */
    int64_t *opset;
    cq_dtype *precision;      /* the precision map (all CQ_F32 without one) */
    cq_act *act;              /* activation fused into the node, kind CQ_ACT_NONE */
    void **plan;              /* kernel plan (ops[i]->hooks->plan_free), or NULL */
    double *time_ns;          /* summed run time */
    int clock_cpu;            /* time_ns on the thread's CPU clock (else the wall clock) */
    int64_t *runs;
    int *fused_into;          /* the node that absorbed it, or -1 */
    int *out_alias;           /* value the node writes instead of its own output, or -1 */
    int *res_in;              /* residual value the node adds (fused Add), or -1 */
    int *res_node;            /* that Add node, or -1 */
    int *pool_of;             /* the MaxPool the node runs on its output, or -1 */
    uint8_t **lut;            /* a DequantizeLinear running its chain as a table, or NULL */
    unsigned char *joined;    /* a join whose inputs are written in place (exec_join.c) */
    cq_dtype *lut_dtype;      /* the table's output dtype (the QuantizeLinear's) */
    /* a CQ_OP_PLAN node's last shape inference: its inputs' tinfo, then its
     * outputs' (NULL until it ran, or when out of memory) */
    cq_tinfo **memo;
    /* while the fusion is planned only (NULL otherwise): the readers of each
     * value; and from the fusion on (NULL without one), per node the first
     * of the nodes fused into it and the next one fused into the same node
     * (-1 ends, in no order), so that planning and cq_exec_node_work stay
     * linear in the node count */
    const cq_graph_uses *uses;
    int *member_first, *member_next;
    /* per value */
    int *readers;             /* live readers, graph outputs count as one more */
    unsigned char *blocked;   /* kept in NCHW16c */
    int *join_into;           /* the join output whose slice holds it, or -1 */
    int64_t *join_off;        /* its byte offset there */
    cq_exec_observer observer;
    void *observer_ud;
    int threads;              /* 0: the process's count */
    cq_openv env;
    cq__exec_block *blocks;
    int n_blocks, cap_blocks;
    size_t naive_bytes;
    /* per-run state, per value */
    cq_tensor **vals;
    int *left;
    int *blk;                 /* block index holding each value, -1 */
    int *last_nd;             /* rank in the last run, -1 */
    int64_t (*last_shape)[CQ_MAX_DIMS];
    cq_dtype *last_dtype;
};

/* Whether ti (node i's inputs) have the dtypes and shapes of its last shape
 * inference, kept for CQ_OP_PLAN nodes only (their answer depends on
 * nothing else); then to gets its outputs' answer. The attribute lookups of
 * a Conv's inference took 0.5 % of MobileNetV2's run (exec_work.c). */
int cq__exec_memo_get(const cq_exec *e, int i, const cq_tinfo *ti, cq_tinfo *to);
/* Keeps node i's inference ti -> to (nothing when out of memory). */
void cq__exec_memo_put(cq_exec *e, int i, const cq_tinfo *ti, const cq_tinfo *to);
/* Node i's fused activation and layout fields into env (what both the
 * kernel plans and the runs see). */
void cq__exec_node_env(const cq_exec *e, int i, cq_openv *env);
/* The fusions fuse names (cq_exec_opts.fuse, not 0), after the arrays are set up. */
cq_status cq__exec_plan_fusion(cq_exec *e, int fuse, cq_err *err);
/* The 256-entry tables (CQ_FUSE_LUT, exec_lut.c), part of the fusion. */
cq_status cq__exec_plan_lut(cq_exec *e, cq_err *err);
/* Whether node i reads input k in the blocked layout: f32 where the value
 * is NCHW16c and the node takes it; 8-bit codes in the layout the node
 * wants (its output's for a node reading several inputs in one layout,
 * NCHW for one that takes none), the run converting a value held in the
 * other one. */
int cq__exec_want_blocked(const cq_exec *e, int i, int k);
/* NCHW16c between the convolutions, after fusion and the reader counts;
 * linear in the node count. ENOMEM. */
cq_status cq__exec_plan_layout(cq_exec *e, cq_err *err);
/* The joins (CQ_OP_JOIN) whose inputs are written into their slices,
 * after fusion and layout (exec_join.c). ENOMEM. */
cq_status cq__exec_plan_join(cq_exec *e, cq_err *err);
/* The precision map of opts (checked) into e->precision. */
cq_status cq__exec_take_precision(cq_exec *e, const cq_exec_opts *o, cq_err *err);
/* Kernel plans of the CQ_OP_PLAN nodes, after fusion and layout. */
cq_status cq__exec_plan_kernels(cq_exec *e, cq_err *err);

#endif
