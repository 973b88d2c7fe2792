#!/usr/bin/env bash
# ONNX load/save time on BlazeFace, as ratios to reading the file's bytes.
# Run from the repository root after `make`: bench/onnx_load.sh
set -eu
cache=${CALQ_CACHE:-.cache}
cd "$(dirname "$0")/.."
make --no-print-directory -s build/bench/onnx_load >/dev/null
for m in face_detection_back_256x256_barracuda face_detection_front_128x128_barracuda; do
    f="$cache/blazeface/package/ONNX/$m.onnx"
    if [ -f "$f" ]; then build/bench/onnx_load "$f" 50; else echo "skipped: $f missing"; fi
done
