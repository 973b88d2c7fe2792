#!/usr/bin/python3
"""observer_torch.py - the anchor of bench/observer.sh: PyTorch's
torch.ao.quantization.HistogramObserver on the data bench/observer.c uses
(MELEM million N(0, 1) values, then through a ReLU), one thread, in batches of
BATCH values (each size in turn): collection elements/s, and the time of
_non_linear_param_search on the histogram built with the first size. Best of
REPS. Output lines as observer.c's:
    collect torch DATA BATCH MELEM_PER_S
    search torch_mse DATA MS LO HI

    /usr/bin/python3 bench/observer_torch.py [MELEM] [REPS] [BATCH...]
"""
import sys
import time

import torch


def main():
    melem = float(sys.argv[1]) if len(sys.argv) > 1 else 16
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    batches = [int(b) for b in sys.argv[3:]] or [1048576, 524288]
    torch.set_num_threads(1)
    torch.manual_seed(0)
    n = int(melem * 1e6)
    for name in ("gauss", "relu"):
        x = torch.randn(n)
        if name == "relu":
            x = torch.relu(x)
        first = None
        for batch in batches:
            best = 1e30
            for _ in range(reps):
                o = torch.ao.quantization.HistogramObserver()
                t0 = time.perf_counter()
                for t in range(0, n, batch):
                    o(x[t:t + batch])
                best = min(best, time.perf_counter() - t0)
                first = first or o
            print("collect torch %s %d %.1f" % (name, batch, n / best / 1e6))
        best = 1e30
        for _ in range(reps):
            t0 = time.perf_counter()
            lo, hi = first._non_linear_param_search()
            best = min(best, time.perf_counter() - t0)
        print("search torch_mse %s %.3f %g %g" % (name, best * 1e3, float(lo), float(hi)))


if __name__ == "__main__":
    main()
