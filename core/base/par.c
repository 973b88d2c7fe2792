/* par.c - the kernels' thread pool (see par.h).
 *
 * A region publishes (fn, ctx, n) and bumps a generation counter; each
 * worker that sees the new generation claims shares from an atomic counter
 * until none is left, then counts itself done. Workers spin on the
 * generation for SPIN_NS before sleeping on the condition variable, so the
 * back-to-back regions of a model run cost no wake-up; the caller spins on
 * the done count (regions last 10 us to a few ms). */
#include "base/par.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <immintrin.h>

#ifndef SPIN_NS
#define SPIN_NS 200000.0 /* a worker's spin before sleeping */
#endif

static int threads = 1;
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

void cq_par_set_threads(int n)
{
    threads = n < 1 ? 1 : n > CQ_PAR_MAX ? CQ_PAR_MAX : n;
}

int cq_par_threads(void) { return threads; }

void cq_par_run(int n, cq_par_fn fn, void *ctx)
{
    n = n < 1 ? 1 : n;
    int t = n < threads ? n : threads;
    if (t <= 1 || in_region) {
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
}
