/* LD_PRELOAD shim for one-thread latency benchmarks on a loaded host (bench/exec.sh,
 * BENCH_CPU=1): clock_gettime(CLOCK_MONOTONIC) called on the process's main thread
 * returns that thread's CPU time (CLOCK_THREAD_CPUTIME_ID) instead, so a run that the
 * scheduler preempts is not charged the other tenants' time. Both timers that
 * bench/exec.sh reads go through it: calq's Model:time (core/exec/exec.c now_ns) and
 * bench/ort_latency.js (process.hrtime -> libuv -> clock_gettime); one-thread runs only,
 * since at two or more threads the work of the other threads is not counted. Other
 * threads keep the real clock: their timed waits (pthread_cond_timedwait deadlines on
 * CLOCK_MONOTONIC) would otherwise expire at once and spin.
 * CALQ_CPUCLOCK=all: CLOCK_MONOTONIC and CLOCK_REALTIME on every thread read that thread's
 * CPU time, for bench/ort_nodes.js: ONNX Runtime's profiler stamps its kernel events with
 * std::chrono::high_resolution_clock (CLOCK_REALTIME in libstdc++), on whichever thread runs
 * the session. Only for a process that waits on no timer (ort_nodes.js does not).
 * Built by make bench-build as $(BUILD)/bench/cpuclock.so. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

typedef int (*clock_fn)(clockid_t, struct timespec *);

int clock_gettime(clockid_t id, struct timespec *ts)
{
    static clock_fn real;
    static int all = -1;
    if (!real)
        real = (clock_fn)dlsym(RTLD_NEXT, "clock_gettime");
    if (all < 0) {
        const char *v = getenv("CALQ_CPUCLOCK");
        all = v && strcmp(v, "all") == 0;
    }
    if (all ? id == CLOCK_MONOTONIC || id == CLOCK_REALTIME
            : id == CLOCK_MONOTONIC && syscall(SYS_gettid) == getpid())
        id = CLOCK_THREAD_CPUTIME_ID;
    return real(id, ts);
}
