"""Benchmark records and results: per-request timings in, the versioned `--json` object out (pure)."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

BENCH_SCHEMA_VERSION = 1

ErrorType = str  # "http_<status>", "timeout", "reset", "connect", "malformed_stream"


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
    """Mean and percentiles of one latency, milliseconds; null when nothing was measured."""

    mean: float | None = None
    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None
    count: int = 0


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


class Step(Frozen):
    """One load level: a concurrency or a request rate (one of them is set)."""

    mode: Literal["concurrency", "rate", "max"]
    concurrency: int | None = None
    rate: float | None = None  # requests/s offered (Poisson arrivals); null for "max"
    requests: int  # completed without error
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
    input_tokens: int
    output_tokens: int
    tokens_from_usage: bool  # false: some counts are the stated approximation (one chunk = one token)
    client_cpu_s_per_1k_tokens: float | None = None
    interrupted: bool = False
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


class SloSearch(Frozen):
    """Result of the max-load-under-SLO search: the highest rate whose P95 TTFT and ITL met the targets."""

    slo_ttft_ms: float | None
    slo_itl_ms: float | None
    max_rate_meeting_slo: float | None
    max_throughput_rate: float | None


class Workload(Frozen):
    endpoint: Literal["chat", "completions"]
    input_len: str
    output_len: str
    dataset: str | None = None
    prompt_source: str  # "tokenizer:...", "server /tokenize", "approx 4 chars/token", "dataset"
    ignore_eos: bool = True


class BenchResult(Frozen):
    """The `garrison bench --json` object (versioned)."""

    schema_version: Literal[1] = 1  # BENCH_SCHEMA_VERSION
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


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolated percentile of sorted data (numpy's default 'linear' method), q in 0..100."""
    if not sorted_values:
        raise ValueError("no values")
    pos = (len(sorted_values) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def dist_ms(values_s: list[float]) -> Dist:
    """Summarise seconds as a millisecond distribution."""
    if not values_s:
        return Dist()
    v = sorted(x * 1000.0 for x in values_s)
    return Dist(
        mean=round(sum(v) / len(v), 3),
        p50=round(percentile(v, 50), 3),
        p90=round(percentile(v, 90), 3),
        p95=round(percentile(v, 95), 3),
        p99=round(percentile(v, 99), 3),
        count=len(v),
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
    mode: Literal["concurrency", "rate", "max"],
    concurrency: int | None = None,
    rate: float | None = None,
    slo_ttft_ms: float | None = None,
    slo_itl_ms: float | None = None,
    cpu_s: float | None = None,
    interrupted: bool = False,
    server: ServerMetrics | None = None,
) -> Step:
    """Aggregate one step's requests. Duration runs from the first start to the last end, so rates are
    what the server sustained over the step (the vLLM/GuideLLM convention)."""
    ok = [r for r in records if r.ok]
    errors: dict[str, int] = {}
    for r in records:
        if r.error is not None:
            errors[r.error] = errors.get(r.error, 0) + 1
    duration = max(r.end_s for r in records) - min(r.start_s for r in records) if records else 0.0
    per_s = (lambda n: n / duration) if duration > 0 else (lambda n: 0.0)
    in_tok = sum(r.input_tokens for r in ok)
    out_tok = sum(r.output_tokens for r in ok)
    good = sum(1 for r in ok if meets_slo(r, slo_ttft_ms, slo_itl_ms))
    return Step(
        mode=mode,
        concurrency=concurrency,
        rate=rate,
        requests=len(ok),
        errors=dict(sorted(errors.items())),
        duration_s=round(duration, 4),
        ttft_ms=dist_ms([t for r in ok if (t := r.ttft_s) is not None]),
        itl_ms=dist_ms([g for r in ok for g in r.itl_gaps_s]),
        tpot_ms=dist_ms([t for r in ok if (t := r.tpot_s) is not None]),
        e2e_ms=dist_ms([r.e2e_s for r in ok]),
        requests_per_s=round(per_s(len(ok)), 4),
        input_tokens_per_s=round(per_s(in_tok), 3),
        output_tokens_per_s=round(per_s(out_tok), 3),
        goodput_requests_per_s=round(per_s(good), 4),
        input_tokens=in_tok,
        output_tokens=out_tok,
        tokens_from_usage=bool(ok) and all(r.tokens_from_usage for r in ok),
        client_cpu_s_per_1k_tokens=(
            round(cpu_s / out_tok * 1000, 6) if cpu_s is not None and out_tok > 0 else None
        ),
        interrupted=interrupted,
        server=server or ServerMetrics(),
    )
