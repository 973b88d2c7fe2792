/* quant_lower_move.c - the QDQ -> QLinear rewrite of the ops that move or
 * select values (quant.h, cq_quant_lower): they run on the codes. */
#include "quant/quant_lower_internal.h"

#include <stdlib.h>

#include "ops/ops.h"

/* A QuantizeLinear of value v (a DequantizeLinear's output) at q's scale and
 * zero point: its codes, or -1. */
static int requant(cq_graph *g, int v, const qlin *q, cq_err *err)
{
    int out = cq__quant_fresh(g, g->values[v].name, "_requantized", err);
    if (out < 0)
        return -1;
    const char *in[3] = {g->values[v].name, g->values[q->scale].name,
                         q->zp >= 0 ? g->values[q->zp].name : ""};
    const char *outs[1] = {g->values[out].name};
    char *name = cq__quant_node_name(g, g->values[v].name, "_requantize");
    if (!name) {
        cq_errf(err, CQ_ENOMEM, "lower: out of memory");
        return -1;
    }
    int k = cq_graph_add_node(g, "QuantizeLinear", name, "", q->zp >= 0 ? 3 : 2, in, 1, outs,
                              err);
    free(name);
    return k < 0 ? -1 : out;
}

/* DQ(x) -> op -> Q at the DequantizeLinear's scale and zero point, for an
 * op that moves or selects values (MaxPool, Reshape, Flatten, Squeeze,
 * Unsqueeze, Transpose, Slice, nearest Resize; Concat with every input such a DQ): the op
 * on the codes, as ONNX Runtime's QDQ transformer does. Exact: moving a
 * value commutes with its dequantization, and so does a max, the
 * dequantization being monotone. The op's other inputs (shapes, starts)
 * stay. A Concat input at other parameters than the Q's is requantized to
 * them first, DQ -> Q (the same values: Q is elementwise and per tensor; the
 * executor runs such a pair as a table). An op that does not read a
 * DequantizeLinear is no QDQ pattern (why stays empty: no note). */
cq_status cq__quant_lower_move(cq_graph *g, int n, int *done, char *why, cq_err *err)
{
    qlin x, q;
    char w[WHY_MAX];
    const cq_node *nd = &g->nodes[n];
    int y = nd->outputs[0], r = only_reader(g, y);
    int64_t opset = cq_op_opset(g, nd);
    int concat = is_op(nd, "Concat"), maxpool = is_op(nd, "MaxPool");
    int data_in = concat ? nd->n_inputs : 1;
    if (nd->n_inputs < 1 || nd->n_inputs > 8 || !dq_in(g, n, 0, &x, NULL) || !act_in(&x, 0, why) ||
        (maxpool && nd->n_inputs != 1))
        return CQ_OK;
    if (r < 0 || !qlin_of(g, r, "QuantizeLinear", &q, w)) {
        no(why, "%s%s", r < 0 ? "its output is not read by one node alone" : "output: ",
           r < 0 ? "" : w);
        return CQ_OK;
    }
    if (q.count != 1) {
        no(why, "its QuantizeLinear is per channel");
        return CQ_OK;
    }
    double sq = elem(cdata(g, q.scale), 0), zq = q.zp >= 0 ? elem(cdata(g, q.zp), 0) : 0;
    /* in[k]: the codes an input moves; -1 - k where a Concat input must be
     * requantized to the output's parameters first */
    int in[8], dqv[8];
    for (int k = 0; k < nd->n_inputs; k++) {
        in[k] = nd->inputs[k];
        if (k >= data_in)
            continue;
        qlin xk;
        if (!dq_in(g, n, k, &xk, why) || !act_in(&xk, k, why))
            return CQ_OK;
        double sk = elem(cdata(g, xk.scale), 0), zk = xk.zp >= 0 ? elem(cdata(g, xk.zp), 0) : 0;
        in[k] = xk.codes;
        dqv[k] = nd->inputs[k];
        if (xk.dt == q.dt && sk == sq && zk == zq)
            continue;
        if (!concat) {
            no(why, "its QuantizeLinear (%s, scale %g, zero point %g) is not its "
               "DequantizeLinear's inverse (%s, %g, %g)", cq_dtype_info(q.dt)->name, sq, zq,
               cq_dtype_info(xk.dt)->name, sk, zk);
            return CQ_OK;
        }
        in[k] = -1 - k;
    }
    if (is_op(nd, "Resize") && strcmp(cq_node_string(nd, "mode", "nearest"), "nearest")) {
        no(why, "mode '%s': only a nearest Resize moves codes", cq_node_string(nd, "mode", ""));
        return CQ_OK;
    }
    if (maxpool && opset < 12) {
        no(why, "opset %lld: MaxPool takes 8-bit codes from opset 12", (long long)opset);
        return CQ_OK;
    }
    for (int k = 0; k < data_in; k++)
        if (in[k] < 0 && (in[k] = requant(g, dqv[k], &q, err)) < 0)
            return err->code;
    const char *op = g->nodes[n].op_type;
    g->nodes[n].dead = g->nodes[q.node].dead = 1;
    if (cq__quant_add_op(g, n, op, g->nodes[n].n_inputs, in, q.codes, 1, err) < 0)
        return err->code;
    ++*done;
    return CQ_OK;
}


/* DQ(x) -> GlobalAveragePool -> Q (per tensor, 4-D) as QLinearGlobalAveragePool
 * (com.microsoft), ONNX Runtime's arithmetic (kern_qelt.h): a squeeze-excite
 * block's pool reads the codes, not a float copy of them. */
cq_status cq__quant_lower_gap(cq_graph *g, int n, int *done, char *why, cq_err *err)
{
    qlin x, q;
    char w[WHY_MAX];
    int y = g->nodes[n].outputs[0], r = only_reader(g, y);
    if (g->nodes[n].n_inputs != 1 || !dq_in(g, n, 0, &x, NULL) || !act_in(&x, 0, why))
        return CQ_OK;
    if (r < 0 || !qlin_of(g, r, "QuantizeLinear", &q, w) || q.count != 1 || q.dt != x.dt) {
        no(why, "%s", r < 0 ? "its output is not read by one node alone"
                            : "its output is not quantized per tensor to its input's type");
        return CQ_OK;
    }
    if (x.zp < 0 || q.zp < 0) {
        no(why, "a zero point is omitted");
        return CQ_OK;
    }
    if (cq__quant_import_domain(g, "com.microsoft", 1, err) != CQ_OK)
        return err->code;
    int in[5] = {x.codes, x.scale, x.zp, q.scale, q.zp};
    g->nodes[n].dead = g->nodes[q.node].dead = 1;
    if (cq__quant_add_op_in(g, n, "QLinearGlobalAveragePool", "com.microsoft", 5, in, q.codes, 0,
                            err) < 0)
        return err->code;
    ++*done;
    return CQ_OK;
}
