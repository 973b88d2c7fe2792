/* onnx_write.c - cq_graph -> ModelProto (see onnx.h). */
#include "onnx/onnx_internal.h"

#include <stdlib.h>
#include <string.h>

static void put_graph(cq_pb_buf *b, uint32_t num, const cq_graph *g);

static const char *value_name(const cq_graph *g, int v)
{
    return v >= 0 && v < g->n_values ? g->values[v].name : "";
}

static void put_attr(cq_pb_buf *b, const cq_attr *a)
{
    if (a->raw) {
        cq_pb_put_bytes(b, 5, a->raw, a->raw_len);
        return;
    }
    size_t mark = cq_pb_begin(b, 5);
    cq_pb_put_string(b, 1, a->name);
    switch (a->type) {
    case CQ_ATTR_FLOAT: cq_pb_put_float(b, 2, a->f); break;
    case CQ_ATTR_INT: cq_pb_put_int(b, 3, a->i); break;
    case CQ_ATTR_STRING: cq_pb_put_bytes(b, 4, a->s ? a->s : "", a->s ? a->s_len : 0); break;
    case CQ_ATTR_TENSOR:
        if (a->t)
            cq__onnx_put_tensor(b, 5, a->t, NULL);
        break;
    case CQ_ATTR_GRAPH:
        if (a->g)
            put_graph(b, 6, a->g);
        break;
    case CQ_ATTR_FLOATS: cq_pb_put_packed_float(b, 7, a->floats, a->n); break;
    case CQ_ATTR_INTS: cq_pb_put_packed_int(b, 8, a->ints, a->n); break;
    case CQ_ATTR_STRINGS:
        for (int64_t i = 0; i < a->n; i++)
            cq_pb_put_string(b, 9, a->strings[i]);
        break;
    case CQ_ATTR_TENSORS:
        for (int64_t i = 0; i < a->n; i++)
            cq__onnx_put_tensor(b, 10, a->tensors[i], NULL);
        break;
    default: break;
    }
    cq_pb_put_int(b, 20, a->type);
    cq_pb_end(b, mark);
}

static void put_node(cq_pb_buf *b, const cq_graph *g, const cq_node *n)
{
    size_t mark = cq_pb_begin(b, 1);
    for (int i = 0; i < n->n_inputs; i++)
        cq_pb_put_string(b, 1, value_name(g, n->inputs[i]));
    for (int i = 0; i < n->n_outputs; i++)
        cq_pb_put_string(b, 2, value_name(g, n->outputs[i]));
    if (n->name && *n->name)
        cq_pb_put_string(b, 3, n->name);
    cq_pb_put_string(b, 4, n->op_type);
    for (int i = 0; i < n->n_attrs; i++)
        put_attr(b, &n->attrs[i]);
    cq_pb_put_string(b, 6, n->doc_string);
    if (n->domain && *n->domain)
        cq_pb_put_string(b, 7, n->domain);
    cq_pb_put_raw(b, n->onnx_extra, n->onnx_extra_len);
    cq_pb_end(b, mark);
}

static int has_type_info(const cq_value *v)
{
    return v->has_type || v->onnx_elem_type || v->ndim >= 0;
}

static void put_value_info(cq_pb_buf *b, uint32_t num, const cq_value *v)
{
    if (v->onnx_vi) {
        cq_pb_put_bytes(b, num, v->onnx_vi, v->onnx_vi_len);
        return;
    }
    size_t mark = cq_pb_begin(b, num);
    cq_pb_put_string(b, 1, v->name);
    if (has_type_info(v)) {
        size_t tm = cq_pb_begin(b, 2);
        size_t tt = cq_pb_begin(b, 1);
        int elem = v->has_type ? cq_dtype_info(v->dtype)->onnx_type : v->onnx_elem_type;
        if (elem)
            cq_pb_put_int(b, 1, elem);
        if (v->ndim >= 0) {
            size_t sm = cq_pb_begin(b, 2);
            for (int i = 0; i < v->ndim && i < CQ_MAX_DIMS; i++) {
                size_t dm = cq_pb_begin(b, 1);
                if (v->dim_param[i])
                    cq_pb_put_string(b, 2, v->dim_param[i]);
                else if (v->shape[i] >= 0)
                    cq_pb_put_int(b, 1, v->shape[i]);
                cq_pb_end(b, dm);
            }
            cq_pb_end(b, sm);
        }
        cq_pb_end(b, tt);
        cq_pb_end(b, tm);
    }
    cq_pb_put_string(b, 3, v->doc_string);
    cq_pb_end(b, mark);
}

static void put_initializer(cq_pb_buf *b, const cq_value *v)
{
    if (v->data)
        cq__onnx_put_tensor(b, 5, v->data, v->name);
    else if (v->onnx_tensor)
        cq_pb_put_bytes(b, 5, v->onnx_tensor, v->onnx_tensor_len);
}

static void put_graph(cq_pb_buf *b, uint32_t num, const cq_graph *g)
{
    size_t mark = cq_pb_begin(b, num);
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].dead)
            put_node(b, g, &g->nodes[i]);
    cq_pb_put_string(b, 2, g->name ? g->name : "calq");
    for (int i = 0; i < g->n_initializers; i++)
        put_initializer(b, &g->values[g->initializers[i]]);
    for (int v = 0; v < g->n_values; v++) /* folded constants */
        if (g->values[v].data && !g->values[v].is_initializer)
            put_initializer(b, &g->values[v]);
    cq_pb_put_string(b, 10, g->doc_string);
    for (int i = 0; i < g->n_inputs; i++)
        put_value_info(b, 11, &g->values[g->inputs[i]]);
    for (int i = 0; i < g->n_initializers; i++) {
        const cq_value *v = &g->values[g->initializers[i]];
        if (v->is_input)
            put_value_info(b, 11, v);
    }
    for (int i = 0; i < g->n_outputs; i++)
        put_value_info(b, 12, &g->values[g->outputs[i]]);
    for (int v = 0; v < g->n_values; v++) {
        const cq_value *val = &g->values[v];
        if (!val->is_input && !val->is_output && !val->is_initializer && !val->data &&
            (has_type_info(val) || val->onnx_vi || val->doc_string))
            put_value_info(b, 13, val);
    }
    cq_pb_put_raw(b, g->onnx_extra, g->onnx_extra_len);
    cq_pb_end(b, mark);
}

cq_status cq_onnx_save_buffer(const cq_graph *g, void **out, size_t *len, cq_err *err)
{
    cq_pb_buf b = {0};
    *out = NULL;
    *len = 0;
    if (!g)
        return cq_errf(err, CQ_EINVAL, "cq_onnx_save: NULL graph");
    cq_pb_put_int(&b, 1, g->ir_version ? g->ir_version : 8);
    cq_pb_put_string(&b, 2, g->producer_name ? g->producer_name : "calq");
    cq_pb_put_string(&b, 3, g->producer_version);
    cq_pb_put_string(&b, 4, g->model_domain);
    if (g->model_version)
        cq_pb_put_int(&b, 5, g->model_version);
    cq_pb_put_string(&b, 6, g->model_doc_string);
    put_graph(&b, 7, g);
    for (int i = 0; i < g->n_opsets; i++) {
        size_t m = cq_pb_begin(&b, 8);
        if (g->opsets[i].domain && *g->opsets[i].domain)
            cq_pb_put_string(&b, 1, g->opsets[i].domain);
        cq_pb_put_int(&b, 2, g->opsets[i].version);
        cq_pb_end(&b, m);
    }
    for (int i = 0; i < g->n_meta; i++) {
        size_t m = cq_pb_begin(&b, 14);
        cq_pb_put_string(&b, 1, g->meta[i].key);
        cq_pb_put_string(&b, 2, g->meta[i].value);
        cq_pb_end(&b, m);
    }
    cq_pb_put_raw(&b, g->onnx_model_extra, g->onnx_model_extra_len);
    if (b.failed) {
        free(b.data);
        return cq_errf(err, CQ_ENOMEM, "out of memory encoding the model");
    }
    *out = b.data;
    *len = b.len;
    return CQ_OK;
}

cq_status cq_onnx_save(const cq_graph *g, const char *path, cq_err *err)
{
    void *buf;
    size_t len;
    cq_status st = cq_onnx_save_buffer(g, &buf, &len, err);
    if (st != CQ_OK)
        return cq_err_prefix(err, st, "%s: ", path);
    st = cq__onnx_write_file(path, buf, len, err);
    free(buf);
    return st;
}
