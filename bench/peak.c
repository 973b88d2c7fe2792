/* bench/peak.c - this machine's single-thread arithmetic ceilings, measured in
 * the same run as the kernels they bound (bench/kern.sh runs it first):
 *   fp32 FMA      24 independent vfmadd231ps zmm chains (latency hidden)
 *   bf16 dot      24 independent vdpbf16ps chains
 *   int8 dot      24 independent vpdpbusd chains
 *   int8 amx      4 independent tdpbusd chains (16 x 16 x 64 products each, sources
 *                 in tiles 4-7, no loads), where the CPU and OS allow AMX
 *                 (cq_kern_amx); amx_cfg_ns: one ldtilecfg + tilerelease pair, ns
 *   fp32 tile     the inner loop of the pixel-major conv (core/kern/x86/kern_convpm_avx512.c):
 *                 7 pixels x 32 channels, per k step 2 weight loads, 7 broadcasts
 *                 through a tap-offset table, 14 FMAs; weights and input in L1
 * Each figure is the best of 7 timings; a multiply-add counts as 2 operations.
 * Usage: peak [--tsv]   (--tsv: "name<TAB>GFLOP/s" lines for scripts); BENCH_CLOCK=cpu
 * times CPU time instead of the wall clock. */
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kern/kern.h"

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx512bf16,fma")))
#define CHAINS 24
#define ITERS 4000000L

/* CLOCK_MONOTONIC, or with BENCH_CLOCK=cpu this thread's CPU time (slices
 * the host gives another job do not count). */
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

static volatile float sink_f;

/* One timing of ITERS rounds of CHAINS independent instructions (zmm0-23
 * accumulate from zero, zmm24-25 are the zero operands: no denormal or NaN can
 * slow a lane), seconds. In assembly: with
 * intrinsics GCC moved accumulators through the stack. */
#define X24(op)                                                                               \
    op " %%zmm25, %%zmm24, %%zmm0\n\t" op " %%zmm25, %%zmm24, %%zmm1\n\t"                      \
    op " %%zmm25, %%zmm24, %%zmm2\n\t" op " %%zmm25, %%zmm24, %%zmm3\n\t"                      \
    op " %%zmm25, %%zmm24, %%zmm4\n\t" op " %%zmm25, %%zmm24, %%zmm5\n\t"                      \
    op " %%zmm25, %%zmm24, %%zmm6\n\t" op " %%zmm25, %%zmm24, %%zmm7\n\t"                      \
    op " %%zmm25, %%zmm24, %%zmm8\n\t" op " %%zmm25, %%zmm24, %%zmm9\n\t"                      \
    op " %%zmm25, %%zmm24, %%zmm10\n\t" op " %%zmm25, %%zmm24, %%zmm11\n\t"                    \
    op " %%zmm25, %%zmm24, %%zmm12\n\t" op " %%zmm25, %%zmm24, %%zmm13\n\t"                    \
    op " %%zmm25, %%zmm24, %%zmm14\n\t" op " %%zmm25, %%zmm24, %%zmm15\n\t"                    \
    op " %%zmm25, %%zmm24, %%zmm16\n\t" op " %%zmm25, %%zmm24, %%zmm17\n\t"                    \
    op " %%zmm25, %%zmm24, %%zmm18\n\t" op " %%zmm25, %%zmm24, %%zmm19\n\t"                    \
    op " %%zmm25, %%zmm24, %%zmm20\n\t" op " %%zmm25, %%zmm24, %%zmm21\n\t"                    \
    op " %%zmm25, %%zmm24, %%zmm22\n\t" op " %%zmm25, %%zmm24, %%zmm23\n\t"
#define ZERO24 X24("vpxord")
#define CLOBBER24                                                                             \
    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",     \
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19",        \
        "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25"
#define CHAIN_TIMER(name, op)                                                                 \
    AVX512 static double name(void)                                                           \
    {                                                                                         \
        long n = ITERS;                                                                       \
        double t0 = now();                                                                    \
        __asm__ volatile("vpxord %%zmm24, %%zmm24, %%zmm24\n\t"                                 \
                         "vpxord %%zmm25, %%zmm25, %%zmm25\n\t" ZERO24                          \
                         "1:\n\t" X24(op) "dec %0\n\t"                                          \
                         "jnz 1b\n\t"                                                          \
                         : "+r"(n)                                                            \
                         :                                                                    \
                         : CLOBBER24, "cc");                                                  \
        return now() - t0;                                                                    \
    }
CHAIN_TIMER(fp32_fma, "vfmadd231ps")
CHAIN_TIMER(bf16_dot, "vdpbf16ps")
CHAIN_TIMER(int8_dot, "vpdpbusd")

/* The conv tile's inner loop over KC k steps, TILES times; returns seconds. */
#define KC 128
#define TILES 60000L
static float tw[KC * 32] __attribute__((aligned(64)));
static float tx[64 * 24] __attribute__((aligned(64)));
static int64_t toff[KC];

AVX512 static double conv_tile(void)
{
    float out[7 * 32];
    double t0 = now();
    for (long it = 0; it < TILES; it++) {
        const float *xp = tx + (it & 7);
        __m512 acc[7][2];
#pragma GCC unroll 7
        for (int i = 0; i < 7; i++)
            acc[i][0] = acc[i][1] = _mm512_setzero_ps();
        for (int t = 0; t < KC; t++) {
            const float *xr = xp + toff[t];
            __m512 b0 = _mm512_loadu_ps(tw + t * 32), b1 = _mm512_loadu_ps(tw + t * 32 + 16);
#pragma GCC unroll 7
            for (int i = 0; i < 7; i++) {
                __m512 av = _mm512_set1_ps(xr[i]);
                acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
                acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
            }
        }
#pragma GCC unroll 7
        for (int i = 0; i < 7; i++) {
            _mm512_storeu_ps(out + 32 * i, acc[i][0]);
            _mm512_storeu_ps(out + 32 * i + 16, acc[i][1]);
        }
        __asm__ volatile("" : : "r"(out) : "memory");
    }
    double t = now() - t0;
    sink_f = out[0];
    return t;
}

/* AMX: 4 independent tdpbusd accumulators (tiles 0-3) from tiles 4-7. */
#define AMX __attribute__((target("amx-tile,amx-int8,avx512f")))
#define AMX_ITERS 2000000L
typedef struct tile_cfg {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_cfg;
static tile_cfg amx_cfg;

AMX static double int8_amx(void)
{
    _tile_loadconfig(&amx_cfg);
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    _tile_zero(4);
    _tile_zero(5);
    _tile_zero(6);
    _tile_zero(7);
    double t0 = now();
    for (long i = 0; i < AMX_ITERS; i++) {
        _tile_dpbusd(0, 4, 6);
        _tile_dpbusd(1, 4, 7);
        _tile_dpbusd(2, 5, 6);
        _tile_dpbusd(3, 5, 7);
    }
    double t = now() - t0;
    _tile_release();
    return t;
}

/* 100000 ldtilecfg + tilerelease pairs, seconds. */
AMX static double amx_cfg_pair(void)
{
    double t0 = now();
    for (long i = 0; i < 100000; i++) {
        _tile_loadconfig(&amx_cfg);
        _tile_release();
    }
    return now() - t0;
}

static double best(double (*f)(void))
{
    double b = 1e30;
    for (int r = 0; r < 7; r++) {
        double t = f();
        b = t < b ? t : b;
    }
    return b;
}

int main(int argc, char **argv)
{
    int tsv = argc > 1 && strcmp(argv[1], "--tsv") == 0;
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512vnni") ||
        !__builtin_cpu_supports("avx512bf16")) {
        printf("peak: skipped (needs AVX-512 F, VNNI and BF16)\n");
        return 0;
    }
    for (int i = 0; i < KC * 32; i++)
        tw[i] = 1e-3f * (float)(i % 7);
    for (int i = 0; i < 64 * 24; i++)
        tx[i] = 1e-3f * (float)(i % 5);
    for (int t = 0; t < KC; t++) /* 3x3 taps over rows 29 wide, 3 rows a channel */
        toff[t] = ((t / 9) * 87 + (t % 9) / 3 * 29 + t % 3) % 1400;
    struct {
        const char *name;
        double (*f)(void);
        double ops;
    } m[] = {
        {"fp32_fma", fp32_fma, 2.0 * 16 * CHAINS * ITERS},
        {"bf16_dot", bf16_dot, 2.0 * 32 * CHAINS * ITERS},
        {"int8_dot", int8_dot, 2.0 * 64 * CHAINS * ITERS},
        {"fp32_conv_tile", conv_tile, 2.0 * 16 * 14 * KC * TILES},
        {"int8_amx", int8_amx, 2.0 * 16 * 16 * 64 * 4 * AMX_ITERS},
    };
    amx_cfg.palette = 1;
    for (int t = 0; t < 8; t++) {
        amx_cfg.colsb[t] = 64;
        amx_cfg.rows[t] = 16;
    }
    int amx = cq_kern_set_isa(CQ_ISA_AVX512) == CQ_ISA_AVX512 && cq_kern_amx();
    double fma = 0;
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        if (m[i].f == int8_amx && !amx)
            continue;
        double g = m[i].ops / best(m[i].f) * 1e-9;
        if (i == 0)
            fma = g;
        if (tsv)
            printf("%s\t%.1f\n", m[i].name, g);
        else
            printf("%-16s %7.1f G%s/s  %5.2fx the fp32 FMA peak\n", m[i].name, g,
                   i == 2 || i == 4 ? "OP" : "FLOP", g / fma);
    }
    if (amx) {
        double ns = best(amx_cfg_pair) / 100000 * 1e9;
        if (tsv)
            printf("amx_cfg_ns\t%.1f\n", ns);
        else
            printf("%-16s %7.1f ns  (one ldtilecfg + tilerelease)\n", "amx_cfg", ns);
    }
    return 0;
}
