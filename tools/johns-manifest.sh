#!/usr/bin/env bash
# Write a CSV manifest for dlib's 55 single-face crops (150x150 JPEGs, one face
# each, no box): one line per image, "path,count,labels" with count 1 and the
# person's name as the class label. Paths are absolute (the manifest is made on
# the machine that uses it), so it can live anywhere; `calq sample --format csv`
# can then use the crops as a pool of single-face images.
#   tools/johns-manifest.sh [OUT]   (default: build/johns.csv)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
johns=${CALQ_CACHE:-$top/.cache}/dlib/examples/johns
[ -d "$johns" ] || { echo "johns-manifest: $johns missing (run make bootstrap)" >&2; exit 1; }
out=${1:-$top/build/johns.csv}
mkdir -p "$(dirname "$out")"
{
    echo "path,count,labels"
    (cd "$johns" && find . -name '*.jpg' | sed 's|^\./||' | LC_ALL=C sort) |
        while IFS= read -r p; do printf '%s/%s,1,%s\n' "$johns" "$p" "${p%%/*}"; done
} > "$out.tmp"
mv "$out.tmp" "$out"
echo "johns-manifest: $(($(wc -l < "$out") - 1)) images -> $out"
