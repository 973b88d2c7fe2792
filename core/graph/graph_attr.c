/* graph_attr.c - node attributes: setters, getters, clearing (see graph.h). */
#include "graph/graph.h"
#include "graph/graph_internal.h"

#include <stdlib.h>
#include <string.h>

void cq_attr_clear(cq_attr *a)
{
    if (!a)
        return;
    free(a->name);
    free(a->s);
    cq_tensor_release(a->t);
    cq_graph_free(a->g);
    free(a->floats);
    free(a->ints);
    if (a->strings)
        for (int64_t i = 0; i < a->n; i++)
            free(a->strings[i]);
    free(a->strings);
    if (a->tensors)
        for (int64_t i = 0; i < a->n; i++)
            cq_tensor_release(a->tensors[i]);
    free(a->tensors);
    free(a->raw);
    memset(a, 0, sizeof *a);
}

static cq_status check_node(const cq_graph *g, int node, cq_err *err)
{
    if (!g || node < 0 || node >= g->n_nodes)
        return cq_errf(err, CQ_ERANGE, "node index %d out of range (graph has %d nodes)", node,
                       g ? g->n_nodes : 0);
    return CQ_OK;
}

cq_status cq_node_add_attr(cq_graph *g, int node, cq_attr *a, cq_err *err)
{
    cq_status st = check_node(g, node, err);
    if (st == CQ_OK && (!a || !a->name))
        st = cq_errf(err, CQ_EINVAL, "cq_node_add_attr: attribute without a name");
    if (st != CQ_OK) {
        cq_attr_clear(a);
        return st;
    }
    cq_node *n = &g->nodes[node];
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, a->name) == 0) {
            cq_attr_clear(&n->attrs[i]);
            n->attrs[i] = *a;
            memset(a, 0, sizeof *a);
            return CQ_OK;
        }
    cq_attr *q = realloc(n->attrs, (size_t)(n->n_attrs + 1) * sizeof *q);
    if (!q) {
        cq_attr_clear(a);
        return cq_errf(err, CQ_ENOMEM, "out of memory for an attribute of node '%s'", n->name);
    }
    q[n->n_attrs++] = *a;
    n->attrs = q;
    memset(a, 0, sizeof *a);
    return CQ_OK;
}

/* A zeroed attribute carrying a copy of name, or ENOMEM. */
static cq_status attr_init(cq_attr *a, const char *name, cq_attr_type type, cq_err *err)
{
    memset(a, 0, sizeof *a);
    a->type = type;
    a->name = cq__strdup(name);
    if (!a->name)
        return cq_errf(err, CQ_ENOMEM, "out of memory for attribute '%s'", name);
    return CQ_OK;
}

cq_status cq_node_set_int(cq_graph *g, int node, const char *name, int64_t v, cq_err *err)
{
    cq_attr a;
    if (attr_init(&a, name, CQ_ATTR_INT, err) != CQ_OK)
        return CQ_ENOMEM;
    a.i = v;
    return cq_node_add_attr(g, node, &a, err);
}

cq_status cq_node_set_float(cq_graph *g, int node, const char *name, float v, cq_err *err)
{
    cq_attr a;
    if (attr_init(&a, name, CQ_ATTR_FLOAT, err) != CQ_OK)
        return CQ_ENOMEM;
    a.f = v;
    return cq_node_add_attr(g, node, &a, err);
}

cq_status cq_node_set_string(cq_graph *g, int node, const char *name, const char *s,
                             size_t len, cq_err *err)
{
    cq_attr a;
    if (attr_init(&a, name, CQ_ATTR_STRING, err) != CQ_OK)
        return CQ_ENOMEM;
    a.s = malloc(len + 1);
    if (!a.s) {
        cq_attr_clear(&a);
        return cq_errf(err, CQ_ENOMEM, "out of memory for attribute '%s'", name);
    }
    if (len)
        memcpy(a.s, s, len);
    a.s[len] = '\0';
    a.s_len = len;
    return cq_node_add_attr(g, node, &a, err);
}

cq_status cq_node_set_ints(cq_graph *g, int node, const char *name, int64_t n,
                           const int64_t *v, cq_err *err)
{
    cq_attr a;
    if (n < 0 || (n && !v) || (uint64_t)n > SIZE_MAX / 8)
        return cq_errf(err, CQ_EINVAL, "attribute '%s': bad list of %lld ints", name, (long long)n);
    if (attr_init(&a, name, CQ_ATTR_INTS, err) != CQ_OK)
        return CQ_ENOMEM;
    a.ints = malloc((size_t)(n ? n : 1) * sizeof *a.ints);
    if (!a.ints) {
        cq_attr_clear(&a);
        return cq_errf(err, CQ_ENOMEM, "out of memory for attribute '%s'", name);
    }
    if (n)
        memcpy(a.ints, v, (size_t)n * sizeof *v);
    a.n = n;
    return cq_node_add_attr(g, node, &a, err);
}

cq_status cq_node_set_floats(cq_graph *g, int node, const char *name, int64_t n,
                             const float *v, cq_err *err)
{
    cq_attr a;
    if (n < 0 || (n && !v) || (uint64_t)n > SIZE_MAX / 8)
        return cq_errf(err, CQ_EINVAL, "attribute '%s': bad list of %lld floats", name,
                       (long long)n);
    if (attr_init(&a, name, CQ_ATTR_FLOATS, err) != CQ_OK)
        return CQ_ENOMEM;
    a.floats = malloc((size_t)(n ? n : 1) * sizeof *a.floats);
    if (!a.floats) {
        cq_attr_clear(&a);
        return cq_errf(err, CQ_ENOMEM, "out of memory for attribute '%s'", name);
    }
    if (n)
        memcpy(a.floats, v, (size_t)n * sizeof *v);
    a.n = n;
    return cq_node_add_attr(g, node, &a, err);
}

cq_status cq_node_set_tensor(cq_graph *g, int node, const char *name, cq_tensor *t,
                             cq_err *err)
{
    cq_attr a;
    if (!t)
        return cq_errf(err, CQ_EINVAL, "attribute '%s': NULL tensor", name);
    if (attr_init(&a, name, CQ_ATTR_TENSOR, err) != CQ_OK)
        return CQ_ENOMEM;
    cq_tensor_retain(t);
    a.t = t;
    return cq_node_add_attr(g, node, &a, err);
}

/* ---- getters ----------------------------------------------------------- */

const cq_attr *cq_node_attr(const cq_node *n, const char *name)
{
    if (!n || !name)
        return NULL;
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0)
            return &n->attrs[i];
    return NULL;
}

int64_t cq_node_int(const cq_node *n, const char *name, int64_t def)
{
    const cq_attr *a = cq_node_attr(n, name);
    return a && a->type == CQ_ATTR_INT ? a->i : def;
}

float cq_node_float(const cq_node *n, const char *name, float def)
{
    const cq_attr *a = cq_node_attr(n, name);
    return a && a->type == CQ_ATTR_FLOAT ? a->f : def;
}

const char *cq_node_string(const cq_node *n, const char *name, const char *def)
{
    const cq_attr *a = cq_node_attr(n, name);
    return a && a->type == CQ_ATTR_STRING && a->s ? a->s : def;
}

int64_t cq_node_ints(const cq_node *n, const char *name, int64_t *out, int64_t max)
{
    const cq_attr *a = cq_node_attr(n, name);
    if (!a || a->type != CQ_ATTR_INTS)
        return 0;
    for (int64_t i = 0; i < a->n && i < max; i++)
        out[i] = a->ints[i];
    return a->n;
}

static cq_status wrong_type(const cq_node *n, const cq_attr *a, const char *want, cq_err *err)
{
    return cq_errf(err, CQ_EFORMAT, "node '%s' (%s): attribute '%s' has type %d, expected %s",
                   n->name, n->op_type, a->name, (int)a->type, want);
}

cq_status cq_node_int_check(const cq_node *n, const char *name, int64_t def, int64_t *out,
                            cq_err *err)
{
    const cq_attr *a = cq_node_attr(n, name);
    *out = def;
    if (!a)
        return CQ_OK;
    if (a->type != CQ_ATTR_INT)
        return wrong_type(n, a, "INT", err);
    *out = a->i;
    return CQ_OK;
}

cq_status cq_node_float_check(const cq_node *n, const char *name, float def, float *out,
                              cq_err *err)
{
    const cq_attr *a = cq_node_attr(n, name);
    *out = def;
    if (!a)
        return CQ_OK;
    if (a->type != CQ_ATTR_FLOAT)
        return wrong_type(n, a, "FLOAT", err);
    *out = a->f;
    return CQ_OK;
}

cq_status cq_node_string_check(const cq_node *n, const char *name, const char *def,
                               const char **out, cq_err *err)
{
    const cq_attr *a = cq_node_attr(n, name);
    *out = def;
    if (!a)
        return CQ_OK;
    if (a->type != CQ_ATTR_STRING)
        return wrong_type(n, a, "STRING", err);
    *out = a->s;
    return CQ_OK;
}

cq_status cq_node_ints_check(const cq_node *n, const char *name, int64_t *out, int64_t max,
                             int64_t *count, cq_err *err)
{
    const cq_attr *a = cq_node_attr(n, name);
    *count = 0;
    if (!a)
        return CQ_OK;
    if (a->type != CQ_ATTR_INTS)
        return wrong_type(n, a, "INTS", err);
    if (a->n > max)
        return cq_errf(err, CQ_ERANGE, "node '%s' (%s): attribute '%s' has %lld ints, at most %lld allowed",
                       n->name, n->op_type, name, (long long)a->n, (long long)max);
    for (int64_t i = 0; i < a->n; i++)
        out[i] = a->ints[i];
    *count = a->n;
    return CQ_OK;
}
