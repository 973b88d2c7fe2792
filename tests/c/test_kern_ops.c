/* test_kern_ops.c - ConvTranspose2d, Gemm, MatMul, pooling and transpose
 * against plain loops written here, on random shapes (fixed seeds), for every
 * ISA. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include <cblas.h>

#include "kern_testutil.h"

/* ---- ConvTranspose2d ------------------------------------------------------ */

static void test_kern_convt2d_random(void **state)
{
    (void)state;
    kt_rng r = {777};
    cq_err err;
    int done = 0;
    while (done < 60) {
        cq_convt2d_params p = cq_convt2d_params_default();
        p.groups = kt_int(&r, 1, 3);
        p.n = kt_int(&r, 1, 2);
        p.c_in = p.groups * kt_int(&r, 1, 3);
        p.c_out = p.groups * kt_int(&r, 1, 3);
        p.h = kt_int(&r, 1, 7);
        p.w = kt_int(&r, 1, 9);
        p.kh = kt_int(&r, 1, 4);
        p.kw = kt_int(&r, 1, 4);
        p.stride_h = kt_int(&r, 1, 3);
        p.stride_w = kt_int(&r, 1, 3);
        p.dil_h = kt_int(&r, 1, 2);
        p.dil_w = kt_int(&r, 1, 2);
        p.pad_top = kt_int(&r, 0, 2);
        p.pad_left = kt_int(&r, 0, 2);
        p.pad_bottom = kt_int(&r, 0, 2);
        p.pad_right = kt_int(&r, 0, 2);
        p.out_pad_h = kt_int(&r, 0, 1);
        p.out_pad_w = kt_int(&r, 0, 1);
        p.act = random_act(&r);
        if (done % 5 == 4) { /* large enough to be shared out over the kernel threads */
            p.groups = kt_int(&r, 1, 2);
            p.c_in = p.groups * kt_int(&r, 16, 40);
            p.c_out = p.groups * kt_int(&r, 17, 41);
            p.h = kt_int(&r, 10, 16);
            p.w = kt_int(&r, 10, 16);
        }
        if (done % 4 == 3) { /* stride = kernel, no pads: one tap per output (col2im_tiles) */
            p.stride_h = p.kh;
            p.stride_w = p.kw;
            p.dil_h = p.dil_w = 1;
            p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 0;
            p.out_pad_h = p.out_pad_w = 0;
        }
        int64_t oh, ow;
        cq_err shape_err; /* a random shape with no output: draw again */
        if (cq_convt2d_out_shape(&p, &oh, &ow, &shape_err) != CQ_OK)
            continue;
        done++;
        int64_t cig = p.c_in / p.groups, cog = p.c_out / p.groups;
        size_t nx = (size_t)(p.n * p.c_in * p.h * p.w), ny = (size_t)(p.n * p.c_out * oh * ow);
        size_t nw = (size_t)(p.c_in * cog * p.kh * p.kw);
        float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc((size_t)p.c_out * 4);
        double *acc = calloc(ny, sizeof(double));
        float *want = malloc(ny * 4), *got = malloc(ny * 4);
        kt_fill(&r, x, (int64_t)nx);
        kt_fill(&r, w, (int64_t)nw);
        kt_fill(&r, b, p.c_out);
        int bias = (int)kt_int(&r, 0, 1);
        /* scatter form: each input cell adds w * x to the outputs it reaches */
        for (int64_t n = 0; n < p.n; n++)
            for (int64_t ci = 0; ci < p.c_in; ci++)
                for (int64_t iy = 0; iy < p.h; iy++)
                    for (int64_t ix = 0; ix < p.w; ix++)
                        for (int64_t c = 0; c < cog; c++)
                            for (int64_t ky = 0; ky < p.kh; ky++)
                                for (int64_t kx = 0; kx < p.kw; kx++) {
                                    int64_t oy = iy * p.stride_h + ky * p.dil_h - p.pad_top;
                                    int64_t ox = ix * p.stride_w + kx * p.dil_w - p.pad_left;
                                    if (oy < 0 || ox < 0 || oy >= oh || ox >= ow)
                                        continue;
                                    int64_t co = ci / cig * cog + c;
                                    acc[((n * p.c_out + co) * oh + oy) * ow + ox] +=
                                        (double)x[((n * p.c_in + ci) * p.h + iy) * p.w + ix] *
                                        w[((ci * cog + c) * p.kh + ky) * p.kw + kx];
                                }
        for (size_t i = 0; i < ny; i++)
            want[i] = act_naive(p.act, acc[i] + (bias ? b[(i / (size_t)(oh * ow)) %
                                                        (size_t)p.c_out] : 0.0));
        cq_convt2d_plan *pl = cq_convt2d_plan_new(&p, w, nw, bias ? b : NULL,
                                                  bias ? (size_t)p.c_out : 0, &err);
        assert_non_null(pl);
        float *one = malloc(ny * 4);
        cq_isa isas[] = KT_ISAS;
        for (size_t i = 0; i < 9; i++) { /* every ISA, 1, 2 and 3 kernel threads */
            cq_kern_set_isa(isas[i / 3]);
            cq_kern_set_threads(1 + (int)(i % 3));
            size_t sb = cq_convt2d_scratch_bytes(pl); /* per thread count */
            void *scratch = malloc(sb);
            memset(got, 0xff, ny * 4);
            assert_int_equal(cq_convt2d_run(pl, x, nx, got, ny, scratch, sb, &err), CQ_OK);
            free(scratch);
            int64_t bad = kt_mismatch(got, want, (int64_t)ny, cig * p.kh * p.kw);
            if (bad >= 0)
                fail_msg("convT case %d isa %s: y[%lld] = %g, want %g", done,
                         cq_isa_name(isas[i / 3]), (long long)bad, (double)got[bad],
                         (double)want[bad]);
            /* AVX-512 shares out blocks of channels: the bits of 1 thread */
            if (i % 3 == 0)
                memcpy(one, got, ny * 4);
            else if (isas[i / 3] == CQ_ISA_AVX512 && memcmp(one, got, ny * 4))
                fail_msg("convT case %d: %d threads differ from 1", done, cq_kern_threads());
        }
        cq_kern_set_threads(1);
        cq_kern_set_isa(CQ_ISA_COUNT);
        free(one);
        cq_convt2d_plan_free(pl);
        free(x);
        free(w);
        free(b);
        free(acc);
        free(want);
        free(got);
    }
    cq_convt2d_params p = cq_convt2d_params_default();
    p.n = p.c_in = p.c_out = p.h = p.w = p.kh = p.kw = 1;
    p.stride_h = 2;
    p.out_pad_h = 2;
    assert_null(cq_convt2d_plan_new(&p, NULL, 0, NULL, 0, &err));
    assert_non_null(strstr(err.msg, "output padding 2 must be smaller"));
    cq_convt2d_plan_free(NULL);
}

/* ---- Gemm / MatMul -------------------------------------------------------- */

static void test_kern_gemm_random(void **state)
{
    (void)state;
    kt_rng r = {99};
    cq_err err;
    for (int it = 0; it < 200; it++) {
        cq_gemm_params p;
        p.m = kt_int(&r, 1, 4) == 1 ? 1 : kt_int(&r, 1, 37);
        p.n = kt_int(&r, 1, 4) == 1 ? 1 : kt_int(&r, 1, 37);
        p.k = kt_int(&r, 1, 45);
        p.trans_a = (int)kt_int(&r, 0, 1);
        p.trans_b = (int)kt_int(&r, 0, 1);
        p.alpha = kt_f(&r) * 2;
        p.beta = kt_int(&r, 0, 3) == 0 ? 0.0f : kt_f(&r) * 2;
        int cs = (int)kt_int(&r, 0, 4); /* none, (1,1), (1,n), (m,1), (m,n) */
        p.c_rows = cs == 3 || cs == 4 ? p.m : 1;
        p.c_cols = cs == 2 || cs == 4 ? p.n : 1;
        float *a = malloc((size_t)(p.m * p.k) * 4), *b = malloc((size_t)(p.k * p.n) * 4);
        float *c = malloc((size_t)(p.c_rows * p.c_cols) * 4);
        float *want = malloc((size_t)(p.m * p.n) * 4), *got = malloc((size_t)(p.m * p.n) * 4);
        kt_fill(&r, a, p.m * p.k);
        kt_fill(&r, b, p.k * p.n);
        kt_fill(&r, c, p.c_rows * p.c_cols);
        for (int64_t i = 0; i < p.m; i++)
            for (int64_t j = 0; j < p.n; j++) {
                double s = 0;
                for (int64_t t = 0; t < p.k; t++)
                    s += (double)(p.trans_a ? a[t * p.m + i] : a[i * p.k + t]) *
                         (p.trans_b ? b[j * p.k + t] : b[t * p.n + j]);
                s *= p.alpha;
                if (cs)
                    s += (double)p.beta *
                         c[(p.c_rows == 1 ? 0 : i) * p.c_cols + (p.c_cols == 1 ? 0 : j)];
                want[i * p.n + j] = (float)s;
            }
        const float *cp = cs ? c : NULL;
        assert_int_equal(cq_gemm_f32(&p, a, b, cp, got, &err), CQ_OK);
        if (kt_mismatch(got, want, p.m * p.n, p.k) >= 0)
            fail_msg("gemm it %d m%lld n%lld k%lld ta%d tb%d c%d", it, (long long)p.m,
                     (long long)p.n, (long long)p.k, p.trans_a, p.trans_b, cs);
        assert_int_equal(cq_gemm_f32_ref(&p, a, b, cp, got, &err), CQ_OK);
        assert_int_equal(kt_mismatch(got, want, p.m * p.n, p.k), -1);
        free(a);
        free(b);
        free(c);
        free(want);
        free(got);
    }
    cq_gemm_params p = {2, 3, 4, 0, 0, 1.0f, 1.0f, 3, 3};
    float z[16] = {0};
    assert_int_equal(cq_gemm_f32(&p, z, z, z, z, &err), CQ_EINVAL);
    assert_non_null(strstr(err.msg, "C is (3, 3), does not broadcast to (2, 3)"));
}

static void test_kern_matmul_broadcast(void **state)
{
    (void)state;
    kt_rng r = {5};
    cq_err err;
    static const struct {
        int an, bn;
        int64_t as[4], bs[4];
    } cases[] = {
        {2, 2, {3, 4}, {4, 5}},
        {3, 2, {3, 5, 4}, {4, 6}},           /* shared B: one tall GEMM */
        {2, 3, {5, 4}, {3, 4, 6}},           /* shared A */
        {4, 3, {2, 1, 3, 4}, {5, 4, 2}},     /* batch broadcast both ways */
        {1, 2, {4}, {4, 7}},                 /* vector @ matrix */
        {3, 1, {2, 3, 4}, {4}},              /* matrix @ vector */
        {1, 1, {9}, {9}},                    /* dot */
        {3, 3, {2, 1, 4}, {2, 4, 1}},        /* m = n = 1 */
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        cq_matmul_dims d;
        assert_int_equal(cq_matmul_dims_init(&d, cases[ci].an, cases[ci].as, cases[ci].bn,
                                             cases[ci].bs, &err), CQ_OK);
        int64_t na = 1, nb = 1;
        for (int i = 0; i < cases[ci].an; i++)
            na *= cases[ci].as[i];
        for (int i = 0; i < cases[ci].bn; i++)
            nb *= cases[ci].bs[i];
        size_t ny = (size_t)(d.batch * d.m * d.n);
        int64_t yc = 1;
        for (int i = 0; i < d.y_ndim; i++)
            yc *= d.y_shape[i];
        assert_int_equal(yc, (int64_t)ny);
        float *a = malloc((size_t)na * 4), *b = malloc((size_t)nb * 4);
        float *want = malloc(ny * 4), *got = malloc(ny * 4);
        kt_fill(&r, a, na);
        kt_fill(&r, b, nb);
        /* naive: index each batch dim of y back into A and B by hand */
        int nbd = d.nb;
        for (int64_t bi = 0; bi < d.batch; bi++) {
            int64_t rem = bi, aoff = 0, boff = 0, amul = 1, bmul = 1;
            for (int j = nbd - 1; j >= 0; j--) {
                int64_t c = rem % d.bshape[j];
                rem /= d.bshape[j];
                int ja = j - (nbd - (cases[ci].an - 2)), jb = j - (nbd - (cases[ci].bn - 2));
                if (cases[ci].an > 2 && ja >= 0) {
                    aoff += (cases[ci].as[ja] == 1 ? 0 : c) * amul;
                    amul *= cases[ci].as[ja];
                }
                if (cases[ci].bn > 2 && jb >= 0) {
                    boff += (cases[ci].bs[jb] == 1 ? 0 : c) * bmul;
                    bmul *= cases[ci].bs[jb];
                }
            }
            for (int64_t i = 0; i < d.m; i++)
                for (int64_t j = 0; j < d.n; j++) {
                    double s = 0;
                    for (int64_t t = 0; t < d.k; t++)
                        s += (double)a[aoff * d.m * d.k + i * d.k + t] *
                             b[boff * d.k * d.n + t * d.n + j];
                    want[(bi * d.m + i) * d.n + j] = (float)s;
                }
        }
        assert_int_equal(cq_matmul_f32(cases[ci].an, cases[ci].as, a, cases[ci].bn,
                                       cases[ci].bs, b, got, ny, &err), CQ_OK);
        if (kt_mismatch(got, want, (int64_t)ny, d.k) >= 0)
            fail_msg("matmul case %zu", ci);
        free(a);
        free(b);
        free(want);
        free(got);
    }
    cq_matmul_dims d;
    int64_t as[3] = {2, 3, 4}, bs[3] = {3, 4, 5};
    assert_int_equal(cq_matmul_dims_init(&d, 3, as, 3, bs, &err), CQ_EINVAL);
    assert_non_null(strstr(err.msg, "batch dimension 0 is 2 in A and 3 in B"));
    bs[1] = 5;
    assert_int_equal(cq_matmul_dims_init(&d, 3, as, 2, bs + 1, &err), CQ_EINVAL);
    assert_non_null(strstr(err.msg, "A has 4 columns, B 5 rows"));
}

/* ---- pooling -------------------------------------------------------------- */

static void pool_naive(const cq_pool2d_params *p, int64_t oh, int64_t ow, const float *x,
                       float *y)
{
    for (int64_t nc = 0; nc < p->n * p->c; nc++)
        for (int64_t oy = 0; oy < oh; oy++)
            for (int64_t ox = 0; ox < ow; ox++) {
                double s = 0, m = -INFINITY;
                int64_t cnt = 0, cnt_pad = 0;
                for (int64_t ky = 0; ky < p->kh; ky++)
                    for (int64_t kx = 0; kx < p->kw; kx++) {
                        int64_t iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;
                        int64_t ix = ox * p->stride_w - p->pad_left + kx * p->dil_w;
                        if (iy < p->h + p->pad_bottom && ix < p->w + p->pad_right)
                            cnt_pad++;
                        if (iy < 0 || ix < 0 || iy >= p->h || ix >= p->w)
                            continue;
                        double v = x[(nc * p->h + iy) * p->w + ix];
                        s += v;
                        m = v > m ? v : m;
                        cnt++;
                    }
                float *o = &y[(nc * oh + oy) * ow + ox];
                if (p->kind == CQ_POOL_MAX)
                    *o = (float)m;
                else
                    *o = (float)(s / (double)(p->count_include_pad ? cnt_pad : cnt));
            }
}

static void test_kern_pool2d_random(void **state)
{
    (void)state;
    kt_rng r = {31337};
    cq_err err;
    int done = 0;
    while (done < 300) {
        cq_pool2d_params p = cq_pool2d_params_default();
        p.kind = (cq_pool_kind)kt_int(&r, 0, 1);
        p.n = kt_int(&r, 1, 2);
        p.c = kt_int(&r, 1, 3);
        p.h = kt_int(&r, 1, 15);
        p.w = kt_int(&r, 1, 3) == 1 ? kt_int(&r, 30, 90) : kt_int(&r, 1, 23);
        p.kh = kt_int(&r, 1, 4);
        p.kw = kt_int(&r, 1, 4);
        p.stride_h = kt_int(&r, 1, 3);
        p.stride_w = kt_int(&r, 1, 3);
        p.dil_h = kt_int(&r, 0, 3) == 0 ? 2 : 1;
        p.dil_w = p.dil_h;
        /* ONNX: pads smaller than the window */
        p.pad_top = kt_int(&r, 0, p.kh - 1);
        p.pad_bottom = kt_int(&r, 0, p.kh - 1);
        p.pad_left = kt_int(&r, 0, p.kw - 1);
        p.pad_right = kt_int(&r, 0, p.kw - 1);
        p.ceil_mode = (int)kt_int(&r, 0, 1);
        p.count_include_pad = (int)kt_int(&r, 0, 1);
        int64_t oh, ow;
        cq_err shape_err; /* a random shape with no output: draw again */
        if (cq_pool2d_out_shape(&p, &oh, &ow, &shape_err) != CQ_OK)
            continue;
        /* independent output size: floor / ceil, then drop a window starting in
         * the bottom / right pad */
        int64_t sh = p.dil_h * (p.kh - 1) + 1, sw = p.dil_w * (p.kw - 1) + 1;
        double fh = (double)(p.h + p.pad_top + p.pad_bottom - sh) / (double)p.stride_h;
        double fw = (double)(p.w + p.pad_left + p.pad_right - sw) / (double)p.stride_w;
        int64_t eh = (int64_t)(p.ceil_mode ? ceil(fh) : floor(fh)) + 1;
        int64_t ew = (int64_t)(p.ceil_mode ? ceil(fw) : floor(fw)) + 1;
        if ((eh - 1) * p.stride_h >= p.h + p.pad_top)
            eh--;
        if ((ew - 1) * p.stride_w >= p.w + p.pad_left)
            ew--;
        assert_int_equal(oh, eh);
        assert_int_equal(ow, ew);
        done++;
        size_t nx = (size_t)(p.n * p.c * p.h * p.w), ny = (size_t)(p.n * p.c * oh * ow);
        float *x = malloc(nx * 4), *want = malloc(ny * 4), *got = malloc(ny * 4);
        kt_fill(&r, x, (int64_t)nx);
        pool_naive(&p, oh, ow, x, want);
        cq_isa isas[] = KT_ISAS;
        for (int k = 0; k < 3; k++) {
            cq_kern_set_isa(isas[k]);
            memset(got, 0xff, ny * 4);
            assert_int_equal(cq_pool2d_f32(&p, x, nx, got, ny, &err), CQ_OK);
            if (kt_mismatch(got, want, (int64_t)ny, p.kh * p.kw) >= 0)
                fail_msg("pool case %d isa %s kind %d %lldx%lld k%lldx%lld s%lld,%lld d%lld "
                         "p%lld,%lld,%lld,%lld ceil%d incl%d", done, cq_isa_name(isas[k]),
                         (int)p.kind, (long long)p.h, (long long)p.w,
                         (long long)p.kh, (long long)p.kw, (long long)p.stride_h,
                         (long long)p.stride_w, (long long)p.dil_h, (long long)p.pad_top,
                         (long long)p.pad_left, (long long)p.pad_bottom, (long long)p.pad_right,
                         p.ceil_mode, p.count_include_pad);
        }
        cq_kern_set_isa(CQ_ISA_COUNT);
        assert_int_equal(cq_pool2d_f32_ref(&p, x, nx, got, ny, &err), CQ_OK);
        assert_int_equal(kt_mismatch(got, want, (int64_t)ny, p.kh * p.kw), -1);
        free(x);
        free(want);
        free(got);
    }
}

/* Max pooling on NCHW16c (cq_maxpool2d_blocked_f32): random geometries
 * (pads, strides, dilations, ceil mode) and 16 or 32 channels, the same
 * values as the reference on NCHW, NaN included; a kind or channel count it
 * does not take is EINVAL. */
static void test_kern_pool2d_max_blocked(void **state)
{
    (void)state;
    kt_rng r = {4711};
    cq_err err;
    int done = 0;
    cq_isa was = cq_kern_isa();
    while (done < 240) {
        /* the first half on the scalar loop, the second on the ISA in use
         * (AVX-512: the 2x2/2 kernel and the window loop) */
        cq_kern_set_isa(done < 120 ? CQ_ISA_SCALAR : was);
        cq_pool2d_params p = cq_pool2d_params_default();
        p.kind = CQ_POOL_MAX;
        p.n = kt_int(&r, 1, 2);
        p.c = 16 * kt_int(&r, 1, 2);
        p.h = kt_int(&r, 1, 15);
        p.w = kt_int(&r, 1, 23);
        p.kh = kt_int(&r, 1, 4);
        p.kw = kt_int(&r, 1, 4);
        p.stride_h = kt_int(&r, 1, 3);
        p.stride_w = kt_int(&r, 1, 3);
        p.dil_h = p.dil_w = kt_int(&r, 0, 3) == 0 ? 2 : 1;
        p.pad_top = kt_int(&r, 0, p.kh - 1);
        p.pad_bottom = kt_int(&r, 0, p.kh - 1);
        p.pad_left = kt_int(&r, 0, p.kw - 1);
        p.pad_right = kt_int(&r, 0, p.kw - 1);
        p.ceil_mode = (int)kt_int(&r, 0, 1);
        if (done % 3 == 0) { /* U-Net's 2x2/2, odd sizes, pads and ceil mode included */
            p.kh = p.kw = p.stride_h = p.stride_w = 2;
            p.dil_h = p.dil_w = 1;
            p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = 0;
            if (done % 2)
                p.pad_left = p.pad_top = p.pad_right = 1;
        }
        int64_t oh, ow;
        cq_err shape_err;
        if (cq_pool2d_out_shape(&p, &oh, &ow, &shape_err) != CQ_OK)
            continue;
        done++;
        size_t nx = (size_t)(p.n * p.c * p.h * p.w), ny = (size_t)(p.n * p.c * oh * ow);
        float *x = malloc(nx * 4), *xb = malloc(nx * 4), *want = malloc(ny * 4);
        float *gotb = malloc(ny * 4), *got = malloc(ny * 4);
        kt_fill(&r, x, (int64_t)nx);
        if (done % 10 == 0)
            x[nx / 2] = NAN;
        assert_int_equal(cq_pool2d_f32_ref(&p, x, nx, want, ny, &err), CQ_OK);
        cq_to_blocked_f32(x, p.n, p.c, p.h * p.w, xb);
        memset(gotb, 0xff, ny * 4);
        assert_int_equal(cq_maxpool2d_blocked_f32(&p, xb, nx, gotb, ny, &err), CQ_OK);
        cq_from_blocked_f32(gotb, p.n, p.c, oh * ow, got);
        for (size_t i = 0; i < ny; i++)
            if (!(got[i] == want[i] || (isnan(got[i]) && isnan(want[i]))))
                fail_msg("blocked max pool case %d: element %zu %g, want %g", done, i,
                         (double)got[i], (double)want[i]);
        free(x);
        free(xb);
        free(want);
        free(gotb);
        free(got);
    }
    cq_kern_set_isa(was);
    cq_pool2d_params q = cq_pool2d_params_default();
    q.n = 1;
    q.c = 8;
    q.h = q.w = 4;
    q.kh = q.kw = 2;
    q.kind = CQ_POOL_MAX;
    float x[128] = {0}, y[32];
    assert_int_equal(cq_maxpool2d_blocked_f32(&q, x, 128, y, 32, &err), CQ_EINVAL);
    q.c = 16;
    q.h = q.w = 2;
    q.kind = CQ_POOL_AVG;
    assert_int_equal(cq_maxpool2d_blocked_f32(&q, x, 64, y, 16, &err), CQ_EINVAL);
}

/* Nearest upsampling of NCHW16c by whole factors (cq_upsample_blocked_f32):
 * odd sizes, factors 1 to 3 on each axis, on the scalar loop and the ISA in
 * use, each output pixel the input pixel (a / fh, b / fw), every float of y
 * written. */
static void test_kern_upsample_blocked(void **state)
{
    (void)state;
    kt_rng r = {977};
    cq_isa was = cq_kern_isa();
    for (int t = 0; t < 48; t++) {
        cq_kern_set_isa(t % 2 ? was : CQ_ISA_SCALAR);
        int64_t planes = kt_int(&r, 1, 3), h = kt_int(&r, 1, 9), w = kt_int(&r, 1, 13);
        int64_t fh = t < 8 ? 2 : kt_int(&r, 1, 3), fw = t < 8 ? 2 : kt_int(&r, 1, 3);
        int64_t oh = h * fh, ow = w * fw;
        size_t nx = (size_t)(planes * h * w * 16), ny = (size_t)(planes * oh * ow * 16);
        float *x = malloc(nx * 4), *y = malloc(ny * 4);
        kt_fill(&r, x, (int64_t)nx);
        memset(y, 0xff, ny * 4);
        cq_upsample_blocked_f32(planes, h, w, fh, fw, x, y);
        for (int64_t i = 0; i < planes; i++)
            for (int64_t a = 0; a < oh; a++)
                for (int64_t b = 0; b < ow; b++)
                    for (int l = 0; l < 16; l++) {
                        float got = y[((i * oh + a) * ow + b) * 16 + l];
                        float want = x[((i * h + a / fh) * w + b / fw) * 16 + l];
                        if (memcmp(&got, &want, 4))
                            fail_msg("upsample case %d (%lld x %lld by %lld x %lld): plane "
                                     "%lld (%lld, %lld) lane %d %g, want %g", t, (long long)h,
                                     (long long)w, (long long)fh, (long long)fw, (long long)i,
                                     (long long)a, (long long)b, l, (double)got, (double)want);
                    }
        free(x);
        free(y);
    }
    cq_kern_set_isa(was);
}

/* Max pooling over whole rows (the AVX-512 row-buffer path): ResNet's
 * 3x3/2 p1 and BlazeFace's 2x2/2 maps, stride 1, kw 16, asymmetric pads,
 * ceil mode, and a row past the 4096-float buffer (the generic path). 3 wide,
 * stride 2, left pad 1 (the register path): widths on both sides of its
 * 32-column blocks, right pads 0 to 2, ceil mode, vertical stride 1. */
static void test_kern_pool2d_max_rows(void **state)
{
    (void)state;
    kt_rng r = {99};
    cq_err err;
    static const int64_t cfg[][10] = {
        /* c, h, w, kh, kw, stride_h, stride_w, pad top/left, pad bottom/right, ceil */
        {3, 112, 112, 3, 3, 2, 2, 1, 1, 0}, {2, 64, 64, 2, 2, 2, 2, 0, 0, 0},
        {2, 9, 61, 3, 5, 1, 1, 2, 0, 0},    {1, 7, 40, 4, 16, 3, 2, 0, 3, 1},
        {2, 5, 33, 3, 3, 2, 2, 0, 2, 1},    {1, 3, 5000, 3, 3, 2, 2, 1, 1, 0},
        {2, 7, 31, 3, 3, 2, 2, 1, 1, 1},    {1, 6, 33, 3, 3, 2, 2, 1, 0, 0},
        {2, 5, 64, 3, 3, 2, 2, 1, 2, 1},    {1, 9, 65, 3, 3, 2, 2, 1, 1, 0},
        {1, 4, 5, 3, 3, 2, 2, 1, 1, 1},     {2, 11, 47, 3, 3, 2, 2, 1, 1, 0},
        {1, 3, 16, 3, 3, 2, 2, 1, 0, 1},    {1, 8, 50, 3, 3, 1, 2, 1, 1, 0},
    };
    cq_isa isas[] = KT_ISAS;
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
        cq_pool2d_params p = cq_pool2d_params_default();
        p.kind = CQ_POOL_MAX;
        p.n = 1 + (int64_t)(i % 2);
        p.c = cfg[i][0];
        p.h = cfg[i][1];
        p.w = cfg[i][2];
        p.kh = cfg[i][3];
        p.kw = cfg[i][4];
        p.stride_h = cfg[i][5];
        p.stride_w = cfg[i][6];
        p.pad_top = p.pad_left = cfg[i][7];
        p.pad_bottom = p.pad_right = cfg[i][8];
        p.ceil_mode = (int)cfg[i][9];
        int64_t oh, ow;
        assert_int_equal(cq_pool2d_out_shape(&p, &oh, &ow, &err), CQ_OK);
        size_t nx = (size_t)(p.n * p.c * p.h * p.w), ny = (size_t)(p.n * p.c * oh * ow);
        float *x = malloc(nx * 4), *want = malloc(ny * 4), *got = malloc(ny * 4);
        kt_fill(&r, x, (int64_t)nx);
        pool_naive(&p, oh, ow, x, want);
        for (int k = 0; k < 3; k++) {
            cq_kern_set_isa(isas[k]);
            memset(got, 0xff, ny * 4);
            assert_int_equal(cq_pool2d_f32(&p, x, nx, got, ny, &err), CQ_OK);
            int64_t bad = kt_mismatch(got, want, (int64_t)ny, p.kh * p.kw);
            if (bad >= 0)
                fail_msg("maxpool case %zu isa %s: y[%lld] = %g, want %g", i,
                         cq_isa_name(isas[k]), (long long)bad, (double)got[bad],
                         (double)want[bad]);
        }
        cq_kern_set_isa(CQ_ISA_COUNT);
        free(x);
        free(want);
        free(got);
    }
}

static void test_kern_pool2d_global(void **state)
{
    (void)state;
    kt_rng r = {8};
    cq_isa isas[] = KT_ISAS;
    int64_t hw = 7 * 7 + 2, nc = 13;
    float x[13 * 51], want[13], wmax[13], got[13];
    kt_fill(&r, x, nc * hw);
    for (int64_t i = 0; i < nc; i++) {
        double s = 0;
        float m = -INFINITY;
        for (int64_t j = 0; j < hw; j++) {
            s += x[i * hw + j];
            m = x[i * hw + j] > m ? x[i * hw + j] : m;
        }
        want[i] = (float)(s / (double)hw);
        wmax[i] = m;
    }
    for (int k = 0; k < 3; k++) {
        cq_kern_set_isa(isas[k]);
        cq_global_avgpool_f32(nc, hw, x, got);
        assert_int_equal(kt_mismatch(got, want, nc, hw), -1);
        cq_global_maxpool_f32(nc, hw, x, got);
        assert_memory_equal(got, wmax, sizeof wmax);
    }
    cq_kern_set_isa(CQ_ISA_COUNT);
}

/* Pools large enough to be shared out over the kernel threads (planes, or
 * channels of the global pools): at 2 and 3 threads the bits of 1 thread
 * and the naive loop's values, on every ISA. */
static void test_kern_pool2d_threads(void **state)
{
    (void)state;
    kt_rng r = {4242};
    cq_err err;
    cq_isa isas[] = KT_ISAS;
    static const int64_t cfg[][6] = {/* kind, c, h, w, k, stride */
                                     {CQ_POOL_MAX, 37, 57, 57, 3, 2},
                                     {CQ_POOL_MAX, 5, 224, 224, 2, 2},
                                     {CQ_POOL_AVG, 19, 40, 41, 3, 1}};
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
        cq_pool2d_params p = cq_pool2d_params_default();
        p.kind = (cq_pool_kind)cfg[i][0];
        p.n = 1;
        p.c = cfg[i][1];
        p.h = cfg[i][2];
        p.w = cfg[i][3];
        p.kh = p.kw = cfg[i][4];
        p.stride_h = p.stride_w = cfg[i][5];
        p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = cfg[i][4] == 3;
        int64_t oh, ow;
        assert_int_equal(cq_pool2d_out_shape(&p, &oh, &ow, &err), CQ_OK);
        size_t nx = (size_t)(p.c * p.h * p.w), ny = (size_t)(p.c * oh * ow);
        float *x = malloc(nx * 4), *want = malloc(ny * 4), *one = malloc(ny * 4);
        float *got = malloc(ny * 4);
        kt_fill(&r, x, (int64_t)nx);
        pool_naive(&p, oh, ow, x, want);
        for (int k = 0; k < 3; k++)
            for (int th = 1; th <= 3; th++) {
                cq_kern_set_isa(isas[k]);
                cq_kern_set_threads(th);
                float *y = th == 1 ? one : got;
                memset(y, 0xff, ny * 4);
                assert_int_equal(cq_pool2d_f32(&p, x, nx, y, ny, &err), CQ_OK);
                if (kt_mismatch(y, want, (int64_t)ny, p.kh * p.kw) >= 0 ||
                    (th > 1 && memcmp(y, one, ny * 4)))
                    fail_msg("pool case %zu isa %s threads %d", i, cq_isa_name(isas[k]), th);
            }
        free(x);
        free(want);
        free(one);
        free(got);
    }
    /* the global pools, NCHW and NCHW16c: 1 thread's bits at 2 and 3 */
    int64_t nc = 960, hw = 49;
    float *x = malloc((size_t)(nc * hw) * 4), *xb = malloc((size_t)(nc * hw) * 4);
    float one[3][960], got[960];
    kt_fill(&r, x, nc * hw);
    cq_to_blocked_f32(x, 1, nc, hw, xb);
    for (int k = 0; k < 3; k++)
        for (int th = 1; th <= 3; th++) {
            cq_kern_set_isa(isas[k]);
            cq_kern_set_threads(th);
            for (int f = 0; f < 3; f++) {
                float *y = th == 1 ? one[f] : got;
                if (f == 0)
                    cq_global_avgpool_f32(nc, hw, x, y);
                else if (f == 1)
                    cq_global_avgpool_blocked_f32(1, nc, hw, xb, y);
                else
                    cq_global_maxpool_f32(nc, hw, x, y);
                if (th > 1 && memcmp(y, one[f], sizeof got))
                    fail_msg("global pool %d isa %s threads %d", f, cq_isa_name(isas[k]), th);
            }
            assert_int_equal(kt_mismatch(one[1], one[0], nc, hw), -1);
        }
    cq_kern_set_threads(1);
    cq_kern_set_isa(CQ_ISA_COUNT);
    free(x);
    free(xb);
}

/* cq_transpose_f32 on every ISA: few columns (the AVX-512 gathers), 8x8
 * blocks with ragged edges, short inputs. */
static void test_kern_transpose_random(void **state)
{
    (void)state;
    kt_rng r = {99};
    cq_isa isas[] = KT_ISAS;
    for (int trial = 0; trial < 60; trial++) {
        int64_t rows = kt_int(&r, 1, trial % 2 ? 300 : 40);
        int64_t cols = kt_int(&r, 1, trial % 3 ? 7 : 70);
        cols = trial % 5 == 4 ? 3 : cols; /* an RGB image's NHWC -> NCHW */
        float *x = malloc((size_t)(rows * cols) * 4), *y = malloc((size_t)(rows * cols) * 4);
        kt_fill(&r, x, rows * cols);
        for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++) {
            cq_kern_set_isa(isas[i]);
            memset(y, 0xff, (size_t)(rows * cols) * 4);
            cq_transpose_f32(x, rows, cols, y);
            for (int64_t a = 0; a < rows; a++)
                for (int64_t b = 0; b < cols; b++)
                    if (y[b * rows + a] != x[a * cols + b])
                        fail_msg("transpose %s %lldx%lld: y[%lld][%lld] wrong",
                                 cq_isa_name(isas[i]), (long long)rows, (long long)cols, (long long)b, (long long)a);
        }
        free(x);
        free(y);
    }
    cq_kern_set_isa(CQ_ISA_COUNT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kern_convt2d_random),
        cmocka_unit_test(test_kern_gemm_random),
        cmocka_unit_test(test_kern_matmul_broadcast),
        cmocka_unit_test(test_kern_pool2d_random),
        cmocka_unit_test(test_kern_pool2d_max_blocked),
        cmocka_unit_test(test_kern_upsample_blocked),
        cmocka_unit_test(test_kern_pool2d_max_rows),
        cmocka_unit_test(test_kern_pool2d_global),
        cmocka_unit_test(test_kern_pool2d_threads),
        cmocka_unit_test(test_kern_transpose_random),
    };
    return cmocka_run_group_tests_name("kern_ops", tests, NULL, NULL);
}
