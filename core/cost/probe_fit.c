/* probe_fit.c - the probe's least-squares fits: a kernel's time as a MAC
 * part and parts a unit (an element, an output, a row), over a few shapes
 * (probe_kern.c's and probe_misc.c's fits). */
#include <math.h>

#include "cost/probe_internal.h"

#define FIT_MAX 5 /* shapes a capped fit takes */

/* Least squares t ~ x c over n shapes and k <= 3 unknowns (normal
 * equations, Gaussian elimination); 0 when c is positive (c[0]) and
 * non-negative (the rest), else -1. */
int cq__probe_lsq(int n, int k, const double x[][3], const double *t, double *c)
{
    double a[3][4] = {{0}};
    for (int i = 0; i < k; i++) {
        for (int j = 0; j < k; j++)
            for (int r = 0; r < n; r++)
                a[i][j] += x[r][i] * x[r][j];
        for (int r = 0; r < n; r++)
            a[i][k] += x[r][i] * t[r];
    }
    for (int i = 0; i < k; i++) {
        int best = i;
        for (int r = i + 1; r < k; r++)
            if (fabs(a[r][i]) > fabs(a[best][i]))
                best = r;
        for (int j = 0; j <= k; j++) {
            double tmp = a[i][j];
            a[i][j] = a[best][j];
            a[best][j] = tmp;
        }
        if (a[i][i] == 0)
            return -1;
        for (int r = 0; r < k; r++) {
            if (r == i)
                continue;
            double f = a[r][i] / a[i][i];
            for (int j = i; j <= k; j++)
                a[r][j] -= f * a[i][j];
        }
    }
    for (int i = 0; i < k; i++)
        c[i] = a[i][k] / a[i][i];
    for (int i = 0; i < k; i++)
        if (!(i == 0 ? c[i] > 0 : c[i] >= 0))
            return -1;
    return 0;
}

/* c from cq__probe_lsq(n, k, x, t) (the MAC part's seconds a MAC, then k - 1
 * costs apart from it), with the MAC part held at 1 / peak where the fit
 * makes it faster than that: the features move together over the fit's
 * shapes, and the free fit gave time of the MACs to the other costs (on an
 * Emerald Rapids guest the int8 MAC part at 1.10-1.12 of the vpdpbusd peak,
 * ResNet-18's 3x3s priced at 0.28 ms against 0.37 measured hot:
 * bench/NOTES.md, "a new host, OpenBLAS's kernels"). The other costs are
 * then fitted to what the MACs leave (the last dropped, then all, where a
 * fit goes negative). */
void cq__probe_fit_capped(int n, int k, const double x[][3], const double *t, double peak,
                          double *c)
{
    if (peak <= 0 || c[0] >= 1.0 / peak || k < 1 || k > 3)
        return;
    double rest[FIT_MAX], x2[FIT_MAX][3] = {{0}}, c2[3] = {0};
    n = n < FIT_MAX ? n : FIT_MAX;
    c[0] = 1.0 / peak;
    for (int i = 0; i < n; i++) {
        rest[i] = t[i] - c[0] * x[i][0];
        for (int j = 1; j < k; j++)
            x2[i][j - 1] = x[i][j];
    }
    int m = k - 1;
    while (m > 0 && cq__probe_lsq(n, m, (const double(*)[3])x2, rest, c2))
        m--;
    for (int j = 1; j < k; j++)
        c[j] = j <= m ? c2[j - 1] : 0;
}
