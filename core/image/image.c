/* image.c - cq_image life cycle and pixel operations (crop, resize, convert,
 * paste). Codecs are in image_codec.c. */
#include "image/image.h"
#include "image/image_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

cq_image *cq_image_new(int width, int height, int channels, uint8_t fill, cq_err *err)
{
    if (width < 1 || height < 1 || (channels != 1 && channels != 3)) {
        cq_errf(err, CQ_EINVAL, "image size %dx%dx%d is not valid", width, height, channels);
        return NULL;
    }
    size_t n = (size_t)width * (size_t)height * (size_t)channels;
    cq_image *im = malloc(sizeof *im);
    uint8_t *d = im ? malloc(n) : NULL;
    if (!d) {
        free(im);
        cq_errf(err, CQ_ENOMEM, "out of memory for a %dx%dx%d image", width, height, channels);
        return NULL;
    }
    memset(d, fill, n);
    im->width = width;
    im->height = height;
    im->channels = channels;
    im->data = d;
    return im;
}

void cq_image_free(cq_image *im)
{
    if (!im)
        return;
    free(im->data);
    free(im);
}

static size_t image_bytes(const cq_image *im)
{
    return (size_t)im->width * (size_t)im->height * (size_t)im->channels;
}

cq_image *cq_image_clone(const cq_image *im, cq_err *err)
{
    cq_image *c = cq_image_new(im->width, im->height, im->channels, 0, err);
    if (c)
        memcpy(c->data, im->data, image_bytes(im));
    return c;
}

cq_image *cq_image_crop(const cq_image *im, int x, int y, int w, int h, cq_err *err)
{
    if (w < 1 || h < 1 || x < 0 || y < 0 || x > im->width - w || y > im->height - h) {
        cq_errf(err, CQ_ERANGE, "crop %dx%d at (%d, %d) is not inside the %dx%d image", w, h, x, y,
                im->width, im->height);
        return NULL;
    }
    cq_image *c = cq_image_new(w, h, im->channels, 0, err);
    if (!c)
        return NULL;
    size_t ch = (size_t)im->channels, row = (size_t)w * ch;
    for (int r = 0; r < h; r++)
        memcpy(c->data + (size_t)r * row, im->data + ((size_t)(y + r) * (size_t)im->width + (size_t)x) * ch,
               row);
    return c;
}

cq_image *cq_image_convert(const cq_image *im, int channels, cq_err *err)
{
    if (channels == im->channels)
        return cq_image_clone(im, err);
    cq_image *c = cq_image_new(im->width, im->height, channels, 0, err);
    if (!c)
        return NULL;
    size_t n = (size_t)im->width * (size_t)im->height;
    const uint8_t *s = im->data;
    uint8_t *d = c->data;
    if (channels == 3) {
        for (size_t i = 0; i < n; i++)
            d[3 * i] = d[3 * i + 1] = d[3 * i + 2] = s[i];
    } else {
        for (size_t i = 0; i < n; i++) /* Pillow's L24: ITU-R 601-2 luma, 16-bit weights */
            d[i] = (uint8_t)((s[3 * i] * 19595u + s[3 * i + 1] * 38470u + s[3 * i + 2] * 7471u +
                              0x8000u) >> 16);
    }
    return c;
}

cq_status cq_image_paste(cq_image *dst, const cq_image *src, int x, int y, int feather, cq_err *err)
{
    if (dst->channels != src->channels)
        return cq_errf(err, CQ_EINVAL, "paste: %d-channel image into a %d-channel one",
                       src->channels, dst->channels);
    if (feather < 0)
        return cq_errf(err, CQ_EINVAL, "paste: feather %d < 0", feather);
    if (x <= -src->width || y <= -src->height || x >= dst->width || y >= dst->height)
        return CQ_OK; /* nothing visible (and no -INT_MIN below) */
    int ch = src->channels;
    int r0 = y < 0 ? -y : 0, c0 = x < 0 ? -x : 0;
    int r1 = src->height, c1 = src->width;
    if ((long)y + r1 > dst->height)
        r1 = dst->height - y;
    if ((long)x + c1 > dst->width)
        c1 = dst->width - x;
    if (c1 <= c0)
        return CQ_OK;
    size_t cs = (size_t)ch;
    for (int r = r0; r < r1; r++) {
        /* s and d point at the first visible column, (c0, r) of src */
        const uint8_t *s = src->data + ((size_t)r * (size_t)src->width + (size_t)c0) * cs;
        uint8_t *d = dst->data + ((size_t)(y + r) * (size_t)dst->width + (size_t)(x + c0)) * cs;
        if (feather == 0) {
            memcpy(d, s, (size_t)(c1 - c0) * cs);
            continue;
        }
        int dr = r < src->height - 1 - r ? r : src->height - 1 - r;
        for (int c = c0; c < c1; c++) {
            int e = c < src->width - 1 - c ? c : src->width - 1 - c;
            if (dr < e)
                e = dr;
            float a = e >= feather ? 1.0f : (float)(e + 1) / (float)(feather + 1);
            for (size_t k = 0; k < cs; k++) {
                size_t i = (size_t)(c - c0) * cs + k;
                d[i] = (uint8_t)lrintf((float)d[i] + a * ((float)s[i] - (float)d[i]));
            }
        }
    }
    return CQ_OK;
}

/* ---- resize: Pillow's BILINEAR (reducing_gap=None) ---------------------- */

#define PIL_PRECISION_BITS (32 - 8 - 2)

static double tri(double x)
{
    if (x < 0.0)
        x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* Pillow's precompute_coeffs + normalize_coeffs_8bpc for one axis: for
 * output i, taps bounds[2i] .. bounds[2i] + bounds[2i+1] - 1 with 22-bit
 * weights kk[i * ksize ...]. Returns ksize, or 0 on allocation failure. */
static int pil_coeffs(int in_size, int out_size, int **bounds_out, int32_t **kk_out)
{
    double scale = (double)in_size / (double)out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    int *bounds = malloc((size_t)out_size * 2 * sizeof *bounds);
    int32_t *kk = malloc((size_t)out_size * (size_t)ksize * sizeof *kk);
    double *k = malloc((size_t)ksize * sizeof *k);
    if (!bounds || !kk || !k) {
        free(bounds);
        free(kk);
        free(k);
        return 0;
    }
    for (int xx = 0; xx < out_size; xx++) {
        double center = (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0)
            xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size)
            xmax = in_size;
        xmax -= xmin;
        for (int x = 0; x < xmax; x++) {
            k[x] = tri((x + xmin - center + 0.5) * ss);
            ww += k[x];
        }
        for (int x = 0; x < ksize; x++) {
            double w = x < xmax ? (ww != 0.0 ? k[x] / ww : k[x]) : 0.0;
            kk[(size_t)xx * (size_t)ksize + (size_t)x] =
                (int32_t)(w < 0 ? -0.5 + w * (1 << PIL_PRECISION_BITS)
                                : 0.5 + w * (1 << PIL_PRECISION_BITS));
        }
        bounds[2 * xx] = xmin;
        bounds[2 * xx + 1] = xmax;
    }
    free(k);
    *bounds_out = bounds;
    *kk_out = kk;
    return ksize;
}

static uint8_t clip8(int32_t v)
{
    v >>= PIL_PRECISION_BITS;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* One separable pass. horizontal: along x; else along y. */
static void pil_pass(const cq_image *in, cq_image *out, int horizontal, int ksize,
                     const int *bounds, const int32_t *kk)
{
    int ch = in->channels;
    size_t in_row = (size_t)in->width * (size_t)ch, out_row = (size_t)out->width * (size_t)ch;
    for (int y = 0; y < out->height; y++) {
        for (int x = 0; x < out->width; x++) {
            int o = horizontal ? x : y;
            int lo = bounds[2 * o], n = bounds[2 * o + 1];
            const int32_t *k = kk + (size_t)o * (size_t)ksize;
            for (int c = 0; c < ch; c++) {
                int32_t ss = 1 << (PIL_PRECISION_BITS - 1);
                if (horizontal) {
                    const uint8_t *s = in->data + (size_t)y * in_row + (size_t)lo * (size_t)ch + (size_t)c;
                    for (int t = 0; t < n; t++)
                        ss += s[(size_t)t * (size_t)ch] * k[t];
                } else {
                    const uint8_t *s = in->data + (size_t)lo * in_row + (size_t)x * (size_t)ch + (size_t)c;
                    for (int t = 0; t < n; t++)
                        ss += s[(size_t)t * in_row] * k[t];
                }
                out->data[(size_t)y * out_row + (size_t)x * (size_t)ch + (size_t)c] = clip8(ss);
            }
        }
    }
}

static cq_image *resize_pil(const cq_image *im, int width, int height, cq_err *err)
{
    cq_image *cur = (cq_image *)im, *next = NULL;
    for (int pass = 0; pass < 2; pass++) {
        int horizontal = pass == 0;
        int in_size = horizontal ? cur->width : cur->height, out_size = horizontal ? width : height;
        if (in_size == out_size)
            continue;
        int *bounds;
        int32_t *kk;
        int ksize = pil_coeffs(in_size, out_size, &bounds, &kk);
        next = ksize ? cq_image_new(horizontal ? width : cur->width, horizontal ? cur->height : height,
                                    im->channels, 0, err)
                     : NULL;
        if (!next) {
            if (ksize) {
                free(bounds);
                free(kk);
            } else {
                cq_errf(err, CQ_ENOMEM, "resize: out of memory");
            }
            if (cur != im)
                cq_image_free(cur);
            return NULL;
        }
        pil_pass(cur, next, horizontal, ksize, bounds, kk);
        free(bounds);
        free(kk);
        if (cur != im)
            cq_image_free(cur);
        cur = next;
    }
    return cur == im ? cq_image_clone(im, err) : cur;
}

/* ---- resize: half-pixel centres, no antialiasing ------------------------ */

typedef struct { int i0, i1; float f; } tap2;

static void half_pixel_taps(int in_size, int out_size, tap2 *t)
{
    float scale = (float)in_size / (float)out_size;
    for (int o = 0; o < out_size; o++) {
        float s = ((float)o + 0.5f) * scale - 0.5f;
        if (s < 0)
            s = 0;
        int i0 = (int)s;
        if (i0 >= in_size - 1) {
            t[o].i0 = t[o].i1 = in_size - 1;
            t[o].f = 0;
        } else {
            t[o].i0 = i0;
            t[o].i1 = i0 + 1;
            t[o].f = s - (float)i0;
        }
    }
}

/* Resize a virtual canvas cw x chh holding im at (x0, y0) and pad elsewhere:
 * letterboxing without building the padded copy (which, for a large photo,
 * costs more than the resize itself). */
cq_image *cq__image_resize_half_pixel_padded(const cq_image *im, int cw, int chh, int x0, int y0,
                                             uint8_t pad, int width, int height, cq_err *err)
{
    int ch = im->channels;
    tap2 *tx = malloc((size_t)width * sizeof *tx), *ty = malloc((size_t)height * sizeof *ty);
    float *r0 = malloc((size_t)width * (size_t)ch * 2 * sizeof *r0);
    cq_image *out = tx && ty && r0 ? cq_image_new(width, height, ch, 0, err) : NULL;
    if (!out) {
        if (!tx || !ty || !r0)
            cq_errf(err, CQ_ENOMEM, "resize: out of memory");
        free(tx);
        free(ty);
        free(r0);
        return NULL;
    }
    half_pixel_taps(cw, width, tx);
    half_pixel_taps(chh, height, ty);
    for (int x = 0; x < width; x++) { /* canvas -> image columns; -1 is the pad */
        tx[x].i0 -= x0;
        tx[x].i1 -= x0;
        if (tx[x].i0 < 0 || tx[x].i0 >= im->width)
            tx[x].i0 = -1;
        if (tx[x].i1 < 0 || tx[x].i1 >= im->width)
            tx[x].i1 = -1;
    }
    float *r1 = r0 + (size_t)width * (size_t)ch, fpad = (float)pad;
    size_t in_row = (size_t)im->width * (size_t)ch;
    for (int y = 0; y < height; y++) {
        int ya = ty[y].i0 - y0, yb = ty[y].i1 - y0;
        const uint8_t *rows[2] = {ya >= 0 && ya < im->height ? im->data + (size_t)ya * in_row : NULL,
                                  yb >= 0 && yb < im->height ? im->data + (size_t)yb * in_row : NULL};
        float *acc[2] = {r0, r1};
        for (int k = 0; k < 2; k++) {
            const uint8_t *a = rows[k];
            float *r = acc[k];
            for (int x = 0; x < width; x++) {
                float f = tx[x].f;
                for (int c = 0; c < ch; c++) {
                    float v0 = a && tx[x].i0 >= 0 ? (float)a[(size_t)tx[x].i0 * (size_t)ch + (size_t)c] : fpad;
                    float v1 = a && tx[x].i1 >= 0 ? (float)a[(size_t)tx[x].i1 * (size_t)ch + (size_t)c] : fpad;
                    r[x * ch + c] = v0 + f * (v1 - v0);
                }
            }
        }
        float g = ty[y].f;
        uint8_t *d = out->data + (size_t)y * (size_t)width * (size_t)ch;
        for (int i = 0; i < width * ch; i++) {
            float v = r0[i] + g * (r1[i] - r0[i]) + 0.5f;
            d[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
    free(tx);
    free(ty);
    free(r0);
    return out;
}

static cq_image *resize_half_pixel(const cq_image *im, int width, int height, cq_err *err)
{
    return cq__image_resize_half_pixel_padded(im, im->width, im->height, 0, 0, 0, width, height, err);
}

cq_image *cq_image_resize(const cq_image *im, int width, int height, cq_interp interp, cq_err *err)
{
    if (width < 1 || height < 1 || width > CQ_IMAGE_MAX_SIDE || height > CQ_IMAGE_MAX_SIDE) {
        cq_errf(err, CQ_EINVAL, "resize to %dx%d: sizes must be in 1..%d", width, height,
                CQ_IMAGE_MAX_SIDE);
        return NULL;
    }
    if (interp == CQ_INTERP_PIL)
        return resize_pil(im, width, height, err);
    if (interp == CQ_INTERP_HALF_PIXEL)
        return resize_half_pixel(im, width, height, err);
    cq_errf(err, CQ_EINVAL, "resize: unknown interpolation %d", (int)interp);
    return NULL;
}
