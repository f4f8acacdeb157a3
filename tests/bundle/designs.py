"""Hand-built Designs for the bundle tests (valid pydantic objects, no planner needed)."""

from __future__ import annotations

from garrison.design import Design, ScalingTriggers
from garrison.testing.designs import make_deployment as _deployment
from garrison.testing.designs import make_design as _design
from garrison.testing.designs import make_estimate as _estimate
from garrison.testing.designs import make_memory as _memory
from garrison.testing.designs import make_requirements as _requirements
from garrison.testing.designs import make_server as _server


def gpu_vllm_design() -> Design:
    """A vLLM chat deployment on GPUs with two replicas (single node each)."""
    return _design(
        name="acme-chat",
        requirements=_requirements(
            [{"name": "chat", "kind": "chat", "models": ["qwen3-8b"]}],
            security={"internal_networks": ["10.20.0.0/16", "192.168.10.0/24"]},
        ),
        deployments=(_deployment(),),
        servers=(_server(),),
        catalogue_as_of="2026-11",
    )


def cpu_llamacpp_design() -> Design:
    """A llama.cpp deployment on CPUs (GGUF, no GPU), two replicas for failover."""
    dep = _deployment(
        use_case="assistant",
        model_id="llama-3.2-3b",
        model_name="llama-3.2-3b",
        model_path="/srv/models/llama-3.2-3b-Q4_K_M.gguf",
        engine="llama.cpp",
        engine_image="",
        quant="Q4_K_M",
        kv_dtype="f16",
        device="epyc-9354",
        device_kind="cpu",
        gpus_per_replica=0,
        replicas=2,
        max_model_len=8192,
        max_num_seqs=4,
        max_num_batched_tokens=2048,
        gpu_memory_utilization=0.0,
        requests_per_minute=12.0,
        concurrent_requests=4,
        estimate=_estimate(
            device="epyc-9354",
            device_kind="cpu",
            engine="llama.cpp",
            quant="Q4_K_M",
            gpus=0,
            itl_ms=60.0,
            memory=_memory(
                total_gib=256,
                usable_gib=200,
                weights_gib=2.0,
                activations_gib=0.5,
                runtime_gib=0.5,
                kv_cache_gib=1.0,
                free_gib=50,
            ),
        ),
        triggers=ScalingTriggers(queue_depth=3, p95_latency_s=20, sustained_for="5m"),
    )
    return _design(
        name="acme-cpu",
        requirements=_requirements(
            [{"name": "assistant", "kind": "chat", "models": ["llama-3.2-3b"]}], hardware={"cpu_only": True}
        ),
        deployments=(dep,),
        servers=(_server(name="cpu-node", gpu=None, gpus_per_server=0, count=2, hosts=("assistant",)),),
    )


def multinode_design() -> Design:
    """A large model across two nodes per replica (tp=8, pp=2) plus a SGLang code deployment."""
    big = _deployment(
        use_case="frontier",
        model_id="deepseek-v3",
        model_name="deepseek-v3",
        quant="fp8",
        kv_dtype="fp8",
        gpus_per_replica=16,
        tp=8,
        pp=2,
        replicas=1,
        nodes_per_replica=2,
        max_model_len=32768,
        max_num_seqs=128,
        max_num_batched_tokens=16384,
        gpu_memory_utilization=0.92,
        requests_per_minute=60.0,
        concurrent_requests=32,
        estimate=_estimate(
            gpus=16, tp=8, pp=2, replicas=1, quant="fp8", weights_gib_per_gpu=42.0, itl_ms=30.0
        ),
        triggers=ScalingTriggers(gpu_utilization_pct=80, p95_latency_s=8, rpm_at_queue_trigger=75),
    )
    code = _deployment(
        use_case="code",
        kind="code",
        model_id="qwen2.5-coder-7b",
        model_name="qwen2.5-coder-7b",
        engine="sglang",
        engine_image="lmsysorg/sglang:v0.5.3-cu129",
        fim=True,
        replicas=1,
        requests_per_minute=300.0,
        concurrent_requests=8,
        max_model_len=8192,
    )
    return _design(
        name="acme-frontier",
        requirements=_requirements(
            [
                {"name": "frontier", "kind": "chat", "models": ["deepseek-v3"]},
                {"name": "code", "kind": "code", "models": ["qwen2.5-coder-7b"], "fim": True},
            ]
        ),
        deployments=(big, code),
        servers=(_server(name="hgx", gpus_per_server=8, count=3, hosts=("frontier", "code")),),
    )


def tabby_code_design() -> Design:
    """TabbyML serving code completion on one GPU (no Prometheus metrics, writable root)."""
    dep = _deployment(
        use_case="completion",
        kind="code",
        model_id="qwen2.5-coder-7b",
        model_name="qwen2.5-coder-7b",
        model_path="/srv/models/Qwen2.5-Coder-7B",
        engine="tabby",
        engine_image="",
        fim=True,
        replicas=1,
        requests_per_minute=200.0,
        concurrent_requests=10,
        max_model_len=4096,
        max_num_seqs=8,
        input_tokens=1500,
        output_tokens=64,
    )
    return _design(
        name="acme-tabby",
        requirements=_requirements(
            [{"name": "completion", "kind": "code", "models": ["qwen2.5-coder-7b"], "fim": True}],
            security={"internal_networks": ["10.0.0.0/8", "fd00::/8"]},
        ),
        deployments=(dep,),
        servers=(_server(gpus_per_server=1, hosts=("completion",)),),
    )


DESIGNS = {
    "gpu-vllm": gpu_vllm_design,
    "cpu-llamacpp": cpu_llamacpp_design,
    "multinode": multinode_design,
    "tabby-code": tabby_code_design,
}
