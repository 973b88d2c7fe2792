/*
 * graph.h - calq's graph IR: values, nodes with attributes, initializers.
 *
 * A cq_graph is what the ONNX reader produces (onnx.h), what the passes
 * (constant folding, BatchNorm folding, fusion) rewrite, what the executor
 * plans and runs (exec.h), and what the ONNX writer saves. Values and nodes
 * are referred to by index; names are unique per graph (values) and kept for
 * messages (nodes). A value is produced by at most one node; graph inputs and
 * initializers have producer -1.
 *
 *     cq_err err;
 *     cq_graph *g = cq_graph_new(&err);
 *     const char *in[] = {"x", "w"}, *out[] = {"y"};
 *     int n = cq_graph_add_node(g, "Conv", "conv1", "", 2, in, 1, out, &err);
 *     cq_node_set_ints(g, n, "strides", 2, (int64_t[]){1, 1}, &err);
 *     ...
 *     cq_graph_free(g);
 *
 * Ownership: the graph owns every string, attribute and tensor hung on it;
 * setters copy strings and retain tensors. Every function that can fail
 * returns -1 / NULL / a cq_status and fills err.
 */
#ifndef CQ_GRAPH_H
#define CQ_GRAPH_H

#include <stdint.h>
#include "base/status.h"
#include "base/tensor.h"

/* ONNX AttributeProto.AttributeType numbers. */
typedef enum cq_attr_type {
    CQ_ATTR_UNDEFINED = 0,
    CQ_ATTR_FLOAT = 1,
    CQ_ATTR_INT = 2,
    CQ_ATTR_STRING = 3,
    CQ_ATTR_TENSOR = 4,
    CQ_ATTR_GRAPH = 5,
    CQ_ATTR_FLOATS = 6,
    CQ_ATTR_INTS = 7,
    CQ_ATTR_STRINGS = 8,
    CQ_ATTR_TENSORS = 9,
    CQ_ATTR_GRAPHS = 10
} cq_attr_type;

typedef struct cq_graph cq_graph;

typedef struct cq_attr {
    char *name;
    cq_attr_type type;
    float f;              /* FLOAT */
    int64_t i;            /* INT */
    char *s;              /* STRING: bytes, NUL-terminated as well */
    size_t s_len;
    cq_tensor *t;         /* TENSOR */
    cq_graph *g;          /* GRAPH (kept for round trips; calq runs no subgraphs) */
    int64_t n;            /* element count of the list kinds below */
    float *floats;        /* FLOATS */
    int64_t *ints;        /* INTS */
    char **strings;       /* STRINGS (NUL-terminated each) */
    cq_tensor **tensors;  /* TENSORS */
    /* Bytes of attribute kinds calq does not interpret (GRAPHS, sparse tensors,
     * type protos), kept verbatim so the writer round-trips them. */
    uint8_t *raw;
    size_t raw_len;
} cq_attr;

typedef struct cq_node {
    char *name;
    char *op_type;
    char *domain;          /* "" is the default ONNX domain */
    int n_inputs;
    int *inputs;           /* value indices; -1 = omitted optional input */
    int n_outputs;
    int *outputs;          /* value indices; -1 = omitted optional output */
    int n_attrs;
    cq_attr *attrs;
    char *doc_string;
    int dead;              /* removed by a pass; cq_graph_compact() drops it */

    /* NodeProto fields the reader does not interpret (overload, metadata_props,
     * ...), as encoded field bytes the writer appends verbatim. */
    uint8_t *onnx_extra;
    size_t onnx_extra_len;
} cq_node;

typedef struct cq_value {
    char *name;
    int has_type;          /* dtype/shape below are known */
    cq_dtype dtype;
    int ndim;              /* -1: rank unknown */
    int64_t shape[CQ_MAX_DIMS]; /* -1: dimension unknown (symbolic) */
    char *dim_param[CQ_MAX_DIMS]; /* symbolic names from the model, or NULL */
    int onnx_elem_type;    /* TensorProto.DataType as read (may lack a cq_dtype) */
    cq_tensor *data;       /* initializer or folded constant; NULL otherwise */
    int producer;          /* node index, -1 for inputs and initializers */
    int is_input;          /* a graph input; an initializer that an old model (IR < 4)
                              also lists in graph.input has both flags set, and is
                              not in g->inputs (onnx.h) */
    int is_output;         /* a graph output */
    int is_initializer;    /* came from graph.initializer */
    char *doc_string;

    /* Set by the ONNX reader for what calq cannot hold. unsupported names the
     * reason (static string, e.g. "dtype DOUBLE") when an initializer's data
     * could not be loaded: data stays NULL, onnx_tensor keeps the TensorProto
     * bytes verbatim so the writer round-trips them, and the executor refuses
     * the model at run time with that reason. onnx_vi keeps a ValueInfoProto
     * verbatim when its type is no plain tensor (sequence, map, optional) or
     * has more than CQ_MAX_DIMS dimensions. */
    const char *unsupported;
    uint8_t *onnx_tensor;
    size_t onnx_tensor_len;
    uint8_t *onnx_vi;
    size_t onnx_vi_len;
} cq_value;

typedef struct cq_opset {
    char *domain;
    int64_t version;
} cq_opset;

typedef struct cq_meta_prop {
    char *key;
    char *value;
} cq_meta_prop;

struct cq_graph {
    char *name;
    char *doc_string;
    int n_values, cap_values;
    cq_value *values;
    int n_nodes, cap_nodes;
    cq_node *nodes;        /* in topological order after cq_graph_toposort */
    int n_inputs;
    int *inputs;           /* graph inputs, in model order (initializers excluded) */
    int n_outputs;
    int *outputs;          /* graph outputs, in model order */
    int n_initializers;
    int *initializers;     /* values that came from graph.initializer, in model order */

    /* ModelProto fields (the top-level graph only). */
    int64_t ir_version;
    char *producer_name, *producer_version, *model_domain, *model_doc_string;
    int64_t model_version;
    int n_opsets;
    cq_opset *opsets;
    int n_meta;
    cq_meta_prop *meta;

    void *index;           /* private: name -> value hash */
    void *readers;         /* private: the readers window (cq_graph_readers_begin) */

    /* GraphProto / ModelProto fields the reader does not interpret (sparse
     * initializers, quantization annotations, functions, training info, ...),
     * as encoded field bytes the writer appends verbatim. */
    uint8_t *onnx_extra;
    size_t onnx_extra_len;
    uint8_t *onnx_model_extra;
    size_t onnx_model_extra_len;
};

/* ---- life cycle -------------------------------------------------------- */

cq_graph *cq_graph_new(cq_err *err);
void cq_graph_free(cq_graph *g); /* NULL is fine */

/* ---- values ------------------------------------------------------------ */

/* Index of the value called name, creating it (untyped) if absent; -1 on ENOMEM.
 * The empty name is not a value: returns -1 with EINVAL. */
int cq_graph_value(cq_graph *g, const char *name, cq_err *err);
/* Index of an existing value, or -1 (no error recorded). */
int cq_graph_find(const cq_graph *g, const char *name);
/* A fresh unique name derived from base ("conv1_out" -> "conv1_out__1"), as a new value. */
int cq_graph_new_value(cq_graph *g, const char *base, cq_err *err);
/* Attach constant data to value v (retains t; releases an older one) and
 * set its type from t. */
cq_status cq_graph_set_data(cq_graph *g, int v, cq_tensor *t, cq_err *err);
/* Mark v as graph input / output / initializer (appends to the lists once). */
cq_status cq_graph_add_input(cq_graph *g, int v, cq_err *err);
cq_status cq_graph_add_output(cq_graph *g, int v, cq_err *err);
cq_status cq_graph_add_initializer(cq_graph *g, int v, cq_tensor *t, cq_err *err);

/* ---- nodes ------------------------------------------------------------- */

/* Append a node; input/output names are looked up or created ("" = omitted
 * optional, stored as -1). Sets each output's producer. Returns the node
 * index, -1 on failure (EINVAL if an output already has a producer). */
int cq_graph_add_node(cq_graph *g, const char *op_type, const char *name, const char *domain,
                      int n_in, const char *const *inputs, int n_out,
                      const char *const *outputs, cq_err *err);

/* Attribute setters (replace an attribute of the same name). */
cq_status cq_node_set_int(cq_graph *g, int node, const char *name, int64_t v, cq_err *err);
cq_status cq_node_set_float(cq_graph *g, int node, const char *name, float v, cq_err *err);
cq_status cq_node_set_string(cq_graph *g, int node, const char *name, const char *s,
                             size_t len, cq_err *err);
cq_status cq_node_set_ints(cq_graph *g, int node, const char *name, int64_t n,
                           const int64_t *v, cq_err *err);
cq_status cq_node_set_floats(cq_graph *g, int node, const char *name, int64_t n,
                             const float *v, cq_err *err);
cq_status cq_node_set_tensor(cq_graph *g, int node, const char *name, cq_tensor *t,
                             cq_err *err);
/* Take over a fully built attribute (the reader's path); a->name must be set.
 * On failure the attribute is freed. */
cq_status cq_node_add_attr(cq_graph *g, int node, cq_attr *a, cq_err *err);
void cq_attr_clear(cq_attr *a); /* frees what a owns, leaves it zeroed */

/* Attribute lookup: NULL when absent. */
const cq_attr *cq_node_attr(const cq_node *n, const char *name);
/* Typed getters with a default when absent. A present attribute of the wrong
 * type is an error in the *_check forms (EFORMAT, message names node + attribute). */
int64_t cq_node_int(const cq_node *n, const char *name, int64_t def);
float cq_node_float(const cq_node *n, const char *name, float def);
const char *cq_node_string(const cq_node *n, const char *name, const char *def);
/* Copies up to max ints into out; returns the count found (0 when absent). */
int64_t cq_node_ints(const cq_node *n, const char *name, int64_t *out, int64_t max);
/* Checked forms: absent -> *out = def and CQ_OK; present with another type ->
 * EFORMAT naming node and attribute. cq_node_ints_check stores the count in
 * *count and fails with ERANGE when more than max. */
cq_status cq_node_int_check(const cq_node *n, const char *name, int64_t def, int64_t *out,
                            cq_err *err);
cq_status cq_node_float_check(const cq_node *n, const char *name, float def, float *out,
                              cq_err *err);
cq_status cq_node_string_check(const cq_node *n, const char *name, const char *def,
                               const char **out, cq_err *err);
cq_status cq_node_ints_check(const cq_node *n, const char *name, int64_t *out, int64_t max,
                             int64_t *count, cq_err *err);

/* ---- structure --------------------------------------------------------- */

/* Sort nodes topologically (stable for an already sorted graph) and fix each
 * value's producer. EFORMAT naming a node on a cycle, or an input that no
 * node, initializer or graph input provides. */
cq_status cq_graph_toposort(cq_graph *g, cq_err *err);
/* Drop dead nodes and values nothing refers to (keeps inputs/outputs/initializers
 * that are still used), renumbering indices. */
cq_status cq_graph_compact(cq_graph *g, cq_err *err);
/* Number of nodes reading value v (live nodes only, each node once); the
 * first max of their indices go to out (which may be NULL when max is 0).
 * -1 on ENOMEM. A node whose subgraph (If, Loop, Scan) reads v by name counts
 * as reading it, here and in toposort / compact. */
int cq_graph_consumers(const cq_graph *g, int v, int *out, int max);
/* The readers of every value at once, for a pass that asks about many
 * values (cq_graph_consumers walks every node per call): built in time
 * linear in nodes + values, the same answer per value as
 * cq_graph_consumers (live nodes, each once, ascending, subgraph reads
 * included). It describes g as it was when built: a pass that edits node
 * inputs asks it only about values whose readers it has not changed, and
 * values added later are not in it. */
typedef struct cq_graph_uses {
    int n_values;  /* values indexed: those g had when built */
    int *start;    /* v's readers: node[start[v] .. start[v + 1]) */
    int *node;
} cq_graph_uses;

/* Fill u for g (ENOMEM on failure, u then empty); free with
 * cq_graph_uses_free (an empty or freed u is fine). */
cq_status cq_graph_uses_build(const cq_graph *g, cq_graph_uses *u, cq_err *err);
void cq_graph_uses_free(cq_graph_uses *u);
/* Number of readers of v; -1 when v is not in the index. */
int cq_graph_uses_count(const cq_graph_uses *u, int v);
/* v's readers (cq_graph_uses_count of them), ascending; NULL when v is not
 * in the index. */
const int *cq_graph_uses_list(const cq_graph_uses *u, int v);
/* A readers window, for a pass that edits g and asks who reads a value
 * many times (the quantizer, the lowering): while it is open,
 * cq_graph_consumers answers from an index (built once, in time linear in
 * nodes + values) plus the nodes added since (cq_graph_add_node), each
 * candidate checked against the graph as it is now, so it gives the
 * same answer as the walk of every node. The pass tells it of every node
 * input it sets directly (cq_graph_readers_note: node i may now read v);
 * toposort and compact (which renumber nodes) close it. Windows nest
 * (each begin wants its end); cq_graph_free closes one left open. Not for
 * two threads asking about one graph at once (it updates itself). ENOMEM
 * on failure. */
cq_status cq_graph_readers_begin(cq_graph *g, cq_err *err);
void cq_graph_readers_note(cq_graph *g, int i, int v);
void cq_graph_readers_end(cq_graph *g);
/* A node named name (dead ones included), -1 when none: hashed while a
 * readers window is open, a walk of every node otherwise. */
int cq_graph_find_node(const cq_graph *g, const char *name);
/* A name no node of g has: base itself, else base__K with the lowest such
 * K >= 1 (malloc'd, the caller frees it; NULL on ENOMEM). The caller gives
 * it to a node it adds (cq_graph_add_node) before asking again: the search
 * goes on from the last one's K, so n nodes named from one base take time
 * linear in n. cq_graph_new_value does the same for values. */
char *cq_graph_new_node_name(const cq_graph *g, const char *base);
/* Name of the ONNX TensorProto.DataType ("FLOAT", "DOUBLE", ...); "UNKNOWN" otherwise. */
const char *cq_onnx_type_name(int onnx_type);
/* Opset version imported for domain ("" or "ai.onnx" are the same); 0 if none. */
int64_t cq_graph_opset(const cq_graph *g, const char *domain);

#endif
