/*
 * kern_qgemm.h - int8 GEMM, u8 x s8 -> s32, with a fused requantizing epilogue.
 *
 *     y (m, n) = epilogue( x (m, k) . w^T + bias )
 *
 * x holds the activations, one row per output pixel (NHWC, or the rows of an
 * im2col matrix in pixel-major order), u8 or s8, with one zero point; w holds
 * the weights, s8, symmetric (zero point 0), and is the operand packed once in
 * the plan: (n, k) as convolution weights [Cout, Cin * kh * kw] are stored, or
 * (k, n) as a MatMul's B (w_kn). A convolution as GEMM is then m = pixels,
 * n = Cout, k = Cin * kh * kw.
 *
 *     cq_qgemm_params p = cq_qgemm_params_default();
 *     p.m = 3136; p.n = 64; p.k = 576; p.x_dt = CQ_U8; p.x_zp = 3;
 *     p.y_dt = CQ_U8; p.req = CQ_QREQ_FLOAT; p.y_zp = 0; p.y_min = 0;  // Relu
 *     cq_qgemm_plan *pl = cq_qgemm_plan_new(&p, w, bias, mult, NULL, NULL, &err);
 *     void *s = cq_alloc(cq_qgemm_scratch_bytes(pl));
 *     cq_qgemm_run(pl, x, y, NULL, s, cq_qgemm_scratch_bytes(pl), &err);   // many times
 *
 * The accumulator of output (i, j) is
 *     acc = sum_t (x[i][t] - x_zp) * w[t][j] + bias[j]          (int32)
 * and the output, by y_dt and req:
 *   CQ_S32, CQ_QREQ_NONE:  acc.
 *   CQ_F32, NONE / FLOAT:  act((float)acc [* mult[j]] [+ res[i][j]]), act NONE,
 *                          RELU or CLIP, res f32 (a dequantized output).
 *   CQ_U8 / CQ_S8, FLOAT:  v = (float)acc * mult[j] [+ (float)(res[i][j] - res_zp)
 *                          * res_mult]; then clamp(nearbyintf(v) + y_zp) to
 *                          [y_min, y_max], float operations in that order and
 *                          none contracted: without res, cq_requantize exactly.
 *                          res has y's dtype (the residual Add of a ResNet).
 *   CQ_U8 / CQ_S8, FIXED:  clamp(((int64)acc * qmult[j] + 2^(shift[j] - 1)) >>
 *                          shift[j] + y_zp) to [y_min, y_max]; qmult in
 *                          [0, 2^31), shift in [1, 62]; no res.
 * Relu and Clip on an int8 output are its code range [y_min, y_max], which
 * the caller computes from the activation's bounds and the output scale.
 *
 * Paths (the plan packs for the ISA current when it is made, and runs that):
 * - AMX (cq_kern_amx(), with the AVX-512 ISA): tdpbusd on tiles of 16 rows
 *   x 64 k of x and 64 k x 16 columns of w into 16 x 16 s32 sums, a 32 x 32
 *   block of sums in four tiles; w packed as [np / 16][kp / 4][16][4] with
 *   k padded to 64; s8 activations shift to u8 as below, and the sums go
 *   through the AVX-512 epilogue. A plan made with AMX off, or for m = 1
 *   or k <= 16 (where padding k to 64 costs more than it gains), runs VNNI.
 * - AVX-512 VNNI: vpdpbusd on u8 x s8 groups of 4 along k; w packed as
 *   [n / 64][k / 4][64][4] (k padded with zeros), 6 x 64 register tile, k
 *   blocked so the tile's weights stay in L1; s8 activations shift to u8
 *   (x + 128) as they are copied and the plan's per-column compensation
 *   bias[j] - (x_zp + 128) * sum_t w[t][j] takes the shift back.
 * - AVX2: vpmaddubsw would saturate (255 * 127 * 2 > 32767), so activations
 *   widen to u16 and weights to s16 and vpmaddwd sums pairs into s32: each
 *   pair is at most 2 * 255 * 128 = 65280, exact by construction.
 * - scalar: cq_qgemm_ref on the plan's copy of w.
 * Every path gives the same bits (bench/qgemm.c measures them; results in
 * bench/RESULTS.md, "int8 GEMM"). Sums must stay inside int32 (the
 * reference says ERANGE where they do not; the fast paths wrap).
 *
 * Threads: the run splits row and column blocks over the kernel thread pool
 * (cq_kern_set_threads); each output is computed by one thread in the same
 * order, so results do not depend on the thread count.
 *
 * Failure: constructors return NULL and fill err (EINVAL on inconsistent
 * parameters, EUNSUPPORTED on a dtype, ENOMEM); runs return a cq_status.
 */
#ifndef CQ_KERN_QGEMM_H
#define CQ_KERN_QGEMM_H

#include "kern/kern.h"

typedef enum cq_qgemm_req {
    CQ_QREQ_NONE = 0, /* s32 out, or f32 out without a scale */
    CQ_QREQ_FLOAT,    /* per-column float multiplier */
    CQ_QREQ_FIXED     /* per-column int32 multiplier and right shift */
} cq_qgemm_req;

typedef struct cq_qgemm_params {
    int64_t m, n, k;
    int w_kn;          /* 0: w is (n, k); 1: w is (k, n) */
    cq_dtype x_dt;     /* CQ_U8 or CQ_S8 */
    int32_t x_zp;      /* inside x_dt's range */
    cq_dtype y_dt;     /* CQ_S32, CQ_F32, CQ_U8 or CQ_S8 */
    cq_qgemm_req req;
    int32_t y_zp;      /* u8 / s8 out */
    int32_t y_min, y_max; /* u8 / s8 out: code clamp, inside the dtype's range */
    cq_act act;        /* f32 out: NONE, RELU or CLIP */
    int32_t res_zp;    /* u8 / s8 out with a residual */
    float res_mult;    /* res_scale / y_scale */
    int64_t ldx, ldy;  /* row strides of x, y (and res) in elements; 0: k, n */
} cq_qgemm_params;

/* Zeros, x_dt = y_dt = CQ_U8, req FLOAT, y_min 0, y_max 255. */
cq_qgemm_params cq_qgemm_params_default(void);

typedef struct cq_qgemm_plan cq_qgemm_plan;

/* Check p, pack w, fold bias and the zero-point compensation per column.
 * w: m-independent weights as p->w_kn says; bias: n entries or NULL; mult: n
 * entries when req is FLOAT (else ignored); qmult, shift: n entries when req
 * is FIXED. The plan keeps copies: the arrays may be freed after the call.
 * NULL on failure. */
cq_qgemm_plan *cq_qgemm_plan_new(const cq_qgemm_params *p, const int8_t *w, const int32_t *bias,
                                 const float *mult, const int32_t *qmult, const int32_t *shift,
                                 cq_err *err);
/* Bytes of scratch a run needs (may be 0); ask again after
 * cq_kern_set_threads. */
size_t cq_qgemm_scratch_bytes(const cq_qgemm_plan *pl);
/* The ISA the plan packed for and runs. */
cq_isa cq_qgemm_isa(const cq_qgemm_plan *pl);
/* Whether the plan runs AMX tiles (its ISA is then CQ_ISA_AVX512). */
int cq_qgemm_amx(const cq_qgemm_plan *pl);
/* y = epilogue(x . w + bias) as above. x: m rows of k (stride ldx), y and res:
 * m rows of n (stride ldy) of the dtypes above; res NULL for none. y must not
 * overlap x or res. EINVAL on a residual the epilogue does not take or on
 * scratch smaller than cq_qgemm_scratch_bytes. */
cq_status cq_qgemm_run(const cq_qgemm_plan *pl, const void *x, void *y, const void *res,
                       void *scratch, size_t scratch_bytes, cq_err *err);
/* NULL is a no-op. */
void cq_qgemm_plan_free(cq_qgemm_plan *pl);

/* Plain loops with int64 sums, the same contract: the test oracle. ERANGE
 * where a sum leaves int32. */
cq_status cq_qgemm_ref(const cq_qgemm_params *p, const int8_t *w, const int32_t *bias,
                       const float *mult, const int32_t *qmult, const int32_t *shift,
                       const void *x, void *y, const void *res, cq_err *err);

#endif
