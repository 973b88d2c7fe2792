/* ops_pool.c - MaxPool (with optional Indices), AveragePool, GlobalAveragePool,
 * 1 to 3 spatial dims, NCHW; MaxPool also on s8 / u8 codes (kern_qelt.h). */
#include "ops/ops_internal.h"
#include "kern/kern_qelt.h"

#include <float.h>
#include <math.h>
#include <string.h>

static cq_status pool_geo(const cq_node *n, int xnd, const int64_t *xs, cq_convgeo *g,
                          cq_err *err)
{
    memset(g, 0, sizeof *g);
    int s = xnd - 2;
    if (s < 1 || s > 3)
        return cq_errf(err, CQ_EUNSUPPORTED, "%s '%s': calq pools 1 to 3 spatial dims",
                       n->op_type, n->name);
    int64_t ks[3], st[3], dl[3], pads[6];
    int64_t nk = cq_node_ints(n, "kernel_shape", ks, 3);
    int64_t nst = cq_node_ints(n, "strides", st, 3);
    int64_t ndl = cq_node_ints(n, "dilations", dl, 3);
    int64_t np = cq_node_ints(n, "pads", pads, 6);
    int ceil_mode = (int)cq_node_int(n, "ceil_mode", 0);
    const char *ap = cq_node_string(n, "auto_pad", "NOTSET");
    if (nk != s || (nst && nst != s) || (ndl && ndl != s) || (np && np != 2 * s))
        return cq_errf(err, CQ_EINVAL, "%s '%s': kernel_shape/strides/pads do not match %d "
                       "spatial dims", n->op_type, n->name, s);
    g->s = s;
    g->n = xs[0];
    g->c = g->m = xs[1];
    g->group = 1;
    int off = 3 - s;
    for (int i = 0; i < 3; i++)
        g->in[i] = g->k[i] = g->out[i] = g->stride[i] = g->dil[i] = 1;
    for (int i = 0; i < s; i++) {
        int j = off + i;
        g->in[j] = xs[2 + i];
        g->k[j] = ks[i];
        g->stride[j] = nst ? st[i] : 1;
        g->dil[j] = ndl ? dl[i] : 1;
        g->pb[j] = np ? pads[i] : 0;
        g->pe[j] = np ? pads[s + i] : 0;
        if (g->k[j] < 1 || g->stride[j] < 1 || g->dil[j] < 1)
            return cq_errf(err, CQ_EINVAL, "%s '%s': bad kernel, strides or dilations",
                           n->op_type, n->name);
        /* each term within 2^30 (pads too), so the sizes below cannot
         * overflow int64 */
        const int64_t big = (int64_t)1 << 30;
        if (g->in[j] > big || g->k[j] > big || g->stride[j] > big || g->dil[j] > big ||
            g->pb[j] < -big || g->pb[j] > big || g->pe[j] < -big || g->pe[j] > big)
            return cq_errf(err, CQ_EINVAL,
                           "%s '%s': a size, kernel, stride, dilation or pad of spatial dim %d "
                           "is over 2^30",
                           n->op_type, n->name, i);
        int64_t ek = g->dil[j] * (g->k[j] - 1) + 1;
        if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
            int64_t o = (g->in[j] + g->stride[j] - 1) / g->stride[j];
            int64_t tot = (o - 1) * g->stride[j] + ek - g->in[j];
            tot = tot > 0 ? tot : 0;
            g->pb[j] = !strcmp(ap, "SAME_UPPER") ? tot / 2 : tot - tot / 2;
            g->pe[j] = tot - g->pb[j];
            g->out[j] = o;
            continue;
        }
        if (!strcmp(ap, "VALID"))
            g->pb[j] = g->pe[j] = 0;
        int64_t span = g->in[j] + g->pb[j] + g->pe[j] - ek;
        if (span < 0)
            return cq_errf(err, CQ_EINVAL, "%s '%s': kernel larger than padded input",
                           n->op_type, n->name);
        g->out[j] = (ceil_mode ? (span + g->stride[j] - 1) / g->stride[j] : span / g->stride[j]) + 1;
        if (ceil_mode && (g->out[j] - 1) * g->stride[j] >= g->in[j] + g->pb[j])
            g->out[j]--;
    }
    return CQ_OK;
}

/* ONNX's types: float ones, and for MaxPool s8 / u8 from opset 12. */
static cq_status pool_dtype(const cq_node *n, int64_t opset, cq_dtype dt, cq_err *err)
{
    int is_max = !strcmp(n->op_type, "MaxPool");
    if (cq_dtype_info(dt)->is_float)
        return CQ_OK;
    if (is_max && (dt == CQ_S8 || dt == CQ_U8) && opset >= 12)
        return CQ_OK;
    if (is_max && (dt == CQ_S8 || dt == CQ_U8))
        return cq_errf(err, CQ_EINVAL, "MaxPool '%s': %s input at opset %lld (8-bit from opset "
                       "12)", n->name, cq_dtype_info(dt)->name, (long long)opset);
    return cq_errf(err, CQ_EINVAL, "%s '%s': %s input (float%s only)", n->op_type, n->name,
                   cq_dtype_info(dt)->name, is_max ? ", s8 and u8" : "");
}

static cq_status infer_pool(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                            int n_out, cq_tinfo *out, cq_err *err)
{
    if (n_in < 1 || in[0].ndim < 0)
        return cq_errf(err, CQ_EINVAL, "%s '%s': missing input", n->op_type, n->name);
    if (pool_dtype(n, opset, in[0].dtype, err))
        return err->code;
    cq_convgeo g;
    if (pool_geo(n, in[0].ndim, in[0].shape, &g, err))
        return err->code;
    cq__same(&in[0], &out[0]);
    for (int i = 0; i < g.s; i++)
        out[0].shape[2 + i] = g.out[3 - g.s + i];
    if (n_out > 1) {
        cq__same(&out[0], &out[1]);
        out[1].dtype = CQ_S64;
    }
    return CQ_OK;
}

/* x (N, C, D, H, W) f32 -> y; kind 0 max, 1 average. */
static void pool_f32(const cq_convgeo *g, int kind, int include_pad, int order, const float *x,
                     float *y, int64_t *ind)
{
    int64_t ihw = g->in[0] * g->in[1] * g->in[2];
    int64_t o = 0;
    for (int64_t nc = 0; nc < g->n * g->c; nc++) {
        const float *xc = x + nc * ihw;
        for (int64_t od = 0; od < g->out[0]; od++)
            for (int64_t oh = 0; oh < g->out[1]; oh++)
                for (int64_t ow = 0; ow < g->out[2]; ow++, o++) {
                    double acc = kind ? 0 : -INFINITY;
                    int64_t cnt = 0, cnt_pad = 0, best = -1;
                    for (int64_t kd = 0; kd < g->k[0]; kd++) {
                        int64_t id = od * g->stride[0] - g->pb[0] + kd * g->dil[0];
                        for (int64_t kh = 0; kh < g->k[1]; kh++) {
                            int64_t ih = oh * g->stride[1] - g->pb[1] + kh * g->dil[1];
                            for (int64_t kw = 0; kw < g->k[2]; kw++) {
                                int64_t iw = ow * g->stride[2] - g->pb[2] + kw * g->dil[2];
                                if (id < g->in[0] + g->pe[0] && ih < g->in[1] + g->pe[1] &&
                                    iw < g->in[2] + g->pe[2])
                                    cnt_pad++;
                                if (id < 0 || id >= g->in[0] || ih < 0 || ih >= g->in[1] ||
                                    iw < 0 || iw >= g->in[2])
                                    continue;
                                int64_t off = (id * g->in[1] + ih) * g->in[2] + iw;
                                float v = xc[off];
                                cnt++;
                                if (kind)
                                    acc += v;
                                else if (v > acc || best < 0) {
                                    acc = v;
                                    best = order ? (iw * g->in[1] + ih) * g->in[0] + id : off;
                                }
                            }
                        }
                    }
                    if (kind)
                        y[o] = (float)(acc / (double)(include_pad ? cnt_pad : (cnt ? cnt : 1)));
                    else
                        y[o] = (float)acc;
                    if (ind)
                        ind[o] = nc * ihw + (best < 0 ? 0 : best);
                }
    }
}

cq_status cq__pool2d_of(const cq_node *n, int kind, int ndim, const int64_t *xs,
                        cq_pool2d_params *p, cq_err *err)
{
    cq_convgeo g;
    if (pool_geo(n, ndim, xs, &g, err))
        return err->code;
    if (g.s != 2 || g.n * g.c <= 0)
        return cq_errf(err, CQ_EUNSUPPORTED, "%s '%s': not a 2-D pool of a non-empty input",
                       n->op_type, n->name);
    *p = cq_pool2d_params_default();
    p->kind = kind ? CQ_POOL_AVG : CQ_POOL_MAX;
    p->n = g.n;
    p->c = g.c;
    p->h = g.in[1];
    p->w = g.in[2];
    p->kh = g.k[1];
    p->kw = g.k[2];
    p->stride_h = g.stride[1];
    p->stride_w = g.stride[2];
    p->pad_top = g.pb[1];
    p->pad_bottom = g.pe[1];
    p->pad_left = g.pb[2];
    p->pad_right = g.pe[2];
    p->dil_h = g.dil[1];
    p->dil_w = g.dil[2];
    p->ceil_mode = (int)cq_node_int(n, "ceil_mode", 0);
    p->count_include_pad = (int)cq_node_int(n, "count_include_pad", 0);
    /* kern.h's output size must be ONNX's (auto_pad was resolved into pads) */
    int64_t oh, ow;
    cq_err e2;
    if (cq_pool2d_out_shape(p, &oh, &ow, &e2) || oh != g.out[1] || ow != g.out[2])
        return cq_errf(err, CQ_EUNSUPPORTED, "%s '%s': kern.h's pool gives %lldx%lld, ONNX "
                       "%lldx%lld", n->op_type, n->name, (long long)oh, (long long)ow,
                       (long long)g.out[1], (long long)g.out[2]);
    return CQ_OK;
}

static cq_status run_pool(int kind, const cq_node *n, cq_tensor *const *in, int n_out,
                          cq_tensor *const *out, int nhwc, cq_err *err)
{
    cq_convgeo g;
    if (pool_geo(n, in[0]->ndim, in[0]->shape, &g, err))
        return err->code;
    int incl = (int)cq_node_int(n, "count_include_pad", 0);
    int order = (int)cq_node_int(n, "storage_order", 0);
    int64_t *ind = n_out > 1 && out[1] ? cq_tensor_data(out[1]) : NULL;
    cq_pool2d_params p;
    cq_err e2;
    if (nhwc && in[0]->dtype == CQ_F32) {
        /* NCHW16c between the convolutions (maxpool_blocked_ok) */
        if (kind || ind || cq__pool2d_of(n, kind, in[0]->ndim, in[0]->shape, &p, err))
            return cq_errf(err, CQ_ESTATE, "%s '%s': NCHW16c planned for a pool it does not "
                           "take", n->op_type, n->name);
        return cq_maxpool2d_blocked_f32(&p, cq_tensor_data(in[0]),
                                        (size_t)cq_tensor_numel(in[0]), cq_tensor_data(out[0]),
                                        (size_t)cq_tensor_numel(out[0]), err);
    }
    if (in[0]->dtype == CQ_F32 && !ind &&
        cq__pool2d_of(n, kind, in[0]->ndim, in[0]->shape, &p, &e2) == CQ_OK)
        return cq_pool2d_f32(&p, cq_tensor_data(in[0]), (size_t)cq_tensor_numel(in[0]),
                             cq_tensor_data(out[0]), (size_t)cq_tensor_numel(out[0]), err);
    if (in[0]->dtype == CQ_F32) {
        pool_f32(&g, kind, incl, order, cq_tensor_data(in[0]), cq_tensor_data(out[0]), ind);
        return CQ_OK;
    }
    /* codes: max commutes with their dequantization */
    if (!kind && !ind && (in[0]->dtype == CQ_U8 || in[0]->dtype == CQ_S8) &&
        cq__pool2d_of(n, kind, in[0]->ndim, in[0]->shape, &p, &e2) == CQ_OK)
        return cq_maxpool2d_8(&p, in[0]->dtype, cq_tensor_data(in[0]), cq_tensor_data(out[0]),
                              nhwc, err);
    if (nhwc)
        return cq_errf(err, CQ_ESTATE, "%s '%s': planned in NHWC but not on codes", n->op_type,
                       n->name);
    cq_tensor *xf = cq_tensor_to(in[0], CQ_F32, err);
    if (!xf)
        return err->code;
    cq_tensor *yf = cq_tensor_empty(CQ_F32, out[0]->ndim, out[0]->shape, err);
    if (!yf) {
        cq_tensor_release(xf);
        return err->code;
    }
    pool_f32(&g, kind, incl, order, cq_tensor_data(xf), cq_tensor_data(yf), ind);
    cq_status st = cq_tensor_copy(out[0], yf, err);
    cq_tensor_release(xf);
    cq_tensor_release(yf);
    return st;
}

static cq_status run_maxpool(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                             cq_tensor *const *out, cq_openv *env, cq_err *err)
{
    (void)n_in;
    return run_pool(0, n, in, n_out, out, env->x_blocked, err);
}

static cq_status run_avgpool(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                             cq_tensor *const *out, cq_openv *env, cq_err *err)
{
    (void)n_in, (void)env;
    return run_pool(1, n, in, n_out, out, 0, err);
}

static cq_status infer_gap(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                           int n_out, cq_tinfo *out, cq_err *err)
{
    (void)opset, (void)n_out;
    if (n_in < 1 || in[0].ndim < 0)
        return cq_errf(err, CQ_EINVAL, "GlobalAveragePool '%s': missing input", n->name);
    if (in[0].ndim < 2)
        return cq_errf(err, CQ_EINVAL, "GlobalAveragePool '%s': rank below 2", n->name);
    cq__same(&in[0], &out[0]);
    for (int i = 2; i < in[0].ndim; i++)
        out[0].shape[i] = 1;
    return CQ_OK;
}

static cq_status run_gap(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                         cq_tensor *const *out, cq_openv *env, cq_err *err)
{
    (void)n_in, (void)n_out;
    if (in[0]->dtype != CQ_F32)
        return cq_errf(err, CQ_EUNSUPPORTED, "GlobalAveragePool '%s': f32 only", n->name);
    int64_t nc = in[0]->shape[0] * in[0]->shape[1];
    int64_t sp = cq__numel(in[0]->ndim - 2, in[0]->shape + 2);
    if (env->x_blocked) { /* NCHW16c from the convolution before (exec.c's plan) */
        if (in[0]->ndim != 4 || in[0]->shape[1] % 16)
            return cq_errf(err, CQ_ESTATE, "GlobalAveragePool '%s': NCHW16c planned for a "
                           "shape without whole 16-channel blocks", n->name);
        cq_global_avgpool_blocked_f32(in[0]->shape[0], in[0]->shape[1], sp,
                                      cq_tensor_data(in[0]), cq_tensor_data(out[0]));
        return CQ_OK;
    }
    cq_global_avgpool_f32(nc, sp, cq_tensor_data(in[0]), cq_tensor_data(out[0]));
    return CQ_OK;
}

static cq_status maxpool_of(const cq_node *n, int ndim, const int64_t *xs, cq_pool2d_params *p,
                            cq_err *err)
{
    return cq__pool2d_of(n, 0, ndim, xs, p, err);
}

/* CQ_OP_BLOCKED_OUT: 8-bit codes stay NHWC through a max pool, f32 NCHW16c
 * (whole 16-channel blocks: U-Net's and detection necks' pools between
 * convolutions), input and output in one layout (hooks->blocked_in). */
static int maxpool_blocked_ok(const cq_graph *g, const cq_node *n, int x_blocked)
{
    if (!x_blocked || n->n_inputs < 1 || n->inputs[0] < 0 ||
        (n->n_outputs > 1 && n->outputs[1] >= 0))
        return 0;
    const cq_value *x = &g->values[n->inputs[0]];
    if (!x->has_type || x->ndim != 4 ||
        (x->dtype != CQ_U8 && x->dtype != CQ_S8 && x->dtype != CQ_F32) ||
        (x->dtype == CQ_F32 && x->shape[1] % 16))
        return 0;
    for (int d = 0; d < 4; d++)
        if (x->shape[d] <= 0)
            return 0;
    cq_pool2d_params p;
    cq_err err;
    return cq__pool2d_of(n, 0, x->ndim, x->shape, &p, &err) == CQ_OK;
}

static const cq_op_hooks maxpool_hooks = {
    .pool_of = maxpool_of, .blocked_ok = maxpool_blocked_ok, .blocked_in = 1u};

const cq_op cq__ops_pool[] = {
    {"MaxPool", "", infer_pool, run_maxpool, CQ_OP_POOL | CQ_OP_BLOCKED_IN | CQ_OP_BLOCKED_OUT,
     &maxpool_hooks},
    {"AveragePool", "", infer_pool, run_avgpool, 0, NULL},
    {"GlobalAveragePool", "", infer_gap, run_gap, CQ_OP_BLOCKED_IN, NULL},
};
CQ__STATIC_ASSERT(sizeof cq__ops_pool / sizeof cq__ops_pool[0] == CQ_OPS_POOL_N, pool_rows);
