#!/usr/bin/env bash
# bench/knobs.lua on ResNet-18 (SQNR budget) pinned to one core:
#   bench/knobs.sh [SQNR_DB=30] [N=24] [SRC=measured|PROFILE]   (BUILD=build, CPU=1)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${CALQ_CACHE:-$repo/.cache}
build=$repo/${BUILD:-build}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 -c "import numpy as np; np.save('$tmp/r18.npy', np.random.default_rng(0).standard_normal((32,3,224,224)).astype(np.float32))"
cd "$repo"
LUA_PATH="$repo/scripts/?.lua;$repo/scripts/?/init.lua;;" LUA_CPATH="$build/lua/?.so;;" \
  taskset -c "${CPU:-1}" lua5.4 bench/knobs.lua "$cache/models/resnet18.onnx" "$tmp/r18.npy" "${1:-30}" "${2:-12}" "${3:-measured}"
