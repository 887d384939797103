#!/usr/bin/env bash
# Prepares what scripts/gpu-check.sh needs on a GPU machine that reaches no
# registry: the runtime's test binary (built here with cgo; onnxruntime is
# loaded at run time, so nothing CUDA is linked) and onnxruntime 1.29.0 with
# its CUDA provider, everything under .gpu/. The provider (230 MB) is cut
# into parts of at most 60 MB, for transfers limited in size.
set -euo pipefail
cd "$(dirname "$0")/.."
lib=$(scripts/onnxruntime-cuda.sh)
dir=$(dirname "$lib")
rm -rf .gpu && mkdir -p .gpu/parts
CGO_ENABLED=1 go test -c -o .gpu/runtime.test ./runtime
cp "$dir/libonnxruntime.so" "$dir/libonnxruntime_providers_shared.so" .gpu/
split -b 60M -d "$dir/libonnxruntime_providers_cuda.so" .gpu/parts/libonnxruntime_providers_cuda.so.
echo "gpu-prepare: .gpu/ holds:" >&2
find .gpu -type f -printf '  %p (%s bytes)\n' | sort >&2
cat >&2 <<'TXT'
Copy the parts (.gpu/parts/*) and the rest of .gpu/ to the GPU machine's
checkout, then run scripts/gpu-check.sh there.
TXT
