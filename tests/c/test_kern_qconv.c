/* test_kern_qconv.c - the int8 convolution (kern_qconv.h): every path
 * (reference loops, 1x1 GEMM, implicit GEMM, depthwise AVX-512 and AVX2) on
 * every ISA and one and two threads against cq_qconv2d_ref bit for bit, on
 * random shapes (odd channels and sizes, pads, strides, dilations, groups,
 * batch 2, both layouts, u8 / s8, residual on and off) and saturation
 * extremes; the reference against cq_qlinear_conv_ref (and
 * cq_qlinear_add_ref for the residual). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "kern_testutil.h"
#include "kern/kern_qconv.h"
#include "kern/kern_qconv_internal.h"

typedef struct qcc {
    cq_qconv2d_params p;
    int8_t *w;
    int32_t *bias;
    float *mult;
    void *x, *res;
    size_t nx, ny;
} qcc;

static void *xalloc(size_t n)
{
    void *p = cq_alloc(n ? n : 1);
    assert_non_null(p);
    return p;
}

static int64_t out_size(const cq_qconv2d_params *p)
{
    cq_err err;
    int64_t oh, ow;
    cq_conv2d_params c = p->c;
    assert_int_equal(cq_conv2d_out_shape(&c, &oh, &ow, &err), CQ_OK);
    return p->c.n * p->c.c_out * oh * ow;
}

/* Fill t's arrays: x codes in [xlo, xhi] (as the dtype's bytes), w in [wlo,
 * whi]; mult brings the sums to about spread codes. */
static void qcc_fill(qcc *t, kt_rng *r, int xlo, int xhi, int wlo, int whi, double spread)
{
    cq_conv2d_params *c = &t->p.c;
    int64_t K = c->c_in / c->groups * c->kh * c->kw, nw = c->c_out * K;
    t->w = xalloc((size_t)nw);
    for (int64_t i = 0; i < nw; i++)
        t->w[i] = (int8_t)kt_int(r, wlo, whi);
    t->bias = xalloc((size_t)c->c_out * 4);
    t->mult = xalloc((size_t)c->c_out * 4);
    double s = sqrt((double)K) * 128.0 * 64.0;
    for (int64_t j = 0; j < c->c_out; j++) {
        t->bias[j] = (int32_t)kt_int(r, -5000, 5000);
        t->mult[j] = (float)((0.5 + kt_u32(r) % 1000 / 500.0) * spread / s);
    }
    t->nx = (size_t)(c->n * c->c_in * c->h * c->w);
    t->x = xalloc(t->nx);
    for (size_t i = 0; i < t->nx; i++)
        ((uint8_t *)t->x)[i] = (uint8_t)kt_int(r, xlo, xhi);
    t->ny = (size_t)out_size(&t->p);
    t->res = NULL;
    if (t->p.add.on) {
        t->res = xalloc(t->ny);
        for (size_t i = 0; i < t->ny; i++)
            ((uint8_t *)t->res)[i] = (uint8_t)kt_u32(r);
    }
}

static void qcc_free(qcc *t)
{
    cq_free(t->w);
    cq_free(t->bias);
    cq_free(t->mult);
    cq_free(t->x);
    cq_free(t->res);
}

/* Every ISA, one and two threads: the reference's bytes. */
static void qcc_check(qcc *t, const char *what, const char *want_path)
{
    cq_err err;
    uint8_t *want = xalloc(t->ny), *got = xalloc(t->ny);
    memset(want, 0xa5, t->ny);
    if (cq_qconv2d_ref(&t->p, t->w, t->bias, t->mult, t->x, want, t->res, &err) != CQ_OK)
        fail_msg("%s: reference: %s", what, err.msg);
    cq_isa isas[] = KT_ISAS;
    const cq_conv2d_params *c = &t->p.c;
    for (size_t ii = 0; ii < sizeof isas / sizeof isas[0]; ii++) {
        if (cq_kern_set_isa(isas[ii]) != isas[ii])
            continue;
        for (int th = 1; th <= 2; th++) {
            cq_kern_set_threads(th);
            cq_qconv2d_plan *pl = cq_qconv2d_plan_new(&t->p, t->w, t->bias, t->mult, &err);
            if (!pl)
                fail_msg("%s: plan: %s", what, err.msg);
            if (want_path && isas[ii] == CQ_ISA_AVX512 && cq_kern_isa_s8() == CQ_ISA_AVX512 &&
                strcmp(cq_qconv2d_path(pl), want_path) != 0)
                fail_msg("%s: path %s, expected %s", what, cq_qconv2d_path(pl), want_path);
            size_t sb = cq_qconv2d_scratch_bytes(pl);
            void *s = xalloc(sb);
            memset(got, 0x5a, t->ny);
            if (cq_qconv2d_run(pl, t->x, got, t->res, s, sb, &err) != CQ_OK)
                fail_msg("%s: run: %s", what, err.msg);
            for (size_t b = 0; b < t->ny; b++)
                if (got[b] != want[b])
                    fail_msg("%s: %s (%s), %d threads, n %lld c %lld>%lld hw %lldx%lld k "
                             "%lldx%lld s %lld p %lld d %lld g %lld, %s>%s, layouts %d%d%d, "
                             "res %d: byte %zu is %d, reference %d", what,
                             cq_isa_name(isas[ii]), cq_qconv2d_path(pl), th, (long long)c->n,
                             (long long)c->c_in, (long long)c->c_out, (long long)c->h,
                             (long long)c->w, (long long)c->kh, (long long)c->kw,
                             (long long)c->stride_h, (long long)c->pad_top,
                             (long long)c->dil_h, (long long)c->groups,
                             t->p.x_dt == CQ_S8 ? "s8" : "u8", t->p.y_dt == CQ_S8 ? "s8" : "u8",
                             t->p.x_nhwc, t->p.y_nhwc, t->p.res_nhwc, t->p.add.on, b, got[b],
                             want[b]);
            cq_free(s);
            cq_qconv2d_plan_free(pl);
        }
    }
    cq_kern_set_threads(1);
    cq_kern_set_isa(CQ_ISA_COUNT);
    cq_free(want);
    cq_free(got);
}

/* qcc_check with x copied off bytes past a 64-byte boundary. */
static void qcc_check_at(qcc *t, int off, const char *what, const char *want_path)
{
    void *x = t->x;
    uint8_t *buf = xalloc(t->nx + 64);
    memcpy(buf + off, x, t->nx);
    t->x = buf + off;
    qcc_check(t, what, want_path);
    t->x = x;
    cq_free(buf);
}

static cq_qconv2d_params shape(int64_t n, int64_t ci, int64_t h, int64_t w, int64_t co,
                               int64_t k, int64_t s, int64_t pad, int64_t g)
{
    cq_qconv2d_params p = cq_qconv2d_params_default();
    p.c.n = n;
    p.c.c_in = ci;
    p.c.h = h;
    p.c.w = w;
    p.c.c_out = co;
    p.c.kh = p.c.kw = k;
    p.c.stride_h = p.c.stride_w = s;
    p.c.pad_top = p.c.pad_left = p.c.pad_bottom = p.c.pad_right = pad;
    p.c.groups = g;
    p.x_nhwc = p.y_nhwc = p.res_nhwc = 1;
    return p;
}

/* dtypes, zero points, a random code range, maybe a residual */
static void random_q(cq_qconv2d_params *p, kt_rng *r, int with_res)
{
    p->x_dt = kt_int(r, 0, 1) ? CQ_S8 : CQ_U8;
    p->y_dt = kt_int(r, 0, 1) ? CQ_S8 : CQ_U8;
    int32_t xlo = p->x_dt == CQ_S8 ? -128 : 0, ylo = p->y_dt == CQ_S8 ? -128 : 0;
    p->x_zp = (int32_t)kt_int(r, xlo, xlo + 255);
    p->y_zp = (int32_t)kt_int(r, ylo, ylo + 255);
    p->y_min = (int32_t)kt_int(r, ylo, ylo + 100);
    p->y_max = (int32_t)kt_int(r, p->y_min, ylo + 255);
    if (kt_int(r, 0, 2) == 0) { /* the full range */
        p->y_min = ylo;
        p->y_max = ylo + 255;
    }
    p->add.on = with_res;
    if (with_res) {
        p->add.res_first = (int)kt_int(r, 0, 1);
        p->add.q_zp = (int32_t)kt_int(r, ylo, ylo + 255);
        p->add.q_min = ylo;
        p->add.q_max = ylo + 255;
        p->add.ra = (float)(0.3 + kt_u32(r) % 1000 / 1000.0);
        p->add.rb = (float)(0.3 + kt_u32(r) % 1000 / 1000.0);
        float fa = p->add.ra * (float)p->add.q_zp, fb = p->add.rb * (float)kt_int(r, ylo, ylo + 255);
        float fs = fa + fb;
        p->add.fixed = (float)p->y_zp - fs;
    }
}

static void run_one(cq_qconv2d_params p, kt_rng *r, const char *what, const char *path)
{
    qcc t;
    memset(&t, 0, sizeof t);
    t.p = p;
    int xlo = p.x_dt == CQ_S8 ? -128 : 0;
    qcc_fill(&t, r, xlo, xlo + 255, -128, 127, 200.0);
    qcc_check(&t, what, path);
    qcc_free(&t);
}

static void test_kern_qconv_paths(void **state)
{
    (void)state;
    kt_rng r = {0x9e3779b97f4a7c15ull};
    /* named shapes: which path, each with and without a residual, both layouts */
    for (int v = 0; v < 4; v++) {
        int res = v & 1, nhwc = !(v & 2);
        cq_qconv2d_params p;
        p = shape(2, 33, 5, 7, 17, 1, 1, 0, 1);
        random_q(&p, &r, res);
        p.x_nhwc = p.y_nhwc = p.res_nhwc = nhwc;
        run_one(p, &r, "1x1", "gemm1x1");
        p = shape(1, 64, 11, 9, 300, 1, 1, 0, 1); /* two column blocks, rows off the block */
        random_q(&p, &r, res);
        p.x_nhwc = nhwc;
        run_one(p, &r, "1x1 wide", "gemm1x1");
        p = shape(1, 17, 9, 8, 40, 1, 2, 0, 1);
        random_q(&p, &r, res);
        p.y_nhwc = nhwc;
        run_one(p, &r, "1x1/2", "grp");
        p = shape(2, 16, 9, 13, 64, 1, 1, 0, 1); /* small k: the direct kernel on x */
        random_q(&p, &r, res);
        p.x_nhwc = p.res_nhwc = nhwc;
        run_one(p, &r, "1x1 k16", "grp");
        p = shape(1, 32, 7, 5, 20, 1, 1, 0, 1);
        random_q(&p, &r, res);
        p.x_dt = CQ_U8;
        p.x_zp = 7;
        run_one(p, &r, "1x1 k32 u8", "grp");
        p = shape(2, 5, 13, 11, 33, 3, 1, 1, 1);
        random_q(&p, &r, res);
        p.res_nhwc = nhwc;
        run_one(p, &r, "3x3", "igemm");
        p = shape(1, 96, 10, 10, 70, 3, 2, 1, 1); /* K 864: two k blocks */
        random_q(&p, &r, res);
        p.x_nhwc = p.y_nhwc = p.res_nhwc = nhwc;
        run_one(p, &r, "3x3/2 deep", "igemm");
        p = shape(1, 3, 17, 15, 16, 7, 2, 3, 1); /* a stem */
        random_q(&p, &r, res);
        run_one(p, &r, "7x7/2 c3", "grp");
        p = shape(2, 144, 9, 10, 144, 3, 1, 1, 144);
        random_q(&p, &r, res);
        p.x_nhwc = p.y_nhwc = p.res_nhwc = nhwc;
        run_one(p, &r, "dw 144", "dw");
        p = shape(1, 144, 11, 12, 144, 3, 2, 1, 144);
        random_q(&p, &r, res);
        run_one(p, &r, "dw 144/2", "dw");
        p = shape(1, 32, 8, 9, 32, 3, 1, 1, 32);
        random_q(&p, &r, res);
        p.y_nhwc = nhwc;
        run_one(p, &r, "dw 32", "dw");
        p = shape(1, 17, 12, 13, 17, 5, 2, 2, 17); /* two quads of rows */
        random_q(&p, &r, res);
        run_one(p, &r, "dw 5x5/2", "dw");
        p = shape(1, 12, 6, 6, 24, 3, 1, 1, 4); /* grouped */
        random_q(&p, &r, res);
        run_one(p, &r, "groups 4", "grp");
        p = shape(1, 8, 6, 7, 16, 3, 1, 1, 8); /* depthwise with multiplier 2 */
        random_q(&p, &r, res);
        run_one(p, &r, "dw x2", "grp");
        p = shape(2, 48, 9, 11, 48, 3, 2, 1, 6); /* RegNet: group width 8 */
        random_q(&p, &r, res);
        p.x_nhwc = p.y_nhwc = p.res_nhwc = nhwc;
        run_one(p, &r, "regnet g8/2", "grp");
        p = shape(1, 3, 23, 21, 16, 3, 2, 1, 1); /* MobileNet stem */
        random_q(&p, &r, res);
        p.x_nhwc = nhwc;
        run_one(p, &r, "stem 3x3/2", "grp");
    }
}

/* The implicit GEMM reading its rows in place (AVX-512 VNNI, u8 in): runs
 * within output rows, the edges gathered between them, k blocks cut where
 * they cross from one kernel row to the next, strides, a dilated height,
 * several 64-column panels, a folded Add, batch 2; the plan must take that
 * way where the ISA has it, and the bytes must be the reference's. */
static void test_kern_qconv_in_place(void **state)
{
    (void)state;
    kt_rng r = {0x7b54a41dc25a59b5ull};
    struct {
        int64_t n, ci, h, w, co, k, s, pad, dil_h;
    } shapes[] = {
        {2, 16, 9, 30, 16, 3, 1, 1, 1},  /* 12-row tiles, 4 rows a store */
        {1, 32, 7, 40, 32, 3, 1, 1, 1},  /* 12-row tiles, 2 rows a store */
        {1, 64, 12, 60, 40, 3, 2, 1, 1}, /* stride 2, 8-row tiles */
        {1, 96, 8, 70, 64, 3, 1, 1, 1},  /* K 864: two k blocks, cut mid-row */
        {2, 8, 11, 50, 130, 5, 1, 2, 2}, /* 5x5, rows 2 apart, three panels */
        {1, 8, 6, 80, 20, 3, 1, 0, 1},   /* no padding: no edges */
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int v = 0; v < 3; v++) {
            cq_qconv2d_params p = shape(shapes[i].n, shapes[i].ci, shapes[i].h, shapes[i].w,
                                        shapes[i].co, shapes[i].k, shapes[i].s, shapes[i].pad,
                                        1);
            p.c.dil_h = shapes[i].dil_h;
            random_q(&p, &r, v == 1);
            p.x_dt = CQ_U8;
            p.x_zp = (int32_t)kt_int(&r, 0, 255);
            char what[64];
            snprintf(what, sizeof what, "in place #%zu %s", i,
                     v == 0 ? "" : v == 1 ? "add" : "extremes");
            if (cq_qconv2d_gathered(&p.c) < 0)
                fail_msg("%s: the shape does not read in place", what);
            cq_err err;
            qcc t;
            memset(&t, 0, sizeof t);
            t.p = p;
            if (v == 2)
                qcc_fill(&t, &r, 255, 255, -128, -128, 200.0);
            else
                qcc_fill(&t, &r, 0, 255, -128, 127, 200.0);
            if (cq_kern_isa_s8() == CQ_ISA_AVX512 && !cq_kern_amx()) {
                cq_qconv2d_plan *pl = cq_qconv2d_plan_new(&t.p, t.w, t.bias, t.mult, &err);
                assert_non_null(pl);
                if (!pl->view)
                    fail_msg("%s: the plan gathers every row", what);
                cq_qconv2d_plan_free(pl);
            }
            qcc_check(&t, what, "igemm");
            qcc_free(&t);
        }
    /* which pixels are gathered: a 3x3 pad 1 on 224 x 224, the two edge
     * rows and two pixels of every other row; none without padding */
    cq_qconv2d_params p = shape(1, 16, 224, 224, 16, 3, 1, 1, 1);
    assert_int_equal(cq_qconv2d_gathered(&p.c), 224 + 224 + 2 * 222);
    p = shape(1, 16, 30, 30, 16, 3, 1, 0, 1);
    assert_int_equal(cq_qconv2d_gathered(&p.c), 0);
    /* where the row tiles cut short cost more than the gathers save */
    p = shape(1, 512, 7, 7, 512, 3, 1, 1, 1);
    assert_true(cq_qconv2d_gathered(&p.c) < 0);
    /* where a window is no run of kh spans of 4-byte groups */
    p = shape(1, 5, 30, 30, 16, 3, 1, 1, 1);
    assert_true(cq_qconv2d_gathered(&p.c) < 0);
    p = shape(1, 16, 30, 30, 16, 3, 1, 1, 1);
    p.c.dil_w = 2;
    assert_true(cq_qconv2d_gathered(&p.c) < 0);
}

static void test_kern_qconv_random(void **state)
{
    (void)state;
    kt_rng r = {0x243f6a8885a308d3ull};
    static const int64_t chans[] = {1, 3, 5, 16, 17, 33, 64, 65, 130};
    for (int it = 0; it < 120; it++) {
        int kind = (int)kt_int(&r, 0, 2); /* 0: groups 1, 1: depthwise, 2: other groups */
        int64_t ci = chans[kt_int(&r, 0, 8)], co = chans[kt_int(&r, 0, 8)], g = 1;
        if (kind == 1) {
            co = ci;
            g = ci;
        } else if (kind == 2) {
            g = ci % 2 == 0 ? 2 : ci;
            co = g * kt_int(&r, 1, 3);
        }
        int64_t k = kt_int(&r, 1, 5), s = kt_int(&r, 1, 2), d = kt_int(&r, 1, 2);
        cq_qconv2d_params p = shape(kt_int(&r, 1, 2), ci, 0, 0, co, k, s, 0, g);
        p.c.kh = k;
        p.c.kw = kt_int(&r, 1, 4);
        p.c.stride_w = kt_int(&r, 1, 2);
        p.c.dil_h = d;
        p.c.dil_w = kt_int(&r, 1, 2);
        p.c.pad_top = kt_int(&r, 0, 2);
        p.c.pad_left = kt_int(&r, 0, 2);
        p.c.pad_bottom = kt_int(&r, 0, 2);
        p.c.pad_right = kt_int(&r, 0, 2);
        p.c.h = (p.c.kh - 1) * p.c.dil_h + 1 + kt_int(&r, 0, 9);
        p.c.w = (p.c.kw - 1) * p.c.dil_w + 1 + kt_int(&r, 0, 9);
        random_q(&p, &r, (int)kt_int(&r, 0, 1));
        p.x_nhwc = (int)kt_int(&r, 0, 1);
        p.y_nhwc = (int)kt_int(&r, 0, 1);
        p.res_nhwc = (int)kt_int(&r, 0, 1);
        run_one(p, &r, "random", NULL);
    }
}

/* Grouped convolutions on the grp path: group widths 2 .. 24 (c_in / groups
 * and c_out / groups apart too), odd sizes, strides, pads, dilations. */
static void test_kern_qconv_groups(void **state)
{
    (void)state;
    kt_rng r = {0x082efa98ec4e6c89ull};
    static const int64_t widths[] = {2, 4, 8, 16, 24, 3, 1};
    for (int it = 0; it < 60; it++) {
        int64_t gw = widths[it % 7], g = kt_int(&r, 2, 7), mo = it % 3 == 2 ? 2 : 1;
        if (gw == 1)
            mo = kt_int(&r, 2, 3); /* depthwise with a multiplier */
        int64_t k = kt_int(&r, 1, 3) * 2 - 1, s = kt_int(&r, 1, 2);
        cq_qconv2d_params p = shape(kt_int(&r, 1, 2), gw * g, kt_int(&r, k, k + 12),
                                    kt_int(&r, k, k + 12), gw * g * mo, k, s, k / 2, g);
        p.c.stride_w = kt_int(&r, 1, 2);
        p.c.pad_right = kt_int(&r, 0, 2);
        if (it % 5 == 4)
            p.c.dil_h = p.c.dil_w = 2, p.c.h += 2 * (k - 1), p.c.w += 2 * (k - 1);
        random_q(&p, &r, (int)kt_int(&r, 0, 1));
        p.x_nhwc = (int)kt_int(&r, 0, 1);
        p.y_nhwc = (int)kt_int(&r, 0, 1);
        p.res_nhwc = (int)kt_int(&r, 0, 1);
        run_one(p, &r, "groups", "grp");
    }
    /* the stems: few input channels, groups 1 */
    for (int it = 0; it < 16; it++) {
        int64_t ci = kt_int(&r, 1, 4), k = it % 4 == 3 ? 7 : 3;
        cq_qconv2d_params p = shape(kt_int(&r, 1, 2), ci, kt_int(&r, k, 40), kt_int(&r, k, 40),
                                    kt_int(&r, 1, 70), k, kt_int(&r, 1, 2), k / 2, 1);
        random_q(&p, &r, (int)kt_int(&r, 0, 1));
        run_one(p, &r, "stem", "grp");
    }
}

/* Sums at the ends of their range and codes that saturate both ways; from
 * v 24 depthwise 3x3/1 with 32 channels on rows of 21, two images (the
 * halves passes, kern_qconv_dw3_avx512.c, with rows kept from pass to pass). */
static void test_kern_qconv_extremes(void **state)
{
    (void)state;
    kt_rng r = {0x13198a2e03707344ull};
    static const int64_t gs[] = {1, 0, 3}; /* 0: depthwise, 3: grouped */
    for (int v = 0; v < 32; v++) {
        int dw32 = v >= 24;
        int64_t g = dw32 ? 0 : gs[v % 3], ci = dw32 ? 32 : v % 4 < 2 ? 33 : 144;
        cq_qconv2d_params p = shape(1 + dw32, ci, 7, dw32 ? 21 : 6, ci, 3, dw32 ? 1 : 1 + v / 12,
                                    1, g == 0 ? ci : g);
        p.x_dt = v / 4 % 2 ? CQ_S8 : CQ_U8;
        p.y_dt = v / 2 % 2 ? CQ_S8 : CQ_U8;
        int xlo = p.x_dt == CQ_S8 ? -128 : 0, ylo = p.y_dt == CQ_S8 ? -128 : 0;
        p.x_zp = v % 3 ? xlo : xlo + 255;
        p.y_zp = v % 5 ? ylo + 255 : ylo;
        p.y_min = ylo;
        p.y_max = ylo + 255;
        p.add.on = v % 3 == 1;
        p.add.q_zp = ylo;
        p.add.q_min = ylo;
        p.add.q_max = ylo + 255;
        p.add.ra = 1.5f;
        p.add.rb = 0.75f;
        p.add.fixed = 3.25f;
        qcc t;
        memset(&t, 0, sizeof t);
        t.p = p;
        /* x all at one end, w all at the other: the largest sums, spread far
         * past the code range */
        int xv = v % 3 ? xlo + 255 : xlo, wv = v % 2 ? -128 : 127;
        qcc_fill(&t, &r, xv, xv, wv, wv, 5000.0);
        for (int64_t j = 0; j < p.c.c_out; j++) {
            t.bias[j] = j % 2 ? 1000000 : -1000000;
            if (j % 7 == 3)
                t.mult[j] = 3e4f; /* far beyond int32 after the product */
        }
        qcc_check(&t, "extremes", NULL);
        qcc_free(&t);
    }
}

/* cq_qconv2d_ref is QLinearConv (then QLinearAdd) with mult = x_scale *
 * w_scale / y_scale computed as cq_qlinear_conv_ref computes it. */
static void test_kern_qconv_ref_matches_qlinear(void **state)
{
    (void)state;
    kt_rng r = {0xa4093822299f31d0ull};
    cq_err err;
    for (int it = 0; it < 24; it++) {
        int64_t ci = kt_int(&r, 1, 20), g = it % 3 == 2 ? ci : 1, co = g == 1 ? kt_int(&r, 1, 20) : ci;
        cq_qconv2d_params p = shape(kt_int(&r, 1, 2), ci, kt_int(&r, 3, 9), kt_int(&r, 3, 9), co,
                                    kt_int(&r, 1, 3), kt_int(&r, 1, 2), kt_int(&r, 0, 1), g);
        p.x_nhwc = p.y_nhwc = p.res_nhwc = 0;
        p.x_dt = it % 2 ? CQ_S8 : CQ_U8;
        p.y_dt = it % 4 < 2 ? CQ_U8 : CQ_S8;
        int32_t xlo = p.x_dt == CQ_S8 ? -128 : 0, ylo = p.y_dt == CQ_S8 ? -128 : 0;
        p.x_zp = (int32_t)kt_int(&r, xlo, xlo + 255);
        p.y_zp = (int32_t)kt_int(&r, ylo, ylo + 255);
        p.y_min = ylo;
        p.y_max = ylo + 255;
        qcc t;
        memset(&t, 0, sizeof t);
        int with_res = it % 4 == 1;
        float x_scale = 0.02f + (float)(kt_u32(&r) % 100) / 1000.0f, y_scale = 0.05f + (float)(kt_u32(&r) % 100) / 500.0f;
        float q_scale = 0.04f, res_scale = 0.03f;
        int32_t res_zp = (int32_t)kt_int(&r, ylo, ylo + 255);
        float conv_scale = with_res ? q_scale : y_scale;
        p.add.on = with_res;
        if (with_res) {
            p.add.q_zp = (int32_t)kt_int(&r, ylo, ylo + 255);
            p.add.q_min = ylo;
            p.add.q_max = ylo + 255;
            /* every other one with the residual as QLinearAdd's a */
            p.add.res_first = it % 8 == 5;
            float sa = p.add.res_first ? res_scale : q_scale;
            float sb = p.add.res_first ? q_scale : res_scale;
            int32_t za = p.add.res_first ? res_zp : p.add.q_zp;
            int32_t zb = p.add.res_first ? p.add.q_zp : res_zp;
            p.add.ra = sa / y_scale;
            p.add.rb = sb / y_scale;
            float fa = p.add.ra * (float)za, fb = p.add.rb * (float)zb;
            float fsum = fa + fb;
            p.add.fixed = (float)p.y_zp - fsum;
        }
        t.p = p;
        qcc_fill(&t, &r, xlo, xlo + 255, -128, 127, 200.0);
        float *w_scale = xalloc((size_t)co * 4);
        for (int64_t j = 0; j < co; j++) {
            w_scale[j] = 0.001f + (float)(kt_u32(&r) % 100) / 20000.0f;
            t.mult[j] = (x_scale * w_scale[j]) / conv_scale;
        }
        uint8_t *want = xalloc(t.ny), *got = xalloc(t.ny), *q = xalloc(t.ny);
        assert_int_equal(cq_qconv2d_ref(&t.p, t.w, t.bias, t.mult, t.x, got, t.res, &err), CQ_OK);
        assert_int_equal(cq_qlinear_conv_ref(&p.c, p.x_dt, t.x, x_scale, p.x_zp, CQ_S8, t.w,
                                             w_scale, NULL, co, t.bias, p.y_dt, conv_scale,
                                             with_res ? p.add.q_zp : p.y_zp, with_res ? q : want,
                                             &err),
                         CQ_OK);
        if (with_res && !p.add.res_first)
            assert_int_equal(cq_qlinear_add_ref(p.y_dt, q, (int64_t)t.ny, q_scale, p.add.q_zp,
                                                t.res, (int64_t)t.ny, res_scale, res_zp,
                                                y_scale, p.y_zp, want, (int64_t)t.ny, &err),
                             CQ_OK);
        if (with_res && p.add.res_first)
            assert_int_equal(cq_qlinear_add_ref(p.y_dt, t.res, (int64_t)t.ny, res_scale, res_zp,
                                                q, (int64_t)t.ny, q_scale, p.add.q_zp, y_scale,
                                                p.y_zp, want, (int64_t)t.ny, &err),
                             CQ_OK);
        assert_memory_equal(got, want, t.ny);
        cq_free(want);
        cq_free(got);
        cq_free(q);
        cq_free(w_scale);
        qcc_free(&t);
    }
}

static void test_kern_qconv_errors(void **state)
{
    (void)state;
    cq_err err;
    cq_qconv2d_params p = shape(1, 8192, 3, 3, 1, 3, 1, 1, 1);
    int64_t K = 8192 * 9;
    int8_t *w = xalloc((size_t)K);
    memset(w, 0x80, (size_t)K); /* -128 * 255 * 73728 leaves int32 */
    float mult = 1.0f;
    assert_null(cq_qconv2d_plan_new(&p, w, NULL, &mult, &err));
    assert_int_equal(err.code, CQ_ERANGE);
    memset(w, 1, (size_t)K);
    cq_qconv2d_plan *pl = cq_qconv2d_plan_new(&p, w, NULL, &mult, &err);
    assert_non_null(pl);
    uint8_t x[8192 * 9], y[9], res[9];
    memset(x, 0, sizeof x);
    size_t sb = cq_qconv2d_scratch_bytes(pl);
    void *s = xalloc(sb);
    assert_int_equal(cq_qconv2d_run(pl, x, y, res, s, sb, &err), CQ_EINVAL);
    if (sb)
        assert_int_equal(cq_qconv2d_run(pl, x, y, NULL, s, sb - 1, &err), CQ_EINVAL);
    assert_int_equal(cq_qconv2d_run(pl, x, y, NULL, s, sb, &err), CQ_OK);
    cq_free(s);
    cq_qconv2d_plan_free(pl);
    cq_qconv2d_plan_free(NULL);
    p.x_dt = CQ_F32;
    assert_null(cq_qconv2d_plan_new(&p, w, NULL, &mult, &err));
    assert_int_equal(err.code, CQ_EUNSUPPORTED);
    p.x_dt = CQ_U8;
    p.y_min = 10;
    p.y_max = 5;
    assert_null(cq_qconv2d_plan_new(&p, w, NULL, &mult, &err));
    assert_int_equal(err.code, CQ_EINVAL);
    cq_free(w);
}

/* Depthwise 3x3, stride 1 (kern_qconv_dw3_avx512.c's two-row passes): channels
 * that run 16 and 32 per pixel vector, 64-channel chunks with partial last
 * ones and tails of 16 or fewer channels (after chunks or alone: 4 pixels a
 * vector on rows copied compactly); widths and heights from 1 (one row, one pixel,
 * odd row counts for the last pass), every pad from 0 to 2, batch 2, u8 / s8,
 * residual on and off, the plain epilogue (zero point 0, the whole range); one
 * and two threads split the rows at odd places. */
static void test_kern_qconv_dw3(void **state)
{
    (void)state;
    kt_rng r = {0x452821e638d01377ull};
    static const int64_t chans[] = {16, 32, 64, 144, 48, 80, 96, 128, 17, 33, 200, 136, 8, 5, 12};
    for (int it = 0; it < 90; it++) {
        int64_t ch = chans[it % 15];
        cq_qconv2d_params p = shape(kt_int(&r, 1, 2), ch, kt_int(&r, 1, 13), kt_int(&r, 1, 19),
                                    ch, 3, 1, 1, ch);
        p.c.pad_top = kt_int(&r, 0, 2);
        p.c.pad_left = kt_int(&r, 0, 2);
        p.c.pad_bottom = kt_int(&r, 0, 2);
        p.c.pad_right = kt_int(&r, 0, 2);
        p.c.h += 2 - (p.c.pad_top + p.c.pad_bottom < 2 ? p.c.pad_top + p.c.pad_bottom : 2);
        p.c.w += 2 - (p.c.pad_left + p.c.pad_right < 2 ? p.c.pad_left + p.c.pad_right : 2);
        random_q(&p, &r, (int)kt_int(&r, 0, 1));
        if (it % 3 == 1) { /* zero point 0, the whole range: the plain epilogue */
            int32_t ylo = p.y_dt == CQ_S8 ? -128 : 0;
            p.y_zp = 0;
            p.y_min = ylo;
            p.y_max = ylo + 255;
        }
        p.x_nhwc = p.y_nhwc = p.res_nhwc = it % 7 != 3;
        run_one(p, &r, "dw 3x3", "dw");
    }
}

/* Without VNNI (cq_kern_set_vnni(0), as on Skylake-SP) the int8 convs plan
 * the AVX2 paths (a depthwise 3x3 the "dwc" loop, not the vpdpbusd "dw"
 * one) and still give the reference's bytes, a 1x1, a 3x3 and a grouped one
 * too. */
static void test_kern_qconv_without_vnni(void **state)
{
    (void)state;
    kt_rng r = {0x3c6ef372fe94f82bull};
    cq_isa top = cq_kern_set_isa(CQ_ISA_COUNT);
    cq_kern_set_vnni(0);
    qcc t;
    memset(&t, 0, sizeof t);
    t.p = shape(1, 32, 9, 11, 32, 3, 1, 1, 32);
    random_q(&t.p, &r, 1);
    qcc_fill(&t, &r, t.p.x_dt == CQ_S8 ? -128 : 0, t.p.x_dt == CQ_S8 ? 127 : 255, -128, 127,
             200.0);
    qcc_check(&t, "dw 3x3 without VNNI", NULL);
    cq_err err;
    cq_kern_set_isa(CQ_ISA_COUNT);
    cq_qconv2d_plan *pl = cq_qconv2d_plan_new(&t.p, t.w, t.bias, t.mult, &err);
    assert_non_null(pl);
    if (top != CQ_ISA_SCALAR)
        assert_string_equal(cq_qconv2d_path(pl), "dwc");
    cq_qconv2d_plan_free(pl);
    qcc_free(&t);
    cq_qconv2d_params p;
    p = shape(2, 40, 7, 6, 24, 1, 1, 0, 1);
    random_q(&p, &r, 0);
    run_one(p, &r, "1x1 without VNNI", NULL);
    p = shape(1, 19, 8, 9, 21, 3, 2, 1, 1);
    random_q(&p, &r, 1);
    run_one(p, &r, "3x3/2 without VNNI", NULL);
    p = shape(1, 32, 6, 7, 32, 3, 1, 1, 4);
    random_q(&p, &r, 0);
    run_one(p, &r, "grouped without VNNI", NULL);
    cq_kern_set_vnni(1);
}

/* Depthwise 3x3/1 with 32 channels: its input at 0, 16, 32 and 48 bytes past
 * a 64-byte boundary (kern_qconv_dw3_avx512.c loads pixel pairs or, where
 * that saves split loads, two pixels half a row apart: both layouts), odd
 * and even widths, pads 0 to 2, the plain epilogue and not, u8 / s8. */
static void test_kern_qconv_dw3_align(void **state)
{
    (void)state;
    kt_rng r = {0x13198a2e03707344ull};
    for (int it = 0; it < 24; it++) {
        cq_qconv2d_params p = shape(kt_int(&r, 1, 2), 32, kt_int(&r, 1, 9), kt_int(&r, 1, 40),
                                    32, 3, 1, 1, 32);
        p.c.pad_top = kt_int(&r, 0, 2);
        p.c.pad_left = p.c.pad_right = it % 3;
        p.c.pad_bottom = kt_int(&r, 0, 2);
        p.c.h += 2 - (p.c.pad_top + p.c.pad_bottom < 2 ? p.c.pad_top + p.c.pad_bottom : 2);
        p.c.w += 2 - (p.c.pad_left + p.c.pad_right < 2 ? p.c.pad_left + p.c.pad_right : 2);
        random_q(&p, &r, 0);
        if (it % 2) {
            int32_t ylo = p.y_dt == CQ_S8 ? -128 : 0;
            p.y_zp = 0;
            p.y_min = ylo;
            p.y_max = ylo + 255;
        }
        p.x_nhwc = p.y_nhwc = 1;
        qcc t;
        memset(&t, 0, sizeof t);
        t.p = p;
        int xlo = p.x_dt == CQ_S8 ? -128 : 0;
        qcc_fill(&t, &r, xlo, xlo + 255, -128, 127, 200.0);
        for (int off = 0; off < 64; off += 16)
            qcc_check_at(&t, off, "dw 3x3 32 ch, x off a 64-byte boundary", "dw");
        qcc_free(&t);
    }
}

/* Depthwise 3x3/1, pad 1 left and right, channels a multiple of 16 but not
 * of 64 (48 to 176) or of 4 but not of 16 (12 to 108): the flat rows of
 * kern_qconv_dwf_avx512.c, lane shifts and vector shifts (the plan
 * takes them where VNNI runs on AVX-512: checked). Widths from 1 (rows of 48
 * bytes up, most not a multiple of 64, one chunk or many), heights from 1
 * (odd: the last pass alone), pads top and bottom 0 to 2, batch 2, u8 / s8
 * in and out, the plain epilogue and not, x at 0 to 48 bytes past a 64-byte
 * boundary, and every few shapes sums at the ends of their range (x all at
 * one end, w at the other, codes saturating both ways), every eighth on the
 * chunk passes (dw_chunks); one and two threads. */
static void test_kern_qconv_dw3_flat(void **state)
{
    (void)state;
    kt_rng r = {0x9216d5d98979fb1bull};
    static const int64_t chans[] = {48, 80, 96, 112, 144, 160, 176, 12, 20, 24,
                                    28, 40, 56, 60, 72, 88, 104, 108};
    for (int it = 0; it < 90; it++) {
        int64_t ch = chans[it % 18];
        cq_qconv2d_params p = shape(kt_int(&r, 1, 2), ch, kt_int(&r, 1, 9),
                                    it % 5 == 0 ? kt_int(&r, 1, 3) : kt_int(&r, 4, 40), ch, 3, 1,
                                    1, ch);
        p.c.pad_top = kt_int(&r, 0, 2);
        p.c.pad_bottom = kt_int(&r, 0, 2);
        p.c.h += 2 - (p.c.pad_top + p.c.pad_bottom < 2 ? p.c.pad_top + p.c.pad_bottom : 2);
        random_q(&p, &r, 0);
        if (it % 3 == 1) { /* zero point 0, the whole range: the plain epilogue */
            int32_t ylo = p.y_dt == CQ_S8 ? -128 : 0;
            p.y_zp = 0;
            p.y_min = ylo;
            p.y_max = ylo + 255;
        }
        qcc t;
        memset(&t, 0, sizeof t);
        t.p = p;
        int xlo = p.x_dt == CQ_S8 ? -128 : 0, ext = it % 4 == 3;
        int xv = it % 8 == 3 ? xlo + 255 : xlo, wv = it % 16 < 8 ? -128 : 127;
        if (ext)
            qcc_fill(&t, &r, xv, xv, wv, wv, 5000.0);
        else
            qcc_fill(&t, &r, xlo, xlo + 255, -128, 127, 200.0);
        for (int64_t j = 0; ext && j < p.c.c_out; j++)
            t.bias[j] = j % 2 ? 1000000 : -1000000;
        t.p.dw_chunks = it % 8 == 7; /* the chunk passes instead: the same bytes */
        cq_err err;
        cq_kern_set_isa(CQ_ISA_COUNT);
        cq_qconv2d_plan *pl = cq_qconv2d_plan_new(&t.p, t.w, t.bias, t.mult, &err);
        assert_non_null(pl);
        if (cq_kern_isa_s8() == CQ_ISA_AVX512 && pl->path == QC_DW &&
            (pl->nph == 0) != t.p.dw_chunks)
            fail_msg("dw 3x3 %lld channels: flat rows %lld, dw_chunks %d", (long long)ch,
                     (long long)pl->nph, t.p.dw_chunks);
        cq_qconv2d_plan_free(pl);
        qcc_check_at(&t, 16 * (it % 4), "dw 3x3 flat rows", "dw");
        qcc_free(&t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kern_qconv_paths),
        cmocka_unit_test(test_kern_qconv_in_place),
        cmocka_unit_test(test_kern_qconv_random),
        cmocka_unit_test(test_kern_qconv_groups),
        cmocka_unit_test(test_kern_qconv_extremes),
        cmocka_unit_test(test_kern_qconv_dw3),
        cmocka_unit_test(test_kern_qconv_without_vnni),
        cmocka_unit_test(test_kern_qconv_dw3_align),
        cmocka_unit_test(test_kern_qconv_dw3_flat),
        cmocka_unit_test(test_kern_qconv_ref_matches_qlinear),
        cmocka_unit_test(test_kern_qconv_errors),
    };
    return cmocka_run_group_tests_name("kern_qconv", tests, NULL, NULL);
}
