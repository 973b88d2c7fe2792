/* ops_conv.c - Conv through kern.h (3-D ones one output depth plane at a
 * time), BatchNormalization; ConvTranspose's row, whose code is
 * ops_convt.c's. Layout NCHW (docs/design-exec.md). */
#include "ops/ops_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The largest spatial size, kernel size, stride, dilation or pad a
 * convolution takes (2^30): larger ones are refused, not overflowed. */
#define CONV_DIM_MAX ((int64_t)1 << 30)

/* ---- geometry --------------------------------------------------------------- */

cq_status cq__conv_geo(const cq_node *n, int xnd, const int64_t *xs, int wnd, const int64_t *ws,
                       cq_convgeo *g, cq_err *err)
{
    memset(g, 0, sizeof *g);
    int s = xnd - 2;
    if (s < 1 || s > 3 || wnd != xnd)
        return cq_errf(err, CQ_EUNSUPPORTED, "%s '%s': calq supports 1 to 3 spatial dims with "
                       "matching X and W ranks", n->op_type, n->name);
    int transpose = !strcmp(n->op_type, "ConvTranspose");
    g->s = s;
    g->n = xs[0];
    g->c = xs[1];
    g->group = cq_node_int(n, "group", 1);
    if (g->group < 1 || g->c % g->group)
        return cq_errf(err, CQ_EINVAL, "%s '%s': group %lld does not divide %lld channels",
                       n->op_type, n->name, (long long)g->group, (long long)g->c);
    g->m = transpose ? ws[1] * g->group : ws[0];
    if ((transpose ? ws[0] != g->c : ws[1] * g->group != g->c) || g->m % g->group)
        return cq_errf(err, CQ_EINVAL, "%s '%s': W's shape does not match X's channels",
                       n->op_type, n->name);
    int64_t ks[3], st[3], dl[3], pads[6], op[3], os[5];
    int64_t nk = cq_node_ints(n, "kernel_shape", ks, 3);
    int64_t nst = cq_node_ints(n, "strides", st, 3);
    int64_t ndl = cq_node_ints(n, "dilations", dl, 3);
    int64_t np = cq_node_ints(n, "pads", pads, 6);
    int64_t nop = cq_node_ints(n, "output_padding", op, 3);
    int64_t nos = cq_node_ints(n, "output_shape", os, 5);
    const char *ap = cq_node_string(n, "auto_pad", "NOTSET");
    /* output_shape: the spatial sizes, or the whole shape (N, C, spatial) */
    if ((nst && nst != s) || (ndl && ndl != s) || (np && np != 2 * s) || (nk && nk != s) ||
        (nop && nop != s) || (nos && nos != s && nos != s + 2))
        return cq_errf(err, CQ_EINVAL, "%s '%s': attribute lengths do not match %d spatial dims",
                       n->op_type, n->name, s);
    int off = 3 - s;
    for (int i = 0; i < 3; i++) {
        g->in[i] = g->k[i] = g->out[i] = g->stride[i] = g->dil[i] = 1;
    }
    for (int i = 0; i < s; i++) {
        int j = off + i;
        g->in[j] = xs[2 + i];
        g->k[j] = ws[2 + i];
        g->stride[j] = nst ? st[i] : 1;
        g->dil[j] = ndl ? dl[i] : 1;
        g->pb[j] = np ? pads[i] : 0;
        g->pe[j] = np ? pads[s + i] : 0;
        if (g->stride[j] < 1 || g->dil[j] < 1 || g->pb[j] < 0 || g->pe[j] < 0)
            return cq_errf(err, CQ_EINVAL, "%s '%s': bad strides, dilations or pads", n->op_type,
                           n->name);
        /* each term below 2^30, so the sizes below (products of two, sums of
         * a few) cannot overflow int64 */
        if (g->in[j] > CONV_DIM_MAX || g->k[j] > CONV_DIM_MAX || g->stride[j] > CONV_DIM_MAX ||
            g->dil[j] > CONV_DIM_MAX || g->pb[j] > CONV_DIM_MAX || g->pe[j] > CONV_DIM_MAX ||
            (nop && (op[i] < 0 || op[i] > CONV_DIM_MAX)) ||
            (nos && (os[nos - s + i] < 0 || os[nos - s + i] > CONV_DIM_MAX)))
            return cq_errf(err, CQ_EINVAL,
                           "%s '%s': a size, stride, dilation or pad of spatial dim %d is "
                           "negative or over 2^30",
                           n->op_type, n->name, i);
        int64_t ek = g->dil[j] * (g->k[j] - 1) + 1;
        if (!transpose) {
            if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
                int64_t o = (g->in[j] + g->stride[j] - 1) / g->stride[j];
                int64_t tot = (o - 1) * g->stride[j] + ek - g->in[j];
                tot = tot > 0 ? tot : 0;
                g->pb[j] = !strcmp(ap, "SAME_UPPER") ? tot / 2 : tot - tot / 2;
                g->pe[j] = tot - g->pb[j];
            } else if (!strcmp(ap, "VALID")) {
                g->pb[j] = g->pe[j] = 0;
            }
            int64_t span = g->in[j] + g->pb[j] + g->pe[j] - ek;
            if (span < 0)
                return cq_errf(err, CQ_EINVAL, "%s '%s': kernel larger than padded input",
                               n->op_type, n->name);
            g->out[j] = span / g->stride[j] + 1;
        } else {
            int64_t opad = nop ? op[i] : 0;
            int64_t full = g->stride[j] * (g->in[j] - 1) + opad + ek;
            int64_t want = -1;
            if (nos)
                want = os[nos - s + i];
            else if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER"))
                want = g->in[j] * g->stride[j];
            if (want >= 0) {
                int64_t tot = full - want;
                if (tot < 0)
                    tot = 0;
                if (!strcmp(ap, "SAME_LOWER")) {
                    g->pb[j] = tot - tot / 2;
                    g->pe[j] = tot / 2;
                } else {
                    g->pb[j] = tot / 2;
                    g->pe[j] = tot - tot / 2;
                }
                g->out[j] = want;
            } else {
                g->out[j] = full - g->pb[j] - g->pe[j];
            }
            if (g->out[j] < 0)
                return cq_errf(err, CQ_EINVAL, "%s '%s': negative output size", n->op_type,
                               n->name);
        }
    }
    return CQ_OK;
}

/* ---- Conv's plan --------------------------------------------------------------- */

/* Kept in the caller's plan slot (cq_openv.plan): the kernel plan (packed
 * weights, algorithm) and the parameters it was made for. conv_plan_new makes
 * it while the executor plans, where the input shape is known statically;
 * otherwise the first run makes it for the shape seen then, and a run with
 * another shape remakes it. Only kept when W and B are constants. */
typedef struct conv_plan {
    cq_conv2d_plan *kp;
    cq_conv2d_params p;
    /* the geometry of the last run's 4-D x and w shapes (gx[0] 0: none):
     * read from the attributes anew, it was 0.4 % of MobileNetV2's run */
    int64_t gx[4], gw[4];
    cq_convgeo g;
} conv_plan;

/* The geometry of node n on x and w: the plan's where the shapes are the
 * last run's, else from the attributes (kept in the plan, when there is one). */
static cq_status conv_geo_of(const cq_node *n, const cq_tensor *x, const cq_tensor *w,
                             cq_openv *env, cq_convgeo *g, cq_err *err)
{
    conv_plan *c = env->plan ? *env->plan : NULL;
    int four = x->ndim == 4 && w->ndim == 4;
    if (c && four && c->gx[0] && !memcmp(c->gx, x->shape, sizeof c->gx) &&
        !memcmp(c->gw, w->shape, sizeof c->gw)) {
        *g = c->g;
        return CQ_OK;
    }
    if (cq__conv_geo(n, x->ndim, x->shape, w->ndim, w->shape, g, err))
        return err->code;
    if (c && four && x->shape[0] > 0) {
        memcpy(c->gx, x->shape, sizeof c->gx);
        memcpy(c->gw, w->shape, sizeof c->gw);
        c->g = *g;
    }
    return CQ_OK;
}

static void conv_plan_free(void *plan)
{
    conv_plan *c = plan;
    if (c)
        cq_conv2d_plan_free(c->kp);
    free(c);
}

static int same_params(const cq_conv2d_params *a, const cq_conv2d_params *b)
{
    return a->n == b->n && a->c_in == b->c_in && a->h == b->h && a->w == b->w &&
           a->c_out == b->c_out && a->kh == b->kh && a->kw == b->kw && a->groups == b->groups &&
           a->stride_h == b->stride_h && a->stride_w == b->stride_w &&
           a->pad_top == b->pad_top && a->pad_left == b->pad_left &&
           a->pad_bottom == b->pad_bottom && a->pad_right == b->pad_right &&
           a->dil_h == b->dil_h && a->dil_w == b->dil_w && a->act.kind == b->act.kind &&
           a->act.a == b->act.a && a->act.b == b->act.b && a->x_blocked == b->x_blocked &&
           a->y_blocked == b->y_blocked && a->res_blocked == b->res_blocked &&
           a->bf16 == b->bf16;
}

/* kern.h's parameters of a 1-D or 2-D geometry (no activation). */
static cq_conv2d_params conv_params_of(const cq_convgeo *g)
{
    cq_conv2d_params p = cq_conv2d_params_default();
    p.n = g->n;
    p.c_in = g->c;
    p.h = g->in[1];
    p.w = g->in[2];
    p.c_out = g->m;
    p.kh = g->k[1];
    p.kw = g->k[2];
    p.groups = g->group;
    p.stride_h = g->stride[1];
    p.stride_w = g->stride[2];
    p.pad_top = g->pb[1];
    p.pad_bottom = g->pe[1];
    p.pad_left = g->pb[2];
    p.pad_right = g->pe[2];
    p.dil_h = g->dil[1];
    p.dil_w = g->dil[2];
    return p;
}

/* Conv through kern.h for 1-D and 2-D f32 convolutions; 1 when done, 0 when
 * the generic path must run, -1 on error. */
static int conv_kern(const cq_node *n, const cq_convgeo *g, cq_tensor *const *in, int n_in,
                     cq_tensor *y, cq_openv *env, cq_err *err)
{
    if (g->s > 2 || g->in[0] != 1)
        return 0;
    const cq_tensor *x = in[0], *w = in[1], *b = n_in > 2 ? in[2] : NULL;
    cq_conv2d_params p = conv_params_of(g);
    p.act = env->act;
    p.x_blocked = env->x_blocked;
    p.y_blocked = env->y_blocked;
    p.res_blocked = env->residual && env->res_blocked;
    p.bf16 = env->precision == CQ_BF16; /* the precision map's bf16: kern.h says where */
    if (!p.n || !p.c_in || !p.c_out || !p.h || !p.w)
        return 0;
    int keep = env->in_const && env->in_const[1] && (!b || env->in_const[2]);
    void **slot = keep ? env->plan : NULL;
    conv_plan *c = slot ? *slot : NULL;
    cq_conv2d_plan *kp = NULL;
    if (c && c->kp && same_params(&c->p, &p)) {
        kp = c->kp;
    } else {
        kp = cq_conv2d_plan_new(&p, cq_tensor_data(w), (size_t)cq_tensor_numel(w),
                                b ? cq_tensor_data(b) : NULL, b ? (size_t)cq_tensor_numel(b) : 0,
                                err);
        if (!kp)
            return -1;
        if (slot) {
            if (!c) {
                c = calloc(1, sizeof *c);
                if (!c) {
                    cq_conv2d_plan_free(kp);
                    cq_errf(err, CQ_ENOMEM, "out of memory");
                    return -1;
                }
                *slot = c;
            }
            cq_conv2d_plan_free(c->kp);
            c->kp = kp;
            c->p = p;
        }
    }
    size_t sb = env->pool ? cq_conv2d_pool_scratch_bytes(kp, env->pool)
                          : cq_conv2d_scratch_bytes(kp);
    void *scratch = sb ? cq__scratch(env, sb) : NULL;
    cq_status st = sb && !scratch ? cq_errf(err, CQ_ENOMEM, "Conv '%s': no scratch", n->name)
                  : env->pool
                      ? cq_conv2d_run_pool(kp, env->pool, cq_tensor_data(x),
                                           (size_t)cq_tensor_numel(x), cq_tensor_data(y),
                                           (size_t)cq_tensor_numel(y), scratch, sb, err)
                  : env->residual
                      ? cq_conv2d_run_res(kp, cq_tensor_data(x), (size_t)cq_tensor_numel(x),
                                          cq_tensor_data(env->residual), cq_tensor_data(y),
                                          (size_t)cq_tensor_numel(y), scratch, sb, err)
                      : cq_conv2d_run(kp, cq_tensor_data(x), (size_t)cq_tensor_numel(x),
                                      cq_tensor_data(y), (size_t)cq_tensor_numel(y), scratch, sb,
                                      err);
    if (!slot)
        cq_conv2d_plan_free(kp);
    return st ? -1 : 1;
}

/* The kern.h parameters of a 2-D Conv node from what is known at plan time
 * (input shape all known, weights constant); 0 when they cannot be. */
static int plan_params(const cq_graph *g, const cq_node *conv, cq_conv2d_params *p)
{
    if (conv->n_inputs < 2 || conv->inputs[0] < 0 || conv->inputs[1] < 0)
        return 0;
    const cq_value *x = &g->values[conv->inputs[0]], *w = &g->values[conv->inputs[1]];
    if (!x->has_type || !w->data || x->ndim != 4)
        return 0;
    for (int d = 0; d < 4; d++)
        if (x->shape[d] <= 0)
            return 0;
    cq_convgeo cg;
    cq_err err;
    if (cq__conv_geo(conv, x->ndim, x->shape, w->data->ndim, w->data->shape, &cg, &err) ||
        cg.s != 2)
        return 0;
    *p = conv_params_of(&cg);
    return 1;
}

/* Whether the 2-D Conv node is f32 throughout with constant f32 weights and
 * bias (what the kernel plans and the blocked layout exist for). */
static int f32_const_weights(const cq_graph *g, const cq_node *conv)
{
    const cq_value *x = &g->values[conv->inputs[0]], *w = &g->values[conv->inputs[1]];
    const cq_value *b = conv->n_inputs > 2 && conv->inputs[2] >= 0
                            ? &g->values[conv->inputs[2]]
                            : NULL;
    return x->dtype == CQ_F32 && w->data->dtype == CQ_F32 &&
           (!b || (b->data && b->data->dtype == CQ_F32));
}

/* CQ_OP_PLAN: the kernel plan, for the input shape known at plan time and
 * constant f32 weights; nothing (the first run makes it) otherwise. */
static cq_status conv_plan_new(const cq_graph *g, const cq_node *n, const cq_openv *env,
                               void **plan, cq_err *err)
{
    cq_conv2d_params p;
    *plan = NULL;
    if (!plan_params(g, n, &p) || !f32_const_weights(g, n) || !p.c_out)
        return CQ_OK;
    const cq_tensor *w = g->values[n->inputs[1]].data;
    const cq_tensor *b = n->n_inputs > 2 && n->inputs[2] >= 0 ? g->values[n->inputs[2]].data
                                                              : NULL;
    if (!cq_tensor_is_contiguous(w) || (b && !cq_tensor_is_contiguous(b)))
        return CQ_OK;
    p.act = env->act;
    p.x_blocked = env->x_blocked;
    p.y_blocked = env->y_blocked;
    p.res_blocked = env->res_blocked;
    p.bf16 = env->precision == CQ_BF16;
    conv_plan *c = calloc(1, sizeof *c);
    if (!c)
        return cq_errf(err, CQ_ENOMEM, "Conv '%s': out of memory", n->name);
    c->kp = cq_conv2d_plan_new(&p, cq_tensor_data(w), (size_t)cq_tensor_numel(w),
                               b ? cq_tensor_data(b) : NULL, b ? (size_t)cq_tensor_numel(b) : 0,
                               err);
    if (!c->kp) {
        free(c);
        return cq_err_prefix(err, err->code, "Conv '%s': ", n->name);
    }
    c->p = p;
    *plan = c;
    return CQ_OK;
}

/* CQ_OP_BLOCKED_OUT */
static int conv_blocked_ok(const cq_graph *g, const cq_node *conv, int x_blocked)
{
    cq_conv2d_params p;
    if (conv->n_outputs < 1 || conv->outputs[0] < 0 || !plan_params(g, conv, &p) ||
        !f32_const_weights(g, conv))
        return 0;
    const cq_value *y = &g->values[conv->outputs[0]];
    if (!y->has_type || y->dtype != CQ_F32)
        return 0;
    p.x_blocked = x_blocked;
    /* fewer than 16 output channels (or a ragged block): y stays NCHW, and
     * the question is whether x may be read blocked (U-Net's 16 > 2 head,
     * which otherwise makes the conv before it write NCHW) */
    p.y_blocked = p.c_out % 16 == 0;
    return p.y_blocked || x_blocked ? cq_conv2d_blocked_native(&p) : 0;
}

/* CQ_OP_TAKES_POOL: a MaxPool reading the conv's output (or its fused
 * activation's). */
static int conv_pool_fusable(const cq_graph *g, const cq_node *conv, const cq_node *pool,
                             int y_blocked)
{
    cq_conv2d_params p;
    if (pool->n_inputs < 1 || pool->inputs[0] < 0 || !plan_params(g, conv, &p))
        return 0;
    const cq_value *y = &g->values[pool->inputs[0]];
    if (!y->has_type || y->ndim != 4)
        return 0;
    for (int d = 0; d < 4; d++)
        if (y->shape[d] <= 0)
            return 0;
    cq_pool2d_params q;
    cq_err err;
    if (cq__pool2d_of(pool, 0, y->ndim, y->shape, &q, &err))
        return 0;
    p.y_blocked = y_blocked;
    return cq_conv2d_pool_fusable(&p, &q);
}

static const cq_op_hooks conv_hooks = {
    .pool_fusable = conv_pool_fusable,
    .blocked_ok = conv_blocked_ok,
    .plan_new = conv_plan_new,
    .plan_free = conv_plan_free,
};

/* ---- Conv --------------------------------------------------------------------- */

static cq_status infer_conv(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                            int n_out, cq_tinfo *out, cq_err *err)
{
    (void)opset, (void)n_out;
    if (n_in < 2 || in[0].ndim < 0 || in[1].ndim < 0)
        return cq_errf(err, CQ_EINVAL, "%s '%s': needs X and W", n->op_type, n->name);
    cq_convgeo g;
    if (cq__conv_geo(n, in[0].ndim, in[0].shape, in[1].ndim, in[1].shape, &g, err))
        return err->code;
    if (!strcmp(n->op_type, "Conv") && n_in > 2 && in[2].ndim >= 0 &&
        cq__numel(in[2].ndim, in[2].shape) != g.m)
        return cq_errf(err, CQ_EINVAL, "Conv '%s': bias has %lld values for %lld channels",
                       n->name, (long long)cq__numel(in[2].ndim, in[2].shape), (long long)g.m);
    /* the integer convolutions reuse this with their X and W only (infer_int
     * in ops_quant.c), and set their output dtype themselves */
    out[0].dtype = in[0].dtype;
    out[0].data = NULL;
    out[0].ndim = in[0].ndim;
    out[0].shape[0] = g.n;
    out[0].shape[1] = g.m;
    for (int i = 0; i < g.s; i++)
        out[0].shape[2 + i] = g.out[3 - g.s + i];
    return CQ_OK;
}

/* ---- 3-D convolutions, plane by plane ------------------------------------------ */

int cq__conv_planar(const cq_convgeo *g)
{
    return g->in[0] == 1 && g->k[0] == 1 && g->out[0] == 1 && g->pb[0] == 0;
}

const void *cq__conv_plane_in(const cq_convgeo *g, int transpose, size_t esize, const void *x,
                              int64_t od, const void *fill, void *buf)
{
    if (cq__conv_planar(g))
        return x;
    int64_t hw = g->in[1] * g->in[2], kd = g->k[0];
    size_t plane = (size_t)hw * esize;
    char *dst = buf;
    for (int64_t i = 0; i < g->n; i++)
        for (int64_t c = 0; c < g->c; c++)
            for (int64_t t = 0; t < kd; t++, dst += plane) {
                /* Conv: od = (id + pb - t dil) / stride; ConvTranspose: od =
                 * id stride - pb + t dil */
                int64_t id = od * g->stride[0] - g->pb[0] + t * g->dil[0];
                if (transpose) {
                    int64_t r = od + g->pb[0] - t * g->dil[0];
                    id = r >= 0 && r % g->stride[0] == 0 ? r / g->stride[0] : -1;
                }
                if (id >= 0 && id < g->in[0]) {
                    memcpy(dst, (const char *)x + ((i * g->c + c) * g->in[0] + id) * (int64_t)plane,
                           plane);
                    continue;
                }
                for (int64_t j = 0; j < hw; j++)
                    memcpy(dst + (size_t)j * esize, fill, esize);
            }
    return buf;
}

void cq__conv_plane_out(const cq_convgeo *g, size_t esize, const void *plane, int64_t od,
                        void *y)
{
    if (cq__conv_planar(g))
        return;
    size_t p = (size_t)(g->out[1] * g->out[2]) * esize;
    for (int64_t i = 0; i < g->n * g->m; i++)
        memcpy((char *)y + (size_t)(i * g->out[0] + od) * p, (const char *)plane + (size_t)i * p,
               p);
}

cq_conv2d_params cq__conv_plane_params(const cq_convgeo *g)
{
    cq_conv2d_params p = conv_params_of(g);
    p.c_in = g->c * g->k[0];
    return p;
}

/* Conv where conv_kern does not run it: 3-D geometries, one output depth
 * plane at a time through kern.h, and empty inputs (the bias alone). */
static cq_status conv_planes(const cq_node *n, const cq_convgeo *g, const cq_tensor *x,
                             const cq_tensor *w, const cq_tensor *b, cq_openv *env,
                             cq_tensor *y, cq_err *err)
{
    const float *pb = b ? cq_tensor_data(b) : NULL;
    float *py = cq_tensor_data(y);
    int64_t ny = cq_tensor_numel(y), P = g->out[1] * g->out[2];
    cq_act act = env->act;
    if (ny == 0)
        return CQ_OK;
    if (cq_tensor_numel(x) == 0 || cq_tensor_numel(w) == 0) {
        for (int64_t i = 0; i < ny; i++)
            py[i] = pb ? pb[i / (g->out[0] * P) % g->m] : 0.0f;
    } else {
        cq_conv2d_params p = cq__conv_plane_params(g);
        if (!env->residual) {
            p.act = act;
            act.kind = CQ_ACT_NONE;
        }
        cq_conv2d_plan *kp = cq_conv2d_plan_new(&p, cq_tensor_data(w),
                                                (size_t)cq_tensor_numel(w), pb,
                                                pb ? (size_t)g->m : 0, err);
        if (!kp)
            return cq_err_prefix(err, err->code, "Conv '%s': ", n->name);
        int planar = cq__conv_planar(g);
        size_t nin = (size_t)(p.n * p.c_in * p.h * p.w), nout = (size_t)(g->n * g->m * P);
        size_t in_b = planar ? 0 : nin * sizeof(float), out_b = planar ? 0 : nout * sizeof(float);
        size_t sb = cq_conv2d_scratch_bytes(kp);
        char *s = cq__scratch(env, in_b + out_b + sb + 1);
        cq_status st = s ? CQ_OK : cq_errf(err, CQ_ENOMEM, "Conv '%s': no memory", n->name);
        const float zero = 0.0f;
        for (int64_t od = 0; st == CQ_OK && od < g->out[0]; od++) {
            const float *xp = cq__conv_plane_in(g, 0, sizeof(float), cq_tensor_data(x), od,
                                                &zero, s);
            float *yp = planar ? py : (float *)(s + in_b);
            st = cq_conv2d_run(kp, xp, nin, yp, nout, s + in_b + out_b, sb, err);
            cq__conv_plane_out(g, sizeof(float), yp, od, py);
        }
        cq_conv2d_plan_free(kp);
        if (st)
            return st;
    }
    if (env->residual) {
        const float *r = cq_tensor_data(env->residual);
        for (int64_t j = 0; j < ny; j++)
            py[j] += r[j];
    }
    if (act.kind)
        cq_act_apply_f32(act, py, ny);
    return CQ_OK;
}

/* Conv into out[0], or with env->pool, pooled into out[0]. */
static cq_status run_conv(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                          cq_tensor *const *out, cq_openv *env, cq_err *err)
{
    (void)n_out;
    const cq_tensor *x = in[0], *w = in[1], *b = n_in > 2 ? in[2] : NULL;
    if (x->dtype != CQ_F32 || w->dtype != CQ_F32 || (b && b->dtype != CQ_F32))
        return cq_errf(err, CQ_EUNSUPPORTED, "Conv '%s': calq runs it on f32 only", n->name);
    cq_convgeo g;
    if (conv_geo_of(n, x, w, env, &g, err))
        return err->code;
    const cq_pool2d_params *pool = env->pool;
    if (pool) {
        if (env->residual || g.s != 2 || pool->n != g.n || pool->c != g.m ||
            pool->h != g.out[1] || pool->w != g.out[2])
            return cq_errf(err, CQ_EINVAL, "Conv '%s': the fused pool does not take the output",
                           n->name);
        int kr = conv_kern(n, &g, in, n_in, out[0], env, err);
        if (kr)
            return kr < 0 ? cq_err_prefix(err, err->code, "Conv '%s': ", n->name) : CQ_OK;
        if (env->x_blocked || env->y_blocked)
            return cq_errf(err, CQ_ESTATE, "Conv '%s': NCHW16c planned where only NCHW runs",
                           n->name);
        /* the generic path: the whole conv output, then the pool */
        int64_t cs[4] = {g.n, g.m, g.out[1], g.out[2]};
        cq_tensor *c = cq_tensor_empty(CQ_F32, 4, cs, err);
        if (!c)
            return err->code;
        env->pool = NULL;
        cq_status st = run_conv(n, n_in, in, 1, &c, env, err);
        env->pool = pool;
        if (!st)
            st = cq_pool2d_f32(pool, cq_tensor_data(c), (size_t)cq_tensor_numel(c),
                               cq_tensor_data(out[0]), (size_t)cq_tensor_numel(out[0]), err);
        cq_tensor_release(c);
        return st;
    }
    if (env->residual && (env->residual->dtype != CQ_F32 ||
                          cq_tensor_numel(env->residual) != cq_tensor_numel(out[0])))
        return cq_errf(err, CQ_EINVAL, "Conv '%s': the fused residual does not match the output",
                       n->name);
    int kr = conv_kern(n, &g, in, n_in, out[0], env, err);
    if (kr)
        return kr < 0 ? cq_err_prefix(err, err->code, "Conv '%s': ", n->name) : CQ_OK;
    if (env->x_blocked || env->y_blocked || env->res_blocked)
        return cq_errf(err, CQ_ESTATE, "Conv '%s': NCHW16c planned where only NCHW runs",
                       n->name);
    return conv_planes(n, &g, x, w, b, env, out[0], err);
}

/* ---- BatchNormalization ---------------------------------------------------------- */

static cq_status infer_bn(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                          int n_out, cq_tinfo *out, cq_err *err)
{
    (void)opset;
    if (n_in < 5 || in[0].ndim < 2)
        return cq_errf(err, CQ_EINVAL, "BatchNormalization '%s': needs X (rank >= 2) and 4 "
                       "parameters", n->name);
    for (int i = 1; i < 5; i++)
        if (cq__numel(in[i].ndim, in[i].shape) != in[0].shape[1] || in[i].ndim < 0)
            return cq_errf(err, CQ_EINVAL, "BatchNormalization '%s': input %d must hold %lld values",
                           n->name, i, (long long)in[0].shape[1]);
    cq__same(&in[0], &out[0]);
    for (int i = 1; i < n_out && i < 3; i++)
        cq__same(&in[2 + i], &out[i]);
    return CQ_OK;
}

static cq_status run_bn(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                        cq_tensor *const *out, cq_openv *env, cq_err *err)
{
    (void)n_in, (void)env;
    for (int i = 0; i < 5; i++)
        if (!in[i] || in[i]->dtype != CQ_F32)
            return cq_errf(err, CQ_EUNSUPPORTED, "BatchNormalization '%s': f32 only", n->name);
    const cq_tensor *x = in[0];
    int64_t nb = x->shape[0], c = x->shape[1], sp = cq__numel(x->ndim - 2, x->shape + 2);
    float eps = cq_node_float(n, "epsilon", 1e-5f), mom = cq_node_float(n, "momentum", 0.9f);
    const float *px = cq_tensor_data(x), *sc = cq_tensor_data(in[1]), *bi = cq_tensor_data(in[2]);
    const float *mean = cq_tensor_data(in[3]), *var = cq_tensor_data(in[4]);
    float *py = cq_tensor_data(out[0]);
    int training = cq_node_int(n, "training_mode", 0) != 0;
    for (int64_t ch = 0; ch < c; ch++) {
        double mu = mean[ch], vr = var[ch];
        if (training) {
            double s = 0, s2 = 0;
            for (int64_t i = 0; i < nb; i++)
                for (int64_t j = 0; j < sp; j++) {
                    double v = px[(i * c + ch) * sp + j];
                    s += v;
                    s2 += v * v;
                }
            double cnt = (double)(nb * sp);
            double bm = s / cnt, bv = s2 / cnt - bm * bm;
            if (n_out > 1 && out[1])
                ((float *)cq_tensor_data(out[1]))[ch] = (float)(mean[ch] * mom + bm * (1 - mom));
            if (n_out > 2 && out[2])
                ((float *)cq_tensor_data(out[2]))[ch] = (float)(var[ch] * mom + bv * (1 - mom));
            mu = bm;
            vr = bv;
        }
        float k = (float)(sc[ch] / sqrt(vr + eps)), o = (float)(bi[ch] - mu * k);
        for (int64_t i = 0; i < nb; i++) {
            const float *a = px + (i * c + ch) * sp;
            float *y = py + (i * c + ch) * sp;
            for (int64_t j = 0; j < sp; j++)
                y[j] = a[j] * k + o;
        }
    }
    if (!training)
        for (int i = 1; i < n_out && i < 3; i++)
            if (out[i])
                memcpy(cq_tensor_data(out[i]), cq_tensor_data(in[2 + i]), cq_tensor_nbytes(out[i]));
    return CQ_OK;
}

const cq_op cq__ops_conv[] = {
    {"Conv", "", infer_conv, run_conv,
     CQ_OP_TAKES_ACT | CQ_OP_TAKES_RESIDUAL | CQ_OP_TAKES_POOL | CQ_OP_BLOCKED_IN |
         CQ_OP_BLOCKED_OUT | CQ_OP_PLAN,
     &conv_hooks},
    {"ConvTranspose", "", infer_conv, cq__run_convtranspose,
     CQ_OP_PLAN | CQ_OP_BLOCKED_IN | CQ_OP_BLOCKED_OUT, &cq__convt_hooks},
    {"BatchNormalization", "", infer_bn, run_bn, 0, NULL},
};
CQ__STATIC_ASSERT(sizeof cq__ops_conv / sizeof cq__ops_conv[0] == CQ_OPS_CONV_N, conv_rows);
