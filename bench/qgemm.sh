#!/usr/bin/env bash
# bench/qgemm.sh - calq's int8 GEMM (bench/qgemm.c: AMX and AVX-512 VNNI paths) against this
# CPU's int8 peaks (bench/peak.c: tdpbusd, vpdpbusd) and Debian oneDNN's u8 x s8 -> s32
# matmul (bench/qgemm_dnnl.c), one thread, pinned to one CPU: peak, then BENCH_ROUNDS rounds
# of calq, oneDNN as it chooses (AMX where the CPU has it) and oneDNN held to AVX-512 VNNI
# (DNNL_MAX_CPU_ISA=AVX512_CORE_VNNI), one after the other, then the peak again; each figure
# is the best over the rounds, and the share of a peak is of the better of its two runs. Installs libdnnl-dev when missing (a bench-only step; make test
# does not need it).
#   BENCH_SECONDS=0.5   time per measurement (best of 5 slices)
#   BENCH_ROUNDS=3      alternating rounds
#   BENCH_CLOCK=cpu     time the thread's CPU time instead of the wall clock (bench/qgemm_common.h)
#   BENCH_CPU=N         CPU to pin to (default: the last one)
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SECS=${BENCH_SECONDS:-0.5}
ROUNDS=${BENCH_ROUNDS:-3}
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
   ${CC:-gcc} -O2 -std=c99 -D_GNU_SOURCE -Ibench bench/qgemm_dnnl.c -o "$out/qgemm_dnnl" -ldnnl; then
    have_dnnl=1
fi
peak() { $PIN "$BUILD/bench/peak" --tsv | awk '$1 == "int8_dot" { d = $2 } $1 == "int8_amx" { a = $2 } END { print d, (a ? a : 0) }'; }

read -r p1 a1 <<<"$(peak)"
: >"$out/calq.tsv"; : >"$out/dnnl.tsv"; : >"$out/vnni.tsv"
for _ in $(seq "$ROUNDS"); do
    BENCH_PATHS=amx,avx512 $PIN "$BUILD/bench/qgemm" "$SECS" --tsv >>"$out/calq.tsv"
    if [ $have_dnnl = 1 ]; then
        $PIN "$out/qgemm_dnnl" "$SECS" --tsv >>"$out/dnnl.tsv"
        DNNL_MAX_CPU_ISA=AVX512_CORE_VNNI $PIN "$out/qgemm_dnnl" "$SECS" --tsv >>"$out/vnni.tsv"
    fi
done
read -r p2 a2 <<<"$(peak)"
echo "== int8 GEMM, 1 thread${PIN:+, pinned to CPU $CPU}, best of $ROUNDS rounds, clock ${BENCH_CLOCK:-wall}"
echo "   vpdpbusd peak $p1 GOP/s before, $p2 after; tdpbusd peak $a1 before, $a2 after"
echo "   shapes m x n x k: x (m, k) u8 activations, w (n, k) s8 packed weights"
awk -F'\t' -v p1="$p1" -v p2="$p2" -v a1="$a1" -v a2="$a2" '
    function best(arr, key, v) { if (!(key in arr) || v > arr[key]) arr[key] = v }
    FILENAME ~ /dnnl.tsv$/ { k = $3" "$4" "$5; best(d, k, $6); di[k] = $7; next }
    FILENAME ~ /vnni.tsv$/ { best(v, $3" "$4" "$5, $6); next }
    { k = $1" "$2" "$3" "$4" "$5; if (!(k in c)) order[n++] = k; best(c, k, $6) }
    END {
        for (i = 0; i < n; i++) {
            split(order[i], f, " "); key = f[3]" "f[4]" "f[5]; g = c[order[i]]
            pk = f[1] == "amx" ? (a1 > a2 ? a1 : a2) : (p1 > p2 ? p1 : p2)
            printf "%-7s %-4s %5d x %5d x %5d  %7.1f GOP/s  %3.0f%% of its peak", f[1], f[2], f[3], f[4], f[5], g, pk ? 100 * g / pk : 0
            if (f[2] == "s32" && (key in d))
                printf "  / oneDNN %6.1f (%s) = %.2fx  / oneDNN VNNI %6.1f = %.2fx", d[key], di[key], g / d[key], v[key], g / v[key]
            printf "\n"
        }
    }' "$out/dnnl.tsv" "$out/vnni.tsv" "$out/calq.tsv"
