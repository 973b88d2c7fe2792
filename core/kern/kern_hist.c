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

void cq_hist_bin_f32_ref(const float *x, int64_t n, float inv_width, int32_t nb, uint16_t *cnt)
{
    int64_t st = cq_hist_stride(nb);
    for (int64_t t = 0; t < n; t++) {
        float v = x[t];
        int64_t j = 2 * (int64_t)nb;
        if (isfinite(v)) {
            int32_t i = (int32_t)(fabsf(v) * inv_width); /* >= 0: truncation is floor */
            j = v < 0.0f ? nb - 1 - i : nb + i;
        }
        cnt[(t % CQ_HIST_COPIES) * st + j]++;
    }
}

void cq_hist_fold(uint16_t *cnt, int32_t nb, uint64_t *counts)
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

void cq_hist_bin_f32(const float *x, int64_t n, float inv_width, int32_t nb, uint16_t *cnt)
{
    if (cq_kern_isa() == CQ_ISA_AVX512)
        cq__hist_bin_f32_avx512(x, n, inv_width, nb, cnt);
    else
        cq_hist_bin_f32_ref(x, n, inv_width, nb, cnt);
}
