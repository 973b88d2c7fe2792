/* observer.c - driver for bench/observer.sh: calibration histogram collection
 * (elements/s, one thread) with the scalar and the AVX-512 kernels, and the
 * time of the entropy, asymmetric entropy and L2 (MSE) threshold searches on
 * the resulting histogram.
 *
 *   observer [MELEM] [BATCH] [REPS]     defaults 16 1048576 5
 *
 * Data: MELEM million values of N(0, 1) ("gauss"), then the same through a
 * ReLU ("relu": half exact zeros, the worst case for increments that hit one
 * bin). Each figure is the best of REPS runs. Output lines:
 *   collect ISA DATA MELEM_PER_S
 *   search METHOD DATA MS
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "calib/observer.h"
#include "kern/kern.h"

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

static cq_observer *collect(const float *x, int64_t n, int64_t batch)
{
    cq_err err;
    cq_observer *o = cq_observer_new(CQ_OBS_HIST, NULL, &err);
    if (!o) {
        fprintf(stderr, "observer: %s\n", err.msg);
        exit(1);
    }
    for (int64_t t = 0; t < n; t += batch)
        if (cq_observer_update(o, x + t, n - t < batch ? n - t : batch, &err)) {
            fprintf(stderr, "observer: %s\n", err.msg);
            exit(1);
        }
    return o;
}

int main(int argc, char **argv)
{
    int64_t n = (int64_t)(argc > 1 ? atof(argv[1]) : 16) * 1000000;
    int64_t batch = argc > 2 ? atoll(argv[2]) : 1048576;
    int reps = argc > 3 ? atoi(argv[3]) : 5;
    float *x = malloc((size_t)n * sizeof *x);
    if (!x || batch < 1)
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
            double best = 1e30;
            for (int r = 0; r < reps; r++) {
                double t0 = now();
                cq_observer *o = collect(x, n, batch);
                cq_observer_info in;
                cq_observer_get_info(o, &in); /* includes the last fold */
                double t = now() - t0;
                best = t < best ? t : best;
                cq_observer_free(o);
            }
            printf("collect %s %s %.1f\n", cq_isa_name(isas[k]), data[d], (double)n / best / 1e6);
        }
        cq_observer *o = collect(x, n, batch);
        const cq_calib_method ms[3] = {CQ_CALIB_ENTROPY, CQ_CALIB_ENTROPY_ASYM, CQ_CALIB_MSE};
        for (int m = 0; m < 3; m++) {
            cq_calib_spec spec = {CQ_S8, 1, ms[m], 0};
            double best = 1e30;
            float lo, hi;
            cq_err err;
            for (int r = 0; r < reps; r++) {
                double t0 = now();
                if (cq_observer_range(o, &spec, &lo, &hi, &err)) {
                    fprintf(stderr, "observer: %s\n", err.msg);
                    return 1;
                }
                double t = now() - t0;
                best = t < best ? t : best;
            }
            printf("search %s %s %.3f %g %g\n", cq_calib_method_name(ms[m]), data[d], best * 1e3,
                   (double)lo, (double)hi);
        }
        cq_observer_free(o);
    }
    free(x);
    return 0;
}
