#!/usr/bin/python3
"""calib_ref.py - independent references for core/calib/calib_search.c and the
moving-average observer; tests/c/test_calib.c pins the numbers it prints.

    /usr/bin/python3 tests/ref/calib_ref.py

- TensorRT's entropy search, written the direct way (build P and Q bin by bin
  for every candidate, as the 2017 slides describe it) with NumPy;
- PyTorch HistogramObserver._non_linear_param_search and
  _compute_quantization_error, ported to NumPy float64, and checked against
  torch's own method on the same histogram (bin width 1: min 0, max n);
- torch.ao.quantization.MovingAverageMinMaxObserver on a hand-made sequence.

The histograms are integer formulas that test_calib.c rebuilds (hist_fill).
"""
import math

import numpy as np


def hist(name, n):
    j = np.arange(n, dtype=np.int64)
    if name == "cauchy":  # |x| of a heavy-tailed distribution, never empty
        return 10**6 * 2500 // (2500 + j * j)
    if name == "tri":  # triangle, then sparse outliers
        return np.where(j < 1200, 40000 - 33 * j, np.where(j % 50 == 0, 2, 0))
    if name == "sparse":  # every fourth bin, one far outlier
        h = np.where((j % 4 == 0) & (j < 1800), 10**6 // (1 + j), 0)
        h[2040] = 1
        return h
    if name == "laplace":  # halves every 64 bins, empty from 1280 on
        return 10**6 >> (j // 64)
    if name == "offset":  # signed, off-centre
        return 10**6 * 10**4 // (10**4 + (j - 800) ** 2)
    if name == "relu":  # a spike at zero, then a decay
        h = 10**5 * 200 // (200 + j)
        h[0] = 300000
        return h
    raise ValueError(name)


def kl_search(h, levels=128):
    h = np.asarray(h, dtype=np.float64)
    nz = np.nonzero(h)[0]
    if len(nz) == 0:
        return 0, 0.0
    top = nz[-1] + 1
    if top <= levels:
        return top, 0.0
    best, best_kl = top, math.inf
    for i in range(levels, top + 1):
        p = h[:i].copy()
        p[i - 1] += h[i:].sum()
        q = np.zeros(i)
        group = (np.arange(i) * levels) // i
        for g in range(levels):
            m = group == g
            nzm = m & (h[:i] != 0)
            if nzm.any():
                q[nzm] = h[:i][m].sum() / nzm.sum()
        if np.any((p > 0) & (q == 0)):
            continue  # infinite divergence
        p /= p.sum()
        q /= q.sum()
        k = p > 0
        d = float(np.sum(p[k] * np.log(p[k] / q[k])))
        if d < best_kl:
            best, best_kl = i, d
    return best, best_kl


def l2_error(h, start, end, dst=256):
    h = np.asarray(h, dtype=np.float64)
    n = len(h)
    dw = (end - start + 1) / dst
    if dw == 0.0:
        return 0.0
    b = np.arange(n) - start + 0.0
    e = b + 1.0
    db = np.clip(np.floor(b / dw), 0, dst - 1)
    de = np.clip(np.floor(e / dw), 0, dst - 1)

    def norm(x0, x1, d):
        return d * (x1**3 - x0**3) / 3

    r = norm(b - (db + 0.5) * dw, dw / 2, h)
    r += (de - db - 1) * norm(-dw / 2, dw / 2, h)
    r += norm(-dw / 2, e - (de * dw + dw / 2), h)
    return float(r.sum())


def l2_search(h, dst=256):
    n = len(h)
    total = float(np.sum(h))
    cs = np.cumsum(np.asarray(h, dtype=np.float64))
    step, alpha, beta = 1e-5, 0.0, 1.0
    s, e, norm_min = 0, n - 1, math.inf
    while alpha < beta:
        na, nb = alpha + step, beta - step
        l, r = s, e
        while l < e and cs[l] < na * total:
            l += 1
        while r > s and cs[r] > nb * total:
            r -= 1
        ns, ne = s, e
        if (l - s) > (e - r):
            ns, alpha = l, na
        else:
            ne, beta = r, nb
        if ns == s and ne == e:
            continue
        norm = l2_error(h, ns, ne, dst)
        if norm > norm_min:
            break
        norm_min, s, e = norm, ns, ne
    return s, e


def torch_l2(h):
    import torch
    o = torch.ao.quantization.HistogramObserver(bins=len(h))
    o.histogram = torch.tensor(np.asarray(h, dtype=np.float32))
    o.min_val = torch.tensor(0.0)
    o.max_val = torch.tensor(float(len(h)))
    lo, hi = o._non_linear_param_search()
    return int(round(float(lo))), int(round(float(hi))) - 1


def main():
    print("/* tests/ref/calib_ref.py: entropy (bin, KL) */")
    for name in ("cauchy", "tri", "sparse", "laplace"):
        i, d = kl_search(hist(name, 2048))
        print('    {"%s", 2048, %d, %.12e},' % (name, i, d))
    print("/* L2 search (start, end, error there); torch agrees: */")
    for name, n in (("offset", 2048), ("relu", 1500), ("tri", 2048), ("cauchy", 2048)):
        h = hist(name, n)
        s, e = l2_search(h)
        ts, te = torch_l2(h)
        assert (s, e) == (ts, te), (name, s, e, ts, te)
        print('    {"%s", %d, %d, %d, %.12e}, /* torch: %d %d */' % (name, n, s, e, l2_error(h, s, e), ts, te))
    print("/* moving average (torch.ao.quantization.MovingAverageMinMaxObserver, c 0.01) */")
    import torch
    o = torch.ao.quantization.MovingAverageMinMaxObserver(averaging_constant=0.01)
    batches = [[-1.0, 2.0, 0.5], [-3.0, 7.0], [0.25, 0.75], [-0.1, 100.0, 3.0], [-2.5, -2.0]]
    for b in batches:
        o(torch.tensor(b))
        print("    {%.9g, %.9g}," % (float(o.min_val), float(o.max_val)))


if __name__ == "__main__":
    main()
