/*
 * kern_qconv.h - int8 convolution: u8/s8 activations, s8 symmetric weights,
 * int32 bias, a requantized u8/s8 output. What QLinearConv computes when the
 * weights' zero points are 0, as one plan run many times.
 *
 *     cq_qconv2d_params p = cq_qconv2d_params_default();
 *     p.c.n = 1; p.c.c_in = 64; p.c.h = p.c.w = 56; p.c.c_out = 64;
 *     p.c.kh = p.c.kw = 3; p.c.pad_top = p.c.pad_left = p.c.pad_bottom = p.c.pad_right = 1;
 *     p.x_zp = 3; p.y_zp = 0; p.y_min = 0; p.y_max = 255;        // u8 in, u8 out, Relu
 *     p.x_nhwc = p.y_nhwc = 1;
 *     cq_qconv2d_plan *pl = cq_qconv2d_plan_new(&p, w, bias, mult, &err);
 *     void *s = cq_alloc(cq_qconv2d_scratch_bytes(pl));
 *     cq_qconv2d_run(pl, x, y, NULL, s, cq_qconv2d_scratch_bytes(pl), &err);  // many times
 *
 * Shapes as kern.h's Conv2d (p.c: n, c_in, h, w, c_out, kh, kw, groups,
 * strides, pads, dilations; p.c.act and p.c's layout fields are ignored):
 * x (n, c_in, h, w), w (c_out, c_in / groups, kh, kw) s8, bias (c_out) int32
 * or NULL, mult (c_out) float, y (n, c_out, oh, ow). Layouts: x_nhwc /
 * y_nhwc / res_nhwc 0 is NCHW, 1 is NHWC, (n, h, w, c).
 *
 * Output (i, co):
 *     acc = sum (x - x_zp) * w[co] + bias[co]                        (int32)
 *     q   = clamp(nearbyintf((float)acc * mult[co]) + y_zp, y_min, y_max)
 * which is cq_requantize(acc, mult[co], y_zp, y_min, y_max) and, with mult[co]
 * = (float)(x_scale * w_scale[co]) / y_scale, cq_qlinear_conv_ref's output
 * bit for bit. Relu / Clip folded into the output are its code range
 * [y_min, y_max].
 *
 * With a residual (p.add.on, cq_qconv2d_run's res not NULL), the conv's own
 * code q (above, with add.q_zp, add.q_min, add.q_max in place of y_zp, y_min,
 * y_max) is added to res (n, c_out, oh, ow) of y's dtype as QLinearAdd does,
 * in the same float operations as cq_qlinear_add_ref:
 *     y = round_sat(fmaf((float)q, add.ra, fmaf((float)res, add.rb, add.fixed)), y_min, y_max)
 * with ra = q_scale / y_scale, rb = res_scale / y_scale and
 * fixed = (float)y_zp - (ra * (float)q_zp + rb * (float)res_zp), each product
 * and sum a separate float operation. So Conv -> QLinearAdd [-> folded Relu]
 * runs as one kernel with the result of the two ops bit for bit.
 *
 * Paths (chosen in the plan from the shape and the ISA current then): 1x1
 * convolutions (stride 1, no pad) as one int8 GEMM (kern_qgemm.h, AMX where
 * it runs) over NHWC rows ("gemm1x1"); kxk and strided 1x1, groups 1, by an
 * implicit GEMM over blocks of gathered NHWC rows ("igemm"); depthwise
 * (groups == c_in == c_out) by a direct kernel over channel vectors ("dw",
 * AVX-512 vpdpbusd on quads of kernel rows, 3x3 stride 1 two output rows per
 * quad, on flat rows where the channels are a multiple of 16 but not of 64,
 * 48 to 176, or of 4 but not of 16, 12 to 108, pad 1 left and right, no
 * residual; "dwc", AVX2 loops); on AVX-512,
 * other groups (RegNet's group width 8, a depthwise with a channel
 * multiplier), groups 1 with at most 4 input channels and a kernel larger
 * than 1x1 (the stems), and 1x1 with at most 32 input channels by a direct
 * kernel over 16-output-channel vectors ("grp": vpdpbusd of broadcast input
 * quads, band buffers of padded input rows); the rest (other groups on AVX2)
 * and the scalar ISA by cq_qconv2d_ref's loops ("ref", no scratch). Every
 * path gives the same bits. NHWC is the native layout: NCHW x, res or y are
 * converted in scratch (whole tensors) on every run.
 *
 * Threads: split over the kernel thread pool (cq_kern_set_threads); each
 * output is computed by one thread in one order, so results do not depend on
 * the thread count.
 *
 * Failure: the constructor returns NULL and fills err (EINVAL on inconsistent
 * parameters, EUNSUPPORTED on a dtype, ERANGE when a sum could leave int32,
 * ENOMEM); runs return a cq_status (EINVAL on a residual the plan does not
 * take, or scratch smaller than cq_qconv2d_scratch_bytes).
 */
#ifndef CQ_KERN_QCONV_H
#define CQ_KERN_QCONV_H

#include "kern/kern.h"

typedef struct cq_qconv2d_add {
    int on;                       /* a residual is added (QLinearAdd) */
    int res_first;                /* the residual is QLinearAdd's a, the conv its b:
                                   * y = round_sat(fmaf(res, ra, fmaf(q, rb, fixed))),
                                   * ra = res_scale / y_scale, rb = q_scale / y_scale */
    int32_t q_zp, q_min, q_max;   /* the conv's own output code, before the Add */
    float ra, rb, fixed;          /* as above */
} cq_qconv2d_add;

typedef struct cq_qconv2d_params {
    cq_conv2d_params c;           /* shapes; act and layout fields ignored */
    cq_dtype x_dt;                /* CQ_U8 or CQ_S8 */
    int32_t x_zp;
    cq_dtype y_dt;                /* CQ_U8 or CQ_S8 (res too) */
    int32_t y_zp, y_min, y_max;   /* y_min <= y_max inside y_dt's range */
    int x_nhwc, y_nhwc, res_nhwc; /* 0: NCHW; 1: NHWC */
    cq_qconv2d_add add;
    int dw_chunks;                /* 1: a depthwise 3x3/1 runs 64-channel chunks a pixel
                                   * where it would run flat rows (Paths, above); calq probe
                                   * times both */
} cq_qconv2d_params;

/* Whether a depthwise 3x3/1 of these shapes runs on flat rows where VNNI runs
 * on AVX-512 (Paths, above; a residual or dw_chunks keeps the chunk passes):
 * the rule the cost model prices by too. */
int cq_qconv2d_flat_rows(const cq_conv2d_params *c);

/* cq_conv2d_params_default() shapes, u8 in and out, zero points 0, y range
 * [0, 255], NCHW, no residual. */
cq_qconv2d_params cq_qconv2d_params_default(void);

typedef struct cq_qconv2d_plan cq_qconv2d_plan;

/* Check p, pack w, fold bias and the zero-point compensation. w has
 * c_out * (c_in / groups) * kh * kw values; bias c_out or NULL; mult c_out.
 * The plan keeps copies. NULL on failure. */
cq_qconv2d_plan *cq_qconv2d_plan_new(const cq_qconv2d_params *p, const int8_t *w,
                                     const int32_t *bias, const float *mult, cq_err *err);
/* Bytes of scratch a run needs (may be 0); ask again after cq_kern_set_threads
 * or cq_kern_set_isa. */
size_t cq_qconv2d_scratch_bytes(const cq_qconv2d_plan *pl);
/* The output's spatial size. */
void cq_qconv2d_out_hw(const cq_qconv2d_plan *pl, int64_t *oh, int64_t *ow);
/* A short name of the path the plan runs ("gemm1x1", "igemm", "dw", "grp", "ref"...). */
const char *cq_qconv2d_path(const cq_qconv2d_plan *pl);
/* Of a groups-1 convolution on the implicit GEMM path (igemm), where it
 * reads the input rows in place (AVX-512 VNNI without AMX, u8 input): the
 * pixels it still gathers, a run (those whose window meets the padding);
 * -1 where it gathers every pixel (dilated columns, kw * c_in not a
 * multiple of 4, kh over 7, or the shorter row tiles would cost more than
 * the gathers they save). The shape alone decides, for the cost model. */
int64_t cq_qconv2d_gathered(const cq_conv2d_params *c);
/* The packed weights the plan's AVX-512 GEMM reads (paths gemm1x1 and igemm),
 * *bytes their size; NULL (*bytes 0) on the other paths and ISAs. For the
 * probe, which flushes them from the caches (core/cost/probe_wline.c). */
const void *cq_qconv2d_gemm_weights(const cq_qconv2d_plan *pl, size_t *bytes);
/* y = the output above; res NULL without a residual. x, res and y must not
 * overlap. */
cq_status cq_qconv2d_run(const cq_qconv2d_plan *pl, const void *x, void *y, const void *res,
                         void *scratch, size_t scratch_bytes, cq_err *err);
/* NULL is a no-op. */
void cq_qconv2d_plan_free(cq_qconv2d_plan *pl);

/* Plain loops (int64 sums; the layouts and the residual as above): the test
 * oracle. ERANGE where a sum leaves int32. */
cq_status cq_qconv2d_ref(const cq_qconv2d_params *p, const int8_t *w, const int32_t *bias,
                         const float *mult, const void *x, void *y, const void *res,
                         cq_err *err);

#endif
