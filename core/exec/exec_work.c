/* exec_work.c - the work each node did in the last run (cq_exec_node_work):
 * its arithmetic (cq_op_flops) and the bytes of the tensors it read and
 * wrote, from the shapes the run saw, so a profile can show achieved rates;
 * and the shape inference a run reuses from the one before. */
#include "exec/exec_internal.h"

#include <stdlib.h>
#include <string.h>

#define CHAIN_MAX 16 /* nodes fused into one: Conv, act, Add, act, pool at most today */

/* What value v was in the last run, else its constant data, else the
 * planner's static shape; ndim -1 when none is known. */
static void value_info(const cq_exec *e, int v, cq_tinfo *ti)
{
    const cq_value *val = &e->g->values[v];
    memset(ti, 0, sizeof *ti);
    ti->ndim = -1;
    ti->data = val->data;
    if (e->last_nd[v] >= 0) {
        ti->dtype = e->last_dtype[v];
        ti->ndim = e->last_nd[v];
        memcpy(ti->shape, e->last_shape[v], sizeof ti->shape);
    } else if (val->data) {
        ti->dtype = val->data->dtype;
        ti->ndim = val->data->ndim;
        memcpy(ti->shape, val->data->shape, sizeof ti->shape);
    } else if (val->has_type && val->ndim >= 0) {
        for (int d = 0; d < val->ndim; d++)
            if (val->shape[d] < 0)
                return;
        ti->dtype = val->dtype;
        ti->ndim = val->ndim;
        memcpy(ti->shape, val->shape, sizeof ti->shape);
    }
}

static int64_t info_bytes(const cq_tinfo *ti)
{
    int64_t k = 1;
    for (int d = 0; d < ti->ndim; d++)
        k *= ti->shape[d];
    return k * (int64_t)cq_dtype_info(ti->dtype)->size;
}

/* The values the chain's nodes made, with what infer said of those the
 * run never kept (a fused intermediate). */
typedef struct made {
    int n;
    int v[CHAIN_MAX * CQ_OP_MAX_OUTPUTS];
    cq_tinfo ti[CHAIN_MAX * CQ_OP_MAX_OUTPUTS];
} made;

static const cq_tinfo *made_find(const made *m, int v)
{
    for (int k = 0; k < m->n; k++)
        if (m->v[k] == v)
            return &m->ti[k];
    return NULL;
}

int cq_exec_node_work(const cq_exec *e, int i, int64_t *flops, int64_t *bytes)
{
    *flops = *bytes = 0;
    if (i < 0 || i >= e->n_nodes || !e->ops[i] || e->fused_into[i] >= 0)
        return -1;
    if (e->joined[i])
        return 0; /* its producers wrote its output; it moves nothing */
    const cq_graph *g = e->g;
    int chain[CHAIN_MAX], nc = 0;
    chain[nc++] = i;
    /* the nodes fused into i from the fusion's member lists (not a walk of
     * every node: a profile asks every node), in node order */
    for (int j = e->member_first ? e->member_first[i] : -1; j >= 0; j = e->member_next[j]) {
        if (nc == CHAIN_MAX)
            return -1;
        int k = nc++;
        for (; k > 1 && chain[k - 1] > j; k--)
            chain[k] = chain[k - 1];
        chain[k] = j;
    }
    made m; /* about 12 KB */
    m.n = 0;
    int64_t f = 0, b = 0;
    int kind = -1;
    int seen[CHAIN_MAX * CQ_OP_MAX_INPUTS], ns = 0;
    for (int c = 0; c < nc; c++) {
        const cq_node *n = &g->nodes[chain[c]];
        cq_tinfo in[CQ_OP_MAX_INPUTS], out[CQ_OP_MAX_OUTPUTS];
        for (int k = 0; k < n->n_inputs; k++) {
            int v = n->inputs[k];
            const cq_tinfo *mi = v >= 0 ? made_find(&m, v) : NULL;
            if (mi) {
                in[k] = *mi;
                continue;
            }
            if (v < 0) {
                memset(&in[k], 0, sizeof in[k]);
                in[k].ndim = -1;
                continue;
            }
            value_info(e, v, &in[k]);
            if (in[k].ndim < 0)
                return -1;
            int dup = 0;
            for (int s = 0; s < ns; s++)
                dup |= seen[s] == v;
            if (!dup) {
                seen[ns++] = v;
                b += info_bytes(&in[k]);
            }
        }
        int need_infer = 0;
        for (int k = 0; k < n->n_outputs; k++) {
            memset(&out[k], 0, sizeof out[k]);
            out[k].ndim = -1;
            if (n->outputs[k] >= 0 && cq_exec_value_written(e, n->outputs[k]))
                value_info(e, n->outputs[k], &out[k]);
            need_infer |= n->outputs[k] >= 0 && out[k].ndim < 0;
        }
        if (need_infer) {
            cq_err err;
            cq_tinfo inf[CQ_OP_MAX_OUTPUTS];
            memset(inf, 0, sizeof inf);
            if (e->ops[chain[c]]->infer(n, e->opset[chain[c]], n->n_inputs, in, n->n_outputs,
                                        inf, &err))
                return -1;
            for (int k = 0; k < n->n_outputs; k++)
                if (out[k].ndim < 0)
                    out[k] = inf[k];
        }
        for (int k = 0; k < n->n_outputs; k++) {
            if (n->outputs[k] < 0)
                continue;
            m.v[m.n] = n->outputs[k];
            m.ti[m.n++] = out[k];
            if (cq_exec_value_written(e, n->outputs[k]))
                b += info_bytes(&out[k]);
        }
        int64_t fc;
        int kc = cq_op_flops(n, n->n_inputs, in, n->n_outputs, out, &fc);
        if (kc < 0)
            return -1;
        if (c == 0)
            kind = kc;
        f += fc;
    }
    *flops = f;
    *bytes = b;
    return kind;
}

/* Whether ti (node i's inputs) are the dtypes and shapes of its last shape
 * inference (exec_internal.h). */
int cq__exec_memo_get(const cq_exec *e, int i, const cq_tinfo *ti, cq_tinfo *to)
{
    const cq_node *n = &e->g->nodes[i];
    const cq_tinfo *m = e->memo[i];
    if (!m)
        return 0;
    for (int k = 0; k < n->n_inputs; k++) {
        if (m[k].dtype != ti[k].dtype || m[k].ndim != ti[k].ndim)
            return 0;
        for (int d = 0; d < ti[k].ndim; d++)
            if (m[k].shape[d] != ti[k].shape[d])
                return 0;
    }
    memcpy(to, m + n->n_inputs, (size_t)n->n_outputs * sizeof *to);
    return 1;
}

void cq__exec_memo_put(cq_exec *e, int i, const cq_tinfo *ti, const cq_tinfo *to)
{
    const cq_node *n = &e->g->nodes[i];
    if (!(e->ops[i]->caps & CQ_OP_PLAN))
        return;
    size_t nt = (size_t)(n->n_inputs + n->n_outputs);
    if (!e->memo[i] && !(e->memo[i] = malloc(nt * sizeof **e->memo)))
        return;
    memcpy(e->memo[i], ti, (size_t)n->n_inputs * sizeof *ti);
    memcpy(e->memo[i] + n->n_inputs, to, (size_t)n->n_outputs * sizeof *to);
    for (size_t k = 0; k < nt; k++)
        e->memo[i][k].data = NULL; /* not kept: the inference reads no data */
}
