/* test_kern.c - Conv2d against a plain loop written here, on random shapes
 * (fixed seeds) and the shapes each vector path takes, for every algorithm
 * and ISA (the oracle: conv_testutil.h). Depthwise: test_kern_dw.c.
 * ConvTranspose2d, Gemm, MatMul, pooling, transpose: test_kern_ops.c. How
 * the work is shared out over threads: test_kern_share.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>

#include <cblas.h>

#include "conv_testutil.h"
#include "kern/kern_internal.h" /* cq__kern_set_min_share */

/* The parameters of one row of a shape table (c_in, c_out, h, w, kh, kw,
 * stride_h, stride_w, dilation, pad top/left, ...) with pad_br at the
 * bottom/right and a batch of n. */
static cq_conv2d_params row_params(const int64_t *c, int64_t pad_br, int64_t n)
{
    cq_conv2d_params p = cq_conv2d_params_default();
    p.n = n;
    p.c_in = c[0];
    p.c_out = c[1];
    p.h = c[2];
    p.w = c[3];
    p.kh = c[4];
    p.kw = c[5];
    p.stride_h = c[6];
    p.stride_w = c[7];
    p.dil_h = p.dil_w = c[8];
    p.pad_top = p.pad_left = c[9];
    p.pad_bottom = p.pad_right = pad_br;
    return p;
}

/* One row of a shape table checked by check_conv; row i sets the batch (1
 * or 2), the activation (clip from clip_lo) and whether there is a bias. */
static void check_cfg_row(const int64_t *c, int64_t pad_br, size_t i, float clip_lo, kt_rng *r)
{
    cq_conv2d_params p = row_params(c, pad_br, 1 + (int64_t)(i % 2));
    p.act.kind = (cq_act_kind)(i % CQ_ACT_COUNT);
    p.act.a = p.act.kind == CQ_ACT_CLIP ? clip_lo : 0.01f;
    p.act.b = 0.5f;
    check_conv(&p, r, (int)(i % 3 != 0));
}

static void test_kern_conv2d_random(void **state)
{
    (void)state;
    kt_rng r = {0x1234567u};
    int done = 0;
    while (done < 120) {
        cq_conv2d_params p = cq_conv2d_params_default();
        int64_t g = kt_int(&r, 1, 3);
        p.n = kt_int(&r, 1, 2);
        p.groups = g;
        p.c_in = g * kt_int(&r, 1, 4);
        p.c_out = g * kt_int(&r, 1, 5);
        if (kt_int(&r, 0, 3) == 0) { /* depthwise, channel multiplier 1 or 2 */
            p.c_in = p.groups = kt_int(&r, 1, 6);
            p.c_out = p.c_in * kt_int(&r, 1, 2);
        }
        p.h = kt_int(&r, 1, 13);
        p.w = kt_int(&r, 1, 41);
        p.kh = kt_int(&r, 1, 5);
        p.kw = kt_int(&r, 1, 5);
        p.stride_h = kt_int(&r, 1, 3);
        p.stride_w = kt_int(&r, 1, 3);
        p.dil_h = kt_int(&r, 1, 2);
        p.dil_w = kt_int(&r, 1, 2);
        p.pad_top = kt_int(&r, 0, 2);
        p.pad_left = kt_int(&r, 0, 2);
        p.pad_bottom = kt_int(&r, 0, 2);
        p.pad_right = kt_int(&r, 0, 2);
        p.act = random_act(&r);
        int64_t oh, ow;
        cq_err shape_err; /* a random shape with no output: draw again */
        if (cq_conv2d_out_shape(&p, &oh, &ow, &shape_err) != CQ_OK)
            continue;
        check_conv(&p, &r, (int)kt_int(&r, 0, 1));
        done++;
    }
}

/* Shapes that reach the vector loops: long rows, 3x3 stride 1 and 2, dilation,
 * 1x1 pointwise. */
static void test_kern_conv2d_vector_paths(void **state)
{
    (void)state;
    kt_rng r = {42};
    static const int64_t cfg[][8] = {
        /* c, h, w, k, stride, dil, pad, depthwise */
        {5, 9, 67, 3, 1, 1, 1, 1}, {4, 8, 70, 3, 2, 1, 1, 1}, {3, 7, 53, 3, 2, 1, 0, 1},
        {3, 7, 61, 5, 1, 2, 2, 1}, {2, 6, 45, 5, 2, 1, 2, 1}, {3, 5, 35, 7, 1, 1, 3, 1},
        {7, 9, 33, 1, 1, 1, 0, 0}, {6, 11, 19, 3, 1, 1, 1, 0}, {3, 15, 15, 7, 2, 1, 3, 0},
        {5, 8, 34, 1, 2, 1, 0, 0},
        /* reductions over several 256-deep blocks of the AVX-512 sgemm, rows
         * not a multiple of its 8-row tile */
        {37, 9, 21, 3, 1, 1, 1, 0}, {70, 5, 11, 3, 2, 1, 1, 0}, {300, 3, 5, 1, 1, 1, 0, 0},
        /* many channels: every channel-block loop of the channel-last kernel */
        {83, 9, 11, 3, 1, 1, 1, 1}, {83, 8, 9, 3, 2, 1, 1, 1}, {40, 6, 7, 5, 1, 2, 2, 1},
        /* AVX-512 depthwise 3x3 planes: rows of 16, of 3, several vectors */
        {6, 5, 37, 3, 2, 1, 1, 1}, {4, 6, 16, 3, 1, 1, 0, 1}, {5, 4, 3, 3, 2, 1, 1, 1},
    };
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++)
        for (int act = 0; act < CQ_ACT_COUNT; act++) {
            cq_conv2d_params p = cq_conv2d_params_default();
            p.n = 1 + (int64_t)(i % 2);
            p.c_in = cfg[i][0];
            p.h = cfg[i][1];
            p.w = cfg[i][2];
            p.kh = p.kw = cfg[i][3];
            p.stride_h = p.stride_w = cfg[i][4];
            p.dil_h = p.dil_w = cfg[i][5];
            p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = cfg[i][6];
            p.groups = cfg[i][7] ? p.c_in : 1;
            p.c_out = cfg[i][7] ? p.c_in : p.c_in + 2;
            p.act.kind = (cq_act_kind)act;
            p.act.a = act == CQ_ACT_CLIP ? 0.0f : 0.01f;
            p.act.b = 0.5f;
            check_conv(&p, &r, act % 2);
        }
}

/* Expansions (c_out at least 4x K, K at most 64) on the sgemm path, which
 * at 2 and 3 threads shares out runs of 8 output channels: ragged last
 * tiles (37, 100 outputs), a share with no whole tile (9 outputs at 3
 * threads), the im2col column matrix (3x3 over 2 channels), a residual. */
static void test_kern_conv2d_expansion(void **state)
{
    (void)state;
    kt_rng r = {77};
    static const int64_t cfg[][6] = {
        /* c_in, c_out, h, w, k, groups */
        {5, 37, 7, 30, 1, 1}, {16, 100, 9, 13, 1, 1}, {2, 9, 6, 50, 1, 1},
        {2, 80, 8, 19, 3, 1}, {64, 256, 3, 17, 1, 1}, {4, 40, 5, 11, 1, 2},
    };
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
        cq_conv2d_params p = cq_conv2d_params_default();
        p.n = 1 + (int64_t)(i % 2);
        p.c_in = cfg[i][0];
        p.c_out = cfg[i][1];
        p.h = cfg[i][2];
        p.w = cfg[i][3];
        p.kh = p.kw = cfg[i][4];
        p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = cfg[i][4] / 2;
        p.groups = cfg[i][5];
        p.act.kind = (cq_act_kind)(i % CQ_ACT_COUNT);
        p.act.a = p.act.kind == CQ_ACT_CLIP ? 0.0f : 0.01f;
        p.act.b = 0.5f;
        check_conv(&p, &r, (int)(i % 2));
    }
}

/* Shapes for the AVX-512 pixel-major implicit GEMM (groups 1, stride_w 1 or
 * 2, not 1x1): 7-pixel panels across rows not a multiple of 7, every panel
 * width (32, 48, 64 channels) with ragged last panels, several k blocks
 * (partial sums in scratch), padding on every side, dilation; 1x1 maps of
 * 49 / 14 / 10 pixels. */
static void test_kern_conv2d_pixel_major(void **state)
{
    (void)state;
    kt_rng r = {7};
    static const int64_t cfg[][10] = {
        /* c_in, c_out, h, w, kh, kw, stride_h, stride_w, dil, pad */
        {5, 64, 9, 15, 3, 3, 1, 1, 1, 1},   {3, 48, 11, 20, 5, 5, 2, 2, 1, 2},
        {9, 96, 6, 7, 3, 3, 1, 1, 1, 1},    {4, 17, 9, 23, 3, 3, 1, 2, 1, 0},
        {6, 33, 8, 13, 3, 5, 2, 1, 2, 2},   {60, 200, 5, 9, 3, 3, 1, 1, 1, 1},
        {171, 64, 4, 8, 3, 3, 1, 1, 1, 1},  {3, 24, 12, 29, 7, 7, 2, 2, 1, 3},
        {2, 130, 3, 3, 2, 2, 1, 1, 1, 0},   {80, 520, 3, 7, 3, 3, 1, 1, 1, 1},
        {3, 16, 10, 31, 1, 3, 1, 2, 1, 1},  {7, 70, 5, 17, 3, 1, 1, 1, 1, 0},
        /* 1x1 where pixel-major wastes fewer lanes: straight from x, a
         * partial last panel, several k blocks */
        {160, 96, 7, 7, 1, 1, 1, 1, 1, 0},  {300, 64, 2, 7, 1, 1, 1, 1, 1, 0},
        {1700, 64, 2, 5, 1, 1, 1, 1, 1, 0}, {9, 20, 3, 3, 1, 1, 2, 2, 1, 0},
        /* ... shared by (7-pixel tile, panel) cells: 5 panels, k blocks */
        {232, 232, 7, 7, 1, 1, 1, 1, 1, 0}, {960, 160, 7, 7, 1, 1, 1, 1, 1, 0},
        /* several groups of output rows (the last one shorter), each over
         * several k blocks: 56-wide rows, stride 1 and 2 */
        {64, 40, 23, 56, 3, 3, 1, 1, 1, 1}, {70, 64, 23, 110, 3, 3, 2, 2, 1, 1},
        /* c_in >= 8 (straight from the padded input): dilation, mixed
         * strides, uneven pads, kernels wider than the pad */
        {12, 40, 9, 17, 3, 5, 2, 1, 2, 2},  {16, 33, 10, 13, 5, 3, 1, 2, 2, 1},
        {8, 20, 4, 30, 4, 4, 1, 2, 1, 0},
        /* few channels (packed rows) over two k blocks */
        {7, 64, 17, 20, 15, 15, 1, 1, 1, 7},
        /* whole 64-channel panels: 6-pixel tiles across rows (a ragged
         * last tile), two panels; several row groups over several k
         * blocks; dilation and mixed strides */
        {24, 128, 13, 11, 3, 3, 1, 1, 1, 1}, {64, 64, 40, 110, 3, 3, 1, 1, 1, 1},
        {20, 64, 12, 21, 3, 3, 2, 1, 2, 2},
        /* a last 64-channel panel partly empty (c_out 112, 120, 184: padded
         * as wide as 32 / 48-wide panels would be), over two k blocks */
        {40, 120, 9, 13, 3, 3, 1, 1, 1, 1}, {160, 184, 5, 11, 3, 3, 1, 1, 1, 1},
        /* whole 64-channel panels whose weights pass W_WHOLE_BYTES (640
         * KB): k blocks and partial sums (below it, K is one block) */
        {320, 64, 9, 13, 3, 3, 1, 1, 1, 1}, {160, 112, 5, 9, 3, 3, 1, 1, 1, 1},
    };
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++)
        check_cfg_row(cfg[i], cfg[i][9] > 0 ? cfg[i][9] - (int64_t)(i % 2) : 0, i, 0.0f, &r);
}

/* p with each of the 7 combinations of NCHW16c for x, y and the residual
 * (batch 1 or 2 by i, a random activation), checked by check_conv; on
 * AVX-512, cq_conv2d_blocked_native must say native (always, or only where
 * x is blocked). */
static void check_layouts(cq_conv2d_params p, size_t i, int always, int native, kt_rng *r)
{
    for (int l = 1; l < 8; l++) {
        p.n = 1 + (int64_t)((i + (size_t)l) % 2);
        p.act = random_act(r);
        p.x_blocked = l & 1;
        p.y_blocked = (l >> 1) & 1;
        p.res_blocked = (l >> 2) & 1;
        cq_isa was = cq_kern_isa();
        cq_kern_set_isa(CQ_ISA_AVX512);
        if (cq_kern_isa() == CQ_ISA_AVX512 && (always || p.x_blocked))
            assert_int_equal(cq_conv2d_blocked_native(&p), native);
        cq_kern_set_isa(was);
        check_conv(&p, r, (int)(l % 2));
    }
}

/* NCHW16c (kern.h's layout fields) for x, y and the residual, in every
 * combination, on the shapes of ResNet's body and odd ones: the
 * pixel-major GEMM reads and writes it natively (3x3 stride 1 and 2 from a
 * padded copy, 1x1 stride 1 and 2 from x in place, rows not a multiple of 7
 * from a copy), so does the depthwise channel-block kernel, every other
 * algorithm through conversions. */
static void test_kern_conv2d_blocked(void **state)
{
    (void)state;
    kt_rng r = {0xb10c16u};
    static const int64_t cfg[][11] = {
        /* c_in, c_out, h, w, kh, kw, stride_h, stride_w, dil, pad, native
         * from NCHW16c (from NCHW, 1x1 goes elsewhere) */
        {64, 64, 9, 14, 3, 3, 1, 1, 1, 1, 1},  {32, 48, 10, 14, 3, 3, 2, 2, 1, 1, 1},
        {32, 64, 14, 14, 1, 1, 2, 2, 1, 0, 1}, {48, 32, 7, 7, 1, 1, 1, 1, 1, 0, 1},
        {16, 96, 5, 9, 3, 3, 1, 1, 1, 1, 1},   {16, 32, 6, 14, 1, 1, 1, 1, 1, 0, 1},
        {32, 16, 9, 13, 3, 3, 1, 2, 2, 2, 1},  {160, 64, 3, 7, 3, 3, 1, 1, 1, 0, 1},
        {16, 32, 23, 56, 3, 3, 1, 1, 1, 1, 1},
        /* 1x1 read in place over several k blocks: groups of rows sized by
         * a k block's channels and the partial sums (two groups here) */
        {256, 2048, 14, 14, 1, 1, 1, 1, 1, 0, 1}, {1024, 48, 14, 14, 1, 1, 2, 2, 1, 0, 1},
        /* weights past 2 MB: the direct path's larger groups of rows */
        {256, 256, 14, 14, 3, 3, 2, 2, 1, 1, 1},
        /* whole 64-channel panels (6-pixel tiles across rows): padded,
         * stride 2, and read in place on rows not a multiple of 7 (1x1 and
         * 3x3 without padding) */
        {48, 128, 11, 9, 3, 3, 1, 1, 1, 1, 1}, {32, 64, 12, 30, 3, 3, 2, 2, 1, 1, 1},
        {64, 64, 10, 13, 1, 1, 1, 1, 1, 0, 1}, {32, 64, 9, 20, 3, 3, 1, 1, 1, 0, 1},
        /* c_out 112: the last 64-channel panel's fourth vector is past y's
         * last block (never loaded or stored); 3x3 padded and 1x1 in place */
        {64, 112, 9, 10, 3, 3, 1, 1, 1, 1, 1}, {96, 112, 3, 14, 1, 1, 1, 1, 1, 0, 1},
        /* 1x1 in place where the 6 x 64 tiles (7 % faster) beat the sgemm's
         * fill: MobileNetV3's 672 > 112 at 14x14, 8x8 maps */
        {672, 112, 14, 14, 1, 1, 1, 1, 1, 0, 1}, {32, 64, 8, 8, 1, 1, 1, 1, 1, 0, 1},
        /* 6 x 64 and 6 x 48 tiles over k blocks (weights past 640 KB) */
        {320, 64, 7, 12, 3, 3, 1, 1, 1, 1, 1}, {160, 112, 5, 9, 3, 3, 1, 1, 1, 1, 1},
        /* 7x7 maps in 5 channel panels: shared by (row, panel) cells, in
         * place (1x1, k blocks), from a padded copy (3x3) */
        {960, 160, 7, 7, 1, 1, 1, 1, 1, 0, 1}, {32, 160, 7, 7, 3, 3, 1, 1, 1, 1, 1},
        {64, 160, 9, 7, 1, 1, 1, 1, 1, 0, 1},
        /* 1x1 on rows of 10 (7-pixel tiles waste lanes there): the sgemm */
        {16, 16, 6, 10, 1, 1, 1, 1, 1, 0, 0},
        /* few input channels (packed rows) into NCHW16c; NCHW16c input refused */
        {5, 32, 9, 15, 3, 3, 1, 1, 1, 1, 0},   {3, 16, 11, 20, 5, 5, 1, 2, 1, 2, 0},
    };
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++)
        check_layouts(row_params(cfg[i], cfg[i][9], 1), i, 0, (int)cfg[i][10], &r);
    /* heads of fewer than 16 channels (U-Net's 16 > 2): NCHW16c in, NCHW
     * out natively (1x1: 8 pixels at a time, a ragged last 8; 3x3: the
     * direct path) */
    static const int64_t head[][10] = {
        {16, 2, 14, 14, 1, 1, 1, 1, 1, 0}, {32, 3, 6, 10, 1, 1, 1, 1, 1, 0},
        {16, 5, 9, 9, 3, 3, 1, 1, 1, 1},   {48, 15, 7, 21, 1, 1, 1, 1, 1, 0},
        {16, 1, 5, 5, 1, 1, 1, 1, 1, 0},   {32, 4, 3, 3, 1, 1, 1, 1, 1, 0},
        {64, 7, 16, 16, 1, 1, 1, 1, 1, 0},
    };
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++) {
        cq_conv2d_params p = row_params(head[i], head[i][9], 1 + (int64_t)(i % 2));
        p.act = random_act(&r);
        p.x_blocked = 1;
        cq_isa was = cq_kern_isa();
        cq_kern_set_isa(CQ_ISA_AVX512);
        if (cq_kern_isa() == CQ_ISA_AVX512)
            assert_true(cq_conv2d_blocked_native(&p));
        cq_kern_set_isa(was);
        check_conv(&p, &r, (int)(i % 2));
    }
    /* depthwise: the channel-block kernel on planes of up to 14x14 outputs
     * and for kernels past 3x3 on rows under 64 (native: MobileNetV3's,
     * EfficientNet's and LRASPP's 5x5 and 5x5/2 at 28x28 and 40x40
     * outputs), the plane kernel otherwise (converted) */
    static const int64_t dw[][6] = {
        /* c, h, w, k, stride, native */
        {32, 7, 7, 3, 1, 1},   {48, 14, 14, 3, 2, 1},  {16, 12, 13, 5, 1, 1},
        {32, 28, 28, 3, 1, 0}, {48, 28, 28, 5, 1, 1},  {32, 55, 56, 5, 2, 1},
        {16, 20, 40, 5, 1, 1},  {16, 6, 70, 5, 1, 0},
    };
    for (size_t i = 0; i < sizeof dw / sizeof dw[0]; i++) {
        cq_conv2d_params p = cq_conv2d_params_default();
        p.c_in = p.c_out = p.groups = dw[i][0];
        p.h = dw[i][1];
        p.w = dw[i][2];
        p.kh = p.kw = dw[i][3];
        p.stride_h = p.stride_w = dw[i][4];
        p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = dw[i][3] / 2;
        check_layouts(p, i, 1, (int)dw[i][5], &r);
    }
}

/* The pixels-in-lanes 3x3 kernel (kern_convpl_avx512.c: NCHW16c in and
 * out, c_out 16, stride 1, pad 1; c_out 32 goes to the pixel-major GEMM): rows of one to several 16-pixel
 * vectors with a ragged last one (16, 17, 31, 33, 50, 112 wide), so that a
 * tile's three vectors span row ends; heights of one row, odd ones, and
 * tall maps cut into several row groups (and the last group shorter); c_in
 * 16 to 64; batch 1 and 2, residual or not, bias or not (check_layouts). */
static void test_kern_conv2d_blocked_narrow(void **state)
{
    (void)state;
    kt_rng r = {0x9e1a7u};
    static const int64_t cfg[][10] = {
        {16, 16, 5, 16, 3, 3, 1, 1, 1, 1},  {32, 16, 7, 17, 3, 3, 1, 1, 1, 1},
        {16, 16, 1, 31, 3, 3, 1, 1, 1, 1},  {48, 16, 3, 33, 3, 3, 1, 1, 1, 1},
        {64, 16, 9, 50, 3, 3, 1, 1, 1, 1},  {16, 16, 61, 112, 3, 3, 1, 1, 1, 1},
        {32, 16, 37, 23, 3, 3, 1, 1, 1, 1}, {32, 32, 9, 50, 3, 3, 1, 1, 1, 1},
    };
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++)
        check_layouts(row_params(cfg[i], cfg[i][9], 1), i, 0, 1, &r);
}

/* 1x1 convs on 1x1 maps (squeeze-excite, classifier heads), which run as a
 * matrix-vector product on AVX-512: MobileNetV3's and EfficientNet's
 * shapes and odd ones, batch 1 and 2, NCHW16c where the channels allow it
 * (the same memory as NCHW for one pixel), bias or not, a pad (then not a
 * matrix-vector product). */
static void test_kern_conv2d_gemv(void **state)
{
    (void)state;
    kt_rng r = {0x6e3du};
    static const int64_t cfg[][2] = {
        {960, 240}, {240, 960}, {672, 28}, {28, 672}, {17, 5}, {3, 40}, {1280, 16}, {16, 1000},
    };
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++)
        for (int l = 0; l < 4; l++) {
            cq_conv2d_params p = cq_conv2d_params_default();
            p.n = 1 + (int64_t)((i + (size_t)l) % 2);
            p.c_in = cfg[i][0];
            p.c_out = cfg[i][1];
            p.h = p.w = 1;
            p.kh = p.kw = 1;
            p.act = random_act(&r);
            int blk = p.c_in % 16 == 0 && p.c_out % 16 == 0;
            p.x_blocked = blk && (l & 1);
            p.y_blocked = p.res_blocked = blk && (l & 2);
            if (l == 3 && !blk)
                p.pad_top = p.pad_left = 1;
            check_conv(&p, &r, l != 2);
        }
}

/* The algorithm cq_conv2d_plan_new picks for p (weights w, nw floats). */
static void expect_algo(const cq_conv2d_params *p, const float *w, size_t nw, int algo)
{
    cq_err err;
    cq_conv2d_plan *pl = cq_conv2d_plan_new(p, w, nw, NULL, 0, &err);
    assert_non_null(pl);
    assert_int_equal(cq_conv2d_algo(pl), algo);
    cq_conv2d_plan_free(pl);
}

/* Shapes for the AVX-512 direct few-channel kernel (groups 1, c_in <= 4,
 * not 1x1): rows of 1 to 9 vectors (tiles of 3, 2 and 1 vectors, a masked
 * last one), c_out not a multiple of its 8-channel tile, strides 1 to 4,
 * asymmetric pads (BlazeFace's 5x5/2), dilation, the ResNet / MobileNetV2
 * stems on small maps. */
static void test_kern_conv2d_stem(void **state)
{
    (void)state;
    kt_rng r = {99};
    static const int64_t cfg[][12] = {
        /* c_in, c_out, h, w, kh, kw, stride_h, stride_w, dil, pad t/l, pad b/r */
        {3, 64, 13, 40, 7, 7, 2, 2, 1, 3, 3},   {3, 32, 9, 34, 3, 3, 2, 2, 1, 1, 1},
        {3, 24, 10, 64, 5, 5, 2, 2, 1, 1, 2},   {1, 5, 6, 129, 3, 3, 1, 1, 1, 1, 1},
        {2, 13, 7, 290, 3, 5, 1, 2, 1, 0, 2},   {4, 17, 9, 100, 4, 4, 3, 3, 1, 2, 0},
        {3, 9, 8, 75, 3, 3, 1, 4, 2, 2, 2},     {3, 40, 6, 18, 2, 7, 1, 1, 2, 0, 3},
        {2, 8, 5, 16, 3, 3, 1, 1, 1, 0, 0},     {3, 16, 11, 47, 11, 3, 4, 1, 1, 5, 5},
        {3, 7, 17, 33, 3, 3, 2, 2, 1, 1, 0},    {4, 3, 5, 400, 1, 3, 1, 1, 3, 0, 0},
    };
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++)
        check_cfg_row(cfg[i], cfg[i][10], i, -0.2f, &r);
}

/* Max pool of y (n c, h, w) by the ONNX definition, -inf outside. */
static void maxpool_naive(const cq_pool2d_params *q, int64_t ph, int64_t pw, const float *y,
                          float *out)
{
    for (int64_t nc = 0; nc < q->n * q->c; nc++)
        for (int64_t oy = 0; oy < ph; oy++)
            for (int64_t ox = 0; ox < pw; ox++) {
                float m = -INFINITY;
                for (int64_t ky = 0; ky < q->kh; ky++)
                    for (int64_t kx = 0; kx < q->kw; kx++) {
                        int64_t iy = oy * q->stride_h - q->pad_top + ky * q->dil_h;
                        int64_t ix = ox * q->stride_w - q->pad_left + kx * q->dil_w;
                        if (iy >= 0 && iy < q->h && ix >= 0 && ix < q->w) {
                            float v = y[(nc * q->h + iy) * q->w + ix];
                            m = v > m ? v : m;
                        }
                    }
                out[(nc * ph + oy) * pw + ox] = m;
            }
}

/* Conv then max pool (cq_conv2d_run_pool) against the naive conv pooled
 * naively, for pools of every kind the fused ring path and the fallback
 * take: ResNet's 3x3/2 pad 1 (the register path), 2x2/2 with ceil_mode,
 * 3x3/1 pad 1 (the row buffer, stride 1), 5x4 stride 2x2 with asymmetric
 * pads, 2x3 stride 3x1 (rows skipped between windows), dilation 2 (not
 * fused). Every ISA at 1, 2 and 3 kernel threads (the fused path splits the
 * pool rows, each share computing the conv rows under its own); c_out not
 * a multiple of 8; the fused path must really run where
 * cq_conv2d_pool_fuses says so. */
static void check_conv_pool(const cq_conv2d_params *p, kt_rng *r)
{
    static const int64_t pools[][9] = {
        /* kh, kw, stride_h, stride_w, pad t, l, b, r, ceil (dil 2 when ceil is 2) */
        {3, 3, 2, 2, 1, 1, 1, 1, 0}, {2, 2, 2, 2, 0, 0, 0, 0, 1}, {3, 3, 1, 1, 1, 1, 1, 1, 0},
        {5, 4, 2, 2, 2, 1, 1, 2, 0}, {2, 3, 3, 1, 0, 1, 0, 1, 0}, {2, 2, 1, 1, 0, 0, 0, 0, 2},
    };
    int64_t oh, ow;
    cq_err err;
    assert_int_equal(cq_conv2d_out_shape(p, &oh, &ow, &err), CQ_OK);
    size_t nx = (size_t)(p->n * p->c_in * p->h * p->w), ny = (size_t)(p->n * p->c_out * oh * ow);
    size_t nw = (size_t)(p->c_out * p->c_in / p->groups * p->kh * p->kw);
    float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc((size_t)p->c_out * 4);
    float *conv = malloc(ny * 4);
    kt_fill(r, x, (int64_t)nx);
    kt_fill(r, w, (int64_t)nw);
    kt_fill(r, b, p->c_out);
    conv_naive(p, oh, ow, x, w, b, NULL, conv);
    cq_conv2d_plan *pl = cq_conv2d_plan_new(p, w, nw, b, (size_t)p->c_out, &err);
    assert_non_null(pl);
    int64_t red = p->c_in / p->groups * p->kh * p->kw;
    cq_isa isas[] = KT_ISAS;
    for (size_t k = 0; k < sizeof pools / sizeof pools[0]; k++) {
        cq_pool2d_params q = cq_pool2d_params_default();
        q.kind = CQ_POOL_MAX;
        q.n = p->n;
        q.c = p->c_out;
        q.h = oh;
        q.w = ow;
        q.kh = pools[k][0];
        q.kw = pools[k][1];
        q.stride_h = pools[k][2];
        q.stride_w = pools[k][3];
        q.pad_top = pools[k][4];
        q.pad_left = pools[k][5];
        q.pad_bottom = pools[k][6];
        q.pad_right = pools[k][7];
        q.ceil_mode = pools[k][8] == 1;
        q.dil_h = q.dil_w = pools[k][8] == 2 ? 2 : 1;
        int64_t ph, pw;
        if (cq_pool2d_out_shape(&q, &ph, &pw, &err) != CQ_OK)
            continue;
        size_t np = (size_t)(p->n * p->c_out * ph * pw);
        float *want = malloc(np * 4), *got = malloc(np * 4), *yb = malloc(np * 4);
        maxpool_naive(&q, ph, pw, conv, want);
        for (size_t i = 0; i < 3 * sizeof isas / sizeof isas[0]; i++) {
            cq_kern_set_isa(isas[i / 3]);
            cq_kern_set_threads(1 + (int)(i % 3));
            int fused = cq_conv2d_pool_fuses(pl, &q);
            if (isas[i / 3] != CQ_ISA_AVX512 || q.dil_h == 2 || p->c_in > 4 || p->groups > 1)
                assert_false(fused);
            else if (cq_kern_isa() == CQ_ISA_AVX512)
                assert_true(fused); /* the stems, at any thread count */
            size_t sb = cq_conv2d_pool_scratch_bytes(pl, &q);
            void *scratch = malloc(sb);
            /* NaN: every output must be written; NCHW16c: converted back */
            float *out = p->y_blocked ? yb : got;
            memset(out, 0xff, np * 4);
            assert_int_equal(cq_conv2d_run_pool(pl, &q, x, nx, out, np, scratch, sb, &err),
                             CQ_OK);
            if (p->y_blocked)
                cq_from_blocked_f32(yb, p->n, p->c_out, ph * pw, got);
            int64_t bad = kt_mismatch(got, want, (int64_t)np, red);
            if (bad >= 0)
                fail_msg("conv+maxpool %s t%d fused %d yb %d c%lld->%lld %lldx%lld k%lldx%lld s%lld "
                         "pool %lldx%lld/%lld,%lld pads %lld,%lld,%lld,%lld ceil %d dil %lld: "
                         "y[%lld] = %g, want %g",
                         cq_isa_name(isas[i / 3]), cq_kern_threads(), fused, p->y_blocked,
                         (long long)p->c_in,
                         (long long)p->c_out, (long long)p->h, (long long)p->w,
                         (long long)p->kh, (long long)p->kw, (long long)p->stride_h,
                         (long long)q.kh, (long long)q.kw, (long long)q.stride_h,
                         (long long)q.stride_w, (long long)q.pad_top, (long long)q.pad_left,
                         (long long)q.pad_bottom, (long long)q.pad_right, q.ceil_mode,
                         (long long)q.dil_h, (long long)bad, (double)got[bad],
                         (double)want[bad]);
            /* too little scratch, a pool that does not fit the conv: EINVAL */
            assert_int_equal(cq_conv2d_run_pool(pl, &q, x, nx, got, np, scratch, sb - 1, &err),
                             CQ_EINVAL);
            cq_pool2d_params bad_q = q;
            bad_q.c++;
            assert_int_equal(cq_conv2d_run_pool(pl, &bad_q, x, nx, got, np, scratch, sb, &err),
                             CQ_EINVAL);
            free(scratch);
        }
        free(want);
        free(got);
        free(yb);
    }
    cq_kern_set_isa(CQ_ISA_COUNT);
    cq_kern_set_threads(1);
    cq_conv2d_plan_free(pl);
    free(x);
    free(w);
    free(b);
    free(conv);
}

/* Conv -> MaxPool: the stem shapes (fused on AVX-512), a few others (the
 * fallback through scratch), with and without an activation; the last
 * column: the pooled output in NCHW16c. */
static void test_kern_conv2d_pool(void **state)
{
    (void)state;
    kt_rng r = {4242};
    static const int64_t cfg[][12] = {
        /* c_in, c_out, h, w, kh, kw, stride, pad, act, n, groups, blocked */
        {3, 64, 24, 40, 7, 7, 2, 3, 1, 1, 1, 0}, {3, 13, 17, 33, 3, 3, 2, 1, 1, 2, 1, 0},
        {3, 24, 12, 70, 5, 5, 1, 2, 0, 1, 1, 0}, {2, 9, 9, 19, 3, 3, 1, 0, 2, 1, 1, 0},
        {16, 20, 11, 13, 3, 3, 1, 1, 1, 1, 1, 0}, {8, 8, 10, 10, 3, 3, 1, 1, 1, 1, 8, 0},
        {3, 64, 24, 45, 7, 7, 2, 3, 1, 1, 1, 1}, {3, 32, 17, 33, 3, 3, 2, 1, 2, 2, 1, 1},
        {16, 32, 11, 13, 3, 3, 1, 1, 1, 1, 1, 1},
    };
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
        cq_conv2d_params p = cq_conv2d_params_default();
        p.c_in = cfg[i][0];
        p.c_out = cfg[i][1];
        p.h = cfg[i][2];
        p.w = cfg[i][3];
        p.kh = cfg[i][4];
        p.kw = cfg[i][5];
        p.stride_h = p.stride_w = cfg[i][6];
        p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = cfg[i][7];
        p.act.kind = cfg[i][8] == 1 ? CQ_ACT_RELU : cfg[i][8] == 2 ? CQ_ACT_CLIP : CQ_ACT_NONE;
        p.act.a = -0.2f;
        p.act.b = 0.3f;
        p.n = cfg[i][9];
        p.groups = cfg[i][10];
        p.y_blocked = (int)cfg[i][11];
        check_conv_pool(&p, &r);
    }
}

static void test_kern_conv2d_algo_choice(void **state)
{
    (void)state;
    cq_err err;
    float w[64 * 9] = {0};
    cq_conv2d_params p = cq_conv2d_params_default();
    p.n = 1;
    p.c_in = p.c_out = p.groups = 8;
    p.h = p.w = 10;
    p.kh = p.kw = 3;
    /* short rows: channel-last depthwise, scratch for both transposes (and
     * on AVX-512 for the 16-channel blocks: a padded block, its outputs) */
    cq_conv2d_plan *pl = cq_conv2d_plan_new(&p, w, 8 * 9, NULL, 0, &err);
    assert_non_null(pl);
    assert_int_equal(cq_conv2d_algo(pl), CQ_CONV_DEPTHWISE_NHWC);
    size_t nhwc = 8 * (10 * 10 + 8 * 8) * sizeof(float);
    if (cq_kern_isa() == CQ_ISA_AVX512)
        assert_true(cq_conv2d_scratch_bytes(pl) >= nhwc &&
                    cq_conv2d_scratch_bytes(pl) >= 16 * (10 * 10 + 8 * 8) * sizeof(float));
    else
        assert_int_equal(cq_conv2d_scratch_bytes(pl), nhwc);
    cq_conv2d_plan_free(pl);
    /* long rows, or a channel multiplier: the NCHW row kernel */
    p.w = 130;
    pl = cq_conv2d_plan_new(&p, w, 8 * 9, NULL, 0, &err);
    assert_int_equal(cq_conv2d_algo(pl), CQ_CONV_DEPTHWISE);
    /* the AVX-512 plane kernel reads rows this long straight from the plane,
     * with one zero row for the padding rows */
    if (cq_kern_isa() == CQ_ISA_AVX512)
        assert_true(cq_conv2d_scratch_bytes(pl) >= 130 * sizeof(float) &&
                    cq_conv2d_scratch_bytes(pl) < 2 * 130 * sizeof(float) + 512);
    else
        assert_int_equal(cq_conv2d_scratch_bytes(pl), 0);
    cq_conv2d_plan_free(pl);
    /* rows of 32-63: the row kernel under 128 channels, channel-last from 128;
     * with AVX-512 the plane kernel for both (rows of 14 or more) */
    int avx512 = cq_kern_isa() == CQ_ISA_AVX512;
    p.w = 40;
    expect_algo(&p, w, 8 * 9, CQ_CONV_DEPTHWISE);
    {
        static float w128[128 * 9];
        p.c_in = p.c_out = p.groups = 128;
        expect_algo(&p, w128, 128 * 9, avx512 ? CQ_CONV_DEPTHWISE : CQ_CONV_DEPTHWISE_NHWC);
        /* stride 2: the plane kernel from 14 outputs a row on planes of
         * more than 14x14 outputs, channel-last (AVX-512: channel blocks)
         * below */
        p.stride_h = p.stride_w = 2;
        p.h = 40;
        p.w = 67;
        pl = cq_conv2d_plan_new(&p, w128, 128 * 9, NULL, 0, &err);
        assert_int_equal(cq_conv2d_algo(pl),
                         avx512 ? CQ_CONV_DEPTHWISE : CQ_CONV_DEPTHWISE_NHWC);
        assert_true(cq_conv2d_scratch_bytes(pl) > 0);
        cq_conv2d_plan_free(pl);
        p.w = 27;
        expect_algo(&p, w128, 128 * 9, CQ_CONV_DEPTHWISE_NHWC);
        /* 14 outputs a row on a 14x14 plane: channel blocks on AVX-512 */
        p.h = 28;
        p.w = 28;
        expect_algo(&p, w128, 128 * 9, CQ_CONV_DEPTHWISE_NHWC);
        p.h = 10;
        p.stride_h = p.stride_w = 1;
        p.c_in = p.c_out = p.groups = 8;
    }
    p.w = 10;
    p.c_out = 16;
    expect_algo(&p, w, 16 * 9, CQ_CONV_DEPTHWISE);
    p.c_out = 8;
    p.groups = 1;
    p.kh = p.kw = 1;
    expect_algo(&p, w, 64, CQ_CONV_1X1);
    p.kh = p.kw = 3;
    pl = cq_conv2d_plan_new(&p, w, 64 * 9, NULL, 0, &err);
    assert_int_equal(cq_conv2d_algo(pl), CQ_CONV_IM2COL);
    /* the column matrix, plus the B panel of the AVX-512 sgemm */
    assert_true(cq_conv2d_scratch_bytes(pl) >= 8 * 9 * 8 * 8 * sizeof(float));
    /* wrong sizes are refused, not read */
    float y[1];
    assert_int_equal(cq_conv2d_run(pl, w, 5, y, 1, NULL, 0, &err), CQ_EINVAL);
    assert_non_null(strstr(err.msg, "input has 5 elements"));
    cq_conv2d_plan_free(pl);
    cq_conv2d_plan_free(NULL);
    assert_null(cq_conv2d_plan_new(&p, w, 10, NULL, 0, &err));
    assert_non_null(strstr(err.msg, "weight has 10 elements, expected 576"));
    p.groups = 3;
    assert_null(cq_conv2d_plan_new(&p, w, 10, NULL, 0, &err));
    assert_non_null(strstr(err.msg, "groups 3 does not divide"));
    p.groups = 1;
    p.kh = 12;
    assert_null(cq_conv2d_plan_new(&p, w, 64 * 36, NULL, 0, &err));
    assert_non_null(strstr(err.msg, "larger than the padded input"));
    p.kh = 1;
    p.pad_top = 1;
    assert_null(cq_conv2d_plan_new_algo(&p, w, 64, NULL, 0, CQ_CONV_1X1, &err));
    assert_int_equal(err.code, CQ_EINVAL);
}

/* OpenBLAS runs kernels of the ISA calq runs: where the CPU has AVX2 and
 * OpenBLAS names its kernels, they are none of the pre-AVX2 ones it falls
 * back to for a CPU model newer than itself (kern_isa.c). A user's
 * OPENBLAS_CORETYPE is theirs: then nothing is checked. */
static void test_kern_blas_core(void **state)
{
    (void)state;
    const char *core = cq_kern_blas_core();
    assert_non_null(core);
    if (!*core || getenv("OPENBLAS_CORETYPE") || cq_kern_isa() == CQ_ISA_SCALAR) {
        skip();
        return;
    }
    static const char *const old[] = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem",
                                      "Atom",     "Katmai", "Unknown"};
    for (size_t i = 0; i < sizeof old / sizeof old[0]; i++)
        assert_true(strcasecmp(core, old[i]) != 0);
    /* and its sgemm is right (the re-chosen kernels run) */
    float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 0, 1, 1, 1}, c[4] = {0};
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 2, 2, 3, 1.0f, a, 3, b, 2, 0.0f, c, 2);
    assert_true(c[0] == 4 && c[1] == 5 && c[2] == 10 && c[3] == 11);
}

int main(void)
{
    /* split every convolution over the kernel threads, however small */
    cq__kern_set_min_share(0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kern_conv2d_random),
        cmocka_unit_test(test_kern_conv2d_vector_paths),
        cmocka_unit_test(test_kern_conv2d_expansion),
        cmocka_unit_test(test_kern_conv2d_pixel_major),
        cmocka_unit_test(test_kern_conv2d_blocked),
        cmocka_unit_test(test_kern_conv2d_blocked_narrow),
        cmocka_unit_test(test_kern_conv2d_gemv),
        cmocka_unit_test(test_kern_conv2d_stem),
        cmocka_unit_test(test_kern_conv2d_pool),
        cmocka_unit_test(test_kern_conv2d_algo_choice),
        cmocka_unit_test(test_kern_blas_core),
    };
    return cmocka_run_group_tests_name("kern", tests, NULL, NULL);
}
