/* child_testutil.h - helpers of the tests that run a case in a forked child
 * and read its result back through a pipe (test_limits.c, test_limits_quant.c,
 * test_empty.c): the process's CPU time, and a read of exactly n bytes. */
#ifndef CALQ_TESTS_CHILD_TESTUTIL_H
#define CALQ_TESTS_CHILD_TESTUTIL_H

#include <stddef.h>
#include <time.h>
#include <unistd.h>

/* The process's CPU time in seconds. */
static inline double tu_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Read up to n bytes from fd into buf, across short reads; the bytes read
 * (fewer than n when the writer died or closed early). */
static inline size_t tu_read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, (char *)buf + got, n - got);
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    return got;
}

#endif
