"""Scrape the server's Prometheus `/metrics` while the load runs. It degrades, never destroys: a failed
scrape, an HTML or JSON answer (a gateway's catch-all, a proxy error page) becomes a warning in the
result and the run goes on.

Which series mean what comes from the engine profiles (`engine_metrics()`), the one place engine metric
names live; every other series with the engine's prefix is read too (counters as their increase over a
step, gauges as their mean), so nothing the engine exports is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from prometheus_client.parser import text_string_to_metric_families

from garrison.bench.results import DEFAULT_PERCENTILES, Dist, ServerMetrics, pct_key


def engine_metrics() -> dict[str, Any]:
    """Engine name -> its metric names (queue, running, kv_usage, ttft_bucket, itl_bucket, e2e_bucket ...)."""
    from garrison import engines

    return {name: p.launch.metrics for name, p in engines.PROFILES.items() if p.launch is not None}


def _role_names(role: str) -> dict[str, str]:
    """Engine -> the series name it exports for `role` (engines without one are left out)."""
    out = {}
    for engine, m in engine_metrics().items():
        name = getattr(m, role, None)
        if name:
            out[engine] = str(name)
    return out


def _prefixes() -> dict[str, str]:
    """Series-name prefix ("vllm:") -> engine, from every name in the engine profiles."""
    out: dict[str, str] = {}
    for engine, m in engine_metrics().items():
        for v in vars(m).values():
            if isinstance(v, str) and ":" in v:
                out.setdefault(v.split(":", 1)[0] + ":", engine)
    return out


@dataclass
class Snapshot:
    """One scrape: every engine series summed over its label sets, and the histograms' buckets."""

    t: float
    values: dict[str, float] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)  # family name -> counter, gauge, histogram
    buckets: dict[str, dict[float, float]] = field(default_factory=dict)  # *_bucket name -> le -> count


class NotPrometheus(ValueError):
    """The body is not Prometheus text exposition (or has no engine series at all)."""


def parse_metrics(text: str, t: float = 0.0) -> Snapshot:
    """Engine series from Prometheus text; raises NotPrometheus for anything else (HTML, JSON ...)."""
    head = text.lstrip()[:1]
    if head in ("<", "{", "["):
        raise NotPrometheus(f"starts with {text.lstrip()[:40]!r}")
    prefixes = tuple(_prefixes())
    snap = Snapshot(t)
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser raises ValueError, IndexError, TypeError ... on foreign text
        raise NotPrometheus(f"{type(e).__name__}: {e}"[:120]) from None
    for fam in families:
        for s in fam.samples:
            if not s.name.startswith(prefixes):
                continue
            snap.kinds.setdefault(fam.name, fam.type)
            if s.name.endswith("_bucket") and "le" in s.labels:
                le = float(s.labels["le"])
                b = snap.buckets.setdefault(s.name, {})
                b[le] = b.get(le, 0.0) + float(s.value)
            else:
                snap.values[s.name] = snap.values.get(s.name, 0.0) + float(s.value)
    return snap


def histogram_quantile(q: float, buckets: dict[float, float]) -> float | None:
    """Prometheus' histogram_quantile on cumulative bucket counts: linear inside the bucket where the
    rank falls, 0 as the first bucket's lower bound, the last finite bound when it falls in +Inf."""
    les = sorted(buckets)
    if not les or buckets[les[-1]] <= 0:
        return None
    total = buckets[les[-1]]
    rank = q * total
    prev_le, prev_c = 0.0, 0.0
    for le in les:
        c = buckets[le]
        if c >= rank:
            if math.isinf(le):
                return prev_le
            if c == prev_c:
                return le
            return prev_le + (le - prev_le) * (rank - prev_c) / (c - prev_c)
        prev_le, prev_c = le, c
    return prev_le


def histogram_dist_ms(
    first: Snapshot, last: Snapshot, bucket: str, percentiles: tuple[float, ...] = DEFAULT_PERCENTILES
) -> Dist | None:
    """The histogram's observations between two scrapes as a millisecond Dist (mean from _sum/_count)."""
    b1, b0 = last.buckets.get(bucket), first.buckets.get(bucket, {})
    if not b1:
        return None
    delta = {le: c - b0.get(le, 0.0) for le, c in b1.items()}
    base = bucket[: -len("_bucket")]
    count = last.values.get(base + "_count", 0.0) - first.values.get(base + "_count", 0.0)
    total_s = last.values.get(base + "_sum", 0.0) - first.values.get(base + "_sum", 0.0)
    if count <= 0:
        return Dist()

    def q_ms(p: float) -> float | None:
        v = histogram_quantile(p / 100.0, delta)
        return None if v is None else round(v * 1000.0, 3)

    fixed = {p: q_ms(p) for p in DEFAULT_PERCENTILES}
    return Dist(
        mean=round(total_s / count * 1000.0, 3),
        p50=fixed[50.0],
        p90=fixed[90.0],
        p95=fixed[95.0],
        p99=fixed[99.0],
        count=int(count),
        percentiles={pct_key(p): v for p in percentiles if p not in fixed and (v := q_ms(p)) is not None},
    )


def same_origin(a: str, b: str) -> bool:
    """Same scheme, host and port: only then does the scraper send the API key along."""
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.netloc) == (pb.scheme, pb.netloc)


@dataclass
class Scraper:
    """Polls `/metrics` every `interval_s`; `window()` summarises the samples taken in a time range.
    Failures are recorded as warnings (with the time they happened) and never raised."""

    url: str
    headers: dict[str, str]
    verify: object = True
    interval_s: float = 1.0
    percentiles: tuple[float, ...] = DEFAULT_PERCENTILES
    samples: list[Snapshot] = field(default_factory=list)
    problems: list[tuple[float, str]] = field(default_factory=list)
    gave_up: bool = False  # the endpoint does not exist: stop polling
    _task: asyncio.Task[None] | None = None
    _client: httpx.AsyncClient | None = None

    def _warn(self, t: float, text: str) -> None:
        self.problems.append((t, text))

    async def sample(self) -> None:
        """Take one sample now (also called at the start and end of every step, so short steps have data)."""
        if self._client is None or self.gave_up:
            return
        t = asyncio.get_running_loop().time()
        try:
            r = await self._client.get(self.url)
        except httpx.HTTPError as e:
            self._warn(t, f"{self.url}: {type(e).__name__}")
            if not self.samples:
                self.gave_up = True
            return
        if r.status_code != 200:
            self._warn(t, f"{self.url}: HTTP {r.status_code}")
            if not self.samples and r.status_code in (401, 403, 404, 405):
                self.gave_up = True
            return
        try:
            snap = parse_metrics(r.text, t)
        except NotPrometheus as e:
            ctype = r.headers.get("content-type", "?").split(";")[0]
            self._warn(t, f"{self.url}: not Prometheus text ({ctype}; {e})")
            return
        if not snap.values and not snap.buckets:
            self._warn(t, f"{self.url}: no vLLM, SGLang or llama.cpp series")
            return
        self.samples.append(snap)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.sample()

    async def start(self) -> None:
        self._client = httpx.AsyncClient(verify=self.verify, timeout=5, headers=self.headers)  # type: ignore[arg-type]
        await self.sample()
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._client is not None:
            await self._client.aclose()

    def warnings(self, t0: float = -math.inf, t1: float = math.inf) -> tuple[str, ...]:
        """Distinct problems in a time range, each with how often it happened."""
        counts: dict[str, int] = {}
        for t, text in self.problems:
            if t0 <= t <= t1:
                counts[text] = counts.get(text, 0) + 1
        return tuple(f"{k} ({n}x)" if n > 1 else k for k, n in counts.items())

    def window(self, t0: float, t1: float) -> ServerMetrics:
        """Queue depth, running and KV usage (mean, max), every engine gauge (mean) and counter
        (increase), and the server's TTFT/ITL/E2E histograms for the samples with t0 <= t <= t1."""
        picked = [s for s in self.samples if t0 <= s.t <= t1]
        warns = self.warnings(t0, t1)
        if not picked:
            return ServerMetrics(warnings=warns)
        first, last = picked[0], picked[-1]
        engine = _engine_of(last)

        def series(role: str) -> list[float]:
            name = _role_names(role).get(engine or "")
            return [s.values[name] for s in picked if name and name in s.values]

        def mean(xs: list[float]) -> float | None:
            return round(sum(xs) / len(xs), 4) if xs else None

        def hist(role: str) -> Dist | None:
            name = _role_names(role).get(engine or "")
            return histogram_dist_ms(first, last, name, self.percentiles) if name else None

        q, r, k = series("queue"), series("running"), series("kv_usage")
        gauges, counters = {}, {}
        for name, kind in sorted(last.kinds.items()):
            if kind == "gauge" and name in last.values:
                gauges[name] = round(sum(s.values.get(name, 0.0) for s in picked) / len(picked), 4)
            elif kind == "counter":
                key = name if name in last.values else name + "_total"
                if key in last.values:
                    inc = last.values[key] - first.values.get(key, 0.0)
                    counters[key] = round(inc if inc >= 0 else last.values[key], 6)  # a reset restarts at 0
        return ServerMetrics(
            samples=len(picked),
            queue_depth_mean=mean(q),
            queue_depth_max=max(q) if q else None,
            running_mean=mean(r),
            running_max=max(r) if r else None,
            kv_usage_mean=mean(k),
            kv_usage_max=max(k) if k else None,
            names=tuple(sorted({n for s in picked for n in (*s.values, *s.buckets)})),
            engine=engine,
            ttft_ms=hist("ttft_bucket"),
            itl_ms=hist("itl_bucket"),
            e2e_ms=hist("e2e_bucket"),
            counters=counters,
            gauges=gauges,
            warnings=warns,
        )


def _engine_of(snap: Snapshot) -> str | None:
    """The engine whose prefix most of the scraped series carry."""
    votes: dict[str, int] = {}
    prefixes = _prefixes()
    for name in (*snap.values, *snap.buckets):
        engine = prefixes.get(name.split(":", 1)[0] + ":")
        if engine:
            votes[engine] = votes.get(engine, 0) + 1
    return max(votes, key=lambda e: votes[e]) if votes else None
