"""Physical ranges for every number in a design.json, checked where a design comes in from outside.

A design.json is input like any other: a hand edit, another agent or a fuzzer can write `tp: 0`,
`replicas: 1e12` or `NaN`, and the renderer, TCO and hand-off must answer with one line, not a
ZeroDivisionError or a loop over a trillion replicas. `check_design` walks the validated Design
(pydantic has already checked types) and holds each number to its field's range below, or to the
generic one: finite and at most 1e15 in magnitude (more than any count, byte size or dollar amount
a platform has). `check_scale` limits what one bundle may deploy, so rendering stays bounded.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel

from garrison.design import Design
from garrison.errors import Escalation, InputError
from garrison.input_limits import is_finite, show_number

GENERIC_LIMIT = 1e15
# One bundle renders one compose service per replica and one k8s object set per deployment;
# Kubernetes itself is tested up to 5,000 nodes and 150,000 pods per cluster.
MAX_REPLICAS_PER_BUNDLE = 10_000
MAX_GPUS_PER_BUNDLE = 100_000

_PARALLEL = (1, 1024)
_TOKENS = (1, 100_000_000)
_PCT = (0, 100)
_MS = (0, 86_400_000)
_RPM = (0, 1e9)

# "Model.field" -> (lowest, highest) physical value; other numbers get the generic limit
FIELD_RANGES: dict[str, tuple[float, float]] = {
    # parallelism and counts: the renderer and the cost model divide by and loop over these
    "Deployment.tp": _PARALLEL,
    "Deployment.pp": _PARALLEL,
    "Deployment.replicas": (1, MAX_REPLICAS_PER_BUNDLE),
    "Deployment.nodes_per_replica": (1, 1024),
    "Deployment.gpus_per_replica": (0, 8192),
    "Deployment.max_model_len": _TOKENS,
    "Deployment.max_num_seqs": (1, 1_000_000),
    "Deployment.max_num_batched_tokens": _TOKENS,
    "Deployment.gpu_memory_utilization": (0, 1),
    "Deployment.requests_per_minute": _RPM,
    "Deployment.concurrent_requests": (0, 10_000_000),
    "Deployment.input_tokens": (0, 100_000_000),
    "Deployment.output_tokens": (0, 100_000_000),
    "Deployment.ttft_p95_target_ms": _MS,
    "Deployment.itl_p95_target_ms": _MS,
    "Estimate.gpus": (0, MAX_GPUS_PER_BUNDLE),
    "Estimate.tp": _PARALLEL,
    "Estimate.pp": _PARALLEL,
    "Estimate.replicas": (1, MAX_REPLICAS_PER_BUNDLE),
    "Estimate.max_model_len": _TOKENS,
    "Estimate.max_num_seqs": (1, 1_000_000),
    "Estimate.max_num_batched_tokens": _TOKENS,
    "Estimate.concurrency": (0, 10_000_000),
    "Estimate.input_len": (0, 100_000_000),
    "Estimate.output_len": (0, 100_000_000),
    "Server.count": (1, 100_000),
    "Server.gpus_per_server": (0, 64),
    "Server.cpu_sockets": (0, 16),
    "Server.rack_units": (0, 100),
    "Server.ram_gib": (0, 1e6),
    "Server.nvme_tb": (0, 1e5),
    "Server.psu_w": (0, 1e6),
    "Server.power_typical_w": (0, 1e6),
    "Server.power_max_w": (0, 1e6),
    "Server.cooling_btu_h": (0, 1e8),
    # alert thresholds: they become PromQL literals
    "ScalingTriggers.gpu_utilization_pct": _PCT,
    "ScalingTriggers.vram_pct": _PCT,
    "ScalingTriggers.error_rate_pct": _PCT,
    "ScalingTriggers.queue_depth": (0, 1e7),
    "ScalingTriggers.p95_latency_s": (0, 86_400 * 7),
    "ScalingTriggers.rpm_at_queue_trigger": _RPM,
    "ScalingTriggers.rpm_at_latency_trigger": _RPM,
    "LoadPoint.rate_rpm": _RPM,
    "SLOCheck.rate_rpm": _RPM,
}


def _numbers(model: BaseModel, path: str) -> Iterator[tuple[str, str, float]]:
    """(dotted path, "Model.field", value) for every number in `model`, nested models included."""
    for name, value in model:
        where = f"{path}.{name}" if path else name
        yield from _value(value, where, f"{type(model).__name__}.{name}")


def _value(value: object, where: str, key: str) -> Iterator[tuple[str, str, float]]:
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        yield where, key, value
    elif isinstance(value, BaseModel):
        yield from _numbers(value, where)
    elif isinstance(value, (tuple, list)):
        for i, item in enumerate(value):
            yield from _value(item, f"{where}.{i}", key)
    elif isinstance(value, dict):
        for k, item in value.items():
            yield from _value(item, f"{where}.{k}", key)


def check_design(design: Design, source: str = "design.json") -> None:
    """Every number finite and in its physical range; raises one InputError naming the first."""
    for where, key, value in _numbers(design, ""):
        low, high = FIELD_RANGES.get(key, (-GENERIC_LIMIT, GENERIC_LIMIT))
        if not (is_finite(value) and low <= value <= high):
            raise InputError(
                f"{source}: {where}",
                f"{show_number(value)} is outside {low:g}..{high:g}",
                "re-plan instead of hand-editing the design (garrison plan)",
            )
    for i, dep in enumerate(design.deployments):
        if dep.device_kind == "gpu" and dep.gpus_per_replica < dep.tp * dep.pp:
            raise InputError(
                f"{source}: deployments.{i}.gpus_per_replica",
                f"{dep.gpus_per_replica} is fewer than tp x pp = {dep.tp * dep.pp}",
                "re-plan instead of hand-editing the design (garrison plan)",
            )


def check_scale(design: Design) -> None:
    """A design with nothing to deploy is refused; one too large for one bundle escalates."""
    if not design.deployments:
        raise InputError(
            "deployments", "the design deploys nothing", "plan requirements with at least one use case"
        )
    replicas = sum(d.replicas for d in design.deployments)
    gpus = sum(d.replicas * d.gpus_per_replica for d in design.deployments)
    if replicas > MAX_REPLICAS_PER_BUNDLE or gpus > MAX_GPUS_PER_BUNDLE:
        raise Escalation(
            "deployments",
            f"{replicas:,} replicas on {gpus:,} GPUs is more than one bundle deploys "
            f"(at most {MAX_REPLICAS_PER_BUNDLE:,} replicas and {MAX_GPUS_PER_BUNDLE:,} GPUs)",
            [
                "split the load across sites, each planned on its own",
                "lower the request rate or concurrency in the requirements",
                "choose a smaller model or a faster GPU",
            ],
        )
