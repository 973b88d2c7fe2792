#!/usr/bin/python3
"""calib_ref.py - independent references for core/calib/calib_search.c and the
moving-average observer; tests/c/test_calib.c pins the numbers it prints.

    /usr/bin/python3 tests/ref/calib_ref.py

- TensorRT's entropy search with MXNet's / TVM's smoothing, written the direct
  way: for every candidate, build P and Q bin by bin, smooth both as
  _smooth_distribution does, normalise, sum P log(P / Q) (what
  scipy.stats.entropy computes) -- the structure of MXNet's and TVM's
  _get_optimal_threshold, on the histogram of |x| as TensorRT describes it
  (calib_search.c computes the same sums from prefix sums instead);
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
    if name == "relu_spike":  # ReLU output: zeros, a long decay, two outliers
        h = np.where(j < 1400, 2 * 10**6 * 90000 // (90000 + j * j), 0)
        h[0] = 4 * 10**6
        h[1700] = 3
        h[2000] = 1
        return h
    if name == "gap":  # a bulk narrower than 128 bins, one outlier far away
        h = np.where(j < 100, 50000 - 400 * j, 0)
        h[1900] = 2
        return h
    if name == "gap_wide":  # a triangle over 700 bins, one outlier at the end
        h = np.where(j < 700, 70000 - 100 * j, 0)
        h[2040] = 1
        return h
    if name == "lone":  # everything in one bin but a few: no Q below it
        h = np.zeros(n, dtype=np.int64)
        h[1500] = 10**6
        h[1600] = 7
        return h
    if name == "relu_gauss":  # a ReLU's half of zeros in bin 0, then a bell
        h = np.where(j < 2000, 2 * 10**6 * 400**4 // (400**4 + j**4), 0)
        h[0] = 9 * 10**8
        return h
    if name == "few":  # 14 bins of 2048 occupied, in pairs: smoothing's epsilon ~0.015
        return np.where(j % 300 == 7, 1 + j % 7, np.where(j % 300 == 8, 50 + j % 13, 0))
    if name == "scarce":  # 82 bins occupied, in pairs: epsilon ~0.0024
        return np.where(j % 51 == 0, 100 + j, np.where(j % 51 == 1, 3 + j % 5, 0))
    raise ValueError(name)


TIE = 1e-12


def smooth(v, eps=1e-4):
    """MXNet's / TVM's _smooth_distribution in float64: eps to every zero
    bin, the same mass taken evenly from the non-zero ones. None where they
    raise (no non-zero bin) or a bin would not stay positive."""
    zero = v == 0
    nonzero = v.size - int(zero.sum())
    if nonzero == 0:
        return None
    eps1 = eps * float(zero.sum()) / float(nonzero)
    out = np.where(zero, eps, v - eps1)
    if np.any(out <= 0):
        return None
    return out


def zero_as_next(h, zero_bin):
    h = np.asarray(h, dtype=np.float64).copy()
    if zero_bin == "next" and np.any(h[1:]):
        h[0] = h[1]
    return h


def kl_at(h, i, levels=128, zero_bin="keep"):
    """The divergence of candidate i (levels <= i <= len(h)): P = h[0:i]
    with the outliers sum(h[i:]) added to P[i - 1]; Q = h[0:i] merged into
    `levels` groups (bin k in group k * levels // i, the equal steps of the
    quantizer) and each group's sum spread evenly over the bins where P is
    not zero; both smoothed, normalised; KL(P || Q). inf where MXNet's
    smoothing fails."""
    h = zero_as_next(h, zero_bin)
    p = h[:i].copy()
    p[i - 1] += h[i:].sum()
    group = (np.arange(i) * levels) // i
    q = np.zeros(i)
    for g in range(levels):
        m = group == g
        nzm = m & (p != 0)
        if nzm.any():
            q[nzm] = h[:i][m].sum() / nzm.sum()
    ps, qs = smooth(p), smooth(q)
    if ps is None or qs is None:
        return math.inf
    ps /= ps.sum()
    qs /= qs.sum()
    return float(np.sum(ps * np.log(ps / qs)))


def kl_search(h, levels=128, zero_bin="keep"):
    """TensorRT's entropy search on h, the histogram of |x|: the candidate
    i in levels .. top (one past the last non-zero bin) with the least
    kl_at (the smallest i on ties; top with no search when top <= levels),
    and its divergence. zero_bin "next": bin 0 counts as bin 1
    (pytorch-quantization's bins[0] = bins[1])."""
    nz = np.nonzero(zero_as_next(h, zero_bin))[0]
    if len(nz) == 0:
        return 0, 0.0
    top = int(nz[-1]) + 1
    if top <= levels:
        return top, 0.0
    d = [kl_at(h, i, levels, zero_bin) for i in range(levels, top + 1)]
    least = min(d)
    for i in range(levels, top + 1):
        if d[i - levels] <= least + TIE:  # differences below TIE are rounding
            return i, d[i - levels]


def kl_search_unsmoothed(h, levels=128):
    """The search without smoothing (calq's first version, NVIDIA's
    pytorch-quantization): a candidate where Q is 0 and P is not is
    skipped. Printed for comparison only."""
    h = np.asarray(h, dtype=np.float64)
    nz = np.nonzero(h)[0]
    top = int(nz[-1]) + 1
    if top <= levels:
        return top
    best, best_kl = top, math.inf
    for i in range(levels, top + 1):
        p = h[:i].copy()
        p[i - 1] += h[i:].sum()
        group = (np.arange(i) * levels) // i
        q = np.zeros(i)
        for g in range(levels):
            m = group == g
            nzm = m & (p != 0)
            if nzm.any():
                q[nzm] = h[:i][m].sum() / nzm.sum()
        if np.any((p > 0) & (q == 0)):
            continue
        p, q = p / p.sum(), q / q.sum()
        k = p > 0
        d = float(np.sum(p[k] * np.log(p[k] / q[k])))
        if d < best_kl:
            best, best_kl = i, d
    return best


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
    print("/* tests/ref/calib_ref.py: entropy (name, n, zero bin as next, bin, KL); unsmoothed: */")
    for name, zb in (("cauchy", 0), ("tri", 0), ("sparse", 0), ("laplace", 0), ("relu_spike", 0),
                     ("relu_spike", 1), ("gap", 0), ("gap_wide", 0), ("lone", 0), ("few", 0),
                     ("scarce", 0), ("relu", 1), ("relu_gauss", 0), ("relu_gauss", 1)):
        h = hist(name, 2048)
        i, d = kl_search(h, zero_bin="next" if zb else "keep")
        print('    {"%s", 2048, %d, %d, %.12e}, /* %d */' % (name, zb, i, d, kl_search_unsmoothed(h)))
    print("/* entropy of single candidates (name, n, zero bin as next, i, KL; -1: infinite) */")
    for name, zb in (("tri", 0), ("sparse", 0), ("relu_spike", 1), ("gap", 0), ("lone", 0),
                     ("few", 0), ("scarce", 0), ("relu_gauss", 0)):
        h = hist(name, 2048)
        for i in (128, 129, 255, 640, 1000, 1501, 1999, 2048):
            d = kl_at(h, i, zero_bin="next" if zb else "keep")
            print('    {"%s", 2048, %d, %d, %.12e},' % (name, zb, i, -1.0 if d == math.inf else d))
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
