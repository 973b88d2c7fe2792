#!/usr/bin/env bash
# tools/lint.sh - check the layering of core/ and bindings/, file lengths and dates.
#
#   tools/lint.sh               lint the tree this script lives in (make lint)
#   tools/lint.sh --root DIR    lint DIR instead (tests/lua/lint_spec.lua uses fake trees)
#
# Prints one line per violation, `file:line: problem (rule)`, and exits 1 if there
# was any, 0 if none, 2 on a usage error. docs/design.md ("Folders and layers")
# explains the layers; the table below is the rule itself.
#
# What is checked:
#   1. Layers: a #include "folder/..." in core/<X>/ must name a folder X may include
#      (RULES below). System headers (#include <...>) are not checked. A bare
#      #include "name.h" is the including file's own folder.
#   2. Public headers: a header of folder X included from anywhere but X itself must
#      be public: not *_internal.h and not under kern/x86/. bindings/ may include
#      every folder's public headers and its own bindings/*.h, nothing else.
#   3. Length: no .c file under core/ or bindings/ over MAX_LINES lines (STYLE.md 7:
#      split a file by concern when it passes about 800 lines).
#   4. Dates: no YYYY-MM-DD in core/, bindings/ or scripts/. Code says what is and
#      why; dated measurements and the log of what was tried go in bench/NOTES.md.
set -u

MAX_LINES=800

# Which folder may include which; lowest layer first. A folder always may include
# itself (kern/x86 is part of kern). `*` = any core folder (public headers only).
# calib < quant < cost: quant may use calib, cost may use both.
RULES='
base      base
io        base io
kern      base kern
data      base data
image     base image
graph     base graph
ops       base kern graph ops
onnx      base io graph onnx
exec      base io kern graph ops onnx exec
calib     base io kern data image graph ops onnx exec calib
quant     base io kern data image graph ops onnx exec calib quant
cost      base io kern data image graph ops onnx exec calib quant cost
bindings  bindings *
'

root=$(cd "$(dirname "$0")/.." && pwd)
while [ $# -gt 0 ]; do
    case $1 in
        --root) [ $# -ge 2 ] || { echo "lint.sh: --root needs a directory" >&2; exit 2; }
                root=$2; shift 2 ;;
        -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
        *) echo "lint.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
cd "$root" || { echo "lint.sh: no directory '$root'" >&2; exit 2; }

bad=0
out=$(mktemp) || exit 2
trap 'rm -f "$out"' EXIT

# 1 and 2: includes. Every "..." include of core/ and bindings/ sources and headers.
srcs=$(find core bindings -type f \( -name '*.c' -o -name '*.h' \) 2>/dev/null | LC_ALL=C sort)
if [ -n "$srcs" ]; then
    # shellcheck disable=SC2086
    awk -v rules="$RULES" '
    BEGIN {
        n = split(rules, lines, "\n")
        for (i = 1; i <= n; i++) {
            if (lines[i] ~ /^[ \t]*(#|$)/) continue
            m = split(lines[i], w, /[ \t]+/)
            folder = w[1]; known[folder] = 1; allowed[folder] = ""
            for (j = 2; j <= m; j++) {
                if (w[j] == "") continue
                may[folder, w[j]] = 1
                allowed[folder] = allowed[folder] (allowed[folder] == "" ? "" : " ") w[j]
            }
        }
    }
    FNR == 1 {
        # The including file: core/<folder>/... or bindings/...
        np = split(FILENAME, p, "/")
        from = (p[1] == "bindings") ? "bindings" : (np > 2 ? p[2] : "core/ itself")
        dir = FILENAME; sub(/\/[^\/]*$/, "", dir)
    }
    /^[ \t]*#[ \t]*include[ \t]*"/ {
        inc = $0
        sub(/^[ \t]*#[ \t]*include[ \t]*"/, "", inc); sub(/".*$/, "", inc)
        where = FILENAME ":" FNR ": "
        if (inc ~ /^\.\.?\// || inc ~ /\/\.\.?\//) {
            print where "include \"" inc "\" climbs folders (name the folder: \"base/tensor.h\")"
            next
        }
        if (inc !~ /\//) {                      # a bare name: the including folder
            if (from == "bindings") next        # bindings/*.h, its own
            path = substr(dir, 6) "/" inc       # strip "core/"
        } else path = inc
        split(path, q, "/"); to = q[1]
        if (!(from in known)) {
            print where "folder " from " is not in the layer table (tools/lint.sh RULES)"
            next
        }
        if (!(to in known) || to == "bindings") {
            print where "folder " from " may not include " inc " (no core folder \"" to "\")"
            next
        }
        if (to != from && !((from, to) in may) && !((from, "*") in may)) {
            print where "folder " from " may not include " to " (layer rule: " from \
                  " may include " allowed[from] ")"
            next
        }
        if (to != from && (path ~ /_internal\.h$/ || path ~ /^kern\/x86\//))
            print where "folder " from " may not include " path \
                  " (not a public header: *_internal.h and kern/x86/ stay inside their folder)"
    }' $srcs >>"$out"
fi

# 3: long .c files.
find core bindings -type f -name '*.c' 2>/dev/null | LC_ALL=C sort | while read -r f; do
    n=$(wc -l <"$f")
    [ "$n" -le "$MAX_LINES" ] ||
        echo "$f: $n lines, over $MAX_LINES (split it by concern, STYLE.md 7)"
done >>"$out"

# 4: dates.
for d in core bindings scripts; do
    [ -d "$d" ] || continue
    grep -rnIE '20[0-9]{2}-[01][0-9]-[0-3][0-9]' "$d" | LC_ALL=C sort -t: -k1,1 -k2,2n |
        awk -F: '{ print $1 ":" $2 ": a date in code (dated notes go in bench/NOTES.md)" }'
done >>"$out"

if [ -s "$out" ]; then
    cat "$out"
    echo "lint: $(wc -l <"$out") violation(s)" >&2
    bad=1
fi
exit $bad
