/* ops_conv.c - Conv (im2col + sgemm, direct 1x1 and depthwise), ConvTranspose
 * (sgemm + col2im), BatchNormalization. Layout NCHW (docs/design-exec.md). */
#include "ops/ops.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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
    int64_t ks[3], st[3], dl[3], pads[6], op[3], os[3];
    int64_t nk = cq_node_ints(n, "kernel_shape", ks, 3);
    int64_t nst = cq_node_ints(n, "strides", st, 3);
    int64_t ndl = cq_node_ints(n, "dilations", dl, 3);
    int64_t np = cq_node_ints(n, "pads", pads, 6);
    int64_t nop = cq_node_ints(n, "output_padding", op, 3);
    int64_t nos = cq_node_ints(n, "output_shape", os, 3);
    const char *ap = cq_node_string(n, "auto_pad", "NOTSET");
    if ((nst && nst != s) || (ndl && ndl != s) || (np && np != 2 * s) || (nk && nk != s))
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

/* x is (cg, D, H, W); col is (cg*kd*kh*kw, od*oh*ow). */
void cq__im2col(const cq_convgeo *g, int64_t cg, const float *x, float *col, float pad)
{
    int64_t ohw = g->out[0] * g->out[1] * g->out[2];
    int64_t ihw = g->in[0] * g->in[1] * g->in[2];
    float *p = col;
    for (int64_t c = 0; c < cg; c++) {
        const float *xc = x + c * ihw;
        for (int64_t kd = 0; kd < g->k[0]; kd++)
            for (int64_t kh = 0; kh < g->k[1]; kh++)
                for (int64_t kw = 0; kw < g->k[2]; kw++) {
                    for (int64_t od = 0; od < g->out[0]; od++) {
                        int64_t id = od * g->stride[0] - g->pb[0] + kd * g->dil[0];
                        for (int64_t oh = 0; oh < g->out[1]; oh++) {
                            int64_t ih = oh * g->stride[1] - g->pb[1] + kh * g->dil[1];
                            float *row = p + (od * g->out[1] + oh) * g->out[2];
                            if (id < 0 || id >= g->in[0] || ih < 0 || ih >= g->in[1]) {
                                for (int64_t ow = 0; ow < g->out[2]; ow++)
                                    row[ow] = pad;
                                continue;
                            }
                            const float *xr = xc + (id * g->in[1] + ih) * g->in[2];
                            int64_t s = g->stride[2], b = kw * g->dil[2] - g->pb[2];
                            for (int64_t ow = 0; ow < g->out[2]; ow++) {
                                int64_t iw = ow * s + b;
                                row[ow] = (iw >= 0 && iw < g->in[2]) ? xr[iw] : pad;
                            }
                        }
                    }
                    p += ohw;
                }
    }
}

/* ---- Conv's node plan ------------------------------------------------------ */

/* Kept on cq_node.plan: the fused activation and the kernel plan (packed
 * weights, algorithm), made on the first run for the input shape seen then and
 * remade when it changes. Only made when W and B are constants. */
typedef struct conv_plan {
    cq__plan_head head;
    cq_conv2d_plan *kp;
    cq_conv2d_params p;
} conv_plan;

size_t cq__conv_plan_size(void) { return sizeof(conv_plan); }

void cq__conv_plan_free(void *plan)
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
           a->y_blocked == b->y_blocked && a->res_blocked == b->res_blocked;
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
static int conv_kern(cq_node *n, const cq_convgeo *g, cq_tensor *const *in, int n_in,
                     cq_tensor *y, cq_openv *env, cq_err *err)
{
    if (g->s > 2 || g->in[0] != 1)
        return 0;
    const cq_tensor *x = in[0], *w = in[1], *b = n_in > 2 ? in[2] : NULL;
    cq_conv2d_params p = conv_params_of(g);
    p.act = cq__node_act(n);
    p.x_blocked = env->x_blocked;
    p.y_blocked = env->y_blocked;
    p.res_blocked = env->residual && env->res_blocked;
    if (!p.n || !p.c_in || !p.c_out || !p.h || !p.w)
        return 0;
    int keep = env->in_const && env->in_const[1] && (!b || env->in_const[2]);
    conv_plan *c = n->plan;
    cq_conv2d_plan *kp = NULL;
    if (keep && c && c->kp && same_params(&c->p, &p)) {
        kp = c->kp;
    } else {
        kp = cq_conv2d_plan_new(&p, cq_tensor_data(w), (size_t)cq_tensor_numel(w),
                                b ? cq_tensor_data(b) : NULL, b ? (size_t)cq_tensor_numel(b) : 0,
                                err);
        if (!kp)
            return -1;
        if (keep) {
            if (!c) {
                c = calloc(1, sizeof *c);
                if (!c) {
                    cq_conv2d_plan_free(kp);
                    cq_errf(err, CQ_ENOMEM, "out of memory");
                    return -1;
                }
                n->plan = c;
                n->plan_free = cq__conv_plan_free;
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
    if (!keep)
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

int cq__conv_blocked_ok(const cq_graph *g, const cq_node *conv, int x_blocked)
{
    cq_conv2d_params p;
    if (conv->dead || (conv->domain && *conv->domain) || strcmp(conv->op_type, "Conv") ||
        conv->n_outputs < 1 || conv->outputs[0] < 0 || !plan_params(g, conv, &p))
        return 0;
    /* f32 throughout, a constant bias (the layout exists for f32 only) */
    const cq_value *x = &g->values[conv->inputs[0]], *w = &g->values[conv->inputs[1]];
    const cq_value *y = &g->values[conv->outputs[0]];
    const cq_value *b = conv->n_inputs > 2 && conv->inputs[2] >= 0
                            ? &g->values[conv->inputs[2]]
                            : NULL;
    if (x->dtype != CQ_F32 || w->data->dtype != CQ_F32 ||
        (b && (!b->data || b->data->dtype != CQ_F32)) || !y->has_type || y->dtype != CQ_F32)
        return 0;
    p.x_blocked = x_blocked;
    p.y_blocked = 1;
    return cq_conv2d_blocked_native(&p);
}

int cq__conv_pool_fusable(const cq_graph *g, const cq_node *conv, const cq_node *pool,
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
    out[0].dtype = !strcmp(n->op_type, "ConvInteger") ? CQ_S32 : in[0].dtype;
    if (!strcmp(n->op_type, "QLinearConv"))
        out[0].dtype = in[7].dtype;
    out[0].data = NULL;
    out[0].ndim = in[0].ndim;
    out[0].shape[0] = g.n;
    out[0].shape[1] = g.m;
    for (int i = 0; i < g.s; i++)
        out[0].shape[2 + i] = g.out[3 - g.s + i];
    return CQ_OK;
}

/* Depthwise 2-D (one input and one output channel per group), direct. */
static void depthwise(const cq_convgeo *g, const float *x, const float *w, float *y)
{
    int64_t ih = g->in[1], iw = g->in[2], oh = g->out[1], ow = g->out[2];
    int64_t kh = g->k[1], kw = g->k[2], sh = g->stride[1], sw = g->stride[2];
    for (int64_t i = 0; i < kh; i++)
        for (int64_t j = 0; j < kw; j++) {
            float wv = w[i * kw + j];
            int64_t offw = j * g->dil[2] - g->pb[2];
            /* ow range with 0 <= ow*sw + offw < iw */
            int64_t lo = offw >= 0 ? 0 : (-offw + sw - 1) / sw;
            int64_t hi = iw - offw <= 0 ? 0 : (iw - offw - 1) / sw + 1;
            if (hi > ow)
                hi = ow;
            for (int64_t r = 0; r < oh; r++) {
                int64_t h = r * sh - g->pb[1] + i * g->dil[1];
                if (h < 0 || h >= ih)
                    continue;
                const float *xr = x + h * iw + offw;
                float *yr = y + r * ow;
                if (sw == 1)
                    for (int64_t c = lo; c < hi; c++)
                        yr[c] += wv * xr[c];
                else
                    for (int64_t c = lo; c < hi; c++)
                        yr[c] += wv * xr[c * sw];
            }
        }
}

/* Conv into out[0], or with env->pool, pooled into out[0]. */
static cq_status run_conv(cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                          cq_tensor *const *out, cq_openv *env, cq_err *err)
{
    (void)n_out;
    const cq_tensor *x = in[0], *w = in[1], *b = n_in > 2 ? in[2] : NULL;
    if (x->dtype != CQ_F32 || w->dtype != CQ_F32 || (b && b->dtype != CQ_F32))
        return cq_errf(err, CQ_EUNSUPPORTED, "Conv '%s': calq runs it on f32 only", n->name);
    cq_convgeo g;
    if (cq__conv_geo(n, x->ndim, x->shape, w->ndim, w->shape, &g, err))
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
    int64_t cg = g.c / g.group, mg = g.m / g.group;
    int64_t kk = g.k[0] * g.k[1] * g.k[2], ohw = g.out[0] * g.out[1] * g.out[2];
    int64_t ihw = g.in[0] * g.in[1] * g.in[2];
    const float *px = cq_tensor_data(x), *pw = cq_tensor_data(w);
    const float *pb = b ? cq_tensor_data(b) : NULL;
    float *py = cq_tensor_data(out[0]);
    int pointwise = kk == 1 && g.stride[0] * g.stride[1] * g.stride[2] == 1 &&
                    !g.pb[0] && !g.pb[1] && !g.pb[2] && !g.pe[0] && !g.pe[1] && !g.pe[2];
    int dw = cg == 1 && mg == 1 && g.s == 2 && g.in[0] == 1;
    float *col = NULL;
    if (!pointwise && !dw) {
        col = cq__scratch(env, (size_t)(cg * kk * ohw) * sizeof(float));
        if (!col && cg * kk * ohw != 0)
            return cq_errf(err, CQ_ENOMEM, "Conv '%s': no memory for im2col", n->name);
    }
    for (int64_t i = 0; i < g.n; i++) {
        float *yi = py + i * g.m * ohw;
        if (dw) {
            memset(yi, 0, (size_t)(g.m * ohw) * 4);
            for (int64_t c = 0; c < g.m; c++)
                depthwise(&g, px + (i * g.c + c) * ihw, pw + c * kk, yi + c * ohw);
        } else {
            for (int64_t gr = 0; gr < g.group; gr++) {
                const float *xg = px + (i * g.c + gr * cg) * ihw;
                const float *src = xg;
                if (!pointwise) {
                    cq__im2col(&g, cg, xg, col, 0.0f);
                    src = col;
                }
                if (mg && ohw)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)mg, (int)ohw,
                                (int)(cg * kk), 1.0f, pw + gr * mg * cg * kk, (int)(cg * kk), src,
                                (int)ohw, 0.0f, yi + gr * mg * ohw, (int)ohw);
            }
        }
        if (pb)
            for (int64_t m = 0; m < g.m; m++) {
                float bv = pb[m], *r = yi + m * ohw;
                for (int64_t j = 0; j < ohw; j++)
                    r[j] += bv;
            }
    }
    if (env->residual) {
        const float *r = cq_tensor_data(env->residual);
        for (int64_t j = 0, ny = cq_tensor_numel(out[0]); j < ny; j++)
            py[j] += r[j];
    }
    cq_act a = cq__node_act(n);
    if (a.kind)
        cq_act_apply_f32(a, py, cq_tensor_numel(out[0]));
    return CQ_OK;
}

/* ---- ConvTranspose ---------------------------------------------------------------- */

static cq_status run_convtranspose(cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                                   cq_tensor *const *out, cq_openv *env, cq_err *err)
{
    (void)n_out;
    const cq_tensor *x = in[0], *w = in[1], *b = n_in > 2 ? in[2] : NULL;
    if (x->dtype != CQ_F32 || w->dtype != CQ_F32)
        return cq_errf(err, CQ_EUNSUPPORTED, "ConvTranspose '%s': f32 only", n->name);
    cq_convgeo g;
    if (cq__conv_geo(n, x->ndim, x->shape, w->ndim, w->shape, &g, err))
        return err->code;
    if (b && (b->dtype != CQ_F32 || cq_tensor_numel(b) != g.m))
        return cq_errf(err, CQ_EINVAL, "ConvTranspose '%s': bias must hold %lld floats", n->name,
                       (long long)g.m);
    int64_t cg = g.c / g.group, mg = g.m / g.group;
    int64_t kk = g.k[0] * g.k[1] * g.k[2];
    int64_t ihw = g.in[0] * g.in[1] * g.in[2], ohw = g.out[0] * g.out[1] * g.out[2];
    float *col = cq__scratch(env, (size_t)(mg * kk * ihw + 1) * sizeof(float));
    if (!col)
        return cq_errf(err, CQ_ENOMEM, "ConvTranspose '%s': no memory", n->name);
    const float *px = cq_tensor_data(x), *pw = cq_tensor_data(w);
    float *py = cq_tensor_data(out[0]);
    memset(py, 0, cq_tensor_nbytes(out[0]));
    for (int64_t i = 0; i < g.n; i++)
        for (int64_t gr = 0; gr < g.group; gr++) {
            /* col (mg*kk, ihw) = W_g^T (mg*kk, cg) x X_g (cg, ihw) */
            if (cg && ihw && mg)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)(mg * kk), (int)ihw,
                            (int)cg, 1.0f, pw + gr * cg * mg * kk, (int)(mg * kk),
                            px + (i * g.c + gr * cg) * ihw, (int)ihw, 0.0f, col, (int)ihw);
            for (int64_t m = 0; m < mg; m++) {
                float *ym = py + (i * g.m + gr * mg + m) * ohw;
                for (int64_t kd = 0; kd < g.k[0]; kd++)
                    for (int64_t kh = 0; kh < g.k[1]; kh++)
                        for (int64_t kw = 0; kw < g.k[2]; kw++) {
                            const float *cr =
                                col + ((m * g.k[0] + kd) * g.k[1] * g.k[2] + kh * g.k[2] + kw) * ihw;
                            for (int64_t id = 0; id < g.in[0]; id++) {
                                int64_t od = id * g.stride[0] - g.pb[0] + kd * g.dil[0];
                                if (od < 0 || od >= g.out[0])
                                    continue;
                                for (int64_t ih = 0; ih < g.in[1]; ih++) {
                                    int64_t oh = ih * g.stride[1] - g.pb[1] + kh * g.dil[1];
                                    if (oh < 0 || oh >= g.out[1])
                                        continue;
                                    const float *c = cr + (id * g.in[1] + ih) * g.in[2];
                                    float *yr = ym + (od * g.out[1] + oh) * g.out[2];
                                    for (int64_t iw = 0; iw < g.in[2]; iw++) {
                                        int64_t ow = iw * g.stride[2] - g.pb[2] + kw * g.dil[2];
                                        if (ow >= 0 && ow < g.out[2])
                                            yr[ow] += c[iw];
                                    }
                                }
                            }
                        }
                if (b)
                    for (int64_t j = 0; j < ohw; j++)
                        ym[j] += ((const float *)cq_tensor_data(b))[gr * mg + m];
            }
        }
    return CQ_OK;
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

static cq_status run_bn(cq_node *n, int n_in, cq_tensor *const *in, int n_out,
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
    {"Conv", "", infer_conv, run_conv},
    {"ConvTranspose", "", infer_conv, run_convtranspose},
    {"BatchNormalization", "", infer_bn, run_bn},
};
CQ__STATIC_ASSERT(sizeof cq__ops_conv / sizeof cq__ops_conv[0] == CQ_OPS_CONV_N, conv_rows);
