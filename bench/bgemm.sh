#!/usr/bin/env bash
# bench/bgemm.sh - calq's bf16 GEMM (bench/bgemm.c) against this CPU's bf16 dot-product
# peak (bench/peak.c, vdpbf16ps), one thread, in one run pinned to one CPU: peak, the
# GEMM (with the f32 GEMM of the same shape, and the AMX-BF16 path where the CPU has it),
# peak again; each shape's vdpbf16ps GFLOP/s as a share of the better of the two peaks
# (the host's busy spells lower either).
#   BENCH_SECONDS=0.3   time per measurement (best of 5 slices)
#   BENCH_CPU=N         CPU to pin to (default: the last one)
#   BENCH_REPEAT=N      rounds of the three (default 1)
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SECS=${BENCH_SECONDS:-0.3}
CPU=${BENCH_CPU:-$(($(nproc) - 1))}
PIN=""
command -v taskset >/dev/null && PIN="taskset -c $CPU"
make --no-print-directory -s BUILD="$BUILD" "$BUILD/bench/bgemm" "$BUILD/bench/peak"
peak() { $PIN "$BUILD/bench/peak" --tsv | awk '$1 == "bf16_dot" { b = $2 } $1 == "fp32_fma" { f = $2 } END { print b, f }'; }
for r in $(seq "${BENCH_REPEAT:-1}"); do
    read -r b1 f1 <<<"$(peak)"
    rows=$($PIN "$BUILD/bench/bgemm" "$SECS" --tsv)
    read -r b2 f2 <<<"$(peak)"
    echo "== bf16 GEMM, 1 thread${PIN:+, CPU $CPU}; vdpbf16ps peak $b1 / $b2 GFLOP/s," \
         "fp32 FMA peak $f1 / $f2 (before / after)"
    echo "$rows" | awk -F'\t' -v b1="$b1" -v b2="$b2" '
        { pk = b1 > b2 ? b1 : b2
          printf "%5d x %5d x %5d  bf16 %6.1f GFLOP/s  %3.0f%% of the bf16 peak   f32 GEMM %6.1f  (bf16 %.2fx)%s",
                 $1, $2, $3, $4, 100 * $4 / pk, $5, $4 / $5, $6 == 1 ? "" : "  [fallback]"
          if ($7 > 0) printf "   AMX-BF16 %7.1f (%.1fx f32)", $7, $7 / $5
          printf "\n" }'
done
