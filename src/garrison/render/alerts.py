"""Alert rules for the design's scaling triggers, and a promtool unit test for each (pure)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from garrison import engines
from garrison.alert_thresholds import LatencyThresholds, design_point
from garrison.alert_thresholds import latency_thresholds as _latency_thresholds
from garrison.alert_thresholds import queue_threshold as _queue_threshold
from garrison.design import Deployment, Design, LoadPoint, ScalingTriggers
from garrison.errors import InputError


@dataclass(frozen=True)
class AlertTest:
    """One promtool test: input series, when it must not fire yet, when it must fire, with what."""

    input_series: tuple[tuple[str, str], ...]  # (series selector, values notation)
    quiet_at: str  # eval time at which nothing fires (before `for` elapsed, or a quiet series)
    fire_at: str
    exp_labels: dict[str, str]
    exp_summary: str


@dataclass(frozen=True)
class Alert:
    """A Prometheus alerting rule."""

    group: str
    name: str
    expr: str
    for_: str
    severity: str
    summary: str  # may use {{ $labels.x }}; never $value, so tests can expect it exactly
    labels: dict[str, str] = field(default_factory=dict)
    test: AlertTest | None = None


_DURATION = re.compile(r"^(\d+)(s|m|h)$")


def duration_minutes(text: str, where: str = "triggers.sustained_for") -> int:
    """Minutes in a Prometheus duration like `10m`, `1h`, `90s` (rounded up to whole minutes)."""
    m = _DURATION.match(text.strip())
    if not m:
        raise InputError(where, f"{text!r} is not a duration", "write it like 10m, 1h or 90s")
    n, unit = int(m.group(1)), m.group(2)
    seconds = n * {"s": 1, "m": 60, "h": 3600}[unit]
    return max(1, -(-seconds // 60))


def _expand(summary: str, labels: dict[str, str]) -> str:
    return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], summary)


def _test(series: list[tuple[str, str]], fmin: int, labels: dict[str, str], summary: str) -> AlertTest:
    # quiet before `for` has elapsed (the condition holds from minute 5 onwards: rate windows fill),
    # firing once `for` plus the 5-minute rate window plus a margin has passed.
    return AlertTest(
        input_series=tuple(series),
        quiet_at=f"{max(1, fmin // 2)}m",
        fire_at=f"{fmin + 10}m",
        exp_labels=labels,
        exp_summary=_expand(summary, labels),
    )


def _fmt(x: float) -> str:
    return f"{x:g}"


def design_alerts(design: Design) -> list[Alert]:
    """All alerts: GPU (when any deployment uses GPUs), per deployment queue/latency/errors, targets."""
    alerts: list[Alert] = []
    gpu_deps = [d for d in design.deployments if d.device_kind == "gpu"]
    if gpu_deps:
        t = _strictest(d.triggers for d in gpu_deps)
        fmin = duration_minutes(t.sustained_for)
        n = fmin + 20
        u = t.gpu_utilization_pct
        summary = (
            f"GPU {{{{ $labels.gpu }}}} on {{{{ $labels.instance }}}} above {_fmt(u)}% for {t.sustained_for}"
        )
        alerts.append(
            Alert(
                group="gpu",
                name="GPUUtilizationHigh",
                expr=f"avg by (instance, gpu) (DCGM_FI_DEV_GPU_UTIL) > {_fmt(u)}",
                for_=t.sustained_for,
                severity="warning",
                summary=summary,
                test=_test(
                    [
                        (
                            'DCGM_FI_DEV_GPU_UTIL{instance="gpu-a:9400", gpu="0"}',
                            f"{_fmt(min(100, u + 5))}x{n}",
                        ),
                        (
                            'DCGM_FI_DEV_GPU_UTIL{instance="gpu-b:9400", gpu="0"}',
                            f"{_fmt(max(0, u - 30))}x{n}",
                        ),
                    ],
                    fmin,
                    {"instance": "gpu-a:9400", "gpu": "0", "severity": "warning"},
                    summary,
                ),
            )
        )
        v = t.vram_pct
        summary = f"GPU {{{{ $labels.gpu }}}} on {{{{ $labels.instance }}}} memory above {_fmt(v)}%"
        # used / (used + free): DCGM reports framebuffer MiB used and free, not the total
        used_hi = min(100.0, v + 4)
        alerts.append(
            Alert(
                group="gpu",
                name="GPUMemoryHigh",
                expr=(f"100 * DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE) > {_fmt(v)}"),
                for_=t.sustained_for,
                severity="warning",
                summary=summary,
                test=_test(
                    [
                        ('DCGM_FI_DEV_FB_USED{instance="gpu-a:9400", gpu="1"}', f"{_fmt(used_hi * 10)}x{n}"),
                        (
                            'DCGM_FI_DEV_FB_FREE{instance="gpu-a:9400", gpu="1"}',
                            f"{_fmt(1000 - used_hi * 10)}x{n}",
                        ),
                        ('DCGM_FI_DEV_FB_USED{instance="gpu-b:9400", gpu="1"}', f"500x{n}"),
                        ('DCGM_FI_DEV_FB_FREE{instance="gpu-b:9400", gpu="1"}', f"500x{n}"),
                    ],
                    fmin,
                    {"instance": "gpu-a:9400", "gpu": "1", "severity": "warning"},
                    summary,
                ),
            )
        )
    for dep in design.deployments:
        alerts += _deployment_alerts(dep)
    summary = "{{ $labels.job }} target {{ $labels.instance }} is down"
    alerts.append(
        Alert(
            group="targets",
            name="TargetDown",
            expr="up == 0",
            for_="2m",
            severity="critical",
            summary=summary,
            test=AlertTest(
                input_series=(
                    ('up{job="gateway", instance="gateway:9113"}', "1x3 0x20"),
                    ('up{job="prometheus", instance="localhost:9090"}', "1x23"),
                ),
                quiet_at="4m",
                fire_at="10m",
                exp_labels={"job": "gateway", "instance": "gateway:9113", "severity": "critical"},
                exp_summary="gateway target gateway:9113 is down",
            ),
        )
    )
    return alerts


def _strictest(triggers: Iterable[ScalingTriggers]) -> ScalingTriggers:
    ts = list(triggers)
    return min(ts, key=lambda t: (t.gpu_utilization_pct, t.vram_pct))


def _camel(name: str) -> str:
    return "".join(p.capitalize() for p in re.split(r"[^a-zA-Z0-9]", name) if p)


def _design_point(dep: Deployment) -> LoadPoint | None:
    """The simulated load point at the deployment's design rate (the curve's point nearest to it)."""
    return design_point(dep.load_curve, dep.requests_per_minute)


def latency_thresholds(dep: Deployment) -> LatencyThresholds:
    """The deployment's P95 thresholds (garrison.alert_thresholds, from its targets and load curve)."""
    return _latency_thresholds(
        dep.ttft_p95_target_ms,
        dep.itl_p95_target_ms,
        dep.output_tokens,
        dep.triggers.p95_latency_s,
        _design_point(dep),
    )


def queue_threshold(dep: Deployment) -> float:
    """Queued requests per replica the alert and KEDA fire at (garrison.alert_thresholds)."""
    return _queue_threshold(dep.triggers.queue_depth, _design_point(dep))


def _phases(fmin: int) -> tuple[int, int]:
    """Minutes at design load, then minutes past the trigger, for a two-phase promtool test."""
    return fmin + 15, fmin + 15


def _two_phase(series: list[tuple[str, str]], fmin: int, labels: dict[str, str], summary: str) -> AlertTest:
    # quiet at the end of a design-load phase long past `for` and the 5-minute rate window; firing
    # once the past-trigger phase has lasted `for` plus the rate window plus a margin
    p1, _ = _phases(fmin)
    return AlertTest(
        input_series=tuple(series),
        quiet_at=f"{p1}m",
        fire_at=f"{p1 + fmin + 10}m",
        exp_labels=labels,
        exp_summary=_expand(summary, labels),
    )


def _counter(per_min_design: float, per_min_past: float, fmin: int) -> str:
    """promtool values: a counter growing at one rate during the design phase, then at another."""
    p1, p2 = _phases(fmin)
    end = per_min_design * p1
    return f"0+{_fmt(per_min_design)}x{p1} {_fmt(end + per_min_past)}+{_fmt(per_min_past)}x{p2}"


def _gauge(design: float, past: float, fmin: int) -> str:
    p1, p2 = _phases(fmin)
    return f"{_fmt(design)}x{p1} {_fmt(past)}x{p2}"


def _histogram(metric: str, job: str, design_s: float, thr: float, fmin: int) -> list[tuple[str, str]]:
    """Buckets where every design-phase observation is at most `design_s` (below the threshold) and
    every past-trigger observation lies in (thr, 2 thr]: P95 is below thr, then above it."""
    design_le = min(design_s, thr * 0.9) if design_s > 0 else thr / 2
    les = [(design_le, True), (thr, True), (2 * thr, False), (None, False)]
    out = []
    for le, in_design_bucket in les:
        label = "+Inf" if le is None else _fmt(round(le, 4))
        out.append(
            (f'{metric}{{job="{job}", le="{label}"}}', _counter(10, 0 if in_design_bucket else 10, fmin))
        )
    return out


def _deployment_alerts(dep: Deployment) -> list[Alert]:
    job = dep.name or dep.use_case
    t = dep.triggers
    m = engines.launch_of(dep.engine).metrics
    fmin = duration_minutes(t.sustained_for)
    out: list[Alert] = []
    prefix = _camel(job)
    lat = latency_thresholds(dep)
    pt = _design_point(dep)
    if m.queue:
        q = queue_threshold(dep)
        design_q = math.ceil(pt.mean_waiting) if pt else 0  # per replica
        summary = (
            f"{job}: more than {_fmt(q)} requests queued on {{{{ $labels.instance }}}} for {t.sustained_for}"
        )
        out.append(
            Alert(
                group=job,
                name=f"{prefix}QueueDepthHigh",
                expr=f'max by (instance) ({m.queue}{{job="{job}"}}) > {_fmt(q)}',
                for_=t.sustained_for,
                severity="warning",
                summary=summary,
                labels={"deployment": job},
                test=_two_phase(
                    [
                        (f'{m.queue}{{job="{job}", instance="{job}-0"}}', _gauge(design_q, q + 3, fmin)),
                        (f'{m.queue}{{job="{job}", instance="{job}-1"}}', _gauge(design_q, 0, fmin)),
                    ],
                    fmin,
                    {"instance": f"{job}-0", "deployment": job, "severity": "warning"},
                    summary,
                ),
            )
        )
    for bucket, name, what, thr, design in (
        (m.e2e_bucket, "LatencyP95High", "end-to-end latency", lat.e2e_s, lat.design_e2e_s),
        (m.ttft_bucket, "TtftP95High", "time to first token", lat.ttft_s, lat.design_ttft_s),
        (m.itl_bucket, "ItlP95High", "inter-token latency", lat.itl_s, lat.design_itl_s),
    ):
        if not bucket or thr is None:
            continue
        summary = f"{job}: P95 {what} above {_fmt(thr)} s for {t.sustained_for}"
        out.append(
            Alert(
                group=job,
                name=f"{prefix}{name}",
                expr=(
                    f'histogram_quantile(0.95, sum by (le) (rate({bucket}{{job="{job}"}}[5m]))) > {_fmt(thr)}'
                ),
                for_=t.sustained_for,
                severity="warning",
                summary=summary,
                labels={"deployment": job},
                test=_two_phase(
                    _histogram(bucket, job, design or 0.0, thr, fmin),
                    fmin,
                    {"deployment": job, "severity": "warning"},
                    summary,
                ),
            )
        )
    if m.http_requests:
        e = t.error_rate_pct
        summary = f"{job}: more than {_fmt(e)}% of requests fail (5xx) for {t.sustained_for}"
        ok_rate = 100 - 2 * e - 10
        out.append(
            Alert(
                group=job,
                name=f"{prefix}ErrorRateHigh",
                expr=(
                    f'100 * sum(rate({m.http_requests}{{job="{job}", status="5xx"}}[5m]))'
                    f' / sum(rate({m.http_requests}{{job="{job}"}}[5m])) > {_fmt(e)}'
                ),
                for_=t.sustained_for,
                severity="critical",
                summary=summary,
                labels={"deployment": job},
                test=_two_phase(
                    [
                        (f'{m.http_requests}{{job="{job}", status="2xx"}}', _counter(100, ok_rate, fmin)),
                        (f'{m.http_requests}{{job="{job}", status="5xx"}}', _counter(0, 2 * e + 10, fmin)),
                    ],
                    fmin,
                    {"deployment": job, "severity": "critical"},
                    summary,
                ),
            )
        )
    return out
