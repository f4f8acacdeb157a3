"""Benchmark records and results: per-request timings in, the versioned `--json` object out (pure)."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

BENCH_SCHEMA_VERSION = 2  # 2: min/max/std/other percentiles, server histograms, SLO attainment, phases

ErrorType = str  # "http_<status>", "timeout", "reset", "connect", "malformed_stream"
Phase = Literal["warmup", "measured", "cooldown"]
DEFAULT_PERCENTILES = (50.0, 90.0, 95.0, 99.0)
# The share of requests that must meet every target for a load to count as "under the SLO": the
# SLO search and `slo_attainment` use it, as DistServe's "SLO attainment" (Zhong et al., OSDI 2024).
DEFAULT_SLO_ATTAINMENT = 0.95


@dataclass
class RequestRecord:
    """What the client saw for one request; times are seconds on the client's monotonic clock."""

    start_s: float
    end_s: float = 0.0
    first_token_s: float | None = None
    token_times_s: list[float] = field(default_factory=list)  # arrival of every content chunk
    input_tokens: int = 0
    output_tokens: int = 0
    tokens_from_usage: bool = False
    error: ErrorType | None = None
    error_detail: str = ""
    max_tokens: int = 0  # output tokens asked for
    stated_input_tokens: int = 0  # the prompt's length as the workload made it
    scheduled_s: float | None = None  # when the load shape wanted it sent (open loop); None: closed loop
    phase: Phase = "measured"
    retries: int = 0  # resent after a Retry-After (429/503) answer
    retry_after_s: float | None = None  # the last Retry-After the server sent, seconds

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def ttft_s(self) -> float | None:
        return None if self.first_token_s is None else self.first_token_s - self.start_s

    @property
    def e2e_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def itl_gaps_s(self) -> list[float]:
        """Every gap between consecutive content chunks (a chunk is one token on vLLM, SGLang, llama.cpp)."""
        t = self.token_times_s
        return [b - a for a, b in itertools.pairwise(t)]

    @property
    def tpot_s(self) -> float | None:
        """Time per output token after the first: (E2E - TTFT) / (output_tokens - 1), as in vLLM bench."""
        if self.ttft_s is None or self.output_tokens < 2:
            return None
        return (self.e2e_s - self.ttft_s) / (self.output_tokens - 1)


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Dist(Frozen):
    """Mean, spread and percentiles of one latency, milliseconds; null when nothing was measured.
    `percentiles` holds the ones asked for with `--percentiles` beyond p50/p90/p95/p99 (e.g. "p99.9")."""

    mean: float | None = None
    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None
    count: int = 0
    min: float | None = None
    max: float | None = None
    std: float | None = None  # population standard deviation
    percentiles: dict[str, float] = Field(default_factory=dict)


class ServerMetrics(Frozen):
    """What the server's Prometheus `/metrics` said during the step (mean and max of the samples)."""

    samples: int = 0
    queue_depth_mean: float | None = None
    queue_depth_max: float | None = None
    running_mean: float | None = None
    running_max: float | None = None
    kv_usage_mean: float | None = None  # fraction 0..1
    kv_usage_max: float | None = None
    names: tuple[str, ...] = ()  # the metric names found
    engine: str | None = None  # whose metric names were found (vllm, sglang, llama.cpp)
    # the server's own latency histograms over the step (bucket deltas; percentiles interpolated
    # inside buckets as Prometheus' histogram_quantile does), milliseconds
    ttft_ms: Dist | None = None
    itl_ms: Dist | None = None
    e2e_ms: Dist | None = None
    counters: dict[str, float] = Field(default_factory=dict)  # every engine counter: increase over the step
    gauges: dict[str, float] = Field(default_factory=dict)  # every engine gauge: mean over the step
    warnings: tuple[str, ...] = ()  # scrapes that failed or were not Prometheus text


class Step(Frozen):
    """One load level: a concurrency or a request rate (one of them is set)."""

    mode: Literal["concurrency", "rate", "max", "ramp", "trace"]
    concurrency: int | None = None
    rate: float | None = None  # requests/s offered (mean; the start of a ramp); null for "max"
    rate_end: float | None = None  # a ramp's last rate
    arrival: str | None = None  # poisson, constant, gamma(b=0.5), trace FILE
    max_concurrency: int | None = None  # open loop with a cap on requests in flight
    requests: int  # completed without error (measured phase)
    errors: dict[str, int] = Field(default_factory=dict)
    duration_s: float
    ttft_ms: Dist
    itl_ms: Dist  # every inter-token gap of every request
    tpot_ms: Dist  # one value per request
    e2e_ms: Dist
    requests_per_s: float
    input_tokens_per_s: float
    output_tokens_per_s: float
    goodput_requests_per_s: float
    slo_attainment: float | None = None  # share of measured requests that met every target
    input_tokens: int
    output_tokens: int
    tokens_from_usage: bool  # false: some counts are the stated approximation (one chunk = one token)
    client_cpu_s_per_1k_tokens: float | None = None
    interrupted: bool = False
    stopped: str | None = None  # why the step ended early (error rate), else null
    excluded: dict[str, int] = Field(default_factory=dict)  # warm-up/cool-down requests not counted
    retries: int = 0
    send_lag_ms: Dist | None = None  # open loop: actual send time - scheduled time
    server: ServerMetrics = ServerMetrics()


class Prediction(Frozen):
    """One predicted-vs-measured line of a design comparison."""

    metric: str
    predicted: float
    measured: float | None
    error_pct: float | None  # (measured - predicted) / predicted x 100
    off: bool
    verdict: str


class Comparison(Frozen):
    """Measured against a Design's estimate for the same workload."""

    design: str
    deployment: str
    step: str
    tolerance_pct: float
    lines: tuple[Prediction, ...]
    notes: tuple[str, ...] = ()


class SearchStep(Frozen):
    """One rate the SLO search tried: whether it was under the SLO, and why not."""

    rate: float | None  # null: the max-throughput step
    passed: bool
    reason: str


class SloSearch(Frozen):
    """Result of the max-load-under-SLO search: the highest rate at which at least `attainment` of the
    requests met every target (the goodput definition), with no rate limiting and errors within bounds."""

    slo_ttft_ms: float | None
    slo_itl_ms: float | None
    max_rate_meeting_slo: float | None
    max_throughput_rate: float | None
    attainment: float = DEFAULT_SLO_ATTAINMENT
    tried: tuple[SearchStep, ...] = ()


class Workload(Frozen):
    endpoint: Literal["chat", "completions"]
    input_len: str
    output_len: str
    dataset: str | None = None
    prompt_source: str  # "tokenizer:...", "server /tokenize", "approx 4 chars/token", "dataset"
    ignore_eos: bool = True
    unique_prompts: bool = True  # every request's prompt starts differently (no prefix-cache hits)
    shared_prefix: str | None = None  # "64 tokens" or "25%": a deliberately shared prefix
    warmup: str | None = None
    cooldown: str | None = None
    seed: int | None = None
    percentiles: tuple[float, ...] = DEFAULT_PERCENTILES


class BenchResult(Frozen):
    """The `garrison bench --json` object (versioned)."""

    schema_version: Literal[1, 2] = 2  # BENCH_SCHEMA_VERSION; 1 is still read from the history store
    url: str
    model: str
    workload: Workload
    slo_ttft_ms: float | None = None
    slo_itl_ms: float | None = None
    interrupted: bool = False
    steps: tuple[Step, ...] = ()
    slo_search: SloSearch | None = None
    comparison: Comparison | None = None
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()  # what degraded without stopping the run (e.g. /metrics not Prometheus)
    stopped: str | None = None  # why the run stopped before its last step


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolated percentile of sorted data (numpy's default 'linear' method), q in 0..100."""
    if not sorted_values:
        raise ValueError("no values")
    pos = (len(sorted_values) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def pct_key(q: float) -> str:
    """ "p99.9" for 99.9, "p50" for 50."""
    return f"p{q:g}"


def dist_ms(values_s: list[float], percentiles: tuple[float, ...] = DEFAULT_PERCENTILES) -> Dist:
    """Summarise seconds as a millisecond distribution: mean, min, max, std and percentiles."""
    if not values_s:
        return Dist()
    v = sorted(x * 1000.0 for x in values_s)
    n = len(v)
    mean = sum(v) / n
    fixed = {q: round(percentile(v, q), 3) for q in DEFAULT_PERCENTILES}
    return Dist(
        mean=round(mean, 3),
        p50=fixed[50.0],
        p90=fixed[90.0],
        p95=fixed[95.0],
        p99=fixed[99.0],
        count=n,
        min=round(v[0], 3),
        max=round(v[-1], 3),
        std=round(math.sqrt(sum((x - mean) ** 2 for x in v) / n), 3),
        percentiles={pct_key(q): round(percentile(v, q), 3) for q in percentiles if q not in fixed},
    )


def meets_slo(rec: RequestRecord, slo_ttft_ms: float | None, slo_itl_ms: float | None) -> bool:
    """A request counts toward goodput when it succeeded, its TTFT <= the TTFT target and its TPOT
    (mean gap after the first token) <= the ITL target. Goodput as defined by DistServe
    (Zhong et al., OSDI 2024) and vLLM's `bench serve --goodput`."""
    if not rec.ok:
        return False
    ttft = rec.ttft_s
    if slo_ttft_ms is not None and (ttft is None or ttft * 1000 > slo_ttft_ms):
        return False
    tpot = rec.tpot_s
    return not (slo_itl_ms is not None and tpot is not None and tpot * 1000 > slo_itl_ms)


def summarise_step(
    records: list[RequestRecord],
    *,
    mode: Literal["concurrency", "rate", "max", "ramp", "trace"],
    slo_ttft_ms: float | None = None,
    slo_itl_ms: float | None = None,
    cpu_s: float | None = None,
    percentiles: tuple[float, ...] = DEFAULT_PERCENTILES,
    **meta: object,
) -> Step:
    """Aggregate one step's measured requests (warm-up and cool-down ones are only counted in
    `excluded`). Duration runs from the first measured start to the last measured end, so rates are
    what the server sustained over the step (the vLLM/GuideLLM convention). `meta` fills the step's
    description fields (concurrency, rate, arrival, interrupted, server ...)."""
    excluded: dict[str, int] = {}
    for r in records:
        if r.phase != "measured":
            excluded[r.phase] = excluded.get(r.phase, 0) + 1
    measured = [r for r in records if r.phase == "measured"]
    ok = [r for r in measured if r.ok]
    errors: dict[str, int] = {}
    for r in measured:
        if r.error is not None:
            errors[r.error] = errors.get(r.error, 0) + 1
    duration = max(r.end_s for r in measured) - min(r.start_s for r in measured) if measured else 0.0
    per_s = (lambda n: n / duration) if duration > 0 else (lambda n: 0.0)
    in_tok = sum(r.input_tokens for r in ok)
    out_tok = sum(r.output_tokens for r in ok)
    good = sum(1 for r in ok if meets_slo(r, slo_ttft_ms, slo_itl_ms))
    lags = [r.start_s - r.scheduled_s for r in records if r.scheduled_s is not None]

    def d(values: list[float]) -> Dist:
        return dist_ms(values, percentiles)

    return Step.model_validate(
        {
            "mode": mode,
            "requests": len(ok),
            "errors": dict(sorted(errors.items())),
            "duration_s": round(duration, 4),
            "ttft_ms": d([t for r in ok if (t := r.ttft_s) is not None]),
            "itl_ms": d([g for r in ok for g in r.itl_gaps_s]),
            "tpot_ms": d([t for r in ok if (t := r.tpot_s) is not None]),
            "e2e_ms": d([r.e2e_s for r in ok]),
            "requests_per_s": round(per_s(len(ok)), 4),
            "input_tokens_per_s": round(per_s(in_tok), 3),
            "output_tokens_per_s": round(per_s(out_tok), 3),
            "goodput_requests_per_s": round(per_s(good), 4),
            "slo_attainment": round(good / len(measured), 4)
            if measured and (slo_ttft_ms is not None or slo_itl_ms is not None)
            else None,
            "input_tokens": in_tok,
            "output_tokens": out_tok,
            "tokens_from_usage": bool(ok) and all(r.tokens_from_usage for r in ok),
            "client_cpu_s_per_1k_tokens": (
                round(cpu_s / out_tok * 1000, 6) if cpu_s is not None and out_tok > 0 else None
            ),
            "excluded": dict(sorted(excluded.items())),
            "retries": sum(r.retries for r in records),
            "send_lag_ms": d(lags) if lags else None,
            **meta,
        }
    )
