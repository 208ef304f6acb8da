#!/usr/bin/env bash
# Puts a sample photo at samples/dog.jpg for the README's first command: from the mirror when one is given or
# a ../shared folder is beside the repository, else from Debian's darknet package (data/dog.jpg), downloaded
# with apt-get and unpacked without installing it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sum=5a9522051c3cec2bbd2f6323fccba32e8fbf3ddcc2b3e2fd46b04c720bc6f866
dest="$root/samples/dog.jpg"
mirror="${MNET_MIRROR:-}"
[ -n "$mirror" ] || { [ -d "$root/../shared/testdata/images" ] && mirror="$root/../shared"; }
mkdir -p "$root/samples"
if [ -f "$dest" ] && echo "$sum  $dest" | sha256sum --check --status; then exit 0; fi
if [ -n "$mirror" ] && [ -f "$mirror/testdata/images/dog.jpg" ]; then
  cp "$mirror/testdata/images/dog.jpg" "$dest.part"
else
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && apt-get download darknet > /dev/null && dpkg-deb -x darknet_*.deb x)
  cp "$tmp/x/usr/share/darknet/data/dog.jpg" "$dest.part"
fi
echo "$sum  $dest.part" | sha256sum --check --status || { rm -f "$dest.part"; echo "fetch_sample: checksum mismatch" >&2; exit 1; }
mv "$dest.part" "$dest"
echo "fetch_sample: $dest"
