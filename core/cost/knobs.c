/* knobs.c - the knob solvers of knobs.h: the greedy baseline and the exact
 * Pareto dynamic programme over the nodes' order with branch and bound. */
#include "cost/knobs.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NP CQ_KNOB_COUNT
/* Relative slack of the budget and bound tests: sums taken in another
 * order differ in the last bits. */
#define REL_EPS 1e-12
#define DEFAULT_MAX_LABELS 4000000
/* Frontier states are base-3 numbers in a uint64_t. */
#define MAX_WIDTH 40

static int allowed(const cq_knobs_problem *p, int i, int q)
{
    return isfinite(p->time[(size_t)i * NP + q]);
}

static double edge_cost(const cq_knobs_edge *e, int pf, int pt)
{
    return e->cost[pf][pt];
}

static const char *prec_name(int q)
{
    static const char *names[NP] = {"int8", "bf16", "fp32"};
    return names[q];
}

static cq_status check_problem(const cq_knobs_problem *p, cq_err *err)
{
    if (p->n < 0 || p->n_edges < 0 || (p->n > 0 && (!p->time || !p->noise)) ||
        (p->n_edges > 0 && !p->edges))
        return cq_errf(err, CQ_EINVAL, "knobs: malformed problem (n %d, %d edges)", p->n,
                       p->n_edges);
    if (!(p->budget >= 0))
        return cq_errf(err, CQ_EINVAL, "knobs: the budget must be >= 0, not %g", p->budget);
    for (int i = 0; i < p->n; i++) {
        int any = 0;
        for (int q = 0; q < NP; q++) {
            if (!allowed(p, i, q))
                continue;
            any = 1;
            double t = p->time[(size_t)i * NP + q], z = p->noise[(size_t)i * NP + q];
            if (t < 0 || !(z >= 0) || !isfinite(z))
                return cq_errf(err, CQ_EINVAL,
                               "knobs: node %d at %s: time %g and noise %g must be >= 0 and finite",
                               i, prec_name(q), t, z);
        }
        if (!any)
            return cq_errf(err, CQ_EINVAL, "knobs: node %d allows no precision", i);
    }
    for (int k = 0; k < p->n_edges; k++) {
        const cq_knobs_edge *e = &p->edges[k];
        if (e->from < 0 || e->from >= p->n || e->to < 0 || e->to >= p->n || e->from == e->to)
            return cq_errf(err, CQ_EINVAL, "knobs: edge %d (%d -> %d) names no pair of nodes", k,
                           e->from, e->to);
        for (int a = 0; a < NP; a++)
            for (int b = 0; b < NP; b++) {
                if (!allowed(p, e->from, a) || !allowed(p, e->to, b))
                    continue;
                double c = edge_cost(e, a, b);
                if (!(c >= 0) || !isfinite(c))
                    return cq_errf(err, CQ_EINVAL,
                                   "knobs: edge %d (%d -> %d) %s -> %s: cost %g must be >= 0 and "
                                   "finite", k, e->from, e->to, prec_name(a), prec_name(b), c);
            }
    }
    return CQ_OK;
}

double cq_knobs_eval(const cq_knobs_problem *p, const unsigned char *prec, double *noise)
{
    double t = 0, z = 0;
    for (int i = 0; i < p->n; i++) {
        if (prec[i] >= NP || !allowed(p, i, prec[i])) {
            t = INFINITY;
            continue;
        }
        t += p->time[(size_t)i * NP + prec[i]];
        z += p->noise[(size_t)i * NP + prec[i]];
    }
    for (int k = 0; k < p->n_edges; k++) {
        const cq_knobs_edge *e = &p->edges[k];
        if (prec[e->from] < NP && prec[e->to] < NP)
            t += edge_cost(e, prec[e->from], prec[e->to]);
    }
    if (noise)
        *noise = z;
    return t;
}

/* The least noise any choice reaches; CQ_EINVAL when it passes the budget. */
static cq_status check_feasible(const cq_knobs_problem *p, cq_err *err)
{
    double zmin = 0;
    for (int i = 0; i < p->n; i++) {
        double m = INFINITY;
        for (int q = 0; q < NP; q++)
            if (allowed(p, i, q) && p->noise[(size_t)i * NP + q] < m)
                m = p->noise[(size_t)i * NP + q];
        zmin += m;
    }
    if (zmin > p->budget * (1 + REL_EPS))
        return cq_errf(err, CQ_EINVAL,
                       "knobs: no choice meets the noise budget %g: the least noise is %g", p->budget,
                       zmin);
    return CQ_OK;
}

/* Edges incident to each node, as CSR: adj[off[i] .. off[i+1]) edge indices. */
static int build_adj(const cq_knobs_problem *p, int **off_out, int **adj_out)
{
    int *off = calloc((size_t)p->n + 1, sizeof *off);
    int *adj = malloc(((size_t)p->n_edges * 2 + 1) * sizeof *adj);
    int *fill = calloc((size_t)p->n + 1, sizeof *fill);
    if (!off || !adj || !fill) {
        free(off);
        free(adj);
        free(fill);
        return -1;
    }
    for (int k = 0; k < p->n_edges; k++) {
        off[p->edges[k].from + 1]++;
        off[p->edges[k].to + 1]++;
    }
    for (int i = 0; i < p->n; i++)
        off[i + 1] += off[i];
    for (int k = 0; k < p->n_edges; k++) {
        int a = p->edges[k].from, b = p->edges[k].to;
        adj[off[a] + fill[a]++] = k;
        adj[off[b] + fill[b]++] = k;
    }
    free(fill);
    *off_out = off;
    *adj_out = adj;
    return 0;
}

/* The change of the objective when node i moves from prec[i] to q. */
static double move_delta(const cq_knobs_problem *p, const int *off, const int *adj,
                         const unsigned char *prec, int i, int q)
{
    double d = p->time[(size_t)i * NP + q] - p->time[(size_t)i * NP + prec[i]];
    for (int k = off[i]; k < off[i + 1]; k++) {
        const cq_knobs_edge *e = &p->edges[adj[k]];
        if (e->from == i)
            d += edge_cost(e, q, prec[e->to]) - edge_cost(e, prec[i], prec[e->to]);
        else
            d += edge_cost(e, prec[e->from], q) - edge_cost(e, prec[e->from], prec[i]);
    }
    return d;
}

cq_status cq_knobs_greedy(const cq_knobs_problem *p, unsigned char *prec, cq_knobs_result *r,
                          cq_err *err)
{
    cq_status st = check_problem(p, err);
    if (st == CQ_OK)
        st = check_feasible(p, err);
    if (st != CQ_OK)
        return st;
    int *off, *adj;
    if (build_adj(p, &off, &adj))
        return cq_errf(err, CQ_ENOMEM, "knobs: out of memory");
    for (int i = 0; i < p->n; i++) {
        prec[i] = 0;
        while (!allowed(p, i, prec[i]))
            prec[i]++;
    }
    double z;
    cq_knobs_eval(p, prec, &z);
    while (z > p->budget * (1 + REL_EPS)) {
        int best = -1, best_q = 0;
        double best_score = 0, best_dz = 0;
        for (int i = 0; i < p->n; i++) {
            /* the next allowed precision up that removes noise */
            const double *zi = p->noise + (size_t)i * NP;
            int q = prec[i] + 1;
            while (q < NP && (!allowed(p, i, q) || !(zi[q] < zi[prec[i]])))
                q++;
            if (q >= NP)
                continue;
            double dz = zi[prec[i]] - zi[q];
            double dt = move_delta(p, off, adj, prec, i, q);
            /* noise removed per unit of added time; a move that adds no time wins */
            double score = dt <= 0 ? INFINITY : dz / dt;
            if (best < 0 || score > best_score || (score == best_score && dz > best_dz)) {
                best = i;
                best_q = q;
                best_score = score;
                best_dz = dz;
            }
        }
        if (best < 0)
            break; /* cannot happen after check_feasible; the test below says so */
        prec[best] = (unsigned char)best_q;
        cq_knobs_eval(p, prec, &z);
    }
    free(off);
    free(adj);
    if (z > p->budget * (1 + REL_EPS))
        return cq_errf(err, CQ_EINVAL, "knobs: greedy could not meet the budget %g (noise %g)",
                       p->budget, z);
    if (r) {
        memset(r, 0, sizeof *r);
        r->time = cq_knobs_eval(p, prec, &r->noise);
    }
    return CQ_OK;
}

/* ---- the exact solver ---- */

/* A partial solution: the frontier's precisions (key, base 3), the time and
 * noise so far, and where it came from (parent: index among the previous
 * step's labels; p: the precision of this step's node). */
typedef struct label {
    uint64_t key;
    double t, z;
    int32_t parent;
    uint8_t p;
} label;

typedef struct trace {
    int32_t parent;
    uint8_t p;
} trace;

static int cmp_label(const void *a, const void *b)
{
    const label *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    if (x->z != y->z)
        return x->z < y->z ? -1 : 1;
    return 0;
}

static int cmp_time(const void *a, const void *b)
{
    const label *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    if (x->z != y->z)
        return x->z < y->z ? -1 : 1;
    return x->key < y->key ? -1 : x->key > y->key;
}

typedef struct dp {
    const cq_knobs_problem *p;
    int *off, *adj;
    int *last;      /* last[i]: the latest node in the order that shares an edge with i */
    int *fstart;    /* frontier after step k: front[fstart[k] .. fstart[k+1]) */
    int *front;
    double *trest;  /* trest[k]: the least time nodes k.. take alone */
    double *zrest;  /* zrest[k]: the least noise they add */
    double *slack;  /* slack[k]: how much the frontier after step k can change what its
                       edges to later nodes cost (the sum of their max - min) */
    uint64_t pow3[MAX_WIDTH + 1];
    trace **tr;     /* per step, its labels' traces */
    int width;
} dp;

static void dp_free(dp *d)
{
    if (d->tr)
        for (int k = 0; k < d->p->n; k++)
            free(d->tr[k]);
    free(d->tr);
    free(d->off);
    free(d->adj);
    free(d->last);
    free(d->fstart);
    free(d->front);
    free(d->trest);
    free(d->zrest);
    free(d->slack);
}

/* The frontiers of the order 0..n-1 and the bounds of the rest. */
static int dp_init(dp *d, const cq_knobs_problem *p)
{
    memset(d, 0, sizeof *d);
    d->p = p;
    int n = p->n;
    if (build_adj(p, &d->off, &d->adj))
        return -1;
    d->last = malloc((size_t)n * sizeof *d->last);
    d->fstart = calloc((size_t)n + 1, sizeof *d->fstart);
    d->trest = calloc((size_t)n + 1, sizeof *d->trest);
    d->zrest = calloc((size_t)n + 1, sizeof *d->zrest);
    d->slack = calloc((size_t)n + 1, sizeof *d->slack);
    d->tr = calloc((size_t)n, sizeof *d->tr);
    if (!d->last || !d->fstart || !d->trest || !d->zrest || !d->slack || !d->tr)
        return -1;
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        d->last[i] = i;
        for (int k = d->off[i]; k < d->off[i + 1]; k++) {
            const cq_knobs_edge *e = &p->edges[d->adj[k]];
            int j = e->from == i ? e->to : e->from;
            if (j > d->last[i])
                d->last[i] = j;
        }
    }
    /* frontier after step k: the nodes j <= k with last[j] > k */
    for (int k = 0; k < n; k++)
        for (int j = 0; j <= k; j++)
            total += d->last[j] > k;
    d->front = malloc(((size_t)total + 1) * sizeof *d->front);
    if (!d->front)
        return -1;
    int at = 0;
    for (int k = 0; k < n; k++) {
        d->fstart[k] = at;
        for (int j = 0; j <= k; j++)
            if (d->last[j] > k)
                d->front[at++] = j;
        if (at - d->fstart[k] > d->width)
            d->width = at - d->fstart[k];
    }
    d->fstart[n] = at;
    for (int k = n - 1; k >= 0; k--) {
        double tm = INFINITY, zm = INFINITY;
        for (int q = 0; q < NP; q++)
            if (allowed(p, k, q)) {
                if (p->time[(size_t)k * NP + q] < tm)
                    tm = p->time[(size_t)k * NP + q];
                if (p->noise[(size_t)k * NP + q] < zm)
                    zm = p->noise[(size_t)k * NP + q];
            }
        d->trest[k] = d->trest[k + 1] + tm;
        d->zrest[k] = d->zrest[k + 1] + zm;
    }
    for (int e = 0; e < p->n_edges; e++) {
        const cq_knobs_edge *ed = &p->edges[e];
        double lo = INFINITY, hi = 0;
        for (int a = 0; a < NP; a++)
            for (int b = 0; b < NP; b++)
                if (allowed(p, ed->from, a) && allowed(p, ed->to, b)) {
                    lo = fmin(lo, edge_cost(ed, a, b));
                    hi = fmax(hi, edge_cost(ed, a, b));
                }
        int first = ed->from < ed->to ? ed->from : ed->to;
        int second = ed->from < ed->to ? ed->to : ed->from;
        for (int k = first; k < second; k++)
            d->slack[k] += hi - lo;
    }
    d->pow3[0] = 1;
    for (int w = 1; w <= MAX_WIDTH; w++)
        d->pow3[w] = d->pow3[w - 1] * 3;
    return 0;
}

/* The frontier F_{k-1} position of node j (which must be in it). */
static int front_pos(const dp *d, int k, int j)
{
    if (k == 0)
        return -1;
    for (int q = d->fstart[k - 1]; q < d->fstart[k]; q++)
        if (d->front[q] == j)
            return q - d->fstart[k - 1];
    return -1;
}

/* One step: node k added to every label of cur (n_cur of them, keyed over
 * F_{k-1}); the surviving labels into *next (malloc'd), their count back;
 * -1 out of memory, -2 over the label limit. */
static int64_t dp_step(dp *d, int k, const label *cur, int64_t n_cur, double incumbent,
                       int64_t room, label **next)
{
    const cq_knobs_problem *p = d->p;
    int nb = d->off[k + 1] - d->off[k];
    int *npos = malloc(((size_t)nb + 1) * sizeof *npos);
    int nf = d->fstart[k + 1] - d->fstart[k];
    int *fsrc = malloc(((size_t)nf + 1) * sizeof *fsrc); /* F_k's nodes in F_{k-1}; -1: k */
    label *cand = malloc(((size_t)n_cur * NP + 1) * sizeof *cand);
    if (!npos || !fsrc || !cand) {
        free(npos);
        free(fsrc);
        free(cand);
        return -1;
    }
    /* the edges charged now: to nodes before k (all in F_{k-1}) */
    for (int a = 0; a < nb; a++) {
        const cq_knobs_edge *e = &p->edges[d->adj[d->off[k] + a]];
        int j = e->from == k ? e->to : e->from;
        npos[a] = j < k ? front_pos(d, k, j) : -1;
    }
    for (int q = 0; q < nf; q++) {
        int j = d->front[d->fstart[k] + q];
        fsrc[q] = j == k ? -1 : front_pos(d, k, j);
    }
    double tlim = incumbent * (1 + REL_EPS), zlim = p->budget * (1 + REL_EPS);
    int64_t nc = 0;
    for (int64_t l = 0; l < n_cur; l++) {
        const label *c = &cur[l];
        for (int q = 0; q < NP; q++) {
            if (!allowed(p, k, q))
                continue;
            double z = c->z + p->noise[(size_t)k * NP + q];
            if (z + d->zrest[k + 1] > zlim)
                continue;
            double t = c->t + p->time[(size_t)k * NP + q];
            for (int a = 0; a < nb; a++) {
                if (npos[a] < 0)
                    continue;
                const cq_knobs_edge *e = &p->edges[d->adj[d->off[k] + a]];
                int pj = (int)(c->key / d->pow3[npos[a]] % 3);
                t += e->from == k ? edge_cost(e, q, pj) : edge_cost(e, pj, q);
            }
            if (t + d->trest[k + 1] > tlim)
                continue;
            uint64_t key = 0;
            for (int f = 0; f < nf; f++) {
                uint64_t dig = fsrc[f] < 0 ? (uint64_t)q : c->key / d->pow3[fsrc[f]] % 3;
                key += dig * d->pow3[f];
            }
            cand[nc++] = (label){.key = key, .t = t, .z = z, .parent = (int32_t)l, .p = (uint8_t)q};
        }
    }
    free(npos);
    free(fsrc);
    /* per key, the Pareto set: by time, each kept label strictly less noisy */
    qsort(cand, (size_t)nc, sizeof *cand, cmp_label);
    int64_t kept = 0;
    for (int64_t a = 0; a < nc;) {
        int64_t b = a;
        double zbest = INFINITY;
        for (; b < nc && cand[b].key == cand[a].key; b++)
            if (cand[b].z < zbest) {
                zbest = cand[b].z;
                cand[kept++] = cand[b];
            }
        a = b;
    }
    /* across keys: a label whose time plus what its frontier can save later
     * still beats another's time, at no more noise, dominates it whatever the
     * frontiers (labels by time: the least noise of those far enough ahead) */
    if (kept > 1 && d->slack[k] < INFINITY) {
        label *byt = malloc((size_t)kept * sizeof *byt);
        if (!byt) {
            free(cand);
            return -1;
        }
        memcpy(byt, cand, (size_t)kept * sizeof *byt);
        qsort(byt, (size_t)kept, sizeof *byt, cmp_time);
        int64_t a = 0, out = 0;
        double zmin = INFINITY, s = d->slack[k];
        for (int64_t b = 0; b < kept; b++) {
            for (; a < b && byt[a].t + s < byt[b].t; a++)
                zmin = fmin(zmin, byt[a].z);
            if (!(zmin <= byt[b].z))
                cand[out++] = byt[b];
        }
        free(byt);
        kept = out;
    }
    if (kept > room) {
        free(cand);
        return -2;
    }
    *next = cand;
    return kept;
}

cq_status cq_knobs_solve(const cq_knobs_problem *p, unsigned char *prec, cq_knobs_result *r,
                         cq_err *err)
{
    cq_knobs_result g;
    cq_status st = cq_knobs_greedy(p, prec, &g, err);
    if (st != CQ_OK)
        return st;
    g.exact = 0;
    dp d;
    if (dp_init(&d, p)) {
        dp_free(&d);
        return cq_errf(err, CQ_ENOMEM, "knobs: out of memory");
    }
    g.width = d.width;
    if (p->n == 0 || d.width > MAX_WIDTH) {
        g.exact = p->n == 0;
        dp_free(&d);
        if (r)
            *r = g;
        return CQ_OK;
    }
    int64_t room = p->max_labels > 0 ? p->max_labels : DEFAULT_MAX_LABELS;
    label *cur = malloc(sizeof *cur);
    if (!cur) {
        dp_free(&d);
        return cq_errf(err, CQ_ENOMEM, "knobs: out of memory");
    }
    cur[0] = (label){.key = 0, .t = 0, .z = 0, .parent = -1, .p = 0};
    int64_t n_cur = 1, made = 0;
    int k = 0;
    for (; k < p->n; k++) {
        label *next = NULL;
        int64_t nn = dp_step(&d, k, cur, n_cur, g.time, room - made, &next);
        free(cur);
        cur = NULL;
        if (nn == -1) {
            dp_free(&d);
            return cq_errf(err, CQ_ENOMEM, "knobs: out of memory");
        }
        if (nn == -2)
            break; /* over the limit: the greedy result stands, not proven */
        d.tr[k] = malloc(((size_t)nn + 1) * sizeof *d.tr[k]);
        if (!d.tr[k]) {
            free(next);
            dp_free(&d);
            return cq_errf(err, CQ_ENOMEM, "knobs: out of memory");
        }
        for (int64_t l = 0; l < nn; l++)
            d.tr[k][l] = (trace){.parent = next[l].parent, .p = next[l].p};
        made += nn;
        cur = next;
        n_cur = nn;
    }
    cq_knobs_result res = g;
    res.labels = made;
    if (k == p->n) {
        res.exact = 1;
        /* the frontier is empty at the end: one key, labels by time */
        if (n_cur > 0 && cur[0].t < g.time) {
            int32_t l = 0;
            for (int s = p->n - 1; s >= 0; s--) {
                prec[s] = d.tr[s][l].p;
                l = d.tr[s][l].parent;
            }
            res.time = cq_knobs_eval(p, prec, &res.noise);
        }
    }
    free(cur);
    dp_free(&d);
    if (r)
        *r = res;
    return CQ_OK;
}
