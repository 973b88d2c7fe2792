/* quant_qdq.c - the quantizer's decisions written as a QDQ graph: a copy of
 * the planned graph with QuantizeLinear/DequantizeLinear pairs on the
 * quantized values, quantized weights, biases and constants behind
 * DequantizeLinear, and the folded activations that are no-ops removed. */
#include "quant/quant_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Operators whose meaning changed between opset 10 and 13: a model that
 * imports an older opset and holds one of them cannot just be moved to 13. */
static const char *const changed_by_13[] = {
    "Softmax", "LogSoftmax", "Hardmax", "Split", "Squeeze", "Unsqueeze", "ReduceSum",
    "Clip", "Pad", "Resize", "Upsample", "Slice", "TopK", "Dropout", "BatchNormalization",
    "Scan", "If", "Loop",
};

static char *cat(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s", a, b);
    return s;
}

/* Add node op(inputs) -> outputs named name + suffix; index or -1. */
static int add_node(cq_graph *h, const char *op, const char *base, const char *suffix, int n_in,
                    const int *in, int out, cq_err *err)
{
    const char *names[3], *outs[1];
    for (int k = 0; k < n_in; k++)
        names[k] = h->values[in[k]].name;
    outs[0] = h->values[out].name;
    char *name = cq__quant_node_name(h, base, suffix);
    if (!name) {
        cq_errf(err, CQ_ENOMEM, "quantize: out of memory");
        return -1;
    }
    int n = cq_graph_add_node(h, op, name, "", n_in, names, 1, outs, err);
    free(name);
    return n;
}

/* base_quantized, base_scale, base_zero_point initializers and a
 * DequantizeLinear (axis when >= 0) writing base_dequantized; the index of
 * what it writes, or -1. */
static int dq_const(cq_graph *h, const char *base, cq_tensor *codes, cq_tensor *scale,
                    cq_tensor *zp, int axis, cq_err *err)
{
    char *b = cat(base, ""); /* base may live in h->values, which grows */
    if (!b) {
        cq_errf(err, CQ_ENOMEM, "quantize: out of memory");
        return -1;
    }
    int in[3];
    in[0] = cq__quant_init(h, b, "_quantized", codes, err);
    in[1] = in[0] < 0 ? -1 : cq__quant_init(h, b, "_scale", scale, err);
    in[2] = in[1] < 0 ? -1 : cq__quant_init(h, b, "_zero_point", zp, err);
    int out = in[2] < 0 ? -1 : cq__quant_fresh(h, b, "_dequantized", err);
    int n = out < 0 ? -1 : add_node(h, "DequantizeLinear", b, "_DequantizeLinear", 3, in, out, err);
    free(b);
    if (n < 0 || (axis >= 0 && cq_node_set_int(h, n, "axis", axis, err) != CQ_OK))
        return -1;
    return out;
}

/* The channel count of input 0 of Conv / Gemm node n (from its constant
 * weights), 0 for other nodes or when unknown. */
static int64_t in_channels(const cq_graph *g, const cq_node *n)
{
    const cq_tensor *w = n->n_inputs > 1 && n->inputs[1] >= 0 ? g->values[n->inputs[1]].data : NULL;
    if (!w)
        return 0;
    if (!strcmp(n->op_type, "Conv") && w->ndim >= 3)
        return w->shape[1] * cq_node_int(n, "group", 1);
    if (!strcmp(n->op_type, "Gemm") && w->ndim == 2)
        return w->shape[cq_node_int(n, "transB", 0) ? 1 : 0];
    return 0;
}

/* A second DequantizeLinear of qo (v's codes) with v's scale and zero point
 * repeated per channel along axis 1 (channels of them), for the Conv and
 * Gemm nodes kept fp32 that read v: ONNX Runtime quantizes the float weights
 * of a Conv / Gemm fed by a per-tensor DequantizeLinear and followed by a
 * QuantizeLinear (its WeightBiasQuantization transformer), a per-axis one
 * keeps them float. The same values either way. Its output, or -1. */
static int dq_per_channel(cq_graph *h, const char *name, const cq__qval *qv, int qo,
                          int64_t channels, cq_err *err)
{
    cq_tensor *s = cq_tensor_new(CQ_F32, 1, &channels, err);
    cq_tensor *z = s ? cq_tensor_new(qv->dtype, 1, &channels, err) : NULL;
    int out = -1;
    if (z) {
        cq_tensor_fill(s, qv->scale);
        cq_tensor_fill(z, qv->zp);
        int in[3] = {qo, -1, -1};
        in[1] = cq__quant_init(h, name, "_scale_per_channel", s, err);
        in[2] = in[1] < 0 ? -1 : cq__quant_init(h, name, "_zero_point_per_channel", z, err);
        out = in[2] < 0 ? -1 : cq__quant_fresh(h, name, "_dequantized_per_channel", err);
        int n = out < 0 ? -1 : add_node(h, "DequantizeLinear", name, "_DequantizeLinear_per_channel",
                                        3, in, out, err);
        if (n < 0 || cq_node_set_int(h, n, "axis", 1, err) != CQ_OK)
            out = -1;
    }
    cq_tensor_release(s);
    cq_tensor_release(z);
    return out;
}

/* Value v of the planned graph: Q and DQ after its source, readers rewired. */
static cq_status qdq_value(const cq_quant *q, cq_graph *h, int v, cq_err *err)
{
    const cq_graph *g = q->g;
    const cq__qval *qv = &q->val[v];
    int hv = cq_graph_find(h, g->values[v].name);
    int hs = cq_graph_find(h, g->values[qv->src].name);
    if (hv < 0 || hs < 0)
        return cq_errf(err, CQ_EFORMAT, "quantize: '%s' is missing from the copy",
                       g->values[v].name);
    int *readers = NULL;
    int nr = cq__quant_consumers(h, hv, &readers, err);
    if (nr < 0)
        return err->code;
    char *name = cat(g->values[v].name, "");
    cq_tensor *s = cq_tensor_scalar(CQ_F32, qv->scale, err);
    cq_tensor *z = s ? cq_tensor_scalar(qv->dtype, qv->zp, err) : NULL;
    cq_status st = name && z ? CQ_OK : (name ? err->code : cq_errf(err, CQ_ENOMEM, "out of memory"));
    int keep_name = qv->all_readers && h->values[hv].is_output;
    if (!st && keep_name) {
        /* a graph output keeps its name: the DequantizeLinear writes it */
        int p = h->values[hv].producer;
        if (hs == hv && p >= 0) {
            hs = cq__quant_fresh(h, name, "_QuantizeLinear_Input", err);
            if (hs < 0)
                st = err->code;
            for (int k = 0; !st && k < h->nodes[p].n_outputs; k++)
                if (h->nodes[p].outputs[k] == hv)
                    h->nodes[p].outputs[k] = hs;
            if (!st)
                h->values[hs].producer = p;
        }
        h->values[hv].producer = -1;
    }
    int in[3] = {hs, -1, -1}, qo = -1, out = hv;
    if (!st) {
        in[1] = cq__quant_init(h, name, "_scale", s, err);
        in[2] = in[1] < 0 ? -1 : cq__quant_init(h, name, "_zero_point", z, err);
        qo = in[2] < 0 ? -1 : cq__quant_fresh(h, name, "_quantized", err);
        if (qo >= 0 && !keep_name)
            out = cq__quant_fresh(h, name, "_dequantized", err);
        if (qo < 0 || out < 0 ||
            add_node(h, "QuantizeLinear", name, "_QuantizeLinear", 3, in, qo, err) < 0)
            st = err->code;
    }
    if (!st) {
        int dq_in[3] = {qo, in[1], in[2]};
        if (add_node(h, "DequantizeLinear", name, "_DequantizeLinear", 3, dq_in, out, err) < 0)
            st = err->code;
    }
    int pc_out = -1;
    int64_t pc_channels = 0;
    for (int r = 0; !st && r < nr; r++) {
        int c = readers[r];
        int int8 = c < g->n_nodes && q->info[c].int8 && q->info[c].kind != CQ_QK_ACT;
        if (!qv->all_readers && !int8)
            continue;
        int to = out;
        int64_t ch = !int8 && c < g->n_nodes && q->info[c].kind == CQ_QK_COMPUTE &&
                             h->nodes[c].inputs[0] == hv
                         ? in_channels(g, &g->nodes[c])
                         : 0;
        if (ch > 0) {
            if (pc_out < 0 || pc_channels != ch) {
                pc_out = dq_per_channel(h, name, qv, qo, ch, err);
                pc_channels = ch;
            }
            if (pc_out < 0) {
                st = err->code;
                break;
            }
            h->nodes[c].inputs[0] = pc_out;
            cq_graph_readers_note(h, c, pc_out);
            continue;
        }
        if (to == hv)
            continue;
        for (int k = 0; k < h->nodes[c].n_inputs; k++)
            if (h->nodes[c].inputs[k] == hv)
                h->nodes[c].inputs[k] = to;
        cq_graph_readers_note(h, c, to);
    }
    free(readers);
    free(name);
    cq_tensor_release(s);
    cq_tensor_release(z);
    return st;
}

/* Weights and bias of compute node i. */
static cq_status qdq_weights(const cq_quant *q, cq_graph *h, int i, cq_err *err)
{
    const cq_graph *g = q->g;
    const cq__qnode *qn = &q->qn[i];
    const cq_node *n = &g->nodes[i];
    int w = dq_const(h, g->values[n->inputs[1]].name, qn->w_codes, qn->w_scale, qn->w_zp,
                     qn->w_axis, err);
    if (w < 0)
        return err->code;
    h->nodes[i].inputs[1] = w;
    cq_graph_readers_note(h, i, w);
    if (qn->b_slot < 0)
        return CQ_OK;
    /* the bias keeps its shape (Gemm's C may be [1, N]); per axis on its last */
    const cq_tensor *bt = g->values[n->inputs[2]].data;
    cq_tensor *codes = cq_tensor_view(qn->b_codes, bt->ndim, bt->shape, err);
    int b = codes ? dq_const(h, g->values[n->inputs[2]].name, codes, qn->b_scale, qn->b_zp,
                             bt->ndim - 1, err)
                  : -1;
    cq_tensor_release(codes);
    if (b < 0)
        return err->code;
    h->nodes[i].inputs[2] = b;
    cq_graph_readers_note(h, i, b);
    return CQ_OK;
}

/* Constant inputs of requant node i: quantized as the node's own output
 * when it shares its inputs' parameters (exact), else on their own range. */
static cq_status qdq_constants(const cq_quant *q, cq_graph *h, int i, cq_err *err)
{
    const cq_graph *g = q->g;
    const cq_node *n = &g->nodes[i];
    const cq_quant_node_info *in = &q->info[i];
    /* a Concat whose output kept its inputs' parameters */
    int shared = 0;
    if (!strcmp(n->op_type, "Concat"))
        for (int j = 0; j < n->n_inputs; j++)
            if (!cq__quant_is_const(g, n->inputs[j])) {
                const cq__qval *x = &q->val[n->inputs[j]];
                shared = x->scale == in->out_scale && x->zp == in->out_zero_point &&
                         x->dtype == in->out_dtype;
                break;
            }
    for (int k = 0; k < n->n_inputs; k++) {
        int v = n->inputs[k];
        if (!cq__quant_is_const(g, v))
            continue;
        const cq_tensor *t = g->values[v].data;
        cq_dtype dt = in->out_dtype;
        float s = in->out_scale;
        int32_t zp = in->out_zero_point;
        if (!shared) {
            cq_tensor *f = cq_tensor_to(t, CQ_F32, err);
            if (!f)
                return err->code;
            const float *x = cq_tensor_data(f);
            float lo = 0, hi = 0;
            for (int64_t j = 0, m = cq_tensor_numel(f); j < m; j++) {
                lo = x[j] < lo ? x[j] : lo;
                hi = x[j] > hi ? x[j] : hi;
            }
            cq_tensor_release(f);
            if (cq_calib_scale_zp(lo, hi, q->o.act_dtype, q->act_symmetric, &s, &zp, err))
                return cq_err_prefix(err, err->code, "constant '%s': ", g->values[v].name);
            dt = q->o.act_dtype;
        }
        cq_tensor *codes = cq__quant_codes(t, dt, s, zp, err);
        cq_tensor *st = codes ? cq_tensor_scalar(CQ_F32, s, err) : NULL;
        cq_tensor *zt = st ? cq_tensor_scalar(dt, zp, err) : NULL;
        int out = zt ? dq_const(h, g->values[v].name, codes, st, zt, -1, err) : -1;
        cq_tensor_release(codes);
        cq_tensor_release(st);
        cq_tensor_release(zt);
        if (out < 0)
            return err->code;
        h->nodes[i].inputs[k] = out;
        cq_graph_readers_note(h, i, out);
    }
    return CQ_OK;
}

/* The default domain at opset 13 or later (per-axis DequantizeLinear). */
static cq_status opset_13(const cq_graph *g, cq_graph *h, cq_err *err)
{
    int64_t v = cq_graph_opset(g, "");
    if (v >= 13)
        return CQ_OK;
    for (int i = 0; i < g->n_nodes; i++) {
        const cq_node *n = &g->nodes[i];
        if (n->dead || (n->domain && *n->domain && strcmp(n->domain, "ai.onnx")))
            continue;
        for (size_t k = 0; k < sizeof changed_by_13 / sizeof changed_by_13[0]; k++)
            if (!strcmp(n->op_type, changed_by_13[k]))
                return cq_errf(err, CQ_EUNSUPPORTED, "quantize: the model imports opset %lld and "
                               "holds %s '%s', whose meaning changed by opset 13 (which the "
                               "per-channel DequantizeLinear needs): export it at opset 13",
                               (long long)v, n->op_type, n->name);
    }
    for (int i = 0; i < h->n_opsets; i++)
        if (!h->opsets[i].domain || !*h->opsets[i].domain ||
            !strcmp(h->opsets[i].domain, "ai.onnx")) {
            h->opsets[i].version = 13;
            goto ir;
        }
    cq_opset *o = realloc(h->opsets, (size_t)(h->n_opsets + 1) * sizeof *o);
    char *d = cat("", "");
    if (!o || !d) {
        free(d);
        if (o)
            h->opsets = o;
        return cq_errf(err, CQ_ENOMEM, "quantize: out of memory");
    }
    h->opsets = o;
    o[h->n_opsets].domain = d;
    o[h->n_opsets++].version = 13;
ir:
    if (h->ir_version < 7)
        h->ir_version = 7;
    return CQ_OK;
}

cq_graph *cq_quant_graph(cq_quant *q, cq_err *err)
{
    const cq_graph *g = q->g;
    cq_graph *h = cq__quant_clone(g, err);
    if (!h)
        return NULL;
    cq_status st = CQ_OK;
    if (h->n_nodes != g->n_nodes)
        st = cq_errf(err, CQ_EFORMAT, "quantize: the graph's copy has %d nodes, not %d",
                     h->n_nodes, g->n_nodes);
    for (int i = 0; !st && i < g->n_nodes; i++)
        if (strcmp(h->nodes[i].op_type, g->nodes[i].op_type))
            st = cq_errf(err, CQ_EFORMAT, "quantize: node %d of the copy is not '%s'", i,
                         g->nodes[i].name);
    if (!st)
        st = opset_13(g, h, err);
    /* each value's readers from an index (the inputs set below are noted),
     * node names hashed: linear in the node count */
    int window = !st && !(st = cq_graph_readers_begin(h, err));
    for (int i = 0; !st && i < g->n_nodes; i++)
        if (q->info[i].removed)
            h->nodes[i].dead = 1;
    for (int k = 0; !st && k < q->n_order; k++)
        st = qdq_value(q, h, q->order[k], err);
    for (int i = 0; !st && i < g->n_nodes; i++) {
        if (!q->info[i].int8)
            continue;
        if (q->qn[i].w_codes)
            st = qdq_weights(q, h, i, err);
        else if (q->info[i].kind == CQ_QK_REQUANT)
            st = qdq_constants(q, h, i, err);
    }
    if (!st) {
        char *pn = cat("calq", ""), *pv = cat("0.1.0", "");
        if (!pn || !pv) {
            free(pn);
            free(pv);
            st = cq_errf(err, CQ_ENOMEM, "quantize: out of memory");
        } else {
            free(h->producer_name);
            free(h->producer_version);
            h->producer_name = pn;
            h->producer_version = pv;
        }
    }
    if (window)
        cq_graph_readers_end(h);
    if (!st)
        st = cq_graph_toposort(h, err);
    if (!st)
        st = cq_graph_compact(h, err);
    if (st) {
        cq_graph_free(h);
        return NULL;
    }
    return h;
}
