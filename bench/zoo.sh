#!/usr/bin/env bash
# The fp32 zoo, calq vs ONNX Runtime (onnxruntime-node), in one run: every model of
# bench/torchvision_export.py (exported first when missing), timed by bench/exec.sh
# (rounds alternating the engines; ratio = calq / ORT), then calq's profile of each
# (bench/zoo_profile.lua): the three operator types that take the most time, each with
# its achieved rate (GFLOP/s for contractions, GB/s for the rest; model:profile()).
#   usage: bench/zoo.sh [NAME ...]   (THREADS=1 ROUNDS=3 REPEAT=20 WARMUP=3 BUILD=build;
#          run it under taskset -c N: the timings are single-core figures)
# Prints exec.sh's table, then one markdown row per model:
# | model | ORT ms | calq ms | ratio | top-3 operator types: ms (share) rate |
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${CALQ_CACHE:-$repo/.cache}
build=$repo/${BUILD:-build}
threads=${THREADS:-1}; repeat=${REPEAT:-20}; warmup=${WARMUP:-3}
export CALQ_CACHE=$cache

[[ -x $build/calq ]] || { echo "bench/zoo.sh: build calq first (make)"; exit 1; }
/usr/bin/python3 "$repo/bench/torchvision_export.py" --cache "$cache" "$@" >&2 ||
    { echo "bench/zoo.sh: torchvision export failed" >&2; exit 1; }
names=("$@")
((${#names[@]})) || mapfile -t names < <(/usr/bin/python3 "$repo/bench/torchvision_export.py" --list | cut -d' ' -f1)
models=()
for n in "${names[@]}"; do models+=("$cache/models/$n.onnx"); done

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$repo/bench/exec.sh" "${models[@]}" | tee "$tmp/exec"
grep -q '^model ' "$tmp/exec" || exit 0   # exec.sh skipped (no ONNX Runtime)
"$build/calq" run "$repo/bench/zoo_profile.lua" "${models[@]}" --threads "$threads" \
    --repeat "$repeat" --warmup "$warmup" --top 3 > "$tmp/prof"

echo
echo "| model | ORT ms | calq ms | ratio | calq's top-3 operator types: ms (share) rate |"
echo "|---|---:|---:|---:|---|"
for m in "${models[@]}"; do
    b=${m##*/}
    top=$(awk -v b="$b" '$1 == "profile" && $2 == b {
            printf "%s%s %.2f (%.0f%%) %s %s", sep, $3, $4, $5, $6, $7; sep = "; " }' "$tmp/prof")
    awk -v b="$b" -v top="$top" '$1 == b {
            printf "| %s | %.2f | %.2f | %.2f | %s |\n", substr(b, 1, length(b) - 5), $2, $3, $4, top }' \
        "$tmp/exec"
done
