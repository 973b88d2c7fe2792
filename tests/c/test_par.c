/* test_par.c - the thread pool's life cycle: cq_par_stop ends and joins the
 * workers (the process is back to one thread) and the next region starts
 * them again; it refuses while a region holds the pool; a forked child
 * forgets the parent's workers and runs regions with its own. And its
 * regions: every share runs once, on a thread below the count, and is over
 * when cq_par_run returns, across back-to-back regions whose share counts
 * change (the case that ran a share twice before the claim word was closed
 * at a region's end; bench/NOTES.md, issue 14); one thread, or a region
 * inside a region, runs the shares in order on the calling thread. Under
 * ThreadSanitizer the fork case is skipped (it does not follow a forked
 * child's threads). Workers block the asynchronous signals (a host's
 * SIGINT handler must run on a host thread) but not the faults. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/par.h"

#define N_SHARES 64

typedef struct {
    atomic_int runs[N_SHARES];
    atomic_int stop_rc; /* what cq_par_stop returned inside share 0 */
    int call_stop;
} job;

static void share(void *ctx, int i, int n, int tid)
{
    job *j = ctx;
    (void)n;
    (void)tid;
    atomic_fetch_add(&j->runs[i], 1);
    if (i == 0 && j->call_stop)
        atomic_store(&j->stop_rc, cq_par_stop());
}

/* One region of N_SHARES shares; 1 if each ran exactly once. */
static int region_ok(int call_stop, int *stop_rc)
{
    job j;
    memset(&j, 0, sizeof j);
    j.call_stop = call_stop;
    atomic_store(&j.stop_rc, 99);
    cq_par_run(N_SHARES, share, &j);
    if (stop_rc)
        *stop_rc = atomic_load(&j.stop_rc);
    for (int i = 0; i < N_SHARES; i++)
        if (atomic_load(&j.runs[i]) != 1)
            return 0;
    return 1;
}

/* The process's thread count (/proc/self/status), -1 if unknown. OpenBLAS,
 * linked in, may have threads of its own: the tests count from a base. */
static int threads_now(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1)
            break;
    fclose(f);
    return n;
}

/* The thread count once it is want, or what it is after 2 s: a joined
 * thread can still be counted for a moment after pthread_join returns (the
 * kernel releases it from the thread group a little later). */
static int threads_settle(int want)
{
    int n = threads_now();
    for (int i = 0; i < 2000 && n != want; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
        n = threads_now();
    }
    return n;
}

/* ThreadSanitizer's runtime starts a thread of its own along with the
 * process's second one (make tsan): the counts start after a first region. */
#if defined(__SANITIZE_THREAD__)
#define RUNTIME_THREADS 1
#else
#define RUNTIME_THREADS 0
#endif

static void test_par_stop_joins_and_restarts(void **state)
{
    (void)state;
    assert_int_equal(cq_par_stop(), 0);
    int first = threads_now();
    assert_true(first >= 1);
    cq_par_set_threads(2);
    assert_true(region_ok(0, NULL));
    assert_int_equal(cq_par_stop(), 0);
    int base = threads_settle(first + RUNTIME_THREADS);
    assert_int_equal(base, first + RUNTIME_THREADS);
    cq_par_set_threads(3);
    assert_true(region_ok(0, NULL));
    assert_int_equal(threads_settle(base + 2), base + 2); /* two workers */
    assert_int_equal(cq_par_stop(), 0);
    assert_int_equal(threads_settle(base), base);
    assert_int_equal(cq_par_stop(), 0); /* nothing to stop */
    for (int k = 0; k < 20; k++) {
        assert_true(region_ok(0, NULL));
        if (k % 5 == 4)
            assert_int_equal(cq_par_stop(), 0);
    }
    assert_int_equal(threads_settle(base), base);
    assert_true(region_ok(0, NULL));
    assert_int_equal(threads_settle(base + 2), base + 2);
    cq_par_set_threads(1);
}

static void test_par_stop_refused_in_region(void **state)
{
    (void)state;
    int rc;
    cq_par_set_threads(2);
    assert_true(region_ok(1, &rc));
    assert_int_equal(rc, -1);
    assert_int_equal(cq_par_stop(), 0);
    cq_par_set_threads(1);
}

static void test_par_fork_child_has_no_workers(void **state)
{
    (void)state;
#if defined(__SANITIZE_THREAD__)
    /* ThreadSanitizer does not follow threads started in the child of a
     * process that had threads: it exits (66), or with die_after_fork=0
     * reports "dup thread with used id" when a child's worker gets the id a
     * parent's had. make test and make asan run this case. */
    skip();
#endif
    cq_par_set_threads(3);
    assert_true(region_ok(0, NULL));
    /* (OpenBLAS ends its own threads before a fork: counts only in the child) */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* the child: only the forking thread, then its own workers, stopped
         * and joined */
        int ok = threads_now() == 1 && region_ok(0, NULL) && threads_settle(3) == 3 &&
                 cq_par_stop() == 0 && threads_settle(1) == 1;
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_true(region_ok(0, NULL));
    assert_int_equal(cq_par_stop(), 0);
    cq_par_set_threads(1);
}

/* A region's record: how many times each share ran. */
typedef struct count_job {
    atomic_int runs[CQ_PAR_MAX];
    int threads;
} count_job;

static atomic_int bad_args; /* shares run with a tid at or above the count, or i >= n */

static void count_part(void *ctx, int i, int n, int tid)
{
    count_job *c = ctx;
    if (tid < 0 || tid >= c->threads || n < 1 || i >= n)
        atomic_fetch_add_explicit(&bad_args, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->runs[i], 1, memory_order_relaxed);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define BATCH 256

/* Regions of lo, lo + 1, .. hi shares in turn at `threads` threads for
 * `seconds` (at least min_regions); returns the shares that did not run
 * exactly once. Each region of a batch has its own record, checked after
 * the batch, so the regions follow each other as closely as a model's
 * convolutions do. The race this catches needs a worker late by about the
 * time between two regions: a few in a million regions on a loaded 2-CPU
 * host (more threads than CPUs helps), so it runs many. */
static long run_regions(int threads, int lo, int hi, double seconds, long min_regions)
{
    static count_job jobs[BATCH]; /* static: a late share must not write a dead frame */
    cq_par_set_threads(threads);
    atomic_store(&bad_args, 0);
    long bad = 0, regions = 0;
    double t0 = now_s();
    while (regions < min_regions || now_s() - t0 < seconds) {
        for (int k = 0; k < BATCH; k++) {
            for (int i = 0; i < CQ_PAR_MAX; i++)
                atomic_store_explicit(&jobs[k].runs[i], 0, memory_order_relaxed);
            jobs[k].threads = threads;
        }
        for (int k = 0; k < BATCH; k++)
            cq_par_run(lo + (int)((regions + k) % (hi - lo + 1)), count_part, &jobs[k]);
        for (int k = 0; k < BATCH; k++, regions++) {
            int n = lo + (int)(regions % (hi - lo + 1));
            for (int i = 0; i < CQ_PAR_MAX; i++)
                bad += atomic_load_explicit(&jobs[k].runs[i], memory_order_relaxed) != (i < n);
        }
    }
    cq_par_set_threads(1);
    print_message("threads %d, shares %d..%d: %ld regions, %ld shares not run once\n", threads,
                  lo, hi, regions, bad);
    return bad + atomic_load(&bad_args);
}

static void test_par_shares_once(void **state)
{
    (void)state;
    /* the share count going up by one from region to region (2 -> 3 at 3
     * threads: the fp32 residual add after a two-share conv), and many
     * threads on few CPUs */
    assert_int_equal(run_regions(3, 2, 3, 0.5, 20000), 0);
    assert_int_equal(run_regions(8, 7, 8, 0.5, 20000), 0);
    assert_int_equal(run_regions(8, 2, 8, 0.5, 20000), 0);
    /* up to 31 shares are claimed as a set (each thread its own first),
     * more through a counter: regions switching between the two */
    assert_int_equal(run_regions(3, 29, 34, 0.3, 5000), 0);
}

static void one_part(void *ctx, int i, int n, int tid)
{
    (void)n;
    int *seen = ctx;
    seen[i] += 1 + tid; /* one thread: tid 0, in order */
}

/* One thread, one share, or a region inside a region: the shares run in
 * order on the calling thread. */
static void nested_part(void *ctx, int i, int n, int tid)
{
    (void)n;
    (void)tid;
    int(*seen)[4] = ctx;
    cq_par_run(4, one_part, seen[i]);
}

static void test_par_serial(void **state)
{
    (void)state;
    int seen[4] = {0};
    cq_par_set_threads(1);
    cq_par_run(4, one_part, seen);
    for (int i = 0; i < 4; i++)
        assert_int_equal(seen[i], 1);
    int inner[3][4] = {{0}};
    cq_par_set_threads(3);
    cq_par_run(3, nested_part, inner);
    cq_par_set_threads(1);
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 4; k++)
            assert_int_equal(inner[i][k], 1);
}

typedef struct {
    atomic_int seen, open, fault_blocked;
} sig_job;

/* A worker's share records its signal mask; the caller's waits a little so
 * that the workers take shares. */
static void sig_share(void *ctx, int i, int n, int tid)
{
    sig_job *j = ctx;
    (void)i, (void)n;
    if (tid == 0) {
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
        return;
    }
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    atomic_store(&j->seen, 1);
    if (sigismember(&cur, SIGINT) != 1 || sigismember(&cur, SIGTERM) != 1)
        atomic_store(&j->open, 1);
    if (sigismember(&cur, SIGSEGV) != 0)
        atomic_store(&j->fault_blocked, 1);
}

static void test_par_workers_block_signals(void **state)
{
    (void)state;
    assert_int_equal(cq_par_stop(), 0);
    cq_par_set_threads(3);
    sig_job j;
    atomic_init(&j.seen, 0);
    atomic_init(&j.open, 0);
    atomic_init(&j.fault_blocked, 0);
    for (int k = 0; k < 200 && !atomic_load(&j.seen); k++)
        cq_par_run(8, sig_share, &j);
    assert_true(atomic_load(&j.seen));
    assert_false(atomic_load(&j.open));
    assert_false(atomic_load(&j.fault_blocked));
    sigset_t cur; /* the caller's own mask is as it was */
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    assert_int_equal(sigismember(&cur, SIGINT), 0);
    cq_par_set_threads(1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_par_stop_joins_and_restarts),
        cmocka_unit_test(test_par_stop_refused_in_region),
        cmocka_unit_test(test_par_fork_child_has_no_workers),
        cmocka_unit_test(test_par_shares_once),
        cmocka_unit_test(test_par_serial),
        cmocka_unit_test(test_par_workers_block_signals),
    };
    return cmocka_run_group_tests_name("par", tests, NULL, NULL);
}
