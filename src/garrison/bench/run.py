"""Drive the load: concurrency sweep, Poisson rate sweep, max throughput and the max-load-under-SLO search."""

from __future__ import annotations

import asyncio
import math
import random
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from garrison.bench.client import Endpoint, Target, parse_target, request_body, ssl_context, stream_request
from garrison.bench.results import BenchResult, RequestRecord, SloSearch, Step, Workload, summarise_step
from garrison.bench.scrape import Scraper
from garrison.bench.workload import (
    Length,
    Prompt,
    approx_prompts,
    load_dataset,
    server_prompts,
    tokenizer_prompts,
)
from garrison.errors import CheckFailed, InputError

MAX = math.inf  # the rate that means "send every request at once" (max throughput)


@dataclass(frozen=True)
class BenchConfig:
    """Everything one `garrison bench` run needs; the CLI builds it from its options."""

    url: str
    model: str
    api_key: str | None = None
    endpoint: Endpoint = "chat"
    concurrency: tuple[int, ...] = ()
    rates: tuple[float, ...] = ()  # requests/s; MAX = all at once
    slo_search: bool = False
    num_requests: int = 100
    duration_s: float | None = None
    input_len: Length = field(default_factory=lambda: Length(256, 256))
    output_len: Length = field(default_factory=lambda: Length(128, 128))
    dataset: str | None = None
    tokenizer: str = "auto"  # auto | server | approx | PATH to a model folder / tokenizer.json
    slo_ttft_ms: float | None = None
    slo_itl_ms: float | None = None
    ignore_eos: bool = True
    request_timeout_s: float = 300.0
    ca: str | None = None
    insecure: bool = False
    metrics_url: str | None = None  # default: <root>/metrics
    scrape_interval_s: float = 0.5
    search_iterations: int = 5
    seed: int = 0
    progress: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)


def _preflight(cfg: BenchConfig, target: Target, verify: Any) -> None:
    """Fail fast with one line: unreachable, TLS, refused key, not OpenAI-compatible, unknown model."""
    try:
        r = httpx.get(target.api + "/models", headers=target.headers, verify=verify, timeout=15)
    except httpx.ConnectError as e:
        if "CERTIFICATE" in str(e).upper() or "SSL" in str(e).upper():
            raise CheckFailed(
                "URL", f"TLS failed for {target.root}: {e}", "pass --ca FILE or --insecure"
            ) from None
        raise CheckFailed(
            "URL", f"cannot connect to {target.root}: {e}", "check the address and that the server runs"
        ) from None
    except httpx.HTTPError as e:
        raise CheckFailed(
            "URL", f"{target.root} did not answer: {type(e).__name__}: {e}", "check the server"
        ) from None
    if r.status_code in (401, 403):
        raise CheckFailed(
            "--api-key",
            f"the server refused the key (HTTP {r.status_code})",
            "give a valid key with --api-key",
        )
    try:
        data = r.json().get("data") if r.status_code == 200 else None
    except ValueError:
        data = None
    if not isinstance(data, list):
        raise CheckFailed(
            "URL",
            f"{target.api}/models answered HTTP {r.status_code} without an OpenAI model list",
            "point at an OpenAI-compatible server (vLLM, SGLang, llama.cpp, TGI ...)",
        )
    ids = [str(m.get("id")) for m in data if isinstance(m, dict)]
    if ids and cfg.model not in ids:
        raise InputError(
            "--model", f"{cfg.model!r} is not served here; served: {', '.join(ids)}", "pick one of them"
        )


def _prompts(cfg: BenchConfig, target: Target, verify: Any, rng: random.Random) -> tuple[list[Prompt], str]:
    n = min(cfg.num_requests, 256) if cfg.duration_s is None else 256
    if cfg.dataset:
        return load_dataset(cfg.dataset, cfg.output_len, rng), f"dataset {cfg.dataset}"
    if cfg.tokenizer not in ("auto", "server", "approx"):
        return tokenizer_prompts(
            cfg.tokenizer, n, cfg.input_len, cfg.output_len, rng
        ), f"tokenizer {cfg.tokenizer}"
    if cfg.tokenizer in ("auto", "server"):
        got = server_prompts(target, cfg.model, n, cfg.input_len, cfg.output_len, rng, verify)
        if got is not None:
            return got, "exact: server /tokenize"
        if cfg.tokenizer == "server":
            raise CheckFailed(
                "--tokenizer",
                f"{target.root}/tokenize is not available",
                "use --tokenizer approx or a model folder",
            )
    return approx_prompts(n, cfg.input_len, cfg.output_len, rng), "approximate: 4 characters per token"


class _Run:
    """Shared state of one bench run: client, prompts, stop flag, progress callback."""

    def __init__(
        self, cfg: BenchConfig, target: Target, client: httpx.AsyncClient, prompts: list[Prompt]
    ) -> None:
        self.cfg, self.target, self.client = cfg, target, client
        self._prompts = prompts
        self._i = 0
        self.stop = asyncio.Event()
        self.on_done: Callable[[], None] = lambda: None

    def next_prompt(self) -> Prompt:
        p = self._prompts[self._i % len(self._prompts)]
        self._i += 1
        return p

    async def one(self, out: list[RequestRecord]) -> None:
        p = self.next_prompt()
        body = request_body(self.cfg.endpoint, self.cfg.model, p.text, p.max_tokens, self.cfg.ignore_eos)
        rec = await stream_request(self.client, self.target, self.cfg.endpoint, body, p.input_tokens)
        out.append(rec)
        self.on_done()

    def _budget(self) -> Iterator[None]:
        t_end = None if self.cfg.duration_s is None else time.perf_counter() + self.cfg.duration_s
        n = 0
        while not self.stop.is_set():
            if self.cfg.duration_s is None and n >= self.cfg.num_requests:
                return
            if self.cfg.duration_s is not None and self.cfg.num_requests and n >= self.cfg.num_requests > 0:
                return
            if t_end is not None and time.perf_counter() >= t_end:
                return
            n += 1
            yield

    async def _until_stopped(self, tasks: list[asyncio.Task[None]]) -> bool:
        """Wait for the tasks; on Ctrl-C cancel what is in flight. True when interrupted."""
        stopper = asyncio.ensure_future(self.stop.wait())
        pending: set[asyncio.Future[Any]] = set(tasks)
        while pending and not self.stop.is_set():
            _, pending = await asyncio.wait(pending | {stopper}, return_when=asyncio.FIRST_COMPLETED)
            pending.discard(stopper)
        stopper.cancel()
        if self.stop.is_set():
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            return True
        return False

    async def concurrency_step(self, n: int) -> tuple[list[RequestRecord], bool]:
        """N workers, each sending its next request as soon as the previous one ends."""
        out: list[RequestRecord] = []
        budget = self._budget()

        async def worker() -> None:
            for _ in budget:
                await self.one(out)

        interrupted = await self._until_stopped([asyncio.ensure_future(worker()) for _ in range(n)])
        return out, interrupted

    async def rate_step(self, rate: float, rng: random.Random) -> tuple[list[RequestRecord], bool]:
        """Poisson arrivals: exponential gaps with mean 1/rate (MAX sends everything at once)."""
        out: list[RequestRecord] = []
        tasks: list[asyncio.Task[None]] = []

        async def launcher() -> None:
            next_t = time.perf_counter()
            for _ in self._budget():
                if rate != MAX:
                    delay = next_t - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    next_t += rng.expovariate(rate)
                tasks.append(asyncio.ensure_future(self.one(out)))

        launch = asyncio.ensure_future(launcher())
        interrupted = await self._until_stopped([launch])
        interrupted = await self._until_stopped(tasks) or interrupted
        return out, interrupted


def _install_sigint(stop: asyncio.Event) -> Callable[[], None]:
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, stop.set)
    except (NotImplementedError, RuntimeError):  # not the main thread, or no signals here
        return lambda: None

    def remove() -> None:
        loop.remove_signal_handler(signal.SIGINT)

    return remove


async def _run_async(
    cfg: BenchConfig, target: Target, prompts: list[Prompt], verify: Any
) -> tuple[list[Step], SloSearch | None, bool]:
    n_conn = max([*cfg.concurrency, 1, cfg.num_requests if (cfg.rates or cfg.slo_search) else 1])
    limits = httpx.Limits(max_connections=n_conn + 8, max_keepalive_connections=n_conn + 8)
    timeout = httpx.Timeout(cfg.request_timeout_s, connect=min(30.0, cfg.request_timeout_s))
    steps: list[Step] = []
    rng = random.Random(cfg.seed + 1)
    scraper = Scraper(
        cfg.metrics_url or target.root + "/metrics", target.headers, verify, cfg.scrape_interval_s
    )
    # TCP_NODELAY: a request's headers and body go out as separate writes; without it Nagle + delayed
    # ACK can add ~40 ms to TTFT on some stacks.
    transport = httpx.AsyncHTTPTransport(
        verify=verify, limits=limits, socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
    )
    async with httpx.AsyncClient(transport=transport, timeout=timeout) as client:
        run = _Run(cfg, target, client, prompts)
        # one unrecorded warm-up request: connection set-up and lazy imports stay out of the first step
        await run.one([])
        remove_sigint = _install_sigint(run.stop)
        await scraper.start()
        progress = _progress(cfg)
        run.on_done = progress.advance
        interrupted = False
        search: SloSearch | None = None
        loop = asyncio.get_running_loop()

        async def measure(kind: str, value: float) -> Step:
            t0 = loop.time()
            await scraper.sample()
            c0 = time.process_time()
            progress.label(f"{kind} {value:g}")
            if kind == "concurrency":
                recs, intr = await run.concurrency_step(int(value))
            else:
                recs, intr = await run.rate_step(value, rng)
            cpu = time.process_time() - c0
            await scraper.sample()
            step = summarise_step(
                recs,
                mode="concurrency" if kind == "concurrency" else ("max" if value == MAX else "rate"),
                concurrency=int(value) if kind == "concurrency" else None,
                rate=None if kind == "concurrency" or value == MAX else value,
                slo_ttft_ms=cfg.slo_ttft_ms,
                slo_itl_ms=cfg.slo_itl_ms,
                cpu_s=cpu,
                interrupted=intr,
                server=scraper.window(t0, loop.time()),
            )
            steps.append(step)
            return step

        try:
            with progress:
                for c in cfg.concurrency:
                    if run.stop.is_set():
                        break
                    await measure("concurrency", c)
                for r in cfg.rates:
                    if run.stop.is_set():
                        break
                    await measure("rate", r)
                if cfg.slo_search and not run.stop.is_set():
                    search = await _slo_search(cfg, measure, run.stop)
        finally:
            interrupted = run.stop.is_set()
            remove_sigint()
            await scraper.stop()
    return steps, search, interrupted


async def _slo_search(cfg: BenchConfig, measure: Any, stop: asyncio.Event) -> SloSearch:
    """Highest Poisson rate whose P95 TTFT and P95 ITL meet the targets: one max-throughput step gives
    the ceiling, then bisection on (0, ceiling] for `search_iterations` steps."""
    top: Step = await measure("rate", MAX)
    ceiling = top.requests_per_s
    lo, hi = 0.0, ceiling
    best: float | None = None

    def passes(s: Step) -> bool:
        if s.requests == 0:
            return False
        t_ok = cfg.slo_ttft_ms is None or (s.ttft_ms.p95 is not None and s.ttft_ms.p95 <= cfg.slo_ttft_ms)
        i_ok = cfg.slo_itl_ms is None or s.itl_ms.p95 is None or s.itl_ms.p95 <= cfg.slo_itl_ms
        return t_ok and i_ok and not s.errors

    if passes(top):
        best = ceiling
    else:
        for _ in range(cfg.search_iterations):
            if stop.is_set() or ceiling <= 0:
                break
            mid = round((lo + hi) / 2, 4)
            if mid <= 0:
                break
            if passes(await measure("rate", mid)):
                lo, best = mid, mid
            else:
                hi = mid
    return SloSearch(
        slo_ttft_ms=cfg.slo_ttft_ms,
        slo_itl_ms=cfg.slo_itl_ms,
        max_rate_meeting_slo=best,
        max_throughput_rate=round(ceiling, 4),
    )


class _Progress:
    """A rich progress bar on stderr when it is a terminal; otherwise does nothing."""

    def __init__(self, total: int | None, enabled: bool) -> None:
        self._bar: Any = None
        self._task: Any = None
        if enabled and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._task = self._bar.add_task("bench", total=total)

    def __enter__(self) -> _Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def advance(self) -> None:
        if self._bar is not None:
            self._bar.advance(self._task)

    def label(self, text: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, description=text)


def _progress(cfg: BenchConfig) -> _Progress:
    steps = len(cfg.concurrency) + len(cfg.rates) + (1 + cfg.search_iterations if cfg.slo_search else 0)
    return _Progress(None if cfg.duration_s else steps * cfg.num_requests, cfg.progress)


def run_bench(cfg: BenchConfig) -> BenchResult:
    """Run the whole benchmark and return its result; Ctrl-C ends it early with what was measured."""
    if not (cfg.concurrency or cfg.rates or cfg.slo_search):
        cfg = BenchConfig(**{**cfg.__dict__, "concurrency": (1,)})
    if cfg.slo_search and cfg.slo_ttft_ms is None and cfg.slo_itl_ms is None:
        raise InputError("--rate", "the SLO search needs a target", "give --slo-ttft-ms and/or --slo-itl-ms")
    if cfg.num_requests < 1 and cfg.duration_s is None:
        raise InputError("--num-requests", "must be at least 1", "give --num-requests N or --duration S")
    target = parse_target(cfg.url, cfg.api_key)
    verify = ssl_context(cfg.ca, cfg.insecure)
    _preflight(cfg, target, verify)
    rng = random.Random(cfg.seed)
    prompts, source = _prompts(cfg, target, verify, rng)
    steps, search, interrupted = asyncio.run(_run_async(cfg, target, prompts, verify))
    notes = list(cfg.notes)
    if any(not s.tokens_from_usage for s in steps if s.requests):
        notes.append(
            "some token counts are approximate: the server sent no usage, one chunk counted as one token"
        )
    return BenchResult(
        url=cfg.url,
        model=cfg.model,
        workload=Workload(
            endpoint=cfg.endpoint,
            input_len=str(cfg.input_len),
            output_len=str(cfg.output_len),
            dataset=cfg.dataset,
            prompt_source=source,
            ignore_eos=cfg.ignore_eos,
        ),
        slo_ttft_ms=cfg.slo_ttft_ms,
        slo_itl_ms=cfg.slo_itl_ms,
        interrupted=interrupted,
        steps=tuple(steps),
        slo_search=search,
        notes=tuple(notes),
    )
