/* quant_internal.h - what quant*.c share: the decisions a cq_quant holds. */
#ifndef CQ_QUANT_INTERNAL_H
#define CQ_QUANT_INTERNAL_H

#include "quant/quant.h"

/* One value's quantization: v -> QuantizeLinear -> DequantizeLinear. */
typedef struct cq__qval {
    int quantized;
    cq_dtype dtype;   /* CQ_U8 / CQ_S8 */
    float scale;
    int32_t zp;
    int src;          /* what the QuantizeLinear reads: v, or the producer's own
                       * output when a folded activation is removed */
    int all_readers;  /* every consumer reads the dequantized value (an int8
                       * producer); else only the int8 consumers do */
} cq__qval;

/* A compute node's quantized weights and bias. */
typedef struct cq__qnode {
    int w_slot, b_slot;     /* input slots of the weights and the bias (-1: none) */
    int w_axis;             /* DequantizeLinear axis of the weights; -1 per tensor */
    cq_tensor *w_codes;     /* s8, the weights' shape */
    cq_tensor *w_scale;     /* f32[channels] (or a scalar) */
    cq_tensor *w_zp;        /* s8, as w_scale */
    cq_tensor *b_codes;     /* s32[channels] */
    cq_tensor *b_scale;     /* f32[channels]: s_x * s_w */
    cq_tensor *b_zp;        /* s32 zeros */
} cq__qnode;

struct cq_quant {
    cq_graph *g;                 /* planned; borrowed */
    int n_nodes, n_values;       /* g's when decided (freeing reads only these) */
    const cq_calib_stats *stats; /* borrowed */
    cq_quant_opts o;
    int act_symmetric;           /* resolved */
    cq_dtype *prec;              /* per node: the map, or CQ_S8 */
    cq_quant_node_info *info;    /* per node */
    unsigned char *quantizable;  /* per node */
    cq__qnode *qn;               /* per node (compute int8 ones filled) */
    cq__qval *val;               /* per value */
    int *vdt;                    /* per value: its dtype, -1 unknown (shapes with a
                                  * symbolic batch leave has_type unset) */
    int *order;                  /* quantized values, in the order decided */
    int n_order;
};

/* Whether value v holds constant data. */
int cq__quant_is_const(const cq_graph *g, int v);
/* The first consumer of v other than node `skip` ... : the consumers of v
 * (live nodes), into a new array *out (caller frees); count or -1 (ENOMEM). */
int cq__quant_consumers(const cq_graph *g, int v, int **out, cq_err *err);
/* A value name base (or base__N when taken) as a new value of g; -1 on ENOMEM. */
int cq__quant_fresh(cq_graph *g, const char *base, const char *suffix, cq_err *err);
/* base + suffix, or base + suffix + __N when a node of g has that name: a
 * node name ONNX Runtime accepts (it refuses two nodes of one name), which
 * the caller frees; NULL on ENOMEM. */
char *cq__quant_node_name(const cq_graph *g, const char *base, const char *suffix);
/* Add an initializer called name (made fresh) holding t; its index or -1. */
int cq__quant_init(cq_graph *g, const char *base, const char *suffix, cq_tensor *t,
                   cq_err *err);
/* A copy of g through the ONNX writer and reader (a deep copy); NULL on failure. */
cq_graph *cq__quant_clone(const cq_graph *g, cq_err *err);
/* A graph of g's nodes nodes[0..n) alone, a deep copy through the ONNX
 * writer and reader: g's model fields, the values those nodes read and
 * write (in g's order, the initializers in g->initializers' order), each
 * value they read that none of them writes and that is no constant as a
 * graph input, no graph outputs. In time and memory of those nodes' size,
 * not g's: map is scratch of g->n_values ints, all -1 (left so), init_pos
 * each value's place in g->initializers (-1: none). NULL on failure
 * (EUNSUPPORTED for a node holding a subgraph, whose outer reads it does
 * not follow). */
cq_graph *cq__quant_extract(const cq_graph *g, const int *nodes, int n, int *map,
                            const int *init_pos, cq_err *err);
/* Per-tensor quantization of value data t with (dt, scale, zp) as a new
 * tensor; NULL on failure. */
cq_tensor *cq__quant_codes(const cq_tensor *t, cq_dtype dt, float scale, int32_t zp,
                           cq_err *err);
/* Whether node a is an activation calq folds (Relu, Clip with constant
 * bounds; one input and one output) and its bounds (lo, hi may be NULL). */
int cq__quant_act_bounds(const cq_graph *g, const cq_node *a, float *lo, float *hi);
/* Whether activation a is a no-op once its input is quantized with
 * (dt, s, zp): quantize is monotone, so Q(act(x)) == Q(x) for every x
 * exactly when the bounds quantize to the ends of the code range. */
int cq__quant_act_noop(const cq_graph *g, const cq_node *a, cq_dtype dt, float s, int32_t zp);
/* The activation node that node i's output range folds (its output read by
 * that Relu / Clip alone, not a graph output), or -1. The readers from u
 * when given (built for g as it is), else cq_graph_consumers. */
int cq__quant_fold_target(const cq_graph *g, const cq_graph_uses *u, int i);
/* The code quantize gives x (the kernels' arithmetic). */
int32_t cq__quant_code(float x, cq_dtype dt, float scale, int32_t zp);
/* g imports domain (at version when it does not yet); ENOMEM. */
cq_status cq__quant_import_domain(cq_graph *g, const char *domain, int64_t version, cq_err *err);
/* A constant s64 vector v[0..n) as a new initializer named base + suffix
 * (made fresh); its index or -1. */
int cq__quant_shape_init(cq_graph *g, const char *base, const char *suffix, int n,
                         const int64_t *v, cq_err *err);

#endif
