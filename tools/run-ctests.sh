#!/usr/bin/env bash
# Run each cmocka program; print its output and a total. Exit 1 if any failed.
set -u
pass=0; fail=0; failed=()
for t in "$@"; do
    out=$("$t" 2>&1); rc=$?
    printf '%s\n' "$out" | grep -E '^\[  (PASSED|FAILED)|^\[==========\]|ERROR|error:|Assert' || true
    p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
    f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
    pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0}))
    if [ $rc -ne 0 ]; then failed+=("$(basename "$t")"); [ -z "$f" ] && fail=$((fail + 1)); fi
done
echo "cmocka: $pass passed, $fail failed"
[ ${#failed[@]} -eq 0 ] || { echo "failing programs: ${failed[*]}"; exit 1; }
