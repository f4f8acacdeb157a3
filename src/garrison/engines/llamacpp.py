"""llama.cpp's `llama-server`: GGUF on CPUs, Apple silicon and small GPUs, fixed parallel slots.

Flags and defaults: llama.cpp tools/server/README.md and `llama-server --help` of build b11434 (the
build the tests run), read 2026-12.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from garrison.engines.container import model_path_in_container
from garrison.engines.parsers import parsers_for
from garrison.engines.profile import Cluster, EngineMetrics, EngineProfile, Launch

if TYPE_CHECKING:
    from garrison.design import Deployment

PORT = 8080
DEFAULT_SLOTS = 4  # --parallel when it is auto (-1)
DEFAULT_BATCH = 2048  # -b / --batch-size (n_batch)
MICRO_BATCH = 512  # -ub / --ubatch-size (n_ubatch): the compute buffer is sized for this many tokens


def default_batching(device_memory_gib: float | None) -> tuple[int, int]:
    """(n_batch, slots): llama-server's defaults, whatever the device."""
    del device_memory_gib
    return DEFAULT_BATCH, DEFAULT_SLOTS


def kv_cache_type(kv: str) -> str:
    """`-ctk` / `-ctv`: f16 (default), q8_0 or q4_0."""
    k = kv.lower()
    if k in ("q8_0", "fp8", "int8"):
        return "q8_0"
    if k in ("q4_0", "int4"):
        return "q4_0"
    return "f16"


def image_variant(image: str, device_kind: str, vendor: str | None) -> str:
    """llama.cpp publishes one build per backend: server-cuda-bN (NVIDIA), server-rocm-bN (AMD) and
    server-bN (CPU; also the fallback for other GPUs) (ghcr.io/ggml-org/llama.cpp, docs/docker.md)."""
    if device_kind == "gpu" and vendor in (None, "nvidia"):
        return image
    backend = "rocm-" if device_kind == "gpu" and vendor == "amd" else ""
    return image.replace(":server-cuda-", f":server-{backend}")


def reasoning_args(model_id: str) -> list[str]:
    """`--reasoning-format` for thinking models (data/model_parsers.yaml)."""
    fmt = parsers_for(model_id, "llama_cpp").reasoning_format
    return ["--reasoning-format", fmt] if fmt else []


def args(dep: Deployment, cluster: Cluster) -> list[str]:
    """`llama-server` arguments for a sized deployment.

    `-c` is one context shared by the `-np` slots (each slot gets n_ctx / n_parallel tokens when the
    KV cache is not unified), so every request gets `max_model_len` tokens only when
    -c = max_model_len x max_num_seqs; `--no-kv-unified` keeps each slot to its own share (a unified
    cache is the default only when the slot count is auto, and lets one request take all of it).
    """
    del cluster  # one process per replica; llama.cpp's RPC multi-host mode is not planned
    kv = kv_cache_type(dep.kv_dtype)
    return [
        "-m",
        model_path_in_container(dep, PROFILE),
        "--alias",
        dep.model_name,
        "--host",
        "0.0.0.0",
        "--port",
        str(PORT),
        "-c",
        str(PROFILE.context_tokens(dep.max_model_len, dep.max_num_seqs)),
        "-np",
        str(dep.max_num_seqs),
        "-b",
        str(dep.max_num_batched_tokens),
        "-ngl",
        "999" if dep.device_kind == "gpu" else "0",
        "-ctk",
        kv,
        "-ctv",
        kv,
        "--metrics",
        "--no-webui",
        "--offline",
        "--no-kv-unified",
        # tool calls are parsed by the model's own chat template (--jinja); thinking models return
        # their reasoning in `reasoning_content`
        "--jinja",
        *reasoning_args(dep.model_id),
    ]


PROFILE = EngineProfile(
    name="llama.cpp",
    title="llama.cpp (llama-server)",
    # "ollama" runs the same scheduler (fixed slots over one context); it is never rendered
    aliases=("llama-server", "llamacpp", "llama cpp", "ggml-org/llama.cpp", "ollama"),
    scheduler="llamacpp",
    memory_model="context_upfront",
    memory_fraction=1.0,  # no such knob: KV for -c tokens is allocated at start, the rest stays free
    kv_block_tokens=1,
    default_kv_dtype="fp16",  # -ctk/-ctv f16
    # GGUF files of the k-quant/i-quant types, plain F16/BF16/F32 (`convert_hf_to_gguf.py --outtype`)
    # and MXFP4 (gpt-oss); always one .gguf file
    weight_families=frozenset({"gguf", "float", "mxfp4"}),
    gpu_kernels="ggml",
    pipeline_parallel=False,
    fixed_slots=True,
    single_file_model=True,
    cuda_graphs=False,
    runs_on_cpu=True,
    batching=default_batching,
    reasons="llama.cpp server: runs GGUF quantisations on CPUs, Apple silicon and small GPUs from one "
    "binary; fixed parallel slots suit a small number of concurrent users; Prometheus metrics (llamacpp:*)",
    launch=Launch(
        port=PORT,
        entrypoint=("/app/llama-server",),
        args=args,
        health_path="/health",
        metrics_path="/metrics",
        # llama-server with --metrics (tools/server/server.cpp): counters and gauges, no histograms
        metrics=EngineMetrics(
            queue="llamacpp:requests_deferred",
            running="llamacpp:requests_processing",
            e2e_bucket=None,
            ttft_bucket=None,
            itl_bucket=None,
            kv_usage=None,
            generation_tokens="llamacpp:tokens_predicted_total",
            http_requests=None,
        ),
        env={"LLAMA_ARG_OFFLINE": "1"},
        image_key="llama.cpp",
        # common/arg.cpp: --api-key reads LLAMA_ARG_API_KEY; /v1, /metrics, /props then need the key
        api_key_env="LLAMA_ARG_API_KEY",
        gpu_image_key="llama.cpp-cuda",
        image_variant=image_variant,
        # llama-server (cpp-httplib) closes the connection after every streamed response without
        # sending "Connection: close"; a pooled connection can then be handed to the next request in
        # the instant before nginx sees the FIN, and that request fails with 502 ("upstream
        # prematurely closed connection"). Measured on llama-server b11434 behind nginx 1.22: 4 of 30
        # twelve-request benchmark runs at concurrency 4 lost one request; with no pool, 0 of 40.
        # Streamed responses cannot reuse the connection anyway, so llama.cpp upstreams get no pool.
        upstream_keepalive=False,
    ),
)
