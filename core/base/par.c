/* par.c - the kernels' thread pool (see par.h).
 *
 * A region publishes (fn, ctx, n) and bumps a generation counter; each
 * worker that sees the new generation claims shares until none is left.
 * A claim is a compare-and-swap on one word holding the generation and the
 * shares claimed, so a worker that wakes late (the host descheduled it)
 * claims nothing from a region that is over or from the next one's first
 * shares by mistake; once the region is over the caller closes the word
 * (CLOSED) before the next region changes the job, so a worker that read
 * the word at the region's end cannot claim one share more with the next
 * region's count. Up to MASK_SHARES shares the word holds the set claimed,
 * and thread t takes shares t, t + threads, ... before any other: share i
 * then runs on the same core region after region, so a convolution reads
 * the part of its input that the one before wrote into that core's cache
 * (with the next share taken from a counter the worker, spinning, took
 * share 0 before the caller in 7 % of MobileNetV2's two-share regions, 1.5 %
 * with the set: bench/NOTES.md). More shares go by the counter. The caller claims shares too and then waits
 * only for the shares claimed to be done, not for every worker to look
 * in: before, each region waited for a descheduled worker to wake and
 * count itself, even when the caller had run every share (on a loaded host
 * that is a scheduler slice per region). Workers spin on the generation
 * for SPIN_NS before sleeping on the condition variable, so the
 * back-to-back regions of a model run cost no wake-up (regions last 10 us
 * to a few ms).
 *
 * Host threads: the pool runs one region at a time. A region started while
 * another host thread's region holds the pool runs its shares on its own
 * thread (as a one-thread region does: results do not depend on it), so
 * two host threads never share the published job. The count is the
 * process's (cq_par_set_threads) unless the calling thread has its own
 * (cq_par_set_local_threads: the executor's runs).
 *
 * Stopping: cq_par_stop (and the library's destructor, which runs at exit or
 * when the Lua module is unloaded) wakes the workers with the stop flag set
 * and joins them. Left running, a worker spinning when lua_close dlcloses
 * the module would run unmapped code, and under LeakSanitizer the check at
 * exit scans the live workers' dynamic TLS, which gcc 12's runtime can
 * record with a wrong range (bench/NOTES.md, docs/reliability.md). A forked
 * child has no workers: the fork handler forgets the parent's.
 *
 * Signals: workers block the asynchronous ones (cq_par_thread_create).
 * The calq command's SIGINT handler calls lua_sethook on its lua_State,
 * which walks that state's CallInfo list: safe on the thread running the
 * state (Lua's own lua.c does it), a data race on any other thread. */
#include "base/par.h"

#include <pthread.h>
#include <signal.h>
#include <stddef.h>
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
static cq_par_fn job_fn;              /* read only by a thread holding a claimed share */
static void *job_ctx;
static atomic_int job_threads;        /* threads taking part: workers below it claim shares */
static atomic_int job_n;              /* shares */
/* gen << 32 | the shares claimed: with n <= MASK_SHARES a set (bit i:
 * share i), else the next share to claim. CLOSED once the region is over:
 * every share claimed, and an index past any job_n. */
static _Atomic uint64_t claim;
#define MASK_SHARES 31
#define CLOSED 0xffffffffu
static __thread int in_region;        /* this thread is running a share */
static atomic_int stopping;           /* set while cq_par_stop ends the workers */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* The share thread tid of nt claims next in a region of n <= MASK_SHARES
 * shares whose claimed set is mask (bit i: share i): its own first, i = tid,
 * tid + nt, ..., then any other (a thread the host has descheduled leaves
 * its shares to the others); -1 when every share is claimed. */
static int pick(uint32_t mask, int n, int tid, int nt)
{
    for (int i = tid; i < n; i += nt)
        if (!(mask >> i & 1u))
            return i;
    for (int i = 0; i < n; i++)
        if (!(mask >> i & 1u))
            return i;
    return -1;
}

/* Claims and runs shares of region g until none is left (or the region is
 * no longer g); thread tid of nt. Each share counts itself done after it
 * ran. */
static void run_shares(unsigned g, int tid, int nt)
{
    for (;;) {
        uint64_t c = atomic_load_explicit(&claim, memory_order_acquire);
        if ((unsigned)(c >> 32) != g)
            return;
        /* acquire: a job_n of the next region comes after this region's
         * close (cq_par_run), so the compare-and-swap below fails */
        int n = atomic_load_explicit(&job_n, memory_order_acquire), i;
        uint64_t next;
        if (n <= MASK_SHARES) {
            i = pick((uint32_t)c, n, tid, nt);
            if (i < 0)
                return;
            next = c | (uint64_t)1u << i;
        } else {
            if ((uint32_t)c >= (uint32_t)n)
                return;
            i = (int)(uint32_t)c;
            next = c + 1;
        }
        if (!atomic_compare_exchange_weak_explicit(&claim, &c, next, memory_order_acq_rel,
                                                   memory_order_relaxed))
            continue;
        /* share i of region g is ours: the region, its job included, lasts
         * until it is done */
        job_fn(job_ctx, i, n, tid);
        atomic_fetch_add_explicit(&done, 1, memory_order_release);
    }
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
        if (atomic_load(&stopping))
            return NULL;
        if (w < atomic_load_explicit(&job_threads, memory_order_relaxed))
            run_shares(g, w, atomic_load_explicit(&job_threads, memory_order_relaxed));
    }
    return NULL;
}

/* In a forked child only the forking thread exists: no workers, and the
 * locks as they were when nobody held them (the forking thread is not in a
 * region of its own: a share does not fork; another host thread's region
 * or cq_par_stop may have held them, and that thread is not in the child).
 * The stop flag is cleared too: set by a cq_par_stop running in another
 * thread at the fork, it would end each worker the child starts. */
static void at_fork_child(void)
{
    n_workers = 0;
    atomic_store(&stopping, 0);
    pthread_mutex_init(&pool_mu, NULL);
    pthread_mutex_init(&mu, NULL);
    pthread_cond_init(&wake, NULL);
}

static void at_fork_register(void) { pthread_atfork(NULL, NULL, at_fork_child); }

int cq_par_stop(void)
{
    if (pthread_mutex_trylock(&pool_mu) != 0)
        return -1;
    if (n_workers > 0) {
        /* no region runs (we hold the pool): each worker spins or sleeps on
         * the generation; a new one with the flag set ends it */
        atomic_store(&stopping, 1);
        pthread_mutex_lock(&mu);
        atomic_fetch_add(&gen, 1u);
        pthread_cond_broadcast(&wake);
        pthread_mutex_unlock(&mu);
        for (int w = 1; w <= n_workers; w++)
            pthread_join(workers[w], NULL);
        n_workers = 0;
        atomic_store(&stopping, 0);
    }
    pthread_mutex_unlock(&pool_mu);
    return 0;
}

/* At exit (the calq command, a program linking libcalq.a) or when the
 * shared object is unloaded (libcalq.so, the Lua module at lua_close). */
__attribute__((destructor)) static void par_fini(void) { (void)cq_par_stop(); }

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

int cq_par_thread_create(pthread_t *t, void *(*fn)(void *), void *arg)
{
    /* the asynchronous ones: a fault (SIGSEGV, SIGBUS, SIGFPE, SIGILL, and
     * the sanitizers' reports through them) still goes to its thread */
    sigset_t all, old;
    sigfillset(&all);
    const int sync[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT};
    for (size_t k = 0; k < sizeof sync / sizeof sync[0]; k++)
        sigdelset(&all, sync[k]);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(t, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
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
    pthread_once(&atfork_once, at_fork_register);
    /* workers 1 .. t - 1 (fewer if the system refuses a thread: the others
     * claim its shares) */
    while (n_workers < t - 1) {
        /* it waits for the generation after this one */
        start_gen[n_workers + 1] = atomic_load(&gen);
        if (cq_par_thread_create(&workers[n_workers + 1], worker,
                                 (void *)(intptr_t)(n_workers + 1)))
            break;
        n_workers++;
    }
    int nw = n_workers < t - 1 ? n_workers : t - 1;
    /* the job, then the claim word of the new generation, then the
     * generation itself (a worker that sees it sees the rest) */
    unsigned g = atomic_load(&gen) + 1u;
    job_fn = fn;
    job_ctx = ctx;
    atomic_store(&job_threads, 1 + nw);
    atomic_store(&job_n, n);
    atomic_store(&done, 0);
    atomic_store_explicit(&claim, (uint64_t)g << 32, memory_order_release);
    pthread_mutex_lock(&mu);
    atomic_store_explicit(&gen, g, memory_order_release);
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&mu);
    in_region = 1;
    run_shares(g, 0, 1 + nw);
    in_region = 0;
    /* the shares the workers claimed (every claim is of this region) */
    while (atomic_load_explicit(&done, memory_order_acquire) < n)
        _mm_pause();
    /* close the region (share index CLOSED, never below a job_n) before
     * the next one writes its job. Before, a worker still in run_shares(g)
     * could read the word at (g, n), then the next region's larger job_n,
     * and claim share n with a compare-and-swap the unchanged word let
     * through: it ran that share of the next region a second time and
     * counted it done, so the caller could return with a share still
     * running (test_par; the residual add split in place added the
     * residual twice: bench/NOTES.md). */
    atomic_store_explicit(&claim, (uint64_t)g << 32 | CLOSED, memory_order_release);
    pthread_mutex_unlock(&pool_mu);
}
