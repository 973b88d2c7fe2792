/* kern_blk_avx512.c - the memory-bound NCHW16c kernels with AVX-512, where a
 * pixel of 16 channels is one zmm register: max pooling (2x2/2 inside the
 * image: 4 loads, 4 maxes, 1 store an output pixel; any other window or the
 * border: one load and max a tap inside the image) and nearest upsampling
 * by whole factors (one load an input pixel, stored to its fh x fw output
 * pixels straight from the register: no tap table, no copy read back). */
#include <immintrin.h>
#include <math.h>

#include "kern/kern_internal.h"

/* The max over the window's taps inside the image, in pool1's order and
 * comparison (v > m ? v : m from -inf: a NaN is kept only where it comes
 * first, that is never); vmaxps (v, m) is that comparison. */
static inline __m512 window_max(const cq_pool2d_params *p, const float *xb, int64_t y0, int64_t x0)
{
    __m512 m = _mm512_set1_ps(-INFINITY);
    for (int64_t ky = 0; ky < p->kh; ky++) {
        int64_t iy = y0 + ky * p->dil_h;
        if (iy < 0 || iy >= p->h)
            continue;
        for (int64_t kx = 0; kx < p->kw; kx++) {
            int64_t ix = x0 + kx * p->dil_w;
            if (ix >= 0 && ix < p->w)
                m = _mm512_max_ps(_mm512_loadu_ps(xb + (iy * p->w + ix) * 16), m);
        }
    }
    return m;
}

void cq__maxpool_blocked_rows_avx512(const cq_pool2d_params *p, int64_t oh, int64_t ow,
                                     const float *x, float *y, int64_t r0, int64_t r1)
{
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    int64_t sw = p->stride_w, pl = p->pad_left;
    /* the 2x2/2 kernel's columns: both taps inside the row */
    int64_t xlo = (pl + 1) / 2, xhi = (p->w + pl - 2) / 2 + 1;
    int two = p->kh == 2 && p->kw == 2 && sw == 2 && p->dil_h == 1 && p->dil_w == 1;
    if (p->w + pl < 2)
        xhi = 0;
    if (xhi > ow)
        xhi = ow;
    if (!two || xlo >= xhi)
        xlo = xhi = 0;
    for (int64_t r = r0; r < r1; r++) {
        int64_t b = r / oh, oy = r % oh;
        const float *xb = x + b * p->h * p->w * 16;
        float *yr = y + (b * oh + oy) * ow * 16;
        int64_t y0 = oy * p->stride_h - p->pad_top;
        int64_t lo = xlo, hi = xhi;
        if (y0 < 0 || y0 + 1 >= p->h)
            lo = hi = 0; /* a row of the window outside the image */
        for (int64_t ox = 0; ox < lo; ox++)
            _mm512_storeu_ps(yr + ox * 16, window_max(p, xb, y0, ox * sw - pl));
        const float *a = xb + y0 * p->w * 16, *c = a + p->w * 16;
        for (int64_t ox = lo; ox < hi; ox++) {
            int64_t i = (ox * 2 - pl) * 16;
            __m512 m = _mm512_max_ps(_mm512_loadu_ps(a + i), ninf);
            m = _mm512_max_ps(_mm512_loadu_ps(a + i + 16), m);
            m = _mm512_max_ps(_mm512_loadu_ps(c + i), m);
            m = _mm512_max_ps(_mm512_loadu_ps(c + i + 16), m);
            _mm512_storeu_ps(yr + ox * 16, m);
        }
        for (int64_t ox = hi; ox < ow; ox++)
            _mm512_storeu_ps(yr + ox * 16, window_max(p, xb, y0, ox * sw - pl));
    }
}

void cq__upsample_blocked_rows_avx512(int64_t w, int64_t fh, int64_t fw, const float *x,
                                      float *y, int64_t r0, int64_t r1)
{
    int64_t orow = w * fw * 16; /* floats of an output row */
    for (int64_t r = r0; r < r1; r++) {
        const float *s = x + r * w * 16;
        float *d = y + r * fh * orow;
        if (fh == 2 && fw == 2)
            for (int64_t b = 0; b < w; b++) {
                __m512 v = _mm512_loadu_ps(s + b * 16);
                _mm512_storeu_ps(d + b * 32, v);
                _mm512_storeu_ps(d + b * 32 + 16, v);
                _mm512_storeu_ps(d + orow + b * 32, v);
                _mm512_storeu_ps(d + orow + b * 32 + 16, v);
            }
        else
            for (int64_t b = 0; b < w; b++) {
                __m512 v = _mm512_loadu_ps(s + b * 16);
                for (int64_t i = 0; i < fh; i++)
                    for (int64_t j = 0; j < fw; j++)
                        _mm512_storeu_ps(d + i * orow + (b * fw + j) * 16, v);
            }
    }
}

/* Four sums a lane (pixels i, i + 1, i + 2, i + 3 of each step) hide the
 * add's latency: one sum a lane ran a pixel per add latency, 2-4x slower
 * than the NCHW pool in MobileNetV3's squeeze-excite blocks. */
void cq__gap_blocked_avx512(int64_t b0, int64_t b1, int64_t hw, const float *x, float *y)
{
    __m512 n = _mm512_set1_ps(hw > 0 ? (float)hw : 1.0f);
    for (int64_t b = b0; b < b1; b++) {
        const float *xb = x + b * hw * 16;
        __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        int64_t i = 0;
        for (; i + 4 <= hw; i += 4) {
            s0 = _mm512_add_ps(s0, _mm512_loadu_ps(xb + 16 * i));
            s1 = _mm512_add_ps(s1, _mm512_loadu_ps(xb + 16 * i + 16));
            s2 = _mm512_add_ps(s2, _mm512_loadu_ps(xb + 16 * i + 32));
            s3 = _mm512_add_ps(s3, _mm512_loadu_ps(xb + 16 * i + 48));
        }
        for (; i < hw; i++)
            s0 = _mm512_add_ps(s0, _mm512_loadu_ps(xb + 16 * i));
        __m512 s = _mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3));
        _mm512_storeu_ps(y + 16 * b, _mm512_div_ps(s, n));
    }
}
