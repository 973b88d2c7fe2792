/* quant.c - the quantizer's decisions: which node is int8, which value is
 * quantized with which scale and zero point, the weights and biases
 * (quant.h has the rules; quant_qdq.c writes them as a graph). */
#include "quant/quant_internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exec/exec.h"
#include "kern/kern.h"

/* ---- kinds ---------------------------------------------------------------- */

static const struct {
    const char *op;
    cq_quant_kind kind;
} kinds[] = {
    {"Conv", CQ_QK_COMPUTE},    {"Gemm", CQ_QK_COMPUTE},    {"MatMul", CQ_QK_COMPUTE},
    {"Add", CQ_QK_REQUANT},     {"Mul", CQ_QK_REQUANT},     {"Concat", CQ_QK_REQUANT},
    {"MaxPool", CQ_QK_PASS},    {"Reshape", CQ_QK_PASS},    {"Transpose", CQ_QK_PASS},
    {"Flatten", CQ_QK_PASS},    {"Squeeze", CQ_QK_PASS},    {"Unsqueeze", CQ_QK_PASS},
    {"Identity", CQ_QK_PASS},   {"Resize", CQ_QK_PASS},     {"Slice", CQ_QK_PASS},
    {"Relu", CQ_QK_ACT},
    {"Clip", CQ_QK_ACT},
};

cq_quant_kind cq_quant_kind_of(const char *op_type)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (!strcmp(kinds[i].op, op_type))
            return kinds[i].kind;
    return CQ_QK_FLOAT;
}

const char *cq_quant_kind_name(cq_quant_kind k)
{
    static const char *names[] = {"float", "compute", "requant", "pass", "act"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

static cq_quant_kind node_kind(const cq_node *n)
{
    return n->domain && *n->domain && strcmp(n->domain, "ai.onnx") ? CQ_QK_FLOAT
                                                                   : cq_quant_kind_of(n->op_type);
}

/* ---- helpers ---------------------------------------------------------------- */

static int is_f32(const cq_quant *q, int v)
{
    return v >= 0 && q->vdt[v] == CQ_F32;
}

/* Operators whose output 0 may have another dtype than input 0. */
static const char *const dtype_changing[] = {
    "Shape", "Size", "Cast", "CastLike", "QuantizeLinear", "DequantizeLinear", "ArgMax",
    "ArgMin", "NonZero", "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "Not",
    "And", "Or", "Xor", "IsNaN", "IsInf", "ConstantOfShape", "TopK", "Where", "Constant",
    "EyeLike", "RandomNormal", "RandomUniform", "QLinearConv", "QLinearMatMul", "ConvInteger",
    "MatMulInteger", "DynamicQuantizeLinear", "Range", "OneHot", "Gather", "GatherElements",
    "GatherND",
};

/* Every value's dtype: declared or inferred where the graph says, else
 * that of input 0 through the operators that keep it. */
static void value_dtypes(const cq_graph *g, int *vdt)
{
    for (int v = 0; v < g->n_values; v++) {
        const cq_value *x = &g->values[v];
        vdt[v] = x->data ? (int)x->data->dtype : x->has_type ? (int)x->dtype : -1;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const cq_node *n = &g->nodes[i];
        if (n->dead || n->n_inputs < 1 || n->inputs[0] < 0)
            continue;
        int keeps = 1;
        for (size_t k = 0; k < sizeof dtype_changing / sizeof dtype_changing[0]; k++)
            keeps = keeps && strcmp(n->op_type, dtype_changing[k]);
        for (int k = 0; keeps && k < n->n_outputs; k++) {
            int y = n->outputs[k];
            if (y >= 0 && vdt[y] < 0)
                vdt[y] = vdt[n->inputs[0]];
        }
    }
}

/* An input that carries activations: f32 and not constant. */
static int is_act(const cq_quant *q, int v)
{
    return is_f32(q, v) && !cq__quant_is_const(q->g, v);
}

static int is_int8(cq_dtype d) { return d == CQ_S8 || d == CQ_U8; }

/* Why node n cannot be int8 whatever the map says (NULL: it can). */
static const char *ineligible(const cq_quant *q, const cq_node *n, cq_quant_kind k)
{
    const cq_graph *g = q->g;
    if (n->n_outputs < 1 || !is_f32(q, n->outputs[0]))
        return "output is not f32";
    if (k == CQ_QK_COMPUTE) {
        int x = n->n_inputs > 0 ? n->inputs[0] : -1, w = n->n_inputs > 1 ? n->inputs[1] : -1;
        int b = n->n_inputs > 2 ? n->inputs[2] : -1;
        if (n->n_outputs != 1)
            return "more than one output";
        if (!is_act(q, x))
            return "input is not an f32 activation";
        if (!strcmp(n->op_type, "MatMul"))
            return is_f32(q, w) ? NULL : "B is not f32";
        if (!cq__quant_is_const(g, w) || g->values[w].data->dtype != CQ_F32)
            return "weights are not f32 constants";
        if (b >= 0 && (!cq__quant_is_const(g, b) || g->values[b].data->dtype != CQ_F32))
            return "bias is not an f32 constant";
        if (!strcmp(n->op_type, "Conv")) {
            if (g->values[w].data->ndim < 3)
                return "weights have fewer than 3 dimensions";
            if (b >= 0 && cq_tensor_numel(g->values[b].data) != g->values[w].data->shape[0])
                return "bias size is not the output channel count";
            return NULL;
        }
        /* Gemm: Y = A B (+ C), B constant 2-D, C one value per output column */
        const cq_tensor *bt = g->values[w].data;
        if (cq_node_int(n, "transA", 0) != 0)
            return "Gemm with transA";
        if (cq_node_float(n, "alpha", 1.0f) != 1.0f || (b >= 0 && cq_node_float(n, "beta", 1.0f) != 1.0f))
            return "Gemm with alpha or beta other than 1";
        if (bt->ndim != 2 || (g->values[x].ndim >= 0 && g->values[x].ndim != 2))
            return "Gemm operands are not 2-D";
        int64_t cols = bt->shape[cq_node_int(n, "transB", 0) ? 0 : 1];
        if (b >= 0) {
            const cq_tensor *c = g->values[b].data;
            if (cq_tensor_numel(c) != cols || c->ndim < 1 || c->shape[c->ndim - 1] != cols)
                return "Gemm's C is not one value per output column";
        }
        return NULL;
    }
    if (k == CQ_QK_REQUANT) {
        int acts = 0;
        for (int i = 0; i < n->n_inputs; i++) {
            int v = n->inputs[i];
            if (v < 0 || !is_f32(q, v))
                return "an input is not f32";
            acts += !cq__quant_is_const(g, v);
        }
        if (!acts)
            return "no activation input";
        if (strcmp(n->op_type, "Concat") && n->n_inputs != 2)
            return "not two inputs";
        return NULL;
    }
    if (k == CQ_QK_PASS) {
        if (n->n_outputs != 1)
            return "more than one output";
        if (!strcmp(n->op_type, "Resize") && strcmp(cq_node_string(n, "mode", "nearest"), "nearest"))
            return "Resize that is not nearest";
        return NULL;
    }
    return "calq keeps this operator in float";
}

/* ---- ranges ------------------------------------------------------------------- */

/* Scale and zero point of activation value v from its statistics. */
static cq_status act_params(cq_quant *q, int v, cq_dtype *dt, float *scale, int32_t *zp,
                            cq_err *err)
{
    const char *name = q->g->values[v].name;
    cq_observer *o = cq_calib_stats_find(q->stats, name);
    if (!o)
        return cq_errf(err, CQ_EINVAL, "no statistics for value '%s' (calibrate this model as "
                       "calq plans it)", name);
    cq_calib_spec spec = {q->o.act_dtype, q->act_symmetric, q->o.act_method, q->o.percentile,
                          q->o.zero_bin};
    cq_qparams qp;
    if (cq_observer_qparams(o, &spec, &qp, err) != CQ_OK)
        return cq_err_prefix(err, err->code, "value '%s' (%s): ", name,
                             cq_calib_method_name(q->o.act_method));
    if (cq_tensor_numel(qp.scale) != 1) {
        cq_qparams_clear(&qp);
        return cq_errf(err, CQ_EINVAL, "value '%s': statistics are per channel", name);
    }
    *dt = q->o.act_dtype;
    *scale = ((const float *)cq_tensor_data(qp.scale))[0];
    *zp = ((const int32_t *)cq_tensor_data(qp.zero_point))[0];
    cq_qparams_clear(&qp);
    return CQ_OK;
}

static void set_val(cq_quant *q, int v, cq_dtype dt, float scale, int32_t zp, int src, int all)
{
    cq__qval *qv = &q->val[v];
    qv->quantized = 1;
    qv->dtype = dt;
    qv->scale = scale;
    qv->zp = zp;
    qv->src = src;
    qv->all_readers = all;
    q->order[q->n_order++] = v;
}

/* Quantize activation v for an int8 reader (no-op when it already is). */
static cq_status need(cq_quant *q, int v, cq_err *err)
{
    if (q->val[v].quantized)
        return CQ_OK;
    cq_dtype dt;
    float s;
    int32_t z;
    if (act_params(q, v, &dt, &s, &z, err) != CQ_OK)
        return err->code;
    set_val(q, v, dt, s, z, v, 0);
    return CQ_OK;
}

/* Whether constant t is exactly what (dt, s, zp) represent. */
static int exact_in(const cq_tensor *t, cq_dtype dt, float s, int32_t zp)
{
    if (t->dtype != CQ_F32 || !cq_tensor_is_contiguous(t))
        return 0;
    const float *x = cq_tensor_data(t);
    for (int64_t i = 0, n = cq_tensor_numel(t); i < n; i++) {
        int32_t c = cq__quant_code(x[i], dt, s, zp);
        if ((float)(c - zp) * s != x[i])
            return 0;
    }
    return 1;
}

/* ---- weights and bias ------------------------------------------------------------ */

static cq_status quant_weights(cq_quant *q, int i, cq_err *err)
{
    const cq_graph *g = q->g;
    const cq_node *n = &g->nodes[i];
    cq__qnode *qn = &q->qn[i];
    const cq_tensor *w = g->values[n->inputs[1]].data;
    int64_t outer = 1, len = 1, inner = cq_tensor_numel(w);
    int axis = -1;
    if (!strcmp(n->op_type, "Conv"))
        axis = 0;
    else if (w->ndim == 2)
        axis = !strcmp(n->op_type, "Gemm") && cq_node_int(n, "transB", 0) ? 0 : 1;
    if (!q->o.per_channel)
        axis = -1;
    if (axis >= 0) {
        outer = axis ? w->shape[0] : 1;
        len = w->shape[axis];
        inner = cq_tensor_numel(w) / (outer * len);
    }
    cq_tensor *wd = cq_tensor_contiguous((cq_tensor *)w, err);
    if (!wd)
        return err->code;
    cq_calib_spec spec = {CQ_S8, 1, q->o.weight_method, 0, CQ_CALIB_ZERO_KEEP};
    cq_qparams qp;
    cq_status st = cq_calib_weights(cq_tensor_data(wd), outer, len, inner, axis < 0 ? 0 : axis,
                                    &spec, &qp, err);
    cq_tensor_release(wd);
    if (st != CQ_OK)
        return cq_err_prefix(err, st, "%s '%s': weights: ", n->op_type, n->name);
    int64_t ch = cq_tensor_numel(qp.scale);
    const float *sw = cq_tensor_data(qp.scale);
    /* s8 zero points (all 0 for symmetric weights) */
    int64_t one = 1;
    qn->w_axis = axis;
    qn->w_scale = axis < 0 ? cq_tensor_scalar(CQ_F32, sw[0], err)
                           : (cq_tensor_retain(qp.scale), qp.scale);
    qn->w_zp = qn->w_scale ? cq_tensor_to(qp.zero_point, CQ_S8, err) : NULL;
    if (qn->w_zp && axis < 0) {
        cq_tensor *z = cq_tensor_view(qn->w_zp, 0, &one, err);
        cq_tensor_release(qn->w_zp);
        qn->w_zp = z;
    }
    qn->w_codes = qn->w_zp ? cq_quantize(w, CQ_S8, sw, cq_tensor_data(qp.zero_point),
                                         axis, err)
                           : NULL;
    if (!qn->w_codes) {
        cq_qparams_clear(&qp);
        return cq_err_prefix(err, err->code, "%s '%s': weights: ", n->op_type, n->name);
    }
    qn->w_slot = 1;
    /* bias: s32 at scale s_x * s_w[c] */
    int b = n->n_inputs > 2 ? n->inputs[2] : -1;
    if (b >= 0) {
        const cq_tensor *bt = g->values[b].data;
        int64_t m = cq_tensor_numel(bt);
        cq_tensor *bd = cq_tensor_contiguous((cq_tensor *)bt, err);
        qn->b_codes = bd ? cq_tensor_new(CQ_S32, 1, &m, err) : NULL;
        qn->b_scale = qn->b_codes ? cq_tensor_new(CQ_F32, 1, &m, err) : NULL;
        qn->b_zp = qn->b_scale ? cq_tensor_new(CQ_S32, 1, &m, err) : NULL;
        if (!qn->b_zp) {
            cq_tensor_release(bd);
            cq_qparams_clear(&qp);
            return err->code;
        }
        float sx = q->val[n->inputs[0]].scale;
        const float *bv = cq_tensor_data(bd);
        int32_t *bc = cq_tensor_data(qn->b_codes);
        float *bs = cq_tensor_data(qn->b_scale);
        int64_t clamped = 0;
        for (int64_t c = 0; c < m; c++) {
            float s = sx * sw[ch == 1 ? 0 : c];
            double r = nearbyint((double)bv[c] / (double)s);
            if (!(r >= -2147483648.0 && r <= 2147483647.0)) {
                clamped++;
                r = r > 0 ? 2147483647.0 : -2147483648.0;
            }
            bc[c] = (int32_t)r;
            bs[c] = s;
        }
        cq_tensor_release(bd);
        qn->b_slot = 2;
        q->info[i].bias_clamped = clamped;
    }
    cq_qparams_clear(&qp);
    return CQ_OK;
}

/* ---- decisions -------------------------------------------------------------------- */

int cq__quant_fold_target(const cq_graph *g, const cq_graph_uses *u, int i)
{
    int y = g->nodes[i].outputs[0], c;
    if (g->values[y].is_output)
        return -1;
    if (u) {
        if (cq_graph_uses_count(u, y) != 1)
            return -1;
        c = cq_graph_uses_list(u, y)[0];
    } else if (cq_graph_consumers(g, y, &c, 1) != 1) {
        return -1;
    }
    const cq_node *a = &g->nodes[c];
    if (node_kind(a) != CQ_QK_ACT || a->inputs[0] != y)
        return -1;
    return cq__quant_act_bounds(g, a, NULL, NULL) ? c : -1;
}

/* An int8 compute / requant node's output (and its folded activation). */
static cq_status decide_output(cq_quant *q, int i, int shared, cq_dtype dt, float s, int32_t zp,
                               cq_err *err)
{
    const cq_graph *g = q->g;
    int y = g->nodes[i].outputs[0], a = shared ? -1 : cq__quant_fold_target(g, NULL, i);
    int point = a >= 0 ? g->nodes[a].outputs[0] : y;
    if (!shared && act_params(q, point, &dt, &s, &zp, err) != CQ_OK)
        return err->code;
    int src = point;
    if (a >= 0) {
        q->info[a].int8 = 1;
        q->info[a].folded_into = i;
        if (cq__quant_act_noop(g, &g->nodes[a], dt, s, zp)) {
            q->info[a].removed = 1;
            src = y;
        }
    }
    set_val(q, point, dt, s, zp, src, 1);
    cq_quant_node_info *in = &q->info[i];
    in->int8 = 1;
    in->out_dtype = dt;
    in->out_scale = s;
    in->out_zero_point = zp;
    in->out_value = point;
    return CQ_OK;
}

static cq_status decide_node(cq_quant *q, int i, cq_err *err)
{
    const cq_graph *g = q->g;
    const cq_node *n = &g->nodes[i];
    cq_quant_node_info *in = &q->info[i];
    if (in->kind == CQ_QK_ACT || in->kind == CQ_QK_FLOAT)
        return CQ_OK; /* acts are decided with their producer */
    const char *why = ineligible(q, n, in->kind);
    q->quantizable[i] = !why && in->kind != CQ_QK_PASS;
    if (!why && !is_int8(q->prec[i]))
        why = q->prec[i] == CQ_BF16 ? "bf16 in the precision map (kept fp32 until calq runs bf16)"
                                    : "fp32 in the precision map";
    if (why) {
        in->reason = why;
        return CQ_OK;
    }
    if (in->kind == CQ_QK_PASS) {
        const cq__qval *x = n->inputs[0] >= 0 ? &q->val[n->inputs[0]] : NULL;
        if (!x || !x->quantized) {
            in->reason = "its input is not quantized";
            return CQ_OK;
        }
        return decide_output(q, i, 1, x->dtype, x->scale, x->zp, err);
    }
    /* compute and requant: every activation input quantized */
    for (int k = 0; k < n->n_inputs; k++) {
        int v = n->inputs[k];
        if (in->kind == CQ_QK_COMPUTE && k > 0 && strcmp(n->op_type, "MatMul"))
            break; /* weights and bias */
        if (v >= 0 && is_act(q, v) && need(q, v, err) != CQ_OK)
            return cq_err_prefix(err, err->code, "%s '%s': ", n->op_type, n->name);
    }
    if (in->kind == CQ_QK_COMPUTE &&
        (strcmp(n->op_type, "MatMul") || cq__quant_is_const(g, n->inputs[1])) &&
        quant_weights(q, i, err) != CQ_OK)
        return err->code;
    /* Concat of inputs that share their parameters keeps them (exact) */
    if (!strcmp(n->op_type, "Concat")) {
        const cq__qval *first = NULL;
        int same = 1;
        for (int k = 0; k < n->n_inputs && same; k++) {
            const cq__qval *x = &q->val[n->inputs[k]];
            if (cq__quant_is_const(g, n->inputs[k]))
                continue;
            if (!first)
                first = x;
            else
                same = x->dtype == first->dtype && x->scale == first->scale && x->zp == first->zp;
        }
        for (int k = 0; k < n->n_inputs && same; k++)
            if (cq__quant_is_const(g, n->inputs[k]))
                same = exact_in(g->values[n->inputs[k]].data, first->dtype, first->scale,
                                first->zp);
        if (same)
            return decide_output(q, i, 1, first->dtype, first->scale, first->zp, err);
    }
    cq_status st = decide_output(q, i, 0, CQ_U8, 0, 0, err);
    return st ? cq_err_prefix(err, st, "%s '%s': ", n->op_type, n->name) : CQ_OK;
}

/* ---- life cycle ------------------------------------------------------------------- */

static cq_status check_opts(const cq_quant_opts *o, cq_err *err)
{
    if (o->act_dtype != CQ_U8 && o->act_dtype != CQ_S8)
        return cq_errf(err, CQ_EINVAL, "quantize: activations must be u8 or s8");
    if (o->act_symmetric < -1 || o->act_symmetric > 1)
        return cq_errf(err, CQ_EINVAL, "quantize: act_symmetric must be -1, 0 or 1");
    if ((unsigned)o->act_method >= CQ_CALIB_METHOD_COUNT)
        return cq_errf(err, CQ_EINVAL, "quantize: unknown activation method %d", (int)o->act_method);
    if (o->act_method == CQ_CALIB_PERCENTILE && !(o->percentile > 0 && o->percentile <= 100))
        return cq_errf(err, CQ_EINVAL, "quantize: percentile %g is not in (0, 100]", o->percentile);
    if ((unsigned)o->zero_bin >= CQ_CALIB_ZERO_BIN_COUNT)
        return cq_errf(err, CQ_EINVAL, "quantize: unknown zero bin rule %d", (int)o->zero_bin);
    if (o->weight_method != CQ_CALIB_MINMAX && o->weight_method != CQ_CALIB_MSE)
        return cq_errf(err, CQ_EINVAL, "quantize: weights take minmax or mse");
    return CQ_OK;
}

static void free_qnode(cq__qnode *qn)
{
    cq_tensor_release(qn->w_codes);
    cq_tensor_release(qn->w_scale);
    cq_tensor_release(qn->w_zp);
    cq_tensor_release(qn->b_codes);
    cq_tensor_release(qn->b_scale);
    cq_tensor_release(qn->b_zp);
}

void cq_quant_free(cq_quant *q)
{
    if (!q)
        return;
    if (q->qn)
        for (int i = 0; i < q->n_nodes; i++)
            free_qnode(&q->qn[i]);
    free(q->qn);
    free(q->prec);
    free(q->info);
    free(q->quantizable);
    free(q->val);
    free(q->order);
    free(q->vdt);
    free(q);
}

cq_status cq_quant_plan(cq_graph *g, cq_err *err)
{
    /* the same passes as every executor, hence the same names */
    cq_exec_opts eo = CQ_EXEC_OPTS_DEFAULT;
    eo.fuse = CQ_FUSE_NONE;
    cq_exec *e = cq_exec_new(g, &eo, err);
    if (!e)
        return err->code;
    cq_exec_free(e);
    return CQ_OK;
}

cq_quant *cq_quant_new(cq_graph *g, const cq_calib_stats *stats, const cq_quant_opts *opts,
                       cq_err *err)
{
    cq_quant_opts o = CQ_QUANT_OPTS_DEFAULT;
    if (opts)
        o = *opts;
    if (!g || !stats) {
        cq_errf(err, CQ_EINVAL, "quantize: no graph or no statistics");
        return NULL;
    }
    if (check_opts(&o, err) != CQ_OK)
        return NULL;
    if (cq_quant_plan(g, err) != CQ_OK)
        return NULL;
    if (o.precision && o.n_precision != g->n_nodes) {
        cq_errf(err, CQ_EINVAL, "quantize: the precision map has %d entries for %d nodes",
                o.n_precision, g->n_nodes);
        return NULL;
    }
    cq_quant *q = calloc(1, sizeof *q);
    int nn = g->n_nodes, nv = g->n_values;
    if (q) {
        q->g = g;
        q->n_nodes = nn;
        q->n_values = nv;
        q->stats = stats;
        q->o = o;
        q->o.precision = NULL;
        q->act_symmetric = o.act_symmetric >= 0 ? o.act_symmetric : o.act_dtype == CQ_S8;
        q->prec = malloc((size_t)(nn + 1) * sizeof *q->prec);
        q->info = calloc((size_t)nn + 1, sizeof *q->info);
        q->quantizable = calloc((size_t)nn + 1, 1);
        q->qn = calloc((size_t)nn + 1, sizeof *q->qn);
        q->val = calloc((size_t)nv + 1, sizeof *q->val);
        q->order = malloc((size_t)(nv + 1) * sizeof *q->order);
        q->vdt = malloc((size_t)(nv + 1) * sizeof *q->vdt);
    }
    if (!q || !q->prec || !q->info || !q->quantizable || !q->qn || !q->val || !q->order ||
        !q->vdt) {
        cq_quant_free(q);
        cq_errf(err, CQ_ENOMEM, "quantize: out of memory");
        return NULL;
    }
    for (int i = 0; i < nn; i++) {
        cq_dtype p = o.precision ? o.precision[i] : CQ_S8;
        if (p != CQ_F32 && p != CQ_BF16 && !is_int8(p)) {
            cq_errf(err, CQ_EINVAL, "quantize: node '%s' (%s): precision %s is not f32, bf16 or "
                    "int8", g->nodes[i].name, g->nodes[i].op_type,
                    cq_dtype_info(p) ? cq_dtype_info(p)->name : "?");
            cq_quant_free(q);
            return NULL;
        }
        q->prec[i] = is_int8(p) ? CQ_S8 : p;
        q->info[i].kind = node_kind(&g->nodes[i]);
        q->info[i].precision = q->prec[i];
        q->info[i].folded_into = -1;
        q->info[i].out_value = -1;
        q->qn[i].w_slot = q->qn[i].b_slot = -1;
    }
    value_dtypes(g, q->vdt);
    /* the decisions ask who reads each output: an index, not a walk each */
    if (cq_graph_readers_begin(g, err)) {
        cq_quant_free(q);
        return NULL;
    }
    for (int i = 0; i < nn; i++) {
        if (g->nodes[i].dead)
            continue;
        if (decide_node(q, i, err) != CQ_OK) {
            cq_graph_readers_end(g);
            cq_quant_free(q);
            return NULL;
        }
    }
    cq_graph_readers_end(g);
    for (int i = 0; i < nn; i++) {
        cq_quant_node_info *in = &q->info[i];
        if (in->kind == CQ_QK_FLOAT)
            in->reason = "calq runs this operator in float";
        else if (in->kind == CQ_QK_ACT && !in->int8)
            in->reason = "not folded: its producer is not int8";
    }
    return q;
}

cq_status cq_quant_node(const cq_quant *q, int i, cq_quant_node_info *info, cq_err *err)
{
    if (!q || i < 0 || i >= q->g->n_nodes)
        return cq_errf(err, CQ_EINVAL, "quantize: node %d out of range", i);
    *info = q->info[i];
    return CQ_OK;
}

const cq_graph *cq_quant_source(const cq_quant *q) { return q->g; }

int cq_quant_quantizable(const cq_quant *q, int i)
{
    return q && i >= 0 && i < q->g->n_nodes && q->quantizable[i];
}
