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

#endif
