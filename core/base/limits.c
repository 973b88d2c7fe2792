/* limits.c - sizes checked without overflow (see limits.h). */
#include "base/limits.h"

#include <stdio.h>

cq_status cq_limits_check(const cq_limits *lim, cq_err *err)
{
    if (!lim)
        return CQ_OK;
    if (lim->max_tensor_bytes == 0 || lim->max_tensor_bytes > CQ_TENSOR_MAX_BYTES)
        return cq_errf(err, CQ_EINVAL, "limits: max_tensor_bytes %llu is not in 1..%llu",
                       (unsigned long long)lim->max_tensor_bytes,
                       (unsigned long long)CQ_TENSOR_MAX_BYTES);
    if (lim->max_model_bytes == 0 || lim->max_model_bytes > CQ_TENSOR_MAX_BYTES)
        return cq_errf(err, CQ_EINVAL, "limits: max_model_bytes %llu is not in 1..%llu",
                       (unsigned long long)lim->max_model_bytes,
                       (unsigned long long)CQ_TENSOR_MAX_BYTES);
    if (lim->max_nodes <= 0 || lim->max_nodes > (1 << 29))
        return cq_errf(err, CQ_EINVAL, "limits: max_nodes %lld is not in 1..%d",
                       (long long)lim->max_nodes, 1 << 29);
    return CQ_OK;
}

int cq_shape_bytes(cq_dtype dt, int ndim, const int64_t *shape, uint64_t *bytes)
{
    const cq_dtype_traits *tr = cq_dtype_info(dt);
    uint64_t b = tr ? tr->size : 1;
    int zero = 0;
    *bytes = UINT64_MAX;
    /* as cq_tensor_new sees it: the non-zero dimensions still size the
     * strides of a tensor holding nothing */
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0 || (shape[d] > 0 && b > CQ_TENSOR_MAX_BYTES / (uint64_t)shape[d]))
            return -1;
        if (shape[d] == 0)
            zero = 1;
        else
            b *= (uint64_t)shape[d];
    }
    *bytes = zero ? 0 : b;
    return 0;
}

const char *cq_shape_str(int ndim, const int64_t *shape, char *buf, size_t size)
{
    size_t pos = 0;
    if (!size)
        return buf;
    buf[0] = '\0';
    for (int d = 0; d <= ndim && pos < size; d++) {
        int w = d == ndim ? snprintf(buf + pos, size - pos, "]")
                          : snprintf(buf + pos, size - pos, "%s%lld", d ? ", " : "[",
                                     (long long)shape[d]);
        pos += w > 0 ? (size_t)w : 0;
    }
    if (ndim == 0 && pos < size)
        snprintf(buf, size, "[]");
    return buf;
}

const char *cq_shape_bytes_str(cq_dtype dt, int ndim, const int64_t *shape, char *buf,
                               size_t size)
{
    const cq_dtype_traits *tr = cq_dtype_info(dt);
    long double b = tr ? (long double)tr->size : 1; /* a 64-bit mantissa */
    for (int d = 0; d < ndim; d++)
        b *= (long double)shape[d];
    snprintf(buf, size, "%.0Lf", b);
    return buf;
}
