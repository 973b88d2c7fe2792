#!/usr/bin/env bash
# ONNX Runtime 1.30 fp32 single-thread latency of calq's reference models, batch 1.
# Exports ResNet-18 / MobileNetV2 first (bench/torchvision_export.py, idempotent).
# Ratios are to ResNet-18, measured in the same run.
#   usage: bench/ort_latency.sh [--repeat 100] [--warmup 10]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${CALQ_CACHE:-$repo/.cache}
export CALQ_CACHE=$cache
if [[ ! -d $cache/ort/node_modules/onnxruntime-node ]]; then
    echo "ort_latency: skipped: no onnxruntime-node under $cache/ort (run tools/bootstrap.sh)"
    exit 0
fi
/usr/bin/python3 "$repo/bench/torchvision_export.py" --cache "$cache" >/dev/null
bf=$cache/blazeface/package/ONNX
models=("$cache/models/resnet18.onnx" "$cache/models/mobilenet_v2.onnx"
        "$bf/face_detection_back_256x256_barracuda.onnx" "$bf/face_detection_front_128x128_barracuda.onnx"
        "$repo/models/fashion_mnist/fmnist_cnn.onnx")
for m in "${models[@]}"; do
    [[ -f $m ]] || { echo "ort_latency: skipped: $m missing"; exit 0; }
done
args=("$@")
((${#args[@]})) || args=(--repeat 100 --warmup 10)
node "$repo/bench/ort_latency.js" "${models[@]}" --threads 1 "${args[@]}"
