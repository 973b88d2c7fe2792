/* quant_match.c - the precision map's patterns (quant.h, cq_quant_match;
 * docs/quantize.md): exact names, op:TYPE, first:TYPE, last:TYPE, globs. */
#include "quant/quant_internal.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

static int is_type(const cq_node *n, const char *type)
{
    if (n->dead)
        return 0;
    if (!strcmp(type, "*"))
        return cq_quant_kind_of(n->op_type) == CQ_QK_COMPUTE;
    return !strcmp(n->op_type, type);
}

/* first:TYPE / last:TYPE: TYPE nodes with no TYPE node before (after) them
 * on a path. The graph is in topological order (loaded or planned). */
static void first_last(const cq_graph *g, const char *type, int last, unsigned char *hit,
                       unsigned char *seen)
{
    memset(seen, 0, (size_t)g->n_nodes + 1);
    if (!last) {
        for (int i = 0; i < g->n_nodes; i++) {
            const cq_node *n = &g->nodes[i];
            if (n->dead)
                continue;
            int before = 0;
            for (int k = 0; k < n->n_inputs; k++) {
                int v = n->inputs[k], p = v >= 0 ? g->values[v].producer : -1;
                if (p >= 0 && p < g->n_nodes && (seen[p] || is_type(&g->nodes[p], type)))
                    before = 1;
            }
            seen[i] = (unsigned char)before;
            if (!before && is_type(n, type))
                hit[i] = 1;
        }
        return;
    }
    for (int j = g->n_nodes - 1; j >= 0; j--) {
        const cq_node *n = &g->nodes[j];
        if (n->dead)
            continue;
        if (!seen[j] && is_type(n, type))
            hit[j] = 1;
        int after = seen[j] || is_type(n, type);
        for (int k = 0; k < n->n_inputs && after; k++) {
            int v = n->inputs[k], p = v >= 0 ? g->values[v].producer : -1;
            if (p >= 0 && p < g->n_nodes)
                seen[p] = 1;
        }
    }
}

static int named(const cq_graph *g, const cq_node *n, const char *pat, int glob)
{
    if (glob ? !fnmatch(pat, n->name, 0) : !strcmp(pat, n->name))
        return *n->name || glob;
    for (int k = 0; k < n->n_outputs; k++) {
        int v = n->outputs[k];
        if (v >= 0 && (glob ? !fnmatch(pat, g->values[v].name, 0) : !strcmp(pat, g->values[v].name)))
            return 1;
    }
    return 0;
}

/* One pattern (no comma) into hit; EINVAL for an empty one. */
static cq_status match_one(const cq_graph *g, const char *p, unsigned char *hit,
                           unsigned char *seen, cq_err *err)
{
    if (!*p)
        return cq_errf(err, CQ_EINVAL, "empty pattern");
    if (!strncmp(p, "first:", 6) || !strncmp(p, "last:", 5)) {
        const char *type = strchr(p, ':') + 1;
        if (!*type)
            return cq_errf(err, CQ_EINVAL, "pattern '%s' names no op type", p);
        first_last(g, type, p[0] == 'l', hit, seen);
        return CQ_OK;
    }
    if (!strncmp(p, "op:", 3)) {
        if (!p[3])
            return cq_errf(err, CQ_EINVAL, "pattern '%s' names no op type", p);
        for (int i = 0; i < g->n_nodes; i++)
            if (!g->nodes[i].dead && !strcmp(g->nodes[i].op_type, p + 3))
                hit[i] = 1;
        return CQ_OK;
    }
    int glob = strpbrk(p, "*?[") != NULL;
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].dead && named(g, &g->nodes[i], p, glob))
            hit[i] = 1;
    return CQ_OK;
}

int cq_quant_match(const cq_graph *g, const char *pattern, unsigned char *hit, cq_err *err)
{
    if (!g || !pattern || !hit) {
        cq_errf(err, CQ_EINVAL, "cq_quant_match: bad arguments");
        return -1;
    }
    size_t len = strlen(pattern);
    char *buf = malloc(len + 1);
    unsigned char *mine = calloc((size_t)g->n_nodes + 1, 1);
    unsigned char *seen = malloc((size_t)g->n_nodes + 1);
    if (!buf || !mine || !seen) {
        free(buf), free(mine), free(seen);
        cq_errf(err, CQ_ENOMEM, "out of memory matching '%s'", pattern);
        return -1;
    }
    memcpy(buf, pattern, len + 1);
    cq_status st = CQ_OK;
    for (char *p = buf, *next; !st && p; p = next) {
        next = strchr(p, ',');
        if (next)
            *next++ = 0;
        while (*p == ' ')
            p++;
        for (char *e = p + strlen(p); e > p && e[-1] == ' ';)
            *--e = 0;
        st = match_one(g, p, mine, seen, err);
    }
    int count = 0;
    for (int i = 0; !st && i < g->n_nodes; i++)
        if (mine[i]) {
            hit[i] = 1;
            count++;
        }
    free(buf), free(mine), free(seen);
    if (st) {
        cq_err_prefix(err, st, "precision pattern '%s': ", pattern);
        return -1;
    }
    return count;
}
