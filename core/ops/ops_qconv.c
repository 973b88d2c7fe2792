/* ops_qconv.c - QLinearConv on the int8 kernels (kern_qconv.h): the plan a
 * node keeps (packed weights, the requantization multipliers) and the
 * layouts it takes (NHWC in and out). What the fast kernels do not cover
 * (u8 or non-zero weight zero points, 3-D, scales that are not constants)
 * runs the reference in ops_quant.c. */
#include "ops/ops_internal.h"

#include <stdlib.h>
#include <string.h>

#include "kern/kern_qconv.h"

/* Kept in the node's plan slot: the kernel plan and what it was made for. */
typedef struct qconv_plan {
    cq_qconv2d_plan *kp;
    cq_qconv2d_params p;
} qconv_plan;

static void qconv_plan_free(void *plan)
{
    qconv_plan *c = plan;
    if (c)
        cq_qconv2d_plan_free(c->kp);
    free(c);
}

/* One value of a per-tensor scale / zero-point tensor (a NULL zero point is
 * 0); 0 when t holds more than one value or an unexpected dtype. */
static int one_scale(const cq_tensor *t, float *s)
{
    if (!t || cq_tensor_numel(t) != 1 || t->dtype != CQ_F32)
        return 0;
    *s = ((const float *)cq_tensor_data(t))[0];
    return *s > 0.0f && *s < 3.0e38f;
}

static int one_zp(const cq_tensor *t, cq_dtype dt, int32_t *z)
{
    *z = 0;
    if (!t)
        return 1;
    if (cq_tensor_numel(t) != 1 || t->dtype != dt)
        return 0;
    const cq_dtype_traits *tr = cq_dtype_info(t->dtype);
    *z = (int32_t)tr->get(cq_tensor_data(t));
    return 1;
}

/* The kernel parameters, weights, bias and multipliers of QLinearConv node n
 * for x of dtype x_dt and shape xs (4-D) and the other inputs t[1..8] (t[8]
 * the bias or NULL): 1 when the int8 kernels take it (*mult and *p filled,
 * *mult the caller frees), 0 when not. */
static int qconv_params(const cq_node *n, cq_dtype x_dt, int x_ndim, const int64_t *xs,
                        const cq_tensor *const *t, int n_in, cq_qconv2d_params *p, float **mult)
{
    const cq_tensor *w = t[3], *ws = t[4], *wz = t[5], *bias = n_in > 8 ? t[8] : NULL;
    float sx, sy;
    if (x_ndim != 4 || (x_dt != CQ_U8 && x_dt != CQ_S8) || !w || w->dtype != CQ_S8 ||
        w->ndim != 4 || !ws || ws->dtype != CQ_F32 || !t[7] ||
        (t[7]->dtype != CQ_U8 && t[7]->dtype != CQ_S8) || !one_scale(t[1], &sx) ||
        !one_scale(t[6], &sy) || !cq_tensor_is_contiguous(w) || !cq_tensor_is_contiguous(ws))
        return 0;
    cq_qconv2d_params q = cq_qconv2d_params_default();
    if (!one_zp(t[2], x_dt, &q.x_zp) || !one_zp(t[7], t[7]->dtype, &q.y_zp))
        return 0;
    cq_convgeo g;
    cq_err err;
    if (cq__conv_geo(n, x_ndim, xs, w->ndim, w->shape, &g, &err) || !cq__conv_planar(&g))
        return 0;
    int64_t co = g.m, nws = cq_tensor_numel(ws);
    if (nws != 1 && nws != co)
        return 0;
    if (wz) {
        if (wz->dtype != CQ_S8 || !cq_tensor_is_contiguous(wz) ||
            (cq_tensor_numel(wz) != 1 && cq_tensor_numel(wz) != co))
            return 0;
        const int8_t *z = cq_tensor_data(wz);
        for (int64_t i = 0; i < cq_tensor_numel(wz); i++)
            if (z[i])
                return 0;
    }
    if (bias && (bias->dtype != CQ_S32 || cq_tensor_numel(bias) != co ||
                 !cq_tensor_is_contiguous(bias)))
        return 0;
    q.c = cq__conv_plane_params(&g);
    if (q.c.n <= 0 || q.c.c_in <= 0 || q.c.c_out <= 0 || q.c.h <= 0 || q.c.w <= 0)
        return 0;
    q.x_dt = x_dt;
    q.y_dt = t[7]->dtype;
    q.y_min = q.y_dt == CQ_U8 ? 0 : -128;
    q.y_max = q.y_dt == CQ_U8 ? 255 : 127;
    float *m = malloc((size_t)co * sizeof *m);
    if (!m)
        return 0;
    const float *wsv = cq_tensor_data(ws);
    for (int64_t i = 0; i < co; i++) {
        float s = wsv[nws == 1 ? 0 : i];
        if (!(s > 0.0f && s < 3.0e38f)) {
            free(m);
            return 0;
        }
        /* as cq_qlinear_conv_ref computes it */
        m[i] = (sx * s) / sy;
    }
    *p = q;
    *mult = m;
    return 1;
}

/* The inputs of node n as constants of g (NULL where not constant). */
static int const_inputs(const cq_graph *g, const cq_node *n, const cq_tensor **t)
{
    for (int k = 0; k < 9; k++)
        t[k] = NULL;
    if (n->n_inputs < 8)
        return 0;
    for (int k = 1; k < n->n_inputs && k < 9; k++) {
        int v = n->inputs[k];
        if (v < 0)
            continue;
        if (!g->values[v].data)
            return 0;
        t[k] = g->values[v].data;
    }
    return 1;
}

/* Whether the int8 kernels take node n as g knows it now (x's shape all
 * known, every other input constant). */
static int qconv_static(const cq_graph *g, const cq_node *n, cq_qconv2d_params *p, float **mult)
{
    const cq_tensor *t[9];
    if (n->inputs[0] < 0 || !const_inputs(g, n, t))
        return 0;
    const cq_value *x = &g->values[n->inputs[0]];
    if (!x->has_type || x->ndim != 4)
        return 0;
    for (int d = 0; d < 4; d++)
        if (x->shape[d] <= 0)
            return 0;
    return qconv_params(n, x->dtype, x->ndim, x->shape, t, n->n_inputs, p, mult);
}

static qconv_plan *plan_make(const cq_node *n, const cq_qconv2d_params *p, const cq_tensor *w,
                             const cq_tensor *bias, const float *mult, cq_err *err)
{
    qconv_plan *c = calloc(1, sizeof *c);
    if (!c) {
        cq_errf(err, CQ_ENOMEM, "QLinearConv '%s': out of memory", n->name);
        return NULL;
    }
    c->kp = cq_qconv2d_plan_new(p, cq_tensor_data(w), bias ? cq_tensor_data(bias) : NULL, mult,
                                err);
    if (!c->kp) {
        free(c);
        cq_err_prefix(err, err->code, "QLinearConv '%s': ", n->name);
        return NULL;
    }
    c->p = *p;
    return c;
}

/* The fused QLinearAdd add (inputs a, a_scale, a_zp, b, b_scale, b_zp,
 * c_scale, c_zp; conv n writes a or b) into p->add and p's output range,
 * the constants made as cq_qlinear_add_ref makes them; 0 when its scales and
 * zero points are not constants of one value. */
static int add_params(const cq_graph *g, const cq_node *n, const cq_node *add,
                      cq_qconv2d_params *p)
{
    float s[3];
    int32_t z[3];
    static const int si[3] = {1, 4, 6}, zi[3] = {2, 5, 7};
    if (add->n_inputs < 7)
        return 0;
    for (int k = 0; k < 3; k++) {
        int vs = add->inputs[si[k]], vz = zi[k] < add->n_inputs ? add->inputs[zi[k]] : -1;
        if (vs < 0 || !one_scale(g->values[vs].data, &s[k]) ||
            !one_zp(vz >= 0 ? g->values[vz].data : NULL, p->y_dt, &z[k]))
            return 0;
        if (vz >= 0 && !g->values[vz].data)
            return 0;
    }
    /* the conv's own code (its requantization) is addend a, or b */
    int b = add->inputs[0] != n->outputs[0];
    p->add.on = 1;
    p->add.res_first = b;
    p->add.q_zp = p->y_zp;
    p->add.q_min = p->y_min;
    p->add.q_max = p->y_max;
    float ra = s[0] / s[2], rb = s[1] / s[2];
    float fa = ra * (float)z[0], fb = rb * (float)z[1];
    float fsum = fa + fb;
    p->add.ra = ra;
    p->add.rb = rb;
    p->add.fixed = (float)z[2] - fsum;
    p->y_zp = z[2];
    return z[b] == p->add.q_zp;
}

/* CQ_OP_TAKES_RESIDUAL: a QLinearAdd one of whose addends this conv
 * writes, on the kernels (their epilogue nests QLinearAdd's two fmas in the
 * order of a and b, cq_qconv2d_add.res_first). */
static int qconv_residual_ok(const cq_graph *g, const cq_node *n, const cq_node *add, int k)
{
    cq_qconv2d_params p;
    float *mult = NULL;
    int ok = k >= 0 && k <= 1 && n->n_outputs > 0 &&
             add->inputs[k == 0 ? 0 : 3] == n->outputs[0] && qconv_static(g, n, &p, &mult) &&
             add_params(g, n, add, &p);
    free(mult);
    return ok;
}

/* CQ_OP_PLAN */
static cq_status qconv_plan_new(const cq_graph *g, const cq_node *n, const cq_openv *env,
                                void **plan, cq_err *err)
{
    cq_qconv2d_params p;
    float *mult = NULL;
    *plan = NULL;
    if (!qconv_static(g, n, &p, &mult))
        return CQ_OK;
    if (env->res_node && !add_params(g, n, env->res_node, &p)) {
        free(mult);
        return cq_errf(err, CQ_ESTATE, "QLinearConv '%s': the fused Add's parameters changed",
                       n->name);
    }
    p.x_nhwc = env->x_blocked;
    p.y_nhwc = env->y_blocked;
    p.res_nhwc = env->res_blocked;
    const cq_tensor *bias = n->n_inputs > 8 && n->inputs[8] >= 0 ? g->values[n->inputs[8]].data
                                                                 : NULL;
    *plan = plan_make(n, &p, g->values[n->inputs[3]].data, bias, mult, err);
    free(mult);
    return *plan ? CQ_OK : err->code;
}

/* CQ_OP_BLOCKED_OUT: NHWC in and out wherever the int8 kernels run it. */
static int qconv_blocked_ok(const cq_graph *g, const cq_node *n, int x_blocked)
{
    cq_qconv2d_params p;
    float *mult = NULL;
    (void)x_blocked;
    int ok = n->n_outputs > 0 && qconv_static(g, n, &p, &mult);
    free(mult);
    return ok;
}

const cq_op_hooks cq__qconv_hooks = {
    .blocked_ok = qconv_blocked_ok,
    .residual_ok = qconv_residual_ok,
    .plan_new = qconv_plan_new,
    .plan_free = qconv_plan_free,
};

static int same_q(const cq_qconv2d_params *a, const cq_qconv2d_params *b)
{
    const cq_conv2d_params *x = &a->c, *y = &b->c;
    return x->n == y->n && x->c_in == y->c_in && x->h == y->h && x->w == y->w &&
           x->c_out == y->c_out && x->kh == y->kh && x->kw == y->kw && x->groups == y->groups &&
           x->stride_h == y->stride_h && x->stride_w == y->stride_w &&
           x->pad_top == y->pad_top && x->pad_left == y->pad_left &&
           x->pad_bottom == y->pad_bottom && x->pad_right == y->pad_right &&
           x->dil_h == y->dil_h && x->dil_w == y->dil_w && a->x_dt == b->x_dt &&
           a->x_zp == b->x_zp && a->y_dt == b->y_dt && a->y_zp == b->y_zp &&
           a->x_nhwc == b->x_nhwc && a->y_nhwc == b->y_nhwc;
}

int cq__qconv_run(const cq_node *n, int n_in, cq_tensor *const *in, cq_tensor *y, cq_openv *env,
                  cq_err *err)
{
    const cq_tensor *x = in[0];
    const cq_tensor *t[9];
    for (int k = 0; k < 9; k++)
        t[k] = k < n_in ? in[k] : NULL;
    /* a plan is kept only when every input but x is a constant */
    int keep = env->plan && env->in_const;
    for (int k = 1; keep && k < n_in; k++)
        keep = !in[k] || env->in_const[k];
    qconv_plan *c = keep ? *env->plan : NULL;
    qconv_plan *made = NULL;
    if (env->residual && (!c || !c->kp || !c->p.add.on)) {
        /* planned at plan time (residual_ok asks for a static plan) */
        cq_errf(err, CQ_ESTATE, "QLinearConv '%s': a fused Add without its plan", n->name);
        return -1;
    }
    if (!c || !c->kp || c->p.c.n != x->shape[0] || c->p.c.h != x->shape[2] ||
        c->p.c.w != x->shape[3] || c->p.x_dt != x->dtype) {
        cq_qconv2d_params p;
        float *mult = NULL;
        if (!qconv_params(n, x->dtype, x->ndim, x->shape, t, n_in, &p, &mult)) {
            if (env->x_blocked || env->y_blocked) {
                cq_errf(err, CQ_ESTATE, "QLinearConv '%s': planned in NHWC but the int8 "
                        "kernels do not take it now", n->name);
                return -1;
            }
            return 0;
        }
        p.x_nhwc = env->x_blocked;
        p.y_nhwc = env->y_blocked;
        if (c && c->kp && same_q(&c->p, &p)) {
            free(mult);
        } else {
            made = plan_make(n, &p, t[3], n_in > 8 ? t[8] : NULL, mult, err);
            free(mult);
            if (!made)
                return -1;
            if (keep) {
                qconv_plan_free(*env->plan);
                *env->plan = made;
                made = NULL;
                c = *env->plan;
            } else {
                c = made;
            }
        }
    }
    size_t sb = cq_qconv2d_scratch_bytes(c->kp);
    void *scratch = sb ? cq__scratch(env, sb) : NULL;
    cq_status st = sb && !scratch
                       ? cq_errf(err, CQ_ENOMEM, "QLinearConv '%s': no scratch", n->name)
                       : cq_qconv2d_run(c->kp, cq_tensor_data(x), cq_tensor_data(y),
                                        env->residual ? cq_tensor_data(env->residual) : NULL,
                                        scratch, sb, err);
    qconv_plan_free(made);
    if (st) {
        cq_err_prefix(err, st, "QLinearConv '%s': ", n->name);
        return -1;
    }
    return 1;
}
