#!/usr/bin/env bash
# bench/run.sh - every benchmark (make bench); each prints its figures as ratios to
# anchors measured in the same run (single thread unless it says otherwise).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
"$here/tfile.sh"
"$here/sampler.sh"
"$here/image.sh"
"$here/onnx_load.sh"
"$here/observer.sh"
"$here/kern.sh"
"$here/qgemm.sh"
"$here/qconv.sh"
"$here/exec.sh"
THREADS=2 "$here/exec.sh"
