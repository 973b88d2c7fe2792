/* tgather.h - internal: copy a tensor of any layout out in row-major order,
 * a piece at a time (for writers that stream large strided views without a
 * full dense copy). */
#ifndef CQ_TGATHER_H
#define CQ_TGATHER_H

#include "tensor.h"

typedef struct cq__gather {
    const cq_tensor *t;
    size_t esz;
    int64_t idx[CQ_MAX_DIMS]; /* index of the next element */
} cq__gather;

void cq__gather_init(cq__gather *g, const cq_tensor *t);
/* Copy the next n elements (n * element size bytes) into dst. The caller
 * never asks for more than the tensor has left. */
void cq__gather_next(cq__gather *g, void *dst, int64_t n);

#endif
