/* test_kern_qgemm_amx.c - the int8 GEMM's AMX path (kern_qgemm.h,
 * x86/kern_qgemm_amx.c) against cq_qgemm_ref bit for bit: m, n, k on and
 * off the 16 x 16 x 64 tiles and the 32 x 32 blocks (1, 3, 17, 63, 65, 129,
 * ...), k over several k blocks, u8 and s8 activations, every output and
 * requantization, residuals, row strides, saturation extremes, one and two
 * threads (m = 1 plans run VNNI, and are checked so); the switches
 * (cq_kern_set_amx, the ISA) choose the path and plans
 * keep it. Skipped, with a message, where the machine or OS has no AMX and
 * under CALQ_AMX=0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "kern_testutil.h"
#include "kern/kern_qgemm.h"

static void *xalloc(size_t n)
{
    void *p = cq_alloc(n ? n : 1);
    assert_non_null(p);
    return p;
}

/* AVX-512 with AMX on, or 0 with a message: the CPU or the OS has none, or
 * CALQ_AMX=0 turned it off. */
static int amx_or_skip(void)
{
    const char *env = getenv("CALQ_AMX");
    if ((env && strcmp(env, "0") == 0) || cq_kern_set_isa(CQ_ISA_AVX512) != CQ_ISA_AVX512 ||
        !cq_kern_set_amx(1)) {
        printf("  skipped: no AMX here (CPU, OS permission, or CALQ_AMX=0)\n");
        cq_kern_set_isa(CQ_ISA_COUNT);
        return 0;
    }
    return 1;
}

typedef struct acase {
    cq_qgemm_params p;
    int8_t *w;
    int32_t *bias, *qm, *sh;
    float *mult;
    uint8_t *x, *res;
    size_t y_bytes;
} acase;

/* Random arrays for c->p: x codes in [xlo, xhi], w in [wlo, whi]; a
 * residual when with_res. */
static void acase_fill(acase *c, kt_rng *r, int xlo, int xhi, int wlo, int whi, int with_res)
{
    cq_qgemm_params *p = &c->p;
    int64_t ldx = p->ldx ? p->ldx : p->k, ldy = p->ldy ? p->ldy : p->n;
    size_t es = p->y_dt == CQ_S32 || p->y_dt == CQ_F32 ? 4 : 1;
    c->w = xalloc((size_t)(p->n * p->k));
    for (int64_t i = 0; i < p->n * p->k; i++)
        c->w[i] = (int8_t)kt_int(r, wlo, whi);
    c->bias = xalloc((size_t)p->n * 4);
    c->mult = xalloc((size_t)p->n * 4);
    c->qm = xalloc((size_t)p->n * 4);
    c->sh = xalloc((size_t)p->n * 4);
    double spread = sqrt((double)p->k) * 128.0 * 64.0;
    for (int64_t j = 0; j < p->n; j++) {
        c->bias[j] = (int32_t)kt_int(r, -5000, 5000);
        c->mult[j] = (float)((0.5 + kt_u32(r) % 1000 / 500.0) * 200.0 / spread);
        c->qm[j] = (int32_t)kt_int(r, 1 << 30, 0x7fffffff);
        c->sh[j] = 31 + (int)ceil(log2(spread / 200.0)) + (int)kt_int(r, -1, 1);
    }
    c->x = xalloc((size_t)(p->m * ldx));
    for (int64_t i = 0; i < p->m * ldx; i++)
        c->x[i] = (uint8_t)kt_int(r, xlo, xhi);
    c->y_bytes = (size_t)(p->m * ldy) * es;
    c->res = NULL;
    if (with_res) {
        c->res = xalloc(c->y_bytes);
        for (size_t i = 0; i < c->y_bytes; i++)
            c->res[i] = (uint8_t)kt_u32(r);
        if (p->y_dt == CQ_F32)
            for (int64_t i = 0; i < p->m * ldy; i++)
                ((float *)c->res)[i] = 3.0f * kt_f(r);
    }
}

static void acase_free(acase *c)
{
    cq_free(c->w);
    cq_free(c->bias);
    cq_free(c->mult);
    cq_free(c->qm);
    cq_free(c->sh);
    cq_free(c->x);
    cq_free(c->res);
}

/* An AMX plan at 1 and 2 threads gives the reference's bytes (and leaves
 * the bytes between rows of a strided y alone). */
static void acase_check(acase *c, const char *what)
{
    cq_err err;
    uint8_t *want = xalloc(c->y_bytes), *got = xalloc(c->y_bytes);
    memset(want, 0xa5, c->y_bytes);
    if (cq_qgemm_ref(&c->p, c->w, c->bias, c->mult, c->qm, c->sh, c->x, want, c->res, &err) !=
        CQ_OK)
        fail_msg("%s: reference: %s", what, err.msg);
    for (int th = 1; th <= 2; th++) {
        cq_kern_set_threads(th);
        cq_qgemm_plan *pl = cq_qgemm_plan_new(&c->p, c->w, c->bias, c->mult, c->qm, c->sh, &err);
        if (!pl)
            fail_msg("%s: plan: %s", what, err.msg);
        /* m = 1 and k <= 16 run VNNI */
        assert_int_equal(cq_qgemm_amx(pl), c->p.m > 1 && c->p.k > 16);
        assert_int_equal(cq_qgemm_isa(pl), CQ_ISA_AVX512);
        size_t sb = cq_qgemm_scratch_bytes(pl);
        void *s = xalloc(sb);
        memset(got, 0xa5, c->y_bytes);
        assert_int_equal(cq_qgemm_run(pl, c->x, got, c->res, s, sb, &err), CQ_OK);
        for (size_t b = 0; b < c->y_bytes; b++)
            if (got[b] != want[b])
                fail_msg("%s: %d threads, m %lld n %lld k %lld: byte %zu is %d, reference %d",
                         what, th, (long long)c->p.m, (long long)c->p.n, (long long)c->p.k, b,
                         got[b], want[b]);
        cq_free(s);
        cq_qgemm_plan_free(pl);
    }
    cq_kern_set_threads(1);
    cq_free(want);
    cq_free(got);
}

static const struct {
    cq_dtype y;
    cq_qgemm_req req;
} outs[] = {{CQ_S32, CQ_QREQ_NONE}, {CQ_F32, CQ_QREQ_NONE},  {CQ_F32, CQ_QREQ_FLOAT},
            {CQ_U8, CQ_QREQ_FLOAT}, {CQ_S8, CQ_QREQ_FLOAT},  {CQ_U8, CQ_QREQ_FIXED},
            {CQ_S8, CQ_QREQ_FIXED}};

static void set_out(cq_qgemm_params *p, size_t o, int64_t salt)
{
    p->y_dt = outs[o].y;
    p->req = outs[o].req;
    p->y_min = 0;
    p->y_max = 255;
    if (p->y_dt == CQ_S8) {
        p->y_min = -128;
        p->y_max = 127;
    }
    if (p->y_dt == CQ_U8 || p->y_dt == CQ_S8) {
        p->y_zp = p->y_dt == CQ_U8 ? 100 : -3;
        if (p->y_dt == CQ_U8)
            p->y_min = 100; /* a Relu on the u8 side */
        p->res_zp = p->y_dt == CQ_U8 ? 128 : 0;
        p->res_mult = 0.75f;
    }
    if (p->y_dt == CQ_F32) {
        p->act.kind = (cq_act_kind)(salt % 3); /* none, relu, clip */
        p->act.a = -20.0f;
        p->act.b = 35.5f;
    }
}

/* Every m, n, k of the lists below against each other would be slow in the
 * reference; each m meets every n once and a k that turns with it. */
static void test_qgemm_amx_shapes(void **state)
{
    (void)state;
    if (!amx_or_skip())
        return;
    kt_rng r = {0x2545f4914f6cdd1dull};
    static const int64_t ms[] = {1, 3, 16, 17, 32, 33, 63, 65, 97, 129, 200};
    static const int64_t ns[] = {1, 3, 16, 17, 32, 63, 65, 129, 300};
    static const int64_t ks[] = {1, 3, 4, 17, 63, 64, 65, 129, 640, 1023, 1025, 2100};
    int64_t count = 0;
    for (size_t a = 0; a < sizeof ms / sizeof ms[0]; a++)
        for (size_t b = 0; b < sizeof ns / sizeof ns[0]; b++) {
            int64_t m = ms[a], n = ns[b], k = ks[(a * 5 + b * 7) % (sizeof ks / sizeof ks[0])];
            if (m * n * k > 4000000) /* keep the reference quick */
                k = ks[(a + b) % 6];
            size_t o = (size_t)(count % (int64_t)(sizeof outs / sizeof outs[0]));
            cq_dtype x_dt = count % 2 ? CQ_S8 : CQ_U8;
            acase c;
            memset(&c, 0, sizeof c);
            c.p = cq_qgemm_params_default();
            c.p.m = m;
            c.p.n = n;
            c.p.k = k;
            c.p.x_dt = x_dt;
            c.p.x_zp = x_dt == CQ_S8 ? (int32_t)kt_int(&r, -20, 20) : (int32_t)kt_int(&r, 0, 40);
            c.p.w_kn = (int)(count % 3 == 1);
            if (count % 4 == 3) { /* row strides wider than the rows */
                c.p.ldx = k + 5;
                c.p.ldy = n + 3;
            }
            set_out(&c.p, o, count);
            int with_res = (outs[o].y == CQ_F32 || outs[o].req == CQ_QREQ_FLOAT) && count % 5 < 2;
            acase_fill(&c, &r, x_dt == CQ_S8 ? -128 : 0, x_dt == CQ_S8 ? 127 : 255, -128, 127,
                       with_res);
            char what[96];
            snprintf(what, sizeof what, "%s x, out %zu%s", x_dt == CQ_S8 ? "s8" : "u8", o,
                     with_res ? " + res" : "");
            acase_check(&c, what);
            acase_free(&c);
            count++;
        }
    cq_kern_set_isa(CQ_ISA_COUNT);
}

/* Every epilogue on one shape with every tail: 2 units of rows, 2 of
 * columns, 2 k blocks. */
static void test_qgemm_amx_every_output(void **state)
{
    (void)state;
    if (!amx_or_skip())
        return;
    kt_rng r = {99};
    for (size_t o = 0; o < sizeof outs / sizeof outs[0]; o++)
        for (int xs = 0; xs < 2; xs++)
            for (int with_res = 0; with_res < 2; with_res++) {
                if (with_res && (outs[o].y == CQ_S32 || outs[o].req == CQ_QREQ_FIXED))
                    continue;
                acase c;
                memset(&c, 0, sizeof c);
                c.p = cq_qgemm_params_default();
                c.p.m = 113;
                c.p.n = 275;
                c.p.k = 1100;
                c.p.x_dt = xs ? CQ_S8 : CQ_U8;
                c.p.x_zp = xs ? -7 : 11;
                set_out(&c.p, o, (int64_t)(o + 2 * (size_t)xs));
                acase_fill(&c, &r, xs ? -128 : 0, xs ? 127 : 255, -128, 127, with_res);
                char what[64];
                snprintf(what, sizeof what, "out %zu, %s x%s", o, xs ? "s8" : "u8",
                         with_res ? ", res" : "");
                acase_check(&c, what);
                acase_free(&c);
            }
    cq_kern_set_isa(CQ_ISA_COUNT);
}

/* The largest products everywhere, with k over two k blocks: sums up to
 * 2100 * 255 * 128 in s32 out. */
static void test_qgemm_amx_extremes(void **state)
{
    (void)state;
    if (!amx_or_skip())
        return;
    kt_rng r = {5};
    static const struct {
        cq_dtype x_dt;
        int x, w;
        int32_t zp;
    } ext[] = {{CQ_U8, 255, -128, 0}, {CQ_U8, 255, 127, 0}, {CQ_U8, 0, -128, 255},
               {CQ_S8, -128, -128, 0}, {CQ_S8, 127, 127, -128}, {CQ_S8, -128, 127, 127},
               {CQ_U8, 255, -128, 255}};
    for (size_t e = 0; e < sizeof ext / sizeof ext[0]; e++) {
        acase c;
        memset(&c, 0, sizeof c);
        c.p = cq_qgemm_params_default();
        c.p.m = 35;
        c.p.n = 49;
        c.p.k = 2100;
        c.p.x_dt = ext[e].x_dt;
        c.p.x_zp = ext[e].zp;
        set_out(&c.p, 0, 0);
        acase_fill(&c, &r, ext[e].x, ext[e].x, ext[e].w, ext[e].w, 0);
        char what[32];
        snprintf(what, sizeof what, "extreme %zu", e);
        acase_check(&c, what);
        acase_free(&c);
    }
    cq_kern_set_isa(CQ_ISA_COUNT);
}

/* cq_kern_set_amx(0) and a lower ISA turn AMX off for new plans; a plan
 * keeps the path it was made with. */
static void test_qgemm_amx_switches(void **state)
{
    (void)state;
    if (!amx_or_skip())
        return;
    kt_rng r = {3};
    acase c;
    memset(&c, 0, sizeof c);
    c.p = cq_qgemm_params_default();
    c.p.m = 40;
    c.p.n = 70;
    c.p.k = 130;
    set_out(&c.p, 3, 0);
    acase_fill(&c, &r, 0, 255, -128, 127, 0);
    cq_err err;
    cq_qgemm_plan *pa = cq_qgemm_plan_new(&c.p, c.w, c.bias, c.mult, c.qm, c.sh, &err);
    assert_non_null(pa);
    assert_true(cq_qgemm_amx(pa));
    assert_int_equal(cq_kern_set_amx(0), 0);
    assert_int_equal(cq_kern_amx(), 0);
    cq_qgemm_plan *pv = cq_qgemm_plan_new(&c.p, c.w, c.bias, c.mult, c.qm, c.sh, &err);
    assert_non_null(pv);
    assert_false(cq_qgemm_amx(pv));
    assert_int_equal(cq_qgemm_isa(pv), CQ_ISA_AVX512);
    uint8_t *ya = xalloc(c.y_bytes), *yv = xalloc(c.y_bytes);
    size_t sa = cq_qgemm_scratch_bytes(pa), sv = cq_qgemm_scratch_bytes(pv);
    void *s = xalloc(sa > sv ? sa : sv);
    assert_int_equal(cq_qgemm_run(pa, c.x, ya, NULL, s, sa, &err), CQ_OK); /* still AMX */
    assert_int_equal(cq_qgemm_run(pv, c.x, yv, NULL, s, sv, &err), CQ_OK);
    assert_memory_equal(ya, yv, c.y_bytes);
    assert_int_equal(cq_kern_set_amx(1), 1);
    assert_int_equal(cq_kern_set_isa(CQ_ISA_AVX2), CQ_ISA_AVX2);
    assert_int_equal(cq_kern_amx(), 0);
    assert_int_equal(cq_kern_set_isa(CQ_ISA_AVX512), CQ_ISA_AVX512);
    assert_int_equal(cq_kern_amx(), 1);
    cq_free(s);
    cq_free(ya);
    cq_free(yv);
    cq_qgemm_plan_free(pa);
    cq_qgemm_plan_free(pv);
    acase_free(&c);
    cq_kern_set_isa(CQ_ISA_COUNT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qgemm_amx_shapes),
        cmocka_unit_test(test_qgemm_amx_every_output),
        cmocka_unit_test(test_qgemm_amx_extremes),
        cmocka_unit_test(test_qgemm_amx_switches),
    };
    return cmocka_run_group_tests_name("kern_qgemm_amx", tests, NULL, NULL);
}
