/*
 * tfile.h - calq tensor files (".calq"): many named tensors and a string
 * metadata table in one file. The byte layout is in docs/formats.md.
 *
 * Each tensor's bytes are one LZ4 frame (with content size and content
 * checksum); the index (names, dtypes, shapes, offsets, metadata) sits at the
 * end, protected by a CRC-32. Writing streams each tensor through a 4 MiB
 * window (strided views are gathered piece by piece, never copied whole), to
 * PATH.tmp, fsync'd, then renamed over PATH: a crash leaves the old file.
 * Reading opens the index only; each tensor is decompressed straight into its
 * new storage on demand.
 *
 *     cq_err err;
 *     cq_tfile_writer *w = cq_tfile_create("stats.calq", &err);
 *     if (!w) return fail(&err);
 *     if (cq_tfile_add(w, "conv1.w", t, &err) != CQ_OK
 *         || cq_tfile_set_meta(w, "model", "blazeface", &err) != CQ_OK) {
 *         cq_tfile_abort(w);                         // removes stats.calq.tmp
 *         return fail(&err);
 *     }
 *     if (cq_tfile_close(w, &err) != CQ_OK)          // frees w in any case
 *         return fail(&err);
 *
 *     cq_tfile *r = cq_tfile_open("stats.calq", &err);
 *     cq_tensor *x = r ? cq_tfile_read_name(r, "conv1.w", &err) : NULL;
 *     const char *model = r ? cq_tfile_meta(r, "model") : NULL;
 *     ...
 *     cq_tensor_release(x);
 *     cq_tfile_free(r);
 *
 * Errors name the file, the tensor and the problem
 * ("x.calq: tensor 'conv1.w': payload checksum mismatch").
 */
#ifndef CQ_TFILE_H
#define CQ_TFILE_H

#include <stdint.h>
#include "base/status.h"
#include "base/tensor.h"

#define CQ_TFILE_VERSION 1
/* Longest tensor name (bytes, without the terminating NUL). */
#define CQ_TFILE_NAME_MAX 65535

/* ---- writing ----------------------------------------------------------- */

typedef struct cq_tfile_writer cq_tfile_writer;

/* Start writing PATH (through PATH.tmp). NULL and EIO / ENOMEM on failure. */
cq_tfile_writer *cq_tfile_create(const char *path, cq_err *err);
/* Append tensor t (any layout; views are fine) under name (non-empty, at most
 * CQ_TFILE_NAME_MAX bytes, unique in the file: EINVAL otherwise). t is only
 * read. After a failure other than EINVAL the writer is spoiled: later calls
 * fail with ESTATE and close reports the first error. */
cq_status cq_tfile_add(cq_tfile_writer *w, const char *name, const cq_tensor *t, cq_err *err);
/* Set metadata key to value (both copied; setting a key again replaces it). */
cq_status cq_tfile_set_meta(cq_tfile_writer *w, const char *key, const char *value, cq_err *err);
/* Write the index, fsync, rename PATH.tmp to PATH. Frees w whatever happens;
 * on failure PATH.tmp is removed and PATH is left as it was. */
cq_status cq_tfile_close(cq_tfile_writer *w, cq_err *err);
/* Give up: remove PATH.tmp, free w. NULL is a no-op. */
void cq_tfile_abort(cq_tfile_writer *w);

/* ---- reading ----------------------------------------------------------- */

typedef struct cq_tfile cq_tfile;

/* One tensor as the index describes it (owned by the cq_tfile). */
typedef struct cq_tfile_entry {
    const char *name;
    cq_dtype dtype;
    int ndim;
    int64_t shape[CQ_MAX_DIMS];
    size_t nbytes;      /* decompressed size */
    uint64_t offset;    /* of the LZ4 frame in the file */
    uint64_t csize;     /* bytes of the LZ4 frame */
} cq_tfile_entry;

/* Open PATH and check its header and index (payloads are checked when read).
 * NULL and EIO / EFORMAT / EUNSUPPORTED / ENOMEM on failure. */
cq_tfile *cq_tfile_open(const char *path, cq_err *err);
/* Close and free; NULL is a no-op. Tensors already read stay valid. */
void cq_tfile_free(cq_tfile *r);

int cq_tfile_count(const cq_tfile *r);
/* Entry i (0-based, in the order they were added); NULL when out of range. */
const cq_tfile_entry *cq_tfile_entry_at(const cq_tfile *r, int i);
/* Index of the tensor called name, or -1. */
int cq_tfile_find(const cq_tfile *r, const char *name);

int cq_tfile_meta_count(const cq_tfile *r);
/* Metadata pair i in file order (calq's writer sorts by key); CQ_ERANGE when out of range. Strings are
 * owned by r. */
cq_status cq_tfile_meta_at(const cq_tfile *r, int i, const char **key, const char **value);
/* Value of key, or NULL. Owned by r. */
const char *cq_tfile_meta(const cq_tfile *r, const char *key);

/* Tensor i as a new dense tensor (the caller releases it). NULL and ERANGE /
 * EIO / EFORMAT / ENOMEM on failure. Not thread-safe on one cq_tfile. */
cq_tensor *cq_tfile_read(cq_tfile *r, int i, cq_err *err);
/* Same, by name (ERANGE when there is no such tensor). */
cq_tensor *cq_tfile_read_name(cq_tfile *r, const char *name, cq_err *err);

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32): crc starts at 0. Exposed
 * for tests and tools. */
uint32_t cq_crc32(uint32_t crc, const void *data, size_t n);

#endif
