/* pb.c - protobuf wire format reader and writer (see pb.h). */
#include "onnx/pb.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- reader ------------------------------------------------------------ */

void cq_pb_init(cq_pb *r, const void *buf, size_t len, const char *file, const char *msg,
                const cq_pb_name *names, cq_err *err)
{
    r->buf = buf;
    r->pos = 0;
    r->end = len;
    r->file = file ? file : "<buffer>";
    r->msg = msg;
    r->names = names;
    r->err = err;
    r->ud = NULL;
}

void cq_pb_sub(const cq_pb *r, const cq_pb_field *f, const char *msg, const cq_pb_name *names,
               cq_pb *sub)
{
    *sub = *r;
    sub->pos = f->data_offset;
    sub->end = f->data_offset + f->len;
    sub->msg = msg;
    sub->names = names;
}

static const char *field_name(const cq_pb *r, uint32_t num)
{
    if (r->names)
        for (const cq_pb_name *n = r->names; n->name; n++)
            if (n->num == num)
                return n->name;
    return "?";
}

cq_status cq_pb_fail(const cq_pb *r, const cq_pb_field *f, cq_status code, const char *fmt, ...)
{
    char what[CQ_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (f)
        return cq_errf(r->err, code, "%s: byte %zu: %s.%s (field %u): %s", r->file, f->offset,
                       r->msg, field_name(r, f->num), f->num, what);
    return cq_errf(r->err, code, "%s: byte %zu: %s: %s", r->file, r->pos, r->msg, what);
}

/* Varint at *pos (< end); -1 when truncated or longer than 10 bytes. */
static int get_varint(const uint8_t *buf, size_t *pos, size_t end, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (*pos >= end)
            return -1;
        uint8_t b = buf[(*pos)++];
        if (shift == 63 && b > 1)
            return -1;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

static const char *wire_name(int w)
{
    switch (w) {
    case CQ_PB_VARINT: return "varint";
    case CQ_PB_I64: return "fixed64";
    case CQ_PB_LEN: return "length-delimited";
    case CQ_PB_I32: return "fixed32";
    default: return "unknown";
    }
}

int cq_pb_next(cq_pb *r, cq_pb_field *f)
{
    if (r->pos >= r->end)
        return 0;
    memset(f, 0, sizeof *f);
    f->offset = r->pos;
    uint64_t tag;
    if (get_varint(r->buf, &r->pos, r->end, &tag) != 0) {
        r->pos = f->offset;
        cq_pb_fail(r, NULL, CQ_EFORMAT, "bad or truncated field tag (message ends at %zu)",
                   r->end);
        return -1;
    }
    f->num = (uint32_t)(tag >> 3);
    f->wire = (int)(tag & 7);
    if (tag >> 3 == 0 || tag >> 3 > 0x1fffffff) {
        r->pos = f->offset;
        cq_pb_fail(r, NULL, CQ_EFORMAT, "invalid field number %llu",
                   (unsigned long long)(tag >> 3));
        return -1;
    }
    switch (f->wire) {
    case CQ_PB_VARINT:
        if (get_varint(r->buf, &r->pos, r->end, &f->u) != 0) {
            cq_pb_fail(r, f, CQ_EFORMAT, "bad or truncated varint (message ends at %zu)", r->end);
            return -1;
        }
        break;
    case CQ_PB_I64:
    case CQ_PB_I32: {
        size_t n = f->wire == CQ_PB_I64 ? 8 : 4;
        if (r->end - r->pos < n) {
            cq_pb_fail(r, f, CQ_EFORMAT, "%zu-byte value runs past the end of the message "
                       "(ends at %zu)", n, r->end);
            return -1;
        }
        uint64_t v = 0;
        for (size_t i = 0; i < n; i++)
            v |= (uint64_t)r->buf[r->pos + i] << (8 * i);
        f->u = v;
        r->pos += n;
        break;
    }
    case CQ_PB_LEN: {
        uint64_t len;
        if (get_varint(r->buf, &r->pos, r->end, &len) != 0) {
            cq_pb_fail(r, f, CQ_EFORMAT, "bad or truncated length (message ends at %zu)", r->end);
            return -1;
        }
        if (len > r->end - r->pos) {
            cq_pb_fail(r, f, CQ_EFORMAT, "length %llu runs past the end of the message "
                       "(ends at %zu)", (unsigned long long)len, r->end);
            return -1;
        }
        f->data = r->buf + r->pos;
        f->data_offset = r->pos;
        f->len = (size_t)len;
        r->pos += (size_t)len;
        break;
    }
    default:
        cq_pb_fail(r, f, CQ_EFORMAT, "unsupported wire type %d (groups are not allowed)",
                   f->wire);
        return -1;
    }
    f->end = r->pos;
    return 1;
}

cq_status cq_pb_want(const cq_pb *r, const cq_pb_field *f, int wire)
{
    if (f->wire == wire)
        return CQ_OK;
    return cq_pb_fail(r, f, CQ_EFORMAT, "wire type %s, expected %s", wire_name(f->wire),
                      wire_name(wire));
}

cq_status cq_pb_int64(const cq_pb *r, const cq_pb_field *f, int64_t *out)
{
    if (cq_pb_want(r, f, CQ_PB_VARINT) != CQ_OK)
        return CQ_EFORMAT;
    *out = (int64_t)f->u;
    return CQ_OK;
}

cq_status cq_pb_float(const cq_pb *r, const cq_pb_field *f, float *out)
{
    if (cq_pb_want(r, f, CQ_PB_I32) != CQ_OK)
        return CQ_EFORMAT;
    uint32_t u = (uint32_t)f->u;
    memcpy(out, &u, 4);
    return CQ_OK;
}

char *cq_pb_strdup(const cq_pb *r, const cq_pb_field *f)
{
    if (cq_pb_want(r, f, CQ_PB_LEN) != CQ_OK)
        return NULL;
    char *s = malloc(f->len + 1);
    if (!s) {
        cq_pb_fail(r, f, CQ_ENOMEM, "out of memory for a string of %zu bytes", f->len);
        return NULL;
    }
    if (f->len)
        memcpy(s, f->data, f->len);
    s[f->len] = '\0';
    return s;
}

cq_status cq_pb_set_string(const cq_pb *r, const cq_pb_field *f, char **s)
{
    char *d = cq_pb_strdup(r, f);
    if (!d)
        return r->err->code;
    free(*s);
    *s = d;
    return CQ_OK;
}

/* Make room for need more elements of size elem in *a. */
static cq_status reserve(const cq_pb *r, const cq_pb_field *f, void **a, int64_t n, int64_t *cap,
                         int64_t need, size_t elem)
{
    if (n + need <= *cap)
        return CQ_OK;
    int64_t nc = *cap ? *cap : 8;
    while (nc < n + need)
        nc *= 2;
    if ((uint64_t)nc > SIZE_MAX / elem)
        return cq_pb_fail(r, f, CQ_ENOMEM, "too many elements (%lld)", (long long)nc);
    void *q = realloc(*a, (size_t)nc * elem);
    if (!q)
        return cq_pb_fail(r, f, CQ_ENOMEM, "out of memory for %lld elements", (long long)nc);
    *a = q;
    *cap = nc;
    return CQ_OK;
}

cq_status cq_pb_append_int64(const cq_pb *r, const cq_pb_field *f, int64_t **a, int64_t *n,
                             int64_t *cap)
{
    if (f->wire == CQ_PB_VARINT) {
        if (reserve(r, f, (void **)a, *n, cap, 1, sizeof **a) != CQ_OK)
            return r->err->code;
        (*a)[(*n)++] = (int64_t)f->u;
        return CQ_OK;
    }
    if (cq_pb_want(r, f, CQ_PB_LEN) != CQ_OK)
        return CQ_EFORMAT;
    size_t pos = f->data_offset, end = f->data_offset + f->len;
    int64_t count = 0;
    for (size_t p = pos; p < end; p++) /* one element ends at each byte without bit 7 */
        count += !(r->buf[p] & 0x80);
    if (reserve(r, f, (void **)a, *n, cap, count, sizeof **a) != CQ_OK)
        return r->err->code;
    while (pos < end) {
        uint64_t v;
        size_t at = pos;
        if (get_varint(r->buf, &pos, end, &v) != 0)
            return cq_pb_fail(r, f, CQ_EFORMAT, "packed varint at byte %zu is bad or runs past "
                              "the end of the field (ends at %zu)", at, end);
        (*a)[(*n)++] = (int64_t)v;
    }
    return CQ_OK;
}

static cq_status append_fixed(const cq_pb *r, const cq_pb_field *f, void **a, int64_t *n,
                              int64_t *cap, size_t size)
{
    int wire = size == 4 ? CQ_PB_I32 : CQ_PB_I64;
    if (f->wire == wire) {
        if (reserve(r, f, a, *n, cap, 1, size) != CQ_OK)
            return r->err->code;
        if (size == 4) {
            uint32_t u = (uint32_t)f->u;
            memcpy((char *)*a + (size_t)*n * 4, &u, 4);
        } else {
            memcpy((char *)*a + (size_t)*n * 8, &f->u, 8);
        }
        (*n)++;
        return CQ_OK;
    }
    if (cq_pb_want(r, f, CQ_PB_LEN) != CQ_OK)
        return CQ_EFORMAT;
    if (f->len % size)
        return cq_pb_fail(r, f, CQ_EFORMAT, "packed %s of %zu bytes is not a multiple of %zu",
                          size == 4 ? "fixed32" : "fixed64", f->len, size);
    int64_t count = (int64_t)(f->len / size);
    if (reserve(r, f, a, *n, cap, count, size) != CQ_OK)
        return r->err->code;
    if (f->len)
        memcpy((char *)*a + (size_t)*n * size, f->data, f->len); /* little-endian host */
    *n += count;
    return CQ_OK;
}

cq_status cq_pb_append_float(const cq_pb *r, const cq_pb_field *f, float **a, int64_t *n,
                             int64_t *cap)
{
    return append_fixed(r, f, (void **)a, n, cap, 4);
}

/* ---- writer ------------------------------------------------------------ */

static int buf_reserve(cq_pb_buf *b, size_t n)
{
    if (b->failed)
        return -1;
    if (n <= b->cap - b->len)
        return 0;
    size_t nc = b->cap ? b->cap : 256;
    while (nc - b->len < n) {
        if (nc > SIZE_MAX / 2) {
            b->failed = 1;
            return -1;
        }
        nc *= 2;
    }
    uint8_t *q = realloc(b->data, nc);
    if (!q) {
        b->failed = 1;
        return -1;
    }
    b->data = q;
    b->cap = nc;
    return 0;
}

void cq_pb_put_raw(cq_pb_buf *b, const void *p, size_t n)
{
    if (n == 0 || buf_reserve(b, n) != 0)
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static size_t varint_encode(uint64_t v, uint8_t *out)
{
    size_t n = 0;
    do {
        uint8_t c = v & 0x7f;
        v >>= 7;
        out[n++] = c | (v ? 0x80 : 0);
    } while (v);
    return n;
}

void cq_pb_put_varint(cq_pb_buf *b, uint64_t v)
{
    uint8_t tmp[10];
    cq_pb_put_raw(b, tmp, varint_encode(v, tmp));
}

void cq_pb_put_tag(cq_pb_buf *b, uint32_t num, int wire)
{
    cq_pb_put_varint(b, ((uint64_t)num << 3) | (uint64_t)wire);
}

void cq_pb_put_int(cq_pb_buf *b, uint32_t num, int64_t v)
{
    cq_pb_put_tag(b, num, CQ_PB_VARINT);
    cq_pb_put_varint(b, (uint64_t)v);
}

void cq_pb_put_float(cq_pb_buf *b, uint32_t num, float v)
{
    cq_pb_put_tag(b, num, CQ_PB_I32);
    cq_pb_put_raw(b, &v, 4);
}

void cq_pb_put_bytes(cq_pb_buf *b, uint32_t num, const void *p, size_t n)
{
    cq_pb_put_tag(b, num, CQ_PB_LEN);
    cq_pb_put_varint(b, n);
    cq_pb_put_raw(b, p, n);
}

void cq_pb_put_string(cq_pb_buf *b, uint32_t num, const char *s)
{
    if (s)
        cq_pb_put_bytes(b, num, s, strlen(s));
}

void cq_pb_put_packed_int(cq_pb_buf *b, uint32_t num, const int64_t *v, int64_t n)
{
    if (n <= 0)
        return;
    size_t m = cq_pb_begin(b, num);
    for (int64_t i = 0; i < n; i++)
        cq_pb_put_varint(b, (uint64_t)v[i]);
    cq_pb_end(b, m);
}

void cq_pb_put_packed_float(cq_pb_buf *b, uint32_t num, const float *v, int64_t n)
{
    if (n <= 0)
        return;
    cq_pb_put_bytes(b, num, v, (size_t)n * 4);
}

size_t cq_pb_begin(cq_pb_buf *b, uint32_t num)
{
    cq_pb_put_tag(b, num, CQ_PB_LEN);
    return b->len;
}

void cq_pb_end(cq_pb_buf *b, size_t mark)
{
    if (b->failed)
        return;
    uint8_t tmp[10];
    size_t payload = b->len - mark, n = varint_encode(payload, tmp);
    if (buf_reserve(b, n) != 0)
        return;
    memmove(b->data + mark + n, b->data + mark, payload);
    memcpy(b->data + mark, tmp, n);
    b->len += n;
}
