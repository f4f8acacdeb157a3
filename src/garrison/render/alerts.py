"""Alert rules for the design's scaling triggers, and a promtool unit test for each (pure)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from garrison.design import Design, ScalingTriggers
from garrison.errors import InputError
from garrison.render.engines import METRICS


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
        alerts += _deployment_alerts(dep.name or dep.use_case, dep.engine, dep.triggers)
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


def _deployment_alerts(job: str, engine: str, t: ScalingTriggers) -> list[Alert]:
    m = METRICS[engine]
    fmin = duration_minutes(t.sustained_for)
    n = fmin + 20
    out: list[Alert] = []
    prefix = _camel(job)
    if m.queue:
        q = t.queue_depth
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
                test=_test(
                    [
                        (f'{m.queue}{{job="{job}", instance="{job}-0"}}', f"{_fmt(q + 3)}x{n}"),
                        (f'{m.queue}{{job="{job}", instance="{job}-1"}}', f"0x{n}"),
                    ],
                    fmin,
                    {"instance": f"{job}-0", "deployment": job, "severity": "warning"},
                    summary,
                ),
            )
        )
    if m.e2e_bucket:
        p = t.p95_latency_s
        summary = f"{job}: P95 end-to-end latency above {_fmt(p)} s for {t.sustained_for}"
        # buckets around the threshold: all requests land in (p, 2p], so P95 lies in that bucket
        les = [_fmt(p / 2), _fmt(p), _fmt(2 * p), "+Inf"]
        series = [
            (f'{m.e2e_bucket}{{job="{job}", le="{le}"}}', f"0+{0 if i < 2 else 10}x{n}")
            for i, le in enumerate(les)
        ]
        out.append(
            Alert(
                group=job,
                name=f"{prefix}LatencyP95High",
                expr=(
                    f'histogram_quantile(0.95, sum by (le) (rate({m.e2e_bucket}{{job="{job}"}}[5m])))'
                    f" > {_fmt(p)}"
                ),
                for_=t.sustained_for,
                severity="warning",
                summary=summary,
                labels={"deployment": job},
                test=_test(series, fmin, {"deployment": job, "severity": "warning"}, summary),
            )
        )
    if m.http_requests:
        e = t.error_rate_pct
        summary = f"{job}: more than {_fmt(e)}% of requests fail (5xx) for {t.sustained_for}"
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
                test=_test(
                    [
                        (
                            f'{m.http_requests}{{job="{job}", status="2xx"}}',
                            f"0+{_fmt(100 - 2 * e - 10)}x{n}",
                        ),
                        (f'{m.http_requests}{{job="{job}", status="5xx"}}', f"0+{_fmt(2 * e + 10)}x{n}"),
                    ],
                    fmin,
                    {"deployment": job, "severity": "critical"},
                    summary,
                ),
            )
        )
    return out
