/* calib_search.c - thresholds from histograms (calib_search.h). */
#include "calib/calib_search.h"

#include <math.h>
#include <stdlib.h>

static double xlogx(double x) { return x > 0 ? x * log(x) : 0.0; }

int64_t cq_calib_kl_search(const uint64_t *h, int64_t n, int levels, double *kl)
{
    if (kl)
        *kl = 0.0;
    int64_t top = n;
    while (top > 0 && h[top - 1] == 0)
        top--;
    if (top == 0)
        return 0;
    if (top <= levels || levels < 1)
        return top;
    /* prefix sums: c (counts), nz (non-zero bins), f (h log h) */
    double *c = malloc((size_t)(3 * (top + 1)) * sizeof *c);
    if (!c)
        return -1;
    double *nz = c + top + 1, *f = nz + top + 1;
    c[0] = nz[0] = f[0] = 0.0;
    for (int64_t j = 0; j < top; j++) {
        double v = (double)h[j];
        c[j + 1] = c[j] + v;
        nz[j + 1] = nz[j] + (h[j] != 0);
        f[j + 1] = f[j] + xlogx(v);
    }
    double total = c[top];
    int64_t best = top;
    double best_kl = INFINITY;
    for (int64_t i = levels; i <= top; i++) {
        double out = total - c[i], last = (double)h[i - 1];
        if (last == 0 && out > 0)
            continue;
        /* sum P log P: P is h below i - 1, last + out at i - 1 */
        double plogp = f[i - 1] + xlogx(last + out), plogq = 0.0;
        int64_t a = 0;
        for (int g = 0; g < levels; g++) {
            int64_t b = ((int64_t)(g + 1) * i + levels - 1) / levels; /* ceil((g+1) i / levels) */
            double qg = c[b] - c[a];
            if (qg > 0) {
                double mass = g == levels - 1 ? qg + out : qg;
                plogq += mass * log(qg / (nz[b] - nz[a]));
            }
            a = b;
        }
        double d = (plogp - plogq) / total + log(c[i] / total);
        if (d < best_kl) {
            best_kl = d;
            best = i;
        }
    }
    free(c);
    if (kl)
        *kl = best_kl == INFINITY ? 0.0 : best_kl;
    return best;
}

static double norm3(double b, double e, double density) { return density * (e * e * e - b * b * b) / 3.0; }

double cq_calib_l2_error(const uint64_t *h, int64_t n, int dst_bins, int64_t start, int64_t end)
{
    double dw = (double)(end - start + 1) / dst_bins, half = dw / 2, norm = 0.0;
    if (dw == 0.0)
        return 0.0;
    double mid = norm3(-half, half, 1.0);
    for (int64_t k = 0; k < n; k++) {
        if (!h[k])
            continue;
        double d = (double)h[k], b = (double)(k - start), e = b + 1.0;
        double db = floor(b / dw), de = floor(e / dw);
        db = db < 0 ? 0 : db > dst_bins - 1 ? dst_bins - 1 : db;
        de = de < 0 ? 0 : de > dst_bins - 1 ? dst_bins - 1 : de;
        norm += norm3(b - (db + 0.5) * dw, half, d);
        norm += (de - db - 1) * mid * d;
        norm += norm3(-half, e - (de * dw + half), d);
    }
    return norm;
}

void cq_calib_l2_search(const uint64_t *h, int64_t n, int dst_bins, int64_t *start, int64_t *end)
{
    *start = 0;
    *end = n - 1;
    if (n <= 0)
        return;
    double *cs = malloc((size_t)n * sizeof *cs);
    if (!cs) /* nothing clipped: the full range is always a valid answer */
        return;
    double acc = 0.0;
    for (int64_t k = 0; k < n; k++)
        cs[k] = acc += (double)h[k];
    double total = acc, step = 1e-5, alpha = 0.0, beta = 1.0, norm_min = INFINITY;
    int64_t s = 0, e = n - 1;
    while (alpha < beta) {
        double na = alpha + step, nb = beta - step;
        int64_t l = s, r = e;
        while (l < e && cs[l] < na * total)
            l++;
        while (r > s && cs[r] > nb * total)
            r--;
        int64_t ns = s, ne = e;
        if (l - s > e - r) {
            ns = l;
            alpha = na;
        } else {
            ne = r;
            beta = nb;
        }
        if (ns == s && ne == e)
            continue;
        double norm = cq_calib_l2_error(h, n, dst_bins, ns, ne);
        if (norm > norm_min)
            break;
        norm_min = norm;
        s = ns;
        e = ne;
    }
    free(cs);
    *start = s;
    *end = e;
}

int64_t cq_calib_quantile_bin(const uint64_t *h, int64_t n, double q)
{
    double total = 0.0;
    for (int64_t k = 0; k < n; k++)
        total += (double)h[k];
    if (total == 0.0)
        return -1;
    double want = q * total, acc = 0.0;
    for (int64_t k = 0; k < n; k++) {
        acc += (double)h[k];
        if (acc >= want && h[k])
            return k;
    }
    for (int64_t k = n - 1; k >= 0; k--) /* q * total rounded above the sum */
        if (h[k])
            return k;
    return -1;
}
