/* graph_sort.c - topological order, compaction and consumers (see graph.h).
 *
 * Nodes holding subgraphs (If, Loop, Scan) read values of the outer graph by
 * name from inside the subgraph, without listing them as inputs. Those
 * implicit reads count here like inputs: they order the node after the
 * producer, keep the value alive through compaction, and make the node a
 * consumer. */
#include "graph/graph.h"
#include "graph/graph_internal.h"

#include <stdlib.h>
#include <string.h>

static int has_subgraph(const cq_node *n)
{
    for (int k = 0; k < n->n_attrs; k++)
        if (n->attrs[k].g)
            return 1;
    return 0;
}

/* Values of g a node marks: mark[v] = tag, and v appended to list (when
 * list is not NULL; it has room for every value, each is listed once). */
typedef struct marker {
    int *mark, tag;
    int *list, n;
} marker;

static void mark_one(marker *m, int v)
{
    if (m->mark[v] == m->tag)
        return;
    m->mark[v] = m->tag;
    if (m->list)
        m->list[m->n++] = v;
}

/* Mark each value of g that nodes inside the subgraphs of node n (at any
 * depth) read without the subgraph defining it. A work list instead of
 * recursion: the C stack does not grow with the nesting. ENOMEM -> -1. */
static int mark_outer_reads(const cq_graph *g, const cq_node *n, marker *m)
{
    int cap = 8, top = 0;
    const cq_graph **todo = malloc((size_t)cap * sizeof *todo);
    if (!todo)
        return -1;
    for (int k = 0; k < n->n_attrs; k++)
        if (n->attrs[k].g)
            todo[top++] = n->attrs[k].g;
    while (top > 0) {
        const cq_graph *sub = todo[--top];
        for (int i = 0; i < sub->n_nodes; i++) {
            const cq_node *sn = &sub->nodes[i];
            for (int k = 0; k < sn->n_inputs; k++) {
                if (sn->inputs[k] < 0)
                    continue;
                const cq_value *sv = &sub->values[sn->inputs[k]];
                if (sv->producer >= 0 || sv->is_input || sv->is_initializer || sv->data)
                    continue;
                int o = cq_graph_find(g, sv->name);
                if (o >= 0)
                    mark_one(m, o);
            }
            for (int k = 0; k < sn->n_attrs; k++) {
                if (!sn->attrs[k].g)
                    continue;
                if (top == cap) {
                    const cq_graph **t = realloc(todo, (size_t)cap * 2 * sizeof *t);
                    if (!t) {
                        free(todo);
                        return -1;
                    }
                    todo = t;
                    cap *= 2;
                }
                todo[top++] = sn->attrs[k].g;
            }
        }
    }
    free(todo);
    return 0;
}

static int mark_node_reads(const cq_graph *g, const cq_node *n, marker *m)
{
    for (int k = 0; k < n->n_inputs; k++)
        if (n->inputs[k] >= 0)
            mark_one(m, n->inputs[k]);
    return has_subgraph(n) ? mark_outer_reads(g, n, m) : 0;
}

static int value_provided(const cq_graph *g, int v)
{
    const cq_value *val = &g->values[v];
    return val->producer >= 0 || val->is_input || val->is_initializer || val->data;
}

/* Min-heap of node indices, so the order is stable for a sorted graph. */
static void heap_push(int *h, int *n, int x)
{
    int i = (*n)++;
    while (i > 0 && h[(i - 1) / 2] > x) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = x;
}

static int heap_pop(int *h, int *n)
{
    int top = h[0], x = h[--(*n)], i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= *n)
            break;
        if (c + 1 < *n && h[c + 1] < h[c])
            c++;
        if (h[c] >= x)
            break;
        h[i] = h[c];
        i = c;
    }
    if (*n > 0)
        h[i] = x;
    return top;
}

static cq_status set_producers(cq_graph *g, cq_err *err)
{
    for (int v = 0; v < g->n_values; v++)
        g->values[v].producer = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        const cq_node *n = &g->nodes[i];
        if (n->dead)
            continue;
        for (int k = 0; k < n->n_outputs; k++) {
            int v = n->outputs[k];
            if (v < 0)
                continue;
            if (g->values[v].producer >= 0)
                return cq_errf(err, CQ_EFORMAT, "value '%s' is produced by two nodes, '%s' and '%s'",
                               g->values[v].name, g->nodes[g->values[v].producer].name, n->name);
            /* a value is assigned once: a run would overwrite (and keep) the
             * caller's input tensor or the initializer's */
            if (g->values[v].is_input || g->values[v].is_initializer)
                return cq_errf(err, CQ_EFORMAT, "value '%s' is a graph %s and an output of node '%s'",
                               g->values[v].name,
                               g->values[v].is_input ? "input" : "initializer", n->name);
            g->values[v].producer = i;
        }
    }
    return CQ_OK;
}

/* Per live node, the values it reads (inputs and implicit subgraph reads,
 * each once) as a CSR list dstart/dval. Linear in nodes + values. */
static cq_status build_deps(const cq_graph *g, int **dstart, int **dval, cq_err *err)
{
    int nn = g->n_nodes, nv = g->n_values;
    int *mark = malloc(((size_t)nv + 1) * sizeof *mark);
    int *seen = malloc(((size_t)nv + 1) * sizeof *seen);
    int *start = calloc((size_t)nn + 1, sizeof *start);
    int *vals = NULL;
    if (!mark || !seen || !start)
        goto nomem;
    for (int pass = 0; pass < 2; pass++) {
        int total = 0;
        for (int v = 0; v < nv; v++)
            mark[v] = -1;
        for (int i = 0; i < nn; i++) {
            const cq_node *n = &g->nodes[i];
            if (pass == 1)
                start[i] = total;
            if (n->dead)
                continue;
            marker m = {mark, i, seen, 0};
            if (mark_node_reads(g, n, &m))
                goto nomem;
            if (pass == 1)
                memcpy(vals + total, seen, (size_t)m.n * sizeof *vals);
            total += m.n;
        }
        if (pass == 0) {
            vals = malloc(((size_t)total + 1) * sizeof *vals);
            if (!vals)
                goto nomem;
        } else {
            start[nn] = total;
        }
    }
    free(mark);
    free(seen);
    *dstart = start;
    *dval = vals;
    return CQ_OK;
nomem:
    free(mark);
    free(seen);
    free(start);
    free(vals);
    return cq_errf(err, CQ_ENOMEM, "out of memory sorting %d nodes", nn);
}

cq_status cq_graph_toposort(cq_graph *g, cq_err *err)
{
    cq__graph_readers_drop(g); /* nodes are renumbered */
    int nn = g->n_nodes, nv = g->n_values;
    cq_status st = set_producers(g, err);
    if (st != CQ_OK)
        return st;
    for (int i = 0; i < nn; i++) {
        const cq_node *n = &g->nodes[i];
        if (n->dead)
            continue;
        for (int k = 0; k < n->n_inputs; k++) {
            int v = n->inputs[k];
            if (v >= 0 && !value_provided(g, v))
                return cq_errf(err, CQ_EFORMAT,
                               "node '%s' (%s): input '%s' is not produced by any node, "
                               "initializer or graph input",
                               n->name, n->op_type, g->values[v].name);
        }
    }
    int *dstart = NULL, *dval = NULL;
    if ((st = build_deps(g, &dstart, &dval, err)) != CQ_OK)
        return st;
    /* Kahn's algorithm over edges producer -> reader. */
    int total = dstart[nn];
    int *indeg = calloc((size_t)nn + 1, sizeof *indeg);
    int *cstart = calloc((size_t)nv + 1, sizeof *cstart);
    int *fill = calloc((size_t)nv + 1, sizeof *fill);
    int *cons = malloc(((size_t)total + 1) * sizeof *cons);
    int *order = malloc(((size_t)nn + 1) * sizeof *order);
    int *heap = malloc(((size_t)nn + 1) * sizeof *heap);
    cq_node *sorted = malloc(((size_t)nn + 1) * sizeof *sorted);
    if (!indeg || !cstart || !fill || !cons || !order || !heap || !sorted) {
        st = cq_errf(err, CQ_ENOMEM, "out of memory sorting %d nodes", nn);
        goto out;
    }
    for (int i = 0; i < nn; i++)
        for (int d = dstart[i]; d < dstart[i + 1]; d++)
            if (g->values[dval[d]].producer >= 0) {
                cstart[dval[d] + 1]++;
                indeg[i]++;
            }
    for (int v = 0; v < nv; v++)
        cstart[v + 1] += cstart[v];
    for (int i = 0; i < nn; i++)
        for (int d = dstart[i]; d < dstart[i + 1]; d++) {
            int v = dval[d];
            if (g->values[v].producer >= 0)
                cons[cstart[v] + fill[v]++] = i;
        }
    int hn = 0, no = 0, live = 0;
    for (int i = 0; i < nn; i++)
        if (!g->nodes[i].dead) {
            live++;
            if (indeg[i] == 0)
                heap_push(heap, &hn, i);
        }
    while (hn > 0) {
        int i = heap_pop(heap, &hn);
        order[no++] = i;
        const cq_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_outputs; k++) {
            int v = n->outputs[k];
            if (v < 0)
                continue;
            for (int c = cstart[v]; c < cstart[v + 1]; c++)
                if (--indeg[cons[c]] == 0)
                    heap_push(heap, &hn, cons[c]);
        }
    }
    if (no < live) {
        for (int i = 0; i < nn; i++)
            if (!g->nodes[i].dead && indeg[i] > 0) {
                st = cq_errf(err, CQ_EFORMAT, "node '%s' (%s) is on a cycle (%d of %d nodes "
                             "cannot be ordered)", g->nodes[i].name, g->nodes[i].op_type,
                             live - no, live);
                break;
            }
        goto out;
    }
    for (int i = 0; i < nn; i++) /* dead nodes keep their relative order, last */
        if (g->nodes[i].dead)
            order[no++] = i;
    for (int i = 0; i < nn; i++)
        sorted[i] = g->nodes[order[i]];
    if (nn)
        memcpy(g->nodes, sorted, (size_t)nn * sizeof *sorted);
    st = set_producers(g, err);
out:
    free(dstart);
    free(dval);
    free(indeg);
    free(cstart);
    free(fill);
    free(cons);
    free(order);
    free(heap);
    free(sorted);
    return st;
}

static int remap_list(int *list, int n, const int *map)
{
    int m = 0;
    for (int i = 0; i < n; i++)
        if (map[list[i]] >= 0)
            list[m++] = map[list[i]];
    return m;
}

cq_status cq_graph_compact(cq_graph *g, cq_err *err)
{
    cq__graph_readers_drop(g); /* nodes and values are renumbered */
    int nv = g->n_values;
    int *used = malloc(((size_t)nv + 1) * sizeof *used);
    int *map = malloc(((size_t)nv + 1) * sizeof *map);
    if (!used || !map) {
        free(used);
        free(map);
        return cq_errf(err, CQ_ENOMEM, "out of memory compacting a graph of %d values", nv);
    }
    int m = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].dead) {
            cq__node_clear(&g->nodes[i]);
            continue;
        }
        g->nodes[m++] = g->nodes[i];
    }
    g->n_nodes = m;
    for (int v = 0; v < nv; v++)
        used[v] = g->values[v].is_input || g->values[v].is_output ? 1 : -1;
    marker mk = {used, 1, NULL, 0};
    for (int i = 0; i < g->n_nodes; i++) {
        const cq_node *n = &g->nodes[i];
        if (mark_node_reads(g, n, &mk)) {
            free(used);
            free(map);
            return cq_errf(err, CQ_ENOMEM, "out of memory compacting a graph of %d values", nv);
        }
        for (int k = 0; k < n->n_outputs; k++)
            if (n->outputs[k] >= 0)
                used[n->outputs[k]] = 1;
    }
    int k = 0;
    for (int v = 0; v < nv; v++) {
        if (used[v] != 1) {
            map[v] = -1;
            cq__value_clear(&g->values[v]);
            continue;
        }
        map[v] = k;
        if (k != v)
            g->values[k] = g->values[v];
        k++;
    }
    g->n_values = k;
    for (int i = 0; i < g->n_nodes; i++) {
        cq_node *n = &g->nodes[i];
        for (int j = 0; j < n->n_inputs; j++)
            if (n->inputs[j] >= 0)
                n->inputs[j] = map[n->inputs[j]];
        for (int j = 0; j < n->n_outputs; j++)
            if (n->outputs[j] >= 0)
                n->outputs[j] = map[n->outputs[j]];
    }
    g->n_inputs = remap_list(g->inputs, g->n_inputs, map);
    g->n_outputs = remap_list(g->outputs, g->n_outputs, map);
    g->n_initializers = remap_list(g->initializers, g->n_initializers, map);
    free(used);
    free(map);
    cq_status st = cq__graph_reindex(g, err);
    if (st == CQ_OK)
        st = set_producers(g, err);
    return st;
}

int cq__graph_has_subgraph(const cq_node *n) { return has_subgraph(n); }

int cq__graph_node_reads(const cq_graph *g, int i, int v, int **mark)
{
    const cq_node *n = &g->nodes[i];
    if (n->dead)
        return 0;
    for (int k = 0; k < n->n_inputs; k++)
        if (n->inputs[k] == v)
            return 1;
    if (!has_subgraph(n))
        return 0;
    if (!*mark && !(*mark = calloc((size_t)g->n_values + 1, sizeof **mark)))
        return -1;
    (*mark)[v] = 0;
    marker m = {*mark, 1, NULL, 0};
    if (mark_node_reads(g, n, &m))
        return -1;
    return (*mark)[v] == 1;
}

int cq_graph_consumers(const cq_graph *g, int v, int *out, int max)
{
    int count = 0, *mark = NULL;
    if (cq__graph_readers_consumers(g, v, out, max, &count))
        return count;
    for (int i = 0; i < g->n_nodes; i++) {
        int reads = cq__graph_node_reads(g, i, v, &mark);
        if (reads < 0) {
            free(mark);
            return -1;
        }
        if (reads) {
            if (out && count < max)
                out[count] = i;
            count++;
        }
    }
    free(mark);
    return count;
}

cq_status cq_graph_uses_build(const cq_graph *g, cq_graph_uses *u, cq_err *err)
{
    int nn = g->n_nodes, nv = g->n_values;
    int *dstart = NULL, *dval = NULL;
    memset(u, 0, sizeof *u);
    cq_status st = build_deps(g, &dstart, &dval, err);
    if (st != CQ_OK)
        return st;
    int total = dstart[nn];
    u->start = calloc((size_t)nv + 2, sizeof *u->start);
    u->node = malloc(((size_t)total + 1) * sizeof *u->node);
    if (!u->start || !u->node) {
        free(dstart);
        free(dval);
        cq_graph_uses_free(u);
        return cq_errf(err, CQ_ENOMEM, "out of memory indexing the readers of %d values", nv);
    }
    /* counts at start[v + 2], prefix sums to start[v + 1], then each
     * reader placed at start[v + 1]++: start[v] ends as v's first slot */
    for (int d = 0; d < total; d++)
        u->start[dval[d] + 2]++;
    for (int v = 0; v < nv; v++)
        u->start[v + 2] += u->start[v + 1];
    for (int i = 0; i < nn; i++) /* node order: each list ascends */
        for (int d = dstart[i]; d < dstart[i + 1]; d++)
            u->node[u->start[dval[d] + 1]++] = i;
    u->n_values = nv;
    free(dstart);
    free(dval);
    return CQ_OK;
}

void cq_graph_uses_free(cq_graph_uses *u)
{
    free(u->start);
    free(u->node);
    memset(u, 0, sizeof *u);
}

int cq_graph_uses_count(const cq_graph_uses *u, int v)
{
    if (v < 0 || v >= u->n_values)
        return -1;
    return u->start[v + 1] - u->start[v];
}

const int *cq_graph_uses_list(const cq_graph_uses *u, int v)
{
    if (v < 0 || v >= u->n_values)
        return NULL;
    return u->node + u->start[v];
}
