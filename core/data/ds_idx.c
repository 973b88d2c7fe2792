/* ds_idx.c - the idx format (MNIST, Fashion-MNIST), plain or gzip'ed, through
 * zlib's gz* stream functions (they read an uncompressed file unchanged). */
#include "data/idx.h"

#include <limits.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <zlib.h>

struct cq_idx {
    gzFile gz;
    char *path;
    int type;          /* the file's type byte */
    size_t file_size;  /* bytes of one element in the file */
    cq_dtype dtype;    /* as returned */
    int ndim;
    int64_t shape[CQ_MAX_DIMS];
    size_t item_bytes; /* bytes of one item in the file */
    int64_t pos;       /* next item */
    int64_t data_start;
};

static const struct {
    int type;
    size_t size;
    cq_dtype dtype;
    const char *name;
} types[] = {
    {0x08, 1, CQ_U8, "unsigned byte"}, {0x09, 1, CQ_S8, "signed byte"},
    {0x0B, 2, CQ_S32, "int16"},        {0x0C, 4, CQ_S32, "int32"},
    {0x0D, 4, CQ_F32, "float32"},
};

cq_dtype cq_idx_dtype(const cq_idx *r) { return r->dtype; }
int cq_idx_ndim(const cq_idx *r) { return r->ndim; }
const int64_t *cq_idx_shape(const cq_idx *r) { return r->shape; }
int64_t cq_idx_count(const cq_idx *r) { return r->shape[0]; }
int64_t cq_idx_tell(const cq_idx *r) { return r->pos; }

void cq_idx_close(cq_idx *r)
{
    if (!r)
        return;
    if (r->gz)
        gzclose(r->gz);
    free(r->path);
    free(r);
}

/* Read exactly len bytes from byte_at of the decompressed stream; on a short
 * read say what was being read (a header part, or the data: then the item). */
static cq_status read_exact(cq_idx *r, void *buf, size_t len, int64_t byte_at, const char *what,
                            int in_data, cq_err *err)
{
    char *p = buf;
    size_t done = 0;
    while (done < len) {
        size_t want = len - done;
        if (want > (size_t)1 << 30)
            want = (size_t)1 << 30;
        int got = gzread(r->gz, p + done, (unsigned)want);
        if (got < 0) {
            int zerr;
            const char *msg = gzerror(r->gz, &zerr);
            return cq_errf(err, zerr == Z_ERRNO ? CQ_EIO : CQ_EFORMAT,
                           "%s: damaged data near byte %lld of the decompressed stream (%s)", r->path,
                           (long long)(byte_at + (int64_t)done), msg ? msg : "zlib error");
        }
        if (got == 0) {
            if (in_data) {
                int64_t end = byte_at + (int64_t)done;
                int64_t item = r->item_bytes ? (end - r->data_start) / (int64_t)r->item_bytes : 0;
                return cq_errf(err, CQ_EFORMAT,
                               "%s: truncated at item %lld of %lld (the data end at byte %lld, "
                               "expected %lld)",
                               r->path, (long long)item, (long long)r->shape[0], (long long)end,
                               (long long)(r->data_start + r->shape[0] * (int64_t)r->item_bytes));
            }
            return cq_errf(err, CQ_EFORMAT, "%s: truncated %s (%zu of %zu bytes at byte %lld)",
                           r->path, what, done, len, (long long)byte_at);
        }
        done += (size_t)got;
    }
    return CQ_OK;
}

static uint32_t be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

static cq_status read_header(cq_idx *r, cq_err *err)
{
    unsigned char m[4];
    cq_status st = read_exact(r, m, 4, 0, "magic", 0, err);
    if (st)
        return st;
    if (m[0] || m[1])
        return cq_errf(err, CQ_EFORMAT,
                       "%s: not an idx file (bytes 0-1 are %02x %02x, expected 00 00)", r->path,
                       m[0], m[1]);
    r->type = m[2];
    if (m[2] == 0x0E)
        return cq_errf(err, CQ_EUNSUPPORTED,
                       "%s: float64 data (type byte 0x0E at byte 2): calq has no f64 dtype", r->path);
    int k = -1;
    for (int i = 0; i < (int)(sizeof types / sizeof types[0]); i++)
        if (types[i].type == m[2])
            k = i;
    if (k < 0)
        return cq_errf(err, CQ_EFORMAT,
                       "%s: unknown type byte 0x%02X at byte 2 (expected 0x08, 0x09, 0x0B, 0x0C, "
                       "0x0D or 0x0E)",
                       r->path, m[2]);
    r->file_size = types[k].size;
    r->dtype = types[k].dtype;
    if (m[3] < 1 || m[3] > CQ_MAX_DIMS)
        return cq_errf(err, CQ_EFORMAT, "%s: rank %d at byte 3 (expected 1..%d)", r->path, m[3],
                       CQ_MAX_DIMS);
    r->ndim = m[3];
    unsigned char d[4 * CQ_MAX_DIMS];
    st = read_exact(r, d, 4 * (size_t)r->ndim, 4, "dimensions", 0, err);
    if (st)
        return st;
    /* the limit applies to what is allocated: elements of the returned dtype */
    size_t out_size = cq_dtype_info(r->dtype)->size;
    double total = (double)out_size;
    r->item_bytes = r->file_size;
    for (int i = 0; i < r->ndim; i++) {
        uint32_t v = be32(d + 4 * i);
        if (v > INT32_MAX)
            return cq_errf(err, CQ_EFORMAT, "%s: dimension %d is %lu at byte %d (above 2^31 - 1)",
                           r->path, i, (unsigned long)v, 4 + 4 * i);
        r->shape[i] = v;
        total *= (double)v;
        if (i > 0)
            r->item_bytes *= v;
    }
    if (total > (double)CQ_TENSOR_MAX_BYTES)
        return cq_errf(err, CQ_ENOMEM, "%s: dimensions make %.0f bytes, above calq's limit of %zu",
                       r->path, total, (size_t)CQ_TENSOR_MAX_BYTES);
    r->data_start = 4 + 4 * (int64_t)r->ndim;
    r->pos = 0;
    return CQ_OK;
}

cq_idx *cq_idx_open(const char *path, cq_err *err)
{
    cq_idx *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        cq_errf(err, CQ_ENOMEM, "%s: out of memory for an idx reader", path);
        return NULL;
    }
    errno = 0;
    r->gz = gzopen(path, "rb");
    if (!r->gz) {
        /* errno stays 0 when zlib itself ran out of memory */
        cq_errf(err, CQ_EIO, "%s: cannot open: %s", path,
                errno ? strerror(errno) : "out of memory");
        cq_idx_close(r);
        return NULL;
    }
    gzbuffer(r->gz, 1 << 16);
    if (read_header(r, err) != CQ_OK) {
        cq_idx_close(r);
        return NULL;
    }
    return r;
}

/* Skip n items from the current position by reading them. */
static cq_status skip_items(cq_idx *r, int64_t n, cq_err *err)
{
    char buf[1 << 14];
    int64_t left = n * (int64_t)r->item_bytes;
    int64_t at = r->data_start + r->pos * (int64_t)r->item_bytes;
    while (left > 0) {
        size_t chunk = left < (int64_t)sizeof buf ? (size_t)left : sizeof buf;
        cq_status st = read_exact(r, buf, chunk, at, "data", 1, err);
        if (st)
            return st;
        left -= (int64_t)chunk;
        at += (int64_t)chunk;
    }
    r->pos += n;
    return CQ_OK;
}

cq_status cq_idx_seek(cq_idx *r, int64_t item, cq_err *err)
{
    if (item < 0 || item > r->shape[0])
        return cq_errf(err, CQ_ERANGE, "%s: item %lld is outside 0..%lld", r->path, (long long)item,
                       (long long)r->shape[0]);
    if (item < r->pos) {
        if (gzrewind(r->gz) != 0)
            return cq_errf(err, CQ_EIO, "%s: cannot rewind", r->path);
        unsigned char skip[4 + 4 * CQ_MAX_DIMS];
        cq_status st = read_exact(r, skip, (size_t)r->data_start, 0, "header", 0, err);
        if (st)
            return st;
        r->pos = 0;
    }
    return skip_items(r, item - r->pos, err);
}

/* Big-endian file elements in raw -> native elements of r->dtype in out. */
static void convert(const cq_idx *r, const unsigned char *raw, void *out, size_t count)
{
    switch (r->type) {
    case 0x08:
    case 0x09:
        memcpy(out, raw, count);
        break;
    case 0x0B:
        for (size_t i = 0; i < count; i++)
            ((int32_t *)out)[i] = (int16_t)(uint16_t)((unsigned)raw[2 * i] << 8 | raw[2 * i + 1]);
        break;
    case 0x0C:
        for (size_t i = 0; i < count; i++)
            ((int32_t *)out)[i] = (int32_t)be32(raw + 4 * i);
        break;
    default: /* 0x0D */
        for (size_t i = 0; i < count; i++) {
            uint32_t u = be32(raw + 4 * i);
            memcpy((float *)out + i, &u, 4);
        }
        break;
    }
}

cq_tensor *cq_idx_read(cq_idx *r, int64_t n, cq_err *err)
{
    if (n < 1 || n > r->shape[0] - r->pos) {
        cq_errf(err, CQ_ERANGE, "%s: %lld items asked at item %lld, %lld left", r->path,
                (long long)n, (long long)r->pos, (long long)(r->shape[0] - r->pos));
        return NULL;
    }
    int64_t shape[CQ_MAX_DIMS];
    memcpy(shape, r->shape, sizeof shape);
    shape[0] = n;
    cq_tensor *t = cq_tensor_empty(r->dtype, r->ndim, shape, err);
    if (!t)
        return NULL;
    size_t count = (size_t)cq_tensor_numel(t);
    size_t bytes = count * r->file_size;
    /* one-byte types land in place; wider ones go through a staging buffer */
    unsigned char *raw = r->file_size == 1 ? cq_tensor_data(t) : malloc(bytes ? bytes : 1);
    if (!raw) {
        cq_tensor_release(t);
        cq_errf(err, CQ_ENOMEM, "%s: out of memory for %lld items", r->path, (long long)n);
        return NULL;
    }
    int64_t at = r->data_start + r->pos * (int64_t)r->item_bytes;
    cq_status st = read_exact(r, raw, bytes, at, "data", 1, err);
    if (st == CQ_OK && r->file_size > 1)
        convert(r, raw, cq_tensor_data(t), count);
    if (r->file_size > 1)
        free(raw);
    if (st == CQ_OK && r->pos + n == r->shape[0]) {
        char extra;
        int got = gzread(r->gz, &extra, 1);
        if (got != 0)
            st = got > 0 ? cq_errf(err, CQ_EFORMAT,
                                   "%s: bytes follow the last item (at byte %lld of the "
                                   "decompressed stream)",
                                   r->path, (long long)(at + (int64_t)bytes))
                         : cq_errf(err, CQ_EFORMAT, "%s: damaged data after the last item",
                                   r->path);
    }
    if (st) {
        cq_tensor_release(t);
        return NULL;
    }
    r->pos += n;
    return t;
}

cq_tensor *cq_idx_read_file(const char *path, int64_t first, int64_t n, cq_err *err)
{
    cq_idx *r = cq_idx_open(path, err);
    if (!r)
        return NULL;
    int64_t count = r->shape[0];
    if (n < 0)
        n = count - first;
    cq_tensor *t = NULL;
    if (first < 0 || first >= count)
        cq_errf(err, CQ_ERANGE, "%s: item %lld (0-based) asked, the file has %lld", path,
                (long long)first, (long long)count);
    else if (n < 1 || n > count - first)
        cq_errf(err, CQ_ERANGE, "%s: items %lld..%lld (0-based) asked, the file has %lld", path,
                (long long)first, (long long)(first + n - 1), (long long)count);
    else if (cq_idx_seek(r, first, err) == CQ_OK)
        t = cq_idx_read(r, n, err);
    cq_idx_close(r);
    return t;
}
