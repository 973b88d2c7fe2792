/* kern_qconv_ref.c - the int8 convolution's parameters, checks, reference
 * loops (cq_qconv2d_ref, the test oracle and the scalar path) and the scalar
 * residual epilogue (kern_qconv.h). */
#include "kern/kern_qconv_internal.h"

#include <string.h>

cq_qconv2d_params cq_qconv2d_params_default(void)
{
    cq_qconv2d_params p;
    memset(&p, 0, sizeof p);
    p.c = cq_conv2d_params_default();
    p.x_dt = CQ_U8;
    p.y_dt = CQ_U8;
    p.y_min = 0;
    p.y_max = 255;
    return p;
}

static int q_range(cq_dtype dt, int32_t *lo, int32_t *hi)
{
    if (dt != CQ_S8 && dt != CQ_U8)
        return 0;
    *lo = dt == CQ_S8 ? -128 : 0;
    *hi = dt == CQ_S8 ? 127 : 255;
    return 1;
}

cq_status cq__qconv_check(const cq_qconv2d_params *p, const float *mult, int64_t *oh,
                          int64_t *ow, cq_err *err)
{
    int32_t lo, hi;
    cq_conv2d_params c = p->c;
    c.act.kind = CQ_ACT_NONE;
    c.x_blocked = c.y_blocked = c.res_blocked = 0;
    cq_status st = cq_conv2d_out_shape(&c, oh, ow, err);
    if (st != CQ_OK)
        return st;
    if (!q_range(p->x_dt, &lo, &hi))
        return cq_errf(err, CQ_EUNSUPPORTED, "qconv2d: x dtype must be u8 or s8");
    if (p->x_zp < lo || p->x_zp > hi)
        return cq_errf(err, CQ_EINVAL, "qconv2d: x zero point %d outside %d..%d", (int)p->x_zp,
                       (int)lo, (int)hi);
    if (!q_range(p->y_dt, &lo, &hi))
        return cq_errf(err, CQ_EUNSUPPORTED, "qconv2d: y dtype must be u8 or s8");
    if (p->y_min < lo || p->y_max > hi || p->y_min > p->y_max || p->y_zp < lo || p->y_zp > hi)
        return cq_errf(err, CQ_EINVAL, "qconv2d: y range %d..%d or zero point %d outside %d..%d",
                       (int)p->y_min, (int)p->y_max, (int)p->y_zp, (int)lo, (int)hi);
    if (p->add.on) {
        const cq_qconv2d_add *a = &p->add;
        if (a->q_min > a->q_max || a->q_min < -32768 || a->q_max > 32767 || a->q_zp < -32768 ||
            a->q_zp > 32767)
            return cq_errf(err, CQ_EINVAL, "qconv2d: residual code range %d..%d or zero point "
                           "%d", (int)a->q_min, (int)a->q_max, (int)a->q_zp);
        if (!isfinite(a->ra) || !isfinite(a->rb) || !isfinite(a->fixed))
            return cq_errf(err, CQ_EINVAL, "qconv2d: residual scales not finite");
    }
    if (!mult)
        return cq_errf(err, CQ_EINVAL, "qconv2d: NULL multipliers");
    for (int64_t j = 0; j < p->c.c_out; j++)
        if (!isfinite(mult[j]))
            return cq_errf(err, CQ_EINVAL, "qconv2d: multiplier %lld not finite", (long long)j);
    return CQ_OK;
}

static inline int32_t ld8(cq_dtype dt, const void *v, int64_t i)
{
    return dt == CQ_S8 ? (int32_t)((const int8_t *)v)[i] : (int32_t)((const uint8_t *)v)[i];
}

/* Element (img, ch, yy, xx) of a (n, c, h, w) tensor in NCHW or NHWC. */
static inline int64_t at(int nhwc, int64_t c, int64_t h, int64_t w, int64_t img, int64_t ch,
                         int64_t yy, int64_t xx)
{
    return nhwc ? ((img * h + yy) * w + xx) * c + ch : ((img * c + ch) * h + yy) * w + xx;
}

cq_status cq_qconv2d_ref(const cq_qconv2d_params *p, const int8_t *w, const int32_t *bias,
                         const float *mult, const void *x, void *y, const void *res,
                         cq_err *err)
{
    int64_t oh, ow;
    cq_status st = cq__qconv_check(p, mult, &oh, &ow, err);
    if (st != CQ_OK)
        return st;
    if (!w || !x || !y)
        return cq_errf(err, CQ_EINVAL, "qconv2d: NULL weights, input or output");
    if (!p->add.on != !res)
        return cq_errf(err, CQ_EINVAL, "qconv2d: a residual %s", res ? "the plan does not take"
                                                                     : "is missing");
    const cq_conv2d_params *c = &p->c;
    int64_t cig = c->c_in / c->groups, cog = c->c_out / c->groups;
    for (int64_t img = 0; img < c->n; img++)
        for (int64_t co = 0; co < c->c_out; co++) {
            int64_t g = co / cog;
            const int8_t *wc = w + co * cig * c->kh * c->kw;
            for (int64_t oy = 0; oy < oh; oy++)
                for (int64_t ox = 0; ox < ow; ox++) {
                    int64_t s = bias ? bias[co] : 0;
                    for (int64_t ci = 0; ci < cig; ci++)
                        for (int64_t ky = 0; ky < c->kh; ky++) {
                            int64_t iy = oy * c->stride_h - c->pad_top + ky * c->dil_h;
                            if (iy < 0 || iy >= c->h)
                                continue;
                            for (int64_t kx = 0; kx < c->kw; kx++) {
                                int64_t ix = ox * c->stride_w - c->pad_left + kx * c->dil_w;
                                if (ix < 0 || ix >= c->w)
                                    continue;
                                int64_t xv = ld8(p->x_dt, x, at(p->x_nhwc, c->c_in, c->h, c->w,
                                                                img, g * cig + ci, iy, ix));
                                s += (xv - p->x_zp) * wc[(ci * c->kh + ky) * c->kw + kx];
                            }
                        }
                    if (s < INT32_MIN || s > INT32_MAX)
                        return cq_errf(err, CQ_ERANGE, "qconv2d: sum (%lld, %lld, %lld, %lld) "
                                       "leaves int32", (long long)img, (long long)co,
                                       (long long)oy, (long long)ox);
                    int32_t r = res ? ld8(p->y_dt, res, at(p->res_nhwc, c->c_out, oh, ow, img,
                                                           co, oy, ox))
                                    : 0;
                    int32_t q = cq__qconv_code(p, mult[co], (int32_t)s, r);
                    int64_t o = at(p->y_nhwc, c->c_out, oh, ow, img, co, oy, ox);
                    if (p->y_dt == CQ_S8)
                        ((int8_t *)y)[o] = (int8_t)q;
                    else
                        ((uint8_t *)y)[o] = (uint8_t)q;
                }
        }
    return CQ_OK;
}

void cq__qconv_res_rows(const cq_qconv2d_params *p, const float *mult, const int32_t *acc,
                        int64_t rows, int64_t j0, int64_t j1, const void *res, void *y)
{
    int64_t nc = p->c.c_out;
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = j0; j < j1; j++) {
            int32_t q = cq__qconv_code(p, mult[j], acc[i * nc + j], ld8(p->y_dt, res, i * nc + j));
            if (p->y_dt == CQ_S8)
                ((int8_t *)y)[i * nc + j] = (int8_t)q;
            else
                ((uint8_t *)y)[i * nc + j] = (uint8_t)q;
        }
}
