/* test_kern_qgemm.c - the int8 GEMM (kern_qgemm.h): every path (scalar,
 * AVX2, AVX-512 VNNI, AMX where the machine has it; more AMX shapes in
 * test_kern_qgemm_amx.c) against cq_qgemm_ref bit for bit, on random and
 * odd shapes (m, n, k off the tiles, k not a multiple of 4, several k
 * blocks, row strides), every output and requantization, residuals, saturation
 * extremes, and one and two threads; the reference against the integer
 * reference kernels of kern_int.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "kern_testutil.h"
#include "kern/kern_qgemm.h"

typedef struct qcase {
    cq_qgemm_params p;
    int8_t *w;
    int32_t *bias;
    float *mult;
    int32_t *qm, *sh;
    void *x, *res;
    size_t y_bytes;
} qcase;

static size_t esize(cq_dtype dt) { return dt == CQ_S32 || dt == CQ_F32 ? 4 : 1; }

static void *xalloc(size_t n)
{
    void *p = cq_alloc(n ? n : 1);
    assert_non_null(p);
    return p;
}

/* Fill c's arrays for p: x in [xlo, xhi], w in [wlo, whi]. */
static void qcase_fill(qcase *c, kt_rng *r, int xlo, int xhi, int wlo, int whi, int with_res)
{
    cq_qgemm_params *p = &c->p;
    int64_t ldx = p->ldx ? p->ldx : p->k, ldy = p->ldy ? p->ldy : p->n;
    c->w = xalloc((size_t)(p->n * p->k));
    for (int64_t i = 0; i < p->n * p->k; i++)
        c->w[i] = (int8_t)kt_int(r, wlo, whi);
    c->bias = xalloc((size_t)p->n * 4);
    c->mult = xalloc((size_t)p->n * 4);
    c->qm = xalloc((size_t)p->n * 4);
    c->sh = xalloc((size_t)p->n * 4);
    /* sums spread over about sqrt(k) * 128 * 64: scale them into a few hundred codes */
    double spread = sqrt((double)p->k) * 128.0 * 64.0;
    for (int64_t j = 0; j < p->n; j++) {
        c->bias[j] = (int32_t)kt_int(r, -5000, 5000);
        c->mult[j] = (float)((0.5 + kt_u32(r) % 1000 / 500.0) * 200.0 / spread);
        c->qm[j] = (int32_t)kt_int(r, 1 << 30, 0x7fffffff);
        int sh = 31 + (int)ceil(log2(spread / 200.0));
        c->sh[j] = sh + (int)kt_int(r, -1, 1);
    }
    c->x = xalloc((size_t)(p->m * ldx));
    for (int64_t i = 0; i < p->m * ldx; i++)
        ((uint8_t *)c->x)[i] = (uint8_t)kt_int(r, xlo, xhi);
    c->y_bytes = (size_t)(p->m * ldy) * esize(p->y_dt);
    c->res = NULL;
    if (with_res) {
        c->res = xalloc(c->y_bytes);
        for (size_t i = 0; i < c->y_bytes; i++)
            ((uint8_t *)c->res)[i] = (uint8_t)kt_u32(r);
        if (p->y_dt == CQ_F32)
            for (int64_t i = 0; i < p->m * ldy; i++)
                ((float *)c->res)[i] = 3.0f * kt_f(r);
    }
}

static void qcase_free(qcase *c)
{
    cq_free(c->w);
    cq_free(c->bias);
    cq_free(c->mult);
    cq_free(c->qm);
    cq_free(c->sh);
    cq_free(c->x);
    cq_free(c->res);
}

/* Every ISA (and two threads on the fast ones) gives the reference's bytes. */
static void qcase_check(qcase *c, const char *what)
{
    cq_err err;
    uint8_t *want = xalloc(c->y_bytes), *got = xalloc(c->y_bytes);
    memset(want, 0xa5, c->y_bytes);
    if (cq_qgemm_ref(&c->p, c->w, c->bias, c->mult, c->qm, c->sh, c->x, want, c->res, &err) !=
        CQ_OK)
        fail_msg("%s: reference: %s", what, err.msg);
    cq_isa isas[] = KT_ISAS;
    for (size_t ii = 0; ii < sizeof isas / sizeof isas[0]; ii++) {
        if (cq_kern_set_isa(isas[ii]) != isas[ii])
            continue;
        /* AVX-512 twice: AMX (where the machine has it) and VNNI */
        int nv = isas[ii] == CQ_ISA_SCALAR ? 1 : isas[ii] == CQ_ISA_AVX2 ? 2 : 4;
        for (int v = 0; v < nv; v++) {
            int th = 1 + v % 2, amx = cq_kern_set_amx(v < 2);
            cq_kern_set_threads(th);
            cq_qgemm_plan *pl =
                cq_qgemm_plan_new(&c->p, c->w, c->bias, c->mult, c->qm, c->sh, &err);
            if (!pl)
                fail_msg("%s: plan: %s", what, err.msg);
            assert_int_equal(cq_qgemm_isa(pl), cq_kern_isa_s8());
            /* m = 1 and k <= 16 run VNNI */
            assert_int_equal(cq_qgemm_amx(pl), amx && cq_kern_isa_s8() == CQ_ISA_AVX512 &&
                                                   c->p.m > 1 && c->p.k > 16);
            size_t sb = cq_qgemm_scratch_bytes(pl);
            void *s = xalloc(sb);
            memset(got, 0xa5, c->y_bytes);
            assert_int_equal(cq_qgemm_run(pl, c->x, got, c->res, s, sb, &err), CQ_OK);
            for (size_t b = 0; b < c->y_bytes; b++)
                if (got[b] != want[b])
                    fail_msg("%s: %s%s, %d threads, m %lld n %lld k %lld: byte %zu is %d, "
                             "reference %d", what, cq_isa_name(isas[ii]), amx ? " amx" : "", th,
                             (long long)c->p.m, (long long)c->p.n, (long long)c->p.k, b,
                             got[b], want[b]);
            cq_free(s);
            cq_qgemm_plan_free(pl);
        }
    }
    cq_kern_set_threads(1);
    cq_kern_set_isa(CQ_ISA_COUNT);
    cq_kern_set_amx(1);
    cq_free(want);
    cq_free(got);
}

static cq_qgemm_params params(int64_t m, int64_t n, int64_t k, cq_dtype x_dt, cq_dtype y_dt,
                              cq_qgemm_req req)
{
    cq_qgemm_params p = cq_qgemm_params_default();
    p.m = m;
    p.n = n;
    p.k = k;
    p.x_dt = x_dt;
    p.y_dt = y_dt;
    p.req = req;
    if (y_dt == CQ_S8) {
        p.y_min = -128;
        p.y_max = 127;
    }
    return p;
}

static void test_kern_qgemm_random_shapes(void **state)
{
    (void)state;
    kt_rng r = {0x9e3779b97f4a7c15ull};
    /* odd sizes around the AVX-512 tiles (6 rows x 64 columns; 8 x 48, 12 x
     * 32 and 12 x 16 for narrower panels) and the 6 x 16 AVX2 tile, k below
     * and above a block (640) with every remainder mod 4; n 16 and 32 with
     * rows as wide as n (shapes 16 and 18: no residual, ldy n), whose codes
     * go 4 or 2 rows a store */
    static const int64_t shapes[][3] = {
        {1, 1, 1},      {7, 13, 5},     {6, 64, 4},   {13, 70, 3},  {97, 65, 131}, {12, 129, 642},
        {5, 300, 1287}, {101, 17, 66},  {200, 257, 9}, {25, 32, 20}, {19, 40, 7},  {30, 16, 144},
        {17, 112, 650}, {9, 48, 9},    {26, 16, 36},  {13, 24, 50},  {31, 16, 40},  {11, 80, 12},
        {22, 32, 24}};
    static const struct {
        cq_dtype y;
        cq_qgemm_req req;
    } outs[] = {{CQ_S32, CQ_QREQ_NONE}, {CQ_F32, CQ_QREQ_NONE}, {CQ_F32, CQ_QREQ_FLOAT},
                {CQ_U8, CQ_QREQ_FLOAT}, {CQ_S8, CQ_QREQ_FLOAT},  {CQ_U8, CQ_QREQ_FIXED},
                {CQ_S8, CQ_QREQ_FIXED}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (size_t o = 0; o < sizeof outs / sizeof outs[0]; o++) {
            cq_dtype x_dt = (s + o) % 2 ? CQ_S8 : CQ_U8;
            qcase c;
            memset(&c, 0, sizeof c);
            c.p = params(shapes[s][0], shapes[s][1], shapes[s][2], x_dt, outs[o].y,
                              outs[o].req);
            c.p.x_zp = x_dt == CQ_S8 ? (int32_t)kt_int(&r, -20, 20) : (int32_t)kt_int(&r, 0, 40);
            c.p.w_kn = (int)(s % 2);
            if (s % 3 == 2) { /* row strides wider than the rows */
                c.p.ldx = c.p.k + 3;
                c.p.ldy = c.p.n + 5;
            }
            int with_res = outs[o].y == CQ_F32 || outs[o].req == CQ_QREQ_FLOAT ? (int)(s % 2)
                                                                             : 0;
            if (outs[o].y == CQ_U8 || outs[o].y == CQ_S8) {
                c.p.y_zp = outs[o].y == CQ_U8 ? 100 : -3;
                c.p.y_min = outs[o].y == CQ_U8 ? 100 : -128; /* a Relu on the U8 side */
                c.p.res_zp = outs[o].y == CQ_U8 ? 128 : 0;
                c.p.res_mult = 0.75f;
            }
            if (outs[o].y == CQ_F32) {
                cq_act_kind k = (cq_act_kind)(s % 3);
                c.p.act.kind = k;
                c.p.act.a = -20.0f;
                c.p.act.b = 35.5f;
            }
            int xlo = x_dt == CQ_S8 ? -128 : 0, xhi = x_dt == CQ_S8 ? 127 : 255;
            qcase_fill(&c, &r, xlo, xhi, -128, 127, with_res);
            char what[64];
            snprintf(what, sizeof what, "shape %zu out %zu", s, o);
            qcase_check(&c, what);
            qcase_free(&c);
        }
}

/* The largest products everywhere: 255 x -128, 255 x 127, -128 x -128
 * (s8 activations, shifted), 0 x anything; with k long enough for sums of
 * 75 million, and s32 out (no rounding to hide a wrong sum); and u8 out,
 * also with scales that take those sums past 2^31 (the vector epilogue's
 * conversion would wrap them to INT32_MIN: codes 0 for 255). */
static void test_kern_qgemm_saturation(void **state)
{
    (void)state;
    kt_rng r = {7};
    static const struct {
        cq_dtype x_dt;
        int x, w;
        int32_t zp;
    } ext[] = {{CQ_U8, 255, -128, 0}, {CQ_U8, 255, 127, 0}, {CQ_U8, 0, -128, 255},
               {CQ_S8, -128, -128, 0}, {CQ_S8, 127, 127, -128}, {CQ_S8, -128, 127, 127},
               {CQ_U8, 255, -128, 255}};
    for (size_t e = 0; e < sizeof ext / sizeof ext[0]; e++)
        for (int y = 0; y < 3; y++) {
            qcase c;
            memset(&c, 0, sizeof c);
            c.p = params(13, 67, 2303, ext[e].x_dt, y ? CQ_U8 : CQ_S32,
                              y ? CQ_QREQ_FLOAT : CQ_QREQ_NONE);
            c.p.x_zp = ext[e].zp;
            qcase_fill(&c, &r, ext[e].x, ext[e].x, ext[e].w, ext[e].w, 0);
            if (y == 2)
                for (int64_t j = 0; j < c.p.n; j++)
                    c.mult[j] = 1e3f;
            char what[64];
            snprintf(what, sizeof what, "extreme %zu, %s", e, y == 2 ? "u8 large scale" : y ? "u8" : "s32");
            qcase_check(&c, what);
            if (!y) { /* and the sum itself, by hand */
                cq_err err;
                int32_t *acc = xalloc((size_t)(13 * 67 * 4));
                assert_int_equal(cq_qgemm_ref(&c.p, c.w, c.bias, NULL, NULL, NULL, c.x, acc,
                                              NULL, &err),
                                 CQ_OK);
                int64_t want = (int64_t)2303 * (ext[e].x - ext[e].zp) * ext[e].w + c.bias[66];
                assert_int_equal(acc[12 * 67 + 66], want);
                cq_free(acc);
            }
            qcase_free(&c);
        }
}

/* Without VNNI (Skylake-SP: AVX-512 but no vpdpbusd; taken as absent here by
 * cq_kern_set_vnni(0)) the int8 GEMM plans AVX2 while the fp32 kernels stay
 * AVX-512, and still gives the reference's bytes; VNNI back on, AVX-512
 * where the CPU has it. */
static void test_kern_qgemm_without_vnni(void **state)
{
    (void)state;
    kt_rng r = {11};
    cq_isa top = cq_kern_set_isa(CQ_ISA_COUNT);
    assert_int_equal(cq_kern_set_vnni(0), top == CQ_ISA_SCALAR ? CQ_ISA_SCALAR : CQ_ISA_AVX2);
    assert_int_equal(cq_kern_isa(), top);
    qcase c;
    memset(&c, 0, sizeof c);
    c.p = params(37, 70, 300, CQ_U8, CQ_U8, CQ_QREQ_FLOAT);
    qcase_fill(&c, &r, 0, 255, -128, 127, 1);
    qcase_check(&c, "without VNNI");
    cq_err err;
    cq_kern_set_isa(CQ_ISA_COUNT);
    cq_qgemm_plan *pl = cq_qgemm_plan_new(&c.p, c.w, c.bias, c.mult, c.qm, c.sh, &err);
    assert_non_null(pl);
    assert_int_equal(cq_qgemm_isa(pl), top == CQ_ISA_SCALAR ? CQ_ISA_SCALAR : CQ_ISA_AVX2);
    assert_int_equal(cq_qgemm_amx(pl), 0);
    cq_qgemm_plan_free(pl);
    cq_isa s8 = cq_kern_set_vnni(1);
    pl = cq_qgemm_plan_new(&c.p, c.w, c.bias, c.mult, c.qm, c.sh, &err);
    assert_non_null(pl);
    assert_int_equal(cq_qgemm_isa(pl), s8);
    if (top == CQ_ISA_AVX512 && __builtin_cpu_supports("avx512vnni"))
        assert_int_equal(s8, CQ_ISA_AVX512);
    cq_qgemm_plan_free(pl);
    qcase_free(&c);
}

/* The float requantization is cq_requantize's, as QLinearMatMul's reference
 * uses it: the same codes from cq_qlinear_matmul_ref. */
static void test_kern_qgemm_matches_qlinear_matmul(void **state)
{
    (void)state;
    kt_rng r = {42};
    int64_t m = 9, n = 21, k = 37;
    qcase c;
            memset(&c, 0, sizeof c);
            c.p = params(m, n, k, CQ_U8, CQ_U8, CQ_QREQ_FLOAT);
    c.p.w_kn = 1;
    c.p.x_zp = 17;
    c.p.y_zp = 9;
    qcase_fill(&c, &r, 0, 255, -128, 127, 0);
    float a_scale = 0.02f, y_scale = 0.05f, b_scale[21];
    for (int64_t j = 0; j < n; j++) {
        b_scale[j] = 0.001f + 0.0005f * (float)j;
        c.mult[j] = (a_scale * b_scale[j]) / y_scale;
    }
    cq_matmul_dims d;
    int64_t as[2] = {m, k}, bs[2] = {k, n};
    cq_err err;
    assert_int_equal(cq_matmul_dims_init(&d, 2, as, 2, bs, &err), CQ_OK);
    uint8_t want[9 * 21], got[9 * 21];
    int32_t azp = 17;
    assert_int_equal(cq_qlinear_matmul_ref(&d, CQ_U8, c.x, &a_scale, &azp, 1, CQ_S8, c.w,
                                           b_scale, NULL, n, CQ_U8, y_scale, 9, want, &err),
                     CQ_OK);
    assert_int_equal(cq_qgemm_ref(&c.p, c.w, NULL, c.mult, NULL, NULL, c.x, got, NULL, &err),
                     CQ_OK);
    assert_memory_equal(got, want, sizeof want);
    qcase_free(&c);
}

static void test_kern_qgemm_bad_params(void **state)
{
    (void)state;
    cq_err err;
    int8_t w[4] = {1, 2, 3, 4};
    float mult[2] = {0.1f, 0.1f};
    cq_qgemm_params p = params(2, 2, 2, CQ_U8, CQ_U8, CQ_QREQ_FLOAT);
    p.k = 0;
    assert_null(cq_qgemm_plan_new(&p, w, NULL, mult, NULL, NULL, &err));
    assert_int_equal(err.code, CQ_EINVAL);
    p = params(2, 2, 2, CQ_S32, CQ_U8, CQ_QREQ_FLOAT);
    assert_null(cq_qgemm_plan_new(&p, w, NULL, mult, NULL, NULL, &err));
    assert_int_equal(err.code, CQ_EUNSUPPORTED);
    p = params(2, 2, 2, CQ_U8, CQ_S32, CQ_QREQ_FLOAT);
    assert_null(cq_qgemm_plan_new(&p, w, NULL, mult, NULL, NULL, &err));
    assert_non_null(strstr(err.msg, "no requantization"));
    p = params(2, 2, 2, CQ_U8, CQ_U8, CQ_QREQ_FIXED);
    assert_null(cq_qgemm_plan_new(&p, w, NULL, NULL, NULL, NULL, &err));
    assert_non_null(strstr(err.msg, "fixed-point"));
    p = params(2, 2, 2, CQ_U8, CQ_U8, CQ_QREQ_FLOAT);
    p.y_min = 10;
    p.y_max = 9;
    assert_null(cq_qgemm_plan_new(&p, w, NULL, mult, NULL, NULL, &err));
    /* a residual with a fixed-point requantization; scratch too small */
    int32_t qm[2] = {1 << 30, 1 << 30}, sh[2] = {31, 31};
    p = params(2, 2, 2, CQ_U8, CQ_U8, CQ_QREQ_FIXED);
    cq_qgemm_plan *pl = cq_qgemm_plan_new(&p, w, NULL, NULL, qm, sh, &err);
    assert_non_null(pl);
    uint8_t x[4] = {1, 2, 3, 4}, y[4], res[4] = {0};
    assert_int_equal(cq_qgemm_run(pl, x, y, res, NULL, 0, &err), CQ_EINVAL);
    if (cq_qgemm_scratch_bytes(pl) > 0)
        assert_int_equal(cq_qgemm_run(pl, x, y, NULL, NULL, 0, &err), CQ_EINVAL);
    cq_qgemm_plan_free(pl);
    cq_qgemm_plan_free(NULL);
    /* a sum outside int32: the reference says so */
    int64_t k = 70000;
    int8_t *wl = xalloc((size_t)k);
    uint8_t *xl = xalloc((size_t)k);
    memset(wl, 127, (size_t)k);
    memset(xl, 255, (size_t)k);
    int32_t acc;
    p = params(1, 1, k, CQ_U8, CQ_S32, CQ_QREQ_NONE);
    assert_int_equal(cq_qgemm_ref(&p, wl, NULL, NULL, NULL, NULL, xl, &acc, NULL, &err),
                     CQ_ERANGE);
    cq_free(wl);
    cq_free(xl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kern_qgemm_random_shapes),
        cmocka_unit_test(test_kern_qgemm_saturation),
        cmocka_unit_test(test_kern_qgemm_without_vnni),
        cmocka_unit_test(test_kern_qgemm_matches_qlinear_matmul),
        cmocka_unit_test(test_kern_qgemm_bad_params),
    };
    return cmocka_run_group_tests_name("kern_qgemm", tests, NULL, NULL);
}
