/* onnx_load.c - time loading and saving an ONNX model, against an anchor
 * measured in the same run: reading the file's bytes (cq__onnx_read_file)
 * and copying them once (memcpy). Prints best-of-N milliseconds and ratios.
 *     build/bench/onnx_load MODEL.onnx [runs]                                 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "onnx/onnx.h"
#include "onnx/onnx_internal.h"

static volatile unsigned sink;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL.onnx [runs]\n", argv[0]);
        return 2;
    }
    int runs = argc > 2 ? atoi(argv[2]) : 30;
    double best_read = 1e30, best_copy = 1e30, best_load = 1e30, best_save = 1e30;
    cq_err err;
    for (int r = 0; r < runs; r++) {
        uint8_t *buf;
        size_t len;
        double t0 = now_ms();
        if (cq__onnx_read_file(argv[1], &buf, &len, &err) != CQ_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        double t1 = now_ms();
        uint8_t *copy = malloc(len);
        memcpy(copy, buf, len);
        sink += copy[len / 2];
        double t2 = now_ms();
        free(copy);
        free(buf);
        double t3 = now_ms();
        cq_graph *g = cq_onnx_load(argv[1], &err);
        double t4 = now_ms();
        if (!g) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        void *out;
        size_t olen;
        double t5 = now_ms();
        if (cq_onnx_save_buffer(g, &out, &olen, &err) != CQ_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        double t6 = now_ms();
        free(out);
        cq_graph_free(g);
        if (t1 - t0 < best_read) best_read = t1 - t0;
        if (t2 - t1 < best_copy) best_copy = t2 - t1;
        if (t4 - t3 < best_load) best_load = t4 - t3;
        if (t6 - t5 < best_save) best_save = t6 - t5;
    }
    printf("%s (best of %d)\n", argv[1], runs);
    printf("  anchor read file   %8.3f ms\n", best_read);
    printf("  anchor memcpy      %8.3f ms\n", best_copy);
    printf("  cq_onnx_load       %8.3f ms  (%.2fx read file)\n", best_load, best_load / best_read);
    printf("  cq_onnx_save_buffer%8.3f ms  (%.2fx read file)\n", best_save, best_save / best_read);
    return 0;
}
