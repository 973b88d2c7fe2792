#!/bin/bash
# One calibration shard per array task: `calq calibrate --shard I/N`, where
# N is the array's size and I the task's place in it (from 0).
#
#   export CALQ=calq MODEL=model.onnx CALIB=calib.txt PRESET=blazeface OUT=$PWD/stats
#   JOB=$(sbatch --parsable --array=0-3 calibrate_array.sh)
#   sbatch --dependency=afterok:$JOB merge.sh
#
# CALIB is a list of image paths (then PRESET names the preprocessing) or an
# .npy of preprocessed inputs. OUT is a folder every node can write (a fresh
# one per run); shard I writes OUT/shard-I-of-N.calq.
#SBATCH --job-name=calq-calibrate
#SBATCH --array=0-3
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=1
#SBATCH --output=calq-calibrate-%A_%a.log
set -euo pipefail
: "${CALQ:=calq}" "${MODEL:?set MODEL}" "${CALIB:?set CALIB}" "${OUT:?set OUT}"
N=${SLURM_ARRAY_TASK_COUNT:?run this as an array job (sbatch --array=0-3)}
I=$((SLURM_ARRAY_TASK_ID - ${SLURM_ARRAY_TASK_MIN:-0}))
mkdir -p "$OUT"
exec "$CALQ" calibrate "$MODEL" --calib "$CALIB" ${PRESET:+--preprocess "$PRESET"} \
    --shard "$I/$N" --threads "${SLURM_CPUS_PER_TASK:-1}" \
    --output "$OUT/shard-$I-of-$N.calq"
