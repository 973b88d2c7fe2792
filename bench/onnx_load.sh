#!/usr/bin/env bash
# ONNX load/save time on BlazeFace, as ratios to reading the file's bytes.
# Run from the repository root after `make`: bench/onnx_load.sh
set -eu
cache=${CALQ_CACHE:-.cache}
mkdir -p build/bench
cc -O2 -Icore bench/onnx_load.c build/libcalq.a -lm -o build/bench/onnx_load
for m in face_detection_back_256x256_barracuda face_detection_front_128x128_barracuda; do
    f="$cache/blazeface/package/ONNX/$m.onnx"
    if [ -f "$f" ]; then build/bench/onnx_load "$f" 50; else echo "skipped: $f missing"; fi
done
