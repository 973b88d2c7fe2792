#!/usr/bin/env bash
# Every benchmark, one after the other (figures are ratios to anchors of the same run).
set -euo pipefail
cd "$(dirname "$0")/.."
bench/sampler.sh
