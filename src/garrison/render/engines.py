"""Engine command lines, ports, metric names and offline switches for one deployment (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from garrison.design import Deployment
from garrison.errors import InputError

SUPPORTED_ENGINES = ("vllm", "sglang", "llama.cpp", "tabby")

# Environment that keeps every engine from reaching the internet: the Hugging Face hub and
# transformers read local files only, and the usage-statistics beacons are switched off.
OFFLINE_ENV: dict[str, str] = {
    "DO_NOT_TRACK": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
}
ENGINE_ENV: dict[str, dict[str, str]] = {
    "vllm": {"VLLM_NO_USAGE_STATS": "1", "VLLM_DO_NOT_TRACK": "1", "HOME": "/tmp"},
    "sglang": {"SGLANG_DISABLE_TELEMETRY": "1", "HOME": "/tmp"},
    "llama.cpp": {"LLAMA_ARG_OFFLINE": "1"},
    "tabby": {"TABBY_DISABLE_USAGE_COLLECTION": "1", "TABBY_ROOT": "/data"},
}


@dataclass(frozen=True)
class EngineMetrics:
    """Real Prometheus series names an engine exports (None: the engine has no such series)."""

    queue: str | None  # requests waiting for a slot
    running: str | None
    e2e_bucket: str | None  # end-to-end latency histogram, seconds
    ttft_bucket: str | None
    itl_bucket: str | None
    kv_usage: str | None  # KV cache fill, 0..1
    generation_tokens: str | None  # counter
    http_requests: str | None  # counter with a `status` label ("2xx", "5xx")


METRICS: dict[str, EngineMetrics] = {
    # vLLM v0.10+ (vllm/v1/metrics/loggers.py); HTTP counters from prometheus-fastapi-instrumentator
    "vllm": EngineMetrics(
        queue="vllm:num_requests_waiting",
        running="vllm:num_requests_running",
        e2e_bucket="vllm:e2e_request_latency_seconds_bucket",
        ttft_bucket="vllm:time_to_first_token_seconds_bucket",
        itl_bucket="vllm:inter_token_latency_seconds_bucket",
        kv_usage="vllm:kv_cache_usage_perc",
        generation_tokens="vllm:generation_tokens_total",
        http_requests="http_requests_total",
    ),
    # SGLang (python/sglang/srt/metrics/collector.py), with --enable-metrics
    "sglang": EngineMetrics(
        queue="sglang:num_queue_reqs",
        running="sglang:num_running_reqs",
        e2e_bucket="sglang:e2e_request_latency_seconds_bucket",
        ttft_bucket="sglang:time_to_first_token_seconds_bucket",
        itl_bucket="sglang:inter_token_latency_seconds_bucket",
        kv_usage="sglang:token_usage",
        generation_tokens="sglang:generation_tokens_total",
        http_requests=None,
    ),
    # llama.cpp server with --metrics (tools/server/server.cpp): counters and gauges, no histograms
    "llama.cpp": EngineMetrics(
        queue="llamacpp:requests_deferred",
        running="llamacpp:requests_processing",
        e2e_bucket=None,
        ttft_bucket=None,
        itl_bucket=None,
        kv_usage=None,
        generation_tokens="llamacpp:tokens_predicted_total",
        http_requests=None,
    ),
    # TabbyML exports no Prometheus metrics; only its health endpoint is watched
    "tabby": EngineMetrics(None, None, None, None, None, None, None, None),
}

PORTS = {"vllm": 8000, "sglang": 30000, "llama.cpp": 8080, "tabby": 8080}
HEALTH_PATHS = {"vllm": "/health", "sglang": "/health", "llama.cpp": "/health", "tabby": "/v1/health"}
METRICS_PATH = {"vllm": "/metrics", "sglang": "/metrics", "llama.cpp": "/metrics", "tabby": None}
# Whether the gateway may keep idle connections to the engine open for reuse (nginx `keepalive`).
# llama-server (cpp-httplib) closes the connection after every streamed response without sending
# "Connection: close"; a pooled connection can then be handed to the next request in the instant
# before nginx sees the FIN, and that request fails with 502 ("upstream prematurely closed
# connection"). Measured on llama-server b11434 behind nginx 1.22: 4 of 30 twelve-request
# benchmark runs at concurrency 4 lost one request; with no pool, 0 of 40. Streamed responses
# cannot reuse the connection anyway, so llama.cpp upstreams get no pool.
UPSTREAM_KEEPALIVE = {"vllm": True, "sglang": True, "llama.cpp": False, "tabby": True}

MODEL_MOUNT = "/models"


def check_engine(dep: Deployment, index: int) -> None:
    """Raise InputError when the bundle has no templates for the deployment's engine."""
    if dep.engine not in SUPPORTED_ENGINES:
        raise InputError(
            f"deployments[{index}].engine",
            f"no bundle templates for engine {dep.engine!r}",
            f"use one of {', '.join(SUPPORTED_ENGINES)}",
        )


def model_dir_name(dep: Deployment) -> str:
    """The model's folder (or .gguf file) name under /models: the operator copies it there."""
    if dep.model_path:
        return dep.model_path.rstrip("/").rsplit("/", 1)[-1]
    name = dep.model_id.rsplit("/", 1)[-1]
    if dep.engine == "llama.cpp" and not name.endswith(".gguf"):
        name = f"{name}-{dep.quant}.gguf"
    return name


def model_path_in_container(dep: Deployment) -> str:
    """Local model path inside the container: models are never downloaded at start."""
    return f"{MODEL_MOUNT}/{model_dir_name(dep)}"


def _vllm_quant_args(quant: str) -> list[str]:
    q = quant.lower()
    if q in ("bf16", "bfloat16"):
        return ["--dtype", "bfloat16"]
    if q in ("fp16", "float16"):
        return ["--dtype", "float16"]
    if q in ("fp8", "awq", "gptq", "bitsandbytes", "gguf", "compressed-tensors"):
        return ["--quantization", q]
    # mxfp4 / nvfp4 / int4 checkpoints carry their quantization config; vLLM reads it from config.json
    return []


def _kv_dtype_vllm(kv: str) -> str:
    k = kv.lower()
    return "fp8" if k.startswith("fp8") else "auto"


def _kv_dtype_sglang(kv: str) -> str:
    k = kv.lower()
    if k in ("fp8", "fp8_e4m3"):
        return "fp8_e4m3"
    if k == "fp8_e5m2":
        return "fp8_e5m2"
    return "auto"


def _kv_type_llamacpp(kv: str) -> str:
    k = kv.lower()
    if k in ("q8_0", "fp8", "int8"):
        return "q8_0"
    if k in ("q4_0", "int4"):
        return "q4_0"
    return "f16"


def engine_args(dep: Deployment, *, nodes: int = 1, node_rank_var: str = "", leader: str = "") -> list[str]:
    """The engine's argument list (after its entrypoint) from the deployment's settings."""
    path = model_path_in_container(dep)
    port = str(PORTS[dep.engine])
    if dep.engine == "vllm":
        args = [
            path,
            "--served-model-name",
            dep.model_name,
            "--host",
            "0.0.0.0",
            "--port",
            port,
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
            _kv_dtype_vllm(dep.kv_dtype),
            *_vllm_quant_args(dep.quant),
        ]
        if nodes > 1:
            args += ["--distributed-executor-backend", "ray"]
        return args
    if dep.engine == "sglang":
        args = [
            "--model-path",
            path,
            "--served-model-name",
            dep.model_name,
            "--host",
            "0.0.0.0",
            "--port",
            port,
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
            "--mem-fraction-static",
            f"{dep.gpu_memory_utilization:g}",
            "--kv-cache-dtype",
            _kv_dtype_sglang(dep.kv_dtype),
            "--enable-metrics",
        ]
        if dep.quant.lower() in ("fp8", "awq", "gptq"):
            args += ["--quantization", dep.quant.lower()]
        if nodes > 1:
            args += ["--nnodes", str(nodes), "--node-rank", node_rank_var, "--dist-init-addr", leader]
        return args
    if dep.engine == "llama.cpp":
        # llama.cpp splits one context of -c tokens over -np slots, so each slot gets max_model_len
        # tokens only when -c = max_model_len x max_num_seqs (tools/server/README.md, --parallel).
        ctx = dep.max_model_len * dep.max_num_seqs
        kv = _kv_type_llamacpp(dep.kv_dtype)
        return [
            "-m",
            path,
            "--alias",
            dep.model_name,
            "--host",
            "0.0.0.0",
            "--port",
            port,
            "-c",
            str(ctx),
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
        ]
    # tabby: code completion (--model) or chat (--chat-model), from a local model folder
    flag = "--model" if dep.kind == "code" else "--chat-model"
    return [
        "serve",
        flag,
        path,
        "--port",
        port,
        "--device",
        "cuda" if dep.device_kind == "gpu" else "cpu",
        "--parallelism",
        str(dep.max_num_seqs),
    ]


def engine_entrypoint(dep: Deployment) -> list[str]:
    """The program the container runs; the args above follow it."""
    return {
        "vllm": ["vllm", "serve"],
        "sglang": ["python3", "-m", "sglang.launch_server"],
        "llama.cpp": ["/app/llama-server"],
        "tabby": ["/opt/tabby/bin/tabby"],
    }[dep.engine]


def engine_env(dep: Deployment) -> dict[str, str]:
    """Offline and telemetry-off environment for the engine, sorted."""
    env = {**OFFLINE_ENV, **ENGINE_ENV[dep.engine]}
    return dict(sorted(env.items()))


def read_only_root(dep: Deployment) -> bool:
    """Whether the engine runs with a read-only root filesystem (writable /tmp only)."""
    return dep.engine in ("vllm", "sglang", "llama.cpp")
