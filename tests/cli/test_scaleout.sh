#!/bin/bash
# mnet batch at scale, against independent oracles (an unsharded, uninterrupted run over the folder; the file
# list itself): --files-from (file and stdin, sharded, bounds and special files), --resume after kill -9 (no
# duplicate, no missing line, a cut line redone), mnet merge (order, duplicates, missing, refusals), eval
# --files-from, and the CPU budget under taskset in batch -v and the profile header.
# Usage: test_scaleout.sh MNET MNET_CONVERT SOURCE_DIR SHARED_DIR ($MNET_TEST_DATA, when set, replaces SHARED_DIR)
set -uo pipefail
mnet=$1 convert=$2 shared=${MNET_TEST_DATA:-$4}
export OMP_WAIT_POLICY=passive
tmp=$(mktemp -d /tmp/mnet-scaleout.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failures=0
check() {  # check DESCRIPTION COMMAND...: runs COMMAND, counts a failure when it fails
  local what=$1
  shift
  if "$@"; then echo "ok: $what"; else echo "FAIL: $what" >&2; failures=$((failures + 1)); fi
}
status_is() {  # status_is N COMMAND...: COMMAND exits with N (its stderr kept in $tmp/err)
  local want=$1
  shift
  "$@" > "$tmp/out" 2> "$tmp/err"
  local got=$?
  [ "$got" -eq "$want" ] || { echo "  exit $got, expected $want: $(head -3 "$tmp/err")" >&2; return 1; }
}
err_has() { grep -q -- "$1" "$tmp/err" || { echo "  stderr lacks '$1': $(head -3 "$tmp/err")" >&2; return 1; }; }
lines() { wc -l < "$1"; }

# 60 images (12 copies of the 5 shared photos, one a folder deeper) and the test model.
mkdir -p "$tmp/img/sub"
for i in $(seq -w 1 12); do
  for photo in "$shared"/testdata/images/*; do cp "$photo" "$tmp/img/$i-$(basename "$photo")"; done
done
mv "$tmp"/img/12-* "$tmp/img/sub/"
"$convert" "$shared/models/mobilenet_v1_0.75_192_quant/mobilenet_v1_0.75_192_quant.tflite" \
  --labels "$shared/models/mobilenet_v1_0.75_192_quant/imagenet_labels.txt" -o "$tmp/model.json" > /dev/null ||
  { echo "FAIL: model conversion" >&2; exit 1; }
batch=("$mnet" batch -q -m "$tmp/model.json" -b 2)
"${batch[@]}" -r -o "$tmp/full.jsonl" "$tmp/img" || { echo "FAIL: the unsharded run" >&2; exit 1; }
check "the unsharded run has 60 records" test "$(lines "$tmp/full.jsonl")" -eq 60

## --files-from
# find's order is not sorted; the run sorts the list as it sorts a folder walk, so the output is the folder's.
find "$tmp/img" -type f | sort -r > "$tmp/list.txt"
check "--files-from FILE equals the folder run" \
  bash -c '"$@" --files-from "'"$tmp"'/list.txt" | cmp -s - "'"$tmp"'/full.jsonl"' _ "${batch[@]}"
check "--files-from - (stdin) equals the folder run" \
  bash -c '"$@" --files-from - < "'"$tmp"'/list.txt" | cmp -s - "'"$tmp"'/full.jsonl"' _ "${batch[@]}"
for k in 0 1 2; do "${batch[@]}" --files-from "$tmp/list.txt" --shard $k/3 -o "$tmp/lpart$k.jsonl" 2> /dev/null; done
check "--files-from shards tile the list in order" \
  bash -c "cat $tmp/lpart0.jsonl $tmp/lpart1.jsonl $tmp/lpart2.jsonl | cmp -s - $tmp/full.jsonl"
check "shard sizes differ by at most one (20 each)" \
  test "$(lines "$tmp/lpart0.jsonl")$(lines "$tmp/lpart1.jsonl")$(lines "$tmp/lpart2.jsonl")" = 202020
printf '%s\n%s\n\n%s\n' "$tmp/img/01-dog.jpg" "$tmp/img/01-dog.jpg" "$tmp/missing.jpg" > "$tmp/dups.txt"
check "a listed file twice runs once; a missing one is an error record (exit 1)" status_is 1 "${batch[@]}" --files-from "$tmp/dups.txt" -o "$tmp/dups.jsonl"
check "  ... two records: dog and the missing file's error" \
  test "$(grep -c '01-dog.jpg' "$tmp/dups.jsonl")$(grep -c '"error"' "$tmp/dups.jsonl")" = 11
mkfifo "$tmp/fifo.txt"
check "a FIFO as the list is refused at once (exit 3)" status_is 3 timeout 5 "${batch[@]}" --files-from "$tmp/fifo.txt"
check "  ... naming it" err_has "fifo.txt: cannot read file list (is a FIFO, not a regular file)"
check "/dev/zero as the list is refused (exit 3)" status_is 3 timeout 5 "${batch[@]}" --files-from /dev/zero
check "a folder as the list is refused (exit 3)" status_is 3 "${batch[@]}" --files-from "$tmp/img"
head -c 5000 /dev/zero | tr '\0' a > "$tmp/long.txt"
check "a 5000-byte line is refused with its line number (exit 2)" status_is 2 "${batch[@]}" --files-from "$tmp/long.txt"
check "  ... naming it" err_has "long.txt:1: a line longer than 4096 bytes"
printf 'a.jpg\nb\0.jpg\n' > "$tmp/nul.txt"
check "a NUL byte is refused with its line number (exit 2)" status_is 2 "${batch[@]}" --files-from "$tmp/nul.txt"
check "  ... naming it" err_has "nul.txt:2: a NUL byte"
check "no inputs and no list is a usage error (exit 2)" status_is 2 "${batch[@]}"

## eval --files-from: each image labelled by its folder's name (ImageNet labels, first synonym).
mkdir -p "$tmp/val/kite" "$tmp/val/tabby"
cp "$shared/testdata/images/kite.jpg" "$tmp/val/kite/a.jpg"
cp "$shared/testdata/images/chelsea.png" "$tmp/val/tabby/b.png"
find "$tmp/val" -type f > "$tmp/val.txt"
check "eval --files-from labels by folder: 2 images" status_is 0 "$mnet" eval -q -m "$tmp/model.json" --json --files-from "$tmp/val.txt"
check "  ... both counted" grep -q '"images": 2' "$tmp/out"
echo "$tmp/val/tabby/../nocls/x.jpg" > "$tmp/badcls.txt"
check "eval --files-from with an unknown class folder fails (exit 2)" status_is 2 "$mnet" eval -q -m "$tmp/model.json" --files-from "$tmp/badcls.txt"

## --resume after kill -9: the resumed file equals the uninterrupted run byte for byte.
resumed=0
for attempt in 1 2 3; do
  rm -f "$tmp/r.jsonl"
  "${batch[@]}" -r -o "$tmp/r.jsonl" "$tmp/img" &
  pid=$!
  # Kill it once some, not all, records are out.
  for _ in $(seq 300); do [ -s "$tmp/r.jsonl" ] && [ "$(lines "$tmp/r.jsonl")" -ge 5 ] && break; sleep 0.02; done
  kill -9 $pid 2> /dev/null
  wait $pid 2> /dev/null
  n=$(lines "$tmp/r.jsonl" 2> /dev/null || echo 0)
  if [ "$n" -gt 0 ] && [ "$n" -lt 60 ]; then resumed=1; break; fi
done
check "kill -9 left a partial output (some, not all, of the 60 lines)" test "$resumed" -eq 1
printf '{"file":"%s/img/09-ki' "$tmp" >> "$tmp/r.jsonl"  # the unfinished write of a killed run
check "--resume finishes the run (exit 0)" status_is 0 "${batch[@]}" -r --resume "$tmp/r.jsonl" "$tmp/img"
check "  ... equal to the uninterrupted run: no duplicate, no missing line, the cut line redone" cmp -s "$tmp/r.jsonl" "$tmp/full.jsonl"
check "--resume of a finished output adds nothing" status_is 0 "${batch[@]}" -r --resume "$tmp/r.jsonl" "$tmp/img"
check "  ... still equal" cmp -s "$tmp/r.jsonl" "$tmp/full.jsonl"
rm -f "$tmp/fresh.jsonl"
check "--resume of a missing file starts afresh" status_is 0 "${batch[@]}" -r --resume "$tmp/fresh.jsonl" "$tmp/img"
check "  ... equal to the run" cmp -s "$tmp/fresh.jsonl" "$tmp/full.jsonl"
check "--resume with CSV is refused (exit 2)" status_is 2 "${batch[@]}" --resume "$tmp/r.csv" "$tmp/img"
check "--resume and a different -o are refused (exit 2)" status_is 2 "${batch[@]}" --resume "$tmp/r.jsonl" -o "$tmp/o.jsonl" "$tmp/img"
printf 'not json\n' > "$tmp/garbage.jsonl"
check "--resume of a file that is not mnet output is refused (exit 2)" status_is 2 "${batch[@]}" --resume "$tmp/garbage.jsonl" "$tmp/img"
check "  ... naming the line" err_has "garbage.jsonl:1: not an mnet batch JSONL record"
check "  ... and leaving it alone" test "$(cat "$tmp/garbage.jsonl")" = "not json"

# A name that is not UTF-8 is written with U+FFFD in JSON; resume must still recognise its record.
mkdir -p "$tmp/odd"
cp "$shared/testdata/images/dog.jpg" "$tmp/odd/x"$'\xff'".jpg"
cp "$shared/testdata/images/kite.jpg" "$tmp/odd/y.jpg"
"${batch[@]}" -o "$tmp/odd-full.jsonl" "$tmp/odd"
head -n 1 "$tmp/odd-full.jsonl" > "$tmp/odd.jsonl"
check "--resume recognises the record of a non-UTF-8 name" status_is 0 "${batch[@]}" --resume "$tmp/odd.jsonl" "$tmp/odd"
check "  ... and redoes only the other file" cmp -s "$tmp/odd.jsonl" "$tmp/odd-full.jsonl"

## mnet merge
for k in 0 1 2 3; do "${batch[@]}" -r --shard $k/4 -o "$tmp/part$k.jsonl" "$tmp/img" 2> /dev/null; done
check "merge of the 4 parts given in any order (exit 0)" status_is 0 "$mnet" merge "$tmp/part2.jsonl" "$tmp/part0.jsonl" "$tmp/part3.jsonl" "$tmp/part1.jsonl" -o "$tmp/all.jsonl" -r --expect "$tmp/img"
check "  ... equals the unsharded run" cmp -s "$tmp/all.jsonl" "$tmp/full.jsonl"
check "merge to stdout with --files-from (exit 0)" status_is 0 "$mnet" merge "$tmp"/part?.jsonl --files-from "$tmp/list.txt"
check "  ... equals the unsharded run" cmp -s "$tmp/out" "$tmp/full.jsonl"
rm -f "$tmp/none.jsonl"
check "a missing part: files of the list without a record (exit 1)" status_is 1 "$mnet" merge "$tmp/part0.jsonl" "$tmp/part1.jsonl" "$tmp/part3.jsonl" -r --expect "$tmp/img" -o "$tmp/none.jsonl"
check "  ... counted (15)" err_has "15 files of the list without a record"
check "  ... and nothing written" test ! -e "$tmp/none.jsonl"
check "a part given twice: duplicates (exit 1)" status_is 1 "$mnet" merge "$tmp"/part?.jsonl "$tmp/part1.jsonl" -o "$tmp/none.jsonl"
check "  ... counted (15)" err_has "15 duplicate records"
head -n 30 "$tmp/list.txt" > "$tmp/half.txt"
check "records for files outside the list (exit 1)" status_is 1 "$mnet" merge "$tmp"/part?.jsonl --files-from "$tmp/half.txt"
check "  ... counted (30)" err_has "30 records for files not in the list"
head -c -20 "$tmp/part1.jsonl" > "$tmp/cut.jsonl"
check "a part ending in an unfinished line is refused (exit 2)" status_is 2 "$mnet" merge "$tmp/part0.jsonl" "$tmp/cut.jsonl"
check "  ... pointing at --resume" err_has "unfinished last line.*--resume"
sort -r "$tmp/part0.jsonl" > "$tmp/unsorted.jsonl"
check "an unsorted part is refused (exit 2)" status_is 2 "$mnet" merge "$tmp/unsorted.jsonl"
cp "$tmp/part0.jsonl" "$tmp/p0copy.jsonl"
check "-o naming a part is refused (exit 2)" status_is 2 "$mnet" merge "$tmp/p0copy.jsonl" "$tmp/part1.jsonl" -o "$tmp/p0copy.jsonl"
check "  ... and the part is intact" cmp -s "$tmp/p0copy.jsonl" "$tmp/part0.jsonl"
check "a FIFO part is refused at once (exit 3)" status_is 3 timeout 5 "$mnet" merge "$tmp/fifo.txt"

## The CPU budget: taskset narrows the affinity, and batch -v, the profile header and bench's JSON say so.
if taskset -c 0 true 2> /dev/null; then
  check "batch -v under taskset -c 0: a budget of 1 CPU from the affinity" status_is 0 taskset -c 0 "${batch[@]}" -v "$tmp/img/01-dog.jpg"
  check "  ... said" err_has "CPU budget 1: affinity 1 CPU,"
  check "profile header under taskset -c 0: 1 thread, by affinity" status_is 0 env -u OMP_NUM_THREADS taskset -c 0 "$mnet" profile -m "$tmp/model.json" -n 1 --warmup 0
  check "  ... said" grep -q "1 thread (affinity 1 CPU," "$tmp/out"
  check "OMP_NUM_THREADS overrides it, and the header says so" status_is 0 env OMP_NUM_THREADS=2 taskset -c 0 "$mnet" profile -m "$tmp/model.json" -n 1 --warmup 0
  check "  ... said" grep -q "2 threads (OMP_NUM_THREADS=2 (affinity 1 CPU" "$tmp/out"
else
  echo "FAIL: taskset cannot pin to CPU 0 here" >&2
  failures=$((failures + 1))
fi

[ "$failures" -eq 0 ] || { echo "test_scaleout: $failures check(s) failed" >&2; exit 1; }
echo "test_scaleout: all checks passed"
