/*
 * classify.c - calq's C API without Lua (docs/embedding.md): load an ONNX
 * classifier, run it on the first N images of an idx file (Fashion-MNIST's
 * layout: u8 [N, 28, 28] images, u8 [N] labels) scaled to [0, 1], and print
 * the top-1 accuracy. Built against an installed calq:
 *
 *     cc classify.c $(pkg-config --cflags --libs calq) -o classify
 *     ./classify MODEL.onnx IMAGES.idx.gz LABELS.idx.gz [N [MIN_ACCURACY]]
 *
 * Exit status 0 when the accuracy is at least MIN_ACCURACY (default 0), 1 when
 * it is lower or something failed (the reason on stderr), 2 for bad usage.
 */
#include <calq.h>

#include <stdio.h>
#include <stdlib.h>

static int fail(const cq_err *err)
{
    fprintf(stderr, "classify: %s\n", err->msg);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 6) {
        fprintf(stderr, "usage: classify MODEL.onnx IMAGES.idx.gz LABELS.idx.gz [N [MIN_ACCURACY]]\n");
        return 2;
    }
    long n = argc > 4 ? strtol(argv[4], NULL, 10) : 256;
    double min_acc = argc > 5 ? strtod(argv[5], NULL) : 0;
    if (n < 1) {
        fprintf(stderr, "classify: N must be a positive count, got %s\n", argv[4]);
        return 2;
    }
    cq_err err = {0};
    int code = 1;
    cq_graph *g = NULL;
    cq_exec *e = NULL;
    cq_idx *ri = NULL, *rl = NULL;
    cq_tensor *img = NULL, *lab = NULL, *x = NULL, *out = NULL;

    if (!(g = cq_onnx_load(argv[1], &err)) || !(e = cq_exec_new(g, NULL, &err)) ||
        !(ri = cq_idx_open(argv[2], &err)) || !(rl = cq_idx_open(argv[3], &err))) {
        code = fail(&err);
        goto done;
    }
    if (n > cq_idx_count(ri))
        n = (long)cq_idx_count(ri);
    if (!(img = cq_idx_read(ri, n, &err)) || !(lab = cq_idx_read(rl, n, &err))) {
        code = fail(&err);
        goto done;
    }
    if (cq_idx_dtype(ri) != CQ_U8 || cq_idx_dtype(rl) != CQ_U8 || cq_tensor_numel(img) != n * 28 * 28) {
        fprintf(stderr, "classify: %s, %s: u8 [N, 28, 28] images and u8 [N] labels expected\n",
                argv[2], argv[3]);
        goto done;
    }
    /* the model's input: f32 [N, 1, 28, 28], x / 255 */
    int64_t shape[4] = {n, 1, 28, 28};
    if (!(x = cq_tensor_new(CQ_F32, 4, shape, &err))) {
        code = fail(&err);
        goto done;
    }
    const uint8_t *p = cq_tensor_data(img);
    float *xf = cq_tensor_data(x);
    for (int64_t i = 0; i < cq_tensor_numel(x); i++)
        xf[i] = p[i] / 255.0f;
    if (cq_exec_run(e, 1, &x, &out, &err) != CQ_OK) {
        code = fail(&err);
        goto done;
    }
    int64_t classes = cq_tensor_numel(out) / n;
    if (out->dtype != CQ_F32 || classes < 2 || classes * n != cq_tensor_numel(out)) {
        fprintf(stderr, "classify: %s: f32 [N, C] output expected\n", argv[1]);
        goto done;
    }
    const float *y = cq_tensor_data(out);
    const uint8_t *l = cq_tensor_data(lab);
    long right = 0;
    for (long i = 0; i < n; i++) {
        int64_t best = 0;
        for (int64_t c = 1; c < classes; c++)
            if (y[i * classes + c] > y[i * classes + best])
                best = c;
        right += best == l[i];
    }
    double acc = (double)right / n;
    printf("calq %s (C API): %ld of %ld right (%.2f%%)\n", CALQ_VERSION, right, n, 100 * acc);
    code = acc >= min_acc ? 0 : 1;
done:
    cq_tensor_release(out);
    cq_tensor_release(x);
    cq_tensor_release(lab);
    cq_tensor_release(img);
    cq_idx_close(rl);
    cq_idx_close(ri);
    cq_exec_free(e);
    cq_graph_free(g);
    return code;
}
