/* par.c - the kernels' thread pool (see par.h).
 *
 * A region publishes (fn, ctx, n) and bumps a generation counter; each
 * worker that sees the new generation claims shares from an atomic counter
 * until none is left, then counts itself done. Workers spin on the
 * generation for SPIN_NS before sleeping on the condition variable, so the
 * back-to-back regions of a model run cost no wake-up; the caller spins on
 * the done count (regions last 10 us to a few ms).
 *
 * Host threads: the pool runs one region at a time. A region started while
 * another host thread's region holds the pool runs its shares on its own
 * thread (as a one-thread region does: results do not depend on it), so
 * two host threads never share the published job. The count is the
 * process's (cq_par_set_threads) unless the calling thread has its own
 * (cq_par_set_local_threads: the executor's runs). */
#include "base/par.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <immintrin.h>

#ifndef SPIN_NS
#define SPIN_NS 200000.0 /* a worker's spin before sleeping */
#endif

static atomic_int threads = 1;      /* the process's count */
static __thread int local_threads;  /* this thread's count, 0: the process's */
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER; /* one region at a time */
static int n_workers;                 /* started so far */
static pthread_t workers[CQ_PAR_MAX];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static atomic_uint gen;               /* bumped per region */
static atomic_int done;               /* shares finished in this region */
static unsigned start_gen[CQ_PAR_MAX]; /* gen when worker w was started */
static cq_par_fn job_fn;
static void *job_ctx;
static int job_threads;               /* threads taking part: workers below it claim shares */
static int job_n;                     /* shares */
static atomic_int next_share;         /* the next share to claim */
static __thread int in_region;        /* this thread is running a share */

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void *worker(void *arg)
{
    int w = (int)(intptr_t)arg;
    unsigned seen = start_gen[w];
    in_region = 1; /* a worker's own regions (nested) run serially */
    for (;;) {
        double t0 = now_ns();
        unsigned g;
        int spins = 0;
        while ((g = atomic_load_explicit(&gen, memory_order_acquire)) == seen) {
            _mm_pause();
            if (++spins % 256 == 0 && now_ns() - t0 > SPIN_NS) {
                pthread_mutex_lock(&mu);
                while ((g = atomic_load(&gen)) == seen)
                    pthread_cond_wait(&wake, &mu);
                pthread_mutex_unlock(&mu);
                break;
            }
        }
        seen = g;
        if (w < job_threads)
            for (int i; (i = atomic_fetch_add(&next_share, 1)) < job_n;)
                job_fn(job_ctx, i, job_n, w);
        atomic_fetch_add_explicit(&done, 1, memory_order_release);
    }
    return NULL;
}

static int clamp_threads(int n) { return n < 1 ? 1 : n > CQ_PAR_MAX ? CQ_PAR_MAX : n; }

void cq_par_set_threads(int n) { atomic_store_explicit(&threads, clamp_threads(n), memory_order_relaxed); }

int cq_par_set_local_threads(int n)
{
    int old = local_threads;
    local_threads = n > 0 ? clamp_threads(n) : 0;
    return old;
}

int cq_par_threads(void)
{
    return local_threads ? local_threads : atomic_load_explicit(&threads, memory_order_relaxed);
}

void cq_par_run(int n, cq_par_fn fn, void *ctx)
{
    n = n < 1 ? 1 : n;
    int nt = cq_par_threads();
    int t = n < nt ? n : nt;
    if (t <= 1 || in_region || pthread_mutex_trylock(&pool_mu) != 0) {
        for (int i = 0; i < n; i++)
            fn(ctx, i, n, 0);
        return;
    }
    /* workers 1 .. t - 1 (fewer if the system refuses a thread: the others
     * claim its shares) */
    while (n_workers < t - 1) {
        /* it waits for the generation after this one */
        start_gen[n_workers + 1] = atomic_load(&gen);
        if (pthread_create(&workers[n_workers + 1], NULL, worker,
                           (void *)(intptr_t)(n_workers + 1)))
            break;
        n_workers++;
    }
    int nw = n_workers < t - 1 ? n_workers : t - 1;
    pthread_mutex_lock(&mu);
    job_fn = fn;
    job_ctx = ctx;
    job_threads = 1 + nw;
    job_n = n;
    atomic_store(&next_share, 0);
    atomic_store(&done, 0);
    atomic_fetch_add_explicit(&gen, 1, memory_order_release);
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&mu);
    in_region = 1;
    for (int i; (i = atomic_fetch_add(&next_share, 1)) < n;)
        fn(ctx, i, n, 0);
    in_region = 0;
    /* every started worker counts itself, those past job_n too */
    while (atomic_load_explicit(&done, memory_order_acquire) < n_workers)
        _mm_pause();
    pthread_mutex_unlock(&pool_mu);
}
