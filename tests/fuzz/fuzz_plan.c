/* fuzz_plan: the graph planner (exec.c, exec_plan.c, the passes) and a run.
 * An input is 16 control bytes then an ONNX model. A model that parses
 * (within small limits) gets up to 7 hostile edits the control bytes choose
 * (a dimension of a graph input, an integer attribute, an element of an
 * int64 initializer set to 0, -1, 2^31, 2^62, INT64_MAX, ...), so the
 * fuzzer reaches odd shapes and attributes without breaking the protobuf;
 * then cq_exec_new under small limits and, when it plans, one run with
 * small inputs (unknown dimensions 2, at most 64 KiB an input). */
#include "fuzz_util.h"
#include "onnx/onnx.h"
#include "exec/exec.h"
#include "base/tensor.h"

#define CTRL 16

static const int64_t hostile[16] = {0, 1, 2, 3, -1, -2, 7, 64, 1000, (int64_t)1 << 20,
                                    (int64_t)1 << 31, ((int64_t)1 << 32) + 1,
                                    (int64_t)1 << 62, INT64_MAX, INT64_MIN, -((int64_t)1 << 40)};

static void edit(cq_graph *g, uint8_t t, uint8_t v)
{
    int64_t h = hostile[v & 15];
    switch (t >> 6) {
    case 0:
    case 1: { /* a dimension of a declared graph input */
        if (!g->n_inputs) return;
        cq_value *x = &g->values[g->inputs[(t >> 3) % g->n_inputs]];
        if (x->ndim > 0) x->shape[(t & 7) % x->ndim] = h;
        return;
    }
    case 2: { /* an integer attribute, or one element of an ints one */
        if (!g->n_nodes) return;
        cq_node *nd = &g->nodes[(t & 63) % g->n_nodes];
        for (int a = 0; a < nd->n_attrs; a++) {
            cq_attr *at = &nd->attrs[(a + (v >> 4)) % nd->n_attrs];
            if (at->type == CQ_ATTR_INT) { at->i = h; return; }
            if (at->type == CQ_ATTR_INTS && at->n > 0) { at->ints[(v >> 4) % at->n] = h; return; }
        }
        return;
    }
    default: { /* an element of an int64 initializer (Reshape's shape, Slice's ends...) */
        if (!g->n_initializers) return;
        cq_value *c = &g->values[g->initializers[(t & 63) % g->n_initializers]];
        if (!c->data || c->data->dtype != CQ_S64) return;
        int64_t n = (int64_t)(cq_tensor_nbytes(c->data) / 8);
        if (n > 0) ((int64_t *)cq_tensor_data(c->data))[(v >> 4) % n] = h;
        return;
    }
    }
}

/* An input for graph input value x: its declared shape with unknown (or
 * rank-less) dimensions 2; NULL when it would pass 64 KiB or has no dtype. */
static cq_tensor *make_input(const cq_value *x)
{
    int64_t shape[CQ_MAX_DIMS];
    int nd = x->ndim < 0 ? 2 : x->ndim;
    uint64_t bytes;
    for (int d = 0; d < nd; d++) shape[d] = x->ndim < 0 || x->shape[d] < 0 ? 2 : x->shape[d];
    cq_dtype dt = x->has_type ? x->dtype : CQ_F32;
    if (!cq_dtype_info(dt) || cq_shape_bytes(dt, nd, shape, &bytes) != 0 || bytes > 65536)
        return NULL;
    cq_err err;
    cq_tensor *t = cq_tensor_new(dt, nd, shape, &err);
    if (!t) return NULL;
    const cq_dtype_traits *tr = cq_dtype_info(dt);
    uint8_t *p = cq_tensor_data(t);
    int64_t n = (int64_t)(cq_tensor_nbytes(t) / tr->size);
    for (int64_t i = 0; i < n; i++) /* small values, some negative: indices stay plausible */
        tr->set(p + (size_t)i * tr->size, (double)((i * 7) % 5) - 1.0);
    return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < CTRL) return 0;
    cq_err err;
    cq_limits lim = CQ_LIMITS_DEFAULT;
    lim.max_tensor_bytes = 1u << 20;
    lim.max_model_bytes = 8u << 20;
    lim.max_nodes = 2000;
    cq_graph *g = cq_onnx_load_buffer_limited(data + CTRL, size - CTRL, "fuzz.onnx", &lim, &err);
    if (!g) {
        fuzz_check_err(&err, "cq_onnx_load_buffer_limited");
        return 0;
    }
    for (int k = 0; k < (data[0] & 7); k++) edit(g, data[1 + 2 * k], data[2 + 2 * k]);
    cq_exec_opts o = CQ_EXEC_OPTS_DEFAULT;
    o.limits = &lim;
    o.threads = 1;
    o.fuse = data[15] & 1 ? CQ_FUSE_ALL : CQ_FUSE_NONE;
    o.nchw_only = (data[15] >> 1) & 1;
    cq_exec *e = cq_exec_new(g, &o, &err);
    if (!e) {
        fuzz_check_err(&err, "cq_exec_new");
        cq_graph_free(g);
        return 0;
    }
    /* what the plan says it will do: skip runs over 10^8 flops (time, not bugs) */
    int64_t total = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        int64_t fl = 0, by = 0;
        if (cq_exec_node_work(e, i, &fl, &by) >= 0) total = fl > INT64_MAX - total ? INT64_MAX : total + fl;
    }
    cq_tensor *in[16] = {0}, *out[64] = {0};
    int ok = g->n_inputs <= 16 && g->n_outputs <= 64 && total <= 100000000;
    for (int i = 0; ok && i < g->n_inputs; i++)
        ok = (in[i] = make_input(&g->values[g->inputs[i]])) != NULL;
    if (ok) {
        if (cq_exec_run(e, g->n_inputs, in, out, &err) != CQ_OK) {
            fuzz_check_err(&err, "cq_exec_run");
        } else {
            for (int i = 0; i < g->n_outputs; i++)
                if (!out[i]) abort();
        }
        for (int i = 0; i < g->n_outputs; i++) cq_tensor_release(out[i]);
    }
    for (int i = 0; i < 16; i++) cq_tensor_release(in[i]);
    cq_exec_free(e);
    cq_graph_free(g);
    return 0;
}
