"""Scrape the server's Prometheus `/metrics` while the load runs: queue depth, running requests, KV use."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import httpx
from prometheus_client.parser import text_string_to_metric_families

from garrison.bench.results import ServerMetrics

# Metric names per engine (gauges; summed over label sets, e.g. one per model or per engine rank).
# vLLM: docs.vllm.ai "Production Metrics" (kv_cache_usage_perc replaced gpu_cache_usage_perc in v0.10);
# SGLang: docs.sglang.ai "Production Metrics"; llama.cpp: tools/server README, `--metrics`.
QUEUE = ("vllm:num_requests_waiting", "sglang:num_queue_reqs", "llamacpp:requests_deferred")
RUNNING = ("vllm:num_requests_running", "sglang:num_running_reqs", "llamacpp:requests_processing")
KV_USAGE = (  # all are fractions 0..1 despite the "perc" in vLLM's names
    "vllm:kv_cache_usage_perc",
    "vllm:gpu_cache_usage_perc",
    "sglang:token_usage",
    "llamacpp:kv_cache_usage_ratio",
)
_WANTED = frozenset(QUEUE + RUNNING + KV_USAGE)


def parse_metrics(text: str) -> dict[str, float]:
    """The wanted gauges from Prometheus text, each summed over its label sets."""
    out: dict[str, float] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name in _WANTED:
                out[s.name] = out.get(s.name, 0.0) + float(s.value)
    return out


@dataclass
class Scraper:
    """Polls `/metrics` every `interval_s`; `window()` summarises the samples taken in a time range."""

    url: str
    headers: dict[str, str]
    verify: object = True
    interval_s: float = 1.0
    samples: list[tuple[float, dict[str, float]]] = field(default_factory=list)
    available: bool | None = None  # None until the first scrape
    _task: asyncio.Task[None] | None = None
    _client: httpx.AsyncClient | None = None

    async def sample(self) -> None:
        """Take one sample now (also called at the start and end of every step, so short steps have data)."""
        if self._client is None or self.available is False:
            return
        try:
            r = await self._client.get(self.url)
        except (httpx.HTTPError, ValueError):
            self.available = bool(self.samples)
            return
        vals = parse_metrics(r.text) if r.status_code == 200 else {}
        if vals:
            self.samples.append((asyncio.get_running_loop().time(), vals))
        self.available = bool(vals) or bool(self.samples)

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

    def window(self, t0: float, t1: float) -> ServerMetrics:
        """Mean and max of queue depth, running and KV usage for samples with t0 <= t <= t1."""
        picked = [v for t, v in self.samples if t0 <= t <= t1]
        if not picked:
            return ServerMetrics()

        def series(names: tuple[str, ...]) -> list[float]:
            return [next(v[n] for n in names if n in v) for v in picked if any(n in v for n in names)]

        def mean(xs: list[float]) -> float | None:
            return round(sum(xs) / len(xs), 4) if xs else None

        q, r, k = series(QUEUE), series(RUNNING), series(KV_USAGE)
        names = sorted({n for v in picked for n in v})
        return ServerMetrics(
            samples=len(picked),
            queue_depth_mean=mean(q),
            queue_depth_max=max(q) if q else None,
            running_mean=mean(r),
            running_max=max(r) if r else None,
            kv_usage_mean=mean(k),
            kv_usage_max=max(k) if k else None,
            names=tuple(names),
        )
