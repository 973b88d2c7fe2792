#!/usr/bin/env bash
# bench/knobs.lua pinned to one core, on ResNet-18 (SQNR budget) and BlazeFace
# back-256 (AP budget: within 1 % relative of fp32 on dlib's testing.xml, calibrated
# on the 55 johns crops and the 4 training photos, docs/quantize.md's list):
#   bench/knobs.sh [resnet18|blazeface|both] [key=value ...]   (BUILD=build, CPU=1)
# resnet18's budget is SQNR_DB (30) on 32 random normal inputs (16 of them measured).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${CALQ_CACHE:-$repo/.cache}
build=$repo/${BUILD:-build}
which=${1:-both}; shift || true
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cd "$repo"
export LUA_PATH="$repo/scripts/?.lua;$repo/scripts/?/init.lua;;" LUA_CPATH="$build/lua/?.so;;"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; $(date -u +%Y-%m-%dT%H:%MZ); calq $(git rev-parse --short HEAD)"
if [ "$which" = resnet18 ] || [ "$which" = both ]; then
  /usr/bin/python3 -c "import numpy as np; np.save('$tmp/r18.npy', np.random.default_rng(0).standard_normal((32,3,224,224)).astype(np.float32))"
  taskset -c "${CPU:-1}" lua5.4 bench/knobs.lua "$cache/models/resnet18.onnx" "$tmp/r18.npy" sqnr "${SQNR_DB:-30}" "$@"
fi
if [ "$which" = blazeface ] || [ "$which" = both ]; then
  dlib=$cache/dlib/examples
  { find "$dlib/johns" -name '*.jpg' | sort
    grep -o "file='[^']*'" "$dlib/faces/training.xml" | sed "s|file='\(.*\)'|$dlib/faces/\1|"; } > "$tmp/crops_photos.txt"
  taskset -c "${CPU:-1}" lua5.4 bench/knobs.lua \
    "$cache/blazeface/package/ONNX/face_detection_back_256x256_barracuda.onnx" "$tmp/crops_photos.txt" \
    blazeface "${TOLERANCE:-0.01}" preprocess=blazeface data="$dlib/faces/testing.xml" "$@"
fi
