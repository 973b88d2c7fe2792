#!/usr/bin/env bash
# make demo: run calq's main job on the default real data (recipes/demo.lua).
# BUILD (as for make; default build) names the build folder: its calq runs,
# and the demo writes under BUILD/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
export CALQ_CACHE=${CALQ_CACHE:-$PWD/.cache}
build=${BUILD:-build}
exec "$build/calq" run recipes/demo.lua "$build/demo"
