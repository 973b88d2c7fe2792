/* probe_internal.h - what the probe's files share (probe.h is the API). */
#ifndef CALQ_COST_PROBE_INTERNAL_H
#define CALQ_COST_PROBE_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "cost/probe.h"

/* A sink the timed loops xor into, so no loop is optimised away. */
extern volatile uint64_t cq__probe_sink;

/* probe_avx512.c: rounds of 24 chained instructions (the s8 without VNNI
 * sequence: 12 sequences), seconds. */
double cq__probe_fma_f32(long rounds);
double cq__probe_dot_bf16(long rounds);
double cq__probe_dot_s8(long rounds);
double cq__probe_s8_novnni(long rounds);
double cq__probe_read_avx512(const void *buf, size_t bytes, long passes);
/* probe_amx.c: rounds of 4 tile instructions, seconds; ldtilecfg + tilerelease pairs. */
double cq__probe_amx_s8(long rounds);
double cq__probe_amx_bf16(long rounds);
double cq__probe_amx_cfg_pair(long rounds);

/* probe_kern.c's timing helpers, shared with probe_misc.c: the best time of
 * fn over about ms (at least 3 runs after a warm one; -1 on failure), and
 * deterministic fills (f32 in [-scale/2, scale/2), bytes in 0..127). */
typedef cq_status (*cq__probe_fn)(void *ctx, cq_err *err);
double cq__probe_best_time(cq__probe_fn fn, void *ctx, double ms, cq_err *err);
/* The same without the warm run, prep(ctx) before each timed run (not
 * timed; NULL: none). */
double cq__probe_best_prep(cq__probe_fn fn, void (*prep)(void *ctx), void *ctx, double ms,
                           cq_err *err);
void cq__probe_fill_f32(float *p, size_t n, float scale);
void cq__probe_fill_8(void *p, size_t n);

/* The fits time their shapes in this many interleaved passes (each a share
 * of the budget) and keep each shape's best: a stretch of time another job
 * disturbs then costs one pass of one shape, not a shape's whole sample, so
 * the fitted rates move less between probes on a loaded host. */
#define CQ_PROBE_FIT_PASSES 3

/* A reference convolution: c_in > c_out, k x k, stride, at hw x hw, groups
 * (pads k / 2, times the dilation). */
typedef struct conv_ref {
    int64_t c_in, c_out, k, hw, groups, stride;
} conv_ref;

#define CONV_BF16 1 /* in bf16 */
#define CONV_NCHW 2 /* in NCHW even where NCHW16c is native */
#define CONV_DIL2 4 /* dilation 2 */
#define CONV_SILU 8 /* SiLU in place of Relu */

/* probe_kern.c: seconds of one fp32 (CONV_BF16: bf16) conv as the executor
 * runs it (-1 on failure), its MACs in *macs; least squares t ~ x c over n
 * shapes and k <= 3 unknowns (0 when c[0] > 0 and the rest >= 0, else -1). */
double cq__probe_time_conv(conv_ref r, int flags, double ms, double *macs, cq_err *err);
/* probe_gemm.c: seconds of an m x n x k fp32 GEMM (cq_gemm_f32) and bf16 GEMM
 * (a cq_bgemm plan; *amx: whether it runs AMX tiles), *macs their MACs; -1
 * on failure (err set). */
double cq__probe_time_gemm(int64_t m, int64_t n, int64_t k, double ms, double *macs, cq_err *err);
double cq__probe_time_bgemm(int64_t m, int64_t n, int64_t k, double ms, double *macs, int *amx,
                            cq_err *err);
int cq__probe_lsq(int n, int k, const double x[][3], const double *t, double *c);
/* c (a fit of t ~ x c, k <= 3 unknowns, over n <= 5 shapes) with c[0],
 * seconds a MAC, held at 1 / peak (MACs a second) where it was faster, the
 * others fitted again to the rest; peak <= 0: c as it is. */
void cq__probe_fit_capped(int n, int k, const double x[][3], const double *t, double peak,
                          double *c);
/* probe_misc.c: an exp activation's cost an output element of conv r, as
 * k's unit `name` (k NULL: timed only): r with SiLU against r with Relu. */
int cq__probe_act_exp(cq_probe_kern *k, const char *name, conv_ref r, double ms, cq_err *err);

/* probe_misc.c: the fp32 depthwise 16-channel-block kernel (f32_dw_cb) as
 * cost_kernel.c costs it, a MAC part and a cost an element in or out, fitted
 * over DWCB_SHAPES; returns the MAC part's seconds (tile-adjusted MACs in
 * *macs) and *elem_s (0 where the fit fails: the whole time), -1 on failure. */
/* probe_misc.c: eltwise's reference loop (Relu over 256 K floats, 1 MB in
 * and out, in L2), seconds, *bytes as cost.c counts them (the write twice);
 * the seconds a row of cq_qmul_8_rows costs beyond its elements (4096 rows
 * of 32 against one call of 131072), and in *elem_s an element's (the one
 * call's). -1 on failure. */
double cq__probe_time_eltwise(double ms, double *bytes, cq_err *err);
double cq__probe_time_qmul_call(double ms, double *elem_s, cq_err *err);
/* probe_misc.c: the seconds cq_upsample_blocked_f32 takes an output pixel
 * (64 bytes) upsampling 64 channels at 28x28 by 2x2 (in L2); -1 on failure. */
double cq__probe_time_upsample_px(double ms, cq_err *err);
/* probe_misc.c: cq_global_avgpool_8 on NHWC u8 codes, 96 channels at 56x56 (in
 * L2), seconds; *bytes as cost.c counts them. -1 on failure. */
double cq__probe_time_gap8(double ms, double *bytes, cq_err *err);

#define DWCB_SHAPES "dw 3x3 256 at 14x14, 96 at 10x10, 5x5 160 at 24x24, 5x5/2 96 at 48x48, 3x3 dil 2 128 at 32x32"
double cq__probe_dwcb_fit(double ms, double *macs, double *elem_s, cq_err *err);

#endif
