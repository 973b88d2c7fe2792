/*
 * tensor.h - calq's n-dimensional arrays.
 *
 * A cq_tensor is a view (dtype, shape, byte strides, byte offset) on a
 * refcounted cq_storage. Views made by reshape, slice, transpose, permute and
 * expand share the storage; cq_tensor_contiguous() makes a dense copy only when
 * one is needed. Data are 64-byte aligned. Every dtype is described by one
 * traits table (cq_dtype_info), so code that walks dtypes never switches on
 * them by hand.
 *
 * Ownership: every function that returns a cq_tensor * returns a new
 * reference that the caller must cq_tensor_release(); release(NULL) is a no-op.
 * Functions that fail return NULL (or a cq_status) and fill the cq_err.
 *
 *     cq_err err;
 *     int64_t shape[2] = {2, 3};
 *     cq_tensor *a = cq_tensor_new(CQ_F32, 2, shape, &err);     // zeroed
 *     cq_tensor *b = cq_tensor_transpose(a, 0, 1, &err);         // view, 3x2
 *     cq_tensor *c = cq_tensor_to(b, CQ_BF16, &err);             // dense copy
 *     cq_tensor_release(c); cq_tensor_release(b); cq_tensor_release(a);
 */
#ifndef CQ_TENSOR_H
#define CQ_TENSOR_H

#include <stddef.h>
#include <stdint.h>
#include "base/status.h"

#define CQ_MAX_DIMS 8
#define CQ_ALIGN 64

/* Tensors above this many bytes are refused (a hostile header must not make
 * calq try to allocate petabytes). */
#define CQ_TENSOR_MAX_BYTES ((size_t)1 << 40)

typedef enum cq_dtype {
    CQ_F32 = 0,
    CQ_F16,
    CQ_BF16,
    CQ_S8,
    CQ_U8,
    CQ_S32,
    CQ_S64,
    CQ_BOOL,
    CQ_DTYPE_COUNT
} cq_dtype;

typedef struct cq_dtype_traits {
    const char *name;      /* "f32", "bf16", "s8", ... */
    size_t size;           /* bytes per element */
    int onnx_type;         /* TensorProto.DataType */
    const char *npy_descr; /* "<f4", "<f2", "|i1", ... ; NULL where NumPy has none (bf16) */
    int is_float;
    int is_signed;
    /* n elements to / from f32; from_f32 rounds to nearest even and saturates. */
    void (*to_f32)(const void *src, float *dst, int64_t n);
    void (*from_f32)(const float *src, void *dst, int64_t n);
    /* One element to / from double (exact for every s64 up to 2^53). */
    double (*get)(const void *p);
    void (*set)(void *p, double v);
} cq_dtype_traits;

/* Traits of a dtype; NULL for an out-of-range value. */
const cq_dtype_traits *cq_dtype_info(cq_dtype dt);
/* "f32", "float32", "bf16", "int8", ...  -> dtype; returns 0 on success, -1 if unknown. */
int cq_dtype_from_name(const char *name, cq_dtype *out);
/* ONNX TensorProto.DataType -> dtype; -1 where calq has no such dtype. */
int cq_dtype_from_onnx(int onnx_type, cq_dtype *out);

typedef struct cq_storage {
    void *data;
    size_t nbytes;
    int refcount;
    /* How to give the bytes back: NULL means calq's allocator. */
    void (*free_fn)(void *data, void *ud);
    void *free_ud;
} cq_storage;

typedef struct cq_tensor {
    cq_storage *storage;
    size_t offset;                   /* bytes from storage->data to element 0 */
    cq_dtype dtype;
    int ndim;                        /* 0 is a scalar (one element) */
    int64_t shape[CQ_MAX_DIMS];
    int64_t stride[CQ_MAX_DIMS];     /* in bytes; 0 for a broadcast dimension */
    int refcount;
} cq_tensor;

/* ---- allocation -------------------------------------------------------- */

/* Replace the allocator used for tensor data (NULL, NULL restores the default
 * aligned malloc). alloc must return CQ_ALIGN-aligned memory or NULL. Not
 * thread-safe: set it once at start-up. */
void cq_set_allocator(void *(*alloc)(size_t size, void *ud), void (*release)(void *p, void *ud),
                      void *ud);
/* Aligned allocation through the hook; NULL on failure or size 0 beyond the limit. */
void *cq_alloc(size_t size);
/* Without a hook, a freed block of 1 MiB or more is kept (4 of them, 64 MiB
 * at most) for the next cq_alloc of its size: a run's large outputs reuse
 * the last run's pages instead of faulting in new ones (alloc.c). */
void cq_free(void *p);
/* Give the kept blocks back to the system. */
void cq_alloc_trim(void);

/* ---- life cycle -------------------------------------------------------- */

/* New dense tensor, zero-filled. NULL (ENOMEM / EINVAL) on failure. */
cq_tensor *cq_tensor_new(cq_dtype dt, int ndim, const int64_t *shape, cq_err *err);
/* Same, uninitialised bytes: for outputs that a kernel overwrites whole. */
cq_tensor *cq_tensor_empty(cq_dtype dt, int ndim, const int64_t *shape, cq_err *err);
/* Dense tensor over memory calq does not own; free_fn(data, ud) is called when
 * the last reference goes (free_fn may be NULL: the caller keeps the memory
 * alive longer than the tensor). */
cq_tensor *cq_tensor_wrap(cq_dtype dt, int ndim, const int64_t *shape, void *data,
                          void (*free_fn)(void *data, void *ud), void *ud, cq_err *err);
/* Scalar (ndim 0) holding v converted to dt. */
cq_tensor *cq_tensor_scalar(cq_dtype dt, double v, cq_err *err);
void cq_tensor_retain(cq_tensor *t);
void cq_tensor_release(cq_tensor *t);

/* ---- queries ----------------------------------------------------------- */

int64_t cq_tensor_numel(const cq_tensor *t);
size_t cq_tensor_nbytes(const cq_tensor *t); /* numel * element size */
int cq_tensor_is_contiguous(const cq_tensor *t);
static inline void *cq_tensor_data(const cq_tensor *t)
{
    return (char *)t->storage->data + t->offset;
}
/* Same dtype and shape. */
int cq_tensor_same_shape(const cq_tensor *a, const cq_tensor *b);
/* "f32[2,3]" into buf (always terminated); returns buf. */
char *cq_tensor_describe(const cq_tensor *t, char *buf, size_t size);
/* Byte offset of a full index (no bounds check). */
size_t cq_tensor_offset_of(const cq_tensor *t, const int64_t *idx);
/* Element at a full index as double; idx is checked: ERANGE on failure. */
cq_status cq_tensor_get(const cq_tensor *t, const int64_t *idx, double *out, cq_err *err);
cq_status cq_tensor_set(cq_tensor *t, const int64_t *idx, double v, cq_err *err);
/* Set every element to v. */
void cq_tensor_fill(cq_tensor *t, double v);

/* ---- views (share storage) --------------------------------------------- */

/* New shape with the same element count; one dim may be -1 (inferred). A view
 * when the strides allow it, otherwise EINVAL (call cq_tensor_contiguous
 * first, or use cq_tensor_reshape which copies when it must). */
cq_tensor *cq_tensor_view(cq_tensor *t, int ndim, const int64_t *shape, cq_err *err);
/* As view, but copies when the layout does not allow a view. */
cq_tensor *cq_tensor_reshape(cq_tensor *t, int ndim, const int64_t *shape, cq_err *err);
/* Elements start, start+step, ... < stop along dim (step >= 1; start/stop
 * clamped to [0, shape[dim]]; negative start/stop count from the end). */
cq_tensor *cq_tensor_slice(cq_tensor *t, int dim, int64_t start, int64_t stop, int64_t step,
                           cq_err *err);
cq_tensor *cq_tensor_transpose(cq_tensor *t, int d0, int d1, cq_err *err);
/* out dim i is t's dim perm[i]. */
cq_tensor *cq_tensor_permute(cq_tensor *t, const int *perm, cq_err *err);
/* Broadcast to shape (numpy rules, stride 0 on broadcast dims). */
cq_tensor *cq_tensor_expand(cq_tensor *t, int ndim, const int64_t *shape, cq_err *err);

/* ---- copies and conversions -------------------------------------------- */

/* t itself (retained) when dense, else a dense copy. */
cq_tensor *cq_tensor_contiguous(cq_tensor *t, cq_err *err);
/* Dense copy. */
cq_tensor *cq_tensor_clone(const cq_tensor *t, cq_err *err);
/* Copy src into dst (same shape; dtypes may differ: converted as cq_tensor_to). */
cq_status cq_tensor_copy(cq_tensor *dst, const cq_tensor *src, cq_err *err);
/* Dense copy converted to dt. Floats to bf16/f16 round to nearest even; floats
 * to integers round half to even and saturate; to bool is (x != 0). */
cq_tensor *cq_tensor_to(const cq_tensor *t, cq_dtype dt, cq_err *err);

/* ---- scalar conversions (exposed for kernels and tests) ---------------- */

uint16_t cq_f32_to_bf16(float f);
float cq_bf16_to_f32(uint16_t h);
uint16_t cq_f32_to_f16(float f);
float cq_f16_to_f32(uint16_t h);
/* Round half to even, saturating to [lo, hi]; NaN goes to 0. */
int32_t cq_round_sat(float x, int32_t lo, int32_t hi);

#endif
