/* graph.c - the graph IR: values, nodes, name index (see graph.h). Attributes
 * live in graph_attr.c, sorting and compaction in graph_sort.c. */
#include "graph/graph.h"
#include "graph/graph_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- name index: open addressing, slots hold value index + 1 ----------- */

/* A suffix hint: every name key[1..]__j with 1 <= j < k is taken (a value
 * name for key[0] 'v', a node name for 'n'); names stay taken until a
 * compaction (cq__graph_reindex), which forgets the hints. */
typedef struct name_hint {
    char *key;
    long k;
} name_hint;

typedef struct name_index {
    size_t cap;  /* power of two */
    size_t used;
    int *slots;
    name_hint *hints; /* open addressing, key NULL empty */
    size_t hint_cap, hint_used;
} name_index;

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int index_lookup(const cq_graph *g, const char *name, size_t *slot)
{
    const name_index *ix = g->index;
    size_t m = ix->cap - 1, i = (size_t)hash_name(name) & m;
    for (;;) {
        int v = ix->slots[i];
        if (v == 0) {
            if (slot)
                *slot = i;
            return -1;
        }
        if (strcmp(g->values[v - 1].name, name) == 0)
            return v - 1;
        i = (i + 1) & m;
    }
}

static cq_status index_rebuild(cq_graph *g, size_t cap, cq_err *err);

static void hints_clear(name_index *ix)
{
    for (size_t k = 0; k < ix->hint_cap; k++)
        free(ix->hints[k].key);
    free(ix->hints);
    ix->hints = NULL;
    ix->hint_cap = ix->hint_used = 0;
}

static name_hint *hint_slot(const name_index *ix, char kind, const char *base)
{
    size_t m = ix->hint_cap - 1, k = (size_t)(hash_name(base) ^ (unsigned char)kind) & m;
    while (ix->hints[k].key &&
           (ix->hints[k].key[0] != kind || strcmp(ix->hints[k].key + 1, base)))
        k = (k + 1) & m;
    return &ix->hints[k];
}

/* The first suffix worth trying for base: 1 when no hint. */
static long hint_get(const name_index *ix, char kind, const char *base)
{
    if (!ix->hint_cap)
        return 1;
    const name_hint *h = hint_slot(ix, kind, base);
    return h->key ? h->k : 1;
}

/* Remember that the suffixes below k are taken (out of memory: forgotten,
 * a hint only saves time). */
static void hint_set(name_index *ix, char kind, const char *base, long k)
{
    if ((ix->hint_used + 1) * 2 > ix->hint_cap) {
        size_t cap = ix->hint_cap ? ix->hint_cap * 2 : 16;
        name_hint *t = calloc(cap, sizeof *t);
        if (!t)
            return;
        name_hint *old = ix->hints;
        size_t oc = ix->hint_cap;
        ix->hints = t;
        ix->hint_cap = cap;
        for (size_t j = 0; j < oc; j++)
            if (old[j].key)
                *hint_slot(ix, old[j].key[0], old[j].key + 1) = old[j];
        free(old);
    }
    name_hint *h = hint_slot(ix, kind, base);
    if (!h->key) {
        size_t n = strlen(base);
        if (!(h->key = malloc(n + 2)))
            return;
        h->key[0] = kind;
        memcpy(h->key + 1, base, n + 1);
        ix->hint_used++;
    }
    h->k = k;
}

cq_status cq__graph_reindex(cq_graph *g, cq_err *err)
{
    hints_clear(g->index); /* values may have gone */
    return index_rebuild(g, ((name_index *)g->index)->cap, err);
}

static cq_status index_rebuild(cq_graph *g, size_t cap, cq_err *err)
{
    name_index *ix = g->index;
    int *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return cq_errf(err, CQ_ENOMEM, "out of memory for the name index of %d values",
                       g->n_values);
    free(ix->slots);
    ix->slots = slots;
    ix->cap = cap;
    ix->used = 0;
    for (int v = 0; v < g->n_values; v++) {
        size_t slot;
        if (index_lookup(g, g->values[v].name, &slot) < 0) {
            ix->slots[slot] = v + 1;
            ix->used++;
        }
    }
    return CQ_OK;
}

/* ---- helpers shared with graph_attr.c ---------------------------------- */

char *cq__strdup(const char *s)
{
    size_t n = strlen(s ? s : "");
    char *d = malloc(n + 1);
    if (d)
        memcpy(d, s ? s : "", n + 1);
    return d;
}

/* Values or nodes of one graph: the arrays double up to this, int indices. */
#define MAX_ENTRIES (1 << 29)

/* Grow *p (elements of elem bytes, capacity *cap) to hold need; new slots zeroed. */
static cq_status grow(void **p, int *cap, int need, size_t elem, cq_err *err)
{
    if (need <= *cap)
        return CQ_OK;
    int nc = *cap ? *cap : 8;
    while (nc < need) {
        if (nc > MAX_ENTRIES)
            return cq_errf(err, CQ_ENOMEM, "too many graph elements (%d)", need);
        nc *= 2;
    }
    void *q = realloc(*p, (size_t)nc * elem);
    if (!q)
        return cq_errf(err, CQ_ENOMEM, "out of memory growing an array to %d entries", nc);
    memset((char *)q + (size_t)*cap * elem, 0, (size_t)(nc - *cap) * elem);
    *p = q;
    *cap = nc;
    return CQ_OK;
}

/* ---- life cycle -------------------------------------------------------- */

cq_graph *cq_graph_new(cq_err *err)
{
    cq_graph *g = calloc(1, sizeof *g);
    name_index *ix = calloc(1, sizeof *ix);
    if (g)
        g->index = ix;
    if (!g || !ix || index_rebuild(g, 16, err) != CQ_OK) {
        cq_errf(err, CQ_ENOMEM, "out of memory for a graph");
        free(ix);
        free(g);
        return NULL;
    }
    return g;
}

void cq__value_clear(cq_value *v)
{
    free(v->name);
    for (int i = 0; i < CQ_MAX_DIMS; i++)
        free(v->dim_param[i]);
    cq_tensor_release(v->data);
    free(v->doc_string);
    free(v->onnx_tensor);
    free(v->onnx_vi);
    memset(v, 0, sizeof *v);
}

void cq__node_clear(cq_node *n)
{
    free(n->name);
    free(n->op_type);
    free(n->domain);
    free(n->inputs);
    free(n->outputs);
    for (int i = 0; i < n->n_attrs; i++)
        cq_attr_clear(&n->attrs[i]);
    free(n->attrs);
    free(n->doc_string);
    free(n->onnx_extra);
    memset(n, 0, sizeof *n);
}

void cq_graph_free(cq_graph *g)
{
    if (!g)
        return;
    cq__graph_readers_drop(g);
    for (int i = 0; i < g->n_values; i++)
        cq__value_clear(&g->values[i]);
    free(g->values);
    for (int i = 0; i < g->n_nodes; i++)
        cq__node_clear(&g->nodes[i]);
    free(g->nodes);
    free(g->inputs);
    free(g->outputs);
    free(g->initializers);
    free(g->name);
    free(g->doc_string);
    free(g->producer_name);
    free(g->producer_version);
    free(g->model_domain);
    free(g->model_doc_string);
    for (int i = 0; i < g->n_opsets; i++)
        free(g->opsets[i].domain);
    free(g->opsets);
    for (int i = 0; i < g->n_meta; i++) {
        free(g->meta[i].key);
        free(g->meta[i].value);
    }
    free(g->meta);
    if (g->index) {
        hints_clear(g->index);
        free(((name_index *)g->index)->slots);
        free(g->index);
    }
    free(g->onnx_extra);
    free(g->onnx_model_extra);
    free(g);
}

/* ---- values ------------------------------------------------------------ */

int cq_graph_find(const cq_graph *g, const char *name)
{
    if (!g || !name || !*name)
        return -1;
    return index_lookup(g, name, NULL);
}

int cq_graph_value(cq_graph *g, const char *name, cq_err *err)
{
    if (!name || !*name) {
        cq_errf(err, CQ_EINVAL, "the empty name is not a value");
        return -1;
    }
    size_t slot;
    int v = index_lookup(g, name, &slot);
    if (v >= 0)
        return v;
    name_index *ix = g->index;
    if ((ix->used + 1) * 2 > ix->cap) {
        if (index_rebuild(g, ix->cap * 2, err) != CQ_OK)
            return -1;
        index_lookup(g, name, &slot);
    }
    int cap = g->cap_values;
    if (grow((void **)&g->values, &cap, g->n_values + 1, sizeof *g->values, err) != CQ_OK)
        return -1;
    g->cap_values = cap;
    cq_value *val = &g->values[g->n_values];
    memset(val, 0, sizeof *val);
    val->name = cq__strdup(name);
    if (!val->name) {
        cq_errf(err, CQ_ENOMEM, "out of memory for value name");
        return -1;
    }
    val->ndim = -1;
    val->producer = -1;
    val->dtype = CQ_F32;
    ix->slots[slot] = g->n_values + 1;
    ix->used++;
    return g->n_values++;
}

int cq_graph_new_value(cq_graph *g, const char *base, cq_err *err)
{
    if (!base || !*base)
        base = "v";
    if (cq_graph_find(g, base) < 0)
        return cq_graph_value(g, base, err);
    size_t n = strlen(base) + 24;
    char *buf = malloc(n);
    if (!buf) {
        cq_errf(err, CQ_ENOMEM, "out of memory for a value name");
        return -1;
    }
    /* the lowest free suffix, from where the last search for base ended:
     * a weight shared by n nodes names its n copies in linear time */
    long k = hint_get(g->index, 'v', base);
    for (;; k++) {
        snprintf(buf, n, "%s__%ld", base, k);
        if (cq_graph_find(g, buf) < 0)
            break;
    }
    int v = cq_graph_value(g, buf, err);
    if (v >= 0)
        hint_set(g->index, 'v', base, k + 1);
    free(buf);
    return v;
}

char *cq_graph_new_node_name(const cq_graph *g, const char *base)
{
    if (!base)
        base = "";
    size_t n = strlen(base) + 24;
    char *name = malloc(n);
    if (!name)
        return NULL;
    snprintf(name, n, "%s", base);
    if (cq_graph_find_node(g, name) < 0)
        return name;
    /* the hint belongs to the graph's private index, not to what g means */
    name_index *ix = g->index;
    long k = hint_get(ix, 'n', base);
    for (;; k++) {
        snprintf(name, n, "%s__%ld", base, k);
        if (cq_graph_find_node(g, name) < 0)
            break;
    }
    hint_set(ix, 'n', base, k); /* base__k is free until the caller adds it */
    return name;
}

static cq_status check_value(const cq_graph *g, int v, cq_err *err)
{
    if (!g || v < 0 || v >= g->n_values)
        return cq_errf(err, CQ_ERANGE, "value index %d out of range (graph has %d values)", v,
                       g ? g->n_values : 0);
    return CQ_OK;
}

cq_status cq_graph_set_data(cq_graph *g, int v, cq_tensor *t, cq_err *err)
{
    if (check_value(g, v, err) != CQ_OK)
        return err->code;
    if (!t)
        return cq_errf(err, CQ_EINVAL, "cq_graph_set_data: NULL tensor for '%s'",
                       g->values[v].name);
    cq_value *val = &g->values[v];
    cq_tensor_retain(t);
    cq_tensor_release(val->data);
    val->data = t;
    val->has_type = 1;
    val->dtype = t->dtype;
    val->ndim = t->ndim;
    for (int i = 0; i < CQ_MAX_DIMS; i++) {
        val->shape[i] = i < t->ndim ? t->shape[i] : 0;
        free(val->dim_param[i]);
        val->dim_param[i] = NULL;
    }
    val->onnx_elem_type = cq_dtype_info(t->dtype)->onnx_type;
    val->unsupported = NULL;
    free(val->onnx_tensor);
    val->onnx_tensor = NULL;
    val->onnx_tensor_len = 0;
    return CQ_OK;
}

/* Append v to a list of values unless it is there. was says whether v's
 * flag (is_input, is_output, is_initializer) was set before: a value whose
 * flag is clear is in no list, so only a flagged one is looked for. The
 * capacity is the next power of two of the count (only this function
 * grows these lists), so a model's outputs or initializers load in linear
 * time. */
static cq_status list_add(int **list, int *n, int v, int was, cq_err *err)
{
    for (int i = 0; was && i < *n; i++)
        if ((*list)[i] == v)
            return CQ_OK;
    if (*n >= MAX_ENTRIES)
        return cq_errf(err, CQ_ENOMEM, "too many graph inputs, outputs or initializers (%d)", *n);
    if ((*n & (*n - 1)) == 0) { /* 0, 1, 2, 4, ...: full */
        int *q = realloc(*list, (size_t)(*n ? 2 * *n : 1) * sizeof *q);
        if (!q)
            return cq_errf(err, CQ_ENOMEM, "out of memory for a graph list");
        *list = q;
    }
    (*list)[(*n)++] = v;
    return CQ_OK;
}

cq_status cq_graph_add_input(cq_graph *g, int v, cq_err *err)
{
    if (check_value(g, v, err) != CQ_OK)
        return CQ_ERANGE;
    int was = g->values[v].is_input;
    g->values[v].is_input = 1;
    return list_add(&g->inputs, &g->n_inputs, v, was, err);
}

cq_status cq_graph_add_output(cq_graph *g, int v, cq_err *err)
{
    if (check_value(g, v, err) != CQ_OK)
        return CQ_ERANGE;
    int was = g->values[v].is_output;
    g->values[v].is_output = 1;
    return list_add(&g->outputs, &g->n_outputs, v, was, err);
}

cq_status cq_graph_add_initializer(cq_graph *g, int v, cq_tensor *t, cq_err *err)
{
    if (check_value(g, v, err) != CQ_OK)
        return CQ_ERANGE;
    if (t && cq_graph_set_data(g, v, t, err) != CQ_OK)
        return err->code;
    int was = g->values[v].is_initializer;
    g->values[v].is_initializer = 1;
    return list_add(&g->initializers, &g->n_initializers, v, was, err);
}

/* ---- nodes ------------------------------------------------------------- */

int cq_graph_add_node(cq_graph *g, const char *op_type, const char *name, const char *domain,
                      int n_in, const char *const *inputs, int n_out,
                      const char *const *outputs, cq_err *err)
{
    if (!g || !op_type || n_in < 0 || n_out < 0 || (n_in && !inputs) || (n_out && !outputs)) {
        cq_errf(err, CQ_EINVAL, "cq_graph_add_node: bad arguments");
        return -1;
    }
    if (!name)
        name = "";
    /* value indices, -1 for an omitted optional; they become the node's */
    int *iv = malloc((size_t)(n_in ? n_in : 1) * sizeof(int));
    int *ov = malloc((size_t)(n_out ? n_out : 1) * sizeof(int));
    if (!iv || !ov) {
        cq_errf(err, CQ_ENOMEM, "out of memory for node '%s'", name);
        goto fail;
    }
    for (int i = 0; i < n_in + n_out; i++) {
        const char *s = i < n_in ? inputs[i] : outputs[i - n_in];
        int v = (!s || !*s) ? -1 : cq_graph_value(g, s, err);
        if (s && *s && v < 0)
            goto fail;
        if (i < n_in)
            iv[i] = v;
        else
            ov[i - n_in] = v;
    }
    for (int i = 0; i < n_out; i++) {
        int v = ov[i];
        if (v < 0)
            continue;
        int p = g->values[v].producer;
        if (p >= 0 && p < g->n_nodes && !g->nodes[p].dead) {
            cq_errf(err, CQ_EINVAL, "node '%s' (%s): output '%s' is already produced by node '%s'",
                    name, op_type, g->values[v].name, g->nodes[p].name);
            goto fail;
        }
        for (int j = 0; j < i; j++)
            if (ov[j] == v) {
                cq_errf(err, CQ_EINVAL, "node '%s' (%s): output '%s' appears twice", name,
                        op_type, g->values[v].name);
                goto fail;
            }
    }
    int cap = g->cap_nodes;
    if (grow((void **)&g->nodes, &cap, g->n_nodes + 1, sizeof *g->nodes, err) != CQ_OK)
        goto fail;
    g->cap_nodes = cap;
    cq_node *n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof *n);
    n->inputs = iv;
    n->outputs = ov;
    n->op_type = cq__strdup(op_type);
    n->name = cq__strdup(name);
    n->domain = cq__strdup(domain);
    if (!n->op_type || !n->name || !n->domain) {
        cq__node_clear(n);
        cq_errf(err, CQ_ENOMEM, "out of memory for node '%s'", name);
        return -1;
    }
    n->n_inputs = n_in;
    n->n_outputs = n_out;
    for (int i = 0; i < n_out; i++)
        if (ov[i] >= 0)
            g->values[ov[i]].producer = g->n_nodes;
    return g->n_nodes++;
fail:
    free(iv);
    free(ov);
    return -1;
}

int64_t cq_graph_opset(const cq_graph *g, const char *domain)
{
    if (!domain || strcmp(domain, "ai.onnx") == 0)
        domain = "";
    for (int i = 0; i < g->n_opsets; i++) {
        const char *d = g->opsets[i].domain ? g->opsets[i].domain : "";
        if (strcmp(d, "ai.onnx") == 0)
            d = "";
        if (strcmp(d, domain) == 0)
            return g->opsets[i].version;
    }
    return 0;
}

const char *cq_onnx_type_name(int t)
{
    static const char *const names[] = {
        "UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64",
        "STRING", "BOOL", "FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64",
        "COMPLEX128", "BFLOAT16", "FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2",
        "FLOAT8E5M2FNUZ", "UINT4", "INT4", "FLOAT4E2M1",
    };
    if (t < 0 || t >= (int)(sizeof names / sizeof names[0]))
        return "UNKNOWN";
    return names[t];
}
