#!/usr/bin/env bash
# bench/kern.sh - single-thread figures of the fp32 conv kernels (core/kern*.c)
# on ResNet-18 and MobileNetV2 layers, each next to an anchor measured in the
# same run: OpenBLAS sgemm of the same GEMM shape (GEMM-based layers), memcpy
# of the same bytes (depthwise), and, when torch and onnxruntime-node are
# there, ONNX Runtime on a one-Conv+Relu model of the layer.
#   BENCH_SECONDS=0.25  time budget per measurement (best of the repeats)
#   BENCH_CPU=N         pin everything to CPU N (default: the last CPU)
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SECS=${BENCH_SECONDS:-0.25}
CPU=${BENCH_CPU:-$(($(nproc) - 1))}
PIN=""
command -v taskset >/dev/null && PIN="taskset -c $CPU"
export OPENBLAS_NUM_THREADS=1
make --no-print-directory -s "$BUILD/bench/bench_kern" "$BUILD/bench/peak"
out=$(mktemp -d /tmp/calq-bench-kern.XXXXXX)
trap 'rm -rf "$out"' EXIT

echo "== arithmetic ceilings, 1 thread${PIN:+, pinned to CPU $CPU} (bench/peak.c)"
$PIN "$BUILD/bench/peak" | tee "$out/peak.txt"
peak=$(awk '$1 == "fp32_fma" { print $2 }' "$out/peak.txt")
echo

echo "== calq conv kernels, 1 thread${PIN:+, pinned to CPU $CPU}"
$PIN "$BUILD/bench/bench_kern" "$SECS" | tee "$out/calq.txt"

ORT_DIR=${CALQ_CACHE:-.cache}/ort/node_modules
if [ -d "$ORT_DIR/onnxruntime-node" ] && command -v node >/dev/null &&
   "$BUILD/bench/bench_kern" --layers | /usr/bin/python3 bench/kern_ort.py "$out/models" \
       >"$out/models.txt" 2>"$out/export.log"; then
    echo
    echo "== ONNX Runtime (onnxruntime-node, intra-op threads 1), same layers, Conv+Relu"
    NODE_PATH=$ORT_DIR $PIN node bench/kern_ort.js "$SECS" <"$out/models.txt" >"$out/ort.txt"
    # calq's default algorithm is the first line of each layer
    awk -F'\t' -v peak="${peak:-0}" 'NR == FNR { ort[$2] = $3; next }
        /^(r18|mv2|bf)\./ { name = substr($0, 1, 28); sub(/ +$/, "", name)
            if (seen[name]++) next
            split(substr($0, 29), f, " ")
            if (name in ort)
                printf "%-28s calq %8.3f ms  ort %8.3f ms  calq/ort %5.2f%s\n", name, f[3], ort[name],
                       f[3] / ort[name], (peak > 0 && name !~ /\.dw / ? sprintf("  calq %3.0f%% of peak", 100 * f[4] / peak) : "") }' \
        "$out/ort.txt" "$out/calq.txt"
else
    echo "(ONNX Runtime comparison skipped: needs $ORT_DIR/onnxruntime-node, node and torch)"
fi
