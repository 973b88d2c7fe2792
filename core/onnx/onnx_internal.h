/* onnx_internal.h - shared by onnx_read.c, onnx_tensor.c, onnx_write.c. */
#ifndef CQ_ONNX_INTERNAL_H
#define CQ_ONNX_INTERNAL_H

#include "onnx/onnx.h"
#include "onnx/pb.h"
#include "base/limits.h"

/* What a model read has used of its limits: the reader's cq_pb.ud. */
typedef struct cq__onnx_budget {
    cq_limits lim;
    uint64_t data_bytes;          /* constant data decoded so far */
} cq__onnx_budget;

/* A TensorProto as read. t is NULL when calq cannot hold it; unsupported
 * then says why (static string). */
typedef struct cq__onnx_tensor {
    char *name;
    int elem_type;
    int ndim;                     /* number of dims (may exceed CQ_MAX_DIMS) */
    int64_t dims[CQ_MAX_DIMS];
    cq_tensor *t;
    const char *unsupported;
} cq__onnx_tensor;

/* Read the TensorProto message m. EFORMAT on malformed data, EUNSUPPORTED on
 * external data or segments; a dtype calq lacks is not an error (t NULL).
 * ENOMEM, before allocating, for a tensor above the limits of m->ud (a
 * cq__onnx_budget, whose data_bytes it adds to; NULL: CQ_LIMITS_DEFAULT's
 * max_tensor_bytes). */
cq_status cq__onnx_read_tensor(cq_pb *m, cq__onnx_tensor *out);
void cq__onnx_tensor_clear(cq__onnx_tensor *ot);
/* Append t as TensorProto field num (name may be NULL). */
void cq__onnx_put_tensor(cq_pb_buf *b, uint32_t num, const cq_tensor *t, const char *name);

/* Whole file into a malloc'd buffer (EIO / ENOMEM naming path). */
cq_status cq__onnx_read_file(const char *path, uint8_t **buf, size_t *len, cq_err *err);
/* Write path.tmp, fsync, rename to path. */
cq_status cq__onnx_write_file(const char *path, const void *data, size_t len, cq_err *err);

extern const cq_pb_name cq__onnx_tensor_names[];

#endif
