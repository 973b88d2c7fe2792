/* kern_move.c - data movement on raw buffers (kern.h): the strided copy that
 * Slice, Split, Pad and Transpose run on, and a fill. */
#include "kern/kern_internal.h"

#include <string.h>

void cq_fill(size_t esize, const void *v, void *dst, int64_t n)
{
    char *d = dst;
    if (n <= 0)
        return;
    if (esize == 4) {
        uint32_t u;
        memcpy(&u, v, 4);
        uint32_t *p = dst;
        for (int64_t i = 0; i < n; i++)
            p[i] = u;
        return;
    }
    if (esize == 1) {
        memset(dst, *(const unsigned char *)v, (size_t)n);
        return;
    }
    /* doubling copies */
    memcpy(d, v, esize);
    size_t have = esize, total = (size_t)n * esize;
    while (have < total) {
        size_t k = have < total - have ? have : total - have;
        memcpy(d + have, d, k);
        have += k;
    }
}

/* The copy's dims after dropping size-1 dims and merging runs that are
 * contiguous on both sides; *nd 0 with total 1 is a single element; returns
 * the element count (0: nothing to copy). */
static int64_t merge_dims(int ndim, const int64_t *shape, const int64_t *ss, const int64_t *ds,
                          int *nd, int64_t *sh, int64_t *s, int64_t *d)
{
    int m = 0;
    int64_t total = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0)
            return 0;
        total *= shape[i];
        if (shape[i] == 1)
            continue;
        if (m > 0 && s[m - 1] == ss[i] * shape[i] && d[m - 1] == ds[i] * shape[i]) {
            sh[m - 1] *= shape[i];
            s[m - 1] = ss[i];
            d[m - 1] = ds[i];
            continue;
        }
        sh[m] = shape[i];
        s[m] = ss[i];
        d[m] = ds[i];
        m++;
    }
    *nd = m;
    return total;
}

void cq_copy_strided(size_t esize, int ndim, const int64_t *shape, const void *src,
                     const int64_t *src_stride, void *dst, const int64_t *dst_stride)
{
    int nd;
    int64_t sh[CQ_MAX_DIMS], s[CQ_MAX_DIMS], d[CQ_MAX_DIMS];
    if (ndim < 0 || ndim > CQ_MAX_DIMS ||
        !merge_dims(ndim, shape, src_stride, dst_stride, &nd, sh, s, d))
        return;
    const char *ps = src;
    char *pd = dst;
    if (nd == 0) {
        memcpy(pd, ps, esize);
        return;
    }
    int last = nd - 1;
    int64_t inner = sh[last], si = s[last], di = d[last];
    int contig = si == 1 && di == 1;
    size_t run = (size_t)inner * esize;
    int64_t idx[CQ_MAX_DIMS] = {0};
    int64_t so = 0, dof = 0; /* element offsets of the current run */
    for (;;) {
        if (contig) {
            memcpy(pd + dof * (int64_t)esize, ps + so * (int64_t)esize, run);
        } else if (esize == 4) {
            const uint32_t *a = (const uint32_t *)(const void *)(ps + so * 4);
            uint32_t *b = (uint32_t *)(void *)(pd + dof * 4);
            if (di == 1)
                for (int64_t i = 0; i < inner; i++, a += si)
                    b[i] = *a;
            else
                for (int64_t i = 0; i < inner; i++, a += si, b += di)
                    *b = *a;
        } else {
            const char *a = ps + so * (int64_t)esize;
            char *b = pd + dof * (int64_t)esize;
            for (int64_t i = 0; i < inner; i++, a += si * (int64_t)esize,
                         b += di * (int64_t)esize)
                memcpy(b, a, esize);
        }
        int k = last - 1;
        for (; k >= 0; k--) {
            so += s[k];
            dof += d[k];
            if (++idx[k] < sh[k])
                break;
            so -= s[k] * sh[k];
            dof -= d[k] * sh[k];
            idx[k] = 0;
        }
        if (k < 0)
            return;
    }
}

void cq_copy_strided_ref(size_t esize, int ndim, const int64_t *shape, const void *src,
                         const int64_t *src_stride, void *dst, const int64_t *dst_stride)
{
    int64_t total = 1, idx[CQ_MAX_DIMS] = {0};
    if (ndim < 0 || ndim > CQ_MAX_DIMS)
        return;
    for (int i = 0; i < ndim; i++)
        total *= shape[i] > 0 ? shape[i] : 0;
    for (int64_t t = 0; t < total; t++) {
        int64_t so = 0, dof = 0;
        for (int i = 0; i < ndim; i++) {
            so += idx[i] * src_stride[i];
            dof += idx[i] * dst_stride[i];
        }
        memcpy((char *)dst + dof * (int64_t)esize, (const char *)src + so * (int64_t)esize,
               esize);
        for (int i = ndim - 1; i >= 0; i--) {
            if (++idx[i] < shape[i])
                break;
            idx[i] = 0;
        }
    }
}
