#!/usr/bin/env bash
# Fetches the official onnxruntime CPU library from the npm registry's
# onnxruntime-node package, verifies its sha256, caches it and prints its path.
# Usage: scripts/onnxruntime.sh            (prints the cached library path)
# The cache directory is $AMORTIZE_CACHE (default: $XDG_CACHE_HOME/amortize or ~/.cache/amortize).
set -euo pipefail

version=1.30.0
member=package/bin/napi-v6/linux/x64/libonnxruntime.so.1
sha256=ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23

case "$(uname -s)-$(uname -m)" in
Linux-x86_64) ;;
*) echo "onnxruntime.sh: only linux/x86_64 is pinned; set ONNXRUNTIME_SHARED_LIBRARY_PATH to your own build" >&2; exit 1 ;;
esac

cache=${AMORTIZE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/amortize}
dir=$cache/onnxruntime/$version
lib=$dir/libonnxruntime.so.1

verify() { [ -f "$1" ] && echo "$sha256  $1" | sha256sum --check --status; }

if verify "$lib"; then
	echo "$lib"
	exit 0
fi

command -v npm >/dev/null || { echo "onnxruntime.sh: npm is needed to fetch onnxruntime-node@$version" >&2; exit 1; }
mkdir -p "$dir"
tmp=$(mktemp -d "$dir/fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "onnxruntime.sh: downloading onnxruntime-node@$version from the npm registry into $dir" >&2
(cd "$tmp" && npm pack --silent "onnxruntime-node@$version" >/dev/null)
tar -xzf "$tmp"/onnxruntime-node-"$version".tgz -C "$tmp" "$member"
if ! verify "$tmp/$member"; then
	echo "onnxruntime.sh: sha256 mismatch for $member of onnxruntime-node@$version" >&2
	exit 1
fi
mv "$tmp/$member" "$lib"
echo "$lib"
