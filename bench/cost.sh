#!/usr/bin/env bash
# The cost model against measurement (issue 15, "Per-node accuracy" and "Ablation"):
# every model of the speed zoo (bench/torchvision_export.py) and BlazeFace (back,
# 256x256), each in fp32, bf16 (Model:set_precision("bf16")) and int8 (the QDQ file
# bench/int8_zoo.sh makes, made here the same way when missing, costed at its own
# precisions), one thread: calq's per-node latency (model:profile(), ROUNDS rounds of
# REPEAT runs; per node the median of the rounds, or the fastest with STAT=min) against
# calq.cost's prediction on PROFILE, by bench/cost_validate.lua.
#   usage: bench/cost.sh [NAME ...]   (PROFILE=FILE.lua|NAME, default: `calq probe` of
#          this host first; ROUNDS=11 REPEAT=3 STAT=median TURN=4 BUILD=build; NAME:
#          a zoo model or blazeface; run it under taskset -c N; TURN: the unprofiled
#          runs that start each round)
# NODES=FILE: the per-node lines (cost_validate.lua --nodes) go to FILE, for
# bench/cost_recost.lua.
# BENCH_CPU=1: the per-node times on the executor's CPU clock (CALQ_PROFILE_CLOCK=cpu:
# the thread's CPU time, so the time other jobs held the CPU is left out, not the cache
# and memory they share), for a loaded host; BENCH_CPU is not a CPU number here.
# Prints cost_validate.lua's lines, then the table for bench/RESULTS.md:
# | model | precision | nodes | Spearman | measured ms | predicted ms | error | without memory | roofline max | sum |
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${CALQ_CACHE:-$repo/.cache}
build=$repo/${BUILD:-build}
calq=$build/calq
rounds=${ROUNDS:-11}; repeat=${REPEAT:-3}; stat=${STAT:-median}; turn=${TURN:-4}
export CALQ_CACHE=$cache OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
if [[ ${BENCH_CPU:-0} == 1 ]]; then export CALQ_PROFILE_CLOCK=cpu; else unset CALQ_PROFILE_CLOCK; fi

[[ -x $calq ]] || { echo "bench/cost.sh: build calq first (make)"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
profile=${PROFILE:-}
if [[ -z $profile ]]; then
    "$calq" probe --output "$tmp/host.lua" >&2 || { echo "bench/cost.sh: calq probe failed" >&2; exit 1; }
    profile=$tmp/host.lua
fi

names=("$@")
if ((${#names[@]} == 0)); then
    mapfile -t names < <(/usr/bin/python3 "$repo/bench/torchvision_export.py" --list | cut -d' ' -f1)
    names+=(blazeface)
fi
zoo=()
for n in "${names[@]}"; do [[ $n == blazeface ]] || zoo+=("$n"); done
if ((${#zoo[@]})); then
    /usr/bin/python3 "$repo/bench/torchvision_export.py" --cache "$cache" "${zoo[@]}" >&2 ||
        { echo "bench/cost.sh: torchvision export failed" >&2; exit 1; }
fi

# A QDQ file as bench/int8_zoo.sh makes it: calq quantize --no-auto, calibrated on 16
# random-normal inputs of the model's input shape (ranges, not accuracy).
quantize() { # model.onnx out.int8.onnx shape(AxBxCxD)
    /usr/bin/python3 - "$3" "$tmp/calib.npy" <<'EOF'
import sys, numpy as np
s = [int(d) for d in sys.argv[1].split("x")]
s[0] = 16
np.save(sys.argv[2], np.random.default_rng(0).standard_normal(s).astype(np.float32))
EOF
    "$calq" quantize "$1" --calib "$tmp/calib.npy" --no-auto --output "$2.tmp" > "$tmp/q.log" ||
        { cat "$tmp/q.log"; echo "bench/cost.sh: calq quantize $1 failed" >&2; exit 1; }
    mv "$2.tmp" "$2"
}

specs=()
for n in "${names[@]}"; do
    if [[ $n == blazeface ]]; then
        f=$cache/blazeface/package/ONNX/face_detection_back_256x256_barracuda.onnx
        q=$cache/models/blazeface_back.int8.onnx shape=1x256x256x3
        [[ -f $f ]] || { echo "bench/cost.sh: no BlazeFace under $cache/blazeface, skipped" >&2; continue; }
    else
        f=$cache/models/$n.onnx q=$cache/models/$n.int8.onnx
        shape=$(/usr/bin/python3 "$repo/bench/torchvision_export.py" --list | awk -v n="$n" '$1 == n { print $2 }')
    fi
    [[ -s $q && ! $q -ot $f ]] || quantize "$f" "$q" "$shape"
    specs+=("$f@fp32" "$f@bf16" "$q@int8")
done

"$calq" run "$repo/bench/cost_validate.lua" --profile "$profile" --rounds "$rounds" \
    --repeat "$repeat" --stat "$stat" --turn "$turn" ${NODES:+--nodes} "${specs[@]}" |
    tee "$tmp/out" | if [[ -n ${NODES:-} ]]; then grep -v '^node ' ; else cat; fi
[[ -z ${NODES:-} ]] || grep '^node ' "$tmp/out" > "$NODES"

echo
echo "| model | precision | nodes | Spearman | measured ms | predicted ms | error | without memory: error, Spearman | roofline max: error, Spearman | sum: error, Spearman |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
awk '$1 == "cost" {
    m = $2; sub(/\.onnx$/, "", m); sub(/\.int8$/, "", m); sub(/_256x256_barracuda$/, "", m)
    printf "| %s | %s | %d | %.3f | %.2f | %.2f | %+.1f%% | %+.1f%%, %.3f | %+.1f%%, %.3f | %+.1f%%, %.3f |\n", m, $3, $4, $5, $6, $7, $8, $10, $11, $13, $14, $16, $17
}' "$tmp/out"
awk 'function ok(e) { return e <= 10 && e >= -10 }
     $1 == "cost" { n++; s += ($5 >= 0.9); e += ok($8); s1 += ($11 >= 0.9); e1 += ok($10)
                    s2 += ($14 >= 0.9); e2 += ok($13); s3 += ($17 >= 0.9); e3 += ok($16) }
     END { if (n) printf "\nof %d runs, Spearman >= 0.9 / within 10%%: %d / %d (without memory %d / %d, roofline max %d / %d, sum %d / %d)\n", n, s, e, s1, e1, s2, e2, s3, e3 }' "$tmp/out"
