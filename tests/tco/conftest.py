"""Design and catalogue factories for the TCO, report, hand-off and MCP tests.

Designs are built by hand here (not by the planner) so the arithmetic can be pinned; once the planner
is on main, tests that need a planned design call it on the examples.
"""

from __future__ import annotations

from typing import Any

import pytest

from garrison.catalogue.schema import GPU, CloudPrice, Interconnect, PriceRange
from garrison.design import Alternative, Deployment, Design, Escalation, Estimate, LoadPoint, Range
from garrison.testing import designs

H100 = "h100-sxm"


def make_gpu(
    gid: str = H100,
    tdp_w: float = 700,
    price: tuple[float, float] | None = (25_000, 35_000),
    as_of: str = "2026-09",
) -> GPU:
    """A catalogue GPU row (numbers are for the tests, not the real catalogue)."""
    return GPU(
        id=gid,
        name=gid.upper(),
        source="test",
        as_of="2026-09",
        vendor="nvidia",
        arch="hopper",
        segment="datacenter",
        memory_gb=80,
        usable_memory_gib=79.1,
        mem_bw_gbps=3350,
        bf16_dense_tflops=989,
        tdp_w=tdp_w,
        interconnect=Interconnect(kind="nvlink", bw_gbps_per_direction=450),
        price=PriceRange(low_usd=price[0], high_usd=price[1], as_of=as_of, source="test") if price else None,
    )


def make_price(
    provider: str,
    model: str,
    inp: float,
    out: float,
    cached: float | None = None,
    batch: float | None = None,
    as_of: str = "2026-09-22",
) -> CloudPrice:
    """A dated cloud price row."""
    return CloudPrice(
        id=f"{provider}-{model}".lower().replace("/", "-"),
        name=model,
        source="test price list",
        as_of=as_of,
        provider=provider,
        model=model,
        input_usd_per_mtok=inp,
        output_usd_per_mtok=out,
        cached_input_usd_per_mtok=cached,
        batch_discount=batch,
    )


def make_estimate(output_tps: float = 1000.0, gpus: int = 2) -> Estimate:
    return designs.make_estimate(
        model="qwen3-32b",
        device=H100,
        quant="fp8",
        kv_dtype="fp8",
        gpus=gpus,
        tp=gpus,
        replicas=1,
        max_model_len=32768,
        max_num_seqs=128,
        weights_gib_per_gpu=16.0,
        max_concurrency=12.2,
        concurrency=32,
        input_len=1000,
        output_len=500,
        decode_tokens_per_s_single=60.0,
        output_tokens_per_s=output_tps,
        ttft_ms=180.0,
        itl_ms=28.0,
        memory=designs.make_memory(
            total_gib=79.1,
            usable_gib=71.2,
            weights_gib=16.0,
            activations_gib=2.5,
            runtime_gib=2.7,
            free_gib=7.9,
        ),
        assumptions=("test estimate",),
    )


def make_deployment(
    use_case: str = "chat",
    kind: str = "chat",
    rpm: float = 60.0,
    inp: int = 1000,
    out: int = 500,
    output_tps: float = 1000.0,
    curve: bool = True,
) -> Deployment:
    load = (
        tuple(
            LoadPoint(
                rate_rpm=r,
                ttft_p95_ms=150 + r * 2.0,
                itl_p95_ms=25 + r * 0.1,
                e2e_p95_ms=15000 + r * 40,
                output_tokens_per_s=r * out / 60,
                mean_waiting=r / 100,
                mean_running=r / 4,
            )
            for r in (10, 30, 60, 90, 120)
        )
        if curve
        else ()
    )
    return designs.make_deployment(
        use_case=use_case,
        kind=kind,
        model_id="qwen3-32b",
        model_name="qwen3-32b",
        engine_image="vllm/vllm-openai:v0.11.0",
        quant="fp8",
        kv_dtype="fp8",
        device=H100,
        gpus_per_replica=2,
        tp=2,
        replicas=1,
        max_model_len=32768,
        max_num_seqs=128,
        requests_per_minute=rpm,
        concurrent_requests=32,
        input_tokens=inp,
        output_tokens=out,
        ttft_p95_target_ms=2000,
        estimate=make_estimate(output_tps),
        load_curve=load,
        reasons=("fp8 halves weights on Hopper",),
        alternatives=(
            Alternative(
                summary="4 x L40S, AWQ",
                annual_cost_usd=30_000.0,
                capex_usd=Range(low=40_000, expected=45_000, high=50_000),
                why_lost="PCIe all-reduce made ITL miss the target",
            ),
        ),
    )


def make_design(
    deployments: tuple[Deployment, ...] | None = None,
    gpu_price: Range | None = Range(low=50_000, expected=60_000, high=70_000),
    gateway_price: Range | None = Range(low=4_000, expected=5_000, high=6_000),
    catalogue_as_of: str = "2026-11-28",
    usd_per_kwh: float = 0.10,
    pue: float = 1.5,
    **req: Any,
) -> Design:
    """A two-server design: one 2 x H100 inference server and one CPU gateway."""
    requirements = designs.make_requirements(
        [designs.chat_use_case(["qwen3-32b"])],
        name="Acme",
        power={"usd_per_kwh": usd_per_kwh, "pue": pue},
        **req,
    )
    servers = (
        designs.make_server(
            name="gpu-node",
            network="2x25GbE",
            power_typical_w=1500,
            power_max_w=2400,
            cooling_btu_h=8189,
            rack_units=4,
            price_usd=gpu_price,
        ),
        designs.make_server(
            name="gateway",
            role="gateway",
            gpu=None,
            gpus_per_server=0,
            cpu="epyc-4344p",
            cpu_sockets=1,
            ram_gib=64,
            nvme_tb=1.0,
            network="2x10GbE",
            psu_w=800,
            power_typical_w=200,
            power_max_w=350,
            cooling_btu_h=1194,
            rack_units=1,
            price_usd=gateway_price,
            hosts=(),
        ),
    )
    return designs.make_design(
        requirements,
        deployments or (make_deployment(),),
        servers,
        platform_reasons=("vLLM: highest throughput on Hopper",),
        costs=designs.make_costs(
            capex_usd=Range(low=54_000, expected=65_000, high=76_000),
            annual_power_usd=0,
            annual_maintenance_usd=0,
            annual_opex_usd=0,
            three_year_tco_usd=designs.flat_range(0),
        ),
        assumptions=("test design",),
        escalations=(
            Escalation(
                kind="budget",
                field="budget.capex_usd",
                problem="over budget by 5 %",
                options=("raise the budget", "use AWQ on L40S"),
            ),
        ),
        catalogue_as_of=catalogue_as_of,
    )


@pytest.fixture
def design() -> Design:
    return make_design()


@pytest.fixture
def gpus() -> dict[str, GPU]:
    return {H100: make_gpu()}


@pytest.fixture
def prices() -> list[CloudPrice]:
    return [
        make_price("openai", "gpt-6-sol", 2.0, 10.0, cached=0.2, batch=0.5),
        make_price("together.ai", "Qwen3.5-9B", 0.1, 0.5),
        make_price("anthropic", "claude-fable-5.1", 10.0, 50.0, cached=0.25, batch=0.5),
    ]
