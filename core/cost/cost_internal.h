/*
 * cost_internal.h - shared by cost.c (the estimators, the cache simulation)
 * and cost_kernel.c (which kernel a node runs: its class, precision, MACs,
 * tile efficiency, conversions and tiling re-reads).
 */
#ifndef CALQ_COST_INTERNAL_H
#define CALQ_COST_INTERNAL_H

#include "cost/cost.h"
#include "exec/exec_info.h"

/* What the estimators need to know of the kernel a fused node runs. */
typedef struct cq__cost_kernel {
    const char *kclass;    /* efficiency class (docs/cost-model.md) */
    const char *fallback;  /* the class whose efficiency stands in when the
                            * profile does not name kclass, or NULL */
    cq_dtype precision;    /* the arithmetic's: CQ_F32, CQ_BF16, CQ_U8 / CQ_S8 */
    int64_t macs;          /* contractions' multiply-accumulates, else 0 */
    int64_t flops;         /* the elementwise arithmetic (cq_op_flops x vector ops an
                            * element): a memory-bound op's, or a contraction's
                            * fused epilogue (SiLU, HardSwish...) */
    int64_t scalar_ops;    /* work done one element at a time (a strided im2col) */
    double tile_eff;       /* lanes doing useful work in the kernel's tiles, (0, 1] */
    int amx;               /* runs on AMX tiles: the profile's amx_macs rate */
    int weight_input;      /* the head's input holding packed weights, -1: none */
    int weight_esize;      /* their bytes per element as packed; 0: as stored */
    int cvt_kind;          /* cq_hw_cvt of the conversion the node does, -1 none */
    int64_t cvt_elems;
    int64_t reread_bytes;  /* bytes the tiling reads again (beyond the first pass) */
    int64_t reread_block;  /* the size of what is re-read (picks its level) */
    int64_t tile_bytes;    /* bytes the kernel's tile loads read again, in order
                            * with its multiplies (not overlapped), */
    int64_t tile_block;    /* from the level a block of this size fits */
    int streams;           /* the kernel walks its input and output planes in order,
                            * row after row (the fp32 plane depthwise): the hardware
                            * prefetchers hide the shared levels' and DRAM's traffic
                            * under the arithmetic as they do the private levels' */
    int out_streams;       /* the kernel writes its output (and reads a fused residual)
                            * in order, tile row after tile row, alongside its
                            * arithmetic: their trips past the private levels
                            * overlap it as the private levels' do */
    int res_value;         /* the residual a fused Add reads (a value), -1: none */
    const char *wline;     /* the call_ns key of the kernel's weight stream
                            * (probe_wline.c: "f32_wline", "s8_wline"), or NULL:
                            * the kernel prefetches its weights a panel ahead, so
                            * their trips past the private caches overlap the
                            * arithmetic at that rate a line from DRAM */
    int64_t calls;         /* kernel calls of its class (the grouped path: one a
                            * group), each the profile's call_ns[class]; 0: 1 */
    int64_t copy_rows;     /* im2col row copies, each call_ns.im2col_row */
    int64_t nchw_in;       /* input elements a bf16 conv converts from NCHW,
                            * each call_ns.bf16_nchw */
    const char *unit[4];   /* work the probe prices apart from the MACs,
                            * each units[i] x call_ns[unit[i]] (0 when the
                            * profile has no such key): "bf16_elem", "s8_out",
                            * "s8_row", "s8_acopy", "s8_res", "s8_nchw", "s8_mul_call",
                            * "f32_dw_elem", "blk_px", "s8_mul_elem", "f32_act_exp",
                            * "f32_dw_act_exp"; NULL:
                            * none */
    int64_t units[4];
    int64_t pass_bytes;    /* a pass of its own after the kernel's over what it wrote
                            * (a fused residual Add its epilogue cannot take:
                            * kern_conv_run.c adds it and activates in chunks), read
                            * and written from the level pass_block fits, added to
                            * the row's time; 0: none */
    int64_t pass_block;
    int serial_unit;       /* the unit[] done in a pass of its own after the kernel's
                            * (the depthwise kernels' exp activation over each plane
                            * they wrote), added to the row's time rather than
                            * overlapping its traffic; -1: none */
} cq__cost_kernel;

/* Classify chain c (node c->node[0] and what was fused into it) on hw with
 * tu threads. */
void cq__cost_kernel_of(const cq_exec *e, const cq_exec_chain *c, const cq_hw *hw, int tu,
                        cq__cost_kernel *k);
/* hw's efficiency of class name; when the profile does not name it, that
 * of fallback (NULL: none); else 1.0. */
double cq__cost_eff(const cq_hw *hw, const char *name, const char *fallback);

#endif
