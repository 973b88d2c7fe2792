/* tio_util.h - helpers shared by test_tfile.c and test_npy.c: a seeded
 * generator, random tensors (dense or strided views) and exact comparison. */
#ifndef TIO_UTIL_H
#define TIO_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/tensor.h"

static uint64_t tio_state;
static inline void tio_seed(uint64_t s) { tio_state = s * 0x9e3779b97f4a7c15ull + 7; }
static inline uint64_t tio_u64(void)
{
    uint64_t x = tio_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    tio_state = x;
    return x * 0x2545f4914f6cdd1dull;
}
static inline int64_t tio_int(int64_t lo, int64_t hi)
{
    return lo + (int64_t)(tio_u64() % (uint64_t)(hi - lo + 1));
}

/* Dense tensor of random bits (bool gets 0/1). */
static inline cq_tensor *tio_random_dense(cq_dtype dt, int ndim, const int64_t *shape)
{
    cq_err err;
    cq_tensor *t = cq_tensor_empty(dt, ndim, shape, &err);
    if (!t)
        return NULL;
    unsigned char *p = cq_tensor_data(t);
    size_t n = cq_tensor_nbytes(t);
    for (size_t i = 0; i < n; i++)
        p[i] = dt == CQ_BOOL ? (unsigned char)(tio_u64() & 1) : (unsigned char)tio_u64();
    return t;
}

/* A random tensor of dtype dt: dense, or (half of the time) a transposed,
 * sliced or broadcast view of a random base. */
static inline cq_tensor *tio_random_tensor(cq_dtype dt, int maxdim, int64_t maxlen)
{
    cq_err err;
    int ndim = (int)tio_int(0, maxdim);
    int64_t shape[CQ_MAX_DIMS];
    for (int i = 0; i < ndim; i++)
        shape[i] = tio_int(i == 0 && tio_u64() % 10 == 0 ? 0 : 1, maxlen);
    cq_tensor *t = tio_random_dense(dt, ndim, shape);
    if (!t || ndim == 0 || tio_u64() % 2 == 0)
        return t;
    cq_tensor *v = NULL;
    switch (tio_u64() % 3) {
    case 0:
        v = cq_tensor_transpose(t, 0, ndim - 1, &err);
        break;
    case 1:
        v = cq_tensor_slice(t, (int)tio_int(0, ndim - 1), 1, INT64_MAX, 2, &err);
        break;
    default: {
        int64_t one[CQ_MAX_DIMS + 1], big[CQ_MAX_DIMS + 1];
        one[0] = 1;
        big[0] = 3;
        for (int i = 0; i < ndim; i++)
            one[i + 1] = big[i + 1] = shape[i];
        cq_tensor *u = ndim < CQ_MAX_DIMS ? cq_tensor_view(t, ndim + 1, one, &err) : NULL;
        v = u ? cq_tensor_expand(u, ndim + 1, big, &err) : NULL;
        cq_tensor_release(u);
    }
    }
    if (!v)
        return t;
    cq_tensor_release(t);
    return v;
}

/* Same dtype, shape and bytes (in row-major order). */
static inline int tio_equal(const cq_tensor *a, const cq_tensor *b)
{
    cq_err err;
    if (!cq_tensor_same_shape(a, b))
        return 0;
    cq_tensor *ca = cq_tensor_clone(a, &err), *cb = cq_tensor_clone(b, &err);
    int eq = ca && cb && memcmp(cq_tensor_data(ca), cq_tensor_data(cb), cq_tensor_nbytes(ca)) == 0;
    cq_tensor_release(ca);
    cq_tensor_release(cb);
    return eq;
}

/* A fresh temporary directory (removed by tio_rmdir): under $TMPDIR, else
 * /dev/shm when there is one (the writers fsync; on a disk that costs
 * seconds over a test run), else /tmp. */
static inline void tio_tmpdir(char *buf, size_t size, const char *tag)
{
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(buf, size, "%s/calq-%s-XXXXXX", base, tag);
    if (!mkdtemp(buf))
        buf[0] = '\0';
}

static inline void tio_rmdir(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

static inline unsigned char *tio_slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(len > 0 ? (size_t)len : 1);
    *n = buf ? fread(buf, 1, (size_t)len, f) : 0;
    fclose(f);
    return buf;
}

static inline int tio_spit(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t k = fwrite(p, 1, n, f);
    return fclose(f) == 0 && k == n ? 0 : -1;
}

#endif
