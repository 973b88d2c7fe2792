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
void cq__probe_fill_f32(float *p, size_t n, float scale);
void cq__probe_fill_8(void *p, size_t n);

#endif
