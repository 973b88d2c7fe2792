/*
 * kern_qelt_internal.h - what kern_qelt.c shares with its vector files
 * (x86/kern_qelt_avx512.c, x86/kern_qelt_avx2.c): the per-ISA table of the
 * contiguous loops every function of kern_qelt.h is built from. The scalar
 * table calls the references of kern_int.c; the others give the same bits.
 * Not a public header.
 */
#ifndef CQ_KERN_QELT_INTERNAL_H
#define CQ_KERN_QELT_INTERNAL_H

#include "kern/kern_qelt.h"

typedef struct cq__qelt_vtab {
    /* q[i] = saturate(round_half_even(x[i] / scale) + zp), i < n, into
     * dt's codes (cq_quantize_linear_ref per tensor; NaN -> 0). */
    void (*quant)(const float *x, int64_t n, float scale, int32_t zp, cq_dtype dt, void *q);
    /* x[i] = (float)(q[i] - zp) * scale, i < n; dt CQ_U8 or CQ_S8 with |zp|
     * <= 2^24, or CQ_S32 (any zp: the difference taken in int64). */
    void (*dequant)(const void *q, cq_dtype dt, int64_t n, float scale, int32_t zp, float *x);
    /* The same with a scale and zero point an element (a per-axis row whose
     * axis is the last): x[i] = (float)(q[i] - zp[i]) * scale[i], zp NULL
     * for zeros, the same ranges. */
    void (*dequant_pc)(const void *q, cq_dtype dt, int64_t n, const float *scale,
                       const int32_t *zp, float *x);
    /* Bytes: dst[j * ldd + i] = src[i * lds + j], i < rows, j < cols; no overlap. */
    void (*tr8)(const uint8_t *src, int64_t rows, int64_t cols, int64_t lds, uint8_t *dst,
                int64_t ldd);
    /* QLinearAdd's loop, float constants made by the caller as
     * cq_qlinear_add_ref makes them: c[i] = round_sat(fma(a[i], ra, fma(b[i],
     * rb, fixed))), or with b NULL (its scalar folded into fixed)
     * round_sat(fma(a[i], ra, fixed)). */
    void (*qadd)(cq_dtype dt, const void *a, float ra, const void *b, float rb, float fixed,
                 void *c, int64_t n);
    /* y[j] = max over r < nr of rows[r][j], j < n, codes of dt (nr >= 1);
     * y may be one of the rows. */
    void (*max8)(cq_dtype dt, const uint8_t *const *rows, int64_t nr, int64_t n, uint8_t *y);
    /* y[i] = x[2 i], i < n (reads x[0 .. 2 n - 2]). */
    void (*pick2)(const uint8_t *x, int64_t n, uint8_t *y);
    /* s[j] = sum over r < rows of the codes x[r * ld + j], j < cols (sums
     * inside int32; s8 codes signed). */
    void (*col_sums)(cq_dtype dt, const uint8_t *x, int64_t rows, int64_t cols, int64_t ld,
                     int32_t *s);
    /* s[r] = sum over j < len of the codes x[r * len + j], r < rows. */
    void (*row_sums)(cq_dtype dt, const uint8_t *x, int64_t rows, int64_t len, int32_t *s);
    /* y[i] = lut[x[i]]; y may be x. */
    void (*lut)(const uint8_t lut[256], const uint8_t *x, uint8_t *y, int64_t n);
    /* QLinearMul's loop (cq_qlinear_mul_ref): c[i] = clamp(rne((float)((a[i] -
     * za) * (b[i] - zb)) * r + zc)), a sum outside int32 the minimum; b[0]
     * for every i when nb is 1. */
    void (*qmul)(cq_dtype dt, const void *a, const void *b, int64_t nb, int32_t za, int32_t zb,
                 float r, float zc, void *c, int64_t n);
    /* One row of a nearest upsampling of pixels of c bytes: y[(b fw + j) c
     * + k] = x[b c + k], b < w, j < fw, k < c. */
    void (*rep8)(const uint8_t *x, int64_t w, int64_t c, int64_t fw, uint8_t *y);
} cq__qelt_vtab;

extern const cq__qelt_vtab cq__qelt_scalar;
/* The scalar QLinearMul loop (the AVX2 table uses it). */
void cq__qelt_qmul_scalar(cq_dtype dt, const void *a, const void *b, int64_t nb, int32_t za,
                          int32_t zb, float r, float zc, void *c, int64_t n);
extern const cq__qelt_vtab cq__qelt_avx2;
extern const cq__qelt_vtab cq__qelt_avx512;

#endif
