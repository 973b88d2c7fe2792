/* test_kern_grp.c - the fp32 grouped convolution's direct kernel
 * (kern_convgr_avx512.c: a few channels a group, pixels in lanes over phase
 * planes) against the plain loop of conv_testutil.h, for every algorithm
 * and ISA at 1-3 threads, with and without the fused residual. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include <cblas.h>

#include "conv_testutil.h"
#include "kern/kern_internal.h"

/* The shapes it takes: RegNet's 8 channels a group at stride 1 and 2, 2 and
 * 4 input channels a group, 16 outputs a group (two tiles), kernels 2x2 to
 * 5x5 and 1x3, every pad below the kernel (asymmetric too), maps whose flat
 * rows end in 1, 2 or 3 vectors, a row narrower than a vector, odd sizes at
 * stride 2, two images; and one it does not (4 outputs a group). */
static void test_kern_conv2d_grouped(void **state)
{
    (void)state;
    kt_rng r = {0x96e0u};
    static const int64_t cfg[][11] = {
        /* c_in, c_out, groups, h, w, kh, kw, stride, pad t/l, pad b/r, n */
        {48, 48, 6, 20, 20, 3, 3, 1, 1, 1, 1},  {48, 48, 6, 21, 19, 3, 3, 2, 1, 1, 1},
        {40, 40, 5, 7, 7, 3, 3, 1, 1, 1, 2},    {16, 16, 2, 14, 14, 3, 3, 2, 1, 1, 1},
        {6, 24, 3, 9, 11, 5, 5, 1, 2, 2, 1},    {8, 32, 2, 5, 3, 3, 3, 1, 0, 2, 1},
        {12, 48, 3, 13, 17, 3, 3, 2, 0, 1, 2},  {16, 16, 2, 8, 8, 2, 2, 2, 0, 0, 1},
        {24, 24, 3, 6, 23, 1, 3, 1, 0, 0, 1},   {64, 64, 8, 1, 1, 3, 3, 1, 1, 1, 1},
        {16, 16, 2, 11, 4, 5, 5, 2, 4, 3, 1},   {16, 8, 4, 9, 9, 3, 3, 1, 1, 1, 1},
    };
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
        cq_conv2d_params p = cq_conv2d_params_default();
        p.c_in = cfg[i][0];
        p.c_out = cfg[i][1];
        p.groups = cfg[i][2];
        p.h = cfg[i][3];
        p.w = cfg[i][4];
        p.kh = cfg[i][5];
        p.kw = cfg[i][6];
        p.stride_h = p.stride_w = cfg[i][7];
        p.pad_top = p.pad_left = cfg[i][8];
        p.pad_bottom = p.pad_right = cfg[i][9];
        p.n = cfg[i][10];
        p.act.kind = (cq_act_kind)(i % CQ_ACT_COUNT);
        p.act.a = p.act.kind == CQ_ACT_CLIP ? -0.2f : 0.01f;
        p.act.b = 0.5f;
        /* the kernel takes every row but the last */
        assert_int_equal(cq__convgr_applies(&p), i + 1 < sizeof cfg / sizeof cfg[0]);
        check_conv(&p, &r, (int)(i % 3 != 0));
    }
}

/* Random shapes the kernel takes (fixed seed): 2-12 input channels and 8
 * or 16 outputs a group, 2-6 groups, maps of 1-20, kernels up to 5x5,
 * stride 1 or 2, every pad below the kernel, one or two images. */
static void test_kern_conv2d_grouped_random(void **state)
{
    (void)state;
    kt_rng r = {0x6a0e7u};
    for (int done = 0; done < 40;) {
        cq_conv2d_params p = cq_conv2d_params_default();
        p.groups = kt_int(&r, 2, 6);
        p.c_in = p.groups * kt_int(&r, 2, 12);
        p.c_out = p.groups * 8 * kt_int(&r, 1, 2);
        p.kh = kt_int(&r, 1, 5);
        p.kw = kt_int(&r, 1, 5);
        p.stride_h = p.stride_w = kt_int(&r, 1, 2);
        p.pad_top = kt_int(&r, 0, p.kh - 1);
        p.pad_bottom = kt_int(&r, 0, p.kh - 1);
        p.pad_left = kt_int(&r, 0, p.kw - 1);
        p.pad_right = kt_int(&r, 0, p.kw - 1);
        p.h = kt_int(&r, 1, 20);
        p.w = kt_int(&r, 1, 20);
        p.n = kt_int(&r, 1, 2);
        p.act = random_act(&r);
        int64_t oh, ow;
        cq_err err;
        if (p.kh * p.kw == 1 || cq_conv2d_out_shape(&p, &oh, &ow, &err) != CQ_OK)
            continue;
        assert_true(cq__convgr_applies(&p));
        check_conv(&p, &r, (int)(done % 3 != 0));
        done++;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kern_conv2d_grouped),
        cmocka_unit_test(test_kern_conv2d_grouped_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
