#!/usr/bin/env bash
# The calibration observers on real activations: BlazeFace back-256 over the
# 55 single-face crops of dlib's examples (preset blazeface), every tensor the
# quantized graph quantizes observed as calq calibrate observes it; each
# method's clipping range and the SQNR of u8 asymmetric quantization with it
# over the same images (bench/observer_real.c). A sanity check of the
# observers, not a benchmark: no timing, one thread.
#
#   bench/observer_real.sh                (from the repository top; builds its driver)
#   MODEL=... PRESET=... IMAGES="a.jpg b.jpg" ALL=1 bench/observer_real.sh
#
# Prints the per-method summary (mean SQNR over the tensors, how many tensors
# the method is best on within 0.05 dB, how many it clips) and a few layers;
# ALL=1 prints every tensor.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
build=${BUILD:-build}
model=${MODEL:-.cache/blazeface/package/ONNX/face_detection_back_256x256_barracuda.onnx}
preset=${PRESET:-blazeface}
# shellcheck disable=SC2206
images=(${IMAGES:-.cache/dlib/examples/johns/*/*.jpg})
layers=${LAYERS:-'conv2d/Relu:0|re_lu_6/Relu:0|re_lu_22/Relu:0|depthwise_conv2d_25/|depthwise_conv2d_31/|conv2d_29/BiasAdd:0|conv2d_33/BiasAdd:0'}
if [ ! -f "$model" ] || [ ! -f "${images[0]}" ]; then
    echo "observer_real: $model or the images are missing (make bootstrap fetches them)" >&2
    exit 1
fi
make --no-print-directory -s "$build/bench/observer_real" >/dev/null
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$build/bench/observer_real" "$model" "$preset" "${images[@]}" >"$out"
echo "observer_real: $(basename "$model"), ${#images[@]} images, preset $preset"
head -1 "$out" | sed 's/^/  /'
echo "  method            mean SQNR dB  best on  clipped"
awk '$1 == "method" { printf "  %-17s %12s %8s %8s\n", $2, $3, $4, $5 }' "$out"
echo "  layers (min max | per method lo hi SQNR dB; methods in the order above)"
if [ "${ALL:-0}" = 1 ]; then
    grep '^tensor ' "$out" | sed 's/^tensor /  /'
else
    grep -E "^tensor [^ ]*($layers)" "$out" | sed 's/^tensor /  /; s#StatefulPartitionedCall/functional_1/##'
fi
