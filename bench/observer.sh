#!/usr/bin/env bash
# Calibration observers: histogram collection (elements/s, one thread) with
# calq's scalar and AVX-512 kernels next to PyTorch's HistogramObserver, and
# the entropy / L2 threshold searches next to PyTorch's
# _non_linear_param_search on its own histogram of the same data, in the same
# run, both on one CPU (taskset -c ${CPU:-0}).
#
#   bench/observer.sh                 (from the repository top; builds its driver)
#   MELEM=16 REPS=5 BATCHES="1048576 524288" bench/observer.sh
#
# Batches of 1048576 values are 64x128x128 activations, 524288 are
# 32x128x128 ones; each batch is new data, read from memory (observer.c).
# Ratios are calq / torch as throughputs (collection) and torch time / calq
# time (searches): above 1 means calq is faster.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
build=${BUILD:-build}
melem=${MELEM:-16} reps=${REPS:-5} cpu=${CPU:-0} batches=${BATCHES:-1048576 524288}
make --no-print-directory -s "$build/bench/observer" >/dev/null
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# shellcheck disable=SC2086
taskset -c "$cpu" "$build/bench/observer" "$melem" "$reps" $batches >"$out"
# shellcheck disable=SC2086
taskset -c "$cpu" /usr/bin/python3 bench/observer_torch.py "$melem" "$reps" $batches >>"$out"
echo "observer: $melem M values N(0,1) and ReLU(N(0,1)), batches of $batches values, best of $reps, CPU $cpu"
echo "  torch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)')"
sed 's/^/  /' "$out"
awk -v batches="$batches" '
    $1 == "collect" { c[$2 " " $3 " " $4] = $5 }
    $1 == "search"  { s[$2 " " $3] = $4 }
    END {
        nb = split(batches, b, " ")
        split("gauss relu", d, " ")
        for (k = 1; k <= 2; k++) {
            for (i = 1; i <= nb; i++) {
                t = c["torch " d[k] " " b[i]]
                printf "  ratio %s, batch %s: collect avx512/torch %.2f, scalar/torch %.2f\n", d[k], b[i],
                    c["avx512 " d[k] " " b[i]] / t, c["scalar " d[k] " " b[i]] / t
            }
            m = s["torch_mse " d[k]]
            printf "  ratio %s: search torch_mse/calq: entropy %.2f, entropy_asym %.2f, mse %.2f\n",
                d[k], m / s["entropy " d[k]], m / s["entropy_asym " d[k]], m / s["mse " d[k]]
        }
    }' "$out"
