/* test_kern_dw.c - the fp32 depthwise convolutions (plane, row, 16-channel
 * block and channel-last kernels, the activations with an exp) against the
 * plain loop of conv_testutil.h, on random shapes (fixed seeds) and the
 * shapes each kernel takes, for every algorithm and ISA. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include <cblas.h>

#include "conv_testutil.h"
#include "kern/kern_internal.h" /* cq__kern_set_min_share */

/* Random pads below the kernel's size, a map of kh..hmax x kw..wmax and an
 * activation, drawn in that order. */
static void random_pads_map(cq_conv2d_params *p, kt_rng *r, int64_t hmax, int64_t wmax)
{
    p->pad_top = kt_int(r, 0, p->kh - 1);
    p->pad_bottom = kt_int(r, 0, p->kh - 1);
    p->pad_left = kt_int(r, 0, p->kw - 1);
    p->pad_right = kt_int(r, 0, p->kw - 1);
    p->h = kt_int(r, p->kh, hmax);
    p->w = kt_int(r, p->kw, wmax);
    p->act = random_act(r);
}

/* The depthwise plane kernel (kern_dw_avx512.c) on the shapes it takes:
 * 3x3 stride 1 and 2 (the blocked paths) most often, other kernels up to
 * 7x7, uneven strides, every padding below the kernel, rows with 1-5 column
 * vectors and ragged ends, heights not a multiple of the 4-row block. */
static void test_kern_conv2d_depthwise_plane(void **state)
{
    (void)state;
    kt_rng r = {0xd3b7a11u};
    for (int done = 0; done < 160; done++) {
        cq_conv2d_params p = cq_conv2d_params_default();
        p.n = kt_int(&r, 1, 2);
        p.c_in = p.groups = kt_int(&r, 1, 5);
        p.c_out = p.c_in * kt_int(&r, 1, 2);
        int k3 = kt_int(&r, 0, 2) > 0;
        p.kh = k3 ? 3 : kt_int(&r, 1, 7);
        p.kw = k3 ? 3 : kt_int(&r, 1, 7);
        int s = kt_int(&r, 0, 5);
        p.stride_w = s < 3 ? 1 : (s < 5 ? 2 : kt_int(&r, 1, 2));
        p.stride_h = s < 5 ? p.stride_w : kt_int(&r, 1, 3);
        random_pads_map(&p, &r, 23, 90);
        check_conv(&p, &r, kt_int(&r, 0, 1));
    }
}

/* 3x3 depthwise, the AVX-512 kernels that read rows straight from the plane
 * (stride 1 on rows of 48+, stride 2 with pad_left <= 1): row widths on both
 * sides of their vector pairs and of the columns a pair's plain loads reach
 * (where the masked pair starts: 48 at stride 1, 80 at stride 2), left pads
 * 0 to 2 (the shifted taps; 2 at stride 2 takes the split-row path), right
 * pads 0 to 2, so the last output's taps land on the row's end or its zero
 * padding. */
static void test_kern_conv2d_depthwise_rows(void **state)
{
    (void)state;
    kt_rng r = {0x5eed52u};
    static const int64_t widths[] = {3,  16, 31, 32, 33, 47,  48,  49,  63,  64,
                                     65, 79, 80, 81, 95, 112, 127, 128, 129, 144};
    for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++)
        for (int st = 1; st <= 2; st++)
            for (int pl = 0; pl <= 2; pl++)
                for (int pr = 0; pr <= 2; pr++) {
                    cq_conv2d_params p = cq_conv2d_params_default();
                    p.n = 1;
                    p.c_in = p.groups = kt_int(&r, 1, 3);
                    p.c_out = p.c_in * kt_int(&r, 1, 2);
                    p.kh = p.kw = 3;
                    p.stride_h = p.stride_w = st;
                    p.pad_left = pl;
                    p.pad_right = pr;
                    p.pad_top = kt_int(&r, 0, 2);
                    p.pad_bottom = kt_int(&r, 0, 2);
                    p.h = kt_int(&r, 3, 12);
                    p.w = widths[i];
                    p.act = random_act(&r);
                    check_conv(&p, &r, kt_int(&r, 0, 1));
                }
}

/* Depthwise with more than 16 channels, so the AVX-512 16-channel-block
 * kernel (the DEPTHWISE_NHWC algorithm there) runs whole blocks, a partial
 * last block and rows of 16+ pixels (two transposes a row); kernels up to
 * 7x7, strides 1 to 3, pads up to the kernel's size less one. */
static void test_kern_conv2d_depthwise_blocks(void **state)
{
    (void)state;
    kt_rng r = {0xb10c5u};
    static const int64_t chans[] = {16, 17, 31, 32, 40};
    for (int done = 0; done < 40; done++) {
        cq_conv2d_params p = cq_conv2d_params_default();
        p.n = kt_int(&r, 1, 2);
        p.c_in = p.c_out = p.groups = chans[done % 5];
        p.kh = done % 3 ? 3 : kt_int(&r, 1, 7);
        p.kw = done % 3 ? 3 : kt_int(&r, 1, 7);
        p.stride_h = kt_int(&r, 1, 3);
        p.stride_w = kt_int(&r, 1, 3);
        random_pads_map(&p, &r, 20, 37);
        check_conv(&p, &r, kt_int(&r, 0, 1));
    }
    /* dilated (LRASPP's 5x5 dilation 2 on 20x20): pads up to the dilated
     * extent less one, rows under and over 64 outputs */
    for (int done = 0; done < 16; done++) {
        cq_conv2d_params p = cq_conv2d_params_default();
        p.n = kt_int(&r, 1, 2);
        p.c_in = p.c_out = p.groups = chans[done % 5];
        p.kh = done % 2 ? 5 : kt_int(&r, 2, 5);
        p.kw = done % 2 ? 5 : kt_int(&r, 2, 5);
        p.dil_h = kt_int(&r, 1, 3);
        p.dil_w = done % 4 == 0 ? 1 : kt_int(&r, 2, 3);
        p.stride_h = p.stride_w = kt_int(&r, 1, 2);
        int64_t eh = p.dil_h * (p.kh - 1) + 1, ew = p.dil_w * (p.kw - 1) + 1;
        p.pad_top = kt_int(&r, 0, eh - 1);
        p.pad_bottom = kt_int(&r, 0, eh - 1);
        p.pad_left = kt_int(&r, 0, ew - 1);
        p.pad_right = kt_int(&r, 0, ew - 1);
        p.h = kt_int(&r, eh, 24);
        p.w = done == 15 ? 70 : kt_int(&r, ew, 40);
        p.act = random_act(&r);
        p.x_blocked = p.y_blocked = p.c_in % 16 == 0 && done % 3 == 0;
        check_conv(&p, &r, kt_int(&r, 0, 1));
    }
}

/* Depthwise with each activation that takes an exp (EfficientNet's SiLU):
 * the AVX-512 depthwise kernels apply those in a pass of their own over each
 * plane or block (the plane kernel's 3x3 stride 1 direct, padded and stride
 * 2 paths and its generic one, the channel-block kernel on 14x14 and on 5x5
 * at 28x28), in NCHW and NCHW16c. */
static void test_kern_conv2d_depthwise_exp_act(void **state)
{
    (void)state;
    kt_rng r = {0xe4a1u};
    static const int64_t cfg[][5] = {
        /* c, h, w, k, stride */
        {16, 9, 56, 3, 1}, {32, 8, 20, 3, 1}, {16, 11, 58, 3, 2}, {16, 7, 40, 5, 2},
        {48, 14, 14, 3, 1}, {32, 28, 28, 5, 1}, {17, 9, 64, 7, 1},
    };
    static const cq_act_kind kinds[] = {CQ_ACT_SIGMOID, CQ_ACT_SILU, CQ_ACT_HARDSIGMOID,
                                        CQ_ACT_TANH};
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++)
        for (size_t a = 0; a < sizeof kinds / sizeof kinds[0]; a++) {
            cq_conv2d_params p = cq_conv2d_params_default();
            p.n = 1 + (int64_t)(a % 2);
            p.c_in = p.c_out = p.groups = cfg[i][0];
            p.h = cfg[i][1];
            p.w = cfg[i][2];
            p.kh = p.kw = cfg[i][3];
            p.stride_h = p.stride_w = cfg[i][4];
            p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = cfg[i][3] / 2;
            p.act.kind = kinds[a];
            p.act.a = 0.2f;
            p.act.b = 0.5f;
            p.x_blocked = p.y_blocked = p.c_in % 16 == 0 && a >= 2;
            check_conv(&p, &r, 1);
        }
}

int main(void)
{
    /* split every convolution over the kernel threads, however small */
    cq__kern_set_min_share(0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kern_conv2d_depthwise_plane),
        cmocka_unit_test(test_kern_conv2d_depthwise_rows),
        cmocka_unit_test(test_kern_conv2d_depthwise_blocks),
        cmocka_unit_test(test_kern_conv2d_depthwise_exp_act),
    };
    return cmocka_run_group_tests_name("kern_dw", tests, NULL, NULL);
}
