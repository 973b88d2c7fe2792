/* quant_sens.c - sensitivity: each quantizable node quantized alone, its
 * output against fp32 as an SQNR (quant.h, cq_quant_sens_*).
 *
 * Each node (with the activation folded into it) becomes a graph of its
 * own (copied alone, cq__quant_extract: linear in the node count overall),
 * quantized with the same statistics and options (run as QDQ in float, or
 * lowered to calq's integer operators); the fp32 graph runs once per item
 * with activation fusion (what the calibrator observes), its values are kept
 * for the item, and every node's graph runs on them. */
#include "quant/quant_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exec/exec.h"
#include "ops/ops.h"

typedef struct sens_node {
    int node;         /* in the planned graph */
    cq_graph *g;      /* the node alone, quantized and lowered */
    cq_exec *e;
    int n_in;
    int *in;          /* planned-graph values fed to g's inputs, in order */
    int out;          /* the planned-graph value compared (quantization point) */
    double sig, noise;
    int64_t items;
} sens_node;

struct cq_quant_sens {
    cq_quant *q;
    cq_exec *ref;
    int threads;
    int integer;        /* the nodes' graphs lowered to the integer operators */
    int n;
    sens_node *nodes;
    int g_nodes;        /* the planned graph's nodes when measured */
    int *slot;          /* per planned-graph node: its place in nodes, or -1 */
    int *uses;          /* per value: sensitivity graphs reading it (inputs and outputs) */
    int *left;          /* per value: uses left in this item */
    cq_tensor **cache;  /* per value: this item's fp32 tensor */
};

/* Built once, for every node's graph: what single() needs to stay within
 * the node's own size (a graph copied whole per node was quadratic in the
 * node count: a chain of 1,000 Conv + Relu took 3.8 s). */
typedef struct sens_build {
    cq_graph_uses uses; /* the planned graph's readers (the folded activations) */
    int *map;           /* per value: scratch of cq__quant_extract, all -1 */
    int *init_pos;      /* per value: its place in g->initializers, or -1 */
} sens_build;

/* The planned graph's node i and its folded activation alone, their
 * outside inputs as graph inputs, the quantization point as the output.
 * *point gets that value's index in g. */
static cq_graph *single(const cq_graph *g, const sens_build *sb, int i, int *point, cq_err *err)
{
    int a = cq__quant_fold_target(g, &sb->uses, i);
    *point = g->nodes[a >= 0 ? a : i].outputs[0];
    int pick[2] = {i, a};
    cq_graph *h = cq__quant_extract(g, pick, a >= 0 ? 2 : 1, sb->map, sb->init_pos, err);
    if (!h)
        return NULL;
    for (int v = 0; v < h->n_values; v++)
        h->values[v].is_input = h->values[v].is_output = 0;
    h->n_inputs = h->n_outputs = 0;
    cq_status st = CQ_OK;
    for (int k = 0; !st && k < g->nodes[i].n_inputs; k++) {
        int v = g->nodes[i].inputs[k];
        if (v < 0 || cq__quant_is_const(g, v))
            continue;
        int hv = cq_graph_find(h, g->values[v].name);
        if (hv < 0) {
            st = cq_errf(err, CQ_EFORMAT, "'%s' missing", g->values[v].name);
            break;
        }
        /* an f32 activation (the quantizer's reading), its shape as planned */
        const cq_value *gv = &g->values[v];
        cq_value *x = &h->values[hv];
        x->producer = -1;
        x->has_type = 1;
        x->dtype = CQ_F32;
        x->ndim = gv->has_type ? gv->ndim : -1;
        memcpy(x->shape, gv->shape, sizeof x->shape);
        st = cq_graph_add_input(h, hv, err);
    }
    int hp = cq_graph_find(h, g->values[*point].name);
    if (!st)
        st = hp < 0 ? cq_errf(err, CQ_EFORMAT, "'%s' missing", g->values[*point].name)
                    : cq_graph_add_output(h, hp, err);
    if (!st)
        st = cq_graph_compact(h, err);
    if (st) {
        cq_graph_free(h);
        return NULL;
    }
    return h;
}

static cq_status make_node(cq_quant_sens *s, const sens_build *sb, int i, sens_node *sn,
                           cq_err *err)
{
    const cq_graph *g = s->q->g;
    sn->node = i;
    cq_graph *h = single(g, sb, i, &sn->out, err);
    if (!h)
        return cq_err_prefix(err, err->code, "sensitivity of %s '%s': ", g->nodes[i].op_type,
                             g->nodes[i].name);
    cq_quant_opts o = s->q->o;
    o.precision = NULL;
    o.n_precision = 0;
    cq_quant *qm = cq_quant_new(h, s->q->stats, &o, err);
    sn->g = qm ? cq_quant_graph(qm, err) : NULL;
    cq_quant_free(qm);
    cq_graph_free(h);
    if (!sn->g || (s->integer && cq_quant_lower(sn->g, NULL, err) != CQ_OK))
        return cq_err_prefix(err, err->code, "sensitivity of %s '%s': ", g->nodes[i].op_type,
                             g->nodes[i].name);
    cq_exec_opts eo = CQ_EXEC_OPTS_DEFAULT;
    eo.threads = s->threads;
    sn->e = cq_exec_new(sn->g, &eo, err);
    if (!sn->e)
        return cq_err_prefix(err, err->code, "sensitivity of %s '%s': ", g->nodes[i].op_type,
                             g->nodes[i].name);
    sn->n_in = sn->g->n_inputs;
    if (sn->n_in > CQ_OP_MAX_INPUTS)
        return cq_errf(err, CQ_EUNSUPPORTED, "sensitivity of %s '%s': %d inputs",
                       g->nodes[i].op_type, g->nodes[i].name, sn->n_in);
    sn->in = malloc((size_t)(sn->n_in + 1) * sizeof *sn->in);
    if (!sn->in)
        return cq_errf(err, CQ_ENOMEM, "sensitivity: out of memory");
    for (int k = 0; k < sn->n_in; k++) {
        sn->in[k] = cq_graph_find(g, sn->g->values[sn->g->inputs[k]].name);
        if (sn->in[k] < 0)
            return cq_errf(err, CQ_EFORMAT, "sensitivity: input '%s' unknown",
                           sn->g->values[sn->g->inputs[k]].name);
        s->uses[sn->in[k]]++;
    }
    s->uses[sn->out]++;
    return CQ_OK;
}

void cq_quant_sens_free(cq_quant_sens *s)
{
    if (!s)
        return;
    for (int k = 0; k < s->n; k++) {
        cq_exec_free(s->nodes[k].e);
        cq_graph_free(s->nodes[k].g);
        free(s->nodes[k].in);
    }
    if (s->cache)
        for (int v = 0; v < s->q->n_values; v++)
            cq_tensor_release(s->cache[v]);
    free(s->nodes);
    free(s->slot);
    free(s->uses);
    free(s->left);
    free(s->cache);
    cq_exec_free(s->ref);
    free(s);
}

static int observe(void *ud, const cq_graph *g, int node, int output, const cq_tensor *t)
{
    cq_quant_sens *s = ud;
    int v = g->nodes[node].outputs[output];
    if (v < 0 || !s->uses[v] || s->cache[v])
        return 0;
    cq_err err;
    s->cache[v] = cq_tensor_clone(t, &err);
    return s->cache[v] ? 0 : 1;
}

cq_quant_sens *cq_quant_sens_new(cq_quant *q, int threads, int integer, cq_err *err)
{
    cq_quant_sens *s = calloc(1, sizeof *s);
    const cq_graph *g = q->g;
    if (s) {
        s->q = q;
        s->threads = threads;
        s->integer = integer;
        s->nodes = calloc((size_t)g->n_nodes + 1, sizeof *s->nodes);
        s->slot = malloc(((size_t)g->n_nodes + 1) * sizeof *s->slot);
        s->g_nodes = g->n_nodes;
        s->uses = calloc((size_t)g->n_values + 1, sizeof *s->uses);
        s->left = calloc((size_t)g->n_values + 1, sizeof *s->left);
        s->cache = calloc((size_t)g->n_values + 1, sizeof *s->cache);
    }
    sens_build sb = {{0}, NULL, NULL};
    cq_status st = s && s->nodes && s->slot && s->uses && s->left && s->cache
                       ? cq_graph_uses_build(g, &sb.uses, err)
                       : cq_errf(err, CQ_ENOMEM, "sensitivity: out of memory");
    if (!st) {
        sb.map = malloc(((size_t)g->n_values + 1) * sizeof *sb.map);
        sb.init_pos = malloc(((size_t)g->n_values + 1) * sizeof *sb.init_pos);
        if (!sb.map || !sb.init_pos)
            st = cq_errf(err, CQ_ENOMEM, "sensitivity: out of memory");
    }
    if (!st) {
        for (int v = 0; v < g->n_values; v++)
            sb.map[v] = sb.init_pos[v] = -1;
        for (int k = 0; k < g->n_initializers; k++)
            sb.init_pos[g->initializers[k]] = k;
    }
    for (int i = 0; !st && i < g->n_nodes; i++) {
        s->slot[i] = -1;
        if (!cq_quant_quantizable(q, i))
            continue;
        s->slot[i] = s->n;
        st = make_node(s, &sb, i, &s->nodes[s->n++], err);
    }
    cq_graph_uses_free(&sb.uses);
    free(sb.map);
    free(sb.init_pos);
    if (st) {
        cq_quant_sens_free(s);
        return NULL;
    }
    cq_exec_opts eo = CQ_EXEC_OPTS_DEFAULT;
    eo.fuse = CQ_FUSE_ACT;
    eo.threads = threads;
    s->ref = cq_exec_new(q->g, &eo, err);
    if (!s->ref) {
        cq_quant_sens_free(s);
        return NULL;
    }
    cq_exec_set_observer(s->ref, observe, s);
    return s;
}

static void drop(cq_quant_sens *s, int v)
{
    if (--s->left[v] <= 0) {
        cq_tensor_release(s->cache[v]);
        s->cache[v] = NULL;
    }
}

/* Node sn on this item's cached values. */
static cq_status run_node(cq_quant_sens *s, sens_node *sn, cq_err *err)
{
    cq_tensor *in[CQ_OP_MAX_INPUTS], *out[1] = {NULL};
    const cq_tensor *ref = s->cache[sn->out];
    cq_status st = CQ_OK;
    for (int k = 0; k < sn->n_in; k++)
        if (!(in[k] = s->cache[sn->in[k]]))
            st = CQ_ESTATE;
    if (!st && ref && sn->g->n_outputs == 1)
        st = cq_exec_run(sn->e, sn->n_in, in, out, err);
    if (!st && ref && out[0] && cq_tensor_same_shape(out[0], ref)) {
        cq_tensor *a = cq_tensor_contiguous(out[0], err), *b = a ? cq_tensor_contiguous((cq_tensor *)ref, err) : NULL;
        if (!b)
            st = err->code;
        else {
            const float *x = cq_tensor_data(a), *y = cq_tensor_data(b);
            for (int64_t j = 0, n = cq_tensor_numel(a); j < n; j++) {
                double d = (double)x[j] - (double)y[j];
                sn->sig += (double)y[j] * y[j];
                sn->noise += d * d;
            }
            sn->items++;
        }
        cq_tensor_release(a);
        cq_tensor_release(b);
    }
    cq_tensor_release(out[0]);
    for (int k = 0; k < sn->n_in; k++)
        drop(s, sn->in[k]);
    drop(s, sn->out);
    return st == CQ_ESTATE ? CQ_OK : st;
}

cq_status cq_quant_sens_feed(cq_quant_sens *s, int n_in, cq_tensor *const *in, cq_err *err)
{
    const cq_graph *g = s->q->g;
    if (n_in != g->n_inputs)
        return cq_errf(err, CQ_EINVAL, "sensitivity: %d inputs for a model of %d", n_in,
                       g->n_inputs);
    int64_t items = -1;
    for (int k = 0; k < n_in; k++) {
        if (!in[k] || in[k]->ndim < 1 || in[k]->dtype != CQ_F32)
            return cq_errf(err, CQ_EINVAL, "sensitivity: input '%s' must be f32 with a first "
                           "dimension", g->values[g->inputs[k]].name);
        if (items >= 0 && in[k]->shape[0] != items)
            return cq_errf(err, CQ_EINVAL, "sensitivity: inputs disagree on the item count");
        items = in[k]->shape[0];
    }
    cq_tensor **item = calloc((size_t)n_in + 1, sizeof *item), **out = NULL;
    out = calloc((size_t)g->n_outputs + 1, sizeof *out);
    cq_status st = item && out ? CQ_OK : cq_errf(err, CQ_ENOMEM, "sensitivity: out of memory");
    for (int64_t it = 0; !st && it < items; it++) {
        for (int k = 0; !st && k < n_in; k++) {
            cq_tensor *sl = cq_tensor_slice(in[k], 0, it, it + 1, 1, err);
            item[k] = sl ? cq_tensor_contiguous(sl, err) : NULL;
            cq_tensor_release(sl);
            if (!item[k])
                st = err->code;
            else if (s->uses[g->inputs[k]]) {
                cq_tensor_retain(item[k]);
                s->cache[g->inputs[k]] = item[k];
            }
        }
        for (int v = 0; v < g->n_values; v++)
            s->left[v] = s->uses[v];
        if (!st)
            st = cq_exec_run(s->ref, n_in, item, out, err);
        for (int k = 0; k < g->n_outputs; k++) {
            cq_tensor_release(out[k]);
            out[k] = NULL;
        }
        for (int k = 0; !st && k < s->n; k++)
            st = run_node(s, &s->nodes[k], err);
        for (int k = 0; k < n_in; k++) {
            cq_tensor_release(item[k]);
            item[k] = NULL;
        }
        for (int v = 0; v < g->n_values; v++) {
            cq_tensor_release(s->cache[v]);
            s->cache[v] = NULL;
        }
    }
    free(item);
    free(out);
    return st;
}

int cq_quant_sens_get(const cq_quant_sens *s, int i, double *sqnr_db, int64_t *items)
{
    if (i >= 0 && i < s->g_nodes && s->slot[i] >= 0) {
        const sens_node *sn = &s->nodes[s->slot[i]];
        *items = sn->items;
        if (!sn->items)
            *sqnr_db = NAN;
        else if (sn->noise == 0)
            *sqnr_db = INFINITY;
        else
            *sqnr_db = 10.0 * log10(sn->sig / sn->noise);
        return 0;
    }
    *sqnr_db = NAN;
    *items = 0;
    return -1;
}
