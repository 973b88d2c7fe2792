#!/usr/bin/env bash
# Planning in linear time (issue 17): a chain of N Relu nodes loaded, planned and
# run once by calq (bench/chain.c) and by ONNX Runtime (bench/chain_ort.js: session
# open + one run) on the same files, in the same run. Pinned to one CPU (CPU=1);
# the median of ROUNDS rounds per size. Prints wall and CPU milliseconds.
#   usage: bench/chain.sh [N ...]     (default: 10000 100000 1000000)
#   BUILD=build   ROUNDS=3   CPU=1   ORT_MAX=1000000 (larger chains skip ORT)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
build=${BUILD:-build}
rounds=${ROUNDS:-3}
cpu=${CPU:-1}
ort_max=${ORT_MAX:-1000000}
sizes=("$@")
((${#sizes[@]})) || sizes=(10000 100000 1000000)
make --no-print-directory BUILD="$build" "$build/bench/chain" >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cache=${CALQ_CACHE:-$repo/.cache}
have_ort=0
[[ -d $cache/ort/node_modules/onnxruntime-node ]] && have_ort=1
med() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
field() { sed -n "s/.*\"$1\": *\([0-9.]*\).*/\1/p"; }
echo "== Relu chains: load + plan + first run, pinned to CPU $cpu, median of $rounds (ms)"
printf '%-9s %12s %12s %12s %12s %9s\n' nodes calq_wall calq_cpu ort_wall ort_cpu ort/calq
for n in "${sizes[@]}"; do
    model=$tmp/chain_$n.onnx
    cw=(); cc=(); ow=(); oc=()
    for ((r = 0; r < rounds; r++)); do
        line=$(taskset -c "$cpu" "$build/bench/chain" "$n" "$model")
        cw+=("$(field load_plan_run_ms <<<"$line")")
        cc+=("$(field load_plan_run_cpu_ms <<<"$line")")
        if ((have_ort && n <= ort_max)); then
            line=$(taskset -c "$cpu" node bench/chain_ort.js "$model" --threads 1)
            ow+=("$(sed -n 's/.*"open_run_ms":\([0-9.]*\).*/\1/p' <<<"$line")")
            oc+=("$(sed -n 's/.*"open_run_cpu_ms":\([0-9.]*\).*/\1/p' <<<"$line")")
        fi
    done
    cwm=$(printf '%s\n' "${cw[@]}" | med); ccm=$(printf '%s\n' "${cc[@]}" | med)
    if ((${#ow[@]})); then
        owm=$(printf '%s\n' "${ow[@]}" | med); ocm=$(printf '%s\n' "${oc[@]}" | med)
        ratio=$(awk -v a="$ocm" -v b="$ccm" 'BEGIN {printf "%.1f", a / b}')
    else
        owm=-; ocm=-; ratio=-
    fi
    printf '%-9s %12s %12s %12s %12s %9s\n' "$n" "$cwm" "$ccm" "$owm" "$ocm" "$ratio"
done
