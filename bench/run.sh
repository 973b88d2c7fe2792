#!/usr/bin/env bash
# Every benchmark, printed as ratios against anchors measured in the same run.
set -u
cd "$(dirname "$0")/.."
rc=0
bench/exec.sh || rc=1
exit $rc
