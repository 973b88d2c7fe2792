/* graph_internal.h - helpers shared by graph*.c and the ONNX reader/writer. */
#ifndef CQ_GRAPH_INTERNAL_H
#define CQ_GRAPH_INTERNAL_H

#include <stddef.h>
#include "graph/graph.h"
#include "base/status.h"

/* malloc'd copy of s (NULL is taken as ""); NULL on ENOMEM. */
char *cq__strdup(const char *s);

/* Free what a value / node owns (node plans included) and zero it. */
void cq__value_clear(cq_value *v);
void cq__node_clear(cq_node *n);
/* Rebuild the name index after values moved. */
cq_status cq__graph_reindex(cq_graph *g, cq_err *err);

/* The readers window (graph_readers.c): drop it (toposort, compact,
 * free); whether it answered cq_graph_consumers (1: count or -1 in *n). */
void cq__graph_readers_drop(cq_graph *g);
int cq__graph_readers_consumers(const cq_graph *g, int v, int *out, int max, int *n);
/* Whether live node i reads v (an input, or by name inside its subgraphs):
 * 1, 0, -1 on ENOMEM; *mark a scratch array of n_values + 1 ints the
 * first subgraph asks for (the caller frees it). */
int cq__graph_node_reads(const cq_graph *g, int i, int v, int **mark);
int cq__graph_has_subgraph(const cq_node *n);

#endif
