/* quant_lower.c - QDQ -> QLinear: the patterns of a QDQ graph that calq's
 * integer reference kernels run as one integer operator (quant.h,
 * cq_quant_lower). Runs on an unplanned graph: planning would fold the
 * DequantizeLinear of constant weights into float weights. Other tools'
 * files are first brought to the form the patterns read: their Constant
 * nodes (and what only constants feed) folded into initializers, the
 * DequantizeLinear nodes kept; identity Casts between a QuantizeLinear and
 * what reads it removed. */
#include "quant/quant_lower_internal.h"

#include "ops/ops.h"
#include "ops/passes.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The product's output y: read by one per-tensor QuantizeLinear (*act -1),
 * or by one activation whose output one such QuantizeLinear reads. */
static int out_q(const cq_graph *g, int y, int *act, qlin *q, char *why)
{
    int r = only_reader(g, y);
    char w[WHY_MAX];
    *act = -1;
    if (r >= 0 && cq__quant_act_bounds(g, &g->nodes[r], NULL, NULL)) {
        *act = r;
        r = only_reader(g, g->nodes[r].outputs[0]);
    }
    if (r < 0)
        return no(why, "its output%s is not read by one node alone",
                  *act >= 0 ? " (after the activation)" : "");
    if (!qlin_of(g, r, "QuantizeLinear", q, w))
        return no(why, "output: %s", w);
    if (q->count != 1)
        return no(why, "its output is quantized per channel");
    if (g->nodes[r].inputs[0] != (*act >= 0 ? g->nodes[*act].outputs[0] : y))
        return no(why, "its output is not what the QuantizeLinear reading it quantizes");
    return 1;
}

static const float *fdata(const cq_graph *g, int v) { return cq_tensor_data(cdata(g, v)); }

/* The zero point value of d, made (a zero of d's dtype) when omitted. */
static int zp_value(cq_graph *g, const qlin *d, const char *base, cq_err *err)
{
    if (d->zp >= 0)
        return d->zp;
    cq_tensor *t = cq_tensor_scalar(d->dt, 0, err);
    int v = t ? cq__quant_init(g, base, "_zero_point", t, err) : -1;
    cq_tensor_release(t);
    return v;
}

/* The zero-point values of a, b and the output q (implicit ones made, named
 * after value y): z[0..3); -1 (err set) on failure, else z[2]. y's name is
 * copied first, as a new initializer may move g->values. */
static int zp_values3(cq_graph *g, int y, const qlin *a, const qlin *b, const qlin *q, int z[3],
                      cq_err *err)
{
    const char *base = g->values[y].name;
    char *bs = malloc(strlen(base) + 1);
    if (!bs) {
        cq_errf(err, CQ_ENOMEM, "lower: out of memory");
        return -1;
    }
    strcpy(bs, base);
    z[0] = zp_value(g, a, bs, err);
    z[1] = z[0] < 0 ? -1 : zp_value(g, b, bs, err);
    z[2] = z[1] < 0 ? -1 : zp_value(g, q, bs, err);
    free(bs);
    return z[2];
}

/* The bias b of node n as s32 codes at scale s_x * s_w[c] (m values): a
 * DequantizeLinear of s32 at that scale (zero point 0) as is, a float
 * constant (or another DequantizeLinear of a constant) quantized to it.
 * *out: a new tensor, or NULL when the bias is none of these (why says so). */
static cq_status bias_codes(const cq_graph *g, int n, int k, int64_t m, float sx, const qlin *w,
                            cq_tensor **out, char *why, cq_err *err)
{
    qlin d;
    const cq_tensor *bf = cdata(g, g->nodes[n].inputs[k]);
    int is_dq = dq_in(g, n, k, &d, NULL) && cdata(g, d.codes) && (d.count == 1 || d.count == m);
    *out = NULL;
    if (!is_dq && (!bf || bf->dtype != CQ_F32)) {
        no(why, "input %d: the bias is neither a f32 constant nor a DequantizeLinear of constant "
           "codes", k);
        return CQ_OK;
    }
    const cq_tensor *src = is_dq ? cdata(g, d.codes) : bf;
    if (cq_tensor_numel(src) != m || !cq_tensor_is_contiguous(src)) {
        no(why, "input %d: the bias has %lld values for %lld channels", k,
           (long long)cq_tensor_numel(src), (long long)m);
        return CQ_OK;
    }
    const float *sw = fdata(g, w->scale);
    const cq_tensor *bs = is_dq ? cdata(g, d.scale) : NULL;
    const cq_tensor *bz = is_dq ? cdata(g, d.zp) : NULL;
    cq_tensor *t = cq_tensor_new(CQ_S32, 1, &m, err);
    if (!t)
        return err->code;
    int32_t *o = cq_tensor_data(t);
    for (int64_t c = 0; c < m; c++) {
        double s = (double)(sx * sw[w->count == 1 ? 0 : c]);
        double x = elem(src, c);
        if (is_dq) {
            double ds = elem(bs, d.count == 1 ? 0 : c), dz = bz ? elem(bz, d.count == 1 ? 0 : c) : 0;
            if (d.dt == CQ_S32 && dz == 0 && fabs(ds - s) <= 1e-3 * s) {
                o[c] = (int32_t)x;
                continue;
            }
            x = (x - dz) * ds;
        }
        double r = nearbyint(x / s);
        o[c] = r > 2147483647.0 ? 2147483647 : r < -2147483648.0 ? -2147483647 - 1 : (int32_t)r;
    }
    *out = t;
    return CQ_OK;
}

/* Where the integer op that replaces product node n writes: straight into
 * the QuantizeLinear's output when there is no activation or it is a no-op
 * on the codes (the QuantizeLinear and the activation go), else into a new
 * value that a DequantizeLinear turns back into y for the activation, whose
 * QuantizeLinear stays (exact: Q(act(DQ(c))) runs on representable values).
 * Marks n dead. The value, or -1. */
static int out_target(cq_graph *g, int n, const qlin *q, int act, int zy, cq_err *err)
{
    int y = g->nodes[n].outputs[0];
    g->nodes[n].dead = 1;
    if (act < 0 || cq__quant_act_noop(g, &g->nodes[act], q->dt, (float)elem(cdata(g, q->scale), 0),
                                      q->zp >= 0 ? (int32_t)elem(cdata(g, q->zp), 0) : 0)) {
        if (act >= 0)
            g->nodes[act].dead = 1;
        g->nodes[q->node].dead = 1;
        return q->codes;
    }
    int out = cq__quant_fresh(g, g->values[y].name, "_qlinear", err);
    if (out < 0)
        return -1;
    g->values[y].producer = -1;
    const char *dn[3] = {g->values[out].name, g->values[q->scale].name, g->values[zy].name};
    const char *dy[1] = {g->values[y].name};
    char *name = cq__quant_node_name(g, g->values[y].name, "_DequantizeLinear");
    if (!name) {
        cq_errf(err, CQ_ENOMEM, "lower: out of memory");
        return -1;
    }
    int d = cq_graph_add_node(g, "DequantizeLinear", name, "", 3, dn, 1, dy, err);
    free(name);
    return d < 0 ? -1 : out;
}

/* Add the integer op (named as node n) reading in[0..n_in) (-1: omitted)
 * and writing out; moves n's attributes to it when move. The node or -1. */
int cq__quant_add_op(cq_graph *g, int n, const char *op, int n_in, const int *in, int out, int move,
                     cq_err *err)
{
    return cq__quant_add_op_in(g, n, op, "", n_in, in, out, move, err);
}

int cq__quant_add_op_in(cq_graph *g, int n, const char *op, const char *domain, int n_in,
                        const int *in, int out, int move, cq_err *err)
{
    const char *names[9], *outs[1] = {g->values[out].name};
    for (int k = 0; k < n_in; k++)
        names[k] = in[k] >= 0 ? g->values[in[k]].name : "";
    char *name = malloc(strlen(g->nodes[n].name) + 1);
    if (!name) {
        cq_errf(err, CQ_ENOMEM, "lower: out of memory");
        return -1;
    }
    strcpy(name, g->nodes[n].name);
    int k = cq_graph_add_node(g, op, name, domain, n_in, names, 1, outs, err);
    free(name);
    if (k >= 0 && move) {
        g->nodes[k].attrs = g->nodes[n].attrs;
        g->nodes[k].n_attrs = g->nodes[n].n_attrs;
        g->nodes[n].attrs = NULL;
        g->nodes[n].n_attrs = 0;
    }
    return k;
}

static int axis_is(const qlin *d, int ndim, int want)
{
    if (d->count == 1)
        return 1;
    int a = d->axis < 0 ? d->axis + ndim : d->axis;
    return a == want;
}

/* Weights (slot k): constant 8-bit codes. */
static int weights_in(const cq_graph *g, const qlin *d, int k, char *why)
{
    if (d->dt == CQ_S32)
        return no(why, "input %d: int32 codes", k);
    if (!cdata(g, d->codes))
        return no(why, "input %d: the weights' codes are not constant", k);
    return 1;
}

static cq_status lower_conv(cq_graph *g, int n, int *done, char *why, cq_err *err)
{
    const cq_node *c = &g->nodes[n];
    qlin x, w, q;
    int act;
    if (!dq_in(g, n, 0, &x, why) || !act_in(&x, 0, why) || !dq_in(g, n, 1, &w, why) ||
        !weights_in(g, &w, 1, why) || !out_q(g, c->outputs[0], &act, &q, why))
        return CQ_OK;
    const cq_tensor *wc = cdata(g, w.codes);
    int64_t m = wc->ndim >= 3 ? wc->shape[0] : 0;
    if (!m) {
        no(why, "input 1: weights of rank %d", wc->ndim);
        return CQ_OK;
    }
    if ((w.count != 1 && w.count != m) || !axis_is(&w, wc->ndim, 0)) {
        no(why, "input 1: weights not quantized per tensor or per output channel");
        return CQ_OK;
    }
    cq_tensor *bias = NULL;
    if (c->n_inputs > 2 && c->inputs[2] >= 0) {
        cq_status bst = bias_codes(g, n, 2, m, (float)elem(cdata(g, x.scale), 0), &w, &bias, why,
                                   err);
        if (bst || !bias)
            return bst;
    }
    char *base = malloc(strlen(c->name) + strlen(g->values[c->outputs[0]].name) + 2);
    cq_status st = base ? CQ_OK : cq_errf(err, CQ_ENOMEM, "lower: out of memory");
    if (!st)
        sprintf(base, "%s", g->values[c->outputs[0]].name);
    int bv = -1, zx = -1, zw = -1, zy = -1;
    if (!st && bias && (bv = cq__quant_init(g, base, "_bias_s32", bias, err)) < 0)
        st = err->code;
    if (!st && ((zx = zp_value(g, &x, base, err)) < 0 || (zw = zp_value(g, &w, base, err)) < 0 ||
                (zy = zp_value(g, &q, base, err)) < 0))
        st = err->code;
    if (!st) {
        int in[9] = {x.codes, x.scale, zx, w.codes, w.scale, zw, q.scale, zy, bv};
        int out = out_target(g, n, &q, act, zy, err);
        if (out < 0 || cq__quant_add_op(g, n, "QLinearConv", bv >= 0 ? 9 : 8, in, out, 1, err) < 0)
            st = err->code;
        else
            ++*done;
    }
    free(base);
    cq_tensor_release(bias);
    return st;
}

static cq_status lower_matmul(cq_graph *g, int n, int *done, char *why, cq_err *err)
{
    const cq_node *c = &g->nodes[n];
    qlin a, b, q;
    int act;
    if (!dq_in(g, n, 0, &a, why) || !act_in(&a, 0, why) || !dq_in(g, n, 1, &b, why) ||
        !out_q(g, c->outputs[0], &act, &q, why))
        return CQ_OK;
    if (b.dt == CQ_S32) {
        no(why, "input 1: int32 codes");
        return CQ_OK;
    }
    if (b.count != 1) {
        const cq_tensor *bc = cdata(g, b.codes);
        if (!bc || bc->ndim != 2 || b.count != bc->shape[1] || !axis_is(&b, 2, 1)) {
            no(why, "input 1: quantized per channel, not per column of a 2-D constant");
            return CQ_OK;
        }
    }
    int z[3];
    int zy = zp_values3(g, c->outputs[0], &a, &b, &q, z, err);
    if (zy < 0)
        return err->code;
    int in[8] = {a.codes, a.scale, z[0], b.codes, b.scale, z[1], q.scale, zy};
    int out = out_target(g, n, &q, act, zy, err);
    if (out < 0 || cq__quant_add_op(g, n, "QLinearMatMul", 8, in, out, 0, err) < 0)
        return err->code;
    ++*done;
    return CQ_OK;
}

/* DQ(a) + DQ(b) -> [act ->] Q, one dtype throughout: QLinearAdd
 * (com.microsoft), whose arithmetic is ONNX Runtime's (kern.h). */
/* DQ(a) + DQ(b) -> [Relu ->] Q as QLinearAdd, DQ(a) * DQ(b) -> Q as
 * QLinearMul (com.microsoft), in ONNX Runtime's arithmetic (kern.h). */
static cq_status lower_add(cq_graph *g, int n, const char *qop, int *done, char *why,
                           cq_err *err)
{
    const cq_node *c = &g->nodes[n];
    qlin a, b, q;
    int act;
    if (!dq_in(g, n, 0, &a, why) || !act_in(&a, 0, why) || !dq_in(g, n, 1, &b, why) ||
        !act_in(&b, 1, why) || !out_q(g, c->outputs[0], &act, &q, why))
        return CQ_OK;
    for (int s = 0; !strcmp(qop, "QLinearMul") && s < 2; s++) {
        /* x * Q(f(x)) (a SiLU, x * sigmoid(x)) is a function of x's codes
         * alone: the executor runs DQ -> f -> Q -> DQ -> Mul -> Q as one table */
        int qs = g->values[(s ? &b : &a)->codes].producer;
        int f = qs >= 0 && is_op(&g->nodes[qs], "QuantizeLinear") ? g->nodes[qs].inputs[0] : -1;
        int fp = f >= 0 ? g->values[f].producer : -1;
        if (fp >= 0 && g->nodes[fp].n_inputs > 0 && g->nodes[fp].inputs[0] == c->inputs[1 - s]) {
            no(why, "a gate of its other input (x * f(x)): the executor's table runs it");
            return CQ_OK;
        }
    }
    if (b.dt != a.dt || q.dt != a.dt) {
        no(why, "inputs and output of different code types (%s, %s, %s)",
           cq_dtype_info(a.dt)->name, cq_dtype_info(b.dt)->name, cq_dtype_info(q.dt)->name);
        return CQ_OK;
    }
    int z[3];
    int zy = zp_values3(g, c->outputs[0], &a, &b, &q, z, err);
    if (zy < 0 || cq__quant_import_domain(g, "com.microsoft", 1, err) != CQ_OK)
        return err->code;
    int in[8] = {a.codes, a.scale, z[0], b.codes, b.scale, z[1], q.scale, zy};
    int out = out_target(g, n, &q, act, zy, err);
    if (out < 0)
        return err->code;
    const char *names[8], *outs[1] = {g->values[out].name};
    for (int k = 0; k < 8; k++)
        names[k] = g->values[in[k]].name;
    char *name = malloc(strlen(g->nodes[n].name) + 1);
    if (!name)
        return cq_errf(err, CQ_ENOMEM, "lower: out of memory");
    strcpy(name, g->nodes[n].name);
    int k = cq_graph_add_node(g, qop, name, "com.microsoft", 8, names, 1, outs, err);
    free(name);
    if (k < 0)
        return err->code;
    ++*done;
    return CQ_OK;
}

/* Gemm (transA 0, alpha 1, beta 1): Reshape [M, K, 1, 1] -> QLinearConv 1x1
 * with the bias in its int32 sums -> Reshape [M, N]. */
static cq_status lower_gemm(cq_graph *g, int n, int *done, char *why, cq_err *err)
{
    const cq_node *c = &g->nodes[n];
    qlin x, w, q;
    int act;
    if (cq_node_int(c, "transA", 0) || cq_node_float(c, "alpha", 1) != 1.0f ||
        (c->n_inputs > 2 && c->inputs[2] >= 0 && cq_node_float(c, "beta", 1) != 1.0f)) {
        no(why, "transA, alpha or beta is not the default");
        return CQ_OK;
    }
    if (!dq_in(g, n, 0, &x, why) || !act_in(&x, 0, why) || !dq_in(g, n, 1, &w, why) ||
        !weights_in(g, &w, 1, why) || !out_q(g, c->outputs[0], &act, &q, why))
        return CQ_OK;
    const cq_tensor *wc = cdata(g, w.codes);
    int tb = cq_node_int(c, "transB", 0) != 0;
    if (wc->ndim != 2 || !cq_tensor_is_contiguous(wc)) {
        no(why, "input 1: weights of rank %d", wc->ndim);
        return CQ_OK;
    }
    int64_t nn = wc->shape[tb ? 0 : 1], kk = wc->shape[tb ? 1 : 0];
    if ((w.count != 1 && w.count != nn) || !axis_is(&w, 2, tb ? 0 : 1)) {
        no(why, "input 1: weights not quantized per tensor or per output channel");
        return CQ_OK;
    }
    cq_tensor *bias = NULL;
    if (c->n_inputs > 2 && c->inputs[2] >= 0) {
        cq_status bst = bias_codes(g, n, 2, nn, (float)elem(cdata(g, x.scale), 0), &w, &bias, why,
                                   err);
        if (bst || !bias)
            return bst;
    }
    /* the weights as [N, K, 1, 1] */
    int64_t ws[4] = {nn, kk, 1, 1};
    cq_tensor *w4 = cq_tensor_empty(wc->dtype, 4, ws, err);
    if (!w4) {
        cq_tensor_release(bias);
        return err->code;
    }
    const int8_t *src = cq_tensor_data(wc);
    int8_t *dst = cq_tensor_data(w4);
    for (int64_t i = 0; i < nn; i++)
        for (int64_t j = 0; j < kk; j++)
            dst[i * kk + j] = tb ? src[i * kk + j] : src[j * nn + i];
    const char *y = g->values[c->outputs[0]].name;
    char *base = malloc(strlen(y) + 1);
    cq_status st = base ? CQ_OK : cq_errf(err, CQ_ENOMEM, "lower: out of memory");
    int wv = -1, bv = -1, s_in = -1, s_out = -1, x4 = -1, y4 = -1, zx = -1, zw = -1, zy = -1;
    if (!st) {
        strcpy(base, y);
        int64_t in_shape[4] = {-1, kk, 1, 1}, out_shape[2] = {-1, nn};
        if ((wv = cq__quant_init(g, base, "_weight_1x1", w4, err)) < 0 ||
            (bias && (bv = cq__quant_init(g, base, "_bias_s32", bias, err)) < 0) ||
            (s_in = cq__quant_shape_init(g, base, "_shape_in", 4, in_shape, err)) < 0 ||
            (s_out = cq__quant_shape_init(g, base, "_shape_out", 2, out_shape, err)) < 0 ||
            (x4 = cq__quant_fresh(g, base, "_input_4d", err)) < 0 ||
            (y4 = cq__quant_fresh(g, base, "_qlinear_4d", err)) < 0 ||
            (zx = zp_value(g, &x, base, err)) < 0 || (zw = zp_value(g, &w, base, err)) < 0 ||
            (zy = zp_value(g, &q, base, err)) < 0)
            st = err->code;
    }
    if (!st) {
        const char *rin[2] = {g->values[x.codes].name, g->values[s_in].name};
        const char *rout[1] = {g->values[x4].name};
        char *rn = malloc(strlen(base) + 16);
        if (!rn || cq_graph_add_node(g, "Reshape", (sprintf(rn, "%s_reshape_in", base), rn), "",
                                     2, rin, 1, rout, err) < 0)
            st = rn ? err->code : cq_errf(err, CQ_ENOMEM, "lower: out of memory");
        free(rn);
    }
    int out = -1;
    if (!st) {
        int in[9] = {x4, x.scale, zx, wv, w.scale, zw, q.scale, zy, bv};
        if ((out = out_target(g, n, &q, act, zy, err)) < 0 ||
            cq__quant_add_op(g, n, "QLinearConv", bv >= 0 ? 9 : 8, in, y4, 0, err) < 0)
            st = err->code;
    }
    if (!st) {
        /* out: what the Reshape back to [M, N] must write */
        const char *rin[2] = {g->values[y4].name, g->values[s_out].name};
        const char *rout[1] = {g->values[out].name};
        char *rn = malloc(strlen(base) + 16);
        if (!rn || cq_graph_add_node(g, "Reshape", (sprintf(rn, "%s_reshape_out", base), rn), "",
                                     2, rin, 1, rout, err) < 0)
            st = rn ? err->code : cq_errf(err, CQ_ENOMEM, "lower: out of memory");
        free(rn);
        if (!st)
            ++*done;
    }
    free(base);
    cq_tensor_release(w4);
    cq_tensor_release(bias);
    return st;
}

/* Q and DQ nodes nothing reads any more. */
static void drop_unread(cq_graph *g)
{
    /* from the last node back: a pair's DequantizeLinear goes before its
     * QuantizeLinear is asked (one sweep where the nodes are in order) */
    for (int changed = 1; changed;) {
        changed = 0;
        for (int i = g->n_nodes - 1; i >= 0; i--) {
            cq_node *n = &g->nodes[i];
            if (n->dead || (!is_op(n, "QuantizeLinear") && !is_op(n, "DequantizeLinear")))
                continue;
            int y = n->outputs[0];
            if (y >= 0 && (g->values[y].is_output || cq_graph_consumers(g, y, NULL, 0) > 0))
                continue;
            n->dead = 1;
            changed = 1;
        }
    }
}

/* ---- other tools' files: constants, Casts ------------------------------ */

static int any_dq(const cq_graph *g)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (is_op(&g->nodes[i], "DequantizeLinear"))
            return 1;
    return 0;
}

/* A live node other than a DequantizeLinear that reads only constants (a
 * Constant node reads nothing): something constant folding would fold.
 * calq's own QDQ graphs (made from a planned graph) hold none, and so are
 * lowered exactly as they are. */
static int any_foldable(const cq_graph *g)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const cq_node *n = &g->nodes[i];
        if (n->dead || is_op(n, "DequantizeLinear"))
            continue;
        int k = 0;
        while (k < n->n_inputs && (n->inputs[k] < 0 || cdata(g, n->inputs[k])))
            k++;
        if (k == n->n_inputs)
            return 1;
    }
    return 0;
}

/* Cast node i when it reads a QuantizeLinear's codes: 1 and *to its target
 * dtype's ONNX type, *dt the codes' dtype; 0 when it does not. */
static int cast_of_q(const cq_graph *g, int i, int64_t *to, cq_dtype *dt)
{
    const cq_node *n = &g->nodes[i];
    qlin q;
    if (!is_op(n, "Cast") || n->n_inputs != 1 || n->n_outputs != 1 || n->inputs[0] < 0 ||
        n->outputs[0] < 0)
        return 0;
    if (!qlin_of(g, g->values[n->inputs[0]].producer, "QuantizeLinear", &q, NULL))
        return 0;
    *to = cq_node_int(n, "to", 0);
    *dt = q.dt;
    return 1;
}

/* The report's note: node i stays float because of why. */
static cq_status note(cq_quant_lower_result *r, const cq_graph *g, int i, const char *why,
                      cq_err *err)
{
    if (!r)
        return CQ_OK;
    const cq_node *n = &g->nodes[i];
    const char *name = n->name;
    if (!*name && n->n_outputs > 0 && n->outputs[0] >= 0)
        name = g->values[n->outputs[0]].name;
    cq_quant_lower_note *k = realloc(r->kept, (size_t)(r->n_kept + 1) * sizeof *k);
    if (k)
        r->kept = k;
    char *a = k ? malloc(strlen(name) + 1) : NULL, *b = a ? malloc(strlen(n->op_type) + 1) : NULL;
    char *c = b ? malloc(strlen(why) + 1) : NULL;
    if (!c) {
        free(a);
        free(b);
        return cq_errf(err, CQ_ENOMEM, "lower: out of memory");
    }
    k[r->n_kept].node = strcpy(a, name);
    k[r->n_kept].op_type = strcpy(b, n->op_type);
    k[r->n_kept++].reason = strcpy(c, why);
    return CQ_OK;
}

/* Remove the Casts that read a QuantizeLinear's codes and convert them to
 * their own type (PyTorch's export puts a Cast to uint8 between each
 * QuantizeLinear and DequantizeLinear of u8 activations; ONNX Runtime's
 * CastElimination removes them too): their readers read the codes. A Cast
 * to another type stays and runs on the codes as before, what reads it
 * seeing the codes it makes (reported, r may be NULL). */
static cq_status drop_identity_casts(cq_graph *g, cq_quant_lower_result *r, int *count,
                                     cq_err *err)
{
    /* each Cast's readers from an index: a Cast reads a QuantizeLinear's
     * codes, never another Cast's output, so rewiring one Cast's readers
     * leaves every other Cast's as the index has them */
    cq_graph_uses uses;
    memset(&uses, 0, sizeof uses);
    int indexed = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        int64_t to;
        cq_dtype dt;
        if (!cast_of_q(g, i, &to, &dt))
            continue;
        cq_node *n = &g->nodes[i];
        int from = n->inputs[0], y = n->outputs[0];
        if (to != cq_dtype_info(dt)->onnx_type || g->values[y].is_output) {
            char why[WHY_MAX];
            cq_dtype tdt;
            const char *tn = cq_dtype_from_onnx((int)to, &tdt) ? cq_onnx_type_name((int)to)
                                                                : cq_dtype_info(tdt)->name;
            snprintf(why, sizeof why, "Cast of %s codes to %s%s: stays, what reads it sees the "
                     "codes it makes", cq_dtype_info(dt)->name, tn,
                     g->values[y].is_output ? " (a graph output)" : "");
            if (note(r, g, i, why, err)) {
                cq_graph_uses_free(&uses);
                return err->code;
            }
            continue;
        }
        if (!indexed && cq_graph_uses_build(g, &uses, err))
            return err->code;
        indexed = 1;
        int nr = cq_graph_uses_count(&uses, y);
        const int *rd = cq_graph_uses_list(&uses, y);
        for (int j = 0; j < nr; j++) {
            cq_node *c = &g->nodes[rd[j]];
            for (int k = 0; !c->dead && k < c->n_inputs; k++)
                if (c->inputs[k] == y)
                    c->inputs[k] = from;
        }
        g->values[y].producer = -1;
        n->dead = 1;
        ++*count;
    }
    cq_graph_uses_free(&uses);
    return CQ_OK;
}

/* ---- the rewrite ------------------------------------------------------- */

/* Lower g; r is filled (zeroed first), with the notes when notes. */
static cq_status lower_graph(cq_graph *g, cq_quant_lower_result *r, int notes, cq_err *err)
{
    memset(r, 0, sizeof *r);
    if (!any_dq(g))
        return CQ_OK; /* no QDQ: nothing to rewrite */
    int changed = 0;
    cq_status st = CQ_OK;
    if (any_foldable(g)) {
        st = cq_graph_toposort(g, err);
        if (!st)
            st = cq_pass_fold_constants_except(g, "DequantizeLinear", &r->folded, err);
        if (st)
            return cq_err_prefix(err, st, "lower: ");
        changed = 1;
    }
    if ((st = drop_identity_casts(g, notes ? r : NULL, &r->casts, err)))
        return st;
    changed |= r->casts > 0;
    /* the rewrites ask who reads each output and name new nodes: from an
     * index and a hash, linear in the node count */
    if ((st = cq_graph_readers_begin(g, err)))
        return st;
    int n0 = g->n_nodes;
    for (int i = 0; !st && i < n0; i++) {
        const cq_node *n = &g->nodes[i];
        char why[WHY_MAX] = "";
        int before = r->lowered;
        if (n->dead || n->n_outputs != 1)
            continue;
        if (is_op(n, "Conv"))
            st = lower_conv(g, i, &r->lowered, why, err);
        else if (is_op(n, "MatMul"))
            st = lower_matmul(g, i, &r->lowered, why, err);
        else if (is_op(n, "Gemm"))
            st = lower_gemm(g, i, &r->lowered, why, err);
        else if (is_op(n, "Add"))
            st = lower_add(g, i, "QLinearAdd", &r->lowered, why, err);
        else if (is_op(n, "GlobalAveragePool"))
            st = cq__quant_lower_gap(g, i, &r->lowered, why, err);
        else if (is_op(n, "Mul"))
            st = lower_add(g, i, "QLinearMul", &r->lowered, why, err);
        else if (is_op(n, "MaxPool") || is_op(n, "Reshape") || is_op(n, "Flatten") ||
                 is_op(n, "Squeeze") || is_op(n, "Unsqueeze") || is_op(n, "Transpose") ||
                 is_op(n, "Slice") || is_op(n, "Concat") || is_op(n, "Resize"))
            st = cq__quant_lower_move(g, i, &r->lowered, why, err);
        else
            continue;
        if (!st && notes && r->lowered == before && *why)
            st = note(r, g, i, why, err);
    }
    if (!st && (r->lowered || changed))
        drop_unread(g);
    cq_graph_readers_end(g);
    if (!st && (r->lowered || changed)) {
        st = cq_graph_toposort(g, err);
        if (!st)
            st = cq_graph_compact(g, err);
    }
    return st;
}

cq_status cq_quant_lower_report(cq_graph *g, cq_quant_lower_result *r, cq_err *err)
{
    cq_status st = lower_graph(g, r, 1, err);
    if (st)
        cq_quant_lower_result_clear(r);
    return st;
}

cq_status cq_quant_lower(cq_graph *g, int *count, cq_err *err)
{
    cq_quant_lower_result r;
    cq_status st = lower_graph(g, &r, 0, err);
    if (count)
        *count = st ? 0 : r.lowered;
    cq_quant_lower_result_clear(&r);
    return st;
}

void cq_quant_lower_result_clear(cq_quant_lower_result *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->n_kept; i++) {
        free(r->kept[i].node);
        free(r->kept[i].op_type);
        free(r->kept[i].reason);
    }
    free(r->kept);
    memset(r, 0, sizeof *r);
}
