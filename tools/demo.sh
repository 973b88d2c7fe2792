#!/usr/bin/env bash
# make demo: calq's main job on the default real data (recipes/blazeface_balanced.lua):
# a label-balanced calibration set, the best observer, knobs from the cost model on
# this host's probed profile (probed once, kept in $CALQ_CACHE/probe), the table
# against fp32, the QDQ file (run in ONNX Runtime too when node and the bootstrapped
# onnxruntime-node are there) and a run folder with its report page.
# BUILD (as for make; default build) names the build folder: its calq runs, and the
# demo writes under BUILD/demo (DEMO_OUT moves it). Extra arguments go to the recipe (--profile NAME...).
set -euo pipefail
cd "$(dirname "$0")/.."
export CALQ_CACHE=${CALQ_CACHE:-$PWD/.cache}
build=${BUILD:-build}
ort=()
if command -v node >/dev/null 2>&1 && [ -d "$CALQ_CACHE/ort" ]; then ort=(--ort); fi
exec "$build/calq" run recipes/blazeface_balanced.lua "${DEMO_OUT:-$build/demo}" "${ort[@]}" "$@"
