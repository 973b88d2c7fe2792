/*
 * kern_bgemm.h - bf16 GEMM: f32 in, bf16 products, f32 sums and f32 out,
 * with the fp32 GEMMs' fused epilogue (bias, activation, residual).
 *
 *     y (m, n) = act( bf(x) (m, k) . bf(w)^T + bias [+ res] )
 *
 * x holds the activations, one row per output pixel (or the rows of a
 * MatMul's A), f32; each value is rounded to bf16 while x is packed, every
 * run. w holds the weights, rounded to bf16 and packed once in the plan: (n,
 * k) as convolution weights [Cout, Cin * kh * kw] are stored, or (k, n) as a
 * MatMul's B (w_kn). bf(v) is cq_bgemm_round: round to nearest even with
 * f32 denormals read as zero (what vcvtne2ps2bf16 does).
 *
 *     cq_bgemm_params p = cq_bgemm_params_default();
 *     p.m = 3136; p.n = 64; p.k = 576; p.act.kind = CQ_ACT_RELU;
 *     cq_bgemm_plan *pl = cq_bgemm_plan_new(&p, w, bias, &err);
 *     void *s = cq_alloc(cq_bgemm_scratch_bytes(pl));
 *     cq_bgemm_run(pl, x, y, NULL, s, cq_bgemm_scratch_bytes(pl), &err);   // many times
 *
 * What is exact: the product of two bf16 values is exact in f32, so every
 * path computes the same products; the sums are f32 in an order of its own
 * (AMX and AVX512-BF16: pairs along k by tdpbf16ps / vdpbf16ps, whose sums
 * also flush denormal results to zero; elsewhere the fp32 GEMM on the rounded operands), so paths
 * agree within f32 reassociation of the k sums (tests: |y - ref| <= 1e-5 *
 * sum_t |bf(x) bf(w)| + tiny), and each path gives the same bits whatever
 * the thread count. bf16 keeps 8 significant bits: against the f32 GEMM
 * expect relative errors of about 2^-8 per product, averaging out in long
 * sums.
 *
 * Paths (the plan packs for the CPU and ISA current when it is made):
 * - AMX-BF16 where the CPU has it and cq_kern_amx() is on: w packed in 1 KiB
 *   tiles (16 pairs along k x 16 columns), the unit's rows of x rounded once
 *   over the whole k, 32 x 32 blocks of sums in four tiles (tdpbf16ps), the
 *   same epilogue.
 * - AVX512-BF16 (cq_bgemm_native): w packed as [np / 64][kp / 2][64][2] bf16
 *   (pairs along k interleaved as vdpbf16ps reads them, k padded with zeros);
 *   x rows converted per k block into scratch; 6 x 64 register tile (24 zmm
 *   sums); k blocked so that a panel's slice stays in L1; partial sums of the
 *   k blocks kept in y itself.
 * - otherwise: the weights kept as bf16-rounded f32, each block of x rows
 *   rounded into scratch, then the fp32 GEMM (cblas_sgemm) and the epilogue.
 *
 * Threads: the run splits row and column blocks over the kernel thread pool
 * (cq_kern_set_threads); every output is summed by one thread in a fixed
 * order.
 *
 * Failure: constructors return NULL and fill err (EINVAL on inconsistent
 * parameters, ENOMEM); runs return a cq_status.
 */
#ifndef CQ_KERN_BGEMM_H
#define CQ_KERN_BGEMM_H

#include "kern/kern.h"

typedef struct cq_bgemm_params {
    int64_t m, n, k;
    int w_kn;         /* 0: w is (n, k); 1: w is (k, n) */
    cq_act act;       /* any kind (kern.h), applied after bias and residual */
    int64_t ldx, ldy; /* row strides of x, y (and res) in elements; 0: k, n */
} cq_bgemm_params;

/* All zero: no activation, dense rows. */
cq_bgemm_params cq_bgemm_params_default(void);

typedef struct cq_bgemm_plan cq_bgemm_plan;

/* The bf16 value nearest v (ties to even; f32 denormals read as zero; NaN
 * stays NaN), as an f32. */
float cq_bgemm_round(float v);
/* Whether this CPU and the current ISA (AVX-512 with AVX512-BF16) run the
 * vdpbf16ps path. */
int cq_bgemm_native(void);

/* Check p, round and pack w, copy bias (n entries or NULL). The plan keeps
 * its own copies. NULL on failure. */
cq_bgemm_plan *cq_bgemm_plan_new(const cq_bgemm_params *p, const float *w, const float *bias,
                                 cq_err *err);
/* Bytes of scratch a run needs; ask again after cq_kern_set_threads. */
size_t cq_bgemm_scratch_bytes(const cq_bgemm_plan *pl);
/* Whether the plan runs bf16 hardware (cq_bgemm_native when made), and
 * whether that is AMX-BF16 tiles (the CPU has them and cq_kern_amx() was on
 * when it was made). */
int cq_bgemm_plan_native(const cq_bgemm_plan *pl);
int cq_bgemm_plan_amx(const cq_bgemm_plan *pl);
/* y = act(bf(x) . bf(w)^T + bias + res). x: m rows of k (stride ldx); y and
 * res (NULL for none): m rows of n (stride ldy). y must not overlap x or res.
 * EINVAL on NULL buffers or scratch below cq_bgemm_scratch_bytes. */
cq_status cq_bgemm_run(const cq_bgemm_plan *pl, const float *x, float *y, const float *res,
                       void *scratch, size_t scratch_bytes, cq_err *err);
/* NULL is a no-op. */
void cq_bgemm_plan_free(cq_bgemm_plan *pl);

/* Plain loops, the same contract: inputs rounded by cq_bgemm_round, products
 * summed in double, then rounded to f32 before bias, residual and
 * activation. The test oracle. */
cq_status cq_bgemm_ref(const cq_bgemm_params *p, const float *w, const float *bias,
                       const float *x, float *y, const float *res, cq_err *err);

#endif
