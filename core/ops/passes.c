/* passes.c - constant folding, BatchNorm folding, Identity removal and static
 * shape inference (see passes.h). */
#include "ops/passes.h"

#include "ops/ops_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What is statically known about value v (ndim -1 when not fully known). */
static void value_info(const cq_graph *g, int v, cq_tinfo *ti)
{
    memset(ti, 0, sizeof *ti);
    ti->ndim = -1;
    if (v < 0)
        return;
    const cq_value *val = &g->values[v];
    if (val->data) {
        ti->dtype = val->data->dtype;
        ti->ndim = val->data->ndim;
        memcpy(ti->shape, val->data->shape, sizeof ti->shape);
        ti->data = cq_tensor_is_contiguous(val->data) ? val->data : NULL;
        return;
    }
    if (!val->has_type || val->ndim < 0)
        return;
    for (int i = 0; i < val->ndim; i++)
        if (val->shape[i] < 0)
            return;
    ti->dtype = val->dtype;
    ti->ndim = val->ndim;
    memcpy(ti->shape, val->shape, sizeof ti->shape);
}

cq_status cq__run_node(const cq_graph *g, int i, cq_tensor *const *in, cq_tensor **out,
                       cq_openv *env, cq_err *err)
{
    const cq_node *n = &g->nodes[i];
    const cq_op *op = cq_op_find(n->op_type, n->domain);
    if (!op)
        return cq_errf(err, CQ_EUNSUPPORTED, "node '%s': unsupported operator %s", n->name,
                       n->op_type);
    cq_tinfo ti[CQ_OP_MAX_INPUTS], to[CQ_OP_MAX_OUTPUTS];
    if (n->n_inputs > CQ_OP_MAX_INPUTS || n->n_outputs > CQ_OP_MAX_OUTPUTS)
        return cq_errf(err, CQ_EUNSUPPORTED, "node '%s': too many inputs or outputs", n->name);
    cq_tinfo_of(n->n_inputs, in, ti);
    memset(to, 0, sizeof to);
    env->opset = cq_op_opset(g, n);
    if (cq_op_check_node(n, env->opset, err))
        return err->code;
    if (op->infer(n, env->opset, n->n_inputs, ti, n->n_outputs, to, err))
        return err->code;
    for (int k = 0; k < n->n_outputs; k++) /* all NULL first: fail releases them all */
        out[k] = NULL;
    for (int k = 0; k < n->n_outputs; k++) {
        if (n->outputs[k] < 0)
            continue;
        const cq_limits def = CQ_LIMITS_DEFAULT;
        uint64_t want, lim = env->max_bytes ? env->max_bytes : def.max_tensor_bytes;
        char shape[160], nb[48];
        int over = cq_shape_bytes(to[k].dtype, to[k].ndim, to[k].shape, &want) != 0;
        if (over || want > lim) {
            cq_errf(err, CQ_ENOMEM, "node '%s' (%s): output %d (%s %s) would take %s bytes, "
                    "above the limit of %llu bytes per tensor (max_tensor_bytes)", n->name,
                    n->op_type, k, cq_dtype_info(to[k].dtype)->name,
                    cq_shape_str(to[k].ndim, to[k].shape, shape, sizeof shape),
                    cq_shape_bytes_str(to[k].dtype, to[k].ndim, to[k].shape, nb, sizeof nb),
                    (unsigned long long)lim);
            goto fail;
        }
        out[k] = cq_tensor_empty(to[k].dtype, to[k].ndim, to[k].shape, err);
        if (!out[k])
            goto fail;
    }
    /* a plan the op makes (CQ_OP_PLAN) serves this call only */
    void *plan = NULL, **slot = env->plan;
    env->plan = &plan;
    cq_status st = op->run(n, n->n_inputs, in, n->n_outputs, out, env, err);
    env->plan = slot;
    if (plan && op->hooks && op->hooks->plan_free)
        op->hooks->plan_free(plan);
    if (st)
        goto fail;
    return CQ_OK;
fail:
    for (int k = 0; k < n->n_outputs; k++) {
        cq_tensor_release(out[k]);
        out[k] = NULL;
    }
    return err->code;
}

static void set_type(cq_graph *g, int v, const cq_tinfo *t)
{
    cq_value *val = &g->values[v];
    if (val->data)
        return;
    val->has_type = 1;
    val->dtype = t->dtype;
    val->onnx_elem_type = cq_dtype_info(t->dtype)->onnx_type;
    val->ndim = t->ndim;
    for (int i = 0; i < CQ_MAX_DIMS; i++)
        val->shape[i] = i < t->ndim ? t->shape[i] : 0;
}

/* Infer node i's outputs statically; 1 when known, 0 when not, -1 on error. */
static int infer_node(cq_graph *g, int i, cq_err *err)
{
    cq_node *n = &g->nodes[i];
    const cq_op *op = cq_op_find(n->op_type, n->domain);
    if (!op || n->n_inputs > CQ_OP_MAX_INPUTS || n->n_outputs > CQ_OP_MAX_OUTPUTS)
        return 0;
    cq_tinfo ti[CQ_OP_MAX_INPUTS], to[CQ_OP_MAX_OUTPUTS];
    if (cq_op_check_node(n, cq_op_opset(g, n), err))
        return -1;
    for (int k = 0; k < n->n_inputs; k++) {
        value_info(g, n->inputs[k], &ti[k]);
        if (n->inputs[k] >= 0 && ti[k].ndim < 0)
            return 0;
    }
    memset(to, 0, sizeof to);
    cq_err e2;
    if (op->infer(n, cq_op_opset(g, n), n->n_inputs, ti, n->n_outputs, to, &e2)) {
        if (e2.code == CQ_ESTATE || e2.code == CQ_EUNSUPPORTED)
            return 0;
        *err = e2;
        return -1;
    }
    for (int k = 0; k < n->n_outputs; k++)
        if (n->outputs[k] >= 0)
            set_type(g, n->outputs[k], &to[k]);
    return 1;
}

cq_status cq_graph_infer_shapes(cq_graph *g, cq_err *err)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].dead && infer_node(g, i, err) < 0)
            return err->code;
    return CQ_OK;
}

static int all_const(const cq_graph *g, const cq_node *n)
{
    for (int k = 0; k < n->n_inputs; k++) {
        int v = n->inputs[k];
        if (v >= 0 && (!g->values[v].data || !cq_tensor_is_contiguous(g->values[v].data)))
            return 0;
    }
    return 1;
}

cq_status cq_pass_fold_constants(cq_graph *g, int *count, cq_err *err)
{
    return cq_pass_fold_constants_except(g, NULL, count, err);
}

static cq_status fold_constants(cq_graph *g, const char *keep_op, uint64_t max_bytes,
                                int *count, cq_err *err);

cq_status cq_pass_fold_constants_except(cq_graph *g, const char *keep_op, int *count, cq_err *err)
{
    return fold_constants(g, keep_op, 0, count, err);
}

static cq_status fold_constants(cq_graph *g, const char *keep_op, uint64_t max_bytes,
                                int *count, cq_err *err)
{
    int folded = 0;
    cq_openv env = {0};
    env.max_bytes = max_bytes;
    for (int i = 0; i < g->n_nodes; i++) {
        cq_node *n = &g->nodes[i];
        if (n->dead)
            continue;
        int r = infer_node(g, i, err);
        if (r < 0)
            goto fail;
        const cq_op *op = cq_op_find(n->op_type, n->domain);
        if (!op || n->n_inputs > CQ_OP_MAX_INPUTS || n->n_outputs > CQ_OP_MAX_OUTPUTS)
            continue;
        if (keep_op && !strcmp(n->op_type, keep_op) &&
            (!n->domain || !*n->domain || !strcmp(n->domain, "ai.onnx")))
            continue;
        /* a node reading only shapes folds once they are known statically */
        int shape_only = (op->caps & CQ_OP_SHAPE_ONLY) && n->n_inputs == 1 && r == 1;
        if (!shape_only && !all_const(g, n))
            continue;
        int out_is_input = 0;
        for (int k = 0; k < n->n_outputs; k++)
            if (n->outputs[k] >= 0 && g->values[n->outputs[k]].is_input)
                out_is_input = 1;
        if (out_is_input)
            continue;
        cq_tensor *in[CQ_OP_MAX_INPUTS], *out[CQ_OP_MAX_OUTPUTS];
        cq_tensor *dummy = NULL;
        for (int k = 0; k < n->n_inputs; k++)
            in[k] = n->inputs[k] >= 0 ? g->values[n->inputs[k]].data : NULL;
        if (shape_only) {
            /* Shape reads only its input's shape: a zero-stride view will do. */
            const cq_value *v = &g->values[n->inputs[0]];
            dummy = cq_tensor_new(v->dtype, 0, NULL, err);
            if (!dummy)
                goto fail;
            cq_tensor *x = cq_tensor_expand(dummy, v->ndim, v->shape, err);
            cq_tensor_release(dummy);
            if (!x)
                goto fail;
            dummy = in[0] = x;
        }
        cq_status st = cq__run_node(g, i, in, out, &env, err);
        cq_tensor_release(dummy);
        if (st) {
            cq_err_prefix(err, st, "constant folding: ");
            goto fail;
        }
        for (int k = 0; k < n->n_outputs; k++) {
            if (!out[k])
                continue;
            int v = n->outputs[k];
            st = cq_graph_add_initializer(g, v, out[k], err);
            cq_tensor_release(out[k]);
            if (st) {
                for (int j = k + 1; j < n->n_outputs; j++)
                    cq_tensor_release(out[j]);
                goto fail;
            }
            g->values[v].producer = -1;
        }
        n->dead = 1;
        folded++;
    }
    cq_free(env.scratch);
    if (count)
        *count = folded;
    return CQ_OK;
fail:
    cq_free(env.scratch);
    return err->code;
}

static const float *const_f32(const cq_graph *g, int v, int64_t n)
{
    if (v < 0)
        return NULL;
    const cq_tensor *t = g->values[v].data;
    if (!t || t->dtype != CQ_F32 || !cq_tensor_is_contiguous(t) || cq_tensor_numel(t) != n)
        return NULL;
    return cq_tensor_data(t);
}

static cq_status fold_bn(cq_graph *g, const cq_graph_uses *uses, int *count, cq_err *err);

/* The readers of every value come from one index built at the start
 * (cq_graph_uses), so the pass is linear in the node count: folding
 * rewires a Conv's weights and output, never who reads its old output. */
cq_status cq_pass_fold_bn(cq_graph *g, int *count, cq_err *err)
{
    int folded = 0;
    cq_graph_uses uses;
    if (cq_graph_uses_build(g, &uses, err))
        return err->code;
    cq_status st = fold_bn(g, &uses, &folded, err);
    cq_graph_uses_free(&uses);
    if (count)
        *count = folded;
    return st;
}

static cq_status fold_bn(cq_graph *g, const cq_graph_uses *uses, int *count, cq_err *err)
{
    int folded = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        cq_node *bn = &g->nodes[i];
        if (bn->dead || strcmp(bn->op_type, "BatchNormalization") || (bn->domain && *bn->domain) ||
            bn->n_inputs < 5 || cq_node_int(bn, "training_mode", 0))
            continue;
        int extra = 0;
        for (int k = 1; k < bn->n_outputs; k++)
            if (bn->outputs[k] >= 0)
                extra = 1;
        int x = bn->inputs[0];
        if (extra || x < 0 || g->values[x].producer < 0 || g->values[x].is_output)
            continue;
        int ci = g->values[x].producer;
        cq_node *cv = &g->nodes[ci];
        if (cv->dead || strcmp(cv->op_type, "Conv") || (cv->domain && *cv->domain) ||
            cv->n_inputs < 2 || cq_graph_uses_count(uses, x) != 1)
            continue;
        const cq_tensor *w = g->values[cv->inputs[1]].data;
        if (!w || w->dtype != CQ_F32 || !cq_tensor_is_contiguous(w) || w->ndim < 1)
            continue;
        int64_t m = w->shape[0], per = cq_tensor_numel(w) / (m ? m : 1);
        const float *sc = const_f32(g, bn->inputs[1], m), *be = const_f32(g, bn->inputs[2], m);
        const float *mu = const_f32(g, bn->inputs[3], m), *va = const_f32(g, bn->inputs[4], m);
        const float *ob = cv->n_inputs > 2 ? const_f32(g, cv->inputs[2], m) : NULL;
        if (!sc || !be || !mu || !va || (cv->n_inputs > 2 && cv->inputs[2] >= 0 && !ob))
            continue;
        float eps = cq_node_float(bn, "epsilon", 1e-5f);
        cq_tensor *nw = cq_tensor_clone(w, err);
        cq_tensor *nb = nw ? cq_tensor_empty(CQ_F32, 1, &m, err) : NULL;
        if (!nb) {
            cq_tensor_release(nw);
            return err->code;
        }
        float *pw = cq_tensor_data(nw), *pb = cq_tensor_data(nb);
        for (int64_t j = 0; j < m; j++) {
            double k = sc[j] / sqrt((double)va[j] + eps);
            for (int64_t q = 0; q < per; q++)
                pw[j * per + q] = (float)(pw[j * per + q] * k);
            pb[j] = (float)(((ob ? ob[j] : 0) - mu[j]) * k + be[j]);
        }
        char name[256];
        int vw = cq_graph_new_value(g, g->values[cv->inputs[1]].name, err);
        int vb = vw >= 0 ? (snprintf(name, sizeof name, "%s_bias", cv->name[0] ? cv->name : "conv"),
                            cq_graph_new_value(g, name, err))
                         : -1;
        cq_status st = vb < 0 ? err->code : cq_graph_add_initializer(g, vw, nw, err);
        if (!st)
            st = cq_graph_add_initializer(g, vb, nb, err);
        cq_tensor_release(nw);
        cq_tensor_release(nb);
        if (st)
            return st;
        cv = &g->nodes[ci];
        bn = &g->nodes[i];
        if (cv->n_inputs < 3) {
            int *ni = realloc(cv->inputs, 3 * sizeof *ni);
            if (!ni)
                return cq_errf(err, CQ_ENOMEM, "out of memory");
            cv->inputs = ni;
            cv->n_inputs = 3;
        }
        cv->inputs[1] = vw;
        cv->inputs[2] = vb;
        cv->outputs[0] = bn->outputs[0];
        g->values[bn->outputs[0]].producer = ci;
        g->values[x].producer = -1;
        bn->dead = 1;
        folded++;
    }
    *count = folded;
    return CQ_OK;
}

/* An Identity's readers read its input instead. In topological order, an
 * Identity's own input was rewired before it is reached, so its output's
 * readers are still the ones the index built at the start lists: the pass
 * is linear in the node count. */
cq_status cq_pass_remove_identity(cq_graph *g, int *count, cq_err *err)
{
    int removed = 0;
    cq_graph_uses uses;
    if (cq_graph_uses_build(g, &uses, err))
        return err->code;
    for (int i = 0; i < g->n_nodes; i++) {
        cq_node *n = &g->nodes[i];
        if (n->dead || strcmp(n->op_type, "Identity") || (n->domain && *n->domain) ||
            n->n_inputs != 1 || n->n_outputs != 1 || n->inputs[0] < 0 || n->outputs[0] < 0)
            continue;
        int from = n->inputs[0], to = n->outputs[0];
        if (g->values[to].is_output)
            continue;
        const int *r = cq_graph_uses_list(&uses, to);
        for (int j = 0; j < cq_graph_uses_count(&uses, to); j++) {
            cq_node *c = &g->nodes[r[j]];
            for (int k = 0; k < c->n_inputs; k++)
                if (c->inputs[k] == to)
                    c->inputs[k] = from;
        }
        g->values[to].producer = -1;
        n->dead = 1;
        removed++;
    }
    cq_graph_uses_free(&uses);
    if (count)
        *count = removed;
    return CQ_OK;
}

/* A default-domain node of op type op. */
static int is_op(const cq_node *n, const char *op)
{
    return !n->dead && !strcmp(n->op_type, op) && (!n->domain || !*n->domain);
}

/* Whether Conv cv is pointwise: a 1x1 kernel (constant f32 weights, 4-D),
 * stride 1, no padding, one output. Dilation and groups do not matter: each
 * output pixel is computed from the input pixel at the same place alone. */
static int conv_pointwise(const cq_graph *g, const cq_node *cv)
{
    if (cv->n_inputs < 2 || cv->n_inputs > 3 || cv->inputs[1] < 0 || cv->n_outputs != 1 ||
        cv->outputs[0] < 0)
        return 0;
    const cq_tensor *w = g->values[cv->inputs[1]].data;
    if (!w || w->ndim != 4 || w->shape[2] != 1 || w->shape[3] != 1)
        return 0;
    const char *ap = cq_node_string(cv, "auto_pad", "NOTSET");
    if (strcmp(ap, "NOTSET") && strcmp(ap, "VALID"))
        return 0;
    int64_t v[8];
    int64_t n = cq_node_ints(cv, "strides", v, 8);
    for (int64_t k = 0; k < n && k < 8; k++)
        if (v[k] != 1)
            return 0;
    n = cq_node_ints(cv, "pads", v, 8);
    for (int64_t k = 0; k < n && k < 8; k++)
        if (v[k] != 0)
            return 0;
    return 1;
}

/* Whether Resize rs (default domain, opset) copies each output pixel from one
 * input pixel of the same image and channel: nearest, N and C kept (scales
 * 1, or sizes equal to x's), no extrapolated taps. With a scale of 1 the
 * coordinate modes kept here give x_original = o exactly, which every
 * nearest_mode takes to o; tf_half_pixel_for_nn (o + 0.5) would not under
 * round_prefer_ceil or ceil, and tf_crop_and_resize extrapolates. */
static int resize_copies_pixels(const cq_graph *g, const cq_node *rs, int64_t opset,
                                const cq_tinfo *x)
{
    if (rs->n_inputs < 2 || rs->n_outputs != 1 || rs->outputs[0] < 0 ||
        strcmp(cq_node_string(rs, "mode", "nearest"), "nearest") || cq_node_attr(rs, "axes") ||
        strcmp(cq_node_string(rs, "keep_aspect_ratio_policy", "stretch"), "stretch"))
        return 0;
    const char *ctm = cq_node_string(rs, "coordinate_transformation_mode",
                                     opset < 11 ? "asymmetric" : "half_pixel");
    if (strcmp(ctm, "asymmetric") && strcmp(ctm, "half_pixel") &&
        strcmp(ctm, "pytorch_half_pixel") && strcmp(ctm, "align_corners"))
        return 0;
    int si = opset < 11 ? 1 : 2, zi = opset < 11 ? -1 : 3;
    const cq_tensor *sz = zi > 0 && rs->n_inputs > zi && rs->inputs[zi] >= 0
                              ? g->values[rs->inputs[zi]].data : NULL;
    const cq_tensor *sc = rs->n_inputs > si && rs->inputs[si] >= 0
                              ? g->values[rs->inputs[si]].data : NULL;
    if (sz && cq_tensor_numel(sz) > 0) {
        int64_t v[4];
        return cq_tensor_is_contiguous(sz) && cq__ints_of(sz, v, 4) == 4 &&
               v[0] == x->shape[0] && v[1] == x->shape[1];
    }
    if (!sc || sc->dtype != CQ_F32 || !cq_tensor_is_contiguous(sc) || cq_tensor_numel(sc) != 4)
        return 0;
    const float *s = cq_tensor_data(sc);
    return s[0] == 1 && s[1] == 1;
}

/* Resize (nearest) -> Conv 1x1 becomes Conv 1x1 -> Resize: the conv runs
 * on the smaller picture. Exact, bit for bit: nearest makes each output
 * pixel a copy of one input pixel, and a pointwise conv computes each pixel
 * from that pixel alone. Taken where it saves work: the resize enlarges
 * (out pixels P > in pixels p), so the conv does p / P of its work, and
 * c_out * p <= c_in * P, so the bytes the two nodes move do not grow
 * (before c_in (p + 2P) + c_out P, after c_in p + c_out (2p + P)). The
 * resize's output must be read by the conv alone (input 0) and be no graph
 * output. The conv's output keeps its name and now comes from the Resize;
 * the conv writes a new value, <output>_lowres. Node names stay with their
 * nodes, so a profile reports each node's own time. Shapes are those the
 * constant folding inferred; a node whose shapes are unknown is left. */
static cq_status conv_before_resize(cq_graph *g, const cq_graph_uses *uses, int *count,
                                    cq_err *err)
{
    int moved = 0;
    int64_t opset = cq_graph_opset(g, "");
    for (int i = 0; i < g->n_nodes; i++) {
        if (!is_op(&g->nodes[i], "Resize") || opset < 10 || g->nodes[i].inputs[0] < 0)
            continue;
        int xv = g->nodes[i].inputs[0], yv = g->nodes[i].outputs[0];
        cq_tinfo x, y;
        value_info(g, xv, &x);
        if (x.ndim != 4 || x.dtype != CQ_F32 || !resize_copies_pixels(g, &g->nodes[i], opset, &x))
            continue;
        value_info(g, yv, &y);
        if (y.ndim != 4 || g->values[yv].is_output || cq_graph_uses_count(uses, yv) != 1)
            continue;
        int ci = cq_graph_uses_list(uses, yv)[0];
        const cq_node *cv = &g->nodes[ci];
        if (!is_op(cv, "Conv") || !conv_pointwise(g, cv) || cv->inputs[0] != yv ||
            cv->inputs[1] == yv || (cv->n_inputs > 2 && cv->inputs[2] == yv))
            continue;
        int64_t c_in = x.shape[1], c_out = g->values[cv->inputs[1]].data->shape[0];
        int64_t p = x.shape[2] * x.shape[3], P = y.shape[2] * y.shape[3];
        if (y.shape[2] < x.shape[2] || y.shape[3] < x.shape[3] || P <= p || c_out * p > c_in * P)
            continue;
        /* sizes name the channels: the Resize now makes c_out of them */
        int zi = opset < 11 ? -1 : 3, zv = zi > 0 && g->nodes[i].n_inputs > zi
                                              ? g->nodes[i].inputs[zi] : -1;
        int new_sizes = zv >= 0 && g->values[zv].data && cq_tensor_numel(g->values[zv].data) > 0;
        if (new_sizes) {
            int64_t v[4];
            cq__ints_of(g->values[zv].data, v, 4);
            v[1] = c_out;
            cq_tensor *sz = cq_tensor_new(CQ_S64, 1, (int64_t[]){4}, err);
            if (!sz)
                return err->code;
            memcpy(cq_tensor_data(sz), v, sizeof v);
            zv = cq_graph_new_value(g, g->values[zv].name, err);
            cq_status st = zv < 0 ? err->code : cq_graph_add_initializer(g, zv, sz, err);
            cq_tensor_release(sz);
            if (st)
                return st;
        }
        int zv_out = g->nodes[ci].outputs[0];
        size_t nl = strlen(g->values[zv_out].name) + 8;
        char *name = malloc(nl);
        if (!name)
            return cq_errf(err, CQ_ENOMEM, "out of memory");
        snprintf(name, nl, "%s_lowres", g->values[zv_out].name);
        int tv = cq_graph_new_value(g, name, err); /* (g->values may move) */
        free(name);
        if (tv < 0)
            return err->code;
        cq_node *rs = &g->nodes[i], *cw = &g->nodes[ci];
        cw->inputs[0] = xv;
        cw->outputs[0] = tv;
        rs->inputs[0] = tv;
        rs->outputs[0] = zv_out;
        if (new_sizes)
            rs->inputs[zi] = zv;
        g->values[tv].producer = ci;
        g->values[zv_out].producer = i;
        g->values[yv].producer = -1;
        moved++;
    }
    *count = moved;
    return CQ_OK;
}

cq_status cq_pass_conv_before_resize(cq_graph *g, int *count, cq_err *err)
{
    int moved = 0;
    cq_graph_uses uses;
    if (cq_graph_uses_build(g, &uses, err))
        return err->code;
    cq_status st = conv_before_resize(g, &uses, &moved, err);
    cq_graph_uses_free(&uses);
    if (count)
        *count = moved;
    return st;
}

cq_status cq_passes_run(cq_graph *g, cq_pass_stats *stats, cq_err *err)
{
    return cq_passes_run_limited(g, stats, NULL, err);
}

cq_status cq_passes_run_limited(cq_graph *g, cq_pass_stats *stats, const cq_limits *lim,
                                cq_err *err)
{
    cq_pass_stats st = {0};
    if (cq_limits_check(lim, err))
        return err->code;
    uint64_t max_bytes = lim ? lim->max_tensor_bytes : 0;
    if (cq_graph_toposort(g, err) || cq_pass_remove_identity(g, &st.identities, err) ||
        fold_constants(g, NULL, max_bytes, &st.folded, err) ||
        cq_pass_fold_bn(g, &st.bn_folded, err) ||
        cq_pass_conv_before_resize(g, &st.conv_before_resize, err) ||
        cq_graph_compact(g, err) || cq_graph_toposort(g, err))
        return err->code;
    if (stats)
        *stats = st;
    return CQ_OK;
}
