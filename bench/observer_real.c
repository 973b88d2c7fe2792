/* observer_real.c - the observers on real activations (bench/observer_real.sh):
 * a model run over a set of images, every tensor the quantized graph will
 * quantize observed as calibration observes it (calibrate.h: histograms of
 * 2048 bins a side, the fp32 executor's observer hook after fused Relu/Clip),
 * then each method's clipping range, and how well u8 asymmetric quantization
 * with that range keeps each tensor: a second pass over the same images
 * quantizes every observed tensor with every range and sums the error.
 *
 *   observer_real MODEL PRESET IMAGE...     (e.g. BlazeFace back-256, blazeface)
 *
 * Output, one line per observed node output (graph inputs are left out):
 *   tensor NAME OP MIN MAX | per method: LO HI SQNR_DB
 * then per method: the mean SQNR over the tensors, how many tensors it is the
 * best method for (within 0.05 dB), and how many it clips below max |x|:
 *   method NAME MEAN_SQNR_DB BEST CLIPPED
 * SQNR = 10 log10(sum x^2 / sum (x - dequant(quant(x)))^2) over all images.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calib/calibrate.h"
#include "exec/exec.h"
#include "image/image.h"
#include "image/preproc.h"
#include "onnx/onnx.h"

enum { NM = 7 };
static const struct {
    const char *name;
    cq_calib_method method;
    double percentile;
    cq_calib_zero_bin zero_bin;
} methods[NM] = {
    {"minmax", CQ_CALIB_MINMAX, 0, CQ_CALIB_ZERO_KEEP},
    {"p99.99", CQ_CALIB_PERCENTILE, 99.99, CQ_CALIB_ZERO_KEEP},
    {"entropy", CQ_CALIB_ENTROPY, 0, CQ_CALIB_ZERO_KEEP},
    {"entropy_nz", CQ_CALIB_ENTROPY, 0, CQ_CALIB_ZERO_AS_NEXT},
    {"entropy_asym", CQ_CALIB_ENTROPY_ASYM, 0, CQ_CALIB_ZERO_KEEP},
    {"entropy_asym_nz", CQ_CALIB_ENTROPY_ASYM, 0, CQ_CALIB_ZERO_AS_NEXT},
    {"mse", CQ_CALIB_MSE, 0, CQ_CALIB_ZERO_KEEP},
};

/* One observed tensor: its ranges and u8 parameters per method, the sums. */
typedef struct obs_row {
    const char *name;
    const char *op;
    float min, max;
    float lo[NM], hi[NM], scale[NM];
    int32_t zp[NM];
    double signal, noise[NM];
} obs_row;

typedef struct pass2 {
    obs_row *rows;
    int n_rows;
    const cq_calib_stats *stats;
} pass2;

static void die(const char *what, const cq_err *err)
{
    fprintf(stderr, "observer_real: %s: %s\n", what, err ? err->msg : "");
    exit(1);
}

static int find_row(const pass2 *p, const char *name)
{
    for (int r = 0; r < p->n_rows; r++)
        if (!strcmp(p->rows[r].name, name))
            return r;
    return -1;
}

/* The executor's hook: quantize the tensor with every method's parameters. */
static int observe(void *ud, const cq_graph *g, int node, int output, const cq_tensor *t)
{
    pass2 *p = ud;
    int v = g->nodes[node].outputs[output];
    if (v < 0 || t->dtype != CQ_F32 || !cq_tensor_is_contiguous(t))
        return 0;
    int r = find_row(p, g->values[v].name);
    if (r < 0)
        return 0;
    obs_row *o = &p->rows[r];
    const float *x = cq_tensor_data(t);
    int64_t n = cq_tensor_numel(t);
    double sig = 0.0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(x[i]))
            sig += (double)x[i] * x[i];
    o->signal += sig;
    for (int m = 0; m < NM; m++) {
        float s = o->scale[m];
        int32_t zp = o->zp[m];
        double e = 0.0;
        for (int64_t i = 0; i < n; i++) {
            if (!isfinite(x[i]))
                continue;
            float d = (float)cq_round_sat(x[i] / s, 0 - zp, 255 - zp) * s - x[i];
            e += (double)d * d;
        }
        o->noise[m] += e;
    }
    return 0;
}

static double sqnr(double signal, double noise)
{
    return noise > 0 ? 10.0 * log10(signal / noise) : INFINITY;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: observer_real MODEL PRESET IMAGE...\n");
        return 2;
    }
    cq_err err;
    cq_preproc_spec spec;
    if (cq_preproc_preset(argv[2], &spec, &err))
        die(argv[2], &err);
    int n_img = argc - 3;
    cq_tensor **xs = calloc((size_t)n_img, sizeof *xs);
    for (int k = 0; k < n_img; k++) {
        cq_image *im = cq_image_load(argv[3 + k], 0, &err);
        if (!im)
            die(argv[3 + k], &err);
        const cq_image *ims[1] = {im};
        xs[k] = cq_preproc_batch(&spec, ims, 1, NULL, &err);
        cq_image_free(im);
        if (!xs[k])
            die(argv[3 + k], &err);
    }
    cq_graph *g = cq_onnx_load(argv[1], &err);
    if (!g)
        die(argv[1], &err);

    /* pass 1: the statistics, as calq calibrate gathers them */
    cq_calib *c = cq_calib_new(g, NULL, &err);
    if (!c)
        die("calibrator", &err);
    for (int k = 0; k < n_img; k++)
        if (cq_calib_feed(c, 1, &xs[k], &err))
            die(argv[3 + k], &err);
    const cq_calib_stats *st = cq_calib_get_stats(c);
    int n_obs = cq_calib_stats_count(st);
    pass2 p = {calloc((size_t)n_obs, sizeof(obs_row)), 0, st};
    for (int i = 0; i < n_obs; i++) {
        const char *name = cq_calib_stats_name(st, i);
        int v = cq_graph_value(g, name, &err);
        if (v < 0 || g->values[v].producer < 0)
            continue; /* graph inputs: the preprocessed image */
        obs_row *o = &p.rows[p.n_rows++];
        cq_observer *ob = cq_calib_stats_at(st, i);
        cq_observer_info in;
        cq_observer_get_info(ob, &in);
        o->name = name;
        o->op = g->nodes[g->values[v].producer].op_type;
        o->min = in.min;
        o->max = in.max;
        for (int m = 0; m < NM; m++) {
            cq_calib_spec cs = {CQ_U8, 0, methods[m].method, methods[m].percentile,
                                methods[m].zero_bin};
            if (cq_observer_range(ob, &cs, &o->lo[m], &o->hi[m], &err) ||
                cq_calib_scale_zp(o->lo[m], o->hi[m], CQ_U8, 0, &o->scale[m], &o->zp[m], &err))
                die(name, &err);
        }
    }

    /* pass 2: the quantization error of each range on the same activations */
    cq_exec_opts eo = CQ_EXEC_OPTS_DEFAULT;
    eo.fuse = CQ_FUSE_ACT;
    cq_exec *e = cq_exec_new(g, &eo, &err);
    if (!e)
        die("executor", &err);
    cq_exec_set_observer(e, observe, &p);
    cq_tensor **outs = calloc((size_t)g->n_outputs, sizeof *outs);
    for (int k = 0; k < n_img; k++) {
        if (cq_exec_run(e, 1, &xs[k], outs, &err))
            die(argv[3 + k], &err);
        for (int o = 0; o < g->n_outputs; o++)
            cq_tensor_release(outs[o]);
    }

    printf("images %d tensors %d (u8 asymmetric; per method: lo hi SQNR dB)\n", n_img, p.n_rows);
    printf("tensor name op min max");
    for (int m = 0; m < NM; m++)
        printf(" | %s", methods[m].name);
    printf("\n");
    double mean[NM] = {0};
    int best[NM] = {0}, clipped[NM] = {0};
    for (int r = 0; r < p.n_rows; r++) {
        obs_row *o = &p.rows[r];
        printf("tensor %s %s %.4g %.4g", o->name, o->op, (double)o->min, (double)o->max);
        double top = -INFINITY, q[NM];
        for (int m = 0; m < NM; m++) {
            q[m] = sqnr(o->signal, o->noise[m]);
            top = q[m] > top ? q[m] : top;
            printf(" | %.4g %.4g %.2f", (double)o->lo[m], (double)o->hi[m], q[m]);
        }
        printf("\n");
        for (int m = 0; m < NM; m++) {
            mean[m] += q[m] / p.n_rows;
            best[m] += q[m] >= top - 0.05;
            clipped[m] += o->lo[m] > o->min || o->hi[m] < o->max;
        }
    }
    for (int m = 0; m < NM; m++)
        printf("method %s %.2f %d %d\n", methods[m].name, mean[m], best[m], clipped[m]);
    free(outs);
    cq_exec_free(e);
    cq_calib_free(c);
    cq_graph_free(g);
    for (int k = 0; k < n_img; k++)
        cq_tensor_release(xs[k]);
    free(xs);
    free(p.rows);
    return 0;
}
