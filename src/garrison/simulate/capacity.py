"""Capacity questions answered by simulation: replicas for an SLO, the loads at which triggers fire.

Traffic is spread over replicas round-robin (what a Kubernetes Service or nginx `upstream` does by
default): replica r of R serves requests r, r + R, ... . All searches reuse one seeded request set
(common random numbers), so comparing two replica counts or two rates compares the same requests.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from pydantic import BaseModel, ConfigDict

from garrison.errors import InputError
from garrison.simulate.engine import EngineConfig, SimTrace, simulate
from garrison.simulate.results import Series, SimSummary, Slo, sample_series, summarise
from garrison.simulate.workload import Requests, Workload, generate_requests
from garrison.sizing.step_time import StepTimeModel


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def split_round_robin(requests: Requests, replicas: int) -> list[Requests]:
    """The requests each of `replicas` replicas sees under round-robin dispatch."""
    return [
        Requests(
            requests.arrival_s[r::replicas],
            requests.input_tokens[r::replicas],
            requests.output_tokens[r::replicas],
            requests.cached_tokens[r::replicas],
        )
        for r in range(min(replicas, len(requests)))  # never loop over more replicas than requests
    ]


def merge_traces(traces: list[SimTrace]) -> SimTrace:
    """One trace for a deployment: per-request arrays concatenated; queue and KV means are per replica."""
    if len(traces) == 1:
        return traces[0]
    cat = np.concatenate
    k = len(traces)
    return SimTrace(
        arrival_s=cat([t.arrival_s for t in traces]),
        input_tokens=cat([t.input_tokens for t in traces]),
        output_tokens=cat([t.output_tokens for t in traces]),
        first_admit_s=cat([t.first_admit_s for t in traces]),
        first_token_s=cat([t.first_token_s for t in traces]),
        finish_s=cat([t.finish_s for t in traces]),
        itl_gap_s=cat([t.itl_gap_s for t in traces]),
        itl_weight=cat([t.itl_weight for t in traces]),
        step_start_s=traces[0].step_start_s,
        step_waiting=traces[0].step_waiting,
        step_running=traces[0].step_running,
        step_kv_frac=traces[0].step_kv_frac,
        busy_s=sum(t.busy_s for t in traces),
        steps=sum(t.steps for t in traces),
        preemptions=sum(t.preemptions for t in traces),
        rejected=sum(t.rejected for t in traces),
        mean_waiting=sum(t.mean_waiting for t in traces) / k,
        mean_running=sum(t.mean_running for t in traces) / k,
        mean_kv_frac=sum(t.mean_kv_frac for t in traces) / k,
    )


def simulate_deployment(
    requests: Requests, engine: EngineConfig, model: StepTimeModel, replicas: int = 1
) -> SimTrace:
    """Simulates `replicas` identical replicas behind a round-robin balancer."""
    if replicas < 1:
        raise InputError("replicas", f"must be at least 1, got {replicas}", "give 1 or more replicas")
    arr = requests.arrival_s
    order = np.argsort(arr, kind="stable")
    if np.any(order != np.arange(len(arr))):
        raise InputError("requests", "arrivals are not sorted", "sort the trace by arrival_s")
    traces = [simulate(part, engine, model) for part in split_round_robin(requests, replicas)]
    merged = merge_traces(traces)
    # Request order in the merged trace follows the replicas; percentiles do not depend on order.
    return merged


def run_load_point(
    workload: Workload,
    engine: EngineConfig,
    model: StepTimeModel,
    *,
    replicas: int = 1,
    seed: int = 0,
    slo: Slo | None = None,
) -> SimSummary:
    """Simulates one workload (its rate is the whole deployment's) and summarises it."""
    reqs = generate_requests(workload, seed)
    return summarise(simulate_deployment(reqs, engine, model, replicas), workload.rate_per_s, slo)


def meets(summary: SimSummary, slo: Slo) -> bool:
    """True when the P95 of each targeted latency is within the SLO and nothing was refused."""
    checks = [
        (slo.ttft_ms, summary.ttft_ms.p95),
        (slo.itl_ms, summary.itl_ms.p95),
        (slo.e2e_ms, summary.e2e_ms.p95),
    ]
    return summary.rejected == 0 and all(t is None or (v == v and v <= t) for t, v in checks)


class ReplicaPlan(_Frozen):
    """How many replicas hold the SLO at the load, and what the simulation saw there."""

    replicas: int
    rate_per_s: float  # the load simulated (stated rate x headroom)
    summary: SimSummary
    tried: dict[int, bool]  # replica count -> met the SLO


def fewest(ok: Callable[[int], bool], start: int, limit: int) -> int | None:
    """Fewest n in [start, limit] for which ok(n) holds, assuming ok is monotone: doubling from
    `start`, then bisection between the last failing and the first passing count (None: not up to `limit`)."""
    lo, hi = start - 1, start
    while not ok(hi):
        if hi >= limit:
            return None
        lo, hi = hi, min(2 * hi, limit)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


def replicas_for_slo(
    model: StepTimeModel,
    rate_per_s: float,
    slo: Slo,
    engine: EngineConfig,
    *,
    workload: Workload | None = None,
    headroom: float = 1.0,
    max_replicas: int = 256,
    seed: int = 0,
) -> ReplicaPlan | None:
    """Fewest replicas whose simulated P95 targets hold at `rate_per_s x headroom` (None: not within max).

    `workload` gives the request shape (lengths, bursts, prefix hits, how many requests to simulate);
    its rate is replaced. P95 is not monotone in the replica count to the last sample, so the search
    doubles until the SLO holds and then bisects, checking the answer and the count below it.
    """
    if not (rate_per_s > 0 and math.isfinite(rate_per_s)):
        raise InputError(
            "rate",
            f"must be a positive number of requests per second, got {rate_per_s}",
            "give e.g. 5 (300 requests a minute)",
        )
    if headroom < 1.0:
        raise InputError("headroom", f"must be >= 1, got {headroom}", "e.g. 1.25 for 25% spare capacity")
    shape = workload or Workload(rate_per_s=1.0)
    load = rate_per_s * headroom
    w = shape.model_copy(update={"rate_per_s": load})
    reqs = generate_requests(w, seed)
    tried: dict[int, bool] = {}
    results: dict[int, SimSummary] = {}

    def ok(r: int) -> bool:
        if r not in tried:
            s = summarise(simulate_deployment(reqs, engine, model, r), load, slo)
            results[r] = s
            tried[r] = meets(s, slo)
        return tried[r]

    hi = fewest(ok, 1, max_replicas)
    if hi is None:
        return None
    return ReplicaPlan(replicas=hi, rate_per_s=load, summary=results[hi], tried=dict(sorted(tried.items())))


class TriggerLoads(_Frozen):
    """Whole-deployment load (requests per second) at which each scaling trigger would fire."""

    queue_depth: float  # threshold: mean waiting requests per replica
    p95_latency_s: float  # threshold on P95 of `latency`
    latency: str  # which latency the P95 trigger watches: ttft or e2e
    rate_at_queue_trigger: float | None  # None: does not fire below `max_rate`
    rate_at_latency_trigger: float | None
    max_rate: float


def _bisect_rate(fires: Callable[[float], bool], lo: float, hi: float, rel_tol: float) -> float | None:
    if not fires(hi):
        return None
    if fires(lo):
        return lo
    while hi - lo > rel_tol * hi:
        mid = math.sqrt(lo * hi)
        if fires(mid):
            hi = mid
        else:
            lo = mid
    return hi


def trigger_loads(
    model: StepTimeModel,
    engine: EngineConfig,
    *,
    workload: Workload | None = None,
    replicas: int = 1,
    queue_depth: float = 5.0,
    p95_latency_s: float = 5.0,
    latency: str = "ttft",
    max_rate: float | None = None,
    seed: int = 0,
    rel_tol: float = 0.02,
) -> TriggerLoads:
    """Lowest loads at which mean queue depth per replica > `queue_depth` and P95 latency > `p95_latency_s`.

    Bisection on the rate (geometric, to `rel_tol`) with the same seeded requests compressed in
    time at each rate. `max_rate` defaults to 20 x the rate the replicas could finish if every
    step served max_num_seqs sequences at the single-sequence decode step time, a loose ceiling.
    """
    if latency not in ("ttft", "e2e"):
        raise InputError("latency", f"unknown latency {latency!r}", "use ttft or e2e")
    shape = workload or Workload(rate_per_s=1.0)
    base = generate_requests(shape.model_copy(update={"rate_per_s": 1.0}), seed)
    if max_rate is None:
        out = max(shape.output_len.expected, 1.0)
        step = model.step_time_s(1, int(shape.input_len.expected + out), 0, 0)
        max_rate = 20.0 * replicas * engine.max_num_seqs / (out * max(step, 1e-6))
    cache: dict[float, SimSummary] = {}

    def at(rate: float) -> SimSummary:
        if rate not in cache:
            scaled = Requests(
                base.arrival_s / rate, base.input_tokens, base.output_tokens, base.cached_tokens
            )
            cache[rate] = summarise(simulate_deployment(scaled, engine, model, replicas), rate)
        return cache[rate]

    def queue_fires(rate: float) -> bool:
        return at(rate).mean_waiting > queue_depth

    def latency_fires(rate: float) -> bool:
        s = at(rate)
        p95 = s.ttft_ms.p95 if latency == "ttft" else s.e2e_ms.p95
        return p95 > p95_latency_s * 1000.0

    lo = max_rate / 1e4
    return TriggerLoads(
        queue_depth=queue_depth,
        p95_latency_s=p95_latency_s,
        latency=latency,
        rate_at_queue_trigger=_bisect_rate(queue_fires, lo, max_rate, rel_tol),
        rate_at_latency_trigger=_bisect_rate(latency_fires, lo, max_rate, rel_tol),
        max_rate=max_rate,
    )


class SloBreak(_Frozen):
    """Where one SLO stops holding along a rate sweep (requests per second, whole deployment)."""

    metric: str  # ttft_p95 | itl_p95 | e2e_p95
    target_ms: float
    holds_up_to: float | None  # highest swept rate where it held
    breaks_at: float | None  # lowest rate where it failed (bisected between sweep points); None: never


class Sweep(_Frozen):
    """A load sweep: one summary per rate and where each SLO breaks (`series`: state over time per rate)."""

    steps: tuple[SimSummary, ...]
    breaks: tuple[SloBreak, ...]
    replicas: int
    series: tuple[Series, ...] = ()


def _p95(s: SimSummary, metric: str) -> float:
    return {"ttft_p95": s.ttft_ms.p95, "itl_p95": s.itl_ms.p95, "e2e_p95": s.e2e_ms.p95}[metric]


def sweep_rates(
    model: StepTimeModel,
    engine: EngineConfig,
    workload: Workload,
    rates: list[float],
    *,
    replicas: int = 1,
    seed: int = 0,
    slo: Slo | None = None,
    requests: Requests | None = None,
    rel_tol: float = 0.02,
) -> Sweep:
    """Simulates each rate with the same seeded requests compressed in time (common random numbers).

    With `requests` (a trace), the trace's own timing is rate-scaled: its mean rate becomes each rate.
    """
    if not rates:
        raise InputError("rate", "no rates given", "give e.g. --rate 1,2,4")
    for r in rates:
        if not (r > 0 and math.isfinite(r)):
            raise InputError(
                "rate", f"must be a positive number of requests per second, got {r}", "give e.g. --rate 1,2,4"
            )
    if requests is None:
        unit = generate_requests(workload.model_copy(update={"rate_per_s": 1.0}), seed)
    else:
        n = len(requests)
        span = float(requests.arrival_s[-1] - requests.arrival_s[0])
        unit_rate = (n - 1) / span if span > 0 and n > 1 else 1.0
        unit = Requests(
            requests.arrival_s * unit_rate,
            requests.input_tokens,
            requests.output_tokens,
            requests.cached_tokens,
        )
    cache: dict[float, SimSummary] = {}
    series: dict[float, Series] = {}

    def at(rate: float) -> SimSummary:
        if rate not in cache:
            scaled = Requests(
                unit.arrival_s / rate, unit.input_tokens, unit.output_tokens, unit.cached_tokens
            )
            trace = simulate_deployment(scaled, engine, model, replicas)
            cache[rate] = summarise(trace, rate, slo)
            series[rate] = sample_series(trace)
        return cache[rate]

    steps = tuple(at(r) for r in sorted(set(rates)))
    breaks: list[SloBreak] = []
    targets = [
        ("ttft_p95", slo.ttft_ms if slo else None),
        ("itl_p95", slo.itl_ms if slo else None),
        ("e2e_p95", slo.e2e_ms if slo else None),
    ]
    for metric, target in targets:
        if target is None:
            continue
        held = [s.rate for s in steps if _p95(s, metric) <= target]
        failed = [s.rate for s in steps if not _p95(s, metric) <= target]
        breaks_at = None
        if failed:
            hi = min(failed)
            below = [r for r in held if r < hi]
            lo = max(below) if below else None
            if lo is not None:
                while hi - lo > rel_tol * hi:
                    mid = math.sqrt(lo * hi)
                    if _p95(at(mid), metric) <= target:
                        lo = mid
                    else:
                        hi = mid
            breaks_at = hi
        breaks.append(
            SloBreak(
                metric=metric, target_ms=target, holds_up_to=max(held) if held else None, breaks_at=breaks_at
            )
        )
    return Sweep(
        steps=steps, breaks=tuple(breaks), replicas=replicas, series=tuple(series[p.rate] for p in steps)
    )


def run_closed_loop(
    model: StepTimeModel,
    engine: EngineConfig,
    concurrency: int,
    *,
    input_len: int,
    output_len: int,
    num_requests: int,
    warmup: int | None = None,
) -> SimSummary:
    """A fixed-concurrency benchmark (clients send the next request as soon as one finishes).

    Each request's clock starts when its client sends it, so TTFT includes any wait in the
    engine's queue, as in `vllm bench serve --max-concurrency` and AIPerf's concurrency mode.
    """
    if concurrency < 1 or num_requests < 1:
        raise InputError("concurrency", "concurrency and num_requests must be at least 1", "e.g. 8 and 100")
    n = num_requests
    reqs = Requests(
        np.zeros(n),
        np.full(n, input_len, dtype=np.int64),
        np.full(n, output_len, dtype=np.int64),
        np.zeros(n, dtype=np.int64),
    )
    t = simulate(reqs, engine, model, concurrency=concurrency)
    # All clients start together; the first `warmup` requests (default: one per client) carry that
    # synchronised start and are left out of the latency numbers, as benchmark warm-up rounds are.
    w = concurrency if warmup is None else warmup
    w = min(w, n - 1)
    steady = SimTrace(
        **{
            **t.__dict__,
            **{
                k: getattr(t, k)[w:]
                for k in (
                    "arrival_s",
                    "input_tokens",
                    "output_tokens",
                    "first_admit_s",
                    "first_token_s",
                    "finish_s",
                )
            },
        }
    )
    return summarise(steady, rate=0.0)
