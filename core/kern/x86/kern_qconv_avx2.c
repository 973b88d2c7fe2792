/* kern_qconv_avx2.c - the int8 depthwise convolution for the AVX2 ISA
 * (kern_qconv.h): per output pixel, int32 sums over channel vectors of
 * (x - x_zp) * w (both widened, so every product and sum is exact), taps
 * outside the input skipped (they add (x_zp - x_zp) * w = 0); the scalar
 * epilogue. Plain loops the compiler vectorizes for AVX2. */
#include "kern/kern_qconv_internal.h"

#include <string.h>

void cq__qconv_dwc_avx2_rows(const cq_qconv2d_plan *pl, const void *x, const void *res,
                             void *y, int64_t r0, int64_t r1, void *scratch)
{
    const cq_qconv2d_params *p = &pl->p;
    const cq_conv2d_params *c = &p->c;
    int64_t C = c->c_out, oh = pl->oh, ow = pl->ow;
    int32_t *acc = scratch, zp = p->x_zp;
    const int16_t *wd = (const int16_t *)pl->wd;
    for (int64_t r = r0; r < r1; r++) {
        int64_t img = r / oh, oy = r % oh;
        for (int64_t ox = 0; ox < ow; ox++) {
            memcpy(acc, pl->comp, (size_t)C * sizeof(int32_t));
            for (int64_t ky = 0; ky < c->kh; ky++) {
                int64_t iy = oy * c->stride_h - c->pad_top + ky * c->dil_h;
                if (iy < 0 || iy >= c->h)
                    continue;
                for (int64_t kx = 0; kx < c->kw; kx++) {
                    int64_t ix = ox * c->stride_w - c->pad_left + kx * c->dil_w;
                    if (ix < 0 || ix >= c->w)
                        continue;
                    const int16_t *wt = wd + (ky * c->kw + kx) * C;
                    int64_t o = ((img * c->h + iy) * c->w + ix) * C;
                    if (p->x_dt == CQ_S8) {
                        const int8_t *xp = (const int8_t *)x + o;
                        for (int64_t ch = 0; ch < C; ch++)
                            acc[ch] += ((int32_t)xp[ch] - zp) * wt[ch];
                    } else {
                        const uint8_t *xp = (const uint8_t *)x + o;
                        for (int64_t ch = 0; ch < C; ch++)
                            acc[ch] += ((int32_t)xp[ch] - zp) * wt[ch];
                    }
                }
            }
            int64_t o = ((img * oh + oy) * ow + ox) * C;
            for (int64_t ch = 0; ch < C; ch++) {
                int32_t rv = 0;
                if (res)
                    rv = p->y_dt == CQ_S8 ? ((const int8_t *)res)[o + ch]
                                          : ((const uint8_t *)res)[o + ch];
                int32_t q = cq__qconv_code(p, pl->mult[ch], acc[ch], rv);
                if (p->y_dt == CQ_S8)
                    ((int8_t *)y)[o + ch] = (int8_t)q;
                else
                    ((uint8_t *)y)[o + ch] = (uint8_t)q;
            }
        }
    }
}
