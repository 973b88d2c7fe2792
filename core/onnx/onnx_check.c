/* onnx_check.c - unsupported-operator report and model comparison (see onnx.h). */
#include "onnx/onnx_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- operators --------------------------------------------------------- */

static int is_default_domain(const char *d)
{
    return !d || !*d || strcmp(d, "ai.onnx") == 0;
}

static int op_supported(const cq_node *n, const char *const *supported, int count)
{
    for (int i = 0; i < count; i++) {
        const char *s = supported[i], *colon = strrchr(s, ':');
        if (!colon) {
            if (is_default_domain(n->domain) && strcmp(s, n->op_type) == 0)
                return 1;
        } else if (strcmp(colon + 1, n->op_type) == 0) {
            size_t dl = (size_t)(colon - s);
            const char *d = n->domain ? n->domain : "";
            if ((dl == 0 && is_default_domain(d)) || (strlen(d) == dl && memcmp(d, s, dl) == 0))
                return 1;
        }
    }
    return 0;
}

/* Append to a message buffer, keeping room for a tail; returns 0 when full. */
static int append(char *msg, size_t *len, size_t cap, const char *fmt, ...)
{
    char item[400];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(item, sizeof item, fmt, ap);
    va_end(ap);
    if (k < 0 || *len + (size_t)k >= cap)
        return 0;
    memcpy(msg + *len, item, (size_t)k + 1);
    *len += (size_t)k;
    return 1;
}

static int same_op(const cq_node *a, const cq_node *b)
{
    return strcmp(a->op_type, b->op_type) == 0 &&
           (is_default_domain(a->domain) ? is_default_domain(b->domain)
                                         : strcmp(a->domain, b->domain) == 0);
}

static const char *dom_sep(const cq_node *n)
{
    return is_default_domain(n->domain) ? "" : ":";
}

static const char *dom(const cq_node *n)
{
    return is_default_domain(n->domain) ? "" : n->domain;
}

/* The message lists every unsupported operator type first (with its opset
 * and node count), then node names per type as room allows. */
cq_status cq_onnx_check_ops(const cq_graph *g, const char *const *supported, int count,
                            cq_err *err)
{
    int bad = 0, kinds = 0;
    char msg[CQ_ERR_MSG_MAX - 64];
    size_t len = 0;
    msg[0] = '\0';
    for (int i = 0; i < g->n_nodes; i++) {
        const cq_node *n = &g->nodes[i];
        if (n->dead || op_supported(n, supported, count))
            continue;
        bad++;
        int first = 1;
        for (int j = 0; j < i && first; j++)
            if (!g->nodes[j].dead && same_op(&g->nodes[j], n) &&
                !op_supported(&g->nodes[j], supported, count))
                first = 0;
        if (!first)
            continue;
        int nodes = 0;
        for (int j = i; j < g->n_nodes; j++)
            nodes += !g->nodes[j].dead && same_op(&g->nodes[j], n);
        append(msg, &len, sizeof msg, "%s%s%s%s (opset %lld, %d node%s)", kinds ? ", " : "",
               dom(n), dom_sep(n), n->op_type, (long long)cq_graph_opset(g, n->domain), nodes,
               nodes == 1 ? "" : "s");
        kinds++;
    }
    if (!bad)
        return CQ_OK;
    int full = 0;
    for (int i = 0; i < g->n_nodes && !full; i++) {
        const cq_node *n = &g->nodes[i];
        if (n->dead || op_supported(n, supported, count))
            continue;
        int first = 1;
        for (int j = 0; j < i && first; j++)
            if (!g->nodes[j].dead && same_op(&g->nodes[j], n))
                first = 0;
        if (!first)
            continue;
        if (!append(msg, &len, sizeof msg, "; %s%s%s: ", dom(n), dom_sep(n), n->op_type))
            break;
        int k = 0;
        for (int j = i; j < g->n_nodes; j++) {
            if (g->nodes[j].dead || !same_op(&g->nodes[j], n))
                continue;
            int ok = *g->nodes[j].name
                         ? append(msg, &len, sizeof msg, "%s'%s'", k ? ", " : "", g->nodes[j].name)
                         : append(msg, &len, sizeof msg, "%s#%d", k ? ", " : "", j);
            if (!ok) {
                append(msg, &len, sizeof msg, " ...");
                full = 1;
                break;
            }
            k++;
        }
    }
    return cq_errf(err, CQ_EUNSUPPORTED, "%d node%s with unsupported operators: %s", bad,
                   bad == 1 ? "" : "s", msg);
}

/* ---- comparison -------------------------------------------------------- */

static int differ(char *why, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (why && n)
        vsnprintf(why, n, fmt, ap);
    va_end(ap);
    return 1;
}

static int str_eq(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static int bytes_eq(const void *a, size_t an, const void *b, size_t bn)
{
    return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

static int tensor_eq(const cq_tensor *a, const cq_tensor *b)
{
    if (!a || !b)
        return a == b;
    if (!cq_tensor_same_shape(a, b))
        return 0;
    cq_err ignored; /* out of memory for a copy: report "different" */
    cq_tensor *ca = cq_tensor_contiguous((cq_tensor *)a, &ignored);
    cq_tensor *cb = cq_tensor_contiguous((cq_tensor *)b, &ignored);
    int eq = ca && cb && bytes_eq(cq_tensor_data(ca), cq_tensor_nbytes(ca), cq_tensor_data(cb),
                                  cq_tensor_nbytes(cb));
    cq_tensor_release(ca);
    cq_tensor_release(cb);
    return eq;
}

static int attr_diff(const cq_attr *a, const cq_attr *b, char *why, size_t n, const char *where)
{
    if (!str_eq(a->name, b->name) || a->type != b->type)
        return differ(why, n, "%s: attribute '%s' (type %d) vs '%s' (type %d)", where, a->name,
                      a->type, b->name, b->type);
    if (a->raw || b->raw) {
        if (!a->raw || !b->raw || !bytes_eq(a->raw, a->raw_len, b->raw, b->raw_len))
            return differ(why, n, "%s: attribute '%s': kept bytes differ", where, a->name);
        return 0;
    }
    int same = 1;
    switch (a->type) {
    case CQ_ATTR_FLOAT: same = memcmp(&a->f, &b->f, sizeof a->f) == 0; break;
    case CQ_ATTR_INT: same = a->i == b->i; break;
    case CQ_ATTR_STRING: same = bytes_eq(a->s, a->s_len, b->s, b->s_len); break;
    case CQ_ATTR_TENSOR: same = tensor_eq(a->t, b->t); break;
    case CQ_ATTR_GRAPH: {
        char sub[512];
        if (!a->g || !b->g)
            same = a->g == b->g;
        else if (cq_onnx_graph_diff(a->g, b->g, sub, sizeof sub))
            return differ(why, n, "%s: attribute '%s': subgraph: %s", where, a->name, sub);
        break;
    }
    case CQ_ATTR_FLOATS:
        same = a->n == b->n && bytes_eq(a->floats, (size_t)a->n * 4, b->floats, (size_t)b->n * 4);
        break;
    case CQ_ATTR_INTS:
        same = a->n == b->n && bytes_eq(a->ints, (size_t)a->n * 8, b->ints, (size_t)b->n * 8);
        break;
    case CQ_ATTR_STRINGS:
        same = a->n == b->n;
        for (int64_t i = 0; same && i < a->n; i++)
            same = str_eq(a->strings[i], b->strings[i]);
        break;
    case CQ_ATTR_TENSORS:
        same = a->n == b->n;
        for (int64_t i = 0; same && i < a->n; i++)
            same = tensor_eq(a->tensors[i], b->tensors[i]);
        break;
    default: break;
    }
    return same ? 0 : differ(why, n, "%s: attribute '%s' differs", where, a->name);
}

static const char *vname(const cq_graph *g, int v)
{
    return v >= 0 ? g->values[v].name : "";
}

static int value_diff(const cq_graph *ga, const cq_value *a, const cq_graph *gb,
                      const cq_value *b, char *why, size_t n)
{
    (void)ga;
    (void)gb;
    if (!str_eq(a->name, b->name))
        return differ(why, n, "value '%s' vs '%s'", a->name, b->name);
    if (a->has_type != b->has_type || (a->has_type && a->dtype != b->dtype) ||
        (!a->has_type && a->onnx_elem_type != b->onnx_elem_type) || a->ndim != b->ndim)
        return differ(why, n, "value '%s': type differs (%d/%d/%d vs %d/%d/%d)", a->name,
                      a->has_type, a->onnx_elem_type, a->ndim, b->has_type, b->onnx_elem_type,
                      b->ndim);
    for (int i = 0; i < a->ndim && i < CQ_MAX_DIMS; i++)
        if (a->shape[i] != b->shape[i] || !str_eq(a->dim_param[i], b->dim_param[i]))
            return differ(why, n, "value '%s': dimension %d differs", a->name, i);
    if (!tensor_eq(a->data, b->data))
        return differ(why, n, "value '%s': data differ", a->name);
    if (!bytes_eq(a->onnx_tensor, a->onnx_tensor_len, b->onnx_tensor, b->onnx_tensor_len) ||
        !bytes_eq(a->onnx_vi, a->onnx_vi_len, b->onnx_vi, b->onnx_vi_len))
        return differ(why, n, "value '%s': kept ONNX bytes differ", a->name);
    if (!str_eq(a->doc_string, b->doc_string))
        return differ(why, n, "value '%s': doc_string differs", a->name);
    return 0;
}

static int list_diff(const cq_graph *a, const int *la, int na, const cq_graph *b,
                     const int *lb, int nb, const char *what, char *why, size_t n)
{
    if (na != nb)
        return differ(why, n, "%d %s vs %d", na, what, nb);
    for (int i = 0; i < na; i++) {
        if (!str_eq(vname(a, la[i]), vname(b, lb[i])))
            return differ(why, n, "%s %d: '%s' vs '%s'", what, i, vname(a, la[i]),
                          vname(b, lb[i]));
        if (value_diff(a, &a->values[la[i]], b, &b->values[lb[i]], why, n))
            return 1;
    }
    return 0;
}

int cq_onnx_graph_diff(const cq_graph *a, const cq_graph *b, char *why, size_t n)
{
    if (why && n)
        why[0] = '\0';
    /* ir_version and producer_name: 0 / NULL mean "unset" (the writer fills them in). */
    if ((a->ir_version && b->ir_version && a->ir_version != b->ir_version) ||
        a->model_version != b->model_version ||
        (a->producer_name && b->producer_name && strcmp(a->producer_name, b->producer_name)) ||
        !str_eq(a->producer_version, b->producer_version) ||
        !str_eq(a->model_domain, b->model_domain) ||
        !str_eq(a->model_doc_string, b->model_doc_string) || !str_eq(a->doc_string, b->doc_string))
        return differ(why, n, "model header fields differ");
    if (a->name && b->name && strcmp(a->name, b->name) != 0)
        return differ(why, n, "graph name '%s' vs '%s'", a->name, b->name);
    if (a->n_opsets != b->n_opsets)
        return differ(why, n, "%d opsets vs %d", a->n_opsets, b->n_opsets);
    for (int i = 0; i < a->n_opsets; i++)
        if (!str_eq(a->opsets[i].domain, b->opsets[i].domain) ||
            a->opsets[i].version != b->opsets[i].version)
            return differ(why, n, "opset %d differs", i);
    if (a->n_meta != b->n_meta)
        return differ(why, n, "%d metadata entries vs %d", a->n_meta, b->n_meta);
    for (int i = 0; i < a->n_meta; i++)
        if (!str_eq(a->meta[i].key, b->meta[i].key) || !str_eq(a->meta[i].value, b->meta[i].value))
            return differ(why, n, "metadata entry %d differs", i);
    if (!bytes_eq(a->onnx_extra, a->onnx_extra_len, b->onnx_extra, b->onnx_extra_len) ||
        !bytes_eq(a->onnx_model_extra, a->onnx_model_extra_len, b->onnx_model_extra,
                  b->onnx_model_extra_len))
        return differ(why, n, "kept graph/model fields differ");
    if (list_diff(a, a->inputs, a->n_inputs, b, b->inputs, b->n_inputs, "inputs", why, n) ||
        list_diff(a, a->outputs, a->n_outputs, b, b->outputs, b->n_outputs, "outputs", why, n) ||
        list_diff(a, a->initializers, a->n_initializers, b, b->initializers, b->n_initializers,
                  "initializers", why, n))
        return 1;
    int ia = 0, ib = 0;
    for (;;) {
        while (ia < a->n_nodes && a->nodes[ia].dead)
            ia++;
        while (ib < b->n_nodes && b->nodes[ib].dead)
            ib++;
        if (ia >= a->n_nodes || ib >= b->n_nodes)
            break;
        const cq_node *x = &a->nodes[ia], *y = &b->nodes[ib];
        char where[160];
        snprintf(where, sizeof where, "node %d '%s' (%s)", ia, x->name, x->op_type);
        if (!str_eq(x->op_type, y->op_type) || !str_eq(x->name, y->name) ||
            !str_eq(x->domain, y->domain) || !str_eq(x->doc_string, y->doc_string))
            return differ(why, n, "%s vs '%s' (%s)", where, y->name, y->op_type);
        if (x->n_inputs != y->n_inputs || x->n_outputs != y->n_outputs ||
            x->n_attrs != y->n_attrs)
            return differ(why, n, "%s: input/output/attribute counts differ", where);
        for (int k = 0; k < x->n_inputs; k++)
            if (!str_eq(vname(a, x->inputs[k]), vname(b, y->inputs[k])))
                return differ(why, n, "%s: input %d differs", where, k);
        for (int k = 0; k < x->n_outputs; k++)
            if (!str_eq(vname(a, x->outputs[k]), vname(b, y->outputs[k])))
                return differ(why, n, "%s: output %d differs", where, k);
        for (int k = 0; k < x->n_attrs; k++)
            if (attr_diff(&x->attrs[k], &y->attrs[k], why, n, where))
                return 1;
        if (!bytes_eq(x->onnx_extra, x->onnx_extra_len, y->onnx_extra, y->onnx_extra_len))
            return differ(why, n, "%s: kept fields differ", where);
        ia++;
        ib++;
    }
    if (ia < a->n_nodes || ib < b->n_nodes)
        return differ(why, n, "node counts differ");
    /* Intermediate values with type information (value_info). */
    for (int v = 0; v < a->n_values; v++) {
        const cq_value *x = &a->values[v];
        if (x->is_input || x->is_output || x->is_initializer)
            continue;
        int w = cq_graph_find(b, x->name);
        if (w < 0) {
            if (x->has_type || x->onnx_vi || x->data)
                return differ(why, n, "value '%s' missing", x->name);
            continue;
        }
        if (value_diff(a, x, b, &b->values[w], why, n))
            return 1;
    }
    return 0;
}
