/*
 * limits.h - how much a model may make calq allocate: the settable limits on
 * bytes per tensor, bytes per model and nodes per graph.
 *
 * Sizes a model declares (dims of an initializer, shapes of inputs and
 * value_info, the shapes planning infers, what constant folding would make)
 * are never trusted: the ONNX reader (onnx.h) and the executor (exec.h)
 * compute each one's bytes without overflow and refuse, before allocating,
 * what passes a limit, with ENOMEM and a message that names the tensor, its
 * shape, its bytes and the limit:
 *
 *     cq_limits lim = CQ_LIMITS_DEFAULT;
 *     lim.max_tensor_bytes = 256 << 20;              // 256 MiB
 *     cq_graph *g = cq_onnx_load_limited("m.onnx", &lim, &err);
 *     cq_exec_opts o = CQ_EXEC_OPTS_DEFAULT;
 *     o.limits = &lim;
 *     cq_exec *e = cq_exec_new(g, &o, &err);
 *
 * docs/design-exec.md ("Limits") says where each one is checked.
 */
#ifndef CQ_LIMITS_H
#define CQ_LIMITS_H

#include <stdint.h>
#include "base/tensor.h"

typedef struct cq_limits {
    /* One tensor: an initializer or Constant, a declared input, output or
     * value_info shape, a shape planning infers, a folded constant, a value
     * at run time. 0 is refused as a limit (EINVAL): no limit is
     * CQ_TENSOR_MAX_BYTES, calq's own ceiling. */
    uint64_t max_tensor_bytes;
    /* One model: the file (or buffer) and the bytes of all its constant
     * data together, as decoded. */
    uint64_t max_model_bytes;
    /* Nodes of one graph (subgraphs count their own). */
    int64_t max_nodes;
} cq_limits;

/* 4 GiB per tensor; 2 GiB per model (protobuf's own ceiling, which every
 * ONNX exporter keeps to; calq reads no external data); 4,000,000 nodes
 * (a chain that long loads, plans and runs in about 16 s here,
 * bench/RESULTS.md "Linear planning"). */
#define CQ_LIMITS_DEFAULT {.max_tensor_bytes = (uint64_t)1 << 32, \
                           .max_model_bytes = (uint64_t)1 << 31, .max_nodes = 4000000}

/* EINVAL naming the field when a limit is 0 or negative, or a byte limit
 * is above CQ_TENSOR_MAX_BYTES; CQ_OK otherwise. lim NULL is fine (the
 * defaults). */
cq_status cq_limits_check(const cq_limits *lim, cq_err *err);

/* Bytes of a dense tensor of dt with this shape into *bytes: 0 when fine,
 * -1 when a dimension is negative (unknown) or the product of the non-zero
 * ones passes CQ_TENSOR_MAX_BYTES (cq_tensor_new's ceiling; nothing
 * overflows, *bytes then holds UINT64_MAX). */
int cq_shape_bytes(cq_dtype dt, int ndim, const int64_t *shape, uint64_t *bytes);

/* The bytes of a dense dt tensor of this shape in decimal into buf, exact
 * up to 2^64 however large (for messages: "4398046511104"); returns buf. */
const char *cq_shape_bytes_str(cq_dtype dt, int ndim, const int64_t *shape, char *buf,
                               size_t size);

/* A shape as "[1, 3, 224, 224]" into buf (always terminated); returns buf. */
const char *cq_shape_str(int ndim, const int64_t *shape, char *buf, size_t size);

#endif
