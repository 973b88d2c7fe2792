#!/usr/bin/env bash
# Tensor files: write and read back one 256 MiB f32 tensor (activations-like
# data, see bench/bench_tfile.c) through calq's tensor file, next to the lz4
# command (default level, same bytes as a raw file) and cp, in the same run.
#
#   bench/tfile.sh            (from the repository top; builds its driver)
#   CALQ_BENCH_MIB=64 CALQ_BENCH_DIR=/dev/shm bench/tfile.sh
#
# Each measurement is the best of CALQ_BENCH_REPS (5) interleaved rounds. Writes include
# making the file durable in every column (calq fsyncs before its rename;
# lz4 and cp are followed by `sync FILE`). calq reads decode into a new
# tensor, whose first-touch page faults are part of the cost; the lz4 anchors
# are `lz4 -d -c > /dev/null` (decoding only, into a reused 4 MiB buffer) and
# `lz4 -d` into a new file (decoding and new page-cache pages). All read the
# compressed file from the page cache, as it was just written. The driver
# times only calq's calls (the tensor is already in memory and touched, as
# after a calibration run); the command timings include starting lz4 / cp.
# Ratios are calq / anchor, as throughputs.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
build=${BUILD:-build}
mib=${CALQ_BENCH_MIB:-256}
reps=${CALQ_BENCH_REPS:-5}
make --no-print-directory -s "$build/bench/bench_tfile" >/dev/null
drv=$top/$build/bench/bench_tfile
dir=$(mktemp -d "${CALQ_BENCH_DIR:-${TMPDIR:-/tmp}}/calq-bench-tfile.XXXXXX")
trap 'rm -rf "$dir"' EXIT

"$drv" gen "$dir/act.raw" "$mib"
bytes=$(stat -c %s "$dir/act.raw")

# wall time (seconds) of a shell command
timeit() {
    local t0 t1
    t0=$(date +%s.%N)
    bash -c "$1" >/dev/null
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
}
min() { if [ -z "$1" ] || [ "$(echo "$2 < $1" | bc -l)" = 1 ]; then echo "$2"; else echo "$1"; fi; }
mbs() { echo "scale=1; $bytes / 1048576 / $1" | bc -l; }

# The runs are interleaved (one of each per round) so that the load of a
# shared machine hits every column alike; each column keeps its best round.
t_cp= t_lz4w= t_lz4r= t_lz4rf= t_cqw= t_cqr=
for _ in $(seq "$reps"); do
    t_cp=$(min "$t_cp" "$(timeit "cp '$dir/act.raw' '$dir/copy.raw' && sync '$dir/copy.raw'")")
    t_lz4w=$(min "$t_lz4w" "$(timeit "lz4 -q -f '$dir/act.raw' '$dir/act.lz4' && sync '$dir/act.lz4'")")
    t_cqw=$(min "$t_cqw" "$("$drv" write "$dir/act.raw" "$dir/act.calq" | cut -d' ' -f1)")
    t_lz4r=$(min "$t_lz4r" "$(timeit "lz4 -q -d -c '$dir/act.lz4' > /dev/null")")
    t_lz4rf=$(min "$t_lz4rf" "$(timeit "rm -f '$dir/out.raw' && lz4 -q -d '$dir/act.lz4' '$dir/out.raw'")")
    t_cqr=$(min "$t_cqr" "$("$drv" read "$dir/act.raw" "$dir/act.calq" | cut -d' ' -f1)")
    rm -f "$dir/copy.raw" "$dir/out.raw"
done

lz4size=$(stat -c %s "$dir/act.lz4")
cqsize=$(stat -c %s "$dir/act.calq")
echo "tfile: $mib MiB f32 tensor (post-ReLU activations-like), best of $reps, in $dir"
printf '  %-34s %9s MB/s   (%d bytes)\n' "cp + sync" "$(mbs "$t_cp")" "$bytes"
printf '  %-34s %9s MB/s   (%d bytes, ratio %.3f)\n' "lz4 compress + sync" "$(mbs "$t_lz4w")" "$lz4size" \
    "$(echo "$lz4size / $bytes" | bc -l)"
printf '  %-34s %9s MB/s\n' "lz4 -d to /dev/null" "$(mbs "$t_lz4r")"
printf '  %-34s %9s MB/s\n' "lz4 -d to a new file" "$(mbs "$t_lz4rf")"
printf '  %-34s %9s MB/s   (%d bytes, ratio %.3f)\n' "calq write (create/add/close)" "$(mbs "$t_cqw")" \
    "$cqsize" "$(echo "$cqsize / $bytes" | bc -l)"
printf '  %-34s %9s MB/s\n' "calq read (open/read)" "$(mbs "$t_cqr")"
printf '  ratio calq/lz4: write %.2f; read %.2f vs lz4 -d to /dev/null, %.2f vs lz4 -d to a file\n' \
    "$(echo "$t_lz4w / $t_cqw" | bc -l)" "$(echo "$t_lz4r / $t_cqr" | bc -l)" \
    "$(echo "$t_lz4rf / $t_cqr" | bc -l)"
printf '  ratio calq write / cp: %.2f   (target: calq/lz4 >= 0.70)\n' "$(echo "$t_cp / $t_cqw" | bc -l)"

# Calibration statistics: many tiny tensors in one file (one run).
read -r sw sr ssize <<<"$("$drv" small "$dir/stats.calq" 10000)"
printf '  10000 tensors f32[2] (stats file): write %.1f ms, read all by name %.1f ms, %d bytes (%.0f per tensor)\n' \
    "$(echo "$sw * 1000" | bc -l)" "$(echo "$sr * 1000" | bc -l)" "$ssize" "$(echo "$ssize / 10000" | bc -l)"
