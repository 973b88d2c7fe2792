/* bench/qconv.c - calq's int8 convolution (kern_qconv.h, u8 NHWC in and out)
 * against calq's fp32 convolution (cq_conv2d_*, the faster of NCHW and
 * NCHW16c where the plan takes NCHW16c natively) on the same shapes, one
 * thread, alternating in one run: per layer the best time of each, int8
 * GOP/s (2 ops per multiply-add), fp32 GFLOP/s, and fp32 time / int8 time.
 * Usage: qconv [seconds-per-measure] [--tsv] [NAME-PART ...]  (bench/qconv.sh
 * pins it and adds the vpdpbusd peak; NAME-PARTs keep the layers whose name
 * holds one of them) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/tensor.h"
#include "kern/kern.h"
#include "kern/kern_qconv.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

typedef struct layer {
    const char *name;
    int64_t c_in, hw, c_out, k, stride, groups;
} layer;

static const layer layers[] = {
    {"mv2.dw 144@56 3x3", 144, 56, 144, 3, 1, 144},
    {"mv2.dw 144@56 3x3/2", 144, 56, 144, 3, 2, 144},
    {"mv2.dw 32@112 3x3", 32, 112, 32, 3, 1, 32},
    {"mv2.dw 96@112 3x3/2", 96, 112, 96, 3, 2, 96},
    {"mv2.dw 384@14 3x3", 384, 14, 384, 3, 1, 384},
    {"r18 64>64@56 3x3", 64, 56, 64, 3, 1, 1},
    {"r18 128>128@28 3x3", 128, 28, 128, 3, 1, 1},
    {"r18 256>256@14 3x3", 256, 14, 256, 3, 1, 1},
    {"r18 512>512@7 3x3", 512, 7, 512, 3, 1, 1},
    {"r18 64>128@56 3x3/2", 64, 56, 128, 3, 2, 1},
    {"r18 64>128@56 1x1/2", 64, 56, 128, 1, 2, 1},
    {"r18 256>512@14 1x1/2", 256, 14, 512, 1, 2, 1},
    {"r50 256>512@56 1x1/2", 256, 56, 512, 1, 2, 1},
    {"r50 512>1024@28 1x1/2", 512, 28, 1024, 1, 2, 1},
    {"r50 1024>2048@14 1x1/2", 1024, 14, 2048, 1, 2, 1},
    {"mv2 24>144@56 1x1", 24, 56, 144, 1, 1, 1},
    {"mv2 144>24@56 1x1", 144, 56, 24, 1, 1, 1},
    {"mv2 160>960@7 1x1", 160, 7, 960, 1, 1, 1},
    {"mv2 960>320@7 1x1", 960, 7, 320, 1, 1, 1},
    {"rgy 48@112 g6 3x3/2", 48, 112, 48, 3, 2, 6},
    {"rgy 48@56 g6 3x3", 48, 56, 48, 3, 1, 6},
    {"rgy 104@28 g13 3x3", 104, 28, 104, 3, 1, 13},
    {"rgy 208@14 g26 3x3", 208, 14, 208, 3, 1, 26},
    {"rgy 440@7 g55 3x3", 440, 7, 440, 3, 1, 55},
    {"mv3 1x1 16>64@112", 16, 112, 64, 1, 1, 1},
    {"mv3 1x1 16>16@112", 16, 112, 16, 1, 1, 1},
    {"rgy 1x1 32>48@112", 32, 112, 48, 1, 1, 1},
    {"mv2 1x1 32>16@112", 32, 112, 16, 1, 1, 1},
    {"mv2 1x1 16>96@112", 16, 112, 96, 1, 1, 1},
    {"mv3 1x1 24>72@56", 24, 56, 72, 1, 1, 1},
    {"rgy 1x1 48>104@56", 48, 56, 104, 1, 1, 1},
    {"1x1 64>64@56", 64, 56, 64, 1, 1, 1},
    {"mv2 1x1 96>24@56", 96, 56, 24, 1, 1, 1},
    {"mv3 1x1 72>24@56", 72, 56, 24, 1, 1, 1},
    {"1x1 128>24@56", 128, 56, 24, 1, 1, 1},
    {"1x1 144>32@56", 144, 56, 32, 1, 1, 1},
    {"1x1 144>64@56", 144, 56, 64, 1, 1, 1},
    {"1x1 128>32@56", 128, 56, 32, 1, 1, 1},
    {"r50 1x1 64>256@56", 64, 56, 256, 1, 1, 1},
    {"unet 32>16@224 3x3", 32, 224, 16, 3, 1, 1},
    {"unet 16>16@224 3x3", 16, 224, 16, 3, 1, 1},
    {"unet 32>32@112 3x3", 32, 112, 32, 3, 1, 1},
    {"unet 64>32@112 3x3", 64, 112, 32, 3, 1, 1},
    {"unet 128>64@56 3x3", 128, 56, 64, 3, 1, 1},
    {"mv2 stem 3>32@224/2", 3, 224, 32, 3, 2, 1},
    {"mv3 stem 3>16@224/2", 3, 224, 16, 3, 2, 1},
    {"r18 stem 3>64@224 7x7/2", 3, 224, 64, 7, 2, 1},
};

static double budget = 0.3;

/* best of 5 slices of budget / 5 seconds each, alternating a and b */
typedef struct timing {
    double a, b;
} timing;

typedef struct q_ctx {
    cq_qconv2d_plan *pl;
    const uint8_t *x;
    uint8_t *y;
    void *s;
    size_t sb;
} q_ctx;

typedef struct f_ctx {
    cq_conv2d_plan *pl;
    const float *x;
    float *y;
    size_t nx, ny;
    void *s;
    size_t sb;
} f_ctx;

static void run_q(const q_ctx *c)
{
    cq_err err;
    if (cq_qconv2d_run(c->pl, c->x, c->y, NULL, c->s, c->sb, &err) != CQ_OK) {
        fprintf(stderr, "qconv: %s\n", err.msg);
        exit(1);
    }
}

static void run_f(const f_ctx *c)
{
    cq_err err;
    if (cq_conv2d_run(c->pl, c->x, c->nx, c->y, c->ny, c->s, c->sb, &err) != CQ_OK) {
        fprintf(stderr, "conv: %s\n", err.msg);
        exit(1);
    }
}

static double best_of(int which, const q_ctx *q, const f_ctx *f, int *reps)
{
    double best = 1e30, t_end = now() + budget / 5.0;
    int r = 0;
    do {
        double t0 = now();
        if (which == 0)
            run_q(q);
        else
            run_f(f);
        double dt = now() - t0;
        best = dt < best ? dt : best;
        r++;
    } while (now() < t_end || r < 3);
    *reps += r;
    return best;
}

/* The fp32 plan in layout blocked (0 NCHW, 1 NCHW16c), NULL where it does
 * not apply. */
static cq_conv2d_plan *f_plan(const layer *L, int blocked, const float *w, const float *b,
                              size_t nw)
{
    cq_err err;
    cq_conv2d_params p = cq_conv2d_params_default();
    p.n = 1;
    p.c_in = L->c_in;
    p.h = p.w = L->hw;
    p.c_out = L->c_out;
    p.kh = p.kw = L->k;
    p.stride_h = p.stride_w = L->stride;
    p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = L->k / 2;
    p.groups = L->groups;
    p.act.kind = CQ_ACT_RELU;
    if (blocked) {
        if (L->c_in % 16 || L->c_out % 16)
            return NULL;
        p.x_blocked = p.y_blocked = 1;
        if (!cq_conv2d_blocked_native(&p))
            return NULL;
    }
    return cq_conv2d_plan_new(&p, w, nw, b, (size_t)L->c_out, &err);
}

int main(int argc, char **argv)
{
    int tsv = 0, nsel = 0;
    const char *sel[16];
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tsv") == 0)
            tsv = 1;
        else if (strspn(argv[i], "0123456789.") == strlen(argv[i]))
            budget = atof(argv[i]);
        else if (nsel < 16)
            sel[nsel++] = argv[i];
    }
    cq_kern_set_threads(1);
    if (!tsv)
        printf("%-22s %-6s %9s %9s %9s %9s %7s\n", "layer", "path", "int8_ms", "GOP/s", "fp32_ms",
               "GFLOP/s", "fp32/i8");
    for (size_t li = 0; li < sizeof layers / sizeof layers[0]; li++) {
        const layer *L = &layers[li];
        int keep = nsel == 0;
        for (int i = 0; i < nsel; i++)
            keep |= strstr(L->name, sel[i]) != NULL;
        if (!keep)
            continue;
        cq_err err;
        int64_t cig = L->c_in / L->groups, pad = L->k / 2;
        int64_t oh = (L->hw + 2 * pad - L->k) / L->stride + 1;
        size_t nw = (size_t)(L->c_out * cig * L->k * L->k);
        size_t nx = (size_t)(L->c_in * L->hw * L->hw), ny = (size_t)(L->c_out * oh * oh);
        int8_t *w8 = malloc(nw);
        float *wf = malloc(nw * 4), *bf = malloc((size_t)L->c_out * 4);
        float *mult = malloc((size_t)L->c_out * 4);
        int32_t *b32 = malloc((size_t)L->c_out * 4);
        /* the activations (and the scratch below) as calq's executor allocates
         * them (cq_alloc, 64-byte aligned; malloc put 32@112's int8 input 16
         * bytes off a 64-byte boundary) */
        uint8_t *x8 = cq_alloc(nx), *y8 = cq_alloc(ny);
        float *xf = cq_alloc(nx * 4), *yf = cq_alloc(ny * 4);
        uint32_t s = 12345;
        for (size_t i = 0; i < nw; i++) {
            s = s * 1664525u + 1013904223u;
            w8[i] = (int8_t)(s >> 24);
            wf[i] = (float)w8[i] / 128.0f;
        }
        for (int64_t j = 0; j < L->c_out; j++) {
            b32[j] = (int32_t)(j * 37 % 2001) - 1000;
            bf[j] = (float)b32[j] / 1000.0f;
            mult[j] = 1.0f / (float)(cig * L->k * L->k * 64);
        }
        for (size_t i = 0; i < nx; i++) {
            s = s * 1664525u + 1013904223u;
            x8[i] = (uint8_t)(s >> 24);
            xf[i] = (float)x8[i] / 255.0f;
        }
        cq_qconv2d_params qp = cq_qconv2d_params_default();
        qp.c.n = 1;
        qp.c.c_in = L->c_in;
        qp.c.h = qp.c.w = L->hw;
        qp.c.c_out = L->c_out;
        qp.c.kh = qp.c.kw = L->k;
        qp.c.stride_h = qp.c.stride_w = L->stride;
        qp.c.pad_top = qp.c.pad_left = qp.c.pad_bottom = qp.c.pad_right = pad;
        qp.c.groups = L->groups;
        qp.x_zp = 7;
        qp.y_zp = 0;
        qp.x_nhwc = qp.y_nhwc = 1;
        q_ctx q = {cq_qconv2d_plan_new(&qp, w8, b32, mult, &err), x8, y8, NULL, 0};
        if (!q.pl) {
            fprintf(stderr, "%s: %s\n", L->name, err.msg);
            return 1;
        }
        q.sb = cq_qconv2d_scratch_bytes(q.pl);
        q.s = cq_alloc(q.sb);
        f_ctx f[2];
        int nf = 0;
        for (int bl = 0; bl < 2; bl++) {
            cq_conv2d_plan *pl = f_plan(L, bl, wf, bf, nw);
            if (!pl)
                continue;
            f[nf].pl = pl;
            f[nf].x = xf;
            f[nf].y = yf;
            f[nf].nx = nx;
            f[nf].ny = ny;
            f[nf].sb = cq_conv2d_scratch_bytes(pl);
            f[nf].s = cq_alloc(f[nf].sb);
            nf++;
        }
        double tq = 1e30, tf = 1e30;
        int reps = 0;
        for (int slice = 0; slice < 5; slice++) {
            double t = best_of(0, &q, NULL, &reps);
            tq = t < tq ? t : tq;
            for (int k = 0; k < nf; k++) {
                t = best_of(1, NULL, &f[k], &reps);
                tf = t < tf ? t : tf;
            }
        }
        double ops = 2.0 * (double)ny * (double)(cig * L->k * L->k);
        if (tsv)
            printf("%s\t%s\t%.4f\t%.1f\t%.4f\t%.1f\t%.2f\n", L->name, cq_qconv2d_path(q.pl),
                   tq * 1e3, ops / tq * 1e-9, tf * 1e3, ops / tf * 1e-9, tf / tq);
        else
            printf("%-22s %-6s %9.4f %9.1f %9.4f %9.1f %7.2f\n", L->name, cq_qconv2d_path(q.pl),
                   tq * 1e3, ops / tq * 1e-9, tf * 1e3, ops / tf * 1e-9, tf / tq);
        fflush(stdout);
        for (int k = 0; k < nf; k++) {
            cq_conv2d_plan_free(f[k].pl);
            cq_free(f[k].s);
        }
        cq_qconv2d_plan_free(q.pl);
        cq_free(q.s);
        free(w8);
        free(wf);
        free(bf);
        free(mult);
        free(b32);
        cq_free(x8);
        cq_free(y8);
        cq_free(xf);
        cq_free(yf);
    }
    return 0;
}
