/* exec.c - planning and running a graph (see exec.h). */
#include "exec/exec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ops/ops.h"
#include "ops/passes.h"

typedef struct block {
    void *p;
    size_t size;
    int used;
} block;

struct cq_exec {
    cq_graph *g;
    int n_nodes, n_values;
    const cq_op **ops;        /* per node, NULL for dead ones */
    int64_t *opset;           /* per node */
    int *fused_into;          /* per node: the Conv that absorbed it, or -1 */
    int *out_alias;           /* per node: value the Conv writes instead of its own output, or -1 */
    int *res_in;              /* per node: residual value a Conv adds (fused Add), or -1 */
    int *pool_of;             /* per node: the MaxPool a Conv runs on its output, or -1 */
    int *readers;             /* per value: live readers, graph outputs count as one more */
    unsigned char *blocked;   /* per value: kept in NCHW16c (plan_layout) */
    cq_exec_observer observer;
    void *observer_ud;
    int threads;
    cq_openv env;
    block *blocks;
    int n_blocks, cap_blocks;
    size_t naive_bytes;
    /* per-run scratch */
    cq_tensor **vals;
    int *left;
    int *blk;                 /* block index holding each value, -1 */
    int *last_nd;             /* per value: rank in the last run, -1 */
    int64_t (*last_shape)[CQ_MAX_DIMS];
};

static void note_shape(cq_exec *e, int v, const cq_tensor *t)
{
    e->last_nd[v] = t->ndim;
    memcpy(e->last_shape[v], t->shape, sizeof e->last_shape[v]);
}

int cq_exec_value_shape(const cq_exec *e, int v, int64_t *shape)
{
    if (v < 0 || v >= e->g->n_values || e->last_nd[v] < 0)
        return -1;
    memcpy(shape, e->last_shape[v], sizeof e->last_shape[v]);
    return e->last_nd[v];
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int cq_exec_unsupported(const cq_graph *g, char *buf, size_t size)
{
    int count = 0;
    size_t pos = 0;
    if (size)
        buf[0] = '\0';
    for (int i = 0; i < g->n_nodes; i++) {
        const cq_node *n = &g->nodes[i];
        if (n->dead || cq_op_find(n->op_type, n->domain))
            continue;
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = !g->nodes[j].dead && !strcmp(g->nodes[j].op_type, n->op_type) &&
                   !cq_op_find(g->nodes[j].op_type, g->nodes[j].domain);
        if (seen)
            continue;
        count++;
        if (size && pos < size - 1) {
            int w = snprintf(buf + pos, size - pos, "%s%s%s%s", count > 1 ? ", " : "",
                             n->domain && *n->domain ? n->domain : "",
                             n->domain && *n->domain ? "." : "", n->op_type);
            pos += w > 0 ? (size_t)w : 0;
            if (pos >= size)
                pos = size - 1;
        }
    }
    return count;
}

void cq_exec_reset_profile(cq_graph *g)
{
    for (int i = 0; i < g->n_nodes; i++) {
        g->nodes[i].time_ns = 0;
        g->nodes[i].runs = 0;
    }
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

/* Conv -> Add(other) [-> Relu/Clip already fused into the Add]: the Conv
 * adds the other input in its epilogue and writes the Add's (or the
 * activation's) output. Only when the Conv output feeds nothing else, the
 * other input is computed before the Conv runs, and both have the same
 * known f32 shape. Runs after the activation fusion. */
static cq_status plan_residual(cq_exec *e, cq_err *err)
{
    cq_graph *g = e->g;
    for (int i = 0; i < g->n_nodes; i++) {
        cq_node *a = &g->nodes[i];
        if (a->dead || (a->domain && *a->domain) || strcmp(a->op_type, "Add") ||
            a->n_inputs != 2 || a->n_outputs != 1 || a->inputs[0] < 0 || a->inputs[1] < 0 ||
            e->fused_into[i] >= 0)
            continue;
        int best = -1, slot = -1;
        for (int s = 0; s < 2; s++) {
            int x = a->inputs[s], r = a->inputs[1 - s], p = g->values[x].producer;
            if (x == r || p < 0 || g->values[x].is_output ||
                cq_graph_consumers(g, x, NULL, 0) != 1)
                continue;
            cq_node *c = &g->nodes[p];
            if (c->dead || (c->domain && *c->domain) || strcmp(c->op_type, "Conv") ||
                e->fused_into[p] >= 0 || e->out_alias[p] >= 0 || e->res_in[p] >= 0 ||
                cq__node_act(c).kind != CQ_ACT_NONE)
                continue;
            if (!same_f32_shape(&g->values[x], &g->values[r]) || run_producer(e, r) >= p)
                continue;
            if (p > best) {
                best = p;
                slot = s;
            }
        }
        if (best < 0)
            continue;
        cq_act act = cq__node_act(a);
        if (act.kind != CQ_ACT_NONE && cq__fuse_act(&g->nodes[best], &act, err))
            return err->code;
        int out = e->out_alias[i] >= 0 ? e->out_alias[i] : a->outputs[0];
        for (int j = 0; j < g->n_nodes; j++)
            if (e->fused_into[j] == i)
                e->fused_into[j] = best;
        e->fused_into[i] = best;
        e->out_alias[best] = out;
        e->res_in[best] = a->inputs[1 - slot];
    }
    return CQ_OK;
}

/* Conv [-> Relu/Clip already fused] -> MaxPool: the Conv pools its own
 * output rows as it makes them (kern.h's cq_conv2d_run_pool) and writes the
 * MaxPool's output; the whole conv output never exists. Only where the
 * fused kernel would run (the few-channel stems on AVX-512:
 * cq__conv_pool_fusable), the pooled value is the MaxPool's only output
 * (no Indices), and the conv output feeds nothing else. */
static void plan_pool(cq_exec *e)
{
    cq_graph *g = e->g;
    for (int i = 0; i < g->n_nodes; i++) {
        cq_node *m = &g->nodes[i];
        if (m->dead || (m->domain && *m->domain) || strcmp(m->op_type, "MaxPool") ||
            m->n_inputs != 1 || m->inputs[0] < 0 || e->fused_into[i] >= 0 ||
            (m->n_outputs > 1 && m->outputs[1] >= 0))
            continue;
        int x = m->inputs[0], p = run_producer(e, x);
        if (p < 0 || g->values[x].is_output || cq_graph_consumers(g, x, NULL, 0) != 1 ||
            !g->values[x].has_type || g->values[x].dtype != CQ_F32)
            continue;
        cq_node *c = &g->nodes[p];
        if (c->dead || (c->domain && *c->domain) || strcmp(c->op_type, "Conv") ||
            e->res_in[p] >= 0 || e->pool_of[p] >= 0 ||
            (e->out_alias[p] >= 0 ? e->out_alias[p] : c->outputs[0]) != x ||
            !cq__conv_pool_fusable(g, c, m, 0))
            continue;
        for (int j = 0; j < g->n_nodes; j++)
            if (e->fused_into[j] == i)
                e->fused_into[j] = p;
        e->fused_into[i] = p;
        e->out_alias[p] = m->outputs[0];
        e->pool_of[p] = i;
    }
}

/* The value a running node writes as its first output. */
static int run_output(const cq_exec *e, int i)
{
    return e->out_alias[i] >= 0 ? e->out_alias[i] : e->g->nodes[i].outputs[0];
}

/* NCHW16c between convolutions: a value is kept blocked where the Conv
 * that writes it and every Conv (or GlobalAveragePool) that reads it as its
 * input take that layout natively (cq_conv2d_blocked_native): the
 * pixel-major GEMM (no 8x8 transposes into NCHW planes, no zero-padded copy
 * of 16 planes' rows, the 1x1 stride-2 projections read in place), the
 * depthwise channel-block kernel (no 16x16 transposes) and the stem with its
 * max pool fused. A Conv may also take a residual in either layout
 * (converted where it differs from its output's). Every other reader and
 * graph outputs keep NCHW. Values are dropped until every remaining one
 * holds both ends. */
static void plan_layout(cq_exec *e)
{
    cq_graph *g = e->g;
    unsigned char *b = e->blocked;
    for (int v = 0; v < g->n_values; v++) {
        const cq_value *val = &g->values[v];
        int p = run_producer(e, v);
        b[v] = p >= 0 && !val->is_output && !val->is_input && !val->data && val->has_type &&
               val->dtype == CQ_F32 && val->ndim == 4 && val->shape[1] > 0 &&
               val->shape[1] % 16 == 0 && run_output(e, p) == v &&
               !strcmp(g->nodes[p].op_type, "Conv") &&
               (e->pool_of[p] < 0 ||
                cq__conv_pool_fusable(g, &g->nodes[p], &g->nodes[e->pool_of[p]], 1));
    }
    /* every reader a Conv taking it as its input (or as a residual) */
    for (int i = 0; i < g->n_nodes; i++) {
        const cq_node *n = &g->nodes[i];
        if (n->dead || e->fused_into[i] >= 0)
            continue;
        /* (GlobalAveragePool reads it too, into an NCHW output) */
        int takes = (!strcmp(n->op_type, "Conv") && e->pool_of[i] < 0) ||
                    !strcmp(n->op_type, "GlobalAveragePool");
        if (n->domain && *n->domain)
            takes = 0;
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0 && (!takes || k > 0))
                b[n->inputs[k]] = 0;
    }
    for (int changed = 1; changed;) {
        changed = 0;
        for (int i = 0; i < g->n_nodes; i++) {
            const cq_node *n = &g->nodes[i];
            if (n->dead || e->fused_into[i] >= 0 || strcmp(n->op_type, "Conv") ||
                e->pool_of[i] >= 0 || n->inputs[0] < 0)
                continue;
            int x = n->inputs[0], y = run_output(e, i);
            if ((b[x] || b[y]) && !cq__conv_blocked_ok(g, n, b[x])) {
                /* this Conv cannot hold its end: its input goes first */
                if (b[x])
                    b[x] = 0;
                else
                    b[y] = 0;
                changed = 1;
            }
        }
    }
}

/* Conv or Add followed by Relu or Clip (constant bounds) reading only its output. */
static cq_status plan_fusion(cq_exec *e, cq_err *err)
{
    cq_graph *g = e->g;
    for (int i = 0; i < g->n_nodes; i++) {
        cq_node *a = &g->nodes[i];
        if (a->dead || (a->domain && *a->domain) || a->n_inputs < 1 || a->inputs[0] < 0)
            continue;
        cq_act act = {CQ_ACT_NONE, 0, 0};
        if (!strcmp(a->op_type, "Relu")) {
            act.kind = CQ_ACT_RELU;
        } else if (!strcmp(a->op_type, "Clip")) {
            act.kind = CQ_ACT_CLIP;
            act.a = -INFINITY;
            act.b = INFINITY;
            if (e->opset[i] < 11) {
                act.a = cq_node_float(a, "min", -INFINITY);
                act.b = cq_node_float(a, "max", INFINITY);
            } else {
                for (int k = 1; k < a->n_inputs && k < 3; k++) {
                    int v = a->inputs[k];
                    if (v < 0)
                        continue;
                    const cq_tensor *t = g->values[v].data;
                    if (!t || t->dtype != CQ_F32 || cq_tensor_numel(t) != 1) {
                        act.kind = CQ_ACT_NONE;
                        break;
                    }
                    float f = *(const float *)cq_tensor_data(t);
                    if (k == 1)
                        act.a = f;
                    else
                        act.b = f;
                }
            }
        }
        if (!act.kind)
            continue;
        int x = a->inputs[0], p = g->values[x].producer;
        if (p < 0 || g->values[x].is_output || cq_graph_consumers(g, x, NULL, 0) != 1)
            continue;
        cq_node *c = &g->nodes[p];
        if (c->dead || !cq__can_fuse(c) || e->fused_into[p] >= 0 || e->out_alias[p] >= 0)
            continue;
        /* Only where the dtype is known to be f32 (the activation is applied on floats). */
        if (!g->values[x].has_type || g->values[x].dtype != CQ_F32)
            continue;
        if (cq__fuse_act(c, &act, err))
            return err->code;
        e->fused_into[i] = p;
        e->out_alias[p] = a->outputs[0];
    }
    if (plan_residual(e, err))
        return err->code;
    plan_pool(e);
    return CQ_OK;
}

cq_exec *cq_exec_new(cq_graph *g, const cq_exec_opts *opts, cq_err *err)
{
    cq_exec_opts o = {1, 1, 0, 0};
    if (opts)
        o = *opts;
    if (!g) {
        cq_errf(err, CQ_EINVAL, "cq_exec_new: NULL graph");
        return NULL;
    }
    char names[512];
    /* Refuse early and completely: every missing operator at once. */
    if (cq_exec_unsupported(g, names, sizeof names)) {
        cq_errf(err, CQ_EUNSUPPORTED, "unsupported operators: %s", names);
        return NULL;
    }
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].unsupported) {
            cq_errf(err, CQ_EUNSUPPORTED, "value '%s': %s", g->values[v].name,
                    g->values[v].unsupported);
            return NULL;
        }
    for (int i = 0; i < g->n_inputs + g->n_outputs; i++) {
        const cq_value *v = &g->values[i < g->n_inputs ? g->inputs[i] : g->outputs[i - g->n_inputs]];
        if (v->onnx_vi) {
            cq_errf(err, CQ_EUNSUPPORTED, "value '%s': calq has no dtype for a sequence, map or "
                    "optional", v->name);
            return NULL;
        }
    }
    for (int i = 0; i < g->n_inputs; i++) {
        const cq_value *v = &g->values[g->inputs[i]];
        cq_dtype dt;
        if (v->has_type && v->onnx_elem_type && cq_dtype_from_onnx(v->onnx_elem_type, &dt)) {
            cq_errf(err, CQ_EUNSUPPORTED, "input '%s': calq has no dtype %s", v->name,
                    cq_onnx_type_name(v->onnx_elem_type));
            return NULL;
        }
    }
    if (o.optimize ? cq_passes_run(g, NULL, err) : cq_graph_toposort(g, err))
        return NULL;
    if (cq_graph_infer_shapes(g, err))
        return NULL;
    cq_exec *e = calloc(1, sizeof *e);
    if (!e) {
        cq_errf(err, CQ_ENOMEM, "out of memory");
        return NULL;
    }
    e->g = g;
    e->n_nodes = g->n_nodes;
    e->n_values = g->n_values;
    e->ops = calloc((size_t)g->n_nodes + 1, sizeof *e->ops);
    e->opset = calloc((size_t)g->n_nodes + 1, sizeof *e->opset);
    e->fused_into = malloc(((size_t)g->n_nodes + 1) * sizeof *e->fused_into);
    e->out_alias = malloc(((size_t)g->n_nodes + 1) * sizeof *e->out_alias);
    e->res_in = malloc(((size_t)g->n_nodes + 1) * sizeof *e->res_in);
    e->pool_of = malloc(((size_t)g->n_nodes + 1) * sizeof *e->pool_of);
    e->readers = calloc((size_t)g->n_values + 1, sizeof *e->readers);
    e->blocked = calloc((size_t)g->n_values + 1, sizeof *e->blocked);
    e->vals = calloc((size_t)g->n_values + 1, sizeof *e->vals);
    e->left = calloc((size_t)g->n_values + 1, sizeof *e->left);
    e->blk = malloc(((size_t)g->n_values + 1) * sizeof *e->blk);
    e->last_nd = malloc(((size_t)g->n_values + 1) * sizeof *e->last_nd);
    e->last_shape = malloc(((size_t)g->n_values + 1) * sizeof *e->last_shape);
    if (!e->ops || !e->opset || !e->fused_into || !e->out_alias || !e->res_in || !e->pool_of ||
        !e->readers || !e->blocked ||
        !e->vals ||
        !e->left || !e->blk || !e->last_nd || !e->last_shape) {
        cq_exec_free(e);
        cq_errf(err, CQ_ENOMEM, "out of memory");
        return NULL;
    }
    for (int v = 0; v < g->n_values; v++)
        e->last_nd[v] = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        cq_node *n = &g->nodes[i];
        e->fused_into[i] = e->out_alias[i] = e->res_in[i] = e->pool_of[i] = -1;
        if (n->dead)
            continue;
        e->ops[i] = cq_op_find(n->op_type, n->domain);
        int64_t v = cq_graph_opset(g, n->domain ? n->domain : "");
        e->opset[i] = v > 0 ? v : 21;
        if (n->n_inputs > 32 || n->n_outputs > 8) {
            cq_errf(err, CQ_EUNSUPPORTED, "node '%s': more than 32 inputs or 8 outputs", n->name);
            cq_exec_free(e);
            return NULL;
        }
    }
    if (o.fuse && plan_fusion(e, err)) {
        cq_exec_free(e);
        return NULL;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const cq_node *n = &g->nodes[i];
        if (n->dead || e->fused_into[i] >= 0)
            continue;
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0)
                e->readers[n->inputs[k]]++;
        if (e->res_in[i] >= 0)
            e->readers[e->res_in[i]]++;
    }
    for (int i = 0; i < g->n_outputs; i++)
        e->readers[g->outputs[i]]++;
    const char *nchw = getenv("CALQ_NCHW");
    if (!o.nchw_only && !(nchw && !strcmp(nchw, "1")))
        plan_layout(e);
    e->threads = cq_kern_threads();
    if (o.threads > 0)
        cq_exec_set_threads(e, o.threads);
    return e;
}

void cq_exec_free(cq_exec *e)
{
    if (!e)
        return;
    for (int i = 0; i < e->n_blocks; i++)
        cq_free(e->blocks[i].p);
    free(e->blocks);
    cq_free(e->env.scratch);
    free(e->ops);
    free(e->opset);
    free(e->fused_into);
    free(e->res_in);
    free(e->pool_of);
    free(e->out_alias);
    free(e->readers);
    free(e->blocked);
    free(e->vals);
    free(e->left);
    free(e->blk);
    free(e->last_nd);
    free(e->last_shape);
    free(e);
}

void cq_exec_set_observer(cq_exec *e, cq_exec_observer fn, void *ud)
{
    e->observer = fn;
    e->observer_ud = ud;
}

void cq_exec_set_threads(cq_exec *e, int n)
{
    if (n < 1)
        n = 1;
    cq_kern_set_threads(n);
    e->threads = cq_kern_threads();
    e->env.threads = e->threads;
}

int cq_exec_threads(const cq_exec *e) { return e->threads; }
int cq_exec_is_stale(const cq_exec *e)
{
    return e->n_nodes != e->g->n_nodes || e->n_values != e->g->n_values;
}
size_t cq_exec_naive_bytes(const cq_exec *e) { return e->naive_bytes; }
int cq_exec_value_blocked(const cq_exec *e, int v)
{
    return v >= 0 && v < e->n_values && e->blocked[v];
}
int cq_exec_is_fused(const cq_exec *e, int node)
{
    return node >= 0 && node < e->n_nodes && e->fused_into[node] >= 0;
}

size_t cq_exec_peak_bytes(const cq_exec *e)
{
    size_t s = 0;
    for (int i = 0; i < e->n_blocks; i++)
        s += e->blocks[i].size;
    return s;
}

/* Best-fitting free block of at least size bytes, or a new one; -1 on ENOMEM. */
static int pool_get(cq_exec *e, size_t size)
{
    int best = -1;
    for (int i = 0; i < e->n_blocks; i++)
        if (!e->blocks[i].used && e->blocks[i].size >= size &&
            (best < 0 || e->blocks[i].size < e->blocks[best].size))
            best = i;
    if (best < 0) {
        if (e->n_blocks == e->cap_blocks) {
            int cap = e->cap_blocks ? 2 * e->cap_blocks : 16;
            block *nb = realloc(e->blocks, (size_t)cap * sizeof *nb);
            if (!nb)
                return -1;
            e->blocks = nb;
            e->cap_blocks = cap;
        }
        void *p = cq_alloc(size);
        if (!p)
            return -1;
        e->blocks[e->n_blocks] = (block){p, size, 0};
        best = e->n_blocks++;
    }
    e->blocks[best].used = 1;
    return best;
}

static void release_value(cq_exec *e, int v)
{
    cq_tensor_release(e->vals[v]);
    e->vals[v] = NULL;
    if (e->blk[v] >= 0)
        e->blocks[e->blk[v]].used = 0;
    e->blk[v] = -1;
}

/* No single intermediate above this: a hostile shape gets an error, not an
 * allocation the machine cannot back. */
#define CQ_EXEC_MAX_VALUE_BYTES ((size_t)1 << 34)

static cq_tensor *alloc_value(cq_exec *e, int v, const cq_tinfo *ti, int pooled, cq_err *err)
{
    double want = (double)cq_dtype_info(ti->dtype)->size;
    for (int d = 0; d < ti->ndim; d++)
        want *= (double)ti->shape[d];
    if (want > (double)CQ_EXEC_MAX_VALUE_BYTES) {
        cq_errf(err, CQ_ENOMEM, "value '%s' would take %.0f bytes (calq's limit is %zu)",
                e->g->values[v].name, want, CQ_EXEC_MAX_VALUE_BYTES);
        return NULL;
    }
    if (!pooled)
        return cq_tensor_empty(ti->dtype, ti->ndim, ti->shape, err);
    size_t bytes = (size_t)cq__numel(ti->ndim, ti->shape) * cq_dtype_info(ti->dtype)->size;
    e->naive_bytes += bytes;
    int b = pool_get(e, bytes ? bytes : 1);
    if (b < 0) {
        cq_errf(err, CQ_ENOMEM, "value '%s': no memory for %zu bytes", e->g->values[v].name, bytes);
        return NULL;
    }
    cq_tensor *t = cq_tensor_wrap(ti->dtype, ti->ndim, ti->shape, e->blocks[b].p, NULL, NULL, err);
    if (!t) {
        e->blocks[b].used = 0;
        return NULL;
    }
    e->blk[v] = b;
    return t;
}

static cq_status run_node(cq_exec *e, int i, cq_err *err)
{
    cq_graph *g = e->g;
    cq_node *n = &g->nodes[i];
    const cq_op *op = e->ops[i];
    cq_tensor *in[32], *out[8];
    cq_tinfo ti[32], to[8];
    int outv[8];
    for (int k = 0; k < n->n_inputs; k++) {
        int v = n->inputs[k];
        in[k] = v >= 0 ? e->vals[v] : NULL;
        memset(&ti[k], 0, sizeof ti[k]);
        ti[k].ndim = -1;
        if (v >= 0 && !in[k])
            return cq_errf(err, CQ_ESTATE, "node '%s': input '%s' has no value", n->name,
                           g->values[v].name);
        if (in[k]) {
            ti[k].dtype = in[k]->dtype;
            ti[k].ndim = in[k]->ndim;
            memcpy(ti[k].shape, in[k]->shape, sizeof ti[k].shape);
            ti[k].data = in[k];
        }
    }
    memset(to, 0, sizeof to);
    e->env.opset = e->opset[i];
    if (op->infer(n, e->opset[i], n->n_inputs, ti, n->n_outputs, to, err))
        return err->code;
    /* a fused MaxPool: the node writes the pool's output */
    int pn = e->pool_of[i];
    cq_pool2d_params pool;
    if (pn >= 0) {
        const cq_node *m = &g->nodes[pn];
        cq_tinfo tp[2];
        memset(tp, 0, sizeof tp);
        if (e->ops[pn]->infer(m, e->opset[pn], 1, &to[0], 1, tp, err) ||
            cq__pool2d_of(m, 0, to[0].ndim, to[0].shape, &pool, err))
            return cq_err_prefix(err, err->code, "node '%s' (MaxPool, fused into '%s'): ",
                                 m->name, n->name);
        to[0] = tp[0];
    }
    for (int k = 0; k < n->n_outputs; k++) {
        out[k] = NULL;
        outv[k] = n->outputs[k];
        if (k == 0 && e->out_alias[i] >= 0)
            outv[k] = e->out_alias[i];
    }
    unsigned char cst[32];
    for (int k = 0; k < n->n_inputs; k++)
        cst[k] = n->inputs[k] >= 0 && g->values[n->inputs[k]].data != NULL;
    e->env.in_const = cst;
    cq_status st = CQ_OK;
    for (int k = 0; k < n->n_outputs && !st; k++) {
        int v = outv[k];
        if (v < 0) {
            /* An omitted optional output still gets scratch the op may write. */
            out[k] = cq_tensor_empty(to[k].dtype, to[k].ndim, to[k].shape, err);
            if (!out[k])
                st = err->code;
            continue;
        }
        out[k] = alloc_value(e, v, &to[k], !g->values[v].is_output, err);
        if (!out[k])
            st = err->code;
        else
            note_shape(e, v, out[k]);
        e->vals[v] = out[k];
    }
    int rv = e->res_in[i];
    if (!st && rv >= 0 && !e->vals[rv])
        st = cq_errf(err, CQ_ESTATE, "node '%s': residual '%s' has no value", n->name,
                     g->values[rv].name);
    if (!st) {
        double t0 = now_ns();
        e->env.residual = rv >= 0 ? e->vals[rv] : NULL;
        e->env.pool = pn >= 0 ? &pool : NULL;
        e->env.x_blocked = n->n_inputs > 0 && n->inputs[0] >= 0 && e->blocked[n->inputs[0]];
        e->env.y_blocked = outv[0] >= 0 && e->blocked[outv[0]];
        e->env.res_blocked = rv >= 0 && e->blocked[rv];
        st = op->run(n, n->n_inputs, in, n->n_outputs, out, &e->env, err);
        e->env.residual = NULL;
        e->env.pool = NULL;
        e->env.x_blocked = e->env.y_blocked = e->env.res_blocked = 0;
        n->time_ns += now_ns() - t0;
        n->runs++;
    }
    for (int k = 0; k < n->n_outputs; k++)
        if (outv[k] < 0)
            cq_tensor_release(out[k]);
    e->env.in_const = NULL;
    if (st)
        return cq_err_prefix(err, st, "node '%s' (%s): ", n->name, n->op_type);
    if (e->observer)
        for (int k = 0; k < n->n_outputs; k++) {
            if (outv[k] < 0)
                continue;
            int node = k == 0 && e->out_alias[i] >= 0 ? g->values[outv[k]].producer : i;
            cq_tensor *seen = out[k];
            if (e->blocked[outv[k]]) {
                /* the observer sees NCHW */
                seen = cq_tensor_empty(CQ_F32, out[k]->ndim, out[k]->shape, err);
                if (!seen)
                    return err->code;
                cq_from_blocked_f32(cq_tensor_data(out[k]), out[k]->shape[0], out[k]->shape[1],
                                    out[k]->shape[2] * out[k]->shape[3], cq_tensor_data(seen));
            }
            int stop = e->observer(e->observer_ud, g, node, k, seen);
            if (seen != out[k])
                cq_tensor_release(seen);
            if (stop)
                return cq_errf(err, CQ_ESTATE, "node '%s': the observer stopped the run", n->name);
        }
    for (int k = 0; k <= n->n_inputs; k++) {
        int v = k < n->n_inputs ? n->inputs[k] : rv;
        if (v >= 0 && --e->left[v] == 0 && !g->values[v].data)
            release_value(e, v);
    }
    for (int k = 0; k < n->n_outputs; k++)
        if (outv[k] >= 0 && e->left[outv[k]] == 0)
            release_value(e, outv[k]);
    return CQ_OK;
}

cq_status cq_exec_run(cq_exec *e, int n_in, cq_tensor *const *inputs, cq_tensor **outputs,
                      cq_err *err)
{
    cq_graph *g = e->g;
    for (int i = 0; i < g->n_outputs; i++)
        outputs[i] = NULL;
    if (cq_exec_is_stale(e))
        return cq_errf(err, CQ_ESTATE, "the graph changed since it was planned: plan it again");
    if (n_in != g->n_inputs)
        return cq_errf(err, CQ_EINVAL, "the model takes %d inputs, %d given", g->n_inputs, n_in);
    e->naive_bytes = 0;
    for (int v = 0; v < g->n_values; v++) {
        e->vals[v] = NULL;
        e->blk[v] = -1;
        e->left[v] = e->readers[v];
        if (g->values[v].data) {
            e->vals[v] = cq_tensor_contiguous(g->values[v].data, err);
            if (!e->vals[v])
                goto fail;
            note_shape(e, v, e->vals[v]);
        }
    }
    for (int i = 0; i < n_in; i++) {
        const cq_value *val = &g->values[g->inputs[i]];
        if (!inputs[i]) {
            cq_errf(err, CQ_EINVAL, "input '%s' missing", val->name);
            goto fail;
        }
        if (val->has_type && val->onnx_elem_type) {
            cq_dtype dt;
            if (!cq_dtype_from_onnx(val->onnx_elem_type, &dt) && dt != inputs[i]->dtype) {
                cq_errf(err, CQ_EINVAL, "input '%s' must be %s, got %s", val->name,
                        cq_dtype_info(dt)->name, cq_dtype_info(inputs[i]->dtype)->name);
                goto fail;
            }
        }
        if (val->has_type && val->ndim >= 0) {
            int bad = val->ndim != inputs[i]->ndim;
            for (int d = 0; !bad && d < val->ndim; d++)
                bad = val->shape[d] >= 0 && val->shape[d] != inputs[i]->shape[d];
            if (bad) {
                char buf[128];
                cq_errf(err, CQ_EINVAL, "input '%s': shape %s does not match the model's",
                        val->name, cq_tensor_describe(inputs[i], buf, sizeof buf));
                goto fail;
            }
        }
        cq_tensor_release(e->vals[g->inputs[i]]);
        e->vals[g->inputs[i]] = cq_tensor_contiguous(inputs[i], err);
        if (!e->vals[g->inputs[i]])
            goto fail;
        note_shape(e, g->inputs[i], inputs[i]);
    }
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].dead || e->fused_into[i] >= 0)
            continue;
        if (run_node(e, i, err))
            goto fail;
    }
    for (int i = 0; i < g->n_outputs; i++) {
        int v = g->outputs[i];
        if (!e->vals[v]) {
            cq_errf(err, CQ_ESTATE, "output '%s' was not computed", g->values[v].name);
            goto fail;
        }
        if (e->blk[v] >= 0 || g->values[v].data || g->values[v].is_input) {
            outputs[i] = cq_tensor_clone(e->vals[v], err);
            if (!outputs[i])
                goto fail;
        } else {
            cq_tensor_retain(e->vals[v]);
            outputs[i] = e->vals[v];
        }
    }
    for (int v = 0; v < g->n_values; v++)
        if (e->vals[v])
            release_value(e, v);
    return CQ_OK;
fail:
    for (int i = 0; i < g->n_outputs; i++) {
        cq_tensor_release(outputs[i]);
        outputs[i] = NULL;
    }
    for (int v = 0; v < g->n_values; v++)
        if (e->vals[v])
            release_value(e, v);
    return err->code;
}
