#!/usr/bin/env bash
# Calibration observers: histogram collection (elements/s, one thread) with
# calq's scalar and AVX-512 kernels next to PyTorch's HistogramObserver, and
# the entropy / L2 threshold searches next to PyTorch's
# _non_linear_param_search on its own histogram of the same data, in the same
# run, both on one CPU (taskset -c ${CPU:-0}).
#
#   bench/observer.sh                 (from the repository top; builds its driver)
#   MELEM=16 BATCH=1048576 REPS=5 bench/observer.sh
#
# Ratios are calq / torch as throughputs (collection) and torch time / calq
# time (searches): above 1 means calq is faster.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
build=${BUILD:-build}
melem=${MELEM:-16} batch=${BATCH:-1048576} reps=${REPS:-5} cpu=${CPU:-0}
make --no-print-directory -s "$build/bench/observer" >/dev/null
out=$(mktemp)
trap 'rm -f "$out"' EXIT
taskset -c "$cpu" "$build/bench/observer" "$melem" "$batch" "$reps" >"$out"
taskset -c "$cpu" /usr/bin/python3 bench/observer_torch.py "$melem" "$batch" "$reps" >>"$out"
echo "observer: $melem M values N(0,1) and ReLU(N(0,1)), batches of $batch, best of $reps, CPU $cpu"
echo "  torch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)')"
sed 's/^/  /' "$out"
awk '
    $1 == "collect" { c[$2 " " $3] = $4 }
    $1 == "search"  { s[$2 " " $3] = $4 }
    END {
        split("gauss relu", d, " ")
        for (k = 1; k <= 2; k++) {
            t = c["torch " d[k]]; m = s["torch_mse " d[k]]
            printf "  ratio %s: collect avx512/torch %.2f, scalar/torch %.2f;", d[k],
                c["avx512 " d[k]] / t, c["scalar " d[k]] / t
            printf " search torch_mse/calq: entropy %.2f, entropy_asym %.2f, mse %.2f\n",
                m / s["entropy " d[k]], m / s["entropy_asym " d[k]], m / s["mse " d[k]]
        }
    }' "$out"
