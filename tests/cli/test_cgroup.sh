#!/bin/bash
# A real cgroup with a CPU quota of half a CPU, created here (cgroup v1's cpu hierarchy, or v2 with the cpu
# controller delegated), and `mnet batch -v` run inside it: its CPU budget must be 1 CPU, citing the quota file.
# Exit 77 (reported by ctest as skipped, never as passed) when this machine lets no one create a cgroup; the
# parsing is tested on written cgroup trees by test_cpu_budget either way.
# Usage: test_cgroup.sh MNET MNET_CONVERT SOURCE_DIR SHARED_DIR ($MNET_TEST_DATA, when set, replaces SHARED_DIR)
set -uo pipefail
mnet=$1 convert=$2 shared=${MNET_TEST_DATA:-$4}
root=/sys/fs/cgroup
if [ -f "$root/cpu/cpu.cfs_quota_us" ]; then
  mount=$root/cpu
  cg=$mount$(awk -F: '$2 ~ /(^|,)cpu(,|$)/ { print $3 }' /proc/self/cgroup)/mnet-test-$$
  cg=${cg/\/\//\/}
  quota_file=$cg/cpu.cfs_quota_us
  set_quota() { echo 100000 > "$cg/cpu.cfs_period_us" && echo 50000 > "$cg/cpu.cfs_quota_us"; }
elif [ -f "$root/cgroup.controllers" ] && grep -qw cpu "$root/cgroup.subtree_control" 2> /dev/null; then
  cg=$root$(awk -F: '$1 == "0" { print $3 }' /proc/self/cgroup)/mnet-test-$$
  cg=${cg/\/\//\/}
  quota_file=$cg/cpu.max
  set_quota() { echo "50000 100000" > "$cg/cpu.max"; }
else
  echo "test_cgroup: skipped: no cgroup v1 cpu hierarchy and no cgroup v2 with the cpu controller delegated at $root"
  exit 77
fi
if ! mkdir "$cg" 2> /dev/null; then
  echo "test_cgroup: skipped: cannot create $cg (not root, or a read-only cgroup file system)"
  exit 77
fi
tmp=$(mktemp -d /tmp/mnet-cgroup.XXXXXX)
trap 'rmdir "$cg" 2> /dev/null; rm -rf "$tmp"' EXIT
"$convert" "$shared/models/mobilenet_v1_0.75_192_quant/mobilenet_v1_0.75_192_quant.tflite" -o "$tmp/model.json" \
  > /dev/null || { echo "test_cgroup: FAIL: model conversion" >&2; exit 1; }
set_quota || { echo "test_cgroup: FAIL: cannot set the quota in $cg" >&2; exit 1; }
# The process moves itself into the cgroup, then becomes mnet; the cgroup is empty again when it exits.
out=$(sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" env -u OMP_NUM_THREADS "$mnet" batch -v -q \
  -m "$tmp/model.json" "$shared/testdata/images/dog.jpg" 2>&1 > /dev/null)
echo "$out"
echo "$out" | grep -q "CPU budget 1: affinity [0-9]* CPUs\?, cgroup CPU quota 0.50 ($quota_file)" ||
  { echo "test_cgroup: FAIL: mnet in $cg (quota 0.5 CPU) did not report a budget of 1 CPU from $quota_file" >&2; exit 1; }
echo "test_cgroup: ok"
