#!/usr/bin/env bash
# bench/qconv.sh - calq's int8 convolution (bench/qconv.c, u8 NHWC) against calq's fp32
# convolution on the same layers, one thread, pinned to one CPU, next to this CPU's
# int8 dot-product peak (bench/peak.c, vpdpbusd) measured before and after.
#   BENCH_SECONDS=0.3   time per layer and kernel (best of 5 alternating slices)
#   BENCH_CPU=N         CPU to pin to (default: the last one)
#   usage: bench/qconv.sh [NAME-PART ...]   (only the layers whose name holds one)
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SECS=${BENCH_SECONDS:-0.3}
CPU=${BENCH_CPU:-$(($(nproc) - 1))}
PIN=""
command -v taskset >/dev/null && PIN="taskset -c $CPU"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
make --no-print-directory -s BUILD="$BUILD" "$BUILD/bench/qconv" "$BUILD/bench/peak"
peak() { $PIN "$BUILD/bench/peak" --tsv | awk '$1 == "int8_dot" { print $2 }'; }
out=$(mktemp /tmp/calq-bench-qconv.XXXXXX)
trap 'rm -f "$out"' EXIT
p1=$(peak)
$PIN "$BUILD/bench/qconv" "$SECS" --tsv "$@" >"$out"
p2=$(peak)
echo "== int8 conv vs fp32 conv, 1 thread${PIN:+, pinned to CPU $CPU}; vpdpbusd peak $p1 GOP/s before, $p2 after"
printf "%-22s %-7s %9s %9s %6s %9s %9s %8s\n" layer path int8_ms GOP/s peak% fp32_ms GFLOP/s fp32/i8
awk -F'\t' -v p1="$p1" -v p2="$p2" '{
    printf "%-22s %-7s %9.4f %9.1f %5.0f%% %9.4f %9.1f %7.2fx\n", $1, $2, $3, $4,
           100 * $4 / ((p1 + p2) / 2), $5, $6, $7 }' "$out"
