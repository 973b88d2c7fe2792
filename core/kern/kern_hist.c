/* kern_hist.c - calibration histogram loops: the scalar references and the
 * choice of instruction set (kern_hist.h). */
#include "kern/kern_hist_internal.h"
#include "kern/kern.h"

#include <math.h>
#include <string.h>

void cq_hist_scan_init(cq_hist_scan *s)
{
    s->min = INFINITY;
    s->max = -INFINITY;
    s->finite = s->nan = s->pinf = s->ninf = 0;
}

void cq_hist_scan_f32_ref(const float *x, int64_t n, cq_hist_scan *s)
{
    float lo = s->min, hi = s->max;
    int64_t nan = 0, pinf = 0, ninf = 0;
    for (int64_t t = 0; t < n; t++) {
        float v = x[t];
        if (isnan(v))
            nan++;
        else if (isinf(v))
            *(v > 0 ? &pinf : &ninf) += 1;
        else {
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
    }
    s->min = lo == 0.0f ? 0.0f : lo; /* one zero: -0.0 and 0.0 compare equal */
    s->max = hi == 0.0f ? 0.0f : hi;
    s->nan += nan;
    s->pinf += pinf;
    s->ninf += ninf;
    s->finite += n - nan - pinf - ninf;
}

int64_t cq_hist_bin_f32_ref(const float *x, int64_t n, float inv_width, int32_t nb, uint16_t *cnt,
                            cq_hist_scan *s)
{
    int64_t st = cq_hist_stride(nb), t = 0, nan = 0, pinf = 0, ninf = 0;
    float lo = s->min, hi = s->max;
    for (; t < n; t += CQ_HIST_BLOCK) {
        int64_t m = n - t < CQ_HIST_BLOCK ? n - t : CQ_HIST_BLOCK;
        int beyond = 0;
        for (int64_t k = 0; k < m; k++)
            beyond |= isfinite(x[t + k]) && fabsf(x[t + k]) * inv_width >= (float)nb;
        if (beyond)
            break;
        for (int64_t k = 0; k < m; k++) {
            float v = x[t + k];
            int64_t j = 2 * (int64_t)nb;
            if (isnan(v))
                nan++;
            else if (isinf(v))
                *(v > 0 ? &pinf : &ninf) += 1;
            else {
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
                int32_t i = (int32_t)(fabsf(v) * inv_width); /* >= 0: truncation is floor */
                j = v < 0.0f ? nb - 1 - i : nb + i;
            }
            cnt[((t + k) % CQ_HIST_COPIES) * st + j]++;
        }
    }
    t = t < n ? t : n;
    s->min = lo == 0.0f ? 0.0f : lo; /* one zero: -0.0 and 0.0 compare equal */
    s->max = hi == 0.0f ? 0.0f : hi;
    s->nan += nan;
    s->pinf += pinf;
    s->ninf += ninf;
    s->finite += t - nan - pinf - ninf;
    return t;
}

void cq_hist_fold_ref(uint16_t *cnt, int32_t nb, uint64_t *counts)
{
    int64_t st = cq_hist_stride(nb), m = 2 * (int64_t)nb;
    for (int c = 0; c < CQ_HIST_COPIES; c++) {
        const uint16_t *src = cnt + c * st;
        for (int64_t j = 0; j < m; j++)
            counts[j] += src[j];
    }
    memset(cnt, 0, (size_t)(CQ_HIST_COPIES * st) * sizeof *cnt);
}

void cq_hist_scan_f32(const float *x, int64_t n, cq_hist_scan *s)
{
    if (cq_kern_isa() == CQ_ISA_AVX512)
        cq__hist_scan_f32_avx512(x, n, s);
    else
        cq_hist_scan_f32_ref(x, n, s);
}

int64_t cq_hist_bin_f32(const float *x, int64_t n, float inv_width, int32_t nb, uint16_t *cnt,
                        cq_hist_scan *s)
{
    if (cq_kern_isa() == CQ_ISA_AVX512)
        return cq__hist_bin_f32_avx512(x, n, inv_width, nb, cnt, s);
    return cq_hist_bin_f32_ref(x, n, inv_width, nb, cnt, s);
}

void cq_hist_fold(uint16_t *cnt, int32_t nb, uint64_t *counts)
{
    if (cq_kern_isa() == CQ_ISA_AVX512)
        cq__hist_fold_avx512(cnt, nb, counts);
    else
        cq_hist_fold_ref(cnt, nb, counts);
}
