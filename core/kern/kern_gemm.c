/* kern_gemm.c - ONNX Gemm over cblas_sgemm / cblas_sgemv and numpy-style
 * batched MatMul (see kern.h). */
#include "kern/kern_internal.h"
#include "base/par.h"

#include <cblas.h>
#include <limits.h>
#include <string.h>

static cq_status gemm_check(const cq_gemm_params *p, const float *a, const float *b,
                            const float *c, const float *y, cq_err *err)
{
    if (!p || !a || !b || !y)
        return cq_errf(err, CQ_EINVAL, "gemm: NULL parameters or buffer");
    if (p->m < 1 || p->n < 1 || p->k < 1 || p->m > INT_MAX || p->n > INT_MAX || p->k > INT_MAX)
        return cq_errf(err, CQ_EINVAL, "gemm: m %lld, n %lld, k %lld (each must be 1 to %d)",
                       (long long)p->m, (long long)p->n, (long long)p->k, INT_MAX);
    if (c && ((p->c_rows != 1 && p->c_rows != p->m) || (p->c_cols != 1 && p->c_cols != p->n)))
        return cq_errf(err, CQ_EINVAL, "gemm: C is (%lld, %lld), does not broadcast to (%lld, "
                       "%lld)", (long long)p->c_rows, (long long)p->c_cols, (long long)p->m,
                       (long long)p->n);
    return CQ_OK;
}

/* y = beta * broadcast(C); y may be C itself when C is (m, n). */
static void fill_c(const cq_gemm_params *p, const float *c, float *y)
{
    for (int64_t i = 0; i < p->m; i++) {
        const float *cr = c + (p->c_rows == 1 ? 0 : i * p->c_cols);
        float *yr = y + i * p->n;
        for (int64_t j = 0; j < p->n; j++)
            yr[j] = p->beta * cr[p->c_cols == 1 ? 0 : j];
    }
}

/* calq's gemv shared out over the kernel threads: blocks of 8 rows (the
 * row form's eight dot products) or of 64 columns (the column form's
 * tile), each output summed in the same order whatever the split. */
typedef struct gemv_ctx {
    int trans;
    int64_t rows, cols, lda;
    float alpha, beta;
    const float *a, *x;
    float *y;
} gemv_ctx;

static void gemv_part(void *ctx, int i, int n, int tid)
{
    (void)tid;
    const gemv_ctx *c = ctx;
    int64_t blk = c->trans ? 64 : 8, outs = c->trans ? c->cols : c->rows;
    int64_t nb = (outs + blk - 1) / blk, o0 = nb * i / n * blk, o1 = nb * (i + 1) / n * blk;
    o1 = o1 < outs ? o1 : outs;
    if (o1 <= o0)
        return;
    if (c->trans)
        cq__sgemv_avx512(1, c->rows, o1 - o0, c->alpha, c->a + o0, c->lda, c->x, c->beta,
                         c->y + o0);
    else
        cq__sgemv_avx512(0, o1 - o0, c->cols, c->alpha, c->a + o0 * c->lda, c->lda, c->x,
                         c->beta, c->y + o0);
}

void cq__gemv_par(int trans, int64_t rows, int64_t cols, float alpha, const float *a,
                  int64_t lda, const float *x, float beta, float *y)
{
    gemv_ctx c = {trans, rows, cols, lda, alpha, beta, a, x, y};
    int64_t outs = trans ? cols : rows, blk = trans ? 64 : 8;
    int n = cq__mem_shares((outs + blk - 1) / blk, sizeof(float) * (double)(rows * cols));
    if (n > 1)
        cq_par_run(n, gemv_part, &c);
    else
        cq__sgemv_avx512(trans, rows, cols, alpha, a, lda, x, beta, y);
}

cq_status cq_gemm_f32(const cq_gemm_params *p, const float *a, const float *b, const float *c,
                      float *y, cq_err *err)
{
    cq_status st = gemm_check(p, a, b, c, y, err);
    if (st != CQ_OK)
        return st;
    int m = (int)p->m, n = (int)p->n, k = (int)p->k;
    float beta = 0.0f;
    if (c && p->beta != 0.0f) {
        fill_c(p, c, y);
        beta = 1.0f;
    }
    /* One row or column with AVX-512: calq's gemv, over the kernel threads.
     * It is level with OpenBLAS's sgemv when the matrix sits in L3 and
     * faster when it comes from memory, as a classifier's weights do inside
     * a model, thanks to its row prefetch (bench/NOTES.md, third round (b)). */
    int own = (m == 1 || n == 1) && cq_kern_isa() == CQ_ISA_AVX512;
    if (own && m == 1)
        cq__gemv_par(!p->trans_b, p->trans_b ? n : k, p->trans_b ? k : n, p->alpha, b,
                     p->trans_b ? k : n, a, beta, y);
    else if (own)
        cq__gemv_par(p->trans_a, p->trans_a ? k : m, p->trans_a ? m : k, p->alpha, a,
                     p->trans_a ? m : k, b, beta, y);
    else if (m == 1) {
        /* y (1, n) = alpha a (1, k) B' (k, n): B' is B (k, n) or B^T of B (n, k);
         * a is contiguous either way */
        if (p->trans_b)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, n, k, p->alpha, b, k, a, 1, beta, y, 1);
        else
            cblas_sgemv(CblasRowMajor, CblasTrans, k, n, p->alpha, b, n, a, 1, beta, y, 1);
    } else if (n == 1) {
        /* y (m, 1) = alpha A' (m, k) b (k, 1); b contiguous either way */
        if (p->trans_a)
            cblas_sgemv(CblasRowMajor, CblasTrans, k, m, p->alpha, a, m, b, 1, beta, y, 1);
        else
            cblas_sgemv(CblasRowMajor, CblasNoTrans, m, k, p->alpha, a, k, b, 1, beta, y, 1);
    } else {
        cblas_sgemm(CblasRowMajor, p->trans_a ? CblasTrans : CblasNoTrans,
                    p->trans_b ? CblasTrans : CblasNoTrans, m, n, k, p->alpha, a,
                    p->trans_a ? m : k, b, p->trans_b ? k : n, beta, y, n);
    }
    return CQ_OK;
}

cq_status cq_gemm_f32_ref(const cq_gemm_params *p, const float *a, const float *b,
                          const float *c, float *y, cq_err *err)
{
    cq_status st = gemm_check(p, a, b, c, y, err);
    if (st != CQ_OK)
        return st;
    for (int64_t i = 0; i < p->m; i++)
        for (int64_t j = 0; j < p->n; j++) {
            double s = 0.0;
            for (int64_t t = 0; t < p->k; t++) {
                float av = p->trans_a ? a[t * p->m + i] : a[i * p->k + t];
                float bv = p->trans_b ? b[j * p->k + t] : b[t * p->n + j];
                s += (double)av * bv;
            }
            s *= p->alpha;
            if (c && p->beta != 0.0f)
                s += (double)p->beta * c[(p->c_rows == 1 ? 0 : i) * p->c_cols +
                                         (p->c_cols == 1 ? 0 : j)];
            y[i * p->n + j] = (float)s;
        }
    return CQ_OK;
}

/* ---- MatMul ------------------------------------------------------------- */

cq_status cq_matmul_dims_init(cq_matmul_dims *d, int a_ndim, const int64_t *a_shape, int b_ndim,
                              const int64_t *b_shape, cq_err *err)
{
    memset(d, 0, sizeof *d);
    if (a_ndim < 1 || b_ndim < 1 || a_ndim > CQ_MAX_DIMS || b_ndim > CQ_MAX_DIMS)
        return cq_errf(err, CQ_EINVAL, "matmul: operands of %d and %d dimensions (1 to %d)",
                       a_ndim, b_ndim, CQ_MAX_DIMS);
    for (int i = 0; i < a_ndim; i++)
        if (a_shape[i] < 0 || a_shape[i] > INT_MAX)
            return cq_errf(err, CQ_EINVAL, "matmul: A dimension %d is %lld", i,
                           (long long)a_shape[i]);
    for (int i = 0; i < b_ndim; i++)
        if (b_shape[i] < 0 || b_shape[i] > INT_MAX)
            return cq_errf(err, CQ_EINVAL, "matmul: B dimension %d is %lld", i,
                           (long long)b_shape[i]);
    int64_t ka, kb;
    d->m = a_ndim == 1 ? 1 : a_shape[a_ndim - 2];
    ka = a_shape[a_ndim - 1];
    kb = b_ndim == 1 ? b_shape[0] : b_shape[b_ndim - 2];
    d->n = b_ndim == 1 ? 1 : b_shape[b_ndim - 1];
    if (ka != kb)
        return cq_errf(err, CQ_EINVAL, "matmul: A has %lld columns, B %lld rows", (long long)ka,
                       (long long)kb);
    d->k = ka;
    int an = a_ndim > 2 ? a_ndim - 2 : 0, bn = b_ndim > 2 ? b_ndim - 2 : 0;
    int nb = an > bn ? an : bn;
    int64_t as = 1, bs = 1;
    d->batch = 1;
    for (int i = nb - 1; i >= 0; i--) {
        int ia = i - (nb - an), ib = i - (nb - bn);
        int64_t da = ia >= 0 ? a_shape[ia] : 1, db = ib >= 0 ? b_shape[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return cq_errf(err, CQ_EINVAL, "matmul: batch dimension %d is %lld in A and %lld in "
                           "B", i, (long long)da, (long long)db);
        d->bshape[i] = da == 1 ? db : da;
        d->a_bstride[i] = da == 1 ? 0 : as;
        d->b_bstride[i] = db == 1 ? 0 : bs;
        as *= da;
        bs *= db;
        d->batch *= d->bshape[i];
    }
    d->nb = nb;
    int yn = 0;
    for (int i = 0; i < nb; i++)
        d->y_shape[yn++] = d->bshape[i];
    if (a_ndim > 1)
        d->y_shape[yn++] = d->m;
    if (b_ndim > 1)
        d->y_shape[yn++] = d->n;
    d->y_ndim = yn;
    int64_t total = d->batch;
    if (total > 0 && (d->m > INT64_MAX / total || d->m * total > INT64_MAX / (d->n ? d->n : 1)))
        return cq_errf(err, CQ_ENOMEM, "matmul: output too large");
    return CQ_OK;
}

void cq_matmul_batch_index(const cq_matmul_dims *d, int64_t i, int64_t *a_mat, int64_t *b_mat)
{
    int64_t am = 0, bm = 0;
    for (int j = d->nb - 1; j >= 0; j--) {
        int64_t c = i % d->bshape[j];
        i /= d->bshape[j];
        am += c * d->a_bstride[j];
        bm += c * d->b_bstride[j];
    }
    *a_mat = am;
    *b_mat = bm;
}

cq_status cq_matmul_f32(int a_ndim, const int64_t *a_shape, const float *a, int b_ndim,
                        const int64_t *b_shape, const float *b, float *y, size_t y_count,
                        cq_err *err)
{
    cq_matmul_dims d;
    cq_status st = cq_matmul_dims_init(&d, a_ndim, a_shape, b_ndim, b_shape, err);
    if (st != CQ_OK)
        return st;
    int64_t mn = d.m * d.n;
    if (y_count != (size_t)(d.batch * mn))
        return cq_errf(err, CQ_EINVAL, "matmul: output has %zu elements, expected %lld", y_count,
                       (long long)(d.batch * mn));
    if (mn == 0 || d.batch == 0)
        return CQ_OK;
    if (d.k == 0) {
        memset(y, 0, y_count * sizeof(float));
        return CQ_OK;
    }
    cq_gemm_params gp = {d.m, d.n, d.k, 0, 0, 1.0f, 0.0f, 0, 0};
    /* B shared by every batch and A dense over the batch: one tall GEMM */
    int b_shared = 1, a_dense = 1;
    int64_t expect = 1;
    for (int j = d.nb - 1; j >= 0; j--) {
        b_shared &= d.b_bstride[j] == 0;
        a_dense &= d.a_bstride[j] == expect;
        expect *= d.bshape[j];
    }
    if (b_shared && a_dense && d.batch * d.m <= INT_MAX) {
        gp.m = d.batch * d.m;
        return cq_gemm_f32(&gp, a, b, NULL, y, err);
    }
    for (int64_t i = 0; i < d.batch; i++) {
        int64_t am, bm;
        cq_matmul_batch_index(&d, i, &am, &bm);
        st = cq_gemm_f32(&gp, a + am * d.m * d.k, b + bm * d.k * d.n, NULL, y + i * mn, err);
        if (st != CQ_OK)
            return st;
    }
    return CQ_OK;
}
