#!/usr/bin/env bash
# Calibration memory does not grow with the set: peak RSS (/usr/bin/time -v)
# of `calq calibrate` on BlazeFace back-256 over 1,000 and over 10,000 mosaic
# images (calq mosaic from the dlib crops and training photos, 320x320 JPEGs,
# --preprocess blazeface, default histogram observers), target: the two
# differ by less than 10%. The images are streamed from the list a batch at
# a time and the statistics are O(bins x tensors), so only the run time
# should grow. The mosaics are made once into bench/out/ (CALQ_BENCH_OUT to
# put them elsewhere). Counts: CALQ_MEM_SMALL (1000), CALQ_MEM_LARGE (10000).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
BUILD=${BUILD:-build}
make -s --no-print-directory BUILD="$BUILD" all
calq=$top/$BUILD/calq
cache=${CALQ_CACHE:-$top/.cache}
model=$cache/blazeface/package/ONNX/face_detection_back_256x256_barracuda.onnx
small=${CALQ_MEM_SMALL:-1000}
large=${CALQ_MEM_LARGE:-10000}
out=${CALQ_BENCH_OUT:-$top/bench/out}
mos=$out/calib_mosaic_$large
mkdir -p "$out"
if [ ! -s "$mos/annotations.json" ]; then
    "$calq" mosaic --output "$mos" --crops "$cache/dlib/examples/johns" \
        --photos "$cache/dlib/examples/faces/training.xml" --count "$large" \
        --size 320x320 --seed 1 >/dev/null
fi
find "$mos/images" -name '*.jpg' | sort >"$out/calib_mosaic_all.txt"
head -n "$small" "$out/calib_mosaic_all.txt" >"$out/calib_mosaic_small.txt"

measure() { # list -> "items rss_kb seconds"
    local t; t=$(mktemp)
    /usr/bin/time -v -o "$t" "$calq" calibrate "$model" --calib "$1" --preprocess blazeface \
        --threads 1 --json --output "$out/calib_mem.calq" >"$t.json"
    local rss wall items
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$t")
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$t")
    items=$(sed -n 's/.*"items":\([0-9]*\),.*/\1/p' "$t.json")
    rm -f "$t" "$t.json"
    echo "$items $rss $wall"
}
echo "== calq calibrate, BlazeFace back-256, mosaic images 320x320, one thread"
read -r n1 r1 w1 < <(measure "$out/calib_mosaic_small.txt")
echo "images $n1: peak RSS $r1 kB, wall $w1"
read -r n2 r2 w2 < <(measure "$out/calib_mosaic_all.txt")
echo "images $n2: peak RSS $r2 kB, wall $w2"
awk -v a="$r1" -v b="$r2" 'BEGIN { d = (b - a) / a * 100;
    printf "peak RSS %d images vs %d: %+.1f%% (target: within 10%%) %s\n", '"$n2"', '"$n1"', d,
           (d < 10 && d > -10) ? "PASS" : "FAIL" }'
rm -f "$out/calib_mem.calq"
