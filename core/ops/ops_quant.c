/* ops_quant.c - scalar reference semantics of QuantizeLinear, DequantizeLinear,
 * ConvInteger, MatMulInteger, QLinearConv, QLinearMatMul. Exact integer
 * accumulation (in double, exact to 2^53); the fast kernels come later and are
 * checked against these. */
#include "ops/ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Elements of t as doubles (new array, caller frees); NULL on ENOMEM. */
static double *as_double(const cq_tensor *t)
{
    int64_t k = cq_tensor_numel(t);
    double *d = malloc((size_t)(k ? k : 1) * sizeof *d);
    if (!d)
        return NULL;
    const cq_dtype_traits *tr = cq_dtype_info(t->dtype);
    const char *p = cq_tensor_data(t);
    for (int64_t i = 0; i < k; i++)
        d[i] = tr->get(p + (size_t)i * tr->size);
    return d;
}

/* Value i of a scalar-or-vector parameter (0 when t is NULL). */
static double param(const cq_tensor *t, int64_t i)
{
    if (!t || cq_tensor_numel(t) == 0)
        return 0;
    /* One value per tensor, or per channel; a hostile count never reads past the end. */
    i %= cq_tensor_numel(t);
    const cq_dtype_traits *tr = cq_dtype_info(t->dtype);
    return tr->get((const char *)cq_tensor_data(t) + (size_t)i * tr->size);
}

static double saturate(cq_dtype dt, double v)
{
    double lo = dt == CQ_S8 ? -128 : dt == CQ_U8 ? 0 : -2147483648.0;
    double hi = dt == CQ_S8 ? 127 : dt == CQ_U8 ? 255 : 2147483647.0;
    v = nearbyint(v);
    return v < lo ? lo : v > hi ? hi : v;
}

/* ---- Quantize / Dequantize -------------------------------------------------------- */

static cq_status infer_q(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                         int n_out, cq_tinfo *out, cq_err *err)
{
    (void)opset, (void)n_out, (void)err;
    cq__same(&in[0], &out[0]);
    if (!strcmp(n->op_type, "QuantizeLinear"))
        out[0].dtype = n_in > 2 && in[2].ndim >= 0 ? in[2].dtype : CQ_U8;
    else
        out[0].dtype = CQ_F32;
    return CQ_OK;
}

static cq_status run_q(cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                       cq_tensor *const *out, cq_openv *env, cq_err *err)
{
    (void)n_out, (void)env;
    const cq_tensor *x = in[0], *s = in[1], *z = n_in > 2 ? in[2] : NULL;
    int quant = !strcmp(n->op_type, "QuantizeLinear");
    int64_t k = cq_tensor_numel(x), ns = cq_tensor_numel(s);
    int64_t inner = 1, len = 1;
    if (ns > 1) {
        int a = cq__axis(cq_node_int(n, "axis", 1), x->ndim);
        if (a < 0 || x->shape[a] != ns)
            return cq_errf(err, CQ_EINVAL, "%s '%s': %lld scales do not match the axis",
                           n->op_type, n->name, (long long)ns);
        len = ns;
        inner = cq__numel(x->ndim - a - 1, x->shape + a + 1);
    }
    const cq_dtype_traits *ti = cq_dtype_info(x->dtype), *to = cq_dtype_info(out[0]->dtype);
    const char *px = cq_tensor_data(x);
    char *py = cq_tensor_data(out[0]);
    for (int64_t i = 0; i < k; i++) {
        int64_t c = (i / inner) % len;
        double sc = param(s, c), zp = param(z, c), v = ti->get(px + (size_t)i * ti->size);
        double r;
        if (quant) {
            float q = (float)v / (float)sc;
            r = saturate(out[0]->dtype, (double)nearbyintf(q) + zp);
        } else {
            r = (double)(float)((v - zp) * sc);
        }
        to->set(py + (size_t)i * to->size, r);
    }
    return CQ_OK;
}

/* ---- MatMulInteger / QLinearMatMul ------------------------------------------------ */

static cq_status infer_mm(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                          int n_out, cq_tinfo *out, cq_err *err)
{
    const cq_op *mm = cq_op_find("MatMul", "");
    int q = !strcmp(n->op_type, "QLinearMatMul");
    cq_tinfo ab[2] = {in[0], in[q ? 3 : 1]};
    (void)n_in;
    if (mm->infer(n, opset, 2, ab, n_out, out, err))
        return err->code;
    out[0].dtype = q ? in[7].dtype : CQ_S32;
    return CQ_OK;
}

typedef struct {
    const double *a, *b;
    double *y;
} mmd;

static void mm_d(void *ctx, int64_t oa, int64_t ob, int64_t oy, int64_t m, int64_t k, int64_t n)
{
    mmd *c = ctx;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t p = 0; p < k; p++)
                s += c->a[oa + i * k + p] * c->b[ob + p * n + j];
            c->y[oy + i * n + j] = s;
        }
}

static cq_status run_mm(cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                        cq_tensor *const *out, cq_openv *env, cq_err *err)
{
    (void)n_out, (void)env;
    int q = !strcmp(n->op_type, "QLinearMatMul");
    const cq_tensor *a = in[0], *b = in[q ? 3 : 1];
    const cq_tensor *az = q ? in[2] : n_in > 2 ? in[2] : NULL;
    const cq_tensor *bz = q ? in[5] : n_in > 3 ? in[3] : NULL;
    double *da = as_double(a), *db = as_double(b);
    int64_t ny = cq_tensor_numel(out[0]);
    double *dy = malloc((size_t)(ny ? ny : 1) * sizeof *dy);
    if (!da || !db || !dy) {
        free(da), free(db), free(dy);
        return cq_errf(err, CQ_ENOMEM, "%s '%s': out of memory", n->op_type, n->name);
    }
    int64_t ka = a->shape[a->ndim - 1], nb = b->ndim >= 2 ? b->shape[b->ndim - 1] : 1;
    int64_t rows_a = a->ndim >= 2 ? a->shape[a->ndim - 2] : 1;
    for (int64_t i = 0; i < cq_tensor_numel(a); i++)
        da[i] -= param(az, (i / ka) % rows_a);
    for (int64_t i = 0; i < cq_tensor_numel(b); i++)
        db[i] -= param(bz, i % nb);
    mmd c = {da, db, dy};
    cq__matmul_batches(a, b, out[0], mm_d, &c);
    const cq_dtype_traits *to = cq_dtype_info(out[0]->dtype);
    char *py = cq_tensor_data(out[0]);
    int64_t ncol = out[0]->ndim ? out[0]->shape[out[0]->ndim - 1] : 1;
    for (int64_t i = 0; i < ny; i++) {
        double v = dy[i];
        if (q) {
            int64_t j = b->ndim >= 2 ? i % ncol : 0;
            double sc = (double)((float)param(in[1], 0) * (float)param(in[4], j) / (float)param(in[6], 0));
            v = saturate(out[0]->dtype, (double)nearbyintf((float)(v * sc)) + param(in[7], 0));
        }
        to->set(py + (size_t)i * to->size, v);
    }
    free(da), free(db), free(dy);
    return CQ_OK;
}

/* ---- ConvInteger / QLinearConv ---------------------------------------------------- */

static cq_status infer_cv(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                          int n_out, cq_tinfo *out, cq_err *err)
{
    const cq_op *conv = cq_op_find("Conv", "");
    int q = !strcmp(n->op_type, "QLinearConv");
    cq_tinfo xw[2] = {in[0], in[q ? 3 : 1]};
    (void)n_in;
    if (conv->infer(n, opset, 2, xw, n_out, out, err))
        return err->code;
    out[0].dtype = q ? in[7].dtype : CQ_S32;
    return CQ_OK;
}

static cq_status run_cv(cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                        cq_tensor *const *out, cq_openv *env, cq_err *err)
{
    (void)n_out, (void)env;
    int q = !strcmp(n->op_type, "QLinearConv");
    const cq_tensor *x = in[0], *w = in[q ? 3 : 1];
    const cq_tensor *xz = q ? in[2] : n_in > 2 ? in[2] : NULL;
    const cq_tensor *wz = q ? in[5] : n_in > 3 ? in[3] : NULL;
    const cq_tensor *bias = q && n_in > 8 ? in[8] : NULL;
    cq_convgeo g;
    if (cq__conv_geo(n, x->ndim, x->shape, w->ndim, w->shape, &g, err))
        return err->code;
    double *dx = as_double(x), *dw = as_double(w);
    int64_t ny = cq_tensor_numel(out[0]);
    double *dy = calloc((size_t)(ny ? ny : 1), sizeof *dy);
    if (!dx || !dw || !dy) {
        free(dx), free(dw), free(dy);
        return cq_errf(err, CQ_ENOMEM, "%s '%s': out of memory", n->op_type, n->name);
    }
    int64_t cg = g.c / g.group, mg = g.m / g.group, kk = g.k[0] * g.k[1] * g.k[2];
    int64_t ihw = g.in[0] * g.in[1] * g.in[2], ohw = g.out[0] * g.out[1] * g.out[2];
    for (int64_t i = 0; i < cq_tensor_numel(x); i++)
        dx[i] -= param(xz, 0);
    for (int64_t i = 0; i < cq_tensor_numel(w); i++)
        dw[i] -= param(wz, i / (cg * kk));
    for (int64_t b = 0; b < g.n; b++)
        for (int64_t m = 0; m < g.m; m++) {
            int64_t gr = m / mg;
            double *ym = dy + (b * g.m + m) * ohw;
            for (int64_t c = 0; c < cg; c++) {
                const double *xc = dx + (b * g.c + gr * cg + c) * ihw;
                const double *wc = dw + (m * cg + c) * kk;
                for (int64_t od = 0; od < g.out[0]; od++)
                    for (int64_t oh = 0; oh < g.out[1]; oh++)
                        for (int64_t ow = 0; ow < g.out[2]; ow++) {
                            double s = 0;
                            for (int64_t kd = 0; kd < g.k[0]; kd++) {
                                int64_t id = od * g.stride[0] - g.pb[0] + kd * g.dil[0];
                                if (id < 0 || id >= g.in[0])
                                    continue;
                                for (int64_t kh = 0; kh < g.k[1]; kh++) {
                                    int64_t ih = oh * g.stride[1] - g.pb[1] + kh * g.dil[1];
                                    if (ih < 0 || ih >= g.in[1])
                                        continue;
                                    for (int64_t kw = 0; kw < g.k[2]; kw++) {
                                        int64_t iw = ow * g.stride[2] - g.pb[2] + kw * g.dil[2];
                                        if (iw < 0 || iw >= g.in[2])
                                            continue;
                                        s += xc[(id * g.in[1] + ih) * g.in[2] + iw] *
                                             wc[(kd * g.k[1] + kh) * g.k[2] + kw];
                                    }
                                }
                            }
                            ym[(od * g.out[1] + oh) * g.out[2] + ow] += s;
                        }
            }
        }
    const cq_dtype_traits *to = cq_dtype_info(out[0]->dtype);
    char *py = cq_tensor_data(out[0]);
    for (int64_t i = 0; i < ny; i++) {
        double v = dy[i];
        if (q) {
            int64_t m = (i / ohw) % g.m;
            v += param(bias, m);
            float sc = (float)param(in[1], 0) * (float)param(in[4], m) / (float)param(in[6], 0);
            v = saturate(out[0]->dtype, (double)nearbyintf((float)v * sc) + param(in[7], 0));
        }
        to->set(py + (size_t)i * to->size, v);
    }
    free(dx), free(dw), free(dy);
    return CQ_OK;
}

const cq_op cq__ops_quant[] = {
    {"QuantizeLinear", "", infer_q, run_q},
    {"DequantizeLinear", "", infer_q, run_q},
    {"MatMulInteger", "", infer_mm, run_mm},
    {"QLinearMatMul", "", infer_mm, run_mm},
    {"ConvInteger", "", infer_cv, run_cv},
    {"QLinearConv", "", infer_cv, run_cv},
};
CQ__STATIC_ASSERT(sizeof cq__ops_quant / sizeof cq__ops_quant[0] == CQ_OPS_QUANT_N, quant_rows);
