/* image_codec.c - JPEG (libjpeg-turbo) and PNG (libpng) decode and encode.
 *
 * Both libraries leave a fatal error by longjmp. Each codec keeps all of its
 * state in one heap context (never in locals changed after setjmp), so the
 * error path can free everything it finds there. */
#include "image/image.h"
#include "base/fileio.h"

#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

/* A progressive JPEG can hold thousands of tiny scans that cost seconds
 * each; real encoders write at most a few dozen. */
#define JPEG_MAX_SCANS 1000

static const char *nm(const char *name)
{
    return name ? name : "<buffer>";
}

static cq_status check_pixels(const char *name, const char *fmt, uint64_t w, uint64_t h,
                              uint64_t max_pixels, cq_err *err)
{
    if (w == 0 || h == 0)
        return cq_errf(err, CQ_EFORMAT, "%s: %s header gives an empty image (%llux%llu)", nm(name),
                       fmt, (unsigned long long)w, (unsigned long long)h);
    if (w * h > max_pixels || w > 0x7fffffffu / 4 || h > 0x7fffffffu / 4)
        return cq_errf(err, CQ_ENOMEM,
                       "%s: %s image is %llux%llu = %llu pixels, above the limit of %llu "
                       "(a decompression bomb?)",
                       nm(name), fmt, (unsigned long long)w, (unsigned long long)h,
                       (unsigned long long)(w * h), (unsigned long long)max_pixels);
    return CQ_OK;
}

/* ---- JPEG decode ------------------------------------------------------- */

typedef struct jctx {
    struct jpeg_decompress_struct ci;
    struct jpeg_error_mgr em;
    struct jpeg_progress_mgr pm;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
    cq_image *im;
} jctx;

static void j_error_exit(j_common_ptr c)
{
    jctx *x = (jctx *)c->client_data;
    c->err->format_message(c, x->msg);
    longjmp(x->jb, 1);
}

/* Warnings (level -1) are corrupt data: an error, except bytes of junk
 * between markers, which cameras write and which lose nothing. */
static void j_emit(j_common_ptr c, int level)
{
    if (level >= 0)
        return;
    if (c->err->msg_code == JWRN_EXTRANEOUS_DATA) {
        c->err->num_warnings++;
        return;
    }
    j_error_exit(c);
}

static void j_output(j_common_ptr c)
{
    (void)c;
}

static void j_progress(j_common_ptr c)
{
    struct jpeg_decompress_struct *d = (struct jpeg_decompress_struct *)c;
    if (d->input_scan_number > JPEG_MAX_SCANS) {
        jctx *x = (jctx *)c->client_data;
        snprintf(x->msg, sizeof x->msg, "more than %d scans (a hostile progressive file?)",
                 JPEG_MAX_SCANS);
        longjmp(x->jb, 1);
    }
}

static cq_image *jpeg_decode(const uint8_t *buf, size_t size, const char *name,
                             uint64_t max_pixels, cq_err *err)
{
    jctx *x = calloc(1, sizeof *x);
    if (!x) {
        cq_errf(err, CQ_ENOMEM, "%s: out of memory", nm(name));
        return NULL;
    }
    x->ci.err = jpeg_std_error(&x->em);
    x->em.error_exit = j_error_exit;
    x->em.emit_message = j_emit;
    x->em.output_message = j_output;
    x->ci.client_data = x;
    if (setjmp(x->jb)) {
        /* After the end of the data libjpeg reads a fake EOI from its own
         * static buffer: the offset is then the file size. */
        const uint8_t *p = x->ci.src ? (const uint8_t *)x->ci.src->next_input_byte : buf;
        size_t at = p >= buf && p <= buf + size ? (size_t)(p - buf) : size;
        /* The Huffman decoder advances a private copy of the read pointer:
         * inside scan data the offset is that of the last block boundary. */
        if (x->em.msg_code == JWRN_JPEG_EOF)
            at = size;
        cq_errf(err, CQ_EFORMAT, "%s: JPEG, at byte %zu of %zu: %s", nm(name), at, size, x->msg);
        goto fail;
    }
    jpeg_create_decompress(&x->ci);
    x->pm.progress_monitor = j_progress;
    x->ci.progress = &x->pm;
    jpeg_mem_src(&x->ci, buf, (unsigned long)size);
    jpeg_read_header(&x->ci, TRUE);
    if (x->ci.jpeg_color_space == JCS_CMYK || x->ci.jpeg_color_space == JCS_YCCK) {
        cq_errf(err, CQ_EUNSUPPORTED, "%s: CMYK JPEG images are not supported", nm(name));
        goto fail;
    }
    if (check_pixels(name, "JPEG", x->ci.image_width, x->ci.image_height, max_pixels, err))
        goto fail;
    int gray = x->ci.num_components == 1;
    x->ci.out_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&x->ci);
    x->im = cq_image_new((int)x->ci.output_width, (int)x->ci.output_height, gray ? 1 : 3, 0, err);
    if (!x->im)
        goto fail;
    size_t stride = (size_t)x->im->width * (size_t)x->im->channels;
    while (x->ci.output_scanline < x->ci.output_height) {
        JSAMPROW row = x->im->data + (size_t)x->ci.output_scanline * stride;
        jpeg_read_scanlines(&x->ci, &row, 1);
    }
    jpeg_finish_decompress(&x->ci);
    jpeg_destroy_decompress(&x->ci);
    cq_image *im = x->im;
    free(x);
    return im;
fail:
    jpeg_destroy_decompress(&x->ci);
    cq_image_free(x->im);
    free(x);
    return NULL;
}

/* ---- PNG decode -------------------------------------------------------- */

typedef struct pctx {
    png_structp p;
    png_infop info;
    const uint8_t *buf;
    size_t size, pos;
    jmp_buf jb;
    char msg[256];
    cq_image *im;
    png_bytep *rows;
} pctx;

static void p_error(png_structp p, png_const_charp msg)
{
    pctx *x = png_get_error_ptr(p);
    snprintf(x->msg, sizeof x->msg, "%s", msg);
    longjmp(x->jb, 1);
}

static void p_warn(png_structp p, png_const_charp msg)
{
    (void)p;
    (void)msg;
}

static void p_read(png_structp p, png_bytep out, size_t n)
{
    pctx *x = png_get_io_ptr(p);
    if (n > x->size - x->pos)
        png_error(p, "file is truncated");
    memcpy(out, x->buf + x->pos, n);
    x->pos += n;
}

static cq_image *png_decode(const uint8_t *buf, size_t size, const char *name,
                            uint64_t max_pixels, cq_err *err)
{
    pctx *x = calloc(1, sizeof *x);
    if (!x) {
        cq_errf(err, CQ_ENOMEM, "%s: out of memory", nm(name));
        return NULL;
    }
    x->buf = buf;
    x->size = size;
    x->p = png_create_read_struct(PNG_LIBPNG_VER_STRING, x, p_error, p_warn);
    x->info = x->p ? png_create_info_struct(x->p) : NULL;
    if (!x->info) {
        cq_errf(err, CQ_ENOMEM, "%s: out of memory", nm(name));
        goto fail;
    }
    if (setjmp(x->jb)) {
        cq_errf(err, CQ_EFORMAT, "%s: PNG, at byte %zu of %zu: %s", nm(name), x->pos, size, x->msg);
        goto fail;
    }
    png_set_read_fn(x->p, x, p_read);
    /* Ancillary chunks (text, ICC profiles) may not claim more than this. */
    png_set_chunk_malloc_max(x->p, (png_alloc_size_t)64 << 20);
    png_read_info(x->p, x->info);
    png_uint_32 w = png_get_image_width(x->p, x->info), h = png_get_image_height(x->p, x->info);
    if (check_pixels(name, "PNG", w, h, max_pixels, err))
        goto fail;
    int ct = png_get_color_type(x->p, x->info), depth = png_get_bit_depth(x->p, x->info);
    if (depth == 16)
        png_set_strip_16(x->p);
    if (ct == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(x->p);
    if (ct == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(x->p);
    if (ct & PNG_COLOR_MASK_ALPHA)
        png_set_strip_alpha(x->p);
    png_set_interlace_handling(x->p);
    png_read_update_info(x->p, x->info);
    int ch = png_get_channels(x->p, x->info);
    if ((ch != 1 && ch != 3) || png_get_rowbytes(x->p, x->info) != (size_t)w * (size_t)ch) {
        cq_errf(err, CQ_EUNSUPPORTED, "%s: PNG color type %d, depth %d is not supported", nm(name),
                ct, depth);
        goto fail;
    }
    x->im = cq_image_new((int)w, (int)h, ch, 0, err);
    x->rows = x->im ? malloc((size_t)h * sizeof *x->rows) : NULL;
    if (!x->rows) {
        if (x->im)
            cq_errf(err, CQ_ENOMEM, "%s: out of memory", nm(name));
        goto fail;
    }
    for (png_uint_32 i = 0; i < h; i++)
        x->rows[i] = x->im->data + (size_t)i * w * (size_t)ch;
    png_read_image(x->p, x->rows);
    png_read_end(x->p, NULL);
    png_destroy_read_struct(&x->p, &x->info, NULL);
    cq_image *im = x->im;
    free(x->rows);
    free(x);
    return im;
fail:
    png_destroy_read_struct(&x->p, x->info ? &x->info : NULL, NULL);
    cq_image_free(x->im);
    free(x->rows);
    free(x);
    return NULL;
}

/* ---- decode entry points ------------------------------------------------ */

cq_image_format cq_image_sniff(const void *buf, size_t size)
{
    const uint8_t *b = buf;
    if (size >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF)
        return CQ_IMAGE_JPEG;
    if (size >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0)
        return CQ_IMAGE_PNG;
    return CQ_IMAGE_UNKNOWN;
}

cq_image *cq_image_decode(const void *buf, size_t size, const char *name, uint64_t max_pixels,
                          cq_err *err)
{
    if (!buf && size) {
        cq_errf(err, CQ_EINVAL, "%s: NULL buffer", nm(name));
        return NULL;
    }
    if (max_pixels == 0)
        max_pixels = CQ_IMAGE_MAX_PIXELS;
    switch (cq_image_sniff(buf, size)) {
    case CQ_IMAGE_JPEG:
        return jpeg_decode(buf, size, name, max_pixels, err);
    case CQ_IMAGE_PNG:
        return png_decode(buf, size, name, max_pixels, err);
    default:
        cq_errf(err, size < 8 ? CQ_EFORMAT : CQ_EUNSUPPORTED,
                "%s: %s (%zu bytes): not a JPEG or PNG file", nm(name),
                size < 8 ? "too short" : "unknown format", size);
        return NULL;
    }
}

cq_image *cq_image_load(const char *path, uint64_t max_pixels, cq_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        cq_errf(err, CQ_EIO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    uint8_t *buf = NULL;
    size_t size = 0, cap = 0;
    for (;;) {
        if (size == cap) {
            if (cap >= CQ_IMAGE_MAX_FILE_BYTES) {
                cq_errf(err, CQ_ENOMEM, "%s: file larger than %zu bytes", path,
                        CQ_IMAGE_MAX_FILE_BYTES);
                goto fail;
            }
            cap = cap ? cap * 2 : 1 << 16;
            uint8_t *nb = realloc(buf, cap);
            if (!nb) {
                cq_errf(err, CQ_ENOMEM, "%s: out of memory", path);
                goto fail;
            }
            buf = nb;
        }
        size_t n = fread(buf + size, 1, cap - size, f);
        size += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        cq_errf(err, CQ_EIO, "%s: read error", path);
        goto fail;
    }
    fclose(f);
    cq_image *im = cq_image_decode(buf, size, path, max_pixels, err);
    free(buf);
    return im;
fail:
    fclose(f);
    free(buf);
    return NULL;
}

/* ---- encode ------------------------------------------------------------ */

typedef struct jenc {
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr em;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
    unsigned char *out;
    unsigned long out_size;
} jenc;

static void je_error_exit(j_common_ptr c)
{
    jenc *x = (jenc *)c->client_data;
    c->err->format_message(c, x->msg);
    longjmp(x->jb, 1);
}

static cq_status jpeg_encode(const cq_image *im, int quality, uint8_t **out, size_t *out_size,
                             cq_err *err)
{
    jenc *x = calloc(1, sizeof *x);
    if (!x)
        return cq_errf(err, CQ_ENOMEM, "JPEG encoder: out of memory");
    x->ci.err = jpeg_std_error(&x->em);
    x->em.error_exit = je_error_exit;
    x->em.output_message = j_output;
    x->ci.client_data = x;
    if (setjmp(x->jb)) {
        cq_errf(err, CQ_EINVAL, "JPEG encoder: %s", x->msg);
        jpeg_destroy_compress(&x->ci);
        free(x->out);
        free(x);
        return CQ_EINVAL;
    }
    jpeg_create_compress(&x->ci);
    jpeg_mem_dest(&x->ci, &x->out, &x->out_size);
    x->ci.image_width = (JDIMENSION)im->width;
    x->ci.image_height = (JDIMENSION)im->height;
    x->ci.input_components = im->channels;
    x->ci.in_color_space = im->channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&x->ci);
    jpeg_set_quality(&x->ci, quality, TRUE);
    jpeg_start_compress(&x->ci, TRUE);
    size_t stride = (size_t)im->width * (size_t)im->channels;
    while (x->ci.next_scanline < x->ci.image_height) {
        JSAMPROW row = im->data + (size_t)x->ci.next_scanline * stride;
        jpeg_write_scanlines(&x->ci, &row, 1);
    }
    jpeg_finish_compress(&x->ci);
    jpeg_destroy_compress(&x->ci);
    *out = x->out;
    *out_size = x->out_size;
    free(x);
    return CQ_OK;
}

typedef struct penc {
    png_structp p;
    png_infop info;
    jmp_buf jb;
    char msg[256];
    uint8_t *out;
    size_t size, cap;
    int oom;
} penc;

static void pe_error(png_structp p, png_const_charp msg)
{
    penc *x = png_get_error_ptr(p);
    snprintf(x->msg, sizeof x->msg, "%s", msg);
    longjmp(x->jb, 1);
}

static void pe_write(png_structp p, png_bytep data, size_t n)
{
    penc *x = png_get_io_ptr(p);
    if (n > x->cap - x->size) {
        size_t cap = x->cap ? x->cap : 1 << 16;
        while (cap - x->size < n)
            cap *= 2;
        uint8_t *nb = realloc(x->out, cap);
        if (!nb)
            png_error(p, "out of memory");
        x->out = nb;
        x->cap = cap;
    }
    memcpy(x->out + x->size, data, n);
    x->size += n;
}

static void pe_flush(png_structp p)
{
    (void)p;
}

static cq_status png_encode(const cq_image *im, uint8_t **out, size_t *out_size, cq_err *err)
{
    penc *x = calloc(1, sizeof *x);
    if (!x)
        return cq_errf(err, CQ_ENOMEM, "PNG encoder: out of memory");
    x->p = png_create_write_struct(PNG_LIBPNG_VER_STRING, x, pe_error, p_warn);
    x->info = x->p ? png_create_info_struct(x->p) : NULL;
    if (!x->info || setjmp(x->jb)) {
        cq_errf(err, CQ_ENOMEM, "PNG encoder: %s", x->info ? x->msg : "out of memory");
        png_destroy_write_struct(&x->p, x->info ? &x->info : NULL);
        free(x->out);
        free(x);
        return CQ_ENOMEM;
    }
    png_set_write_fn(x->p, x, pe_write, pe_flush);
    png_set_IHDR(x->p, x->info, (png_uint_32)im->width, (png_uint_32)im->height, 8,
                 im->channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(x->p, x->info);
    size_t stride = (size_t)im->width * (size_t)im->channels;
    for (int y = 0; y < im->height; y++)
        png_write_row(x->p, im->data + (size_t)y * stride);
    png_write_end(x->p, NULL);
    png_destroy_write_struct(&x->p, &x->info);
    *out = x->out;
    *out_size = x->size;
    free(x);
    return CQ_OK;
}

cq_status cq_image_encode(const cq_image *im, cq_image_format fmt, int quality, uint8_t **out,
                          size_t *out_size, cq_err *err)
{
    if (!im || !out || !out_size || (im->channels != 1 && im->channels != 3))
        return cq_errf(err, CQ_EINVAL, "cq_image_encode: bad arguments");
    if (quality == 0)
        quality = 95;
    if (quality < 1 || quality > 100)
        return cq_errf(err, CQ_EINVAL, "JPEG quality %d is not in 1..100", quality);
    if (fmt == CQ_IMAGE_JPEG)
        return jpeg_encode(im, quality, out, out_size, err);
    if (fmt == CQ_IMAGE_PNG)
        return png_encode(im, out, out_size, err);
    return cq_errf(err, CQ_EINVAL, "cq_image_encode: unknown format %d", (int)fmt);
}

cq_status cq_image_save(const cq_image *im, const char *path, int quality, cq_err *err)
{
    const char *dot = strrchr(path, '.');
    cq_image_format fmt = CQ_IMAGE_UNKNOWN;
    if (dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg")))
        fmt = CQ_IMAGE_JPEG;
    else if (dot && !strcasecmp(dot, ".png"))
        fmt = CQ_IMAGE_PNG;
    if (fmt == CQ_IMAGE_UNKNOWN)
        return cq_errf(err, CQ_EINVAL, "%s: unknown image extension (use .jpg, .jpeg or .png)",
                       path);
    uint8_t *buf = NULL;
    size_t size = 0;
    cq_status st = cq_image_encode(im, fmt, quality, &buf, &size, err);
    if (st)
        return cq_err_prefix(err, st, "%s: ", path);
    st = cq_write_atomic(path, buf, size, err);
    free(buf);
    return st;
}
