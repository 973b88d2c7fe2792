#!/usr/bin/env bash
# The data set layer: balancing 1,000,000 records (target < 0.5 s) and reading a
# COCO-shaped instances JSON of 118,287 images and 860,001 annotations (target
# >= 150 MB/s, single thread), with /usr/bin/python3's json.load on the same
# file in the same run as the anchor. The JSON is generated once into
# bench/out/ (ignored by git; CALQ_BENCH_OUT to put it elsewhere).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
make -s --no-print-directory build/bench/sampler_bench build/bench/coco_gen
out=${CALQ_BENCH_OUT:-$top/bench/out}
mkdir -p "$out"
json=$out/coco_train_like.json
[ -s "$json" ] || build/bench/coco_gen "$json"

echo "== sampler: label-balanced draw over 1,000,000 records"
build/bench/sampler_bench balance 1000000

echo "== COCO reader vs python3 json.load ($(du -m "$json" | cut -f1) MB)"
calq_line=$(build/bench/sampler_bench coco "$json")
echo "calq  $calq_line"
echo "      $(build/bench/sampler_bench yajl "$json")"
py_line=$(/usr/bin/python3 - "$json" <<'PY'
import json, os, sys, time
t0, c0 = time.perf_counter(), time.process_time()
with open(sys.argv[1], "rb") as f:
    json.load(f)
t, c = time.perf_counter() - t0, time.process_time() - c0
mb = os.path.getsize(sys.argv[1]) / 1e6
print(f"wall {t:.3f} s = {mb / t:.1f} MB/s, cpu {c:.3f} s = {mb / c:.1f} MB/s")
PY
)
echo "python json.load  $py_line"
cw=$(sed -n 's/.*wall [0-9.]* s = \([0-9.]*\) MB\/s.*/\1/p' <<<"$calq_line")
cc=$(sed -n 's/.*cpu [0-9.]* s = \([0-9.]*\) MB\/s.*/\1/p' <<<"$calq_line")
pw=$(sed -n 's/.*wall [0-9.]* s = \([0-9.]*\) MB\/s.*/\1/p' <<<"$py_line")
pc=$(sed -n 's/.*cpu [0-9.]* s = \([0-9.]*\) MB\/s.*/\1/p' <<<"$py_line")
awk -v cw="$cw" -v cc="$cc" -v pw="$pw" -v pc="$pc" 'BEGIN {
    printf "ratio calq / python json.load: wall %.2fx, cpu %.2fx\n", cw / pw, cc / pc }'
