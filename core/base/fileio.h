/*
 * fileio.h - writing a whole file so that a crash never leaves a torn one.
 *
 *     cq_err err;
 *     if (cq_write_atomic("out/list.txt", text, strlen(text), &err) != CQ_OK)
 *         fprintf(stderr, "%s\n", err.msg);
 *
 * The bytes go to PATH.tmp (created or truncated, mode 0644), which is
 * fsync'd, closed and renamed over PATH; then PATH's folder is fsync'd so
 * that the rename itself survives a power cut. A process killed at any point
 * leaves PATH as it was (the old file, or none) or complete; what it may
 * leave is PATH.tmp, which the next write of PATH replaces (every calq
 * writer uses the same PATH.tmp name: docs/reliability.md). On failure
 * (EIO: a full disk, a read-only folder...) PATH.tmp is removed and the
 * message names the file and the reason.
 */
#ifndef CQ_FILEIO_H
#define CQ_FILEIO_H

#include <stddef.h>
#include "base/status.h"

cq_status cq_write_atomic(const char *path, const void *data, size_t len, cq_err *err);
/* fsync the folder holding path, after a rename into it (the other writers:
 * tfile, npy, ONNX). Failures are ignored: some file systems refuse to fsync
 * a folder, and the file itself is complete either way. */
void cq_sync_dir(const char *path);

#endif
