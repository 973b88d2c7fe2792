/* exec.c - the executor's life cycle, its buffer pool and the runs (exec.h);
 * what it decides before running is in exec_plan.c. */
#include "exec/exec_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/par.h"
#include "kern/kern_qelt.h"
#include "ops/passes.h"

static void note_shape(cq_exec *e, int v, const cq_tensor *t)
{
    e->last_nd[v] = t->ndim;
    e->last_dtype[v] = t->dtype;
    memcpy(e->last_shape[v], t->shape, sizeof e->last_shape[v]);
}

int cq_exec_value_shape(const cq_exec *e, int v, int64_t *shape)
{
    if (v < 0 || v >= e->n_values || e->last_nd[v] < 0)
        return -1;
    memcpy(shape, e->last_shape[v], sizeof e->last_shape[v]);
    return e->last_nd[v];
}

/* The per-node profile's clock (cq_exec_set_profile_clock): the wall clock,
 * or the calling thread's CPU time, which leaves out the time other
 * processes held the CPU (a loaded host), not their cache sharing. */
static double now_ns(int cpu)
{
    struct timespec ts;
    clock_gettime(cpu ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int by_op_then_index(const void *a, const void *b)
{
    const cq_node *const *x = a, *const *y = b;
    int c = strcmp((*x)->op_type, (*y)->op_type);
    return c ? c : (*x < *y ? -1 : *x > *y);
}

int cq_exec_unsupported(const cq_graph *g, char *buf, size_t size)
{
    int count = 0, nu = 0;
    size_t pos = 0;
    if (size)
        buf[0] = '\0';
    /* the unknown nodes sorted by op name, so that each distinct name is
     * found in n log n (a hostile model may hold many); listed in model
     * order, each name at its first node */
    const cq_node **un = malloc(((size_t)g->n_nodes + 1) * sizeof *un);
    if (!un)
        return size ? snprintf(buf, size, "(out of memory)"), 1 : 1;
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].dead && !cq_op_find(g->nodes[i].op_type, g->nodes[i].domain))
            un[nu++] = &g->nodes[i];
    qsort(un, (size_t)nu, sizeof *un, by_op_then_index);
    unsigned char *first = calloc((size_t)g->n_nodes + 1, 1);
    if (!first) {
        free(un);
        return size ? snprintf(buf, size, "(out of memory)"), 1 : 1;
    }
    for (int k = 0; k < nu; k++)
        if (k == 0 || strcmp(un[k - 1]->op_type, un[k]->op_type))
            first[un[k] - g->nodes] = 1;
    free(un);
    for (int i = 0; i < g->n_nodes; i++) {
        const cq_node *n = &g->nodes[i];
        if (!first[i])
            continue;
        count++;
        if (size && pos < size - 1) {
            int w = snprintf(buf + pos, size - pos, "%s%s%s%s", count > 1 ? ", " : "",
                             n->domain && *n->domain ? n->domain : "",
                             n->domain && *n->domain ? "." : "", n->op_type);
            pos += w > 0 ? (size_t)w : 0;
            if (pos >= size)
                pos = size - 1;
        }
    }
    free(first);
    return count;
}

/* What calq cannot hold, refused before the graph is touched. */
static cq_status check_model(const cq_graph *g, cq_err *err)
{
    char names[512];
    /* every missing operator at once */
    if (cq_exec_unsupported(g, names, sizeof names))
        return cq_errf(err, CQ_EUNSUPPORTED, "unsupported operators: %s", names);
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].unsupported)
            return cq_errf(err, CQ_EUNSUPPORTED, "value '%s': %s", g->values[v].name,
                           g->values[v].unsupported);
    for (int i = 0; i < g->n_inputs + g->n_outputs; i++) {
        const cq_value *v =
            &g->values[i < g->n_inputs ? g->inputs[i] : g->outputs[i - g->n_inputs]];
        if (v->onnx_vi)
            return cq_errf(err, CQ_EUNSUPPORTED, "value '%s': calq has no dtype for a sequence, "
                           "map or optional", v->name);
    }
    for (int i = 0; i < g->n_inputs; i++) {
        const cq_value *v = &g->values[g->inputs[i]];
        cq_dtype dt;
        if (v->has_type && v->onnx_elem_type && cq_dtype_from_onnx(v->onnx_elem_type, &dt))
            return cq_errf(err, CQ_EUNSUPPORTED, "input '%s': calq has no dtype %s", v->name,
                           cq_onnx_type_name(v->onnx_elem_type));
    }
    return CQ_OK;
}

/* ENOMEM for a value whose shape is known before running (declared, or
 * inferred from the declared ones and the constants) that would pass the
 * limit per tensor: refused before anything of its size is allocated. */
static cq_status check_sizes(const cq_graph *g, const cq_limits *lim, cq_err *err)
{
    for (int v = 0; v < g->n_values; v++) {
        const cq_value *val = &g->values[v];
        uint64_t bytes;
        char shape[160], nb[48];
        int known = val->has_type && val->ndim >= 0 && !val->data;
        for (int d = 0; known && d < val->ndim; d++)
            known = val->shape[d] >= 0;
        if (!known)
            continue;
        int over = cq_shape_bytes(val->dtype, val->ndim, val->shape, &bytes) != 0;
        if (over || bytes > lim->max_tensor_bytes)
            return cq_errf(err, CQ_ENOMEM, "value '%s' (%s %s) would take %s bytes, above "
                           "the limit of %llu bytes per tensor (max_tensor_bytes)", val->name,
                           cq_dtype_info(val->dtype)->name,
                           cq_shape_str(val->ndim, val->shape, shape, sizeof shape),
                           cq_shape_bytes_str(val->dtype, val->ndim, val->shape, nb, sizeof nb),
                           (unsigned long long)lim->max_tensor_bytes);
    }
    return CQ_OK;
}

/* The arrays of an executor for g's counts; NULL on ENOMEM. */
static cq_exec *exec_alloc(const cq_graph *g)
{
    cq_exec *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    size_t nn = (size_t)g->n_nodes + 1, nv = (size_t)g->n_values + 1;
    e->g = g;
    e->n_nodes = g->n_nodes;
    e->n_values = g->n_values;
    e->ops = calloc(nn, sizeof *e->ops);
    e->opset = calloc(nn, sizeof *e->opset);
    e->precision = calloc(nn, sizeof *e->precision);
    e->act = calloc(nn, sizeof *e->act);
    e->plan = calloc(nn, sizeof *e->plan);
    e->time_ns = calloc(nn, sizeof *e->time_ns);
    e->runs = calloc(nn, sizeof *e->runs);
    e->fused_into = malloc(nn * sizeof *e->fused_into);
    e->out_alias = malloc(nn * sizeof *e->out_alias);
    e->res_in = malloc(nn * sizeof *e->res_in);
    e->res_node = malloc(nn * sizeof *e->res_node);
    e->pool_of = malloc(nn * sizeof *e->pool_of);
    e->lut = calloc(nn, sizeof *e->lut);
    e->joined = calloc(nn, sizeof *e->joined);
    e->join_into = malloc(nv * sizeof *e->join_into);
    e->join_off = calloc(nv, sizeof *e->join_off);
    e->lut_dtype = calloc(nn, sizeof *e->lut_dtype);
    e->memo = calloc(nn, sizeof *e->memo);
    e->readers = calloc(nv, sizeof *e->readers);
    e->blocked = calloc(nv, sizeof *e->blocked);
    e->vals = calloc(nv, sizeof *e->vals);
    e->left = calloc(nv, sizeof *e->left);
    e->blk = malloc(nv * sizeof *e->blk);
    e->last_nd = malloc(nv * sizeof *e->last_nd);
    e->last_shape = malloc(nv * sizeof *e->last_shape);
    e->last_dtype = calloc(nv, sizeof *e->last_dtype);
    if (!e->ops || !e->opset || !e->precision || !e->act || !e->plan || !e->time_ns ||
        !e->runs || !e->fused_into || !e->out_alias || !e->res_in || !e->res_node ||
        !e->pool_of || !e->lut || !e->joined || !e->join_into || !e->join_off || !e->lut_dtype ||
        !e->memo || !e->readers || !e->blocked || !e->vals || !e->left || !e->blk || !e->last_nd ||
        !e->last_shape || !e->last_dtype) {
        cq_exec_free(e);
        return NULL;
    }
    for (int v = 0; v < g->n_values; v++)
        e->last_nd[v] = e->join_into[v] = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        e->fused_into[i] = e->out_alias[i] = e->res_in[i] = e->res_node[i] = e->pool_of[i] = -1;
        e->act[i].kind = CQ_ACT_NONE;
    }
    return e;
}

cq_exec *cq_exec_new(cq_graph *g, const cq_exec_opts *opts, cq_err *err)
{
    cq_exec_opts o = CQ_EXEC_OPTS_DEFAULT;
    if (opts)
        o = *opts;
    if (!g) {
        cq_errf(err, CQ_EINVAL, "cq_exec_new: NULL graph");
        return NULL;
    }
    if (o.fuse &
        ~(CQ_FUSE_ALL | CQ_FUSE_ACT | CQ_FUSE_RESIDUAL | CQ_FUSE_POOL | CQ_FUSE_ACT_FN |
          CQ_FUSE_LUT | CQ_FUSE_JOIN)) {
        cq_errf(err, CQ_EINVAL, "cq_exec_new: fuse %d holds bits that are no CQ_FUSE_* flag", o.fuse);
        return NULL;
    }
    const cq_limits def = CQ_LIMITS_DEFAULT, *lim = o.limits ? o.limits : &def;
    if (cq_limits_check(lim, err))
        return NULL;
    if (g->n_nodes > lim->max_nodes) {
        cq_errf(err, CQ_ENOMEM, "the graph has %d nodes, above the limit of %lld (max_nodes)",
                g->n_nodes, (long long)lim->max_nodes);
        return NULL;
    }
    if (check_model(g, err))
        return NULL;
    if (o.optimize ? cq_passes_run_limited(g, NULL, lim, err) : cq_graph_toposort(g, err))
        return NULL;
    if (cq_graph_infer_shapes(g, err) || check_sizes(g, lim, err))
        return NULL;
    cq_exec *e = exec_alloc(g);
    if (!e) {
        cq_errf(err, CQ_ENOMEM, "out of memory");
        return NULL;
    }
    e->lim = *lim;
    if (cq__exec_take_precision(e, &o, err))
        goto fail;
    for (int i = 0; i < g->n_nodes; i++) {
        const cq_node *n = &g->nodes[i];
        if (n->dead)
            continue;
        e->ops[i] = cq_op_find(n->op_type, n->domain);
        e->opset[i] = cq_op_opset(g, n);
        if (n->n_inputs > CQ_OP_MAX_INPUTS || n->n_outputs > CQ_OP_MAX_OUTPUTS) {
            cq_errf(err, CQ_EUNSUPPORTED, "node '%s': more than %d inputs or %d outputs",
                    n->name, CQ_OP_MAX_INPUTS, CQ_OP_MAX_OUTPUTS);
            goto fail;
        }
        /* the inputs its operator requires, and a first output (the
         * kernels write it) */
        if (e->ops[i] ? cq_op_check_node(n, e->opset[i], err) != CQ_OK
                      : n->n_outputs < 1 || n->outputs[0] < 0) {
            if (!e->ops[i])
                cq_errf(err, CQ_EFORMAT, "node '%s' (%s): no first output", n->name, n->op_type);
            goto fail;
        }
    }
    if (o.fuse && cq__exec_plan_fusion(e, o.fuse, err))
        goto fail;
    for (int i = 0; i < g->n_nodes; i++) {
        const cq_node *n = &g->nodes[i];
        if (n->dead || e->fused_into[i] >= 0)
            continue;
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0)
                e->readers[n->inputs[k]]++;
        if (e->res_in[i] >= 0)
            e->readers[e->res_in[i]]++;
    }
    for (int i = 0; i < g->n_outputs; i++)
        e->readers[g->outputs[i]]++;
    const char *clk = getenv("CALQ_PROFILE_CLOCK");
    e->clock_cpu = clk && !strcmp(clk, "cpu");
    const char *nchw = getenv("CALQ_NCHW");
    if (!o.nchw_only && !(nchw && !strcmp(nchw, "1")) && cq__exec_plan_layout(e, err))
        goto fail;
    if (((o.fuse & (CQ_FUSE_ALL | CQ_FUSE_JOIN)) && cq__exec_plan_join(e, err)) ||
        cq__exec_plan_kernels(e, err))
        goto fail;
    cq_exec_set_threads(e, o.threads);
    return e;
fail:
    cq_exec_free(e);
    return NULL;
}

void cq_exec_free(cq_exec *e)
{
    if (!e)
        return;
    for (int i = 0; i < e->n_blocks; i++)
        cq_free(e->blocks[i].p);
    free(e->blocks);
    cq_free(e->env.scratch);
    if (e->plan && e->ops)
        for (int i = 0; i < e->n_nodes; i++)
            if (e->plan[i] && e->ops[i]->hooks && e->ops[i]->hooks->plan_free)
                e->ops[i]->hooks->plan_free(e->plan[i]);
    free(e->plan);
    free(e->ops);
    free(e->opset);
    free(e->precision);
    free(e->act);
    free(e->time_ns);
    free(e->runs);
    free(e->fused_into);
    free(e->member_first);
    free(e->member_next);
    free(e->res_in);
    free(e->res_node);
    free(e->pool_of);
    free(e->joined);
    free(e->join_into);
    free(e->join_off);
    if (e->lut)
        for (int i = 0; i < e->n_nodes; i++)
            free(e->lut[i]);
    free(e->lut);
    free(e->lut_dtype);
    if (e->memo)
        for (int i = 0; i < e->n_nodes; i++)
            free(e->memo[i]);
    free(e->memo);
    free(e->out_alias);
    free(e->readers);
    free(e->blocked);
    free(e->vals);
    free(e->left);
    free(e->blk);
    free(e->last_nd);
    free(e->last_shape);
    free(e->last_dtype);
    free(e);
}

void cq_exec_set_observer(cq_exec *e, cq_exec_observer fn, void *ud)
{
    e->observer = fn;
    e->observer_ud = ud;
}

void cq_exec_set_threads(cq_exec *e, int n) { e->threads = n > 0 ? n : 0; }

int cq_exec_is_stale(const cq_exec *e)
{
    return e->n_nodes != e->g->n_nodes || e->n_values != e->g->n_values;
}
size_t cq_exec_naive_bytes(const cq_exec *e) { return e->naive_bytes; }
int cq_exec_value_blocked(const cq_exec *e, int v)
{
    return v >= 0 && v < e->n_values && e->blocked[v];
}
int cq_exec_node_output(const cq_exec *e, int i)
{
    if (i < 0 || i >= e->n_nodes || e->g->nodes[i].n_outputs < 1)
        return -1;
    return e->out_alias[i] >= 0 ? e->out_alias[i] : e->g->nodes[i].outputs[0];
}

size_t cq_exec_peak_bytes(const cq_exec *e)
{
    size_t s = 0;
    for (int i = 0; i < e->n_blocks; i++)
        s += e->blocks[i].size;
    return s;
}

/* Best-fitting free block of at least size bytes, or a new one; -1 on ENOMEM. */
static int pool_get(cq_exec *e, size_t size)
{
    int best = -1;
    for (int i = 0; i < e->n_blocks; i++)
        if (!e->blocks[i].used && e->blocks[i].size >= size &&
            (best < 0 || e->blocks[i].size < e->blocks[best].size))
            best = i;
    if (best < 0) {
        if (e->n_blocks == e->cap_blocks) {
            int cap = e->cap_blocks ? 2 * e->cap_blocks : 16;
            cq__exec_block *nb = realloc(e->blocks, (size_t)cap * sizeof *nb);
            if (!nb)
                return -1;
            e->blocks = nb;
            e->cap_blocks = cap;
        }
        void *p = cq_alloc(size);
        if (!p)
            return -1;
        e->blocks[e->n_blocks] = (cq__exec_block){p, size, 0};
        best = e->n_blocks++;
    }
    e->blocks[best].used = 1;
    return best;
}

/* Bytes of a dense dt tensor of that shape into *bytes; ENOMEM naming
 * kind 'name' above the executor's limit per tensor. */
static cq_status value_bytes(const cq_exec *e, cq_dtype dt, int ndim, const int64_t *shape,
                             const char *kind, const char *name, size_t *bytes, cq_err *err)
{
    uint64_t want;
    char s[160], nb[48];
    *bytes = 0;
    int over = cq_shape_bytes(dt, ndim, shape, &want) != 0;
    if (over || want > e->lim.max_tensor_bytes)
        return cq_errf(err, CQ_ENOMEM, "%s '%s' (%s %s) would take %s bytes, above the "
                       "limit of %llu bytes per tensor (max_tensor_bytes)", kind, name,
                       cq_dtype_info(dt)->name, cq_shape_str(ndim, shape, s, sizeof s),
                       cq_shape_bytes_str(dt, ndim, shape, nb, sizeof nb),
                       (unsigned long long)e->lim.max_tensor_bytes);
    *bytes = (size_t)want;
    return CQ_OK;
}

/* A dense tensor on a pool block of at least bytes (its index into *blk);
 * NULL on failure. */
static cq_tensor *pool_tensor(cq_exec *e, cq_dtype dt, int ndim, const int64_t *shape,
                              size_t bytes, const char *name, int *blk, cq_err *err)
{
    int b = pool_get(e, bytes ? bytes : 1);
    if (b < 0) {
        cq_errf(err, CQ_ENOMEM, "no memory for %zu bytes for '%s'", bytes, name);
        return NULL;
    }
    cq_tensor *t = cq_tensor_wrap(dt, ndim, shape, e->blocks[b].p, NULL, NULL, err);
    if (!t) {
        e->blocks[b].used = 0;
        return NULL;
    }
    *blk = b;
    return t;
}

static void pool_put(cq_exec *e, cq_tensor *t, int blk)
{
    cq_tensor_release(t);
    if (blk >= 0)
        e->blocks[blk].used = 0;
}

static void release_value(cq_exec *e, int v)
{
    pool_put(e, e->vals[v], e->blk[v]);
    e->vals[v] = NULL;
    e->blk[v] = -1;
}

/* Value v's tensor for this run: on the pool, its slice of a join's
 * output (exec_join.c: that output allocated with its first slice, at its
 * planned shape), or its own allocation for a graph output (handed to the
 * caller). */
static cq_tensor *alloc_value(cq_exec *e, int v, const cq_tinfo *ti, cq_err *err)
{
    const cq_value *val = &e->g->values[v];
    size_t bytes;
    int y = e->join_into[v];
    if (y >= 0) {
        cq_tinfo ty = {.dtype = CQ_F32, .ndim = e->g->values[y].ndim};
        memcpy(ty.shape, e->g->values[y].shape, sizeof ty.shape);
        if (ti->dtype != CQ_F32 || ti->ndim != val->ndim ||
            memcmp(ti->shape, val->shape, sizeof(int64_t) * (size_t)val->ndim)) {
            cq_errf(err, CQ_ESTATE, "value '%s' is not the shape its join was planned for",
                    val->name);
            return NULL;
        }
        if (!e->vals[y] && !(e->vals[y] = alloc_value(e, y, &ty, err)))
            return NULL;
        note_shape(e, y, e->vals[y]);
        return cq_tensor_wrap(CQ_F32, ti->ndim, ti->shape,
                              (char *)cq_tensor_data(e->vals[y]) + e->join_off[v], NULL, NULL, err);
    }
    if (value_bytes(e, ti->dtype, ti->ndim, ti->shape, "value", val->name, &bytes, err))
        return NULL;
    if (val->is_output)
        return cq_tensor_empty(ti->dtype, ti->ndim, ti->shape, err);
    e->naive_bytes += bytes;
    return pool_tensor(e, ti->dtype, ti->ndim, ti->shape, bytes, val->name, &e->blk[v], err);
}

/* Hand node i's outputs to the observer (blocked ones, NCHW16c or NHWC, as
 * NCHW copies on the pool); ESTATE when it stops the run. */
static cq_status observe(cq_exec *e, int i, const int *outv, cq_tensor *const *out, cq_err *err)
{
    const cq_graph *g = e->g;
    const cq_node *n = &g->nodes[i];
    for (int k = 0; k < n->n_outputs; k++) {
        if (outv[k] < 0)
            continue;
        int node = k == 0 && e->out_alias[i] >= 0 ? g->values[outv[k]].producer : i;
        cq_tensor *seen = out[k];
        int blk = -1;
        if (e->blocked[outv[k]]) {
            const int64_t *s = out[k]->shape;
            seen = pool_tensor(e, out[k]->dtype, out[k]->ndim, s, cq_tensor_nbytes(out[k]),
                               g->values[outv[k]].name, &blk, err);
            if (!seen)
                return err->code;
            if (out[k]->dtype == CQ_F32)
                cq_from_blocked_f32(cq_tensor_data(out[k]), s[0], s[1], s[2] * s[3],
                                    cq_tensor_data(seen));
            else
                cq_nhwc_to_nchw_8(cq_tensor_data(out[k]), s[0], s[1], s[2] * s[3],
                                  cq_tensor_data(seen));
        }
        int stop = e->observer(e->observer_ud, g, node, k, seen);
        if (seen != out[k])
            pool_put(e, seen, blk);
        if (stop)
            return cq_errf(err, CQ_ESTATE, "node '%s': the observer stopped the run", n->name);
    }
    return CQ_OK;
}

static cq_status run_node(cq_exec *e, int i, cq_err *err)
{
    const cq_graph *g = e->g;
    const cq_node *n = &g->nodes[i];
    const cq_op *op = e->ops[i];
    cq_tensor *in[CQ_OP_MAX_INPUTS], *out[CQ_OP_MAX_OUTPUTS];
    cq_tinfo ti[CQ_OP_MAX_INPUTS], to[CQ_OP_MAX_OUTPUTS];
    int outv[CQ_OP_MAX_OUTPUTS], scratch_blk[CQ_OP_MAX_OUTPUTS];
    int conv_blk[CQ_OP_MAX_INPUTS];
    for (int k = 0; k < n->n_inputs; k++) {
        int v = n->inputs[k];
        in[k] = v >= 0 ? e->vals[v] : NULL;
        conv_blk[k] = -2;
        if (v >= 0 && !in[k])
            return cq_errf(err, CQ_ESTATE, "node '%s': input '%s' has no value", n->name,
                           g->values[v].name);
    }
    /* 8-bit codes held in the other layout than the node reads: a copy */
    for (int k = 0; k < n->n_inputs; k++) {
        int v = n->inputs[k];
        if (v < 0 || (in[k]->dtype != CQ_U8 && in[k]->dtype != CQ_S8) || in[k]->ndim != 4)
            continue;
        int want = cq__exec_want_blocked(e, i, k);
        if (want == e->blocked[v])
            continue;
        const int64_t *s = in[k]->shape;
        int blk = -1;
        cq_tensor *c = pool_tensor(e, in[k]->dtype, 4, s, cq_tensor_nbytes(in[k]),
                                   g->values[v].name, &blk, err);
        if (!c) {
            for (int j = 0; j < k; j++)
                if (conv_blk[j] != -2)
                    pool_put(e, in[j], conv_blk[j]);
            return err->code;
        }
        if (want)
            cq_nchw_to_nhwc_8(cq_tensor_data(in[k]), s[0], s[1], s[2] * s[3], cq_tensor_data(c));
        else
            cq_nhwc_to_nchw_8(cq_tensor_data(in[k]), s[0], s[1], s[2] * s[3], cq_tensor_data(c));
        in[k] = c;
        conv_blk[k] = blk;
    }
    cq_tinfo_of(n->n_inputs, in, ti);
    memset(to, 0, sizeof to);
    e->env.opset = e->opset[i];
    if (!cq__exec_memo_get(e, i, ti, to)) {
        if (op->infer(n, e->opset[i], n->n_inputs, ti, n->n_outputs, to, err))
            return err->code;
        cq__exec_memo_put(e, i, ti, to);
    }
    /* a fused pool: the node writes the pool's output */
    int pn = e->pool_of[i];
    cq_pool2d_params pool;
    if (pn >= 0) {
        const cq_node *m = &g->nodes[pn];
        cq_tinfo tp[CQ_OP_MAX_OUTPUTS];
        memset(tp, 0, sizeof tp);
        if (e->ops[pn]->infer(m, e->opset[pn], 1, &to[0], m->n_outputs, tp, err) ||
            e->ops[pn]->hooks->pool_of(m, to[0].ndim, to[0].shape, &pool, err))
            return cq_err_prefix(err, err->code, "node '%s' (%s, fused into '%s'): ", m->name,
                                 m->op_type, n->name);
        to[0] = tp[0];
    }
    /* a table: the chain's last output, codes of the table's dtype */
    if (e->lut[i])
        to[0].dtype = e->lut_dtype[i];
    for (int k = 0; k < n->n_outputs; k++) {
        out[k] = NULL;
        scratch_blk[k] = -1;
        outv[k] = k == 0 && e->out_alias[i] >= 0 ? e->out_alias[i] : n->outputs[k];
    }
    unsigned char cst[CQ_OP_MAX_INPUTS];
    for (int k = 0; k < n->n_inputs; k++)
        cst[k] = n->inputs[k] >= 0 && g->values[n->inputs[k]].data != NULL;
    e->env.in_const = cst;
    cq_status st = CQ_OK;
    for (int k = 0; k < n->n_outputs && !st; k++) {
        int v = outv[k];
        if (v < 0) {
            /* an omitted optional output still gets scratch the op may write */
            size_t bytes;
            st = value_bytes(e, to[k].dtype, to[k].ndim, to[k].shape, "node", n->name, &bytes,
                             err);
            if (!st && !(out[k] = pool_tensor(e, to[k].dtype, to[k].ndim, to[k].shape, bytes,
                                              n->name, &scratch_blk[k], err)))
                st = err->code;
            continue;
        }
        /* a join's output is there since its first input was written */
        out[k] = !e->joined[i] ? alloc_value(e, v, &to[k], err) : e->vals[v] ? e->vals[v]
                 : (cq_errf(err, CQ_ESTATE, "join '%s': no input written", n->name), NULL);
        if (!out[k])
            st = err->code;
        else
            note_shape(e, v, out[k]);
        e->vals[v] = out[k];
    }
    int rv = e->res_in[i];
    if (!st && rv >= 0 && !e->vals[rv])
        st = cq_errf(err, CQ_ESTATE, "node '%s': residual '%s' has no value", n->name,
                     g->values[rv].name);
    if (!st) {
        double t0 = now_ns(e->clock_cpu);
        cq__exec_node_env(e, i, &e->env);
        e->env.residual = rv >= 0 ? e->vals[rv] : NULL;
        e->env.pool = pn >= 0 ? &pool : NULL;
        e->env.plan = &e->plan[i];
        int empty = n->n_outputs > 0;
        for (int k = 0; k < n->n_outputs && empty; k++)
            empty = cq_tensor_numel(out[k]) == 0;
        if (e->joined[i])
            ; /* its inputs were written into its output */
        else if (empty)
            ; /* nothing to write: the kernels' loops over the other dimensions
               * (a batch of 2^32 with a width of 0) would still run */
        else if (e->lut[i])
            cq_lut_8(e->lut[i], cq_tensor_data(in[0]), cq_tensor_data(out[0]),
                     cq_tensor_numel(out[0]));
        else
            st = op->run(n, n->n_inputs, in, n->n_outputs, out, &e->env, err);
        e->env.residual = NULL;
        e->env.res_node = NULL;
        e->env.pool = NULL;
        e->env.plan = NULL;
        e->env.act.kind = CQ_ACT_NONE;
        e->env.x_blocked = e->env.y_blocked = e->env.res_blocked = 0;
        e->time_ns[i] += now_ns(e->clock_cpu) - t0;
        e->runs[i]++;
    }
    for (int k = 0; k < n->n_outputs; k++)
        if (outv[k] < 0)
            pool_put(e, out[k], scratch_blk[k]);
    for (int k = 0; k < n->n_inputs; k++)
        if (conv_blk[k] != -2)
            pool_put(e, in[k], conv_blk[k]);
    e->env.in_const = NULL;
    if (st)
        return cq_err_prefix(err, st, "node '%s' (%s): ", n->name, n->op_type);
    if (e->observer && observe(e, i, outv, out, err))
        return err->code;
    for (int k = 0; k <= n->n_inputs; k++) {
        int v = k < n->n_inputs ? n->inputs[k] : rv;
        if (v >= 0 && --e->left[v] == 0 && !g->values[v].data)
            release_value(e, v);
    }
    for (int k = 0; k < n->n_outputs; k++)
        if (outv[k] >= 0 && e->left[outv[k]] == 0)
            release_value(e, outv[k]);
    return CQ_OK;
}

/* Release what the run holds; on failure, the outputs too. */
static void end_run(cq_exec *e, cq_tensor **outputs, int failed)
{
    const cq_graph *g = e->g;
    if (failed)
        for (int i = 0; i < g->n_outputs; i++) {
            cq_tensor_release(outputs[i]);
            outputs[i] = NULL;
        }
    for (int v = 0; v < g->n_values; v++)
        if (e->vals[v])
            release_value(e, v);
}

/* The values before the first node: constants, and the inputs checked
 * against the model's declarations. */
static cq_status bind_inputs(cq_exec *e, int n_in, cq_tensor *const *inputs, cq_err *err)
{
    const cq_graph *g = e->g;
    for (int v = 0; v < g->n_values; v++) {
        e->vals[v] = NULL;
        e->blk[v] = -1;
        e->left[v] = e->readers[v];
        if (g->values[v].data) {
            e->vals[v] = cq_tensor_contiguous(g->values[v].data, err);
            if (!e->vals[v])
                return err->code;
            note_shape(e, v, e->vals[v]);
        }
    }
    for (int i = 0; i < n_in; i++) {
        const cq_value *val = &g->values[g->inputs[i]];
        if (!inputs[i])
            return cq_errf(err, CQ_EINVAL, "input '%s' missing", val->name);
        if (val->has_type && val->onnx_elem_type) {
            cq_dtype dt;
            if (!cq_dtype_from_onnx(val->onnx_elem_type, &dt) && dt != inputs[i]->dtype)
                return cq_errf(err, CQ_EINVAL, "input '%s' must be %s, got %s", val->name,
                               cq_dtype_info(dt)->name, cq_dtype_info(inputs[i]->dtype)->name);
        }
        if (val->has_type && val->ndim >= 0) {
            int bad = val->ndim != inputs[i]->ndim;
            for (int d = 0; !bad && d < val->ndim; d++)
                bad = val->shape[d] >= 0 && val->shape[d] != inputs[i]->shape[d];
            if (bad) {
                char buf[128];
                return cq_errf(err, CQ_EINVAL, "input '%s': shape %s does not match the model's",
                               val->name, cq_tensor_describe(inputs[i], buf, sizeof buf));
            }
        }
        cq_tensor_release(e->vals[g->inputs[i]]);
        e->vals[g->inputs[i]] = cq_tensor_contiguous(inputs[i], err);
        if (!e->vals[g->inputs[i]])
            return err->code;
        note_shape(e, g->inputs[i], inputs[i]);
    }
    return CQ_OK;
}

/* The run proper, between the thread count's set and restore. */
static cq_status run_all(cq_exec *e, int n_in, cq_tensor *const *inputs, cq_tensor **outputs,
                         cq_err *err)
{
    const cq_graph *g = e->g;
    e->naive_bytes = 0;
    e->env.threads = cq_kern_threads();
    if (bind_inputs(e, n_in, inputs, err))
        goto fail;
    for (int i = 0; i < g->n_nodes; i++) {
        if (!e->ops[i] || e->fused_into[i] >= 0)
            continue;
        if (run_node(e, i, err))
            goto fail;
    }
    for (int i = 0; i < g->n_outputs; i++) {
        int v = g->outputs[i];
        if (!e->vals[v]) {
            cq_errf(err, CQ_ESTATE, "output '%s' was not computed", g->values[v].name);
            goto fail;
        }
        if (e->blk[v] >= 0 || g->values[v].data || g->values[v].is_input) {
            outputs[i] = cq_tensor_clone(e->vals[v], err);
            if (!outputs[i])
                goto fail;
        } else {
            cq_tensor_retain(e->vals[v]);
            outputs[i] = e->vals[v];
        }
    }
    end_run(e, outputs, 0);
    return CQ_OK;
fail:
    end_run(e, outputs, 1);
    return err->code;
}

/* recursive: an observer may run another executor inside a run */
static pthread_mutex_t run_mu = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

/* OpenBLAS starts at its own default (every core), not at calq's count
 * (1 unless told): the first run puts it at the process's count, so that
 * runs at that count need not change it. */
static void blas_init(void) { cq_kern_set_blas_threads(cq_kern_threads()); }

cq_status cq_exec_run(cq_exec *e, int n_in, cq_tensor *const *inputs, cq_tensor **outputs,
                      cq_err *err)
{
    const cq_graph *g = e->g;
    for (int i = 0; i < g->n_outputs; i++)
        outputs[i] = NULL;
    if (cq_exec_is_stale(e))
        return cq_errf(err, CQ_ESTATE, "the graph changed since it was planned: plan it again");
    if (n_in != g->n_inputs)
        return cq_errf(err, CQ_EINVAL, "the model takes %d inputs, %d given", g->n_inputs, n_in);
    /* calq's kernels run at the executor's count whatever other host threads
     * do (the count is this thread's own for the run: base/par.h); OpenBLAS's
     * count is process-wide, so a run that changes it holds run_mu until it
     * has put it back (such runs take turns; the others do not wait). Before,
     * the test compared the run's count with itself (read after it was made
     * the thread's own) and never changed OpenBLAS's, which stayed at its
     * default: a run at one thread ran its sgemm calls on every core. */
    pthread_once(&blas_once, blas_init);
    int n = e->threads ? e->threads : cq_kern_threads();
    int own = cq_par_set_local_threads(n);
    int change = n != cq_kern_blas_threads();
    int before = 0;
    if (change) {
        pthread_mutex_lock(&run_mu);
        before = cq_kern_blas_threads();
        cq_kern_set_blas_threads(n);
    }
    cq_status st = run_all(e, n_in, inputs, outputs, err);
    if (change) {
        cq_kern_set_blas_threads(before);
        pthread_mutex_unlock(&run_mu);
    }
    cq_par_set_local_threads(own);
    return st;
}
