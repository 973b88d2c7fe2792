/* probe.c - the host measurements of probe.h: clock, chains, bandwidth,
 * latency, the caches sysfs lists. The vector kernels are in probe_avx512.c
 * and probe_amx.c; this file picks them where the CPU has them. */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include "base/par.h"
#include "cost/probe_internal.h"
#include "kern/kern.h"

volatile uint64_t cq__probe_sink;
static int use_cpu_time = 1;

void cq_probe_set_clock(int cpu_time)
{
    use_cpu_time = cpu_time != 0;
}

double cq_probe_now(void)
{
    struct timespec t;
    clock_gettime(use_cpu_time ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int has_avx512(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
}

int cq_probe_chain_ok(cq_probe_chain c)
{
    __builtin_cpu_init();
    switch (c) {
    case CQ_PROBE_FMA_F32:
    case CQ_PROBE_S8_NOVNNI:
        return has_avx512();
    case CQ_PROBE_DOT_BF16:
        return has_avx512() && __builtin_cpu_supports("avx512bf16");
    case CQ_PROBE_DOT_S8:
        return has_avx512() && __builtin_cpu_supports("avx512vnni");
    case CQ_PROBE_AMX_S8:
    case CQ_PROBE_AMX_BF16:
        /* cq_kern_amx asks the OS for the tile state (arch_prctl) and needs
         * the AVX-512 ISA selected; both tile kinds come together on every CPU
         * with AMX so far (Sapphire Rapids on) */
        return has_avx512() && cq_kern_isa() == CQ_ISA_AVX512 && cq_kern_amx();
    default:
        return 0;
    }
}

double cq_probe_chain_macs(cq_probe_chain c)
{
    switch (c) {
    case CQ_PROBE_FMA_F32: return 24.0 * 16;
    case CQ_PROBE_DOT_BF16: return 24.0 * 32;
    case CQ_PROBE_DOT_S8: return 24.0 * 64;
    case CQ_PROBE_S8_NOVNNI: return 12.0 * 64;
    case CQ_PROBE_AMX_S8: return 4.0 * 16 * 16 * 64;
    case CQ_PROBE_AMX_BF16: return 4.0 * 16 * 16 * 32;
    default: return 0;
    }
}

double cq_probe_chain_seconds(cq_probe_chain c, long rounds)
{
    if (!cq_probe_chain_ok(c) || rounds < 1)
        return 0;
    switch (c) {
    case CQ_PROBE_FMA_F32: return cq__probe_fma_f32(rounds);
    case CQ_PROBE_DOT_BF16: return cq__probe_dot_bf16(rounds);
    case CQ_PROBE_DOT_S8: return cq__probe_dot_s8(rounds);
    case CQ_PROBE_S8_NOVNNI: return cq__probe_s8_novnni(rounds);
    case CQ_PROBE_AMX_S8: return cq__probe_amx_s8(rounds);
    case CQ_PROBE_AMX_BF16: return cq__probe_amx_bf16(rounds);
    default: return 0;
    }
}

double cq_probe_amx_cfg_seconds(long pairs)
{
    if (!cq_probe_chain_ok(CQ_PROBE_AMX_S8) || pairs < 1)
        return 0;
    return cq__probe_amx_cfg_pair(pairs);
}

/* Rounds of f (seconds for n rounds) that take about ms: grow from a small
 * trial until one takes a tenth of it. */
static long size_rounds(double (*f)(long, const void *), const void *arg, double ms, long n)
{
    for (;;) {
        double t = f(n, arg);
        if (t >= ms * 1e-4 || n > (1L << 40))
            return (long)((double)n * (ms * 1e-3) / (t > 0 ? t : 1e-9)) + 1;
        n *= 8;
    }
}

static double chain_fn(long n, const void *arg)
{
    return cq_probe_chain_seconds(*(const cq_probe_chain *)arg, n);
}

double cq_probe_chain_rate(cq_probe_chain c, double ms, int reps)
{
    if (!cq_probe_chain_ok(c))
        return 0;
    long n = size_rounds(chain_fn, &c, ms, 1000);
    double best = 1e30;
    for (int r = 0; r < (reps < 1 ? 1 : reps); r++) {
        double t = cq_probe_chain_seconds(c, n);
        best = t < best ? t : best;
    }
    return cq_probe_chain_macs(c) * (double)n / best;
}

/* 8 dependent register adds a round: 8 cycles, an add taking one on every
 * x86 core since the Pentium Pro. Register, not immediate, operands: Golden
 * Cove (Sapphire Rapids) folds chains of add-immediate in its renamer and
 * ran that chain at about 5 adds a cycle. */
static double add_chain(long rounds, const void *arg)
{
    (void)arg;
    long n = rounds;
    uint64_t x = 0, one = 1;
    __asm__ volatile("" : "+r"(one)); /* opaque to the compiler */
    double t0 = cq_probe_now();
#if defined(__x86_64__)
    __asm__ volatile("1:\n\t"
                     "add %2, %1\n\tadd %2, %1\n\tadd %2, %1\n\tadd %2, %1\n\t"
                     "add %2, %1\n\tadd %2, %1\n\tadd %2, %1\n\tadd %2, %1\n\t"
                     "dec %0\n\t"
                     "jnz 1b\n\t"
                     : "+r"(n), "+r"(x)
                     : "r"(one)
                     : "cc");
#else
    for (long i = 0; i < 8 * n; i++) {
        x += one;
        __asm__ volatile("" : "+r"(x));
    }
#endif
    double t = cq_probe_now() - t0;
    cq__probe_sink ^= x;
    return t;
}

double cq_probe_clock_ghz(double ms, int reps)
{
    long n = size_rounds(add_chain, NULL, ms, 1000);
    double best = 1e30;
    for (int r = 0; r < (reps < 1 ? 1 : reps); r++) {
        double t = add_chain(n, NULL);
        best = t < best ? t : best;
    }
    return 8.0 * (double)n / best * 1e-9;
}

__attribute__((no_sanitize_address)) static double read_scalar(const void *buf, size_t bytes,
                                                                long passes)
{
    const uint64_t *p = buf;
    size_t n = bytes / 8;
    uint64_t a = 0, b = 0, c = 0, d = 0;
    double t0 = cq_probe_now();
    for (long r = 0; r < passes; r++) {
        for (size_t i = 0; i + 4 <= n; i += 4) {
            a ^= p[i];
            b ^= p[i + 1];
            c ^= p[i + 2];
            d ^= p[i + 3];
        }
        __asm__ volatile("" : "+r"(a), "+r"(b), "+r"(c), "+r"(d));
    }
    double t = cq_probe_now() - t0;
    cq__probe_sink ^= a ^ b ^ c ^ d;
    return t;
}

typedef struct read_arg {
    const void *buf;
    size_t bytes;
} read_arg;

static double read_fn(long passes, const void *arg)
{
    const read_arg *a = arg;
    return has_avx512() ? cq__probe_read_avx512(a->buf, a->bytes, passes)
                        : read_scalar(a->buf, a->bytes, passes);
}

double cq_probe_read_bw(const void *buf, size_t bytes, double ms, int reps)
{
    read_arg a = {buf, bytes & ~(size_t)511};
    if (a.bytes == 0)
        return 0;
    read_fn(1, &a); /* warm: the level's lines in place, pages faulted */
    long n = size_rounds(read_fn, &a, ms, 1);
    double best = 1e30;
    for (int r = 0; r < (reps < 1 ? 1 : reps); r++) {
        double t = read_fn(n, &a);
        best = t < best ? t : best;
    }
    return (double)a.bytes * (double)n / best;
}

typedef struct thread_job {
    read_arg a;
    long passes;
    volatile int *go, *ready;
} thread_job;

static void *thread_read(void *arg)
{
    thread_job *j = arg;
    read_fn(1, &j->a); /* pages faulted in, outside the timing */
    __atomic_add_fetch(j->ready, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(j->go, __ATOMIC_ACQUIRE))
        sched_yield();
    read_fn(j->passes, &j->a);
    return NULL;
}

double cq_probe_read_bw_threads(const void *buf, size_t bytes, int threads, double ms)
{
    if (threads < 1 || threads > 1024)
        return 0;
    size_t slice = (bytes / (size_t)threads) & ~(size_t)511;
    if (slice == 0)
        return 0;
    /* passes for about ms at 10 GB/s a thread; the wall time decides the rate */
    long passes = (long)(ms * 1e-3 * 10e9 / (double)slice) + 1;
    thread_job *jobs = calloc((size_t)threads, sizeof *jobs);
    pthread_t *tid = calloc((size_t)threads, sizeof *tid);
    volatile int go = 0, ready = 0;
    int made = 0;
    for (int i = 0; jobs && tid && i < threads; i++) {
        jobs[i] = (thread_job){{(const char *)buf + (size_t)i * slice, slice}, passes, &go, &ready};
        if (cq_par_thread_create(&tid[i], thread_read, &jobs[i]))
            break;
        made++;
    }
    while (__atomic_load_n(&ready, __ATOMIC_ACQUIRE) < made)
        sched_yield();
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    __atomic_store_n(&go, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < made; i++)
        pthread_join(tid[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    /* a thread that could not start: no figure rather than a low one */
    double rate = made == threads ? (double)slice * (double)passes * threads / s : 0;
    free(jobs);
    free(tid);
    return rate;
}

double cq_probe_latency_ns(void *buf, size_t bytes, long steps)
{
    size_t lines = bytes / 64;
    if (lines < 2 || steps < 1)
        return 0;
    size_t *order = malloc(lines * sizeof *order);
    if (!order)
        return 0;
    for (size_t i = 0; i < lines; i++)
        order[i] = i;
    uint64_t s = 0x9e3779b97f4a7c15u;
    for (size_t i = lines - 1; i > 0; i--) { /* Fisher-Yates, xorshift */
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        size_t j = (size_t)(s % (i + 1));
        size_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    char *b = buf;
    for (size_t i = 0; i < lines; i++)
        *(void **)(b + order[i] * 64) = b + order[(i + 1) % lines] * 64;
    free(order);
    void *p = b;
    for (size_t i = 0; i < lines; i++) /* warm */
        p = *(void **)p;
    double t0 = cq_probe_now();
    for (long i = 0; i < steps; i++)
        p = *(void **)p;
    double t = cq_probe_now() - t0;
    cq__probe_sink ^= (uint64_t)(uintptr_t)p;
    return t / (double)steps * 1e9;
}

static int read_line(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int ok = fgets(out, (int)cap, f) != NULL;
    fclose(f);
    return ok;
}

int cq_probe_caches(cq_probe_cache *out, int max)
{
    int n = 0;
    for (int idx = 0; idx < 16 && n < max; idx++) {
        char path[128], buf[256];
        const char *dir = "/sys/devices/system/cpu/cpu0/cache/index";
        snprintf(path, sizeof path, "%s%d/type", dir, idx);
        if (!read_line(path, buf, sizeof buf))
            break;
        if (strncmp(buf, "Instruction", 11) == 0)
            continue;
        cq_probe_cache c = {0, 0, 0};
        snprintf(path, sizeof path, "%s%d/level", dir, idx);
        if (read_line(path, buf, sizeof buf))
            c.level = atoi(buf);
        snprintf(path, sizeof path, "%s%d/size", dir, idx);
        if (read_line(path, buf, sizeof buf)) {
            char *end;
            long long v = strtoll(buf, &end, 10);
            c.size = v * (*end == 'K' ? 1024 : *end == 'M' ? 1 << 20 : *end == 'G' ? 1 << 30 : 1);
        }
        snprintf(path, sizeof path, "%s%d/shared_cpu_list", dir, idx);
        if (read_line(path, buf, sizeof buf))
            c.shared = strchr(buf, ',') != NULL || strchr(buf, '-') != NULL;
        if (c.level > 0 && c.size > 0)
            out[n++] = c;
    }
    return n;
}

/* Pages fresh from the system: a run's large graph outputs come as new
 * zero-filled pages every run (cost.c, FRESH_BYTES), each first write a page
 * fault. 16 MiB mapped anew, a byte written a page, best of the rounds. */
double cq_probe_page_ns(double ms, cq_err *err)
{
    const size_t bytes = (size_t)16 << 20, page = 4096;
    double best = 1e30, spent = 0;
    for (int r = 0; r < 200 && (r < 3 || spent < ms * 1e-3); r++) {
        char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return cq_errf(err, CQ_ENOMEM, "probe: cannot map %zu bytes", bytes), -1;
        double t0 = cq_probe_now();
        for (size_t i = 0; i < bytes; i += page)
            p[i] = 1;
        double t = cq_probe_now() - t0;
        munmap(p, bytes);
        spent += t;
        best = t < best ? t : best;
    }
    return best / (double)(bytes / page) * 1e9;
}
