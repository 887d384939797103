#!/usr/bin/env bash
# Installs what the Node and browser examples and their tests need, only what
# is missing, and prints where it is as key=value lines on stdout
# (`scripts/web-deps.sh node`: only the Node example's node and node_modules):
#   node=…          the node binary (Debian package nodejs when missing)
#   chromium=…      the browser binary (Debian package chromium when missing)
#   node_modules=…  examples/node's packages (onnxruntime-node, from its package-lock)
#   web_modules=…   examples/browser's packages (onnxruntime-web, playwright-core)
#   ort_web=…       onnxruntime-web's files that the page loads, sha256-verified;
#                   `amortize serve --ui` looks for them there
# What it installs is reported on stderr. npm packages come from the lock
# files (pinned versions and integrity hashes), installed with
# --ignore-scripts: onnxruntime-node's install script would download CUDA
# libraries, and its CPU library is inside the package.
# The cache directory is $AMORTIZE_CACHE (default: $XDG_CACHE_HOME/amortize or ~/.cache/amortize).
# Exit status 3: Node, npm or Chromium is missing and cannot be installed
# (the tests skip, except under CI); any other failure is an error.
set -euo pipefail
cd "$(dirname "$0")/.."

ort_web_version=1.30.0
ort_web_files=(
	"ort.wasm.min.mjs 219e6a1fc8a9938268d18efca3c91d310bd2f4a59bbd13744df5b2b7fc6cee3b"
	"ort-wasm-simd-threaded.mjs e13f7f94fc51b4ca72b12faeb1ee95f4ace6dfbc8939bc718aabdc0a27c4299b"
	"ort-wasm-simd-threaded.wasm 3398c10d07d229bd91b364548e130e0e51a8e5704b88c7c083ebbeb78842dee2"
)

cache=${AMORTIZE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/amortize}
mkdir -p "$cache"
# Tests of several packages may call this at once.
exec 9>"$cache/web-deps.lock"
flock 9

apt_install() {
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	echo "web-deps.sh: installing Debian packages: $*" >&2
	$sudo apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >&2
}

only=${1:-}
missing=()
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
[ "$only" = node ] || command -v chromium >/dev/null || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
	command -v apt-get >/dev/null || { echo "web-deps.sh: missing ${missing[*]} and no apt-get to install them" >&2; exit 3; }
	apt_install "${missing[@]}" || { echo "web-deps.sh: could not install ${missing[*]}" >&2; exit 3; }
fi

# modules installs the lock file of examples/$1 into a cache directory named
# after the lock's hash, so a changed lock gets a fresh install.
modules() {
	local src=examples/$1 sum dir
	sum=$(cat "$src/package.json" "$src/package-lock.json" | sha256sum | cut -c1-16)
	dir=$cache/npm/$1-$sum
	if [ ! -f "$dir/.done" ]; then
		echo "web-deps.sh: npm ci of $src/package-lock.json into $dir" >&2
		rm -rf "$dir"
		mkdir -p "$dir"
		cp "$src/package.json" "$src/package-lock.json" "$dir/"
		(cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
		touch "$dir/.done"
	fi
	echo "$dir/node_modules"
}
node_modules=$(modules node)
if [ "$only" = node ]; then
	echo "node=$(command -v node)"
	echo "node_modules=$node_modules"
	exit 0
fi
web_modules=$(modules browser)

ort_web=$cache/onnxruntime-web/$ort_web_version
verify() {
	local f sum
	for entry in "${ort_web_files[@]}"; do
		read -r f sum <<<"$entry"
		echo "$sum  $1/$f" | sha256sum --check --status || return 1
	done
}
if ! verify "$ort_web" 2>/dev/null; then
	dist=$web_modules/onnxruntime-web/dist
	if ! verify "$dist"; then
		echo "web-deps.sh: sha256 mismatch in $dist for onnxruntime-web@$ort_web_version" >&2
		exit 1
	fi
	echo "web-deps.sh: copying onnxruntime-web@$ort_web_version's page files into $ort_web" >&2
	mkdir -p "$ort_web"
	for entry in "${ort_web_files[@]}"; do
		read -r f _ <<<"$entry"
		cp "$dist/$f" "$ort_web/$f"
	done
fi

echo "node=$(command -v node)"
echo "chromium=$(command -v chromium)"
echo "node_modules=$node_modules"
echo "web_modules=$web_modules"
echo "ort_web=$ort_web"
