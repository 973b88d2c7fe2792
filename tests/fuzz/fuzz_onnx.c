/* fuzz_onnx: the ONNX reader (onnx_read.c, onnx_tensor.c over pb.c) on any
 * bytes, as a model and as a TensorProto file, within small limits. A model
 * that loads is saved and loaded again: the copy must load and equal it
 * (the writer's round trip, onnx.h). */
#include "fuzz_util.h"
#include "onnx/onnx.h"
#include "base/tensor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cq_err err;
    cq_limits lim = CQ_LIMITS_DEFAULT;
    lim.max_tensor_bytes = 16u << 20;
    lim.max_model_bytes = 64u << 20;
    lim.max_nodes = 20000;
    cq_graph *g = cq_onnx_load_buffer_limited(data, size, "fuzz.onnx", &lim, &err);
    if (!g) {
        fuzz_check_err(&err, "cq_onnx_load_buffer_limited");
    } else {
        void *out = NULL;
        size_t len = 0;
        if (cq_onnx_save_buffer(g, &out, &len, &err) != CQ_OK) {
            fuzz_check_err(&err, "cq_onnx_save_buffer");
        } else {
            cq_graph *h = cq_onnx_load_buffer_limited(out, len, "copy.onnx", &lim, &err);
            if (!h) {
                fprintf(stderr, "a saved model does not load again: %s\n", err.msg);
                abort();
            }
            char why[512];
            if (cq_onnx_graph_diff(g, h, why, sizeof why) != 0) {
                fprintf(stderr, "load -> save -> load changed the model: %s\n", why);
                abort();
            }
            cq_graph_free(h);
            free(out);
        }
        cq_graph_free(g);
    }
    char *name = NULL;
    cq_tensor *t = cq_onnx_read_tensor_buffer(data, size, "fuzz.pb", &name, &err);
    if (!t) fuzz_check_err(&err, "cq_onnx_read_tensor_buffer");
    cq_tensor_release(t);
    free(name);
    return 0;
}
