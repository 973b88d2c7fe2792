/*
 * exec_info.h - what a planned executor decided about each node, for the cost
 * model (core/cost/): the nodes fused into one and the shapes of the tensors
 * their whole reads and writes, and whether a node runs as a 256-entry table.
 * Read only; the executor's runs are unchanged by these calls.
 */
#ifndef CQ_EXEC_INFO_H
#define CQ_EXEC_INFO_H

#include "exec/exec.h"
#include "ops/ops.h"

#define CQ_EXEC_CHAIN_MAX 16 /* nodes fused into one: Conv, act, Add, act, pool at most today */

/* Node i's fused whole as the executor runs it: node[0] = i, then the nodes
 * fused into it in graph order; for each, its inputs and outputs as
 * cq_tinfo: the last run's dtype and shape, else a constant's, else the
 * planner's static ones; a fused intermediate (never written) gets what its
 * node's infer says (ndim -1 for an omitted input or output). About 60 KB:
 * allocate it. */
typedef struct cq_exec_chain {
    int n;
    int node[CQ_EXEC_CHAIN_MAX];
    cq_tinfo in[CQ_EXEC_CHAIN_MAX][CQ_OP_MAX_INPUTS];
    cq_tinfo out[CQ_EXEC_CHAIN_MAX][CQ_OP_MAX_OUTPUTS];
} cq_exec_chain;

/* The graph e runs (borrowed). */
const cq_graph *cq_exec_graph(const cq_exec *e);

/* Fill c for node i. 0 on success; -1 when i is out of range, dead or fused
 * into another node, or more than CQ_EXEC_CHAIN_MAX nodes make the chain; -2
 * when a shape the chain needs is unknown (no run yet and no static shape).
 * It looks for the nodes fused into i among all nodes: to walk every node,
 * collect them once with cq_exec_fused_into and use cq_exec_node_chain_of. */
int cq_exec_node_chain(const cq_exec *e, int i, cq_exec_chain *c);
/* The same with the nodes fused into i given (fused[0..n_fused), in graph
 * order), in time linear in the chain. */
int cq_exec_node_chain_of(const cq_exec *e, int i, const int *fused, int n_fused,
                          cq_exec_chain *c);
/* The node that absorbed node i (its time counts there), -1 when none. */
int cq_exec_fused_into(const cq_exec *e, int i);
/* 1 when node i (a DequantizeLinear) runs its chain of elementwise ops and
 * the QuantizeLinear after them as one 256-entry table on the codes
 * (CQ_FUSE_LUT), else 0. */
int cq_exec_node_lut(const cq_exec *e, int i);

#endif
