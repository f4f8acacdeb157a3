"""KV-cache bytes per token and fixed per-sequence state, per layer kind and per GPU."""

from __future__ import annotations

from dataclasses import dataclass

from garrison.modelspec.spec import ModelSpec

KV_DTYPE_BYTES = {"bf16": 2.0, "fp16": 2.0, "fp32": 4.0, "fp8": 1.0, "q8_0": 34 / 32, "q4_0": 18 / 32}


@dataclass(frozen=True)
class KVLayout:
    """Bytes of cache one GPU of a replica keeps, by how they grow."""

    growing_bytes_per_token: float  # full-attention and MLA layers: grows with every token
    window_bytes_per_token: float  # sliding-window layers: grows up to `window` tokens
    window: int  # sliding window (0 when there are no sliding layers)
    fixed_bytes_per_seq: float  # linear-attention / SSM state: constant per sequence

    def bytes_per_seq(self, context_tokens: int) -> float:
        """Cache bytes one sequence of `context_tokens` holds on this GPU."""
        return (
            self.growing_bytes_per_token * context_tokens
            + self.window_bytes_per_token * min(context_tokens, self.window)
            + self.fixed_bytes_per_seq
        )

    def effective_bytes_per_token(self, context_tokens: int) -> float:
        """Average cache bytes per token for sequences of `context_tokens` (for token capacities)."""
        return self.bytes_per_seq(context_tokens) / max(1, context_tokens)


def kv_layout(spec: ModelSpec, kv_dtype: str, tp: int = 1, pp: int = 1) -> KVLayout:
    """Per-GPU cache layout of one replica split `tp` x `pp`.

    - Full attention: K and V per layer per token are `kv_heads x head_dim` each
      (2 x layers x kv_heads x head_dim x bytes; Vaswani 2017 with GQA, Ainslie 2023). Under TP each
      rank keeps `max(1, kv_heads / tp)` heads: KV heads fewer than TP are replicated, not split
      (vLLM `get_num_kv_heads`).
    - MLA keeps one latent of `kv_lora_rank + qk_rope_head_dim` per token per layer (DeepSeek-V2
      paper, sec. 2.1); every TP rank holds the whole latent (replicated), so TP does not shrink it.
      A sparse-attention indexer (DeepSeek-V3.2, GLM-5) adds `index_head_dim` per token per layer.
    - Sliding-window layers stop growing at the window (Mistral / Gemma-3 / gpt-oss).
    - Linear-attention / SSM layers (Gated DeltaNet, Mamba, KDA) keep a fixed recurrent state plus a
      short-convolution cache per sequence; value heads split over TP like attention heads.
    - DeepSeek-V4 compressed layers keep 1/ratio of the tokens plus a window of recent ones.
    - PP splits layers over stages; the busiest stage holds ceil(layers / pp).
    """
    kv_bytes = KV_DTYPE_BYTES[kv_dtype]
    n_stage = -(-spec.num_layers // pp)
    share = n_stage / spec.num_layers  # fraction of each layer kind on the busiest stage
    counts = {k: spec.layer_kinds.count(k) for k in ("full", "sliding", "mla", "linear")}

    heads_per_rank = max(1.0, spec.num_kv_heads / tp)
    v_dim = spec.v_head_dim or spec.head_dim
    per_layer_gqa = heads_per_rank * (spec.head_dim + v_dim) * kv_bytes
    per_layer_full = per_layer_gqa
    if spec.global_head_dim:
        # Gemma-4 global layers: their own KV heads and width. A K-shared-as-V layer is still counted
        # with both K and V (what an engine without that optimisation allocates: the safe side).
        g_heads = max(1.0, (spec.global_kv_heads or spec.num_kv_heads) / tp)
        per_layer_full = g_heads * 2 * spec.global_head_dim * kv_bytes
    per_layer_mla = 0.0
    if spec.mla is not None:
        mla = spec.mla
        per_layer_mla = (mla.kv_lora_rank + mla.qk_rope_head_dim + mla.index_head_dim) * kv_bytes
    growing = counts["full"] * per_layer_full + counts["mla"] * per_layer_mla
    window_bytes = counts["sliding"] * per_layer_gqa if spec.sliding_window else 0.0
    if spec.kv_compress_ratios:
        # DeepSeek-V4: a layer with ratio r > 1 keeps one compressed entry per r tokens plus its
        # sliding window of recent tokens uncompressed (config `compress_ratios`, `sliding_window`)
        for kind, ratio in zip(spec.layer_kinds, spec.kv_compress_ratios, strict=True):
            if ratio > 1 and kind in ("full", "mla"):
                layer = per_layer_full if kind == "full" else per_layer_mla
                growing -= layer * (1 - 1 / ratio)
                if spec.sliding_window:
                    window_bytes += layer
    if counts["sliding"] and not spec.sliding_window:  # no window given: it grows like full attention
        growing += counts["sliding"] * per_layer_gqa
    fixed = 0.0
    if spec.linear is not None and counts["linear"]:
        lin = spec.linear
        per_layer = (lin.state_elements_per_layer + lin.conv_elements_per_layer) / tp * lin.state_dtype_bytes
        fixed = counts["linear"] * per_layer
    return KVLayout(
        growing_bytes_per_token=growing * share,
        window_bytes_per_token=window_bytes * share,
        window=spec.sliding_window or 0,
        fixed_bytes_per_seq=fixed * share,
    )


def kv_bytes_per_token_model(spec: ModelSpec, kv_dtype: str) -> float:
    """Whole-model KV bytes per token at unbounded context (the number model cards compare)."""
    layout = kv_layout(spec, kv_dtype)
    return layout.growing_bytes_per_token + layout.window_bytes_per_token
