#!/usr/bin/env bash
# Installs the system packages the build and the tests need (Debian/Ubuntu):
# make (for .ci/run, which calls it after this script), gcc for cgo,
# OpenBLAS for training, python3-onnx for the ONNX checker in the tests,
# npm to fetch the onnxruntime library.
set -euo pipefail
pkgs=(make gcc libopenblas-dev python3-onnx python3-numpy npm)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm may come from elsewhere (nodesource, nvm): a working npm is enough.
if command -v npm >/dev/null; then
	missing=("${missing[@]/npm/}")
fi
missing=($(printf '%s\n' "${missing[@]}" | sed '/^$/d'))
if [ ${#missing[@]} -gt 0 ]; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
