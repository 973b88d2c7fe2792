#!/usr/bin/env bash
# The data set layer: balancing 1,000,000 records (target < 0.5 s) and reading a
# COCO-shaped instances JSON of 118,287 images and 860,001 annotations (target
# >= 150 MB/s, single thread), with /usr/bin/python3's json.load on the same
# file in the same run as the anchor, and two more: yajl alone without
# callbacks (the library's ceiling) and calq's reference path (every byte
# through yajl's callbacks; the two calq reads must give the same digest).
# Peak RSS from /usr/bin/time -v. The JSON is generated once into
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
# peak RSS from /usr/bin/time -v (kB); the program's own line on stdout
timed() {
    local t; t=$(mktemp)
    /usr/bin/time -v -o "$t" "$@"
    echo "peak_rss_kb $(sed -n 's/.*Maximum resident set size (kbytes): //p' "$t")"
    rm -f "$t"
}
mbs() { sed -n "s/.*$1 [0-9.]* s = \([0-9.]*\) MB\/s.*/\1/p" <<<"$2"; }
# the machine is shared: the three C runs alternate, best CPU rate of 3 each
best() { sort -t= -k3 -g <<<"$1" | tail -1; }
calq_all=; ref_all=; yajl_all=
for rep in 1 2 3; do
    calq_all+=$(build/bench/sampler_bench coco "$json")$'\n'
    ref_all+=$(build/bench/sampler_bench coco-noskip "$json")$'\n'
    yajl_all+=$(build/bench/sampler_bench yajl "$json")$'\n'
done
calq_out="$(best "$(grep . <<<"$calq_all")")"$'\n'$(timed build/bench/sampler_bench coco "$json" | tail -1)
ref_out="$(best "$(grep . <<<"$ref_all")")"$'\n'$(timed build/bench/sampler_bench coco-noskip "$json" | tail -1)
yajl_line=$(best "$(grep . <<<"$yajl_all")")
py_out=$(timed /usr/bin/python3 - "$json" <<'PY'
import json, os, sys, time
t0, c0 = time.perf_counter(), time.process_time()
with open(sys.argv[1], "rb") as f:
    json.load(f)
t, c = time.perf_counter() - t0, time.process_time() - c0
mb = os.path.getsize(sys.argv[1]) / 1e6
print(f"wall {t:.3f} s = {mb / t:.1f} MB/s, cpu {c:.3f} s = {mb / c:.1f} MB/s")
PY
)
calq_line=$(head -1 <<<"$calq_out"); ref_line=$(head -1 <<<"$ref_out"); py_line=$(head -1 <<<"$py_out")
echo "calq              $calq_line, peak RSS $(sed -n 's/peak_rss_kb //p' <<<"$calq_out") kB"
echo "calq (no skip)    $ref_line, peak RSS $(sed -n 's/peak_rss_kb //p' <<<"$ref_out") kB"
echo "                  $yajl_line"
echo "python json.load  $py_line, peak RSS $(sed -n 's/peak_rss_kb //p' <<<"$py_out") kB"
d1=$(sed -n 's/.*digest \([0-9a-f]*\).*/\1/p' <<<"$calq_line")
d2=$(sed -n 's/.*digest \([0-9a-f]*\).*/\1/p' <<<"$ref_line")
if [ -z "$d1" ] || [ "$d1" != "$d2" ]; then
    echo "FAIL: the skipping reader and the reference path disagree ($d1 vs $d2)"; exit 1
fi
awk -v cw="$(mbs wall "$calq_line")" -v cc="$(mbs cpu "$calq_line")" \
    -v rw="$(mbs wall "$ref_line")" -v rc="$(mbs cpu "$ref_line")" \
    -v yw="$(mbs wall "$yajl_line")" -v yc="$(mbs cpu "$yajl_line")" \
    -v pw="$(mbs wall "$py_line")" -v pc="$(mbs cpu "$py_line")" 'BEGIN {
    printf "ratio calq / python json.load:       wall %.2fx, cpu %.2fx\n", cw / pw, cc / pc
    printf "ratio calq / yajl without callbacks: wall %.2fx, cpu %.2fx\n", cw / yw, cc / yc
    printf "ratio calq / calq without skipping:  wall %.2fx, cpu %.2fx\n", cw / rw, cc / rc }'
