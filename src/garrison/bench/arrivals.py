"""When each request of an open-loop step is sent: constant, Poisson or gamma gaps at a fixed rate or a
linear ramp, or the times of a recorded trace (pure; seconds from the step's start).

Every process is a *unit-rate* renewal process (gaps with mean 1) mapped through the inverse of the
cumulative rate Λ(t) = ∫ rate: for a fixed rate r, t = s / r; for a ramp from r0 to r1 over T seconds,
Λ(t) = r0·t + (r1 − r0)·t² / (2T), solved for t. This is the standard time-change construction of a
non-homogeneous process (Çinlar, "Introduction to Stochastic Processes", 1975, ch. 4).

Gamma gaps with shape b and mean 1 (scale 1/b) give the burstiness of vLLM's `bench serve
--burstiness`: b = 1 is Poisson, b < 1 burstier, b > 1 more regular; the coefficient of variation of
the gaps is 1/√b.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from garrison.errors import InputError

Process = Literal["poisson", "constant", "gamma"]


@dataclass(frozen=True)
class Arrival:
    """The gap distribution of an open-loop step."""

    process: Process = "poisson"
    burstiness: float = 1.0  # gamma shape; only for "gamma"

    def __str__(self) -> str:
        return f"gamma(b={self.burstiness:g})" if self.process == "gamma" else self.process

    def unit_gaps(self, rng: random.Random) -> Iterator[float]:
        """Gaps with mean 1."""
        while True:
            if self.process == "constant":
                yield 1.0
            elif self.process == "poisson":
                yield rng.expovariate(1.0)
            else:
                yield rng.gammavariate(self.burstiness, 1.0 / self.burstiness)


def parse_arrival(text: str, burstiness: float | None) -> Arrival:
    """`poisson`, `constant` or `gamma` (with `--burstiness B`, B > 0)."""
    p = text.strip().lower()
    if p not in ("poisson", "constant", "gamma"):
        raise InputError("--arrival", f"{text!r} is not an arrival process", "use poisson, constant or gamma")
    if burstiness is not None and (not math.isfinite(burstiness) or burstiness <= 0):
        raise InputError("--burstiness", f"{burstiness} must be > 0", "e.g. 0.5 (bursty) or 2 (regular)")
    if burstiness is not None and p != "gamma":
        raise InputError("--burstiness", "only applies to gamma arrivals", "add --arrival gamma")
    return Arrival(p, burstiness if burstiness is not None else 1.0)  # type: ignore[arg-type]


def time_at(s: float, r0: float, r1: float, span_s: float) -> float:
    """The time t at which Λ(t) = s for a rate going linearly from r0 to r1 over span_s, then r1."""
    if r1 == r0 or span_s <= 0:
        return s / r0
    a = (r1 - r0) / (2.0 * span_s)
    end = r0 * span_s + a * span_s * span_s
    if s >= end:
        return span_s + (s - end) / r1
    if r0 == 0.0:
        return math.sqrt(s / a)
    # a·t² + r0·t − s = 0; this form of the root is exact when a is small or negative
    return 2.0 * s / (r0 + math.sqrt(r0 * r0 + 4.0 * a * s))


def ramp_span_s(r0: float, r1: float, requests: int) -> float:
    """How long a ramp lasts when it must deliver `requests` on average: N = (r0 + r1)/2 · T."""
    return 2.0 * requests / (r0 + r1)


def schedule(
    arrival: Arrival, rng: random.Random, r0: float, r1: float | None = None, span_s: float = 0.0
) -> Iterator[float]:
    """Send times (seconds from the step's start) for a fixed rate r0, or a ramp r0 -> r1 over span_s."""
    s = 0.0
    end = r0 if r1 is None else r1
    for gap in arrival.unit_gaps(rng):
        yield time_at(s, r0, end, span_s)
        s += gap


def trace_times(arrivals_s: list[float], rate: float | None) -> list[float]:
    """A trace's arrival times from its first request, rate-scaled so that its mean rate becomes `rate`
    (as `garrison simulate --trace` scales a trace); unscaled when `rate` is None."""
    if not arrivals_s:
        return []
    t0 = arrivals_s[0]
    rel = [t - t0 for t in arrivals_s]
    if rate is None or len(rel) < 2 or rel[-1] <= 0:
        return rel
    own = (len(rel) - 1) / rel[-1]
    return [t * own / rate for t in rel]
