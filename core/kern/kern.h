/*
 * kern.h - fp32 compute kernels and exact integer reference kernels.
 *
 * The kernel layer knows nothing about ONNX graphs: plain parameter structs,
 * raw dense row-major pointers with their element counts, and a cq_err. Tensors
 * are NCHW at the boundary (the ONNX layout). Nothing here allocates on a run
 * path: heavy kernels are planned once (shapes + weights; the plan packs the
 * weights and chooses the algorithm), report the scratch bytes they need, and
 * run many times on caller-owned scratch.
 *
 *     cq_conv2d_params p = cq_conv2d_params_default();
 *     p.n = 1; p.c_in = 64; p.h = 56; p.w = 56; p.c_out = 64; p.kh = p.kw = 3;
 *     p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
 *     p.act.kind = CQ_ACT_RELU;
 *     cq_conv2d_plan *pl = cq_conv2d_plan_new(&p, w, w_count, bias, 64, &err);
 *     void *scratch = cq_alloc(cq_conv2d_scratch_bytes(pl));
 *     cq_conv2d_run(pl, x, x_count, y, y_count, scratch,
 *                   cq_conv2d_scratch_bytes(pl), &err);      // many times
 *     cq_free(scratch); cq_conv2d_plan_free(pl);
 *
 * A 1-D convolution (ONNX Conv on N,C,L) is a 2-D one with h = 1, kh = 1,
 * stride_h = dil_h = 1 and zero top/bottom pads.
 *
 * Internal layout and the choice of path (the rules; bench/kern.sh and
 * bench/exec_latency.lua measure them, bench/RESULTS.md and bench/NOTES.md
 * hold the runs that set them):
 * - GEMM-based convolutions stay NCHW: the 1x1 convolution is exactly one
 *   sgemm per image and group (W[Cout,Cin] x X[Cin,H*W], no copy), im2col
 *   builds [Cin*kh*kw, Ho*Wo] from contiguous row copies and the sgemm output
 *   lands in NCHW. The GEMM is calq's own AVX-512 kernel (8 x 48 register
 *   tile, weights packed in the plan, bias and activation applied as the tile
 *   is stored) when the ISA is avx512, because it beats OpenBLAS's sgemm of
 *   the same shape; otherwise cblas_sgemm.
 * - Under the same rule (avx512), convolutions with groups 1, kw > 1 or
 *   kh > 1 and stride_w 1 or 2 run as a pixel-major implicit GEMM instead
 *   (kern_convpm_avx512.c): no im2col matrix (each row group's input rows
 *   are copied once and read in place; the stems pack rows per K block),
 *   W^T packed in the plan, 7-pixel x 32/48-channel register
 *   tiles, output transposed into NCHW as it is stored. 1x1 convolutions
 *   take it where the channel-major tile would waste more lanes (7x7 maps:
 *   49 pixels fill 7 panels exactly, not 48 + 1). It also reads and writes
 *   NCHW16c (cq_conv2d_params' layout fields): each accumulator is then one
 *   pixel's 16 channels of a block, stored as one line, and 1x1
 *   convolutions read x in place; the executor keeps values between such
 *   convolutions in it (docs/design-exec.md).
 * - Few input channels (c_in <= 4, the stems) run a direct kernel with
 *   AVX-512. Depthwise runs, with AVX-512, the 16-channel-block kernel on
 *   planes of up to 14x14 outputs and the plane kernel on rows of >= 14;
 *   otherwise channel-last (planes transposed to (H*W, C) in scratch,
 *   vectors over channels, transposed back) where output rows are short
 *   (ow < 32, or < 64 with >= 128 channels), else the NCHW row kernel
 *   (CQ_CONV_DEPTHWISE). Channel multipliers > 1 use the row kernel.
 *
 * Threads: cq_kern_set_threads sets one count for calq's own kernels,
 * which split a call's work over a thread pool (par.h), and for OpenBLAS.
 * Kernels are reentrant: one plan may run in several threads at once with
 * separate scratch buffers.
 *
 * Instruction sets: fast loops exist for AVX-512 and AVX2 and are chosen at
 * first use from the CPU, or from the environment variable
 * CALQ_ISA=scalar|avx2|avx512 (never above what the CPU supports). Every fast
 * kernel has a scalar _ref twin used as a test oracle.
 *
 * Failure: functions returning cq_status return CQ_OK or fill err (EINVAL for
 * inconsistent shapes / sizes, ENOMEM for allocation, EUNSUPPORTED for a dtype
 * the kernel does not take). Plan constructors return NULL on failure.
 */
#ifndef CQ_KERN_H
#define CQ_KERN_H

#include <stddef.h>
#include <stdint.h>
#include "base/status.h"
#include "base/tensor.h"

/* ---- instruction set dispatch ------------------------------------------ */

typedef enum cq_isa { CQ_ISA_SCALAR = 0, CQ_ISA_AVX2, CQ_ISA_AVX512, CQ_ISA_COUNT } cq_isa;

/* ISA the kernels use now (decided on first call: CPU, then CALQ_ISA). */
cq_isa cq_kern_isa(void);
/* Force an ISA (for tests and benchmarks); clamped to what the CPU supports.
 * Returns the ISA now in use. Not thread-safe: call it between runs. */
cq_isa cq_kern_set_isa(cq_isa isa);
/* Whether the int8 GEMM may use AMX tiles (kern_qgemm.h): the CPU has
 * AMX-TILE and AMX-INT8, the OS granted the process the tile state
 * (arch_prctl, asked once), the ISA is CQ_ISA_AVX512 and AMX is not turned
 * off (CALQ_AMX=0 in the environment, or cq_kern_set_amx(0)). */
int cq_kern_amx(void);
/* Turn AMX use on (clamped to the above) or off, for tests and benchmarks;
 * returns cq_kern_amx(). Plans keep the choice made when they were made. Not
 * thread-safe: call it between runs. */
int cq_kern_set_amx(int on);
/* The ISA of the int8 kernels (kern_qgemm.h, kern_qconv.h): cq_kern_isa(),
 * except that CQ_ISA_AVX512 needs AVX512-VNNI (vpdpbusd) too, since the
 * AVX-512 int8 kernels are built on it; an AVX-512 CPU without it (Skylake-SP)
 * runs the AVX2 int8 kernels. CALQ_VNNI=0 in the environment, or
 * cq_kern_set_vnni(0), takes VNNI as absent (tests, and the cost of that path
 * on this host). */
cq_isa cq_kern_isa_s8(void);
/* Let the int8 kernels use VNNI (clamped to the CPU) or not; returns
 * cq_kern_isa_s8(). Plans keep the choice made when they were made. Not
 * thread-safe: call it between runs. */
cq_isa cq_kern_set_vnni(int on);
/* "scalar", "avx2", "avx512". */
const char *cq_isa_name(cq_isa isa);
/* Threads the kernels use: calq's own split a call's work over a pool
 * (par.h), and OpenBLAS, where it is called, gets the same count. Default
 * 1; at most 64. Not thread-safe: call it between runs. */
void cq_kern_set_threads(int n);
int cq_kern_threads(void);
/* OpenBLAS's own count, process-wide (it starts at OpenBLAS's default:
 * every core, or OPENBLAS_NUM_THREADS). cq_exec_run puts it at the run's
 * count for the run (exec.h); cq_kern_set_threads sets it with calq's. */
int cq_kern_blas_threads(void);
void cq_kern_set_blas_threads(int n);
/* The kernels OpenBLAS runs ("SkylakeX", "Haswell", ...; "" without
 * OpenBLAS's name for them). Where OpenBLAS took a CPU newer than itself
 * for an SSE3 one, calq has it choose the AVX-512 (AVX2) kernels when it
 * loads (kern_isa.c). */
const char *cq_kern_blas_core(void);

/* ---- fused activations -------------------------------------------------- */

typedef enum cq_act_kind {
    CQ_ACT_NONE = 0,
    CQ_ACT_RELU,      /* max(x, 0) */
    CQ_ACT_CLIP,      /* min(max(x, a), b): ONNX Clip(min=a, max=b); Relu6 is a=0,b=6 */
    CQ_ACT_LEAKY,     /* x >= 0 ? x : a * x */
    CQ_ACT_HARDSWISH, /* x * min(max(x + 3, 0), 6) / 6 */
    CQ_ACT_SIGMOID,   /* 1 / (1 + exp(-x)) */
    CQ_ACT_SILU,      /* x * sigmoid(x) (Swish; Conv -> Sigmoid -> Mul fused) */
    CQ_ACT_HARDSIGMOID, /* max(0, min(1, a * x + b)) */
    CQ_ACT_TANH,      /* tanh(x) */
    CQ_ACT_COUNT
} cq_act_kind;

typedef struct cq_act {
    cq_act_kind kind;
    float a, b;
} cq_act;

/* Apply act in place to n values (vectorized). */
void cq_act_apply_f32(cq_act act, float *y, int64_t n);

/* ---- Conv2d ------------------------------------------------------------- */

/* Shapes: x is (n, c_in, h, w), w is (c_out, c_in / groups, kh, kw), bias is
 * (c_out) or NULL, y is (n, c_out, oh, ow) with
 *   oh = (h + pad_top + pad_bottom - dil_h * (kh - 1) - 1) / stride_h + 1
 * (same for ow). c_in and c_out must be multiples of groups. */
typedef struct cq_conv2d_params {
    int64_t n, c_in, h, w;
    int64_t c_out, kh, kw;
    int64_t groups;
    int64_t stride_h, stride_w;
    int64_t pad_top, pad_left, pad_bottom, pad_right;
    int64_t dil_h, dil_w;
    cq_act act; /* fused activation applied after the bias */
    /* Layouts (0: NCHW; 1: NCHW16c, (n, c / 16, h, w, 16), channels a
     * multiple of 16) of x, y and the residual of cq_conv2d_run_res. The
     * AVX-512 pixel-major GEMM reads and writes the blocked layout natively
     * (cq_conv2d_blocked_native); every other path converts in scratch. */
    int x_blocked, y_blocked, res_blocked;
    /* 1: compute in bf16 (kern_bgemm.h's arithmetic: x and w rounded to
     * bf16 by cq_bgemm_round, f32 sums, f32 in and out) where groups is 1
     * and the conv is no few-channel stem (c_in > 4, or 1x1); depthwise,
     * grouped convs and the stems stay f32. With AMX-BF16 (and
     * cq_kern_amx()) tdpbf16ps tiles run it, else with AVX512-BF16 the bf16
     * pixel-major GEMM (vdpbf16ps: on some CPUs half the f32 FMA rate,
     * bench/RESULTS.md), both reading and writing either layout
     * natively; elsewhere the f32 paths run on the rounded operands. */
    int bf16;
} cq_conv2d_params;

/* Everything zero except groups = strides = dilations = 1. */
cq_conv2d_params cq_conv2d_params_default(void);
/* Check p and compute the output spatial size. EINVAL on nonsense (zero
 * sizes, negative pads, window larger than the padded input, groups that do
 * not divide the channels, element counts beyond CQ_TENSOR_MAX_BYTES). */
cq_status cq_conv2d_out_shape(const cq_conv2d_params *p, int64_t *oh, int64_t *ow, cq_err *err);

typedef struct cq_conv2d_plan cq_conv2d_plan;

typedef enum cq_conv_algo {
    CQ_CONV_IM2COL = 0, /* im2col + sgemm per image and group (AVX-512:
                         * a direct kernel for c_in <= 4, else the
                         * pixel-major implicit GEMM where it applies) */
    CQ_CONV_1X1,        /* 1x1, stride 1, no pad: sgemm on the input directly
                         * (scratch: only the AVX-512 sgemm's B panel) */
    CQ_CONV_DEPTHWISE,  /* groups == c_in: direct kernel along NCHW rows */
    CQ_CONV_DEPTHWISE_NHWC, /* groups == c_in == c_out: input transposed to
                             * channel-last in scratch, vectors over channels,
                             * output transposed back */
    CQ_CONV_ALGO_COUNT
} cq_conv_algo;

/* Plan a convolution: checks p, copies (packs) the weights and bias, picks
 * the algorithm. w has w_count = c_out * (c_in / groups) * kh * kw elements;
 * bias has bias_count == c_out elements or is NULL (bias_count 0). The plan
 * owns its copies: w and bias may be freed after the call. NULL on failure. */
cq_conv2d_plan *cq_conv2d_plan_new(const cq_conv2d_params *p, const float *w, size_t w_count,
                                   const float *bias, size_t bias_count, cq_err *err);
/* Same, forcing an algorithm (EINVAL when it does not apply to p). */
cq_conv2d_plan *cq_conv2d_plan_new_algo(const cq_conv2d_params *p, const float *w,
                                        size_t w_count, const float *bias, size_t bias_count,
                                        cq_conv_algo algo, cq_err *err);
/* Bytes of scratch a run needs (may be 0): per kernel thread on the own AVX-512
 * paths, so ask again after cq_kern_set_threads or cq_kern_set_isa. */
size_t cq_conv2d_scratch_bytes(const cq_conv2d_plan *pl);
/* Whether a plan for p (its layout fields included) would run a kernel that
 * reads and writes NCHW16c itself, with no conversion (at the current ISA). */
int cq_conv2d_blocked_native(const cq_conv2d_params *p);
/* Whether p (grouped, its default algorithm) runs the direct grouped kernel
 * where the ISA is AVX-512 (a few channels a group, NCHW: kern_conv.c). */
int cq_conv2d_grouped_direct(const cq_conv2d_params *p);
cq_conv_algo cq_conv2d_algo(const cq_conv2d_plan *pl);
/* The packed weights the plan's pixel-major kernel reads, *bytes their size;
 * NULL (*bytes 0) when the plan runs another path. For the probe, which
 * flushes them from the caches (core/cost/probe_wline.c). */
const void *cq_conv2d_pm_weights(const cq_conv2d_plan *pl, size_t *bytes);
const char *cq_conv_algo_name(cq_conv_algo a);
/* y = act(conv(x, w) + bias). x_count / y_count are element counts and must
 * match the shapes exactly; scratch needs scratch_bytes (any alignment; 64
 * is best). x and y must not overlap. EINVAL on a size mismatch. */
cq_status cq_conv2d_run(const cq_conv2d_plan *pl, const float *x, size_t x_count, float *y,
                        size_t y_count, void *scratch, size_t scratch_bytes, cq_err *err);
/* Same with a residual added before the activation (a fused ResNet-style
 * Conv -> Add -> Relu): y = act(conv(x, w) + bias + res); res has y_count
 * elements and must not overlap y. The AVX-512 channel-major sgemm (1x1 and
 * im2col) starts its sums from it; the other paths add it in a second pass
 * over L1-sized chunks. EINVAL as cq_conv2d_run. */
cq_status cq_conv2d_run_res(const cq_conv2d_plan *pl, const float *x, size_t x_count,
                            const float *res, float *y, size_t y_count, void *scratch,
                            size_t scratch_bytes, cq_err *err);

/* NULL is a no-op. */
void cq_conv2d_plan_free(cq_conv2d_plan *pl);

/* ---- ConvTranspose2d ---------------------------------------------------- */

/* Shapes: x is (n, c_in, h, w), w is (c_in, c_out / groups, kh, kw) (the ONNX
 * layout), bias (c_out) or NULL, y is (n, c_out, oh, ow) with
 *   oh = stride_h * (h - 1) + out_pad_h + dil_h * (kh - 1) + 1 - pad_top - pad_bottom.
 * The caller resolves ONNX output_shape / auto_pad into pads first. */
typedef struct cq_convt2d_params {
    int64_t n, c_in, h, w;
    int64_t c_out, kh, kw;
    int64_t groups;
    int64_t stride_h, stride_w;
    int64_t pad_top, pad_left, pad_bottom, pad_right;
    int64_t out_pad_h, out_pad_w;
    int64_t dil_h, dil_w;
    cq_act act;
} cq_convt2d_params;

cq_convt2d_params cq_convt2d_params_default(void);
cq_status cq_convt2d_out_shape(const cq_convt2d_params *p, int64_t *oh, int64_t *ow,
                               cq_err *err);

typedef struct cq_convt2d_plan cq_convt2d_plan;

/* As cq_conv2d_plan_new: w_count = c_in * (c_out / groups) * kh * kw. The
 * algorithm is sgemm (W^T x X into columns; the AVX-512 sgemm on W^T packed
 * here under the same rule as Conv2d, split over the kernel threads) +
 * col2im. NULL on failure. The scratch depends on the kernel threads: ask
 * again after cq_kern_set_threads. */
cq_convt2d_plan *cq_convt2d_plan_new(const cq_convt2d_params *p, const float *w, size_t w_count,
                                     const float *bias, size_t bias_count, cq_err *err);
size_t cq_convt2d_scratch_bytes(const cq_convt2d_plan *pl);
cq_status cq_convt2d_run(const cq_convt2d_plan *pl, const float *x, size_t x_count, float *y,
                         size_t y_count, void *scratch, size_t scratch_bytes, cq_err *err);
void cq_convt2d_plan_free(cq_convt2d_plan *pl);

/* ---- Gemm / MatMul ------------------------------------------------------ */

/* ONNX Gemm: y (m, n) = alpha * A' B' + beta * C, A' = trans_a ? A^T : A with
 * A' (m, k), B' (k, n). C is broadcast from (c_rows, c_cols), each 1 or the
 * full size; c may be NULL (then c_rows / c_cols are ignored). A is stored
 * (m, k) or (k, m) when trans_a, B (k, n) or (n, k) when trans_b. y must not
 * overlap a or b (it may be c when C is (m, n)). Uses sgemv when m or n is 1. */
typedef struct cq_gemm_params {
    int64_t m, n, k;
    int trans_a, trans_b;
    float alpha, beta;
    int64_t c_rows, c_cols;
} cq_gemm_params;

cq_status cq_gemm_f32(const cq_gemm_params *p, const float *a, const float *b, const float *c,
                      float *y, cq_err *err);
/* Plain loops, same contract (double accumulation): the test oracle. */
cq_status cq_gemm_f32_ref(const cq_gemm_params *p, const float *a, const float *b,
                          const float *c, float *y, cq_err *err);

/* numpy.matmul shapes: a 1-D a is (1, k) and its m dim is dropped from y; a
 * 1-D b is (k, 1) and its n dim dropped; batch dims broadcast. */
typedef struct cq_matmul_dims {
    int64_t m, k, n;
    int64_t batch;                   /* product of the y batch dims */
    int y_ndim;
    int64_t y_shape[CQ_MAX_DIMS];
    int nb;                          /* number of batch dims */
    int64_t bshape[CQ_MAX_DIMS];     /* y batch dims */
    int64_t a_bstride[CQ_MAX_DIMS];  /* per batch dim, in matrices; 0 = broadcast */
    int64_t b_bstride[CQ_MAX_DIMS];
} cq_matmul_dims;

/* Work out the numpy matmul shapes. EINVAL when k differs or batch dims do not
 * broadcast. */
cq_status cq_matmul_dims_init(cq_matmul_dims *d, int a_ndim, const int64_t *a_shape, int b_ndim,
                              const int64_t *b_shape, cq_err *err);
/* Index of the A and B matrices (in units of m*k / k*n) for y batch index i. */
void cq_matmul_batch_index(const cq_matmul_dims *d, int64_t i, int64_t *a_mat, int64_t *b_mat);
/* y = a @ b (y holds batch * m * n floats). Shapes as cq_matmul_dims_init. */
cq_status cq_matmul_f32(int a_ndim, const int64_t *a_shape, const float *a, int b_ndim,
                        const int64_t *b_shape, const float *b, float *y, size_t y_count,
                        cq_err *err);

/* ---- pooling ------------------------------------------------------------ */

typedef enum cq_pool_kind { CQ_POOL_MAX = 0, CQ_POOL_AVG } cq_pool_kind;

/* x (n, c, h, w) -> y (n, c, oh, ow). Output size (ONNX):
 *   floor or ceil((h + pads - dil_h * (kh - 1) - 1) / stride_h) + 1, and with
 *   ceil_mode a last window that would start inside the bottom/right padding
 *   is dropped (as ONNX Runtime and PyTorch do).
 * Max ignores padding (-inf). Average divides by the number of input cells in
 * the window, or with count_include_pad by the window clipped to the padded
 * input (cells past the bottom/right pad added by ceil_mode never count).
 * Dilations apply to both kinds (avg with dilation is ONNX opset >= 19). */
typedef struct cq_pool2d_params {
    cq_pool_kind kind;
    int64_t n, c, h, w;
    int64_t kh, kw;
    int64_t stride_h, stride_w;
    int64_t pad_top, pad_left, pad_bottom, pad_right;
    int64_t dil_h, dil_w;
    int ceil_mode;
    int count_include_pad;
} cq_pool2d_params;

cq_pool2d_params cq_pool2d_params_default(void);
cq_status cq_pool2d_out_shape(const cq_pool2d_params *p, int64_t *oh, int64_t *ow, cq_err *err);
/* Fast path (no dilation, kh <= 64): border outputs clip the window by
 * arithmetic, interior rows run a vector kernel (stride 1 and 2); with
 * AVX-512, max pooling with stride_w 1 or 2 and kw <= 16 takes whole padded
 * rows instead (bench/kern.sh measures both against the _ref twin). Counts
 * checked. */
cq_status cq_pool2d_f32(const cq_pool2d_params *p, const float *x, size_t x_count, float *y,
                        size_t y_count, cq_err *err);
cq_status cq_pool2d_f32_ref(const cq_pool2d_params *p, const float *x, size_t x_count, float *y,
                            size_t y_count, cq_err *err);
/* Max pooling (p->kind CQ_POOL_MAX, p->c a multiple of 16) of NCHW16c x
 * into NCHW16c y: the values of cq_pool2d_f32_ref in the blocked layout. */
cq_status cq_maxpool2d_blocked_f32(const cq_pool2d_params *p, const float *x, size_t x_count,
                                   float *y, size_t y_count, cq_err *err);
/* y[nc] = mean of x[nc, 0..hw) for nc < nc_count. */
void cq_global_avgpool_f32(int64_t nc_count, int64_t hw, const float *x, float *y);
/* The same from NCHW16c x (n images of c channels, a multiple of 16) into
 * y (n, c). */
void cq_global_avgpool_blocked_f32(int64_t n, int64_t c, int64_t hw, const float *x, float *y);
void cq_global_maxpool_f32(int64_t nc_count, int64_t hw, const float *x, float *y);

/* Conv then a 2-D pool of its output (a Conv -> [Relu] -> MaxPool chain):
 * y = pool(act(conv(x, w) + bias)); pool's n, c, h, w must be the conv's n,
 * c_out, oh, ow and y_count the pooled size. Where cq_conv2d_pool_fuses
 * says so, the conv rows go through a ring of the pool's kh rows in L2 and
 * the conv output never exists whole; otherwise the conv output is made in
 * scratch and pooled from there (the same values either way). scratch needs
 * cq_conv2d_pool_scratch_bytes(pl, pool), taken right before the run (it
 * depends on the ISA and the kernel thread count). EINVAL on a mismatch. */
int cq_conv2d_pool_fuses(const cq_conv2d_plan *pl, const cq_pool2d_params *pool);
/* The same asked before there is a plan: whether a plan of p with the
 * default algorithm would run conv + pool fused (on this ISA). */
int cq_conv2d_pool_fusable(const cq_conv2d_params *p, const cq_pool2d_params *pool);
size_t cq_conv2d_pool_scratch_bytes(const cq_conv2d_plan *pl, const cq_pool2d_params *pool);
cq_status cq_conv2d_run_pool(const cq_conv2d_plan *pl, const cq_pool2d_params *pool,
                             const float *x, size_t x_count, float *y, size_t y_count,
                             void *scratch, size_t scratch_bytes, cq_err *err);

/* ---- elementwise -------------------------------------------------------- */

typedef enum cq_binop { CQ_BIN_ADD = 0, CQ_BIN_SUB, CQ_BIN_MUL, CQ_BIN_DIV, CQ_BIN_COUNT } cq_binop;

/* numpy broadcast of two shapes into y_shape; EINVAL when they do not
 * broadcast. */
cq_status cq_broadcast_shape(int a_ndim, const int64_t *a_shape, int b_ndim,
                             const int64_t *b_shape, int *y_ndim, int64_t *y_shape, cq_err *err);
/* y = a op b with numpy broadcasting on dense arrays; y has the broadcast shape
 * (y_count elements). Fast paths: same shape, scalar on either side, one
 * value per channel (e.g. (C,1,1) against (N,C,H,W)), a row (last dims)
 * broadcast. y may alias a or b when that operand has y's shape. */
cq_status cq_binary_f32(cq_binop op, int a_ndim, const int64_t *a_shape, const float *a,
                        int b_ndim, const int64_t *b_shape, const float *b, float *y,
                        size_t y_count, cq_err *err);
cq_status cq_binary_f32_ref(cq_binop op, int a_ndim, const int64_t *a_shape, const float *a,
                            int b_ndim, const int64_t *b_shape, const float *b, float *y,
                            size_t y_count, cq_err *err);
/* y = x op s on NCHW16c x (n images of c / 16 blocks of hw pixels x 16
 * channels; c a multiple of 16), s one value (s_count 1), one per channel
 * (c, every image) or one per image and channel (n c): y in x's layout, may
 * be x. Elementwise the same arithmetic as cq_binary_f32 on NCHW (x the
 * first operand: for a swapped pair the op must commute). EINVAL for other
 * counts. */
cq_status cq_binary_chan_blocked_f32(cq_binop op, int64_t n, int64_t c, int64_t hw,
                                     const float *x, const float *s, int64_t s_count, float *y,
                                     cq_err *err);

typedef enum cq_unop {
    CQ_UN_RELU = 0,
    CQ_UN_LEAKY_RELU,  /* alpha = a */
    CQ_UN_CLIP,        /* min = a, max = b */
    CQ_UN_SIGMOID,
    CQ_UN_TANH,
    CQ_UN_HARDSIGMOID, /* max(0, min(1, a * x + b)); ONNX defaults a = 0.2, b = 0.5 */
    CQ_UN_HARDSWISH,
    CQ_UN_EXP,
    CQ_UN_ERF,
    CQ_UN_GELU,        /* x / 2 * (1 + erf(x / sqrt 2)) */
    CQ_UN_GELU_TANH,   /* x / 2 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3))) */
    CQ_UN_SILU,        /* x * sigmoid(x) */
    CQ_UN_COUNT
} cq_unop;

/* y[i] = op(x[i]) for n elements; y may be x. Vectorized sigmoid / tanh / exp
 * use a Cephes-style exp polynomial: relative error ~1e-7 against libm except
 * (a) exp saturates at exp(88.02) ~ 1.6e38 (libm reaches inf at 88.73) and at
 * exp(-87.34) below, (b) tanh near 0 loses relative accuracy (absolute error
 * ~1e-7). Vectorized erf: its Taylor series for |x| < 1 (relative error
 * ~1e-7), Abramowitz-Stegun 7.1.26 beyond (absolute error ~2e-7). The tests
 * hold them to rtol 1e-4 / atol 1e-5. Calls of 2^16 elements or more are
 * split over the kernel threads (cq_kern_set_threads). */
void cq_unary_f32(cq_unop op, float a, float b, const float *x, float *y, int64_t n);
void cq_unary_f32_ref(cq_unop op, float a, float b, const float *x, float *y, int64_t n);

/* Strided copy of an ndim-dimensional box of esize-byte elements: for every
 * index i of shape, dst[sum i[d] dst_stride[d]] = src[sum i[d] src_stride[d]]
 * (strides in elements, any sign; a zero src stride repeats). Dims are merged
 * where both sides allow it; contiguous runs go through memcpy, 4-byte
 * elements along strided runs one at a time with no index arithmetic. dst
 * and src must not overlap. ndim 0 copies one element; ndim up to
 * CQ_MAX_DIMS. Copies of 64 KB or more are split over the kernel threads. */
void cq_copy_strided(size_t esize, int ndim, const int64_t *shape, const void *src,
                     const int64_t *src_stride, void *dst, const int64_t *dst_stride);
/* Channel-last (NHWC) byte tensors joined along the channels: pixel q of y
 * (yc = the sum of c[i] bytes) is pixel q of x[0], then of x[1], ...
 * (n_in inputs of pix pixels, c[i] bytes each); split over the kernel
 * threads when large. */
void cq_concat_nhwc_8(int n_in, const uint8_t *const *x, const int64_t *c, int64_t pix,
                      uint8_t *y);
/* Plain odometer, the same contract: the test oracle. */
void cq_copy_strided_ref(size_t esize, int ndim, const int64_t *shape, const void *src,
                         const int64_t *src_stride, void *dst, const int64_t *dst_stride);
/* n copies of the esize-byte value v into dst. */
void cq_fill(size_t esize, const void *v, void *dst, int64_t n);
/* Nearest upsampling of NCHW16c by whole factors: x (planes, h, w, 16)
 * into y (planes, h fh, w fw, 16), y[i][a][b] = x[i][a / fh][b / fw]
 * (planes = n c / 16; fh, fw >= 1). */
void cq_upsample_blocked_f32(int64_t planes, int64_t h, int64_t w, int64_t fh, int64_t fw,
                             const float *x, float *y);

/* LayerNormalization over the last axis: x and y are (rows, cols); each row
 * y = (x - mean) / sqrt(var + eps) * scale + bias with the population
 * variance; scale (cols) required, bias (cols) or NULL; mean and inv_std
 * (rows) or NULL get each row's mean and 1 / sqrt(var + eps). y may be x.
 * The fast path sums in float over 16 partial sums; the reference in
 * double. */
void cq_layernorm_f32(int64_t rows, int64_t cols, const float *x, const float *scale,
                      const float *bias, float eps, float *y, float *mean, float *inv_std);
void cq_layernorm_f32_ref(int64_t rows, int64_t cols, const float *x, const float *scale,
                          const float *bias, float eps, float *y, float *mean, float *inv_std);

/* dst (cols, rows) = src (rows, cols)^T; dst must not overlap src. */
void cq_transpose_f32(const float *src, int64_t rows, int64_t cols, float *dst);

/* NCHW <-> NCHW16c for n images of c channels (a multiple of 16) and hw
 * pixels; dst must not overlap src. */
void cq_to_blocked_f32(const float *src, int64_t n, int64_t c, int64_t hw, float *dst);
void cq_from_blocked_f32(const float *src, int64_t n, int64_t c, int64_t hw, float *dst);

/* y[i] = wa a[i] + wb b[i] for n elements (Resize's blend of two rows); y
 * may be a or b. */
void cq_lerp_f32(const float *a, const float *b, float wa, float wb, float *y, int64_t n);
void cq_lerp_f32_ref(const float *a, const float *b, float wa, float wb, float *y, int64_t n);

/* Softmax over the last axis: x and y are (rows, cols); y may be x. */
void cq_softmax_f32(int64_t rows, int64_t cols, const float *x, float *y);
void cq_softmax_f32_ref(int64_t rows, int64_t cols, const float *x, float *y);

/* ---- integer reference kernels (scalar, exact) -------------------------- */

/* Views the tensor as (outer, axis_len, inner). n_scale is 1 (per tensor) or
 * axis_len (per axis). zp may be NULL (zero); its count is n_scale.
 * QuantizeLinear: q = saturate(round_half_even(x / scale) + zp), q dtype
 * CQ_S8 or CQ_U8. EINVAL on a non-positive / non-finite scale. */
cq_status cq_quantize_linear_ref(const float *x, int64_t outer, int64_t axis_len, int64_t inner,
                                 const float *scale, const int32_t *zp, int64_t n_scale,
                                 cq_dtype q_dt, void *q, cq_err *err);
/* DequantizeLinear: x = (q - zp) * scale; q dtype CQ_S8, CQ_U8 or CQ_S32. */
cq_status cq_dequantize_linear_ref(const void *q, cq_dtype q_dt, int64_t outer, int64_t axis_len,
                                   int64_t inner, const float *scale, const int32_t *zp,
                                   int64_t n_scale, float *x, cq_err *err);

/* The same on tensors, the one definition every quantizer in calq uses.
 * axis < 0: one scale and zero point for the tensor; else one per index
 * along axis (scale and zp have shape[axis] entries). zp may be NULL (zero)
 * and, for s8 / u8, must lie in the dtype's range (as an ONNX zero-point
 * tensor of that dtype). cq_quantize: x of any dtype (converted to f32
 * first), dt CQ_S8 or CQ_U8; cq_dequantize: q of any integer dtype, into
 * f32. Return a new dense tensor the caller owns; NULL and EINVAL on a bad
 * axis, scale (not finite and > 0), zero point or dtype, ENOMEM. */
cq_tensor *cq_quantize(const cq_tensor *x, cq_dtype dt, const float *scale, const int32_t *zp,
                       int axis, cq_err *err);
cq_tensor *cq_dequantize(const cq_tensor *q, const float *scale, const int32_t *zp, int axis,
                         cq_err *err);

/* ConvInteger: y (s32) = sum (x - x_zp) * (w - w_zp[co]). x / w dtypes CQ_U8
 * or CQ_S8; w_zp has 1 or c_out entries (NULL = 0). p.act is ignored. Shapes
 * as Conv2d. Accumulates in int64 and errs (ERANGE) if a sum leaves int32. */
cq_status cq_conv_integer_ref(const cq_conv2d_params *p, cq_dtype x_dt, const void *x,
                              int32_t x_zp, cq_dtype w_dt, const void *w, const int32_t *w_zp,
                              int64_t w_zp_count, int32_t *y, cq_err *err);

/* Requantization shared by QLinearConv / QLinearMatMul: with
 * mult = (float)(a_scale * b_scale) / y_scale computed in float,
 * y = saturate(round_half_even((float)acc * mult) + y_zp). */
int32_t cq_requantize(int32_t acc, float mult, int32_t y_zp, int32_t lo, int32_t hi);

/* QLinearConv: acc = sum (x - x_zp)(w - w_zp[co]) + bias[co] (bias s32 or
 * NULL), then cq_requantize with x_scale * w_scale[co] / y_scale. w_scale /
 * w_zp have w_q_count entries (1 or c_out). y dtype CQ_U8 / CQ_S8. */
cq_status cq_qlinear_conv_ref(const cq_conv2d_params *p, cq_dtype x_dt, const void *x,
                              float x_scale, int32_t x_zp, cq_dtype w_dt, const void *w,
                              const float *w_scale, const int32_t *w_zp, int64_t w_q_count,
                              const int32_t *bias, cq_dtype y_dt, float y_scale, int32_t y_zp,
                              void *y, cq_err *err);

/* MatMulInteger on numpy matmul shapes (cq_matmul_dims): y (s32) = sum
 * (a - a_zp[row]) * (b - b_zp[col]). a_zp has 1 or m entries, b_zp 1 or n
 * (NULL = 0). Dtypes CQ_U8 / CQ_S8. */
cq_status cq_matmul_integer_ref(const cq_matmul_dims *d, cq_dtype a_dt, const void *a,
                                const int32_t *a_zp, int64_t a_zp_count, cq_dtype b_dt,
                                const void *b, const int32_t *b_zp, int64_t b_zp_count,
                                int32_t *y, cq_err *err);
/* QLinearMatMul: acc as MatMulInteger, then cq_requantize with
 * a_scale[row] * b_scale[col] / y_scale (scales have 1 or m / 1 or n entries,
 * the same counts as their zero points). y dtype CQ_U8 / CQ_S8. */
cq_status cq_qlinear_matmul_ref(const cq_matmul_dims *d, cq_dtype a_dt, const void *a,
                                const float *a_scale, const int32_t *a_zp, int64_t a_q_count,
                                cq_dtype b_dt, const void *b, const float *b_scale,
                                const int32_t *b_zp, int64_t b_q_count, cq_dtype y_dt,
                                float y_scale, int32_t y_zp, void *y, cq_err *err);

/* QLinearAdd (com.microsoft; what ONNX Runtime fuses DequantizeLinear ->
 * Add -> QuantizeLinear into): with r_a = a_scale / c_scale, r_b = b_scale /
 * c_scale and f = c_zp - (r_a a_zp + r_b b_zp) in float,
 *   c = saturate(round_half_even(fma(a, r_a, fma(b, r_b, f))))
 * (one side of one element: f += b r_b, then fma(a, r_a, f)): ONNX
 * Runtime's own arithmetic, so that the two give the same codes and a
 * network of residual adds does not drift apart. a has na elements, b nb
 * (each 1 or n); a, b and c share dtype dt (CQ_U8 / CQ_S8). */
cq_status cq_qlinear_add_ref(cq_dtype dt, const void *a, int64_t na, float a_scale, int32_t a_zp,
                             const void *b, int64_t nb, float b_scale, int32_t b_zp,
                             float c_scale, int32_t c_zp, void *c, int64_t n, cq_err *err);

/* QLinearMul (com.microsoft; what ONNX Runtime fuses DequantizeLinear ->
 * Mul -> QuantizeLinear into), in ONNX Runtime's x86 arithmetic: with
 * r = (a_scale * b_scale) / c_scale in float,
 *   c = saturate(round_half_even((float)((a - a_zp) * (b - b_zp)) * r + (float)c_zp))
 * the product exact in int32, the multiply and the add two float operations,
 * and a sum outside int32 giving the dtype's minimum (as cvtps2dq's
 * indefinite integer does). a has na elements, b nb (each 1 or n); a, b
 * and c share dtype dt (CQ_U8 / CQ_S8). */
cq_status cq_qlinear_mul_ref(cq_dtype dt, const void *a, int64_t na, float a_scale, int32_t a_zp,
                             const void *b, int64_t nb, float b_scale, int32_t b_zp,
                             float c_scale, int32_t c_zp, void *c, int64_t n, cq_err *err);

/* ---- fp32 Conv2d reference (plain loops, the test oracle) --------------- */

cq_status cq_conv2d_f32_ref(const cq_conv2d_params *p, const float *x, const float *w,
                            const float *bias, float *y, cq_err *err);

#endif
