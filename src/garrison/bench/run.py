"""Drive the load: concurrency sweep, open-loop rate sweep (Poisson, constant, gamma, ramp, with an
optional concurrency cap), trace replay, max throughput and the max-load-under-SLO search."""

from __future__ import annotations

import asyncio
import math
import random
import signal
import socket
import ssl
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from garrison.bench.arrivals import Arrival, ramp_span_s, schedule, trace_times
from garrison.bench.client import Endpoint, Target, parse_target, request_body, ssl_context, stream_request
from garrison.bench.results import (
    DEFAULT_PERCENTILES,
    DEFAULT_SLO_ATTAINMENT,
    BenchResult,
    Phase,
    RequestRecord,
    SearchStep,
    SloSearch,
    Step,
    Workload,
    summarise_step,
)
from garrison.bench.scrape import Scraper, same_origin
from garrison.bench.workload import (
    DatasetPrompts,
    Length,
    Prompt,
    PromptMaker,
    approx_counter,
    load_dataset,
    server_counter,
    tokenizer_counter,
)
from garrison.errors import CheckFailed, InputError

MAX = math.inf  # the rate that means "send every request at once" (max throughput)
RateSpec = float | tuple[float, float]  # a rate (MAX: all at once) or a ramp (from, to) in req/s
# Statuses that say "too much load" rather than "broken": a search counts them as over capacity.
OVERLOAD_STATUSES = ("http_429", "http_503")
_MIN_FOR_ERROR_RATE = 10  # completed requests before --max-error-rate can stop a step
# One asyncio loop reads every stream: past ~0.8 of a core its own queueing adds to the TTFT and ITL it
# measures (each read waits for the loop). A step that used this much is flagged in the result.
CLIENT_BOUND_SHARE = 0.8


@dataclass(frozen=True)
class Budget:
    """A warm-up or cool-down: a number of requests or a number of seconds."""

    requests: int | None = None
    seconds: float | None = None

    def __str__(self) -> str:
        return f"{self.requests} requests" if self.requests is not None else f"{self.seconds:g} s"


@dataclass(frozen=True)
class TraceRow:
    """One request of a replayed trace: when (seconds, any origin), prompt and output tokens."""

    arrival_s: float
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class BenchConfig:
    """Everything one `garrison bench` run needs; the CLI builds it from its options."""

    url: str
    model: str
    api_key: str | None = None
    endpoint: Endpoint = "chat"
    concurrency: tuple[int, ...] = ()
    rates: tuple[RateSpec, ...] = ()  # requests/s; MAX = all at once; (from, to) = a ramp
    arrival: Arrival = field(default_factory=Arrival)
    max_concurrency: int | None = None  # open loop: at most this many in flight (the rest wait)
    trace: tuple[
        TraceRow, ...
    ] = ()  # replay these arrivals and lengths (one step per --rate, or as recorded)
    trace_name: str | None = None
    slo_search: bool = False
    num_requests: int = 100
    duration_s: float | None = None
    warmup: Budget | None = None  # per step, sent first and not counted
    cooldown: Budget | None = None  # per step, sent last (the load stays on while the measured ones end)
    input_len: Length = field(default_factory=lambda: Length(256, 256))
    output_len: Length = field(default_factory=lambda: Length(128, 128))
    dataset: str | None = None
    tokenizer: str = "auto"  # auto | server | approx | PATH to a model folder / tokenizer.json
    prefix_len: int = 0  # a shared prefix of this many tokens in every prompt
    prefix_share: float = 0.0  # ... or this share of each prompt
    slo_ttft_ms: float | None = None
    slo_itl_ms: float | None = None
    slo_attainment: float = DEFAULT_SLO_ATTAINMENT
    percentiles: tuple[float, ...] = DEFAULT_PERCENTILES
    max_error_rate: float | None = None  # stop a step (and the run) when more requests than this fail
    retry_after: bool = False  # wait and resend on 429/503 with a Retry-After header
    max_retries: int = 3
    ignore_eos: bool = True
    request_timeout_s: float = 300.0
    ca: str | None = None
    insecure: bool = False
    metrics_url: str | None = None  # default: <root>/metrics; "none": do not scrape
    scrape_interval_s: float = 0.5
    search_iterations: int = 5
    seed: int | None = None  # None: a fresh one, recorded in the result
    workers: int = 1  # client processes sharing each step's load
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


PromptSource = PromptMaker | DatasetPrompts


def _prompts(cfg: BenchConfig, target: Target, verify: Any, rng: random.Random) -> tuple[PromptSource, str]:
    """The run's prompt source and a line saying where the lengths come from and how exact they are."""
    if cfg.dataset:
        return DatasetPrompts(load_dataset(cfg.dataset, cfg.output_len, rng)), f"dataset {cfg.dataset}"
    count = None
    source = "approximate: 4 characters per token"
    if cfg.tokenizer not in ("auto", "server", "approx"):
        count, source = tokenizer_counter(cfg.tokenizer), f"exact: tokenizer {cfg.tokenizer}"
    elif cfg.tokenizer in ("auto", "server"):
        count = server_counter(target, cfg.model, verify)
        if count is not None:
            source = "exact: server /tokenize"
        elif cfg.tokenizer == "server":
            raise CheckFailed(
                "--tokenizer",
                f"{target.root}/tokenize is not available",
                "use --tokenizer approx or a model folder",
            )
    # the nonce comes from the system's randomness even with --seed: a repeated run must not find the
    # previous run's prompts in the server's prefix cache
    nonce = random.SystemRandom().randrange(1 << 30)
    kw: dict[str, Any] = {"nonce": nonce, "prefix_len": cfg.prefix_len, "prefix_share": cfg.prefix_share}
    try:
        maker = PromptMaker(count or approx_counter, cfg.input_len, cfg.output_len, rng, **kw)
    except (ValueError, httpx.HTTPError):
        maker = PromptMaker(approx_counter, cfg.input_len, cfg.output_len, rng, **kw)
        source = "approximate: 4 characters per token (the tokenizer has too few single-token words)"
    if count is not None and source.startswith("exact"):
        try:
            exact, worst = maker.check()
            if worst:
                source += f" ({exact} of 3 sampled prompts exact, worst off by {worst} tokens)"
        except (httpx.HTTPError, ValueError):
            pass
    return maker, source


class ClientPool:
    """Idle single-connection clients, reused LIFO. httpcore's shared pool scans every connection on
    each request start and end (O(connections) per request, measured as the top CPU cost at 64+
    streams); one client per in-flight request with its own keep-alive connection avoids that. All
    clients share one SSL context, so CA certificates load once."""

    def __init__(self, verify: ssl.SSLContext | bool, timeout: httpx.Timeout) -> None:
        self._ssl = httpx.create_ssl_context(verify=verify)
        self._timeout = timeout
        self._idle: list[httpx.AsyncClient] = []
        self._all: list[httpx.AsyncClient] = []

    def acquire(self) -> httpx.AsyncClient:
        if self._idle:
            return self._idle.pop()
        # TCP_NODELAY: headers and body go out as separate writes; without it Nagle + delayed ACK
        # can add ~40 ms to TTFT on some stacks.
        transport = httpx.AsyncHTTPTransport(
            verify=self._ssl,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        )
        c = httpx.AsyncClient(transport=transport, timeout=self._timeout)
        self._all.append(c)
        return c

    def release(self, c: httpx.AsyncClient) -> None:
        self._idle.append(c)

    async def aclose(self) -> None:
        await asyncio.gather(*(c.aclose() for c in self._all), return_exceptions=True)


@dataclass(frozen=True)
class Load:
    """One step's load: closed loop (`concurrency`), open loop (`rate`, MAX, a ramp to `rate_end`), or
    the replay of the configured trace (`trace`, rate-scaled when `rate` is set)."""

    kind: str  # concurrency | rate | trace
    value: float = 0.0
    rate_end: float | None = None

    @property
    def mode(self) -> str:
        if self.kind == "concurrency":
            return "concurrency"
        if self.kind == "trace":
            return "trace"
        if self.rate_end is not None:
            return "ramp"
        return "max" if self.value == MAX else "rate"

    @property
    def label(self) -> str:
        if self.kind == "concurrency":
            return f"concurrency {int(self.value)}"
        if self.kind == "trace":
            return "trace" + ("" if self.value == 0 else f" at {self.value:g}/s")
        if self.rate_end is not None:
            return f"ramp {self.value:g}-{self.rate_end:g}/s"
        return "max" if self.value == MAX else f"rate {self.value:g}/s"


class _Run:
    """Shared state of one bench run: clients, prompts, stop flags, progress callback."""

    def __init__(
        self, cfg: BenchConfig, target: Target, pool: ClientPool, prompts: PromptSource, rng: random.Random
    ) -> None:
        self.cfg, self.target, self.pool = cfg, target, pool
        self.prompts = prompts
        self.rng = rng
        self.stop = asyncio.Event()  # Ctrl-C: the whole run
        self.step_stop = asyncio.Event()  # the step exceeded --max-error-rate
        self.step_reason: str | None = None
        self.on_done: Callable[[], None] = lambda: None
        self._sem: asyncio.Semaphore | None = None
        self._failed: dict[str, int] = {}
        self.overhead = 0  # tokens the server adds to a prompt (chat template, BOS), from the warm-up

    async def one(
        self,
        out: list[RequestRecord],
        phase: Phase = "measured",
        prompt: Prompt | None = None,
        scheduled: float | None = None,
    ) -> None:
        p = prompt or self.prompts.next()
        body = request_body(self.cfg.endpoint, self.cfg.model, p.text, p.max_tokens, self.cfg.ignore_eos)
        if self._sem is not None:
            await self._sem.acquire()
        try:
            rec = await self._send(body, p)
        finally:
            if self._sem is not None:
                self._sem.release()
        rec.phase, rec.scheduled_s = phase, scheduled
        out.append(rec)
        self.on_done()
        self._check_error_rate(out)

    async def _send(self, body: dict[str, Any], p: Prompt) -> RequestRecord:
        """One request, resent after a Retry-After wait when asked; latencies count from the first try."""
        first_start: float | None = None
        retries = 0
        while True:
            client = self.pool.acquire()
            try:
                rec = await stream_request(client, self.target, self.cfg.endpoint, body, p.input_tokens)
            finally:
                self.pool.release(client)
            first_start = rec.start_s if first_start is None else first_start
            wait = rec.retry_after_s
            if (
                not self.cfg.retry_after
                or rec.error not in OVERLOAD_STATUSES
                or wait is None
                or retries >= self.cfg.max_retries
                or wait > self.cfg.request_timeout_s
            ):
                break
            retries += 1
            await asyncio.sleep(wait)
        rec.start_s, rec.retries = first_start, retries
        rec.max_tokens, rec.stated_input_tokens = p.max_tokens, p.input_tokens
        return rec

    def _check_error_rate(self, out: list[RequestRecord]) -> None:
        """Stop the step once more than --max-error-rate of its completed requests failed (O(1) per
        request: the counts are kept as requests complete)."""
        limit = self.cfg.max_error_rate
        if limit is None or self.step_stop.is_set() or not out:
            return
        if out[-1].error:
            self._failed[out[-1].error] = self._failed.get(out[-1].error, 0) + 1
        failed = sum(self._failed.values())
        if len(out) >= _MIN_FOR_ERROR_RATE and failed / len(out) > limit:
            detail = ", ".join(f"{k} x{v}" for k, v in sorted(self._failed.items()))
            self.step_reason = (
                f"error rate {failed}/{len(out)} = {failed / len(out):.0%} > --max-error-rate "
                f"{limit:.0%} ({detail})"
            )
            self.step_stop.set()

    def _phases(self, measured: int | None = None) -> Iterator[Phase]:
        """Phase of each request to launch: warm-up, measured (N requests or D seconds), cool-down."""
        cfg = self.cfg
        wu, cd = cfg.warmup, cfg.cooldown
        meas = Budget(measured if measured is not None else (cfg.num_requests or None), cfg.duration_s)
        segments: list[tuple[Phase, Budget]] = [("measured", meas)]
        if wu is not None:
            segments.insert(0, ("warmup", wu))
        if cd is not None:
            segments.append(("cooldown", cd))
        for phase, b in segments:
            t_end = None if b.seconds is None else time.perf_counter() + b.seconds
            n = 0
            while not (self.stop.is_set() or self.step_stop.is_set()):
                if b.requests is not None and n >= b.requests:
                    break
                if t_end is not None and time.perf_counter() >= t_end:
                    break
                if b.requests is None and t_end is None:
                    break
                n += 1
                yield phase

    async def _until_stopped(self, tasks: list[asyncio.Task[None]]) -> bool:
        """Wait for the tasks; on Ctrl-C or an error-rate stop cancel what is in flight. True when
        interrupted by Ctrl-C."""
        stoppers = [asyncio.ensure_future(self.stop.wait()), asyncio.ensure_future(self.step_stop.wait())]
        pending: set[asyncio.Future[Any]] = set(tasks)
        while pending and not (self.stop.is_set() or self.step_stop.is_set()):
            _, pending = await asyncio.wait(pending | set(stoppers), return_when=asyncio.FIRST_COMPLETED)
            pending.difference_update(stoppers)
        for st in stoppers:
            st.cancel()
        if self.stop.is_set() or self.step_stop.is_set():
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return self.stop.is_set()

    async def run_step(self, load: Load, t0: float | None = None) -> tuple[list[RequestRecord], bool]:
        """Run one load level; returns its records (all phases) and whether Ctrl-C interrupted it."""
        self.step_stop.clear()
        self.step_reason = None
        self._failed = {}
        cap = self.cfg.max_concurrency if load.kind != "concurrency" else None
        self._sem = asyncio.Semaphore(cap) if cap else None
        if load.kind == "concurrency":
            return await self._closed_loop(int(load.value))
        return await self._open_loop(load, t0)

    async def _closed_loop(self, n: int) -> tuple[list[RequestRecord], bool]:
        """N workers, each sending its next request as soon as the previous one ends."""
        out: list[RequestRecord] = []
        phases = self._phases()

        async def worker() -> None:
            for phase in phases:
                await self.one(out, phase)

        interrupted = await self._until_stopped([asyncio.ensure_future(worker()) for _ in range(n)])
        return out, interrupted

    async def _open_loop(self, load: Load, start: float | None = None) -> tuple[list[RequestRecord], bool]:
        """Requests sent at scheduled times, whether or not earlier ones have finished."""
        out: list[RequestRecord] = []
        tasks: list[asyncio.Task[None]] = []
        cfg = self.cfg
        if load.kind == "trace":
            rows = list(cfg.trace)
            extra = (cfg.warmup.requests or 0 if cfg.warmup else 0) + (
                cfg.cooldown.requests or 0 if cfg.cooldown else 0
            )
            phases = self._phases(max(0, len(rows) - extra))
            times: Iterator[float] = iter(trace_times([r.arrival_s for r in rows], load.value or None))
            # a trace states what the server counted (template and BOS included): ask for that less the
            # overhead the warm-up request showed, so the replay's usage matches the trace's
            prompts: Iterator[Prompt | None] = (
                self.prompts.make(max(1, r.input_tokens - self.overhead), r.output_tokens) for r in rows
            )
        else:
            phases = self._phases()
            if load.value == MAX:
                times = iter(lambda: 0.0, None)
            else:
                span = 0.0
                if load.rate_end is not None:
                    span = (
                        cfg.duration_s
                        if cfg.duration_s is not None
                        else ramp_span_s(load.value, load.rate_end, self._planned())
                    )
                times = schedule(cfg.arrival, self.rng, load.value, load.rate_end, span)
            prompts = iter(lambda: None, 0)

        async def launcher() -> None:
            t0 = time.perf_counter() if start is None else start
            for at, prompt in zip(times, prompts, strict=False):
                when = t0 + at
                delay = when - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                phase = next(phases, None)  # after the wait: a duration-bound phase ends on time
                if phase is None:
                    return
                scheduled = when if load.value != MAX else None
                tasks.append(asyncio.ensure_future(self.one(out, phase, prompt, scheduled)))

        launch = asyncio.ensure_future(launcher())
        interrupted = await self._until_stopped([launch])
        interrupted = await self._until_stopped(tasks) or interrupted
        return out, interrupted

    def _planned(self) -> int:
        """Requests a count-bounded step sends in all (for the length of a ramp)."""
        cfg = self.cfg
        return (
            (cfg.warmup.requests or 0 if cfg.warmup else 0)
            + cfg.num_requests
            + (cfg.cooldown.requests or 0 if cfg.cooldown else 0)
        )


def _install_sigint(stop: asyncio.Event) -> Callable[[], None]:
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, stop.set)
    except (NotImplementedError, RuntimeError):  # not the main thread, or no signals here
        return lambda: None

    def remove() -> None:
        loop.remove_signal_handler(signal.SIGINT)

    return remove


@dataclass
class _Outcome:
    steps: list[Step] = field(default_factory=list)
    records: list[list[RequestRecord]] = field(default_factory=list)
    search: SloSearch | None = None
    interrupted: bool = False
    stopped: str | None = None
    warnings: tuple[str, ...] = ()
    client_bound: list[str] = field(default_factory=list)


def _loads(cfg: BenchConfig) -> list[Load]:
    loads = [Load("concurrency", c) for c in cfg.concurrency]
    if cfg.trace:
        rates = [r for r in cfg.rates if not isinstance(r, tuple)]
        loads += [Load("trace", r) for r in rates] or [Load("trace")]
    else:
        for r in cfg.rates:
            loads.append(Load("rate", r[0], r[1]) if isinstance(r, tuple) else Load("rate", r))
    return loads


async def _run_async(cfg: BenchConfig, target: Target, prompts: PromptSource, verify: Any) -> _Outcome:
    timeout = httpx.Timeout(cfg.request_timeout_s, connect=min(30.0, cfg.request_timeout_s))
    res = _Outcome()
    rng = random.Random(f"{cfg.seed}/arrivals")
    scraper: Scraper | None = None
    if (cfg.metrics_url or "").lower() != "none":
        url = cfg.metrics_url or target.root + "/metrics"
        headers = target.headers if same_origin(url, target.root) else {}
        scraper = Scraper(url, headers, verify, cfg.scrape_interval_s, cfg.percentiles)
    pool = ClientPool(verify, timeout)
    try:
        run = _Run(cfg, target, pool, prompts, rng)
        # one unrecorded warm-up request: connection set-up and lazy imports stay out of the first step
        first: list[RequestRecord] = []
        await run.one(first)
        if first and first[0].ok and first[0].tokens_from_usage and isinstance(prompts, PromptMaker):
            run.overhead = max(0, first[0].input_tokens - first[0].stated_input_tokens)
        remove_sigint = _install_sigint(run.stop)
        workers = None
        if cfg.workers > 1:
            from garrison.bench.parallel import Workers

            workers = Workers(cfg, target, prompts, run.overhead)
        if scraper is not None:
            await scraper.start()
        progress = _progress(cfg)
        run.on_done = progress.advance
        loop = asyncio.get_running_loop()

        async def measure(load: Load) -> Step:
            t0 = loop.time()
            if scraper is not None:
                await scraper.sample()
            c0 = time.process_time()
            progress.label(load.label)
            if workers is not None:
                recs, intr, reason, worker_cpu = await workers.step(load, run.stop)
            else:
                recs, intr = await run.run_step(load)
                reason, worker_cpu = run.step_reason, 0.0
            cpu = time.process_time() - c0 + worker_cpu
            if scraper is not None:
                await scraper.sample()
            meta: dict[str, Any] = {
                "concurrency": int(load.value) if load.kind == "concurrency" else None,
                "rate": load.value if load.kind != "concurrency" and load.value not in (MAX, 0.0) else None,
                "rate_end": load.rate_end,
                "arrival": (
                    f"trace {cfg.trace_name}"
                    if load.kind == "trace"
                    else (str(cfg.arrival) if load.mode in ("rate", "ramp") else None)
                ),
                "max_concurrency": cfg.max_concurrency if load.kind != "concurrency" else None,
                "interrupted": intr,
                "stopped": reason,
                "server": scraper.window(t0, loop.time()) if scraper is not None else None,
            }
            step = summarise_step(
                recs,
                mode=load.mode,  # type: ignore[arg-type]
                slo_ttft_ms=cfg.slo_ttft_ms,
                slo_itl_ms=cfg.slo_itl_ms,
                cpu_s=cpu,
                percentiles=cfg.percentiles,
                **{k: v for k, v in meta.items() if v is not None},
            )
            busy = cpu / step.duration_s if step.duration_s > 0 else 0.0
            if busy >= CLIENT_BOUND_SHARE and step.duration_s >= 1.0:  # short steps: start-up dominates
                res.client_bound.append(f"{load.label}: {busy:.2f}")
            res.steps.append(step)
            res.records.append(recs)
            return step

        try:
            with progress:
                for load in _loads(cfg):
                    if run.stop.is_set():
                        break
                    step = await measure(load)
                    if step.stopped:
                        res.stopped = f"{load.label}: {step.stopped}"
                        break
                if cfg.slo_search and not run.stop.is_set() and res.stopped is None:
                    res.search = await _slo_search(cfg, measure, run.stop)
        finally:
            res.interrupted = run.stop.is_set()
            remove_sigint()
            if workers is not None:
                workers.close()
            if scraper is not None:
                await scraper.stop()
                res.warnings = scraper.warnings()
    finally:
        await pool.aclose()
    return res


def judge_step(cfg: BenchConfig, s: Step) -> tuple[bool, str]:
    """Whether a step is under the SLO, and why (not): rate limiting or overload answers mean "over
    capacity"; other errors above --max-error-rate (default: any) fail it; then at least
    `slo_attainment` of the measured requests must meet every target (the goodput definition)."""
    total = s.requests + sum(s.errors.values())
    if total == 0:
        return False, "no request completed"
    over = {k: v for k, v in s.errors.items() if k in OVERLOAD_STATUSES}
    if over:
        detail = ", ".join(f"HTTP {k[5:]} on {v} of {total} requests" for k, v in over.items())
        return False, f"over capacity: the server rate-limited or shed load ({detail})"
    if s.stopped:
        return False, s.stopped
    failed = sum(s.errors.values())
    allowed = cfg.max_error_rate or 0.0
    if failed / total > allowed:
        detail = ", ".join(f"{k} x{v}" for k, v in s.errors.items())
        return False, f"errors: {failed} of {total} requests failed ({detail})"
    att = s.slo_attainment if s.slo_attainment is not None else 1.0
    if att < cfg.slo_attainment:
        return False, f"SLO attainment {att:.1%} < {cfg.slo_attainment:.0%}"
    return True, f"SLO attainment {att:.1%}"


async def _slo_search(cfg: BenchConfig, measure: Any, stop: asyncio.Event) -> SloSearch:
    """Highest rate at which at least `slo_attainment` of the requests meet every target: one
    max-throughput step gives the ceiling, then bisection on (0, ceiling] for `search_iterations` steps."""
    top: Step = await measure(Load("rate", MAX))
    ceiling = top.requests_per_s
    lo, hi = 0.0, ceiling
    best: float | None = None
    ok, why = judge_step(cfg, top)
    tried = [SearchStep(rate=None, passed=ok, reason=why)]
    if ok:
        best = ceiling
    else:
        for _ in range(cfg.search_iterations):
            if stop.is_set() or ceiling <= 0:
                break
            mid = round((lo + hi) / 2, 4)
            if mid <= 0:
                break
            ok, why = judge_step(cfg, await measure(Load("rate", mid)))
            tried.append(SearchStep(rate=mid, passed=ok, reason=why))
            if ok:
                lo, best = mid, mid
            else:
                hi = mid
    return SloSearch(
        slo_ttft_ms=cfg.slo_ttft_ms,
        slo_itl_ms=cfg.slo_itl_ms,
        max_rate_meeting_slo=best,
        max_throughput_rate=round(ceiling, 4),
        attainment=cfg.slo_attainment,
        tried=tuple(tried),
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
    steps = len(_loads(cfg)) + (1 + cfg.search_iterations if cfg.slo_search else 0)
    return _Progress(None if cfg.duration_s else steps * cfg.num_requests, cfg.progress)


def _validate(cfg: BenchConfig) -> BenchConfig:
    if not (cfg.concurrency or cfg.rates or cfg.slo_search or cfg.trace):
        cfg = replace(cfg, concurrency=(1,))
    if cfg.slo_search and cfg.slo_ttft_ms is None and cfg.slo_itl_ms is None:
        raise InputError("--rate", "the SLO search needs a target", "give --slo-ttft-ms and/or --slo-itl-ms")
    if cfg.num_requests < 1 and cfg.duration_s is None:
        raise InputError("--num-requests", "must be at least 1", "give --num-requests N or --duration S")
    if not 0.0 <= cfg.prefix_share < 1.0:
        raise InputError("--prefix-share", f"{cfg.prefix_share} is not in [0, 1)", "e.g. 0.5")
    if cfg.prefix_len and cfg.prefix_share:
        raise InputError("--prefix-len", "--prefix-len and --prefix-share exclude each other", "give one")
    if cfg.prefix_len < 0 or (cfg.prefix_len and cfg.prefix_len >= cfg.input_len.lo):
        raise InputError(
            "--prefix-len",
            f"{cfg.prefix_len} must be below the shortest prompt ({cfg.input_len.lo} tokens)",
            "shorten the prefix or lengthen --input-len",
        )
    if cfg.max_error_rate is not None and not 0.0 <= cfg.max_error_rate < 1.0:
        raise InputError("--max-error-rate", f"{cfg.max_error_rate} is not in [0, 1)", "e.g. 0.05")
    if not 0.0 < cfg.slo_attainment <= 1.0:
        raise InputError("--slo-attainment", f"{cfg.slo_attainment} is not in (0, 1]", "e.g. 0.95")
    if cfg.workers < 1:
        raise InputError("--workers", "must be at least 1", "e.g. --workers 4")
    if cfg.max_concurrency is not None and cfg.max_concurrency < 1:
        raise InputError("--max-concurrency", "must be at least 1", "e.g. --max-concurrency 64")
    for q in cfg.percentiles:
        if not 0.0 <= q <= 100.0:
            raise InputError("--percentiles", f"{q:g} is not in 0..100", "e.g. 50,90,99,99.9")
    if cfg.seed is None:
        cfg = replace(cfg, seed=random.SystemRandom().randrange(1 << 31))
    return cfg


def run_bench_records(cfg: BenchConfig) -> tuple[BenchResult, list[list[RequestRecord]]]:
    """Run the benchmark; return its result and, aligned with `result.steps`, every request's record."""
    cfg = _validate(cfg)
    target = parse_target(cfg.url, cfg.api_key)
    verify = ssl_context(cfg.ca, cfg.insecure)
    _preflight(cfg, target, verify)
    rng = random.Random(f"{cfg.seed}/prompts")
    prompts, source = _prompts(cfg, target, verify, rng)
    out = asyncio.run(_run_async(cfg, target, prompts, verify))
    notes = list(cfg.notes)
    if any(not s.tokens_from_usage for s in out.steps if s.requests):
        notes.append(
            "some token counts are approximate: the server sent no usage, one chunk counted as one token"
        )
    unique = isinstance(prompts, PromptMaker)
    if isinstance(prompts, DatasetPrompts) and prompts.repeated:
        notes.append(
            f"dataset prompts were re-sent ({prompts.sent} requests): a prefix cache may serve the repeats"
        )
    if isinstance(prompts, PromptMaker) and cfg.input_len.lo < prompts.marker_tokens:
        unique = False
        notes.append(
            f"prompts shorter than {prompts.marker_tokens} tokens cannot all be unique: "
            "some may hit a prefix cache"
        )
    shared = (
        f"{cfg.prefix_len} tokens"
        if cfg.prefix_len
        else (f"{cfg.prefix_share:.0%}" if cfg.prefix_share else None)
    )
    result = BenchResult(
        url=cfg.url,
        model=cfg.model,
        workload=Workload(
            endpoint=cfg.endpoint,
            input_len="trace" if cfg.trace else str(cfg.input_len),
            output_len="trace" if cfg.trace else str(cfg.output_len),
            dataset=cfg.dataset,
            prompt_source=source,
            ignore_eos=cfg.ignore_eos,
            unique_prompts=unique,
            shared_prefix=shared,
            warmup=str(cfg.warmup) if cfg.warmup else None,
            cooldown=str(cfg.cooldown) if cfg.cooldown else None,
            seed=cfg.seed,
            percentiles=cfg.percentiles,
        ),
        slo_ttft_ms=cfg.slo_ttft_ms,
        slo_itl_ms=cfg.slo_itl_ms,
        interrupted=out.interrupted,
        steps=tuple(out.steps),
        slo_search=out.search,
        notes=tuple(notes),
        warnings=out.warnings
        + (
            (
                "the load generator used most of a CPU core in "
                + ", ".join(out.client_bound)
                + " (cores): its own queueing is in those TTFT/ITL numbers; use fewer streams per "
                "process or a faster machine for the client",
            )
            if out.client_bound
            else ()
        ),
        stopped=out.stopped,
    )
    return result, out.records


def run_bench(cfg: BenchConfig) -> BenchResult:
    """Run the whole benchmark and return its result; Ctrl-C ends it early with what was measured."""
    return run_bench_records(cfg)[0]
