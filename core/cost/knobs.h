/*
 * knobs.h - the quantization knobs: which precision each node runs in
 * (int8, bf16 or fp32) for the least simulated latency under an accuracy
 * budget.
 *
 * The problem is plain arrays, so the solver knows nothing of graphs, cost
 * estimators or sensitivities (scripts/calq/knobs.lua builds it from the
 * cost model's per-node table and the quantizer's SQNR table):
 *
 *   minimise  sum_i time[i][p_i] + sum_(a,b) edge_cost(a,b)[p_a][p_b]
 *   subject   sum_i noise[i][p_i] <= budget
 *
 * time[i][p] is node i's predicted time at precision p (not finite: p not
 * allowed for i); an edge's cost[pa][pb] is what the conversion between its
 * ends costs (a QuantizeLinear, a DequantizeLinear, an f32<->bf16 cast; 0
 * where none is needed), so an island of one precision pays its way in and
 * out. noise[i][p] is the relative noise power (noise / signal at the
 * node's output, 10^(-SQNR/10)) node i adds at p; under the additive-noise
 * model the output's relative noise is their sum (docs/cost-model.md,
 * "Knobs", says why that is the proxy).
 *
 * Two solvers:
 *   cq_knobs_greedy  the baseline: every node at its lowest allowed
 *                    precision, then, while over budget, raise the node
 *                    whose next precision removes the most noise per unit
 *                    of added time.
 *   cq_knobs_solve   exact: dynamic programming over the nodes in the order
 *                    given (a topological order keeps it narrow). A state is
 *                    the precisions of the frontier (assigned nodes with an
 *                    edge to an unassigned one); each state keeps its Pareto
 *                    set of (time, noise) partial solutions, pruned by the
 *                    budget and by branch and bound against the greedy
 *                    result as incumbent (time so far + the least time the
 *                    rest can take). When the frontier or the Pareto sets
 *                    outgrow max_labels the search stops and the result is
 *                    the best found, marked exact = 0.
 *
 *     double t[3*N], z[3*N];             // per node: int8, bf16, fp32
 *     cq_knobs_edge e[M];                // from, to, cost[3][3]
 *     cq_knobs_problem p = {.n = N, .time = t, .noise = z, .n_edges = M,
 *                           .edges = e, .budget = 1e-3};
 *     unsigned char prec[N];
 *     cq_knobs_result r;
 *     if (cq_knobs_solve(&p, prec, &r, &err) != CQ_OK) ...  // err names the problem
 */
#ifndef CALQ_COST_KNOBS_H
#define CALQ_COST_KNOBS_H

#include <stdint.h>

#include "base/status.h"

/* The precisions, lowest (cheapest, noisiest) first. */
enum { CQ_KNOB_INT8 = 0, CQ_KNOB_BF16 = 1, CQ_KNOB_FP32 = 2, CQ_KNOB_COUNT = 3 };

/* A data edge: the value node from writes, node to reads. cost[pf][pt] >= 0
 * is the conversion's time when from runs at pf and to at pt. */
typedef struct cq_knobs_edge {
    int from, to;
    double cost[CQ_KNOB_COUNT][CQ_KNOB_COUNT];
} cq_knobs_edge;

typedef struct cq_knobs_problem {
    int n;                       /* nodes */
    const double *time;          /* n * CQ_KNOB_COUNT: time[i*3+p]; not finite: p not allowed */
    const double *noise;         /* n * CQ_KNOB_COUNT: relative noise power, >= 0 */
    int n_edges;
    const cq_knobs_edge *edges;
    double budget;               /* the noise sum may not pass it */
    int64_t max_labels;          /* exact solver: partial solutions kept a step; 0: 4,000,000 */
} cq_knobs_problem;

typedef struct cq_knobs_result {
    double time;     /* the objective at the choice */
    double noise;    /* its noise sum */
    int64_t labels;  /* partial solutions the exact solver made (0 for greedy) */
    int width;       /* the widest frontier of the exact solver's order */
    int exact;       /* 1: proven optimal; 0: greedy, or the search hit max_labels */
} cq_knobs_result;

/* The objective of the choice prec[n] (each < CQ_KNOB_COUNT); *noise its
 * noise sum (noise may be NULL). Not finite when a node is at a precision
 * it does not allow. */
double cq_knobs_eval(const cq_knobs_problem *p, const unsigned char *prec, double *noise);

/* The greedy baseline into prec[n]. CQ_EINVAL for a malformed problem (the
 * message names the node or edge) or a budget that no choice meets (the
 * least noise any choice reaches is said). */
cq_status cq_knobs_greedy(const cq_knobs_problem *p, unsigned char *prec, cq_knobs_result *r,
                          cq_err *err);

/* The exact solver into prec[n] (errors of cq_knobs_greedy, whose result is
 * its incumbent, and CQ_ENOMEM). */
cq_status cq_knobs_solve(const cq_knobs_problem *p, unsigned char *prec, cq_knobs_result *r,
                         cq_err *err);

#endif
