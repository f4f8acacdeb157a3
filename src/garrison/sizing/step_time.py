"""The interface the batching simulator uses to ask "how long does one engine step take?"."""

from __future__ import annotations

from typing import Protocol


class StepTimeModel(Protocol):
    """Time of one engine iteration (one forward pass) for a mixed batch, for one replica.

    A continuous-batching step runs `decode_seqs` sequences one token each, whose contexts add up
    to `decode_context_tokens` (the KV tokens the step reads for them), plus `prefill_tokens` new
    prompt tokens (chunks, under chunked prefill). `prefill_context_tokens` is the sum, over the
    sequences being prefilled, of each one's context length at the end of its chunk (the prompt
    tokens already cached plus the chunk). Example: one 1,000-token prompt in two chunks of 500 is
    (0, 0, 500, 500) then (0, 0, 500, 1000).
    """

    def step_time_s(
        self,
        decode_seqs: int,
        decode_context_tokens: int,
        prefill_tokens: int,
        prefill_context_tokens: int,
    ) -> float: ...

    @property
    def kv_capacity_tokens(self) -> int:
        """KV-cache tokens the replica holds (engine-allocated)."""
        ...

    @property
    def block_size(self) -> int:
        """Tokens per KV block (vLLM/SGLang paging granularity)."""
        ...
