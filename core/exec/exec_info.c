/* exec_info.c - what a planned executor decided about each node, read by the
 * cost model (exec_info.h), and its per-node profile (exec.h's node times). The shape rule is exec_work.c's: the last run,
 * else a constant, else the static shape, else infer for a fused
 * intermediate. */
#include "exec/exec_info.h"
#include "exec/exec_internal.h"

#include <string.h>

int cq_exec_is_fused(const cq_exec *e, int node)
{
    return node >= 0 && node < e->n_nodes && e->fused_into[node] >= 0;
}

int cq_exec_node_planned(const cq_exec *e, int i)
{
    return i >= 0 && i < e->n_nodes && e->plan[i] != NULL;
}

cq_dtype cq_exec_node_precision(const cq_exec *e, int i)
{
    return i >= 0 && i < e->n_nodes ? e->precision[i] : CQ_F32;
}

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

const cq_graph *cq_exec_graph(const cq_exec *e)
{
    return e->g;
}

int cq_exec_fused_into(const cq_exec *e, int i)
{
    return i < 0 || i >= e->n_nodes ? -1 : e->fused_into[i];
}

int cq_exec_node_lut(const cq_exec *e, int i)
{
    return i >= 0 && i < e->n_nodes && e->lut && e->lut[i] != NULL;
}

/* The tinfo of value v as chain c's nodes before position upto made it, or
 * NULL when none of them wrote v. */
static const cq_tinfo *made_by(const cq_exec_chain *c, const cq_graph *g, int upto, int v)
{
    for (int k = upto - 1; k >= 0; k--) {
        const cq_node *n = &g->nodes[c->node[k]];
        for (int o = 0; o < n->n_outputs; o++)
            if (n->outputs[o] == v)
                return &c->out[k][o];
    }
    return NULL;
}

int cq_exec_node_chain(const cq_exec *e, int i, cq_exec_chain *c)
{
    int fused[CQ_EXEC_CHAIN_MAX], n = 0;
    if (i < 0 || i >= e->n_nodes) {
        memset(c, 0, sizeof *c);
        return -1;
    }
    for (int j = 0; j < e->n_nodes; j++)
        if (e->fused_into[j] == i) {
            if (n == CQ_EXEC_CHAIN_MAX - 1) {
                memset(c, 0, sizeof *c);
                return -1;
            }
            fused[n++] = j;
        }
    return cq_exec_node_chain_of(e, i, fused, n, c);
}

int cq_exec_node_chain_of(const cq_exec *e, int i, const int *fused, int n_fused,
                          cq_exec_chain *c)
{
    memset(c, 0, sizeof *c);
    if (i < 0 || i >= e->n_nodes || !e->ops[i] || e->fused_into[i] >= 0 ||
        n_fused > CQ_EXEC_CHAIN_MAX - 1)
        return -1;
    const cq_graph *g = e->g;
    c->node[c->n++] = i;
    for (int k = 0; k < n_fused; k++)
        c->node[c->n++] = fused[k];
    for (int k = 0; k < c->n; k++) {
        int ni = c->node[k];
        const cq_node *n = &g->nodes[ni];
        for (int a = 0; a < n->n_inputs && a < CQ_OP_MAX_INPUTS; a++) {
            int v = n->inputs[a];
            cq_tinfo *ti = &c->in[k][a];
            const cq_tinfo *m = v >= 0 ? made_by(c, g, k, v) : NULL;
            if (m)
                *ti = *m;
            else if (v >= 0)
                value_info(e, v, ti);
            else
                ti->ndim = -1;
            if (v >= 0 && ti->ndim < 0)
                return -2;
        }
        int need = 0;
        for (int o = 0; o < n->n_outputs && o < CQ_OP_MAX_OUTPUTS; o++) {
            c->out[k][o].ndim = -1;
            if (n->outputs[o] >= 0 && cq_exec_value_written(e, n->outputs[o]))
                value_info(e, n->outputs[o], &c->out[k][o]);
            need |= n->outputs[o] >= 0 && c->out[k][o].ndim < 0;
        }
        if (need) {
            cq_err err;
            cq_tinfo inf[CQ_OP_MAX_OUTPUTS];
            memset(inf, 0, sizeof inf);
            if (e->ops[ni]->infer(n, e->opset[ni], n->n_inputs, c->in[k], n->n_outputs, inf, &err))
                return -2;
            for (int o = 0; o < n->n_outputs && o < CQ_OP_MAX_OUTPUTS; o++)
                if (c->out[k][o].ndim < 0)
                    c->out[k][o] = inf[o];
        }
    }
    return 0;
}

/* The per-node profile (exec.h): times, runs, the clock. */
int cq_exec_node_time(const cq_exec *e, int i, double *ns, int64_t *runs)
{
    int ok = i >= 0 && i < e->n_nodes;
    *ns = ok ? e->time_ns[i] : 0;
    *runs = ok ? e->runs[i] : 0;
    return ok ? 0 : -1;
}

void cq_exec_reset_profile(cq_exec *e)
{
    for (int i = 0; i < e->n_nodes; i++) {
        e->time_ns[i] = 0;
        e->runs[i] = 0;
    }
}

void cq_exec_set_profile_clock(cq_exec *e, cq_exec_clock clock)
{
    e->clock_cpu = clock == CQ_EXEC_CLOCK_CPU;
    cq_exec_reset_profile(e);
}

cq_exec_clock cq_exec_profile_clock(const cq_exec *e)
{
    return e->clock_cpu ? CQ_EXEC_CLOCK_CPU : CQ_EXEC_CLOCK_WALL;
}

int cq_exec_is_joined(const cq_exec *e, int i)
{
    return i >= 0 && i < e->n_nodes && e->joined[i];
}
