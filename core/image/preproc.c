/* preproc.c - geometry (fit, pad, crop, resize) and normalisation of images
 * into model inputs. */
#include "image/preproc.h"
#include "image/image_internal.h"

#include <math.h>
#include <string.h>

void cq_preproc_spec_init(cq_preproc_spec *s)
{
    memset(s, 0, sizeof *s);
    s->width = s->height = 224;
    s->channels = 3;
    s->fit = CQ_FIT_STRETCH;
    s->resize_shorter = 256;
    s->interp = CQ_INTERP_PIL;
    s->layout = CQ_LAYOUT_NCHW;
    s->scale = 1.0f / 255.0f;
    for (int c = 0; c < 3; c++)
        s->std[c] = 1.0f;
}

static void blazeface(cq_preproc_spec *s, int size)
{
    s->width = s->height = size;
    s->fit = CQ_FIT_LETTERBOX;
    s->pad_center = 0;
    s->pad_value = 0;
    s->interp = CQ_INTERP_HALF_PIXEL;
    s->layout = CQ_LAYOUT_NHWC;
    s->scale = 1.0f / 127.5f;
    for (int c = 0; c < 3; c++)
        s->mean[c] = 1.0f;
}

cq_status cq_preproc_preset(const char *name, cq_preproc_spec *s, cq_err *err)
{
    cq_preproc_spec_init(s);
    if (!strcmp(name, "blazeface") || !strcmp(name, "blazeface256")) {
        blazeface(s, 256);
    } else if (!strcmp(name, "blazeface128")) {
        blazeface(s, 128);
    } else if (!strcmp(name, "fmnist")) {
        s->width = s->height = 28;
        s->channels = 1;
    } else if (!strcmp(name, "imagenet")) {
        static const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
        s->fit = CQ_FIT_SHORTER_CROP;
        s->resize_shorter = 256;
        memcpy(s->mean, mean, sizeof mean);
        memcpy(s->std, std, sizeof std);
    } else {
        return cq_errf(err, CQ_EINVAL,
                       "unknown preprocessing preset '%s' (known: blazeface, blazeface256, "
                       "blazeface128, fmnist, imagenet)",
                       name);
    }
    return CQ_OK;
}

cq_status cq_preproc_check(const cq_preproc_spec *s, cq_err *err)
{
    if (s->width < 1 || s->height < 1 || s->width > CQ_PREPROC_MAX_SIDE ||
        s->height > CQ_PREPROC_MAX_SIDE)
        return cq_errf(err, CQ_EINVAL, "preprocess: size %dx%d is not in 1..%d", s->width,
                       s->height, CQ_PREPROC_MAX_SIDE);
    if (s->channels != 1 && s->channels != 3)
        return cq_errf(err, CQ_EINVAL, "preprocess: channels must be 1 or 3, not %d", s->channels);
    if (s->bgr && s->channels != 3)
        return cq_errf(err, CQ_EINVAL, "preprocess: BGR needs 3 channels");
    if (s->fit < CQ_FIT_STRETCH || s->fit > CQ_FIT_SHORTER_CROP)
        return cq_errf(err, CQ_EINVAL, "preprocess: unknown fit mode %d", (int)s->fit);
    if (s->fit == CQ_FIT_SHORTER_CROP &&
        (s->resize_shorter < s->width || s->resize_shorter < s->height || s->resize_shorter > CQ_PREPROC_MAX_SIDE))
        return cq_errf(err, CQ_EINVAL,
                       "preprocess: resize_shorter %d must be at least the crop size %dx%d",
                       s->resize_shorter, s->width, s->height);
    if (s->interp != CQ_INTERP_PIL && s->interp != CQ_INTERP_HALF_PIXEL)
        return cq_errf(err, CQ_EINVAL, "preprocess: unknown interpolation %d", (int)s->interp);
    if (s->layout != CQ_LAYOUT_NCHW && s->layout != CQ_LAYOUT_NHWC)
        return cq_errf(err, CQ_EINVAL, "preprocess: unknown layout %d", (int)s->layout);
    if (!(s->scale > 0) || !isfinite(s->scale))
        return cq_errf(err, CQ_EINVAL, "preprocess: scale must be > 0");
    for (int c = 0; c < s->channels; c++)
        if (!(s->std[c] > 0) || !isfinite(s->std[c]) || !isfinite(s->mean[c]))
            return cq_errf(err, CQ_EINVAL, "preprocess: std[%d] must be > 0 and mean finite", c + 1);
    return CQ_OK;
}

/* Pad im with v to pw x ph, im's top-left at (x0, y0). */
static cq_image *pad(const cq_image *im, int pw, int ph, int x0, int y0, uint8_t v, cq_err *err)
{
    cq_image *p = cq_image_new(pw, ph, im->channels, v, err);
    if (p && cq_image_paste(p, im, x0, y0, 0, err) != CQ_OK) {
        cq_image_free(p);
        return NULL;
    }
    return p;
}

cq_image *cq_preproc_image(const cq_preproc_spec *s, const cq_image *im, cq_preproc_transform *tr,
                           cq_err *err)
{
    if (cq_preproc_check(s, err))
        return NULL;
    cq_preproc_transform t = {im->width, im->height, 1, 1, 0, 0};
    cq_image *conv = NULL, *tmp = NULL, *out = NULL;
    const cq_image *src = im;
    if (im->channels != s->channels) {
        if (!(conv = cq_image_convert(im, s->channels, err)))
            return NULL;
        src = conv;
    }
    int64_t w = src->width, h = src->height, W = s->width, H = s->height;
    switch (s->fit) {
    case CQ_FIT_STRETCH:
        out = cq_image_resize(src, s->width, s->height, s->interp, err);
        t.sx = (double)W / (double)w;
        t.sy = (double)H / (double)h;
        break;
    case CQ_FIT_LETTERBOX: {
        int64_t pw = w, ph = h;
        if (w * H >= h * W)
            ph = (w * H + W - 1) / W;
        else
            pw = (h * W + H - 1) / H;
        if (pw > CQ_IMAGE_MAX_SIDE || ph > CQ_IMAGE_MAX_SIDE) {
            cq_errf(err, CQ_EINVAL, "letterbox: %lldx%lld image padded to %lldx%lld is too large",
                    (long long)w, (long long)h, (long long)pw, (long long)ph);
            break;
        }
        int x0 = s->pad_center ? (int)((pw - w) / 2) : 0, y0 = s->pad_center ? (int)((ph - h) / 2) : 0;
        if (pw == w && ph == h) {
            out = cq_image_resize(src, s->width, s->height, s->interp, err);
        } else if (s->interp == CQ_INTERP_HALF_PIXEL) {
            out = cq__image_resize_half_pixel_padded(src, (int)pw, (int)ph, x0, y0, s->pad_value,
                                                     s->width, s->height, err);
        } else if ((tmp = pad(src, (int)pw, (int)ph, x0, y0, s->pad_value, err))) {
            out = cq_image_resize(tmp, s->width, s->height, s->interp, err);
        }
        t.sx = (double)W / (double)pw;
        t.sy = (double)H / (double)ph;
        t.ox = x0 * t.sx;
        t.oy = y0 * t.sy;
        break;
    }
    case CQ_FIT_SHORTER_CROP: {
        int64_t R = s->resize_shorter, rw, rh;
        if (w <= h) {
            rw = R;
            rh = (int64_t)((double)R * (double)h / (double)w);
        } else {
            rh = R;
            rw = (int64_t)((double)R * (double)w / (double)h);
        }
        if (rw > CQ_IMAGE_MAX_SIDE || rh > CQ_IMAGE_MAX_SIDE) {
            cq_errf(err, CQ_EINVAL, "shorter-crop: %lldx%lld image resized to %lldx%lld is too large",
                    (long long)w, (long long)h, (long long)rw, (long long)rh);
            break;
        }
        int left = (int)lrint((double)(rw - W) / 2.0), top = (int)lrint((double)(rh - H) / 2.0);
        if ((tmp = cq_image_resize(src, (int)rw, (int)rh, s->interp, err)))
            out = cq_image_crop(tmp, left, top, s->width, s->height, err);
        t.sx = (double)rw / (double)w;
        t.sy = (double)rh / (double)h;
        t.ox = -left;
        t.oy = -top;
        break;
    }
    }
    cq_image_free(tmp);
    cq_image_free(conv);
    if (out && tr)
        *tr = t;
    return out;
}

void cq_preproc_normalize(const cq_preproc_spec *s, const cq_image *im, float *out)
{
    int C = s->channels;
    float lut[3][256];
    for (int c = 0; c < C; c++) /* per source (RGB) channel */
        for (int v = 0; v < 256; v++)
            lut[c][v] = ((float)v * s->scale - s->mean[c]) / s->std[c];
    size_t hw = (size_t)im->width * (size_t)im->height;
    const uint8_t *px = im->data;
    for (int c = 0; c < C; c++) {
        int sc = s->bgr ? C - 1 - c : c; /* source channel for output channel c */
        const float *l = lut[sc];
        if (s->layout == CQ_LAYOUT_NHWC) {
            for (size_t i = 0; i < hw; i++)
                out[i * (size_t)C + (size_t)c] = l[px[i * (size_t)C + (size_t)sc]];
        } else {
            float *o = out + (size_t)c * hw;
            for (size_t i = 0; i < hw; i++)
                o[i] = l[px[i * (size_t)C + (size_t)sc]];
        }
    }
}

cq_tensor *cq_preproc_batch(const cq_preproc_spec *s, const cq_image *const *ims, int n,
                            cq_preproc_transform *tr, cq_err *err)
{
    if (cq_preproc_check(s, err))
        return NULL;
    if (n < 1 || !ims) {
        cq_errf(err, CQ_EINVAL, "preprocess: need at least one image");
        return NULL;
    }
    int64_t shape[4] = {n, s->channels, s->height, s->width};
    if (s->layout == CQ_LAYOUT_NHWC) {
        shape[1] = s->height;
        shape[2] = s->width;
        shape[3] = s->channels;
    }
    cq_tensor *t = cq_tensor_empty(CQ_F32, 4, shape, err);
    if (!t)
        return NULL;
    size_t per = (size_t)s->width * (size_t)s->height * (size_t)s->channels;
    for (int i = 0; i < n; i++) {
        cq_image *p = cq_preproc_image(s, ims[i], tr ? &tr[i] : NULL, err);
        if (!p) {
            cq_err_prefix(err, err->code, "image %d: ", i + 1);
            cq_tensor_release(t);
            return NULL;
        }
        cq_preproc_normalize(s, p, (float *)cq_tensor_data(t) + (size_t)i * per);
        cq_image_free(p);
    }
    return t;
}
