/* quant_util.c - small graph and tensor helpers the quantizer's files share. */
#include "quant/quant_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kern/kern.h"
#include "onnx/onnx.h"
#include "ops/ops.h"

int cq__quant_is_const(const cq_graph *g, int v)
{
    return v >= 0 && v < g->n_values && g->values[v].data != NULL;
}

int cq__quant_consumers(const cq_graph *g, int v, int **out, cq_err *err)
{
    *out = NULL;
    int n = cq_graph_consumers(g, v, NULL, 0);
    if (n < 0) {
        cq_errf(err, CQ_ENOMEM, "out of memory listing the readers of '%s'", g->values[v].name);
        return -1;
    }
    *out = malloc((size_t)(n ? n : 1) * sizeof **out);
    if (!*out) {
        cq_errf(err, CQ_ENOMEM, "out of memory listing the readers of '%s'", g->values[v].name);
        return -1;
    }
    if (n && cq_graph_consumers(g, v, *out, n) != n) {
        free(*out);
        *out = NULL;
        cq_errf(err, CQ_ENOMEM, "out of memory listing the readers of '%s'", g->values[v].name);
        return -1;
    }
    return n;
}

int cq__quant_fresh(cq_graph *g, const char *base, const char *suffix, cq_err *err)
{
    size_t n = strlen(base) + strlen(suffix) + 1;
    char *name = malloc(n);
    if (!name) {
        cq_errf(err, CQ_ENOMEM, "out of memory for a value name");
        return -1;
    }
    snprintf(name, n, "%s%s", base, suffix);
    int v = cq_graph_new_value(g, name, err);
    free(name);
    return v;
}

char *cq__quant_node_name(const cq_graph *g, const char *base, const char *suffix)
{
    size_t n = strlen(base) + strlen(suffix) + 1;
    char *b = malloc(n);
    if (!b)
        return NULL;
    snprintf(b, n, "%s%s", base, suffix);
    /* hashed inside a readers window (cq_quant_graph, the lowering) */
    char *name = cq_graph_new_node_name(g, b);
    free(b);
    return name;
}

int cq__quant_init(cq_graph *g, const char *base, const char *suffix, cq_tensor *t,
                   cq_err *err)
{
    int v = cq__quant_fresh(g, base, suffix, err);
    if (v < 0 || cq_graph_add_initializer(g, v, t, err) != CQ_OK)
        return -1;
    return v;
}

cq_graph *cq__quant_clone(const cq_graph *g, cq_err *err)
{
    void *buf = NULL;
    size_t len = 0;
    if (cq_onnx_save_buffer(g, &buf, &len, err) != CQ_OK)
        return NULL;
    cq_graph *h = cq_onnx_load_buffer(buf, len, "<quantizer's copy>", err);
    free(buf);
    return h;
}

static int by_index(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int has_subgraph(const cq_node *n)
{
    for (int k = 0; k < n->n_attrs; k++)
        if (n->attrs[k].g || n->attrs[k].type == CQ_ATTR_GRAPH ||
            n->attrs[k].type == CQ_ATTR_GRAPHS)
            return 1;
    return 0;
}

/* The view: a cq_graph that borrows g's strings, attributes and tensors,
 * holding copies of the picked nodes (their value indices renumbered) and
 * of the values they touch; only the writer reads it. */
cq_graph *cq__quant_extract(const cq_graph *g, const int *nodes, int n, int *map,
                            const int *init_pos, cq_err *err)
{
    int nv = 0, cap = 0, *vals = NULL, *inits = NULL;
    cq_graph view;
    memset(&view, 0, sizeof view);
    cq_status st = CQ_OK;
    for (int j = 0; j < n; j++)
        if (has_subgraph(&g->nodes[nodes[j]]))
            st = cq_errf(err, CQ_EUNSUPPORTED, "%s '%s' holds a subgraph", g->nodes[nodes[j]].op_type,
                         g->nodes[nodes[j]].name);
    for (int j = 0; !st && j < n; j++) {
        const cq_node *nd = &g->nodes[nodes[j]];
        cap += nd->n_inputs + nd->n_outputs;
    }
    vals = st ? NULL : malloc(((size_t)cap + 1) * sizeof *vals);
    inits = st ? NULL : malloc(((size_t)cap + 1) * sizeof *inits);
    view.nodes = st ? NULL : calloc((size_t)n + 1, sizeof *view.nodes);
    if (!st && (!vals || !inits || !view.nodes))
        st = cq_errf(err, CQ_ENOMEM, "out of memory copying a node");
    /* the values, in g's order (the writer's order of initializers and
     * folded constants, as a copy of the whole graph would keep it) */
    for (int j = 0; !st && j < n; j++) {
        const cq_node *nd = &g->nodes[nodes[j]];
        for (int k = 0; k < nd->n_inputs + nd->n_outputs; k++) {
            int v = k < nd->n_inputs ? nd->inputs[k] : nd->outputs[k - nd->n_inputs];
            if (v >= 0 && map[v] < 0) {
                map[v] = nv;
                vals[nv++] = v;
            }
        }
    }
    if (!st)
        qsort(vals, (size_t)nv, sizeof *vals, by_index);
    for (int k = 0; k < nv; k++)
        map[vals[k]] = k;
    view.values = st ? NULL : calloc((size_t)nv + 1, sizeof *view.values);
    view.inputs = st ? NULL : malloc(((size_t)nv + 1) * sizeof *view.inputs);
    if (!st && (!view.values || !view.inputs))
        st = cq_errf(err, CQ_ENOMEM, "out of memory copying a node");
    for (int k = 0; !st && k < nv; k++) {
        cq_value *x = &view.values[k];
        *x = g->values[vals[k]];
        x->producer = -1;
        x->is_output = 0;
        if (x->is_initializer && init_pos[vals[k]] >= 0)
            inits[view.n_initializers++] = init_pos[vals[k]];
        else
            x->is_initializer = 0;
    }
    for (int j = 0; !st && j < n; j++) {
        const cq_node *nd = &g->nodes[nodes[j]];
        cq_node *c = &view.nodes[view.n_nodes];
        *c = *nd;
        c->dead = 0;
        c->inputs = malloc(((size_t)nd->n_inputs + 1) * sizeof *c->inputs);
        c->outputs = malloc(((size_t)nd->n_outputs + 1) * sizeof *c->outputs);
        view.n_nodes++;
        if (!c->inputs || !c->outputs) {
            st = cq_errf(err, CQ_ENOMEM, "out of memory copying a node");
            break;
        }
        for (int k = 0; k < nd->n_inputs; k++)
            c->inputs[k] = nd->inputs[k] >= 0 ? map[nd->inputs[k]] : -1;
        for (int k = 0; k < nd->n_outputs; k++) {
            c->outputs[k] = nd->outputs[k] >= 0 ? map[nd->outputs[k]] : -1;
            if (c->outputs[k] >= 0)
                view.values[c->outputs[k]].producer = view.n_nodes - 1;
        }
    }
    /* what no picked node writes and no constant holds comes in as an input */
    for (int k = 0; !st && k < nv; k++) {
        cq_value *x = &view.values[k];
        x->is_input = x->is_input && x->is_initializer;
        if (x->producer < 0 && !x->is_initializer && !x->data) {
            x->is_input = 1;
            view.inputs[view.n_inputs++] = k;
        }
    }
    /* the initializers in g's list order */
    if (!st)
        qsort(inits, (size_t)view.n_initializers, sizeof *inits, by_index);
    for (int k = 0; !st && k < view.n_initializers; k++)
        inits[k] = map[g->initializers[inits[k]]];
    view.initializers = inits;
    view.n_values = nv;
    view.name = g->name;
    view.doc_string = g->doc_string;
    view.ir_version = g->ir_version;
    view.producer_name = g->producer_name;
    view.producer_version = g->producer_version;
    view.model_domain = g->model_domain;
    view.model_doc_string = g->model_doc_string;
    view.model_version = g->model_version;
    view.n_opsets = g->n_opsets;
    view.opsets = g->opsets;
    view.n_meta = g->n_meta;
    view.meta = g->meta;
    view.onnx_extra = g->onnx_extra;
    view.onnx_extra_len = g->onnx_extra_len;
    view.onnx_model_extra = g->onnx_model_extra;
    view.onnx_model_extra_len = g->onnx_model_extra_len;
    void *buf = NULL;
    size_t len = 0;
    cq_graph *h = NULL;
    if (!st && cq_onnx_save_buffer(&view, &buf, &len, err) == CQ_OK)
        h = cq_onnx_load_buffer(buf, len, "<quantizer's copy>", err);
    free(buf);
    for (int k = 0; k < nv; k++)
        map[vals[k]] = -1;
    for (int j = 0; j < view.n_nodes; j++) {
        free(view.nodes[j].inputs);
        free(view.nodes[j].outputs);
    }
    free(view.nodes);
    free(view.values);
    free(view.inputs);
    free(vals);
    free(inits);
    return h;
}

int32_t cq__quant_code(float x, cq_dtype dt, float scale, int32_t zp)
{
    int32_t lo = dt == CQ_U8 ? 0 : -128, hi = dt == CQ_U8 ? 255 : 127;
    return cq_round_sat(nearbyintf(x / scale) + (float)zp, lo, hi);
}

cq_tensor *cq__quant_codes(const cq_tensor *t, cq_dtype dt, float scale, int32_t zp,
                           cq_err *err)
{
    return cq_quantize(t, dt, &scale, &zp, -1, err);
}

int cq__quant_act_bounds(const cq_graph *g, const cq_node *a, float *lo, float *hi)
{
    if (a->n_inputs < 1 || a->inputs[0] < 0 || a->n_outputs != 1 ||
        (a->domain && *a->domain && strcmp(a->domain, "ai.onnx")))
        return 0;
    if (strcmp(a->op_type, "Relu") && strcmp(a->op_type, "Clip"))
        return 0;
    const cq_op *op = cq_op_find(a->op_type, "");
    cq_act act;
    if (!op || !op->hooks || !op->hooks->act_of || !op->hooks->act_of(g, a, cq_op_opset(g, a), &act))
        return 0;
    if (lo)
        *lo = act.kind == CQ_ACT_RELU ? 0.0f : act.a;
    if (hi)
        *hi = act.kind == CQ_ACT_RELU ? INFINITY : act.b;
    return 1;
}

int cq__quant_act_noop(const cq_graph *g, const cq_node *a, cq_dtype dt, float s, int32_t zp)
{
    float lo, hi;
    if (!cq__quant_act_bounds(g, a, &lo, &hi))
        return 0;
    int32_t qmin = dt == CQ_U8 ? 0 : -128, qmax = dt == CQ_U8 ? 255 : 127;
    return (lo == -INFINITY || cq__quant_code(lo, dt, s, zp) == qmin) &&
           (hi == INFINITY || cq__quant_code(hi, dt, s, zp) == qmax);
}

/* The graph imports domain at some version (version when it does not yet). */
cq_status cq__quant_import_domain(cq_graph *g, const char *domain, int64_t version, cq_err *err)
{
    if (cq_graph_opset(g, domain) > 0)
        return CQ_OK;
    cq_opset *o = realloc(g->opsets, (size_t)(g->n_opsets + 1) * sizeof *o);
    char *d = malloc(strlen(domain) + 1);
    if (o)
        g->opsets = o;
    if (!o || !d) {
        free(d);
        return cq_errf(err, CQ_ENOMEM, "lower: out of memory");
    }
    strcpy(d, domain);
    o[g->n_opsets].domain = d;
    o[g->n_opsets++].version = version;
    return CQ_OK;
}

/* A constant s64 shape as a new initializer; its index or -1. */
int cq__quant_shape_init(cq_graph *g, const char *base, const char *suffix, int n,
                         const int64_t *v, cq_err *err)
{
    int64_t len = n;
    cq_tensor *t = cq_tensor_new(CQ_S64, 1, &len, err);
    if (!t)
        return -1;
    memcpy(cq_tensor_data(t), v, (size_t)n * sizeof *v);
    int k = cq__quant_init(g, base, suffix, t, err);
    cq_tensor_release(t);
    return k;
}
