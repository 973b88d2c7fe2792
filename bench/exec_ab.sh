#!/usr/bin/env bash
# bench/exec_ab.sh - fp32 latency of two calq builds (A: before, B: after) and ONNX Runtime
# in the same run, one thread, CPU time (bench/exec.sh BENCH_CPU=1's shim), for A/B figures
# on a loaded host: ROUNDS rounds, the order of the three rotating from round to round;
# per engine the median of its per-round medians (exec_latency.lua / ort_latency.js,
# REPEAT runs after WARMUP each). Pin it yourself (taskset -c N).
#   usage: CALQ_A=dir/calq CALQ_B=dir/calq bench/exec_ab.sh MODEL.onnx ...
#   (ROUNDS=6 REPEAT=20 WARMUP=3; BUILD=dir: where bench/cpuclock.so is, default build)
# THREADS=N (N > 1): all three at N threads on the wall clock (the CPU-time shim counts
# the main thread only), not pinned: run it on a quiet host.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${CALQ_CACHE:-$repo/.cache}
rounds=${ROUNDS:-6}; repeat=${REPEAT:-20}; warmup=${WARMUP:-3}; threads=${THREADS:-1}
pre=$repo/${BUILD:-build}/bench/cpuclock.so
clock="CPU time (main thread)"
[[ -x ${CALQ_A:-} && -x ${CALQ_B:-} ]] || { echo "bench/exec_ab.sh: set CALQ_A and CALQ_B to two calq binaries"; exit 1; }
if ((threads > 1)); then
    pre= clock="wall clock"
else
    [[ -f $pre ]] || { echo "bench/exec_ab.sh: wants $pre (make bench-build)"; exit 1; }
    export BENCH_CLOCK=cpu
fi
[[ -d $cache/ort/node_modules/onnxruntime-node ]] || { echo "bench/exec_ab.sh: skipped: no onnxruntime-node under $cache/ort"; exit 0; }
(($#)) || { echo "usage: CALQ_A=... CALQ_B=... bench/exec_ab.sh MODEL.onnx ..."; exit 1; }
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads
t=$(mktemp); trap 'rm -f "$t"' EXIT
ort() { LD_PRELOAD=$pre node "$repo/bench/ort_latency.js" "$@" --threads "$threads" --repeat "$repeat" --warmup "$warmup" |
    sed -n 's/.*"model":"\([^"]*\)".*"median_ms":\([0-9.]*\),"min_ms":\([0-9.]*\).*/ort \1 \2 \3/p' >> "$t"; }
cq() { local tag=$1 bin=$2; shift 2
    LD_PRELOAD=$pre "$bin" run "$repo/bench/exec_latency.lua" "$@" --repeat "$repeat" --warmup "$warmup" --threads "$threads" |
        awk -v tag="$tag" '{ n = split($2, p, "/"); print tag, p[n], $3, $4 }' >> "$t"; }
for ((r = 0; r < rounds; r++)); do
    case $((r % 3)) in
        0) ort "$@"; cq A "$CALQ_A" "$@"; cq B "$CALQ_B" "$@" ;;
        1) cq B "$CALQ_B" "$@"; ort "$@"; cq A "$CALQ_A" "$@" ;;
        2) cq A "$CALQ_A" "$@"; cq B "$CALQ_B" "$@"; ort "$@" ;;
    esac
done
echo "A = $CALQ_A, B = $CALQ_B; $threads thread(s), $clock, $rounds rounds x $repeat runs (ms)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-36s %8s %8s %8s %7s %7s  %s\n' model ort A B A/ort B/ort "per-round medians (ort; A; B)"
for m in "$@"; do
    b=${m##*/}
    vals() { awk -v e="$1" -v b="$b" '$1 == e && $2 == b { print $3 }' "$t" | sort -g | tr '\n' ' '; }
    med() { awk -v e="$1" -v b="$b" '$1 == e && $2 == b { print $3 }' "$t" | sort -g |
            awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
    o=$(med ort); a=$(med A); n=$(med B)
    printf '%-36s %8.2f %8.2f %8.2f %7.3f %7.3f  %s; %s; %s\n' "$b" "$o" "$a" "$n" \
        "$(awk -v x="$a" -v y="$o" 'BEGIN { print x / y }')" "$(awk -v x="$n" -v y="$o" 'BEGIN { print x / y }')" \
        "$(vals ort)" "$(vals A)" "$(vals B)"
done
