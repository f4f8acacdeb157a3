"""A step-time model rebuilt from an `Estimate`'s own numbers, for designs made without the roofline.

The roofline (garrison.sizing) is the primary model; this one lets `garrison simulate design.json`
run from what the design already records. It is the two-regime roofline in its simplest form:
a step is bound either by memory traffic (weights once per step plus the KV the decodes read,
`overhead + per_ctx * decode_context_tokens`) or by compute (`per_token * tokens in the step`),
whichever is longer (Williams et al., "Roofline", CACM 2009, applied per step as in vidur/LLMCompass).
"""

from __future__ import annotations

from dataclasses import dataclass

from garrison.design import Estimate
from garrison.errors import InputError


@dataclass(frozen=True)
class AffineRooflineStep:
    """`max(overhead_s + per_ctx_token_s * decode_ctx, per_token_s * (prefill + decode tokens))`."""

    overhead_s: float
    per_ctx_token_s: float
    per_token_s: float
    kv_capacity_tokens: int
    block_size: int = 16

    def step_time_s(
        self, decode_seqs: int, decode_context_tokens: int, prefill_tokens: int, prefill_context_tokens: int
    ) -> float:
        """Seconds for one step."""
        memory = self.overhead_s + self.per_ctx_token_s * decode_context_tokens
        compute = self.per_token_s * (prefill_tokens + decode_seqs)
        return memory if memory > compute else compute


def step_model_from_estimate(est: Estimate, block_size: int = 16) -> AffineRooflineStep:
    """Fits the two regimes to the estimate: ITL alone and at its concurrency, and prefill speed.

    Decode at one sequence takes t1 = 1 / decode_tokens_per_s_single with context c1 = input + output/2;
    at `concurrency` n sequences it takes tn = itl_ms with n x c1 context, so the per-context-token
    cost is (tn - t1) / ((n - 1) c1) and the rest of t1 is the per-step (weights) time. Prefill runs
    at prefill_tokens_per_s, so each token costs its inverse.
    """
    if est.decode_tokens_per_s_single <= 0 or est.prefill_tokens_per_s <= 0 or est.kv_cache_tokens < 1:
        raise InputError(
            "design.estimate",
            "has no speed or KV numbers to simulate from",
            "re-run garrison plan/estimate so the design records them",
        )
    t1 = 1.0 / est.decode_tokens_per_s_single
    tn = max(est.itl_ms / 1000.0, t1)
    c1 = est.input_len + est.output_len / 2.0
    n = max(est.concurrency, 1)
    per_ctx = (tn - t1) / ((n - 1) * c1) if n > 1 else 0.0
    return AffineRooflineStep(
        overhead_s=t1 - per_ctx * c1,
        per_ctx_token_s=per_ctx,
        per_token_s=1.0 / est.prefill_tokens_per_s,
        kv_capacity_tokens=est.kv_cache_tokens,
        block_size=block_size,
    )
