/* ops_slice.c - Slice, Pad and Split (rows of the shape family in
 * ops_shape.c): each output is a strided view of the input (Pad: the input
 * a strided view of the output), moved by kern.h's cq_copy_strided, which
 * merges the dims contiguous on both sides and copies whole runs. Any
 * dtype. */
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

/* Dense element strides of (nd, shape). */
static void dense_strides(int nd, const int64_t *shape, int64_t *st)
{
    int64_t s = 1;
    for (int d = nd - 1; d >= 0; d--) {
        st[d] = s;
        s *= shape[d];
    }
}

/* ---- Slice --------------------------------------------------------------------------- */

/* Per-dim start and step of a Slice, output shape into sh. */
static cq_status slice_plan(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                            int64_t *start, int64_t *step, int64_t *sh, cq_err *err)
{
    int r = in[0].ndim;
    int64_t st[CQ_MAX_DIMS], en[CQ_MAX_DIMS], ax[CQ_MAX_DIMS], sp[CQ_MAX_DIMS];
    int64_t k, ke, ka = 0, ks = 0;
    if (opset < 10) {
        k = cq_node_ints(n, "starts", st, CQ_MAX_DIMS);
        ke = cq_node_ints(n, "ends", en, CQ_MAX_DIMS);
        ka = cq_node_ints(n, "axes", ax, CQ_MAX_DIMS);
    } else {
        for (int i = 1; i < n_in && i < 5; i++)
            if (in[i].ndim >= 0 && !in[i].data)
                return cq__need_data(n, i, err);
        if (n_in < 3)
            return cq_errf(err, CQ_EINVAL, "Slice '%s': needs starts and ends", n->name);
        k = cq__ints_of(in[1].data, st, CQ_MAX_DIMS);
        ke = cq__ints_of(in[2].data, en, CQ_MAX_DIMS);
        if (n_in > 3 && in[3].ndim >= 0)
            ka = cq__ints_of(in[3].data, ax, CQ_MAX_DIMS);
        if (n_in > 4 && in[4].ndim >= 0)
            ks = cq__ints_of(in[4].data, sp, CQ_MAX_DIMS);
    }
    if (k < 0 || k != ke || (ka && ka != k) || (ks && ks != k))
        return cq_errf(err, CQ_EINVAL, "Slice '%s': starts, ends, axes, steps differ in length",
                       n->name);
    for (int d = 0; d < r; d++) {
        start[d] = 0;
        step[d] = 1;
        sh[d] = in[0].shape[d];
    }
    for (int64_t i = 0; i < k; i++) {
        int a = cq__axis(ka ? ax[i] : i, r);
        int64_t s = ks ? sp[i] : 1, dim = in[0].shape[a < 0 ? 0 : a];
        if (a < 0 || s == 0)
            return cq_errf(err, CQ_EINVAL, "Slice '%s': bad axis or zero step", n->name);
        int64_t b = st[i], e = en[i];
        if (b < 0)
            b += dim;
        if (e < 0)
            e += dim;
        if (s > 0) {
            b = b < 0 ? 0 : b > dim ? dim : b;
            e = e < 0 ? 0 : e > dim ? dim : e;
            sh[a] = e > b ? (e - b + s - 1) / s : 0;
        } else {
            b = b < 0 ? 0 : b > dim - 1 ? dim - 1 : b;
            e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
            /* an empty axis stays empty (clamping to [0, dim - 1] gave b 0, e -1) */
            sh[a] = dim > 0 && b > e ? (b - e + (-s) - 1) / (-s) : 0;
        }
        start[a] = b;
        step[a] = s;
    }
    return CQ_OK;
}

cq_status cq__infer_slice(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                             int n_out, cq_tinfo *out, cq_err *err)
{
    (void)n_out;
    int64_t start[CQ_MAX_DIMS], step[CQ_MAX_DIMS], sh[CQ_MAX_DIMS];
    if (slice_plan(n, opset, n_in, in, start, step, sh, err))
        return err->code;
    set_shape(&out[0], in[0].dtype, in[0].ndim, sh);
    return CQ_OK;
}

static void tinfo_of(const cq_tensor *t, cq_tinfo *ti)
{
    ti->dtype = t->dtype;
    ti->ndim = t->ndim;
    memcpy(ti->shape, t->shape, sizeof ti->shape);
    ti->data = t;
}

cq_status cq__run_slice(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                           cq_tensor *const *out, cq_openv *env, cq_err *err)
{
    (void)n_out;
    cq_tinfo ti[5];
    for (int i = 0; i < n_in && i < 5; i++) {
        if (in[i])
            tinfo_of(in[i], &ti[i]);
        else
            ti[i].ndim = -1, ti[i].data = NULL;
    }
    int64_t start[CQ_MAX_DIMS], step[CQ_MAX_DIMS], sh[CQ_MAX_DIMS];
    if (slice_plan(n, env->opset, n_in < 5 ? n_in : 5, ti, start, step, sh, err))
        return err->code;
    const cq_tensor *x = in[0];
    cq_tensor *y = out[0];
    int r = x->ndim;
    size_t es = esz(x->dtype);
    int64_t off = 0, xst[CQ_MAX_DIMS], yst[CQ_MAX_DIMS];
    for (int d = 0; d < r; d++) {
        int64_t s = x->stride[d] / (int64_t)es;
        off += start[d] * s;
        xst[d] = step[d] * s;
    }
    dense_strides(r, y->shape, yst);
    if (cq_tensor_numel(y) > 0)
        cq_copy_strided(es, r, y->shape, (const char *)cq_tensor_data(x) + (size_t)off * es, xst,
                        cq_tensor_data(y), yst);
    return CQ_OK;
}

/* ---- Pad ----------------------------------------------------------------------------- */

static cq_status pad_plan(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                          int64_t *pads, cq_err *err)
{
    int r = in[0].ndim;
    int64_t p[2 * CQ_MAX_DIMS], k, ax[CQ_MAX_DIMS], ka = 0;
    if (opset < 11) {
        k = cq_node_ints(n, "pads", p, 2 * CQ_MAX_DIMS);
    } else {
        if (n_in < 2 || !in[1].data)
            return cq__need_data(n, 1, err);
        k = cq__ints_of(in[1].data, p, 2 * CQ_MAX_DIMS);
        if (n_in > 3 && in[3].ndim >= 0) {
            if (!in[3].data)
                return cq__need_data(n, 3, err);
            ka = cq__ints_of(in[3].data, ax, CQ_MAX_DIMS);
        }
    }
    int na = ka ? (int)ka : r;
    if (k != 2 * na)
        return cq_errf(err, CQ_EINVAL, "Pad '%s': %lld pads for %d axes", n->name, (long long)k,
                       na);
    memset(pads, 0, sizeof(int64_t) * 2 * (size_t)r);
    for (int i = 0; i < na; i++) {
        int a = ka ? cq__axis(ax[i], r) : i;
        if (a < 0)
            return cq_errf(err, CQ_EINVAL, "Pad '%s': bad axis", n->name);
        pads[a] = p[i];
        pads[r + a] = p[na + i];
    }
    return CQ_OK;
}

cq_status cq__infer_pad(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                           int n_out, cq_tinfo *out, cq_err *err)
{
    (void)n_out;
    int64_t pads[2 * CQ_MAX_DIMS];
    if (pad_plan(n, opset, n_in, in, pads, err))
        return err->code;
    int r = in[0].ndim;
    set_shape(&out[0], in[0].dtype, r, in[0].shape);
    for (int d = 0; d < r; d++) {
        int64_t s = out[0].shape[d];
        if (__builtin_add_overflow(s, pads[d], &s) || __builtin_add_overflow(s, pads[r + d], &s))
            return cq_errf(err, CQ_EINVAL, "Pad '%s': the size of dim %d overflows", n->name, d);
        out[0].shape[d] = s;
        if (out[0].shape[d] < 0)
            return cq_errf(err, CQ_EINVAL, "Pad '%s': negative size", n->name);
    }
    return CQ_OK;
}

cq_status cq__run_pad(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                         cq_tensor *const *out, cq_openv *env, cq_err *err)
{
    (void)n_out;
    cq_tinfo ti[4];
    for (int i = 0; i < n_in && i < 4; i++) {
        if (in[i])
            tinfo_of(in[i], &ti[i]);
        else
            ti[i].ndim = -1, ti[i].data = NULL;
    }
    int64_t pads[2 * CQ_MAX_DIMS];
    if (pad_plan(n, env->opset, n_in < 4 ? n_in : 4, ti, pads, err))
        return err->code;
    const char *mode = cq_node_string(n, "mode", "constant");
    int m = !strcmp(mode, "constant") ? 0 : !strcmp(mode, "edge") ? 1 : !strcmp(mode, "reflect") ? 2 : -1;
    if (m < 0)
        return cq_errf(err, CQ_EUNSUPPORTED, "Pad '%s': mode '%s'", n->name, mode);
    const cq_tensor *x = in[0];
    cq_tensor *y = out[0];
    const cq_dtype_traits *tr = cq_dtype_info(x->dtype);
    size_t es = tr->size;
    char cval[16] = {0};
    double cv = env->opset < 11 ? cq_node_float(n, "value", 0.0f) : 0;
    if (env->opset >= 11 && n_in > 2 && in[2] && cq_tensor_numel(in[2]) > 0)
        cv = cq_dtype_info(in[2]->dtype)->get(cq_tensor_data(in[2]));
    tr->set(cval, cv);
    int r = x->ndim;
    int64_t total = cq_tensor_numel(y), idx[CQ_MAX_DIMS] = {0};
    const char *px = cq_tensor_data(x);
    char *py = cq_tensor_data(y);
    for (int d = 0; d < r; d++)
        if (m && x->shape[d] == 0 && y->shape[d] > 0)
            return cq_errf(err, CQ_EINVAL, "Pad '%s': %s padding of an empty dim", n->name, mode);
    if (m == 0) {
        /* the value everywhere, then x's part that lands in y (negative pads crop) */
        cq_fill(es, cval, py, total);
        int64_t box[CQ_MAX_DIMS], xst[CQ_MAX_DIMS], yst[CQ_MAX_DIMS], xo = 0, yo = 0, cnt = 1;
        dense_strides(r, y->shape, yst);
        for (int d = 0; d < r; d++) {
            int64_t s0 = pads[d] < 0 ? -pads[d] : 0, d0 = pads[d] > 0 ? pads[d] : 0;
            int64_t k = x->shape[d] - s0;
            if (k > y->shape[d] - d0)
                k = y->shape[d] - d0;
            box[d] = k > 0 ? k : 0;
            cnt *= box[d];
            xst[d] = x->stride[d] / (int64_t)es;
            xo += s0 * xst[d];
            yo += d0 * yst[d];
        }
        if (cnt > 0)
            cq_copy_strided(es, r, box, px + (size_t)xo * es, xst, py + (size_t)yo * es, yst);
        return CQ_OK;
    }
    /* edge and reflect: every output element finds its source */
    for (int64_t i = 0; i < total; i++) {
        int64_t off = 0;
        int inside = 1;
        for (int d = 0; d < r; d++) {
            int64_t s = idx[d] - pads[d], dim = x->shape[d];
            if (s < 0 || s >= dim) {
                if (m == 0) {
                    inside = 0;
                    break;
                }
                if (m == 1) {
                    s = s < 0 ? 0 : dim - 1;
                } else if (dim == 1) {
                    s = 0;
                } else {
                    int64_t per = 2 * (dim - 1);
                    s = s % per;
                    if (s < 0)
                        s += per;
                    if (s >= dim)
                        s = per - s;
                }
            }
            off += s * (x->stride[d] / (int64_t)es);
        }
        memcpy(py + (size_t)i * es, inside ? px + (size_t)off * es : cval, es);
        for (int d = r - 1; d >= 0; d--) {
            if (++idx[d] < y->shape[d])
                break;
            idx[d] = 0;
        }
    }
    return CQ_OK;
}


/* ---- Split ----------------------------------------------------------------------------- */

/* The axis and each output's length along it: the split input (opset 13+)
 * or attribute, else num_outputs pieces of ceil(dim / num_outputs) (opset
 * 18+, the last one shorter), else n_out equal pieces. */
static cq_status split_plan(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                            int n_out, int *axis, int64_t *len, cq_err *err)
{
    int r = in[0].ndim;
    *axis = cq__axis(cq_node_int(n, "axis", 0), r);
    if (*axis < 0)
        return cq_errf(err, CQ_EINVAL, "Split '%s': axis out of range", n->name);
    int64_t dim = in[0].shape[*axis], k = 0;
    if (n_out < 1 || n_out > CQ_OP_MAX_OUTPUTS)
        return cq_errf(err, CQ_EINVAL, "Split '%s': %d outputs", n->name, n_out);
    if (opset >= 13 && n_in > 1 && in[1].ndim >= 0) {
        if (!in[1].data)
            return cq__need_data(n, 1, err);
        k = cq__ints_of(in[1].data, len, CQ_OP_MAX_OUTPUTS);
    } else if (opset < 13) {
        k = cq_node_ints(n, "split", len, CQ_OP_MAX_OUTPUTS);
    }
    if (k < 0 || (k > 0 && k != n_out))
        return cq_errf(err, CQ_EINVAL, "Split '%s': %lld lengths for %d outputs", n->name,
                       (long long)k, n_out);
    if (k > 0) {
        int64_t sum = 0;
        for (int i = 0; i < n_out; i++) {
            if (len[i] < 0)
                return cq_errf(err, CQ_EINVAL, "Split '%s': negative length", n->name);
            sum += len[i];
        }
        if (sum != dim)
            return cq_errf(err, CQ_EINVAL, "Split '%s': lengths sum to %lld, the axis is %lld",
                           n->name, (long long)sum, (long long)dim);
        return CQ_OK;
    }
    int64_t num = cq_node_int(n, "num_outputs", 0);
    if (num > 0) {
        if (num != n_out)
            return cq_errf(err, CQ_EINVAL, "Split '%s': num_outputs %lld, %d outputs", n->name,
                           (long long)num, n_out);
        int64_t piece = (dim + num - 1) / num, left = dim;
        for (int i = 0; i < n_out; i++) {
            len[i] = left < piece ? left : piece;
            left -= len[i];
        }
        return CQ_OK;
    }
    if (dim % n_out)
        return cq_errf(err, CQ_EINVAL, "Split '%s': %lld does not split into %d equal parts",
                       n->name, (long long)dim, n_out);
    for (int i = 0; i < n_out; i++)
        len[i] = dim / n_out;
    return CQ_OK;
}

cq_status cq__infer_split(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                          int n_out, cq_tinfo *out, cq_err *err)
{
    int axis;
    int64_t len[CQ_OP_MAX_OUTPUTS];
    if (n_in < 1 || in[0].ndim < 1)
        return cq_errf(err, CQ_EINVAL, "Split '%s': needs an input of rank >= 1", n->name);
    if (split_plan(n, opset, n_in, in, n_out, &axis, len, err))
        return err->code;
    for (int i = 0; i < n_out; i++) {
        set_shape(&out[i], in[0].dtype, in[0].ndim, in[0].shape);
        out[i].shape[axis] = len[i];
    }
    return CQ_OK;
}

cq_status cq__run_split(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                        cq_tensor *const *out, cq_openv *env, cq_err *err)
{
    cq_tinfo ti[2];
    tinfo_of(in[0], &ti[0]);
    if (n_in > 1 && in[1])
        tinfo_of(in[1], &ti[1]);
    else
        ti[1].ndim = -1, ti[1].data = NULL;
    int axis;
    int64_t len[CQ_OP_MAX_OUTPUTS];
    if (split_plan(n, env->opset, n_in > 1 ? 2 : 1, ti, n_out, &axis, len, err))
        return err->code;
    const cq_tensor *x = in[0];
    size_t es = esz(x->dtype);
    /* x as (outer, dim, inner); output i is (outer, len[i] * inner) from
     * offset pos * inner of each outer row */
    int64_t outer = cq__numel(axis, x->shape);
    int64_t inner = cq__numel(x->ndim - axis - 1, x->shape + axis + 1);
    int64_t dim = x->shape[axis], pos = 0;
    const char *px = cq_tensor_data(x);
    for (int i = 0; i < n_out; i++) {
        int64_t box[2] = {outer, len[i] * inner}, xs[2] = {dim * inner, 1},
                ys[2] = {len[i] * inner, 1};
        if (out[i] && outer > 0 && box[1] > 0)
            cq_copy_strided(es, 2, box, px + (size_t)(pos * inner) * es, xs,
                            cq_tensor_data(out[i]), ys);
        pos += len[i];
    }
    return CQ_OK;
}
