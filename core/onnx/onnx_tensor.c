/* onnx_tensor.c - TensorProto in and out, and .pb tensor files (see onnx.h). */
#include "onnx/onnx_internal.h"
#include "base/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const cq_pb_name cq__onnx_tensor_names[] = {
    {1, "dims"}, {2, "data_type"}, {3, "segment"}, {4, "float_data"}, {5, "int32_data"},
    {6, "string_data"}, {7, "int64_data"}, {8, "name"}, {9, "raw_data"}, {10, "double_data"},
    {11, "uint64_data"}, {12, "doc_string"}, {13, "external_data"}, {14, "data_location"},
    {16, "metadata_props"}, {0, NULL},
};

static const cq_pb_name entry_names[] = {{1, "key"}, {2, "value"}, {0, NULL}};

/* Why calq cannot hold an ONNX elem_type t: "dtype DOUBLE", ... (static). */
static const char *dtype_reason(int t)
{
    static const char *const reasons[] = {
        "dtype UNDEFINED", "dtype FLOAT", "dtype UINT8", "dtype INT8", "dtype UINT16",
        "dtype INT16", "dtype INT32", "dtype INT64", "dtype STRING", "dtype BOOL",
        "dtype FLOAT16", "dtype DOUBLE", "dtype UINT32", "dtype UINT64", "dtype COMPLEX64",
        "dtype COMPLEX128", "dtype BFLOAT16", "dtype FLOAT8E4M3FN", "dtype FLOAT8E4M3FNUZ",
        "dtype FLOAT8E5M2", "dtype FLOAT8E5M2FNUZ", "dtype UINT4", "dtype INT4",
        "dtype FLOAT4E2M1",
    };
    if (t < 0 || t >= (int)(sizeof reasons / sizeof reasons[0]))
        return "dtype unknown";
    return reasons[t];
}

void cq__onnx_tensor_clear(cq__onnx_tensor *ot)
{
    free(ot->name);
    cq_tensor_release(ot->t);
    memset(ot, 0, sizeof *ot);
}

/* external_data entries: find "location" for the message. */
static void external_location(const cq_pb *m, const cq_pb_field *f, char *loc, size_t n)
{
    cq_pb e;
    cq_pb_field ef;
    int is_loc = 0;
    const uint8_t *val = NULL;
    size_t vlen = 0;
    cq_err ignored; /* a bad entry only leaves the location out of the message */
    cq_pb_sub(m, f, "StringStringEntryProto", entry_names, &e);
    e.err = &ignored;
    while (cq_pb_next(&e, &ef) > 0) {
        if (ef.wire != CQ_PB_LEN)
            continue;
        if (ef.num == 1)
            is_loc = ef.len == 8 && memcmp(ef.data, "location", 8) == 0;
        else if (ef.num == 2) {
            val = ef.data;
            vlen = ef.len;
        }
    }
    if (is_loc && val && !*loc) {
        size_t k = vlen < n - 1 ? vlen : n - 1;
        memcpy(loc, val, k);
        loc[k] = '\0';
    }
}

/* Element count of dims, or -1 when it overflows 2^62. */
static int64_t dims_numel(const int64_t *d, int64_t n)
{
    int64_t e = 1;
    for (int64_t i = 0; i < n; i++) {
        if (d[i] && e > ((int64_t)1 << 62) / d[i])
            return -1;
        e *= d[i];
    }
    return e;
}

/* ENOMEM when a tensor of dt and dims would pass the limits of m->ud (see
 * onnx_internal.h); else counts its bytes into the model's. */
static cq_status within_limits(const cq_pb *m, cq_dtype dt, int nd, const int64_t *dims,
                               size_t at, const char *tname)
{
    cq__onnx_budget *b = m->ud;
    const cq_limits def = CQ_LIMITS_DEFAULT, *lim = b ? &b->lim : &def;
    uint64_t bytes;
    char shape[160], nb[48];
    int over = cq_shape_bytes(dt, nd, dims, &bytes) != 0;
    if (over || bytes > lim->max_tensor_bytes)
        return cq_errf(m->err, CQ_ENOMEM, "%s: byte %zu: tensor '%s' (%s %s) would take %s "
                       "bytes, above the limit of %llu bytes per tensor (max_tensor_bytes)",
                       m->file, at, tname, cq_dtype_info(dt)->name,
                       cq_shape_str(nd, dims, shape, sizeof shape),
                       cq_shape_bytes_str(dt, nd, dims, nb, sizeof nb),
                       (unsigned long long)lim->max_tensor_bytes);
    if (!b)
        return CQ_OK;
    if (bytes > lim->max_model_bytes - b->data_bytes)
        return cq_errf(m->err, CQ_ENOMEM, "%s: byte %zu: tensor '%s' (%llu bytes) takes the "
                       "model's constant data past the limit of %llu bytes per model "
                       "(max_model_bytes)", m->file, at, tname, (unsigned long long)bytes,
                       (unsigned long long)lim->max_model_bytes);
    b->data_bytes += bytes;
    return CQ_OK;
}

cq_status cq__onnx_read_tensor(cq_pb *m, cq__onnx_tensor *out)
{
    cq_pb_field f, raw = {0};
    int64_t *dims = NULL, nd = 0, capd = 0, dtype = 0, location = 0;
    int has_raw = 0, has_ext = 0, typed_field = 0;
    size_t start = m->pos, tensor_at = m->pos;
    cq_status st = CQ_OK;
    char loc[256] = "";
    int more;
    memset(out, 0, sizeof *out);
    while ((more = cq_pb_next(m, &f)) > 0) {
        switch (f.num) {
        case 1: st = cq_pb_append_int64(m, &f, &dims, &nd, &capd); break;
        case 2: st = cq_pb_int64(m, &f, &dtype); break;
        case 3: st = cq_pb_fail(m, &f, CQ_EUNSUPPORTED, "segmented tensors are not supported (a SequenceProto read as a TensorProto also looks like this)"); break;
        case 8: st = cq_pb_set_string(m, &f, &out->name); break;
        case 9:
            if ((st = cq_pb_want(m, &f, CQ_PB_LEN)) == CQ_OK) {
                raw = f;
                has_raw = 1;
            }
            break;
        case 13:
            if ((st = cq_pb_want(m, &f, CQ_PB_LEN)) == CQ_OK) {
                has_ext = 1;
                external_location(m, &f, loc, sizeof loc);
            }
            break;
        case 14: st = cq_pb_int64(m, &f, &location); break;
        case 4: case 5: case 6: case 7: case 10: case 11:
            typed_field = 1;
            break;
        default: break; /* doc_string, metadata_props, future fields */
        }
        if (st != CQ_OK)
            goto fail;
    }
    if (more < 0) {
        st = m->err->code;
        goto fail;
    }
    const char *tname = out->name ? out->name : "";
    if (has_ext || location == 1) {
        st = cq_errf(m->err, CQ_EUNSUPPORTED, "%s: byte %zu: tensor '%s' keeps its data outside "
                     "the model (external data%s%s%s); calq reads self-contained models only",
                     m->file, tensor_at, tname, *loc ? ", location '" : "", loc, *loc ? "'" : "");
        goto fail;
    }
    out->elem_type = (int)dtype;
    out->ndim = nd > 1000000 ? 1000000 : (int)nd;
    for (int64_t i = 0; i < nd; i++)
        if (dims[i] < 0) {
            st = cq_errf(m->err, CQ_EFORMAT, "%s: byte %zu: tensor '%s': dimension %lld is "
                         "negative (%lld)", m->file, tensor_at, tname, (long long)i,
                         (long long)dims[i]);
            goto fail;
        }
    for (int64_t i = 0; i < nd && i < CQ_MAX_DIMS; i++)
        out->dims[i] = dims[i];
    int64_t numel = dims_numel(dims, nd);
    if (numel < 0) {
        st = cq_errf(m->err, CQ_EFORMAT, "%s: byte %zu: tensor '%s': element count overflows",
                     m->file, tensor_at, tname);
        goto fail;
    }
    cq_dtype dt;
    if (cq_dtype_from_onnx((int)dtype, &dt) != 0) {
        out->unsupported = dtype_reason((int)dtype);
        goto done;
    }
    if (nd > CQ_MAX_DIMS) {
        out->unsupported = "more than 8 dimensions";
        goto done;
    }
    const cq_dtype_traits *tr = cq_dtype_info(dt);
    if ((st = within_limits(m, dt, (int)nd, dims, tensor_at, tname)) != CQ_OK)
        goto fail;
    if (has_raw) {
        if ((uint64_t)numel > raw.len / tr->size || (size_t)numel * tr->size != raw.len) {
            st = cq_errf(m->err, CQ_EFORMAT, "%s: byte %zu: tensor '%s' (%s, %lld elements): "
                         "raw_data has %zu bytes, expected %llu", m->file, raw.offset, tname,
                         tr->name, (long long)numel, raw.len,
                         (unsigned long long)numel * tr->size);
            goto fail;
        }
        out->t = cq_tensor_empty(dt, (int)nd, dims, m->err);
        if (!out->t) {
            st = m->err->code;
            goto fail;
        }
        if (raw.len)
            memcpy(cq_tensor_data(out->t), raw.data, raw.len);
        goto done;
    }
    /* Typed fields: which one holds this dtype. */
    uint32_t want = dt == CQ_F32 ? 4 : dt == CQ_S64 ? 7 : 5;
    int64_t *iv = NULL, ni = 0, capi = 0;
    float *fv = NULL;
    int64_t nf = 0, capf = 0;
    m->pos = start;
    while (typed_field && (more = cq_pb_next(m, &f)) > 0) {
        if (f.num != want)
            continue;
        st = want == 4 ? cq_pb_append_float(m, &f, &fv, &nf, &capf)
                       : cq_pb_append_int64(m, &f, &iv, &ni, &capi);
        if (st != CQ_OK || (want == 4 ? nf : ni) > numel)
            break; /* more than the shape says: the count check below */
    }
    int64_t got = want == 4 ? nf : ni;
    if (st == CQ_OK && got != numel)
        st = cq_errf(m->err, CQ_EFORMAT, "%s: byte %zu: tensor '%s' (%s): %lld elements in %s, "
                     "shape says %lld", m->file, tensor_at, tname, tr->name, (long long)got,
                     cq__onnx_tensor_names[want == 4 ? 3 : want == 5 ? 4 : 6].name,
                     (long long)numel);
    if (st == CQ_OK) {
        out->t = cq_tensor_empty(dt, (int)nd, dims, m->err);
        if (!out->t)
            st = m->err->code;
    }
    if (st == CQ_OK) {
        void *d = cq_tensor_data(out->t);
        for (int64_t i = 0; i < numel; i++) {
            switch (dt) {
            case CQ_F32: ((float *)d)[i] = fv[i]; break;
            case CQ_S64: ((int64_t *)d)[i] = iv[i]; break;
            case CQ_S32: ((int32_t *)d)[i] = (int32_t)iv[i]; break;
            case CQ_F16: case CQ_BF16: ((uint16_t *)d)[i] = (uint16_t)iv[i]; break;
            case CQ_S8: ((int8_t *)d)[i] = (int8_t)iv[i]; break;
            case CQ_U8: ((uint8_t *)d)[i] = (uint8_t)iv[i]; break;
            case CQ_BOOL: ((uint8_t *)d)[i] = iv[i] != 0; break;
            default: break;
            }
        }
    }
    free(iv);
    free(fv);
    if (st != CQ_OK)
        goto fail;
done:
    free(dims);
    return CQ_OK;
fail:
    free(dims);
    cq__onnx_tensor_clear(out);
    return st;
}

void cq__onnx_put_tensor(cq_pb_buf *b, uint32_t num, const cq_tensor *t, const char *name)
{
    size_t mark = cq_pb_begin(b, num);
    for (int i = 0; i < t->ndim; i++) /* unpacked, as onnx.proto declares dims */
        cq_pb_put_int(b, 1, t->shape[i]);
    cq_pb_put_int(b, 2, cq_dtype_info(t->dtype)->onnx_type);
    if (name && *name)
        cq_pb_put_string(b, 8, name);
    size_t nbytes = cq_tensor_nbytes(t);
    if (cq_tensor_is_contiguous(t)) {
        cq_pb_put_bytes(b, 9, cq_tensor_data(t), nbytes);
    } else {
        cq_err ignored; /* b->failed reports it */
        cq_tensor *c = cq_tensor_clone(t, &ignored);
        if (!c)
            b->failed = 1;
        else
            cq_pb_put_bytes(b, 9, cq_tensor_data(c), nbytes);
        cq_tensor_release(c);
    }
    cq_pb_end(b, mark);
}

/* ---- files ------------------------------------------------------------- */

cq_status cq__onnx_read_file(const char *path, uint8_t **buf, size_t *len, cq_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cq_errf(err, CQ_EIO, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        int e = errno;
        close(fd);
        return cq_errf(err, CQ_EIO, "%s: %s", path, S_ISDIR(sb.st_mode) ? "is a directory"
                       : e ? strerror(e) : "not a regular file");
    }
    if ((uint64_t)sb.st_size > CQ_TENSOR_MAX_BYTES) {
        close(fd);
        return cq_errf(err, CQ_ENOMEM, "%s: file of %lld bytes is too large", path,
                       (long long)sb.st_size);
    }
    size_t n = (size_t)sb.st_size, got = 0;
    uint8_t *p = malloc(n ? n : 1);
    if (!p) {
        close(fd);
        return cq_errf(err, CQ_ENOMEM, "%s: out of memory for %zu bytes", path, n);
    }
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = errno;
            free(p);
            close(fd);
            return cq_errf(err, CQ_EIO, "%s: read failed at byte %zu: %s", path, got,
                           r < 0 ? strerror(e) : "file shrank while reading");
        }
        got += (size_t)r;
    }
    close(fd);
    *buf = p;
    *len = n;
    return CQ_OK;
}

cq_status cq__onnx_write_file(const char *path, const void *data, size_t len, cq_err *err)
{
    size_t pn = strlen(path);
    char *tmp = malloc(pn + 5);
    if (!tmp)
        return cq_errf(err, CQ_ENOMEM, "out of memory");
    memcpy(tmp, path, pn);
    memcpy(tmp + pn, ".tmp", 5);
    cq_status st = CQ_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        st = cq_errf(err, CQ_EIO, "%s: %s", tmp, strerror(errno));
        free(tmp);
        return st;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, (const char *)data + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            st = cq_errf(err, CQ_EIO, "%s: write failed: %s", tmp, strerror(errno));
            break;
        }
        done += (size_t)w;
    }
    if (st == CQ_OK && fsync(fd) != 0)
        st = cq_errf(err, CQ_EIO, "%s: fsync failed: %s", tmp, strerror(errno));
    if (close(fd) != 0 && st == CQ_OK)
        st = cq_errf(err, CQ_EIO, "%s: close failed: %s", tmp, strerror(errno));
    if (st == CQ_OK && rename(tmp, path) != 0)
        st = cq_errf(err, CQ_EIO, "%s: cannot rename %s: %s", path, tmp, strerror(errno));
    if (st != CQ_OK)
        unlink(tmp);
    else
        cq_sync_dir(path);
    free(tmp);
    return st;
}

cq_tensor *cq_onnx_read_tensor_buffer(const void *buf, size_t len, const char *file,
                                      char **name, cq_err *err)
{
    cq_pb m;
    cq__onnx_tensor ot;
    if (name)
        *name = NULL;
    cq_pb_init(&m, buf, len, file, "TensorProto", cq__onnx_tensor_names, err);
    if (cq__onnx_read_tensor(&m, &ot) != CQ_OK)
        return NULL;
    if (!ot.t) {
        cq_errf(err, CQ_EUNSUPPORTED, "%s: tensor '%s': %s is not supported by calq",
                file ? file : "<buffer>", ot.name ? ot.name : "", ot.unsupported);
        cq__onnx_tensor_clear(&ot);
        return NULL;
    }
    if (name) {
        *name = ot.name ? ot.name : calloc(1, 1);
        ot.name = NULL;
        if (!*name) {
            cq__onnx_tensor_clear(&ot);
            cq_errf(err, CQ_ENOMEM, "out of memory");
            return NULL;
        }
    }
    cq_tensor *t = ot.t;
    ot.t = NULL;
    cq__onnx_tensor_clear(&ot);
    return t;
}

cq_tensor *cq_onnx_read_tensor(const char *path, char **name, cq_err *err)
{
    uint8_t *buf;
    size_t len;
    if (name)
        *name = NULL;
    if (cq__onnx_read_file(path, &buf, &len, err) != CQ_OK)
        return NULL;
    cq_tensor *t = cq_onnx_read_tensor_buffer(buf, len, path, name, err);
    free(buf);
    return t;
}

cq_status cq_onnx_write_tensor(const cq_tensor *t, const char *name, const char *path,
                               cq_err *err)
{
    cq_pb_buf b = {0};
    cq__onnx_put_tensor(&b, 1, t, name);
    /* Drop the outer tag and length: a .pb file is the bare message. */
    cq_pb m;
    cq_pb_field f;
    cq_status st;
    if (b.failed) {
        free(b.data);
        return cq_errf(err, CQ_ENOMEM, "%s: out of memory encoding the tensor", path);
    }
    cq_pb_init(&m, b.data, b.len, path, "wrapper", NULL, err);
    if (cq_pb_next(&m, &f) != 1) {
        free(b.data);
        return cq_errf(err, CQ_EFORMAT, "%s: internal encoding error", path);
    }
    st = cq__onnx_write_file(path, f.data, f.len, err);
    free(b.data);
    return st;
}
