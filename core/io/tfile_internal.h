/* tfile_internal.h - byte layout shared by the tensor-file writer (tfile.c)
 * and reader (tfile_read.c), not for use outside core/io; the layout is
 * documented in docs/formats.md. */
#ifndef CQ_TFILE_INTERNAL_H
#define CQ_TFILE_INTERNAL_H

#include <stdint.h>
#include "base/tensor.h"

static const unsigned char CQ__TF_MAGIC[8] = {0x89, 'C', 'A', 'L', 'Q', 'T', 'F', '\n'};
static const unsigned char CQ__TF_FOOTER_MAGIC[4] = {'C', 'Q', 'I', 'X'};
#define HEADER_SIZE 16
#define FOOTER_SIZE 24
/* Bytes handed to lz4 at a time: a multiple of the 64 KiB LZ4 block size, so
 * compressUpdate works in place, without lz4 buffering a copy. */
#define CHUNK ((size_t)4 << 20)
/* One LZ4 block expands at most ~255x; a frame declaring more bytes than this
 * many times its compressed size is hostile (checked before allocating). */
#define MAX_RATIO 256

/* On-disk dtype codes: fixed here, not tied to the cq_dtype enum. */
static const cq_dtype cq__tf_dtypes[] = {CQ_F32, CQ_F16, CQ_BF16, CQ_S8,
                                         CQ_U8,  CQ_S32, CQ_S64,  CQ_BOOL};
#define NDISK_DTYPES ((int)(sizeof cq__tf_dtypes / sizeof cq__tf_dtypes[0]))

static inline void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static inline int host_is_little_endian(void)
{
    const uint16_t one = 1;
    return *(const unsigned char *)&one == 1;
}

#endif
