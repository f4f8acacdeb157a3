"""Builders for hand-made `Design` objects in tests (valid pydantic models, no planner needed).

Each builder starts from one fixed set of values (a 2-replica vLLM chat deployment of qwen3-8b on
H100s, the defaults of the bundle golden designs) and takes keyword overrides for any field. Only the
fields in the defaults plus the overrides are set explicitly, so `model_dump(exclude_unset=True)`
shows exactly what a caller passed. The numbers are plausible, not measured: they exist for tests.
"""

from __future__ import annotations

from typing import Any

from garrison.design import Costs, Deployment, Design, Estimate, MemoryBreakdown, Range, Server
from garrison.requirements import Requirements

# Fields an Estimate and a Deployment share, with the same default values in both.
_SHAPE: dict[str, Any] = dict(
    tp=1, pp=1, replicas=2, max_model_len=16384, max_num_seqs=64, max_num_batched_tokens=8192
)


def make_memory(**overrides: Any) -> MemoryBreakdown:
    """A per-device memory breakdown (80 GB GPU defaults), with field overrides."""
    base: dict[str, Any] = dict(
        total_gib=79.6,
        usable_gib=71.6,
        weights_gib=15.0,
        activations_gib=2.0,
        runtime_gib=4.6,
        kv_cache_gib=50.0,
        free_gib=8.0,
    )
    base.update(overrides)
    return MemoryBreakdown(**base)


def make_estimate(**overrides: Any) -> Estimate:
    """A fitting vLLM estimate on H100 (memory from `make_memory()`), with field overrides."""
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
        **_SHAPE,
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
    )
    base.update(overrides)
    if "memory" not in base:
        base["memory"] = make_memory()
    return Estimate(**base)


def make_deployment(**overrides: Any) -> Deployment:
    """A 2-replica vLLM chat deployment of qwen3-8b on one H100 each, with field overrides."""
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
        **_SHAPE,
        gpu_memory_utilization=0.9,
        requests_per_minute=120.0,
        concurrent_requests=16,
        input_tokens=1024,
        output_tokens=256,
    )
    base.update(overrides)
    if "estimate" not in base:
        base["estimate"] = make_estimate()
    return Deployment(**base)


def make_server(**overrides: Any) -> Server:
    """A 2 x H100 inference server hosting "chat", with field overrides."""
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
    base.update(overrides)
    return Server(**base)


def flat_range(value: float) -> Range:
    """A range whose low, expected and high are all `value`."""
    return Range(low=value, expected=value, high=value)


def make_costs(**overrides: Any) -> Costs:
    """Costs of one 70k USD server over three years, with field overrides."""
    base: dict[str, Any] = dict(
        capex_usd=Range(low=60_000, expected=70_000, high=85_000),
        annual_power_usd=2500.0,
        annual_maintenance_usd=7000.0,
        annual_opex_usd=9500.0,
        three_year_tco_usd=Range(low=88_500, expected=98_500, high=113_500),
    )
    base.update(overrides)
    return Costs(**base)


def zero_costs() -> Costs:
    """Costs that are all zero (for tests that do not look at money)."""
    zero = flat_range(0)
    return make_costs(
        capex_usd=zero,
        annual_power_usd=0,
        annual_maintenance_usd=0,
        annual_opex_usd=0,
        three_year_tco_usd=zero,
    )


def make_requirements(
    use_cases: list[dict[str, Any]], name: str = "Acme Research", team_size: int = 40, **sections: Any
) -> Requirements:
    """Validated requirements for organisation `name` with `use_cases` and any other top-level sections."""
    return Requirements.model_validate(
        {"organisation": {"name": name, "team_size": team_size}, "use_cases": use_cases, **sections}
    )


def chat_use_case(models: list[Any], name: str = "chat") -> dict[str, Any]:
    """One chat use case (as a requirements mapping) serving `models`."""
    return {"name": name, "kind": "chat", "models": models}


def make_design(
    requirements: Requirements,
    deployments: tuple[Deployment, ...],
    servers: tuple[Server, ...] = (),
    **overrides: Any,
) -> Design:
    """A Design named "acme" (version 0.1.0, `make_costs()`), with field overrides."""
    base: dict[str, Any] = dict(
        garrison_version="0.1.0",
        name="acme",
        requirements=requirements,
        deployments=deployments,
        servers=servers,
    )
    base.update(overrides)
    if "costs" not in base:
        base["costs"] = make_costs()
    return Design(**base)
