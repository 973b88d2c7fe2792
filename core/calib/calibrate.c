/* calibrate.c - the calibration driver (calibrate.h): an act-fused fp32
 * executor whose observer feeds one observer per observed tensor. */
#include "calib/calibrate.h"
#include "exec/exec.h"
#include "ops/ops.h"

#include <stdlib.h>
#include <string.h>

#define CQ_CALIB_MAX_INPUTS 64

struct cq_calib {
    cq_graph *g;
    cq_exec *e;
    cq_calib_stats *stats;
    cq_observer **obs_of;  /* per value: its observer (owned by stats), or NULL */
    unsigned char *cand;   /* per value: observed when it turns out f32 */
    cq_calib_opts opts;
    int64_t items;
    cq_err cb_err;         /* the observer callback's failure */
    int cb_failed;
};

/* Per value: whether it is computed from a graph input's data. The planned
 * node order is topological; a shape-only node (Shape) reads no data. */
static unsigned char *data_dependent(const cq_graph *g)
{
    unsigned char *dep = calloc((size_t)g->n_values + 1, 1);
    if (!dep)
        return NULL;
    for (int i = 0; i < g->n_inputs; i++)
        dep[g->inputs[i]] = 1;
    for (int i = 0; i < g->n_nodes; i++) {
        const cq_node *n = &g->nodes[i];
        const cq_op *op = n->dead ? NULL : cq_op_find(n->op_type, n->domain);
        if (!op || (op->caps & CQ_OP_SHAPE_ONLY))
            continue;
        int any = 0;
        for (int k = 0; k < n->n_inputs && !any; k++)
            any = n->inputs[k] >= 0 && dep[n->inputs[k]];
        for (int k = 0; k < n->n_outputs; k++)
            if (n->outputs[k] >= 0)
                dep[n->outputs[k]] = (unsigned char)any;
    }
    return dep;
}

/* Not known (yet) to be anything but f32: shape inference leaves the type
 * of values downstream of a symbolic dimension unknown until a run. */
static int maybe_f32(const cq_value *v) { return !v->data && (!v->has_type || v->dtype == CQ_F32); }

/* Whether value v is a Conv's or Add's (CQ_OP_TAKES_ACT) output read only by a
 * Relu/Clip that folds into it: the quantized graph quantizes the
 * activation's output, never v. The executor fuses the same pairs where it
 * knows statically that they run on floats; this decides by structure, so
 * the observed set does not depend on how much shape inference knew. */
static int act_folded(const cq_graph *g, const cq_graph_uses *uses, int v)
{
    const cq_value *val = &g->values[v];
    if (val->producer < 0 || val->is_output || cq_graph_uses_count(uses, v) != 1)
        return 0;
    int a = cq_graph_uses_list(uses, v)[0];
    const cq_node *p = &g->nodes[val->producer], *an = &g->nodes[a];
    const cq_op *pop = cq_op_find(p->op_type, p->domain), *aop = cq_op_find(an->op_type, an->domain);
    cq_act act;
    return pop && aop && (pop->caps & CQ_OP_TAKES_ACT) && (aop->caps & CQ_OP_ACT) &&
           an->n_inputs >= 1 && an->inputs[0] == v &&
           aop->hooks->act_of(g, an, cq_op_opset(g, an), &act);
}

int cq_calib_observes(const cq_calib *c, int v)
{
    return v >= 0 && v < c->g->n_values && c->obs_of[v] != NULL;
}

static cq_status add_observer(cq_calib *c, int v, cq_err *err);

static int on_output(void *ud, const cq_graph *g, int node, int output, const cq_tensor *t)
{
    cq_calib *c = ud;
    int v = g->nodes[node].outputs[output];
    if (v < 0 || !c->cand[v] || t->dtype != CQ_F32)
        return 0;
    if (!c->obs_of[v] && add_observer(c, v, &c->cb_err)) {
        c->cb_failed = 1;
        return 1;
    }
    cq_observer *o = c->obs_of[v];
    if (!cq_tensor_is_contiguous(t)) {
        cq_errf(&c->cb_err, CQ_ESTATE, "calibration: value '%s' is not a dense f32 tensor",
                g->values[v].name);
        c->cb_failed = 1;
        return 1;
    }
    if (cq_observer_update(o, cq_tensor_data((cq_tensor *)t), cq_tensor_numel(t), &c->cb_err)) {
        cq_err_prefix(&c->cb_err, c->cb_err.code, "calibration: value '%s': ", g->values[v].name);
        c->cb_failed = 1;
        return 1;
    }
    return 0;
}

static cq_status add_observer(cq_calib *c, int v, cq_err *err)
{
    const cq_calib_opts *o = &c->opts;
    cq_observer_opts oo;
    memset(&oo, 0, sizeof oo);
    oo.channels = 1;
    oo.bins = o->kind == CQ_OBS_HIST ? o->bins : 0;
    oo.averaging_constant = o->kind == CQ_OBS_MOVING_AVG ? o->averaging_constant : 0;
    c->obs_of[v] = cq_calib_stats_add(c->stats, c->g->values[v].name, o->kind, &oo, err);
    if (!c->obs_of[v])
        return cq_err_prefix(err, err->code, "calibration: value '%s': ", c->g->values[v].name);
    return CQ_OK;
}

cq_calib *cq_calib_new(cq_graph *g, const cq_calib_opts *opts, cq_err *err)
{
    cq_calib_opts o = CQ_CALIB_OPTS_DEFAULT;
    if (opts)
        o = *opts;
    if (!g) {
        cq_errf(err, CQ_EINVAL, "cq_calib_new: NULL graph");
        return NULL;
    }
    if ((unsigned)o.kind >= (unsigned)CQ_OBS_KIND_COUNT || o.threads < 0) {
        cq_errf(err, CQ_EINVAL, "cq_calib_new: bad observer kind %d or threads %d", (int)o.kind,
                o.threads);
        return NULL;
    }
    if (o.kind == CQ_OBS_HIST && o.bins != 0 &&
        (o.bins < CQ_HIST_BINS_MIN || o.bins > CQ_HIST_BINS_MAX || (o.bins & (o.bins - 1)))) {
        cq_errf(err, CQ_EINVAL, "cq_calib_new: %d histogram bins (a power of two in %d..%d)",
                (int)o.bins, CQ_HIST_BINS_MIN, CQ_HIST_BINS_MAX);
        return NULL;
    }
    cq_exec_opts eo = CQ_EXEC_OPTS_DEFAULT;
    eo.fuse = CQ_FUSE_ACT;
    eo.threads = o.threads;
    cq_calib *c = calloc(1, sizeof *c);
    if (!c) {
        cq_errf(err, CQ_ENOMEM, "calibration: out of memory");
        return NULL;
    }
    c->g = g;
    c->opts = o;
    c->e = cq_exec_new(g, &eo, err);
    if (!c->e)
        goto fail;
    /* g's counts are final once it is planned */
    c->obs_of = calloc((size_t)g->n_values + 1, sizeof *c->obs_of);
    c->cand = c->obs_of ? data_dependent(g) : NULL;
    c->stats = c->cand ? cq_calib_stats_new(err) : NULL;
    if (!c->stats) {
        cq_errf(err, CQ_ENOMEM, "calibration: out of memory");
        goto fail;
    }
    /* who reads each value, asked once per value: an index, so that this
     * stays linear in the node count */
    cq_graph_uses uses;
    if (cq_graph_uses_build(g, &uses, err))
        goto fail;
    int any = 0;
    for (int v = 0; v < g->n_values; v++) {
        const cq_value *val = &g->values[v];
        c->cand[v] = c->cand[v] && maybe_f32(val) &&
                     (val->is_input ||
                      (cq_exec_value_written(c->e, v) && !act_folded(g, &uses, v)));
        any |= c->cand[v];
    }
    cq_graph_uses_free(&uses);
    if (!any) {
        cq_errf(err, CQ_EINVAL, "calibration: the model has no float tensor computed from its "
                "inputs to observe");
        goto fail;
    }
    cq_exec_set_observer(c->e, on_output, c);
    return c;
fail:
    cq_calib_free(c);
    return NULL;
}

void cq_calib_free(cq_calib *c)
{
    if (!c)
        return;
    cq_exec_free(c->e);
    cq_calib_stats_free(c->stats);
    free(c->obs_of);
    free(c->cand);
    free(c);
}

cq_calib_stats *cq_calib_get_stats(cq_calib *c) { return c->stats; }

int64_t cq_calib_items(const cq_calib *c) { return c->items; }

/* Check the batch: n_in tensors sharing a first dimension n >= 1. */
static cq_status check_batch(const cq_calib *c, int n_in, cq_tensor *const *in, int64_t *n,
                             cq_err *err)
{
    const cq_graph *g = c->g;
    if (n_in != g->n_inputs)
        return cq_errf(err, CQ_EINVAL, "calibration: the model takes %d inputs, %d given",
                       g->n_inputs, n_in);
    for (int i = 0; i < n_in; i++) {
        const char *name = g->values[g->inputs[i]].name;
        if (!in[i])
            return cq_errf(err, CQ_EINVAL, "calibration: input '%s' missing", name);
        if (in[i]->ndim < 1 || in[i]->shape[0] < 1)
            return cq_errf(err, CQ_EINVAL, "calibration: input '%s' has no items (a first "
                           "dimension of at least 1)", name);
        if (i == 0)
            *n = in[i]->shape[0];
        else if (in[i]->shape[0] != *n)
            return cq_errf(err, CQ_EINVAL, "calibration: input '%s' has %lld items, input '%s' "
                           "%lld", name, (long long)in[i]->shape[0],
                           g->values[g->inputs[0]].name, (long long)*n);
    }
    return CQ_OK;
}

/* Observe input i's item (a dense f32 slice). */
static cq_status observe_input(cq_calib *c, int i, cq_tensor *item, cq_err *err)
{
    int v = c->g->inputs[i];
    if (!c->cand[v] || item->dtype != CQ_F32)
        return CQ_OK;
    if (!c->obs_of[v] && add_observer(c, v, err))
        return err->code;
    cq_observer *o = c->obs_of[v];
    cq_tensor *d = cq_tensor_contiguous(item, err);
    if (!d)
        return err->code;
    cq_status st = cq_observer_update(o, cq_tensor_data(d), cq_tensor_numel(d), err);
    cq_tensor_release(d);
    if (st)
        return cq_err_prefix(err, st, "calibration: input '%s': ", c->g->values[v].name);
    return CQ_OK;
}

/* One item: slice every input, observe the inputs, run (the callback
 * observes the node outputs). */
static cq_status feed_item(cq_calib *c, int n_in, cq_tensor *const *in, int64_t k, cq_err *err)
{
    const cq_graph *g = c->g;
    cq_tensor *item[CQ_CALIB_MAX_INPUTS] = {NULL};
    cq_tensor **out = calloc((size_t)g->n_outputs + 1, sizeof *out);
    cq_status st = out ? CQ_OK : cq_errf(err, CQ_ENOMEM, "calibration: out of memory");
    for (int i = 0; !st && i < n_in; i++)
        if (!(item[i] = cq_tensor_slice(in[i], 0, k, k + 1, 1, err)))
            st = err->code;
    for (int i = 0; !st && i < n_in; i++)
        st = observe_input(c, i, item[i], err);
    if (!st) {
        c->cb_failed = 0;
        st = cq_exec_run(c->e, n_in, item, out, err);
        if (st && c->cb_failed) {
            *err = c->cb_err;
            st = err->code;
        }
        if (st)
            cq_err_prefix(err, st, "item %lld: ", (long long)(c->items + 1));
    }
    for (int i = 0; i < n_in; i++)
        cq_tensor_release(item[i]);
    if (out)
        for (int i = 0; i < g->n_outputs; i++)
            cq_tensor_release(out[i]);
    free(out);
    return st;
}

cq_status cq_calib_feed(cq_calib *c, int n_in, cq_tensor *const *in, cq_err *err)
{
    int64_t n = 0;
    if (n_in > CQ_CALIB_MAX_INPUTS)
        return cq_errf(err, CQ_EINVAL, "calibration: more than %d inputs", CQ_CALIB_MAX_INPUTS);
    if (check_batch(c, n_in, in, &n, err))
        return err->code;
    for (int64_t k = 0; k < n; k++) {
        if (feed_item(c, n_in, in, k, err))
            return err->code;
        c->items++;
    }
    return CQ_OK;
}
