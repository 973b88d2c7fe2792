#!/usr/bin/env bash
# bench/qgemm.sh - calq's int8 GEMM (bench/qgemm.c) against this CPU's int8 dot-product
# peak (bench/peak.c, vpdpbusd) and Debian oneDNN's u8 x s8 -> s32 matmul
# (bench/qgemm_dnnl.c), one thread, all in one run pinned to one CPU: peak, calq,
# oneDNN as it chooses (AMX where the CPU has it), oneDNN held to AVX-512 VNNI
# (DNNL_MAX_CPU_ISA=AVX512_CORE_VNNI), peak again. Installs libdnnl-dev when missing
# (a bench-only step; make test does not need it).
#   BENCH_SECONDS=0.5   time per measurement (best of 5 slices)
#   BENCH_CPU=N         CPU to pin to (default: the last one)
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SECS=${BENCH_SECONDS:-0.5}
CPU=${BENCH_CPU:-$(($(nproc) - 1))}
PIN=""
command -v taskset >/dev/null && PIN="taskset -c $CPU"
export OMP_NUM_THREADS=1
make --no-print-directory -s BUILD="$BUILD" "$BUILD/bench/qgemm" "$BUILD/bench/peak"
if [ ! -f /usr/include/oneapi/dnnl/dnnl.h ]; then
    SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        libdnnl-dev >/dev/null || echo "qgemm.sh: libdnnl-dev not installed"
fi
out=$(mktemp -d /tmp/calq-bench-qgemm.XXXXXX)
trap 'rm -rf "$out"' EXIT
have_dnnl=0
if [ -f /usr/include/oneapi/dnnl/dnnl.h ] &&
   ${CC:-gcc} -O2 -std=c99 -D_GNU_SOURCE bench/qgemm_dnnl.c -o "$out/qgemm_dnnl" -ldnnl; then
    have_dnnl=1
fi
peak() { $PIN "$BUILD/bench/peak" --tsv | awk '$1 == "int8_dot" { print $2 }'; }

p1=$(peak)
$PIN "$BUILD/bench/qgemm" "$SECS" --tsv >"$out/calq.tsv"
if [ $have_dnnl = 1 ]; then
    $PIN "$out/qgemm_dnnl" "$SECS" --tsv >"$out/dnnl.tsv"
    DNNL_MAX_CPU_ISA=AVX512_CORE_VNNI $PIN "$out/qgemm_dnnl" "$SECS" --tsv >"$out/vnni.tsv"
else
    : >"$out/dnnl.tsv"; : >"$out/vnni.tsv"
fi
p2=$(peak)
echo "== int8 GEMM, 1 thread${PIN:+, pinned to CPU $CPU}; vpdpbusd peak $p1 GOP/s before, $p2 after"
echo "   shapes m x n x k: x (m, k) u8 activations, w (n, k) s8 packed weights"
awk -F'\t' -v p1="$p1" -v p2="$p2" '
    FILENAME ~ /dnnl.tsv$/ { d[$3" "$4" "$5] = $6; di[$3" "$4" "$5] = $7; next }
    FILENAME ~ /vnni.tsv$/ { v[$3" "$4" "$5] = $6; next }
    { key = $3" "$4" "$5; pk = (p1 + p2) / 2
      printf "%-7s %-4s %5d x %5d x %5d  %7.1f GOP/s  %3.0f%% of peak", $1, $2, $3, $4, $5, $6, 100 * $6 / pk
      if ($1 == "avx512" && $2 == "s32" && (key in d))
          printf "  / oneDNN %6.1f (%s) = %.2fx  / oneDNN VNNI %6.1f = %.2fx", d[key], di[key], $6 / d[key], v[key], $6 / v[key]
      printf "\n" }' "$out/dnnl.tsv" "$out/vnni.tsv" "$out/calq.tsv"
