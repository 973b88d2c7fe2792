/* exec_join.c - the joins an executor plans (CQ_OP_JOIN: a Concat of a
 * batch of one along the channels): each input's producer writes straight
 * into its slice of the join's output, which the run allocates with the
 * first of them, and the join node itself then copies nothing. U-Net's
 * skip connections: bench/RESULTS.md "fp32 zoo", U-Net. */
#include "exec/exec_internal.h"

#include <stdlib.h>
#include <string.h>

/* Whether value v has a fully known f32 shape. */
static int known_f32(const cq_value *v)
{
    if (!v->has_type || v->dtype != CQ_F32 || v->ndim < 0)
        return 0;
    for (int d = 0; d < v->ndim; d++)
        if (v->shape[d] <= 0)
            return 0;
    return 1;
}

/* Whether node i's run writes plain f32 (no table, no other precision). */
static int writes_f32(const cq_exec *e, int i)
{
    return i >= 0 && e->ops[i] && !e->lut[i] && e->precision[i] == CQ_F32;
}

/* Whether input k of join node c can be written in place: a value some
 * node computes (no graph input, output or constant), f32 in the join's
 * layout, read by nothing after c (its slice is the join's output once c
 * has run), in no other join, and not itself a join's output. */
static int slice_ok(const cq_exec *e, const cq_graph_uses *u, int c, int k, int y_blocked)
{
    const cq_graph *g = e->g;
    const cq_node *n = &g->nodes[c];
    int v = n->inputs[k];
    const cq_value *val = &g->values[v];
    if (val->is_input || val->is_output || val->data || val->is_initializer || !known_f32(val) ||
        e->blocked[v] != y_blocked || e->join_into[v] >= 0 || val->producer < 0)
        return 0;
    int p = val->producer, rp = e->fused_into[p] >= 0 ? e->fused_into[p] : p;
    if (!writes_f32(e, p) || !writes_f32(e, rp) || e->joined[rp] || !cq_exec_value_written(e, v))
        return 0;
    for (int j = 0; j < k; j++)
        if (n->inputs[j] == v)
            return 0;
    const int *r = cq_graph_uses_list(u, v);
    for (int j = 0; j < cq_graph_uses_count(u, v); j++)
        if (r[j] > c)
            return 0;
    return 1;
}

cq_status cq__exec_plan_join(cq_exec *e, cq_err *err)
{
    const cq_graph *g = e->g;
    int any = 0;
    for (int i = 0; i < g->n_nodes && !any; i++)
        any = e->ops[i] && (e->ops[i]->caps & CQ_OP_JOIN) && e->fused_into[i] < 0;
    if (!any)
        return CQ_OK;
    cq_graph_uses u;
    if (cq_graph_uses_build(g, &u, err))
        return err->code;
    int64_t off[CQ_OP_MAX_INPUTS];
    for (int c = 0; c < g->n_nodes; c++) {
        const cq_node *n = &g->nodes[c];
        if (!e->ops[c] || !(e->ops[c]->caps & CQ_OP_JOIN) || e->fused_into[c] >= 0 ||
            !writes_f32(e, c) || n->n_outputs != 1 || n->outputs[0] < 0 || n->n_inputs < 1)
            continue;
        int y = n->outputs[0];
        const cq_value *yv = &g->values[y];
        if (yv->is_output || yv->is_input || yv->data || !known_f32(yv) ||
            !e->ops[c]->hooks->join_of(g, n, e->blocked[y], off))
            continue;
        int ok = 1;
        for (int k = 0; k < n->n_inputs && ok; k++)
            /* (whole cache lines: no two writers share one) */
            ok = slice_ok(e, &u, c, k, e->blocked[y]) && off[k] % 16 == 0;
        if (!ok)
            continue;
        for (int k = 0; k < n->n_inputs; k++) {
            e->join_into[n->inputs[k]] = y;
            e->join_off[n->inputs[k]] = off[k] * (int64_t)sizeof(float);
        }
        e->joined[c] = 1;
    }
    cq_graph_uses_free(&u);
    return CQ_OK;
}
