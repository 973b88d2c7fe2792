/* exec_plan.c - what an executor decides before running (exec.h): fusion,
 * the NCHW16c layout, kernel plans. Every decision reads the op table's
 * capabilities (ops.h), never an op's name; the graph is only read. */
#include "exec/exec_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned caps_of(const cq_exec *e, int i) { return e->ops[i] ? e->ops[i]->caps : 0; }

/* The value node i writes as its first output (a fused node's last one). */
static int run_output(const cq_exec *e, int i)
{
    return e->out_alias[i] >= 0 ? e->out_alias[i] : e->g->nodes[i].outputs[0];
}

static int x_input(const cq_exec *e, int i);

void cq__exec_node_env(const cq_exec *e, int i, cq_openv *env)
{
    const cq_node *n = &e->g->nodes[i];
    int y = n->n_outputs > 0 ? run_output(e, i) : -1;
    env->act = e->act[i];
    env->precision = e->precision[i];
    int xk = x_input(e, i);
    env->x_blocked = n->n_inputs > xk && n->inputs[xk] >= 0 && cq__exec_want_blocked(e, i, xk);
    env->y_blocked = y >= 0 && e->blocked[y];
    env->res_blocked = e->res_in[i] >= 0 && e->blocked[e->res_in[i]];
    env->res_node = e->res_node[i] >= 0 ? &e->g->nodes[e->res_node[i]] : NULL;
}

/* Whether values v and u have one fully known shape and one dtype, f32 or
 * 8-bit codes. */
static int same_shape(const cq_value *v, const cq_value *u)
{
    if (!v->has_type || !u->has_type || v->dtype != u->dtype ||
        (v->dtype != CQ_F32 && v->dtype != CQ_U8 && v->dtype != CQ_S8) || v->ndim < 0 ||
        v->ndim != u->ndim)
        return 0;
    for (int d = 0; d < v->ndim; d++)
        if (v->shape[d] <= 0 || v->shape[d] != u->shape[d])
            return 0;
    return 1;
}

/* Whether value v has an f32 type and a fully known shape equal to u's. */
static int same_f32_shape(const cq_value *v, const cq_value *u)
{
    if (!v->has_type || !u->has_type || v->dtype != CQ_F32 || u->dtype != CQ_F32 ||
        v->ndim < 0 || v->ndim != u->ndim)
        return 0;
    for (int d = 0; d < v->ndim; d++)
        if (v->shape[d] <= 0 || v->shape[d] != u->shape[d])
            return 0;
    return 1;
}

/* Node that computes value v at run time (its producer or the node that
 * absorbed it), -1 for inputs and constants. */
static int run_producer(const cq_exec *e, int v)
{
    int p = e->g->values[v].producer;
    return p >= 0 && e->fused_into[p] >= 0 ? e->fused_into[p] : p;
}

int cq_exec_value_written(const cq_exec *e, int v)
{
    if (v < 0 || v >= e->n_values)
        return 0;
    int p = e->g->values[v].producer;
    if (p < 0 || !e->ops[p])
        return 0;
    int rp = e->fused_into[p] >= 0 ? e->fused_into[p] : p;
    if (run_output(e, rp) == v)
        return 1;
    /* the other outputs of a node that runs itself */
    const cq_node *n = &e->g->nodes[p];
    for (int k = 1; rp == p && k < n->n_outputs; k++)
        if (n->outputs[k] == v)
            return 1;
    return 0;
}

/* Node i (and whatever was fused into it) becomes part of node into: the
 * members' lists (exec_internal.h) make this cost the size of i's group,
 * not the node count. */
static void absorb(cq_exec *e, int i, int into)
{
    int *first = e->member_first, *next = e->member_next;
    int last = -1;
    for (int j = first[i]; j >= 0; j = next[j]) {
        e->fused_into[j] = into;
        last = j;
    }
    e->fused_into[i] = into;
    next[i] = first[i];
    if (last >= 0) {
        next[last] = first[into];
    } else {
        next[i] = first[into];
    }
    first[i] = -1;
    first[into] = i;
}

/* Readers of value v (cq_graph_consumers, from the index). */
static int readers_of(const cq_exec *e, int v)
{
    return cq_graph_uses_count(e->uses, v);
}

/* The gate node (CQ_OP_GATE) computing x * s, s = sigmoid(x) the output
 * of node i, where x is read by i and the gate only and s by the gate
 * only, all one f32 shape; -1 when there is none. */
static int silu_gate(const cq_exec *e, int i, int x)
{
    const cq_graph *g = e->g;
    int s = g->nodes[i].outputs[0];
    if (readers_of(e, x) != 2 || s < 0 || g->values[s].is_output || readers_of(e, s) != 1 ||
        !same_f32_shape(&g->values[x], &g->values[s]))
        return -1;
    const int *c = cq_graph_uses_list(e->uses, x);
    int m = c[0] == i ? c[1] : c[0];
    const cq_node *mn = &g->nodes[m];
    if (!(caps_of(e, m) & CQ_OP_GATE) || e->fused_into[m] >= 0 || mn->n_inputs != 2 ||
        mn->n_outputs != 1 || !((mn->inputs[0] == x && mn->inputs[1] == s) ||
                                (mn->inputs[0] == s && mn->inputs[1] == x)))
        return -1;
    return m;
}

/* An activation (with act CQ_OP_ACT, with fn CQ_OP_ACT_FN) reading only the
 * output of a node that takes one (CQ_OP_TAKES_ACT), on f32; with fn also
 * x -> Sigmoid -> Mul(x, sigmoid(x)) as SiLU, the Mul's output written by
 * x's producer. The CQ_OP_ACT_FN ones only where the producer runs in f32. */
static void plan_act(cq_exec *e, int act_ok, int fn)
{
    const cq_graph *g = e->g;
    for (int i = 0; i < g->n_nodes; i++) {
        const cq_node *a = &g->nodes[i];
        cq_act act;
        unsigned c = caps_of(e, i);
        if (!((act_ok && (c & CQ_OP_ACT)) || (fn && (c & CQ_OP_ACT_FN))) || a->n_inputs < 1 ||
            a->inputs[0] < 0 || a->n_outputs < 1 ||
            !e->ops[i]->hooks->act_of(g, a, e->opset[i], &act))
            continue;
        int x = a->inputs[0], p = g->values[x].producer, gate = -1;
        if (p < 0 || g->values[x].is_output)
            continue;
        if (readers_of(e, x) != 1) {
            if (!fn || act.kind != CQ_ACT_SIGMOID || (gate = silu_gate(e, i, x)) < 0)
                continue;
            act.kind = CQ_ACT_SILU;
        }
        if (!(caps_of(e, p) & CQ_OP_TAKES_ACT) || e->fused_into[p] >= 0 || e->out_alias[p] >= 0)
            continue;
        /* the activation is applied on floats */
        if (!g->values[x].has_type || g->values[x].dtype != CQ_F32 ||
            ((c & CQ_OP_ACT_FN) && e->precision[p] != CQ_F32))
            continue;
        e->act[p] = act;
        absorb(e, i, p);
        e->out_alias[p] = a->outputs[0];
        if (gate >= 0) {
            absorb(e, gate, p);
            e->out_alias[p] = g->nodes[gate].outputs[0];
        }
    }
}

/* producer -> Add(other) [-> activation already fused into the Add]: the
 * producer (CQ_OP_TAKES_RESIDUAL) adds the other input in its epilogue and
 * writes the Add's (or the activation's) output. Only when the producer's
 * output feeds nothing else, the other input is computed before the
 * producer runs, and both have the same known f32 shape. */
static void plan_residual(cq_exec *e)
{
    const cq_graph *g = e->g;
    for (int i = 0; i < g->n_nodes; i++) {
        const cq_node *a = &g->nodes[i];
        if (!(caps_of(e, i) & CQ_OP_RESIDUAL_ADD) || a->n_outputs != 1 || e->fused_into[i] >= 0)
            continue;
        /* the two addends: inputs 0 and 1, or those hooks->res_operands names */
        unsigned m = e->ops[i]->hooks ? e->ops[i]->hooks->res_operands : 0;
        int in[2] = {0, 1}, k = 0;
        for (int j = 0; m && j < a->n_inputs && j < 32 && k < 2; j++)
            if ((m >> j) & 1u)
                in[k++] = j;
        if ((m ? k != 2 : a->n_inputs != 2) || in[1] >= a->n_inputs || a->inputs[in[0]] < 0 ||
            a->inputs[in[1]] < 0)
            continue;
        int best = -1, slot = -1;
        for (int s = 0; s < 2; s++) {
            int x = a->inputs[in[s]], r = a->inputs[in[1 - s]], p = g->values[x].producer;
            if (x == r || p < 0 || g->values[x].is_output || readers_of(e, x) != 1)
                continue;
            if (!(caps_of(e, p) & CQ_OP_TAKES_RESIDUAL) || e->fused_into[p] >= 0 ||
                e->out_alias[p] >= 0 || e->res_in[p] >= 0 || e->act[p].kind != CQ_ACT_NONE)
                continue;
            if (!same_shape(&g->values[x], &g->values[r]) || run_producer(e, r) >= p)
                continue;
            const cq_op_hooks *h = e->ops[p]->hooks;
            if (h && h->residual_ok && !h->residual_ok(g, &g->nodes[p], a, s))
                continue;
            if (p > best) {
                best = p;
                slot = s;
            }
        }
        if (best < 0)
            continue;
        e->act[best] = e->act[i];
        int out = run_output(e, i);
        absorb(e, i, best);
        e->out_alias[best] = out;
        e->res_in[best] = a->inputs[in[1 - slot]];
        e->res_node[best] = i;
    }
}

/* producer [-> activation already fused] -> pool: the producer
 * (CQ_OP_TAKES_POOL; Conv, kern.h's cq_conv2d_run_pool) pools its own
 * output rows as it makes them and writes the pool's output; the whole
 * conv output never exists. Only where the fused kernel would run
 * (hooks->pool_fusable), the pooled value is the pool's only output (no
 * Indices), and the producer's output feeds nothing else. */
static void plan_pool(cq_exec *e)
{
    const cq_graph *g = e->g;
    for (int i = 0; i < g->n_nodes; i++) {
        const cq_node *m = &g->nodes[i];
        if (!(caps_of(e, i) & CQ_OP_POOL) || m->n_inputs != 1 || m->inputs[0] < 0 ||
            e->fused_into[i] >= 0 || (m->n_outputs > 1 && m->outputs[1] >= 0))
            continue;
        int x = m->inputs[0], p = run_producer(e, x);
        if (p < 0 || g->values[x].is_output || readers_of(e, x) != 1 ||
            !g->values[x].has_type || g->values[x].dtype != CQ_F32)
            continue;
        if (!(caps_of(e, p) & CQ_OP_TAKES_POOL) || e->res_in[p] >= 0 || e->pool_of[p] >= 0 ||
            run_output(e, p) != x ||
            !e->ops[p]->hooks->pool_fusable(g, &g->nodes[p], m, 0))
            continue;
        absorb(e, i, p);
        e->out_alias[p] = m->outputs[0];
        e->pool_of[p] = i;
    }
}

cq_status cq__exec_plan_fusion(cq_exec *e, int fuse, cq_err *err)
{
    const cq_graph *g = e->g;
    if (fuse & CQ_FUSE_ALL)
        fuse = CQ_FUSE_ACT | CQ_FUSE_RESIDUAL | CQ_FUSE_POOL | CQ_FUSE_ACT_FN | CQ_FUSE_LUT;
    cq_graph_uses uses;
    if (cq_graph_uses_build(g, &uses, err))
        return err->code;
    size_t nn = (size_t)g->n_nodes + 1;
    e->member_first = malloc(nn * sizeof *e->member_first);
    e->member_next = malloc(nn * sizeof *e->member_next);
    cq_status st = CQ_OK;
    if (!e->member_first || !e->member_next) {
        st = cq_errf(err, CQ_ENOMEM, "out of memory planning %d nodes", g->n_nodes);
        goto out;
    }
    e->uses = &uses;
    for (int i = 0; i < g->n_nodes; i++)
        e->member_first[i] = e->member_next[i] = -1;
    if ((fuse & CQ_FUSE_LUT) && (st = cq__exec_plan_lut(e, err)) != CQ_OK)
        goto out;
    /* the tables' chains are members of their DequantizeLinear's group */
    for (int i = 0; i < g->n_nodes; i++) {
        int h = e->fused_into[i];
        if (h >= 0) {
            e->member_next[i] = e->member_first[h];
            e->member_first[h] = i;
        }
    }
    if (fuse & (CQ_FUSE_ACT | CQ_FUSE_ACT_FN))
        plan_act(e, (fuse & CQ_FUSE_ACT) != 0, (fuse & CQ_FUSE_ACT_FN) != 0);
    if (fuse & CQ_FUSE_RESIDUAL)
        plan_residual(e);
    if (fuse & CQ_FUSE_POOL)
        plan_pool(e);
out:
    e->uses = NULL;
    if (st) { /* kept otherwise: cq_exec_node_work asks them */
        free(e->member_first);
        free(e->member_next);
        e->member_first = e->member_next = NULL;
    }
    cq_graph_uses_free(&uses);
    return st;
}

/* The input node i reads as x (hooks->x_input; else input 0). */
static int x_input(const cq_exec *e, int i)
{
    const cq_op_hooks *h = e->ops[i] ? e->ops[i]->hooks : NULL;
    return h && h->x_input ? h->x_input(e->g, &e->g->nodes[i]) : 0;
}

/* Whether input k of node i is read in the blocked layout when its value
 * is blocked (CQ_OP_BLOCKED_IN: x and hooks->blocked_in). */
static int takes_blocked(const cq_exec *e, int i, int k)
{
    unsigned c = caps_of(e, i);
    if (!(c & CQ_OP_BLOCKED_IN) || e->pool_of[i] >= 0)
        return 0;
    const cq_op_hooks *h = e->ops[i]->hooks;
    /* a reader that writes no blocked output says itself whether it reads one */
    if (!(c & CQ_OP_BLOCKED_OUT) && h && h->blocked_ok && !h->blocked_ok(e->g, &e->g->nodes[i], 1))
        return 0;
    unsigned m = h ? h->blocked_in : 0;
    return k == x_input(e, i) || (k < 32 && (m >> k) & 1u);
}

/* Whether value val may be kept in a blocked layout at all: NCHW16c needs
 * f32 and a multiple of 16 channels; NHWC takes any u8 / s8 4-D value. */
static int blockable(const cq_value *val)
{
    if (!val->has_type || val->ndim != 4 || val->shape[1] <= 0)
        return 0;
    if (val->dtype == CQ_F32)
        return val->shape[1] % 16 == 0;
    return val->dtype == CQ_U8 || val->dtype == CQ_S8;
}

static int is_code(const cq_value *val)
{
    return val->has_type && (val->dtype == CQ_U8 || val->dtype == CQ_S8);
}

int cq__exec_want_blocked(const cq_exec *e, int i, int k)
{
    const cq_node *n = &e->g->nodes[i];
    int x = k < n->n_inputs ? n->inputs[k] : -1;
    if (x < 0)
        return 0;
    if (!is_code(&e->g->values[x]))
        return e->blocked[x] && takes_blocked(e, i, k);
    if (!takes_blocked(e, i, k))
        return 0;
    /* a node reading several inputs in the layout (or a table) has them in
     * its output's; a kernel taking input 0 either way, as it is */
    const cq_op_hooks *h = e->ops[i]->hooks;
    int y = n->n_outputs > 0 ? run_output(e, i) : -1;
    if ((h && (h->blocked_in || h->x_input)) || e->lut[i])
        return y >= 0 && e->blocked[y];
    return e->blocked[x];
}

/* One node's rule of the layout's fixpoint (cq__exec_plan_layout): the
 * values it drops go to dropped (room for its inputs and one more; their
 * count returned). */
static int layout_rule(cq_exec *e, int i, int *dropped)
{
    const cq_graph *g = e->g;
    unsigned char *b = e->blocked;
    const cq_node *n = &g->nodes[i];
    int nd = 0;
#define DROP(v) do { if (b[v]) { b[v] = 0; dropped[nd++] = (v); } } while (0)
    if (e->lut[i] && e->fused_into[i] < 0) {
        /* a table keeps its codes' layout: both ends agree */
        int x = n->inputs[0], y = run_output(e, i);
        if (b[x] != b[y]) {
            DROP(x);
            DROP(y);
        }
        return nd;
    }
    int xk = x_input(e, i);
    if (!(caps_of(e, i) & CQ_OP_BLOCKED_OUT) || e->fused_into[i] >= 0 || e->pool_of[i] >= 0 ||
        n->n_inputs <= xk || n->inputs[xk] < 0 || n->n_outputs < 1)
        return nd;
    int x = n->inputs[xk], y = run_output(e, i);
    int bx = (caps_of(e, i) & CQ_OP_BLOCKED_IN) && b[x];
    if ((bx || b[y]) && !e->ops[i]->hooks->blocked_ok(g, n, bx)) {
        /* this node cannot hold its end: its input goes first */
        if (bx)
            DROP(x);
        else
            DROP(y);
    }
    /* several inputs in the layout, or x in input 0's place: all of them
     * and the output agree */
    if (!e->ops[i]->hooks->blocked_in && !e->ops[i]->hooks->x_input)
        return nd;
    int all = b[y], any = b[y];
    for (int k = 0; k < n->n_inputs; k++)
        if (n->inputs[k] >= 0 && takes_blocked(e, i, k)) {
            all &= b[n->inputs[k]];
            any |= b[n->inputs[k]];
        }
    if (any && !all) {
        DROP(y);
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0 && takes_blocked(e, i, k))
                DROP(n->inputs[k]);
    }
#undef DROP
    return nd;
}

/* Blocked layouts between the kernels that take them: a value is kept
 * blocked (NCHW16c for f32, NHWC for u8 / s8) where the node that writes it
 * (CQ_OP_BLOCKED_OUT) and every node that reads it take that layout natively
 * (CQ_OP_BLOCKED_IN; for Conv cq_conv2d_blocked_native; for QLinearConv the
 * int8 kernels). f32: the pixel-major GEMM (no 8x8 transposes into NCHW
 * planes, no zero-padded copy of 16 planes' rows, the 1x1 stride-2
 * projections read in place), the depthwise channel-block kernel (no 16x16
 * transposes), the stem with its max pool fused, the global average pool.
 * int8: QuantizeLinear writes NHWC, the int8 convolutions, QLinearAdd and
 * max pooling keep it, DequantizeLinear reads it back into NCHW floats. A
 * node taking a residual takes it in either layout (converted where it
 * differs from its output's). A node reading several inputs in the layout
 * (hooks->blocked_in) has them all and its output in one layout or all in
 * NCHW. Every other reader and graph outputs keep NCHW. Values are dropped
 * until every remaining one holds both ends. */
cq_status cq__exec_plan_layout(cq_exec *e, cq_err *err)
{
    const cq_graph *g = e->g;
    unsigned char *b = e->blocked;
    for (int v = 0; v < g->n_values; v++) {
        const cq_value *val = &g->values[v];
        int p = run_producer(e, v);
        b[v] = p >= 0 && !val->is_output && !val->is_input && !val->data && blockable(val) &&
               val->dtype == CQ_F32 &&
               run_output(e, p) == v && ((caps_of(e, p) & CQ_OP_BLOCKED_OUT) || e->lut[p]) &&
               (e->pool_of[p] < 0 ||
                e->ops[p]->hooks->pool_fusable(g, &g->nodes[p], &g->nodes[e->pool_of[p]], 1));
    }
    /* every reader takes it (a node with a fused pool reads NCHW) */
    for (int i = 0; i < g->n_nodes; i++) {
        const cq_node *n = &g->nodes[i];
        if (!e->ops[i] || e->fused_into[i] >= 0)
            continue;
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0 && !takes_blocked(e, i, k))
                b[n->inputs[k]] = 0;
    }
    /* until every remaining value holds both ends: a work list of the
     * nodes to check (all, then those next to a value just dropped), so a
     * value dropped at the far end of a long chain costs its neighbours,
     * not another sweep of every node. Each rule only ever drops values
     * another one would drop too from any smaller set, so the result is
     * the one the sweeps in node order reached. */
    int nn = g->n_nodes, max_in = 0;
    for (int i = 0; i < nn; i++)
        if (g->nodes[i].n_inputs > max_in)
            max_in = g->nodes[i].n_inputs;
    int *queue = malloc(((size_t)nn + 1) * sizeof *queue);
    int *dropped = malloc(((size_t)max_in + 2) * sizeof *dropped);
    unsigned char *queued = malloc((size_t)nn + 1);
    cq_graph_uses uses;
    if (!queue || !dropped || !queued) {
        free(queue);
        free(dropped);
        free(queued);
        return cq_errf(err, CQ_ENOMEM, "out of memory planning the layout of %d nodes", nn);
    }
    if (cq_graph_uses_build(g, &uses, err)) {
        free(queue);
        free(dropped);
        free(queued);
        return err->code;
    }
    int head = 0, count = nn;
    for (int i = 0; i < nn; i++) {
        queue[i] = i;
        queued[i] = 1;
    }
    while (count > 0) {
        int i = queue[head];
        head = head + 1 == nn ? 0 : head + 1;
        count--;
        queued[i] = 0;
        int nd = layout_rule(e, i, dropped);
        for (int d = 0; d < nd; d++) {
            int v = dropped[d], nr = cq_graph_uses_count(&uses, v);
            const int *r = cq_graph_uses_list(&uses, v);
            for (int k = -1; k < nr; k++) {
                int j = k < 0 ? run_producer(e, v) : r[k];
                if (j < 0 || queued[j])
                    continue;
                queued[j] = 1;
                queue[(head + count) % nn] = j;
                count++;
            }
        }
    }
    free(queue);
    free(dropped);
    free(queued);
    cq_graph_uses_free(&uses);
    /* 8-bit codes: NHWC wherever their producer writes it natively; a reader
     * that wants the other layout gets a converted copy at run time
     * (cq__exec_want_blocked; a byte transpose costs a small part of the
     * convolution around it). A table keeps its input's layout. In node
     * order, so an input's layout is known before its reader's. */
    for (int i = 0; i < g->n_nodes; i++) {
        const cq_node *n = &g->nodes[i];
        if (!e->ops[i] || e->fused_into[i] >= 0 || n->n_outputs < 1)
            continue;
        int y = run_output(e, i);
        if (y < 0)
            continue;
        const cq_value *val = &g->values[y];
        if (!is_code(val) || !blockable(val) || val->is_output || val->data)
            continue;
        int x = n->n_inputs > 0 ? n->inputs[0] : -1;
        if (e->lut[i]) {
            b[y] = x >= 0 && b[x];
            continue;
        }
        if (!(caps_of(e, i) & CQ_OP_BLOCKED_OUT) || e->pool_of[i] >= 0)
            continue;
        int xb = x >= 0 && takes_blocked(e, i, 0) && (is_code(&g->values[x]) || b[x]);
        b[y] = e->ops[i]->hooks->blocked_ok(g, n, xb) != 0;
    }
    return CQ_OK;
}

cq_status cq__exec_take_precision(cq_exec *e, const cq_exec_opts *o, cq_err *err)
{
    const cq_graph *g = e->g;
    if (o->precision && o->n_precision != g->n_nodes)
        return cq_errf(err, CQ_EINVAL, "precision map: %d entries for %d nodes (index it like "
                       "the nodes after the passes)", o->n_precision, g->n_nodes);
    for (int i = 0; i < g->n_nodes; i++) {
        cq_dtype p = o->precision ? o->precision[i] : CQ_F32;
        if (p != CQ_F32 && p != CQ_BF16 && p != CQ_S8 && p != CQ_U8) {
            const cq_node *n = &g->nodes[i];
            char what[32];
            if ((unsigned)p < (unsigned)CQ_DTYPE_COUNT)
                snprintf(what, sizeof what, "%s", cq_dtype_info(p)->name);
            else
                snprintf(what, sizeof what, "dtype %d", (int)p);
            return cq_errf(err, CQ_EINVAL, "precision map: node '%s' (%s): %s is no compute "
                           "precision (f32, bf16, s8 or u8)", n->name, n->op_type, what);
        }
        e->precision[i] = p;
    }
    return CQ_OK;
}

cq_status cq__exec_plan_kernels(cq_exec *e, cq_err *err)
{
    const cq_graph *g = e->g;
    for (int i = 0; i < g->n_nodes; i++) {
        if (!(caps_of(e, i) & CQ_OP_PLAN) || e->fused_into[i] >= 0)
            continue;
        const cq_node *n = &g->nodes[i];
        cq_openv env;
        memset(&env, 0, sizeof env);
        env.opset = e->opset[i];
        cq__exec_node_env(e, i, &env);
        if (e->ops[i]->hooks->plan_new(g, n, &env, &e->plan[i], err))
            return cq_err_prefix(err, err->code, "node '%s' (%s): ", n->name, n->op_type);
    }
    return CQ_OK;
}
