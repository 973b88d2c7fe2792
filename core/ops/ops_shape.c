/* ops_shape.c - data movement: Concat, Reshape, Flatten, Transpose, Squeeze,
 * Unsqueeze, Shape, Gather, Constant, ConstantOfShape (Resize is in
 * ops_resize.c; Slice, Pad and Split in ops_slice.c). Every op here works
 * on any dtype (bytes are moved). */
#include "ops/ops_internal.h"

#include <string.h>

static size_t esz(cq_dtype dt) { return cq_dtype_info(dt)->size; }

static void set_shape(cq_tinfo *o, cq_dtype dt, int nd, const int64_t *sh)
{
    o->dtype = dt;
    o->ndim = nd;
    o->data = NULL;
    for (int i = 0; i < nd; i++)
        o->shape[i] = sh[i];
}

static cq_status copy_all(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                          cq_tensor *const *out, cq_openv *env, cq_err *err)
{
    (void)n, (void)n_in, (void)n_out, (void)env, (void)err;
    /* through cq_copy_strided: large copies split over the kernel threads */
    int64_t count = cq_tensor_numel(out[0]), one = 1;
    cq_copy_strided(esz(out[0]->dtype), 1, &count, cq_tensor_data(in[0]), &one,
                    cq_tensor_data(out[0]), &one);
    return CQ_OK;
}

/* Axes list from attribute `name` (opset < since) or from input idx. */
static cq_status axes_of(const cq_node *n, int64_t opset, int64_t since, int n_in,
                         const cq_tinfo *in, int idx, int64_t *ax, int64_t *k, cq_err *err)
{
    if (opset < since) {
        *k = cq_node_ints(n, "axes", ax, CQ_MAX_DIMS);
        return CQ_OK;
    }
    *k = 0;
    if (n_in <= idx || in[idx].ndim < 0)
        return CQ_OK;
    if (!in[idx].data)
        return cq__need_data(n, idx, err);
    *k = cq__ints_of(in[idx].data, ax, CQ_MAX_DIMS);
    if (*k < 0)
        return cq_errf(err, CQ_EINVAL, "%s '%s': too many axes", n->op_type, n->name);
    return CQ_OK;
}

/* ---- Concat ------------------------------------------------------------------- */

static cq_status infer_concat(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                              int n_out, cq_tinfo *out, cq_err *err)
{
    (void)opset, (void)n_out;
    int r = in[0].ndim;
    int axis = cq__axis(cq_node_int(n, "axis", 0), r);
    if (axis < 0)
        return cq_errf(err, CQ_EINVAL, "Concat '%s': axis out of range", n->name);
    set_shape(&out[0], in[0].dtype, r, in[0].shape);
    out[0].shape[axis] = 0;
    for (int i = 0; i < n_in; i++) {
        if (in[i].ndim != r || in[i].dtype != in[0].dtype)
            return cq_errf(err, CQ_EINVAL, "Concat '%s': input %d has another rank or dtype",
                           n->name, i);
        for (int d = 0; d < r; d++)
            if (d != axis && in[i].shape[d] != in[0].shape[d])
                return cq_errf(err, CQ_EINVAL, "Concat '%s': input %d differs in dim %d",
                               n->name, i, d);
        if (__builtin_add_overflow(out[0].shape[axis], in[i].shape[axis], &out[0].shape[axis]))
            return cq_errf(err, CQ_EINVAL, "Concat '%s': the size along axis %d overflows",
                           n->name, axis);
    }
    return CQ_OK;
}

static cq_status run_concat(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                            cq_tensor *const *out, cq_openv *env, cq_err *err)
{
    (void)n_out, (void)err;
    cq_tensor *y = out[0];
    int axis = cq__axis(cq_node_int(n, "axis", 0), y->ndim);
    size_t es = esz(y->dtype);
    if (env->y_blocked && y->dtype != CQ_F32) {
        /* NHWC codes along the channels (concat_blocked_ok): each pixel's
         * channels from every input in turn */
        int64_t pix = y->shape[0] * y->shape[2] * y->shape[3];
        const uint8_t *xs[CQ_OP_MAX_INPUTS];
        int64_t cs[CQ_OP_MAX_INPUTS];
        for (int i = 0; i < n_in; i++) {
            xs[i] = cq_tensor_data(in[i]);
            cs[i] = in[i]->shape[1];
        }
        cq_concat_nhwc_8(n_in, xs, cs, pix, cq_tensor_data(y));
        return CQ_OK;
    }
    /* each input a box (outer, its rows) into y's rows, by cq_copy_strided
     * (f32 NCHW16c along the channels, concat_blocked_ok: whole 16-channel
     * blocks, so each image's part of an input is one run in either layout
     * and the NCHW copy is the blocked one)
     * (split over the kernel threads when large) */
    int64_t outer = cq__numel(axis, y->shape);
    int64_t inner = cq__numel(y->ndim - axis - 1, y->shape + axis + 1);
    int64_t yrow = y->shape[axis] * inner, pos = 0;
    char *py = cq_tensor_data(y);
    for (int i = 0; i < n_in; i++) {
        int64_t row = in[i]->shape[axis] * inner;
        int64_t box[2] = {outer, row}, xs[2] = {row, 1}, ys[2] = {yrow, 1};
        if (outer * row > 0)
            cq_copy_strided(es, 2, box, cq_tensor_data(in[i]), xs, py + (size_t)pos * es, ys);
        pos += row;
    }
    return CQ_OK;
}

/* ---- Reshape, Flatten ------------------------------------------------------------ */

static cq_status infer_reshape(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                               int n_out, cq_tinfo *out, cq_err *err)
{
    (void)opset, (void)n_out;
    if (n_in < 2)
        return cq_errf(err, CQ_EINVAL, "Reshape '%s': needs a shape input", n->name);
    if (!in[1].data)
        return cq__need_data(n, 1, err);
    int64_t sh[CQ_MAX_DIMS];
    int64_t k = cq__ints_of(in[1].data, sh, CQ_MAX_DIMS);
    if (k < 0)
        return cq_errf(err, CQ_EUNSUPPORTED, "Reshape '%s': more than %d dims", n->name,
                       CQ_MAX_DIMS);
    int allowzero = (int)cq_node_int(n, "allowzero", 0);
    int64_t known = 1, total = cq__numel(in[0].ndim, in[0].shape);
    int minus = -1;
    for (int i = 0; i < k; i++) {
        if (sh[i] == 0 && !allowzero) {
            if (i >= in[0].ndim)
                return cq_errf(err, CQ_EINVAL, "Reshape '%s': 0 at dim %d beyond input rank",
                               n->name, i);
            sh[i] = in[0].shape[i];
        }
        if (sh[i] == -1) {
            if (minus >= 0)
                return cq_errf(err, CQ_EINVAL, "Reshape '%s': two -1 dims", n->name);
            minus = i;
        } else if (sh[i] < 0) {
            return cq_errf(err, CQ_EINVAL, "Reshape '%s': negative dim", n->name);
        } else {
            known = cq__mul_sat(known, sh[i]);
        }
    }
    if (known == INT64_MAX || total == INT64_MAX)
        return cq_errf(err, CQ_EINVAL, "Reshape '%s': the element count overflows", n->name);
    if (minus >= 0)
        sh[minus] = known ? total / known : 0;
    if (cq__numel((int)k, sh) != total)
        return cq_errf(err, CQ_EINVAL, "Reshape '%s': %lld elements cannot take the new shape",
                       n->name, (long long)total);
    set_shape(&out[0], in[0].dtype, (int)k, sh);
    return CQ_OK;
}

static cq_status infer_flatten(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                               int n_out, cq_tinfo *out, cq_err *err)
{
    (void)opset, (void)n_in, (void)n_out;
    int r = in[0].ndim;
    int64_t a = cq_node_int(n, "axis", 1);
    if (a < -r || a > r)
        return cq_errf(err, CQ_EINVAL, "Flatten '%s': axis out of range", n->name);
    if (a < 0)
        a += r;
    int64_t sh[2] = {cq__numel((int)a, in[0].shape), cq__numel(r - (int)a, in[0].shape + a)};
    set_shape(&out[0], in[0].dtype, 2, sh);
    return CQ_OK;
}

/* ---- Transpose --------------------------------------------------------------------- */

static int perm_of(const cq_node *n, int r, int *perm)
{
    int64_t p[CQ_MAX_DIMS];
    int64_t k = cq_node_ints(n, "perm", p, CQ_MAX_DIMS);
    int seen = 0;
    if (k && k != r)
        return -1;
    for (int i = 0; i < r; i++) {
        perm[i] = k ? (int)p[i] : r - 1 - i;
        if (perm[i] < 0 || perm[i] >= r || (seen >> perm[i] & 1))
            return -1;
        seen |= 1 << perm[i];
    }
    return 0;
}

static cq_status infer_transpose(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                                 int n_out, cq_tinfo *out, cq_err *err)
{
    (void)opset, (void)n_out;
    int perm[CQ_MAX_DIMS];
    if (n_in < 1 || in[0].ndim < 0)
        return cq_errf(err, CQ_EINVAL, "Transpose '%s': missing input", n->name);
    if (perm_of(n, in[0].ndim, perm))
        return cq_errf(err, CQ_EINVAL, "Transpose '%s': bad perm", n->name);
    set_shape(&out[0], in[0].dtype, in[0].ndim, in[0].shape);
    for (int i = 0; i < in[0].ndim; i++)
        out[0].shape[i] = in[0].shape[perm[i]];
    return CQ_OK;
}

/* Whether perm is [0, b) ++ [k, r) ++ [b, k): per leading index, x viewed as
 * (rows, cols) = (prod shape[b, k), prod shape[k, r)) goes to its transpose
 * (NHWC <-> NCHW are such). */
static int perm_2d(const int *perm, int r, const int64_t *shape, int64_t *batch, int64_t *rows,
                   int64_t *cols)
{
    int b = 0;
    while (b < r && perm[b] == b)
        b++;
    if (b >= r - 1)
        return 0;
    int k = perm[b];
    for (int i = b; i < r; i++)
        if (perm[i] != (i < b + r - k ? k + i - b : i - (r - k)))
            return 0;
    *batch = *rows = *cols = 1;
    for (int d = 0; d < r; d++)
        *(d < b ? batch : d < k ? rows : cols) *= shape[d];
    return 1;
}

static cq_status run_transpose(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                               cq_tensor *const *out, cq_openv *env, cq_err *err)
{
    (void)n_in, (void)n_out, (void)env;
    (void)err;
    int perm[CQ_MAX_DIMS];
    const cq_tensor *x = in[0];
    cq_tensor *y = out[0];
    int r = x->ndim;
    perm_of(n, r, perm);
    size_t es = esz(x->dtype);
    int64_t nb, rows, cols;
    if (es == 4 && x->dtype == CQ_F32 && perm_2d(perm, r, x->shape, &nb, &rows, &cols)) {
        const float *px = cq_tensor_data(x);
        float *py = cq_tensor_data(y);
        for (int64_t i = 0; i < nb; i++)
            cq_transpose_f32(px + i * rows * cols, rows, cols, py + i * rows * cols);
        return CQ_OK;
    }
    /* y in order; st[d] is the input stride (elements) of y's dim d */
    int64_t st[CQ_MAX_DIMS], yst[CQ_MAX_DIMS], s = 1;
    for (int d = r - 1; d >= 0; d--) {
        st[d] = x->stride[perm[d]] / (int64_t)es;
        yst[d] = s;
        s *= y->shape[d];
    }
    cq_copy_strided(es, r, y->shape, cq_tensor_data(x), st, cq_tensor_data(y), yst);
    return CQ_OK;
}

/* ---- Squeeze, Unsqueeze ------------------------------------------------------------- */

static cq_status infer_squeeze(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                               int n_out, cq_tinfo *out, cq_err *err)
{
    (void)n_out;
    int64_t ax[CQ_MAX_DIMS], k;
    if (axes_of(n, opset, 13, n_in, in, 1, ax, &k, err))
        return err->code;
    int r = in[0].ndim, mask = 0;
    for (int64_t i = 0; i < k; i++) {
        int a = cq__axis(ax[i], r);
        if (a < 0 || in[0].shape[a] != 1)
            return cq_errf(err, CQ_EINVAL, "Squeeze '%s': axis %lld is not a dim of size 1",
                           n->name, (long long)ax[i]);
        mask |= 1 << a;
    }
    out[0].dtype = in[0].dtype;
    out[0].data = NULL;
    out[0].ndim = 0;
    for (int i = 0; i < r; i++)
        if (k ? !(mask >> i & 1) : in[0].shape[i] != 1)
            out[0].shape[out[0].ndim++] = in[0].shape[i];
    return CQ_OK;
}

static cq_status infer_unsqueeze(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                                 int n_out, cq_tinfo *out, cq_err *err)
{
    (void)n_out;
    int64_t ax[CQ_MAX_DIMS], k;
    if (axes_of(n, opset, 13, n_in, in, 1, ax, &k, err))
        return err->code;
    int r = in[0].ndim + (int)k, mask = 0;
    if (r > CQ_MAX_DIMS)
        return cq_errf(err, CQ_EUNSUPPORTED, "Unsqueeze '%s': rank above %d", n->name, CQ_MAX_DIMS);
    for (int64_t i = 0; i < k; i++) {
        int a = cq__axis(ax[i], r);
        if (a < 0 || (mask >> a & 1))
            return cq_errf(err, CQ_EINVAL, "Unsqueeze '%s': bad axis %lld", n->name,
                           (long long)ax[i]);
        mask |= 1 << a;
    }
    out[0].dtype = in[0].dtype;
    out[0].data = NULL;
    out[0].ndim = r;
    for (int i = 0, j = 0; i < r; i++)
        out[0].shape[i] = (mask >> i & 1) ? 1 : in[0].shape[j++];
    return CQ_OK;
}

/* ---- Shape -------------------------------------------------------------------------- */

static void shape_range(const cq_node *n, int r, int64_t *s, int64_t *e)
{
    *s = cq_node_int(n, "start", 0);
    *e = cq_node_int(n, "end", r);
    if (*s < 0)
        *s += r;
    if (*e < 0)
        *e += r;
    *s = *s < 0 ? 0 : *s > r ? r : *s;
    *e = *e < 0 ? 0 : *e > r ? r : *e;
    if (*e < *s)
        *e = *s;
}

static cq_status infer_shape(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                             int n_out, cq_tinfo *out, cq_err *err)
{
    (void)opset, (void)n_in, (void)n_out, (void)err;
    int64_t s, e;
    shape_range(n, in[0].ndim, &s, &e);
    int64_t k = e - s;
    set_shape(&out[0], CQ_S64, 1, &k);
    return CQ_OK;
}

static cq_status run_shape(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                           cq_tensor *const *out, cq_openv *env, cq_err *err)
{
    (void)n_in, (void)n_out, (void)env, (void)err;
    int64_t s, e;
    shape_range(n, in[0]->ndim, &s, &e);
    int64_t *p = cq_tensor_data(out[0]);
    for (int64_t i = s; i < e; i++)
        p[i - s] = in[0]->shape[i];
    return CQ_OK;
}

/* ---- Gather ------------------------------------------------------------------------- */

static cq_status infer_gather(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                              int n_out, cq_tinfo *out, cq_err *err)
{
    (void)opset, (void)n_in, (void)n_out;
    int r = in[0].ndim, q = in[1].ndim;
    int axis = cq__axis(cq_node_int(n, "axis", 0), r);
    if (axis < 0 || r + q - 1 > CQ_MAX_DIMS)
        return cq_errf(err, CQ_EINVAL, "Gather '%s': bad axis or rank", n->name);
    out[0].dtype = in[0].dtype;
    out[0].data = NULL;
    out[0].ndim = 0;
    for (int i = 0; i < axis; i++)
        out[0].shape[out[0].ndim++] = in[0].shape[i];
    for (int i = 0; i < q; i++)
        out[0].shape[out[0].ndim++] = in[1].shape[i];
    for (int i = axis + 1; i < r; i++)
        out[0].shape[out[0].ndim++] = in[0].shape[i];
    return CQ_OK;
}

static cq_status run_gather(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                            cq_tensor *const *out, cq_openv *env, cq_err *err)
{
    (void)n_in, (void)n_out, (void)env;
    const cq_tensor *x = in[0], *ix = in[1];
    int axis = cq__axis(cq_node_int(n, "axis", 0), x->ndim);
    size_t es = esz(x->dtype);
    int64_t outer = cq__numel(axis, x->shape), len = x->shape[axis];
    size_t inner = (size_t)cq__numel(x->ndim - axis - 1, x->shape + axis + 1) * es;
    int64_t ni = cq_tensor_numel(ix);
    const cq_dtype_traits *it = cq_dtype_info(ix->dtype);
    if (it->is_float)
        return cq_errf(err, CQ_EINVAL, "Gather '%s': indices must be integers", n->name);
    const char *px = cq_tensor_data(x), *pi = cq_tensor_data(ix);
    char *py = cq_tensor_data(out[0]);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < ni; j++) {
            int64_t k = (int64_t)it->get(pi + (size_t)j * it->size);
            if (k < 0)
                k += len;
            if (k < 0 || k >= len)
                return cq_errf(err, CQ_ERANGE, "Gather '%s': index %lld out of range [0, %lld)",
                               n->name, (long long)k, (long long)len);
            memcpy(py + ((size_t)(o * ni + j)) * inner, px + ((size_t)(o * len + k)) * inner,
                   inner);
        }
    return CQ_OK;
}

/* ---- Constant, ConstantOfShape ----------------------------------------------------------- */

/* The tensor a Constant node holds (a new reference), from whichever attribute is set. */
static cq_tensor *constant_value(const cq_node *n, cq_err *err)
{
    const cq_attr *a;
    if ((a = cq_node_attr(n, "value")) && a->type == CQ_ATTR_TENSOR && a->t) {
        cq_tensor_retain(a->t);
        return a->t;
    }
    if ((a = cq_node_attr(n, "value_float")))
        return cq_tensor_scalar(CQ_F32, a->f, err);
    if ((a = cq_node_attr(n, "value_int")))
        return cq_tensor_scalar(CQ_S64, (double)a->i, err);
    if ((a = cq_node_attr(n, "value_floats")) || (a = cq_node_attr(n, "value_ints"))) {
        int isf = a->type == CQ_ATTR_FLOATS;
        cq_tensor *t = cq_tensor_empty(isf ? CQ_F32 : CQ_S64, 1, &a->n, err);
        if (t && a->n)
            memcpy(cq_tensor_data(t), isf ? (void *)a->floats : (void *)a->ints,
                   (size_t)a->n * (isf ? 4 : 8));
        return t;
    }
    cq_errf(err, CQ_EUNSUPPORTED, "Constant '%s': no value calq can read (sparse or string)",
            n->name);
    return NULL;
}

static cq_status infer_constant(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                                int n_out, cq_tinfo *out, cq_err *err)
{
    (void)opset, (void)n_in, (void)in, (void)n_out;
    cq_tensor *t = constant_value(n, err);
    if (!t)
        return err->code;
    set_shape(&out[0], t->dtype, t->ndim, t->shape);
    cq_tensor_release(t);
    return CQ_OK;
}

static cq_status run_constant(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                              cq_tensor *const *out, cq_openv *env, cq_err *err)
{
    (void)n_in, (void)in, (void)n_out, (void)env;
    cq_tensor *t = constant_value(n, err);
    if (!t)
        return err->code;
    cq_status st = cq_tensor_copy(out[0], t, err);
    cq_tensor_release(t);
    return st;
}

static cq_status infer_cos(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                           int n_out, cq_tinfo *out, cq_err *err)
{
    (void)opset, (void)n_in, (void)n_out;
    if (!in[0].data)
        return cq__need_data(n, 0, err);
    int64_t sh[CQ_MAX_DIMS];
    int64_t k = cq__ints_of(in[0].data, sh, CQ_MAX_DIMS);
    if (k < 0)
        return cq_errf(err, CQ_EUNSUPPORTED, "ConstantOfShape '%s': rank above %d", n->name,
                       CQ_MAX_DIMS);
    for (int i = 0; i < k; i++)
        if (sh[i] < 0)
            return cq_errf(err, CQ_EINVAL, "ConstantOfShape '%s': negative dim", n->name);
    const cq_attr *a = cq_node_attr(n, "value");
    set_shape(&out[0], a && a->t ? a->t->dtype : CQ_F32, (int)k, sh);
    return CQ_OK;
}

static cq_status run_cos(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                         cq_tensor *const *out, cq_openv *env, cq_err *err)
{
    (void)n_in, (void)in, (void)n_out, (void)env, (void)err;
    const cq_attr *a = cq_node_attr(n, "value");
    size_t es = esz(out[0]->dtype);
    char v[16] = {0};
    if (a && a->t && cq_tensor_numel(a->t) > 0)
        memcpy(v, cq_tensor_data(a->t), es);
    char *p = cq_tensor_data(out[0]);
    int64_t k = cq_tensor_numel(out[0]);
    for (int64_t i = 0; i < k; i++)
        memcpy(p + (size_t)i * es, v, es);
    return CQ_OK;
}

/* 8-bit codes keep NHWC, f32 NCHW16c (inputs of whole 16-channel blocks),
 * through a Concat along the channels (every input and the output in one
 * layout, hooks->blocked_in). */
static int concat_blocked_ok(const cq_graph *g, const cq_node *n, int x_blocked)
{
    if (!x_blocked || n->n_inputs < 1 || n->n_outputs != 1 || n->outputs[0] < 0)
        return 0;
    const cq_value *y = &g->values[n->outputs[0]];
    if (!y->has_type || y->ndim != 4 ||
        (y->dtype != CQ_U8 && y->dtype != CQ_S8 && y->dtype != CQ_F32) ||
        cq__axis(cq_node_int(n, "axis", 0), 4) != 1)
        return 0;
    for (int k = 0; k < n->n_inputs; k++) {
        if (n->inputs[k] < 0)
            return 0;
        const cq_value *x = &g->values[n->inputs[k]];
        if (!x->has_type || x->ndim != 4 || x->dtype != y->dtype ||
            (x->dtype == CQ_F32 && x->shape[1] % 16))
            return 0;
        for (int d = 0; d < 4; d++)
            if (x->shape[d] <= 0)
                return 0;
    }
    return 1;
}

/* f32 along an axis with only ones before it (a batch of one along the
 * channels): each input is one run of the output, in NCHW and (whole
 * 16-channel blocks) in NCHW16c alike. */
static int concat_join_of(const cq_graph *g, const cq_node *n, int y_blocked, int64_t *off)
{
    if (n->n_inputs < 1 || n->n_outputs != 1 || n->outputs[0] < 0)
        return 0;
    const cq_value *y = &g->values[n->outputs[0]];
    if (!y->has_type || y->dtype != CQ_F32 || y->ndim < 1)
        return 0;
    int axis = cq__axis(cq_node_int(n, "axis", 0), y->ndim);
    if (axis < 0 || (y_blocked && (y->ndim != 4 || axis != 1)))
        return 0;
    int64_t pos = 0;
    for (int k = 0; k < n->n_inputs; k++) {
        if (n->inputs[k] < 0)
            return 0;
        const cq_value *x = &g->values[n->inputs[k]];
        if (!x->has_type || x->dtype != CQ_F32 || x->ndim != y->ndim ||
            (y_blocked && x->shape[1] % 16))
            return 0;
        for (int d = 0; d < x->ndim; d++)
            if (x->shape[d] <= 0 || (d < axis && x->shape[d] != 1))
                return 0;
        off[k] = pos;
        pos += cq__numel(x->ndim, x->shape);
    }
    return pos == cq__numel(y->ndim, y->shape);
}

static const cq_op_hooks concat_hooks = {.blocked_ok = concat_blocked_ok, .blocked_in = ~0u,
                                         .join_of = concat_join_of};

/* 8-bit codes keep NHWC, f32 NCHW16c, through a nearest Resize (input and
 * output in one layout, hooks->blocked_in). */
static const cq_op_hooks resize_hooks = {.blocked_ok = cq__resize_blocked_ok, .blocked_in = 1u};

const cq_op cq__ops_shape[] = {
    {"Concat", "", infer_concat, run_concat, CQ_OP_BLOCKED_IN | CQ_OP_BLOCKED_OUT | CQ_OP_JOIN,
     &concat_hooks},
    {"Reshape", "", infer_reshape, copy_all, 0, NULL},
    {"Flatten", "", infer_flatten, copy_all, 0, NULL},
    {"Transpose", "", infer_transpose, run_transpose, 0, NULL},
    {"Squeeze", "", infer_squeeze, copy_all, 0, NULL},
    {"Unsqueeze", "", infer_unsqueeze, copy_all, 0, NULL},
    {"Shape", "", infer_shape, run_shape, CQ_OP_SHAPE_ONLY, NULL},
    {"Gather", "", infer_gather, run_gather, 0, NULL},
    {"Slice", "", cq__infer_slice, cq__run_slice, 0, NULL},
    {"Pad", "", cq__infer_pad, cq__run_pad, 0, NULL},
    {"Split", "", cq__infer_split, cq__run_split, 0, NULL},
    {"Resize", "", cq__infer_resize, cq__run_resize, CQ_OP_BLOCKED_IN | CQ_OP_BLOCKED_OUT,
     &resize_hooks},
    {"Constant", "", infer_constant, run_constant, 0, NULL},
    {"ConstantOfShape", "", infer_cos, run_cos, 0, NULL},
};
CQ__STATIC_ASSERT(sizeof cq__ops_shape / sizeof cq__ops_shape[0] == CQ_OPS_SHAPE_N, shape_rows);
