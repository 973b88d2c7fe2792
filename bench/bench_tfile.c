/* bench_tfile.c - driver for bench/tfile.sh: write and read back one large
 * f32 tensor through calq tensor files.
 *
 *   bench_tfile gen   RAW MIB    make activations-like data, store them raw
 *   bench_tfile write RAW CALQ   time: create + add + close (fsync, rename)
 *   bench_tfile read  RAW CALQ   time: open + read; then check against RAW
 *   bench_tfile small CALQ N     N tiny tensors (calibration statistics: f32[2]
 *                                min/max each): "write_s read_s file_bytes"
 *
 * write and read print one line "seconds bytes" for the timed part only
 * (loading RAW and the final check are outside the clock).
 *
 * The data imitate post-ReLU conv activations, shape (16, C, 256, W): each
 * channel has its own scale and bias, the value is a smooth spatial pattern
 * plus noise, and negatives are clamped to 0 (about half the values are
 * exact zeros; the others carry full-precision mantissas). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/tfile.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rng = 0x1234567887654321ull;
static float noise(void) /* roughly N(0, 1): sum of 4 uniforms, centred */
{
    float s = 0;
    for (int k = 0; k < 4; k++) {
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        s += (float)((rng * 0x2545f4914f6cdd1dull) >> 40) / 16777216.0f;
    }
    return (s - 2.0f) * 1.7320508f;
}

static int gen(const char *raw, long mib)
{
    int64_t n = (int64_t)mib << 18, w = 256, h = 256, c = n / (16 * h * w);
    if (c < 1 || 16 * c * h * w != n) {
        fprintf(stderr, "bench_tfile: size must be a multiple of 16 MiB\n");
        return 1;
    }
    float *x = malloc((size_t)n * sizeof *x);
    if (!x)
        return 1;
    for (int64_t b = 0, i = 0; b < 16; b++)
        for (int64_t ch = 0; ch < c; ch++) {
            float scale = 0.2f + (float)((ch * 37) % 11) * 0.15f, bias = (float)((ch * 13) % 7) * 0.1f - 0.35f;
            for (int64_t y = 0; y < h; y++)
                for (int64_t xx = 0; xx < w; xx++, i++) {
                    float v = bias + scale * (sinf((float)y * 0.05f + (float)ch) * cosf((float)xx * 0.07f + (float)b) + 0.5f * noise());
                    x[i] = v > 0 ? v : 0.0f;
                }
        }
    FILE *f = fopen(raw, "wb");
    int ok = f && fwrite(x, sizeof *x, (size_t)n, f) == (size_t)n;
    if (f && fclose(f) != 0)
        ok = 0;
    free(x);
    return ok ? 0 : 1;
}

static cq_tensor *load_raw(const char *raw)
{
    cq_err err;
    FILE *f = fopen(raw, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    int64_t shape[1] = {ftell(f) / 4};
    fseek(f, 0, SEEK_SET);
    cq_tensor *t = cq_tensor_empty(CQ_F32, 1, shape, &err);
    if (t && fread(cq_tensor_data(t), 4, (size_t)shape[0], f) != (size_t)shape[0]) {
        cq_tensor_release(t);
        t = NULL;
    }
    fclose(f);
    if (t) { /* touch it from user space, as a tensor computed by calq would be */
        volatile unsigned sink = 0;
        const unsigned char *p = cq_tensor_data(t);
        for (size_t i = 0; i < cq_tensor_nbytes(t); i += 64)
            sink += p[i];
    }
    return t;
}

/* Calibration-statistics shape: many tiny named tensors, read back by name. */
static int small(const char *path, int n)
{
    cq_err err;
    int64_t shape[1] = {2};
    cq_tensor *t = cq_tensor_empty(CQ_F32, 1, shape, &err);
    char name[64];
    double t0 = now();
    cq_tfile_writer *w = cq_tfile_create(path, &err);
    for (int i = 0; w && i < n; i++) {
        ((float *)cq_tensor_data(t))[0] = (float)-i;
        ((float *)cq_tensor_data(t))[1] = (float)i;
        snprintf(name, sizeof name, "/model/stage%d/conv%d/Relu_output_0", i / 100, i % 100);
        if (cq_tfile_add(w, name, t, &err) != CQ_OK) {
            cq_tfile_abort(w);
            w = NULL;
        }
    }
    if (!w || cq_tfile_close(w, &err) != CQ_OK) {
        fprintf(stderr, "bench_tfile: %s\n", err.msg);
        cq_tensor_release(t);
        return 1;
    }
    double t1 = now();
    cq_tfile *r = cq_tfile_open(path, &err);
    int bad = !r;
    for (int i = 0; r && i < n && !bad; i++) {
        snprintf(name, sizeof name, "/model/stage%d/conv%d/Relu_output_0", i / 100, i % 100);
        cq_tensor *x = cq_tfile_read_name(r, name, &err);
        bad = !x || ((float *)cq_tensor_data(x))[1] != (float)i;
        cq_tensor_release(x);
    }
    double t2 = now();
    cq_tfile_free(r);
    cq_tensor_release(t);
    if (bad) {
        fprintf(stderr, "bench_tfile: small tensors do not read back\n");
        return 1;
    }
    FILE *f = fopen(path, "rb");
    long size = -1;
    if (f && fseek(f, 0, SEEK_END) == 0)
        size = ftell(f);
    if (f)
        fclose(f);
    printf("%.6f %.6f %ld\n", t1 - t0, t2 - t1, size);
    return 0;
}

int main(int argc, char **argv)
{
    cq_err err;
    if (argc == 4 && strcmp(argv[1], "small") == 0)
        return small(argv[2], atoi(argv[3]));
    if (argc == 4 && strcmp(argv[1], "gen") == 0)
        return gen(argv[2], atol(argv[3]));
    if (argc != 4 || (strcmp(argv[1], "write") != 0 && strcmp(argv[1], "read") != 0)) {
        fprintf(stderr, "usage: bench_tfile gen RAW MIB | write RAW CALQ | read RAW CALQ | small CALQ N\n");
        return 2;
    }
    cq_tensor *t = load_raw(argv[2]);
    if (!t) {
        fprintf(stderr, "bench_tfile: cannot load %s\n", argv[2]);
        return 1;
    }
    int64_t n = cq_tensor_numel(t), shape[4] = {16, n / (16 * 256 * 256), 256, 256};
    cq_tensor *v = cq_tensor_view(t, 4, shape, &err);
    int rc = 0;
    if (strcmp(argv[1], "write") == 0) {
        double t0 = now();
        cq_tfile_writer *w = cq_tfile_create(argv[3], &err);
        cq_status st = w ? cq_tfile_add(w, "act", v, &err) : CQ_EIO;
        if (w && st != CQ_OK)
            cq_tfile_abort(w);
        else if (w)
            st = cq_tfile_close(w, &err);
        if (st != CQ_OK) {
            fprintf(stderr, "bench_tfile: %s\n", err.msg);
            rc = 1;
        } else {
            printf("%.6f %zu\n", now() - t0, cq_tensor_nbytes(v));
        }
    } else {
        double t0 = now();
        cq_tfile *r = cq_tfile_open(argv[3], &err);
        cq_tensor *back = r ? cq_tfile_read_name(r, "act", &err) : NULL;
        double dt = now() - t0;
        if (!back) {
            fprintf(stderr, "bench_tfile: %s\n", err.msg);
            rc = 1;
        } else if (memcmp(cq_tensor_data(back), cq_tensor_data(t), cq_tensor_nbytes(t)) != 0) {
            fprintf(stderr, "bench_tfile: %s does not read back what was written\n", argv[3]);
            rc = 1;
        } else {
            printf("%.6f %zu\n", dt, cq_tensor_nbytes(back));
        }
        cq_tensor_release(back);
        cq_tfile_free(r);
    }
    cq_tensor_release(v);
    cq_tensor_release(t);
    return rc;
}
