"""The latency targets a use case is held to: what it states, else documented defaults by kind.

Defaults (when the requirements name no target):
- chat: TTFT P95 2 s (a reply should start within the pause of a conversation turn);
- code: TTFT P95 0.8 s (a completion must arrive before the developer types on);
- batch: no latency target; the check is that throughput keeps up with the offered rate.

Per-stream speed floor for interactive use: a reply must stream faster than people read, or the
plan is one nobody can use. Adults read English at ~238 words/min silently (Brysbaert 2019, "How many
words do we read per minute?", J. Memory and Language 109), ~4 words/s, and English text is ~1.33 tokens
per word (OpenAI's rule of thumb: 100 tokens ~ 75 words): ~5.3 tokens/s. The floor is twice that,
10 tokens/s (ITL P95 <= 100 ms), so the text stays ahead of a reader who skims; code completion,
read at a glance, gets 20 tokens/s (ITL P95 <= 50 ms). An explicit `latency.itl_p95_ms` or
`latency.min_output_tokens_per_s` replaces the floor; one slower than reading speed is noted.
"""

from __future__ import annotations

from dataclasses import dataclass

from garrison.requirements import UseCase

READING_TOKENS_PER_S = 238 / 60 * 1.33  # ~5.3 tokens/s (see module docstring)
DEFAULT_TTFT_MS: dict[str, float | None] = {"chat": 2000.0, "code": 800.0, "batch": None}
DEFAULT_STREAM_TOKENS_PER_S: dict[str, float | None] = {"chat": 10.0, "code": 20.0, "batch": None}


@dataclass(frozen=True)
class Targets:
    """P95 targets in milliseconds (None: not a target) and where each came from."""

    ttft_ms: float | None
    itl_ms: float | None
    e2e_ms: float | None
    notes: tuple[str, ...]

    @property
    def any(self) -> bool:
        return any(t is not None for t in (self.ttft_ms, self.itl_ms, self.e2e_ms))


def targets_for(uc: UseCase) -> Targets:
    """Effective targets of one use case (stated values win; defaults and the speed floor otherwise)."""
    lat = uc.latency
    notes: list[str] = []
    ttft = lat.ttft_p95_ms
    if ttft is None and DEFAULT_TTFT_MS[uc.kind] is not None:
        ttft = DEFAULT_TTFT_MS[uc.kind]
        notes.append(f"{uc.name}: no TTFT target stated; {ttft:g} ms P95 assumed for {uc.kind}")
    itl = lat.itl_p95_ms
    if lat.min_output_tokens_per_s is not None:
        floor_itl = 1000.0 / lat.min_output_tokens_per_s
        itl = floor_itl if itl is None else min(itl, floor_itl)
    elif itl is None and DEFAULT_STREAM_TOKENS_PER_S[uc.kind] is not None:
        speed = DEFAULT_STREAM_TOKENS_PER_S[uc.kind]
        assert speed is not None
        itl = 1000.0 / speed
        notes.append(
            f"{uc.name}: no ITL target stated; each stream must reach {speed:g} tokens/s (ITL P95 <= {itl:g} ms), "
            f"about twice reading speed ({READING_TOKENS_PER_S:.1f} tokens/s)"
        )
    if itl is not None and uc.kind != "batch" and 1000.0 / itl < READING_TOKENS_PER_S:
        notes.append(
            f"{uc.name}: the stated ITL target {itl:g} ms is {1000.0 / itl:.1f} tokens/s per stream, slower than "
            f"people read ({READING_TOKENS_PER_S:.1f} tokens/s); replies will lag the reader"
        )
    e2e = lat.e2e_p95_s * 1000.0 if lat.e2e_p95_s is not None else None
    return Targets(ttft_ms=ttft, itl_ms=itl, e2e_ms=e2e, notes=tuple(notes))
