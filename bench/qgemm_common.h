/* bench/qgemm_common.h - what bench/qgemm.c and its oneDNN anchor
 * bench/qgemm_dnnl.c share, so both time the same shapes the same way: the
 * clock, the shapes (m, n, k) and the command line [seconds] [--tsv].
 * The clock is CLOCK_MONOTONIC, or with BENCH_CLOCK=cpu the calling
 * thread's CPU time (both drivers run on one thread): on a shared machine
 * the slices the host gives another job then do not count. */
#ifndef CQ_BENCH_QGEMM_COMMON_H
#define CQ_BENCH_QGEMM_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    static int cpu = -1;
    if (cpu < 0) {
        const char *e = getenv("BENCH_CLOCK");
        cpu = e && strcmp(e, "cpu") == 0;
    }
    struct timespec t;
    clock_gettime(cpu ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static const int64_t shapes[][3] = {
    {512, 512, 512}, {1024, 1024, 1024}, {2048, 2048, 2048}, {3136, 64, 576}, {196, 256, 2304}};

/* argv: [seconds] [--tsv], in any order; *secs stays as given when absent. */
static void parse_args(int argc, char **argv, double *secs, int *tsv)
{
    *tsv = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tsv") == 0)
            *tsv = 1;
        else
            *secs = atof(argv[i]);
    }
}

#endif
