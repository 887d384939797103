#!/usr/bin/env bash
# Installs the system packages the build and the tests need (Debian/Ubuntu),
# only those missing: make (for .ci/run, which calls it after this script),
# gcc for cgo, OpenBLAS for training, python3-onnx and python3-numpy for the
# ONNX checks in the tests, npm to fetch the onnxruntime library.
set -euo pipefail
say() { echo "deps.sh: $*" >&2; }

pkgs=(make gcc libopenblas-dev python3-onnx python3-numpy npm)
missing=()
for p in "${pkgs[@]}"; do
	# npm may come from elsewhere (nodesource, nvm): a working npm is enough.
	[ "$p" = npm ] && command -v npm >/dev/null && continue
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ! command -v go >/dev/null; then
	say "Go is not installed: get Go 1.26 or newer from https://go.dev/dl/ and put its bin directory on PATH"
	exit 1
fi

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if ! command -v apt-get >/dev/null; then
	say "cannot install ${missing[*]}: apt-get not found; install the equivalent packages with your system's package manager"
	exit 1
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
	if ! command -v sudo >/dev/null; then
		say "missing packages: ${missing[*]}"
		say "not running as root and sudo is not installed; as root, run:"
		say "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
		exit 1
	fi
	sudo=(sudo)
	say "installing with sudo (it may ask for your password)"
fi
say "installing ${missing[*]} (apt-get)"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
say "installed ${missing[*]}"
