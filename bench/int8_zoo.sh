#!/usr/bin/env bash
# int8 on the zoo, calq against ONNX Runtime (onnxruntime-node) on the same QDQ file,
# and against fp32, in one run. Each model of bench/torchvision_export.py is quantized
# by `calq quantize` (its defaults but --no-auto: the output layers stay fp32, every
# other quantizable node int8; calibration on 16 random-normal inputs of the model's
# input shape, which sets ranges, not accuracy), then bench/exec.sh times the fp32 and
# the QDQ files in both engines (rounds alternating the engines; calq runs the QDQ file
# lowered to its integer form, as `calq infer` does).
#   usage: bench/int8_zoo.sh [NAME ...]   (THREADS=1 ROUNDS=3 REPEAT=20 WARMUP=3 BUILD=build;
#          run it under taskset -c N: the timings are single-core figures)
# Prints exec.sh's table, then one markdown row per model:
# | model | ORT fp32 | calq fp32 | ORT int8 | calq int8 | calq/ORT int8 | calq fp32/int8 | ORT fp32/int8 |
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${CALQ_CACHE:-$repo/.cache}
build=$repo/${BUILD:-build}
export CALQ_CACHE=$cache

[[ -x $build/calq ]] || { echo "bench/int8_zoo.sh: build calq first (make)"; exit 1; }
/usr/bin/python3 "$repo/bench/torchvision_export.py" --cache "$cache" "$@" >&2 ||
    { echo "bench/int8_zoo.sh: torchvision export failed" >&2; exit 1; }
names=("$@")
((${#names[@]})) || mapfile -t names < <(/usr/bin/python3 "$repo/bench/torchvision_export.py" --list | cut -d' ' -f1)

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
models=()
for n in "${names[@]}"; do
    f=$cache/models/$n.onnx q=$cache/models/$n.int8.onnx
    if [[ ! -s $q || $q -ot $f || $q -ot $build/calq ]]; then
        shape=$(/usr/bin/python3 "$repo/bench/torchvision_export.py" --list | awk -v n="$n" '$1 == n { print $2 }')
        /usr/bin/python3 - "$shape" "$tmp/$n.npy" <<'EOF'
import sys, numpy as np
s = [int(d) for d in sys.argv[1].split("x")]
s[0] = 16
np.save(sys.argv[2], np.random.default_rng(0).standard_normal(s).astype(np.float32))
EOF
        "$build/calq" quantize "$f" --calib "$tmp/$n.npy" --no-auto --output "$q.tmp" > "$tmp/$n.q" ||
            { cat "$tmp/$n.q"; echo "bench/int8_zoo.sh: calq quantize $n failed" >&2; exit 1; }
        mv "$q.tmp" "$q"
        grep -E '^ *int8 ' "$tmp/$n.q" | sed "s|^ *|$n: |" >&2 || true
    fi
    models+=("$f" "$q")
done
"$repo/bench/exec.sh" "${models[@]}" | tee "$tmp/exec"
grep -q '^model ' "$tmp/exec" || exit 0   # exec.sh skipped (no ONNX Runtime)

echo
echo "| model | ORT fp32 ms | calq fp32 ms | ORT int8 ms | calq int8 ms | calq/ORT int8 | calq fp32/int8 | ORT fp32/int8 |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for n in "${names[@]}"; do
    awk -v f="$n.onnx" -v q="$n.int8.onnx" -v n="$n" '
        $1 == f { of = $2; cf = $3 } $1 == q { oq = $2; cq = $3 }
        END { if (of && oq) printf "| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n",
                 n, of, cf, oq, cq, cq / oq, cf / cq, of / oq }' "$tmp/exec"
done
