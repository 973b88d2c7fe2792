/* cost_testutil.h - hand-built hardware profiles for the cost model's tests,
 * whose figures make each term computable by hand, and a row lookup. */
#ifndef CALQ_TESTS_COST_TESTUTIL_H
#define CALQ_TESTS_COST_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cost/cost.h"
#include "cost/hw.h"

/* One core at 1 GHz with AVX-512, 16 f32 MACs a cycle, one private cache
 * level of size bytes at bw bytes a cycle, DRAM at mem_bw GB/s, every
 * conversion 8 elements a cycle; no efficiency factors, no fixed cost. */
static inline cq_hw one_level_hw(int64_t size, double bw, double mem_bw)
{
    cq_hw hw;
    memset(&hw, 0, sizeof hw);
    snprintf(hw.name, sizeof hw.name, "test");
    hw.cores = 1;
    hw.ghz = 1.0;
    hw.vector_bits = 512;
    hw.macs[CQ_HW_MAC_F32] = 16;
    hw.n_cache = 1;
    hw.cache[0] = (cq_hw_cache){.size = size, .bw = bw, .latency = 5, .shared = 0};
    hw.mem_bw = mem_bw;
    for (int k = 0; k < CQ_HW_CVT_COUNT; k++)
        hw.cvt[k] = 8;
    return hw;
}

/* One core at 1 GHz, 16 f32 MACs a cycle; L1 32 KB at 64 B/cycle, L2 1 MB at
 * 32 B/cycle, DRAM 10 GB/s; no efficiency factors, no fixed cost. */
static inline cq_hw two_level_hw(void)
{
    cq_hw hw = one_level_hw(32 << 10, 64, 10);
    hw.macs[CQ_HW_MAC_BF16] = 32;
    hw.macs[CQ_HW_MAC_S8] = 64;
    hw.n_cache = 2;
    hw.cache[1] = (cq_hw_cache){.size = 1 << 20, .bw = 32, .latency = 15, .shared = 0};
    return hw;
}

/* One core at 1 GHz, 16 f32 MACs a cycle, caches so large and fast that the
 * memory term is nothing next to the compute term; no fixed costs. */
static inline cq_hw fast_hw(void)
{
    return one_level_hw((int64_t)1 << 30, 1e6, 1e6);
}

/* The first row of op in r (fails the test when there is none). */
static inline const cq_cost_row *row_of(const cq_cost *r, const char *op)
{
    for (int k = 0; k < r->n; k++)
        if (!strcmp(r->rows[k].op, op))
            return &r->rows[k];
    fail_msg("no %s row", op);
    return NULL;
}

#endif
