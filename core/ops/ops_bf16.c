/* ops_bf16.c - Gemm and MatMul in bf16 (a node the precision map puts in
 * CQ_BF16): kern_bgemm.h's GEMM (inputs rounded to bf16, f32 sums, f32 out),
 * its plan (B rounded and packed) kept in the node's plan slot when B is a
 * constant, remade when the shapes change. */
#include "ops/ops_internal.h"
#include "kern/kern_bgemm.h"

#include <stdlib.h>
#include <string.h>

typedef struct bslot {
    cq_bgemm_plan *pl;
    int64_t m, n, k;
    int tb;
} bslot;

static void bslot_free(void *plan)
{
    bslot *s = plan;
    if (s)
        cq_bgemm_plan_free(s->pl);
    free(s);
}

/* CQ_OP_PLAN: nothing at plan time (the kernel plan needs m, known at the
 * first run, and only bf16 nodes make one). */
static cq_status bslot_new(const cq_graph *g, const cq_node *n, const cq_openv *env, void **plan,
                           cq_err *err)
{
    (void)g, (void)n, (void)env, (void)err;
    *plan = NULL;
    return CQ_OK;
}

const cq_op_hooks cq__bgemm_hooks = {.plan_new = bslot_new, .plan_free = bslot_free};

cq_status cq__bf16_gemm(const cq_node *n, const float *a, int64_t m, int64_t k,
                        const cq_tensor *b, int tb, int64_t nn, int acc, float alpha, float *y,
                        cq_openv *env, cq_err *err)
{
    if (m == 0 || nn == 0)
        return CQ_OK;
    int b_const = env->in_const && env->in_const[1];
    void **slot = b_const ? env->plan : NULL;
    bslot *s = slot ? *slot : NULL;
    cq_bgemm_plan *pl = NULL;
    if (s && s->pl && s->m == m && s->n == nn && s->k == k && s->tb == tb) {
        pl = s->pl;
    } else {
        cq_bgemm_params p = cq_bgemm_params_default();
        p.m = m;
        p.n = nn;
        p.k = k;
        p.w_kn = !tb;
        pl = cq_bgemm_plan_new(&p, cq_tensor_data(b), NULL, err);
        if (!pl)
            return cq_err_prefix(err, err->code, "%s '%s' (bf16): ", n->op_type, n->name);
        if (slot) {
            if (!s && !(s = calloc(1, sizeof *s))) {
                cq_bgemm_plan_free(pl);
                return cq_errf(err, CQ_ENOMEM, "%s '%s': out of memory", n->op_type, n->name);
            }
            *slot = s;
            cq_bgemm_plan_free(s->pl);
            s->pl = pl;
            s->m = m;
            s->n = nn;
            s->k = k;
            s->tb = tb;
        }
    }
    /* acc: the product in scratch first, then y = alpha t + y */
    size_t tbytes = acc ? ((size_t)(m * nn) * sizeof(float) + 63) / 64 * 64 : 0;
    size_t sb = cq_bgemm_scratch_bytes(pl);
    char *scratch = cq__scratch(env, tbytes + sb + 64);
    cq_status st;
    if (!scratch) {
        st = cq_errf(err, CQ_ENOMEM, "%s '%s': no scratch", n->op_type, n->name);
    } else {
        float *t = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
        st = cq_bgemm_run(pl, a, acc ? t : y, NULL, (char *)t + tbytes, sb, err);
        if (st == CQ_OK && acc)
            for (int64_t i = 0; i < m * nn; i++)
                y[i] = alpha * t[i] + y[i];
    }
    if (!slot)
        cq_bgemm_plan_free(pl);
    return st;
}
