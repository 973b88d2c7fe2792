/* observer.c - driver for bench/observer.sh: calibration histogram collection
 * (elements/s, one thread) with the scalar and the AVX-512 kernels, and the
 * time of the entropy, asymmetric entropy and L2 (MSE) threshold searches on
 * the resulting histogram.
 *
 *   observer [MELEM] [REPS] [BATCH...]     defaults 16 5 1048576 524288
 *
 * Data: MELEM million values of N(0, 1) ("gauss"), then the same through a
 * ReLU ("relu": half exact zeros, the worst case for increments that hit one
 * bin). One observer takes them all, BATCH values an update: 1048576 is a
 * 64x128x128 activation (4 MiB, twice the L2 of the machine in RESULTS.md),
 * 524288 a 32x128x128 one (BlazeFace's first layers at 256x256). Each batch
 * is new data, so it comes from memory, not from cache. For comparison,
 * "cached" feeds the same 32768 values (128 KiB, in L2) MELEM / 0.032768
 * times. Each figure is the best of REPS runs. Output lines:
 *   collect ISA DATA BATCH MELEM_PER_S        (BATCH "cached" for the above)
 *   search METHOD DATA MS LO HI               (on the histogram of all the data)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "calib/observer.h"
#include "kern/kern.h"

#define CACHED 32768

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static double unif(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (double)((rng * 0x2545f4914f6cdd1dull) >> 11) / 9007199254740992.0;
}

static float normal(void) /* Box-Muller */
{
    double u = unif(), v = unif();
    return (float)(sqrt(-2.0 * log(u + 1e-300)) * cos(6.283185307179586 * v));
}

static void update(cq_observer *o, const float *x, int64_t n)
{
    cq_err err;
    if (cq_observer_update(o, x, n, &err)) {
        fprintf(stderr, "observer: %s\n", err.msg);
        exit(1);
    }
}

/* An observer fed x[0..n) BATCH at a time (batch 0: the first CACHED values
 * n / CACHED times); the elapsed time in *sec. */
static cq_observer *collect(const float *x, int64_t n, int64_t batch, double *sec)
{
    cq_err err;
    cq_observer *o = cq_observer_new(CQ_OBS_HIST, NULL, &err);
    if (!o) {
        fprintf(stderr, "observer: %s\n", err.msg);
        exit(1);
    }
    double t0 = now();
    if (batch == 0)
        for (int64_t t = 0; t + CACHED <= n; t += CACHED)
            update(o, x, CACHED);
    else
        for (int64_t t = 0; t < n; t += batch)
            update(o, x + t, n - t < batch ? n - t : batch);
    cq_observer_info in;
    cq_observer_get_info(o, &in); /* includes the last fold */
    *sec = now() - t0;
    return o;
}

int main(int argc, char **argv)
{
    int64_t n = (int64_t)((argc > 1 ? atof(argv[1]) : 16) * 1e6);
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    int64_t batches[16] = {1048576, 524288};
    int nbatch = 2;
    if (argc > 3) {
        nbatch = 0;
        for (int a = 3; a < argc && nbatch < 15; a++)
            batches[nbatch++] = atoll(argv[a]);
    }
    batches[nbatch++] = 0; /* cached */
    float *x = malloc((size_t)n * sizeof *x);
    if (!x || reps < 1 || n < CACHED)
        return 1;
    for (int b = 0; b < nbatch - 1; b++)
        if (batches[b] < 1)
            return 1;
    const char *data[2] = {"gauss", "relu"};
    for (int d = 0; d < 2; d++) {
        for (int64_t i = 0; i < n; i++) {
            float v = normal();
            x[i] = d == 1 && v < 0 ? 0.0f : v;
        }
        const cq_isa isas[2] = {CQ_ISA_SCALAR, CQ_ISA_AVX512};
        for (int k = 0; k < 2; k++) {
            if (cq_kern_set_isa(isas[k]) != isas[k])
                continue;
            for (int b = 0; b < nbatch; b++) {
                double best = 1e30, t;
                for (int r = 0; r < reps; r++) {
                    cq_observer_free(collect(x, n, batches[b], &t));
                    best = t < best ? t : best;
                }
                int64_t seen = batches[b] ? n : n / CACHED * CACHED;
                if (batches[b])
                    printf("collect %s %s %lld %.1f\n", cq_isa_name(isas[k]), data[d],
                           (long long)batches[b], (double)seen / best / 1e6);
                else
                    printf("collect %s %s cached %.1f\n", cq_isa_name(isas[k]), data[d],
                           (double)seen / best / 1e6);
            }
        }
        double t;
        cq_observer *o = collect(x, n, batches[0], &t);
        const cq_calib_method ms[3] = {CQ_CALIB_ENTROPY, CQ_CALIB_ENTROPY_ASYM, CQ_CALIB_MSE};
        for (int m = 0; m < 3; m++) {
            cq_calib_spec spec = {CQ_S8, 1, ms[m], 0, CQ_CALIB_ZERO_KEEP};
            double best = 1e30;
            float lo, hi;
            cq_err err;
            for (int r = 0; r < reps; r++) {
                double t0 = now();
                if (cq_observer_range(o, &spec, &lo, &hi, &err)) {
                    fprintf(stderr, "observer: %s\n", err.msg);
                    return 1;
                }
                double dt = now() - t0;
                best = dt < best ? dt : best;
            }
            printf("search %s %s %.3f %g %g\n", cq_calib_method_name(ms[m]), data[d], best * 1e3,
                   (double)lo, (double)hi);
        }
        cq_observer_free(o);
    }
    free(x);
    return 0;
}
