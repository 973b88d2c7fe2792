/* alloc.c - tensor data allocation (tensor.h: cq_alloc, cq_free), with a
 * small cache of large blocks.
 *
 * A run hands its large graph outputs to the caller in new blocks (an
 * LRASPP's 8.6 MB logits, a U-Net's image). Blocks of 1 MiB and more come
 * from the system (the mmap threshold bindings/lcalq.c sets), each of their
 * pages a fault on its first write: 2100 of them, 3.4 ms, in the 0.7 ms
 * Resize that writes LRASPP's output; advised as 2 MiB pages they cost up
 * to 37 ms, the kernel compacting memory before each fault (its defrag
 * "madvise"; bench/NOTES.md). So a freed block of BIG_BYTES or more goes to
 * a cache of CACHE_BLOCKS blocks (CACHE_BYTES at most, the oldest given back
 * first; a larger block is given back at once), and an allocation of the
 * same rounded size takes it back with its pages mapped: a loop of runs
 * reuses the last outputs' pages. cq_alloc_trim gives the cache back. */
#include "base/tensor.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BIG_BYTES ((size_t)1 << 20)  /* the mmap threshold bindings/lcalq.c sets */
#define GRAIN ((size_t)64 << 10)     /* large sizes rounded to this, so near sizes share */
#define CACHE_BLOCKS 4
#define CACHE_BYTES ((size_t)64 << 20)

static void *(*alloc_hook)(size_t, void *);
static void (*free_hook)(void *, void *);
static void *hook_ud;

void cq_set_allocator(void *(*alloc)(size_t size, void *ud), void (*release)(void *p, void *ud),
                      void *ud)
{
    alloc_hook = alloc && release ? alloc : NULL;
    free_hook = alloc && release ? release : NULL;
    hook_ud = ud;
}

/* The large blocks given out (live) and kept (cache), under one lock. live
 * grows as needed; a block it cannot record is plain malloc memory, freed
 * as such. */
typedef struct blk {
    void *p;
    size_t size;
} blk;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static blk *live;
static int n_live, cap_live;
static blk cache[CACHE_BLOCKS];
static int n_cache;
static size_t cache_bytes;

static void *big_new(size_t big)
{
    void *p = NULL;
    if (posix_memalign(&p, CQ_ALIGN, big) != 0)
        return NULL;
    return p;
}

static void *big_alloc(size_t size)
{
    size_t big = (size + GRAIN - 1) / GRAIN * GRAIN;
    void *p = NULL;
    pthread_mutex_lock(&lock);
    for (int k = n_cache - 1; k >= 0; k--)
        if (cache[k].size == big) {
            p = cache[k].p;
            cache_bytes -= big;
            memmove(cache + k, cache + k + 1, (size_t)(n_cache - k - 1) * sizeof *cache);
            n_cache--;
            break;
        }
    if (n_live == cap_live) {
        int cap = cap_live ? 2 * cap_live : 16;
        blk *nl = realloc(live, (size_t)cap * sizeof *nl);
        if (nl) {
            live = nl;
            cap_live = cap;
        }
    }
    int record = n_live < cap_live;
    pthread_mutex_unlock(&lock);
    if (!p)
        p = big_new(big);
    if (p && record) {
        pthread_mutex_lock(&lock);
        if (n_live < cap_live)
            live[n_live++] = (blk){p, big};
        pthread_mutex_unlock(&lock);
    }
    return p;
}

/* 1 when p was a recorded large block: kept in the cache or freed. */
static int big_free(void *p)
{
    void *out[CACHE_BLOCKS + 1];
    int n_out = 0, found = 0;
    pthread_mutex_lock(&lock);
    for (int k = 0; k < n_live; k++)
        if (live[k].p == p) {
            blk b = live[k];
            live[k] = live[--n_live];
            found = 1;
            /* the oldest kept blocks go back to make room */
            while (n_cache > 0 &&
                   (n_cache == CACHE_BLOCKS || cache_bytes + b.size > CACHE_BYTES)) {
                out[n_out++] = cache[0].p;
                cache_bytes -= cache[0].size;
                memmove(cache, cache + 1, (size_t)(n_cache - 1) * sizeof *cache);
                n_cache--;
            }
            if (b.size <= CACHE_BYTES) {
                cache[n_cache++] = b;
                cache_bytes += b.size;
            } else {
                out[n_out++] = p;
            }
            break;
        }
    pthread_mutex_unlock(&lock);
    for (int k = 0; k < n_out; k++)
        free(out[k]);
    return found;
}

void cq_alloc_trim(void)
{
    pthread_mutex_lock(&lock);
    for (int k = 0; k < n_cache; k++)
        free(cache[k].p);
    n_cache = 0;
    cache_bytes = 0;
    if (n_live == 0) {
        free(live);
        live = NULL;
        cap_live = 0;
    }
    pthread_mutex_unlock(&lock);
}

void *cq_alloc(size_t size)
{
    if (size == 0)
        size = 1;
    if (size > CQ_TENSOR_MAX_BYTES)
        return NULL;
    if (alloc_hook)
        return alloc_hook(size, hook_ud);
    size = (size + CQ_ALIGN - 1) / CQ_ALIGN * CQ_ALIGN;
    if (size >= BIG_BYTES)
        return big_alloc(size);
    void *p = NULL;
    if (posix_memalign(&p, CQ_ALIGN, size) != 0)
        return NULL;
    return p;
}

void cq_free(void *p)
{
    if (!p)
        return;
    if (free_hook) {
        free_hook(p, hook_ud);
        return;
    }
    if (!big_free(p))
        free(p);
}
