#!/usr/bin/env bash
# bench/bgemm.sh - calq's bf16 GEMM (bench/bgemm.c) against this CPU's bf16 dot-product
# peak (bench/peak.c, vdpbf16ps), one thread, pinned to one CPU: rounds of peak, the
# GEMM (with the f32 GEMM of the same shape, and the AMX-BF16 path where the CPU has it),
# peak again; each shape's best vdpbf16ps GFLOP/s as a share of the best peak.
#   BENCH_SECONDS=0.3   time per measurement (best of 5 slices)
#   BENCH_CPU=N         CPU to pin to (default: the last one)
#   BENCH_REPEAT=N      rounds of peak, GEMM, peak (default 5)
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SECS=${BENCH_SECONDS:-0.3}
CPU=${BENCH_CPU:-$(($(nproc) - 1))}
PIN=""
command -v taskset >/dev/null && PIN="taskset -c $CPU"
make --no-print-directory -s BUILD="$BUILD" "$BUILD/bench/bgemm" "$BUILD/bench/peak"
peak() { $PIN "$BUILD/bench/peak" --tsv | awk '$1 == "bf16_dot" { b = $2 } $1 == "fp32_fma" { f = $2 } END { print b, f }'; }
out=$(mktemp /tmp/calq-bench-bgemm.XXXXXX)
trap 'rm -f "$out"' EXIT
# Rounds of peak, GEMM, peak; at the end each figure's best over the rounds (the
# host's other vCPU halves a core's rate while it is busy: the best figures are those
# it left alone), the GEMM's as a share of the best peak.
for r in $(seq "${BENCH_REPEAT:-5}"); do
    read -r b f <<<"$(peak)"
    echo "peak $b $f" >>"$out"
    $PIN "$BUILD/bench/bgemm" "$SECS" --tsv | sed 's/^/gemm\t/' >>"$out"
    read -r b f <<<"$(peak)"
    echo "peak $b $f" >>"$out"
done
awk -v rounds="${BENCH_REPEAT:-5}" '
    $1 == "peak" { split($0, a, " "); if (a[2] > pb) pb = a[2]; if (a[3] > pf) pf = a[3]; next }
    { split($0, a, "\t"); key = a[2] " " a[3] " " a[4]
      if (!(key in b)) order[++n] = key
      if (a[5] > b[key]) b[key] = a[5]; if (a[6] > f[key]) f[key] = a[6]
      if (a[8] > x[key]) x[key] = a[8]; nat[key] = a[7] }
    END {
      printf "== bf16 GEMM, 1 thread, best of %d rounds; vdpbf16ps peak %.1f GFLOP/s, fp32 FMA peak %.1f\n", rounds, pb, pf
      for (i = 1; i <= n; i++) { k = order[i]; split(k, s, " ")
        printf "%5d x %5d x %5d  bf16 %6.1f GFLOP/s  %3.0f%% of the bf16 peak   f32 GEMM %6.1f  (bf16 %.2fx)%s",
               s[1], s[2], s[3], b[k], 100 * b[k] / pb, f[k], b[k] / f[k], nat[k] == 1 ? "" : "  [fallback]"
        if (x[k] > 0) printf "   AMX-BF16 %7.1f (%.1fx f32)", x[k], x[k] / f[k]
        printf "\n" } }' "$out"
