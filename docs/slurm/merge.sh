#!/bin/bash
# The merge after the calibration array (calibrate_array.sh): submit it with
# --dependency=afterok:ARRAY_JOB_ID, so it starts once every shard succeeded.
# Refuses to merge unless OUT holds exactly the N shards of one array.
#SBATCH --job-name=calq-merge
#SBATCH --ntasks=1
#SBATCH --output=calq-merge-%j.log
set -euo pipefail
: "${CALQ:=calq}" "${OUT:?set OUT}"
shopt -s nullglob
shards=("$OUT"/shard-*-of-*.calq)
[ ${#shards[@]} -gt 0 ] || { echo "calq-merge: no shard files in $OUT" >&2; exit 1; }
n=${shards[0]##*-of-}; n=${n%.calq}
[ ${#shards[@]} -eq "$n" ] || {
    echo "calq-merge: $OUT holds ${#shards[@]} shard files, expected $n" >&2; exit 1; }
exec "$CALQ" merge "${shards[@]}" --output "$OUT/stats.calq"
