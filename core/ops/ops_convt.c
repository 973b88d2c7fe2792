/* ops_convt.c - ConvTranspose through kern.h's cq_convt2d (3-D ones one
 * output depth plane at a time; ops_conv.c's table holds its row). Layout
 * NCHW, output NCHW16c where the executor keeps it (docs/design-exec.md). */
#include "ops/ops_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- ConvTranspose ---------------------------------------------------------------- */

/* Kept in the caller's plan slot as Conv's (only when W and B are constants):
 * the kernel plan (W^T packed for the sgemm) and the parameters it was made
 * for. Made by the first run (nothing at plan time), remade when a run's
 * shape differs; the packing cost U-Net's 256 -> 128 2x2/2 layer 0.9 ms a run. */
typedef struct convt_plan {
    cq_convt2d_plan *kp;
    cq_convt2d_params p;
    cq_conv2d_plan *bp; /* the NCHW16c path's 1x1 convolution (k_is_s), or NULL */
    cq_convt2d_params bpp;
} convt_plan;

static void convt_plan_free(void *plan)
{
    convt_plan *c = plan;
    if (c) {
        cq_convt2d_plan_free(c->kp);
        cq_conv2d_plan_free(c->bp);
    }
    free(c);
}

/* A kernel the size of its stride, no pads, dilation 1, one group, one
 * plane, whole 16-channel blocks in and out (U-Net's 2x2/2): each input
 * pixel alone makes a kh x kw patch of the output, so the layer is a 1x1
 * convolution to kh * kw * m channels (channel (a kw + b) m + o: tap (a,
 * b) of output channel o) and a shuffle of its 16-channel blocks into
 * place; with x in NCHW16c that convolution reads it as it is. */
static int k_is_s(const cq_convgeo *g)
{
    return g->s == 2 && g->group == 1 && g->k[1] == g->stride[1] && g->k[2] == g->stride[2] &&
           g->dil[1] == 1 && g->dil[2] == 1 && g->pb[1] == 0 && g->pb[2] == 0 &&
           g->pe[1] == 0 && g->pe[2] == 0 && g->out[1] == g->in[1] * g->k[1] &&
           g->out[2] == g->in[2] * g->k[2] && g->c % 16 == 0 && g->m % 16 == 0;
}

/* kern.h's parameters of that 1x1 convolution, NCHW16c in and out. */
static cq_conv2d_params k_is_s_params(const cq_convgeo *g)
{
    cq_conv2d_params p = cq_conv2d_params_default();
    p.n = g->n;
    p.c_in = g->c;
    p.h = g->in[1];
    p.w = g->in[2];
    p.c_out = g->k[1] * g->k[2] * g->m;
    p.kh = p.kw = 1;
    p.x_blocked = p.y_blocked = 1;
    return p;
}

static cq_status convt_plan_new(const cq_graph *g, const cq_node *n, const cq_openv *env,
                                void **plan, cq_err *err)
{
    (void)g, (void)n, (void)env, (void)err;
    *plan = NULL;
    return CQ_OK;
}

/* CQ_OP_BLOCKED_OUT: a 2-D ConvTranspose writes f32 NCHW16c (whole
 * 16-channel blocks) for the convolutions after it, through one conversion
 * of its NCHW result (U-Net's up-sampling feeds a Concat with the skip
 * connection, which keeps that layout only if every input has it). It
 * reads its input in NCHW16c too where the kernel is the size of its stride
 * (k_is_s: a 1x1 convolution on NCHW16c natively, then a shuffle of whole
 * blocks; U-Net's 2x2/2 layers, whose producer then keeps NCHW16c). */
static int convt_blocked_ok(const cq_graph *g, const cq_node *n, int x_blocked)
{
    if (n->n_inputs < 2 || n->inputs[0] < 0 || n->inputs[1] < 0 || n->n_outputs != 1 ||
        n->outputs[0] < 0)
        return 0;
    const cq_value *x = &g->values[n->inputs[0]], *y = &g->values[n->outputs[0]];
    if (!(x->has_type && y->has_type && x->dtype == CQ_F32 && y->dtype == CQ_F32 &&
          x->ndim == 4 && y->ndim == 4 && y->shape[0] > 0 && y->shape[1] > 0 &&
          y->shape[1] % 16 == 0 && y->shape[2] > 0 && y->shape[3] > 0))
        return 0;
    if (!x_blocked)
        return 1;
    const cq_value *w = &g->values[n->inputs[1]];
    cq_convgeo geo;
    cq_err err;
    if (!w->has_type || w->ndim != 4 || x->shape[1] <= 0 || x->shape[2] <= 0 ||
        x->shape[3] <= 0 || cq__conv_geo(n, 4, x->shape, 4, w->shape, &geo, &err) != CQ_OK ||
        !k_is_s(&geo))
        return 0;
    cq_conv2d_params p = k_is_s_params(&geo);
    return cq_conv2d_blocked_native(&p);
}

const cq_op_hooks cq__convt_hooks = {
    .blocked_ok = convt_blocked_ok,
    .plan_new = convt_plan_new,
    .plan_free = convt_plan_free,
};

static int same_convt(const cq_convt2d_params *a, const cq_convt2d_params *b)
{
    return a->n == b->n && a->c_in == b->c_in && a->h == b->h && a->w == b->w &&
           a->c_out == b->c_out && a->kh == b->kh && a->kw == b->kw && a->groups == b->groups &&
           a->stride_h == b->stride_h && a->stride_w == b->stride_w &&
           a->pad_top == b->pad_top && a->pad_left == b->pad_left &&
           a->pad_bottom == b->pad_bottom && a->pad_right == b->pad_right &&
           a->out_pad_h == b->out_pad_h && a->out_pad_w == b->out_pad_w &&
           a->dil_h == b->dil_h && a->dil_w == b->dil_w && a->act.kind == b->act.kind &&
           a->act.a == b->act.a && a->act.b == b->act.b;
}

/* The k_is_s layer on NCHW16c x into NCHW16c y: the 1x1 convolution (its
 * plan kept in cp where the weights are constants) into scratch, then each
 * 16-channel block of tap (a, b) to the output pixels (i kh + a, j kw + b). */
static cq_status run_k_is_s(const cq_node *n, const cq_convgeo *g, const cq_convt2d_params *p,
                            const float *x, size_t nx, const float *pw, const float *pb,
                            float *y, convt_plan *cp, int keep, cq_openv *env, cq_err *err)
{
    cq_conv2d_params q = k_is_s_params(g);
    int64_t kh = g->k[1], kw = g->k[2], m = g->m, c = g->c, H = g->in[1], W = g->in[2];
    cq_conv2d_plan *bp = cp && cp->bp && same_convt(&cp->bpp, p) ? cp->bp : NULL;
    if (!bp) {
        /* W (c, m, kh, kw) as the 1x1 convolution's (kh kw m, c); the bias per tap */
        float *wq = malloc((size_t)(q.c_out * c) * sizeof(float));
        float *bq = pb ? malloc((size_t)q.c_out * sizeof(float)) : NULL;
        if (!wq || (pb && !bq)) {
            free(wq);
            free(bq);
            return cq_errf(err, CQ_ENOMEM, "ConvTranspose '%s': no memory", n->name);
        }
        for (int64_t t = 0; t < kh * kw; t++)
            for (int64_t o = 0; o < m; o++) {
                for (int64_t ci = 0; ci < c; ci++)
                    wq[(t * m + o) * c + ci] = pw[(ci * m + o) * kh * kw + t];
                if (bq)
                    bq[t * m + o] = pb[o];
            }
        bp = cq_conv2d_plan_new(&q, wq, (size_t)(q.c_out * c), bq, bq ? (size_t)q.c_out : 0,
                                err);
        free(wq);
        free(bq);
        if (!bp)
            return cq_err_prefix(err, err->code, "ConvTranspose '%s': ", n->name);
        if (keep) {
            if (!cp && !(cp = calloc(1, sizeof *cp))) {
                cq_conv2d_plan_free(bp);
                return cq_errf(err, CQ_ENOMEM, "ConvTranspose '%s': no memory", n->name);
            }
            *env->plan = cp;
            cq_conv2d_plan_free(cp->bp);
            cp->bp = bp;
            cp->bpp = *p;
        }
    }
    size_t nt = (size_t)(g->n * q.c_out * H * W), tb = (nt * sizeof(float) + 63) / 64 * 64;
    size_t sb = cq_conv2d_scratch_bytes(bp);
    char *s = cq__scratch(env, tb + sb + 1);
    cq_status st = s ? CQ_OK : cq_errf(err, CQ_ENOMEM, "ConvTranspose '%s': no memory", n->name);
    if (st == CQ_OK)
        st = cq_conv2d_run(bp, x, nx, (float *)s, nt, s + tb, sb, err);
    if (st == CQ_OK) {
        const float *t = (const float *)s;
        int64_t mb = m / 16, oh = H * kh, ow = W * kw;
        for (int64_t im = 0; im < g->n; im++)
            for (int64_t ob = 0; ob < kh * kw * mb; ob++) {
                int64_t tap = ob / mb, a = tap / kw, bb = tap % kw;
                const float *src = t + (im * kh * kw * mb + ob) * H * W * 16;
                float *dst = y + ((im * mb + ob % mb) * oh + a) * ow * 16 + bb * 16;
                for (int64_t i = 0; i < H; i++, src += W * 16, dst += kh * ow * 16)
                    for (int64_t j = 0; j < W; j++)
                        memcpy(dst + j * kw * 16, src + j * 16, 16 * sizeof(float));
            }
    }
    if (!keep)
        cq_conv2d_plan_free(bp);
    return st;
}

cq_status cq__run_convtranspose(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,
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
    float *py = cq_tensor_data(out[0]);
    const float *pb = b ? cq_tensor_data(b) : NULL;
    int64_t ny = cq_tensor_numel(out[0]), P = g.out[1] * g.out[2];
    if (cq_tensor_numel(x) == 0 || cq_tensor_numel(w) == 0) {
        for (int64_t i = 0; i < ny; i++) {
            /* the channel of element i in NCHW, or in NCHW16c */
            int64_t c = env->y_blocked ? i / (16 * P) * 16 % g.m + i % 16
                                       : i / (g.out[0] * P) % g.m;
            py[i] = pb ? pb[c] : 0.0f;
        }
        return CQ_OK;
    }
    /* kern.h's 2-D problem of one output depth plane: the depth taps are
     * input channels, so W (c, m / group, kd, kh, kw) becomes (c, kd, m /
     * group, kh, kw); output_padding is what the pads leave to reach out */
    cq_convt2d_params p = cq_convt2d_params_default();
    int64_t kd = g.k[0], mg = g.m / g.group, kk = g.k[1] * g.k[2];
    p.n = g.n;
    p.c_in = g.c * kd;
    p.c_out = g.m;
    p.groups = g.group;
    p.h = g.in[1];
    p.w = g.in[2];
    p.kh = g.k[1];
    p.kw = g.k[2];
    p.stride_h = g.stride[1];
    p.stride_w = g.stride[2];
    p.dil_h = g.dil[1];
    p.dil_w = g.dil[2];
    p.pad_top = g.pb[1];
    p.pad_bottom = g.pe[1];
    p.pad_left = g.pb[2];
    p.pad_right = g.pe[2];
    p.out_pad_h = g.out[1] - (g.stride[1] * (g.in[1] - 1) + g.dil[1] * (g.k[1] - 1) + 1 -
                              g.pb[1] - g.pe[1]);
    p.out_pad_w = g.out[2] - (g.stride[2] * (g.in[2] - 1) + g.dil[2] * (g.k[2] - 1) + 1 -
                              g.pb[2] - g.pe[2]);
    size_t nw = (size_t)cq_tensor_numel(w);
    const float *pw = cq_tensor_data(w);
    int keep = env->plan && env->in_const && env->in_const[1] && (!b || env->in_const[2]);
    convt_plan *cp = keep ? *env->plan : NULL;
    const float *px = cq_tensor_data(x);
    if (env->x_blocked && env->y_blocked && k_is_s(&g)) {
        cq_conv2d_params q = k_is_s_params(&g);
        if (cq_conv2d_blocked_native(&q))
            return run_k_is_s(n, &g, &p, px, (size_t)cq_tensor_numel(x), pw, pb, py, cp, keep,
                              env, err);
    }
    cq_convt2d_plan *kp = cp && cp->kp && same_convt(&cp->p, &p) ? cp->kp : NULL;
    float *wt = NULL;
    if (!kp && kd > 1) {
        wt = malloc(nw * sizeof(float));
        if (!wt)
            return cq_errf(err, CQ_ENOMEM, "ConvTranspose '%s': no memory", n->name);
        for (int64_t c = 0; c < g.c; c++)
            for (int64_t t = 0; t < kd; t++)
                for (int64_t m = 0; m < mg; m++)
                    memcpy(wt + ((c * kd + t) * mg + m) * kk, pw + ((c * mg + m) * kd + t) * kk,
                           (size_t)kk * sizeof(float));
    }
    if (!kp) {
        kp = cq_convt2d_plan_new(&p, wt ? wt : pw, nw, pb, pb ? (size_t)g.m : 0, err);
        free(wt);
        if (!kp)
            return cq_err_prefix(err, err->code, "ConvTranspose '%s': ", n->name);
        if (keep) {
            if (!cp && !(cp = calloc(1, sizeof *cp))) {
                cq_convt2d_plan_free(kp);
                return cq_errf(err, CQ_ENOMEM, "ConvTranspose '%s': no memory", n->name);
            }
            *env->plan = cp;
            cq_convt2d_plan_free(cp->kp);
            cp->kp = kp;
            cp->p = p;
        }
    }
    int planar = cq__conv_planar(&g), blocked = env->y_blocked;
    if (blocked && (x->ndim != 4 || g.m % 16 || g.out[0] != 1))
        return cq_errf(err, CQ_ESTATE, "ConvTranspose '%s': NCHW16c planned for a shape "
                       "without whole 16-channel blocks", n->name);
    size_t nin = (size_t)(p.n * p.c_in * p.h * p.w), nout = (size_t)(g.n * g.m * P);
    size_t in_b = planar ? 0 : nin * sizeof(float);
    size_t out_b = planar && !blocked ? 0 : nout * sizeof(float);
    size_t sb = cq_convt2d_scratch_bytes(kp);
    /* x in NCHW16c where the layer is not k_is_s (or y is NCHW): NCHW first */
    size_t xb = env->x_blocked ? ((size_t)cq_tensor_numel(x) * sizeof(float) + 63) / 64 * 64 : 0;
    char *s = cq__scratch(env, xb + in_b + out_b + sb + 1);
    cq_status st = s ? CQ_OK : cq_errf(err, CQ_ENOMEM, "ConvTranspose '%s': no memory", n->name);
    if (st == CQ_OK && xb) {
        cq_from_blocked_f32(px, g.n, g.c, g.in[1] * g.in[2], (float *)s);
        px = (const float *)s;
        s += xb;
    }
    const float zero = 0.0f;
    for (int64_t od = 0; st == CQ_OK && od < g.out[0]; od++) {
        const float *xp = cq__conv_plane_in(&g, 1, sizeof(float), px, od, &zero, s);
        float *yp = planar && !blocked ? py : (float *)(s + in_b);
        st = cq_convt2d_run(kp, xp, nin, yp, nout, s + in_b + out_b, sb, err);
        if (blocked) {
            if (st == CQ_OK)
                cq_to_blocked_f32(yp, g.n, g.m, P, py);
        } else {
            cq__conv_plane_out(&g, sizeof(float), yp, od, py);
        }
    }
    if (!keep)
        cq_convt2d_plan_free(kp);
    return st;
}
