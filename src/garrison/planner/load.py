"""Turn a use case into a request rate and token lengths, saying how each number was derived."""

from __future__ import annotations

import math
from dataclasses import dataclass

from garrison.planner.tables import UsageProfile
from garrison.requirements import Growth, UseCase

# Request lengths vary around the typical value: lognormal with log-space sigma 0.5 (a 90% range of
# about 0.44x-2.3x the mean), the shape serving-trace studies report for chat prompts and replies.
# The simulator draws lengths from this distribution; sizing uses its P95 for latency.
LENGTH_SIGMA = 0.5
Z_95 = 1.6449  # standard normal quantile of 0.95


def p95_length(mean: int, cap: int, sigma: float = LENGTH_SIGMA) -> int:
    """P95 of a lognormal length with this mean: mean x exp(1.645 sigma - sigma^2 / 2), at most `cap`.

    A lognormal with log-mean m and log-sd s has mean exp(m + s^2/2) and P95 exp(m + 1.645 s), so
    P95 / mean = exp(1.645 s - s^2 / 2) (= 2.01 for s = 0.5).
    """
    if mean <= 2:
        return max(1, mean)
    return max(1, min(cap, math.ceil(mean * math.exp(Z_95 * sigma - sigma * sigma / 2))))


@dataclass(frozen=True)
class LoadTarget:
    """The load one use case must carry, growth headroom included."""

    requests_per_minute: float  # busy-hour rate, before headroom
    design_rpm: float  # what replicas are sized for: rate x (1 + headroom)
    concurrent_requests: int | None  # when the user stated it
    input_tokens: int  # typical (mean) lengths: throughput and KV use
    output_tokens: int
    input_p95: int  # 95th percentile lengths: latency targets are checked on these
    output_p95: int
    notes: tuple[str, ...]


def derive_load(
    uc: UseCase, team_size: int, profile: UsageProfile, growth: Growth, scale: float = 1.0
) -> LoadTarget:
    """Requests per minute from what the use case states, else from head-count via the profile.

    rate = users x peak_active_fraction x requests_per_active_user_per_min (data/usage_profiles.yaml);
    batch: rate = tokens_per_day / (input + output tokens) / (window hours x 60).
    `scale` multiplies the load (escalation options re-plan with fewer users).
    """
    load = uc.load
    explicit = load.model_fields_set
    inp = load.input_tokens if "input_tokens" in explicit else profile.input_tokens
    out = load.output_tokens if "output_tokens" in explicit else profile.output_tokens
    notes: list[str] = []
    if "input_tokens" not in explicit or "output_tokens" not in explicit:
        notes.append(f"{uc.name}: typical request {inp} prompt + {out} output tokens ({profile.source})")
    if load.requests_per_minute is not None:
        rpm = load.requests_per_minute
        notes.append(f"{uc.name}: {rpm:g} requests/min at the busy hour (stated)")
    elif load.tokens_per_day is not None:
        rpm = load.tokens_per_day / (inp + out) / (profile.batch_window_hours * 60)
        notes.append(
            f"{uc.name}: {load.tokens_per_day:g} tokens/day over a {profile.batch_window_hours:g} h window "
            f"= {rpm:.1f} requests/min"
        )
    elif load.concurrent_requests is not None:
        rpm = 0.0  # sized from concurrency instead
        notes.append(f"{uc.name}: {load.concurrent_requests} concurrent requests (stated)")
    else:
        users = load.users or team_size
        rpm = users * profile.peak_active_fraction * profile.requests_per_active_user_per_min
        notes.append(
            f"{uc.name}: {users} users x {profile.peak_active_fraction:g} active at the busy hour x "
            f"{profile.requests_per_active_user_per_min:g} requests/min = {rpm:.1f} requests/min (assumption)"
        )
    factor = 1 + growth.headroom_pct / 100
    notes.append(f"{uc.name}: sized for {factor:.2f}x that load ({growth.headroom_pct:g}% growth headroom)")
    cap = max(2, uc.context_length)
    in95 = p95_length(inp, cap)
    out95 = p95_length(out, max(1, cap - in95))
    notes.append(
        f"{uc.name}: request lengths lognormal (sigma {LENGTH_SIGMA:g}); latency is sized on the P95 request: "
        f"{in95} prompt + {out95} output tokens"
    )
    conc = load.concurrent_requests
    return LoadTarget(
        requests_per_minute=rpm * scale,
        design_rpm=rpm * factor * scale,
        concurrent_requests=None if conc is None else max(1, math.ceil(conc * factor * scale)),
        input_tokens=inp,
        output_tokens=out,
        input_p95=in95,
        output_p95=out95,
        notes=tuple(notes),
    )
