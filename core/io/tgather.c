/* tgather.c - row-major piecewise copy-out of strided tensors (see io_internal.h). */
#include "io/io_internal.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

void cq__gather_init(cq__gather *g, const cq_tensor *t)
{
    memset(g, 0, sizeof *g);
    g->t = t;
    g->esz = cq_dtype_info(t->dtype)->size;
}

void cq__gather_next(cq__gather *g, void *dstv, int64_t n)
{
    const cq_tensor *t = g->t;
    unsigned char *dst = dstv;
    if (n <= 0)
        return;
    if (t->ndim == 0) {
        memcpy(dst, cq_tensor_data(t), g->esz);
        return;
    }
    int last = t->ndim - 1;
    while (n > 0) {
        const unsigned char *p =
            (const unsigned char *)t->storage->data + cq_tensor_offset_of(t, g->idx);
        int64_t run = t->shape[last] - g->idx[last];
        if (run > n)
            run = n;
        if (t->stride[last] == (int64_t)g->esz) {
            memcpy(dst, p, (size_t)run * g->esz);
        } else {
            for (int64_t i = 0; i < run; i++)
                memcpy(dst + (size_t)i * g->esz, p + i * t->stride[last], g->esz);
        }
        dst += (size_t)run * g->esz;
        n -= run;
        g->idx[last] += run;
        for (int d = last; d > 0 && g->idx[d] == t->shape[d]; d--) {
            g->idx[d] = 0;
            g->idx[d - 1]++;
        }
    }
}

void cq__prefault(void *data, size_t n)
{
    const uintptr_t page = 4096, huge = (uintptr_t)2 << 20;
    uintptr_t p = (uintptr_t)data;
    if (n < ((size_t)1 << 20))
        return;
#ifdef MADV_HUGEPAGE
    uintptr_t ha = (p + huge - 1) & ~(huge - 1), he = (p + n) & ~(huge - 1);
    if (he > ha)
        (void)madvise((void *)ha, he - ha, MADV_HUGEPAGE);
#endif
#ifdef MADV_POPULATE_WRITE
    uintptr_t a = (p + page - 1) & ~(page - 1), e = (p + n) & ~(page - 1);
    if (e > a)
        (void)madvise((void *)a, e - a, MADV_POPULATE_WRITE);
#endif
    (void)page;
    (void)huge;
    (void)p;
}
