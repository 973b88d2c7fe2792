/* status.c - error records (see status.h). */
#include "base/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const status_names[CQ_STATUS_COUNT] = {
    "OK", "EINVAL", "ENOMEM", "EIO", "EFORMAT", "EUNSUPPORTED", "ERANGE", "ESTATE",
};

const char *cq_status_name(cq_status s)
{
    if ((int)s < 0 || s >= CQ_STATUS_COUNT)
        return "EUNKNOWN";
    return status_names[s];
}

cq_status cq_errf(cq_err *err, cq_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err->code = code;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

/* Put head before the message in err, cutting the result at CQ_ERR_MSG_MAX. */
static void prepend(cq_err *err, const char *head)
{
    char old[CQ_ERR_MSG_MAX];
    memcpy(old, err->msg, sizeof old);
    old[sizeof old - 1] = '\0';
    size_t hn = strlen(head);
    if (hn >= sizeof err->msg)
        hn = sizeof err->msg - 1;
    memcpy(err->msg, head, hn);
    size_t on = strlen(old);
    if (on > sizeof err->msg - 1 - hn)
        on = sizeof err->msg - 1 - hn;
    memcpy(err->msg + hn, old, on);
    err->msg[hn + on] = '\0';
}

cq_status cq_err_prefix(cq_err *err, cq_status code, const char *fmt, ...)
{
    char head[CQ_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    if (code <= CQ_OK || code >= CQ_STATUS_COUNT)
        return cq_errf(err, CQ_ESTATE, "%scq_err_prefix: status %d is not a failure (a "
                       "caller passed on a success as an error)", head, (int)code);
    err->code = code;
    prepend(err, head);
    return code;
}

void cq_err_clear(cq_err *err)
{
    err->code = CQ_OK;
    err->msg[0] = '\0';
}
