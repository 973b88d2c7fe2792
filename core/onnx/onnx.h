/*
 * onnx.h - ONNX models and tensors in and out of calq's graph IR (graph.h).
 *
 * calq reads and writes the protobuf wire format itself (pb.h): no protobuf
 * library. The reader keeps what calq does not interpret (unknown fields,
 * non-tensor types, tensors of dtypes calq lacks) verbatim, so load -> save
 * -> load gives the same graph.
 *
 *     cq_err err;
 *     cq_graph *g = cq_onnx_load("model.onnx", &err);
 *     if (!g) { fprintf(stderr, "%s\n", err.msg); return 1; }
 *     const char *ops[] = {"Conv", "Relu", "Add"};
 *     if (cq_onnx_check_ops(g, ops, 3, &err) != CQ_OK) ...  // lists every missing op
 *     cq_onnx_save(g, "copy.onnx", &err);
 *     cq_graph_free(g);
 *
 * Errors name the file, the byte offset and the field being read:
 *     model.onnx: byte 1234: NodeProto.attribute (field 5): length 99999 runs
 *     past the end of the message (ends at 1300)
 *
 * Tensors whose ONNX dtype calq lacks (DOUBLE, STRING, UINT16, ...) do not
 * stop the load: the value records onnx_elem_type, data stays NULL and
 * value->unsupported says why ("dtype DOUBLE"), for the executor to refuse
 * at run time. Attributes holding such tensors are kept as raw bytes
 * (cq_attr.raw, with t == NULL). External data (tensors stored outside the
 * model file) is refused at load time (EUNSUPPORTED).
 *
 * Initializers that old models (IR < 4) also list in graph.input are not in
 * g->inputs; their value has both is_input and is_initializer set, and the
 * writer lists them in graph.input again.
 */
#ifndef CQ_ONNX_H
#define CQ_ONNX_H

#include <stddef.h>
#include "base/limits.h"
#include "graph/graph.h"

/* Load a model file. NULL on failure (EIO, EFORMAT, EUNSUPPORTED, ENOMEM).
 * The graph is topologically sorted. The caller owns the graph. */
cq_graph *cq_onnx_load(const char *path, cq_err *err);
/* The same from memory; name_for_errors prefixes messages (NULL: "<buffer>").
 * buf is not kept. */
cq_graph *cq_onnx_load_buffer(const void *buf, size_t len, const char *name_for_errors,
                              cq_err *err);

/* The same within limits (base/limits.h; NULL: CQ_LIMITS_DEFAULT, which
 * the two above use): a file or buffer above max_model_bytes is refused
 * before it is read, a tensor (initializer, Constant, declared input,
 * output or value_info shape) above max_tensor_bytes and constant data
 * above max_model_bytes before they are allocated, a graph of more than
 * max_nodes nodes as the node past it is read: ENOMEM naming the file,
 * byte, tensor, its shape and bytes, and the limit. EINVAL for a limit
 * out of range (cq_limits_check). */
cq_graph *cq_onnx_load_limited(const char *path, const cq_limits *lim, cq_err *err);
cq_graph *cq_onnx_load_buffer_limited(const void *buf, size_t len, const char *name_for_errors,
                                      const cq_limits *lim, cq_err *err);

/* Save g to path (written to path.tmp, fsynced, renamed). Dead nodes are
 * skipped; values holding data that are not initializers yet (folded
 * constants) are written as initializers. */
cq_status cq_onnx_save(const cq_graph *g, const char *path, cq_err *err);
/* The same into a malloc'd buffer (*out, *len), owned by the caller (free()). */
cq_status cq_onnx_save_buffer(const cq_graph *g, void **out, size_t *len, cq_err *err);

/* A TensorProto file (the test_data_set_N/input_0.pb of ONNX backend tests).
 * Returns a new tensor; *name (if name is not NULL) gets a malloc'd copy of
 * the tensor's name ("" when absent). NULL on failure: EUNSUPPORTED names the
 * dtype calq lacks, EFORMAT a malformed file. */
cq_tensor *cq_onnx_read_tensor(const char *path, char **name, cq_err *err);
cq_tensor *cq_onnx_read_tensor_buffer(const void *buf, size_t len, const char *name_for_errors,
                                      char **name, cq_err *err);
/* Write t as a TensorProto file (via path.tmp). */
cq_status cq_onnx_write_tensor(const cq_tensor *t, const char *name, const char *path,
                               cq_err *err);

/* EUNSUPPORTED listing every live node whose operator is not in supported
 * (node name, op, domain and opset), not only the first. Entries are
 * "Conv" (default ONNX domain) or "domain:Op". CQ_OK when all are known. */
cq_status cq_onnx_check_ops(const cq_graph *g, const char *const *supported, int n,
                            cq_err *err);

/* 0 when a and b hold the same model (nodes, attributes, initializers
 * bit-exact, inputs/outputs and their types, opsets, metadata); otherwise 1
 * and the first difference described in why (always terminated). */
int cq_onnx_graph_diff(const cq_graph *a, const cq_graph *b, char *why, size_t why_size);

#endif
