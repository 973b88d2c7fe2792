/* io_internal.h - helpers the tensor readers and writers (tfile, npy) share,
 * not for use outside core/io (tgather.c): copy a tensor of any layout out in
 * row-major order a piece at a time (so large strided views stream without a
 * full dense copy), and prefault a new tensor's memory before a reader fills
 * it. */
#ifndef CQ_IO_INTERNAL_H
#define CQ_IO_INTERNAL_H

#include "base/tensor.h"

typedef struct cq__gather {
    const cq_tensor *t;
    size_t esz;
    int64_t idx[CQ_MAX_DIMS]; /* index of the next element */
} cq__gather;

void cq__gather_init(cq__gather *g, const cq_tensor *t);
/* Copy the next n elements (n * element size bytes) into dst. The caller
 * never asks for more than the tensor has left. */
void cq__gather_next(cq__gather *g, void *dst, int64_t n);

/* Advise the kernel that the n bytes at data (a new tensor about to be filled
 * whole) are wanted now: transparent huge pages for the 2 MiB-aligned inside,
 * then one MADV_POPULATE_WRITE instead of a page fault per 4 KiB on first
 * touch. Measured on a 256 MiB read (bench/tfile.sh): first-touch faults
 * otherwise cost more than the lz4 decoding. Advice only; errors ignored;
 * a no-op below 1 MiB or where the system lacks these calls. */
void cq__prefault(void *data, size_t n);

#endif
