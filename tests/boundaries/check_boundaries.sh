#!/usr/bin/env bash
# check_boundaries.sh <build dir> <source dir>: the ctest of boundaries.cmake. A program that links only the
# library target (mnet::mnet) builds with include/mnet and fails to compile with an internal header; oneDNN's
# headers are included in src/ops only (the compiler cannot enforce that one: they sit in /usr/include).
set -uo pipefail
build="$1" source="$2"

if ! out=$(cmake --build "$build" --target mnet_consumer_public 2>&1); then
  echo "FAIL: a program using include/mnet does not build against mnet::mnet:"; echo "$out"; exit 1
fi
if out=$(cmake --build "$build" --target mnet_consumer_internal 2>&1); then
  echo 'FAIL: a program linking only mnet::mnet compiled with #include "ops/plan.h": src/ leaks to users'; exit 1
fi
if ! grep -q 'ops/plan\.h: No such file or directory' <<< "$out"; then
  echo "FAIL: the internal-header consumer failed, but not for want of ops/plan.h:"; echo "$out"; exit 1
fi
echo 'ok: mnet::mnet users see include/mnet, and "ops/plan.h" is not found'

leaks=$(grep -rlE '^\s*#\s*include\s*[<"](dnnl|oneapi/dnnl)' "$source/src" "$source/tools" "$source/include" \
          --include='*.h' --include='*.cpp' | grep -v "^$source/src/ops/")
if [ -n "$leaks" ]; then
  echo "FAIL: oneDNN included outside src/ops:"; echo "$leaks"; exit 1
fi
echo "ok: oneDNN is included in src/ops only"
