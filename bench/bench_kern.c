/* bench_kern.c - single-thread timings of the conv kernels on ResNet-18 and
 * MobileNetV2 layers, each next to an anchor measured in the same run:
 *   im2col / 1x1 layers: OpenBLAS sgemm on the same GEMM shape (the conv's
 *     own sgemm without im2col or epilogue), ratio conv / anchor time;
 *   depthwise layers: memcpy of the same bytes (input + output), GB/s ratio;
 *   pooling and elementwise: the scalar _ref twin and memcpy of the same bytes.
 * Usage: bench_kern [seconds-per-measure] [--cold] [--threads N] [NAME-PART ...]
 * (NAME-PARTs keep the conv layers whose name holds one; --threads N: calq's
 * kernels at N threads, default 1; the sgemm anchor takes OPENBLAS_NUM_THREADS)
 * Layers whose kernel takes NCHW16c natively get a second line, "nchw16c",
 * with x and y in that layout.
 *   --cold: before each timed call, read a 64 MB buffer, so weights come from
 *   memory as inside a model whose weights exceed L3 (ResNet-18: 46 MB)
 *        bench_kern --layers   (the layer table, tab-separated, for bench/kern_ort.py) */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kern/kern.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double budget = 0.25;
static const char *filters[64]; /* NAME-PARTs: only the layers whose name holds one */
static int n_filters;
static int threads = 1;

static int wanted(const char *name)
{
    for (int i = 0; i < n_filters; i++)
        if (strstr(name, filters[i]))
            return 1;
    return n_filters == 0;
}
static const volatile char *evict_buf; /* --cold: read before each timed call */
static size_t evict_bytes;

static void evict_caches(void)
{
    unsigned sum = 0;
    for (size_t i = 0; i < evict_bytes; i += 64)
        sum += (unsigned)evict_buf[i];
    (void)sum;
}

/* best time of repeated calls within the budget (at least 3) */
#define BEST(expr, out)                                                                    \
    do {                                                                                   \
        expr;                                                                              \
        double t_end = now() + budget, best_ = 1e30;                                       \
        for (int rep_ = 0; rep_ < 3 || now() < t_end; rep_++) {                            \
            if (evict_bytes)                                                               \
                evict_caches();                                                            \
            double t0_ = now();                                                            \
            expr;                                                                          \
            double dt_ = now() - t0_;                                                      \
            best_ = dt_ < best_ ? dt_ : best_;                                             \
        }                                                                                  \
        (out) = best_;                                                                     \
    } while (0)

typedef struct layer {
    const char *name;
    int64_t c_in, h, w, c_out, k, stride, pad, groups;
} layer;

static const layer layers[] = {
    {"r18.stem 3>64 224 7x7/2", 3, 224, 224, 64, 7, 2, 3, 1},
    {"mv2.stem 3>32 224 3x3/2", 3, 224, 224, 32, 3, 2, 1, 1},
    {"bf.stem 3>24 256 5x5/2", 3, 256, 256, 24, 5, 2, 2, 1},
    {"mv3.stem 3>16 224 3x3/2", 3, 224, 224, 16, 3, 2, 1, 1},
    {"rg.proj 32>48 112 1x1/2", 32, 112, 112, 48, 1, 2, 0, 1},
    {"mv2.expand 16>96 112 1x1", 16, 112, 112, 96, 1, 1, 0, 1},
    {"mv2.project 32>16 112 1x1", 32, 112, 112, 16, 1, 1, 0, 1},
    {"bf.1x1 24>24 128", 24, 128, 128, 24, 1, 1, 0, 1},
    {"r18.l1 64>64 56 3x3", 64, 56, 56, 64, 3, 1, 1, 1},
    {"r18.l2 64>128 56 3x3/2", 64, 56, 56, 128, 3, 2, 1, 1},
    {"r18.l2 128>128 28 3x3", 128, 28, 28, 128, 3, 1, 1, 1},
    {"r18.proj 64>128 56 1x1/2", 64, 56, 56, 128, 1, 2, 0, 1},
    {"r18.l3 128>256 28 3x3/2", 128, 28, 28, 256, 3, 2, 1, 1},
    {"r18.l3 256>256 14 3x3", 256, 14, 14, 256, 3, 1, 1, 1},
    {"r18.l4 256>512 14 3x3/2", 256, 14, 14, 512, 3, 2, 1, 1},
    {"r18.l4 512>512 7 3x3", 512, 7, 7, 512, 3, 1, 1, 1},
    {"mv2.expand 24>144 56 1x1", 24, 56, 56, 144, 1, 1, 0, 1},
    {"mv2.project 144>24 56 1x1", 144, 56, 56, 24, 1, 1, 0, 1},
    {"mv2.expand 160>960 7 1x1", 160, 7, 7, 960, 1, 1, 0, 1},
    {"mv2.project 960>320 7 1x1", 960, 7, 7, 320, 1, 1, 0, 1},
    {"mv3.project 672>112 14 1x1", 672, 14, 14, 112, 1, 1, 0, 1},
    {"mv3.project 480>112 14 1x1", 480, 14, 14, 112, 1, 1, 0, 1},
    {"mv3.project 960>160 7 1x1", 960, 7, 7, 160, 1, 1, 0, 1},
    {"mv3.1x1 16>16 112", 16, 112, 112, 16, 1, 1, 0, 1},
    {"mv3.1x1 16>64 112", 16, 112, 112, 64, 1, 1, 0, 1},
    {"sh.1x1 232>232 7", 232, 7, 7, 232, 1, 1, 0, 1},
    {"sh.1x1 116>116 14", 116, 14, 14, 116, 1, 1, 0, 1},
    {"mv2.project 576>160 7 1x1", 576, 7, 7, 160, 1, 1, 0, 1},
    {"mv2.dw 32 112 3x3", 32, 112, 112, 32, 3, 1, 1, 32},
    {"mv2.dw 96 112 3x3/2", 96, 112, 112, 96, 3, 2, 1, 96},
    {"mv2.dw 144 56 3x3", 144, 56, 56, 144, 3, 1, 1, 144},
    {"mv2.dw 144 56 3x3/2", 144, 56, 56, 144, 3, 2, 1, 144},
    {"mv2.dw 192 28 3x3", 192, 28, 28, 192, 3, 1, 1, 192},
    {"mv2.dw 384 14 3x3", 384, 14, 14, 384, 3, 1, 1, 384},
    {"mv2.dw 576 14 3x3/2", 576, 14, 14, 576, 3, 2, 1, 576},
    {"mv2.dw 960 7 3x3", 960, 7, 7, 960, 3, 1, 1, 960},
    {"bf.dw 24 128 3x3", 24, 128, 128, 24, 3, 1, 1, 24},
    {"bf.dw 24 128 3x3/2", 24, 128, 128, 24, 3, 2, 1, 24},
    {"bf.dw 48 32 3x3", 48, 32, 32, 48, 3, 1, 1, 48},
    {"rg.grp 48 g6 112 3x3/2", 48, 112, 112, 48, 3, 2, 1, 6},
    {"rg.grp 104 g13 28 3x3", 104, 28, 28, 104, 3, 1, 1, 13},
    {"rg.grp 208 g26 14 3x3", 208, 14, 14, 208, 3, 1, 1, 26},
    {"rg.grp 440 g55 7 3x3", 440, 7, 7, 440, 3, 1, 1, 55},
    {"rx.grp 256 g8 14 3x3", 256, 14, 14, 256, 3, 1, 1, 8},
};

static void fill(float *x, size_t n)
{
    uint32_t s = 12345;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)(s >> 8) / 16777216.0f - 0.5f;
    }
}

/* Pooling and elementwise kernels: fast path per ISA, its _ref twin, and a
 * memcpy of the bytes read and written. */
static void other_kernels(void)
{
    cq_err err;
    size_t n = (size_t)64 * 112 * 112;
    float *x = malloc(n * 4), *x2 = malloc(n * 4), *y = malloc(n * 4), *c = malloc(64 * 4);
    fill(x, n);
    fill(x2, n);
    fill(c, 64);
    double t, tref, tcopy;
    printf("\n%-34s %-7s %9s %9s %8s %9s %8s\n", "kernel", "isa", "fast_ms", "ref_ms", "ref/fast",
           "memcpy_ms", "ms/copy");
    static const struct {
        const char *name;
        cq_pool_kind kind;
        int64_t c, hw, k, s, pad;
    } pools[] = {
        {"maxpool 3x3/2 p1 64x112x112", CQ_POOL_MAX, 64, 112, 3, 2, 1},
        {"maxpool 2x2/2 64x112x112", CQ_POOL_MAX, 64, 112, 2, 2, 0},
        {"avgpool 3x3/1 p1 64x56x56", CQ_POOL_AVG, 64, 56, 3, 1, 1},
    };
    cq_isa pisas[3] = {CQ_ISA_AVX512, CQ_ISA_AVX2, CQ_ISA_SCALAR};
    for (size_t i = 0; i < sizeof pools / sizeof pools[0]; i++) {
        cq_pool2d_params p = cq_pool2d_params_default();
        p.kind = pools[i].kind;
        p.n = 1;
        p.c = pools[i].c;
        p.h = p.w = pools[i].hw;
        p.kh = p.kw = pools[i].k;
        p.stride_h = p.stride_w = pools[i].s;
        p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = pools[i].pad;
        int64_t oh, ow;
        cq_pool2d_out_shape(&p, &oh, &ow, &err);
        size_t nx = (size_t)(p.c * p.h * p.w), ny = (size_t)(p.c * oh * ow);
        for (int is = 0; is < 3; is++) {
            cq_kern_set_isa(pisas[is]);
            BEST(cq_pool2d_f32(&p, x, nx, y, ny, &err), t);
            BEST(cq_pool2d_f32_ref(&p, x, nx, y, ny, &err), tref);
            BEST(memcpy(x2, x, (nx + ny) * 4 > n * 4 ? n * 4 : (nx + ny) * 4), tcopy);
            printf("%-34s %-7s %9.3f %9.3f %8.2f %9.3f %8.2f\n", pools[i].name,
                   cq_isa_name(cq_kern_isa()), t * 1e3, tref * 1e3, tref / t, tcopy * 1e3,
                   t / tcopy);
        }
    }
    cq_isa isas[3] = {CQ_ISA_AVX512, CQ_ISA_AVX2, CQ_ISA_SCALAR};
    int64_t shp[4] = {1, 64, 112, 112}, chan[3] = {64, 1, 1};
    BEST(memcpy(y, x, n * 4), tcopy);
    for (int i = 0; i < 3; i++) {
        cq_kern_set_isa(isas[i]);
        const char *isa = cq_isa_name(cq_kern_isa());
        BEST(cq_binary_f32(CQ_BIN_ADD, 4, shp, x, 4, shp, x2, y, n, &err), t);
        BEST(cq_binary_f32_ref(CQ_BIN_ADD, 4, shp, x, 4, shp, x2, y, n, &err), tref);
        printf("%-34s %-7s %9.3f %9.3f %8.2f %9.3f %8.2f\n", "add same shape 64x112x112", isa,
               t * 1e3, tref * 1e3, tref / t, tcopy * 1e3, t / tcopy);
        BEST(cq_binary_f32(CQ_BIN_MUL, 4, shp, x, 3, chan, c, y, n, &err), t);
        BEST(cq_binary_f32_ref(CQ_BIN_MUL, 4, shp, x, 3, chan, c, y, n, &err), tref);
        printf("%-34s %-7s %9.3f %9.3f %8.2f %9.3f %8.2f\n", "mul per channel (64,1,1)", isa,
               t * 1e3, tref * 1e3, tref / t, tcopy * 1e3, t / tcopy);
        static const struct {
            const char *name;
            cq_unop op;
        } un[] = {{"relu", CQ_UN_RELU}, {"sigmoid", CQ_UN_SIGMOID}, {"tanh", CQ_UN_TANH},
                  {"hardswish", CQ_UN_HARDSWISH}, {"exp", CQ_UN_EXP}};
        for (size_t u = 0; u < sizeof un / sizeof un[0]; u++) {
            BEST(cq_unary_f32(un[u].op, 0.0f, 0.0f, x, y, (int64_t)n), t);
            BEST(cq_unary_f32_ref(un[u].op, 0.0f, 0.0f, x, y, (int64_t)n), tref);
            printf("%-34s %-7s %9.3f %9.3f %8.2f %9.3f %8.2f\n", un[u].name, isa, t * 1e3,
                   tref * 1e3, tref / t, tcopy * 1e3, t / tcopy);
        }
        BEST(cq_softmax_f32(784, 1000, x, y), t);
        BEST(cq_softmax_f32_ref(784, 1000, x, y), tref);
        printf("%-34s %-7s %9.3f %9.3f %8.2f %9.3f %8.2f\n", "softmax 784x1000", isa, t * 1e3,
               tref * 1e3, tref / t, tcopy * 1e3 * 784000.0 / (double)n,
               t / (tcopy * 784000.0 / (double)n));
    }
    cq_kern_set_isa(CQ_ISA_COUNT);
    free(x);
    free(x2);
    free(y);
    free(c);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--layers") == 0) {
        for (size_t li = 0; li < sizeof layers / sizeof layers[0]; li++) {
            const layer *L = &layers[li];
            printf("%s\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld\n", L->name,
                   (long long)L->c_in, (long long)L->h, (long long)L->w, (long long)L->c_out,
                   (long long)L->k, (long long)L->stride, (long long)L->pad, (long long)L->groups);
        }
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--cold") == 0) {
            evict_bytes = (size_t)64 << 20;
            char *b = malloc(evict_bytes);
            if (!b)
                return 1;
            memset(b, 1, evict_bytes);
            evict_buf = b;
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            threads = atoi(argv[++i]);
        } else {
            /* a number is the budget; anything else ("960>160") a NAME-PART */
            char *end;
            double v = strtod(argv[i], &end);
            if (*argv[i] && !*end)
                budget = v;
            else if (n_filters < (int)(sizeof filters / sizeof filters[0]))
                filters[n_filters++] = argv[i];
        }
    }
    threads = threads < 1 ? 1 : threads;
    cq_kern_set_threads(threads);
    printf("threads: %d\n", threads);
    setvbuf(stdout, NULL, _IOLBF, 0);
    cq_err err;
    /* machine anchor: a large square sgemm */
    {
        int n = 1024;
        float *a = malloc((size_t)n * n * 4), *b = malloc((size_t)n * n * 4),
              *c = malloc((size_t)n * n * 4);
        fill(a, (size_t)n * n);
        fill(b, (size_t)n * n);
        double t;
        BEST(cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n,
                         0.0f, c, n),
             t);
        printf("anchor sgemm 1024^3: %.1f GFLOP/s\n", 2.0 * n * n * n / t * 1e-9);
        free(a);
        free(b);
        free(c);
    }
    printf("%-28s %-9s %-7s %9s %9s %9s %8s %s\n", "layer", "algo", "isa", "conv_ms", "GFLOP/s",
           "anchor_ms", "ratio", "anchor");
    for (size_t li = 0; li < sizeof layers / sizeof layers[0]; li++) {
        const layer *L = &layers[li];
        if (!wanted(L->name))
            continue;
        cq_conv2d_params p = cq_conv2d_params_default();
        p.n = 1;
        p.c_in = L->c_in;
        p.h = L->h;
        p.w = L->w;
        p.c_out = L->c_out;
        p.kh = p.kw = L->k;
        p.stride_h = p.stride_w = L->stride;
        p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = L->pad;
        p.groups = L->groups;
        p.act.kind = CQ_ACT_RELU;
        int64_t oh, ow;
        if (cq_conv2d_out_shape(&p, &oh, &ow, &err) != CQ_OK) {
            fprintf(stderr, "%s: %s\n", L->name, err.msg);
            return 1;
        }
        int64_t cig = p.c_in / p.groups, cog = p.c_out / p.groups, K = cig * p.kh * p.kw,
                P = oh * ow;
        size_t nx = (size_t)(p.c_in * p.h * p.w), ny = (size_t)(p.c_out * P),
               nw = (size_t)(p.c_out * K);
        float *x = malloc(nx * 4), *y = malloc(ny * 4), *w = malloc(nw * 4),
              *b = malloc((size_t)p.c_out * 4);
        fill(x, nx);
        fill(w, nw);
        fill(b, (size_t)p.c_out);
        cq_conv2d_plan *pl = cq_conv2d_plan_new(&p, w, nw, b, (size_t)p.c_out, &err);
        if (!pl) {
            fprintf(stderr, "%s: %s\n", L->name, err.msg);
            return 1;
        }
        size_t sb = cq_conv2d_scratch_bytes(pl);
        float *scratch = sb ? cq_alloc(sb) : NULL;
        double flop = 2.0 * (double)p.c_out * (double)K * (double)P;
        int dw = cq_conv2d_algo(pl) == CQ_CONV_DEPTHWISE ||
                 cq_conv2d_algo(pl) == CQ_CONV_DEPTHWISE_NHWC;
        double ta;
        if (dw) {
            /* anchor: copy the bytes the layer must touch */
            size_t bytes = (nx + ny) * 4;
            char *src = malloc(bytes), *dst = malloc(bytes);
            memset(src, 1, bytes);
            BEST(memcpy(dst, src, bytes), ta);
            free(src);
            free(dst);
        } else {
            float *col = malloc((size_t)(K * P) * 4);
            fill(col, (size_t)(K * P));
            BEST(for (int64_t g = 0; g < p.groups; g++) cblas_sgemm(
                     CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)cog, (int)P, (int)K, 1.0f,
                     w + g * cog * K, (int)K, col, (int)P, 0.0f, y + g * cog * P, (int)P),
                 ta);
            free(col);
        }
        cq_isa isas[3] = {CQ_ISA_AVX512, CQ_ISA_AVX2, CQ_ISA_SCALAR};
        /* depthwise: both layouts on every ISA (the default is the first line) */
        for (int i = 0; i < (dw ? 6 : 1); i++) {
            cq_kern_set_isa(isas[i % 3]);
            if (dw && i == 3) {
                cq_conv_algo other = cq_conv2d_algo(pl) == CQ_CONV_DEPTHWISE
                                         ? CQ_CONV_DEPTHWISE_NHWC
                                         : CQ_CONV_DEPTHWISE;
                cq_conv2d_plan_free(pl);
                cq_free(scratch);
                pl = cq_conv2d_plan_new_algo(&p, w, nw, b, (size_t)p.c_out, other, &err);
                if (!pl) {
                    fprintf(stderr, "%s: %s\n", L->name, err.msg);
                    return 1;
                }
                sb = cq_conv2d_scratch_bytes(pl);
                scratch = sb ? cq_alloc(sb) : NULL;
            }
            double t;
            BEST(cq_conv2d_run(pl, x, nx, y, ny, scratch, sb, &err), t);
            if (dw) {
                double gbs = (double)((nx + ny + nw) * 4) / t * 1e-9;
                printf("%-28s %-9s %-7s %9.3f %9.2f %9.3f %8.2f memcpy %.1f GB/s; dw %.1f GB/s\n",
                       L->name, cq_conv_algo_name(cq_conv2d_algo(pl)),
                       cq_isa_name(cq_kern_isa()), t * 1e3, flop / t * 1e-9, ta * 1e3, t / ta,
                       (double)((nx + ny) * 4) / ta * 1e-9, gbs);
            } else {
                printf("%-28s %-9s %-7s %9.3f %9.2f %9.3f %8.2f sgemm %dx%dx%d%s %.1f GFLOP/s\n",
                       L->name, cq_conv_algo_name(cq_conv2d_algo(pl)),
                       cq_isa_name(cq_kern_isa()), t * 1e3, flop / t * 1e-9, ta * 1e3, t / ta,
                       (int)cog, (int)P, (int)K, p.groups > 1 ? " per group" : "",
                       flop / ta * 1e-9);
            }
        }
        cq_kern_set_isa(CQ_ISA_COUNT);
        /* AVX-512, where the kernel reads and writes NCHW16c natively (as
         * the executor keeps values between such convolutions): x and y
         * blocked, the same anchor */
        cq_conv2d_params q = p;
        q.x_blocked = q.y_blocked = 1;
        cq_conv2d_plan *qb = cq_conv2d_blocked_native(&q)
                                 ? cq_conv2d_plan_new(&q, w, nw, b, (size_t)p.c_out, &err)
                                 : NULL;
        if (qb) {
            size_t qsb = cq_conv2d_scratch_bytes(qb);
            float *qs = qsb ? cq_alloc(qsb) : NULL;
            double t;
            BEST(cq_conv2d_run(qb, x, nx, y, ny, qs, qsb, &err), t);
            printf("%-28s %-9s %-7s %9.3f %9.2f %9.3f %8.2f %s, x and y in NCHW16c\n", L->name,
                   "nchw16c", cq_isa_name(cq_kern_isa()), t * 1e3, flop / t * 1e-9, ta * 1e3,
                   t / ta, dw ? "memcpy" : "sgemm");
            cq_free(qs);
            cq_conv2d_plan_free(qb);
        }
        cq_free(scratch);
        cq_conv2d_plan_free(pl);
        free(x);
        free(y);
        free(w);
        free(b);
    }
    if (n_filters == 0) /* NAME-PARTs pick conv layers: the rest is not asked for */
        other_kernels();
    return 0;
}
