/*
 * kern_internal.h - what the kernel files share: the per-ISA table of inner
 * loops (scalar, AVX2, AVX-512) and small helpers. Not a public header.
 */
#ifndef CQ_KERN_INTERNAL_H
#define CQ_KERN_INTERNAL_H

#include <math.h>

#include "kern/kern.h"

/* Inner loops that have a vector version. Every entry has the same meaning in
 * every table; the scalar table is the reference. */
typedef struct cq__kern_vtab {
    /* y[i] = op(x[i]), i < n; y may be x. */
    void (*unary)(cq_unop op, float a, float b, const float *x, float *y, int64_t n);
    /* y[i] = a[i * a_inc] op b[i * b_inc], inc 0 or 1 (not both 0). */
    void (*binary)(cq_binop op, const float *a, int a_inc, const float *b, int b_inc, float *y,
                   int64_t n);
    /* y[i] = act(y[i] + bias). */
    void (*bias_act)(float bias, cq_act act, float *y, int64_t n);
    float (*sum)(const float *x, int64_t n);
    float (*max)(const float *x, int64_t n);
    /* Depthwise output row, ox in [ox0, ox1):
     *   y[ox] = act(bias + sum_r sum_kx wrows[r][kx] * rows[r][ox * sw + x_off + kx * dw])
     * The caller guarantees every index the formula names is inside [0, x_len);
     * the vector code uses x_len to keep its wider loads inside the row too. */
    void (*dw_row)(const float *const *rows, const float *const *wrows, int64_t nrows, int64_t kw,
                   int64_t sw, int64_t dw, int64_t x_off, int64_t x_len, int64_t ox0, int64_t ox1,
                   float bias, cq_act act, float *y);
    /* Depthwise conv (multiplier 1) on channel-last data, c = p->c_in channels:
     * x (p->h, p->w, c), wp (kh * kw, c), bias (c), y (oh, ow, c). At most
     * CQ__DW_MAX_TAPS taps. */
    void (*dw_nhwc)(const cq_conv2d_params *p, int64_t oh, int64_t ow, const float *x,
                    const float *wp, const float *bias, float *y);
    /* Pooling output row without padding inside [ox0, ox1), window kh x kw,
     * no dilation: y[ox] = max (is_max) or scale * sum over r < kh, k < kw of
     * rows[r][ox * sw + x_off + k]; indices inside [0, x_len) as for dw_row. */
    void (*pool_row)(int is_max, const float *const *rows, int64_t kh, int64_t kw, int64_t sw,
                     int64_t x_off, int64_t x_len, int64_t ox0, int64_t ox1, float scale,
                     float *y);
    /* dst (cols, rows) = src (rows, cols)^T. */
    void (*transpose)(const float *src, int64_t rows, int64_t cols, float *dst);
    /* y[i] = wa a[i] + wb b[i]. */
    void (*lerp)(const float *a, const float *b, float wa, float wb, float *y, int64_t n);
    /* y[i] = x[i] op s16[i % 16], n a multiple of 16 (NCHW16c pixels times
     * their block's 16 channel values); y may be x. */
    void (*binary16)(cq_binop op, const float *x, const float *s16, float *y, int64_t n);
} cq__kern_vtab;

#define CQ__DW_MAX_TAPS 256

extern const cq__kern_vtab cq__kern_scalar;
extern const cq__kern_vtab cq__kern_avx2;
extern const cq__kern_vtab cq__kern_avx512;

/* 8x8-block AVX transpose (kern_avx2.c; also used by the AVX-512 table). */
void cq__transpose_avx2(const float *src, int64_t rows, int64_t cols, float *dst);

/* AVX-512 sgemm for the convolutions (kern_gemm_avx512.c): A packed by
 * cq__sgemm_pack_a into ceil(m / 8) * 8 * k floats; C (m, n) = A B, then
 * act(C + bias[row] + res) (bias, res may be NULL; res (m, n) with row
 * stride ldc, not overlapping C); bp holds cq__sgemm_scratch_avx512()
 * bytes. Call only when cq_kern_isa() is CQ_ISA_AVX512. */
void cq__sgemm_pack_a(const float *a, int64_t m, int64_t k, float *ap);
size_t cq__sgemm_scratch_avx512(void);
void cq__sgemm_avx512(int64_t m, int64_t n, int64_t k, const float *ap, const float *b,
                      int64_t ldb, float *c, int64_t ldc, const float *bias, const float *res,
                      cq_act act, float *bp);

/* Pixel-major implicit-GEMM Conv2d (kern_convpm_avx512.c): applies to
 * groups 1, stride_w 1 or 2, kw <= 16 (1x1 only where it beats the sgemm,
 * or from NCHW16c). W (c_out, K) is packed by
 * cq__convpm_pack_w (in its run's order) into npad * K floats (npad = c_out rounded up to
 * cq__convpm_pw(c_out)); bias_pad has npad entries (zeros past c_out). One
 * image: x (c_in, h, w) -> y (c_out, oh, ow), each in the layout p names;
 * res: NULL, or with y in NCHW16c a residual in it added before the
 * activation; share part of nparts (row
 * groups or pixel panels, or whole channel panels where there are fewer of
 * those than shares; 0 of 1: all); scratch holds cq__convpm_scratch() bytes
 * per share. Call only when cq_kern_isa() is CQ_ISA_AVX512. */
int cq__convpm_applies(const cq_conv2d_params *p);
int64_t cq__convpm_pw(int64_t c_out);
void cq__convpm_pack_w(const cq_conv2d_params *p, const float *w, float *wp);
/* the panel width (channels) and the rows of a k block cq__convpm_pack_w packs
 * W^T in, as the run reads it */
int64_t cq__convpm_pack_pw(const cq_conv2d_params *p);
int64_t cq__convpm_pack_kc(const cq_conv2d_params *p);
size_t cq__convpm_scratch(const cq_conv2d_params *p, int64_t oh, int64_t ow);
void cq__convpm_run(const cq_conv2d_params *p, int64_t oh, int64_t ow, const float *x,
                    const float *wp, const float *bias_pad, float *y, const float *res,
                    void *scratch, int part, int nparts);
/* The 3x3 stride-1 pad-1 NCHW16c -> NCHW16c convolutions with c_out 16
 * (x86/kern_convpl_avx512.c, pixels in lanes): cq__convpm_pack_w,
 * cq__convpm_scratch and cq__convpm_run hand them to these, W packed by
 * cq__convpl_pack_w into c_out * K floats (within the npad * K allocated). */
int cq__convpl_applies(const cq_conv2d_params *p);
void cq__convpl_pack_w(const cq_conv2d_params *p, const float *w, float *wp);
size_t cq__convpl_scratch(const cq_conv2d_params *p, int64_t oh, int64_t ow);
void cq__convpl_run(const cq_conv2d_params *p, int64_t oh, int64_t ow, const float *x,
                    const float *wp, const float *bias_pad, float *y, const float *res,
                    void *scratch, int part, int nparts);
/* 1x1 stride 1 unpadded, NCHW16c x, NCHW y, c_out < 16: the OWN_CONVPM path
 * runs it with cq__convpm_head_run (P = oh ow pixels, 8-pixel units shared). */
int cq__convpm_is_head(const cq_conv2d_params *p);
void cq__convpm_head_run(const cq_conv2d_params *p, int64_t P, const float *x, const float *wp,
                         const float *bias, float *y, int part, int nparts);

/* Depthwise Conv2d on NCHW planes (kern_dw_avx512.c): applies to groups ==
 * c_in (any channel multiplier), kernels up to CQ__DWP_MAX_K square-or-not,
 * no dilation, stride_w 1 or 2 (any stride_h), pad_left and pad_right below
 * kw, output rows up to CQ__DWP_MAX_OW. One image: x (c_in, h, w), w
 * (c_out, kh * kw), bias (c_out) or NULL -> y (c_out, oh, ow) =
 * act(conv + bias); scratch holds cq__dwp_scratch() bytes (0: may be NULL).
 * Call only when cq_kern_isa() is CQ_ISA_AVX512. */
#define CQ__DWP_MAX_K 7
#define CQ__DWP_MAX_OW 2048
int cq__dwp_applies(const cq_conv2d_params *p);
size_t cq__dwp_scratch(const cq_conv2d_params *p, int64_t oh, int64_t ow);
void cq__dwp_run(const cq_conv2d_params *p, int64_t oh, int64_t ow, const float *x,
                 const float *w, const float *bias, float *y, void *scratch);

/* Depthwise Conv2d on small NCHW planes, 16 channels at a time
 * (kern_dwcb_avx512.c): applies to groups == c_in == c_out, no dilation,
 * kh * kw <= CQ__DWCB_MAX_TAPS, pads below the kernel. W (c_out, kh * kw)
 * and bias are packed by cq__dwcb_pack_w into ceil(c_out / 16) * 16 * kh * kw
 * and ceil(c_out / 16) * 16 floats. One image: x (c_in, h, w) -> y (c_out,
 * oh, ow) = act(conv + bias); scratch holds cq__dwcb_scratch() bytes. Call
 * only when cq_kern_isa() is CQ_ISA_AVX512. */
#define CQ__DWCB_MAX_TAPS 49
int cq__dwcb_applies(const cq_conv2d_params *p);
size_t cq__dwcb_scratch(const cq_conv2d_params *p, int64_t oh, int64_t ow);
void cq__dwcb_pack_w(const cq_conv2d_params *p, const float *w, const float *bias, float *wb,
                     float *bb);
void cq__dwcb_run(const cq_conv2d_params *p, int64_t oh, int64_t ow, const float *x,
                  const float *wb, const float *bb, float *y, void *scratch);

/* Direct convolution for few input channels (kern_stem_avx512.c): applies
 * to groups 1, c_in <= CQ__STEM_MAX_CIN, not 1x1, c_in kh kw <=
 * CQ__STEM_MAX_TAPS, stride_w <= 4. W (c_out, K) is packed by
 * cq__stem_pack_w into ceil(c_out / 8) * 8 * K floats; bias_pad has that
 * many / K entries (zeros past c_out). One image: x (c_in, h, w) -> y (c_out,
 * oh, ow), output rows [oh part / nparts, oh (part + 1) / nparts) of it
 * (0 of 1: all); scratch holds cq__stem_scratch() bytes per share. Call
 * only when cq_kern_isa() is CQ_ISA_AVX512. */
#define CQ__STEM_MAX_CIN 4
#define CQ__STEM_MAX_TAPS 512
int cq__stem_applies(const cq_conv2d_params *p);
void cq__stem_pack_w(const float *w, int64_t c_out, int64_t k, float *wp);
size_t cq__stem_scratch(const cq_conv2d_params *p, int64_t oh, int64_t ow);
void cq__stem_run(const cq_conv2d_params *p, int64_t oh, int64_t ow, const float *x,
                  const float *wp, const float *bias_pad, float *y, void *scratch, int part,
                  int nparts);
/* The stem followed by a max pool (q: n 1, c c_out, h oh, w ow, where
 * cq__maxpool_rows_applies(q, pw)): y (c_out, ph, pw) is the pooled output;
 * the conv rows go through a ring of q->kh rows and are never stored whole.
 * Share part of nparts makes pool rows [ph part / nparts, ph (part + 1) /
 * nparts), computing the conv rows under them (a window's rows shared with
 * the share before are computed by both). scratch holds
 * cq__stem_pool_scratch() bytes per share. */
size_t cq__stem_pool_scratch(const cq_conv2d_params *p, int64_t oh, int64_t ow,
                             const cq_pool2d_params *q);
void cq__stem_pool_run(const cq_conv2d_params *p, int64_t oh, int64_t ow, const float *x,
                       const float *wp, const float *bias_pad, const cq_pool2d_params *q,
                       int64_t ph, int64_t pw, float *y, void *scratch, int part, int nparts);

/* Grouped convolutions of 2-64 input channels and a multiple of 8 output
 * channels a group, NCHW, kernels up to 7x7, stride 1 or 2, dilation 1
 * (kern_convgr_avx512.c). W (c_out, K) is packed by cq__convgr_pack_w
 * into c_out K floats; bias: c_out entries or NULL. One image: x (c_in, h,
 * w) -> y (c_out, oh, ow) = act(conv + bias [+ res]), res NULL or as y;
 * share part of nparts runs groups [G part / nparts, G (part + 1) /
 * nparts). scratch holds cq__convgr_scratch() bytes per share. Call only
 * when cq_kern_isa() is CQ_ISA_AVX512. */
int cq__convgr_applies(const cq_conv2d_params *p);
void cq__convgr_pack_w(const cq_conv2d_params *p, const float *w, float *wp);
size_t cq__convgr_scratch(const cq_conv2d_params *p, int64_t oh, int64_t ow);
void cq__convgr_run(const cq_conv2d_params *p, int64_t oh, int64_t ow, const float *x,
                    const float *wp, const float *bias, float *y, const float *res,
                    void *scratch, int part, int nparts);

/* AVX-512 matrix-vector product (kern_gemv_avx512.c), a (rows, cols) with
 * row stride lda: trans 0: y (rows) = alpha a x + beta y; trans 1: y (cols)
 * = alpha a^T x + beta y. beta 0 does not read y. Call only when
 * cq_kern_isa() is CQ_ISA_AVX512. */
void cq__sgemv_avx512(int trans, int64_t rows, int64_t cols, float alpha, const float *a,
                      int64_t lda, const float *x, float beta, float *y);
/* The same shared out over the kernel threads (kern_gemm.c: blocks of 8
 * rows or 64 columns, each output summed in the same order at any count). */
void cq__gemv_par(int trans, int64_t rows, int64_t cols, float alpha, const float *a,
                  int64_t lda, const float *x, float beta, float *y);

/* MaxPool 2-D with AVX-512 (kern_pool_avx512.c): whole rows, no dilation,
 * stride_w 1 or 2, kw <= 16, kh <= CQ__MAXPOOL_MAX_KH, padded rows up to 4096
 * floats. Returns 0 (and writes nothing) where it does not apply, else 1
 * with y (n c, oh, ow) set. Call only when cq_kern_isa() is CQ_ISA_AVX512. */
int cq__maxpool_avx512(const cq_pool2d_params *p, int64_t oh, int64_t ow, const float *x,
                       float *y);
/* Its row function, for producers that keep a ring of rows: whether it
 * applies to p with ow outputs a row; buf (CQ__MAXPOOL_BUF_FLOATS floats)
 * set once per p by cq__maxpool_buf_init; then output row yr (ow floats) =
 * the max pool of one channel's nr input rows (p->w floats each) that lie
 * inside the image under the window (nr 0: -inf). */
#define CQ__MAXPOOL_MAX_KH 64
#define CQ__MAXPOOL_BUF_FLOATS (4096 + 64 + 16)
int cq__maxpool_rows_applies(const cq_pool2d_params *p, int64_t ow);
void cq__maxpool_buf_init(const cq_pool2d_params *p, int64_t ow, float *buf);
void cq__maxpool_row_avx512(const cq_pool2d_params *p, const float *const *rows, int64_t nr,
                            int64_t ow, float *buf, float *yr);

/* NCHW16c with AVX-512 (kern_blk_avx512.c): the output rows [r0, r1) of
 * cq_maxpool2d_blocked_f32 (row r: 16-channel plane r / oh, row r % oh),
 * and the input rows [r0, r1) of cq_upsample_blocked_f32 (each to its fh
 * output rows). Call only when cq_kern_isa() is CQ_ISA_AVX512. */
void cq__maxpool_blocked_rows_avx512(const cq_pool2d_params *p, int64_t oh, int64_t ow,
                                     const float *x, float *y, int64_t r0, int64_t r1);
void cq__upsample_blocked_rows_avx512(int64_t w, int64_t fh, int64_t fw, const float *x,
                                      float *y, int64_t r0, int64_t r1);
/* The blocks [b0, b1) of cq_global_avgpool_blocked_f32: y[16 b + l] = the
 * mean of lane l over block b's hw pixels. */
void cq__gap_blocked_avx512(int64_t b0, int64_t b1, int64_t hw, const float *x, float *y);

/* The least work (floating-point operations) worth a share of its own when
 * a convolution is split over the kernel threads (kern_conv_run.c; a share
 * with less qualifies by the bytes it moves, CQ__SPLIT_BYTES). 0: as many
 * shares as threads whatever the size or the flop per activation byte, so
 * that tests split every convolution; negative: the default. */
void cq__kern_set_min_share(double flop);

/* Shares for a memory-bound call over units independent pieces (rows,
 * planes) that moves bytes in all: one per kernel thread where each share
 * moves at least CQ__SPLIT_BYTES (kern_elt.c; a region costs about a
 * microsecond), fewer otherwise, never more than units. */
#define CQ__SPLIT_BYTES 65536.0
int cq__mem_shares(int64_t units, double bytes);

/* Share part of nparts of a conv's grid of output row groups by channel
 * panels (the pixel-major kernels): row groups [ga, gb) of `rows` rows and
 * panels [ja, jb). Row groups are shared (each share then reads only its
 * own input rows), with fewer rows a group (down to half the grid's) where
 * that leaves the busiest share fewer: a 14x14 map in one group of 14 rows
 * gave all of it to one share of two (MobileNetV2's 384 -> 64 1x1s gained
 * nothing from a second thread; 0.064 -> 0.040 ms with 7 rows a group).
 * Panels are shared where that balances better (1x1 maps), or as well
 * when w_heavy (the caller's weights more than twice its input: then each
 * share streams half the weights, not all of them; ResNet-18's 256@14 3x3
 * at two threads 0.61 -> 0.58 ms, where its 28x28 layers, 590 KB of weights
 * against 400 KB of input, lost 3 % that way). Pixels and channels are
 * independent, so the result is the same bit for bit whatever the split. */
typedef struct cq__grid_share {
    int64_t rows, ga, gb, ja, jb;
} cq__grid_share;
void cq__share_grid(int64_t oh, int64_t rows, int64_t npanels, int w_heavy, int part,
                    int nparts, cq__grid_share *s);

/* The same grid shared by cells (one row x one panel) where the caller's
 * tiles lie within a row (cells != 0) and that balances better than
 * cq__share_grid by CELL_GAIN (5 %): each share an even run of the cells
 * in panel-major order, so at most 3 rectangles, rows [ra, rb) x panels
 * [ja, jb), each run in groups of up to *rows0 rows from ra. A 7x7 map
 * with 5 panels (MobileNetV2's 960 > 160, ShuffleNetV2's 232 > 232): 4 / 7
 * of the work to one share of two by rows, 3 / 5 by panels, 18 / 35 by
 * cells, and each share streams about half the weights. Else one
 * rectangle, cq__share_grid's. Returns the count. */
typedef struct cq__grid_rect {
    int64_t ra, rb, ja, jb;
} cq__grid_rect;
int cq__share_cells(int64_t oh, int64_t rows, int64_t npanels, int w_heavy, int cells, int part,
                    int nparts, cq__grid_rect r[3], int64_t *rows0);

/* The table for the ISA in use. */
const cq__kern_vtab *cq__kern(void);

static inline float cq__act1(cq_act act, float v)
{
    switch (act.kind) {
    case CQ_ACT_RELU:
        return v > 0.0f ? v : 0.0f;
    case CQ_ACT_CLIP:
        v = v < act.a ? act.a : v;
        return v > act.b ? act.b : v;
    case CQ_ACT_LEAKY:
        return v >= 0.0f ? v : act.a * v;
    case CQ_ACT_HARDSWISH: {
        float t = v + 3.0f;
        t = t < 0.0f ? 0.0f : (t > 6.0f ? 6.0f : t);
        return v * t * (1.0f / 6.0f);
    }
    case CQ_ACT_SIGMOID:
        return 1.0f / (1.0f + expf(-v));
    case CQ_ACT_SILU:
        return v / (1.0f + expf(-v));
    case CQ_ACT_HARDSIGMOID: {
        float t = act.a * v + act.b;
        return t < 0.0f ? 0.0f : (t > 1.0f ? 1.0f : t);
    }
    case CQ_ACT_TANH:
        return tanhf(v);
    default:
        return v;
    }
}

static inline float cq__binop1(cq_binop op, float a, float b)
{
    switch (op) {
    case CQ_BIN_ADD:
        return a + b;
    case CQ_BIN_SUB:
        return a - b;
    case CQ_BIN_MUL:
        return a * b;
    default:
        return a / b;
    }
}

/* Scalar unary used by the reference and by vector tails. */
float cq__unary1(cq_unop op, float a, float b, float x);

/* Dims, pads and products stay below this so that int (BLAS) and int64
 * index arithmetic never overflow. */
#define CQ__DIM_MAX ((int64_t)1 << 30)

/* One spatial axis of a window op (conv, conv transpose, pool): size,
 * kernel, stride and dilation 1 to 2^30, pads 0 to 2^30. EINVAL naming
 * what. */
static inline cq_status cq__kern_axis_check(const char *what, int64_t in, int64_t k, int64_t s,
                                            int64_t d, int64_t p0, int64_t p1, cq_err *err)
{
    if (in < 1 || k < 1 || s < 1 || d < 1 || in > CQ__DIM_MAX || k > CQ__DIM_MAX ||
        s > CQ__DIM_MAX || d > CQ__DIM_MAX)
        return cq_errf(err, CQ_EINVAL, "%s: size %lld, kernel %lld, stride %lld, dilation %lld "
                       "(each must be 1 to 2^30)", what, (long long)in, (long long)k,
                       (long long)s, (long long)d);
    if (p0 < 0 || p1 < 0 || p0 > CQ__DIM_MAX || p1 > CQ__DIM_MAX)
        return cq_errf(err, CQ_EINVAL, "%s: pads %lld, %lld (must be 0 to 2^30)", what,
                       (long long)p0, (long long)p1);
    return CQ_OK;
}

/* Batch, channels, groups and activation of a conv or conv transpose:
 * each count 1 to 2^30, groups dividing both channel counts, a known act. */
static inline cq_status cq__kern_chan_check(const char *what, int64_t n, int64_t c_in,
                                            int64_t c_out, int64_t groups, cq_act act,
                                            cq_err *err)
{
    if (n < 1 || c_in < 1 || c_out < 1 || groups < 1 || n > CQ__DIM_MAX ||
        c_in > CQ__DIM_MAX || c_out > CQ__DIM_MAX)
        return cq_errf(err, CQ_EINVAL, "%s: n %lld, c_in %lld, c_out %lld, groups %lld (each "
                       "must be 1 to 2^30)", what, (long long)n, (long long)c_in,
                       (long long)c_out, (long long)groups);
    if (c_in % groups || c_out % groups)
        return cq_errf(err, CQ_EINVAL, "%s: groups %lld does not divide c_in %lld and c_out "
                       "%lld", what, (long long)groups, (long long)c_in, (long long)c_out);
    if ((int)act.kind < 0 || act.kind >= CQ_ACT_COUNT)
        return cq_errf(err, CQ_EINVAL, "%s: unknown activation %d", what, (int)act.kind);
    return CQ_OK;
}

/* acc *= v when v >= 0 and the product stays within the floats a tensor may hold
 * (CQ_TENSOR_MAX_BYTES / 4); returns 0, leaving acc alone, otherwise. */
static inline int cq__kern_mul_ok(int64_t *acc, int64_t v)
{
    if (v < 0 || (v > 0 && *acc > (int64_t)(CQ_TENSOR_MAX_BYTES / 4) / v))
        return 0;
    *acc *= v;
    return 1;
}

#endif
