#!/usr/bin/env bash
# bench/run.sh - every benchmark (make bench); each prints its figures as ratios
# to anchors measured in the same run.
set -eu
cd "$(dirname "$0")/.."
bench/kern.sh
bench/exec.sh
bench/tfile.sh
