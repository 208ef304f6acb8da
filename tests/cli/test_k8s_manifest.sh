#!/bin/bash
# tools/cluster/mnet-indexed-job.yaml, with no cluster at hand: parsed by yaml_subset.awk (which must refuse
# malformed YAML, checked first), its batch/v1 Job fields checked (an Indexed Job with completions and
# parallelism, a restartPolicy a Job accepts, a named container with an image, every volume mount backed by a
# volume, MNET_SHARD_COUNT equal to completions, a per-index output), docs/batch.md
# showing the same manifest, and then its container command run locally for every index with /data in a temp
# folder, merged with the command the manifest names: the result must equal an unsharded run.
# Usage: test_k8s_manifest.sh MNET MNET_CONVERT SOURCE_DIR SHARED_DIR ($MNET_TEST_DATA replaces SHARED_DIR)
set -uo pipefail
mnet=$1 convert=$2 src=$3 shared=${MNET_TEST_DATA:-$4}
manifest=$src/tools/cluster/mnet-indexed-job.yaml
parse=(awk -f "$src/tests/cli/yaml_subset.awk")
export OMP_WAIT_POLICY=passive
tmp=$(mktemp -d /tmp/mnet-k8s.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "test_k8s_manifest: FAIL: $*" >&2; exit 1; }

# The parser can fail: each of these is refused.
while IFS= read -r bad; do
  printf "$bad" > "$tmp/bad.yaml"
  "${parse[@]}" "$tmp/bad.yaml" > /dev/null 2>&1 && fail "the YAML parser accepted: $bad"
done << 'EOF2'
a:\n\tb: 1\n
a: [1, 2]\n
a:\n  b: 1\n   c: 2\n
a: 1\na: 2\n
a: &x 1\n
a:\nb: 1\n
a: "open\n
EOF2

"${parse[@]}" "$manifest" > "$tmp/fields" || fail "$manifest is not in the YAML subset"
field() { awk -v k="$1" 'index($0, k "=") == 1 { print substr($0, length(k) + 2) }' "$tmp/fields"; }
want() { [ "$(field "$1")" = "$2" ] || fail "$1 is '$(field "$1")', expected '$2'"; }
want apiVersion batch/v1
want kind Job
want spec.completionMode Indexed
[[ "$(field metadata.name)" =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ ]] || fail "metadata.name is not a DNS label"
completions=$(field spec.completions)
parallelism=$(field spec.parallelism)
[[ "$completions" =~ ^[1-9][0-9]*$ ]] || fail "spec.completions must be a positive integer"
[[ "$parallelism" =~ ^[1-9][0-9]*$ ]] || fail "spec.parallelism must be a positive integer"
case "$(field spec.template.spec.restartPolicy)" in Never|OnFailure) ;; *) fail "a Job's restartPolicy must be Never or OnFailure";; esac
pod=spec.template.spec
[ -n "$(field "$pod.containers[0].name")" ] || fail "the container has no name"
[ -n "$(field "$pod.containers[0].image")" ] || fail "the container has no image"
for mount in $(sed -n "s/^$pod\.containers\[[0-9]*\]\.volumeMounts\[[0-9]*\]\.name=//p" "$tmp/fields"); do
  grep -qx "$pod\.volumes\[[0-9]*\]\.name=$mount" "$tmp/fields" || fail "volume mount $mount has no volume"
done
grep -q "^$pod\.volumes\[0\]\.persistentVolumeClaim\.claimName=." "$tmp/fields" || fail "no volume with the images"
want "$pod.containers[0].env[0].name" MNET_SHARD_COUNT
want "$pod.containers[0].env[0].value" "$completions"
want "$pod.containers[0].command[0]" sh
want "$pod.containers[0].command[1]" -c
script=$(field "$pod.containers[0].command[2]")
[[ "$script" == *'--resume "/data/out/part-$JOB_COMPLETION_INDEX.jsonl"'* ]] || fail "no per-index resumable output"

# docs/batch.md shows this manifest verbatim (its ```yaml block).
awk '/^```yaml$/ { on = 1; next } /^```$/ { on = 0 } on' "$src/docs/batch.md" | cmp -s - "$manifest" ||
  fail "docs/batch.md's yaml block differs from $manifest"

# Every pod's command, run here: mnet is the built binary, /data a temp folder with 20 images and the model.
mkdir -p "$tmp/data/images" "$tmp/data/models" "$tmp/data/out"
for i in 1 2 3 4; do for p in "$shared"/testdata/images/*; do cp "$p" "$tmp/data/images/$i-$(basename "$p")"; done; done
"$convert" "$shared/models/mobilenet_v1_0.75_192_quant/mobilenet_v1_0.75_192_quant.tflite" \
  -o "$tmp/data/models/mobilenet_v1_0.75_192_quant.json" > /dev/null || fail "model conversion"
mkdir -p "$tmp/bin" && ln -s "$mnet" "$tmp/bin/mnet"
for ((k = 0; k < completions; k++)); do
  PATH=$tmp/bin:$PATH JOB_COMPLETION_INDEX=$k MNET_SHARD_COUNT=$completions sh -c "${script//\/data/$tmp/data}" \
    2> "$tmp/err" || fail "index $k: $(cat "$tmp/err")"
  grep -q "shard $k/$completions (from JOB_COMPLETION_INDEX/MNET_SHARD_COUNT)" "$tmp/err" || fail "index $k: $(cat "$tmp/err")"
done
merge=$(sed -n 's/^#   \(mnet merge .*\)$/\1/p' "$manifest")
[ -n "$merge" ] || fail "the manifest names no merge command"
read -ra merge_words <<< "${merge//\/data/$tmp/data}"
eval "set -- ${merge_words[*]:1}"  # expands the part-*.jsonl glob as a shell would
"$mnet" "$@" 2> "$tmp/err" || fail "the merge command failed: $(cat "$tmp/err")"
"$mnet" batch -q -r -m "$tmp/data/models/mobilenet_v1_0.75_192_quant.json" -o "$tmp/full.jsonl" "$tmp/data/images"
cmp -s "$tmp/data/out/all.jsonl" "$tmp/full.jsonl" || fail "the merged Job output differs from an unsharded run"
echo "test_k8s_manifest: ok: fields checked, $completions indices run and merged into the unsharded output"
