/* kern_conv_ref.c - the plain loops of Conv2d: im2col and the depthwise
 * plane of the generic paths, and the fp32 reference every path is tested
 * against (see kern.h). */
#include "kern/kern_conv_internal.h"

#include <string.h>

/* Outputs o in [*lo, *hi) with 0 <= o * s + off < len, within [0, out). */
static void valid_range(int64_t off, int64_t s, int64_t len, int64_t out, int64_t *lo,
                        int64_t *hi)
{
    int64_t l = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t h = len - 1 - off < 0 ? 0 : (len - 1 - off) / s + 1;
    l = l > out ? out : l;
    h = h > out ? out : h;
    *lo = l;
    *hi = h < l ? l : h;
}

void cq__conv_im2col(const cq_conv2d_params *p, int64_t cig, int64_t oh, int64_t ow,
                     const float *x, float *col)
{
    int64_t P = oh * ow;
    for (int64_t c = 0; c < cig; c++)
        for (int64_t ky = 0; ky < p->kh; ky++)
            for (int64_t kx = 0; kx < p->kw; kx++) {
                float *row = col + ((c * p->kh + ky) * p->kw + kx) * P;
                int64_t xoff = kx * p->dil_w - p->pad_left, lo, hi;
                valid_range(xoff, p->stride_w, p->w, ow, &lo, &hi);
                for (int64_t oy = 0; oy < oh; oy++) {
                    float *dst = row + oy * ow;
                    int64_t iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;
                    if (iy < 0 || iy >= p->h) {
                        memset(dst, 0, (size_t)ow * sizeof(float));
                        continue;
                    }
                    const float *src = x + (c * p->h + iy) * p->w;
                    for (int64_t ox = 0; ox < lo; ox++)
                        dst[ox] = 0.0f;
                    if (p->stride_w == 1 && hi > lo)
                        memcpy(dst + lo, src + lo + xoff, (size_t)(hi - lo) * sizeof(float));
                    else
                        for (int64_t ox = lo; ox < hi; ox++)
                            dst[ox] = src[ox * p->stride_w + xoff];
                    for (int64_t ox = hi; ox < ow; ox++)
                        dst[ox] = 0.0f;
                }
            }
}

void cq__conv_dw_plane(const cq__kern_vtab *k, const cq_conv2d_params *p, int64_t oh,
                       int64_t ow, const float *x, const float *wk, float bias, float *y)
{
    const float *rows[DW_MAX_KH], *wrows[DW_MAX_KH];
    int64_t lo, hi, lo2, hi2;
    /* interior columns: every tap inside the row */
    valid_range(-p->pad_left, p->stride_w, p->w, ow, &lo, &hi);
    valid_range((p->kw - 1) * p->dil_w - p->pad_left, p->stride_w, p->w, ow, &lo2, &hi2);
    lo = lo2 > lo ? lo2 : lo;
    hi = hi2 < hi ? hi2 : hi;
    if (hi <= lo)
        lo = hi = 0;
    for (int64_t oy = 0; oy < oh; oy++) {
        int64_t nr = 0;
        for (int64_t ky = 0; ky < p->kh; ky++) {
            int64_t iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;
            if (iy >= 0 && iy < p->h) {
                rows[nr] = x + iy * p->w;
                wrows[nr++] = wk + ky * p->kw;
            }
        }
        float *yr = y + oy * ow;
        if (hi > lo)
            k->dw_row(rows, wrows, nr, p->kw, p->stride_w, p->dil_w, -p->pad_left, p->w, lo, hi,
                      bias, p->act, yr);
        for (int64_t ox = 0; ox < ow; ox++) {
            if (ox == lo && hi > lo)
                ox = hi;
            if (ox >= ow)
                break;
            float s = bias;
            for (int64_t r = 0; r < nr; r++)
                for (int64_t kx = 0; kx < p->kw; kx++) {
                    int64_t ix = ox * p->stride_w - p->pad_left + kx * p->dil_w;
                    if (ix >= 0 && ix < p->w)
                        s += wrows[r][kx] * rows[r][ix];
                }
            yr[ox] = cq__act1(p->act, s);
        }
    }
}

cq_status cq_conv2d_f32_ref(const cq_conv2d_params *p, const float *x, const float *w,
                            const float *bias, float *y, cq_err *err)
{
    int64_t oh, ow;
    cq_status st = cq_conv2d_out_shape(p, &oh, &ow, err);
    if (st != CQ_OK)
        return st;
    int64_t cig = p->c_in / p->groups, cog = p->c_out / p->groups;
    for (int64_t n = 0; n < p->n; n++)
        for (int64_t co = 0; co < p->c_out; co++) {
            int64_t g = co / cog;
            for (int64_t oy = 0; oy < oh; oy++)
                for (int64_t ox = 0; ox < ow; ox++) {
                    double s = bias ? bias[co] : 0.0;
                    for (int64_t ci = 0; ci < cig; ci++)
                        for (int64_t ky = 0; ky < p->kh; ky++) {
                            int64_t iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;
                            if (iy < 0 || iy >= p->h)
                                continue;
                            for (int64_t kx = 0; kx < p->kw; kx++) {
                                int64_t ix = ox * p->stride_w - p->pad_left + kx * p->dil_w;
                                if (ix < 0 || ix >= p->w)
                                    continue;
                                s += (double)x[((n * p->c_in + g * cig + ci) * p->h + iy) * p->w +
                                               ix] *
                                     w[((co * cig + ci) * p->kh + ky) * p->kw + kx];
                            }
                        }
                    y[((n * p->c_out + co) * oh + oy) * ow + ox] = cq__act1(p->act, (float)s);
                }
        }
    return CQ_OK;
}
