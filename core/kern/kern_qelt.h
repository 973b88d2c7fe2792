/*
 * kern_qelt.h - the int8 executor's memory-bound kernels: quantize and
 * dequantize (per tensor) with a layout change, NCHW <-> NHWC for 8-bit
 * values, QLinearAdd, max pooling and global average pooling on 8-bit codes,
 * nearest upsampling of NHWC codes, and a 256-entry lookup table (an elementwise function of one 8-bit code).
 *
 * Every function here gives the bits of its reference in kern.h
 * (cq_quantize_linear_ref, cq_dequantize_linear_ref, cq_qlinear_add_ref, the
 * f32 max pool on the dequantized values, ...) on every ISA; the AVX-512 and
 * AVX2 paths are vector loops with no per-element index arithmetic.
 *
 * Layouts: n images, c channels, hw pixels; nhwc 0 is NCHW (n, c, hw), 1 is
 * NHWC (n, hw, c). dt is CQ_U8 or CQ_S8 (EUNSUPPORTED otherwise). Scales
 * must be finite and > 0 (EINVAL).
 */
#ifndef CQ_KERN_QELT_H
#define CQ_KERN_QELT_H

#include "kern/kern.h"

/* q = saturate(round_half_even(x / scale) + zp), x NCHW f32, q in the
 * layout q_nhwc says. Bit for bit cq_quantize_linear_ref. */
cq_status cq_quantize_f32_8(const float *x, int64_t n, int64_t c, int64_t hw, float scale,
                            int32_t zp, cq_dtype dt, void *q, int q_nhwc, cq_err *err);
/* x = (q - zp) * scale, q in the layout q_nhwc says, x NCHW f32. Bit for bit
 * cq_dequantize_linear_ref. */
cq_status cq_dequantize_8_f32(const void *q, cq_dtype dt, int64_t n, int64_t c, int64_t hw,
                              int q_nhwc, float scale, int32_t zp, float *x, cq_err *err);
/* DequantizeLinear on a (outer, len, inner) view: n_scale 1 (per tensor) or
 * len (per axis), zp NULL (zeros) or n_scale entries, q CQ_U8, CQ_S8 or
 * CQ_S32 (the exception to this file's dtypes), x f32 in q's order.
 * cq_dequantize_linear_ref's contract (its errors) and bits. */
cq_status cq_dequantize_axis_f32(const void *q, cq_dtype dt, int64_t outer, int64_t len,
                                 int64_t inner, const float *scale, const int32_t *zp,
                                 int64_t n_scale, float *x, cq_err *err);
/* 8-bit values (bytes): NCHW -> NHWC and back; dst must not overlap src. */
void cq_nchw_to_nhwc_8(const void *src, int64_t n, int64_t c, int64_t hw, void *dst);
void cq_nhwc_to_nchw_8(const void *src, int64_t n, int64_t c, int64_t hw, void *dst);

/* QLinearAdd, cq_qlinear_add_ref's contract and bits (na, nb: 1 or n; the
 * layout does not matter when both operands share it). */
cq_status cq_qadd_8(cq_dtype dt, const void *a, int64_t na, float a_scale, int32_t a_zp,
                    const void *b, int64_t nb, float b_scale, int32_t b_zp, float c_scale,
                    int32_t c_zp, void *c, int64_t n, cq_err *err);

/* QLinearMul, cq_qlinear_mul_ref's contract and bits (ONNX Runtime's x86
 * arithmetic; na, nb: 1 or n). */
cq_status cq_qmul_8(cq_dtype dt, const void *a, int64_t na, float a_scale, int32_t a_zp,
                    const void *b, int64_t nb, float b_scale, int32_t b_zp, float c_scale,
                    int32_t c_zp, void *c, int64_t n, cq_err *err);

/* QLinearMul of rows against one row (a per-channel scale on NHWC codes: a
 * pixel's n channels against b's n): c[r n + i] = the product of a[r n + i]
 * and b[i], r < rows, with cq_qmul_8's bits (each row as cq_qmul_8 with na =
 * nb = n); the checks once. */
cq_status cq_qmul_8_rows(cq_dtype dt, const void *a, int64_t rows, int64_t n, float a_scale,
                         int32_t a_zp, const void *b, float b_scale, int32_t b_zp, float c_scale,
                         int32_t c_zp, void *c, cq_err *err);

/* Max pooling on codes (max commutes with a dequantization, scale > 0), the
 * window rules of cq_pool2d_f32 (p->kind must be CQ_POOL_MAX), x and y in
 * the layout nhwc says. Padding never wins. */
cq_status cq_maxpool2d_8(const cq_pool2d_params *p, cq_dtype dt, const void *x, void *y,
                         int nhwc, cq_err *err);

/* QLinearGlobalAveragePool (com.microsoft) with ONNX Runtime's arithmetic:
 * for image i and channel j, with sum the int32 sum of the hw codes x[i, j, :],
 *   y[i, j] = cq_requantize(sum - x_zp * hw, x_scale / (y_scale * (float)hw),
 *                           y_zp, the dtype's range)
 * (float operations in that order: the scale is ONNX Runtime's). x (n, c, hw)
 * in the layout nhwc says; y (n, c), which both layouts share. hw 1 to 2^23
 * (the sums stay exact in int32), x_zp and y_zp in the dtype's range
 * (EINVAL otherwise). The _ref twin: plain loops. */
cq_status cq_global_avgpool_8(cq_dtype dt, const void *x, int64_t n, int64_t c, int64_t hw,
                              int nhwc, float x_scale, int32_t x_zp, float y_scale, int32_t y_zp,
                              void *y, cq_err *err);
cq_status cq_global_avgpool_8_ref(cq_dtype dt, const void *x, int64_t n, int64_t c, int64_t hw,
                                  int nhwc, float x_scale, int32_t x_zp, float y_scale,
                                  int32_t y_zp, void *y, cq_err *err);

/* Nearest upsampling of NHWC codes by whole factors: n images of h x w
 * pixels of c bytes into (h fh) x (w fw) pixels, each input pixel copied to
 * its fh x fw outputs (an input row expanded once, then copied to the fh
 * output rows). Any byte values (u8 / s8 alike); y must not overlap x. The
 * _ref twin: a byte at a time. */
void cq_upsample_8(int64_t n, int64_t h, int64_t w, int64_t c, int64_t fh, int64_t fw,
                   const void *x, void *y);
void cq_upsample_8_ref(int64_t n, int64_t h, int64_t w, int64_t c, int64_t fh, int64_t fw,
                       const void *x, void *y);

/* y[i] = lut[x[i]] on bytes (a u8 or s8 code read as its byte); y may be x. */
void cq_lut_8(const uint8_t lut[256], const void *x, void *y, int64_t n);

#endif
