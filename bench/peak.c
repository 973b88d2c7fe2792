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
 * The chains (fp32, bf16, int8, int8 amx, the amx config pair) are core/cost/probe.h's,
 * the code `calq probe` measures the peaks of a profile with.
 * Each figure is the best of 7 timings; a multiply-add counts as 2 operations.
 * Usage: peak [--tsv]   (--tsv: "name<TAB>GFLOP/s" lines for scripts); BENCH_CLOCK=cpu
 * times CPU time instead of the wall clock. */
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cost/probe.h"
#include "kern/kern.h"

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx512bf16,fma")))
#define ITERS 4000000L

static double now(void)
{
    return cq_probe_now();
}

static volatile float sink_f;

static double fp32_fma(void)
{
    return cq_probe_chain_seconds(CQ_PROBE_FMA_F32, ITERS);
}
static double bf16_dot(void)
{
    return cq_probe_chain_seconds(CQ_PROBE_DOT_BF16, ITERS);
}
static double int8_dot(void)
{
    return cq_probe_chain_seconds(CQ_PROBE_DOT_S8, ITERS);
}

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

#define AMX_ITERS 2000000L
static double int8_amx(void)
{
    return cq_probe_chain_seconds(CQ_PROBE_AMX_S8, AMX_ITERS);
}

/* 100000 ldtilecfg + tilerelease pairs, seconds. */
static double amx_cfg_pair(void)
{
    return cq_probe_amx_cfg_seconds(100000);
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
        {"fp32_fma", fp32_fma, 2.0 * cq_probe_chain_macs(CQ_PROBE_FMA_F32) * ITERS},
        {"bf16_dot", bf16_dot, 2.0 * cq_probe_chain_macs(CQ_PROBE_DOT_BF16) * ITERS},
        {"int8_dot", int8_dot, 2.0 * cq_probe_chain_macs(CQ_PROBE_DOT_S8) * ITERS},
        {"fp32_conv_tile", conv_tile, 2.0 * 16 * 14 * KC * TILES},
        {"int8_amx", int8_amx, 2.0 * cq_probe_chain_macs(CQ_PROBE_AMX_S8) * AMX_ITERS},
    };
    /* BENCH_CLOCK=cpu: this thread's CPU time, else the wall clock */
    const char *clk = getenv("BENCH_CLOCK");
    cq_probe_set_clock(clk && strcmp(clk, "cpu") == 0);
    int amx = cq_kern_set_isa(CQ_ISA_AVX512) == CQ_ISA_AVX512 && cq_probe_chain_ok(CQ_PROBE_AMX_S8);
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
