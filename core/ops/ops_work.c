/* ops_work.c - the arithmetic of one node from its tensors' shapes
 * (cq_op_flops, ops.h): what a profile divides by the time to show an
 * achieved rate, and what a cost model starts from. */
#include "ops/ops_internal.h"

#include <string.h>

/* Contractions: y = sum over k of a * b, 2 flops per term. */
static int64_t contraction_flops(const cq_node *n, const cq_tinfo *in, const cq_tinfo *out)
{
    const char *op = n->op_type;
    /* saturating: a hostile model's shapes may be anything (ops_internal.h) */
    int64_t ny = cq__numel(out[0].ndim, out[0].shape);
    if (!strcmp(op, "Conv") || !strcmp(op, "ConvInteger") || !strcmp(op, "QLinearConv")) {
        /* w (m, c / group, k...): each output element takes c / group * prod(k) terms */
        const cq_tinfo *w = &in[strcmp(op, "QLinearConv") ? 1 : 3];
        return w->ndim < 1 ? -1 : cq__mul_sat(cq__mul_sat(2, ny), cq__numel(w->ndim - 1, w->shape + 1));
    }
    if (!strcmp(op, "ConvTranspose")) {
        /* w (c, m / group, k...): each input element scatters m / group * prod(k) terms */
        const cq_tinfo *w = &in[1];
        return w->ndim < 1 ? -1
                           : cq__mul_sat(cq__mul_sat(2, cq__numel(in[0].ndim, in[0].shape)),
                                         cq__numel(w->ndim - 1, w->shape + 1));
    }
    if (!strcmp(op, "Gemm")) {
        if (in[0].ndim != 2)
            return -1;
        return cq__mul_sat(cq__mul_sat(2, ny), in[0].shape[cq_node_int(n, "transA", 0) ? 0 : 1]);
    }
    /* MatMul, MatMulInteger, QLinearMatMul: a (..., m, k) or (k) */
    if (in[0].ndim < 1)
        return -1;
    return cq__mul_sat(cq__mul_sat(2, ny), in[0].shape[in[0].ndim - 1]);
}

int cq_op_flops(const cq_node *n, int n_in, const cq_tinfo *in, int n_out, const cq_tinfo *out,
                int64_t *flops)
{
    static const char *const contractions[] = {"Conv",          "ConvInteger", "QLinearConv",
                                               "ConvTranspose", "Gemm",        "MatMul",
                                               "MatMulInteger", "QLinearMatMul"};
    /* no arithmetic: data movement and shape bookkeeping */
    static const char *const moves[] = {
        "Cast",    "Concat",  "Constant",  "ConstantOfShape", "Flatten", "Gather",
        "Identity", "Pad",    "Reshape",   "Shape",           "Slice",   "Squeeze",
        "Transpose", "Unsqueeze", "Split", "Resize"};
    *flops = 0;
    if (n_out < 1 || out[0].ndim < 0)
        return -1;
    for (size_t k = 0; k < sizeof contractions / sizeof contractions[0]; k++)
        if (!strcmp(n->op_type, contractions[k])) {
            if (n_in < (strcmp(n->op_type, "QLinearConv") ? 2 : 4))
                return -1;
            int64_t f = contraction_flops(n, in, out);
            if (f < 0)
                return -1;
            *flops = f;
            return 1;
        }
    for (size_t k = 0; k < sizeof moves / sizeof moves[0]; k++)
        if (!strcmp(n->op_type, moves[k]))
            return 0;
    int64_t ny = cq__numel(out[0].ndim, out[0].shape);
    if (!strcmp(n->op_type, "MaxPool") || !strcmp(n->op_type, "AveragePool")) {
        int64_t k[CQ_MAX_DIMS];
        int nk = (int)cq_node_ints(n, "kernel_shape", k, CQ_MAX_DIMS);
        *flops = cq__mul_sat(ny, cq__numel(nk, k));
        return 0;
    }
    /* reductions read every input element once */
    if (n_in >= 1 && in[0].ndim >= 0 &&
        (!strcmp(n->op_type, "GlobalAveragePool") || !strncmp(n->op_type, "Reduce", 6) ||
         !strcmp(n->op_type, "Softmax") || !strcmp(n->op_type, "LayerNormalization"))) {
        *flops = cq__numel(in[0].ndim, in[0].shape);
        return 0;
    }
    /* elementwise and the rest: one per output element */
    *flops = ny;
    return 0;
}
