#!/usr/bin/env bash
# make demo: run calq's main job on the default real data (recipes/demo.lua).
set -euo pipefail
cd "$(dirname "$0")/.."
export CALQ_CACHE=${CALQ_CACHE:-$PWD/.cache}
exec build/calq run recipes/demo.lua build/demo
