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
