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

/* Rows (indices along the first dimension) a few at a time, for files too
 * large to hold: the header is read and checked against the file's size at
 * open, then each call reads only the rows it asks for. C-ordered files
 * only (EUNSUPPORTED for Fortran order with more than one row).
 *
 *     cq_npy_reader *r = cq_npy_open("inputs.npy", &err);
 *     int64_t shape[CQ_MAX_DIMS]; cq_dtype dt;
 *     int nd = r ? cq_npy_shape(r, &dt, shape) : -1;
 *     for (int64_t i = 0; i < shape[0]; i += 32) {
 *         int64_t n = shape[0] - i < 32 ? shape[0] - i : 32;
 *         cq_tensor *x = cq_npy_read_rows(r, i, n, 1, &err);   // shape (n, ...)
 *         ...
 *         cq_tensor_release(x);
 *     }
 *     cq_npy_close(r);
 */
typedef struct cq_npy_reader cq_npy_reader;

/* NULL and EIO / EFORMAT (also for a 0-d array) / EUNSUPPORTED / ENOMEM. */
cq_npy_reader *cq_npy_open(const char *path, cq_err *err);
/* NULL is a no-op. */
void cq_npy_close(cq_npy_reader *r);
/* The file's dtype and shape (CQ_MAX_DIMS entries); returns the rank. */
int cq_npy_shape(const cq_npy_reader *r, cq_dtype *dtype, int64_t *shape);
/* Rows first, first + step, ..., count of them (step 1: consecutive) as a
 * new dense tensor of shape (count, ...). NULL and ERANGE (a row outside
 * the file; count, step >= 1) / EIO / EFORMAT (the file shrank) / ENOMEM. */
cq_tensor *cq_npy_read_rows(cq_npy_reader *r, int64_t first, int64_t count, int64_t step,
                            cq_err *err);

/* Write t (only read; any layout) to path. EUNSUPPORTED for bf16, EIO when
 * the system refuses; on failure path is left as it was. */
cq_status cq_npy_write(const char *path, const cq_tensor *t, cq_err *err);

#endif
