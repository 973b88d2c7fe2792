/*
 * npy.h - NumPy .npy files (format versions 1.0, 2.0 and 3.0).
 *
 * Reading accepts the dtypes calq has a twin for: f4 f2 i1 u1 i4 i8 b1, in
 * either byte order (big-endian data are swapped), C or Fortran order
 * (Fortran data are transposed into a dense C-order tensor). Anything else
 * (f8, structured dtypes, object arrays, pickles) is refused with a message
 * that names the file and the dtype. The header's shape is checked against
 * the file's size before anything is allocated.
 *
 * Writing produces little-endian C-order data with a version 1.0 header
 * (calq's headers are always short), padded to 64 bytes as NumPy does, to
 * PATH.tmp, fsync'd, renamed. Strided views are streamed out without a full
 * dense copy. bf16 has no NumPy dtype and is refused (convert to f32 first).
 *
 *     cq_err err;
 *     cq_tensor *t = cq_npy_read("x.npy", &err);
 *     if (!t || cq_npy_write("y.npy", t, &err) != CQ_OK)
 *         fprintf(stderr, "%s\n", err.msg);
 *     cq_tensor_release(t);
 */
#ifndef CQ_NPY_H
#define CQ_NPY_H

#include "base/status.h"
#include "base/tensor.h"

/* A new dense tensor with the file's contents (the caller releases it).
 * NULL and EIO / EFORMAT / EUNSUPPORTED / ENOMEM on failure. */
cq_tensor *cq_npy_read(const char *path, cq_err *err);

/* Write t (only read; any layout) to path. EUNSUPPORTED for bf16, EIO when
 * the system refuses; on failure path is left as it was. */
cq_status cq_npy_write(const char *path, const cq_tensor *t, cq_err *err);

#endif
