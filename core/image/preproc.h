/*
 * preproc.h - from decoded images to a model's f32 input tensor.
 *
 * A cq_preproc_spec says how: the target size, how the image is fitted to it
 * (stretch, letterbox, resize-shorter-then-centre-crop), the interpolation,
 * the channel count and order, the layout and the normalisation
 *     out = (pixel * scale - mean[c]) / std[c]          (pixel in 0..255)
 * Geometry and resizing are done on 8-bit pixels (as PIL does, so the result
 * can be checked against it); the normalisation happens once, in f32.
 *
 * Fit modes (W x H is the target):
 *  CQ_FIT_STRETCH      resize to W x H, aspect ratio not kept.
 *  CQ_FIT_LETTERBOX    pad the image with pad_value to W:H's aspect ratio,
 *                      on the right and bottom (pad_center = 0, BlazeFace's
 *                      reference) or equally on both sides (pad_center = 1,
 *                      odd pixel right/bottom), then resize the padded image
 *                      to W x H. Padding first, at the source resolution,
 *                      is what MediaPipe's pipeline does: the border pixels
 *                      blend with the pad value exactly as in the reference.
 *  CQ_FIT_SHORTER_CROP resize so the shorter side is resize_shorter (the
 *                      longer one int(long * R / short), as torchvision),
 *                      then crop W x H at the centre (top = round((h - H) / 2)).
 *
 * Every image also yields a cq_preproc_transform: input-tensor pixel
 * coordinates u = x * sx + ox, v = y * sy + oy for original coordinates
 * (x, y) (pixel edges, 0..width), so a detection is mapped back with
 * x = (u - ox) / sx.
 *
 * Presets (cq_preproc_preset): "blazeface" / "blazeface256" (256x256),
 * "blazeface128": RGB, letterbox right/bottom, half-pixel bilinear, x/127.5 - 1,
 * NHWC; "fmnist": gray 28x28 stretch, x/255, NCHW; "imagenet": RGB, shorter
 * side 256, centre crop 224, PIL bilinear, mean (0.485, 0.456, 0.406), std
 * (0.229, 0.224, 0.225), NCHW.
 *
 *     cq_preproc_spec s;
 *     cq_preproc_preset("blazeface", &s, &err);
 *     cq_preproc_transform tr[2];
 *     const cq_image *ims[2] = {a, b};
 *     cq_tensor *x = cq_preproc_batch(&s, ims, 2, tr, &err); // f32 [2,256,256,3]
 *     ...
 *     cq_tensor_release(x);
 */
#ifndef CQ_PREPROC_H
#define CQ_PREPROC_H

#include "image/image.h"
#include "base/tensor.h"

typedef enum cq_fit {
    CQ_FIT_STRETCH = 0,
    CQ_FIT_LETTERBOX,
    CQ_FIT_SHORTER_CROP
} cq_fit;

typedef enum cq_layout {
    CQ_LAYOUT_NCHW = 0,
    CQ_LAYOUT_NHWC
} cq_layout;

/* Largest target side (width, height, resize_shorter). */
#define CQ_PREPROC_MAX_SIDE 16384

typedef struct cq_preproc_spec {
    int width, height;    /* target size W x H */
    int channels;         /* 1 (gray) or 3 */
    int bgr;              /* 1: channel order B, G, R (3 channels only) */
    cq_fit fit;
    int pad_center;       /* letterbox: 0 pads right/bottom, 1 centres */
    uint8_t pad_value;    /* letterbox: the pad's 8-bit value (every channel) */
    int resize_shorter;   /* shorter-crop: the shorter side after resizing */
    cq_interp interp;
    cq_layout layout;
    float scale;          /* pixel * scale, then */
    float mean[3], std[3];/* (. - mean[c]) / std[c], c in R, G, B order whatever bgr says */
} cq_preproc_spec;

typedef struct cq_preproc_transform {
    int src_width, src_height; /* the original image */
    double sx, sy, ox, oy;     /* u = x * sx + ox, v = y * sy + oy */
} cq_preproc_transform;

/* Defaults: 224x224, RGB, stretch, PIL bilinear, NCHW, scale 1/255, mean 0,
 * std 1. */
void cq_preproc_spec_init(cq_preproc_spec *s);
/* Fill s from a preset name; EINVAL (message lists the names) if unknown. */
cq_status cq_preproc_preset(const char *name, cq_preproc_spec *s, cq_err *err);
/* EINVAL with a message naming the bad field. */
cq_status cq_preproc_check(const cq_preproc_spec *s, cq_err *err);

/* Geometry only: the 8-bit image the model sees (W x H, spec's channel count,
 * RGB order) and its transform (tr may be NULL). New image or NULL. */
cq_image *cq_preproc_image(const cq_preproc_spec *s, const cq_image *im, cq_preproc_transform *tr,
                           cq_err *err);
/* Normalise an 8-bit W x H image into out (W * H * channels floats, layout
 * and order of the spec). */
void cq_preproc_normalize(const cq_preproc_spec *s, const cq_image *im, float *out);
/* n images -> one dense f32 tensor [n, C, H, W] or [n, H, W, C]; tr (n
 * entries, may be NULL) receives the transforms. NULL on failure; the
 * message names the image index. */
cq_tensor *cq_preproc_batch(const cq_preproc_spec *s, const cq_image *const *ims, int n,
                            cq_preproc_transform *tr, cq_err *err);

#endif
