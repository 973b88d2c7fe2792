/* kern_conv_run.c - Conv2d runs: layout conversions, calq's own AVX-512
 * paths split over the kernel threads, the generic paths (im2col + sgemm,
 * 1x1 sgemm, depthwise), and a fused conv + pool (see kern.h). */
#include "kern/kern_conv_internal.h"
#include "base/par.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

/* One own-path call split over the kernel threads: share i of n of image
 * img (group g on the sgemm path), scratch slice tid (the thread's). */
typedef struct conv_job {
    const cq_conv2d_plan *pl;
    own_path path;
    const float *x, *res; /* the image's (res: the group's on the sgemm path) */
    float *y;
    const float *b;       /* sgemm path: the group's B (the column matrix or x) */
    int64_t g;
    int by_groups;        /* sgemm path: the shares are runs of whole groups */
    int by_rows;          /* sgemm path: the shares are runs of output channels */
    char *slices;         /* thread tid's scratch at slices + tid * slice */
    size_t slice;
    const cq_pool2d_params *pool; /* stem path with a fused pool */
    int64_t ph, pw;
} conv_job;

static void conv_part(void *ctx, int i, int n, int tid)
{
    const conv_job *j = ctx;
    const cq_conv2d_plan *pl = j->pl;
    const cq_conv2d_params *p = &pl->p;
    int64_t oh = pl->oh, ow = pl->ow, P = oh * ow, HW = p->h * p->w;
    void *sc = j->slices + (size_t)tid * j->slice;
    switch (j->path) {
    case OWN_STEM:
        if (j->pool)
            cq__stem_pool_run(p, oh, ow, j->x, pl->wst, pl->bpm, j->pool, j->ph, j->pw, j->y, sc,
                              i, n);
        else
            cq__stem_run(p, oh, ow, j->x, pl->wst, pl->bpm, j->y, sc, i, n);
        break;
    case OWN_CONVPM:
        if (cq__convpm_is_head(p))
            cq__convpm_head_run(p, P, j->x, pl->wpm, pl->bpm, j->y, i, n);
        else
            cq__convpm_run(p, oh, ow, j->x, pl->wpm, pl->bpm, j->y, j->res, sc, i, n);
        break;
    case OWN_GRP:
        cq__convgr_run(p, oh, ow, j->x, pl->wgr, pl->bias, j->y, j->res, sc, i, n);
        break;
    case OWN_CONVPMB:
        cq__convpmb_run(p, oh, ow, j->x, pl->wpb, pl->bpm, j->y, j->res, sc, i, n);
        break;
    case OWN_CONVAMX:
        cq__convamx_run(p, oh, ow, j->x, pl->wpa, pl->bpm, j->y, j->res, sc, i, n);
        break;
    case OWN_DWCB: {
        /* whole 16-channel blocks */
        int64_t nb = (p->c_out + 15) / 16, b0 = nb * i / n, b1 = nb * (i + 1) / n;
        int64_t c0 = 16 * b0, c1 = 16 * b1 < p->c_out ? 16 * b1 : p->c_out;
        if (c1 <= c0)
            break;
        cq_conv2d_params q = *p;
        q.c_in = q.c_out = q.groups = c1 - c0;
        cq__dwcb_run(&q, oh, ow, j->x + c0 * HW, pl->wcb + b0 * 16 * p->kh * p->kw,
                     pl->bcb + c0, j->y + c0 * P, sc);
        break;
    }
    case OWN_DWP: {
        /* input channels (with their c_out / c_in outputs each) */
        int64_t mult = p->c_out / p->c_in, c0 = p->c_in * i / n, c1 = p->c_in * (i + 1) / n;
        if (c1 <= c0)
            break;
        cq_conv2d_params q = *p;
        q.c_in = q.groups = c1 - c0;
        q.c_out = (c1 - c0) * mult;
        cq__dwp_run(&q, oh, ow, j->x + c0 * HW, pl->w + c0 * mult * p->kh * p->kw,
                    pl->bias ? pl->bias + c0 * mult : NULL, j->y + c0 * mult * P, sc);
        break;
    }
    case OWN_SGEMM: {
        int64_t cog = p->c_out / p->groups, K = p->c_in / p->groups * p->kh * p->kw;
        if (j->by_groups) {
            /* whole groups, each through its own column matrix (after the
             * sgemm's scratch in the thread's slice) */
            int64_t cig = p->c_in / p->groups;
            int64_t g0 = p->groups * i / n, g1 = p->groups * (i + 1) / n;
            float *col = (float *)((char *)sc + round64(pl->tscratch));
            for (int64_t g = g0; g < g1; g++) {
                const float *b = j->x + g * cig * HW;
                if (pl->algo == CQ_CONV_IM2COL) {
                    cq__conv_im2col(p, cig, oh, ow, b, col);
                    b = col;
                }
                cq__sgemm_avx512(cog, P, K, pl->ap + g * pl->ap_group, b, P, j->y + g * cog * P,
                                 P, pl->bias ? pl->bias + g * cog : NULL,
                                 j->res ? j->res + g * cog * P : NULL, p->act, sc);
            }
            break;
        }
        if (j->by_rows) {
            /* output channels, in multiples of 8 (the sgemm's row tile) */
            int64_t nr = (cog + 7) / 8, r0 = 8 * (nr * i / n), r1 = 8 * (nr * (i + 1) / n);
            r1 = r1 < cog ? r1 : cog;
            if (r1 <= r0)
                break;
            cq__sgemm_avx512(r1 - r0, P, K, pl->ap + j->g * pl->ap_group + r0 * K, j->b, P,
                             j->y + r0 * P, P, pl->bias ? pl->bias + j->g * cog + r0 : NULL,
                             j->res ? j->res + r0 * P : NULL, p->act, sc);
            break;
        }
        /* pixel columns, in multiples of 48 (the sgemm's widest tile) */
        int64_t nb = (P + 47) / 48, n0 = 48 * (nb * i / n), n1 = 48 * (nb * (i + 1) / n);
        n1 = n1 < P ? n1 : P;
        if (n1 <= n0)
            break;
        cq__sgemm_avx512(cog, n1 - n0, K, pl->ap + j->g * pl->ap_group, j->b + n0, P,
                         j->y + n0, P, pl->bias ? pl->bias + j->g * cog : NULL,
                         j->res ? j->res + n0 : NULL, p->act, sc);
        break;
    }
    default:
        break;
    }
}

/* Shares for a call of flops floating-point operations over act_bytes of
 * activations (input and output) and w_bytes of weights: one per kernel
 * thread (claimed by whichever thread is free: a worker the host has
 * descheduled leaves its share to the others), fewer where a share would be
 * too small to pay for the hand-over (a region costs about a microsecond:
 * a share needs MIN_SHARE_FLOP of arithmetic or MIN_SHARE_BYTES of data to
 * move, the latter for the memory-bound calls, depthwise and the 1x1 convs
 * on 1x1 maps that stream cold weights), and one where the work is thin for
 * its data (under MIN_INTENSITY flop per activation byte): the share a
 * thread computes lands in its own core's cache, and the next layer would
 * read half of it from the other's. How much that costs depends on the
 * machine: on the EPYC of the sixth round (bench/NOTES.md) 32 flop per byte
 * separated the convolutions that gained from two threads from those that
 * lost; on the Xeon of issue 14's session every split down to 2 gained
 * (MobileNetV2 at two threads 5.35 -> 3.82 ms, EfficientNet-B0 10.6 -> 7.4,
 * ResNet-18 unchanged) and 0.01 did as well as 2 (bench/NOTES.md), so 0.5:
 * the stride-2 depthwise layers (0.9) split too. The hardware profile of
 * the cost model is where these constants belong. More shares per thread
 * lose too, each share refilling its input rows. */
#define MIN_SHARE_FLOP 3e5
#define MIN_SHARE_BYTES CQ__SPLIT_BYTES
#define MIN_INTENSITY 0.5
static double min_share_flop = MIN_SHARE_FLOP;
void cq__kern_set_min_share(double flop) { min_share_flop = flop < 0 ? MIN_SHARE_FLOP : flop; }

static int shares_for(double flops, double act_bytes, double w_bytes)
{
    int t = cq_kern_threads();
    if (t <= 1 || (min_share_flop > 0 && flops < MIN_INTENSITY * act_bytes))
        return 1;
    if (min_share_flop <= 0)
        return t;
    double most = flops / min_share_flop, by_bytes = (act_bytes + w_bytes) / MIN_SHARE_BYTES;
    most = by_bytes > most ? by_bytes : most;
    return most < 1.0 ? 1 : most < (double)t ? (int)most : t;
}

/* The rows the busiest of nparts shares runs, in groups of r rows. */
static int64_t busiest(int64_t oh, int64_t r, int nparts)
{
    int64_t units = (oh + r - 1) / r, most = (units + nparts - 1) / nparts * r;
    return most < oh ? most : oh;
}

void cq__share_grid(int64_t oh, int64_t rows, int64_t npanels, int w_heavy, int part,
                    int nparts, cq__grid_share *s)
{
    int64_t units = (oh + rows - 1) / rows;
    s->rows = rows;
    s->ga = 0;
    s->gb = units;
    s->ja = 0;
    s->jb = npanels;
    if (nparts <= 1)
        return;
    /* the busiest share's fraction of the work either way */
    double by_panels = (double)((npanels + nparts - 1) / nparts) / (double)npanels;
    if (units % nparts) {
        int64_t most = busiest(oh, rows, nparts);
        for (int64_t r = rows - 1; 2 * r >= rows; r--)
            if (busiest(oh, r, nparts) < most) {
                s->rows = r;
                most = busiest(oh, r, nparts);
            }
        units = (oh + s->rows - 1) / s->rows;
    }
    double by_rows = (double)busiest(oh, s->rows, nparts) / (double)oh;
    int panels = npanels >= nparts && (by_panels < by_rows || (w_heavy && by_panels <= by_rows));
    if (panels) {
        s->rows = rows;
        s->gb = (oh + rows - 1) / rows;
        s->ja = npanels * part / nparts;
        s->jb = npanels * (part + 1) / nparts;
    } else {
        s->gb = units * (part + 1) / nparts;
        s->ga = units * part / nparts;
    }
}

/* The busiest share's cells (row x panel) of a grid split. */
static int64_t grid_busiest(int64_t oh, int64_t rows, int64_t npanels, int w_heavy, int nparts)
{
    int64_t most = 0;
    for (int part = 0; part < nparts; part++) {
        cq__grid_share s;
        cq__share_grid(oh, rows, npanels, w_heavy, part, nparts, &s);
        int64_t ra = s.ga * s.rows, rb = s.gb * s.rows < oh ? s.gb * s.rows : oh;
        int64_t c = (rb > ra ? rb - ra : 0) * (s.jb - s.ja);
        most = c > most ? c : most;
    }
    return most;
}

#ifndef CELL_GAIN
#define CELL_GAIN 0.95
#endif
int cq__share_cells(int64_t oh, int64_t rows, int64_t npanels, int w_heavy, int cells, int part,
                    int nparts, cq__grid_rect r[3], int64_t *rows0)
{
    cq__grid_share s;
    cq__share_grid(oh, rows, npanels, w_heavy, part, nparts, &s);
    *rows0 = s.rows;
    r[0].ra = s.ga * s.rows;
    r[0].rb = s.gb * s.rows < oh ? s.gb * s.rows : oh;
    r[0].ja = s.ja;
    r[0].jb = s.jb;
    int64_t C = oh * npanels;
    if (!cells || nparts <= 1 || npanels <= 1 ||
        (double)((C + nparts - 1) / nparts) >=
            CELL_GAIN * (double)grid_busiest(oh, rows, npanels, w_heavy, nparts))
        return 1;
    /* cells in panel-major order, an even run of them a share: whole
     * panels, with at most a partial one at each end */
    int64_t u0 = C * part / nparts, u1 = C * (part + 1) / nparts;
    int n = 0;
    *rows0 = rows;
    while (u0 < u1 && n < 3) {
        int64_t j = u0 / oh, ra = u0 % oh;
        if (ra == 0 && u1 - u0 >= oh) {
            int64_t nj = (u1 - u0) / oh;
            r[n++] = (cq__grid_rect){0, oh, j, j + nj};
            u0 += nj * oh;
        } else {
            int64_t rb = ra + (u1 - u0) < oh ? ra + (u1 - u0) : oh;
            r[n++] = (cq__grid_rect){ra, rb, j, j + 1};
            u0 += rb - ra;
        }
    }
    return n;
}

/* im2col of one group's cig channels, shared by channels over the kernel
 * threads: serial, it held RegNetY's 1x1 stride-2 convolutions on NCHW
 * (the strided copy is a third of their time) to one thread's speed. */
typedef struct im2col_job {
    const cq_conv2d_params *p;
    int64_t cig, oh, ow;
    const float *x;
    float *col;
} im2col_job;

static void im2col_part(void *ctx, int i, int n, int tid)
{
    (void)tid;
    const im2col_job *c = ctx;
    const cq_conv2d_params *p = c->p;
    int64_t c0 = c->cig * i / n, c1 = c->cig * (i + 1) / n;
    cq__conv_im2col(p, c1 - c0, c->oh, c->ow, c->x + c0 * p->h * p->w,
                    c->col + c0 * p->kh * p->kw * c->oh * c->ow);
}

static void im2col_par(const cq_conv2d_params *p, int64_t cig, int64_t oh, int64_t ow,
                       const float *x, float *col)
{
    im2col_job c = {p, cig, oh, ow, x, col};
    cq_par_run(cq__mem_shares(cig, 4.0 * (double)(cig * p->kh * p->kw * oh * ow)),
               im2col_part, &c);
}

/* Whether the sgemm path shares out output channels rather than pixel
 * columns: an expansion (c_out at least 4x a K of at most 64, the 1x1s that
 * open MobileNetV2's inverted-residual blocks). Its reader is a depthwise
 * conv, which shares out channels: each thread then reads the planes it
 * wrote itself, where by pixels it read half of each plane from the other
 * core's cache. Per-node minima of MobileNetV2 at two threads 2.675 ->
 * 2.630 ms (the depthwise layers after 28x28 expansions 0.044 -> 0.032;
 * bench/NOTES.md). The same sums in the same order either way. */
static int by_rows(const cq_conv2d_params *p)
{
    int64_t k = p->c_in / p->groups * p->kh * p->kw, cog = p->c_out / p->groups;
    return p->groups == 1 && k <= 64 && cog >= 4 * k;
}

/* y = act(conv + bias + res); res NULL or the same size as y. pool (stem
 * path only): y is the pooled output (ph, pw a plane). */
static cq_status conv_run_own(const cq_conv2d_plan *pl, own_path o, const float *x, float *y,
                              const float *res, const cq_pool2d_params *pool, int64_t ph,
                              int64_t pw, void *scratch)
{
    const cq_conv2d_params *p = &pl->p;
    int64_t oh = pl->oh, ow = pl->ow, P = oh * ow, HW = p->h * p->w;
    int64_t cig = p->c_in / p->groups, cog = p->c_out / p->groups;
    char *base = (char *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    conv_job j;
    memset(&j, 0, sizeof j);
    j.pl = pl;
    j.path = o;
    j.slice = pool ? round64(cq__stem_pool_scratch(p, oh, ow, pool))
                   : own_slice(pl, o, cq_kern_threads());
    j.slices = base + (o == OWN_SGEMM ? pl->col_bytes : 0);
    j.pool = pool;
    j.ph = ph;
    j.pw = pw;
    int64_t wcount = p->c_out * cig * p->kh * p->kw;
    int n = shares_for(2.0 * (double)P * (double)wcount,
                       4.0 * (double)(p->c_in * HW + p->c_out * P), 4.0 * (double)wcount);
    int64_t yc = pool ? ph * pw : P;
    /* Several groups on the sgemm path (RegNet's group width 8: 6 to 55
     * groups): whole groups per share, one region per image, where they
     * share out evenly enough; else each group's pixel columns, a region
     * per group. The two sum in the same order. */
    j.by_groups = o == OWN_SGEMM && p->groups > 1 && n > 1 &&
                  (p->groups % n == 0 || p->groups >= 4 * n);
    j.by_rows = o == OWN_SGEMM && !j.by_groups && n > 1 && by_rows(p);
    for (int64_t img = 0; img < p->n; img++) {
        j.x = x + img * p->c_in * HW;
        j.y = y + img * p->c_out * yc;
        j.res = res ? res + img * p->c_out * yc : NULL;
        if (o != OWN_SGEMM || j.by_groups) {
            cq_par_run(n, conv_part, &j);
            continue;
        }
        for (int64_t g = 0; g < p->groups; g++) {
            const float *xg = j.x + g * cig * HW;
            j.b = xg;
            if (pl->algo == CQ_CONV_IM2COL) {
                im2col_par(p, cig, oh, ow, xg, (float *)base);
                j.b = (const float *)base;
            }
            j.g = g;
            j.y = y + (img * p->c_out + g * cog) * P;
            j.res = res ? res + (img * p->c_out + g * cog) * P : NULL;
            cq_par_run(n, conv_part, &j);
        }
    }
    return CQ_OK;
}

/* Whether the plan runs as a matrix-vector product: a 1x1 conv (groups 1,
 * no pads, f32) on 1x1 maps, with AVX-512. */
static int gemv_of(const cq_conv2d_plan *pl)
{
    const cq_conv2d_params *p = &pl->p;
    return cq_kern_isa() == CQ_ISA_AVX512 && !pl->bf16_x && !p->bf16 && p->groups == 1 &&
           p->kh == 1 && p->kw == 1 && p->h == 1 && p->w == 1 && pl->oh == 1 && pl->ow == 1 &&
           p->pad_top == 0 && p->pad_left == 0 && p->pad_bottom == 0 && p->pad_right == 0;
}

/* y = act(conv + bias + res); res NULL or the same size as y. */
static cq_status conv_run(const cq_conv2d_plan *pl, const float *x, size_t x_count, float *y,
                          size_t y_count, const float *res, void *scratch, size_t scratch_bytes,
                          cq_err *err)
{
    if (!pl || !x || !y)
        return cq_errf(err, CQ_EINVAL, "conv2d: NULL plan or buffer");
    const cq_conv2d_params *p = &pl->p;
    int64_t oh = pl->oh, ow = pl->ow, P = oh * ow, HW = p->h * p->w;
    if (x_count != (size_t)(p->n * p->c_in * HW) || y_count != (size_t)(p->n * p->c_out * P))
        return cq_errf(err, CQ_EINVAL, "conv2d: input has %zu elements (expected %lld), output "
                       "%zu (expected %lld)", x_count, (long long)(p->n * p->c_in * HW), y_count,
                       (long long)(p->n * p->c_out * P));
    size_t need = cq_conv2d_scratch_bytes(pl);
    if (scratch_bytes < need || (need && !scratch))
        return cq_errf(err, CQ_EINVAL, "conv2d: scratch of %zu bytes, the plan needs %zu",
                       scratch_bytes, need);
    const cq__kern_vtab *k = cq__kern();
    if (gemv_of(pl)) {
        /* 1x1 on a 1x1 map (squeeze-excite, classifier heads): y = W x,
         * the weights streamed once by the gemv's eight row dots (the
         * pixel-major GEMM ran these at half the rate: a tile of 7 pixels
         * with one used; W^T in panels of 64 outputs for the column gemv
         * was slower still). NCHW16c of one pixel is NCHW. */
        for (int64_t img = 0; img < p->n; img++) {
            float *yi = y + img * p->c_out;
            if (pl->bias)
                memcpy(yi, pl->bias, (size_t)p->c_out * sizeof(float));
            cq__gemv_par(0, p->c_out, p->c_in, 1.0f, pl->w, p->c_in, x + img * p->c_in,
                         pl->bias ? 1.0f : 0.0f, yi);
            if (res)
                k->binary(CQ_BIN_ADD, yi, 1, res + img * p->c_out, 1, yi, p->c_out);
            if (p->act.kind != CQ_ACT_NONE)
                k->bias_act(0.0f, p->act, yi, p->c_out);
        }
        return CQ_OK;
    }
    if (pl->bf16_x && own_of(pl) != OWN_CONVPMB && own_of(pl) != OWN_CONVAMX) {
        /* bf16 on an f32 path: the plan's weights are rounded; x is here */
        float *xr = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
        for (size_t i = 0; i < x_count; i++)
            xr[i] = cq_bgemm_round(x[i]);
        cq_conv2d_plan q = *pl;
        q.bf16_x = 0;
        size_t used = (size_t)((char *)xr - (char *)scratch) + x_bytes(pl);
        return conv_run(&q, xr, x_count, y, y_count, res, (char *)scratch + used,
                        scratch_bytes - used, err);
    }
    if (layout_bytes(pl)) {
        char *s = (char *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
        cq_conv2d_plan q = *pl;
        const float *xx = x, *rr = res;
        float *yy = y;
        if (!layout_native(pl)) {
            /* everything in NCHW for a kernel that knows only that */
            q.p.x_blocked = q.p.y_blocked = q.p.res_blocked = 0;
            if (p->x_blocked) {
                cq_from_blocked_f32(x, p->n, p->c_in, HW, (float *)s);
                xx = (const float *)s;
                s += x_bytes(pl);
            }
            if (p->y_blocked) {
                yy = (float *)s;
                s += y_bytes(pl);
            }
        }
        if (res && p->res_blocked != q.p.y_blocked) {
            if (p->res_blocked)
                cq_from_blocked_f32(res, p->n, p->c_out, P, (float *)s);
            else
                cq_to_blocked_f32(res, p->n, p->c_out, P, (float *)s);
            rr = (const float *)s;
            s += y_bytes(pl);
        }
        q.p.res_blocked = q.p.y_blocked;
        size_t used = (size_t)(s - (char *)scratch);
        if (conv_run(&q, xx, x_count, yy, y_count, rr, s, scratch_bytes - used, err))
            return err->code;
        if (yy != y)
            cq_to_blocked_f32(yy, p->n, p->c_out, P, y);
        return CQ_OK;
    }
    /* calq's own AVX-512 kernels where the ISA is on (they beat
     * OpenBLAS's sgemm on these shapes: bench/RESULTS.md), split over the
     * kernel threads */
    own_path o = own_of(pl);
    int64_t cig = p->c_in / p->groups, cog = p->c_out / p->groups;
    int64_t K = cig * p->kh * p->kw;
    /* NCHW16c out of the pixel-major GEMM: the residual in its epilogue
     * (the same layout, one line per pixel and block) */
    int res_epilogue = o == OWN_SGEMM || o == OWN_GRP ||
                       ((o == OWN_CONVPM || o == OWN_CONVPMB || o == OWN_CONVAMX) && p->y_blocked);
    if (res && !res_epilogue) {
        /* No epilogue for it: convolve without the activation, then add and
         * activate in L1-sized chunks. The pixel-major GEMM into NCHW is
         * here too: adding the residual after its 8x8 transposes is slower
         * than this second pass (bench/NOTES.md, second round). */
        cq_conv2d_plan bare = *pl;
        bare.p.act.kind = CQ_ACT_NONE;
        if (conv_run(&bare, x, x_count, y, y_count, NULL, scratch, scratch_bytes, err))
            return err->code;
        for (int64_t i = 0, n = (int64_t)y_count; i < n; i += 2048) {
            int64_t c = n - i < 2048 ? n - i : 2048;
            k->binary(CQ_BIN_ADD, y + i, 1, res + i, 1, y + i, c);
            if (p->act.kind != CQ_ACT_NONE)
                k->bias_act(0.0f, p->act, y + i, c);
        }
        return CQ_OK;
    }
    if (o)
        return conv_run_own(pl, o, x, y, res, NULL, 0, 0, scratch);
    for (int64_t img = 0; img < p->n; img++) {
        if (pl->algo == CQ_CONV_DEPTHWISE_NHWC) {
            float *xt = scratch, *yt = xt + p->c_in * HW;
            k->transpose(x + img * p->c_in * HW, p->c_in, HW, xt);
            k->dw_nhwc(p, oh, ow, xt, pl->wt, pl->bt, yt);
            k->transpose(yt, P, p->c_out, y + img * p->c_out * P);
            continue;
        }
        if (pl->algo == CQ_CONV_DEPTHWISE) {
            for (int64_t co = 0; co < p->c_out; co++) {
                const float *xc = x + (img * p->c_in + co / cog) * HW;
                cq__conv_dw_plane(k, p, oh, ow, xc, pl->w + co * K, pl->bias ? pl->bias[co] : 0.0f,
                         y + (img * p->c_out + co) * P);
            }
            continue;
        }
        for (int64_t g = 0; g < p->groups; g++) {
            const float *xg = x + (img * p->c_in + g * cig) * HW;
            float *yg = y + (img * p->c_out + g * cog) * P;
            const float *b = xg;
            if (pl->algo == CQ_CONV_IM2COL) {
                cq__conv_im2col(p, cig, oh, ow, xg, scratch);
                b = scratch;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)cog, (int)P, (int)K, 1.0f,
                        pl->w + g * cog * K, (int)K, b, (int)P, 0.0f, yg, (int)P);
            if (pl->bias || p->act.kind != CQ_ACT_NONE)
                for (int64_t co = 0; co < cog; co++)
                    k->bias_act(pl->bias ? pl->bias[g * cog + co] : 0.0f, p->act, yg + co * P, P);
        }
    }
    return CQ_OK;
}

cq_status cq_conv2d_run(const cq_conv2d_plan *pl, const float *x, size_t x_count, float *y,
                        size_t y_count, void *scratch, size_t scratch_bytes, cq_err *err)
{
    return conv_run(pl, x, x_count, y, y_count, NULL, scratch, scratch_bytes, err);
}

cq_status cq_conv2d_run_res(const cq_conv2d_plan *pl, const float *x, size_t x_count,
                            const float *res, float *y, size_t y_count, void *scratch,
                            size_t scratch_bytes, cq_err *err)
{
    if (!res)
        return cq_errf(err, CQ_EINVAL, "conv2d: NULL residual");
    return conv_run(pl, x, x_count, y, y_count, res, scratch, scratch_bytes, err);
}

/* The fused conv + pool: the AVX-512 stem kernel and a max pool its row
 * kernel takes. */
static int pool_fused(const cq_conv2d_plan *pl, const cq_pool2d_params *q, int64_t pw)
{
    return pl && q && own_of(pl) == OWN_STEM && cq__maxpool_rows_applies(q, pw);
}

/* The pool's output size when it fits the conv's output, else -1. */
static int pool_shape(const cq_conv2d_plan *pl, const cq_pool2d_params *q, int64_t *ph,
                      int64_t *pw)
{
    cq_err e;
    if (!pl || !q || q->n != pl->p.n || q->c != pl->p.c_out || q->h != pl->oh ||
        q->w != pl->ow || cq_pool2d_out_shape(q, ph, pw, &e) != CQ_OK)
        return -1;
    return 0;
}

int cq_conv2d_pool_fuses(const cq_conv2d_plan *pl, const cq_pool2d_params *pool)
{
    int64_t ph, pw;
    return pool_shape(pl, pool, &ph, &pw) == 0 && pool_fused(pl, pool, pw);
}

size_t cq_conv2d_pool_scratch_bytes(const cq_conv2d_plan *pl, const cq_pool2d_params *pool)
{
    int64_t ph, pw;
    if (pool_shape(pl, pool, &ph, &pw))
        return 0;
    if (pool_fused(pl, pool, pw))
        return (size_t)cq_kern_threads() * round64(cq__stem_pool_scratch(&pl->p, pl->oh, pl->ow,
                                                                         pool)) + 64;
    /* the conv output, the pooled output before NCHW16c, the conv's scratch */
    cq_conv2d_plan plain = *pl;
    plain.p.y_blocked = 0;
    return y_bytes(pl) +
           (pl->p.y_blocked ? round64((size_t)(pl->p.n * pl->p.c_out * ph * pw) * sizeof(float))
                            : 0) +
           cq_conv2d_scratch_bytes(&plain) + 64;
}

cq_status cq_conv2d_run_pool(const cq_conv2d_plan *pl, const cq_pool2d_params *pool,
                             const float *x, size_t x_count, float *y, size_t y_count,
                             void *scratch, size_t scratch_bytes, cq_err *err)
{
    int64_t ph, pw;
    if (!pl || !pool || !x || !y)
        return cq_errf(err, CQ_EINVAL, "conv2d: NULL plan, pool or buffer");
    const cq_conv2d_params *p = &pl->p;
    if (p->x_blocked)
        return cq_errf(err, CQ_EINVAL, "conv2d: a fused pool takes NCHW input only");
    if (pool_shape(pl, pool, &ph, &pw))
        return cq_errf(err, CQ_EINVAL, "conv2d: the pool (n %lld, c %lld, %lldx%lld) does not "
                       "take the conv's output (n %lld, c %lld, %lldx%lld)", (long long)pool->n,
                       (long long)pool->c, (long long)pool->h, (long long)pool->w,
                       (long long)p->n, (long long)p->c_out, (long long)pl->oh,
                       (long long)pl->ow);
    int64_t HW = p->h * p->w, PP = ph * pw;
    if (x_count != (size_t)(p->n * p->c_in * HW) || y_count != (size_t)(p->n * p->c_out * PP))
        return cq_errf(err, CQ_EINVAL, "conv2d: input has %zu elements (expected %lld), pooled "
                       "output %zu (expected %lld)", x_count, (long long)(p->n * p->c_in * HW),
                       y_count, (long long)(p->n * p->c_out * PP));
    size_t need = cq_conv2d_pool_scratch_bytes(pl, pool);
    if (scratch_bytes < need || !scratch)
        return cq_errf(err, CQ_EINVAL, "conv2d: scratch of %zu bytes, conv + pool needs %zu",
                       scratch_bytes, need);
    if (pool_fused(pl, pool, pw))
        return conv_run_own(pl, OWN_STEM, x, y, NULL, pool, ph, pw, scratch);
    /* the conv output in scratch (64-byte aligned), with y_blocked the
     * pooled NCHW output after it, then the conv's own scratch */
    cq_conv2d_plan plain = *pl;
    plain.p.y_blocked = 0;
    float *c = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    size_t cb = y_bytes(pl), cn = (size_t)(p->n * p->c_out * pl->oh * pl->ow);
    float *pooled = p->y_blocked ? (float *)((char *)c + cb) : y;
    if (p->y_blocked)
        cb += round64(y_count * sizeof(float));
    if (conv_run(&plain, x, x_count, c, cn, NULL, (char *)c + cb,
                 scratch_bytes - cb - (size_t)((char *)c - (char *)scratch), err) ||
        cq_pool2d_f32(pool, c, cn, pooled, y_count, err))
        return err->code;
    if (p->y_blocked)
        cq_to_blocked_f32(pooled, p->n, p->c_out, PP, y);
    return CQ_OK;
}
