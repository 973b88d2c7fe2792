/* qparams.c - clipping ranges, scales and zero points (observer.h): from an
 * observer's summary, or straight from weights. */
#include "calib/calib_internal.h"
#include "calib/calib_search.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Quantized levels of TensorRT's entropy search (the positive half of s8). */
#define KL_LEVELS 128
/* Quantized bins of PyTorch's L2 search (2^8). */
#define L2_BINS 256

void cq_calib_qrange(cq_dtype dt, int symmetric, int32_t *qmin, int32_t *qmax)
{
    if (dt == CQ_U8) {
        *qmin = symmetric ? 1 : 0;
        *qmax = 255;
    } else {
        *qmin = symmetric ? -127 : -128;
        *qmax = 127;
    }
}

cq_status cq_calib_scale_zp(float lo, float hi, cq_dtype dt, int symmetric, float *scale,
                            int32_t *zp, cq_err *err)
{
    if (dt != CQ_S8 && dt != CQ_U8)
        return cq_errf(err, CQ_EINVAL, "quantization parameters: dtype %d is not s8 or u8", (int)dt);
    if (!isfinite(lo) || !isfinite(hi))
        return cq_errf(err, CQ_EINVAL, "quantization parameters: range [%g, %g] is not finite",
                       (double)lo, (double)hi);
    int32_t qmin, qmax;
    cq_calib_qrange(dt, symmetric, &qmin, &qmax);
    float l = lo < 0.0f ? lo : 0.0f, h = hi > 0.0f ? hi : 0.0f;
    double span = symmetric ? (-l > h ? -l : h) / 127.0 : ((double)h - l) / 255.0;
    float s = (float)span;
    if (span == 0.0)
        s = 1.0f; /* an all-zero range: any scale holds 0 exactly */
    else if (s < FLT_MIN)
        s = FLT_MIN;
    *scale = s;
    if (symmetric)
        *zp = dt == CQ_U8 ? 128 : 0;
    else {
        float z = (float)qmin - nearbyintf(l / s);
        *zp = z < (float)qmin ? qmin : z > (float)qmax ? qmax : (int32_t)z;
    }
    return CQ_OK;
}

void cq_qparams_clear(cq_qparams *q)
{
    if (!q)
        return;
    cq_tensor_release(q->scale);
    cq_tensor_release(q->zero_point);
    memset(q, 0, sizeof *q);
    q->axis = -1;
}

static cq_status check_spec(const cq_calib_spec *spec, cq_err *err)
{
    if (!spec || (spec->dtype != CQ_S8 && spec->dtype != CQ_U8))
        return cq_errf(err, CQ_EINVAL, "calibration: dtype must be s8 or u8");
    if ((int)spec->method < 0 || spec->method >= CQ_CALIB_METHOD_COUNT)
        return cq_errf(err, CQ_EINVAL, "calibration: unknown method %d", (int)spec->method);
    if (spec->method == CQ_CALIB_PERCENTILE && !(spec->percentile > 0 && spec->percentile <= 100))
        return cq_errf(err, CQ_EINVAL, "calibration: percentile %g (in (0, 100])",
                       spec->percentile);
    if ((int)spec->zero_bin < 0 || spec->zero_bin >= CQ_CALIB_ZERO_BIN_COUNT)
        return cq_errf(err, CQ_EINVAL, "calibration: unknown zero bin rule %d", (int)spec->zero_bin);
    return CQ_OK;
}

/* The histogram method's range, before clipping to [min, max]. */
static cq_status hist_range(cq_observer *o, const cq_calib_spec *spec, double *lo, double *hi,
                            cq_err *err)
{
    int32_t nb = o->bins;
    const uint64_t *h = o->hist;
    double w = ldexp(1.0, o->exp - o->lg);
    uint64_t *a = malloc((size_t)nb * sizeof *a); /* |x| or the negative side, magnitudes up */
    if (!a)
        return cq_errf(err, CQ_ENOMEM, "calibration: out of memory");
    int fold = spec->method != CQ_CALIB_ENTROPY_ASYM;
    for (int32_t i = 0; i < nb; i++)
        a[i] = h[nb - 1 - i] + (fold ? h[nb + i] : 0);
    int64_t k = 0, k2 = 0, j0 = 0, j1 = 2 * (int64_t)nb - 1;
    switch (spec->method) {
    case CQ_CALIB_PERCENTILE:
        if (spec->symmetric) {
            k = cq_calib_quantile_bin(a, nb, spec->percentile / 100);
            *hi = (double)(k + 1) * w;
            *lo = -*hi;
        } else {
            k = cq_calib_quantile_bin(h, 2 * nb, spec->percentile / 100);
            k2 = cq_calib_quantile_bin(h, 2 * nb, 1 - spec->percentile / 100);
            *hi = (double)(k + 1 - nb) * w;
            *lo = (double)(k2 - nb) * w;
        }
        break;
    case CQ_CALIB_ENTROPY:
        k = cq_calib_kl_search(a, nb, KL_LEVELS, spec->zero_bin, NULL);
        *hi = (double)k * w;
        *lo = -*hi;
        break;
    case CQ_CALIB_ENTROPY_ASYM:
        k = cq_calib_kl_search(h + nb, nb, KL_LEVELS, spec->zero_bin, NULL);
        k2 = k < 0 ? 0 : cq_calib_kl_search(a, nb, KL_LEVELS, spec->zero_bin, NULL);
        *hi = (double)k * w;
        *lo = -(double)k2 * w;
        break;
    default: /* CQ_CALIB_MSE on the occupied bins, as PyTorch's histogram spans [min, max] */
        while (j0 < j1 && !h[j0])
            j0++;
        while (j1 > j0 && !h[j1])
            j1--;
        cq_calib_l2_search(h + j0, j1 - j0 + 1, L2_BINS, &k2, &k);
        *lo = (double)(j0 + k2 - nb) * w;
        *hi = (double)(j0 + k + 1 - nb) * w;
        break;
    }
    free(a);
    if (k < 0 || k2 < 0)
        return cq_errf(err, CQ_ENOMEM, "calibration: out of memory");
    return CQ_OK;
}

cq_status cq_observer_range(cq_observer *o, const cq_calib_spec *spec, float *lo, float *hi,
                            cq_err *err)
{
    if (check_spec(spec, err))
        return err->code;
    if (spec->method != CQ_CALIB_MINMAX && o->kind != CQ_OBS_HIST)
        return cq_errf(err, CQ_EINVAL, "calibration: method '%s' needs a histogram observer, not '%s'",
                       cq_calib_method_name(spec->method), cq_obs_kind_name(o->kind));
    cq__obs_fold(o);
    for (int64_t c = 0; c < o->channels; c++)
        if (!(o->lo[c] <= o->hi[c]))
            return cq_errf(err, CQ_ESTATE,
                           "calibration: channel %lld has seen no finite value (%lld NaN, %lld +inf, "
                           "%lld -inf over %lld batches)",
                           (long long)c, (long long)o->nan, (long long)o->pinf, (long long)o->ninf,
                           (long long)o->batches);
    if (spec->method == CQ_CALIB_MINMAX) {
        memcpy(lo, o->lo, (size_t)o->channels * sizeof *lo);
        memcpy(hi, o->hi, (size_t)o->channels * sizeof *hi);
        return CQ_OK;
    }
    double l = 0.0, h = 0.0;
    cq_status st = hist_range(o, spec, &l, &h, err);
    if (st)
        return st;
    /* the grid's edges lie beyond the data: clip to what was seen */
    float mn = o->lo[0], mx = o->hi[0];
    lo[0] = l > mn ? (l < mx ? (float)l : mx) : mn;
    hi[0] = h < mx ? (h > mn ? (float)h : mn) : mx;
    if (lo[0] > hi[0])
        lo[0] = hi[0];
    return CQ_OK;
}

/* New per-channel parameter tensors in out. */
static cq_status qparams_alloc(cq_qparams *out, cq_dtype dt, int axis, int64_t count, cq_err *err)
{
    memset(out, 0, sizeof *out);
    out->dtype = dt;
    out->axis = axis;
    out->group = 1;
    out->scale = cq_tensor_new(CQ_F32, 1, &count, err);
    out->zero_point = out->scale ? cq_tensor_new(CQ_S32, 1, &count, err) : NULL;
    if (!out->zero_point) {
        cq_qparams_clear(out);
        return err->code;
    }
    return CQ_OK;
}

cq_status cq_observer_qparams(cq_observer *o, const cq_calib_spec *spec, cq_qparams *out,
                              cq_err *err)
{
    memset(out, 0, sizeof *out);
    out->axis = -1;
    int64_t n = o->channels;
    float *lo = malloc((size_t)(2 * n) * sizeof *lo);
    if (!lo)
        return cq_errf(err, CQ_ENOMEM, "calibration: out of memory");
    float *hi = lo + n;
    cq_status st = cq_observer_range(o, spec, lo, hi, err);
    if (!st)
        st = qparams_alloc(out, spec->dtype, n > 1 ? o->axis : -1, n, err);
    for (int64_t c = 0; !st && c < n; c++)
        st = cq_calib_scale_zp(lo[c], hi[c], spec->dtype, spec->symmetric,
                               (float *)cq_tensor_data(out->scale) + c,
                               (int32_t *)cq_tensor_data(out->zero_point) + c, err);
    free(lo);
    if (st)
        cq_qparams_clear(out);
    return st;
}

/* Squared quantize-dequantize error of v[0..n) with (s, zp). */
static double qdq_error(const float *v, int64_t n, float s, int32_t zp, int32_t qmin, int32_t qmax)
{
    double e = 0.0;
    for (int64_t i = 0; i < n; i++) {
        float d = (float)cq_round_sat(v[i] / s, qmin - zp, qmax - zp) * s - v[i];
        e += (double)d * d;
    }
    return e;
}

cq_status cq_calib_weights(const float *w, int64_t outer, int64_t axis_len, int64_t inner, int axis,
                           const cq_calib_spec *spec, cq_qparams *out, cq_err *err)
{
    memset(out, 0, sizeof *out);
    out->axis = -1;
    if (check_spec(spec, err))
        return err->code;
    if (spec->method != CQ_CALIB_MINMAX && spec->method != CQ_CALIB_MSE)
        return cq_errf(err, CQ_EINVAL, "weights: method '%s' (minmax or mse)",
                       cq_calib_method_name(spec->method));
    if (outer < 1 || axis_len < 1 || inner < 1 || outer > INT64_MAX / inner ||
        outer * inner > INT64_MAX / axis_len || (!w))
        return cq_errf(err, CQ_EINVAL, "weights: bad layout (%lld, %lld, %lld)", (long long)outer,
                       (long long)axis_len, (long long)inner);
    float *v = malloc((size_t)(outer * inner) * sizeof *v);
    if (!v)
        return cq_errf(err, CQ_ENOMEM, "weights: out of memory");
    cq_status st = qparams_alloc(out, spec->dtype, axis, axis_len, err);
    int32_t qmin, qmax;
    cq_calib_qrange(spec->dtype, spec->symmetric, &qmin, &qmax);
    float *scale = st ? NULL : cq_tensor_data(out->scale);
    int32_t *zp = st ? NULL : cq_tensor_data(out->zero_point);
    for (int64_t c = 0; !st && c < axis_len; c++) {
        int64_t m = 0;
        float mn = INFINITY, mx = -INFINITY;
        for (int64_t b = 0; b < outer; b++) {
            const float *src = w + (b * axis_len + c) * inner;
            for (int64_t i = 0; i < inner; i++)
                if (isfinite(src[i])) {
                    v[m++] = src[i];
                    mn = src[i] < mn ? src[i] : mn;
                    mx = src[i] > mx ? src[i] : mx;
                }
        }
        if (!m) {
            st = cq_errf(err, CQ_ESTATE, "weights: channel %lld has no finite value", (long long)c);
            break;
        }
        st = cq_calib_scale_zp(mn, mx, spec->dtype, spec->symmetric, &scale[c], &zp[c], err);
        if (st || spec->method != CQ_CALIB_MSE)
            continue;
        double best = qdq_error(v, m, scale[c], zp[c], qmin, qmax);
        for (int k = 1; k < CQ_CALIB_MSE_STEPS; k++) {
            float r = 1.0f - (float)k / 100.0f, s;
            int32_t z;
            cq_err ignored; /* the range stays finite, the dtype was checked */
            cq_calib_scale_zp(mn * r, mx * r, spec->dtype, spec->symmetric, &s, &z, &ignored);
            double e = qdq_error(v, m, s, z, qmin, qmax);
            if (e < best) {
                best = e;
                scale[c] = s;
                zp[c] = z;
            }
        }
    }
    free(v);
    if (st)
        cq_qparams_clear(out);
    return st;
}
