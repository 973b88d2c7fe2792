#!/usr/bin/env bash
# Build the reference data calq's executor tests compare against, under $CALQ_CACHE/refs:
#   refs/blazeface/  BlazeFace back-256 and front-128 on the dlib photos and 10 crops:
#                    NHWC inputs (.npy), ONNX Runtime outputs (.npy), manifest.json
#   refs/fmnist/     the Fashion-MNIST CNN on the first 256 test images: input, labels,
#                    ONNX Runtime logits, manifest.json, a copy of the model
#   refs/manifest.json  all cases; paths are relative to refs/
# Idempotent: each part is rebuilt only when the sha256 of its inputs and scripts
# changed (refs/<part>/stamp). Writes nothing outside $CALQ_CACHE/refs. A part whose
# data are missing is skipped with a message (exit 0), so tests can skip too.
#   usage: tools/make_refs.sh [--force]
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${CALQ_CACHE:-$repo/.cache}
refs=$cache/refs
py=/usr/bin/python3
force=0
[[ ${1:-} == --force ]] && force=1

say() { echo "make_refs: $*"; }

missing=()
[[ -x $py ]] || missing+=("$py")
command -v node >/dev/null || missing+=("node")
[[ -d $cache/ort/node_modules/onnxruntime-node ]] || missing+=("$cache/ort/node_modules/onnxruntime-node")
if ((${#missing[@]})); then
    say "skipped: missing ${missing[*]} (run tools/bootstrap.sh)"
    exit 0
fi
mkdir -p "$refs"
# one builder at a time (several worktrees share one cache)
exec 9>"$refs/.lock"
flock 9

scripts=("$repo"/tools/ort/*.js "$repo"/tools/ort/*.py "$repo/tools/make_refs.sh"
         "$cache/ort/node_modules/onnxruntime-node/package.json")

# stamp_of FILE...: one sha256 over the names (relative) and contents of the files
stamp_of() {
    sha256sum -- "$@" | sed 's#  .*/#  #' | sha256sum | cut -d' ' -f1
}

# build PART FILE...: rebuild refs/PART unless its stamp matches the given files
build() {
    local part=$1; shift
    local want; want=$(stamp_of "$@")
    if ((force == 0)) && [[ -f $refs/$part/stamp && $(cat "$refs/$part/stamp") == "$want" ]]; then
        say "$part: up to date"
        return 0
    fi
    local work=$refs/$part.tmp
    rm -rf "$work"
    local t0=$SECONDS
    "$py" "$repo/tools/ort/build_refs.py" "$part" --cache "$cache" --workdir "$work"
    echo "$want" > "$work/stamp"
    rm -rf "$refs/$part"
    mv "$work" "$refs/$part"
    say "$part: built in $((SECONDS - t0)) s"
}

# BlazeFace
bf_models=("$cache"/blazeface/package/ONNX/face_detection_{back_256x256,front_128x128}_barracuda.onnx)
shopt -s nullglob
faces=("$cache"/dlib/examples/faces/*.jpg)
johns=("$cache"/dlib/examples/johns/*/*.jpg)
shopt -u nullglob
if [[ -f ${bf_models[0]} && -f ${bf_models[1]} && ${#faces[@]} -gt 0 ]]; then
    build blazeface "${scripts[@]}" "${bf_models[@]}" "${faces[@]}" "${johns[@]}"
else
    say "blazeface: skipped (no models under $cache/blazeface or no photos under $cache/dlib)"
fi

# Fashion-MNIST
fm_model=$repo/models/fashion_mnist/fmnist_cnn.onnx
fm_data=/usr/share/datasets/fashion-mnist
if [[ -f $fm_model && -f $fm_data/t10k-images-idx3-ubyte.gz ]]; then
    build fmnist "${scripts[@]}" "$repo/models/fashion_mnist/fmnist_data.py" "$fm_model" \
        "$fm_data"/t10k-{images-idx3,labels-idx1}-ubyte.gz
else
    say "fmnist: skipped (missing $fm_model or $fm_data)"
fi

# The merged manifest: cheap, rewritten every time from the parts present.
"$py" - "$refs" <<'PY'
import json, os, sys
refs = sys.argv[1]
cases, parts = [], []
for part in ("blazeface", "fmnist"):
    p = os.path.join(refs, part, "manifest.json")
    if os.path.isfile(p):
        with open(p) as f:
            m = json.load(f)
        parts.append({"part": part, "ort_version": m["ort_version"], "cases": len(m["cases"])})
        cases += m["cases"]
tmp = os.path.join(refs, "manifest.json.tmp")
with open(tmp, "w") as f:
    json.dump({"parts": parts, "cases": cases}, f, indent=1)
    f.write("\n")
os.replace(tmp, os.path.join(refs, "manifest.json"))
PY
say "$refs/manifest.json up to date"
