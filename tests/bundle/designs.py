"""Hand-built Designs for the bundle tests (valid pydantic objects, no planner needed)."""

from __future__ import annotations

from typing import Any

from garrison.design import (
    Costs,
    Deployment,
    Design,
    Estimate,
    MemoryBreakdown,
    Range,
    ScalingTriggers,
    Server,
)
from garrison.requirements import Requirements


def _estimate(**kw: Any) -> Estimate:
    base: dict[str, Any] = dict(
        fits=True,
        reason="fits",
        model="m",
        device="h100-sxm",
        device_kind="gpu",
        engine="vllm",
        quant="bf16",
        kv_dtype="auto",
        gpus=2,
        tp=1,
        pp=1,
        replicas=2,
        max_model_len=16384,
        max_num_seqs=64,
        max_num_batched_tokens=8192,
        weights_gib_per_gpu=15.0,
        kv_cache_gib_per_gpu=50.0,
        kv_cache_tokens=400_000,
        kv_bytes_per_token=131072.0,
        fixed_state_bytes_per_seq=0.0,
        max_concurrency=24.0,
        concurrency=16,
        input_len=1024,
        output_len=256,
        prefill_tokens_per_s=20_000.0,
        decode_tokens_per_s_single=90.0,
        output_tokens_per_s=1500.0,
        ttft_ms=120.0,
        itl_ms=12.0,
        memory=MemoryBreakdown(
            total_gib=79.6,
            usable_gib=71.6,
            weights_gib=15.0,
            activations_gib=2.0,
            runtime_gib=4.6,
            kv_cache_gib=50.0,
            free_gib=8.0,
        ),
    )
    base.update(kw)
    return Estimate(**base)


def _deployment(**kw: Any) -> Deployment:
    base: dict[str, Any] = dict(
        use_case="chat",
        kind="chat",
        model_id="qwen3-8b",
        model_name="qwen3-8b",
        engine="vllm",
        engine_image="vllm/vllm-openai",
        quant="bf16",
        kv_dtype="auto",
        device="h100-sxm",
        device_kind="gpu",
        gpus_per_replica=1,
        tp=1,
        pp=1,
        replicas=2,
        max_model_len=16384,
        max_num_seqs=64,
        max_num_batched_tokens=8192,
        gpu_memory_utilization=0.9,
        requests_per_minute=120.0,
        concurrent_requests=16,
        input_tokens=1024,
        output_tokens=256,
        estimate=_estimate(),
    )
    base.update(kw)
    return Deployment(**base)


def _server(**kw: Any) -> Server:
    base: dict[str, Any] = dict(
        name="inference",
        role="inference",
        count=1,
        gpu="h100-sxm",
        gpus_per_server=2,
        cpu="epyc-9354",
        cpu_sockets=2,
        ram_gib=512,
        nvme_tb=7.68,
        network="2x 25GbE",
        psu_w=3000,
        power_typical_w=1400.0,
        power_max_w=2100.0,
        cooling_btu_h=7165.0,
        rack_units=2,
        price_usd=Range(low=60_000, expected=70_000, high=85_000),
        hosts=("chat",),
    )
    base.update(kw)
    return Server(**base)


def _costs() -> Costs:
    return Costs(
        capex_usd=Range(low=60_000, expected=70_000, high=85_000),
        annual_power_usd=2500.0,
        annual_maintenance_usd=7000.0,
        annual_opex_usd=9500.0,
        three_year_tco_usd=Range(low=88_500, expected=98_500, high=113_500),
    )


def _requirements(use_cases: list[dict[str, Any]], **kw: Any) -> Requirements:
    return Requirements.model_validate(
        {"organisation": {"name": "Acme Research", "team_size": 40}, "use_cases": use_cases, **kw}
    )


def gpu_vllm_design() -> Design:
    """A vLLM chat deployment on GPUs with two replicas (single node each)."""
    return Design(
        garrison_version="0.1.0",
        name="acme-chat",
        requirements=_requirements(
            [{"name": "chat", "kind": "chat", "models": ["qwen3-8b"]}],
            security={"internal_networks": ["10.20.0.0/16", "192.168.10.0/24"]},
        ),
        deployments=(_deployment(),),
        servers=(_server(),),
        costs=_costs(),
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
            memory=MemoryBreakdown(
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
    return Design(
        garrison_version="0.1.0",
        name="acme-cpu",
        requirements=_requirements(
            [{"name": "assistant", "kind": "chat", "models": ["llama-3.2-3b"]}], hardware={"cpu_only": True}
        ),
        deployments=(dep,),
        servers=(_server(name="cpu-node", gpu=None, gpus_per_server=0, count=2, hosts=("assistant",)),),
        costs=_costs(),
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
    return Design(
        garrison_version="0.1.0",
        name="acme-frontier",
        requirements=_requirements(
            [
                {"name": "frontier", "kind": "chat", "models": ["deepseek-v3"]},
                {"name": "code", "kind": "code", "models": ["qwen2.5-coder-7b"], "fim": True},
            ]
        ),
        deployments=(big, code),
        servers=(_server(name="hgx", gpus_per_server=8, count=3, hosts=("frontier", "code")),),
        costs=_costs(),
    )


DESIGNS = {"gpu-vllm": gpu_vllm_design, "cpu-llamacpp": cpu_llamacpp_design, "multinode": multinode_design}
