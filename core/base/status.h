/*
 * status.h - status codes and error records shared by every calq module.
 *
 * The C core never raises, aborts or exits on a recoverable error. A function
 * that can fail returns a cq_status (CQ_OK == 0) or NULL, and, when the caller
 * passed a non-NULL cq_err, fills it with the code and a message that names
 * the file, the place and the problem:
 *
 *     cq_err err;
 *     cq_tensor *t = cq_npy_read("x.npy", &err);
 *     if (!t) { fprintf(stderr, "%s\n", err.msg); return 1; }
 *
 * Only the Lua binding turns a status into a Lua error, and only after it has
 * released what C owned.
 */
#ifndef CQ_STATUS_H
#define CQ_STATUS_H

#include <stddef.h>

typedef enum cq_status {
    CQ_OK = 0,
    CQ_EINVAL,       /* bad argument from the caller (a programming error) */
    CQ_ENOMEM,       /* allocation failed or a size is beyond the limits */
    CQ_EIO,          /* the operating system refused a read or a write */
    CQ_EFORMAT,      /* a file or buffer is malformed, truncated or hostile */
    CQ_EUNSUPPORTED, /* well formed, but calq does not implement it */
    CQ_ERANGE,       /* index or value out of range */
    CQ_ESTATE,       /* an object was used in the wrong state */
    CQ_STATUS_COUNT
} cq_status;

#define CQ_ERR_MSG_MAX 1024

typedef struct cq_err {
    cq_status code;
    char msg[CQ_ERR_MSG_MAX];
} cq_err;

/* Name of a status code ("EINVAL", ...); never NULL. */
const char *cq_status_name(cq_status s);

/* Record an error in err (which may be NULL) with a printf-style message and
 * return code, so a failing path reads: return cq_errf(err, CQ_EIO, "...").
 * A message longer than CQ_ERR_MSG_MAX - 1 is cut. */
cq_status cq_errf(cq_err *err, cq_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Put prefix (printf-style) before the message already in err, for adding
 * context on the way out: "model.onnx: " + "node 12: ...". Returns err->code,
 * or CQ_OK when err is NULL. */
cq_status cq_err_prefix(cq_err *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Clear err (NULL is fine). */
void cq_err_clear(cq_err *err);

#endif
