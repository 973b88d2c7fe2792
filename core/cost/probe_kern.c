/* probe_kern.c - calq's own kernels on reference shapes, for the efficiency
 * factors of a probed profile, and the conversion throughputs.
 *
 * Each class runs the kernel the executor calls for it (kern.h, kern_qconv.h,
 * kern_qgemm.h, kern_bgemm.h, kern_qelt.h) on one thread, the way the
 * executor runs it (layout, fused Relu), on generic shapes (a ResNet-style
 * stage's 3x3 64 > 64 and 1x1 256 > 64 at 56 x 56, grouped 3x3s, the
 * 3-channel stems, a depthwise 144 at 56 x 56, a 256 x 512 x 512 GEMM; no
 * model's own layers), and reports MACs (or bytes for eltwise) and the best
 * time; the caller divides by the peak the `peak` field names (the Lua
 * probe, which measured the peaks). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <stdio.h>

#include "base/tensor.h"
#include "exec/exec.h"
#include "graph/graph.h"
#include "cost/probe_internal.h"
#include "kern/kern.h"
#include "kern/kern_bgemm.h"
#include "kern/kern_qconv.h"
#include "kern/kern_qgemm.h"

/* Best time of fn over about ms (at least 3 runs, after one warm run). */
double cq__probe_best_time(cq__probe_fn fn, void *ctx, double ms, cq_err *err)
{
    if (fn(ctx, err) != CQ_OK)
        return -1;
    return cq__probe_best_prep(fn, NULL, ctx, ms, err);
}

double cq__probe_best_prep(cq__probe_fn fn, void (*prep)(void *ctx), void *ctx, double ms,
                           cq_err *err)
{
    double best = 1e30, spent = 0;
    for (int r = 0; r < 1000 && (r < 3 || spent < ms * 1e-3); r++) {
        if (prep)
            prep(ctx);
        double t0 = cq_probe_now();
        if (fn(ctx, err) != CQ_OK)
            return -1;
        double t = cq_probe_now() - t0;
        spent += t;
        best = t < best ? t : best;
    }
    return best;
}

void cq__probe_fill_f32(float *p, size_t n, float scale)
{
    uint32_t s = 12345;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        p[i] = scale * ((float)(s >> 8) / 16777216.0f - 0.5f);
    }
}

void cq__probe_fill_8(void *p, size_t n)
{
    uint8_t *b = p;
    uint32_t s = 777;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        b[i] = (uint8_t)(s >> 24) & 0x7f;
    }
}

/* ---- fp32 / bf16 convolution (cq_conv2d) ---- */

typedef struct conv_ctx {
    cq_conv2d_plan *pl;
    float *x, *y;
    size_t xn, yn, sn;
    void *scratch;
} conv_ctx;

static cq_status conv_run(void *c, cq_err *err)
{
    conv_ctx *k = c;
    return cq_conv2d_run(k->pl, k->x, k->xn, k->y, k->yn, k->scratch, k->sn, err);
}

/* seconds of one fp32 (CONV_BF16: bf16) conv as the executor runs it: Relu
 * fused, and NCHW16c in and out where cq_conv2d reads and writes it natively
 * (the executor keeps values between such convolutions blocked,
 * exec_plan.c), else (or with CONV_NCHW) NCHW; macs out */
double cq__probe_time_conv(conv_ref r, int flags, double ms, double *macs, cq_err *err)
{
    cq_conv2d_params p = cq_conv2d_params_default();
    p.n = 1;
    p.c_in = r.c_in;
    p.c_out = r.c_out;
    p.h = p.w = r.hw;
    p.kh = p.kw = r.k;
    p.groups = r.groups;
    p.stride_h = p.stride_w = r.stride;
    p.dil_h = p.dil_w = (flags & CONV_DIL2) ? 2 : 1;
    p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = p.dil_w * (r.k / 2);
    p.act.kind = (flags & CONV_SILU) ? CQ_ACT_SILU : CQ_ACT_RELU;
    p.bf16 = (flags & CONV_BF16) != 0;
    p.x_blocked = p.y_blocked = 1;
    if ((flags & CONV_NCHW) || !cq_conv2d_blocked_native(&p))
        p.x_blocked = p.y_blocked = 0;
    int64_t oh, ow;
    if (cq_conv2d_out_shape(&p, &oh, &ow, err))
        return -1;
    size_t wn = (size_t)(r.c_out * (r.c_in / r.groups) * r.k * r.k);
    conv_ctx c = {0};
    c.xn = (size_t)(r.c_in * r.hw * r.hw);
    c.yn = (size_t)(r.c_out * oh * ow);
    float *w = cq_alloc(wn * sizeof(float));
    c.x = cq_alloc(c.xn * sizeof(float));
    c.y = cq_alloc(c.yn * sizeof(float));
    double t = -1;
    if (!w || !c.x || !c.y) {
        cq_errf(err, CQ_ENOMEM, "probe: no memory for the conv's tensors");
        goto out;
    }
    cq__probe_fill_f32(w, wn, 0.1f);
    cq__probe_fill_f32(c.x, c.xn, 1.0f);
    c.pl = cq_conv2d_plan_new(&p, w, wn, NULL, 0, err);
    if (!c.pl)
        goto out;
    c.sn = cq_conv2d_scratch_bytes(c.pl);
    c.scratch = c.sn ? cq_alloc(c.sn) : NULL;
    if (c.sn && !c.scratch) {
        cq_errf(err, CQ_ENOMEM, "probe: no memory for the conv's scratch");
        goto out;
    }
    t = cq__probe_best_time(conv_run, &c, ms, err);
    *macs = (double)c.yn * (double)(r.c_in / r.groups) * (double)(r.k * r.k);
out:
    cq_conv2d_plan_free(c.pl);
    cq_free(c.scratch);
    cq_free(w);
    cq_free(c.x);
    cq_free(c.y);
    return t;
}

/* The sums of MACs and seconds of n reference convs (time_conv); -1 on failure. */
static double time_convs(const conv_ref *r, int n, int flags, double ms, double *macs, cq_err *err)
{
    double t = 0, m;
    *macs = 0;
    for (int i = 0; i < n; i++) {
        double ti = cq__probe_time_conv(r[i], flags, ms, &m, err);
        if (ti < 0)
            return -1;
        t += ti;
        *macs += m;
    }
    return t;
}

/* The fp32 grouped path (kern_convgr_avx512.c: direct, pixels in lanes
 * over flat rows) as cost_kernel.c costs it: its MACs over the lanes' fill
 * (oh ow outputs over oh wq positions rounded up to 16: grp_fill) and a
 * fixed cost a group (its phase planes filled, its sums copied out). The
 * same 3x3 conv of 128 channels in 16 groups at 28x28, 14x14 and 7x7: T =
 * a U + c g, least squares over the three, the MAC part no faster than the
 * FMA peak. Returns a U summed with U's sum in *macs and c in *grp_s; where
 * the fit fails or c is not positive, the whole time over U (c = 0). The
 * strided kernel (f32_grp_s2) is the same conv at stride 2 on 28x28: *s2_s
 * its time less its groups at c, *s2_macs its fill-adjusted MACs. */
static double time_grp(double ms, double *macs, double *grp_s, double *s2_macs, double *s2_s,
                       cq_err *err)
{
    static const int64_t hw[3] = {28, 14, 7};
    const int64_t c = 128, g = 16, k = 3;
    double t[3], mm[3], m;
    /* the shapes in interleaved passes, each's best (as the other fits) */
    for (int pass = 0; pass < CQ_PROBE_FIT_PASSES; pass++)
        for (int i = 0; i < 3; i++) {
            double ti = cq__probe_time_conv((conv_ref){c, c, k, hw[i], g, 1}, 0,
                                            ms / CQ_PROBE_FIT_PASSES, &mm[i], err);
            if (ti < 0)
                return -1;
            t[i] = pass == 0 || ti < t[i] ? ti : t[i];
        }
    double x[3][3] = {{0}}, ab[2] = {0, 0};
    *macs = 0;
    for (int i = 0; i < 3; i++) {
        /* pad 1: flat rows of hw + 2 */
        double p = (double)(hw[i] * hw[i]), flat = ceil((double)(hw[i] * (hw[i] + 2)) / 16) * 16;
        x[i][0] = mm[i] / (p / flat);
        x[i][1] = (double)g;
        *macs += x[i][0];
    }
    int fit = cq__probe_lsq(3, 2, (const double(*)[3])x, t, ab) == 0;
    if (fit)
        cq__probe_fit_capped(3, 2, (const double(*)[3])x, t,
                             cq_probe_chain_ok(CQ_PROBE_FMA_F32)
                                 ? cq_probe_chain_rate(CQ_PROBE_FMA_F32, 10, 3)
                                 : 0,
                             ab);
    double t2 = cq__probe_time_conv((conv_ref){c, c, k, 28, g, 2}, 0, ms, &m, err);
    if (t2 < 0)
        return -1;
    /* 14x14 outputs over flat rows of 15 (30 padded columns at stride 2) */
    *s2_macs = m / (196.0 / 224.0);
    if (!fit || ab[0] <= 0 || ab[1] <= 0) {
        *grp_s = 0;
        *s2_s = t2;
        return t[0] + t[1] + t[2];
    }
    *grp_s = ab[1];
    *s2_s = t2 - ab[1] * (double)g;
    if (*s2_s <= 0)
        *s2_s = t2;
    return ab[0] * *macs;
}

/* ---- the fits: a kernel's time as a MAC part and per-unit parts ---- */

/* Useful fraction of n items in tiles of t (cost_kernel.c's fill). */
static double pfill(int64_t n, int64_t t)
{
    return n <= 0 || t <= 1 ? 1.0 : (double)n / (double)(((n + t - 1) / t) * t);
}

/* Five generic shapes (none a model's own layer): 3x3s at 40x40 and 20x20
 * and two 1x1s at 40x40 (many MACs an element, many in, many out) and a
 * narrow 3x3 on a larger map (tile padding and per-pixel work). */
#define NFIT 5
static const conv_ref fit_ref[NFIT] = {{64, 64, 3, 40, 1, 1},   {128, 128, 3, 20, 1, 1},
                                       {256, 64, 1, 40, 1, 1},  {64, 256, 1, 40, 1, 1},
                                       {16, 16, 3, 96, 1, 1}};
#define FIT_SHAPES "3x3 64>64 at 40x40, 128>128 at 20x20, 1x1 256>64, 64>256 at 40x40, 3x3 16>16 at 96x96"
/* bf16's (AMX): the same but 3x3 64>256 at 20x20 for the 128>128, so that
 * no shape's channel-pair weight slice (2 KiB a k step: 72 KiB for 128
 * input channels at 3x3) outgrows L1: cost_kernel.c adds the re-reads of
 * larger slices from L2 (tile_bytes) on top of this fit */
static const conv_ref fit_ref_bf16[NFIT] = {{64, 64, 3, 40, 1, 1},  {64, 256, 3, 20, 1, 1},
                                            {256, 64, 1, 40, 1, 1}, {64, 256, 1, 40, 1, 1},
                                            {16, 16, 3, 96, 1, 1}};
#define FIT_SHAPES_BF16 "3x3 64>64 at 40x40, 64>256 at 20x20, 1x1 256>64, 64>256 at 40x40, 3x3 16>16 at 96x96"

/* The fp32 and bf16 (flags CONV_BF16: fit_ref_bf16) convs on fit_ref as cost_kernel.c
 * costs them: their MACs over the tile fill at a rate, bf16 plus a cost an
 * element in or out. bf16 on AMX: fill(ow, 16) x fill(c_out, 16) x
 * fill(c_in, 32), the elements it rounds into its channel-last buffer with
 * c_in padded to 32; vdpbf16ps: 7 pixels x 32 | 48 channels (a 16-channel
 * panel where c_out <= 16, 7/8 of its rate, as fp32's), k in pairs; least
 * squares for the two, the MAC part held at the instruction's peak where
 * the fit makes it faster (cq__probe_fit_capped). fp32 (the pixel-major
 * kernel): 7 pixels of a row x a 16-channel panel (7/8 of its rate, load-bound) where c_out <= 16,
 * else 32 | 48; a 1x1 the channel-major 8 x 48 tiles where they waste fewer
 * lanes; one rate, the five shapes' time over their tile-adjusted MACs (the
 * kernel reads its input in place or copies its rows once: a cost an
 * element fitted beside the rate came out 0.03-0.10 ns between probes, the
 * shapes' noise, bench/NOTES.md). Returns the MAC part's seconds
 * (tile-adjusted MACs in *macs), the element's seconds in *elem_s; where
 * the fit fails, the whole time over the MACs and *elem_s 0. */
static double time_conv_fit(int flags, double ms, int amx, double *macs, double *elem_s,
                            cq_err *err)
{
    double x[NFIT][3], t[NFIT], mm[NFIT], c[2], sum_u = 0, sum_t = 0;
    int bf16 = (flags & CONV_BF16) != 0;
    for (int pass = 0; pass < CQ_PROBE_FIT_PASSES; pass++)
        for (int i = 0; i < NFIT; i++) {
            double ti = cq__probe_time_conv(bf16 ? fit_ref_bf16[i] : fit_ref[i], flags,
                                            ms / CQ_PROBE_FIT_PASSES, &mm[i], err);
            if (ti < 0)
                return -1;
            t[i] = pass == 0 || ti < t[i] ? ti : t[i];
        }
    for (int i = 0; i < NFIT; i++) {
        conv_ref r = bf16 ? fit_ref_bf16[i] : fit_ref[i];
        double m = mm[i];
        int64_t pix = r.hw * r.hw, k = r.c_in * r.k * r.k;
        double chan = r.c_out <= 16 ? pfill(r.c_out, 16) * 7.0 / 8.0
                                    : fmax(pfill(r.c_out, 32), pfill(r.c_out, 48));
        double pm = pfill(r.hw, 7) * chan;
        if (r.c_out % 64 == 0 && pfill(pix, 6) * 1.07 > pfill(r.hw, 7))
            pm = pfill(pix, 6); /* flat64: 6 pixels x 64 channels across rows */
        double f = !bf16 ? (r.k == 1 ? fmax(pm, pfill(r.c_out, 8) * pfill(pix, 16)) : pm)
                   : amx ? pfill(r.hw, 16) * pfill(r.c_out, 16) * pfill(r.c_in, 32)
                         : pfill(pix, 7) * chan * pfill(k, 2);
        int64_t cin = bf16 && amx ? (r.c_in + 31) / 32 * 32 : r.c_in;
        x[i][0] = m / f;
        x[i][1] = (double)(cin * pix + r.c_out * pix);
        sum_u += x[i][0];
        sum_t += t[i];
    }
    *macs = sum_u;
    if (!bf16 || cq__probe_lsq(NFIT, 2, (const double(*)[3])x, t, c)) {
        *elem_s = 0;
        return sum_t;
    }
    /* the MAC part no faster than the bf16 instruction's peak */
    cq_probe_chain ch = amx ? CQ_PROBE_AMX_BF16 : CQ_PROBE_DOT_BF16;
    cq__probe_fit_capped(NFIT, 2, (const double(*)[3])x, t,
                         cq_probe_chain_ok(ch) ? cq_probe_chain_rate(ch, 10, 3) : 0, c);
    *elem_s = c[1];
    return c[0] * sum_u;
}

/* ---- int8 GEMM and convolution ---- */

typedef struct q_ctx {
    cq_qgemm_plan *g;
    cq_qconv2d_plan *c;
    void *x, *y, *res, *scratch;
    size_t sn;
} q_ctx;

static cq_status q_run(void *ctx, cq_err *err)
{
    q_ctx *q = ctx;
    if (q->g)
        return cq_qgemm_run(q->g, q->x, q->y, NULL, q->scratch, q->sn, err);
    return cq_qconv2d_run(q->c, q->x, q->y, q->res, q->scratch, q->sn, err);
}

#define Q_GEMM 1 /* a GEMM */
#define Q_RES 2  /* a conv with a residual added (QLinearAdd fused) */
#define Q_NCHW 4 /* a conv with NCHW in and out (converted in the kernel's scratch) */
#define Q_CHUNK 8 /* a depthwise 3x3/1 on 64-channel chunks, not flat rows (kern_qconv.h) */

/* flags Q_GEMM: a GEMM m x n x k; else a conv c_in = m, c_out = n, kernel k
 * at hw x hw, groups, stride, NHWC in and out (the executor's int8 layout),
 * with Q_RES a residual (NHWC) added. amx out: the plan runs tiles. */
static double time_q(int flags, int64_t m, int64_t n, int64_t k, int64_t hw, int64_t groups,
                     int64_t stride, double ms, double *macs, int *amx, cq_err *err)
{
    int64_t ohw = stride > 0 ? (hw + 2 * (k / 2) - k) / stride + 1 : hw;
    q_ctx q = {0};
    size_t wn, xn, yn, cn;
    double t = -1;
    int8_t *w = NULL;
    float *mult = NULL;
    int gemm = flags & Q_GEMM;
    if (gemm) {
        wn = (size_t)(n * k);
        xn = (size_t)(m * k);
        yn = (size_t)(m * n);
        cn = (size_t)n;
    } else {
        wn = (size_t)(n * (m / groups) * k * k);
        xn = (size_t)(m * hw * hw);
        yn = (size_t)(n * ohw * ohw);
        cn = (size_t)n;
    }
    w = malloc(wn);
    mult = malloc(cn * sizeof *mult);
    q.x = cq_alloc(xn);
    q.y = cq_alloc(yn);
    q.res = flags & Q_RES ? cq_alloc(yn) : NULL;
    if (!w || !mult || !q.x || !q.y || (!q.res && (flags & Q_RES))) {
        cq_errf(err, CQ_ENOMEM, "probe: no memory for the int8 kernel");
        goto out;
    }
    cq__probe_fill_8(w, wn);
    cq__probe_fill_8(q.x, xn);
    for (size_t i = 0; i < cn; i++)
        mult[i] = 1e-4f;
    if (gemm) {
        cq_qgemm_params p = cq_qgemm_params_default();
        p.m = m;
        p.n = n;
        p.k = k;
        q.g = cq_qgemm_plan_new(&p, w, NULL, mult, NULL, NULL, err);
        if (!q.g)
            goto out;
        q.sn = cq_qgemm_scratch_bytes(q.g);
        *amx = cq_qgemm_amx(q.g);
        *macs = (double)m * (double)n * (double)k;
    } else {
        cq_qconv2d_params p = cq_qconv2d_params_default();
        p.c.n = 1;
        p.c.c_in = m;
        p.c.c_out = n;
        p.c.h = p.c.w = hw;
        p.c.kh = p.c.kw = k;
        p.c.groups = groups;
        p.c.stride_h = p.c.stride_w = stride;
        p.c.pad_top = p.c.pad_left = p.c.pad_bottom = p.c.pad_right = k / 2;
        p.x_nhwc = p.y_nhwc = p.res_nhwc = !(flags & Q_NCHW); /* the executor's int8 layout */
        if (flags & Q_RES) {
            cq__probe_fill_8(q.res, yn);
            p.add = (cq_qconv2d_add){.on = 1, .q_min = 0, .q_max = 255, .ra = 0.5f, .rb = 0.5f};
        }
        p.dw_chunks = (flags & Q_CHUNK) != 0;
        q.c = cq_qconv2d_plan_new(&p, w, NULL, mult, err);
        if (!q.c)
            goto out;
        q.sn = cq_qconv2d_scratch_bytes(q.c);
        /* the GEMM paths (gemm1x1, igemm) run the int8 GEMM's units, tiles
         * where it runs them; depthwise and grp are vpdpbusd kernels */
        const char *path = cq_qconv2d_path(q.c);
        *amx = groups == 1 && cq_kern_amx() && (strcmp(path, "gemm1x1") == 0 || strcmp(path, "igemm") == 0);
        *macs = (double)yn * (double)(m / groups) * (double)(k * k);
    }
    q.scratch = q.sn ? cq_alloc(q.sn) : NULL;
    if (q.sn && !q.scratch) {
        cq_errf(err, CQ_ENOMEM, "probe: no memory for the int8 kernel's scratch");
        goto out;
    }
    t = cq__probe_best_time(q_run, &q, ms, err);
out:
    cq_qgemm_plan_free(q.g);
    cq_qconv2d_plan_free(q.c);
    cq_free(q.scratch);
    cq_free(q.x);
    cq_free(q.y);
    cq_free(q.res);
    free(w);
    free(mult);
    return t;
}

/* The int8 conv's GEMM paths (gemm1x1, igemm) as cost_kernel.c costs
 * them: MACs over the tile fill (AMX: 16 pixels x 16 channels x 64 deep;
 * vpdpbusd: 16 channels x 4 deep) at a rate, plus a cost an output
 * (requantized and stored) and one an input row the implicit GEMM gathers
 * (kh a pixel; none for the 1x1s, which read the input in place). Least
 * squares over fit_ref in NHWC; returns the MAC part's seconds
 * (tile-adjusted MACs in *macs), *out_s and *row_s; where the fit fails,
 * the whole time over the MACs and both 0. *amx: every shape ran tiles. */
static double time_qconv_fit(double ms, double *macs, double *out_s, double *row_s, int *amx,
                             cq_err *err)
{
    double x[NFIT][3], t[NFIT], mm[NFIT], c[3], sum_u = 0, sum_t = 0;
    int all = 1, a, aa[NFIT];
    for (int pass = 0; pass < CQ_PROBE_FIT_PASSES; pass++)
        for (int i = 0; i < NFIT; i++) {
            conv_ref r = fit_ref[i];
            double ti = time_q(0, r.c_in, r.c_out, r.k, r.hw, 1, 1, ms / CQ_PROBE_FIT_PASSES,
                               &mm[i], &aa[i], err);
            if (ti < 0)
                return -1;
            t[i] = pass == 0 || ti < t[i] ? ti : t[i];
        }
    for (int i = 0; i < NFIT; i++) {
        conv_ref r = fit_ref[i];
        double m = mm[i];
        a = aa[i];
        all &= a;
        int64_t pix = r.hw * r.hw, k = r.c_in * r.k * r.k;
        double f = a ? pfill(pix, 16) * pfill(r.c_out, 16) * pfill(k, 64)
                     : pfill(r.c_out, 16) * pfill(k, 4);
        x[i][0] = m / f;
        x[i][1] = (double)(r.c_out * pix);
        /* the pixels gathered: all of them, or the edges where AVX-512
         * VNNI reads the rows in place (cq_qconv2d_gathered) */
        int64_t gp = pix;
        if (r.k > 1 && !a && cq_kern_isa_s8() == CQ_ISA_AVX512) {
            cq_conv2d_params cp = cq_conv2d_params_default();
            cp.n = 1;
            cp.c_in = r.c_in;
            cp.c_out = r.c_out;
            cp.h = cp.w = r.hw;
            cp.kh = cp.kw = r.k;
            cp.pad_top = cp.pad_left = cp.pad_bottom = cp.pad_right = r.k / 2;
            int64_t e = cq_qconv2d_gathered(&cp);
            gp = e >= 0 ? e : pix;
        }
        x[i][2] = r.k > 1 ? (double)(gp * r.k * ((r.c_out + 255) / 256)) : 0;
        sum_u += x[i][0];
        sum_t += t[i];
    }
    *amx = all;
    *macs = sum_u;
    if (cq__probe_lsq(NFIT, 3, (const double(*)[3])x, t, c)) {
        *out_s = *row_s = 0;
        return sum_t;
    }
    /* The MAC part cannot outrun the instruction's own peak (its chain,
     * measured here): cq__probe_fit_capped */
    cq_probe_chain ch = all ? CQ_PROBE_AMX_S8
                            : cq_probe_chain_ok(CQ_PROBE_DOT_S8) ? CQ_PROBE_DOT_S8
                                                                 : CQ_PROBE_S8_NOVNNI;
    double peak = cq_probe_chain_ok(ch) ? cq_probe_chain_rate(ch, 10, 3) : 0;
    cq__probe_fit_capped(NFIT, 3, (const double(*)[3])x, t, peak, c);
    *out_s = c[1];
    *row_s = c[2];
    return c[0] * sum_u;
}

/* A unit priced by the difference of two timings (s8_res, s8_nchw,
 * bf16_nchw) takes each from UNIT_PAIRS more rounds that time the two side
 * by side, the fastest of each kept: measured minutes apart, a shift in the
 * host's speed between them moved s8_res from 0.153 to 0.090 ns and
 * bf16_nchw from 0.145 to 0.296 from one probe to the next (BlazeFace int8
 * and bf16 -10 and +11 %; bench/NOTES.md, session 18). */
#define UNIT_PAIRS 2

/* Seconds of one measure for pair_again: the bf16 ResNet pair (time_convs)
 * or one int8 conv (time_q), with flags. */
static double pair_convs(const conv_ref *r, int flags, double ms, cq_err *err)
{
    double m;
    return time_convs(r, 2, flags, ms, &m, err);
}

static double pair_q(const conv_ref *r, int flags, double ms, cq_err *err)
{
    double m;
    int amx;
    return time_q(flags, r->c_in, r->c_out, r->k, r->hw, r->groups, r->stride, ms, &m, &amx, err);
}

/* r timed by t with flags fa and fb side by side, UNIT_PAIRS times: *ta and
 * *tb the fastest of each (and of what they held). */
static int pair_again(double (*t)(const conv_ref *, int, double, cq_err *), const conv_ref *r,
                      int fa, int fb, double ms, double *ta, double *tb, cq_err *err)
{
    for (int i = 0; i < UNIT_PAIRS; i++) {
        double a = t(r, fa, ms / 2, err), b = a < 0 ? -1 : t(r, fb, ms / 2, err);
        if (b < 0)
            return -1;
        *ta = fmin(*ta, a);
        *tb = fmin(*tb, b);
    }
    return 0;
}

int cq_probe_kernels(cq_probe_kern *out, int max, double ms, cq_err *err)
{
    int n = 0, amx = 0, amx1 = 0;
    double m1 = 0, m2 = 0, t1, t2;
#define ADD(nm, sh, mm, tt, pk)                                                                 \
    do {                                                                                       \
        if (n < max)                                                                           \
            out[n++] = (cq_probe_kern){nm, sh, mm, tt, pk, 0, NULL, 0, NULL, 0, NULL, 0};                  \
    } while (0)
    /* a class's fixed cost a call: the same kernel on a 1x1 map of 16
     * channels, where the arithmetic is a few ns (t: seconds, < 0 failed) */
#define CALL(t)                                                                                \
    do {                                                                                       \
        double tc_ = (t);                                                                      \
        if (tc_ < 0)                                                                           \
            return -1;                                                                         \
        if (n > 0)                                                                             \
            out[n - 1].call_s = tc_;                                                           \
    } while (0)
    double cm, cms = ms / 4;
    /* generic shapes, none a model's own layer: a 3x3 and a 1x1 of a
     * ResNet-style stage; a grouped 3x3 of 8 channels a group (time_grp);
     * the 3-channel stems at 224 (3x3 and 7x7, stride 2) */
    static const conv_ref conv[2] = {{64, 64, 3, 56, 1, 1}, {256, 64, 1, 56, 1, 1}};
    static const conv_ref stem[2] = {{3, 32, 3, 224, 1, 2}, {3, 64, 7, 224, 1, 2}};
    static const conv_ref dw = {144, 144, 3, 56, 144, 1};
    /* fp32 conv (the pixel-major implicit GEMM): one rate over the fit's
     * five shapes at the kernel's tile fill */
    double elem_s = 0;
    if ((t1 = time_conv_fit(0, ms, 0, &m1, &elem_s, err)) < 0)
        return -1;
    ADD("f32_conv", FIT_SHAPES ", Relu, NCHW16c", m1, t1, "f32");
    CALL(cq__probe_time_conv((conv_ref){16, 16, 1, 1, 1, 1}, 0, cms, &cm, err));
    if (cq__probe_act_exp(n > 0 ? &out[n - 1] : NULL, "f32_act_exp",
                          (conv_ref){64, 64, 1, 56, 1, 1}, cms, err))
        return -1;
    double grp_s = 0;
    if ((t1 = time_grp(ms, &m1, &grp_s, &m2, &t2, err)) < 0)
        return -1;
    ADD("f32_grp", "3x3 128 g16 at 28x28, 14x14, 7x7, Relu: its tiles (a group's fill and "
        "copy-out apart)", m1, t1, "f32");
    out[n - 1].call_s = grp_s;
    ADD("f32_grp_s2", "3x3/2 128 g16 at 28x28, Relu: its tiles", m2, t2, "f32");
    if ((t1 = time_convs(stem, 2, 0, ms, &m1, err)) < 0)
        return -1;
    ADD("f32_stem", "3x3/2 3>32 + 7x7/2 3>64 at 224, Relu", m1, t1, "f32");
    CALL(cq__probe_time_conv((conv_ref){3, 16, 3, 1, 1, 1}, 0, cms, &cm, err));
    /* the plane kernel's rows of 56 fill 56 / 64 of its 16-lane vectors:
     * the MACs over that, as cost_kernel.c divides (so the estimator gives
     * the reference shape its measured time; likewise below for s8_dw,
     * s8_dw_s2 and s8_grp, whose reference shapes do not fill their tiles) */
    if ((t1 = time_convs(&dw, 1, 0, ms, &m1, err)) < 0)
        return -1;
    ADD("f32_dw", "dw 3x3 144 56x56, Relu, NCHW16c, MACs over the tile fill", m1 / pfill(56, 16), t1, "f32");
    CALL(cq__probe_time_conv((conv_ref){16, 16, 3, 1, 16, 1}, 0, cms, &cm, err));
    if (cq__probe_act_exp(n > 0 ? &out[n - 1] : NULL, "f32_dw_act_exp", dw, cms, err))
        return -1;
    double dw_elem_s = 0;
    if ((t1 = cq__probe_dwcb_fit(ms, &m1, &dw_elem_s, err)) < 0)
        return -1;
    ADD("f32_dw_cb", DWCB_SHAPES ", Relu, NCHW16c: the MAC part", m1, t1, "f32");
    out[n - 1].unit = dw_elem_s > 0 ? "f32_dw_elem" : NULL;
    out[n - 1].unit_s = dw_elem_s;
    if ((t1 = cq__probe_time_gemm(256, 512, 512, ms, &m1, err)) < 0)
        return -1;
    ADD("f32_gemm", "256x512x512", m1, t1, "f32");
    CALL(cq__probe_time_gemm(1, 16, 16, cms, &cm, err));

    int bf16_hw = cq_bgemm_native();
    if ((t1 = cq__probe_time_bgemm(256, 512, 512, ms, &m1, &amx, err)) < 0)
        return -1;
    ADD("bf16_gemm", "256x512x512", m1, t1, amx ? "amx_bf16" : bf16_hw ? "bf16" : "f32");
    CALL(cq__probe_time_bgemm(1, 16, 16, cms, &cm, &amx1, err));
    amx = cq_kern_amx() && cq_probe_chain_ok(CQ_PROBE_AMX_BF16);
    elem_s = 0;
    if ((t1 = time_conv_fit(CONV_BF16, ms, amx, &m1, &elem_s, err)) < 0)
        return -1;
    ADD("bf16_conv", FIT_SHAPES_BF16 ", Relu, NCHW16c: the MAC part", m1, t1, amx ? "amx_bf16" : bf16_hw ? "bf16" : "f32");
    CALL(cq__probe_time_conv((conv_ref){16, 16, 1, 1, 1, 1}, CONV_BF16, cms, &cm, err));
    /* the ResNet pair with NCHW in and out against NCHW16c (where the
     * executor does not keep the blocked layout: channels no multiple of
     * 16, a neighbour without it): the kernel converts its input, a cost an
     * input element (the two shapes agree on it, not on a cost a MAC) */
    if ((t1 = time_convs(conv, 2, CONV_BF16, ms, &m1, err)) < 0 ||
        (t2 = time_convs(conv, 2, CONV_BF16 | CONV_NCHW, ms, &m2, err)) < 0 ||
        pair_again(pair_convs, conv, CONV_BF16, CONV_BF16 | CONV_NCHW, ms, &t1, &t2, err))
        return -1;
    if (t2 > t1 && n > 0) {
        out[n - 1].unit2 = "bf16_nchw";
        out[n - 1].unit2_s = (t2 - t1) / (double)(64 * 56 * 56 + 256 * 56 * 56);
    }
    if (elem_s > 0 && n > 0) {
        out[n - 1].unit = "bf16_elem";
        out[n - 1].unit_s = elem_s;
    }

    const char *vec_s8 = cq_probe_chain_ok(CQ_PROBE_DOT_S8) ? "s8" : "s8_novnni";
    double out_s = 0, srow_s = 0;
    if ((t1 = time_qconv_fit(ms, &m1, &out_s, &srow_s, &amx1, err)) < 0)
        return -1;
    ADD("s8_conv", FIT_SHAPES ", NHWC: the MAC part", m1, t1, amx1 ? "amx_s8" : vec_s8);
    CALL(time_q(0, 64, 64, 1, 1, 1, 1, cms, &cm, &amx1, err));
    if (out_s > 0 && n > 0) {
        out[n - 1].unit = "s8_out";
        out[n - 1].unit_s = out_s;
        out[n - 1].unit2 = "s8_row";
        out[n - 1].unit2_s = srow_s;
    }
    /* AMX reads a 1x1's input tiles in place only where its channels fill
     * whole 64-byte rows; else each row panel is copied to scratch first,
     * padded (kern_qgemm_amx.c): 1x1 96>64 against 128>64 at 64x64, the same
     * padded K and tiles, the difference over the bytes copied */
    if (amx1 && n > 0) {
        if ((t1 = time_q(0, 96, 64, 1, 64, 1, 1, ms, &m1, &amx1, err)) < 0 ||
            (t2 = time_q(0, 128, 64, 1, 64, 1, 1, ms, &m2, &amx1, err)) < 0)
            return -1;
        out[n - 1].unit3 = "s8_acopy";
        out[n - 1].unit3_s = t1 > t2 ? (t1 - t2) / (128.0 * 64 * 64) : 0;
    }
    /* the grp path: groups, the stems, 1x1s of <= 32 input channels */
    double t3, m3;
    if ((t1 = time_q(0, 128, 128, 3, 28, 16, 1, ms, &m1, &amx1, err)) < 0 ||
        (t2 = time_q(0, 256, 256, 3, 14, 16, 1, ms, &m2, &amx1, err)) < 0)
        return -1;
    /* every lane used: 8 channels a group run in lane mode (each lane its
     * own group's input quad), 16 a group fill the vector */
    ADD("s8_grp", "3x3 128 g16 28x28 + 3x3 256 g16 14x14, NHWC", m1 + m2, t1 + t2, vec_s8);
    CALL(time_q(0, 16, 16, 1, 1, 1, 1, cms, &cm, &amx1, err));
    /* the stems on the same path, a class of their own as f32_stem is:
     * three input channels a pixel, K 27 or 147 in quads (27 / 28, 147 /
     * 148 of the lanes), a large map of outputs */
    if ((t1 = time_q(0, 3, 32, 3, 224, 1, 2, ms, &m1, &amx1, err)) < 0 ||
        (t3 = time_q(0, 3, 64, 7, 224, 1, 2, ms, &m3, &amx1, err)) < 0)
        return -1;
    ADD("s8_stem", "3x3/2 3>32 + 7x7/2 3>64 at 224, NHWC, MACs over the tile fill",
        m1 / pfill(27, 4) + m3 / pfill(147, 4), t1 + t3, vec_s8);
    CALL(time_q(0, 3, 16, 3, 1, 1, 1, cms, &cm, &amx1, err));
    /* the grp path's narrow 1x1s (<= 32 input channels), a class of their
     * own: a pixel's few products are outweighed by its loads and stores;
     * and the residual a fused QLinearAdd adds, an output apart (the 32>32
     * with and without it) */
    if ((t1 = time_q(0, 32, 32, 1, 64, 1, 1, ms, &m1, &amx1, err)) < 0 ||
        (t2 = time_q(0, 16, 16, 1, 96, 1, 1, ms, &m2, &amx1, err)) < 0 ||
        (t3 = time_q(Q_RES, 32, 32, 1, 64, 1, 1, ms, &m3, &amx1, err)) < 0)
        return -1;
    /* t1 again beside t3: their difference is s8_res */
    if (pair_again(pair_q, &(conv_ref){32, 32, 1, 64, 1, 1}, 0, Q_RES, ms, &t1, &t3, err))
        return -1;
    ADD("s8_grp1", "1x1 32>32 at 64x64 + 1x1 16>16 at 96x96, NHWC", m1 + m2, t1 + t2, vec_s8);
    CALL(time_q(0, 16, 16, 1, 1, 1, 1, cms, &cm, &amx1, err));
    if (t3 > t1 && n > 0) {
        out[n - 1].unit = "s8_res";
        out[n - 1].unit_s = (t3 - t1) / (32.0 * 64 * 64);
    }
    /* 64-channel chunks a pixel (144: two and a 16-channel tail), as the
     * depthwise 3x3/1s the flat rows do not take (channels a multiple of
     * 64, a residual), and the strided ones */
    if ((t1 = time_q(Q_CHUNK, 144, 144, 3, 56, 144, 1, ms, &m1, &amx1, err)) < 0)
        return -1;
    /* quads of kernel rows: a 3x3 fills 3 of 4 */
    ADD("s8_dw", "dw 3x3 144 56x56 NHWC, MACs over the tile fill", m1 / pfill(3, 4), t1, vec_s8);
    CALL(time_q(0, 16, 16, 3, 1, 16, 1, cms, &cm, &amx1, err));
    /* the same with NCHW in and out, where the executor does not keep a
     * value NHWC (a neighbour that takes NCHW: a shuffle's Transpose): the
     * kernel converts in scratch, a cost an element in or out */
    if ((t2 = time_q(Q_NCHW | Q_CHUNK, 144, 144, 3, 56, 144, 1, ms, &m2, &amx1, err)) < 0)
        return -1;
    if (pair_again(pair_q, &(conv_ref){144, 144, 3, 56, 144, 1}, Q_CHUNK, Q_NCHW | Q_CHUNK, ms,
                   &t1, &t2, err))
        return -1;
    if (t2 > t1 && n > 0) {
        out[n - 1].unit = "s8_nchw";
        out[n - 1].unit_s = (t2 - t1) / (2.0 * 144 * 56 * 56);
    }
    /* the same on flat rows (VNNI on AVX-512: 144 channels a multiple of 16
     * but not of 64), a class of its own: every lane used, no split line */
    if (cq_kern_isa_s8() == CQ_ISA_AVX512) {
        if ((t1 = time_q(0, 144, 144, 3, 56, 144, 1, ms, &m1, &amx1, err)) < 0)
            return -1;
        ADD("s8_dwf", "dw 3x3 144 56x56 NHWC on flat rows, MACs over the tile fill",
            m1 / pfill(3, 4), t1, vec_s8);
        CALL(time_q(0, 48, 48, 3, 1, 48, 1, cms, &cm, &amx1, err));
    }
    /* depthwise at stride 2 (the stride-1 kernel's two rows a pass do not
     * apply): a class of its own */
    if ((t1 = time_q(0, 96, 96, 3, 80, 96, 2, ms, &m1, &amx1, err)) < 0)
        return -1;
    ADD("s8_dw_s2", "dw 3x3/2 96 80x80 NHWC, MACs over the tile fill", m1 / pfill(3, 4), t1, vec_s8);
    if ((t1 = time_q(Q_GEMM, 256, 512, 512, 0, 1, 1, ms, &m1, &amx1, err)) < 0)
        return -1;
    ADD("s8_gemm", "256x512x512", m1, t1, amx1 ? "amx_s8" : vec_s8);
    CALL(time_q(Q_GEMM, 1, 16, 64, 0, 1, 1, cms, &cm, &amx1, err));

    double bytes;
    if ((t1 = cq__probe_time_eltwise(ms, &bytes, err)) < 0)
        return -1;
    ADD("eltwise", "Relu 256K f32 (1 MB in + 1 MB out, counted 3 MB: the write twice)", bytes,
        t1, "bw_l2");
    /* a call of the int8 Mul (a squeeze-excite scale runs one a pixel) */
    double mul_elem;
    if ((t2 = cq__probe_time_qmul_call(cms, &mul_elem, err)) < 0)
        return -1;
    if (t2 > 0 && n > 0) {
        out[n - 1].unit = "s8_mul_call";
        out[n - 1].unit_s = t2;
    }
    /* an element of the int8 Mul's loop: the requantizing table's rate
     * (cvt.requant) is several times too fast for its product */
    if (mul_elem > 0 && n > 0) {
        out[n - 1].unit3 = "s8_mul_elem";
        out[n - 1].unit3_s = mul_elem;
    }
    /* an output pixel of the nearest upsampling on NCHW16c (ConvTranspose's
     * shuffle on NCHW16c stores its pixels the same way) */
    if ((t2 = cq__probe_time_upsample_px(ms, err)) < 0)
        return -1;
    if (n > 0) {
        out[n - 1].unit2 = "blk_px";
        out[n - 1].unit2_s = t2;
    }
    /* the int8 global average pool (a squeeze-excite's pool on codes): its
     * column sums run well below the bandwidth eltwise's loop reaches */
    double gbytes;
    if ((t2 = cq__probe_time_gap8(ms, &gbytes, err)) < 0)
        return -1;
    ADD("s8_gap", "QLinearGlobalAveragePool 96 ch at 56x56, NHWC (301 KB in L2)", gbytes, t2,
        "bw_l2");
#undef CALL
#undef ADD
    return n;
}
