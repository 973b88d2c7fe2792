/* core/cost/hw.h - a hardware profile: what the cost model knows of a target.
 *
 * A profile is written as a Lua table (recipes/profiles/NAME.lua, format in
 * docs/cost-model.md); scripts/calq/profile.lua loads and checks it and the
 * binding fills this struct. Every rate is per core; cq_hw_check says what is
 * missing or out of range. The cost estimators (cost.h) read nothing else of
 * the machine, so a profile of a machine calq does not run on costs models
 * the same way as the host's probed profile. */
#ifndef CALQ_COST_HW_H
#define CALQ_COST_HW_H

#include <stdint.h>

#include "base/status.h"

/* Multiply-accumulate kinds a profile gives peaks for. */
typedef enum cq_hw_mac {
    CQ_HW_MAC_F32 = 0,   /* fp32 FMA */
    CQ_HW_MAC_BF16,      /* bf16 pairs into f32 (vdpbf16ps, bfmmla; AMX-BF16 tiles) */
    CQ_HW_MAC_S8,        /* u8 x s8 -> s32 (vpdpbusd, sdot; AMX-INT8 tiles) */
    CQ_HW_MAC_S8_NOVNNI, /* u8 x s8 without a dot-product instruction (vpmaddubsw) */
    CQ_HW_MAC_COUNT
} cq_hw_mac;

/* Precision conversions, in elements per cycle per core. */
typedef enum cq_hw_cvt {
    CQ_HW_CVT_QUANT = 0, /* f32 -> u8/s8 */
    CQ_HW_CVT_DEQUANT,   /* u8/s8 -> f32 */
    CQ_HW_CVT_REQUANT,   /* u8/s8 -> u8/s8, another scale */
    CQ_HW_CVT_F32_BF16,
    CQ_HW_CVT_BF16_F32,
    CQ_HW_CVT_COUNT
} cq_hw_cvt;

#define CQ_HW_MAX_CACHE 4
#define CQ_HW_MAX_EFF 32
#define CQ_HW_NAME 64
#define CQ_HW_MAX_CORES 4096
#define CQ_HW_MAX_MACS 65536     /* MACs per cycle per core (AMX int8: 1024) */
#define CQ_HW_MAX_EFF_VALUE 2.0  /* an efficiency over 1: the peak or bandwidth is low */

typedef struct cq_hw_cache {
    int64_t size;   /* bytes of one instance */
    double bw;      /* bytes per cycle one core reads from this level */
    double latency; /* cycles */
    int shared;     /* 1: one instance shared by all cores (size is the whole), 0: per core */
} cq_hw_cache;

/* A named kernel efficiency: the fraction of the peak (compute kernels) or of
 * the bandwidth (memory-bound kernels) that kernel class reaches on its
 * reference shapes. Names are those of docs/cost-model.md ("f32_conv",
 * "s8_dw", ...); a class the profile does not name counts as 1.0. */
typedef struct cq_hw_eff {
    char name[32];
    double value;
} cq_hw_eff;

typedef struct cq_hw {
    char name[CQ_HW_NAME];
    int cores;
    double ghz;                    /* sustained clock under vector load */
    int vector_bits;               /* 128, 256, 512 */
    double macs[CQ_HW_MAC_COUNT];  /* MACs per cycle per core; 0: not available */
    int n_cache;                   /* levels, L1 first */
    cq_hw_cache cache[CQ_HW_MAX_CACHE];
    double mem_bw;                 /* DRAM, GB/s for the whole socket */
    double mem_bw_core;            /* DRAM, GB/s one core can draw; 0: mem_bw */
    double cvt[CQ_HW_CVT_COUNT];   /* elements per cycle per core */
    int amx;                       /* 1: AMX tiles (int8, bf16) */
    /* MACs per cycle per core of the AMX tiles, bf16 and s8 entries only
     * (key amx_macs = {bf16 =, s8 =}, required when amx): the peak of the
     * kernels that run tdpbf16ps / tdpbusd where calq uses AMX; macs[] keeps
     * the vector units' (vdpbf16ps, vpdpbusd) for the kernels that do not. */
    double amx_macs[CQ_HW_MAC_COUNT];
    double node_ns;                /* fixed cost of running one node (dispatch, setup), ns */
    int n_eff;
    cq_hw_eff eff[CQ_HW_MAX_EFF];
    /* optional (key call_ns): a kernel class's fixed cost of one call, ns
     * (its setup, packing, the thread split: what a call on a 1x1 map
     * takes), added to node_ns for the nodes running that class */
    int n_call;
    cq_hw_eff call[CQ_HW_MAX_EFF];
} cq_hw;

/* CQ_OK when every field is present and in range (cores >= 1, 0.1 <= ghz <= 10,
 * f32 MACs > 0, cache sizes increasing, bandwidths > 0...), else fills err
 * naming the field and the problem. */
cq_status cq_hw_check(const cq_hw *hw, cq_err *err);
/* The efficiency of kernel class name: its cq_hw_eff value, 1.0 when absent. */
double cq_hw_efficiency(const cq_hw *hw, const char *name);
/* The fixed cost of one call of kernel class name, ns; 0 when absent. */
double cq_hw_call_ns(const cq_hw *hw, const char *name);
/* The profile's key of a MAC kind ("f32", "bf16", "s8", "s8_novnni") and of a
 * conversion ("quant", "dequant", "requant", "f32_bf16", "bf16_f32"); "?" when
 * out of range. */
const char *cq_hw_mac_name(cq_hw_mac k);
const char *cq_hw_cvt_name(cq_hw_cvt k);
/* The first cache level (0 = L1) whose size holds bytes; n_cache: none (DRAM). */
int cq_hw_cache_level(const cq_hw *hw, double bytes);
/* macs[kind] * ghz: one core's peak in GMAC/s; 0 when kind is out of range. */
double cq_hw_peak_gmacs(const cq_hw *hw, cq_hw_mac kind);

#endif
