"""Turn a use case into a request rate and token lengths, saying how each number was derived."""

from __future__ import annotations

from dataclasses import dataclass

from garrison.planner.tables import UsageProfile
from garrison.requirements import Growth, UseCase


@dataclass(frozen=True)
class LoadTarget:
    """The load one use case must carry, growth headroom included."""

    requests_per_minute: float  # busy-hour rate, before headroom
    design_rpm: float  # what replicas are sized for: rate x (1 + headroom)
    concurrent_requests: int | None  # when the user stated it
    input_tokens: int
    output_tokens: int
    notes: tuple[str, ...]


def derive_load(uc: UseCase, team_size: int, profile: UsageProfile, growth: Growth) -> LoadTarget:
    """Requests per minute from what the use case states, else from head-count via the profile.

    rate = users x peak_active_fraction x requests_per_active_user_per_min (data/usage_profiles.yaml);
    batch: rate = tokens_per_day / (input + output tokens) / (window hours x 60).
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
    return LoadTarget(
        requests_per_minute=rpm,
        design_rpm=rpm * factor,
        concurrent_requests=(
            None if load.concurrent_requests is None else int(-(-load.concurrent_requests * factor // 1))
        ),
        input_tokens=inp,
        output_tokens=out,
        notes=tuple(notes),
    )
