"""The requests a simulation serves: arrival times, prompt and output lengths, prefix-cache hits.

Everything here is pure and seeded: the same `Workload` and seed give the same requests.
Parsing of trace text (CSV or a `garrison bench` results.json) is pure too; reading the file
is left to the caller (the CLI), so the core never touches the disk.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, model_validator

from garrison.errors import InputError

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LengthDist(_Frozen):
    """A token-length distribution, sampled as integers clipped to [low, high].

    kinds: `fixed` (always `mean`), `uniform` on [low, high], `lognormal` with the given
    arithmetic `mean` and log-space `sigma`, `normal` with `mean` and `std` clipped to [low, high].
    """

    kind: Literal["fixed", "uniform", "lognormal", "normal"] = "fixed"
    mean: float = 0.0
    std: float = 0.0
    sigma: float = 0.0
    low: int = 1
    high: int = 1_000_000

    @model_validator(mode="after")
    def _samplable(self) -> LengthDist:
        def bad(problem: str, fix: str) -> InputError:
            return InputError(f"length distribution {self.describe()}", problem, fix)

        if self.low < 1 or self.high < self.low:
            raise bad("needs 1 <= low <= high", "give a positive range, e.g. uniform:128-1024")
        if self.kind == "fixed":
            if not (self.mean >= 1 and float(self.mean).is_integer()):
                raise bad("a fixed length must be a whole number >= 1", "e.g. --input-len 512")
        elif self.kind == "lognormal":
            if not (self.mean > 0 and math.isfinite(self.mean)) or not (0 < self.sigma < 5):
                raise bad("lognormal needs mean > 0 and 0 < sigma < 5", "e.g. lognormal:512:0.6")
        elif self.kind == "normal":
            if not (math.isfinite(self.mean) and math.isfinite(self.std) and self.std >= 0):
                raise bad("normal needs a finite mean and std >= 0", "e.g. normal:512:128")
            # A normal whose mass lies almost entirely outside [low, high] samples only the clip bound.
            if self.std > 0 and (self.mean + 6 * self.std < self.low or self.mean - 6 * self.std > self.high):
                raise bad("almost no probability inside [low, high]", "move the mean inside the range")
            if self.std == 0 and not (self.low <= self.mean <= self.high):
                raise bad("the fixed mean lies outside [low, high]", "move the mean inside the range")
        return self

    def describe(self) -> str:
        """Short text form, the same syntax `parse` accepts."""
        if self.kind == "fixed":
            return f"{self.mean:g}"
        if self.kind == "uniform":
            return f"uniform:{self.low}-{self.high}"
        if self.kind == "lognormal":
            return f"lognormal:{self.mean:g}:{self.sigma:g}"
        return f"normal:{self.mean:g}:{self.std:g}"

    @classmethod
    def parse(cls, text: str, field: str = "length") -> LengthDist:
        """`512`, `uniform:128-1024`, `lognormal:MEAN:SIGMA`, `normal:MEAN:STD[:LOW-HIGH]`."""
        t = text.strip().lower()
        fix = "use 512, uniform:128-1024, lognormal:512:0.6 or normal:512:128[:1-4096]"
        try:
            if ":" not in t:
                return cls(kind="fixed", mean=float(int(t)))
            kind, _, rest = t.partition(":")
            if kind == "uniform":
                lo, hi = rest.split("-")
                return cls(kind="uniform", low=int(lo), high=int(hi))
            parts = rest.split(":")
            if kind == "lognormal" and len(parts) == 2:
                return cls(kind="lognormal", mean=float(parts[0]), sigma=float(parts[1]))
            if kind == "normal" and len(parts) in (2, 3):
                lo, hi = parts[2].split("-") if len(parts) == 3 else ("1", "1000000")
                return cls(
                    kind="normal", mean=float(parts[0]), std=float(parts[1]), low=int(lo), high=int(hi)
                )
        except InputError as e:
            raise InputError(field, e.problem, e.fix) from None
        except ValueError:
            pass
        raise InputError(field, f"cannot read length distribution {text!r}", fix)

    def sample(self, rng: np.random.Generator, n: int) -> IntArray:
        """`n` integer lengths."""
        if self.kind == "fixed":
            return np.full(n, int(self.mean), dtype=np.int64)
        if self.kind == "uniform":
            return rng.integers(self.low, self.high + 1, size=n, dtype=np.int64)
        if self.kind == "lognormal":
            # Arithmetic mean m of a lognormal is exp(mu + sigma^2/2), so mu = ln m - sigma^2/2.
            mu = math.log(self.mean) - self.sigma**2 / 2
            x = rng.lognormal(mu, self.sigma, size=n)
        else:
            x = rng.normal(self.mean, self.std, size=n)
        return np.clip(np.rint(x), self.low, self.high).astype(np.int64)

    @property
    def expected(self) -> float:
        """Mean of the (unclipped) distribution, for sizing rules of thumb."""
        return (self.low + self.high) / 2 if self.kind == "uniform" else self.mean


MAX_SIMULATED_REQUESTS = 100_000


class Workload(_Frozen):
    """Synthetic traffic: arrivals at `rate_per_s` (Poisson, or Poisson bursts of `burst_size`)."""

    rate_per_s: float
    num_requests: int = 1000
    input_len: LengthDist = LengthDist(kind="fixed", mean=512)
    output_len: LengthDist = LengthDist(kind="fixed", mean=128)
    burst_size: int = 1
    prefix_hit_rate: float = 0.0  # fraction of each prompt already in the prefix cache

    @model_validator(mode="after")
    def _valid(self) -> Workload:
        if not (self.rate_per_s > 0 and math.isfinite(self.rate_per_s)):
            raise InputError(
                "rate",
                f"must be a positive number of requests per second, got {self.rate_per_s}",
                "give e.g. --rate 2.5",
            )
        # 100,000 simulated requests take about 35 s and 0.6 GB; a million took 250 s and 5.7 GB
        if not 1 <= self.num_requests <= MAX_SIMULATED_REQUESTS:
            raise InputError(
                "num_requests",
                f"must be 1 to {MAX_SIMULATED_REQUESTS:,}",
                "give e.g. --num-requests 1000 (P95s settle within a few thousand)",
            )
        if not 1 <= self.burst_size <= self.num_requests:
            raise InputError(
                "burst_size",
                "must be at least 1 and at most --num-requests",
                "use 1 for plain Poisson arrivals",
            )
        if not 0.0 <= self.prefix_hit_rate < 1.0:
            raise InputError(
                "prefix_hit_rate", "must be in [0, 1)", "e.g. 0.3 for 30% of prompt tokens cached"
            )
        return self


@dataclass(frozen=True)
class Requests:
    """The requests of one simulation as parallel arrays, sorted by arrival."""

    arrival_s: FloatArray
    input_tokens: IntArray
    output_tokens: IntArray
    cached_tokens: IntArray  # prompt tokens found in the prefix cache on first admission

    def __len__(self) -> int:
        return len(self.arrival_s)


def generate_requests(workload: Workload, seed: int = 0) -> Requests:
    """Samples the workload's requests with a seeded numpy Generator.

    Poisson arrivals: inter-arrival gaps are exponential with mean 1/rate. Bursts: groups of
    `burst_size` requests arrive together, groups themselves Poisson at rate/burst_size, so the
    long-run rate is unchanged. Independent streams per quantity (arrivals, inputs, outputs) keep
    common random numbers across rates: at a higher rate the same requests just come sooner.
    """
    n = workload.num_requests
    arr_rng, in_rng, out_rng = (np.random.default_rng([seed, i]) for i in range(3))
    b = workload.burst_size
    groups = -(-n // b)
    gaps = arr_rng.standard_exponential(groups) * (b / workload.rate_per_s)
    arrival = np.repeat(np.cumsum(gaps), b)[:n]
    inp = workload.input_len.sample(in_rng, n)
    out = workload.output_len.sample(out_rng, n)
    cached = np.floor(inp * workload.prefix_hit_rate).astype(np.int64)
    return Requests(arrival.astype(np.float64), inp, out, cached)


def requests_from_rows(
    rows: list[tuple[float, int, int]], source: str, prefix_hit_rate: float = 0.0
) -> Requests:
    """Requests from (arrival_s, input_tokens, output_tokens) rows, sorted by arrival."""
    if not rows:
        raise InputError(source, "the trace has no requests", "give at least one row")
    arr = np.array([r[0] for r in rows], dtype=np.float64)
    order = np.argsort(arr, kind="stable")
    inp = np.array([r[1] for r in rows], dtype=np.int64)[order]
    out = np.array([r[2] for r in rows], dtype=np.int64)[order]
    arr = arr[order] - arr[order][0]
    cached = np.floor(inp * prefix_hit_rate).astype(np.int64)
    return Requests(arr, inp, out, cached)


def _row(source: str, where: str, a: object, i: object, o: object) -> tuple[float, int, int]:
    try:
        arrival, inp, out = float(str(a)), int(str(i)), int(str(o))
    except (TypeError, ValueError):
        raise InputError(
            source,
            f"{where}: cannot read ({a!r}, {i!r}, {o!r}) as numbers",
            "each row needs arrival_s (seconds), input_tokens and output_tokens",
        ) from None
    if not (math.isfinite(arrival) and arrival >= 0) or inp < 1 or out < 1:
        raise InputError(
            source,
            f"{where}: needs arrival_s >= 0 and token counts >= 1, got ({arrival}, {inp}, {out})",
            "fix or drop the row",
        )
    return arrival, inp, out


def parse_trace_csv(text: str, source: str = "trace") -> list[tuple[float, int, int]]:
    """Rows of a CSV with header `arrival_s,input_tokens,output_tokens`."""
    reader = csv.reader(io.StringIO(text))
    header = [h.strip() for h in next(reader, [])]
    want = ["arrival_s", "input_tokens", "output_tokens"]
    if header[:3] != want:
        raise InputError(
            source, f"header is {header!r}", "the first line must be arrival_s,input_tokens,output_tokens"
        )
    rows = []
    for line_no, rec in enumerate(reader, start=2):
        if not rec or all(not c.strip() for c in rec):
            continue
        if len(rec) < 3:
            raise InputError(source, f"line {line_no}: {len(rec)} columns", "each row needs three columns")
        rows.append(_row(source, f"line {line_no}", rec[0], rec[1], rec[2]))
    return rows


def parse_bench_json(text: str, source: str = "bench results") -> list[tuple[float, int, int]]:
    """Rows from a `garrison bench` results.json: its `requests` list.

    Each request needs `input_tokens`, `output_tokens` and a start time (`arrival_s`, `start_s`
    or `sent_s`, seconds from any origin).
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(
            source, f"not JSON ({e.msg} at line {e.lineno})", "give a garrison bench results.json"
        ) from None
    reqs = data.get("requests") if isinstance(data, dict) else None
    if not isinstance(reqs, list):
        raise InputError(
            source, "no `requests` list", "give a garrison bench results.json with per-request records"
        )
    rows = []
    for n, r in enumerate(reqs):
        if not isinstance(r, dict):
            raise InputError(source, f"request {n} is not an object", "each request is a JSON object")
        start = next((r[k] for k in ("arrival_s", "start_s", "sent_s") if k in r), None)
        rows.append(_row(source, f"request {n}", start, r.get("input_tokens"), r.get("output_tokens")))
    return rows


def parse_requests_jsonl(text: str, source: str = "requests") -> list[tuple[float, int, int]]:
    """Rows from JSON lines, one request per line, e.g. `garrison bench --export-requests FILE`:
    each line needs `arrival_s` (or `start_s`/`sent_s`), `input_tokens` and `output_tokens`."""
    rows = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            raise InputError(source, f"line {line_no} is not JSON", "one JSON object per line") from None
        if not isinstance(r, dict):
            raise InputError(source, f"line {line_no} is not an object", "one JSON object per line")
        start = next((r[k] for k in ("arrival_s", "start_s", "sent_s") if k in r), None)
        rows.append(_row(source, f"line {line_no}", start, r.get("input_tokens"), r.get("output_tokens")))
    return rows


def parse_trace_file(text: str, suffix: str, source: str) -> list[tuple[float, int, int]]:
    """A trace by its file type: `.jsonl` per-request lines, `.json` a bench results.json, else CSV."""
    if suffix == ".jsonl":
        return parse_requests_jsonl(text, source)
    if suffix == ".json":
        return parse_bench_json(text, source)
    return parse_trace_csv(text, source)
