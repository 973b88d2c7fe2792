/*
 * idx.h - the idx format of MNIST and Fashion-MNIST, plain or gzip'ed, read in
 * batches of items.
 *
 * An idx file is a 4-byte magic (0, 0, type, rank), rank big-endian uint32
 * dimensions, then the data, big-endian, C order. The first dimension counts
 * the items (images, labels); an item is everything after it. The type byte
 * gives the element type, read into calq's dtypes:
 *
 *     0x08 unsigned byte -> u8      0x0C int32   -> s32
 *     0x09 signed byte   -> s8      0x0D float32 -> f32
 *     0x0B int16         -> s32 (widened, exact)
 *     0x0E float64 is refused (EUNSUPPORTED: calq has no f64).
 *
 * Files are read through zlib's gz* functions, so FILE.gz and an already
 * decompressed FILE are read the same way. The reader streams: it holds the
 * header and one zlib stream, never the whole payload, and each read returns
 * the next n items as a new tensor [n, d1, ...].
 *
 * Bad input fails with a message naming the file and the place: a wrong magic
 * or type byte (byte 0..3), a rank of 0 or above CQ_MAX_DIMS, a payload above
 * CQ_TENSOR_MAX_BYTES, data that end before the last item ("truncated at item
 * k"), bytes after the last item, or a damaged gzip stream (zlib's message).
 *
 *     cq_err err;
 *     cq_idx *r = cq_idx_open("t10k-images-idx3-ubyte.gz", &err);
 *     if (!r) { fprintf(stderr, "%s\n", err.msg); return 1; }
 *     while (cq_idx_tell(r) < cq_idx_count(r)) {
 *         int64_t n = cq_idx_count(r) - cq_idx_tell(r);
 *         cq_tensor *batch = cq_idx_read(r, n < 500 ? n : 500, &err); // u8 [n, 28, 28]
 *         if (!batch) break;
 *         ...
 *         cq_tensor_release(batch);
 *     }
 *     cq_idx_close(r);
 */
#ifndef CQ_IDX_H
#define CQ_IDX_H

#include <stdint.h>
#include "base/status.h"
#include "base/tensor.h"

typedef struct cq_idx cq_idx;

/* Open path and read its header. Returns a new reader (cq_idx_close frees it)
 * or NULL: EIO (cannot open), EFORMAT (bad header), EUNSUPPORTED (float64),
 * ENOMEM. */
cq_idx *cq_idx_open(const char *path, cq_err *err);

/* The file's dtype (as read: s16 data come as s32), rank and dimensions
 * (shape[0] is the item count; shape has cq_idx_ndim() entries). */
cq_dtype cq_idx_dtype(const cq_idx *r);
int cq_idx_ndim(const cq_idx *r);
const int64_t *cq_idx_shape(const cq_idx *r);
/* Items in the file, and the 0-based item the next read starts at. */
int64_t cq_idx_count(const cq_idx *r);
int64_t cq_idx_tell(const cq_idx *r);

/* Move to item (0 <= item <= count). Going back rewinds a gzip stream and
 * decompresses again from the start. ERANGE, EFORMAT (truncated), EIO. */
cq_status cq_idx_seek(cq_idx *r, int64_t item, cq_err *err);

/* The next n items (1 <= n <= count - tell) as a new dense tensor
 * [n, d1, ...] (the caller releases it). Reading the last item also checks
 * that nothing follows it. NULL and ERANGE (n out of range), EFORMAT
 * (truncated, trailing bytes, damaged stream), EIO or ENOMEM; after a
 * failure the position is unspecified (seek before reading again). */
cq_tensor *cq_idx_read(cq_idx *r, int64_t n, cq_err *err);

/* Close the file and free the reader; NULL is a no-op. */
void cq_idx_close(cq_idx *r);

/* Items first .. first + n - 1 of path in one call (n < 0: to the end).
 * Same failures as cq_idx_open and cq_idx_read (ERANGE when the range leaves
 * the file). */
cq_tensor *cq_idx_read_file(const char *path, int64_t first, int64_t n, cq_err *err);

#endif
