/* kern_pool.c - MaxPool / AveragePool 2-D and the global pools (see kern.h).
 * The fast path splits each output row into the border (bounds checked) and
 * the interior, a vector row kernel (stride 1 and 2 vectorized). */
#include "kern/kern_internal.h"
#include "base/par.h"

#include <math.h>
#include <string.h>

#define DIM_MAX CQ__DIM_MAX
#define POOL_MAX_KH 64

cq_pool2d_params cq_pool2d_params_default(void)
{
    cq_pool2d_params p;
    memset(&p, 0, sizeof p);
    p.stride_h = p.stride_w = p.dil_h = p.dil_w = 1;
    return p;
}

static cq_status axis_out(const char *what, int64_t in, int64_t k, int64_t s, int64_t d,
                          int64_t p0, int64_t p1, int ceil_mode, int64_t *out, cq_err *err)
{
    cq_status st = cq__kern_axis_check(what, in, k, s, d, p0, p1, err);
    if (st != CQ_OK)
        return st;
    int64_t span = d * (k - 1) + 1, padded = in + p0 + p1;
    if (span > padded)
        return cq_errf(err, CQ_EINVAL, "%s: the dilated window (%lld) is larger than the padded "
                       "input (%lld)", what, (long long)span, (long long)padded);
    int64_t o = (padded - span + (ceil_mode ? s - 1 : 0)) / s + 1;
    /* a window must start inside the input or the top/left pad */
    if (ceil_mode && (o - 1) * s >= in + p0)
        o--;
    *out = o;
    return CQ_OK;
}

cq_status cq_pool2d_out_shape(const cq_pool2d_params *p, int64_t *oh, int64_t *ow, cq_err *err)
{
    if (!p)
        return cq_errf(err, CQ_EINVAL, "pool2d: NULL parameters");
    if (p->kind != CQ_POOL_MAX && p->kind != CQ_POOL_AVG)
        return cq_errf(err, CQ_EINVAL, "pool2d: unknown kind %d", (int)p->kind);
    if (p->n < 1 || p->c < 1 || p->n > DIM_MAX || p->c > DIM_MAX)
        return cq_errf(err, CQ_EINVAL, "pool2d: n %lld, c %lld (each must be 1 to 2^30)",
                       (long long)p->n, (long long)p->c);
    cq_status st = axis_out("pool2d height", p->h, p->kh, p->stride_h, p->dil_h, p->pad_top,
                            p->pad_bottom, p->ceil_mode, oh, err);
    if (st == CQ_OK)
        st = axis_out("pool2d width", p->w, p->kw, p->stride_w, p->dil_w, p->pad_left,
                      p->pad_right, p->ceil_mode, ow, err);
    if (st != CQ_OK)
        return st;
    double nx = (double)p->n * p->c * p->h * p->w, ny = (double)p->n * p->c * *oh * *ow;
    if (nx * 4 > (double)CQ_TENSOR_MAX_BYTES || ny * 4 > (double)CQ_TENSOR_MAX_BYTES)
        return cq_errf(err, CQ_ENOMEM, "pool2d: a tensor would exceed %llu bytes",
                       (unsigned long long)CQ_TENSOR_MAX_BYTES);
    return CQ_OK;
}

static cq_status pool_check(const cq_pool2d_params *p, size_t x_count, size_t y_count,
                            const float *x, const float *y, int64_t *oh, int64_t *ow, cq_err *err)
{
    cq_status st = cq_pool2d_out_shape(p, oh, ow, err);
    if (st != CQ_OK)
        return st;
    if (!x || !y)
        return cq_errf(err, CQ_EINVAL, "pool2d: NULL buffer");
    size_t nx = (size_t)(p->n * p->c * p->h * p->w), ny = (size_t)(p->n * p->c * *oh * *ow);
    if (x_count != nx || y_count != ny)
        return cq_errf(err, CQ_EINVAL, "pool2d: input has %zu elements (expected %zu), output "
                       "%zu (expected %zu)", x_count, nx, y_count, ny);
    return CQ_OK;
}

/* One output with full bounds checks: the reference, and the border of the
 * fast path. */
static float pool1(const cq_pool2d_params *p, const float *x, int64_t oy, int64_t ox)
{
    int64_t y0 = oy * p->stride_h - p->pad_top, x0 = ox * p->stride_w - p->pad_left;
    float m = -INFINITY;
    double s = 0.0;
    int64_t cnt = 0;
    for (int64_t ky = 0; ky < p->kh; ky++) {
        int64_t iy = y0 + ky * p->dil_h;
        if (iy < 0 || iy >= p->h)
            continue;
        for (int64_t kx = 0; kx < p->kw; kx++) {
            int64_t ix = x0 + kx * p->dil_w;
            if (ix < 0 || ix >= p->w)
                continue;
            float v = x[iy * p->w + ix];
            m = v > m ? v : m;
            s += v;
            cnt++;
        }
    }
    if (p->kind == CQ_POOL_MAX)
        return m;
    if (p->count_include_pad) {
        /* window clipped to the padded input, not to the ceil_mode overhang */
        int64_t ye = y0 + (p->kh - 1) * p->dil_h + 1, xe = x0 + (p->kw - 1) * p->dil_w + 1;
        int64_t yl = p->h + p->pad_bottom, xl = p->w + p->pad_right;
        int64_t ny = ye <= yl ? p->kh : (yl - y0 - 1) / p->dil_h + 1;
        int64_t nx = xe <= xl ? p->kw : (xl - x0 - 1) / p->dil_w + 1;
        cnt = ny * nx;
    }
    return cnt ? (float)(s / (double)cnt) : 0.0f;
}

cq_status cq_pool2d_f32_ref(const cq_pool2d_params *p, const float *x, size_t x_count, float *y,
                            size_t y_count, cq_err *err)
{
    int64_t oh, ow;
    cq_status st = pool_check(p, x_count, y_count, x, y, &oh, &ow, err);
    if (st != CQ_OK)
        return st;
    for (int64_t nc = 0; nc < p->n * p->c; nc++)
        for (int64_t oy = 0; oy < oh; oy++)
            for (int64_t ox = 0; ox < ow; ox++)
                y[(nc * oh + oy) * ow + ox] = pool1(p, x + nc * p->h * p->w, oy, ox);
    return CQ_OK;
}

/* Outputs o in [*lo, *hi) whose whole window o * s - pad + [0, span) lies in [0, len). */
static void interior(int64_t s, int64_t pad, int64_t span, int64_t len, int64_t out, int64_t *lo,
                     int64_t *hi)
{
    int64_t l = (pad + s - 1) / s;
    int64_t h = len - span + pad < 0 ? 0 : (len - span + pad) / s + 1;
    l = l > out ? out : l;
    h = h > out ? out : h;
    *lo = l;
    *hi = h < l ? l : h;
}

/* One border output of the fast path (no dilation): the window clipped to
 * the input by arithmetic instead of a test per tap. */
static float pool1_border(const cq_pool2d_params *p, const float *x, int64_t oy, int64_t ox)
{
    int64_t y0 = oy * p->stride_h - p->pad_top, x0 = ox * p->stride_w - p->pad_left;
    int64_t ya = y0 < 0 ? 0 : y0, yb = y0 + p->kh > p->h ? p->h : y0 + p->kh;
    int64_t xa = x0 < 0 ? 0 : x0, xb = x0 + p->kw > p->w ? p->w : x0 + p->kw;
    float m = -INFINITY, s = 0.0f;
    for (int64_t iy = ya; iy < yb; iy++)
        for (int64_t ix = xa; ix < xb; ix++) {
            float v = x[iy * p->w + ix];
            m = v > m ? v : m;
            s += v;
        }
    if (p->kind == CQ_POOL_MAX)
        return m;
    int64_t cnt = (yb - ya) * (xb - xa);
    if (p->count_include_pad) {
        int64_t ye = y0 + p->kh, xe = x0 + p->kw;
        int64_t yl = p->h + p->pad_bottom, xl = p->w + p->pad_right;
        cnt = ((ye < yl ? ye : yl) - y0) * ((xe < xl ? xe : xl) - x0);
    }
    return cnt > 0 ? s / (float)cnt : 0.0f;
}

/* Planes (image, channel) nc0 .. nc1 - 1 of the pool, through the AVX-512
 * row kernel where it applies, else the border / interior split. */
static void pool_planes(const cq_pool2d_params *p, int64_t oh, int64_t ow, const float *x,
                        float *y, int64_t nc0, int64_t nc1)
{
    if (cq_kern_isa() == CQ_ISA_AVX512) {
        cq_pool2d_params q = *p;
        q.n = 1;
        q.c = nc1 - nc0;
        if (cq__maxpool_avx512(&q, oh, ow, x + nc0 * p->h * p->w, y + nc0 * oh * ow))
            return;
    }
    const cq__kern_vtab *k = cq__kern();
    int64_t ylo, yhi, xlo, xhi, sw = p->stride_w, kw = p->kw, kh = p->kh, W = p->w;
    interior(p->stride_h, p->pad_top, kh, p->h, oh, &ylo, &yhi);
    interior(sw, p->pad_left, kw, W, ow, &xlo, &xhi);
    float inv = 1.0f / (float)(kh * kw);
    int is_max = p->kind == CQ_POOL_MAX;
    for (int64_t nc = nc0; nc < nc1; nc++) {
        const float *xc = x + nc * p->h * W;
        for (int64_t oy = 0; oy < oh; oy++) {
            float *yr = y + (nc * oh + oy) * ow;
            if (oy < ylo || oy >= yhi || xhi == xlo) {
                for (int64_t ox = 0; ox < ow; ox++)
                    yr[ox] = pool1_border(p, xc, oy, ox);
                continue;
            }
            for (int64_t ox = 0; ox < xlo; ox++)
                yr[ox] = pool1_border(p, xc, oy, ox);
            for (int64_t ox = xhi; ox < ow; ox++)
                yr[ox] = pool1_border(p, xc, oy, ox);
            const float *rows[POOL_MAX_KH];
            for (int64_t ky = 0; ky < kh; ky++)
                rows[ky] = xc + (oy * p->stride_h - p->pad_top + ky) * W;
            k->pool_row(is_max, rows, kh, kw, sw, -p->pad_left, W, xlo, xhi, inv, yr);
        }
    }
}

/* A call shared out over the kernel threads: planes, or channels of the
 * global pools. */
typedef struct pool_ctx {
    const cq_pool2d_params *p;
    int64_t oh, ow, units, hw;
    const float *x;
    float *y;
    int kind; /* 0 pool2d, 1 global average, 2 global average NCHW16c, 3 global max,
               * 4 max pool2d NCHW16c */
} pool_ctx;

static void gap_range(int64_t i0, int64_t i1, int64_t hw, const float *x, float *y);
static void gap_blocked_range(int64_t b0, int64_t b1, int64_t hw, const float *x, float *y);
static void gmax_range(int64_t i0, int64_t i1, int64_t hw, const float *x, float *y);
static void maxpool_blocked_rows(const cq_pool2d_params *p, int64_t oh, int64_t ow,
                                 const float *x, float *y, int64_t r0, int64_t r1);

static void pool_part(void *ctx, int i, int n, int tid)
{
    (void)tid;
    const pool_ctx *c = ctx;
    int64_t u0 = c->units * i / n, u1 = c->units * (i + 1) / n;
    switch (c->kind) {
    case 0: pool_planes(c->p, c->oh, c->ow, c->x, c->y, u0, u1); break;
    case 1: gap_range(u0, u1, c->hw, c->x, c->y); break;
    case 2:
        if (cq_kern_isa() == CQ_ISA_AVX512)
            cq__gap_blocked_avx512(u0, u1, c->hw, c->x, c->y);
        else
            gap_blocked_range(u0, u1, c->hw, c->x, c->y);
        break;
    case 4:
        if (cq_kern_isa() == CQ_ISA_AVX512)
            cq__maxpool_blocked_rows_avx512(c->p, c->oh, c->ow, c->x, c->y, u0, u1);
        else
            maxpool_blocked_rows(c->p, c->oh, c->ow, c->x, c->y, u0, u1);
        break;
    default: gmax_range(u0, u1, c->hw, c->x, c->y); break;
    }
}

static void pool_run(pool_ctx *c, double bytes)
{
    int n = cq__mem_shares(c->units, bytes);
    if (n > 1)
        cq_par_run(n, pool_part, c);
    else
        pool_part(c, 0, 1, 0);
}

cq_status cq_pool2d_f32(const cq_pool2d_params *p, const float *x, size_t x_count, float *y,
                        size_t y_count, cq_err *err)
{
    int64_t oh, ow;
    cq_status st = pool_check(p, x_count, y_count, x, y, &oh, &ow, err);
    if (st != CQ_OK)
        return st;
    if (p->dil_h != 1 || p->dil_w != 1 || p->kh > POOL_MAX_KH)
        return cq_pool2d_f32_ref(p, x, x_count, y, y_count, err);
    pool_ctx c = {p, oh, ow, p->n * p->c, 0, x, y, 0};
    pool_run(&c, sizeof(float) * (double)(x_count + y_count));
    return CQ_OK;
}

static void gap_range(int64_t i0, int64_t i1, int64_t hw, const float *x, float *y)
{
    const cq__kern_vtab *k = cq__kern();
    for (int64_t i = i0; i < i1; i++)
        y[i] = hw > 0 ? k->sum(x + i * hw, hw) / (float)hw : 0.0f;
}

void cq_global_avgpool_f32(int64_t nc_count, int64_t hw, const float *x, float *y)
{
    pool_ctx c = {NULL, 0, 0, nc_count, hw, x, y, 1};
    pool_run(&c, sizeof(float) * (double)(nc_count * hw));
}

/* 16 channels at a time, one line per pixel */
static void gap_blocked_range(int64_t b0, int64_t b1, int64_t hw, const float *x, float *y)
{
    for (int64_t b = b0; b < b1; b++) {
        float s[16] = {0};
        const float *xb = x + b * hw * 16;
        for (int64_t i = 0; i < hw; i++)
            for (int l = 0; l < 16; l++)
                s[l] += xb[i * 16 + l];
        for (int l = 0; l < 16; l++)
            y[b * 16 + l] = hw > 0 ? s[l] / (float)hw : 0.0f;
    }
}

void cq_global_avgpool_blocked_f32(int64_t n, int64_t c, int64_t hw, const float *x, float *y)
{
    pool_ctx pc = {NULL, 0, 0, n * (c / 16), hw, x, y, 2};
    pool_run(&pc, sizeof(float) * (double)(n * c * hw));
}

/* Output rows [r0, r1) of all 16-channel planes (row r: plane r / oh, row
 * r % oh) of a max pool on NCHW16c: each pixel one line of 16 channels,
 * the maximum taken lane by lane over the window's pixels inside the input
 * (the comparison of pool1: a NaN in the window is kept only where it comes
 * first). */
static void maxpool_blocked_rows(const cq_pool2d_params *p, int64_t oh, int64_t ow,
                                 const float *x, float *y, int64_t r0, int64_t r1)
{
    for (int64_t r = r0; r < r1; r++) {
        int64_t b = r / oh, oy = r % oh;
        const float *xb = x + b * p->h * p->w * 16;
        float *yr = y + (b * oh + oy) * ow * 16;
        int64_t y0 = oy * p->stride_h - p->pad_top;
        for (int64_t ox = 0; ox < ow; ox++) {
            int64_t x0 = ox * p->stride_w - p->pad_left;
            float m[16];
            for (int l = 0; l < 16; l++)
                m[l] = -INFINITY;
            for (int64_t ky = 0; ky < p->kh; ky++) {
                int64_t iy = y0 + ky * p->dil_h;
                if (iy < 0 || iy >= p->h)
                    continue;
                for (int64_t kx = 0; kx < p->kw; kx++) {
                    int64_t ix = x0 + kx * p->dil_w;
                    if (ix < 0 || ix >= p->w)
                        continue;
                    const float *v = xb + (iy * p->w + ix) * 16;
                    for (int l = 0; l < 16; l++)
                        m[l] = v[l] > m[l] ? v[l] : m[l];
                }
            }
            for (int l = 0; l < 16; l++)
                yr[ox * 16 + l] = m[l];
        }
    }
}

cq_status cq_maxpool2d_blocked_f32(const cq_pool2d_params *p, const float *x, size_t x_count,
                                   float *y, size_t y_count, cq_err *err)
{
    int64_t oh, ow;
    cq_status st = pool_check(p, x_count, y_count, x, y, &oh, &ow, err);
    if (st != CQ_OK)
        return st;
    if (p->kind != CQ_POOL_MAX || p->c % 16)
        return cq_errf(err, CQ_EINVAL, "pool2d: NCHW16c takes max pooling of whole 16-channel "
                       "blocks (kind %d, %lld channels)", (int)p->kind, (long long)p->c);
    pool_ctx c = {p, oh, ow, p->n * (p->c / 16) * oh, 0, x, y, 4};
    pool_run(&c, sizeof(float) * (double)(x_count + y_count));
    return CQ_OK;
}

static void gmax_range(int64_t i0, int64_t i1, int64_t hw, const float *x, float *y)
{
    const cq__kern_vtab *k = cq__kern();
    for (int64_t i = i0; i < i1; i++)
        y[i] = k->max(x + i * hw, hw);
}

void cq_global_maxpool_f32(int64_t nc_count, int64_t hw, const float *x, float *y)
{
    pool_ctx c = {NULL, 0, 0, nc_count, hw, x, y, 3};
    pool_run(&c, sizeof(float) * (double)(nc_count * hw));
}
