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

#endif
