"""Step-time test doubles for the simulator: simple pure functions standing in for the roofline."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConstantStep:
    """Every step takes `seconds`, whatever it holds (the M/D/1 server)."""

    seconds: float = 0.01
    kv_capacity_tokens: int = 1_000_000
    block_size: int = 16

    def step_time_s(
        self, decode_seqs: int, decode_context_tokens: int, prefill_tokens: int, prefill_context_tokens: int
    ) -> float:
        return self.seconds


@dataclass(frozen=True)
class AffineStep:
    """A fixed overhead plus a cost per decode sequence, per KV token read and per prefill token."""

    overhead_s: float = 0.004
    per_seq_s: float = 2e-5
    per_ctx_token_s: float = 2e-8
    per_prefill_token_s: float = 6e-5
    kv_capacity_tokens: int = 200_000
    block_size: int = 16

    def step_time_s(
        self, decode_seqs: int, decode_context_tokens: int, prefill_tokens: int, prefill_context_tokens: int
    ) -> float:
        return (
            self.overhead_s
            + self.per_seq_s * decode_seqs
            + self.per_ctx_token_s * decode_context_tokens
            + self.per_prefill_token_s * prefill_tokens
            + 1e-9 * prefill_context_tokens
        )
