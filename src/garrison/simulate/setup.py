"""What a simulation runs on: a step model, engine settings and the traffic shape, from a design or a model.

The design path takes the deployment's engine settings, replicas, lengths, rate and P95 targets.
Its step model is the roofline's when `garrison.sizing` can rebuild one for the deployment, else
the affine roofline fitted to the numbers the design's estimate records (step_models.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from garrison import engines
from garrison.design import Deployment, Design, Estimate
from garrison.errors import InputError
from garrison.simulate.engine import EngineConfig
from garrison.simulate.results import Slo
from garrison.simulate.step_models import step_model_from_estimate
from garrison.simulate.workload import LengthDist, Workload
from garrison.sizing.step_time import StepTimeModel


@dataclass(frozen=True)
class SimulationSetup:
    """A step model with the engine, replicas, traffic defaults and targets it is simulated under."""

    model: StepTimeModel
    engine: EngineConfig
    replicas: int
    default_rate_per_s: float
    input_len: LengthDist
    output_len: LengthDist
    ttft_ms: float | None
    itl_ms: float | None
    description: str

    def workload(
        self,
        *,
        input_len: LengthDist | None,
        output_len: LengthDist | None,
        num_requests: int,
        burst_size: int = 1,
        prefix_hit_rate: float = 0.0,
    ) -> Workload:
        """The traffic shape (its rate is set per sweep point)."""
        return Workload(
            rate_per_s=1.0,
            num_requests=num_requests,
            input_len=input_len or self.input_len,
            output_len=output_len or self.output_len,
            burst_size=burst_size,
            prefix_hit_rate=prefix_hit_rate,
        )

    def slo(self, *, ttft_ms: float | None, itl_ms: float | None) -> Slo:
        """Targets from the command line, else from the design."""
        return Slo(
            ttft_ms=ttft_ms if ttft_ms is not None else self.ttft_ms,
            itl_ms=itl_ms if itl_ms is not None else self.itl_ms,
        )


def scheduler_for(engine: str) -> Literal["vllm", "sglang", "llamacpp"]:
    """Which scheduler model an engine name maps to (its registry profile; vLLM's for unknown names)."""
    profile = engines.find(engine)
    return profile.scheduler if profile is not None else "vllm"


def _overridden(engine: EngineConfig, overrides: dict[str, int]) -> EngineConfig:
    upd = {k: v for k, v in overrides.items() if v}
    return EngineConfig.model_validate({**engine.model_dump(), **upd}) if upd else engine


def engine_config(
    engine: str, max_num_seqs: int, max_num_batched_tokens: int, max_model_len: int
) -> EngineConfig:
    """The simulator's settings for an engine's own. `max_model_len` is per request for every engine
    (for llama.cpp: per slot, with n_ctx = max_model_len x max_num_seqs)."""
    return EngineConfig(
        scheduler=scheduler_for(engine),
        max_num_seqs=max_num_seqs,
        max_num_batched_tokens=max(max_num_batched_tokens, max_num_seqs),
        max_model_len=max_model_len,
    )


def engine_for_deployment(dep: Deployment) -> EngineConfig:
    """Engine settings the deployment records."""
    return engine_config(dep.engine, dep.max_num_seqs, dep.max_num_batched_tokens, dep.max_model_len)


def read_design(text: str, source: str) -> Design:
    """Parses a design.json (bounded and checked like every design read from outside)."""
    from garrison.render.design_file import parse_design

    return parse_design(text, source)


def pick_deployment(design: Design, source: str, use_case: str = "") -> Deployment:
    """The deployment named `use_case`, or the first."""
    deps = [d for d in design.deployments if not use_case or d.use_case == use_case]
    if not deps:
        names = ", ".join(d.use_case for d in design.deployments) or "none"
        raise InputError("--use-case", f"no deployment {use_case!r} in {source}", f"one of: {names}")
    return deps[0]


def setup_from_design(
    design: Design,
    source: str,
    *,
    use_case: str = "",
    model: StepTimeModel | None = None,
    engine_overrides: dict[str, int] | None = None,
) -> SimulationSetup:
    """A deployment's settings (the first, or `use_case`); `model`: its roofline, when it could be rebuilt."""
    dep = pick_deployment(design, source, use_case)
    engine = _overridden(engine_for_deployment(dep), engine_overrides or {})
    profile = engines.find(dep.engine)
    block = profile.kv_block_tokens if profile is not None else 16
    step = model or step_model_from_estimate(dep.estimate, block_size=block)
    return SimulationSetup(
        model=step,
        engine=engine,
        replicas=dep.replicas,
        default_rate_per_s=max(dep.requests_per_minute / 60.0, 1e-6),
        input_len=LengthDist(kind="fixed", mean=dep.input_tokens),
        output_len=LengthDist(kind="fixed", mean=dep.output_tokens),
        ttft_ms=dep.ttft_p95_target_ms,
        itl_ms=dep.itl_p95_target_ms,
        description=f"{source}: {dep.use_case} ({dep.model_name} on {dep.gpus_per_replica}x {dep.device})",
    )


def setup_from_estimate(
    est: Estimate, model: StepTimeModel, *, description: str, engine_overrides: dict[str, int] | None = None
) -> SimulationSetup:
    """An `estimate`'s configuration (engine, batching limits, lengths) with its step model."""
    eng = engine_config(est.engine, est.max_num_seqs, est.max_num_batched_tokens, est.max_model_len)
    return SimulationSetup(
        model=model,
        engine=_overridden(eng, engine_overrides or {}),
        replicas=est.replicas,
        default_rate_per_s=1.0,
        input_len=LengthDist(kind="fixed", mean=est.input_len),
        output_len=LengthDist(kind="fixed", mean=est.output_len),
        ttft_ms=None,
        itl_ms=None,
        description=description,
    )
