#!/usr/bin/env bash
# Downloads, verifies (sha256) and converts models listed in models/zoo.json into models/<name>/<name>.json.
#
#   scripts/fetch_models.sh [--mirror DIR] [--force] [--list] [NAME... | all]
#
# --mirror DIR (or $MNET_MIRROR) reads the files from DIR/models/<name>/<file> instead of downloading them; with
# neither, a ../shared folder beside the repository is used when present (machines without internet access),
# else the upstream URLs. Nothing is converted from a file whose checksum does not match.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
zoo="$root/models/zoo.json"
convert="$root/build/mnet-convert"
mirror="${MNET_MIRROR:-}"
force=0
names=()

die() { echo "fetch_models: error: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --mirror) [ $# -ge 2 ] || die "--mirror needs a folder"; mirror="$2"; shift 2 ;;
    --force) force=1; shift ;;
    --list) jq -r '.models[] | "\(.name)\t\(.description)"' "$zoo"; exit 0 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) names+=("$1"); shift ;;
  esac
done
[ ${#names[@]} -gt 0 ] || die "name a model (or 'all'); known: $(jq -r '[.models[].name] | join(", ")' "$zoo")"
[ "${names[0]}" != all ] || mapfile -t names < <(jq -r '.models[].name' "$zoo")
[ -x "$convert" ] || die "$convert not found: build first (scripts/build.sh)"

if [ -z "$mirror" ] && [ -d "$root/../shared/models" ]; then
  mirror="$root/../shared"
  echo "fetch_models: using the local mirror $mirror"
fi
if [ -n "$mirror" ]; then
  [ -d "$mirror/models" ] || die "mirror $mirror has no models/ folder"
fi

fetch_file() {  # model file sha256 url dest
  local model=$1 file=$2 sum=$3 url=$4 dest=$5
  if [ -f "$dest" ] && echo "$sum  $dest" | sha256sum --check --status; then return 0; fi
  if [ -n "$mirror" ]; then
    local src="$mirror/models/$model/$file"
    [ -f "$src" ] || die "$src: not in the mirror"
    cp "$src" "$dest.part"
  else
    curl -fsSL --retry 3 --connect-timeout 20 -o "$dest.part" "$url" || die "$url: download failed"
  fi
  if ! echo "$sum  $dest.part" | sha256sum --check --status; then
    rm -f "$dest.part"
    die "$file: sha256 mismatch (expected $sum); refusing to use it"
  fi
  mv "$dest.part" "$dest"
}

for name in "${names[@]}"; do
  entry=$(jq -c --arg n "$name" '.models[] | select(.name == $n)' "$zoo")
  [ -n "$entry" ] || die "unknown model '$name'; known: $(jq -r '[.models[].name] | join(", ")' "$zoo")"
  dir="$root/models/$name"
  manifest="$dir/$name.json"
  if [ -f "$manifest" ] && [ $force -eq 0 ]; then
    echo "fetch_models: $name: already converted ($manifest)"
    continue
  fi
  mkdir -p "$dir/source"
  while IFS=$'\t' read -r file sum url; do
    fetch_file "$name" "$file" "$sum" "$url" "$dir/source/$file"
  done < <(jq -r '.files[] | [.name, .sha256, .url] | @tsv' <<< "$entry")
  args=()
  while IFS= read -r a; do
    if [ -f "$dir/source/$a" ]; then args+=("$dir/source/$a"); else args+=("$a"); fi
  done < <(jq -r '.convert[]' <<< "$entry")
  "$convert" "${args[@]}" --name "$name" -o "$manifest"
done
