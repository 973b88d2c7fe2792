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

#include <malloc.h>
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

/* The kept blocks, under one lock; a block's size is what glibc says it
 * holds (malloc_usable_size), so a free needs no table of the blocks given
 * out. */
typedef struct blk {
    void *p;
    size_t size;
} blk;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static blk cache[CACHE_BLOCKS];
static int n_cache;
static size_t cache_bytes;

static void *big_alloc(size_t size)
{
    size_t big = (size + GRAIN - 1) / GRAIN * GRAIN;
    void *p = NULL;
    pthread_mutex_lock(&lock);
    for (int k = n_cache - 1; k >= 0; k--)
        if (cache[k].size >= big && cache[k].size < big + GRAIN) {
            p = cache[k].p;
            cache_bytes -= cache[k].size;
            memmove(cache + k, cache + k + 1, (size_t)(n_cache - k - 1) * sizeof *cache);
            n_cache--;
            break;
        }
    pthread_mutex_unlock(&lock);
    if (!p && posix_memalign(&p, CQ_ALIGN, big) != 0)
        return NULL;
    return p;
}

/* p, of size bytes, kept (the oldest kept blocks given back to make room)
 * or given back when over the budget. */
static void big_free(void *p, size_t size)
{
    void *out[CACHE_BLOCKS + 1];
    int n_out = 0;
    pthread_mutex_lock(&lock);
    if (size > CACHE_BYTES) {
        out[n_out++] = p;
    } else {
        while (n_cache > 0 && (n_cache == CACHE_BLOCKS || cache_bytes + size > CACHE_BYTES)) {
            out[n_out++] = cache[0].p;
            cache_bytes -= cache[0].size;
            memmove(cache, cache + 1, (size_t)(n_cache - 1) * sizeof *cache);
            n_cache--;
        }
        cache[n_cache++] = (blk){p, size};
        cache_bytes += size;
    }
    pthread_mutex_unlock(&lock);
    for (int k = 0; k < n_out; k++)
        free(out[k]);
}

/* The kept blocks go back when the library is unloaded (a Lua host's
 * lua_close dlcloses the calq module, which holds this cache: its blocks
 * would be lost, a leak) and at exit. */
static void trim_at_unload(void) __attribute__((destructor));
static void trim_at_unload(void)
{
    cq_alloc_trim();
}

void cq_alloc_trim(void)
{
    pthread_mutex_lock(&lock);
    for (int k = 0; k < n_cache; k++)
        free(cache[k].p);
    n_cache = 0;
    cache_bytes = 0;
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
    size_t size = malloc_usable_size(p);
    if (size >= BIG_BYTES)
        big_free(p, size);
    else
        free(p);
}
