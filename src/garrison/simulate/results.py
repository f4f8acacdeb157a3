"""Numbers from a simulation: latency percentiles, throughput, goodput, queue depth, KV use."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict

from garrison.simulate.engine import SimTrace
from garrison.simulate.workload import FloatArray


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Percentiles(_Frozen):
    """Milliseconds."""

    mean: float
    p50: float
    p90: float
    p95: float
    p99: float


class Slo(_Frozen):
    """Service-level objectives, milliseconds; None: not a target. A request is good when it meets all."""

    ttft_ms: float | None = None
    itl_ms: float | None = None  # judged on the request's mean inter-token time (TPOT)
    e2e_ms: float | None = None


class SimSummary(_Frozen):
    """One simulated load point; `--json` prints these (rate in requests per second)."""

    rate: float
    requests: int
    completed: int
    rejected: int
    ttft_ms: Percentiles
    itl_ms: Percentiles  # every inter-token gap pooled (as `vllm bench serve` reports ITL)
    tpot_ms: Percentiles  # per-request mean time per output token
    e2e_ms: Percentiles
    output_tokens_per_s: float
    requests_per_s: float
    goodput_requests_per_s: float
    mean_running: float
    mean_waiting: float
    mean_kv_usage: float  # fraction of KV blocks (llama.cpp: of slots) in use, time-weighted
    preemptions: int
    steps: int


_QS = (50.0, 90.0, 95.0, 99.0)


def percentiles_ms(values_s: FloatArray) -> Percentiles:
    """Mean and percentiles (linear interpolation, numpy's default) of seconds, in ms."""
    v = values_s[~np.isnan(values_s)]
    if v.size == 0:
        return Percentiles(
            mean=float("nan"), p50=float("nan"), p90=float("nan"), p95=float("nan"), p99=float("nan")
        )
    p = np.percentile(v, _QS) * 1000.0
    return Percentiles(
        mean=float(v.mean() * 1000.0), p50=float(p[0]), p90=float(p[1]), p95=float(p[2]), p99=float(p[3])
    )


def weighted_percentiles_ms(values_s: FloatArray, weights: FloatArray) -> Percentiles:
    """Percentiles of values each repeated `weight` times (inverted CDF), in ms."""
    if values_s.size == 0 or weights.sum() <= 0:
        return percentiles_ms(np.array([], dtype=np.float64))
    order = np.argsort(values_s, kind="stable")
    v = values_s[order]
    cw = np.cumsum(weights[order])
    total = cw[-1]
    out = [
        float(v[min(np.searchsorted(cw, q / 100.0 * total, side="left"), v.size - 1)]) * 1000.0 for q in _QS
    ]
    mean = float((values_s * weights).sum() / total) * 1000.0
    return Percentiles(mean=mean, p50=out[0], p90=out[1], p95=out[2], p99=out[3])


def request_metrics(trace: SimTrace) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per request: TTFT, TPOT (mean inter-token time; nan for one-token outputs) and E2E, seconds."""
    ttft = trace.first_token_s - trace.arrival_s
    e2e = trace.finish_s - trace.arrival_s
    steps = (trace.output_tokens - 1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        tpot = np.where(steps > 0, (trace.finish_s - trace.first_token_s) / np.maximum(steps, 1), np.nan)
    return ttft, tpot, e2e


def summarise(trace: SimTrace, rate: float, slo: Slo | None = None) -> SimSummary:
    """Summary numbers of one simulation."""
    ttft, tpot, e2e = request_metrics(trace)
    ok = ~np.isnan(trace.finish_s)
    completed = int(ok.sum())
    start = float(trace.arrival_s[0]) if trace.arrival_s.size else 0.0
    end = float(np.nanmax(trace.finish_s)) if completed else start
    span = max(end - start, 1e-12)
    good = ok.copy()
    if slo is not None:
        with np.errstate(invalid="ignore"):
            if slo.ttft_ms is not None:
                good &= ttft * 1000.0 <= slo.ttft_ms
            if slo.itl_ms is not None:
                good &= np.isnan(tpot) | (tpot * 1000.0 <= slo.itl_ms)
            if slo.e2e_ms is not None:
                good &= e2e * 1000.0 <= slo.e2e_ms
    return SimSummary(
        rate=rate,
        requests=int(trace.arrival_s.size),
        completed=completed,
        rejected=trace.rejected,
        ttft_ms=percentiles_ms(ttft),
        itl_ms=weighted_percentiles_ms(trace.itl_gap_s, trace.itl_weight),
        tpot_ms=percentiles_ms(tpot),
        e2e_ms=percentiles_ms(e2e),
        output_tokens_per_s=float(trace.output_tokens[ok].sum()) / span,
        requests_per_s=completed / span,
        goodput_requests_per_s=float(good.sum()) / span,
        mean_running=trace.mean_running,
        mean_waiting=trace.mean_waiting,
        mean_kv_usage=trace.mean_kv_frac,
        preemptions=trace.preemptions,
        steps=trace.steps,
    )


class Series(_Frozen):
    """Engine state over time (replica 0), sampled at evenly spaced instants: for plots."""

    t_s: tuple[float, ...]
    waiting: tuple[float, ...]
    running: tuple[float, ...]
    kv_usage: tuple[float, ...]


def sample_series(trace: SimTrace, points: int = 200) -> Series:
    """The state at `points` instants from the first to the last step (the state the step then held)."""
    t = trace.step_start_s
    if t.size == 0:
        return Series(t_s=(), waiting=(), running=(), kv_usage=())
    at = np.linspace(float(t[0]), float(t[-1]), num=max(2, points))
    idx = np.clip(np.searchsorted(t, at, side="right") - 1, 0, t.size - 1)

    def pick(a: FloatArray) -> tuple[float, ...]:
        return tuple(round(float(x), 4) for x in a[idx])

    return Series(
        t_s=tuple(round(float(x), 4) for x in at),
        waiting=pick(trace.step_waiting),
        running=pick(trace.step_running),
        kv_usage=pick(trace.step_kv_frac),
    )
