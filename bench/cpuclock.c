/* LD_PRELOAD shim for one-thread latency benchmarks on a loaded host (bench/exec.sh,
 * BENCH_CPU=1): clock_gettime(CLOCK_MONOTONIC) called on the process's main thread
 * returns that thread's CPU time (CLOCK_THREAD_CPUTIME_ID) instead, so a run that the
 * scheduler preempts is not charged the other tenants' time. Both timers that
 * bench/exec.sh reads go through it: calq's Model:time (core/exec/exec.c now_ns) and
 * bench/ort_latency.js (process.hrtime -> libuv -> clock_gettime); one-thread runs only,
 * since at two or more threads the work of the other threads is not counted. Other
 * threads keep the real clock: their timed waits (pthread_cond_timedwait deadlines on
 * CLOCK_MONOTONIC) would otherwise expire at once and spin.
 * Built by make bench-build as $(BUILD)/bench/cpuclock.so. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

typedef int (*clock_fn)(clockid_t, struct timespec *);

int clock_gettime(clockid_t id, struct timespec *ts)
{
    static clock_fn real;
    if (!real)
        real = (clock_fn)dlsym(RTLD_NEXT, "clock_gettime");
    if (id == CLOCK_MONOTONIC && syscall(SYS_gettid) == getpid())
        id = CLOCK_THREAD_CPUTIME_ID;
    return real(id, ts);
}
