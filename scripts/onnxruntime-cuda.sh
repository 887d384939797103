#!/usr/bin/env bash
# Fetches onnxruntime 1.29.0 with its CUDA execution provider from the npm
# registry, verifies every library's sha256, caches them side by side and
# prints the core library's path (pass it as --library or
# $ONNXRUNTIME_SHARED_LIBRARY_PATH, or let --device cuda find it).
#
# The official CPU build the project uses (scripts/onnxruntime.sh, 1.30.0) has
# no CUDA provider, and a provider only loads into the core of its own
# version, so the CUDA path uses another pair: the core from
# com.github.asus4.onnxruntime and the providers from
# com.github.asus4.onnxruntime.linux-x64-gpu (builds of onnxruntime 1.29.0
# linked against CUDA 13: libcublasLt.so.13, libcublas.so.13, libcurand.so.10,
# libcudart.so.13 and the driver's libcuda.so.1 must be on the library path at
# run time; cuDNN is not needed). About 330 MB is downloaded once.
#
# Usage: scripts/onnxruntime-cuda.sh [--from DIR]
#   --from DIR  take the two .tgz packages from DIR (a machine without a
#               registry) instead of running npm pack.
# The cache directory is $AMORTIZE_CACHE (default: $XDG_CACHE_HOME/amortize or ~/.cache/amortize).
set -euo pipefail

pkg=0.4.9
version=1.29.0
core_pkg=com.github.asus4.onnxruntime
gpu_pkg=com.github.asus4.onnxruntime.linux-x64-gpu
plugins=package/Plugins/Linux/x64
# name  package  sha256
libs=(
	"libonnxruntime.so $core_pkg 5715f06d8992ca8eeeddcce43df3a7d38f97d537052126f558e912cb312460ca"
	"libonnxruntime_providers_shared.so $gpu_pkg c6a12593396095f5670160e284c35d1700b7708cf3037b7042e2a5200ccae772"
	"libonnxruntime_providers_cuda.so $gpu_pkg 56cf3254b118ad837ccc4ed8f6d1b23504bbf7ef91b34cbc0b289cb7f10b3037"
)

from=""
case "${1:-}" in
--from) from=${2:?--from needs a directory} ;;
"") ;;
*) echo "onnxruntime-cuda.sh: unknown argument $1 (usage: scripts/onnxruntime-cuda.sh [--from DIR])" >&2; exit 2 ;;
esac

case "$(uname -s)-$(uname -m)" in
Linux-x86_64) ;;
*) echo "onnxruntime-cuda.sh: only linux/x86_64 is pinned" >&2; exit 1 ;;
esac

cache=${AMORTIZE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/amortize}
dir=$cache/onnxruntime-cuda/$version

verify() { [ -f "$1" ] && echo "$2  $1" | sha256sum --check --status; }

all_ok() {
	local l name sum
	for l in "${libs[@]}"; do
		read -r name _ sum <<<"$l"
		verify "$dir/$name" "$sum" || return 1
	done
}

if all_ok; then
	echo "$dir/libonnxruntime.so"
	exit 0
fi

mkdir -p "$dir"
tmp=$(mktemp -d "$dir/fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
for p in "$core_pkg" "$gpu_pkg"; do
	tgz=$p-$pkg.tgz
	if [ -n "$from" ]; then
		[ -f "$from/$tgz" ] || { echo "onnxruntime-cuda.sh: $from/$tgz is missing" >&2; exit 1; }
		cp "$from/$tgz" "$tmp/"
	else
		command -v npm >/dev/null || { echo "onnxruntime-cuda.sh: npm is needed to fetch $p@$pkg" >&2; exit 1; }
		echo "onnxruntime-cuda.sh: fetching $p@$pkg from the npm registry" >&2
		(cd "$tmp" && npm pack --silent "$p@$pkg" >/dev/null)
	fi
done
for l in "${libs[@]}"; do
	read -r name p sum <<<"$l"
	tar -xzf "$tmp/$p-$pkg.tgz" -C "$tmp" "$plugins/$name"
	if ! verify "$tmp/$plugins/$name" "$sum"; then
		echo "onnxruntime-cuda.sh: sha256 mismatch for $name of $p@$pkg" >&2
		exit 1
	fi
	mv "$tmp/$plugins/$name" "$dir/$name"
done
echo "$dir/libonnxruntime.so"
