#!/usr/bin/env bash
# Runs every GPU check and prints its figures: the machine's CUDA facts, the
# CUDA execution provider's parity with the CPU, and draws/s on both devices.
# Run scripts/gpu-prepare.sh on a build machine first; this script needs no
# Go and no registry, only .gpu/ as that script leaves it.
set -uo pipefail
cd "$(dirname "$0")/.."

echo "== machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "nvidia-smi failed"
nvidia-smi | grep -m1 'CUDA Version' || true
echo "-- CUDA libraries on the default path"
ldconfig -p | grep -E 'libcublas|libcudart|libcurand|libcuda\.so' || echo "(none)"
echo "-- CUDA libraries anywhere"
find / -xdev \( -name 'libcublasLt.so.13*' -o -name 'libcublas.so.13*' -o -name 'libcudart.so.13*' -o -name 'libcurand.so.10*' -o -name 'libcuda.so.1' \) 2>/dev/null | sort | head -20

# The provider finds CUDA's libraries on the library path; pip's CUDA wheels
# keep theirs under site-packages.
libdirs=$(find / -xdev \( -name 'libcublasLt.so.13*' -o -name 'libcudart.so.13*' -o -name 'libcurand.so.10*' \) -printf '%h\n' 2>/dev/null | sort -u | paste -sd: -)
export LD_LIBRARY_PATH=${libdirs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"

echo "== onnxruntime 1.29.0 with the CUDA provider"
export AMORTIZE_CACHE=$PWD/.gpu/cache
dir=$AMORTIZE_CACHE/onnxruntime-cuda/1.29.0
mkdir -p "$dir"
if [ ! -f "$dir/libonnxruntime_providers_cuda.so" ]; then
	cat .gpu/parts/libonnxruntime_providers_cuda.so.* >"$dir/libonnxruntime_providers_cuda.so" || exit 1
fi
cp -n .gpu/libonnxruntime.so .gpu/libonnxruntime_providers_shared.so "$dir/"
# Verifies every sha256; it would try npm only if a file were wrong.
lib=$(scripts/onnxruntime-cuda.sh) || { echo "gpu-check: the carried libraries are incomplete or corrupt" >&2; exit 1; }
export ONNXRUNTIME_SHARED_LIBRARY_PATH=$lib
ldd "$dir/libonnxruntime_providers_cuda.so" | grep -E 'cu|not found'

echo "== parity: CUDA against CPU, same model and noise (tolerance 1e-4)"
out=$(cd runtime && ../.gpu/runtime.test -test.run 'TestCUDA' -test.v -test.count 1 2>&1)
echo "$out"
case "$out" in
*"SKIP: TestCUDAParity"*) echo "gpu-check: CUDA UNAVAILABLE (the reason is above)"; exit 1 ;;
*FAIL*) echo "gpu-check: parity FAILED" ;;
esac

echo "== throughput: sbi-sized NSF, draws/s; the CPU on two cores, as the project's figures"
(cd runtime && taskset -c 0,1 ../.gpu/runtime.test -test.run '^$' -test.bench 'BenchmarkDevice/cpu' -test.cpu 2 -test.benchtime 3x -test.count 3) || echo "gpu-check: CPU benchmark FAILED"
(cd runtime && ../.gpu/runtime.test -test.run '^$' -test.bench 'BenchmarkDevice/cuda' -test.benchtime 5x -test.count 3) || echo "gpu-check: CUDA benchmark FAILED"

echo "== training on CUDA: not part of this build (docs/DESIGN.md, GPU section)"
