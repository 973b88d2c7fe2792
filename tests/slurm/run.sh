#!/usr/bin/env bash
# tests/slurm/run.sh CALQ MODEL CALIB [PRESET]: run docs/slurm's array script
# (4 shards) and its dependent merge job on a single-node Slurm started here
# from Debian's slurm-wlm, and compare the merged statistics with one
# `calq calibrate` run over the whole set, byte for byte.
#
# The cluster lives in a temporary folder: its own munge key and socket, a
# slurm.conf naming this host as the only node, slurmctld and slurmd in the
# foreground as root, on free ports. Everything started here is stopped by
# its process id on exit. slurm-wlm and munge are installed with apt-get when
# missing and this runs as root (CALQ_SLURM_INSTALL=0 forbids it).
#
# Exit codes: 0 the merge equals the single run; 1 it does not, or a job
# failed; 77 Slurm cannot be started here (the line "SKIP: why" says why).
set -u
CALQ=$(readlink -f "$1") MODEL=$(readlink -f "$2") CALIB=$(readlink -f "$3") PRESET=${4:-}
HERE=$(cd "$(dirname "$0")" && pwd)
DOCS=$(cd "$HERE/../../docs/slurm" && pwd)

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; dump; exit 1; }

if ! command -v sbatch >/dev/null || ! command -v slurmctld >/dev/null ||
   ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
    [ "$(id -u)" = 0 ] || skip "slurm-wlm is not installed and this is not root"
    [ "${CALQ_SLURM_INSTALL:-1}" != 0 ] || skip "slurm-wlm is not installed (CALQ_SLURM_INSTALL=0)"
    command -v apt-get >/dev/null || skip "slurm-wlm is not installed and there is no apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slurm-wlm munge \
        >/dev/null 2>&1 || skip "apt-get install slurm-wlm munge failed"
fi
[ "$(id -u)" = 0 ] || skip "slurmd must run as root to start jobs, and this is not root"

D=$(mktemp -d /tmp/calq-slurm.XXXXXX)
PIDS=()
stop() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null
    done
    rm -rf "$D"
}
trap stop EXIT
dump() {
    for f in "$D"/*.log "$D"/out/*.log; do
        [ -f "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }
    done
}

# munge: a key of our own, a socket in D
dd if=/dev/urandom of="$D/munge.key" bs=1024 count=1 status=none
chmod 600 "$D/munge.key"
mkdir -p "$D/munge"
munged --force --key-file="$D/munge.key" --socket="$D/munge/munge.socket" \
    --pid-file="$D/munge/munged.pid" --log-file="$D/munged.log" --seed-file="$D/munge/seed" \
    2>"$D/munged.err" || skip "munged does not start: $(head -c 300 "$D/munged.err")"
sleep 0.5
MPID=$(cat "$D/munge/munged.pid" 2>/dev/null) && PIDS+=("$MPID")

# two free TCP ports
read -r P1 P2 < <(python3 - <<'EOF'
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])
EOF
)
HOST=$(hostname -s)
CPUS=$(nproc)
mkdir -p "$D/state" "$D/spool" "$D/out"
cat >"$D/slurm.conf" <<EOF
ClusterName=calqtest
SlurmctldHost=$HOST
SlurmctldPort=$P1
SlurmdPort=$P2
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$D/munge/munge.socket
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/slurmctld.log
SlurmdLogFile=$D/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$HOST CPUs=$CPUS State=UNKNOWN
PartitionName=calq Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$D/slurm.conf"

slurmctld -D -i -f "$SLURM_CONF" >"$D/slurmctld.out" 2>&1 &
PIDS+=($!)
slurmd -D -f "$SLURM_CONF" >"$D/slurmd.out" 2>&1 &
PIDS+=($!)
up=0
for _ in $(seq 60); do
    state=$(sinfo -h -N -o '%t' 2>/dev/null | head -n 1)
    case "$state" in idle*|mix*|alloc*) up=1; break ;; esac
    sleep 0.5
done
if [ $up = 0 ]; then
    dump
    skip "the single-node cluster does not come up (node state '${state:-none}'; logs above)"
fi

# the documented jobs: a 4-task array, then the merge after it
OUT="$D/out/stats"
export CALQ MODEL CALIB PRESET OUT
JOB=$(sbatch --parsable --array=0-3 --chdir="$D/out" -o "$D/out/calib-%A_%a.log" \
    "$DOCS/calibrate_array.sh") || fail "sbatch of the array failed"
MJOB=$(sbatch --parsable --dependency=afterok:"$JOB" --chdir="$D/out" -o "$D/out/merge-%j.log" \
    "$DOCS/merge.sh") || fail "sbatch of the merge failed"
echo "array job $JOB, merge job $MJOB"
for _ in $(seq 600); do
    [ -z "$(squeue -h -j "$JOB,$MJOB" 2>/dev/null)" ] && break
    sleep 0.5
done
[ -z "$(squeue -h -j "$JOB,$MJOB" 2>/dev/null)" ] || fail "the jobs did not finish in 5 minutes"
[ -f "$OUT/stats.calq" ] || fail "the merge job wrote no $OUT/stats.calq"
ls "$OUT"

"$CALQ" calibrate "$MODEL" --calib "$CALIB" ${PRESET:+--preprocess "$PRESET"} \
    --output "$D/single.calq" >/dev/null || fail "the single run failed"
cmp "$OUT/stats.calq" "$D/single.calq" || fail "the merged shards differ from the single run"
echo "PASS: 4 Slurm array tasks merged by a dependent job equal the single run, byte for byte"
