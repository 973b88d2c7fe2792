/* core/cost/probe.h - measurements of the host for `calq probe` and bench/peak.
 *
 * Each function measures one thing on the calling thread (pin it first:
 * taskset) and returns a rate or a time; none allocates more than it says or
 * keeps state between calls. Times come from cq_probe_now: the thread's CPU
 * time by default, so slices the scheduler gives another job on a shared core
 * do not count (cq_probe_set_clock(0): CLOCK_MONOTONIC, what bench/peak uses
 * without BENCH_CLOCK=cpu). The multi-threaded read uses the wall clock.
 *
 * The instruction chains are those of bench/peak (it calls them): N
 * independent accumulators from zero operands (no denormal slows a lane), in
 * assembly so that the compiler keeps every accumulator in a register. */
#ifndef CALQ_COST_PROBE_H
#define CALQ_COST_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

/* What a chain measures; the MACs each instruction (or sequence) does. */
typedef enum cq_probe_chain {
    CQ_PROBE_FMA_F32 = 0, /* vfmadd231ps zmm: 16 MACs */
    CQ_PROBE_DOT_BF16,    /* vdpbf16ps zmm: 32 MACs */
    CQ_PROBE_DOT_S8,      /* vpdpbusd zmm: 64 MACs */
    CQ_PROBE_S8_NOVNNI,   /* vpmaddubsw + vpmaddwd (by ones) + vpaddd zmm: 64 MACs */
    CQ_PROBE_AMX_S8,      /* tdpbusd 16x64 tiles: 16 * 16 * 64 MACs */
    CQ_PROBE_AMX_BF16,    /* tdpbf16ps 16x64 tiles: 16 * 16 * 32 MACs */
    CQ_PROBE_CHAIN_COUNT
} cq_probe_chain;

/* 1: cq_probe_now reads this thread's CPU time (default); 0: CLOCK_MONOTONIC. */
void cq_probe_set_clock(int cpu_time);
double cq_probe_now(void);

/* Whether this CPU (and, for AMX, the OS and cq_kern_amx) runs chain c. */
int cq_probe_chain_ok(cq_probe_chain c);
/* MACs one round of chain c does (its instructions over all accumulators). */
double cq_probe_chain_macs(cq_probe_chain c);
/* Seconds of rounds rounds of chain c (0 when !cq_probe_chain_ok(c)). */
double cq_probe_chain_seconds(cq_probe_chain c, long rounds);
/* Best of reps timings of chain c sized to about ms milliseconds each:
 * MACs per second (0 when not available). */
double cq_probe_chain_rate(cq_probe_chain c, double ms, int reps);

/* Seconds of pairs ldtilecfg + tilerelease (0 without AMX): what setting the
 * tiles up costs a kernel call. */
double cq_probe_amx_cfg_seconds(long pairs);

/* The core clock under load, GHz: a chain of dependent 1-cycle integer adds
 * (8 per loop round, the loop counter a second chain beside it) timed against
 * cq_probe_now, best of reps runs of about ms milliseconds each. */
double cq_probe_clock_ghz(double ms, int reps);

/* Read bandwidth, bytes per second: AVX-512 (else 64-bit) loads streaming over
 * buf[0, bytes) again and again for about ms milliseconds, best of reps. buf
 * 64-byte aligned, bytes a multiple of 512. */
double cq_probe_read_bw(const void *buf, size_t bytes, double ms, int reps);
/* The same on threads threads at once, each over its own slice of buf: the
 * sum of their bytes over the wall time, bytes per second. */
double cq_probe_read_bw_threads(const void *buf, size_t bytes, int threads, double ms);
/* Load-to-use latency, ns: a pointer chase through a random cycle over the
 * cache lines of buf[0, bytes) (buf is overwritten with the links). */
double cq_probe_latency_ns(void *buf, size_t bytes, long steps);

/* The data caches of cpu0 from sysfs (/sys/devices/system/cpu/cpu0/cache):
 * levels L1 first (data or unified only), size in bytes, shared 1 when more
 * than one CPU shares it. Returns the count (0: sysfs says nothing). */
#define CQ_PROBE_MAX_CACHE 4
typedef struct cq_probe_cache {
    int level;
    int64_t size;
    int shared;
} cq_probe_cache;
int cq_probe_caches(cq_probe_cache *out, int max);

/* Kernel efficiency and conversion measurements (probe_kern.c): calq's own
 * kernels on reference shapes, on the calling thread (one kernel thread). */
typedef struct cq_probe_kern {
    const char *name;  /* the efficiency class: "f32_conv", "s8_gemm", ... */
    const char *shape; /* the reference shape, for the report */
    double macs;       /* MACs (compute classes) or bytes moved (eltwise) per run */
    double seconds;    /* best run */
    const char *peak;  /* which peak it is measured against: "f32", "s8", "amx_s8", "bw_l2" ... */
    double call_s;     /* best run of the same kernel on a 1x1 map (a 1-row GEMM) of 16
                        * channels: its fixed cost a call, seconds; 0: not measured
                        * (f32_grp: a group's, from the fit of time_grp) */
    const char *unit;  /* a unit of work the class pays for apart, or NULL:
                        * "im2col_row" (f32_grp: a row copy of its im2col),
                        * "bf16_nchw" (bf16_conv: an input element converted
                        * from NCHW where the input is not kept blocked),
                        * "bf16_elem" (bf16_conv: an element it rounds in or
                        * writes out), "s8_out" (s8_conv: an output it
                        * requantizes), "f32_dw_elem" (f32_dw_cb: an element
                        * the depthwise block kernel copies in or stores),
                        * "f32_act_exp" (f32_conv: an output element through
                        * an exp activation, SiLU...), "f32_dw_act_exp" (f32_dw:
                        * the same in the depthwise kernels' pass) */
    double unit_s;     /* seconds a unit */
    const char *unit2; /* a second such unit, or NULL: "s8_row" (s8_conv: an
                        * input row the implicit GEMM gathers, kh a pixel),
                        * "blk_px" (eltwise: an output pixel, 64 bytes, of
                        * the nearest upsampling on NCHW16c) */
    double unit2_s;
    const char *unit3; /* a third, or NULL: "s8_mul_elem" (eltwise: an element
                        * of the int8 Mul's loop), "s8_acopy" (s8_conv on AMX:
                        * a byte of a 1x1's input copied to padded rows) */
    double unit3_s;
} cq_probe_kern;
#define CQ_PROBE_MAX_KERN 24
/* Run every reference shape; fills out (up to max), returns the count or -1
 * with err filled. budget_ms: about the time each kernel is timed. */
int cq_probe_kernels(cq_probe_kern *out, int max, double budget_ms, cq_err *err);

/* Conversions, elements per second (best of reps over n elements in L2):
 * which 0 quant (cq_quantize_f32_8), 1 dequant (cq_dequantize_8_f32), 2 requant
 * (cq_lut_8 with a requantizing table), 3 f32 -> bf16, 4 bf16 -> f32
 * (cq_f32_to_bf16 / cq_bf16_to_f32, what tensor conversion runs). */
double cq_probe_cvt_rate(int which, double ms, cq_err *err);

/* The executor's fixed cost of one node, ns: a chain of nodes Adds on 16
 * floats, run whole, best time over the nodes that run (not fused). */
double cq_probe_node_ns(int nodes, double ms, cq_err *err);

/* The time a contraction kernel's run takes a 64-byte line of its weights
 * when they come from memory, ns (probe_wline.c): ResNet's layer4 3x3 (512 >
 * 512 at 7x7, whose weights outweigh its arithmetic), its packed weights
 * flushed from every cache before each run, the cold run's time over their
 * lines. which 0: the fp32 pixel-major conv (NCHW16c), 1: the AVX-512 int8
 * GEMM (NHWC); both prefetch a panel ahead. 0 where that kernel does not run
 * here (no AVX-512, AMX); -1 on failure. */
double cq_probe_wline_ns(int which, double ms, cq_err *err);

/* The first write to a page fresh from the system (mmap'd, zero-filled on
 * the fault), ns a 4 KiB page: 16 MiB, a byte a page, best of about ms of
 * rounds. -1 on failure. */
double cq_probe_page_ns(double ms, cq_err *err);

#endif
