"""Throughput and inter-token latency vs concurrency from a step-time model (the sizing roofline)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from garrison.design import Deployment, Design
from garrison.sizing.step_time import StepTimeModel


@dataclass(frozen=True)
class ConcurrencyPoint:
    """One replica in decode steady state with `concurrency` sequences."""

    concurrency: int
    output_tokens_per_s: float
    itl_ms: float


def concurrency_levels(max_seqs: int) -> list[int]:
    """1, 2, 4, ... up to the engine's max_num_seqs (included)."""
    levels, c = [], 1
    while c < max_seqs:
        levels.append(c)
        c *= 2
    return [*levels, max(max_seqs, 1)]


def concurrency_curve(step: StepTimeModel, dep: Deployment) -> list[ConcurrencyPoint]:
    """Decode steady state: c sequences each holding input + output/2 tokens of context.

    ITL = one decode step's time; output tokens/s = c / step time. Prefill interleaving is left out
    (the load simulation covers it), and levels whose KV would not fit the replica's cache are dropped.
    """
    ctx = dep.input_tokens + dep.output_tokens // 2
    out = []
    for c in concurrency_levels(dep.max_num_seqs):
        if c * ctx > step.kv_capacity_tokens and c > 1:
            break
        t = step.step_time_s(c, c * ctx, 0, 0)
        if t > 0:
            out.append(ConcurrencyPoint(c, c / t, t * 1000.0))
    return out


def design_curves(
    design: Design,
    step_for: Callable[[Deployment], StepTimeModel | None],
) -> Mapping[str, list[ConcurrencyPoint]]:
    """Curves for every deployment whose step model `step_for` can build (None: skipped)."""
    curves = {}
    for dep in design.deployments:
        step = step_for(dep)
        if step is not None:
            curves[dep.use_case] = concurrency_curve(step, dep)
    return curves
