/* ops.c - the operator table (one row per op, families in ops_*.c) and the
 * helpers the families share. */
#include "ops/ops_internal.h"

#include <stdlib.h>
#include <string.h>

CQ__STATIC_ASSERT(CQ_OPS_MATH_N + CQ_OPS_CONV_N + CQ_OPS_SHAPE_N + CQ_OPS_POOL_N +
                      CQ_OPS_QUANT_N == CQ_OPS_TOTAL,
                  op_total);

static const struct {
    const cq_op *rows;
    int n;
} families[] = {
    {cq__ops_math, CQ_OPS_MATH_N},   {cq__ops_conv, CQ_OPS_CONV_N},
    {cq__ops_shape, CQ_OPS_SHAPE_N}, {cq__ops_pool, CQ_OPS_POOL_N},
    {cq__ops_quant, CQ_OPS_QUANT_N},
};

static int same_domain(const char *a, const char *b)
{
    if (!a || !*a || !strcmp(a, "ai.onnx"))
        a = "";
    if (!b || !*b || !strcmp(b, "ai.onnx"))
        b = "";
    return !strcmp(a, b);
}

const cq_op *cq_op_find(const char *op_type, const char *domain)
{
    if (!op_type)
        return NULL;
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++)
        for (int i = 0; i < families[f].n; i++)
            if (!strcmp(families[f].rows[i].name, op_type) &&
                same_domain(families[f].rows[i].domain, domain))
                return &families[f].rows[i];
    return NULL;
}

int cq_op_count(void) { return CQ_OPS_TOTAL; }

const cq_op *cq_op_at(int i)
{
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
        if (i < families[f].n)
            return i >= 0 ? &families[f].rows[i] : NULL;
        i -= families[f].n;
    }
    return NULL;
}

int64_t cq_op_opset(const cq_graph *g, const cq_node *n)
{
    int64_t v = cq_graph_opset(g, n->domain ? n->domain : "");
    return v > 0 ? v : CQ_OP_DEFAULT_OPSET;
}

/* The inputs each operator requires (present: not omitted), from the ONNX
 * operator specifications, as a mask of input indices; since: the first
 * opset the row holds for (a later row of the same op overrides it). An op
 * not listed requires input 0 alone. The kernels and the shape inference
 * read the inputs a row names without checking, so a node without them is
 * refused before anything runs (cq_op_check_node). */
static const struct {
    const char *name;
    const char *domain;
    int64_t since;
    uint32_t required;
} arity[] = {
    {"Constant", "", 1, 0x0},
    {"Add", "", 1, 0x3},
    {"Sub", "", 1, 0x3},
    {"Mul", "", 1, 0x3},
    {"Div", "", 1, 0x3},
    {"PRelu", "", 1, 0x3},
    {"MatMul", "", 1, 0x3},
    {"MatMulInteger", "", 1, 0x3},
    {"Gemm", "", 1, 0x3},
    {"Conv", "", 1, 0x3},
    {"ConvInteger", "", 1, 0x3},
    {"ConvTranspose", "", 1, 0x3},
    {"LayerNormalization", "", 1, 0x3},
    {"BatchNormalization", "", 1, 0x1f},
    {"Reshape", "", 5, 0x3},
    {"Gather", "", 1, 0x3},
    {"Slice", "", 10, 0x7},
    {"Pad", "", 11, 0x3},
    {"Unsqueeze", "", 13, 0x3},
    {"QuantizeLinear", "", 1, 0x3},
    {"DequantizeLinear", "", 1, 0x3},
    {"QLinearMatMul", "", 1, 0xff},
    {"QLinearConv", "", 1, 0xff},
    /* A, A_scale, [A_zp], B, B_scale, [B_zp], C_scale, [C_zp] */
    {"QLinearAdd", "com.microsoft", 1, 0x5b},
    {"QLinearMul", "com.microsoft", 1, 0x5b},
    {"QLinearGlobalAveragePool", "com.microsoft", 1, 0x1f},
};

cq_status cq_op_check_node(const cq_node *n, int64_t opset, cq_err *err)
{
    uint32_t required = 0x1;
    for (size_t i = 0; i < sizeof arity / sizeof arity[0]; i++)
        if (n->op_type && !strcmp(arity[i].name, n->op_type) &&
            same_domain(arity[i].domain, n->domain) && opset >= arity[i].since)
            required = arity[i].required;
    for (int k = 0; k < 32 && (required >> k); k++) {
        if (!((required >> k) & 1))
            continue;
        if (k >= n->n_inputs || n->inputs[k] < 0)
            return cq_errf(err, CQ_EFORMAT, "node '%s' (%s): input %d is required and %s",
                           n->name ? n->name : "", n->op_type, k,
                           k >= n->n_inputs ? "missing" : "omitted");
    }
    if (n->n_outputs < 1 || n->outputs[0] < 0)
        return cq_errf(err, CQ_EFORMAT, "node '%s' (%s): no first output", n->name ? n->name : "",
                       n->op_type);
    return CQ_OK;
}

void *cq__scratch(cq_openv *env, size_t size)
{
    if (size <= env->scratch_size)
        return env->scratch;
    void *p = cq_alloc(size);
    if (!p)
        return NULL;
    cq_free(env->scratch);
    env->scratch = p;
    env->scratch_size = size;
    return p;
}

cq_status cq__broadcast(const cq_node *n, int na, const int64_t *a, int nb, const int64_t *b,
                        int *nout, int64_t *out, cq_err *err)
{
    int r = na > nb ? na : nb;
    for (int i = 0; i < r; i++) {
        int64_t da = i < r - na ? 1 : a[i - (r - na)];
        int64_t db = i < r - nb ? 1 : b[i - (r - nb)];
        if (da != db && da != 1 && db != 1)
            return cq_errf(err, CQ_EINVAL, "%s '%s': shapes do not broadcast (dim %d: %lld vs %lld)",
                           n->op_type, n->name, i, (long long)da, (long long)db);
        out[i] = da == 1 ? db : da;
    }
    *nout = r;
    return CQ_OK;
}

int64_t cq__numel(int ndim, const int64_t *shape)
{
    int64_t k = 1;
    for (int i = 0; i < ndim; i++)
        k = cq__mul_sat(k, shape[i]);
    return k;
}

int64_t cq__mul_sat(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r))
        return (a < 0) != (b < 0) ? INT64_MIN : INT64_MAX;
    return r;
}

int64_t cq__ints_of(const cq_tensor *t, int64_t *out, int64_t max)
{
    int64_t k = cq_tensor_numel(t);
    if (k > max)
        return -1;
    const cq_dtype_traits *tr = cq_dtype_info(t->dtype);
    const char *p = cq_tensor_data(t);
    for (int64_t i = 0; i < k; i++) {
        if (t->dtype == CQ_S64)
            out[i] = ((const int64_t *)(const void *)p)[i];
        else
            out[i] = (int64_t)tr->get(p + (size_t)i * tr->size);
    }
    return k;
}

int cq__axis(int64_t axis, int rank)
{
    if (axis < -rank || axis >= (rank > 0 ? rank : 1))
        return -1;
    return (int)(axis < 0 ? axis + rank : axis);
}

void cq_tinfo_of(int n, cq_tensor *const *t, cq_tinfo *ti)
{
    for (int k = 0; k < n; k++) {
        memset(&ti[k], 0, sizeof ti[k]);
        ti[k].ndim = -1;
        if (t[k]) {
            ti[k].dtype = t[k]->dtype;
            ti[k].ndim = t[k]->ndim;
            memcpy(ti[k].shape, t[k]->shape, sizeof ti[k].shape);
            ti[k].data = t[k];
        }
    }
}

void cq__same(const cq_tinfo *in, cq_tinfo *out)
{
    out->dtype = in->dtype;
    out->ndim = in->ndim;
    memcpy(out->shape, in->shape, sizeof out->shape);
    out->data = NULL;
}

cq_status cq__need_data(const cq_node *n, int input, cq_err *err)
{
    return cq_errf(err, CQ_ESTATE, "%s '%s': input %d must be known to infer shapes", n->op_type,
                   n->name, input);
}
