/*
 * image.h - 8-bit images: decode (JPEG, PNG), encode, and the few pixel
 * operations the input pipeline and the mosaic builder need.
 *
 * A cq_image is a dense, interleaved, 8-bit image: height rows of
 * width * channels bytes (HWC), channels 1 (gray) or 3 (RGB). Alpha in a PNG
 * is dropped (as PIL's convert("RGB")); 16-bit PNG samples keep their high
 * byte; palettes are expanded to RGB; CMYK JPEGs are refused (EUNSUPPORTED).
 *
 * Decoders: libjpeg-turbo and libpng, the libraries PIL itself links
 * against, so decoded pixels are bit-identical to PIL's with the default DCT
 * (JDCT_ISLOW, fancy upsampling on). Chosen over stb_image because both are
 * SIMD-accelerated (libjpeg-turbo decodes 2-4x faster than stb's baseline
 * decoder), are fuzzed continuously (OSS-Fuzz) and are maintained with
 * security releases by Debian; stb_image's own README warns it is not meant
 * for untrusted files. Both libraries report fatal errors by longjmp: every
 * decoder here installs its own error manager, frees what it allocated and
 * returns a cq_err naming the file, the byte offset reached and the problem.
 * Corrupt-data warnings (libjpeg's "premature end", bad Huffman codes) are
 * errors too: a truncated file never yields a half-grey image.
 *
 * Decompression bombs: the header's width * height is checked before any
 * pixel buffer is allocated against max_pixels (0 = CQ_IMAGE_MAX_PIXELS).
 *
 *     cq_err err;
 *     cq_image *im = cq_image_load("face.jpg", 0, &err);
 *     if (!im) { fprintf(stderr, "%s\n", err.msg); return 1; }
 *     cq_image *small = cq_image_resize(im, 128, 96, CQ_INTERP_PIL, &err);
 *     cq_image_save(small, "small.png", 0, &err);
 *     cq_image_free(small); cq_image_free(im);
 */
#ifndef CQ_IMAGE_H
#define CQ_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include "base/status.h"

/* Default limit on width * height of a decoded image (2^28 pixels). */
#define CQ_IMAGE_MAX_PIXELS ((uint64_t)1 << 28)
/* Files above this size are refused before they are read. */
#define CQ_IMAGE_MAX_FILE_BYTES ((size_t)1 << 30)
/* Largest side of a resized or padded image (2^20 pixels). */
#define CQ_IMAGE_MAX_SIDE (1 << 20)

typedef struct cq_image {
    int width, height, channels; /* channels: 1 or 3 */
    uint8_t *data;               /* height * width * channels bytes, row-major */
} cq_image;

typedef enum cq_image_format {
    CQ_IMAGE_UNKNOWN = 0,
    CQ_IMAGE_JPEG,
    CQ_IMAGE_PNG
} cq_image_format;

/* Two bilinear flavours (see preproc.h for which preset uses which):
 *  CQ_INTERP_PIL        PIL's Image.resize(size, Image.BILINEAR) with
 *                       reducing_gap=None: a triangle filter whose support
 *                       grows with the reduction factor (antialiased),
 *                       separable, horizontal pass first, 8-bit intermediate,
 *                       22-bit fixed-point weights exactly as Pillow 9.
 *  CQ_INTERP_HALF_PIXEL sample at ((x + 0.5) * in / out - 0.5), clamped at
 *                       the edges, no antialiasing: OpenCV INTER_LINEAR,
 *                       TF resize(antialias=False), ONNX Resize linear
 *                       half_pixel, torch interpolate(align_corners=False),
 *                       and GPU texture sampling as MediaPipe does. */
typedef enum cq_interp {
    CQ_INTERP_PIL = 0,
    CQ_INTERP_HALF_PIXEL
} cq_interp;

/* ---- life cycle -------------------------------------------------------- */

/* New image filled with fill (every byte). NULL (EINVAL for sizes < 1 or
 * channels not 1/3, ENOMEM) on failure. Caller frees with cq_image_free. */
cq_image *cq_image_new(int width, int height, int channels, uint8_t fill, cq_err *err);
/* free(NULL) is a no-op. */
void cq_image_free(cq_image *im);
cq_image *cq_image_clone(const cq_image *im, cq_err *err);

/* ---- decode / encode --------------------------------------------------- */

/* Format from the first bytes (magic number); CQ_IMAGE_UNKNOWN otherwise. */
cq_image_format cq_image_sniff(const void *buf, size_t size);
/* Decode an in-memory file. name is used in messages only (may be NULL).
 * max_pixels 0 means CQ_IMAGE_MAX_PIXELS. NULL and EFORMAT (malformed,
 * truncated), EUNSUPPORTED (CMYK, unknown format) or ENOMEM (too many
 * pixels, out of memory) on failure; buf stays the caller's. */
cq_image *cq_image_decode(const void *buf, size_t size, const char *name, uint64_t max_pixels,
                          cq_err *err);
/* Read and decode a file; EIO when it cannot be read. */
cq_image *cq_image_load(const char *path, uint64_t max_pixels, cq_err *err);
/* Write im as JPEG or PNG, chosen by the extension of path (.jpg/.jpeg/.png,
 * any case), through path.tmp, fsync and rename (cq_write_atomic).
 * quality (JPEG only) 1..100, 0 means 95. EINVAL for an unknown extension, EIO when the file system
 * refuses. */
cq_status cq_image_save(const cq_image *im, const char *path, int quality, cq_err *err);
/* Encode into a malloc'ed buffer (*out, *out_size; the caller frees it). */
cq_status cq_image_encode(const cq_image *im, cq_image_format fmt, int quality, uint8_t **out,
                          size_t *out_size, cq_err *err);

/* ---- pixel operations (all return new images; NULL on failure) -------- */

/* The rectangle [x, x+w) x [y, y+h); it must lie inside im (ERANGE). */
cq_image *cq_image_crop(const cq_image *im, int x, int y, int w, int h, cq_err *err);
/* Resize to width x height (>= 1) with the given interpolation. */
cq_image *cq_image_resize(const cq_image *im, int width, int height, cq_interp interp,
                          cq_err *err);
/* 1 or 3 channels: gray -> RGB replicates; RGB -> gray uses PIL's "L"
 * weights (299, 587, 114)/1000 in 16-bit fixed point, as Pillow. */
cq_image *cq_image_convert(const cq_image *im, int channels, cq_err *err);
/* Paste src into dst at (x, y), clipped to dst; the channel counts must
 * match (EINVAL). feather > 0 blends the outer feather pixels of src
 * linearly into dst (a soft edge); 0 is a hard copy. In place on dst. */
cq_status cq_image_paste(cq_image *dst, const cq_image *src, int x, int y, int feather,
                         cq_err *err);

#endif
