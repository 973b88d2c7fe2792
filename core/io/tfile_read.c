/* tfile_read.c - calq tensor files: the reader (see tfile.h, docs/formats.md).
 * Every size and offset from the file is checked against the file's own size
 * before it is used, so a hostile file can at worst make calq allocate what
 * the file could really hold. */
#include "io/tfile.h"
#include "io/io_internal.h"
#include "io/tfile_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <lz4frame.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct named { const char *name; int idx; } named;

struct cq_tfile {
    char *path;
    int fd;
    uint64_t fsize, index_off;
    char *pool;            /* NUL-terminated names, keys and values */
    cq_tfile_entry *ent;
    named *sorted;         /* entries by name, for cq_tfile_find */
    int n, nmeta;
    const char **mkey, **mval;
    LZ4F_dctx *dctx;
    unsigned char *buf;    /* CHUNK bytes of compressed input */
};

void cq_tfile_free(cq_tfile *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    LZ4F_freeDecompressionContext(r->dctx);
    free(r->path);
    free(r->pool);
    free(r->ent);
    free(r->sorted);
    free(r->mkey);
    free(r->mval);
    free(r->buf);
    free(r);
}

/* Read exactly n bytes at off; EFORMAT when the file ends first. */
static cq_status read_at(cq_tfile *r, void *dst, size_t n, uint64_t off, cq_err *err)
{
    char *p = dst;
    while (n > 0) {
        ssize_t k = pread(r->fd, p, n, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return cq_errf(err, CQ_EIO, "%s: read failed at byte %llu: %s", r->path,
                           (unsigned long long)off, strerror(errno));
        if (k == 0)
            return cq_errf(err, CQ_EFORMAT, "%s: truncated: file ends at byte %llu", r->path,
                           (unsigned long long)off);
        p += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return CQ_OK;
}

/* Cursor over the index; errors give the byte offset in the file. */
typedef struct cursor {
    const unsigned char *p, *end;
    uint64_t base; /* file offset of the index start */
    const unsigned char *start;
} cursor;

static int need(cursor *c, uint64_t n)
{
    return (uint64_t)(c->end - c->p) >= n;
}

static cq_status bad_index(cq_tfile *r, cursor *c, cq_err *err, const char *what, int i,
                           const char *problem)
{
    return cq_errf(err, CQ_EFORMAT, "%s: index byte %llu: %s %d: %s", r->path,
                   (unsigned long long)(c->base + (uint64_t)(c->p - c->start)), what, i, problem);
}

/* A length-prefixed string copied into the pool (NUL-terminated). */
static cq_status take_string(cq_tfile *r, cursor *c, int lenbytes, char **pool, const char **out,
                             const char *what, int i, cq_err *err)
{
    if (!need(c, (uint64_t)lenbytes))
        return bad_index(r, c, err, what, i, "index ends inside it");
    uint64_t len = get_le(c->p, lenbytes);
    c->p += lenbytes;
    if (!need(c, len))
        return bad_index(r, c, err, what, i, "string runs past the end of the index");
    if (memchr(c->p, 0, (size_t)len))
        return bad_index(r, c, err, what, i, "string contains a NUL byte");
    memcpy(*pool, c->p, (size_t)len);
    (*pool)[len] = '\0';
    *out = *pool;
    *pool += len + 1;
    c->p += len;
    return CQ_OK;
}

static int named_cmp(const void *a, const void *b)
{
    return strcmp(((const named *)a)->name, ((const named *)b)->name);
}

static cq_status parse_entry(cq_tfile *r, cursor *c, int i, char **pool, cq_err *err)
{
    cq_tfile_entry *e = &r->ent[i];
    if (take_string(r, c, 2, pool, &e->name, "tensor", i, err) != CQ_OK)
        return CQ_EFORMAT;
    if (e->name[0] == '\0')
        return bad_index(r, c, err, "tensor", i, "empty name");
    if (!need(c, 2))
        return bad_index(r, c, err, "tensor", i, "index ends inside it");
    int code = c->p[0], ndim = c->p[1];
    c->p += 2;
    if (code >= NDISK_DTYPES)
        return cq_errf(err, CQ_EFORMAT, "%s: tensor '%s': unknown dtype code %d", r->path,
                       e->name, code);
    if (ndim > CQ_MAX_DIMS)
        return cq_errf(err, CQ_EFORMAT, "%s: tensor '%s': %d dimensions (calq allows %d)",
                       r->path, e->name, ndim, CQ_MAX_DIMS);
    if (!need(c, 8 * (uint64_t)ndim + 16))
        return bad_index(r, c, err, "tensor", i, "index ends inside it");
    e->dtype = cq__tf_dtypes[code];
    e->ndim = ndim;
    uint64_t nbytes = cq_dtype_info(e->dtype)->size;
    for (int d = 0; d < ndim; d++, c->p += 8) {
        uint64_t v = get_le(c->p, 8);
        if (v > CQ_TENSOR_MAX_BYTES || (v && nbytes > CQ_TENSOR_MAX_BYTES / v))
            return cq_errf(err, CQ_EFORMAT, "%s: tensor '%s': absurd shape (dimension %d is %llu)",
                           r->path, e->name, d, (unsigned long long)v);
        e->shape[d] = (int64_t)v;
        nbytes *= v;
    }
    e->nbytes = (size_t)nbytes;
    e->offset = get_le(c->p, 8);
    e->csize = get_le(c->p + 8, 8);
    c->p += 16;
    if (e->offset < HEADER_SIZE || e->offset > r->index_off || e->csize > r->index_off - e->offset)
        return cq_errf(err, CQ_EFORMAT,
                       "%s: tensor '%s': payload at %llu (+%llu bytes) lies outside the data area "
                       "(bytes %d to %llu)", r->path, e->name, (unsigned long long)e->offset,
                       (unsigned long long)e->csize, HEADER_SIZE, (unsigned long long)r->index_off);
    if (nbytes / MAX_RATIO > e->csize)
        return cq_errf(err, CQ_EFORMAT,
                       "%s: tensor '%s': declares %llu bytes, more than its %llu compressed bytes "
                       "can hold", r->path, e->name, (unsigned long long)nbytes,
                       (unsigned long long)e->csize);
    return CQ_OK;
}

static cq_status parse_index(cq_tfile *r, const unsigned char *idx, uint64_t isize, cq_err *err)
{
    cursor c = {idx, idx + isize, r->index_off, idx};
    if (!need(&c, 8))
        return cq_errf(err, CQ_EFORMAT, "%s: index of %llu bytes is too short", r->path,
                       (unsigned long long)isize);
    uint64_t n = get_le(idx, 4), nm = get_le(idx + 4, 4);
    c.p += 8;
    /* smallest entry: 2 + 1 (name) + 2 + 16; smallest pair: 8 */
    if (n > (isize - 8) / 21 || nm > (isize - 8) / 8 || n * 21 + nm * 8 > isize - 8)
        return cq_errf(err, CQ_EFORMAT, "%s: index claims %llu tensors and %llu metadata pairs, "
                       "more than its %llu bytes can hold", r->path, (unsigned long long)n,
                       (unsigned long long)nm, (unsigned long long)isize);
    r->n = (int)n;
    r->nmeta = (int)nm;
    r->pool = malloc((size_t)(isize + n + 2 * nm + 1));
    r->ent = calloc((size_t)n + 1, sizeof *r->ent);
    r->sorted = malloc(((size_t)n + 1) * sizeof *r->sorted);
    r->mkey = malloc(((size_t)nm + 1) * sizeof *r->mkey);
    r->mval = malloc(((size_t)nm + 1) * sizeof *r->mval);
    if (!r->pool || !r->ent || !r->sorted || !r->mkey || !r->mval)
        return cq_errf(err, CQ_ENOMEM, "%s: out of memory for the index", r->path);
    char *pool = r->pool;
    for (int i = 0; i < r->n; i++) {
        if (parse_entry(r, &c, i, &pool, err) != CQ_OK)
            return CQ_EFORMAT;
        r->sorted[i].name = r->ent[i].name;
        r->sorted[i].idx = i;
    }
    for (int i = 0; i < r->nmeta; i++)
        if (take_string(r, &c, 4, &pool, &r->mkey[i], "metadata key", i, err) != CQ_OK
            || take_string(r, &c, 4, &pool, &r->mval[i], "metadata value", i, err) != CQ_OK)
            return CQ_EFORMAT;
    if (c.p != c.end)
        return bad_index(r, &c, err, "after metadata pair", r->nmeta, "unexpected bytes");
    qsort(r->sorted, (size_t)r->n, sizeof *r->sorted, named_cmp);
    for (int i = 1; i < r->n; i++)
        if (strcmp(r->sorted[i - 1].name, r->sorted[i].name) == 0)
            return cq_errf(err, CQ_EFORMAT, "%s: tensor '%s' appears twice in the index", r->path,
                           r->sorted[i].name);
    return CQ_OK;
}

static cq_status open_checked(cq_tfile *r, cq_err *err)
{
    struct stat st;
    unsigned char hdr[HEADER_SIZE], foot[FOOTER_SIZE];
    if (fstat(r->fd, &st) != 0)
        return cq_errf(err, CQ_EIO, "%s: %s", r->path, strerror(errno));
    r->fsize = (uint64_t)st.st_size;
    if (r->fsize < HEADER_SIZE + FOOTER_SIZE + 8)
        return cq_errf(err, CQ_EFORMAT, "%s: truncated or not a calq tensor file (%llu bytes)",
                       r->path, (unsigned long long)r->fsize);
    if (read_at(r, hdr, sizeof hdr, 0, err) != CQ_OK
        || read_at(r, foot, sizeof foot, r->fsize - FOOTER_SIZE, err) != CQ_OK)
        return err->code;
    if (memcmp(hdr, CQ__TF_MAGIC, 8) != 0)
        return cq_errf(err, CQ_EFORMAT, "%s: not a calq tensor file (wrong magic)", r->path);
    uint64_t version = get_le(hdr + 8, 4), flags = get_le(hdr + 12, 4);
    if (version != CQ_TFILE_VERSION)
        return cq_errf(err, CQ_EUNSUPPORTED, "%s: tensor file version %llu (calq reads %d)",
                       r->path, (unsigned long long)version, CQ_TFILE_VERSION);
    if (flags != 0)
        return cq_errf(err, CQ_EUNSUPPORTED, "%s: unknown header flags 0x%llx", r->path,
                       (unsigned long long)flags);
    if (memcmp(foot + 20, CQ__TF_FOOTER_MAGIC, 4) != 0)
        return cq_errf(err, CQ_EFORMAT, "%s: truncated or corrupted (no footer at byte %llu)",
                       r->path, (unsigned long long)(r->fsize - FOOTER_SIZE));
    uint64_t ioff = get_le(foot, 8), isize = get_le(foot + 8, 8);
    uint32_t crc = (uint32_t)get_le(foot + 16, 4);
    if (ioff < HEADER_SIZE || ioff > r->fsize - FOOTER_SIZE
        || isize != r->fsize - FOOTER_SIZE - ioff)
        return cq_errf(err, CQ_EFORMAT, "%s: footer: index at byte %llu (%llu bytes) does not end "
                       "at the footer (byte %llu): truncated or corrupted", r->path,
                       (unsigned long long)ioff, (unsigned long long)isize,
                       (unsigned long long)(r->fsize - FOOTER_SIZE));
    r->index_off = ioff;
    unsigned char *idx = malloc((size_t)isize);
    if (!idx)
        return cq_errf(err, CQ_ENOMEM, "%s: out of memory for an index of %llu bytes", r->path,
                       (unsigned long long)isize);
    cq_status s = read_at(r, idx, (size_t)isize, ioff, err);
    uint32_t got = s == CQ_OK ? cq_crc32(0, idx, (size_t)isize) : 0;
    if (s == CQ_OK && got != crc)
        s = cq_errf(err, CQ_EFORMAT, "%s: index checksum mismatch (stored %08x, computed %08x)",
                    r->path, (unsigned)crc, (unsigned)got);
    if (s == CQ_OK)
        s = parse_index(r, idx, isize, err);
    free(idx);
    return s;
}

cq_tfile *cq_tfile_open(const char *path, cq_err *err)
{
    if (!host_is_little_endian()) {
        cq_errf(err, CQ_EUNSUPPORTED, "%s: calq tensor files need a little-endian host", path);
        return NULL;
    }
    cq_tfile *r = calloc(1, sizeof *r);
    if (!r || !(r->path = malloc(strlen(path) + 1))) {
        free(r);
        cq_errf(err, CQ_ENOMEM, "%s: out of memory", path);
        return NULL;
    }
    strcpy(r->path, path);
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        cq_errf(err, CQ_EIO, "%s: cannot open: %s", path, strerror(errno));
        cq_tfile_free(r);
        return NULL;
    }
    if (open_checked(r, err) != CQ_OK) {
        cq_tfile_free(r);
        return NULL;
    }
    return r;
}

int cq_tfile_count(const cq_tfile *r)
{
    return r->n;
}

const cq_tfile_entry *cq_tfile_entry_at(const cq_tfile *r, int i)
{
    return i >= 0 && i < r->n ? &r->ent[i] : NULL;
}

int cq_tfile_find(const cq_tfile *r, const char *name)
{
    named key = {name, 0};
    const named *hit = r->n ? bsearch(&key, r->sorted, (size_t)r->n, sizeof key, named_cmp) : NULL;
    return hit ? hit->idx : -1;
}

int cq_tfile_meta_count(const cq_tfile *r)
{
    return r->nmeta;
}

cq_status cq_tfile_meta_at(const cq_tfile *r, int i, const char **key, const char **value)
{
    if (i < 0 || i >= r->nmeta)
        return CQ_ERANGE;
    *key = r->mkey[i];
    *value = r->mval[i];
    return CQ_OK;
}

const char *cq_tfile_meta(const cq_tfile *r, const char *key)
{
    for (int i = 0; i < r->nmeta; i++)
        if (strcmp(r->mkey[i], key) == 0)
            return r->mval[i];
    return NULL;
}

/* The frame must be exactly as the writer makes it: anything else is damage. */
static const char *check_frame_info(const LZ4F_frameInfo_t *fi, size_t nbytes)
{
    if (fi->frameType != LZ4F_frame)
        return "payload is not an lz4 data frame";
    if (fi->contentChecksumFlag != LZ4F_contentChecksumEnabled)
        return "lz4 frame has no content checksum";
    if (fi->contentSize != (unsigned long long)nbytes)
        return "lz4 frame size does not match the tensor's shape";
    if (fi->blockChecksumFlag != LZ4F_noBlockChecksum || fi->dictID != 0
        || fi->blockMode != LZ4F_blockIndependent || fi->blockSizeID != LZ4F_max64KB)
        return "lz4 frame parameters differ from calq's";
    return NULL;
}

static const char *lz4_problem(size_t code)
{
    const char *name = LZ4F_getErrorName(code);
    if (strstr(name, "contentChecksum"))
        return "payload checksum mismatch";
    if (strstr(name, "frameSize_wrong"))
        return "payload size does not match its lz4 frame";
    return name;
}

/* Decompress entry e into dst (e->nbytes bytes). */
static cq_status inflate(cq_tfile *r, const cq_tfile_entry *e, unsigned char *dst, cq_err *err)
{
    const char *problem = NULL;
    uint64_t pos = e->offset, left = e->csize;
    size_t have = 0, used = 0, outleft = e->nbytes;
    int started = 0;
    LZ4F_resetDecompressionContext(r->dctx);
    for (;;) {
        if (used == have) {
            if (left == 0) {
                problem = "lz4 frame is truncated";
                break;
            }
            have = left < CHUNK ? (size_t)left : CHUNK;
            cq_status s = read_at(r, r->buf, have, pos, err);
            if (s != CQ_OK)
                return cq_errf(err, s, "%s: tensor '%s': cannot read its payload at byte %llu "
                               "(file changed while open?)", r->path, e->name,
                               (unsigned long long)pos);
            pos += have;
            left -= have;
            used = 0;
        }
        size_t srcsz = have - used, dstsz = outleft, k;
        if (!started) {
            LZ4F_frameInfo_t fi;
            k = LZ4F_getFrameInfo(r->dctx, &fi, r->buf + used, &srcsz);
            if (LZ4F_isError(k)) {
                problem = lz4_problem(k);
                break;
            }
            if ((problem = check_frame_info(&fi, e->nbytes)) != NULL)
                break;
            used += srcsz;
            started = 1;
            continue;
        }
        k = LZ4F_decompress(r->dctx, dst, &dstsz, r->buf + used, &srcsz, NULL);
        if (LZ4F_isError(k)) {
            problem = lz4_problem(k);
            break;
        }
        used += srcsz;
        dst += dstsz;
        outleft -= dstsz;
        if (k == 0) { /* end of frame */
            if (used != have || left != 0)
                problem = "bytes after the end of the lz4 frame";
            else if (outleft != 0)
                problem = "payload is shorter than the tensor";
            break;
        }
        if (srcsz == 0 && dstsz == 0) {
            problem = outleft == 0 ? "payload is longer than the tensor" : "lz4 decoder is stuck";
            break;
        }
    }
    if (!problem)
        return CQ_OK;
    return cq_errf(err, CQ_EFORMAT, "%s: tensor '%s': %s", r->path, e->name, problem);
}

cq_tensor *cq_tfile_read(cq_tfile *r, int i, cq_err *err)
{
    const cq_tfile_entry *e = cq_tfile_entry_at(r, i);
    if (!e) {
        cq_errf(err, CQ_ERANGE, "%s: no tensor %d (the file has %d)", r->path, i, r->n);
        return NULL;
    }
    if (!r->dctx && LZ4F_isError(LZ4F_createDecompressionContext(&r->dctx, LZ4F_VERSION))) {
        r->dctx = NULL;
        cq_errf(err, CQ_ENOMEM, "%s: out of memory for an lz4 decoder", r->path);
        return NULL;
    }
    if (!r->buf && !(r->buf = malloc(CHUNK))) {
        cq_errf(err, CQ_ENOMEM, "%s: out of memory for the read buffer", r->path);
        return NULL;
    }
    cq_tensor *t = cq_tensor_empty(e->dtype, e->ndim, e->shape, err);
    if (!t) {
        cq_err_prefix(err, err->code, "%s: tensor '%s': ", r->path, e->name);
        return NULL;
    }
    cq__prefault(cq_tensor_data(t), e->nbytes);
    if (inflate(r, e, cq_tensor_data(t), err) != CQ_OK) {
        cq_tensor_release(t);
        return NULL;
    }
    return t;
}

cq_tensor *cq_tfile_read_name(cq_tfile *r, const char *name, cq_err *err)
{
    int i = cq_tfile_find(r, name);
    if (i < 0) {
        cq_errf(err, CQ_ERANGE, "%s: no tensor named '%s'", r->path, name);
        return NULL;
    }
    return cq_tfile_read(r, i, err);
}
