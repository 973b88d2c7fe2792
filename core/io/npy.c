/* npy.c - NumPy .npy read and write (see npy.h). */
#include "io/npy.h"
#include "base/fileio.h"
#include "io/io_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const unsigned char NPY_MAGIC[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
/* NumPy itself refuses headers above 10000 bytes by default; be a little
 * more generous, but never let a header length make us allocate much. */
#define NPY_HEADER_MAX (1u << 20)
#define NPY_CHUNK ((size_t)4 << 20)

/* ---- header parsing ---------------------------------------------------- */

typedef struct hdr {
    const char *s, *p, *end; /* the dict text */
    const char *path;
    size_t base;             /* file offset of s, for messages */
} hdr;

static void skip_ws(hdr *h)
{
    while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' || *h->p == '\r'))
        h->p++;
}

static cq_status hbad(hdr *h, cq_err *err, const char *what)
{
    return cq_errf(err, CQ_EFORMAT, "%s: npy header byte %zu: %s", h->path,
                   h->base + (size_t)(h->p - h->s), what);
}

static int accept(hdr *h, char c)
{
    skip_ws(h);
    if (h->p < h->end && *h->p == c) {
        h->p++;
        return 1;
    }
    return 0;
}

/* A Python string literal ('...' or "...", no escapes needed for our keys). */
static cq_status parse_str(hdr *h, char *out, size_t cap, cq_err *err)
{
    skip_ws(h);
    if (h->p >= h->end || (*h->p != '\'' && *h->p != '"'))
        return hbad(h, err, "expected a quoted string");
    char q = *h->p++;
    size_t n = 0;
    while (h->p < h->end && *h->p != q) {
        if (*h->p == '\\' || n + 1 >= cap)
            return hbad(h, err, "string too long or escaped");
        out[n++] = *h->p++;
    }
    if (h->p >= h->end)
        return hbad(h, err, "unterminated string");
    h->p++;
    out[n] = '\0';
    return CQ_OK;
}

static cq_status parse_shape(hdr *h, int *ndim, int64_t *shape, cq_err *err)
{
    if (!accept(h, '('))
        return hbad(h, err, "shape is not a tuple");
    *ndim = 0;
    for (;;) {
        if (accept(h, ')'))
            return CQ_OK;
        skip_ws(h);
        if (h->p >= h->end || *h->p < '0' || *h->p > '9')
            return hbad(h, err, "shape entry is not a non-negative integer");
        if (*ndim == CQ_MAX_DIMS)
            return hbad(h, err, "more dimensions than calq allows (8)");
        int64_t v = 0;
        while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
            if (v > (int64_t)CQ_TENSOR_MAX_BYTES)
                return hbad(h, err, "absurd dimension");
            v = v * 10 + (*h->p++ - '0');
        }
        if (h->p < h->end && *h->p == 'L') /* Python 2 longs */
            h->p++;
        shape[(*ndim)++] = v;
        if (!accept(h, ',')) {
            if (accept(h, ')'))
                return CQ_OK;
            return hbad(h, err, "expected ',' or ')' in the shape");
        }
    }
}

typedef struct npy_info {
    cq_dtype dtype;
    int swap;     /* big-endian data */
    int fortran;
    int ndim;
    int64_t shape[CQ_MAX_DIMS];
} npy_info;

static cq_status parse_descr(hdr *h, const char *d, npy_info *info, cq_err *err)
{
    static const struct { const char *code; cq_dtype dt; } known[] = {
        {"f4", CQ_F32}, {"f2", CQ_F16}, {"i1", CQ_S8}, {"u1", CQ_U8},
        {"i4", CQ_S32}, {"i8", CQ_S64}, {"b1", CQ_BOOL},
    };
    char order = d[0];
    const char *code = d;
    if (order == '<' || order == '>' || order == '|' || order == '=')
        code++;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(code, known[i].code) == 0) {
            info->dtype = known[i].dt;
            info->swap = order == '>' && cq_dtype_info(known[i].dt)->size > 1;
            return CQ_OK;
        }
    if (strcmp(code, "?") == 0) {
        info->dtype = CQ_BOOL;
        info->swap = 0;
        return CQ_OK;
    }
    return cq_errf(err, CQ_EUNSUPPORTED, "%s: npy dtype '%s' is not supported (calq reads f4 f2 "
                   "i1 u1 i4 i8 b1)", h->path, d);
}

static cq_status parse_dict(hdr *h, npy_info *info, cq_err *err)
{
    int seen = 0;
    if (!accept(h, '{'))
        return hbad(h, err, "header is not a dict");
    for (;;) {
        char key[32], val[64];
        if (accept(h, '}'))
            break;
        if (parse_str(h, key, sizeof key, err) != CQ_OK)
            return CQ_EFORMAT;
        if (!accept(h, ':'))
            return hbad(h, err, "expected ':'");
        if (strcmp(key, "descr") == 0) {
            skip_ws(h);
            if (h->p < h->end && (*h->p == '[' || *h->p == '('))
                return cq_errf(err, CQ_EUNSUPPORTED, "%s: npy structured dtypes are not supported",
                               h->path);
            if (parse_str(h, val, sizeof val, err) != CQ_OK
                || parse_descr(h, val, info, err) != CQ_OK)
                return err->code;
            seen |= 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            skip_ws(h);
            if ((size_t)(h->end - h->p) >= 4 && memcmp(h->p, "True", 4) == 0) {
                info->fortran = 1;
                h->p += 4;
            } else if ((size_t)(h->end - h->p) >= 5 && memcmp(h->p, "False", 5) == 0) {
                info->fortran = 0;
                h->p += 5;
            } else {
                return hbad(h, err, "fortran_order is neither True nor False");
            }
            seen |= 2;
        } else if (strcmp(key, "shape") == 0) {
            if (parse_shape(h, &info->ndim, info->shape, err) != CQ_OK)
                return CQ_EFORMAT;
            seen |= 4;
        } else {
            return hbad(h, err, "unknown key in the header");
        }
        if (!accept(h, ',')) {
            if (accept(h, '}'))
                break;
            return hbad(h, err, "expected ',' or '}'");
        }
    }
    if (seen != 7)
        return hbad(h, err, "header lacks descr, fortran_order or shape");
    return CQ_OK;
}

/* ---- reading ----------------------------------------------------------- */

static cq_status read_full(FILE *f, void *dst, size_t n, const char *path, const char *what,
                           cq_err *err)
{
    size_t k = fread(dst, 1, n, f);
    if (k == n)
        return CQ_OK;
    if (ferror(f))
        return cq_errf(err, CQ_EIO, "%s: read failed: %s", path, strerror(errno));
    return cq_errf(err, CQ_EFORMAT, "%s: truncated in the %s", path, what);
}

static void swap_bytes(unsigned char *p, size_t n, size_t esz)
{
    for (size_t i = 0; i + esz <= n; i += esz)
        for (size_t a = 0, b = esz - 1; a < b; a++, b--) {
            unsigned char t = p[i + a];
            p[i + a] = p[i + b];
            p[i + b] = t;
        }
}

/* A Fortran-ordered block of shape s is the C-ordered block of the reversed
 * shape, transposed: make the dense C-order copy. */
static cq_tensor *from_fortran(cq_tensor *rev, cq_err *err)
{
    int perm[CQ_MAX_DIMS];
    for (int i = 0; i < rev->ndim; i++)
        perm[i] = rev->ndim - 1 - i;
    cq_tensor *v = cq_tensor_permute(rev, perm, err);
    cq_tensor *c = v ? cq_tensor_clone(v, err) : NULL;
    cq_tensor_release(v);
    return c;
}

/* The preamble and header of f (at its start): the header into *info, the
 * data's size into *nbytes, checked against the file's size (the data must
 * fill the rest of the file exactly); the file is left at the data. */
static cq_status read_head(FILE *f, const char *path, uint64_t fsize, npy_info *info,
                           uint64_t *nbytes_out, cq_err *err)
{
    unsigned char pre[12];
    if (fsize < 10)
        return cq_errf(err, CQ_EFORMAT, "%s: truncated or not an npy file (%llu bytes)", path,
                       (unsigned long long)fsize);
    if (read_full(f, pre, 10, path, "preamble", err) != CQ_OK)
        return err->code;
    if (memcmp(pre, NPY_MAGIC, 6) != 0)
        return cq_errf(err, CQ_EFORMAT, "%s: not an npy file (wrong magic)", path);
    int major = pre[6];
    size_t hlen, start;
    if (major == 1) {
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
        start = 10;
    } else if (major == 2 || major == 3) {
        if (read_full(f, pre + 10, 2, path, "preamble", err) != CQ_OK)
            return err->code;
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
        start = 12;
    } else {
        return cq_errf(err, CQ_EUNSUPPORTED, "%s: npy format version %d.%d (calq reads 1.0, 2.0, "
                       "3.0)", path, major, pre[7]);
    }
    if (hlen > NPY_HEADER_MAX || hlen > fsize - start)
        return cq_errf(err, CQ_EFORMAT, "%s: npy header of %zu bytes does not fit the file (%llu "
                       "bytes)", path, hlen, (unsigned long long)fsize);
    char *text = malloc(hlen + 1);
    if (!text)
        return cq_errf(err, CQ_ENOMEM, "%s: out of memory for the header", path);
    memset(info, 0, sizeof *info);
    hdr h = {text, text, text + hlen, path, start};
    cq_status st = read_full(f, text, hlen, path, "header", err);
    if (st == CQ_OK)
        st = parse_dict(&h, info, err);
    free(text);
    if (st != CQ_OK)
        return st;
    uint64_t nbytes = cq_dtype_info(info->dtype)->size, avail = fsize - start - hlen;
    for (int i = 0; i < info->ndim; i++) {
        if (info->shape[i] && nbytes > avail / (uint64_t)info->shape[i] + 1)
            nbytes = avail + 1; /* already more than the file holds; stop before overflow */
        else
            nbytes *= (uint64_t)info->shape[i];
    }
    if (nbytes > avail)
        return cq_errf(err, CQ_EFORMAT, "%s: truncated: the header's shape needs %s%llu bytes of "
                       "data, the file has %llu", path, nbytes == avail + 1 ? "more than " : "",
                       (unsigned long long)(nbytes == avail + 1 ? avail : nbytes),
                       (unsigned long long)avail);
    if (nbytes < avail)
        return cq_errf(err, CQ_EFORMAT, "%s: %llu unexpected bytes after the data (shape and file "
                       "size disagree)", path, (unsigned long long)(avail - nbytes));
    *nbytes_out = nbytes;
    return CQ_OK;
}

/* Data just read, as calq holds them: bools 0/1, native byte order. */
static void fix_data(const npy_info *info, void *data, size_t nbytes)
{
    if (info->dtype == CQ_BOOL) { /* anything but 0/1 would break calq's bool */
        unsigned char *b = data;
        for (size_t i = 0; i < nbytes; i++)
            b[i] = b[i] != 0;
    }
    if (info->swap)
        swap_bytes(data, nbytes, cq_dtype_info(info->dtype)->size);
}

static cq_tensor *read_body(FILE *f, const char *path, uint64_t fsize, cq_err *err)
{
    npy_info info;
    uint64_t nbytes;
    if (read_head(f, path, fsize, &info, &nbytes, err))
        return NULL;
    int64_t rshape[CQ_MAX_DIMS];
    for (int i = 0; i < info.ndim; i++)
        rshape[i] = info.fortran ? info.shape[info.ndim - 1 - i] : info.shape[i];
    cq_tensor *t = cq_tensor_empty(info.dtype, info.ndim, rshape, err);
    if (!t)
        return cq_err_prefix(err, err->code, "%s: ", path), NULL;
    cq__prefault(cq_tensor_data(t), (size_t)nbytes);
    if (read_full(f, cq_tensor_data(t), (size_t)nbytes, path, "data", err) != CQ_OK) {
        cq_tensor_release(t);
        return NULL;
    }
    fix_data(&info, cq_tensor_data(t), (size_t)nbytes);
    if (info.fortran && info.ndim > 1) {
        cq_tensor *c = from_fortran(t, err);
        cq_tensor_release(t);
        t = c;
    }
    return t;
}

cq_tensor *cq_npy_read(const char *path, cq_err *err)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f) {
        cq_errf(err, CQ_EIO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fileno(f), &st) != 0) {
        cq_errf(err, CQ_EIO, "%s: %s", path, strerror(errno));
        fclose(f);
        return NULL;
    }
    cq_tensor *t = read_body(f, path, (uint64_t)st.st_size, err);
    fclose(f);
    return t;
}

/* ---- reading rows ------------------------------------------------------ */

struct cq_npy_reader {
    FILE *f;
    char *path;
    npy_info info;
    long data_at;       /* file offset of the data */
    size_t row_bytes;   /* bytes of one index along the first dimension */
};

cq_npy_reader *cq_npy_open(const char *path, cq_err *err)
{
    cq_npy_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        cq_errf(err, CQ_ENOMEM, "%s: out of memory", path);
        return NULL;
    }
    struct stat st;
    uint64_t nbytes;
    r->f = fopen(path, "rb");
    if (!r->f || fstat(fileno(r->f), &st) != 0) {
        cq_errf(err, CQ_EIO, "%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    if (read_head(r->f, path, (uint64_t)st.st_size, &r->info, &nbytes, err))
        goto fail;
    if (r->info.ndim < 1) {
        cq_errf(err, CQ_EFORMAT, "%s: a 0-d array has no rows", path);
        goto fail;
    }
    if (r->info.fortran && r->info.ndim > 1 && r->info.shape[0] > 1) {
        cq_errf(err, CQ_EUNSUPPORTED, "%s: Fortran-ordered data cannot be read by rows (save it "
                "in C order)", path);
        goto fail;
    }
    r->data_at = ftell(r->f);
    r->row_bytes = r->info.shape[0] ? (size_t)(nbytes / (uint64_t)r->info.shape[0]) : 0;
    return r;
fail:
    cq_npy_close(r);
    return NULL;
}

void cq_npy_close(cq_npy_reader *r)
{
    if (!r)
        return;
    if (r->f)
        fclose(r->f);
    free(r->path);
    free(r);
}

int cq_npy_shape(const cq_npy_reader *r, cq_dtype *dtype, int64_t *shape)
{
    *dtype = r->info.dtype;
    for (int i = 0; i < r->info.ndim; i++)
        shape[i] = r->info.shape[i];
    return r->info.ndim;
}

cq_tensor *cq_npy_read_rows(cq_npy_reader *r, int64_t first, int64_t count, int64_t step,
                            cq_err *err)
{
    int64_t rows = r->info.shape[0];
    if (first < 0 || count < 1 || step < 1 || first >= rows || (count - 1) > (rows - 1 - first) / step) {
        cq_errf(err, CQ_ERANGE, "%s: %lld rows from row %lld every %lld are outside the file's "
                "%lld", r->path, (long long)count, (long long)first, (long long)step,
                (long long)rows);
        return NULL;
    }
    int64_t shape[CQ_MAX_DIMS];
    memcpy(shape, r->info.shape, sizeof shape);
    shape[0] = count;
    cq_tensor *t = cq_tensor_empty(r->info.dtype, r->info.ndim, shape, err);
    if (!t)
        return cq_err_prefix(err, err->code, "%s: ", r->path), NULL;
    unsigned char *dst = cq_tensor_data(t);
    if (r->row_bytes == 0)
        return t; /* rows of no bytes (a 0 dimension): nothing to seek or read,
                   * however many rows the header declares */
    /* one read for consecutive rows, one per row otherwise */
    int64_t runs = step == 1 ? 1 : count, per = step == 1 ? count : 1;
    for (int64_t k = 0; k < runs; k++) {
        off_t at = (off_t)r->data_at + (off_t)(first + k * step) * (off_t)r->row_bytes;
        size_t n = (size_t)per * r->row_bytes;
        if (fseeko(r->f, at, SEEK_SET) != 0) {
            cq_errf(err, CQ_EIO, "%s: seek failed: %s", r->path, strerror(errno));
            cq_tensor_release(t);
            return NULL;
        }
        if (read_full(r->f, dst + (size_t)k * n, n, r->path, "data", err) != CQ_OK) {
            cq_tensor_release(t);
            return NULL;
        }
    }
    fix_data(&r->info, dst, (size_t)count * r->row_bytes);
    return t;
}

/* ---- writing ----------------------------------------------------------- */

static cq_status write_all(int fd, const void *p, size_t n, const char *tmp, cq_err *err)
{
    const char *c = p;
    while (n > 0) {
        ssize_t k = write(fd, c, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return cq_errf(err, CQ_EIO, "%s: write failed: %s", tmp,
                           strerror(k < 0 ? errno : ENOSPC));
        c += k;
        n -= (size_t)k;
    }
    return CQ_OK;
}

/* Preamble + dict + padding, total a multiple of 64, ending in '\n'. */
static size_t make_header(const cq_tensor *t, const char *descr, unsigned char *out, size_t cap)
{
    char dict[512];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int i = 0; i < t->ndim; i++)
        n += snprintf(dict + n, sizeof dict - (size_t)n, i ? " %lld," : "%lld,", (long long)t->shape[i]);
    if (t->ndim > 1)
        n--; /* numpy writes (3,) but (2, 3) */
    n += snprintf(dict + n, sizeof dict - (size_t)n, "), }");
    size_t pre = 10, total = (pre + (size_t)n + 1 + 63) / 64 * 64;
    if (total > cap)
        return 0;
    memcpy(out, NPY_MAGIC, 6);
    out[6] = 1;
    out[7] = 0;
    size_t hlen = total - pre;
    out[8] = (unsigned char)(hlen & 0xff);
    out[9] = (unsigned char)(hlen >> 8);
    memcpy(out + pre, dict, (size_t)n);
    memset(out + pre + n, ' ', total - pre - (size_t)n - 1);
    out[total - 1] = '\n';
    return total;
}

static cq_status write_data(int fd, const cq_tensor *t, const char *tmp, cq_err *err)
{
    size_t nbytes = cq_tensor_nbytes(t), esz = cq_dtype_info(t->dtype)->size;
    if (cq_tensor_is_contiguous(t))
        return write_all(fd, cq_tensor_data(t), nbytes, tmp, err);
    size_t per = NPY_CHUNK / esz * esz;
    unsigned char *buf = malloc(nbytes < per ? (nbytes ? nbytes : 1) : per);
    if (!buf)
        return cq_errf(err, CQ_ENOMEM, "%s: out of memory for the write buffer", tmp);
    cq__gather g;
    cq__gather_init(&g, t);
    cq_status st = CQ_OK;
    for (size_t done = 0; done < nbytes && st == CQ_OK;) {
        size_t n = nbytes - done < per ? nbytes - done : per;
        cq__gather_next(&g, buf, (int64_t)(n / esz));
        st = write_all(fd, buf, n, tmp, err);
        done += n;
    }
    free(buf);
    return st;
}

cq_status cq_npy_write(const char *path, const cq_tensor *t, cq_err *err)
{
    const cq_dtype_traits *tr = cq_dtype_info(t->dtype);
    if (!tr)
        return cq_errf(err, CQ_EINVAL, "%s: unknown dtype %d", path, (int)t->dtype);
    if (!tr->npy_descr)
        return cq_errf(err, CQ_EUNSUPPORTED, "%s: NumPy has no %s dtype (convert to f32 first)",
                       path, tr->name);
    unsigned char head[640];
    size_t hsize = make_header(t, tr->npy_descr, head, sizeof head);
    if (hsize == 0)
        return cq_errf(err, CQ_EINVAL, "%s: npy header too long", path);
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 5);
    if (!tmp)
        return cq_errf(err, CQ_ENOMEM, "%s: out of memory", path);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        cq_status s = cq_errf(err, CQ_EIO, "%s: cannot create: %s", tmp, strerror(errno));
        free(tmp);
        return s;
    }
    cq_status st = write_all(fd, head, hsize, tmp, err);
    if (st == CQ_OK)
        st = write_data(fd, t, tmp, err);
    if (st == CQ_OK && fsync(fd) != 0)
        st = cq_errf(err, CQ_EIO, "%s: fsync failed: %s", tmp, strerror(errno));
    if (close(fd) != 0 && st == CQ_OK)
        st = cq_errf(err, CQ_EIO, "%s: close failed: %s", tmp, strerror(errno));
    if (st == CQ_OK && rename(tmp, path) != 0)
        st = cq_errf(err, CQ_EIO, "%s: cannot rename %s to it: %s", path, tmp, strerror(errno));
    if (st != CQ_OK)
        unlink(tmp);
    else
        cq_sync_dir(path);
    free(tmp);
    return st;
}
