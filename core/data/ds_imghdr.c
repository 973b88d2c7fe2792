/* ds_imghdr.c - image width/height from the JPEG or PNG header, without decoding.
 *
 * PNG: the 8-byte signature, then the IHDR chunk (width, height big-endian at
 * bytes 16..23). JPEG: walk the marker segments from SOI until a frame header
 * (SOF0..SOF15 except DHT C4, JPG C8, DAC CC), whose payload holds precision,
 * height, width. At most 1 MiB of segments are walked (EXIF thumbnails come
 * before the frame header and may be large), then the file is refused. */
#include "data/dataset.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define HDR_WALK_MAX (1L << 20)

static cq_status jpeg_size(FILE *f, const char *path, int32_t *w, int32_t *h, cq_err *err)
{
    unsigned char b[8];
    long walked = 2;
    for (;;) {
        int c = fgetc(f);
        if (c == EOF)
            break;
        if (c != 0xFF)
            return cq_errf(err, CQ_EFORMAT, "%s: byte %ld: JPEG marker expected", path, walked);
        while ((c = fgetc(f)) == 0xFF) /* fill bytes */
            walked++;
        if (c == EOF)
            break;
        walked += 2;
        if (c == 0xD8 || c == 0x01 || (c >= 0xD0 && c <= 0xD7)) /* no payload */
            continue;
        if (c == 0xD9 || c == 0xDA)
            return cq_errf(err, CQ_EFORMAT, "%s: JPEG has no frame header before the scan", path);
        if (fread(b, 1, 2, f) != 2)
            break;
        long seg = (long)b[0] << 8 | b[1];
        if (seg < 2)
            return cq_errf(err, CQ_EFORMAT, "%s: byte %ld: JPEG segment length %ld", path, walked, seg);
        if (c >= 0xC0 && c <= 0xCF && c != 0xC4 && c != 0xC8 && c != 0xCC) {
            if (seg < 7 || fread(b, 1, 5, f) != 5)
                break;
            *h = (int32_t)(b[1] << 8 | b[2]);
            *w = (int32_t)(b[3] << 8 | b[4]);
            if (*w == 0 || *h == 0)
                return cq_errf(err, CQ_EFORMAT, "%s: JPEG frame header gives size %dx%d", path,
                               (int)*w, (int)*h);
            return CQ_OK;
        }
        walked += seg;
        if (walked > HDR_WALK_MAX)
            return cq_errf(err, CQ_EFORMAT, "%s: no JPEG frame header in the first %ld bytes", path,
                           HDR_WALK_MAX);
        if (fseek(f, seg - 2, SEEK_CUR) != 0)
            break;
    }
    return cq_errf(err, CQ_EFORMAT, "%s: JPEG truncated before the frame header", path);
}

cq_status cq_image_header_size(const char *path, int32_t *width, int32_t *height, cq_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return cq_errf(err, CQ_EIO, "%s: %s", path, strerror(errno));
    unsigned char b[24];
    cq_status st;
    size_t got = fread(b, 1, 2, f);
    if (got == 2 && b[0] == 0xFF && b[1] == 0xD8) {
        st = jpeg_size(f, path, width, height, err);
    } else if (got == 2 && b[0] == 0x89 && b[1] == 'P') {
        if (fread(b + 2, 1, 22, f) != 22 || memcmp(b, "\x89PNG\r\n\x1a\n", 8) != 0 ||
            memcmp(b + 12, "IHDR", 4) != 0) {
            st = cq_errf(err, CQ_EFORMAT, "%s: PNG signature or IHDR chunk damaged", path);
        } else {
            unsigned long w = (unsigned long)b[16] << 24 | (unsigned long)b[17] << 16 |
                              (unsigned long)b[18] << 8 | b[19];
            unsigned long h = (unsigned long)b[20] << 24 | (unsigned long)b[21] << 16 |
                              (unsigned long)b[22] << 8 | b[23];
            if (w == 0 || h == 0 || w > 0x7fffffffUL || h > 0x7fffffffUL)
                st = cq_errf(err, CQ_EFORMAT, "%s: PNG IHDR gives size %lux%lu", path, w, h);
            else {
                *width = (int32_t)w, *height = (int32_t)h;
                st = CQ_OK;
            }
        }
    } else {
        st = cq_errf(err, CQ_EFORMAT, "%s: neither JPEG nor PNG (size unknown)", path);
    }
    fclose(f);
    return st;
}
