/* kern_isa.c - instruction-set dispatch and the scalar inner loops (the
 * reference every vector table is tested against). */
#include "kern/kern_internal.h"
#include "base/par.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Detected once (pthread_once: two host threads may ask first at the same
 * time); cq_kern_set_isa / cq_kern_set_amx are for before threads start. */
static pthread_once_t isa_once = PTHREAD_ONCE_INIT, amx_once = PTHREAD_ONCE_INIT;
static cq_isa isa_now = CQ_ISA_SCALAR;

static cq_isa isa_best(void)
{
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return CQ_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return CQ_ISA_AVX2;
#endif
    return CQ_ISA_SCALAR;
}

static cq_isa isa_clamp(cq_isa want)
{
    cq_isa best = isa_best();
    if ((int)want < 0 || want >= CQ_ISA_COUNT)
        want = best;
    return want > best ? best : want;
}

static void isa_init(void)
{
    cq_isa want = isa_best();
    const char *env = getenv("CALQ_ISA");
    if (env && strcmp(env, "scalar") == 0)
        want = CQ_ISA_SCALAR;
    else if (env && strcmp(env, "avx2") == 0)
        want = CQ_ISA_AVX2;
    else if (env && strcmp(env, "avx512") == 0)
        want = CQ_ISA_AVX512;
    isa_now = isa_clamp(want);
}

cq_isa cq_kern_isa(void)
{
    pthread_once(&isa_once, isa_init);
    return isa_now;
}

cq_isa cq_kern_set_isa(cq_isa isa)
{
    pthread_once(&isa_once, isa_init);
    isa_now = isa_clamp(isa);
    return isa_now;
}

/* ---- AMX ---------------------------------------------------------------- */

#if defined(__GNUC__) && defined(__x86_64__) && defined(__linux__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#define CQ__ARCH_REQ_XCOMP_PERM 0x1023
#define CQ__XFEATURE_XTILEDATA 18
#endif

static int amx_have, amx_want = 1;

/* CPUID (AMX-TILE and AMX-INT8), the OS's XCR0 (tile config and data
 * state enabled), then Linux's per-process permission to use the tile data
 * state; once. */
static int amx_detect(void)
{
#if defined(__GNUC__) && defined(__x86_64__) && defined(__linux__)
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d & (1u << 24)) || !(d & (1u << 25)))
        return 0;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) /* OSXSAVE */
        return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & (3u << 17)) != (3u << 17))
        return 0;
    return syscall(SYS_arch_prctl, CQ__ARCH_REQ_XCOMP_PERM, CQ__XFEATURE_XTILEDATA) == 0;
#else
    return 0;
#endif
}

static void amx_once_init(void)
{
    amx_have = amx_detect();
    const char *env = getenv("CALQ_AMX");
    if (env && strcmp(env, "0") == 0)
        amx_want = 0;
}

static void amx_init(void) { pthread_once(&amx_once, amx_once_init); }

int cq_kern_amx(void)
{
    amx_init();
    return amx_have && amx_want && cq_kern_isa() == CQ_ISA_AVX512;
}

int cq_kern_set_amx(int on)
{
    amx_init();
    amx_want = on != 0;
    return cq_kern_amx();
}

/* ---- VNNI, for the int8 kernels ----------------------------------------- */

static pthread_once_t vnni_once = PTHREAD_ONCE_INIT;
static int vnni_have, vnni_want = 1;

static void vnni_once_init(void)
{
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    vnni_have = __builtin_cpu_supports("avx512vnni");
#endif
    const char *env = getenv("CALQ_VNNI");
    if (env && strcmp(env, "0") == 0)
        vnni_want = 0;
}

cq_isa cq_kern_isa_s8(void)
{
    pthread_once(&vnni_once, vnni_once_init);
    cq_isa isa = cq_kern_isa();
    return isa == CQ_ISA_AVX512 && !(vnni_have && vnni_want) ? CQ_ISA_AVX2 : isa;
}

cq_isa cq_kern_set_vnni(int on)
{
    pthread_once(&vnni_once, vnni_once_init);
    vnni_want = on != 0;
    return cq_kern_isa_s8();
}

/* OpenBLAS's thread control (declared in its cblas.h; repeated so that a
 * reference CBLAS header does not break the build). */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

void cq_kern_set_threads(int n)
{
    cq_par_set_threads(n);
    openblas_set_num_threads(cq_par_threads());
}

/* OpenBLAS's kernel choice. A DYNAMIC_ARCH OpenBLAS (Debian's) picks its
 * kernels by CPU model when it loads; a model newer than the library
 * (Debian 12's 0.3.21 on Emerald Rapids, model 207) gets the SSE3
 * "Prescott" kernels: its sgemm at a fifth of the AVX-512 kernels' rate
 * (bench/NOTES.md, "a new host, OpenBLAS's kernels"). Where that happened
 * and the CPU has AVX-512 (or AVX2 with FMA), calq has OpenBLAS choose
 * again with OPENBLAS_CORETYPE=SkylakeX (Haswell), the choice OpenBLAS's
 * later releases make for unknown models. gotoblas_dynamic_quit / _init are
 * OpenBLAS's own (exported by DYNAMIC_ARCH builds, weak here: absent
 * elsewhere, nothing is done); this runs while calq loads, before any
 * BLAS call of calq's. A user's OPENBLAS_CORETYPE is left as it is. */
const char *openblas_get_corename(void) __attribute__((weak));
void gotoblas_dynamic_init(void) __attribute__((weak));
void gotoblas_dynamic_quit(void) __attribute__((weak));

static int blas_core_is_old(const char *name)
{
    static const char *const old[] = {"Prescott", "Core2", "Penryn", "Dunnington",
                                      "Nehalem",  "Atom",  "Katmai", "Unknown"};
    for (size_t i = 0; i < sizeof old / sizeof old[0]; i++)
        if (strcasecmp(name, old[i]) == 0)
            return 1;
    return 0;
}

const char *cq_kern_blas_core(void)
{
    return openblas_get_corename ? openblas_get_corename() : "";
}

__attribute__((constructor)) static void blas_core_init(void)
{
    if (!openblas_get_corename || !gotoblas_dynamic_init || !gotoblas_dynamic_quit ||
        getenv("OPENBLAS_CORETYPE"))
        return;
    const char *name = openblas_get_corename();
    cq_isa best = isa_best();
    if (!name || !blas_core_is_old(name) || best == CQ_ISA_SCALAR)
        return;
    setenv("OPENBLAS_CORETYPE", best == CQ_ISA_AVX512 ? "SkylakeX" : "Haswell", 1);
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    unsetenv("OPENBLAS_CORETYPE");
}

int cq_kern_blas_threads(void) { return openblas_get_num_threads(); }

void cq_kern_set_blas_threads(int n) { openblas_set_num_threads(n < 1 ? 1 : n); }

int cq_kern_threads(void) { return cq_par_threads(); }

const char *cq_isa_name(cq_isa isa)
{
    switch (isa) {
    case CQ_ISA_SCALAR:
        return "scalar";
    case CQ_ISA_AVX2:
        return "avx2";
    case CQ_ISA_AVX512:
        return "avx512";
    default:
        return "?";
    }
}

const cq__kern_vtab *cq__kern(void)
{
    switch (cq_kern_isa()) {
    case CQ_ISA_AVX512:
        return &cq__kern_avx512;
    case CQ_ISA_AVX2:
        return &cq__kern_avx2;
    default:
        return &cq__kern_scalar;
    }
}

/* ---- scalar loops ------------------------------------------------------- */

float cq__unary1(cq_unop op, float a, float b, float x)
{
    switch (op) {
    case CQ_UN_RELU:
        return x > 0.0f ? x : 0.0f;
    case CQ_UN_LEAKY_RELU:
        return x >= 0.0f ? x : a * x;
    case CQ_UN_CLIP:
        x = x < a ? a : x;
        return x > b ? b : x;
    case CQ_UN_SIGMOID:
        return 1.0f / (1.0f + expf(-x));
    case CQ_UN_TANH:
        return tanhf(x);
    case CQ_UN_HARDSIGMOID: {
        float t = a * x + b;
        return t < 0.0f ? 0.0f : (t > 1.0f ? 1.0f : t);
    }
    case CQ_UN_HARDSWISH: {
        float t = x + 3.0f;
        t = t < 0.0f ? 0.0f : (t > 6.0f ? 6.0f : t);
        return x * t * (1.0f / 6.0f);
    }
    case CQ_UN_EXP:
        return expf(x);
    case CQ_UN_ERF:
        return erff(x);
    case CQ_UN_GELU:
        return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case CQ_UN_GELU_TANH:
        return 0.5f * x * (1.0f + tanhf(0.79788456080286536f * (x + 0.044715f * x * x * x)));
    case CQ_UN_SILU:
        return x / (1.0f + expf(-x));
    default:
        return x;
    }
}

static void s_unary(cq_unop op, float a, float b, const float *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = cq__unary1(op, a, b, x[i]);
}

static void s_binary(cq_binop op, const float *a, int a_inc, const float *b, int b_inc, float *y,
                     int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = cq__binop1(op, a[i * a_inc], b[i * b_inc]);
}

static void s_bias_act(float bias, cq_act act, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = cq__act1(act, y[i] + bias);
}

static float s_sum(const float *x, int64_t n)
{
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++)
        s += x[i];
    return s;
}

static float s_max(const float *x, int64_t n)
{
    float m = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        m = x[i] > m ? x[i] : m;
    return m;
}

static void s_dw_row(const float *const *rows, const float *const *wrows, int64_t nrows,
                     int64_t kw, int64_t sw, int64_t dw, int64_t x_off, int64_t x_len,
                     int64_t ox0, int64_t ox1, float bias, cq_act act, float *y)
{
    (void)x_len;
    for (int64_t ox = ox0; ox < ox1; ox++) {
        float s = bias;
        for (int64_t r = 0; r < nrows; r++) {
            const float *xr = rows[r] + ox * sw + x_off;
            for (int64_t kx = 0; kx < kw; kx++)
                s += wrows[r][kx] * xr[kx * dw];
        }
        y[ox] = cq__act1(act, s);
    }
}

static void s_dw_nhwc(const cq_conv2d_params *p, int64_t oh, int64_t ow, const float *x,
                      const float *wp, const float *bias, float *y)
{
    int64_t C = p->c_in;
    for (int64_t oy = 0; oy < oh; oy++)
        for (int64_t ox = 0; ox < ow; ox++) {
            float *yo = y + (oy * ow + ox) * C;
            for (int64_t c = 0; c < C; c++)
                yo[c] = bias[c];
            for (int64_t ky = 0; ky < p->kh; ky++) {
                int64_t iy = oy * p->stride_h - p->pad_top + ky * p->dil_h;
                if (iy < 0 || iy >= p->h)
                    continue;
                for (int64_t kx = 0; kx < p->kw; kx++) {
                    int64_t ix = ox * p->stride_w - p->pad_left + kx * p->dil_w;
                    if (ix < 0 || ix >= p->w)
                        continue;
                    const float *xi = x + (iy * p->w + ix) * C, *wk = wp + (ky * p->kw + kx) * C;
                    for (int64_t c = 0; c < C; c++)
                        yo[c] += wk[c] * xi[c];
                }
            }
            for (int64_t c = 0; c < C; c++)
                yo[c] = cq__act1(p->act, yo[c]);
        }
}

static void s_transpose(const float *src, int64_t rows, int64_t cols, float *dst)
{
    enum { T = 32 };
    for (int64_t r0 = 0; r0 < rows; r0 += T)
        for (int64_t c0 = 0; c0 < cols; c0 += T) {
            int64_t r1 = r0 + T < rows ? r0 + T : rows, c1 = c0 + T < cols ? c0 + T : cols;
            for (int64_t r = r0; r < r1; r++)
                for (int64_t c = c0; c < c1; c++)
                    dst[c * rows + r] = src[r * cols + c];
        }
}

static void s_pool_row(int is_max, const float *const *rows, int64_t kh, int64_t kw, int64_t sw,
                       int64_t x_off, int64_t x_len, int64_t ox0, int64_t ox1, float scale,
                       float *y)
{
    (void)x_len;
    for (int64_t ox = ox0; ox < ox1; ox++) {
        const float *q = rows[0] + ox * sw + x_off;
        float m = q[0], s = 0.0f;
        for (int64_t r = 0; r < kh; r++) {
            q = rows[r] + ox * sw + x_off;
            for (int64_t k = 0; k < kw; k++) {
                m = q[k] > m ? q[k] : m;
                s += q[k];
            }
        }
        y[ox] = is_max ? m : s * scale;
    }
}

static void s_lerp(const float *a, const float *b, float wa, float wb, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = wa * a[i] + wb * b[i];
}

static void s_binary16(cq_binop op, const float *x, const float *s16, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = cq__binop1(op, x[i], s16[i % 16]);
}

const cq__kern_vtab cq__kern_scalar = {s_unary,  s_binary,  s_bias_act, s_sum,
                                       s_max,    s_dw_row,  s_dw_nhwc,  s_pool_row,
                                       s_transpose, s_lerp, s_binary16};

void cq_transpose_f32(const float *src, int64_t rows, int64_t cols, float *dst)
{
    cq__kern()->transpose(src, rows, cols, dst);
}

/* A 16-channel block of NCHW, (16, hw), transposed is the block's (hw, 16).
 * The layout changes and the activation pass are shared out over the kernel
 * threads (cq__mem_shares) by 16-channel blocks or 16-float lines. */
typedef struct move_ctx {
    const float *src;
    float *dst;
    int64_t hw, units;
    int kind; /* 0 to NCHW16c, 1 from it, 2 activation in place */
    cq_act act;
} move_ctx;

static void move_part(void *ctx, int i, int n, int tid)
{
    (void)tid;
    const move_ctx *c = ctx;
    const cq__kern_vtab *k = cq__kern();
    int64_t u0 = c->units * i / n, u1 = c->units * (i + 1) / n;
    if (c->kind == 2) {
        int64_t e1 = 16 * u1 < c->hw ? 16 * u1 : c->hw;
        if (e1 > 16 * u0)
            k->bias_act(0.0f, c->act, c->dst + 16 * u0, e1 - 16 * u0);
        return;
    }
    for (int64_t b = u0; b < u1; b++) {
        if (c->kind == 0)
            k->transpose(c->src + b * 16 * c->hw, 16, c->hw, c->dst + b * 16 * c->hw);
        else
            k->transpose(c->src + b * 16 * c->hw, c->hw, 16, c->dst + b * 16 * c->hw);
    }
}

static void move_run(move_ctx *c, double bytes)
{
    int n = cq__mem_shares(c->units, bytes);
    if (n > 1)
        cq_par_run(n, move_part, c);
    else
        move_part(c, 0, 1, 0);
}

void cq_to_blocked_f32(const float *src, int64_t n, int64_t c, int64_t hw, float *dst)
{
    move_ctx m = {src, dst, hw, n * (c / 16), 0, {CQ_ACT_NONE, 0.0f, 0.0f}};
    move_run(&m, 8.0 * (double)(n * c * hw));
}

void cq_from_blocked_f32(const float *src, int64_t n, int64_t c, int64_t hw, float *dst)
{
    move_ctx m = {src, dst, hw, n * (c / 16), 1, {CQ_ACT_NONE, 0.0f, 0.0f}};
    move_run(&m, 8.0 * (double)(n * c * hw));
}

void cq_act_apply_f32(cq_act act, float *y, int64_t n)
{
    if (act.kind == CQ_ACT_NONE)
        return;
    move_ctx m = {NULL, y, n, (n + 15) / 16, 2, act};
    move_run(&m, 8.0 * (double)n);
}
