/* ops_resize.c - Resize (opset 10..17): nearest / linear / cubic, every
 * coordinate_transformation_mode, as a separable product of per-dim taps:
 * a planar path for nearest and linear over the last two dimensions (the
 * upsampling of detection necks and segmentation heads), and the generic
 * loop, its reference, for the rest. Measurements: bench/RESULTS.md, "fp32
 * zoo". */
#include "ops/ops_internal.h"

#include "base/par.h"
#include "kern/kern_qelt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Scales (per dim) and output shape. */
static cq_status resize_plan(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                             double *scale, int64_t *sh, cq_err *err)
{
    int r = in[0].ndim;
    int si = opset < 11 ? 1 : 2, zi = opset < 11 ? -1 : 3;
    int have_sizes = zi > 0 && n_in > zi && in[zi].ndim >= 0 && cq__numel(in[zi].ndim, in[zi].shape) > 0;
    int have_scales = n_in > si && in[si].ndim >= 0 && cq__numel(in[si].ndim, in[si].shape) > 0;
    if (have_sizes) {
        if (!in[zi].data)
            return cq__need_data(n, zi, err);
        if (cq__ints_of(in[zi].data, sh, CQ_MAX_DIMS) != r)
            return cq_errf(err, CQ_EINVAL, "Resize '%s': sizes must have %d entries", n->name, r);
        for (int i = 0; i < r; i++) {
            if (sh[i] < 0)
                return cq_errf(err, CQ_EINVAL, "Resize '%s': size %d is negative", n->name, i);
            scale[i] = in[0].shape[i] ? (double)sh[i] / (double)in[0].shape[i] : 1;
        }
        return CQ_OK;
    }
    if (!have_scales)
        return cq_errf(err, CQ_EINVAL, "Resize '%s': needs scales or sizes", n->name);
    if (!in[si].data)
        return cq__need_data(n, si, err);
    const cq_tensor *t = in[si].data;
    if (t->dtype != CQ_F32 || cq_tensor_numel(t) != r)
        return cq_errf(err, CQ_EINVAL, "Resize '%s': scales must be %d floats", n->name, r);
    const float *s = cq_tensor_data(t);
    for (int i = 0; i < r; i++) {
        if (!(s[i] > 0))
            return cq_errf(err, CQ_EINVAL, "Resize '%s': scale %d is not positive", n->name, i);
        scale[i] = s[i];
        double d = floor((double)in[0].shape[i] * (double)s[i]);
        if (!(d < 0x1p62)) /* the cast would overflow; no tensor is that large */
            return cq_errf(err, CQ_EINVAL, "Resize '%s': scale %d makes dim %d of %.0f", n->name,
                           i, i, d);
        sh[i] = (int64_t)d;
    }
    return CQ_OK;
}

cq_status cq__infer_resize(const cq_node *n, int64_t opset, int n_in, const cq_tinfo *in,
                           int n_out, cq_tinfo *out, cq_err *err)
{
    (void)n_out;
    double scale[CQ_MAX_DIMS];
    int64_t sh[CQ_MAX_DIMS];
    if (resize_plan(n, opset, n_in, in, scale, sh, err))
        return err->code;
    cq__same(&in[0], &out[0]);
    memcpy(out[0].shape, sh, sizeof(int64_t) * (size_t)in[0].ndim);
    return CQ_OK;
}

typedef struct {
    int64_t idx[4];
    float w[4];
    int nt;          /* taps; 0 = extrapolated (use extrapolation_value) */
} taps;

static void cubic_coeffs(double t, double a, double *c)
{
    double x;
    x = t + 1;
    c[0] = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    x = t;
    c[1] = ((a + 2) * x - (a + 3)) * x * x + 1;
    x = 1 - t;
    c[2] = ((a + 2) * x - (a + 3)) * x * x + 1;
    x = 2 - t;
    c[3] = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
}

int cq__resize_generic_only = 0;

static void resize_generic(const cq_tensor *x, cq_tensor *y, taps *const *td, float extra);
static void resize_nearest_8(const cq_tensor *x, cq_tensor *y, taps *const *td, int nhwc);
static void resize_nearest_pixels(int64_t n, int64_t h, int64_t w, int64_t oh, int64_t ow,
                                  size_t pb, const void *x, void *y, taps *const *td);

/* Whether the planar path applies: nearest or linear, the leading
 * dimensions kept as they are (one tap of weight 1 on the same index), and
 * no extrapolated tap in the last two. */
static int planar_ok(int r, const int64_t *xs, const int64_t *ys, int md, taps *const *td)
{
    if (r < 2 || md > 1)
        return 0;
    for (int d = 0; d < r - 2; d++) {
        if (xs[d] != ys[d])
            return 0;
        for (int64_t o = 0; o < ys[d]; o++) {
            const taps *t = &td[d][o];
            if (t->nt < 1 || t->idx[0] != o || t->w[0] != 1 || (t->nt > 1 && t->w[1] != 0))
                return 0;
        }
    }
    for (int d = r - 2; d < r; d++)
        for (int64_t o = 0; o < ys[d]; o++)
            if (!td[d][o].nt)
                return 0;
    return 1;
}

/* The planar path: per (leading index) plane, every input row resampled
 * along W once into a row buffer (the index tables read once per row), then
 * each output row a copy of one buffer row (nearest) or the blend of two
 * (linear): the inner loops stream contiguous rows with no index arithmetic. */
typedef struct {
    const float *x;
    float *y, *buf;                 /* buf: ih * ow floats per thread */
    int64_t planes, ih, iw, oh, ow;
    const taps *th, *tw;
    int linear;
    int64_t rep;                    /* nearest, each input column rep times in a row: the
                                     * taps as a plain repeat (0: use tw) */
} planes_ctx;

static void resample_plane(const planes_ctx *c, int64_t p, float *hb)
{
    const float *x = c->x + p * c->ih * c->iw;
    float *y = c->y + p * c->oh * c->ow;
    const int64_t ow = c->ow;
    for (int64_t h = 0; h < c->ih; h++) {
        const float *row = x + h * c->iw;
        float *b = hb + h * ow;
        if (c->linear)
            for (int64_t o = 0; o < ow; o++)
                b[o] = c->tw[o].w[0] * row[c->tw[o].idx[0]] + c->tw[o].w[1] * row[c->tw[o].idx[1]];
        else if (c->rep == 2)
            for (int64_t i = 0; i < c->iw; i++)
                b[2 * i] = b[2 * i + 1] = row[i];
        else if (c->rep)
            for (int64_t i = 0; i < c->iw; i++)
                for (int64_t k = 0; k < c->rep; k++)
                    b[i * c->rep + k] = row[i];
        else
            for (int64_t o = 0; o < ow; o++)
                b[o] = row[c->tw[o].idx[0]];
    }
    for (int64_t o = 0; o < c->oh; o++) {
        const taps *t = &c->th[o];
        const float *a = hb + t->idx[0] * ow;
        float *yr = y + o * ow;
        if (!c->linear || t->w[1] == 0) {
            memcpy(yr, a, (size_t)ow * sizeof *yr);
            continue;
        }
        cq_lerp_f32(a, hb + t->idx[1] * ow, t->w[0], t->w[1], yr, ow);
    }
}

static void planes_part(void *ctx, int i, int n, int tid)
{
    const planes_ctx *c = ctx;
    int64_t lo = c->planes * i / n, hi = c->planes * (i + 1) / n;
    for (int64_t p = lo; p < hi; p++)
        resample_plane(c, p, c->buf + (size_t)tid * (size_t)(c->ih * c->ow));
}

static cq_status resize_planes(const cq_node *n, const cq_tensor *x, cq_tensor *y, int md,
                               taps *const *td, cq_openv *env, cq_err *err)
{
    int r = x->ndim;
    planes_ctx c;
    c.x = cq_tensor_data(x);
    c.y = cq_tensor_data(y);
    c.ih = x->shape[r - 2];
    c.iw = x->shape[r - 1];
    c.oh = y->shape[r - 2];
    c.ow = y->shape[r - 1];
    c.th = td[r - 2];
    c.tw = td[r - 1];
    c.linear = md == 1;
    c.rep = 0;
    if (!c.linear && c.iw && c.ow % c.iw == 0) {
        /* the 4-byte taps table read per element costs more than the copy
         * (U-Net's x2 upsampling): a plain repeat where that is what it says */
        c.rep = c.ow / c.iw;
        for (int64_t o = 0; o < c.ow && c.rep; o++)
            if (c.tw[o].idx[0] != o / c.rep)
                c.rep = 0;
    }
    c.planes = cq__numel(r - 2, x->shape);
    if (!c.planes || !c.oh || !c.ow)
        return CQ_OK;
    int threads = cq_par_threads();
    c.buf = cq__scratch(env, (size_t)threads * (size_t)(c.ih * c.ow) * sizeof(float));
    if (!c.buf)
        return cq_errf(err, CQ_ENOMEM, "Resize '%s': out of memory", n->name);
    int shares = c.planes < threads ? (int)c.planes : threads;
    cq_par_run(shares, planes_part, &c);
    return CQ_OK;
}

/* Whether the nearest taps over H and W (td[2], td[3]) are output a from
 * input a / f with f = out / in whole (an upsampling by f: the ONNX exports'
 * scale 2 nearest with asymmetric / floor, or half_pixel / round_prefer_floor,
 * where (a + 0.5) / 2 - 0.5 rounds down to a / 2). */
static int whole_factors(const cq_tensor *x, const cq_tensor *y, taps *const *td)
{
    for (int d = 2; d < 4; d++) {
        int64_t in = x->shape[d], out = y->shape[d];
        if (in <= 0 || out % in)
            return 0;
        for (int64_t o = 0; o < out; o++)
            if (td[d][o].nt != 1 || td[d][o].idx[0] != o / (out / in))
                return 0;
    }
    return 1;
}

int cq__resize_blocked_ok(const cq_graph *g, const cq_node *n, int x_blocked)
{
    if (!x_blocked || n->n_inputs < 1 || n->inputs[0] < 0 || n->n_outputs != 1 ||
        n->outputs[0] < 0 || strcmp(cq_node_string(n, "mode", "nearest"), "nearest"))
        return 0;
    const cq_value *x = &g->values[n->inputs[0]], *y = &g->values[n->outputs[0]];
    if (!x->has_type || !y->has_type ||
        (x->dtype != CQ_U8 && x->dtype != CQ_S8 && x->dtype != CQ_F32) || x->ndim != 4 ||
        y->ndim != 4 || (x->dtype == CQ_F32 && x->shape[1] % 16))
        return 0;
    for (int d = 0; d < 4; d++)
        if (x->shape[d] <= 0 || y->shape[d] <= 0)
            return 0;
    /* N and C kept: the NHWC loop resizes H and W only */
    return x->shape[0] == y->shape[0] && x->shape[1] == y->shape[1];
}

cq_status cq__run_resize(const cq_node *n, int n_in, cq_tensor *const *in, int n_out,
                         cq_tensor *const *out, cq_openv *env, cq_err *err)
{
    (void)n_out;
    const cq_tensor *x = in[0];
    cq_tensor *y = out[0];
    int codes = x->dtype == CQ_U8 || x->dtype == CQ_S8;
    if (x->dtype != CQ_F32 && !codes)
        return cq_errf(err, CQ_EUNSUPPORTED, "Resize '%s': f32, u8 or s8 only", n->name);
    int r = x->ndim;
    cq_tinfo ti[4];
    cq_tinfo_of(n_in < 4 ? n_in : 4, in, ti);
    double scale[CQ_MAX_DIMS];
    int64_t sh[CQ_MAX_DIMS];
    if (resize_plan(n, env->opset, n_in < 4 ? n_in : 4, ti, scale, sh, err))
        return err->code;
    const char *mode = cq_node_string(n, "mode", "nearest");
    const char *ctm = cq_node_string(n, "coordinate_transformation_mode",
                                     env->opset < 11 ? "asymmetric" : "half_pixel");
    const char *nm = cq_node_string(n, "nearest_mode", env->opset < 11 ? "floor" : "round_prefer_floor");
    double A = cq_node_float(n, "cubic_coeff_a", -0.75f);
    int excl = (int)cq_node_int(n, "exclude_outside", 0);
    float extra = cq_node_float(n, "extrapolation_value", 0.0f);
    int md = !strcmp(mode, "nearest") ? 0 : !strcmp(mode, "linear") ? 1 : !strcmp(mode, "cubic") ? 2 : -1;
    if (md < 0)
        return cq_errf(err, CQ_EUNSUPPORTED, "Resize '%s': mode '%s'", n->name, mode);
    const float *roi = NULL;
    if (env->opset >= 11 && n_in > 1 && in[1] && cq_tensor_numel(in[1]) == 2 * r &&
        in[1]->dtype == CQ_F32)
        roi = cq_tensor_data(in[1]);
    int64_t ntaps = 0;
    for (int d = 0; d < r; d++)
        ntaps += y->shape[d];
    taps *tp = calloc((size_t)(ntaps ? ntaps : 1), sizeof *tp);
    if (!tp)
        return cq_errf(err, CQ_ENOMEM, "Resize '%s': out of memory", n->name);
    taps *td[CQ_MAX_DIMS];
    int64_t pos = 0;
    for (int d = 0; d < r; d++) {
        td[d] = tp + pos;
        pos += y->shape[d];
        int64_t li = x->shape[d], lo = y->shape[d];
        double s = scale[d];
        /* The ONNX reference takes length_resized as in * scale, unrounded. */
        double lf = (double)li * s;
        for (int64_t o = 0; o < lo; o++) {
            taps *t = &td[d][o];
            double xo;
            if (!strcmp(ctm, "half_pixel"))
                xo = (o + 0.5) / s - 0.5;
            else if (!strcmp(ctm, "pytorch_half_pixel"))
                xo = lf > 1 ? (o + 0.5) / s - 0.5 : 0;
            else if (!strcmp(ctm, "align_corners"))
                xo = lf == 1 ? 0 : (double)o * (double)(li - 1) / (lf - 1);
            else if (!strcmp(ctm, "asymmetric"))
                xo = o / s;
            else if (!strcmp(ctm, "tf_half_pixel_for_nn"))
                xo = (o + 0.5) / s;
            else if (!strcmp(ctm, "tf_crop_and_resize")) {
                double a = roi ? roi[d] : 0, b = roi ? roi[r + d] : 1;
                xo = lf > 1 ? a * (double)(li - 1) + (double)o * (b - a) * (double)(li - 1) / (lf - 1)
                            : 0.5 * (a + b) * (double)(li - 1);
                if (xo < 0 || xo > (double)(li - 1)) {
                    t->nt = 0;
                    continue;
                }
            } else {
                free(tp);
                return cq_errf(err, CQ_EUNSUPPORTED, "Resize '%s': coordinate mode '%s'", n->name,
                               ctm);
            }
            if (md == 0) {
                double f = floor(xo), fr = xo - f;
                int64_t k;
                if (!strcmp(nm, "floor"))
                    k = (int64_t)f;
                else if (!strcmp(nm, "ceil"))
                    k = (int64_t)ceil(xo);
                else if (!strcmp(nm, "round_prefer_ceil"))
                    k = (int64_t)(fr >= 0.5 ? f + 1 : f);
                else
                    k = (int64_t)(fr > 0.5 ? f + 1 : f);
                k = k < 0 ? 0 : k >= li ? li - 1 : k;
                t->nt = 1;
                t->idx[0] = k;
                t->w[0] = 1;
            } else if (md == 1) {
                if (xo < 0)
                    xo = 0;
                if (xo > (double)(li - 1))
                    xo = (double)(li - 1);
                int64_t k = (int64_t)floor(xo);
                double fr = xo - (double)k;
                t->nt = 2;
                t->idx[0] = k;
                t->idx[1] = k + 1 < li ? k + 1 : li - 1;
                t->w[0] = (float)(1 - fr);
                t->w[1] = (float)fr;
            } else {
                int64_t k = (int64_t)floor(xo);
                double fr = xo - (double)k, c[4], sum = 0;
                cubic_coeffs(fr, A, c);
                t->nt = 4;
                for (int j = 0; j < 4; j++) {
                    int64_t q = k - 1 + j;
                    if (excl && (q < 0 || q >= li))
                        c[j] = 0;
                    sum += c[j];
                    t->idx[j] = q < 0 ? 0 : q >= li ? li - 1 : q;
                }
                for (int j = 0; j < 4; j++)
                    t->w[j] = (float)(excl && sum != 0 ? c[j] / sum : c[j]);
            }
        }
    }
    if (codes) {
        /* 8-bit codes (a quantized model's nearest upsampling): nearest only,
         * each output a copy of one input value */
        cq_status s8 = md == 0 ? (resize_nearest_8(x, y, td, env->x_blocked), CQ_OK)
                               : cq_errf(err, CQ_EUNSUPPORTED, "Resize '%s': 8-bit codes take "
                                         "mode 'nearest' only", n->name);
        free(tp);
        return s8;
    }
    if (env->x_blocked) {
        /* f32 NCHW16c (cq__resize_blocked_ok: nearest, N and C kept):
         * the NHWC loop over planes of 16-channel pixels, 64 bytes each */
        cq_status sb = md == 0 && x->ndim == 4 && x->shape[1] % 16 == 0 && whole_factors(x, y, td)
                           ? (cq_upsample_blocked_f32(x->shape[0] * x->shape[1] / 16, x->shape[2],
                                                      x->shape[3], y->shape[2] / x->shape[2],
                                                      y->shape[3] / x->shape[3], cq_tensor_data(x),
                                                      cq_tensor_data(y)),
                              CQ_OK)
                       : md == 0 && x->ndim == 4 && x->shape[1] % 16 == 0
                           ? (resize_nearest_pixels(x->shape[0] * x->shape[1] / 16,
                                                    x->shape[2], x->shape[3], y->shape[2],
                                                    y->shape[3], 16 * sizeof(float),
                                                    cq_tensor_data(x), cq_tensor_data(y), td),
                              CQ_OK)
                           : cq_errf(err, CQ_ESTATE, "Resize '%s': NCHW16c planned for a "
                                     "resize it does not take", n->name);
        free(tp);
        return sb;
    }
    cq_status st = !cq__resize_generic_only && planar_ok(r, x->shape, y->shape, md, td)
                       ? resize_planes(n, x, y, md, td, env, err)
                       : (resize_generic(x, y, td, extra), CQ_OK);
    free(tp);
    return st;
}

/* Nearest on n images of (h, w) pixels of pb bytes each (NHWC codes, or
 * the 16-channel planes of NCHW16c floats) into (oh, ow): each output pixel
 * a copy of one input pixel (the H and W taps td[2], td[3]), zeros where a
 * tap is out of range (tf_crop_and_resize). */
static void resize_nearest_pixels(int64_t n, int64_t h, int64_t w, int64_t oh, int64_t ow,
                                  size_t pb, const void *x, void *y, taps *const *td)
{
    const uint8_t *px = x;
    uint8_t *py = y;
    for (int64_t i = 0; i < n; i++)
        for (int64_t a = 0; a < oh; a++) {
            const taps *th = &td[2][a];
            uint8_t *dst = py + (size_t)((i * oh + a) * ow) * pb;
            if (!th->nt) {
                memset(dst, 0, (size_t)ow * pb);
                continue;
            }
            const uint8_t *src = px + (size_t)((i * h + th->idx[0]) * w) * pb;
            if (pb == 64) /* a line of 16 floats: the copy inlined */
                for (int64_t b = 0; b < ow; b++) {
                    const taps *tw = &td[3][b];
                    if (tw->nt)
                        memcpy(dst + (size_t)b * 64, src + (size_t)tw->idx[0] * 64, 64);
                    else
                        memset(dst + (size_t)b * 64, 0, 64);
                }
            else
            for (int64_t b = 0; b < ow; b++) {
                const taps *tw = &td[3][b];
                if (tw->nt)
                    memcpy(dst + (size_t)b * pb, src + (size_t)tw->idx[0] * pb, pb);
                else
                    memset(dst + (size_t)b * pb, 0, pb);
            }
        }
}

/* Nearest on bytes: the last dimension's taps as a table of offsets, each
 * output row a gather from its source row (rows of the other dimensions
 * chosen the same way, odometer style). Out-of-range taps (tf_crop_and_resize)
 * give 0. */
static void resize_nearest_8(const cq_tensor *x, cq_tensor *y, taps *const *td, int nhwc)
{
    int r = x->ndim;
    if (nhwc && whole_factors(x, y, td)) {
        /* NHWC codes by whole factors (U-Net's 2x upsampling): each input
         * row expanded once in vectors, then copied to its output rows */
        cq_upsample_8(x->shape[0], x->shape[2], x->shape[3], x->shape[1],
                      y->shape[2] / x->shape[2], y->shape[3] / x->shape[3], cq_tensor_data(x),
                      cq_tensor_data(y));
        return;
    }
    if (nhwc) {
        /* NHWC codes (the executor's layout between int8 kernels; N and C
         * kept, blocked_ok): one pixel's c bytes at a time */
        resize_nearest_pixels(y->shape[0], x->shape[2], x->shape[3], y->shape[2], y->shape[3],
                              (size_t)y->shape[1], cq_tensor_data(x), cq_tensor_data(y), td);
        return;
    }
    const uint8_t *px = cq_tensor_data(x);
    uint8_t *py = cq_tensor_data(y);
    int64_t wo = r ? y->shape[r - 1] : 1, rows = wo ? cq_tensor_numel(y) / wo : 0;
    int64_t idx[CQ_MAX_DIMS] = {0};
    for (int64_t i = 0; i < rows; i++) {
        int64_t off = 0;
        int ok = 1;
        for (int d = 0; d + 1 < r; d++) {
            const taps *t = &td[d][idx[d]];
            ok &= t->nt > 0;
            off += t->nt ? t->idx[0] * x->stride[d] : 0;
        }
        uint8_t *yr = py + i * wo;
        const uint8_t *xr = px + off;
        const taps *tl = r ? td[r - 1] : NULL;
        for (int64_t o = 0; o < wo; o++)
            yr[o] = ok && (!tl || tl[o].nt) ? xr[tl ? tl[o].idx[0] : 0] : 0;
        for (int d = r - 2; d >= 0; d--) {
            if (++idx[d] < y->shape[d])
                break;
            idx[d] = 0;
        }
    }
}

/* The reference: every output element as the sum over its taps in every
 * dimension, indices computed per element. */
static void resize_generic(const cq_tensor *x, cq_tensor *y, taps *const *td, float extra)
{
    int r = x->ndim;
    const float *px = cq_tensor_data(x);
    float *py = cq_tensor_data(y);
    int64_t total = cq_tensor_numel(y), idx[CQ_MAX_DIMS] = {0}, xs[CQ_MAX_DIMS];
    for (int d = 0; d < r; d++)
        xs[d] = x->stride[d] / 4;
    for (int64_t i = 0; i < total; i++) {
        const taps *cur[CQ_MAX_DIMS];
        int ok = 1;
        for (int d = 0; d < r; d++) {
            cur[d] = &td[d][idx[d]];
            if (!cur[d]->nt)
                ok = 0;
        }
        double acc = 0;
        if (ok) {
            int tj[CQ_MAX_DIMS] = {0};
            for (;;) {
                double w = 1;
                int64_t off = 0;
                for (int d = 0; d < r; d++) {
                    w *= cur[d]->w[tj[d]];
                    off += cur[d]->idx[tj[d]] * xs[d];
                }
                acc += w * px[off];
                int d = r - 1;
                for (; d >= 0; d--) {
                    if (++tj[d] < cur[d]->nt)
                        break;
                    tj[d] = 0;
                }
                if (d < 0)
                    break;
            }
        } else {
            acc = extra;
        }
        py[i] = (float)acc;
        for (int d = r - 1; d >= 0; d--) {
            if (++idx[d] < y->shape[d])
                break;
            idx[d] = 0;
        }
    }
}
