"""SGLang (`python3 -m sglang.launch_server`): RadixAttention, fast MLA kernels.

Flags and defaults: SGLang docs "Server Arguments" (docs.sglang.ai/advanced_features/server_arguments)
and python/sglang/srt/server_args.py, read 2026-12.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from garrison.engines import vllm
from garrison.engines.container import model_path_in_container
from garrison.engines.parsers import parsers_for
from garrison.engines.profile import Cluster, EngineMetrics, EngineProfile, Launch

if TYPE_CHECKING:
    from garrison.design import Deployment

PORT = 30000


def kv_cache_dtype(kv: str) -> str:
    """`--kv-cache-dtype`: auto, fp8_e4m3 or fp8_e5m2."""
    k = kv.lower()
    if k in ("fp8", "fp8_e4m3"):
        return "fp8_e4m3"
    if k == "fp8_e5m2":
        return "fp8_e5m2"
    return "auto"


def quant_args(quant: str) -> list[str]:
    """As for vLLM: FP8 is named (quantised at load from BF16); AWQ/GPTQ/FP4 checkpoints carry their
    own `quantization_config` and SGLang picks the Marlin kernels itself when none is named."""
    return ["--quantization", "fp8"] if quant.lower() == "fp8" else []


def parser_args(model_id: str) -> list[str]:
    """`--tool-call-parser` / `--reasoning-parser` for the model's family (SGLang needs no separate
    switch to turn automatic tool choice on)."""
    p = parsers_for(model_id, "sglang")
    out: list[str] = []
    if p.tool_call_parser:
        out += ["--tool-call-parser", p.tool_call_parser]
    if p.reasoning_parser:
        out += ["--reasoning-parser", p.reasoning_parser]
    return out


def args(dep: Deployment, cluster: Cluster) -> list[str]:
    """`sglang.launch_server` arguments for a sized deployment."""
    out = [
        "--model-path",
        model_path_in_container(dep, PROFILE),
        "--served-model-name",
        dep.model_name,
        "--host",
        "0.0.0.0",
        "--port",
        str(PORT),
        "--tp-size",
        str(dep.tp),
        "--pp-size",
        str(dep.pp),
        "--context-length",
        str(dep.max_model_len),
        "--max-running-requests",
        str(dep.max_num_seqs),
        "--chunked-prefill-size",
        str(dep.max_num_batched_tokens),
        # the static pool (weights + KV) the estimate was sized with
        "--mem-fraction-static",
        f"{dep.gpu_memory_utilization:g}",
        "--kv-cache-dtype",
        kv_cache_dtype(dep.kv_dtype),
        *quant_args(dep.quant),
        *parser_args(dep.model_id),
        "--enable-metrics",
    ]
    if cluster.nodes > 1:
        out += [
            "--nnodes",
            str(cluster.nodes),
            "--node-rank",
            cluster.node_rank,
            "--dist-init-addr",
            cluster.leader,
        ]
    return out


PROFILE = EngineProfile(
    name="sglang",
    title="SGLang",
    aliases=("sgl", "lmsysorg/sglang"),
    scheduler="sglang",
    memory_model="static_pool",
    # server_args.py picks mem_fraction_static from GPU memory and TP (0.88 for one 80 GB-class GPU,
    # lower with TP and on small GPUs); Garrison sizes with 0.88 and renders what it sized
    memory_fraction=0.88,
    kv_block_tokens=1,  # --page-size 1
    default_kv_dtype="bf16",
    weight_families=frozenset({"float", "fp8", "int8", "gptq", "awq", "mxfp4", "nvfp4"}),
    # chunked_prefill_size 8192 (4096 on small GPUs); Garrison sizes both engines with vLLM's limits
    batching=vllm.default_batching,
    reasons="SGLang: the fastest MLA attention kernels for DeepSeek-style models and RadixAttention prefix "
    "caching; OpenAI-compatible server; Prometheus metrics (sglang:*)",
    launch=Launch(
        port=PORT,
        entrypoint=("python3", "-m", "sglang.launch_server"),
        args=args,
        health_path="/health",
        metrics_path="/metrics",
        # python/sglang/srt/metrics/collector.py, with --enable-metrics
        metrics=EngineMetrics(
            queue="sglang:num_queue_reqs",
            running="sglang:num_running_reqs",
            e2e_bucket="sglang:e2e_request_latency_seconds_bucket",
            ttft_bucket="sglang:time_to_first_token_seconds_bucket",
            itl_bucket="sglang:inter_token_latency_seconds_bucket",
            kv_usage="sglang:token_usage",
            generation_tokens="sglang:generation_tokens_total",
            http_requests=None,
        ),
        env={"SGLANG_DISABLE_TELEMETRY": "1", "HOME": "/tmp"},
        image_key="sglang",
        # SGLang server_args.py --api-key: no environment variable, so the key is on its command line
        api_key_flag="--api-key",
    ),
)
