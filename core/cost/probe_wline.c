/* probe_wline.c - the rate at which a contraction kernel streams its weights
 * from memory (probe.h, cq_probe_wline_ns): the fp32 pixel-major conv and
 * the AVX-512 int8 GEMM prefetch the next panel of weights while they work
 * on the current one, so weights that come from memory overlap the
 * arithmetic, but only as fast as the kernel's prefetches (a few lines a k
 * step, a panel ahead) fetch them: on the Emerald Rapids guest 5.4-5.8 GB/s
 * (ResNet's layer4 3x3, 9.4 MB of fp32 weights at 7x7: 1.41 ms warm, 1.64
 * with its weights flushed), against 14 GB/s for a plain read of one core.
 * The shape is ResNet's layer4 3x3 (512 > 512 at 7x7): its weights are many
 * for its arithmetic, so the stream, not the MACs, sets the cold time. On a
 * host where the MACs set it instead, the figure is an upper bound of the
 * stream's cost (the estimator then prices such weights at no more than
 * this shape's own cold run). */
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "base/tensor.h"
#include "cost/probe_internal.h"
#include "kern/kern.h"
#include "kern/kern_qconv.h"

#define WL_C 512
#define WL_HW 7

typedef struct wl {
    int which;
    cq_conv2d_plan *f;
    cq_qconv2d_plan *q;
    void *x, *y, *scratch;
    size_t xn, yn, sn;
    const char *w; /* the packed weights to flush */
    size_t wbytes;
} wl;

static cq_status wl_run(void *ctx, cq_err *err)
{
    wl *c = ctx;
    if (c->which == 0)
        return cq_conv2d_run(c->f, c->x, c->xn, c->y, c->yn, c->scratch, c->sn, err);
    return cq_qconv2d_run(c->q, c->x, c->y, NULL, c->scratch, c->sn, err);
}

/* Before each cold run: the weights out of every cache level. */
static void flush(void *ctx)
{
    const wl *c = ctx;
    for (size_t i = 0; i < c->wbytes; i += 64)
        _mm_clflush(c->w + i);
    _mm_mfence();
}

double cq_probe_wline_ns(int which, double ms, cq_err *err)
{
    if (which != 0 && which != 1)
        return cq_errf(err, CQ_EINVAL, "probe: weight stream %d: 0 (f32) or 1 (s8)", which), -1;
    if (cq_kern_isa() != CQ_ISA_AVX512)
        return 0; /* the prefetching kernels are AVX-512's */
    int64_t k = WL_C * 9, nw = (int64_t)WL_C * k;
    wl c;
    memset(&c, 0, sizeof c);
    c.which = which;
    c.xn = (size_t)WL_C * WL_HW * WL_HW;
    c.yn = c.xn;
    double t = -1;
    void *w = which == 0 ? malloc((size_t)nw * sizeof(float)) : malloc((size_t)nw);
    float *bias = calloc(WL_C, sizeof(float)), *mult = malloc(WL_C * sizeof(float));
    size_t es = which == 0 ? sizeof(float) : 1;
    c.x = cq_alloc(c.xn * es + 64);
    c.y = cq_alloc(c.yn * es + 64);
    if (!w || !bias || !mult || !c.x || !c.y) {
        cq_errf(err, CQ_ENOMEM, "probe: no memory for the weight stream's conv");
        goto out;
    }
    if (which == 0) {
        cq__probe_fill_f32(w, (size_t)nw, 0.1f);
        cq__probe_fill_f32(c.x, c.xn, 1.0f);
        cq_conv2d_params p = cq_conv2d_params_default();
        p.n = 1;
        p.c_in = p.c_out = WL_C;
        p.h = p.w = WL_HW;
        p.kh = p.kw = 3;
        p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
        p.x_blocked = p.y_blocked = 1; /* as the executor keeps values between convs */
        p.act.kind = CQ_ACT_RELU;
        c.f = cq_conv2d_plan_new(&p, w, (size_t)nw, bias, WL_C, err);
        if (!c.f)
            goto out;
        c.w = cq_conv2d_pm_weights(c.f, &c.wbytes);
        if (!c.w) { /* not the pixel-major kernel: nothing of its to measure */
            t = 0;
            goto out;
        }
        c.sn = cq_conv2d_scratch_bytes(c.f);
    } else {
        cq__probe_fill_8(w, (size_t)nw);
        cq__probe_fill_8(c.x, c.xn);
        for (int i = 0; i < WL_C; i++)
            mult[i] = 1.0f / 4096;
        cq_qconv2d_params p = cq_qconv2d_params_default();
        p.c.n = 1;
        p.c.c_in = p.c.c_out = WL_C;
        p.c.h = p.c.w = WL_HW;
        p.c.kh = p.c.kw = 3;
        p.c.pad_top = p.c.pad_left = p.c.pad_bottom = p.c.pad_right = 1;
        p.x_nhwc = p.y_nhwc = 1; /* the executor's int8 layout */
        c.q = cq_qconv2d_plan_new(&p, w, NULL, mult, err);
        if (!c.q)
            goto out;
        c.w = cq_qconv2d_gemm_weights(c.q, &c.wbytes);
        if (!c.w) { /* AMX or another path */
            t = 0;
            goto out;
        }
        c.sn = cq_qconv2d_scratch_bytes(c.q);
    }
    c.scratch = c.sn ? cq_alloc(c.sn) : NULL;
    if (c.sn && !c.scratch) {
        cq_errf(err, CQ_ENOMEM, "probe: no memory for the weight stream's scratch");
        goto out;
    }
    /* warm first (its scratch and input in the caches, as the cold runs
     * find them), then the runs with the weights flushed: the time of a cold
     * run is the stream's where the stream is the longer */
    if (cq__probe_best_time(wl_run, &c, ms / 4, err) < 0)
        goto out;
    double cold = cq__probe_best_prep(wl_run, flush, &c, ms, err);
    if (cold < 0)
        goto out;
    t = cold / ((double)c.wbytes / 64.0) * 1e9;
out:
    cq_conv2d_plan_free(c.f);
    cq_qconv2d_plan_free(c.q);
    cq_free(c.x);
    cq_free(c.y);
    cq_free(c.scratch);
    free(w);
    free(bias);
    free(mult);
    return t;
}
