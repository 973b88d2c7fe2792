#!/usr/bin/env bash
# Run the libFuzzer harnesses built by `make fuzz` (docs/reliability.md, "Fuzzing").
#
#   tools/fuzz.sh NAME...      run $FUZZ_BUILD/fuzz/fuzz_NAME for FUZZ_SECONDS each,
#                              FUZZ_JOBS of them at a time
#
# Each run grows its corpus in $CALQ_CACHE/fuzz/corpus/NAME (seeded from
# tests/fuzz/NAME/, tests/fuzz/regress/NAME/ and the seeds tools/fuzz-seeds.sh
# makes from the bootstrapped data), writes crashes, leaks and timeouts to
# $CALQ_CACHE/fuzz/crashes/NAME/ and its log to $CALQ_CACHE/fuzz/logs/NAME.log,
# and appends one line to $CALQ_CACHE/fuzz/runs.tsv:
#   date  harness  seconds  executions  crashes  corpus_files  coverage  commit  cpu_seconds
# (seconds is wall time; cpu_seconds the fuzzer's user + system time, which is what
# counts when the run shares its CPU or is niced). Do not stop a run (SIGSTOP) for
# longer than -timeout: libFuzzer's per-input alarm is wall time, so the input it was
# on is reported as a timeout when it continues.
# FUZZ_KEEP_GOING=1: fork mode, going on past crashes (for long unattended runs).
# FUZZ_CPU_MINUTES=M: instead of one run of FUZZ_SECONDS, run each harness until
# runs.tsv credits it with M CPU minutes in all (cpu_seconds, or seconds for rows
# older than that column), in runs sized to what is missing; at most 6 runs each.
# Exit 1 when any harness found a crash.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
cache=${CALQ_CACHE:-$top/.cache}
build=${FUZZ_BUILD:-build-fuzz}
secs=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-1}
out=$cache/fuzz
mkdir -p "$out/logs"
[ -f "$out/runs.tsv" ] ||
    printf 'date\tharness\tseconds\texecutions\tcrashes\tcorpus_files\tcoverage\tcommit\tcpu_seconds\n' > "$out/runs.tsv"
tools/fuzz-seeds.py "$out/seeds" || exit 1
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git status --porcelain -- core bindings scripts tests/fuzz 2>/dev/null)" ] && commit="$commit+dirty"

run_one() {
    local h=$1 bin=$build/fuzz/fuzz_$1
    local corpus=$out/corpus/$h crashes=$out/crashes/$h log=$out/logs/$h.log
    mkdir -p "$corpus" "$crashes"
    # one run of a harness at a time: two would share its log and CPU file
    # (and so their rows in runs.tsv)
    local lock
    exec {lock}>"$log.lock"
    if ! flock -n "$lock"; then
        echo "fuzz: $h is running already (another tools/fuzz.sh); not run" >&2
        exec {lock}>&-
        return 0
    fi
    local opts=(-max_total_time="$secs" -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=20
                -print_final_stats=1 -artifact_prefix="$crashes/")
    local dict
    case $h in onnx|pb|plan) dict=onnx ;; coco) dict=json ;; voc|dlib) dict=xml ;; *) dict=$h ;; esac
    [ -f "tests/fuzz/$dict.dict" ] && opts+=(-dict="tests/fuzz/$dict.dict")
    [ "${FUZZ_KEEP_GOING:-}" = 1 ] && opts+=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
    local dirs=("$corpus")
    for d in "tests/fuzz/$h" "tests/fuzz/regress/$h" "$out/seeds/$h"; do
        [ -d "$d" ] && dirs+=("$d")
    done
    local before start end
    # slow-unit-* are libFuzzer's reports of an input slower than 10 s (wall
    # time, so also one the run was paused on), not failures: not counted
    before=$(ls "$crashes" | grep -vc '^slow-unit-')
    start=$(date +%s)
    local TIMEFORMAT='%U %S' cpu
    { time UBSAN_OPTIONS=print_stacktrace=1 "$bin" "${opts[@]}" "${dirs[@]}" > "$log" 2>&1 ; } 2> "$log.cpu"
    local rc=$?
    cpu=$(awk '{ printf "%d", $1 + $2 + 0.5 }' "$log.cpu" 2>/dev/null)
    end=$(date +%s)
    local execs cov found files
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    [ -n "$execs" ] || execs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)
    [ -n "$execs" ] || execs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    found=$(( $(ls "$crashes" | grep -vc '^slow-unit-') - before ))
    [ $rc -ne 0 ] && [ $found -eq 0 ] && found=1
    files=$(ls "$corpus" | wc -l)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$h" $((end - start)) \
        "${execs:-0}" "$found" "$files" "${cov:-?}" "$commit" "${cpu:-?}" >> "$out/runs.tsv"
    printf '%-8s %6ss (%s s CPU) %10s execs %3s crashes  cov %-6s corpus %s%s\n' "$h" $((end - start)) "${cpu:-?}" \
        "${execs:-0}" "$found" "${cov:-?}" "$files" \
        "$([ $found -gt 0 ] && echo "  -> $log, $crashes/")"
    exec {lock}>&-
    [ $found -eq 0 ]
}

# CPU seconds runs.tsv credits harness $1 with.
cpu_so_far() {
    awk -F'\t' -v h="$1" 'NR > 1 && $2 == h { s += ($9 ~ /^[0-9]+$/ ? $9 : $3) } END { printf "%d", s }' \
        "$out/runs.tsv"
}

# FUZZ_CPU_MINUTES: top harness $1 up to that many CPU minutes.
top_up() {
    local h=$1 want=$(( ${FUZZ_CPU_MINUTES} * 60 )) have tries=0
    while have=$(cpu_so_far "$h"); [ "$have" -lt "$want" ] && [ $tries -lt 6 ]; do
        secs=$(( (want - have) * 103 / 100 + 10 ))
        [ $secs -lt 60 ] && secs=60
        echo "fuzz: $h has $((have / 60)) CPU minutes of $FUZZ_CPU_MINUTES; running $secs s"
        run_one "$h" || return 1
        tries=$((tries + 1))
    done
}
[ -n "${FUZZ_CPU_MINUTES:-}" ] && run_one_or_top_up=top_up || run_one_or_top_up=run_one

status=0
running=0
for h in "$@"; do
    [ -x "$build/fuzz/fuzz_$h" ] || { echo "fuzz: $build/fuzz/fuzz_$h not built" >&2; exit 1; }
    if [ "$jobs" -le 1 ]; then
        $run_one_or_top_up "$h" || status=1
    else
        $run_one_or_top_up "$h" &
        running=$((running + 1))
        if [ $running -ge "$jobs" ]; then wait -n || status=1; running=$((running - 1)); fi
    fi
done
while [ $running -gt 0 ]; do wait -n || status=1; running=$((running - 1)); done
echo "fuzz: runs logged in $out/runs.tsv"
exit $status
