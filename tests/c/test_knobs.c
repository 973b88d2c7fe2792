/* test_knobs.c - the knob solvers (cost/knobs.h): the exact solver against
 * brute force on small random graphs (each node's precision tried in every
 * combination), the greedy baseline feasible and never better than it, islands
 * that do not pay their conversions refused, bad problems and unmeetable
 * budgets named, the label limit falling back to the greedy result. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/rng.h"
#include "cost/knobs.h"

#define MAXN 64
#define MAXE 160

typedef struct rproblem {
    double time[MAXN * 3], noise[MAXN * 3];
    cq_knobs_edge edges[MAXE];
    cq_knobs_problem p;
} rproblem;

static double unif(cq_rng *r)
{
    return (double)(cq_rng_next(r) >> 11) / 9007199254740992.0;
}

/* A random DAG in topological order: each node reads one or two earlier
 * nodes (a chain with skips and branches, as a CNN's blocks), int8 mostly
 * cheapest and noisiest, some precisions not allowed, conversions on edges
 * whose ends differ. shuffle: the nodes renumbered at random (not a
 * topological order: the solver must not depend on one). */
static void random_problem(cq_rng *r, rproblem *rp, int n, int shuffle)
{
    memset(rp, 0, sizeof *rp);
    int perm[MAXN];
    for (int i = 0; i < n; i++)
        perm[i] = i;
    if (shuffle)
        for (int i = n - 1; i > 0; i--) {
            int j = (int)cq_rng_below(r, (uint64_t)i + 1), s = perm[i];
            perm[i] = perm[j];
            perm[j] = s;
        }
    for (int i = 0; i < n; i++) {
        double *t = rp->time + perm[i] * 3, *z = rp->noise + perm[i] * 3;
        double base = 0.2 + 2 * unif(r);
        t[CQ_KNOB_FP32] = base;
        t[CQ_KNOB_BF16] = base * (0.3 + 0.9 * unif(r)); /* sometimes slower than fp32 */
        t[CQ_KNOB_INT8] = base * (0.1 + 0.5 * unif(r));
        z[CQ_KNOB_FP32] = 0;
        z[CQ_KNOB_BF16] = 1e-5 * unif(r);
        z[CQ_KNOB_INT8] = 1e-3 * pow(10, 2 * unif(r));
        uint64_t u = cq_rng_below(r, 6);
        if (u == 0)
            t[CQ_KNOB_BF16] = INFINITY; /* a depthwise conv: no bf16 kernel */
        else if (u == 1)
            t[CQ_KNOB_INT8] = t[CQ_KNOB_BF16] = INFINITY; /* a float op */
    }
    int ne = 0;
    for (int i = 1; i < n && ne < MAXE; i++) {
        int reads = 1 + (cq_rng_below(r, 4) == 0);
        for (int k = 0; k < reads && ne < MAXE; k++) {
            int j = k == 0 ? i - 1 : (int)cq_rng_below(r, (uint64_t)i);
            if (k == 0 && i >= 3 && cq_rng_below(r, 5) == 0)
                j = i - 3; /* a skip */
            cq_knobs_edge *e = &rp->edges[ne++];
            e->from = perm[j];
            e->to = perm[i];
            double elems = 0.02 + 0.3 * unif(r);
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < 3; b++)
                    e->cost[a][b] = a == b ? 0 : elems * (a == CQ_KNOB_INT8 || b == CQ_KNOB_INT8 ? 1 : 0.5);
        }
    }
    rp->p = (cq_knobs_problem){.n = n, .time = rp->time, .noise = rp->noise, .n_edges = ne,
                               .edges = rp->edges};
}

/* The least noise and the noise of the cheapest-per-node choice: budgets
 * between them bind. */
static void noise_range(const rproblem *rp, double *lo, double *hi)
{
    *lo = *hi = 0;
    for (int i = 0; i < rp->p.n; i++) {
        double m = INFINITY, mx = 0;
        for (int q = 0; q < 3; q++)
            if (isfinite(rp->time[i * 3 + q])) {
                if (rp->noise[i * 3 + q] < m)
                    m = rp->noise[i * 3 + q];
                if (rp->noise[i * 3 + q] > mx)
                    mx = rp->noise[i * 3 + q];
            }
        *lo += m;
        *hi += mx;
    }
}

/* Every choice: the least time meeting the budget (INFINITY if none). */
static double brute_force(const cq_knobs_problem *p, unsigned char *best)
{
    unsigned char c[MAXN] = {0};
    double bt = INFINITY;
    for (;;) {
        double z, t = cq_knobs_eval(p, c, &z);
        if (isfinite(t) && z <= p->budget * (1 + 1e-12) && t < bt) {
            bt = t;
            memcpy(best, c, (size_t)p->n);
        }
        int i = 0;
        while (i < p->n && ++c[i] == 3)
            c[i++] = 0;
        if (i == p->n)
            break;
    }
    return bt;
}

static void test_knobs_exact_matches_brute_force(void **state)
{
    (void)state;
    cq_rng r;
    cq_rng_seed(&r, 15);
    rproblem rp;
    int greedy_worse = 0, trials = 0;
    for (int trial = 0; trial < 400; trial++) {
        int n = 2 + (int)cq_rng_below(&r, 8); /* up to 9 nodes: 19,683 choices */
        random_problem(&r, &rp, n, trial % 3 == 0);
        double lo, hi;
        noise_range(&rp, &lo, &hi);
        rp.p.budget = lo + (hi - lo) * unif(&r) * 0.6;
        unsigned char bf[MAXN], ex[MAXN], gr[MAXN];
        double want = brute_force(&rp.p, bf);
        assert_true(isfinite(want));
        cq_err err;
        cq_knobs_result re, rg;
        assert_int_equal(cq_knobs_solve(&rp.p, ex, &re, &err), CQ_OK);
        assert_int_equal(cq_knobs_greedy(&rp.p, gr, &rg, &err), CQ_OK);
        assert_int_equal(re.exact, 1);
        assert_int_equal(rg.exact, 0);
        double z;
        double t = cq_knobs_eval(&rp.p, ex, &z);
        assert_true(fabs(t - want) <= 1e-9 * want);
        assert_true(fabs(re.time - t) <= 1e-12 * t);
        assert_true(z <= rp.p.budget * (1 + 1e-12));
        double tg = cq_knobs_eval(&rp.p, gr, &z);
        assert_true(z <= rp.p.budget * (1 + 1e-12));
        assert_true(tg >= want * (1 - 1e-12));
        greedy_worse += tg > want * (1 + 1e-9);
        trials++;
    }
    /* the exact solver is tested on cases where the baseline misses */
    assert_true(greedy_worse > trials / 20);
}

/* A chain fp32 -> x -> fp32 where x is faster in int8 by less than the
 * quantize and dequantize around it cost: x stays fp32, though int8 fits
 * the budget. */
static void test_knobs_islands_pay_their_conversions(void **state)
{
    (void)state;
    double t[9] = {INFINITY, INFINITY, 1, 0.8, INFINITY, 1.0, INFINITY, INFINITY, 1};
    double z[9] = {0};
    z[3] = 1e-3;
    cq_knobs_edge e[2] = {{.from = 0, .to = 1}, {.from = 1, .to = 2}};
    for (int k = 0; k < 2; k++)
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++)
                e[k].cost[a][b] = a == b ? 0 : 0.15;
    cq_knobs_problem p = {.n = 3, .time = t, .noise = z, .n_edges = 2, .edges = e, .budget = 1};
    unsigned char prec[3];
    cq_knobs_result r;
    cq_err err;
    assert_int_equal(cq_knobs_solve(&p, prec, &r, &err), CQ_OK);
    assert_int_equal(prec[1], CQ_KNOB_FP32);
    assert_true(fabs(r.time - 3.0) < 1e-12);
    /* cheaper conversions: the island pays (0.8 + 2 x 0.05 < 1) */
    for (int k = 0; k < 2; k++)
        e[k].cost[CQ_KNOB_FP32][CQ_KNOB_INT8] = e[k].cost[CQ_KNOB_INT8][CQ_KNOB_FP32] = 0.05;
    assert_int_equal(cq_knobs_solve(&p, prec, &r, &err), CQ_OK);
    assert_int_equal(prec[1], CQ_KNOB_INT8);
    assert_true(fabs(r.time - 2.9) < 1e-12);
}

/* Wider graphs than brute force reaches: the exact result is feasible, never
 * slower than the greedy one, and proven. */
static void test_knobs_exact_beats_greedy_on_larger_graphs(void **state)
{
    (void)state;
    cq_rng r;
    cq_rng_seed(&r, 16);
    rproblem rp;
    for (int trial = 0; trial < 20; trial++) {
        random_problem(&r, &rp, 60, 0);
        double lo, hi;
        noise_range(&rp, &lo, &hi);
        rp.p.budget = lo + (hi - lo) * 0.1;
        unsigned char ex[MAXN], gr[MAXN];
        cq_knobs_result re, rg;
        cq_err err;
        assert_int_equal(cq_knobs_solve(&rp.p, ex, &re, &err), CQ_OK);
        assert_int_equal(cq_knobs_greedy(&rp.p, gr, &rg, &err), CQ_OK);
        assert_int_equal(re.exact, 1);
        assert_true(re.noise <= rp.p.budget * (1 + 1e-12));
        assert_true(re.time <= rg.time * (1 + 1e-12));
        assert_true(re.width >= 1);
    }
}

static void test_knobs_label_limit_keeps_the_greedy_result(void **state)
{
    (void)state;
    cq_rng r;
    cq_rng_seed(&r, 17);
    rproblem rp;
    random_problem(&r, &rp, 40, 0);
    double lo, hi;
    noise_range(&rp, &lo, &hi);
    rp.p.budget = lo + (hi - lo) * 0.2;
    rp.p.max_labels = 5;
    unsigned char ex[MAXN], gr[MAXN];
    cq_knobs_result re, rg;
    cq_err err;
    assert_int_equal(cq_knobs_solve(&rp.p, ex, &re, &err), CQ_OK);
    assert_int_equal(cq_knobs_greedy(&rp.p, gr, &rg, &err), CQ_OK);
    assert_int_equal(re.exact, 0);
    assert_memory_equal(ex, gr, 40);
    assert_true(re.time == rg.time);
}

static void test_knobs_bad_problems_are_named(void **state)
{
    (void)state;
    double t[6] = {1, 2, 3, INFINITY, INFINITY, INFINITY};
    double z[6] = {1e-2, 1e-4, 0, 0, 0, 0};
    cq_knobs_edge e = {.from = 0, .to = 1};
    cq_knobs_problem p = {.n = 2, .time = t, .noise = z, .n_edges = 1, .edges = &e, .budget = 1};
    unsigned char prec[2];
    cq_err err;
    assert_int_equal(cq_knobs_solve(&p, prec, NULL, &err), CQ_EINVAL);
    assert_string_equal(err.msg, "knobs: node 1 allows no precision");
    t[5] = 1;
    e.to = 7;
    assert_int_equal(cq_knobs_greedy(&p, prec, NULL, &err), CQ_EINVAL);
    assert_string_equal(err.msg, "knobs: edge 0 (0 -> 7) names no pair of nodes");
    e.to = 1;
    e.cost[0][2] = -1;
    assert_int_equal(cq_knobs_solve(&p, prec, NULL, &err), CQ_EINVAL);
    assert_string_equal(err.msg, "knobs: edge 0 (0 -> 1) int8 -> fp32: cost -1 must be >= 0 and finite");
    e.cost[0][2] = 0;
    z[0] = -1;
    assert_int_equal(cq_knobs_solve(&p, prec, NULL, &err), CQ_EINVAL);
    assert_string_equal(err.msg, "knobs: node 0 at int8: time 1 and noise -1 must be >= 0 and finite");
    z[0] = 1e-2;
    z[2] = 1e-3; /* fp32 of node 0 noisy too: the least noise is 1e-4 */
    p.budget = 1e-5;
    assert_int_equal(cq_knobs_solve(&p, prec, NULL, &err), CQ_EINVAL);
    assert_string_equal(err.msg, "knobs: no choice meets the noise budget 1e-05: the least noise is 0.0001");
    p.budget = NAN;
    assert_int_equal(cq_knobs_solve(&p, prec, NULL, &err), CQ_EINVAL);
    /* a budget of 0 with a noiseless choice: fp32 where int8 is noisy */
    z[2] = 0;
    p.budget = 0;
    cq_knobs_result r;
    assert_int_equal(cq_knobs_solve(&p, prec, &r, &err), CQ_OK);
    assert_int_equal(prec[0], CQ_KNOB_FP32);
    assert_int_equal(prec[1], CQ_KNOB_FP32);
    assert_true(r.noise == 0);
}

/* The greedy order: the node removing the most noise per unit of time goes
 * up first. Two int8 nodes, a budget one move meets: raising node 1 costs 1
 * for 0.01 of noise, node 0 costs 0.1 for 0.009; node 0 goes up. */
static void test_knobs_greedy_raises_best_ratio_first(void **state)
{
    (void)state;
    double t[6] = {1, INFINITY, 1.1, 1, INFINITY, 2};
    double z[6] = {0.009, 0, 0, 0.01, 0, 0};
    cq_knobs_problem p = {.n = 2, .time = t, .noise = z, .budget = 0.0105};
    unsigned char prec[2];
    cq_knobs_result r;
    cq_err err;
    assert_int_equal(cq_knobs_greedy(&p, prec, &r, &err), CQ_OK);
    assert_int_equal(prec[0], CQ_KNOB_FP32);
    assert_int_equal(prec[1], CQ_KNOB_INT8);
    assert_true(fabs(r.time - 2.1) < 1e-12);
    assert_true(fabs(r.noise - 0.01) < 1e-15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_knobs_exact_matches_brute_force),
        cmocka_unit_test(test_knobs_islands_pay_their_conversions),
        cmocka_unit_test(test_knobs_exact_beats_greedy_on_larger_graphs),
        cmocka_unit_test(test_knobs_label_limit_keeps_the_greedy_result),
        cmocka_unit_test(test_knobs_bad_problems_are_named),
        cmocka_unit_test(test_knobs_greedy_raises_best_ratio_first),
    };
    return cmocka_run_group_tests_name("knobs", tests, NULL, NULL);
}
