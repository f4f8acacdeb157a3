"""The capacity runbook's "load at trigger" columns and the alert rules use the same thresholds.

Each example is planned with the planner's `finish` recorded, so every load the planner simulated
to find the triggers (the design's curve and the loads past it) is known. Under the rendered alert
rules' thresholds (computed from the Deployment, as the renderer does), every simulated load below the
load the runbook gives for a trigger is quiet, the first one above it fires, a trigger given as never
firing is quiet at every simulated load, and the design load is quiet.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

import pytest

from bundle.examples import EXAMPLES
from garrison import engines
from garrison.alert_thresholds import latency_fires, queue_fires
from garrison.design import Deployment, Design, LoadPoint
from garrison.planner.simulated import SimulatedSizing
from garrison.render import render_bundle
from garrison.render.alerts import latency_thresholds, queue_threshold

# the module (garrison.planner re-exports its `plan` function under the same name)
plan_module = importlib.import_module("garrison.planner.plan")


def _fires_latency(dep: Deployment, p: LoadPoint) -> bool:
    m = engines.launch_of(dep.engine).metrics
    has = (m.e2e_bucket is not None, m.ttft_bucket is not None, m.itl_bucket is not None)
    return latency_fires(latency_thresholds(dep), p.e2e_p95_ms, p.ttft_p95_ms, p.itl_p95_ms, has)


def _fires_queue(dep: Deployment, p: LoadPoint) -> bool:
    m = engines.launch_of(dep.engine).metrics
    return m.queue is not None and queue_fires(queue_threshold(dep), p.mean_waiting)


def _plan_recording(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Design, list[SimulatedSizing]]:
    from garrison.cli.plan_cmd import run_plan

    seen: list[SimulatedSizing] = []
    real = plan_module.finish

    def recording(*args: object, **kwargs: object) -> SimulatedSizing:
        out = real(*args, **kwargs)  # type: ignore[arg-type]
        seen.append(out)
        return out

    monkeypatch.setattr(plan_module, "finish", recording)
    return run_plan(path), seen


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_trigger_loads_match_the_alert_thresholds(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d, sims = _plan_recording(path, monkeypatch)
    runbook = render_bundle(d)["runbooks/capacity.md"]
    checked = 0
    for dep in d.deployments:
        sim = next((s for s in sims if dep.load_curve and s.curve == dep.load_curve), None)
        if sim is None:
            continue
        assert sim.trigger_steps[: len(sim.curve)] == sim.curve
        t = dep.triggers
        checks: tuple[tuple[Callable[[Deployment, LoadPoint], bool], float | None, str], ...] = (
            (_fires_latency, t.rpm_at_latency_trigger, "latency"),
            (_fires_queue, t.rpm_at_queue_trigger, "queue"),
        )
        for fires, rpm, what in checks:
            for p in sim.trigger_steps:
                if rpm is None or p.rate_rpm < rpm:
                    assert not fires(dep, p), f"{dep.name} {what} fires at {p.rate_rpm} req/min < {rpm}"
            if rpm is not None:
                first = next(p for p in sim.trigger_steps if p.rate_rpm > rpm)
                assert fires(dep, first), f"{dep.name} {what}: quiet at {first.rate_rpm} req/min > {rpm}"
                assert f"{rpm:g} req/min" in runbook
            checked += 1
        design = min(dep.load_curve, key=lambda p: abs(p.rate_rpm - dep.requests_per_minute))
        assert not _fires_latency(dep, design) and not _fires_queue(dep, design), dep.name
    if not checked:
        pytest.skip(f"{path.name}: no simulated deployment")
