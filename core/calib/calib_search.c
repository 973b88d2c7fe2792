/* calib_search.c - thresholds from histograms (calib_search.h). */
#include "calib/calib_search.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double xlogx(double x) { return x > 0 ? x * log(x) : 0.0; }

/* Above this smoothing epsilon, sum (h - e) log(h - e) directly: then fewer
 * than 1 bin in 100 is occupied. Below it, the Taylor series to e^6 errs by
 * less than e^7 / 42 per bin (h >= 1). */
#define KL_TAYLOR_MAX 0.01
/* Taylor terms past the linear one: sums of h^-1 .. h^-5. */
#define KL_TERMS 5

/* What every candidate of one histogram reads: prefix sums over bins
 * [0, k) for k = 0 .. top, bin 0 as zero_bin says. */
typedef struct kl_plan {
    const uint64_t *h;
    uint64_t h0; /* the count bin 0 counts as */
    int64_t top;
    int levels;
    double total;
    double *c, *nz, *f, *lg, *s[KL_TERMS]; /* counts, non-zero bins, h log h, log h, h^-r */
    int64_t *nzi;                          /* the non-zero bins, in order */
} kl_plan;

static double kl_bin(const kl_plan *p, int64_t k) { return (double)(k ? p->h[k] : p->h0); }

static void kl_plan_free(kl_plan *p)
{
    free(p->c);
    free(p->nzi);
}

/* The sums over bins [0, max(top, upto)). 0 on success, -1 when memory runs
 * out; p->top 0 for an empty histogram. */
static int kl_plan_init(kl_plan *p, const uint64_t *h, int64_t n, int levels,
                        cq_calib_zero_bin zero_bin, int64_t upto)
{
    memset(p, 0, sizeof *p);
    p->h = h;
    p->levels = levels;
    p->h0 = n > 0 ? h[0] : 0;
    int64_t top = n;
    while (top > 1 && h[top - 1] == 0)
        top--;
    if (zero_bin == CQ_CALIB_ZERO_AS_NEXT && top > 1) /* not when only bin 0 holds counts */
        p->h0 = h[1];
    if (top == 1 && p->h0 == 0)
        top = 0;
    p->top = top;
    if (top == 0)
        return 0;
    int64_t len = upto > top ? upto : top, m = len + 1;
    p->c = malloc((size_t)(m * (4 + KL_TERMS)) * sizeof *p->c);
    p->nzi = malloc((size_t)len * sizeof *p->nzi);
    if (!p->c || !p->nzi) {
        kl_plan_free(p);
        return -1;
    }
    p->nz = p->c + m;
    p->f = p->nz + m;
    p->lg = p->f + m;
    for (int r = 0; r < KL_TERMS; r++)
        p->s[r] = p->lg + m * (r + 1);
    p->c[0] = p->nz[0] = p->f[0] = p->lg[0] = 0.0;
    for (int r = 0; r < KL_TERMS; r++)
        p->s[r][0] = 0.0;
    int64_t nn = 0;
    for (int64_t k = 0; k < len; k++) {
        double v = kl_bin(p, k), inv = v > 0 ? 1.0 / v : 0.0, pw = inv;
        if (v > 0)
            p->nzi[nn++] = k;
        p->c[k + 1] = p->c[k] + v;
        p->nz[k + 1] = p->nz[k] + (v > 0);
        p->f[k + 1] = p->f[k] + xlogx(v);
        p->lg[k + 1] = p->lg[k] + (v > 0 ? log(v) : 0.0);
        for (int r = 0; r < KL_TERMS; r++, pw *= inv)
            p->s[r][k + 1] = p->s[r][k] + pw;
    }
    p->total = p->c[top];
    return 0;
}

/* Sum of (v - e) log(v - e) over the non-zero bins v below m. */
static double kl_smoothed_plogp(const kl_plan *p, int64_t m, double e)
{
    double r = 0.0;
    if (e > KL_TAYLOR_MAX) {
        for (int64_t t = 0; t < (int64_t)p->nz[m]; t++)
            r += xlogx(kl_bin(p, p->nzi[t]) - e);
        return r;
    }
    /* (v - e) log(v - e) = v log v - e (log v + 1) + sum_{r >= 2} e^r / (r (r - 1) v^(r - 1)) */
    r = p->f[m] - e * (p->lg[m] + p->nz[m]);
    double er = e;
    for (int t = 2; t <= KL_TERMS + 1; t++) {
        er *= e;
        r += er / (t * (t - 1)) * p->s[t - 2][m];
    }
    return r;
}

/* Candidate i's divergence (levels <= i <= top). */
static double kl_at(const kl_plan *p, int64_t i)
{
    int levels = p->levels;
    double eps = CQ_CALIB_KL_EPS, total = p->total, cnt = p->c[i], out = total - cnt;
    if (cnt == 0.0)
        return INFINITY; /* Q has no non-zero bin */
    double plast = kl_bin(p, i - 1) + out, below = p->nz[i - 1];
    double nnz_p = below + (plast > 0), e_p = eps * ((double)i - nnz_p) / nnz_p;
    /* the last group [a_last, i): Q is 0 on its one P bin when only outliers are there */
    int64_t a_last = ((int64_t)(levels - 1) * i + levels - 1) / levels;
    double q_last = cnt - p->c[a_last], nz_last = below - p->nz[a_last] + (plast > 0);
    int lone = q_last == 0.0 && plast > 0;
    double nnz_q = nnz_p - (lone ? nz_last : 0.0), e_q = eps * ((double)i - nnz_q) / nnz_q;
    /* sum P' log P' over the bins where P > 0 (where P is 0, P' = Q' = eps: no term) */
    double plogp = kl_smoothed_plogp(p, i - 1, e_p) + (plast > 0 ? xlogx(plast - e_p) : 0.0);
    /* sum P' log Q': Q' is one value over a group's P bins */
    double plogq = 0.0;
    /* group g ends at b = ceil((g+1) i / levels): quotient and remainder kept
     * as g steps, no division in the loop */
    int64_t a = 0, step = i / levels, rstep = i % levels, b = 0, r = levels - 1;
    for (int g = 0; g < levels; g++) {
        b += step;
        r += rstep;
        if (r >= levels) {
            b++;
            r -= levels;
        }
        double qg = p->c[b] - p->c[a], nzg = g < levels - 1 ? p->nz[b] - p->nz[a] : nz_last;
        if (nzg > 0) {
            double mass = qg + (g == levels - 1 ? out : 0.0) - nzg * e_p;
            if (qg > 0) {
                double q = qg / nzg - e_q;
                if (!(q > 0))
                    return INFINITY; /* MXNet's smoothing fails */
                plogq += mass * log(q);
            } else
                plogq += mass * log(eps);
        }
        a = b;
    }
    return (plogp - plogq) / total + log(cnt / total);
}

int64_t cq_calib_kl_search(const uint64_t *h, int64_t n, int levels, cq_calib_zero_bin zero_bin,
                           double *kl)
{
    if (kl)
        *kl = 0.0;
    kl_plan p;
    if (kl_plan_init(&p, h, n, levels < 1 ? 1 : levels, zero_bin, 0))
        return -1;
    int64_t top = p.top;
    if (top <= levels || levels < 1) {
        kl_plan_free(&p);
        return top;
    }
    double *d = malloc((size_t)(top - levels + 1) * sizeof *d), least = INFINITY;
    if (!d) {
        kl_plan_free(&p);
        return -1;
    }
    for (int64_t i = levels; i <= top; i++) {
        d[i - levels] = kl_at(&p, i);
        least = d[i - levels] < least ? d[i - levels] : least;
    }
    int64_t best = top; /* i = top is never left out; the guard is for NaN */
    for (int64_t i = levels; i <= top; i++)
        if (d[i - levels] <= least + CQ_CALIB_KL_TIE) {
            best = i;
            break;
        }
    if (kl)
        *kl = isfinite(d[best - levels]) ? d[best - levels] : 0.0;
    free(d);
    kl_plan_free(&p);
    return best;
}

double cq_calib_kl_divergence(const uint64_t *h, int64_t n, int levels, cq_calib_zero_bin zero_bin,
                              int64_t i)
{
    kl_plan p;
    if (levels < 1 || i < levels || i > n || kl_plan_init(&p, h, n, levels, zero_bin, i))
        return NAN;
    double d = p.top ? kl_at(&p, i) : INFINITY;
    kl_plan_free(&p);
    return d;
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
