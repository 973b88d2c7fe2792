/* graph_readers.c - the readers window (graph.h, cq_graph_readers_begin):
 * who reads each value while a pass edits the graph, so that a pass asking
 * it once per value stays linear in the node count. Answers come from the
 * index built when the window opened (cq_graph_uses) and per-value lists of
 * the reads found since (nodes added, inputs the pass noted); each candidate
 * is checked against the graph as it is now, so an answer is the walk's
 * (cq_graph_consumers): live nodes, each once, ascending. Where the window
 * cannot answer (out of memory, a node added with a subgraph, nodes gone)
 * it says so and the walk answers. Node names are hashed in the same
 * window (cq_graph_find_node). */
#include "graph/graph.h"
#include "graph/graph_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct readers {
    int depth;          /* begins not yet ended */
    int broken;         /* the walk answers from now on */
    cq_graph_uses base; /* the readers when the window opened */
    int scanned;        /* nodes [0, scanned) are in the index or the lists */
    int *head;          /* per value: its first extra read, -1 */
    int cap_head;
    int *e_node, *e_next; /* extra reads: node, next of the same value */
    int n_e, cap_e;
    int *cand;          /* scratch: the candidates of one question */
    int cap_cand;
    int *mark;          /* scratch of cq__graph_node_reads */
    int mark_values;
    int *names;         /* node-name hash: node index + 1, 0 empty */
    size_t names_cap, names_used;
} readers;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int names_put(readers *r, const cq_graph *g, int i);

static int names_grow(readers *r, const cq_graph *g, size_t cap)
{
    int *old = r->names;
    size_t oc = r->names_cap;
    r->names = calloc(cap, sizeof *r->names);
    if (!r->names) {
        r->names = old;
        return -1;
    }
    r->names_cap = cap;
    r->names_used = 0;
    for (size_t k = 0; k < oc; k++)
        if (old[k])
            names_put(r, g, old[k] - 1);
    free(old);
    return 0;
}

static int names_put(readers *r, const cq_graph *g, int i)
{
    if ((r->names_used + 1) * 2 > r->names_cap &&
        names_grow(r, g, r->names_cap ? r->names_cap * 2 : 64))
        return -1;
    const char *name = g->nodes[i].name ? g->nodes[i].name : "";
    size_t m = r->names_cap - 1, k = (size_t)hash_str(name) & m;
    while (r->names[k])
        k = (k + 1) & m;
    r->names[k] = i + 1;
    r->names_used++;
    return 0;
}

static int push(readers *r, int v, int i)
{
    if (v < 0)
        return 0;
    if (v >= r->cap_head) {
        int cap = r->cap_head ? r->cap_head : 64;
        while (cap <= v)
            cap *= 2;
        int *h = realloc(r->head, (size_t)cap * sizeof *h);
        if (!h)
            return -1;
        for (int k = r->cap_head; k < cap; k++)
            h[k] = -1;
        r->head = h;
        r->cap_head = cap;
    }
    if (r->n_e == r->cap_e) {
        int cap = r->cap_e ? r->cap_e * 2 : 256;
        int *a = realloc(r->e_node, (size_t)cap * sizeof *a);
        if (a)
            r->e_node = a;
        int *b = a ? realloc(r->e_next, (size_t)cap * sizeof *b) : NULL;
        if (!b)
            return -1;
        r->e_next = b;
        r->cap_e = cap;
    }
    r->e_node[r->n_e] = i;
    r->e_next[r->n_e] = r->head[v];
    r->head[v] = r->n_e++;
    return 0;
}

/* The nodes added since the last question into the lists (and names). */
static void catch_up(readers *r, const cq_graph *g)
{
    if (g->n_nodes < r->scanned || g->n_values < r->base.n_values) {
        r->broken = 1;
        return;
    }
    for (; !r->broken && r->scanned < g->n_nodes; r->scanned++) {
        const cq_node *n = &g->nodes[r->scanned];
        if (cq__graph_has_subgraph(n) || names_put(r, g, r->scanned))
            r->broken = 1;
        for (int k = 0; !r->broken && k < n->n_inputs; k++)
            if (push(r, n->inputs[k], r->scanned))
                r->broken = 1;
    }
}

static void readers_free(readers *r)
{
    cq_graph_uses_free(&r->base);
    free(r->head);
    free(r->e_node);
    free(r->e_next);
    free(r->cand);
    free(r->mark);
    free(r->names);
    free(r);
}

cq_status cq_graph_readers_begin(cq_graph *g, cq_err *err)
{
    readers *r = g->readers;
    if (r) {
        r->depth++;
        return CQ_OK;
    }
    r = calloc(1, sizeof *r);
    if (!r)
        return cq_errf(err, CQ_ENOMEM, "out of memory indexing the readers of %d values",
                       g->n_values);
    cq_status st = cq_graph_uses_build(g, &r->base, err);
    if (st) {
        free(r);
        return st;
    }
    r->depth = 1;
    r->scanned = g->n_nodes;
    for (int i = 0; i < g->n_nodes; i++)
        if (names_put(r, g, i)) {
            readers_free(r);
            return cq_errf(err, CQ_ENOMEM, "out of memory indexing the names of %d nodes",
                           g->n_nodes);
        }
    g->readers = r;
    return CQ_OK;
}

void cq_graph_readers_note(cq_graph *g, int i, int v)
{
    readers *r = g->readers;
    if (r && !r->broken && i < r->scanned && push(r, v, i))
        r->broken = 1;
}

void cq_graph_readers_end(cq_graph *g)
{
    readers *r = g->readers;
    if (r && --r->depth <= 0)
        cq__graph_readers_drop(g);
}

void cq__graph_readers_drop(cq_graph *g)
{
    if (g && g->readers) {
        readers_free(g->readers);
        g->readers = NULL;
    }
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int cand_add(readers *r, int *n, int i)
{
    if (*n == r->cap_cand) {
        int cap = r->cap_cand ? r->cap_cand * 2 : 64;
        int *c = realloc(r->cand, (size_t)cap * sizeof *c);
        if (!c)
            return -1;
        r->cand = c;
        r->cap_cand = cap;
    }
    r->cand[(*n)++] = i;
    return 0;
}

int cq__graph_readers_consumers(const cq_graph *g, int v, int *out, int max, int *count)
{
    readers *r = g->readers; /* the window's own state, updated by a question */
    if (!r || r->broken || v < 0 || v >= g->n_values)
        return 0;
    catch_up(r, g);
    if (r->broken)
        return 0;
    int nc = 0;
    int nb = cq_graph_uses_count(&r->base, v);
    const int *b = nb > 0 ? cq_graph_uses_list(&r->base, v) : NULL;
    for (int k = 0; k < nb; k++)
        if (cand_add(r, &nc, b[k]))
            goto broken;
    for (int e = v < r->cap_head ? r->head[v] : -1; e >= 0; e = r->e_next[e])
        if (cand_add(r, &nc, r->e_node[e]))
            goto broken;
    if (nc > 1 && (nb < nc))
        qsort(r->cand, (size_t)nc, sizeof *r->cand, cmp_int);
    if (r->mark && r->mark_values < g->n_values) {
        free(r->mark);
        r->mark = NULL;
    }
    int n = 0;
    for (int k = 0; k < nc; k++) {
        int i = r->cand[k];
        if (k > 0 && i == r->cand[k - 1])
            continue;
        int reads = cq__graph_node_reads(g, i, v, &r->mark);
        r->mark_values = g->n_values;
        if (reads < 0)
            goto broken;
        if (reads) {
            if (out && n < max)
                out[n] = i;
            n++;
        }
    }
    *count = n;
    return 1;
broken:
    r->broken = 1;
    return 0;
}

int cq_graph_find_node(const cq_graph *g, const char *name)
{
    if (!g || !name)
        return -1;
    readers *r = g->readers;
    if (r && !r->broken) {
        catch_up(r, g);
        if (!r->broken && !r->names_cap)
            return -1;
        if (!r->broken) {
            size_t m = r->names_cap - 1, k = (size_t)hash_str(name) & m;
            for (; r->names[k]; k = (k + 1) & m) {
                int i = r->names[k] - 1;
                if (i < g->n_nodes && g->nodes[i].name && !strcmp(g->nodes[i].name, name))
                    return i;
            }
            return -1;
        }
    }
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].name && !strcmp(g->nodes[i].name, name))
            return i;
    return -1;
}
