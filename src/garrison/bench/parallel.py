"""Several client processes share each step's load (`--workers N`).

One asyncio loop reads every stream: at about 0.1 ms of CPU per streamed token, one core follows
~10,000 tokens/s, and past that the loop's own queueing lands in the TTFT and ITL it measures (what
made TTFT degrade earlier than AIPerf's, which reads streams in worker processes, above 128 req/s).
Here each worker process runs the same `_Run` code on a share of the load: concurrency and request
counts split as evenly as integers allow, open-loop rates divided by N (the superposition of N
Poisson processes of rate r/N is a Poisson process of rate r; constant arrivals are offset by 1/r
per worker; gamma is approximate), trace rows dealt round-robin at their own times. All processes
start at one moment on the shared monotonic clock (CLOCK_MONOTONIC, which `time.perf_counter` reads
on Linux), so their records merge into one step. `--max-error-rate` is checked per worker.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import random
import signal
import time
from dataclasses import replace
from typing import Any

import httpx

from garrison.bench.arrivals import trace_times
from garrison.bench.client import Target, ssl_context
from garrison.bench.results import RequestRecord
from garrison.bench.run import MAX, BenchConfig, Budget, ClientPool, Load, PromptSource, TraceRow, _Run
from garrison.bench.workload import PromptMaker

_STATE: dict[str, Any] = {}
_START_MARGIN_S = 0.3  # time for every worker to receive its share before the common start


def _init(cfg: BenchConfig, target: Target, prompts: PromptSource, stop: Any, index: Any) -> None:
    """Worker process start: its own loop, client pool and prompt maker; one request opens a connection."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the workers through `stop`
    with index.get_lock():
        i = index.value
        index.value += 1
    if isinstance(prompts, PromptMaker):
        prompts = prompts.for_worker(i, str(cfg.seed))
    loop = asyncio.new_event_loop()
    timeout = httpx.Timeout(cfg.request_timeout_s, connect=min(30.0, cfg.request_timeout_s))
    pool = ClientPool(ssl_context(cfg.ca, cfg.insecure), timeout)
    _STATE.update(loop=loop, target=target, prompts=prompts, pool=pool, stop=stop, index=i)
    loop.run_until_complete(_Run(cfg, target, pool, prompts, random.Random()).one([]))


async def _watch(stop: Any, run: _Run) -> None:
    while not stop.is_set():
        await asyncio.sleep(0.05)
    run.stop.set()


def _step(
    cfg: BenchConfig, load: Load, start_at: float, overhead: int, seed: str
) -> tuple[list[RequestRecord], bool, str | None, float]:
    """Run this worker's share of one step; returns its records, Ctrl-C, stop reason and CPU seconds."""
    st = _STATE
    run = _Run(cfg, st["target"], st["pool"], st["prompts"], random.Random(f"{seed}/{st['index']}"))
    run.overhead = overhead
    c0 = time.process_time()

    async def go() -> tuple[list[RequestRecord], bool]:
        watcher = asyncio.ensure_future(_watch(st["stop"], run))
        try:
            await asyncio.sleep(max(0.0, start_at - time.perf_counter()))
            return await run.run_step(load, start_at)
        finally:
            watcher.cancel()

    recs, intr = st["loop"].run_until_complete(go())
    return recs, intr, run.step_reason, time.process_time() - c0


def _ready(hold_s: float) -> int:
    """Answer once this worker has started (and warmed up); hold it so the next call lands elsewhere."""
    time.sleep(hold_s)
    return int(_STATE["index"])


def _part(total: int, i: int, n: int) -> int:
    return total // n + (1 if i < total % n else 0)


def split(cfg: BenchConfig, load: Load, n: int) -> list[tuple[BenchConfig, Load, float]]:
    """Each worker's (config, load, start delay in seconds); workers left with nothing are left out."""
    times = trace_times([r.arrival_s for r in cfg.trace], load.value or None) if load.kind == "trace" else []
    out = []
    for i in range(n):
        kw: dict[str, Any] = {"num_requests": _part(cfg.num_requests, i, n) if cfg.num_requests else 0}
        for name in ("warmup", "cooldown"):
            b: Budget | None = getattr(cfg, name)
            if b is not None and b.requests is not None:
                kw[name] = Budget(requests=_part(b.requests, i, n))
        if cfg.max_concurrency is not None:
            kw["max_concurrency"] = max(1, _part(cfg.max_concurrency, i, n))
        delay = 0.0
        if load.kind == "concurrency":
            share = Load("concurrency", _part(int(load.value), i, n))
            if share.value == 0:
                continue
        elif load.kind == "trace":
            mine = list(range(i, len(cfg.trace), n))
            if not mine:
                continue
            kw["trace"] = tuple(
                TraceRow(times[j], cfg.trace[j].input_tokens, cfg.trace[j].output_tokens) for j in mine
            )
            extra = sum(getattr(cfg, x).requests or 0 for x in ("warmup", "cooldown") if getattr(cfg, x))
            kw["num_requests"] = max(0, len(mine) - extra)
            share, delay = Load("trace"), times[mine[0]]
        elif load.value == MAX:
            share = load
        else:
            end = None if load.rate_end is None else load.rate_end / n
            share = Load("rate", load.value / n, end)
            if cfg.arrival.process == "constant":
                delay = i / load.value
        if load.kind != "trace" and kw["num_requests"] == 0 and cfg.duration_s is None:
            continue
        out.append((replace(cfg, **kw), share, delay))
    return out


class Workers:
    """A pool of `cfg.workers` client processes, started once per run (spawned: no inherited loop)."""

    def __init__(self, cfg: BenchConfig, target: Target, prompts: PromptSource, overhead: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.cfg, self.overhead = cfg, overhead
        self._stop = ctx.Event()
        self._n = cfg.workers
        shared = prompts
        if isinstance(prompts, PromptMaker):
            shared = prompts.for_worker(-1, str(cfg.seed))  # picklable: no tokenizer client inside
        self._pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=cfg.workers,
            mp_context=ctx,
            initializer=_init,
            initargs=(cfg, target, shared, self._stop, ctx.Value("i", 0)),
        )
        self._steps = 0
        # start every process now (each one's initializer sends its warm-up request), not mid-step
        started = {f.result() for f in [self._pool.submit(_ready, 0.5) for _ in range(cfg.workers)]}
        if len(started) < cfg.workers:  # one process took two: make sure the rest exist too
            for f in [self._pool.submit(_ready, 1.0) for _ in range(2 * cfg.workers)]:
                f.result()

    async def step(
        self, load: Load, stop: asyncio.Event
    ) -> tuple[list[RequestRecord], bool, str | None, float]:
        """Run one step across the workers; merge their records."""
        loop = asyncio.get_running_loop()
        self._steps += 1
        start = time.perf_counter() + _START_MARGIN_S
        futs = [
            loop.run_in_executor(
                self._pool, _step, c, share, start + delay, self.overhead, f"{self.cfg.seed}/{self._steps}"
            )
            for c, share, delay in split(self.cfg, load, self._n)
        ]

        async def relay() -> None:
            await stop.wait()
            self._stop.set()

        relay_task = asyncio.ensure_future(relay())
        try:
            results = await asyncio.gather(*futs)
        finally:
            relay_task.cancel()
        recs = [r for res in results for r in res[0]]
        reason = next((res[2] for res in results if res[2]), None)
        return recs, any(res[1] for res in results), reason, sum(res[3] for res in results)

    def close(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
