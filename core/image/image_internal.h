/* image_internal.h - helpers shared by image.c and preproc.c, not public. */
#ifndef CQ_IMAGE_INTERNAL_H
#define CQ_IMAGE_INTERNAL_H

#include "image/image.h"

/* Half-pixel bilinear resize of a virtual cw x ch canvas filled with pad
 * that holds im with its top-left at (x0, y0), to width x height. The same
 * pixels as padding first and cq_image_resize(..., CQ_INTERP_HALF_PIXEL),
 * without the padded copy. New image, or NULL (ENOMEM). */
cq_image *cq__image_resize_half_pixel_padded(const cq_image *im, int cw, int ch, int x0, int y0,
                                             uint8_t pad, int width, int height, cq_err *err);

#endif
