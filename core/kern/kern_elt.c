/* kern_elt.c - elementwise kernels: numpy-broadcast binary ops, unary ops,
 * softmax (see kern.h). The inner loops come from the ISA table. */
#include "kern/kern_internal.h"
#include "base/par.h"

#include <math.h>

cq_status cq_broadcast_shape(int a_ndim, const int64_t *a_shape, int b_ndim,
                             const int64_t *b_shape, int *y_ndim, int64_t *y_shape, cq_err *err)
{
    if (a_ndim < 0 || a_ndim > CQ_MAX_DIMS || b_ndim < 0 || b_ndim > CQ_MAX_DIMS)
        return cq_errf(err, CQ_EINVAL, "broadcast: %d and %d dimensions (0 to %d allowed)",
                       a_ndim, b_ndim, CQ_MAX_DIMS);
    int nd = a_ndim > b_ndim ? a_ndim : b_ndim;
    for (int i = 0; i < nd; i++) {
        int ia = i - (nd - a_ndim), ib = i - (nd - b_ndim);
        int64_t da = ia >= 0 ? a_shape[ia] : 1, db = ib >= 0 ? b_shape[ib] : 1;
        if (da < 0 || db < 0)
            return cq_errf(err, CQ_EINVAL, "broadcast: negative dimension");
        if (da != db && da != 1 && db != 1)
            return cq_errf(err, CQ_EINVAL,
                           "broadcast: dimension %d is %lld in one operand and %lld in the other",
                           i, (long long)da, (long long)db);
        y_shape[i] = da == 1 ? db : da;
    }
    *y_ndim = nd;
    return CQ_OK;
}

/* The broadcast problem after dropping size-1 dims of y and merging runs of
 * dims where each operand is either whole or broadcast: at most CQ_MAX_DIMS
 * dims, element strides 0 (broadcast) or dense. */
typedef struct bplan {
    int nd;
    int64_t shape[CQ_MAX_DIMS];
    int64_t as[CQ_MAX_DIMS], bs[CQ_MAX_DIMS];
    int64_t total;
} bplan;

static cq_status bplan_make(bplan *bp, int a_ndim, const int64_t *a_shape, int b_ndim,
                            const int64_t *b_shape, size_t y_count, cq_err *err)
{
    int nd;
    int64_t ys[CQ_MAX_DIMS];
    cq_status st = cq_broadcast_shape(a_ndim, a_shape, b_ndim, b_shape, &nd, ys, err);
    if (st != CQ_OK)
        return st;
    int64_t total = 1;
    for (int i = 0; i < nd; i++)
        total *= ys[i];
    if ((uint64_t)total != (uint64_t)y_count)
        return cq_errf(err, CQ_EINVAL, "binary: output has %zu elements, the broadcast shape %lld",
                       y_count, (long long)total);
    bp->total = total;
    /* per dim: 1 when the operand varies along it */
    int m = 0;
    int av[CQ_MAX_DIMS], bv[CQ_MAX_DIMS];
    int64_t sh[CQ_MAX_DIMS];
    for (int i = 0; i < nd; i++) {
        if (ys[i] == 1)
            continue;
        int ia = i - (nd - a_ndim), ib = i - (nd - b_ndim);
        int va = ia >= 0 && a_shape[ia] != 1, vb = ib >= 0 && b_shape[ib] != 1;
        if (m > 0 && av[m - 1] == va && bv[m - 1] == vb) {
            sh[m - 1] *= ys[i];
            continue;
        }
        av[m] = va;
        bv[m] = vb;
        sh[m] = ys[i];
        m++;
    }
    int64_t sa = 1, sb = 1;
    for (int i = m - 1; i >= 0; i--) {
        bp->shape[i] = sh[i];
        bp->as[i] = av[i] ? sa : 0;
        bp->bs[i] = bv[i] ? sb : 0;
        sa *= av[i] ? sh[i] : 1;
        sb *= bv[i] ? sh[i] : 1;
    }
    bp->nd = m;
    return CQ_OK;
}

int cq__mem_shares(int64_t units, double bytes)
{
    int t = cq_kern_threads();
    double most = bytes / CQ__SPLIT_BYTES;
    if (most > (double)units)
        most = (double)units;
    return t <= 1 || most < 2.0 ? 1 : most < (double)t ? (int)most : t;
}

typedef struct bin_ctx {
    const cq__kern_vtab *k;
    cq_binop op;
    const bplan *bp;
    const float *a, *b;
    float *y;
    int64_t rows; /* of bp->shape[nd - 1] outputs each */
} bin_ctx;

/* Rows r0 .. r1 - 1 of the broadcast, the odometer started at r0. */
static void binary_rows(const bin_ctx *c, int64_t r0, int64_t r1)
{
    const bplan *bp = c->bp;
    int last = bp->nd - 1;
    int64_t inner = bp->shape[last];
    int ai = bp->as[last] != 0, bi = bp->bs[last] != 0;
    int64_t idx[CQ_MAX_DIMS] = {0};
    int64_t ao = 0, bo = 0, rem = r0;
    for (int d = last - 1; d >= 0; d--) {
        idx[d] = rem % bp->shape[d];
        rem /= bp->shape[d];
        ao += idx[d] * bp->as[d];
        bo += idx[d] * bp->bs[d];
    }
    for (int64_t r = r0; r < r1; r++) {
        c->k->binary(c->op, c->a + ao, ai, c->b + bo, bi, c->y + r * inner, inner);
        for (int d = last - 1; d >= 0; d--) {
            idx[d]++;
            ao += bp->as[d];
            bo += bp->bs[d];
            if (idx[d] < bp->shape[d])
                break;
            ao -= bp->as[d] * bp->shape[d];
            bo -= bp->bs[d] * bp->shape[d];
            idx[d] = 0;
        }
    }
}

static void binary_part(void *ctx, int i, int n, int tid)
{
    (void)tid;
    const bin_ctx *c = ctx;
    if (c->rows > 1) {
        binary_rows(c, c->rows * i / n, c->rows * (i + 1) / n);
        return;
    }
    /* one row (same shapes, or one operand a scalar): 16-float lines */
    int64_t total = c->bp->total, lines = (total + 15) / 16;
    int64_t i0 = lines * i / n * 16, i1 = lines * (i + 1) / n * 16;
    i1 = i1 < total ? i1 : total;
    int ai = c->bp->as[0] != 0, bi = c->bp->bs[0] != 0;
    if (i1 > i0)
        c->k->binary(c->op, c->a + (ai ? i0 : 0), ai, c->b + (bi ? i0 : 0), bi, c->y + i0,
                     i1 - i0);
}

cq_status cq_binary_f32(cq_binop op, int a_ndim, const int64_t *a_shape, const float *a,
                        int b_ndim, const int64_t *b_shape, const float *b, float *y,
                        size_t y_count, cq_err *err)
{
    if ((int)op < 0 || op >= CQ_BIN_COUNT)
        return cq_errf(err, CQ_EINVAL, "binary: unknown op %d", (int)op);
    bplan bp = {0};
    cq_status st = bplan_make(&bp, a_ndim, a_shape, b_ndim, b_shape, y_count, err);
    if (st != CQ_OK)
        return st;
    if (bp.total == 0)
        return CQ_OK;
    const cq__kern_vtab *k = cq__kern();
    if (bp.nd == 0) { /* every dim is 1 */
        y[0] = cq__binop1(op, a[0], b[0]);
        return CQ_OK;
    }
    /* inner dim through the vector loop, the outer ones by an odometer;
     * rows of the inner dim (or 16-float lines of a single row) shared out
     * over the kernel threads */
    bin_ctx c = {k, op, &bp, a, b, y, bp.total / bp.shape[bp.nd - 1]};
    int n = cq__mem_shares(c.rows > 1 ? c.rows : (bp.total + 15) / 16,
                           3.0 * sizeof(float) * (double)bp.total);
    if (n > 1)
        cq_par_run(n, binary_part, &c);
    else
        binary_rows(&c, 0, c.rows);
    return CQ_OK;
}

typedef struct chan_ctx {
    const cq__kern_vtab *k;
    cq_binop op;
    int64_t c, hw, units, s_count;
    const float *x, *s;
    float *y;
} chan_ctx;

static void chan_part(void *ctx, int i, int n, int tid)
{
    (void)tid;
    const chan_ctx *c = ctx;
    int64_t nb = c->c / 16, plane = 16 * c->hw;
    float one[16];
    if (c->s_count == 1)
        for (int l = 0; l < 16; l++)
            one[l] = c->s[0];
    for (int64_t u = c->units * i / n; u < c->units * (i + 1) / n; u++) {
        /* unit u: image u / nb, block u % nb */
        const float *s16 = c->s_count == 1   ? one
                           : c->s_count == c->c ? c->s + 16 * (u % nb)
                                               : c->s + 16 * u;
        c->k->binary16(c->op, c->x + u * plane, s16, c->y + u * plane, plane);
    }
}

cq_status cq_binary_chan_blocked_f32(cq_binop op, int64_t n, int64_t c, int64_t hw,
                                     const float *x, const float *s, int64_t s_count, float *y,
                                     cq_err *err)
{
    if ((int)op < 0 || op >= CQ_BIN_COUNT)
        return cq_errf(err, CQ_EINVAL, "binary: unknown op %d", (int)op);
    if (n < 0 || c < 0 || c % 16 || hw < 0 || (s_count != 1 && s_count != c && s_count != n * c))
        return cq_errf(err, CQ_EINVAL, "binary on NCHW16c: %lld images of %lld channels (a "
                       "multiple of 16) and %lld values on the other side (1, %lld or %lld)",
                       (long long)n, (long long)c, (long long)s_count, (long long)c,
                       (long long)(n * c));
    chan_ctx cc = {cq__kern(), op, c, hw, n * (c / 16), s_count, x, s, y};
    if (cc.units == 0 || hw == 0)
        return CQ_OK;
    int parts = cq__mem_shares(cc.units, 2.0 * sizeof(float) * (double)(n * c * hw));
    if (parts > 1)
        cq_par_run(parts, chan_part, &cc);
    else
        chan_part(&cc, 0, 1, 0);
    return CQ_OK;
}

cq_status cq_binary_f32_ref(cq_binop op, int a_ndim, const int64_t *a_shape, const float *a,
                            int b_ndim, const int64_t *b_shape, const float *b, float *y,
                            size_t y_count, cq_err *err)
{
    if ((int)op < 0 || op >= CQ_BIN_COUNT)
        return cq_errf(err, CQ_EINVAL, "binary: unknown op %d", (int)op);
    int nd;
    int64_t ys[CQ_MAX_DIMS];
    cq_status st = cq_broadcast_shape(a_ndim, a_shape, b_ndim, b_shape, &nd, ys, err);
    if (st != CQ_OK)
        return st;
    int64_t total = 1;
    for (int i = 0; i < nd; i++)
        total *= ys[i];
    if ((uint64_t)total != (uint64_t)y_count)
        return cq_errf(err, CQ_EINVAL, "binary: output has %zu elements, the broadcast shape %lld",
                       y_count, (long long)total);
    for (int64_t i = 0; i < total; i++) {
        int64_t rem = i, ao = 0, bo = 0, sa = 1, sb = 1;
        for (int d = nd - 1; d >= 0; d--) {
            int64_t c = rem % ys[d];
            rem /= ys[d];
            int ia = d - (nd - a_ndim), ib = d - (nd - b_ndim);
            if (ia >= 0) {
                ao += (a_shape[ia] == 1 ? 0 : c) * sa;
                sa *= a_shape[ia];
            }
            if (ib >= 0) {
                bo += (b_shape[ib] == 1 ? 0 : c) * sb;
                sb *= b_shape[ib];
            }
        }
        y[i] = cq__binop1(op, a[ao], b[bo]);
    }
    return CQ_OK;
}

/* Elementwise calls this long or longer are split over the kernel threads,
 * in shares of whole 64-byte lines. */
#define UNARY_SPLIT ((int64_t)1 << 16)

typedef struct un_ctx {
    const cq__kern_vtab *k;
    cq_unop op;
    float a, b;
    const float *x;
    float *y;
    int64_t n;
} un_ctx;

static void unary_part(void *ctx, int i, int n, int tid)
{
    (void)tid;
    const un_ctx *c = ctx;
    int64_t lines = (c->n + 15) / 16;
    int64_t i0 = lines * i / n * 16, i1 = lines * (i + 1) / n * 16;
    if (i1 > c->n)
        i1 = c->n;
    if (i1 > i0)
        c->k->unary(c->op, c->a, c->b, c->x + i0, c->y + i0, i1 - i0);
}

void cq_unary_f32(cq_unop op, float a, float b, const float *x, float *y, int64_t n)
{
    int t = cq_kern_threads();
    if (t > 1 && n >= UNARY_SPLIT) {
        un_ctx c = {cq__kern(), op, a, b, x, y, n};
        cq_par_run(t, unary_part, &c);
        return;
    }
    cq__kern()->unary(op, a, b, x, y, n);
}

void cq_unary_f32_ref(cq_unop op, float a, float b, const float *x, float *y, int64_t n)
{
    cq__kern_scalar.unary(op, a, b, x, y, n);
}

void cq_lerp_f32(const float *a, const float *b, float wa, float wb, float *y, int64_t n)
{
    cq__kern()->lerp(a, b, wa, wb, y, n);
}

void cq_lerp_f32_ref(const float *a, const float *b, float wa, float wb, float *y, int64_t n)
{
    cq__kern_scalar.lerp(a, b, wa, wb, y, n);
}

void cq_softmax_f32(int64_t rows, int64_t cols, const float *x, float *y)
{
    const cq__kern_vtab *k = cq__kern();
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        float m = k->max(xr, cols);
        float neg = -m;
        k->binary(CQ_BIN_ADD, xr, 1, &neg, 0, yr, cols);
        k->unary(CQ_UN_EXP, 0.0f, 0.0f, yr, yr, cols);
        float inv = 1.0f / k->sum(yr, cols);
        k->binary(CQ_BIN_MUL, yr, 1, &inv, 0, yr, cols);
    }
}

void cq_softmax_f32_ref(int64_t rows, int64_t cols, const float *x, float *y)
{
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        float m = -INFINITY;
        for (int64_t c = 0; c < cols; c++)
            m = xr[c] > m ? xr[c] : m;
        double s = 0.0;
        for (int64_t c = 0; c < cols; c++) {
            yr[c] = expf(xr[c] - m);
            s += yr[c];
        }
        for (int64_t c = 0; c < cols; c++)
            yr[c] = (float)(yr[c] / s);
    }
}

/* Mean and 1 / sqrt(var + eps) of one row, float sums over 16 partial sums
 * (laid out so that the compiler vectorizes them). */
static void ln_stats(const float *x, int64_t n, float eps, float *mean, float *inv)
{
    float acc[16] = {0};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++)
            acc[j] += x[i + j];
    float s = 0.0f;
    for (int j = 0; j < 16; j++)
        s += acc[j];
    for (; i < n; i++)
        s += x[i];
    float m = s / (float)n;
    for (int j = 0; j < 16; j++)
        acc[j] = 0.0f;
    for (i = 0; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) {
            float d = x[i + j] - m;
            acc[j] += d * d;
        }
    float v = 0.0f;
    for (int j = 0; j < 16; j++)
        v += acc[j];
    for (; i < n; i++)
        v += (x[i] - m) * (x[i] - m);
    *mean = m;
    *inv = 1.0f / sqrtf(v / (float)n + eps);
}

void cq_layernorm_f32(int64_t rows, int64_t cols, const float *x, const float *scale,
                      const float *bias, float eps, float *y, float *mean, float *inv_std)
{
    if (cols <= 0)
        return;
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        float m, inv;
        ln_stats(xr, cols, eps, &m, &inv);
        if (bias)
            for (int64_t c = 0; c < cols; c++)
                yr[c] = (xr[c] - m) * inv * scale[c] + bias[c];
        else
            for (int64_t c = 0; c < cols; c++)
                yr[c] = (xr[c] - m) * inv * scale[c];
        if (mean)
            mean[r] = m;
        if (inv_std)
            inv_std[r] = inv;
    }
}

void cq_layernorm_f32_ref(int64_t rows, int64_t cols, const float *x, const float *scale,
                          const float *bias, float eps, float *y, float *mean, float *inv_std)
{
    if (cols <= 0)
        return;
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        double s = 0.0, v = 0.0;
        for (int64_t c = 0; c < cols; c++)
            s += xr[c];
        double m = s / (double)cols;
        for (int64_t c = 0; c < cols; c++)
            v += (xr[c] - m) * (xr[c] - m);
        double inv = 1.0 / sqrt(v / (double)cols + (double)eps);
        for (int64_t c = 0; c < cols; c++)
            yr[c] = (float)((xr[c] - m) * inv * scale[c] + (bias ? bias[c] : 0.0f));
        if (mean)
            mean[r] = (float)m;
        if (inv_std)
            inv_std[r] = (float)inv;
    }
}
