#!/bin/bash
# A real single-node Slurm cluster (Debian's slurmctld + slurmd + munge, installed by scripts/install_deps.sh),
# started here on loopback with every state, spool and log file in a temp folder, runs tools/cluster's array
# script over 200 copies of the shared photos as `sbatch --array=0-3` (no --shard: mnet reads the array's
# variables), then its merge script as a dependent job. Passes when the four parts, concatenated in task order,
# and the merged file both equal an unsharded run byte for byte. Never skips: a daemon that does not start is a
# failure naming it, with its log. Every daemon is stopped on the way out, whatever happened.
# Usage: test_slurm.sh MNET MNET_CONVERT SOURCE_DIR SHARED_DIR ($MNET_TEST_DATA, when set, replaces SHARED_DIR)
set -euo pipefail
mnet=$1 convert=$2 src=$3 shared=${MNET_TEST_DATA:-$4}
fail() { echo "test_slurm: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root: slurmd runs each job as its user, and this slurm.conf has SlurmUser=root"
for tool in munged mungekey slurmctld slurmd sbatch scontrol sinfo squeue scancel; do
  command -v "$tool" > /dev/null || fail "$tool not found: scripts/install_deps.sh installs slurmctld, slurmd, slurm-client and munge"
done

tmp=$(mktemp -d /tmp/mnet-slurm.XXXXXX)
# munged insists on a socket folder every user can traverse (o+x) and no one else can write.
chmod 711 "$tmp"
mkdir -p "$tmp"/{munge,state,spool,log,images,out}
chmod 711 "$tmp/munge"

pids=()  # daemons to stop, the order they are stopped in
# Kills every process working in the temp folder: the daemons start there, and job steps inherit it.
sweep() {
  local p
  for p in /proc/[0-9]*; do
    case "$(readlink "$p/cwd" 2> /dev/null)" in
      "$tmp" | "$tmp"/*) [ "${p#/proc/}" != "$BASHPID" ] && kill -KILL "${p#/proc/}" 2> /dev/null ;;
    esac
  done
}
watcher=
stop_all() {
  local status=$?
  set +e
  cd /
  [ -n "$watcher" ] && kill -KILL "$watcher" 2> /dev/null  # this trap does its work
  if [ -f "$tmp/slurm.conf" ] && [ ${#pids[@]} -ge 3 ]; then
    # Jobs first, so no job step outlives slurmd.
    export SLURM_CONF=$tmp/slurm.conf
    timeout 10 scancel --quiet --user=root 2> /dev/null
    for _ in $(seq 50); do [ -z "$(timeout 5 squeue -h 2> /dev/null)" ] && break; sleep 0.2; done
  fi
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2> /dev/null; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2> /dev/null
  done
  sweep
  if [ "$status" -ne 0 ]; then
    for log in "$tmp"/log/*.log "$tmp"/out/*.log; do [ -f "$log" ] && { echo "--- $log (last 15 lines)"; tail -15 "$log"; }; done >&2
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap stop_all EXIT
trap 'exit 1' INT TERM

# Waits up to $1 seconds for the command after it to succeed.
wait_for() {
  local seconds=$1
  shift
  for _ in $(seq $((seconds * 5))); do "$@" > /dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}

# The images, the model and the unsharded run the array must reproduce.
for i in $(seq -w 1 40); do
  for photo in "$shared"/testdata/images/*; do cp "$photo" "$tmp/images/$i-$(basename "$photo")"; done
done
[ "$(ls "$tmp/images" | wc -l)" -eq 200 ] || fail "expected 200 images from the 5 shared photos"
"$convert" "$shared/models/mobilenet_v1_0.75_192_quant/mobilenet_v1_0.75_192_quant.tflite" -o "$tmp/model.json" > /dev/null
"$mnet" batch -q -m "$tmp/model.json" -o "$tmp/full.jsonl" "$tmp/images"

# munge, with its own key and socket. Everything started from here on works in $tmp (see sweep).
cd "$tmp"
mungekey -c -b 1024 -k "$tmp/munge/munge.key"
chmod 400 "$tmp/munge/munge.key"
# -F: in the foreground, in this script's process group, so a kill of the group (a test runner's timeout) ends
# it too; a daemonized munged outlived such a kill.
munged -F -S "$tmp/munge/munge.socket" --key-file="$tmp/munge/munge.key" --pid-file="$tmp/munge/munged.pid" \
  --log-file="$tmp/log/munged.log" --seed-file="$tmp/munge/munged.seed" > "$tmp/log/munged.out" 2>&1 &
pids=("$!")
wait_for 10 test -S "$tmp/munge/munge.socket" || fail "munged did not start"

host=$(hostname -s)
port=$((20000 + RANDOM % 20000))
cat > "$tmp/slurm.conf" << EOF
ClusterName=mnettest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$tmp/munge/munge.socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$tmp/slurm.conf
# -D keeps each daemon in the foreground, so its pid is the one started here; -i: ignore (absent) old state.
slurmctld -D -i > "$tmp/log/slurmctld.out" 2>&1 &
pids=("$!" "${pids[@]}")
wait_for 30 scontrol ping || fail "slurmctld does not answer on port $port"
slurmd -D -N "$host" > "$tmp/log/slurmd.out" 2>&1 &
pids=("$!" "${pids[@]}")
node_idle() { [ "$(sinfo -h -n "$host" -o %t)" = idle ]; }
wait_for 30 node_idle || fail "node $host is not idle: $(sinfo -h -o '%t %E' 2>&1)"
# Should this script be killed outright (no trap runs), the daemons and job steps go with it.
(
  trap '' TERM INT
  cd /
  while kill -0 $$ 2> /dev/null; do sleep 1; done
  kill -KILL "${pids[@]}" 2> /dev/null
  sweep
  rm -rf "$tmp"
) &
watcher=$!

# The array and its merge step, exactly as docs/batch.md submits them.
export MNET="$mnet" MNET_MODEL="$tmp/model.json" MNET_IMAGES="$tmp/images" MNET_OUT="$tmp/out" OMP_WAIT_POLICY=passive
cd "$tmp/out"
array=$(sbatch --parsable --array=0-3 "$src/tools/cluster/mnet_array.sbatch") || fail "sbatch of the array failed"
timeout 150 sbatch --parsable --wait --dependency="afterok:$array" "$src/tools/cluster/mnet_merge.sbatch" \
  > /dev/null || fail "the merge job did not succeed (or the array failed, or 150 s passed)"

for k in 0 1 2 3; do
  [ -s "part-$k.jsonl" ] || fail "array task $k wrote no part-$k.jsonl"
  grep -q "shard $k/4 (from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT)" "mnet-batch-${array}_$k.log" ||
    fail "task $k did not take its shard from the array's variables: $(cat "mnet-batch-${array}_$k.log")"
done
cat part-0.jsonl part-1.jsonl part-2.jsonl part-3.jsonl | cmp -s - "$tmp/full.jsonl" ||
  fail "the parts concatenated in task order differ from the unsharded run"
cmp -s all.jsonl "$tmp/full.jsonl" || fail "the merged all.jsonl differs from the unsharded run"
[ "$(wc -l < all.jsonl)" -eq 200 ] || fail "expected 200 records"
echo "test_slurm: ok: 4 array tasks and the merge job on $host reproduced the unsharded run (200 records)"
