"""vLLM (`vllm serve`): PagedAttention, continuous batching, OpenAI-compatible server.

Flags and defaults: vLLM docs "Engine Arguments" (docs.vllm.ai/en/latest/configuration/engine_args)
and vllm/engine/arg_utils.py, read 2026-12.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from garrison.engines.container import model_path_in_container
from garrison.engines.parsers import parsers_for
from garrison.engines.profile import Cluster, EngineMetrics, EngineProfile, KServeTemplate, Launch

if TYPE_CHECKING:
    from garrison.design import Deployment

PORT = 8000


def default_batching(device_memory_gib: float | None) -> tuple[int, int]:
    """(max_num_batched_tokens, max_num_seqs) vLLM V1's API server picks for a GPU size
    (`EngineArgs._set_default_args`: 8192 / 1024 on GPUs with >= 70 GiB, else 2048 / 256)."""
    if device_memory_gib is not None and device_memory_gib >= 70:
        return 8192, 1024
    return 2048, 256


def quant_args(quant: str) -> list[str]:
    """Weight format flags. Pre-quantised checkpoints (AWQ, GPTQ, MXFP4, NVFP4, INT4/INT8
    compressed-tensors) carry `quantization_config` in config.json and get no flag: naming `awq` or
    `gptq` would stop vLLM from switching to its Marlin kernels (`override_quantization_method` only
    converts when the user's choice is None or marlin). FP8 is named so a BF16 checkpoint is
    quantised at load; an FP8 checkpoint's own config says the same."""
    q = quant.lower()
    if q in ("bf16", "bfloat16"):
        return ["--dtype", "bfloat16"]
    if q in ("fp16", "float16"):
        return ["--dtype", "float16"]
    if q == "fp8":
        return ["--quantization", "fp8"]
    return []


def kv_cache_dtype(kv: str) -> str:
    """`--kv-cache-dtype`: auto (the model dtype) or fp8 (e4m3 on CUDA)."""
    return "fp8" if kv.lower().startswith("fp8") else "auto"


def parser_args(model_id: str) -> list[str]:
    """Tool-call and reasoning parsers for the model's family (data/model_parsers.yaml): without them
    `tools=` requests come back as plain text and thinking stays inside `content`."""
    p = parsers_for(model_id, "vllm")
    out: list[str] = []
    if p.tool_call_parser:
        out += ["--enable-auto-tool-choice", "--tool-call-parser", p.tool_call_parser]
    if p.reasoning_parser:
        out += ["--reasoning-parser", p.reasoning_parser]
    return out


def args(dep: Deployment, cluster: Cluster) -> list[str]:
    """`vllm serve` arguments for a sized deployment."""
    out = [
        model_path_in_container(dep, PROFILE),
        "--served-model-name",
        dep.model_name,
        "--host",
        "0.0.0.0",
        "--port",
        str(PORT),
        "--tensor-parallel-size",
        str(dep.tp),
        "--pipeline-parallel-size",
        str(dep.pp),
        "--max-model-len",
        str(dep.max_model_len),
        "--max-num-seqs",
        str(dep.max_num_seqs),
        "--max-num-batched-tokens",
        str(dep.max_num_batched_tokens),
        "--gpu-memory-utilization",
        f"{dep.gpu_memory_utilization:g}",
        "--kv-cache-dtype",
        kv_cache_dtype(dep.kv_dtype),
        *quant_args(dep.quant),
        *parser_args(dep.model_id),
    ]
    if cluster.nodes > 1:
        out += ["--distributed-executor-backend", "ray"]
    return out


PROFILE = EngineProfile(
    name="vllm",
    title="vLLM",
    aliases=("vllm-openai", "vllm serve"),
    scheduler="vllm",
    memory_model="utilisation",
    memory_fraction=0.90,  # --gpu-memory-utilization default
    kv_block_tokens=16,  # --block-size default on CUDA
    default_kv_dtype="bf16",
    weight_families=frozenset({"float", "fp8", "int8", "gptq", "awq", "mxfp4", "nvfp4"}),
    batching=default_batching,
    reasons="vLLM: PagedAttention with continuous batching and chunked prefill carries many concurrent "
    "users; OpenAI-compatible server; Prometheus metrics (vllm:*); FP8/AWQ/GPTQ/MXFP4 support",
    launch=Launch(
        port=PORT,
        entrypoint=("vllm", "serve"),
        args=args,
        health_path="/health",
        metrics_path="/metrics",
        # vLLM v0.10+ (vllm/v1/metrics/loggers.py); HTTP counters from prometheus-fastapi-instrumentator
        metrics=EngineMetrics(
            queue="vllm:num_requests_waiting",
            running="vllm:num_requests_running",
            e2e_bucket="vllm:e2e_request_latency_seconds_bucket",
            ttft_bucket="vllm:time_to_first_token_seconds_bucket",
            itl_bucket="vllm:inter_token_latency_seconds_bucket",
            kv_usage="vllm:kv_cache_usage_perc",
            generation_tokens="vllm:generation_tokens_total",
            http_requests="http_requests_total",
        ),
        # vllm/envs.py: VLLM_NO_USAGE_STATS, VLLM_DO_NOT_TRACK; HOME for its caches on a read-only root
        env={"VLLM_NO_USAGE_STATS": "1", "VLLM_DO_NOT_TRACK": "1", "HOME": "/tmp"},
        image_key="vllm",
        # vllm/envs.py VLLM_API_KEY (= --api-key): every /v1 route then needs "Authorization: Bearer"
        api_key_env="VLLM_API_KEY",
        # docs.vllm.ai "Distributed inference and serving": multi-node runs over a Ray cluster
        multi_node="ray",
        kserve=KServeTemplate(
            port=PORT,
            template_flags=("--served-model-name", "--host", "--port", "--tensor-parallel-size"),
        ),
    ),
)
