#!/usr/bin/env bash
# Run every benchmark; each prints its figures as ratios to anchors measured
# in the same run. Add one line per benchmark.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/image.sh"
