/*
 * status.h - status codes and error records shared by every calq module.
 *
 * The C core never raises, aborts or exits on a recoverable error. A function
 * that can fail returns a cq_status (CQ_OK == 0), NULL or -1, and fills the
 * caller's cq_err with the code and a message that names the file, the place
 * and the problem:
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

/* The contract, for every calq function that takes a `cq_err *err`:
 *   - err is never NULL. The caller owns the record (usually on its stack);
 *     passing NULL is a programming error, not a way to ignore failures.
 *   - A call that fails always fills err: err->code is the code it returns
 *     (or the reason for its NULL / -1) and err->msg says what went wrong.
 *   - A call that succeeds may leave err untouched, so read err only after
 *     a failure. */

/* Name of a status code ("EINVAL", ...); never NULL. */
const char *cq_status_name(cq_status s);

/* Record code and a printf-style message in err and return code, so a failing
 * path reads: return cq_errf(err, CQ_EIO, "..."). A message longer than
 * CQ_ERR_MSG_MAX - 1 bytes is cut. */
cq_status cq_errf(cq_err *err, cq_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4), nonnull(1)))
#endif
    ;

/* Add context on the way out of a failure: code is the failure being passed
 * up (a callee's status, or err->code after a NULL return); the printf-style
 * prefix goes before the message the callee left in err ("model.onnx: " +
 * "node 12: ..."), err->code becomes code, and code is returned, so a failing
 * path reads: if (st) return cq_err_prefix(err, st, "%s: ", path).
 * Never returns CQ_OK: a code that is not a failure (CQ_OK, or outside the
 * enum) is a programming error, recorded in err and returned as CQ_ESTATE. */
cq_status cq_err_prefix(cq_err *err, cq_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4), nonnull(1)))
#endif
    ;

/* Set err to CQ_OK with an empty message. */
void cq_err_clear(cq_err *err)
#if defined(__GNUC__)
    __attribute__((nonnull(1)))
#endif
    ;

#endif
