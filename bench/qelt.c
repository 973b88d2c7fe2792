/* bench/qelt.c - the int8 executor's memory-bound kernels (kern_qelt.h), one
 * thread, on ResNet-sized activations (802,816 values: 3.2 MB as f32, 0.8 MB
 * as codes), on every instruction set this machine has. Each kernel's rate
 * is its bytes read + written per second; the anchor is memcpy of the
 * kernel's input (its bytes read + written), timed alternately with the
 * kernel in the same loop, the best of the repeats of each.
 *
 *     build/bench/qelt [seconds per row, default 0.3] [--tsv]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kern/kern_qelt.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

enum { K_Q, K_QT, K_DQ, K_DQT, K_TR, K_TRB, K_ADD, K_ADDB, K_MP, K_MPT, K_GAP, K_GAPT, K_LUT, K_N };

static const char *names[K_N] = {
    "quantize f32 -> u8 (NCHW)",   "quantize f32 NCHW -> u8 NHWC", "dequantize u8 -> f32 (NCHW)",
    "dequantize u8 NHWC -> f32 NCHW", "u8 NCHW -> NHWC",            "u8 NHWC -> NCHW",
    "QLinearAdd u8",               "QLinearAdd u8, b a scalar",    "MaxPool 3x3 s2 p1 u8 NCHW",
    "MaxPool 3x3 s2 p1 u8 NHWC",   "GlobalAveragePool u8 NCHW",    "GlobalAveragePool u8 NHWC",
    "LUT u8"};

#define N 1
#define C 64
#define HW (112 * 112)
#define CNT ((int64_t)N * C * HW)

typedef struct bufs {
    float *xf, *yf;
    uint8_t *a, *b, *c, *mp;
    uint8_t lut[256];
    cq_pool2d_params pool;
} bufs;

/* One call of kernel k; the bytes it reads (*rd) and writes (*wr). */
static void run(int k, bufs *B, double *rd, double *wr)
{
    cq_err err;
    double n = (double)CNT;
    switch (k) {
    case K_Q:
    case K_QT:
        cq_quantize_f32_8(B->xf, N, C, HW, 0.02f, 128, CQ_U8, B->a, k == K_QT, &err);
        *rd = 4 * n, *wr = n;
        break;
    case K_DQ:
    case K_DQT:
        cq_dequantize_8_f32(B->a, CQ_U8, N, C, HW, k == K_DQT, 0.02f, 128, B->yf, &err);
        *rd = n, *wr = 4 * n;
        break;
    case K_TR:
        cq_nchw_to_nhwc_8(B->a, N, C, HW, B->b);
        *rd = n, *wr = n;
        break;
    case K_TRB:
        cq_nhwc_to_nchw_8(B->a, N, C, HW, B->b);
        *rd = n, *wr = n;
        break;
    case K_ADD:
        cq_qadd_8(CQ_U8, B->a, CNT, 0.02f, 128, B->b, CNT, 0.03f, 120, 0.04f, 110, B->c, CNT, &err);
        *rd = 2 * n, *wr = n;
        break;
    case K_ADDB:
        cq_qadd_8(CQ_U8, B->a, CNT, 0.02f, 128, B->b, 1, 0.03f, 120, 0.04f, 110, B->c, CNT, &err);
        *rd = n, *wr = n;
        break;
    case K_MP:
    case K_MPT:
        cq_maxpool2d_8(&B->pool, CQ_U8, B->a, B->mp, k == K_MPT, &err);
        *rd = n, *wr = n / 4;
        break;
    case K_GAP:
    case K_GAPT:
        cq_global_avgpool_8(CQ_U8, B->a, N, C, HW, k == K_GAPT, 0.02f, 128, 0.01f, 0, B->mp,
                            &err);
        *rd = n, *wr = N * C;
        break;
    default:
        cq_lut_8(B->lut, B->a, B->b, CNT);
        *rd = n, *wr = n;
        break;
    }
}

int main(int argc, char **argv)
{
    double secs = 0.3;
    int tsv = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--tsv"))
            tsv = 1;
        else
            secs = atof(argv[i]);
    }
    bufs B;
    B.xf = cq_alloc((size_t)CNT * 4);
    B.yf = cq_alloc((size_t)CNT * 4);
    B.a = cq_alloc((size_t)CNT);
    B.b = cq_alloc((size_t)CNT);
    B.c = cq_alloc((size_t)CNT);
    B.mp = cq_alloc((size_t)CNT);
    void *cp = cq_alloc((size_t)CNT * 4);
    if (!B.xf || !B.yf || !B.a || !B.b || !B.c || !B.mp || !cp)
        return 1;
    uint32_t s = 1;
    for (int64_t i = 0; i < CNT; i++) {
        s = s * 1664525u + 1013904223u;
        B.xf[i] = (float)((s >> 8) & 0xffff) / 8192.0f - 4.0f;
        B.a[i] = (uint8_t)(s >> 24);
        B.b[i] = (uint8_t)(s >> 16);
    }
    for (int i = 0; i < 256; i++)
        B.lut[i] = (uint8_t)(255 - i);
    B.pool = cq_pool2d_params_default();
    B.pool.n = N;
    B.pool.c = C;
    B.pool.h = B.pool.w = 112;
    B.pool.kh = B.pool.kw = 3;
    B.pool.stride_h = B.pool.stride_w = 2;
    B.pool.pad_top = B.pool.pad_left = B.pool.pad_bottom = B.pool.pad_right = 1;
    cq_kern_set_threads(1);
    cq_isa isas[3] = {CQ_ISA_SCALAR, CQ_ISA_AVX2, CQ_ISA_AVX512};
    if (tsv)
        printf("kernel\tisa\tus\tgbs\tmemcpy_gbs\tratio\n");
    else
        printf("%-32s %-7s %9s %8s %11s %6s\n", "kernel (1x64x112x112)", "isa", "us", "GB/s",
               "memcpy GB/s", "ratio");
    for (int k = 0; k < K_N; k++)
        for (int ii = 0; ii < 3; ii++) {
            if (cq_kern_set_isa(isas[ii]) != isas[ii])
                continue;
            double rd, wr, best = 1e30, best_m = 1e30;
            run(k, &B, &rd, &wr); /* warm */
            double t_end = now() + secs;
            while (now() < t_end) {
                double t0 = now();
                run(k, &B, &rd, &wr);
                double t1 = now();
                memcpy(cp, k == K_Q || k == K_QT ? (void *)B.xf : (void *)B.a, (size_t)rd);
                double t2 = now();
                best = t1 - t0 < best ? t1 - t0 : best;
                best_m = t2 - t1 < best_m ? t2 - t1 : best_m;
            }
            double gbs = (rd + wr) / best * 1e-9, mgbs = 2 * rd / best_m * 1e-9;
            if (tsv)
                printf("%s\t%s\t%.1f\t%.2f\t%.2f\t%.3f\n", names[k], cq_isa_name(isas[ii]),
                       best * 1e6, gbs, mgbs, gbs / mgbs);
            else
                printf("%-32s %-7s %9.1f %8.2f %11.2f %6.3f\n", names[k], cq_isa_name(isas[ii]),
                       best * 1e6, gbs, mgbs, gbs / mgbs);
        }
    cq_free(B.xf);
    cq_free(B.yf);
    cq_free(B.a);
    cq_free(B.b);
    cq_free(B.c);
    cq_free(B.mp);
    cq_free(cp);
    return 0;
}
