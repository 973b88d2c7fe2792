/* exec_lut.c - 256-entry tables in the executor's plan. A chain
 * DequantizeLinear -> elementwise f32 ops -> QuantizeLinear on per-tensor
 * 8-bit codes computes a function of each code alone: the Sigmoid and Mul of
 * a SiLU, a HardSwish, a Clip between two int8 convolutions. The executor
 * runs such a chain as one lookup (kern_qelt.h's cq_lut_8) on the codes: the
 * DequantizeLinear node reads the codes and writes the QuantizeLinear's
 * output, the other nodes are absorbed. The table is made by running the
 * chain's own operators on the 256 codes, so it gives the float chain's
 * results bit for bit. Ops are recognized by their table capabilities
 * (CQ_OP_DEQUANT, CQ_OP_ELEMENTWISE, CQ_OP_QUANT), never by name. */
#include "exec/exec_internal.h"

#include <stdlib.h>
#include <string.h>

#include "kern/kern_qelt.h"

#define LUT_MAX_NODES 16

static unsigned caps_of(const cq_exec *e, int i) { return e->ops[i] ? e->ops[i]->caps : 0; }

/* Whether value v is a constant of one f32 value, or a constant scale or
 * zero point (for the Q / DQ ends). */
static int scalar_const(const cq_graph *g, int v)
{
    return v >= 0 && g->values[v].data && cq_tensor_numel(g->values[v].data) == 1;
}

static int same_known_shape(const cq_value *a, const cq_value *b)
{
    if (!a->has_type || !b->has_type || a->ndim < 0 || a->ndim != b->ndim)
        return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] <= 0 || a->shape[d] != b->shape[d])
            return 0;
    return 1;
}

static int in_set(const int *s, int n, int x)
{
    for (int k = 0; k < n; k++)
        if (s[k] == x)
            return 1;
    return 0;
}

/* The chain ending at QuantizeLinear node q: its nodes into chain (sorted
 * by index, q last) and the DequantizeLinear at its start into *dq; the
 * count, or 0 when q does not end such a chain. */
static int find_chain(const cq_exec *e, int q, int *chain, int *dq)
{
    const cq_graph *g = e->g;
    const cq_node *qn = &g->nodes[q];
    if (qn->n_inputs < 2 || qn->inputs[0] < 0 || qn->n_outputs != 1 || qn->outputs[0] < 0 ||
        !scalar_const(g, qn->inputs[1]) || (qn->n_inputs > 2 && qn->inputs[2] >= 0 &&
                                           !scalar_const(g, qn->inputs[2])))
        return 0;
    const cq_value *y = &g->values[qn->outputs[0]];
    const cq_value *v0 = &g->values[qn->inputs[0]];
    if (!y->has_type || (y->dtype != CQ_U8 && y->dtype != CQ_S8) || !v0->has_type ||
        v0->dtype != CQ_F32)
        return 0;
    int n = 0, d = -1;
    int todo[LUT_MAX_NODES], nt = 0;
    chain[n++] = q;
    todo[nt++] = qn->inputs[0];
    while (nt > 0) {
        int v = todo[--nt];
        const cq_value *val = &g->values[v];
        int p = val->producer;
        if (p < 0 || val->is_output || val->data || !same_known_shape(val, v0) ||
            e->fused_into[p] >= 0 || e->out_alias[p] >= 0 ||
            e->res_in[p] >= 0 || e->pool_of[p] >= 0 || e->act[p].kind != CQ_ACT_NONE)
            return 0;
        if (in_set(chain, n, p))
            continue;
        const cq_node *pn = &g->nodes[p];
        if (pn->n_outputs != 1)
            return 0;
        unsigned c = caps_of(e, p);
        if (c & (CQ_OP_DEQUANT | CQ_OP_QUANT)) {
            if (pn->n_inputs < 2 || pn->inputs[0] < 0 || !scalar_const(g, pn->inputs[1]) ||
                (pn->n_inputs > 2 && pn->inputs[2] >= 0 && !scalar_const(g, pn->inputs[2])))
                return 0;
        }
        if (c & CQ_OP_DEQUANT) {
            const cq_value *x = &g->values[pn->inputs[0]];
            if (!x->has_type || (x->dtype != CQ_U8 && x->dtype != CQ_S8) || x->data)
                return 0;
            int xp = x->producer;
            if (xp < 0 || !(caps_of(e, xp) & CQ_OP_QUANT) || !same_known_shape(x, v0)) {
                /* the one start: per-tensor codes of one dtype */
                if (d >= 0 && d != p)
                    return 0;
                d = p;
                continue;
            }
            /* a requantization inside the chain (Sigmoid -> Q -> DQ -> Mul
             * of a SiLU): still a function of the start's codes */
        } else if (!(c & (CQ_OP_ELEMENTWISE | CQ_OP_QUANT))) {
            return 0;
        }
        if (n >= LUT_MAX_NODES)
            return 0;
        chain[n++] = p;
        for (int k = 0; k < pn->n_inputs; k++) {
            int u = pn->inputs[k];
            if (u < 0 || (g->values[u].data && cq_tensor_numel(g->values[u].data) == 1))
                continue;
            if (g->values[u].data || nt >= LUT_MAX_NODES)
                return 0;
            todo[nt++] = u;
        }
    }
    if (d < 0)
        return 0;
    /* every value the chain makes (the DQ's too) is read inside it only */
    chain[n] = d;
    for (int k = 0; k <= n; k++) {
        if (chain[k] == q)
            continue;
        int v = g->nodes[chain[k]].outputs[0];
        int nc = cq_graph_uses_count(e->uses, v);
        const int *c = cq_graph_uses_list(e->uses, v);
        if (nc <= 0 || nc > LUT_MAX_NODES)
            return 0;
        for (int j = 0; j < nc; j++)
            if (!in_set(chain, n, c[j]))
                return 0;
    }
    /* the graph's order is a topological one: run the chain in it */
    for (int a = 1; a < n; a++)
        for (int b = a; b > 0 && chain[b - 1] > chain[b]; b--) {
            int t = chain[b];
            chain[b] = chain[b - 1];
            chain[b - 1] = t;
        }
    *dq = d;
    return n;
}

/* Run node i on the 256-value tensors of its chain inputs (vals, by value
 * index; constants from the graph); its output into vals. */
static cq_status run_on_codes(cq_exec *e, int i, cq_tensor **vals, cq_openv *env, cq_err *err)
{
    const cq_graph *g = e->g;
    const cq_node *n = &g->nodes[i];
    cq_tensor *in[CQ_OP_MAX_INPUTS], *out[1];
    cq_tinfo ti[CQ_OP_MAX_INPUTS], to[CQ_OP_MAX_OUTPUTS];
    if (n->n_inputs > CQ_OP_MAX_INPUTS)
        return cq_errf(err, CQ_EUNSUPPORTED, "too many inputs");
    for (int k = 0; k < n->n_inputs; k++) {
        int v = n->inputs[k];
        in[k] = v < 0 ? NULL : vals[v] ? vals[v] : g->values[v].data;
    }
    cq_tinfo_of(n->n_inputs, in, ti);
    memset(to, 0, sizeof to);
    if (e->ops[i]->infer(n, e->opset[i], n->n_inputs, ti, n->n_outputs, to, err))
        return err->code;
    out[0] = cq_tensor_new(to[0].dtype, to[0].ndim, to[0].shape, err);
    if (!out[0])
        return err->code;
    env->opset = e->opset[i];
    cq_status st = e->ops[i]->run(n, n->n_inputs, in, 1, out, env, err);
    if (st) {
        cq_tensor_release(out[0]);
        return st;
    }
    vals[n->outputs[0]] = out[0];
    return CQ_OK;
}

/* The table of the chain dq, chain[0..n) into lut. vals (by value index,
 * all NULL) is the caller's, shared by every chain and left all NULL, so
 * that a table costs its chain's size, not the value count. */
static cq_status make_table(cq_exec *e, int dq, const int *chain, int n, uint8_t *lut,
                            cq_tensor **vals, cq_err *err)
{
    const cq_graph *g = e->g;
    int x = g->nodes[dq].inputs[0];
    int64_t len = 256;
    cq_tensor *codes = cq_tensor_new(g->values[x].dtype, 1, &len, err);
    cq_status st = codes ? CQ_OK : err->code;
    if (!st) {
        uint8_t *c = cq_tensor_data(codes);
        for (int k = 0; k < 256; k++)
            c[k] = (uint8_t)k; /* an s8 code is its byte: lut[byte] */
        vals[x] = codes;
    }
    cq_openv env;
    memset(&env, 0, sizeof env);
    env.threads = 1;
    if (!st)
        st = run_on_codes(e, dq, vals, &env, err);
    for (int k = 0; !st && k < n; k++)
        st = run_on_codes(e, chain[k], vals, &env, err);
    if (!st) {
        const cq_tensor *y = vals[g->nodes[chain[n - 1]].outputs[0]];
        memcpy(lut, cq_tensor_data(y), 256);
    }
    cq_tensor_release(vals[x]);
    vals[x] = NULL;
    for (int k = -1; k < n; k++) {
        int v = g->nodes[k < 0 ? dq : chain[k]].outputs[0];
        cq_tensor_release(vals[v]);
        vals[v] = NULL;
    }
    cq_free(env.scratch);
    return st;
}

cq_status cq__exec_plan_lut(cq_exec *e, cq_err *err)
{
    const cq_graph *g = e->g;
    cq_tensor **vals = NULL;
    for (int q = 0; q < g->n_nodes; q++) {
        if (!(caps_of(e, q) & CQ_OP_QUANT) || e->fused_into[q] >= 0)
            continue;
        int chain[LUT_MAX_NODES + 1], dq;
        int n = find_chain(e, q, chain, &dq);
        if (n < 1 || e->lut[dq])
            continue;
        uint8_t *lut = malloc(256);
        if (!vals)
            vals = calloc((size_t)g->n_values + 1, sizeof *vals);
        if (!lut || !vals) {
            free(lut);
            free(vals);
            return cq_errf(err, CQ_ENOMEM, "out of memory for a lookup table");
        }
        cq_err e2;
        if (make_table(e, dq, chain, n, lut, vals, &e2) != CQ_OK) {
            /* the chain stays as it is (the float ops run) */
            free(lut);
            continue;
        }
        e->lut[dq] = lut;
        e->lut_dtype[dq] = g->values[g->nodes[q].outputs[0]].dtype;
        for (int k = 0; k < n; k++)
            e->fused_into[chain[k]] = dq;
        e->out_alias[dq] = g->nodes[q].outputs[0];
    }
    free(vals);
    return CQ_OK;
}
