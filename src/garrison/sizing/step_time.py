"""The interface the batching simulator uses to ask "how long does one engine step take?"."""

from __future__ import annotations

from typing import Protocol


class StepTimeModel(Protocol):
    """Time of one engine iteration (one forward pass) for a mixed batch, for one replica.

    A continuous-batching step runs `decode_seqs` sequences one token each (reading
    `decode_context_tokens` KV tokens in total) plus `prefill_tokens` new prompt tokens
    (a chunk, under chunked prefill) whose attention reads `prefill_context_tokens` tokens.
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
