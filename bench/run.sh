#!/usr/bin/env bash
# Run every benchmark (make bench). Each prints its figures as ratios to
# anchors measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
bench/tfile.sh
