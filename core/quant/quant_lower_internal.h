/*
 * quant_lower_internal.h - what the files of the QDQ -> QLinear rewrite
 * share (quant_lower.c: the products, the report, the rewrite;
 * quant_lower_move.c: the ops that move codes): a QuantizeLinear or
 * DequantizeLinear node's parameters and the small pattern tests. Not a
 * public header.
 */
#ifndef CQ_QUANT_LOWER_INTERNAL_H
#define CQ_QUANT_LOWER_INTERNAL_H

#include "quant/quant_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Why a node stays float (a reason of the lower report). */
#define WHY_MAX 200

/* A DequantizeLinear (or QuantizeLinear) node's parameters. */
typedef struct qlin {
    int node;       /* the node */
    int codes;      /* DQ: its input (the codes); Q: its output */
    int scale, zp;  /* values (zp -1 when omitted) */
    cq_dtype dt;    /* the codes' dtype */
    int64_t count;  /* scales */
    int axis;       /* the axis attribute (default 1), meaningful when count > 1 */
} qlin;

/* Fill why (WHY_MAX bytes; may be NULL) and return 0: "this pattern does not match". */
static inline int no(char *why, const char *fmt, ...)
{
    if (why) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, WHY_MAX, fmt, ap);
        va_end(ap);
    }
    return 0;
}

static inline int is_op(const cq_node *n, const char *op)
{
    return !n->dead && !strcmp(n->op_type, op) && (!n->domain || !*n->domain ||
                                                   !strcmp(n->domain, "ai.onnx"));
}

static const cq_tensor *cdata(const cq_graph *g, int v)
{
    return v >= 0 && v < g->n_values ? g->values[v].data : NULL;
}

/* Element i of a constant as double (0 when absent). */
static inline double elem(const cq_tensor *t, int64_t i)
{
    const cq_dtype_traits *tr = cq_dtype_info(t->dtype);
    return tr->get((const char *)cq_tensor_data(t) + (size_t)i * tr->size);
}

/* The parameters of Q/DQ node p: constant scale (float, > 0) and zero
 * point (s8 / u8, or s32 for DQ), a known codes dtype. 0 when it is not
 * one (why says what is missing). */
static inline int qlin_of(const cq_graph *g, int p, const char *op, qlin *d, char *why)
{
    if (p < 0 || !is_op(&g->nodes[p], op))
        return no(why, "not written by a %s", op);
    const cq_node *n = &g->nodes[p];
    if (n->n_inputs < 2)
        return no(why, "%s '%s' has no scale", op, n->name);
    const cq_tensor *s = cdata(g, n->inputs[1]);
    int zv = n->n_inputs > 2 ? n->inputs[2] : -1;
    const cq_tensor *z = cdata(g, zv);
    if (!s || !cq_dtype_info(s->dtype)->is_float || !cq_tensor_is_contiguous(s))
        return no(why, "the scale of %s '%s' is not a float constant", op, n->name);
    if (zv >= 0 && (!z || !cq_tensor_is_contiguous(z)))
        return no(why, "the zero point of %s '%s' is not a constant", op, n->name);
    d->node = p;
    d->codes = !strcmp(op, "QuantizeLinear") ? n->outputs[0] : n->inputs[0];
    d->scale = n->inputs[1];
    d->zp = zv;
    d->count = cq_tensor_numel(s);
    d->axis = (int)cq_node_int(n, "axis", 1);
    if (z && cq_tensor_numel(z) != d->count)
        return no(why, "%s '%s' has %lld scales and %lld zero points", op, n->name,
                  (long long)d->count, (long long)cq_tensor_numel(z));
    for (int64_t i = 0; i < d->count; i++)
        if (!(elem(s, i) > 0))
            return no(why, "%s '%s' has a scale that is not > 0", op, n->name);
    if (z)
        d->dt = z->dtype;
    else if (!strcmp(op, "QuantizeLinear"))
        d->dt = CQ_U8;
    else if (cdata(g, d->codes))
        d->dt = cdata(g, d->codes)->dtype;
    else if (g->values[d->codes].has_type)
        d->dt = g->values[d->codes].dtype;
    else
        return no(why, "the codes %s '%s' reads have no known type", op, n->name);
    if (d->dt == CQ_S8 || d->dt == CQ_U8 || (d->dt == CQ_S32 && strcmp(op, "QuantizeLinear")))
        return 1;
    return no(why, "%s '%s' has %s codes", op, n->name, cq_dtype_info(d->dt)->name);
}

/* Input slot k of node n written by a DequantizeLinear. */
static inline int dq_in(const cq_graph *g, int n, int k, qlin *d, char *why)
{
    const cq_node *c = &g->nodes[n];
    int v = k < c->n_inputs ? c->inputs[k] : -1;
    char w[WHY_MAX];
    if (v < 0)
        return no(why, "input %d is missing", k);
    if (!qlin_of(g, g->values[v].producer, "DequantizeLinear", d, w))
        return no(why, "input %d: %s", k, w);
    return 1;
}

/* The one reader of v (not a graph output), or -1. */
static inline int only_reader(const cq_graph *g, int v)
{
    int c;
    if (v < 0 || g->values[v].is_output || cq_graph_consumers(g, v, &c, 1) != 1)
        return -1;
    return c;
}

/* An activation input (slot k) the integer kernels take: per tensor, 8-bit. */
static inline int act_in(const qlin *d, int k, char *why)
{
    if (d->count != 1)
        return no(why, "input %d is quantized per channel", k);
    if (d->dt == CQ_S32)
        return no(why, "input %d: int32 codes", k);
    return 1;
}

/* Add the integer op (named as node n) reading in[0..n_in) (-1: omitted)
 * and writing out; moves n's attributes to it when move. The node or -1. */
int cq__quant_add_op(cq_graph *g, int n, const char *op, int n_in, const int *in, int out,
                     int move, cq_err *err);
/* The same in another domain. */
int cq__quant_add_op_in(cq_graph *g, int n, const char *op, const char *domain, int n_in,
                        const int *in, int out, int move, cq_err *err);
/* The ops that move codes (quant_lower_move.c): node n lowered (*done
 * counted) or left with why. */
cq_status cq__quant_lower_move(cq_graph *g, int n, int *done, char *why, cq_err *err);
/* DQ -> GlobalAveragePool -> Q as QLinearGlobalAveragePool (quant_lower_move.c). */
cq_status cq__quant_lower_gap(cq_graph *g, int n, int *done, char *why, cq_err *err);

#endif
