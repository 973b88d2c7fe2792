/* ops_norm.c - LayerNormalization (a row of the math family in ops_math.c)
 * on kern.h's cq_layernorm_f32: x viewed as (rows, cols) with cols the
 * product of the dims from axis on. */
#include "ops/ops_internal.h"

#include <string.h>

static cq_status ln_axis(const cq_node *n, int r, int *axis, cq_err *err)
{
    *axis = cq__axis(cq_node_int(n, "axis", -1), r);
    if (*axis < 0)
        return cq_errf(err, CQ_EINVAL, "LayerNormalization '%s': axis out of range for rank %d",
                       n->name, r);
    return CQ_OK;
}

/* Whether (nd, shape) broadcasts one way to the last dims (r - axis of
 * them) of xs. */
static int bcast_tail(int nd, const int64_t *shape, int r, const int64_t *xs, int axis)
{
    if (nd > r - axis)
        return 0;
    for (int i = 0; i < nd; i++) {
        int64_t d = shape[i], want = xs[r - nd + i];
        if (d != 1 && d != want)
            return 0;
    }
    return 1;
}

cq_status cq__infer_layernorm(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                              int n_out, cq_tinfo *out, cq_err *err)
{
    (void)opset;
    if (n_in < 2 || in[0].ndim < 1 || in[1].ndim < 0)
        return cq_errf(err, CQ_EINVAL, "LayerNormalization '%s': needs X and Scale", n->name);
    int r = in[0].ndim, axis;
    if (ln_axis(n, r, &axis, err))
        return err->code;
    for (int k = 1; k < n_in && k < 3; k++)
        if (in[k].ndim >= 0 && !bcast_tail(in[k].ndim, in[k].shape, r, in[0].shape, axis))
            return cq_errf(err, CQ_EINVAL, "LayerNormalization '%s': input %d does not "
                           "broadcast to X's dims from axis %d", n->name, k, axis);
    cq__same(&in[0], &out[0]);
    for (int k = 1; k < n_out && k < 3; k++) {
        out[k].dtype = CQ_F32;
        out[k].ndim = r;
        out[k].data = NULL;
        for (int d = 0; d < r; d++)
            out[k].shape[d] = d < axis ? in[0].shape[d] : 1;
    }
    return CQ_OK;
}

/* t (broadcasting to X's dims from axis) as cols dense floats: t itself
 * when it has them all, else expanded into buf. */
static const float *ln_param(const cq_tensor *t, int r, const int64_t *xs, int axis,
                             int64_t cols, float *buf)
{
    if (cq_tensor_numel(t) == cols)
        return cq_tensor_data(t);
    int nd = r - axis;
    int64_t st[CQ_MAX_DIMS], dst[CQ_MAX_DIMS], s = 1, ds = 1;
    for (int i = nd - 1; i >= 0; i--) {
        int j = i - (nd - t->ndim);
        int64_t d = j >= 0 ? t->shape[j] : 1;
        st[i] = d == 1 ? 0 : s;
        s *= d;
        dst[i] = ds;
        ds *= xs[axis + i];
    }
    cq_copy_strided(4, nd, xs + axis, cq_tensor_data(t), st, buf, dst);
    return buf;
}

cq_status cq__run_layernorm(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                            cq_tensor *const *out, cq_openv *env, cq_err *err)
{
    const cq_tensor *x = in[0];
    for (int k = 0; k < n_in && k < 3; k++)
        if (in[k] && in[k]->dtype != CQ_F32)
            return cq_errf(err, CQ_EUNSUPPORTED, "LayerNormalization '%s': calq runs it on f32 "
                           "only", n->name);
    int r = x->ndim, axis;
    if (ln_axis(n, r, &axis, err))
        return err->code;
    int64_t rows = cq__numel(axis, x->shape), cols = cq__numel(r - axis, x->shape + axis);
    float eps = cq_node_float(n, "epsilon", 1e-5f);
    int nb = n_in > 2 && in[2] ? 1 : 0;
    float *buf = NULL;
    if ((cq_tensor_numel(in[1]) != cols || (nb && cq_tensor_numel(in[2]) != cols)) &&
        !(buf = cq__scratch(env, (size_t)(2 * cols) * sizeof(float))))
        return cq_errf(err, CQ_ENOMEM, "LayerNormalization '%s': out of memory", n->name);
    const float *scale = ln_param(in[1], r, x->shape, axis, cols, buf);
    const float *bias = nb ? ln_param(in[2], r, x->shape, axis, cols, buf ? buf + cols : NULL)
                           : NULL;
    float *mean = n_out > 1 && out[1] ? cq_tensor_data(out[1]) : NULL;
    float *inv = n_out > 2 && out[2] ? cq_tensor_data(out[2]) : NULL;
    if (rows > 0 && cols > 0)
        cq_layernorm_f32(rows, cols, cq_tensor_data(x), scale, bias, eps, cq_tensor_data(out[0]),
                         mean, inv);
    return CQ_OK;
}
