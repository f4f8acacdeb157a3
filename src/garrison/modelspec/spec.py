"""What sizing needs to know about a model, independent of where it came from."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# How each decoder layer keeps context:
#   full     - KV grows with every token (standard / GQA / MQA attention)
#   sliding  - KV grows up to `sliding_window` tokens, then stays
#   mla      - multi-head latent attention: one compressed latent per token (kv_lora_rank + rope dim)
#   linear   - linear attention / SSM (Gated DeltaNet, Mamba, KDA): a fixed state per sequence
#   mlp      - a block without a token mixer (Nemotron-H `-` / `E` layers): no cache at all
LayerKind = Literal["full", "sliding", "mla", "linear", "mlp"]


class MoE(BaseModel):
    """Mixture-of-experts shape."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    num_experts: int = Field(ge=1)
    experts_per_token: int = Field(ge=1)
    expert_intermediate_size: int = Field(ge=1)
    shared_experts: int = Field(ge=0, default=0)
    shared_intermediate_size: int = Field(ge=0, default=0)  # per shared expert
    first_dense_layers: int = Field(ge=0, default=0)  # leading layers with a dense MLP instead
    # latent MoE (Kimi-K3 `routed_expert_hidden_size`): experts work in this width, with a shared
    # hidden->latent and latent->hidden projection per MoE layer; None = experts see hidden_size
    latent_size: int | None = Field(default=None, ge=1)


class MLA(BaseModel):
    """Multi-head latent attention shape (DeepSeek-V2/V3 style)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kv_lora_rank: int = Field(ge=1)
    qk_rope_head_dim: int = Field(ge=0)
    qk_nope_head_dim: int = Field(ge=0)
    v_head_dim: int = Field(ge=1)
    q_lora_rank: int | None = None
    # DeepSeek-V3.2 / GLM-5 sparse-attention indexer keeps its own key per token per layer
    index_head_dim: int = Field(ge=0, default=0)
    index_n_heads: int = Field(ge=0, default=0)  # indexer query heads (weights only, no cache)


class LinearAttention(BaseModel):
    """Fixed per-sequence recurrent state of a linear-attention / SSM layer, in elements."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    state_elements_per_layer: int = Field(ge=0)  # recurrent state (e.g. heads x k_dim x v_dim)
    conv_elements_per_layer: int = Field(ge=0, default=0)  # short-conv cache
    params_per_layer: int = Field(ge=0)  # weights of the layer's mixer (replaces attention)
    state_dtype_bytes: float = 4.0  # engines keep the recurrent state in fp32 by default


class ModelSpec(BaseModel):
    """Shape, attention layout, MoE and weight facts of one decoder-only model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    source: Literal["catalogue", "hf-folder", "gguf", "inline"]
    architecture: str  # HF `architectures[0]` or GGUF `general.architecture`
    hidden_size: int = Field(ge=1)
    num_layers: int = Field(ge=1)
    vocab_size: int = Field(ge=1)
    intermediate_size: int = Field(ge=0)  # dense MLP width (0 if every layer is MoE)
    num_attention_heads: int = Field(ge=1)
    num_kv_heads: int = Field(ge=1)
    head_dim: int = Field(ge=1)  # read from config when present; not always hidden/heads
    v_head_dim: int | None = None  # when V heads differ from K heads (None = head_dim)
    # Gemma-4: full-attention layers have their own head width and KV heads, and may share K as V
    global_head_dim: int | None = Field(default=None, ge=1)
    global_kv_heads: int | None = Field(default=None, ge=1)
    global_k_eq_v: bool = False  # K doubles as V on full layers (no v_proj)
    layer_kinds: tuple[LayerKind, ...]  # one entry per decoder layer
    sliding_window: int | None = None
    attention_sinks: bool = False
    mla: MLA | None = None
    moe: MoE | None = None
    linear: LinearAttention | None = None
    tie_word_embeddings: bool = False
    max_context: int = Field(ge=1)
    mtp_layers: int = Field(ge=0, default=0)  # multi-token-prediction layers kept in the checkpoint
    mtp_own_embeddings: bool = False  # DeepSeek-V3 format: each MTP layer stores embed + head copies
    mtp_intermediate_size: int = Field(ge=0, default=0)  # dense MLP width of MTP layers (0 = as decoder)
    # Small shape facts that change the parameter count (see modelspec.params)
    attention_bias: bool = False  # q/k/v projections carry a bias (Qwen2, GLM-4.x, gpt-oss)
    qk_norm: bool = False  # per-head RMSNorm on q and k (Qwen3, GLM-4.6, MiniMax-M2)
    attn_output_gate: bool = False  # q_proj also emits a sigmoid output gate (Qwen3-Next / Qwen3.5)
    mlp_gated: bool = True  # SwiGLU/GeGLU (gate, up, down) vs plain two-matrix MLP
    # layers that carry a dense MLP; None = every layer that is not an MoE layer (Mamba: 0,
    # Nemotron-H: its `-` layers)
    dense_mlp_layers: int | None = Field(default=None, ge=0)
    # Gemma-3n / Gemma-4 E-models: per-layer input embeddings (a second lookup table), counted with
    # the embedding
    per_layer_embedding_params: int = Field(ge=0, default=0)
    vision_params: int = Field(ge=0, default=0)  # vision tower + projector
    # Exact weight bytes and dtype when the files were read (safetensors headers / GGUF tensors).
    weight_bytes_exact: int | None = None
    native_dtype: str = "bf16"  # bf16 | fp16 | fp32 | fp8 | mxfp4 | nvfp4 | int4 | a GGUF file type
    quant_method: str | None = None  # from quantization_config (fp8, awq, gptq, mxfp4, compressed-tensors)
    quant_bits: int | None = None  # bits of a quantised weight in the checkpoint (8 fp8/int8, 4 int4/fp4)
    quant_group_size: int | None = (
        None  # weights per scale (128 gptq/awq, 32 mxfp4; None = per block/channel)
    )
    # params of the linear layers that a quantiser converts (attention + MLP/experts); the rest stays 16-bit.
    # Groups the checkpoint's quantization_config keeps unquantised (modelspec.params group names:
    # attention, linear_mixers, dense_mlp, experts, shared_experts, router, embedding, lm_head, vision)
    quant_skip: tuple[str, ...] = ()
    # the KV-cache dtype the checkpoint declares (compressed-tensors `kv_cache_scheme`, ModelOpt
    # `kv_cache_quant_algo` in quantization_config or hf_quant_config.json); engines' KV dtype
    # 'auto' follows it (vLLM, SGLang, TensorRT-LLM). None: the model's dtype
    kv_cache_dtype: str | None = None
    # groups kept unquantised in some layers only: (group, number of layers), e.g. (("dense_mlp", 2),)
    quant_skip_layers: tuple[tuple[str, int], ...] = ()
    # a checkpoint that stores its routed experts at another width than the rest (DeepSeek-V4
    # `expert_dtype: fp4`): bits per expert weight including scales; None = like the other layers
    expert_bits: float | None = Field(default=None, gt=0, le=32)
    # DeepSeek-V4 `compress_ratios`: layer i keeps 1/ratio of its tokens' KV (ratio 0/1: all of
    # them), next to a sliding window of recent tokens; () = no compression
    kv_compress_ratios: tuple[int, ...] = ()
    license: str | None = None
    fim: bool = False
    params_total_b_card: float | None = None  # the model card's number, for cross-checking the count
    params_active_b_card: float | None = None
