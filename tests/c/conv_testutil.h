/* conv_testutil.h - the fp32 convolution oracle and checker the conv
 * kernel tests share (test_kern.c, test_kern_dw.c): conv_naive, a plain loop,
 * and check_conv, which runs one shape through every algorithm and ISA that
 * takes it, with and without a residual. Include after cmocka.h. */
#ifndef CALQ_TESTS_CONV_TESTUTIL_H
#define CALQ_TESTS_CONV_TESTUTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kern_testutil.h"

/* ---- naive oracles ------------------------------------------------------- */

/* y = act(conv + b + res); res (the shape of y) may be NULL. */
static void conv_naive(const cq_conv2d_params *p, int64_t oh, int64_t ow, const float *x,
                       const float *w, const float *b, const float *res, float *y)
{
    int64_t cig = p->c_in / p->groups, cog = p->c_out / p->groups;
    for (int64_t n = 0; n < p->n; n++)
        for (int64_t co = 0; co < p->c_out; co++)
            for (int64_t oy = 0; oy < oh; oy++)
                for (int64_t ox = 0; ox < ow; ox++) {
                    double s = b ? b[co] : 0;
                    for (int64_t ci = 0; ci < cig; ci++)
                        for (int64_t ky = 0; ky < p->kh; ky++)
                            for (int64_t kx = 0; kx < p->kw; kx++) {
                                int64_t iy = oy * p->stride_h + ky * p->dil_h - p->pad_top;
                                int64_t ix = ox * p->stride_w + kx * p->dil_w - p->pad_left;
                                if (iy < 0 || ix < 0 || iy >= p->h || ix >= p->w)
                                    continue;
                                int64_t c = co / cog * cig + ci;
                                s += (double)x[((n * p->c_in + c) * p->h + iy) * p->w + ix] *
                                     w[((co * cig + ci) * p->kh + ky) * p->kw + kx];
                            }
                    int64_t yi = ((n * p->c_out + co) * oh + oy) * ow + ox;
                    y[yi] = act_naive(p->act, res ? s + res[yi] : s);
                }
}

/* Run one conv configuration with every applicable algorithm and ISA. */
static void check_conv(const cq_conv2d_params *p, kt_rng *r, int with_bias)
{
    int64_t oh, ow;
    cq_err err;
    assert_int_equal(cq_conv2d_out_shape(p, &oh, &ow, &err), CQ_OK);
    int64_t cig = p->c_in / p->groups;
    size_t nx = (size_t)(p->n * p->c_in * p->h * p->w), ny = (size_t)(p->n * p->c_out * oh * ow);
    size_t nw = (size_t)(p->c_out * cig * p->kh * p->kw);
    float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc((size_t)p->c_out * 4);
    float *want = malloc(ny * 4), *got = malloc(ny * 4);
    float *res = malloc(ny * 4), *want_res = malloc(ny * 4);
    float *one = malloc(ny * 4), *one_res = malloc(ny * 4); /* at 1 thread */
    kt_fill(r, x, (int64_t)nx);
    kt_fill(r, w, (int64_t)nw);
    kt_fill(r, b, p->c_out);
    kt_fill(r, res, (int64_t)ny);
    conv_naive(p, oh, ow, x, w, with_bias ? b : NULL, NULL, want);
    conv_naive(p, oh, ow, x, w, with_bias ? b : NULL, res, want_res);
    int64_t red = cig * p->kh * p->kw;
    /* x and the residual in the layouts p names (NCHW16c: kern.h) */
    float *xin = x, *rin = res, *yout = got, *ybuf = NULL;
    if (p->x_blocked) {
        xin = malloc(nx * 4);
        cq_to_blocked_f32(x, p->n, p->c_in, p->h * p->w, xin);
    }
    if (p->res_blocked) {
        rin = malloc(ny * 4);
        cq_to_blocked_f32(res, p->n, p->c_out, oh * ow, rin);
    }
    if (p->y_blocked) {
        /* 64-byte aligned for one image (the kernels that write straight
         * into an aligned y), 16 bytes off for two; then ny floats of guard
         * no kernel may write (a channel block past c_out) */
        assert_int_equal(posix_memalign((void **)&ybuf, 64, 2 * ny * 4 + 64), 0);
        yout = ybuf + (p->n == 2 ? 4 : 0);
    }
    /* the library's own reference */
    assert_int_equal(cq_conv2d_f32_ref(p, x, w, with_bias ? b : NULL, got, &err), CQ_OK);
    assert_int_equal(kt_mismatch(got, want, (int64_t)ny, red), -1);
    cq_isa isas[] = KT_ISAS;
    for (int a = 0; a < CQ_CONV_ALGO_COUNT; a++) {
        cq_conv2d_plan *pl = cq_conv2d_plan_new_algo(p, w, nw, with_bias ? b : NULL,
                                                     with_bias ? (size_t)p->c_out : 0,
                                                     (cq_conv_algo)a, &err);
        if (!pl) {
            assert_int_equal(err.code, CQ_EINVAL);
            continue;
        }
        /* every ISA at 1, 2 and 3 kernel threads (on AVX-512 calq's own
         * kernels split the work: whole channel panels, row groups, rows,
         * channel blocks, pixel columns or whole groups, uneven at 3, and
         * give the bits of 1 thread; OpenBLAS elsewhere) */
        for (size_t i = 0; i < 3 * sizeof isas / sizeof isas[0]; i++) {
            cq_kern_set_isa(isas[i / 3]);
            cq_kern_set_threads(1 + (int)(i % 3));
            size_t sb = cq_conv2d_scratch_bytes(pl);
            void *scratch = sb ? malloc(sb) : NULL;
            memset(yout, 0xff, ny * 4); /* NaN: every output must be written */
            if (p->y_blocked)
                memset(yout + ny, 0x5a, ny * 4);
            assert_int_equal(cq_conv2d_run(pl, xin, nx, yout, ny, scratch, sb, &err), CQ_OK);
            for (size_t g = 0; p->y_blocked && g < ny * 4; g++)
                if (((const unsigned char *)(yout + ny))[g] != 0x5a)
                    fail_msg("conv %s/%s c%lld->%lld %lldx%lld: wrote past y (guard byte %zu)",
                             cq_conv_algo_name((cq_conv_algo)a), cq_isa_name(isas[i / 3]),
                             (long long)p->c_in, (long long)p->c_out, (long long)p->h,
                             (long long)p->w, g);
            if (p->y_blocked)
                cq_from_blocked_f32(yout, p->n, p->c_out, oh * ow, got);
            int64_t bad = kt_mismatch(got, want, (int64_t)ny, red);
            if (bad >= 0)
                fail_msg("conv %s/%s layouts %d%d t%d n%lld c%lld->%lld g%lld %lldx%lld k%lldx%lld "
                         "s%lld,%lld d%lld,%lld p%lld,%lld,%lld,%lld act%d: y[%lld] = %g, want %g",
                         cq_conv_algo_name((cq_conv_algo)a), cq_isa_name(isas[i / 3]),
                         p->x_blocked, p->y_blocked,
                         cq_kern_threads(), (long long)p->n, (long long)p->c_in,
                         (long long)p->c_out, (long long)p->groups, (long long)p->h, (long long)p->w,
                         (long long)p->kh, (long long)p->kw, (long long)p->stride_h,
                         (long long)p->stride_w, (long long)p->dil_h, (long long)p->dil_w,
                         (long long)p->pad_top, (long long)p->pad_left, (long long)p->pad_bottom,
                         (long long)p->pad_right, (int)p->act.kind, (long long)bad,
                         (double)got[bad], (double)want[bad]);
            int same_bits = isas[i / 3] == CQ_ISA_AVX512 && i % 3 != 0;
            if (i % 3 == 0)
                memcpy(one, got, ny * 4);
            else if (same_bits && memcmp(one, got, ny * 4))
                fail_msg("conv %s t%d g%lld c%lld->%lld %lldx%lld k%lldx%lld: not the bits of 1 "
                         "thread", cq_conv_algo_name((cq_conv_algo)a), cq_kern_threads(),
                         (long long)p->groups, (long long)p->c_in, (long long)p->c_out,
                         (long long)p->h, (long long)p->w, (long long)p->kh, (long long)p->kw);
            /* the fused residual (Conv -> Add -> act) */
            memset(yout, 0xff, ny * 4);
            assert_int_equal(cq_conv2d_run_res(pl, xin, nx, rin, yout, ny, scratch, sb, &err),
                             CQ_OK);
            if (p->y_blocked)
                cq_from_blocked_f32(yout, p->n, p->c_out, oh * ow, got);
            bad = kt_mismatch(got, want_res, (int64_t)ny, red + 1);
            if (bad >= 0)
                fail_msg("conv+residual %s/%s layouts %d%d%d n%lld c%lld->%lld %lldx%lld "
                         "k%lldx%lld s%lld,%lld act%d: y[%lld] = %g, want %g",
                         cq_conv_algo_name((cq_conv_algo)a), cq_isa_name(isas[i / 3]),
                         p->x_blocked, p->y_blocked, p->res_blocked,
                         (long long)p->n, (long long)p->c_in, (long long)p->c_out,
                         (long long)p->h, (long long)p->w, (long long)p->kh, (long long)p->kw,
                         (long long)p->stride_h, (long long)p->stride_w, (int)p->act.kind,
                         (long long)bad, (double)got[bad], (double)want_res[bad]);
            if (i % 3 == 0)
                memcpy(one_res, got, ny * 4);
            else if (same_bits && memcmp(one_res, got, ny * 4))
                fail_msg("conv+residual %s t%d g%lld: not the bits of 1 thread",
                         cq_conv_algo_name((cq_conv_algo)a), cq_kern_threads(),
                         (long long)p->groups);
            free(scratch);
        }
        cq_conv2d_plan_free(pl);
    }
    cq_kern_set_isa(CQ_ISA_COUNT);
    cq_kern_set_threads(1);
    if (xin != x)
        free(xin);
    if (rin != res)
        free(rin);
    free(ybuf);
    free(x);
    free(w);
    free(b);
    free(want);
    free(got);
    free(res);
    free(want_res);
    free(one);
    free(one_res);
}

#endif
