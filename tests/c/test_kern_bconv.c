/* test_kern_bconv.c - Conv2d in bf16 (cq_conv2d_params.bf16): every ISA
 * (AMX-BF16 tiles, then with AMX off the bf16 pixel-major GEMM with
 * AVX512-BF16, the f32 paths on rounded operands elsewhere) and one and two threads against the f32 reference on
 * bf16-rounded inputs and weights, on random shapes (odd sizes, 1x1 to 5x5,
 * strides, pads, dilations, both layouts, activations, residuals); the
 * depthwise and stem convolutions, which stay f32, against the unrounded
 * reference; and the bf16 result against f32 within bf16's precision. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "kern_testutil.h"
#include "kern/kern_internal.h" /* cq__kern_set_min_share */
#include "kern/kern_bgemm.h"

static float *falloc(int64_t n)
{
    float *p = cq_alloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    assert_non_null(p);
    return p;
}

/* Run p (its layouts included) on NCHW x, res; y back in NCHW. */
static void run_conv(const cq_conv2d_params *p, const float *w, const float *bias,
                     const float *x, const float *res, float *y, int64_t oh, int64_t ow)
{
    cq_err err;
    int64_t nx = p->n * p->c_in * p->h * p->w, ny = p->n * p->c_out * oh * ow;
    cq_conv2d_plan *pl = cq_conv2d_plan_new(p, w, (size_t)(p->c_out * p->c_in / p->groups *
                                                           p->kh * p->kw),
                                            bias, bias ? (size_t)p->c_out : 0, &err);
    if (!pl)
        print_error("plan: %s\n", err.msg);
    assert_non_null(pl);
    float *xb = falloc(nx), *yb = falloc(ny), *rb = falloc(ny);
    if (p->x_blocked)
        cq_to_blocked_f32(x, p->n, p->c_in, p->h * p->w, xb);
    else
        memcpy(xb, x, (size_t)nx * sizeof(float));
    if (res && p->res_blocked)
        cq_to_blocked_f32(res, p->n, p->c_out, oh * ow, rb);
    else if (res)
        memcpy(rb, res, (size_t)ny * sizeof(float));
    size_t sb = cq_conv2d_scratch_bytes(pl);
    void *s = cq_alloc(sb ? sb : 1);
    cq_status st = res ? cq_conv2d_run_res(pl, xb, (size_t)nx, rb, yb, (size_t)ny, s, sb, &err)
                       : cq_conv2d_run(pl, xb, (size_t)nx, yb, (size_t)ny, s, sb, &err);
    if (st != CQ_OK)
        print_error("run: %s\n", err.msg);
    assert_int_equal(st, CQ_OK);
    if (p->y_blocked)
        cq_from_blocked_f32(yb, p->n, p->c_out, oh * ow, y);
    else
        memcpy(y, yb, (size_t)ny * sizeof(float));
    cq_free(s);
    cq_free(xb);
    cq_free(yb);
    cq_free(rb);
    cq_conv2d_plan_free(pl);
}

/* want = act(ref(rounded x, rounded w) + bias + res) (rounding only where
 * bf16 applies); every ISA and 1, 2 threads within tolerance. */
static void check_case(const cq_conv2d_params *p, kt_rng *r, int with_bias, int with_res,
                       int rounded)
{
    int64_t oh, ow;
    cq_err err;
    assert_int_equal(cq_conv2d_out_shape(p, &oh, &ow, &err), CQ_OK);
    int64_t K = p->c_in / p->groups * p->kh * p->kw, nw = p->c_out * K;
    int64_t nx = p->n * p->c_in * p->h * p->w, ny = p->n * p->c_out * oh * ow;
    float *w = falloc(nw), *x = falloc(nx), *bias = falloc(p->c_out), *res = falloc(ny);
    float *wr = falloc(nw), *xr = falloc(nx), *want = falloc(ny), *got = falloc(ny);
    kt_fill(r, w, nw);
    kt_fill(r, x, nx);
    kt_fill(r, bias, p->c_out);
    kt_fill(r, res, ny);
    for (int64_t i = 0; i < nw; i++)
        wr[i] = rounded ? cq_bgemm_round(w[i]) : w[i];
    for (int64_t i = 0; i < nx; i++)
        xr[i] = rounded ? cq_bgemm_round(x[i]) : x[i];
    cq_conv2d_params q = *p;
    q.act.kind = CQ_ACT_NONE;
    q.bf16 = 0;
    assert_int_equal(cq_conv2d_f32_ref(&q, xr, wr, with_bias ? bias : NULL, want, &err), CQ_OK);
    int64_t P = oh * ow;
    for (int64_t i = 0; i < ny; i++) {
        float v = want[i];
        if (with_res)
            v = v + res[i];
        switch (p->act.kind) {
        case CQ_ACT_RELU:
            v = v > 0 ? v : 0;
            break;
        case CQ_ACT_CLIP:
            v = v < p->act.a ? p->act.a : v > p->act.b ? p->act.b : v;
            break;
        default:
            break;
        }
        want[i] = v;
    }
    (void)P;
    cq_isa isas[] = KT_ISAS;
    for (size_t ii = 0; ii < sizeof isas / sizeof isas[0]; ii++) {
        if (cq_kern_set_isa(isas[ii]) != isas[ii])
            continue;
        /* with AVX-512: AMX-BF16 tiles where the CPU has them, then vdpbf16ps */
        for (int amx = cq_kern_set_amx(1); amx >= 0; amx--)
        for (int th = 1; th <= 2; th++) {
            cq_kern_set_amx(amx);
            cq_kern_set_threads(th);
            cq__kern_set_min_share(0);
            run_conv(p, w, with_bias ? bias : NULL, x, with_res ? res : NULL, got, oh, ow);
            int64_t bad = kt_mismatch(got, want, ny, K);
            if (bad >= 0)
                print_error("%s%s, %d thread(s): c_in %lld c_out %lld %lldx%lld k %lldx%lld s %lld "
                            "pad %lld dil %lld blocked %d/%d: y[%lld] = %.8g, want %.8g\n",
                            cq_isa_name(isas[ii]), cq_kern_amx() ? " (AMX)" : "", th,
                            (long long)p->c_in, (long long)p->c_out,
                            (long long)p->h, (long long)p->w, (long long)p->kh,
                            (long long)p->kw, (long long)p->stride_w, (long long)p->pad_left,
                            (long long)p->dil_w, p->x_blocked, p->y_blocked, (long long)bad,
                            got[bad], want[bad]);
            assert_true(bad < 0);
        }
        cq__kern_set_min_share(-1);
        cq_kern_set_threads(1);
    }
    cq_kern_set_isa(CQ_ISA_COUNT);
    cq_kern_set_amx(1);
    cq_free(w);
    cq_free(x);
    cq_free(bias);
    cq_free(res);
    cq_free(wr);
    cq_free(xr);
    cq_free(want);
    cq_free(got);
}

static void test_kern_bconv_random(void **state)
{
    (void)state;
    kt_rng r = {0x5eed5eedull};
    for (int it = 0; it < 40; it++) {
        cq_conv2d_params p = cq_conv2d_params_default();
        int blocked = it % 3 == 0;
        p.n = it % 7 == 0 ? 2 : 1;
        p.c_in = blocked ? 16 * kt_int(&r, 1, 3) : kt_int(&r, 5, 40);
        p.c_out = blocked ? 16 * kt_int(&r, 1, 4) : kt_int(&r, 1, 70);
        p.kh = p.kw = it % 4 == 0 ? 1 : it % 4 == 3 ? 5 : 3;
        if (it % 9 == 4)
            p.kw = 1;
        p.h = kt_int(&r, p.kh, 20);
        p.w = kt_int(&r, p.kw, 23);
        p.stride_h = p.stride_w = kt_int(&r, 1, 2);
        if (p.kh > 1 && it % 2) {
            p.pad_top = p.pad_bottom = p.kh / 2;
            p.pad_left = p.pad_right = p.kw / 2;
        }
        if (it % 10 == 5 && p.h > 2 * p.kh && p.w > 2 * p.kw)
            p.dil_h = p.dil_w = 2;
        p.act.kind = it % 3 == 0 ? CQ_ACT_RELU : it % 3 == 1 ? CQ_ACT_CLIP : CQ_ACT_NONE;
        p.act.a = -0.5f;
        p.act.b = 0.5f;
        p.x_blocked = blocked;
        p.y_blocked = blocked && it % 2 == 0;
        int with_res = it % 4 != 1;
        p.res_blocked = with_res && p.y_blocked;
        p.bf16 = 1;
        check_case(&p, &r, it % 5 != 2, with_res, 1);
    }
}

/* ResNet-like blocked layers: 3x3 with several k blocks, 1x1 stride 2. */
static void test_kern_bconv_resnet_like(void **state)
{
    (void)state;
    kt_rng r = {99};
    int64_t shapes[][5] = {{64, 64, 14, 3, 1}, {128, 256, 14, 1, 2}, {96, 48, 9, 3, 2}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        cq_conv2d_params p = cq_conv2d_params_default();
        p.n = 1;
        p.c_in = shapes[i][0];
        p.c_out = shapes[i][1];
        p.h = p.w = shapes[i][2];
        p.kh = p.kw = shapes[i][3];
        p.stride_h = p.stride_w = shapes[i][4];
        p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = p.kh / 2;
        p.act.kind = CQ_ACT_RELU;
        p.x_blocked = p.y_blocked = p.res_blocked = 1;
        p.bf16 = 1;
        if (cq_bgemm_native())
            assert_true(cq_conv2d_blocked_native(&p));
        check_case(&p, &r, 1, 1, 1);
        p.x_blocked = p.y_blocked = p.res_blocked = 0;
        check_case(&p, &r, 1, 0, 1);
    }
}

/* Depthwise, grouped and stem convolutions ignore bf16 (f32 results). */
static void test_kern_bconv_stays_f32(void **state)
{
    (void)state;
    kt_rng r = {7};
    cq_conv2d_params p = cq_conv2d_params_default();
    p.n = 1;
    p.c_in = p.c_out = p.groups = 32;
    p.h = p.w = 13;
    p.kh = p.kw = 3;
    p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
    p.bf16 = 1;
    check_case(&p, &r, 1, 0, 0);
    p.groups = 1;
    p.c_in = 3;
    p.c_out = 24;
    p.h = p.w = 30;
    p.kh = p.kw = 7;
    p.stride_h = p.stride_w = 2;
    p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 3;
    check_case(&p, &r, 1, 0, 0);
}

/* bf16 against the f32 conv: relative error of the outputs near 2^-8. */
static void test_kern_bconv_vs_f32(void **state)
{
    (void)state;
    kt_rng r = {31337};
    cq_conv2d_params p = cq_conv2d_params_default();
    p.n = 1;
    p.c_in = 64;
    p.c_out = 64;
    p.h = p.w = 14;
    p.kh = p.kw = 3;
    p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
    int64_t nx = 64 * 14 * 14, nw = 64 * 64 * 9;
    float *x = falloc(nx), *w = falloc(nw), *y = falloc(nx), *yf = falloc(nx);
    kt_fill(&r, x, nx);
    kt_fill(&r, w, nw);
    cq_err err;
    assert_int_equal(cq_conv2d_f32_ref(&p, x, w, NULL, yf, &err), CQ_OK);
    p.bf16 = 1;
    run_conv(&p, w, NULL, x, NULL, y, 14, 14);
    double num = 0, den = 0;
    for (int64_t i = 0; i < nx; i++) {
        num += ((double)y[i] - yf[i]) * ((double)y[i] - yf[i]);
        den += (double)yf[i] * yf[i];
    }
    assert_true(sqrt(num / den) < 1e-2);
    assert_true(sqrt(num / den) > 1e-5);
    cq_free(x);
    cq_free(w);
    cq_free(y);
    cq_free(yf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kern_bconv_random),
        cmocka_unit_test(test_kern_bconv_resnet_like),
        cmocka_unit_test(test_kern_bconv_stays_f32),
        cmocka_unit_test(test_kern_bconv_vs_f32),
    };
    return cmocka_run_group_tests_name("kern_bconv", tests, NULL, NULL);
}
