/* kern_move.c - data movement on raw buffers (kern.h): the strided copy that
 * Slice, Split, Pad and Transpose run on, and a fill. */
#include "kern/kern_internal.h"
#include "base/par.h"

#include <string.h>

void cq_fill(size_t esize, const void *v, void *dst, int64_t n)
{
    char *d = dst;
    if (n <= 0)
        return;
    if (esize == 4) {
        uint32_t u;
        memcpy(&u, v, 4);
        uint32_t *p = dst;
        for (int64_t i = 0; i < n; i++)
            p[i] = u;
        return;
    }
    if (esize == 1) {
        memset(dst, *(const unsigned char *)v, (size_t)n);
        return;
    }
    /* doubling copies */
    memcpy(d, v, esize);
    size_t have = esize, total = (size_t)n * esize;
    while (have < total) {
        size_t k = have < total - have ? have : total - have;
        memcpy(d + have, d, k);
        have += k;
    }
}

/* The copy's dims after dropping size-1 dims and merging runs that are
 * contiguous on both sides; *nd 0 with total 1 is a single element; returns
 * the element count (0: nothing to copy). */
static int64_t merge_dims(int ndim, const int64_t *shape, const int64_t *ss, const int64_t *ds,
                          int *nd, int64_t *sh, int64_t *s, int64_t *d)
{
    int m = 0;
    int64_t total = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0)
            return 0;
        total *= shape[i];
        if (shape[i] == 1)
            continue;
        if (m > 0 && s[m - 1] == ss[i] * shape[i] && d[m - 1] == ds[i] * shape[i]) {
            sh[m - 1] *= shape[i];
            s[m - 1] = ss[i];
            d[m - 1] = ds[i];
            continue;
        }
        sh[m] = shape[i];
        s[m] = ss[i];
        d[m] = ds[i];
        m++;
    }
    *nd = m;
    return total;
}

/* The merged copy: rows of sh[nd - 1] elements under an odometer over the
 * outer dims, shared out over the kernel threads by rows, or (one row) by
 * ranges of its elements, 64-byte lines where the row is contiguous. */
typedef struct copy_ctx {
    size_t esize;
    int nd;
    int64_t sh[CQ_MAX_DIMS], s[CQ_MAX_DIMS], d[CQ_MAX_DIMS];
    const char *ps;
    char *pd;
    int64_t rows;
} copy_ctx;

/* Elements i0 .. i1 - 1 of the row at element offsets so (source) and dof. */
static void copy_run(const copy_ctx *c, int64_t so, int64_t dof, int64_t i0, int64_t i1)
{
    int last = c->nd - 1;
    int64_t si = c->s[last], di = c->d[last], esize = (int64_t)c->esize;
    so += i0 * si;
    dof += i0 * di;
    int64_t n = i1 - i0;
    if (si == 1 && di == 1) {
        memcpy(c->pd + dof * esize, c->ps + so * esize, (size_t)(n * esize));
    } else if (esize == 4) {
        const uint32_t *a = (const uint32_t *)(const void *)(c->ps + so * 4);
        uint32_t *b = (uint32_t *)(void *)(c->pd + dof * 4);
        if (di == 1)
            for (int64_t i = 0; i < n; i++, a += si)
                b[i] = *a;
        else
            for (int64_t i = 0; i < n; i++, a += si, b += di)
                *b = *a;
    } else {
        const char *a = c->ps + so * esize;
        char *b = c->pd + dof * esize;
        for (int64_t i = 0; i < n; i++, a += si * esize, b += di * esize)
            memcpy(b, a, (size_t)esize);
    }
}

static void copy_rows(const copy_ctx *c, int64_t r0, int64_t r1)
{
    int last = c->nd - 1;
    int64_t idx[CQ_MAX_DIMS] = {0}, so = 0, dof = 0, rem = r0;
    for (int k = last - 1; k >= 0; k--) {
        idx[k] = rem % c->sh[k];
        rem /= c->sh[k];
        so += idx[k] * c->s[k];
        dof += idx[k] * c->d[k];
    }
    for (int64_t r = r0; r < r1; r++) {
        copy_run(c, so, dof, 0, c->sh[last]);
        for (int k = last - 1; k >= 0; k--) {
            so += c->s[k];
            dof += c->d[k];
            if (++idx[k] < c->sh[k])
                break;
            so -= c->s[k] * c->sh[k];
            dof -= c->d[k] * c->sh[k];
            idx[k] = 0;
        }
    }
}

/* Elements per unit of a single row's split: a 64-byte line (at least one). */
static int64_t copy_unit(const copy_ctx *c)
{
    return c->esize < 64 ? (int64_t)(64 / c->esize) : 1;
}

static void copy_part(void *ctx, int i, int n, int tid)
{
    (void)tid;
    const copy_ctx *c = ctx;
    if (c->rows > 1) {
        copy_rows(c, c->rows * i / n, c->rows * (i + 1) / n);
        return;
    }
    int64_t inner = c->sh[c->nd - 1], u = copy_unit(c), units = (inner + u - 1) / u;
    int64_t i0 = units * i / n * u, i1 = units * (i + 1) / n * u;
    i1 = i1 < inner ? i1 : inner;
    if (i1 > i0)
        copy_run(c, 0, 0, i0, i1);
}

void cq_copy_strided(size_t esize, int ndim, const int64_t *shape, const void *src,
                     const int64_t *src_stride, void *dst, const int64_t *dst_stride)
{
    copy_ctx c;
    c.esize = esize;
    c.ps = src;
    c.pd = dst;
    int64_t total;
    if (ndim < 0 || ndim > CQ_MAX_DIMS ||
        !(total = merge_dims(ndim, shape, src_stride, dst_stride, &c.nd, c.sh, c.s, c.d)))
        return;
    if (c.nd == 0) {
        memcpy(dst, src, esize);
        return;
    }
    c.rows = total / c.sh[c.nd - 1];
    int64_t units = c.rows > 1 ? c.rows : (c.sh[c.nd - 1] + copy_unit(&c) - 1) / copy_unit(&c);
    int n = cq__mem_shares(units, 2.0 * (double)esize * (double)total);
    if (n > 1)
        cq_par_run(n, copy_part, &c);
    else
        copy_rows(&c, 0, c.rows);
}

/* cq_concat_nhwc_8: pixels [q0, q1) of every input. A pixel's bytes go
 * as fixed 16- or 8-byte moves the compiler inlines where the count allows
 * (a libc memcpy call a pixel held U-Net int8's 16 + 16 channel join at
 * 224x224 to 6 GB/s). */
typedef struct cat8_ctx {
    int n_in;
    const uint8_t *const *x;
    const int64_t *c;
    int64_t pix, yc;
    uint8_t *y;
} cat8_ctx;

static void cat8_rows(const cat8_ctx *k, int64_t q0, int64_t q1)
{
    int64_t pos = 0;
    for (int i = 0; i < k->n_in; pos += k->c[i], i++) {
        int64_t ci = k->c[i];
        const uint8_t *s = k->x[i] + q0 * ci;
        uint8_t *d = k->y + q0 * k->yc + pos;
        if (ci % 16 == 0 && ci <= 128)
            for (int64_t q = q0; q < q1; q++, s += ci, d += k->yc)
                for (int64_t o = 0; o < ci; o += 16)
                    memcpy(d + o, s + o, 16);
        else if (ci % 8 == 0 && ci <= 64)
            for (int64_t q = q0; q < q1; q++, s += ci, d += k->yc)
                for (int64_t o = 0; o < ci; o += 8)
                    memcpy(d + o, s + o, 8);
        else
            for (int64_t q = q0; q < q1; q++, s += ci, d += k->yc)
                memcpy(d, s, (size_t)ci);
    }
}

static void cat8_part(void *ctx, int i, int n, int tid)
{
    (void)tid;
    const cat8_ctx *k = ctx;
    cat8_rows(k, k->pix * i / n, k->pix * (i + 1) / n);
}

void cq_concat_nhwc_8(int n_in, const uint8_t *const *x, const int64_t *c, int64_t pix,
                      uint8_t *y)
{
    cat8_ctx k = {n_in, x, c, pix, 0, y};
    for (int i = 0; i < n_in; i++)
        k.yc += c[i];
    if (pix <= 0 || k.yc <= 0)
        return;
    int n = cq__mem_shares(pix, 2.0 * (double)pix * (double)k.yc);
    if (n > 1)
        cq_par_run(n, cat8_part, &k);
    else
        cat8_rows(&k, 0, pix);
}

void cq_copy_strided_ref(size_t esize, int ndim, const int64_t *shape, const void *src,
                         const int64_t *src_stride, void *dst, const int64_t *dst_stride)
{
    int64_t total = 1, idx[CQ_MAX_DIMS] = {0};
    if (ndim < 0 || ndim > CQ_MAX_DIMS)
        return;
    for (int i = 0; i < ndim; i++)
        total *= shape[i] > 0 ? shape[i] : 0;
    for (int64_t t = 0; t < total; t++) {
        int64_t so = 0, dof = 0;
        for (int i = 0; i < ndim; i++) {
            so += idx[i] * src_stride[i];
            dof += idx[i] * dst_stride[i];
        }
        memcpy((char *)dst + dof * (int64_t)esize, (const char *)src + so * (int64_t)esize,
               esize);
        for (int i = ndim - 1; i >= 0; i--) {
            if (++idx[i] < shape[i])
                break;
            idx[i] = 0;
        }
    }
}

/* Nearest upsampling of NCHW16c by whole factors: input rows (of all
 * planes) shared out over the kernel threads, each input pixel's 64 bytes
 * copied to its fh x fw output pixels (AVX-512: from one register). */
typedef struct up_ctx {
    int64_t rows, w, fh, fw;
    const float *x;
    float *y;
} up_ctx;

static void up_rows(const up_ctx *c, int64_t r0, int64_t r1)
{
    if (cq_kern_isa() == CQ_ISA_AVX512) {
        cq__upsample_blocked_rows_avx512(c->w, c->fh, c->fw, c->x, c->y, r0, r1);
        return;
    }
    int64_t orow = c->w * c->fw * 16;
    for (int64_t r = r0; r < r1; r++) {
        const float *s = c->x + r * c->w * 16;
        float *d = c->y + r * c->fh * orow;
        for (int64_t b = 0; b < c->w; b++)
            for (int64_t j = 0; j < c->fw; j++)
                memcpy(d + (b * c->fw + j) * 16, s + b * 16, 16 * sizeof(float));
        for (int64_t i = 1; i < c->fh; i++)
            memcpy(d + i * orow, d, (size_t)orow * sizeof(float));
    }
}

static void up_part(void *ctx, int i, int n, int tid)
{
    (void)tid;
    const up_ctx *c = ctx;
    up_rows(c, c->rows * i / n, c->rows * (i + 1) / n);
}

void cq_upsample_blocked_f32(int64_t planes, int64_t h, int64_t w, int64_t fh, int64_t fw,
                             const float *x, float *y)
{
    up_ctx c = {planes * h, w, fh, fw, x, y};
    if (c.rows <= 0 || w <= 0)
        return;
    int n = cq__mem_shares(c.rows, 64.0 * (double)c.rows * (double)w * (double)(1 + fh * fw));
    if (n > 1)
        cq_par_run(n, up_part, &c);
    else
        up_rows(&c, 0, c.rows);
}
