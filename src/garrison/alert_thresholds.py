"""Alert thresholds from a deployment's targets and its simulated load curve: one source for the alert
rules (render/alerts.py), KEDA, and the loads at which the triggers fire (planner, capacity runbook).

Pure functions on plain numbers, so the planner can use them before a Deployment exists.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from garrison.design import LoadPoint

# an alert threshold sits this far above the simulated design-load P95, so the design load is quiet
# with room for the simulation's error (docs/accuracy.md: TTFT within about +-25%)
DESIGN_MARGIN = 1.25


def nice(x: float) -> float:
    """Round a threshold up to two significant figures (2.43 -> 2.5, 44.2 -> 45)."""
    if x <= 0:
        return 0.0
    step = 10 ** (math.floor(math.log10(x)) - 1)
    return float(round(math.ceil(x / step - 1e-9) * step, 6))


def design_point(curve: Sequence[LoadPoint], rate_rpm: float) -> LoadPoint | None:
    """The simulated load point at the design rate (the curve's point nearest to it)."""
    if not curve:
        return None
    return min(curve, key=lambda p: abs(p.rate_rpm - rate_rpm))


@dataclass(frozen=True)
class LatencyThresholds:
    """P95 thresholds, seconds, each above what the design's own simulation gives at its design rate."""

    e2e_s: float
    ttft_s: float | None
    itl_s: float | None
    design_e2e_s: float | None
    design_ttft_s: float | None
    design_itl_s: float | None


def latency_thresholds(
    ttft_target_ms: float | None,
    itl_target_ms: float | None,
    output_tokens: int,
    trigger_p95_s: float,
    point: LoadPoint | None,
) -> LatencyThresholds:
    """TTFT and ITL: the use case's P95 target, raised to DESIGN_MARGIN x the simulated P95 at the design
    rate when the design runs closer to its target than that (an alert must not fire at the load the
    platform was built for). End-to-end: the largest of the trigger's `p95_latency_s`, what the targets
    allow a typical request (TTFT + output_tokens x ITL) and DESIGN_MARGIN x the simulated P95."""
    d_e2e = point.e2e_p95_ms / 1e3 if point and point.e2e_p95_ms > 0 else None
    d_ttft = point.ttft_p95_ms / 1e3 if point and point.ttft_p95_ms > 0 else None
    d_itl = point.itl_p95_ms / 1e3 if point and point.itl_p95_ms > 0 else None

    def above(target_ms: float | None, design_s: float | None) -> float | None:
        if target_ms is None:
            return None
        return nice(max(target_ms / 1e3, DESIGN_MARGIN * design_s if design_s else 0.0))

    allowed = None
    if ttft_target_ms is not None and itl_target_ms is not None:
        allowed = (ttft_target_ms + output_tokens * itl_target_ms) / 1e3
    e2e = max(trigger_p95_s, allowed or 0.0, DESIGN_MARGIN * d_e2e if d_e2e else 0.0)
    return LatencyThresholds(
        e2e_s=nice(e2e),
        ttft_s=above(ttft_target_ms, d_ttft),
        itl_s=above(itl_target_ms, d_itl),
        design_e2e_s=d_e2e,
        design_ttft_s=d_ttft,
        design_itl_s=d_itl,
    )


def queue_threshold(trigger_depth: float, point: LoadPoint | None) -> float:
    """Queued requests per replica that mean the replicas are full: the trigger's queue depth, raised
    above twice the simulated mean queue at the design rate (plus one) when that is higher.
    `LoadPoint.mean_waiting` is already per replica (the simulator averages the replicas' queues)."""
    per_replica = point.mean_waiting if point else 0.0
    return max(trigger_depth, float(math.ceil(2 * per_replica + 1)))


def latency_fires(
    thr: LatencyThresholds,
    e2e_p95_ms: float,
    ttft_p95_ms: float,
    itl_p95_ms: float,
    alerts: tuple[bool, bool, bool] = (True, True, True),
) -> bool:
    """Whether a P95 latency alert fires at a load with these P95s; `alerts` says which of the
    end-to-end, TTFT and ITL alerts the engine has (it needs that histogram)."""
    checks = (
        (alerts[0], thr.e2e_s, e2e_p95_ms),
        (alerts[1], thr.ttft_s, ttft_p95_ms),
        (alerts[2], thr.itl_s, itl_p95_ms),
    )
    return any(on and t is not None and ms / 1e3 > t for on, t, ms in checks)


def queue_fires(threshold: float, mean_waiting: float) -> bool:
    """Whether the queue-depth alert (queued requests on a replica) fires at a load with this mean queue
    per replica."""
    return mean_waiting > threshold
