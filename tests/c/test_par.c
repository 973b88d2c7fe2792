/* test_par.c - the thread pool's life cycle: cq_par_stop ends and joins the
 * workers (the process is back to one thread) and the next region starts
 * them again; it refuses while a region holds the pool; a forked child
 * forgets the parent's workers and runs regions with its own. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
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

static void test_par_stop_joins_and_restarts(void **state)
{
    (void)state;
    assert_int_equal(cq_par_stop(), 0);
    int base = threads_now();
    assert_true(base >= 1);
    cq_par_set_threads(3);
    assert_true(region_ok(0, NULL));
    assert_int_equal(threads_now(), base + 2); /* two workers */
    assert_int_equal(cq_par_stop(), 0);
    assert_int_equal(threads_now(), base);
    assert_int_equal(cq_par_stop(), 0); /* nothing to stop */
    for (int k = 0; k < 20; k++) {
        assert_true(region_ok(0, NULL));
        if (k % 5 == 4)
            assert_int_equal(cq_par_stop(), 0);
    }
    assert_int_equal(threads_now(), base);
    assert_true(region_ok(0, NULL));
    assert_int_equal(threads_now(), base + 2);
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
    cq_par_set_threads(3);
    assert_true(region_ok(0, NULL));
    /* (OpenBLAS ends its own threads before a fork: counts only in the child) */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* the child: only the forking thread, then its own workers, stopped
         * and joined */
        int ok = threads_now() == 1 && region_ok(0, NULL) && threads_now() == 3 &&
                 cq_par_stop() == 0 && threads_now() == 1;
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_par_stop_joins_and_restarts),
        cmocka_unit_test(test_par_stop_refused_in_region),
        cmocka_unit_test(test_par_fork_child_has_no_workers),
    };
    return cmocka_run_group_tests_name("par", tests, NULL, NULL);
}
