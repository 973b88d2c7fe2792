#!/usr/bin/env bash
# bench/bf16_models.sh - ResNet-18, MobileNetV2 and ResNet-50 (bench/torchvision_export.py's
# exports under $CALQ_CACHE/models) in fp32 and bf16 in calq, one thread, pinned to one
# CPU, in one run (bench/bf16_models.lua), with bench/peak's fp32 FMA and bf16 dot ceilings
# before and after: bf16 as calq chooses it (AMX-BF16 tiles where the CPU has them), then
# again with AMX off (CALQ_AMX=0: vdpbf16ps).
#   BENCH_CPU=N        CPU to pin to (default: the last one)
#   BENCH_ROUNDS=N     alternating rounds per model (default 15)
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
CPU=${BENCH_CPU:-$(($(nproc) - 1))}
cache=${CALQ_CACHE:-.cache}
PIN=""
command -v taskset >/dev/null && PIN="taskset -c $CPU"
make --no-print-directory -s BUILD="$BUILD" "$BUILD/lua/calq/core.so" "$BUILD/bench/peak"
export LUA_PATH="$PWD/scripts/?.lua;$PWD/scripts/?/init.lua;;"
export LUA_CPATH="$PWD/$BUILD/lua/?.so;;"
models=()
for n in resnet18 mobilenet_v2 resnet50; do
    [ -f "$cache/models/$n.onnx" ] && models+=("$cache/models/$n.onnx")
done
[ ${#models[@]} -gt 0 ] || { echo "bf16_models.sh: no models in $cache/models (bench/torchvision_export.py)"; exit 0; }
peak() { $PIN "$BUILD/bench/peak" --tsv | awk '{ printf "%s %s  ", $1, $2 }'; echo; }
echo "peaks before (GFLOP/s): $(peak)"
echo "-- bf16 as calq chooses (AMX-BF16 where the CPU has it)"
$PIN lua5.4 bench/bf16_models.lua "${BENCH_ROUNDS:-15}" "${models[@]}"
echo "-- CALQ_AMX=0 (AVX512-BF16 vdpbf16ps where the CPU has it)"
CALQ_AMX=0 $PIN lua5.4 bench/bf16_models.lua "${BENCH_ROUNDS:-15}" "${models[@]}"
echo "peaks after  (GFLOP/s): $(peak)"
