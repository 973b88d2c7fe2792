/* tensor.c - storage, tensor life cycle, views and copies (see tensor.h). */
#include "base/tensor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- life cycle -------------------------------------------------------- */

/* Every dimension >= 0 and the product of the non-zero ones times the element
 * size within CQ_TENSOR_MAX_BYTES: a tensor with a 0 dimension holds nothing,
 * but its other dimensions still size the strides, which must not overflow. */
static cq_status check_dims(const cq_dtype_traits *tr, int ndim, const int64_t *shape, cq_err *err)
{
    if (ndim < 0 || ndim > CQ_MAX_DIMS)
        return cq_errf(err, CQ_EINVAL, "%d dimensions (calq allows 0 to %d)", ndim, CQ_MAX_DIMS);
    uint64_t span = tr->size;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return cq_errf(err, CQ_EINVAL, "dimension %d is negative (%lld)", i,
                           (long long)shape[i]);
        if (shape[i] > 0 && span > CQ_TENSOR_MAX_BYTES / (uint64_t)shape[i])
            return cq_errf(err, CQ_ENOMEM, "a tensor of %s with this shape spans more than %llu bytes", tr->name,
                           (unsigned long long)CQ_TENSOR_MAX_BYTES);
        if (shape[i] > 0)
            span *= (uint64_t)shape[i];
    }
    return CQ_OK;
}

static cq_status check_shape(cq_dtype dt, int ndim, const int64_t *shape, size_t *nbytes,
                             cq_err *err)
{
    const cq_dtype_traits *tr = cq_dtype_info(dt);
    if (!tr)
        return cq_errf(err, CQ_EINVAL, "unknown dtype %d", (int)dt);
    cq_status st = check_dims(tr, ndim, shape, err);
    if (st != CQ_OK)
        return st;
    size_t n = tr->size;
    for (int i = 0; i < ndim; i++)
        n *= (size_t)shape[i];
    *nbytes = n;
    return CQ_OK;
}

static void set_dense_strides(cq_tensor *t)
{
    int64_t s = (int64_t)cq_dtype_info(t->dtype)->size;
    for (int i = t->ndim - 1; i >= 0; i--) {
        t->stride[i] = s;
        s *= t->shape[i] > 0 ? t->shape[i] : 1;
    }
}

static cq_tensor *tensor_alloc_header(cq_dtype dt, int ndim, const int64_t *shape, cq_err *err)
{
    cq_tensor *t = calloc(1, sizeof *t);
    if (!t) {
        cq_errf(err, CQ_ENOMEM, "out of memory for a tensor header");
        return NULL;
    }
    t->dtype = dt;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t->shape[i] = shape[i];
    set_dense_strides(t);
    t->refcount = 1;
    return t;
}

static cq_tensor *tensor_make(cq_dtype dt, int ndim, const int64_t *shape, int zero, cq_err *err)
{
    size_t nbytes;
    if (check_shape(dt, ndim, shape, &nbytes, err) != CQ_OK)
        return NULL;
    cq_tensor *t = tensor_alloc_header(dt, ndim, shape, err);
    if (!t)
        return NULL;
    t->storage = calloc(1, sizeof *t->storage);
    void *data = t->storage ? cq_alloc(nbytes) : NULL;
    if (!data) {
        free(t->storage);
        free(t);
        cq_errf(err, CQ_ENOMEM, "out of memory for %zu bytes of tensor data", nbytes);
        return NULL;
    }
    if (zero)
        memset(data, 0, nbytes);
    t->storage->data = data;
    t->storage->nbytes = nbytes;
    t->storage->refcount = 1;
    return t;
}

cq_tensor *cq_tensor_new(cq_dtype dt, int ndim, const int64_t *shape, cq_err *err)
{
    return tensor_make(dt, ndim, shape, 1, err);
}

cq_tensor *cq_tensor_empty(cq_dtype dt, int ndim, const int64_t *shape, cq_err *err)
{
    return tensor_make(dt, ndim, shape, 0, err);
}

cq_tensor *cq_tensor_wrap(cq_dtype dt, int ndim, const int64_t *shape, void *data,
                          void (*free_fn)(void *data, void *ud), void *ud, cq_err *err)
{
    size_t nbytes;
    if (check_shape(dt, ndim, shape, &nbytes, err) != CQ_OK)
        return NULL;
    cq_tensor *t = tensor_alloc_header(dt, ndim, shape, err);
    if (!t)
        return NULL;
    t->storage = calloc(1, sizeof *t->storage);
    if (!t->storage) {
        free(t);
        cq_errf(err, CQ_ENOMEM, "out of memory for a storage header");
        return NULL;
    }
    t->storage->data = data;
    t->storage->nbytes = nbytes;
    t->storage->refcount = 1;
    t->storage->free_fn = free_fn ? free_fn : NULL;
    t->storage->free_ud = ud;
    if (!free_fn)
        t->storage->free_ud = t->storage; /* marks "not ours": see storage_release */
    return t;
}

static void storage_release(cq_storage *s)
{
    if (!s || __atomic_sub_fetch(&s->refcount, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    if (s->free_fn)
        s->free_fn(s->data, s->free_ud);
    else if (s->free_ud != (void *)s)
        cq_free(s->data);
    free(s);
}

cq_tensor *cq_tensor_scalar(cq_dtype dt, double v, cq_err *err)
{
    cq_tensor *t = cq_tensor_empty(dt, 0, NULL, err);
    if (t)
        cq_dtype_info(dt)->set(cq_tensor_data(t), v);
    return t;
}

void cq_tensor_retain(cq_tensor *t)
{
    if (t)
        __atomic_add_fetch(&t->refcount, 1, __ATOMIC_RELAXED);
}

void cq_tensor_release(cq_tensor *t)
{
    if (!t || __atomic_sub_fetch(&t->refcount, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    storage_release(t->storage);
    free(t);
}

/* A new header on the same storage (the view functions fill in the layout). */
static cq_tensor *view_of(cq_tensor *t, cq_err *err)
{
    cq_tensor *v = malloc(sizeof *v);
    if (!v) {
        cq_errf(err, CQ_ENOMEM, "out of memory for a tensor view");
        return NULL;
    }
    *v = *t;
    v->refcount = 1;
    __atomic_add_fetch(&t->storage->refcount, 1, __ATOMIC_RELAXED);
    return v;
}

/* ---- queries ----------------------------------------------------------- */

int64_t cq_tensor_numel(const cq_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->shape[i];
    return n;
}

size_t cq_tensor_nbytes(const cq_tensor *t)
{
    return (size_t)cq_tensor_numel(t) * cq_dtype_info(t->dtype)->size;
}

int cq_tensor_is_contiguous(const cq_tensor *t)
{
    int64_t s = (int64_t)cq_dtype_info(t->dtype)->size;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] == 1)
            continue;
        if (t->shape[i] == 0)
            return 1;
        if (t->stride[i] != s)
            return 0;
        s *= t->shape[i];
    }
    return 1;
}

int cq_tensor_same_shape(const cq_tensor *a, const cq_tensor *b)
{
    if (a->dtype != b->dtype || a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return 0;
    return 1;
}

char *cq_tensor_describe(const cq_tensor *t, char *buf, size_t size)
{
    size_t n = 0;
    if (size == 0)
        return buf;
    buf[0] = '\0';
    n += (size_t)snprintf(buf, size, "%s[", cq_dtype_info(t->dtype)->name);
    for (int i = 0; i < t->ndim && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, i ? ",%lld" : "%lld", (long long)t->shape[i]);
    if (n < size)
        snprintf(buf + n, size - n, "]");
    return buf;
}

size_t cq_tensor_offset_of(const cq_tensor *t, const int64_t *idx)
{
    int64_t off = (int64_t)t->offset;
    for (int i = 0; i < t->ndim; i++)
        off += idx[i] * t->stride[i];
    return (size_t)off;
}

static cq_status check_index(const cq_tensor *t, const int64_t *idx, cq_err *err)
{
    for (int i = 0; i < t->ndim; i++)
        if (idx[i] < 0 || idx[i] >= t->shape[i])
            return cq_errf(err, CQ_ERANGE, "index %lld out of range for dimension %d of size %lld",
                           (long long)idx[i], i, (long long)t->shape[i]);
    return CQ_OK;
}

cq_status cq_tensor_get(const cq_tensor *t, const int64_t *idx, double *out, cq_err *err)
{
    cq_status st = check_index(t, idx, err);
    if (st == CQ_OK)
        *out = cq_dtype_info(t->dtype)->get((char *)t->storage->data + cq_tensor_offset_of(t, idx));
    return st;
}

cq_status cq_tensor_set(cq_tensor *t, const int64_t *idx, double v, cq_err *err)
{
    cq_status st = check_index(t, idx, err);
    if (st == CQ_OK)
        cq_dtype_info(t->dtype)->set((char *)t->storage->data + cq_tensor_offset_of(t, idx), v);
    return st;
}

/* Walk every element of t in row-major order, calling fn with its address.
 * The innermost dimension is handed over as a run (ptr, count, stride). */
typedef void (*run_fn)(char *p, int64_t n, int64_t stride, void *ud);

static void for_each_run(const cq_tensor *t, run_fn fn, void *ud)
{
    int64_t numel = cq_tensor_numel(t);
    if (numel == 0)
        return;
    if (t->ndim == 0) {
        fn((char *)cq_tensor_data(t), 1, 0, ud);
        return;
    }
    int last = t->ndim - 1;
    int64_t idx[CQ_MAX_DIMS] = {0};
    char *base = (char *)t->storage->data + t->offset;
    for (;;) {
        char *p = base;
        for (int i = 0; i < last; i++)
            p += idx[i] * t->stride[i];
        fn(p, t->shape[last], t->stride[last], ud);
        int d = last - 1;
        while (d >= 0 && ++idx[d] == t->shape[d])
            idx[d--] = 0;
        if (d < 0)
            return;
    }
}

struct fill_ctx { unsigned char bytes[8]; size_t size; };

static void fill_run(char *p, int64_t n, int64_t stride, void *ud)
{
    struct fill_ctx *c = ud;
    for (int64_t i = 0; i < n; i++)
        memcpy(p + i * stride, c->bytes, c->size);
}

void cq_tensor_fill(cq_tensor *t, double v)
{
    struct fill_ctx c;
    const cq_dtype_traits *tr = cq_dtype_info(t->dtype);
    c.size = tr->size;
    tr->set(c.bytes, v);
    for_each_run(t, fill_run, &c);
}

/* ---- views ------------------------------------------------------------- */

static cq_status resolve_shape(const cq_tensor *t, int ndim, const int64_t *shape,
                               int64_t *out, cq_err *err)
{
    if (ndim < 0 || ndim > CQ_MAX_DIMS)
        return cq_errf(err, CQ_EINVAL, "%d dimensions (calq allows 0 to %d)", ndim, CQ_MAX_DIMS);
    int64_t known = 1, numel = cq_tensor_numel(t);
    int infer = -1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] == -1) {
            if (infer >= 0)
                return cq_errf(err, CQ_EINVAL, "more than one -1 in the new shape");
            infer = i;
        } else if (shape[i] < 0) {
            return cq_errf(err, CQ_EINVAL, "dimension %d of the new shape is %lld", i,
                           (long long)shape[i]);
        } else if (__builtin_mul_overflow(known, shape[i], &known)) {
            return cq_errf(err, CQ_EINVAL, "the new shape's element count overflows");
        }
        out[i] = shape[i];
    }
    if (infer >= 0) {
        if (known == 0 || numel % known)
            return cq_errf(err, CQ_EINVAL, "cannot infer dimension %d: %lld elements into %lld",
                           infer, (long long)numel, (long long)known);
        out[infer] = numel / known;
        known *= out[infer];
    }
    if (known != numel)
        return cq_errf(err, CQ_EINVAL, "new shape has %lld elements, tensor has %lld",
                       (long long)known, (long long)numel);
    return check_dims(cq_dtype_info(t->dtype), ndim, out, err);
}

/* Strides for viewing t with shape `shape` without a copy, as numpy does:
 * each group of new dims must map onto a group of old dims that are
 * contiguous with each other. Returns 0 when impossible. */
static int view_strides(const cq_tensor *t, int ndim, const int64_t *shape, int64_t *stride)
{
    int64_t numel = cq_tensor_numel(t);
    if (numel == 0 || numel == 1) {
        int64_t s = (int64_t)cq_dtype_info(t->dtype)->size;
        for (int i = ndim - 1; i >= 0; i--) {
            stride[i] = s;
            s *= shape[i] > 0 ? shape[i] : 1;
        }
        return 1;
    }
    /* drop size-1 old dims */
    int64_t osh[CQ_MAX_DIMS], ost[CQ_MAX_DIMS];
    int on = 0;
    for (int i = 0; i < t->ndim; i++)
        if (t->shape[i] != 1) {
            osh[on] = t->shape[i];
            ost[on++] = t->stride[i];
        }
    int oi = 0, ni = 0;
    while (ni < ndim || oi < on) {
        /* skip new size-1 dims: any stride works */
        if (ni < ndim && shape[ni] == 1) {
            stride[ni] = ni + 1 < ndim ? 0 : (int64_t)cq_dtype_info(t->dtype)->size;
            ni++;
            continue;
        }
        if (ni >= ndim || oi >= on)
            return 0;
        int64_t op = osh[oi], np = shape[ni];
        int ofirst = oi, nfirst = ni;
        oi++;
        ni++;
        while (op != np) {
            if (op < np) {
                if (oi >= on)
                    return 0;
                op *= osh[oi++];
            } else {
                while (ni < ndim && shape[ni] == 1)
                    ni++;
                if (ni >= ndim)
                    return 0;
                np *= shape[ni++];
            }
        }
        /* old dims ofirst..oi-1 must be mutually contiguous */
        for (int k = ofirst; k < oi - 1; k++)
            if (ost[k] != ost[k + 1] * osh[k + 1])
                return 0;
        /* new strides from the innermost old stride */
        int64_t s = ost[oi - 1];
        for (int k = ni - 1; k >= nfirst; k--) {
            stride[k] = s;
            s *= shape[k];
        }
    }
    for (int i = 0; i < ndim; i++) /* fill size-1 dims with something sensible */
        if (shape[i] == 1)
            stride[i] = i + 1 < ndim ? stride[i + 1] * shape[i + 1]
                                     : (int64_t)cq_dtype_info(t->dtype)->size;
    return 1;
}

cq_tensor *cq_tensor_view(cq_tensor *t, int ndim, const int64_t *shape, cq_err *err)
{
    int64_t sh[CQ_MAX_DIMS], st[CQ_MAX_DIMS];
    if (resolve_shape(t, ndim, shape, sh, err) != CQ_OK)
        return NULL;
    if (!view_strides(t, ndim, sh, st)) {
        cq_errf(err, CQ_EINVAL, "this layout cannot be viewed with the new shape (make it contiguous first)");
        return NULL;
    }
    cq_tensor *v = view_of(t, err);
    if (!v)
        return NULL;
    v->ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        v->shape[i] = sh[i];
        v->stride[i] = st[i];
    }
    return v;
}

cq_tensor *cq_tensor_reshape(cq_tensor *t, int ndim, const int64_t *shape, cq_err *err)
{
    int64_t sh[CQ_MAX_DIMS], st[CQ_MAX_DIMS];
    if (resolve_shape(t, ndim, shape, sh, err) != CQ_OK)
        return NULL;
    if (view_strides(t, ndim, sh, st))
        return cq_tensor_view(t, ndim, sh, err);
    cq_tensor *c = cq_tensor_clone(t, err);
    if (!c)
        return NULL;
    cq_tensor *v = cq_tensor_view(c, ndim, sh, err);
    cq_tensor_release(c);
    return v;
}

cq_tensor *cq_tensor_slice(cq_tensor *t, int dim, int64_t start, int64_t stop, int64_t step,
                           cq_err *err)
{
    if (dim < 0 || dim >= t->ndim) {
        cq_errf(err, CQ_EINVAL, "slice dimension %d of a %d-dimensional tensor", dim, t->ndim);
        return NULL;
    }
    if (step < 1) {
        cq_errf(err, CQ_EINVAL, "slice step %lld (must be >= 1)", (long long)step);
        return NULL;
    }
    int64_t n = t->shape[dim];
    if (start < 0)
        start += n;
    if (stop < 0)
        stop += n;
    start = start < 0 ? 0 : start > n ? n : start;
    stop = stop < start ? start : stop > n ? n : stop;
    cq_tensor *v = view_of(t, err);
    if (!v)
        return NULL;
    v->offset = (size_t)((int64_t)t->offset + start * t->stride[dim]);
    v->shape[dim] = (stop - start + step - 1) / step;
    v->stride[dim] = t->stride[dim] * step;
    return v;
}

cq_tensor *cq_tensor_permute(cq_tensor *t, const int *perm, cq_err *err)
{
    int seen[CQ_MAX_DIMS] = {0};
    for (int i = 0; i < t->ndim; i++) {
        if (perm[i] < 0 || perm[i] >= t->ndim || seen[perm[i]]++) {
            cq_errf(err, CQ_EINVAL, "permutation is not a permutation of 0..%d", t->ndim - 1);
            return NULL;
        }
    }
    cq_tensor *v = view_of(t, err);
    if (!v)
        return NULL;
    for (int i = 0; i < t->ndim; i++) {
        v->shape[i] = t->shape[perm[i]];
        v->stride[i] = t->stride[perm[i]];
    }
    return v;
}

cq_tensor *cq_tensor_transpose(cq_tensor *t, int d0, int d1, cq_err *err)
{
    int perm[CQ_MAX_DIMS];
    if (d0 < 0 || d0 >= t->ndim || d1 < 0 || d1 >= t->ndim) {
        cq_errf(err, CQ_EINVAL, "transpose of dimensions %d and %d of a %d-dimensional tensor",
                d0, d1, t->ndim);
        return NULL;
    }
    for (int i = 0; i < t->ndim; i++)
        perm[i] = i;
    perm[d0] = d1;
    perm[d1] = d0;
    return cq_tensor_permute(t, perm, err);
}

cq_tensor *cq_tensor_expand(cq_tensor *t, int ndim, const int64_t *shape, cq_err *err)
{
    if (ndim < t->ndim || ndim > CQ_MAX_DIMS) {
        cq_errf(err, CQ_EINVAL, "cannot broadcast %d dimensions to %d", t->ndim, ndim);
        return NULL;
    }
    if (check_dims(cq_dtype_info(t->dtype), ndim, shape, err) != CQ_OK)
        return NULL;
    cq_tensor *v = view_of(t, err);
    if (!v)
        return NULL;
    int lead = ndim - t->ndim;
    for (int i = 0; i < ndim; i++) {
        int j = i - lead;
        int64_t have = j >= 0 ? t->shape[j] : 1;
        if (have == shape[i]) {
            v->shape[i] = have;
            v->stride[i] = j >= 0 ? t->stride[j] : 0;
        } else if (have == 1) {
            v->shape[i] = shape[i];
            v->stride[i] = 0;
        } else {
            cq_errf(err, CQ_EINVAL, "cannot broadcast dimension %d of size %lld to %lld", i,
                    (long long)have, (long long)shape[i]);
            cq_tensor_release(v);
            return NULL;
        }
    }
    v->ndim = ndim;
    return v;
}

/* ---- copies ------------------------------------------------------------ */

cq_tensor *cq_tensor_clone(const cq_tensor *t, cq_err *err)
{
    return cq_tensor_to(t, t->dtype, err);
}

cq_tensor *cq_tensor_contiguous(cq_tensor *t, cq_err *err)
{
    if (cq_tensor_is_contiguous(t)) {
        cq_tensor_retain(t);
        return t;
    }
    return cq_tensor_clone(t, err);
}

/* Converting copy: walks src in runs and writes dst densely or by strides. */
struct copy_ctx {
    const cq_dtype_traits *st, *dt;
    const cq_tensor *dst;
    int64_t pos; /* linear position in row-major order */
    int dense;
    float buf[256];
};

static void copy_run(char *p, int64_t n, int64_t stride, void *ud)
{
    struct copy_ctx *c = ud;
    const cq_tensor *d = c->dst;
    for (int64_t i = 0; i < n; i++, c->pos++) {
        char *q;
        if (c->dense) {
            q = (char *)cq_tensor_data(d) + (size_t)c->pos * c->dt->size;
        } else {
            int64_t idx[CQ_MAX_DIMS], r = c->pos;
            for (int k = d->ndim - 1; k >= 0; k--) {
                idx[k] = r % d->shape[k];
                r /= d->shape[k];
            }
            q = (char *)d->storage->data + cq_tensor_offset_of(d, idx);
        }
        const char *s = p + i * stride;
        if (c->st == c->dt)
            memcpy(q, s, c->st->size);
        else if (c->st->is_float && c->dt->is_float) {
            float f;
            c->st->to_f32(s, &f, 1);
            c->dt->from_f32(&f, q, 1);
        } else
            c->dt->set(q, c->st->get(s));
    }
}

cq_status cq_tensor_copy(cq_tensor *dst, const cq_tensor *src, cq_err *err)
{
    if (dst->ndim != src->ndim)
        return cq_errf(err, CQ_EINVAL, "copy between %d and %d dimensions", src->ndim, dst->ndim);
    for (int i = 0; i < src->ndim; i++)
        if (dst->shape[i] != src->shape[i])
            return cq_errf(err, CQ_EINVAL, "copy: dimension %d is %lld in the source, %lld in the destination",
                           i, (long long)src->shape[i], (long long)dst->shape[i]);
    const cq_dtype_traits *st = cq_dtype_info(src->dtype), *dt = cq_dtype_info(dst->dtype);
    int dense_dst = cq_tensor_is_contiguous(dst);
    if (dense_dst && cq_tensor_is_contiguous(src)) {
        int64_t n = cq_tensor_numel(src);
        const char *s = cq_tensor_data(src);
        char *d = cq_tensor_data(dst);
        if (st == dt) {
            memmove(d, s, (size_t)n * st->size);
        } else if (src->dtype == CQ_F32 && dt->is_float) {
            dt->from_f32((const float *)s, d, n);
        } else if (dst->dtype == CQ_F32 && st->is_float) {
            st->to_f32(s, (float *)d, n);
        } else if (st->is_float && dt->is_float) {
            float buf[256];
            for (int64_t i = 0; i < n; i += 256) {
                int64_t k = n - i < 256 ? n - i : 256;
                st->to_f32(s + i * (int64_t)st->size, buf, k);
                dt->from_f32(buf, d + i * (int64_t)dt->size, k);
            }
        } else {
            for (int64_t i = 0; i < n; i++)
                dt->set(d + i * (int64_t)dt->size, st->get(s + i * (int64_t)st->size));
        }
        return CQ_OK;
    }
    struct copy_ctx c = {st, dt, dst, 0, dense_dst, {0}};
    for_each_run(src, copy_run, &c);
    return CQ_OK;
}

cq_tensor *cq_tensor_to(const cq_tensor *t, cq_dtype dt, cq_err *err)
{
    cq_tensor *out = cq_tensor_empty(dt, t->ndim, t->shape, err);
    if (!out)
        return NULL;
    if (cq_tensor_copy(out, t, err) != CQ_OK) {
        cq_tensor_release(out);
        return NULL;
    }
    return out;
}
