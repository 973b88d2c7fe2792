#!/usr/bin/env bash
# fp32 latency, calq vs ONNX Runtime (onnxruntime-node), single thread (THREADS=N:
# both engines at N threads), in the same run:
# BlazeFace back-256, ResNet-18 and MobileNetV2 (torchvision, random weights).
# ROUNDS rounds alternate ORT and calq (each timing REPEAT runs after WARMUP; which
# goes first alternates from round to round too); the
# figure per engine is the median of its per-round medians; ratio = calq / ORT.
# paired: the median over rounds of calq's round median / ORT's round median. The
# host's other tenants slow a vCPU for seconds at a time (a one-thread MobileNetV2
# read 4.5-7.8 ms from minute to minute, bench/NOTES.md, session 24); within a round
# the two engines run seconds apart, so a ratio per round cancels most of it.
#   usage: bench/exec.sh [MODEL.onnx ...]   (ROUNDS=3 REPEAT=20 WARMUP=3 by default;
#          the models above when none is given; BUILD=dir picks the build, default build)
# Models missing from $CALQ_CACHE are exported first (bench/torchvision_export.py)
# or skipped with a message.
# BENCH_CPU=1: CPU time instead of the wall clock, for a loaded host (here BENCH_CPU is
# not a CPU number; pin with taskset -c N). Both engines run under the LD_PRELOAD shim
# $BUILD/bench/cpuclock.so (bench/cpuclock.c, make bench-build): clock_gettime
# (CLOCK_MONOTONIC) on the main thread, which calq's Model:time and ort_latency.js's
# process.hrtime read, returns that thread's CPU time. One thread only: at THREADS > 1
# the other threads' work would not be counted, so the script refuses.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${CALQ_CACHE:-$repo/.cache}
build=$repo/${BUILD:-build}
calq=$build/calq
rounds=${ROUNDS:-3}; repeat=${REPEAT:-20}; warmup=${WARMUP:-3}; threads=${THREADS:-1}
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads

if [[ ! -d $cache/ort/node_modules/onnxruntime-node ]] || ! command -v node >/dev/null; then
    echo "bench/exec.sh: skipped: no onnxruntime-node under $cache/ort (tools/bootstrap.sh)"; exit 0
fi
[[ -x $calq ]] || { echo "bench/exec.sh: build calq first (make)"; exit 1; }
if (($# == 0)) && [[ ! -f $cache/models/resnet18.onnx || ! -f $cache/models/mobilenet_v2.onnx ]]; then
    /usr/bin/python3 "$repo/bench/torchvision_export.py" --cache "$cache" >&2 ||
        echo "bench/exec.sh: torchvision export failed; ResNet-18/MobileNetV2 skipped" >&2
fi
models=()
if (($# == 0)); then
    set -- "$cache/blazeface/package/ONNX/face_detection_back_256x256_barracuda.onnx" \
           "$cache/models/resnet18.onnx" "$cache/models/mobilenet_v2.onnx"
fi
for m in "$@"; do
    if [[ -f $m ]]; then models+=("$m"); else echo "bench/exec.sh: missing $m, skipped" >&2; fi
done
((${#models[@]})) || { echo "bench/exec.sh: no models"; exit 0; }

clock=wall; preload=
if [[ ${BENCH_CPU:-0} == 1 ]]; then
    ((threads == 1)) || { echo "bench/exec.sh: BENCH_CPU=1 times one thread only (THREADS=$threads)"; exit 1; }
    preload=$build/bench/cpuclock.so
    [[ -f $preload ]] || { echo "bench/exec.sh: BENCH_CPU=1 wants $preload (make BUILD=${BUILD:-build} bench-build)"; exit 1; }
    clock="CPU time (main thread)"; export BENCH_CLOCK=cpu
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# The fp32 FMA peak of this CPU before and after (bench/peak.c): the host's other
# tenants come and go, and a run where the peak fell says so next to its ratios.
peak() { [[ -x $build/bench/peak ]] && "$build/bench/peak" --tsv | awk '$1 == "fp32_fma" { print $2 }' || echo "?"; }
peak_before=$(peak)
run_ort() {
    LD_PRELOAD=$preload node "$repo/bench/ort_latency.js" "${models[@]}" --threads "$threads" --repeat "$repeat" --warmup "$warmup" |
        sed -n "s/.*\"model\":\"\([^\"]*\)\".*\"median_ms\":\([0-9.]*\),\"min_ms\":\([0-9.]*\).*/ort \1 \2 \3 $r/p" >> "$tmp/times"
}
run_calq() {
    LD_PRELOAD=$preload "$calq" run "$repo/bench/exec_latency.lua" "${models[@]}" --repeat "$repeat" --warmup "$warmup" \
        --threads "$threads" |
        awk -v r="$r" '{ n = split($2, p, "/"); print "calq", p[n], $3, $4, r }' >> "$tmp/times"
}
# In the fifth round's A/B runs, whichever of two alternating binaries ran second
# measured 2-3 % slower (bench/NOTES.md, fifth round), so neither engine always goes second:
# ORT first in odd rounds, calq first in even ones.
for ((r = 1; r <= rounds; r++)); do
    if ((r % 2)); then run_ort; run_calq; else run_calq; run_ort; fi
done

peak_after=$(peak)
echo "latency (a QDQ file: calq runs its integer form), $threads thread(s), $rounds rounds x $repeat runs (ms, $clock); ratio = calq / ORT"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "fp32 FMA peak of this CPU before / after: $peak_before / $peak_after GFLOP/s (quiet: 211-224)"
echo "median: median of the per-round medians; min: fastest run (less sensitive to other load)"
printf '%-44s %8s %8s %6s | %8s %8s %6s | %6s\n' model ort_med calq_med ratio ort_min calq_min ratio paired
for m in "${models[@]}"; do
    b=${m##*/}
    med() { awk -v e="$1" -v b="$b" '$1 == e && $2 == b { print $3 }' "$tmp/times" | sort -g |
            awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
    mn() { awk -v e="$1" -v b="$b" '$1 == e && $2 == b { print $4 }' "$tmp/times" | sort -g | head -1; }
    o=$(med ort); c=$(med calq); om=$(mn ort); cm=$(mn calq)
    pr=$(awk -v b="$b" '$2 == b { v[$1, $5] = $3; r[$5] = 1 }
            END { for (k in r) if ((("ort", k) in v) && (("calq", k) in v)) print v["calq", k] / v["ort", k] }' \
            "$tmp/times" | sort -g |
         awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
    printf '%-44s %8.2f %8.2f %6.2f | %8.2f %8.2f %6.2f | %6.2f\n' "$b" "$o" "$c" \
        "$(awk -v c="$c" -v o="$o" 'BEGIN { print c / o }')" "$om" "$cm" \
        "$(awk -v c="$cm" -v o="$om" 'BEGIN { print c / o }')" "$pr"
done
