"""ModelSpec from a Hugging Face `config.json` dict.

Field names and layer layouts follow the `configuration_*.py` / `modeling_*.py` files of
huggingface/transformers (llama, qwen2, qwen3, qwen3_moe, qwen3_next, qwen3_5, gemma3, gpt_oss,
mistral, mixtral, phi3, deepseek_v3, glm4_moe, minimax, minimax_m2) and the remote-code models that
ship their own (DeepSeek-V3.2, GLM-5 `glm_moe_dsa`, Kimi-K2/K2.5/K3, MiniMax-M3). Every rule below
names the config key it reads. A missing or malformed required field raises
`InputError("config.json: <field>", problem, fix)`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import ValidationError

from garrison.errors import InputError
from garrison.modelspec.spec import MLA, LayerKind, LinearAttention, ModelSpec, MoE

Source = Literal["catalogue", "hf-folder", "gguf", "inline"]

_FIX = "use the model's original config.json from its Hugging Face repository"

# Upper bounds that no real model reaches; beyond them a number is a typo, not a model.
_MAX_DIM = 1 << 20  # widths, head dims, ranks
_MAX_LAYERS = 10_000
_MAX_VOCAB = 50_000_000
_MAX_EXPERTS = 1 << 16
_MAX_CONTEXT = 1 << 31

# Trimmed configs leave out keys whose value is the config class default. Only defaults read from
# the transformers configuration class are filled in (source named per entry).
_MODEL_TYPE_DEFAULTS: dict[str, dict[str, Any]] = {
    # transformers models/gemma3/configuration_gemma3.py Gemma3TextConfig.__init__ defaults
    "gemma3_text": {
        "vocab_size": 262_208,
        "max_position_embeddings": 131_072,
        "sliding_window": 4096,
        "sliding_window_pattern": 6,
        "tie_word_embeddings": True,
        "num_key_value_heads": 16,
        "head_dim": 256,
    },
    # Configs that omit a key whose class default matters (transformers configuration_*.py):
    # OPTConfig / BloomConfig / FalconConfig / GPTNeoConfig / MambaConfig tie the LM head to the
    # embedding by default (PretrainedConfig tie_word_embeddings=True); BLOOM (ALiBi) and the first
    # Falcon configs ("RefinedWebModel") name no context length: both were trained on 2,048 tokens
    # (BLOOM paper sec. 3.5; Falcon-7B model card).
    "opt": {"tie_word_embeddings": True},
    "gpt_neo": {"tie_word_embeddings": True},
    "bloom": {"tie_word_embeddings": True, "max_position_embeddings": 2048},
    "falcon": {"max_position_embeddings": 2048},
    "refinedwebmodel": {"max_position_embeddings": 2048},
    "refinedweb": {"max_position_embeddings": 2048},
    # Mamba has no positional limit: Garrison's ceiling stands in for one
    "mamba": {"tie_word_embeddings": True, "max_position_embeddings": 1 << 20},
    "falcon_mamba": {"tie_word_embeddings": True, "max_position_embeddings": 1 << 20},
    "mamba2": {"tie_word_embeddings": True, "max_position_embeddings": 1 << 20},
}

# Models whose MLP is 4 x hidden when the config leaves the width out or null (GPTJBlock
# `4 * n_embd` when n_inner is None, BloomMLP `4 * hidden_size`, FalconMLP ffn_hidden_size default,
# GPT2/GPT-Neo/CodeGen `n_inner` None).
_MLP_4X_DEFAULT = frozenset(
    {"gptj", "bloom", "falcon", "refinedwebmodel", "refinedweb", "gpt2", "gpt_neo", "codegen"}
)
# Attention-free models: every layer is a state-space mixer (transformers mamba / falcon_mamba / mamba2)
_ATTENTION_FREE = frozenset({"mamba", "falcon_mamba", "mamba2"})

_DTYPES = {
    "bfloat16": "bf16",
    "float16": "fp16",
    "half": "fp16",
    "float32": "fp32",
    "float": "fp32",
    "float8_e4m3fn": "fp8",
}


def _err(field: str, problem: str, fix: str = _FIX) -> InputError:
    return InputError(f"config.json: {field}", problem, fix)


class _Cfg:
    """Typed, validated reads from one config dict; every failure is an InputError naming the key."""

    def __init__(self, data: Mapping[str, Any], prefix: str = "") -> None:
        self.data = data
        self.prefix = prefix

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def raw(self, key: str) -> Any:
        return self.data.get(key)

    def int_(
        self,
        *keys: str,
        default: int | None = None,
        minimum: int = 1,
        maximum: int = _MAX_DIM,
    ) -> int:
        """First present key among `keys` as an int in [minimum, maximum]; else default or InputError."""
        for key in keys:
            value = self.data.get(key)
            if value is None:
                continue
            return self._check_int(key, value, minimum, maximum)
        if default is not None:
            return default
        raise _err(self.prefix + keys[0], "missing (required to size the model)")

    def opt_int(self, *keys: str, minimum: int = 0, maximum: int = _MAX_DIM) -> int | None:
        for key in keys:
            value = self.data.get(key)
            if value is not None:
                return self._check_int(key, value, minimum, maximum)
        return None

    def _check_int(self, key: str, value: Any, minimum: int, maximum: int) -> int:
        if isinstance(value, bool):
            raise _err(self.prefix + key, f"expected an integer, got {value!r}")
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        if not isinstance(value, int):
            raise _err(self.prefix + key, f"expected an integer, got {type(value).__name__} {value!r:.40}")
        if value < minimum or value > maximum:
            raise _err(self.prefix + key, f"{value} is outside {minimum}..{maximum}")
        return value

    def bool_(self, key: str, default: bool = False) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise _err(self.prefix + key, f"expected true or false, got {value!r:.40}")
        return value

    def str_(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise _err(self.prefix + key, f"expected a string, got {value!r:.40}")
        return value

    def list_(self, key: str) -> list[Any] | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, list):
            raise _err(self.prefix + key, f"expected a list, got {type(value).__name__}")
        return value

    def dict_(self, key: str) -> dict[str, Any] | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise _err(self.prefix + key, f"expected an object, got {type(value).__name__}")
        return value


def _flatten(config: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """Merge a nested `text_config` (gemma3, Qwen3.5, Kimi-K2.5/K3) over the top level.

    Returns the merged text config and the key prefix used in error messages.
    """
    text = config.get("text_config")
    if text is None:
        merged = dict(config)
        prefix = ""
    elif isinstance(text, dict):
        merged = {k: v for k, v in config.items() if k not in ("text_config", "vision_config")}
        merged.update(text)
        prefix = "text_config."
    else:
        raise _err("text_config", f"expected an object, got {type(text).__name__}")
    model_type = merged.get("model_type")
    if isinstance(model_type, str):
        for key, value in _MODEL_TYPE_DEFAULTS.get(model_type.lower(), {}).items():
            merged.setdefault(key, value)
    return merged, prefix


def _architecture(config: Mapping[str, Any]) -> str:
    archs = config.get("architectures")
    if isinstance(archs, list) and archs and isinstance(archs[0], str) and archs[0]:
        return archs[0]
    model_type = config.get("model_type")
    if isinstance(model_type, str) and model_type:
        return model_type
    raise _err("architectures", "missing: neither `architectures` nor `model_type` is set")


def _layer_kinds(
    c: _Cfg, n_layers: int, *, mla: bool, max_context: int
) -> tuple[list[LayerKind], int | None]:
    """Per-layer KV behaviour and the sliding window (None if no layer slides)."""
    base: LayerKind = "mla" if mla else "full"
    kinds: list[LayerKind] = [base] * n_layers
    window = c.opt_int("sliding_window", "attention_chunk_size", minimum=1, maximum=_MAX_CONTEXT)
    if c.raw("use_sliding_window") is False:  # Qwen2/Qwen3 carry a window they do not use
        window = None

    layer_types = c.list_("layer_types")
    linear_cfg = c.dict_("linear_attn_config")
    attn_types = c.list_("attn_type_list")
    model_type = (c.str_("model_type") or "").lower()
    pattern = c.str_("hybrid_override_pattern")
    if model_type in _ATTENTION_FREE:
        kinds = ["linear"] * n_layers
    elif pattern is not None:
        # Nemotron-H: one character per layer - M Mamba-2 mixer, * attention, - MLP, E MoE
        # (configuration_nemotron_h.py `hybrid_override_pattern`); `-` and `E` layers hold no cache.
        if len(pattern) != n_layers:
            raise _err(c.prefix + "hybrid_override_pattern", f"has {len(pattern)} layers, not {n_layers}")
        by_char: dict[str, LayerKind] = {"M": "linear", "*": base, "-": "mlp", "E": "mlp"}
        for i, ch in enumerate(pattern):
            if ch not in by_char:
                raise _err(c.prefix + "hybrid_override_pattern", f"unknown layer code {ch!r} at {i}")
            kinds[i] = by_char[ch]
    elif c.has("attn_layer_period"):
        # Jamba: attention on layers i with i % attn_layer_period == attn_layer_offset, Mamba elsewhere
        period = c.int_("attn_layer_period", maximum=_MAX_LAYERS)
        offset = c.int_("attn_layer_offset", default=0, minimum=0, maximum=_MAX_LAYERS)
        kinds = [base if i % period == offset else "linear" for i in range(n_layers)]
    elif layer_types is not None:
        # transformers >= 4.53 `layer_types` (gemma3, gpt-oss, qwen3_next, qwen3_5, qwen2 ...)
        if len(layer_types) != n_layers:
            raise _err(c.prefix + "layer_types", f"has {len(layer_types)} entries for {n_layers} layers")
        mapping: dict[str, LayerKind] = {
            "full_attention": base,
            "sliding_attention": "sliding",
            "chunked_attention": "sliding",
            "linear_attention": "linear",
            "mamba": "linear",
            "attention": base,  # GraniteMoeHybrid: "mamba" / "attention"
        }
        for i, t in enumerate(layer_types):
            if not isinstance(t, str) or t not in mapping:
                raise _err(c.prefix + f"layer_types[{i}]", f"unknown layer type {t!r:.40}")
            kinds[i] = mapping[t]
    elif linear_cfg is not None:
        # Kimi Linear / Kimi-K3 `linear_attn_config`: 1-based layer numbers of KDA and full layers
        kda = linear_cfg.get("kda_layers")
        if not isinstance(kda, list):
            raise _err(c.prefix + "linear_attn_config.kda_layers", "missing or not a list")
        for n in kda:
            if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= n_layers:
                raise _err(c.prefix + "linear_attn_config.kda_layers", f"bad layer number {n!r:.40}")
            kinds[n - 1] = "linear"
    elif attn_types is not None:
        # MiniMax-Text-01 / M1 / M2 `attn_type_list`: 0 = lightning (linear) attention, 1 = softmax
        if len(attn_types) != n_layers:
            raise _err(c.prefix + "attn_type_list", f"has {len(attn_types)} entries for {n_layers} layers")
        for i, t in enumerate(attn_types):
            if t not in (0, 1) or isinstance(t, bool):
                raise _err(c.prefix + f"attn_type_list[{i}]", f"expected 0 or 1, got {t!r:.40}")
            kinds[i] = base if t == 1 else "linear"
    elif c.has("attention_chunk_size") and c.list_("no_rope_layers") is not None:
        # Llama-4: layers with RoPE (no_rope_layers[i] == 1) use chunked attention of
        # attention_chunk_size tokens (KV bounded like a window); NoPE layers are global.
        flags = c.list_("no_rope_layers") or []
        if len(flags) != n_layers:
            raise _err(c.prefix + "no_rope_layers", f"has {len(flags)} entries for {n_layers} layers")
        kinds = ["sliding" if f else base for f in flags]
    elif c.list_("compress_ratios") is not None:
        # DeepSeek-V4: ratio 0 = sliding-window-only layer; ratio r > 0 keeps a compressed cache of
        # 1/r of the tokens next to the window. The schema has no 1/r kind, so those layers count as
        # full (an upper bound for them). The list also covers the MTP layer: only the first n used.
        ratios = c.list_("compress_ratios") or []
        if len(ratios) < n_layers:
            raise _err(c.prefix + "compress_ratios", f"has {len(ratios)} entries for {n_layers} layers")
        kinds = ["sliding" if r == 0 else base for r in ratios[:n_layers]]
    elif c.has("full_attention_interval"):
        # Qwen3-Next: layer i is full attention when (i + 1) % interval == 0, else Gated DeltaNet
        interval = c.int_("full_attention_interval", maximum=_MAX_LAYERS)
        kinds = [base if (i + 1) % interval == 0 else "linear" for i in range(n_layers)]
    elif c.has("sliding_window_pattern") and window is not None:
        # gemma2/gemma3: every `sliding_window_pattern`-th layer is global, the rest slide
        every = c.int_("sliding_window_pattern", maximum=_MAX_LAYERS)
        kinds = [base if (i + 1) % every == 0 else "sliding" for i in range(n_layers)]
    elif window is not None:
        if c.raw("use_sliding_window") is True and c.has("max_window_layers"):
            # Qwen2: layers at index >= max_window_layers use the window
            first = c.int_("max_window_layers", minimum=0, maximum=_MAX_LAYERS)
            kinds = [base if i < first else "sliding" for i in range(n_layers)]
        else:
            kinds = ["sliding"] * n_layers  # Mistral-7B / Phi-3-mini style: every layer slides

    if window is not None and window >= max_context:
        kinds = [base if k == "sliding" else k for k in kinds]  # a window as long as the context is full
    if "sliding" not in kinds:
        window = None
    elif window is None:
        raise _err(c.prefix + "sliding_window", "sliding layers are declared but no window is set")
    return kinds, window


def _linear(c: _Cfg, hidden: int, n_heads: int, head_dim: int) -> LinearAttention:
    """Recurrent state, conv cache and weights of one linear-attention layer."""
    model_type = c.str_("model_type") or ""
    linear_cfg = c.dict_("linear_attn_config")
    if c.has("linear_num_value_heads") or c.has("linear_num_key_heads"):
        # Gated DeltaNet, transformers models/qwen3_next/modeling_qwen3_next.py Qwen3NextGatedDeltaNet
        # (Qwen3.5 splits in_proj_qkvz/in_proj_ba into in_proj_qkv, _z, _b, _a with the same sizes).
        nk = c.int_("linear_num_key_heads")
        nv = c.int_("linear_num_value_heads")
        dk = c.int_("linear_key_head_dim")
        dv = c.int_("linear_value_head_dim")
        kernel = c.int_("linear_conv_kernel_dim", default=4)
        key_dim, value_dim = nk * dk, nv * dv
        conv_dim = 2 * key_dim + value_dim  # the short conv runs over q, k and v channels
        params = (
            hidden * (2 * key_dim + 2 * value_dim)  # in_proj_qkvz (q, k, v and the output gate z)
            + hidden * 2 * nv  # in_proj_ba (beta and decay a per value head)
            + conv_dim * kernel  # depthwise conv1d, no bias
            + 2 * nv  # dt_bias, A_log
            + dv  # RMSNormGated over the head dim
            + value_dim * hidden  # out_proj
        )
        return LinearAttention(
            state_elements_per_layer=nv * dk * dv,  # recurrent state [num_v_heads, k_dim, v_dim]
            conv_elements_per_layer=conv_dim * (kernel - 1),  # last kernel-1 inputs per channel
            params_per_layer=params,
            state_dtype_bytes=4.0,
        )
    if linear_cfg is not None:
        # Kimi Delta Attention, Kimi-Linear modeling_kimi.py KimiDeltaAttention (remote code); the
        # gate projections are low-rank (head_dim) unless `use_full_rank_gate`.
        lc = _Cfg(linear_cfg, c.prefix + "linear_attn_config.")
        heads = lc.int_("num_heads", default=n_heads)
        hd = lc.int_("head_dim", default=head_dim)
        kernel = lc.int_("short_conv_kernel_size", default=4)
        inner = heads * hd
        gate = hidden * inner if lc.bool_("use_full_rank_gate") else hidden * hd + hd * inner
        params = (
            3 * hidden * inner  # q, k, v projections
            + 3 * inner * kernel  # depthwise short conv on q, k and v
            + gate  # forget-gate projection (f_a/f_b)
            + hidden * hd
            + hd * inner  # output-gate projection (g_a/g_b)
            + hidden * heads  # beta projection
            + heads
            + inner  # A_log, dt_bias
            + hd  # output norm
            + inner * hidden  # o_proj
        )
        return LinearAttention(
            state_elements_per_layer=heads * hd * hd,
            conv_elements_per_layer=3 * inner * (kernel - 1),
            params_per_layer=params,
        )
    mamba1 = model_type in ("mamba", "falcon_mamba") or (
        c.has("mamba_d_state") and c.has("mamba_expand") and not c.has("mamba_n_heads")
    )
    if mamba1:
        # Mamba (S6) mixer, transformers models/mamba/modeling_mamba.py MambaMixer (Jamba's
        # JambaMambaMixer is the same block): inner = expand x hidden, state inner x d_state.
        d_state = c.int_("state_size", "mamba_d_state")
        kernel = c.int_("conv_kernel", "mamba_d_conv", default=4)
        expand = c.int_("expand", "mamba_expand", default=2, maximum=64)
        inner = (
            c.int_("intermediate_size", default=expand * hidden) if model_type != "jamba" else expand * hidden
        )
        rank_raw = c.raw("time_step_rank") if c.has("time_step_rank") else c.raw("mamba_dt_rank")
        dt_rank = (
            -(-hidden // 16) if rank_raw in (None, "auto") else c.int_("time_step_rank", "mamba_dt_rank")
        )
        params = (
            hidden * 2 * inner  # in_proj -> x and z
            + inner * kernel
            + inner  # depthwise conv1d weight + bias
            + inner * (dt_rank + 2 * d_state)  # x_proj -> dt, B, C
            + dt_rank * inner
            + inner  # dt_proj weight + bias
            + inner * d_state
            + inner  # A_log, D
            + inner * hidden  # out_proj
        )
        return LinearAttention(
            state_elements_per_layer=inner * d_state,
            conv_elements_per_layer=inner * (kernel - 1),
            params_per_layer=params,
        )
    if model_type == "mamba2":
        # transformers models/mamba2: the same mixer as below under its own key names
        n = c.int_("num_heads")
        d = c.int_("head_dim")
        d_state = c.int_("state_size")
        groups = c.int_("n_groups", default=1)
        kernel = c.int_("conv_kernel", default=4)
        inner = n * d
        conv_dim = inner + 2 * groups * d_state
        params = (
            hidden * (2 * inner + 2 * groups * d_state + n)
            + conv_dim * kernel
            + conv_dim
            + 3 * n
            + inner
            + inner * hidden
        )
        return LinearAttention(
            state_elements_per_layer=n * d * d_state,
            conv_elements_per_layer=conv_dim * (kernel - 1),
            params_per_layer=params,
        )
    if c.has("mamba_d_state") or c.has("ssm_state_size"):
        # Mamba2 mixer, transformers models/mamba2/modeling_mamba2.py Mamba2Mixer (GraniteMoeHybrid,
        # Falcon-H1, Nemotron-H, Bamba use the same block): state heads x head_dim x d_state.
        n = c.int_("mamba_n_heads", "mamba_num_heads")
        d = c.int_("mamba_d_head", "mamba_head_dim")
        d_state = c.int_("mamba_d_state", "ssm_state_size")
        groups = c.int_("mamba_n_groups", "n_groups", default=1)
        kernel = c.int_("mamba_d_conv", "conv_kernel", default=4)
        inner = n * d
        conv_dim = inner + 2 * groups * d_state  # conv over x, B and C
        params = (
            hidden * (2 * inner + 2 * groups * d_state + n)  # in_proj -> z, x, B, C, dt
            + conv_dim * kernel
            + conv_dim  # depthwise conv1d weight + bias
            + 3 * n  # A_log, D, dt_bias
            + inner  # gated RMSNorm
            + inner * hidden  # out_proj
        )
        return LinearAttention(
            state_elements_per_layer=n * d * d_state,
            conv_elements_per_layer=conv_dim * (kernel - 1),
            params_per_layer=params,
        )
    if model_type.startswith("minimax") or c.has("attn_type_list"):
        # MiniMax lightning attention, transformers models/minimax/modeling_minimax.py
        # MiniMaxLightningAttention: qkv_proj, output_gate, norm, out_proj; state heads x d x d.
        inner = n_heads * head_dim
        return LinearAttention(
            state_elements_per_layer=n_heads * head_dim * head_dim,
            conv_elements_per_layer=0,
            params_per_layer=3 * hidden * inner + hidden * inner + inner + inner * hidden,
        )
    raise _err(
        c.prefix + "linear_num_value_heads",
        "linear-attention layers are declared but their shape fields are missing",
    )


def _dense_layer_count(c: _Cfg, n_layers: int) -> int:
    """How many decoder layers use a dense MLP instead of the MoE block."""
    if c.has("first_k_dense_replace"):  # DeepSeek-V3, GLM-4.x, Kimi, MiniMax-M3
        return min(n_layers, c.int_("first_k_dense_replace", minimum=0, maximum=_MAX_LAYERS))
    pattern = c.str_("hybrid_override_pattern")
    if pattern is not None:  # Nemotron-H: only `E` layers are MoE
        return n_layers - pattern.count("E")
    if c.has("expert_layer_period"):  # Jamba: MoE on layers i % period == offset
        period = c.int_("expert_layer_period", maximum=_MAX_LAYERS)
        offset = c.int_("expert_layer_offset", default=0, minimum=0, maximum=_MAX_LAYERS)
        return sum(1 for i in range(n_layers) if i % period != offset)
    mlp_types = c.list_("mlp_layer_types")  # GLM-5.2: "dense" / "sparse" per layer
    if mlp_types is not None:
        return sum(1 for t in mlp_types if t == "dense")
    freq = c.raw("moe_layer_freq")
    if isinstance(freq, list):  # MiniMax-M3: 0 = dense, 1 = MoE per layer
        return sum(1 for f in freq if f == 0)
    dense = 0
    only = c.list_("mlp_only_layers")  # Qwen3-MoE: indices of layers with a dense MLP
    only_set = {i for i in only or [] if isinstance(i, int) and 0 <= i < n_layers}
    # Qwen2/3-MoE `decoder_sparse_step`, Llama-4 `interleave_moe_layer_step`
    step = c.opt_int("decoder_sparse_step", "interleave_moe_layer_step", minimum=1, maximum=_MAX_LAYERS)
    for i in range(n_layers):
        # layer i is MoE when not in mlp_only_layers and (i + 1) % step == 0
        if i in only_set or (step is not None and (i + 1) % step != 0):
            dense += 1
    return dense


def _moe(c: _Cfg, n_layers: int, intermediate: int) -> tuple[MoE | None, int]:
    """MoE shape and the dense MLP width (0 when every layer is MoE)."""
    n_exp = c.opt_int(
        "num_experts", "n_routed_experts", "num_local_experts", "moe_num_experts", maximum=_MAX_EXPERTS
    )
    if n_exp is None or n_exp <= 1:
        return None, intermediate
    top_k = c.int_(
        "num_experts_per_tok",
        "experts_per_token",
        "num_experts_per_token",
        "moe_top_k",
        "top_k_experts",  # Gemma-4
        maximum=n_exp,
    )
    # Expert width: `moe_intermediate_size`; Mixtral / gpt-oss / MiniMax-M2 reuse `intermediate_size`.
    expert_inter = c.int_("moe_intermediate_size", "expert_intermediate_size", default=intermediate)
    if expert_inter < 1:
        raise _err(c.prefix + "moe_intermediate_size", "missing (required for a mixture-of-experts model)")
    n_shared = c.int_("n_shared_experts", "num_shared_experts", default=0, minimum=0, maximum=_MAX_EXPERTS)
    qwen_shared = c.opt_int("shared_expert_intermediate_size", "shared_experts_intermediate_size")
    model_type = c.str_("model_type") or ""
    if model_type == "llama4_text":  # Llama-4: one shared expert of the routed width in every MoE layer
        n_shared, shared_inter = 1, expert_inter
    elif c.bool_("enable_moe_block"):
        # Gemma-4 26B-A4B: every layer runs its dense MLP (intermediate_size) next to the routed
        # experts - an always-on MLP, i.e. one shared expert of that width (modeling_gemma4.py)
        n_shared, shared_inter = 1, intermediate
    elif n_shared and c.has("moe_shared_expert_intermediate_size"):  # Nemotron-H MoE
        shared_inter = c.int_("moe_shared_expert_intermediate_size")
    elif qwen_shared:  # Qwen2/3-MoE, Qwen3-Next, Qwen3.5: one shared expert of this width (+ sigmoid gate)
        n_shared, shared_inter = 1, qwen_shared
    elif n_shared:  # DeepSeek / GLM / Kimi: n_shared experts of the routed width (or explicit width)
        shared_inter = c.int_("shared_intermediate_size", default=expert_inter)
    else:
        shared_inter = 0
    dense_layers = _dense_layer_count(c, n_layers)
    # Width of the dense MLP in the dense layers: MiniMax-M3 `dense_intermediate_size`, Llama-4
    # `intermediate_size_mlp` (its `intermediate_size` is the expert width).
    dense_inter = (
        c.int_("dense_intermediate_size", "intermediate_size_mlp", default=intermediate, minimum=0)
        if dense_layers
        else 0
    )
    if dense_layers and dense_inter < 1:
        raise _err(c.prefix + "intermediate_size", "missing: the dense layers of this MoE model need it")
    latent = c.opt_int("routed_expert_hidden_size", minimum=1)
    moe = MoE(
        num_experts=n_exp,
        experts_per_token=top_k,
        expert_intermediate_size=expert_inter,
        shared_experts=n_shared if shared_inter else 0,
        shared_intermediate_size=shared_inter if n_shared else 0,
        first_dense_layers=dense_layers,
        latent_size=latent,
    )
    return moe, dense_inter


def _mla(c: _Cfg) -> MLA | None:
    rank = c.opt_int("kv_lora_rank")
    if not rank:
        return None
    index_dim = c.opt_int("index_head_dim") or 0
    return MLA(
        kv_lora_rank=rank,
        qk_rope_head_dim=c.int_("qk_rope_head_dim", minimum=0),
        qk_nope_head_dim=c.int_("qk_nope_head_dim", minimum=0),
        v_head_dim=c.int_("v_head_dim"),
        q_lora_rank=c.opt_int("q_lora_rank") or None,
        index_head_dim=index_dim,
        index_n_heads=(c.opt_int("index_n_heads") or 0) if index_dim else 0,
    )


def vision_params(vision: Mapping[str, Any], text_hidden: int) -> int:
    """Approximate parameters of a ViT tower + projector from its shape keys.

    Per layer: attention 4 x h^2 (+ biases) and a two-matrix MLP 2 x h x i (SigLIP / Qwen-VL / MoonViT
    blocks), plus patch embedding, position embedding and a patch-merger projector
    (Qwen2-VL `PatchMerger`: (h*m)^2 + (h*m) x text_hidden) or a single linear projector (gemma3).
    Within about 5% of the published tower sizes; it is a small share of any LLM.
    """
    v = _Cfg(vision, "vision_config.")
    depth = v.int_("depth", "num_hidden_layers", "vt_num_hidden_layers", maximum=_MAX_LAYERS)
    h = v.int_("hidden_size", "vt_hidden_size", "embed_dim")
    inter = v.int_("intermediate_size", "vt_intermediate_size", "mlp_dim", default=4 * h)
    patch = v.int_("patch_size", default=14, maximum=4096)
    channels = v.int_("in_channels", "num_channels", default=3, maximum=64)
    temporal = v.int_("temporal_patch_size", default=1, maximum=64)
    per_layer = 4 * h * h + 4 * h + 2 * h * inter + inter + h + 4 * h
    total = depth * per_layer + channels * temporal * patch * patch * h
    positions = v.opt_int("num_position_embeddings", maximum=_MAX_CONTEXT)
    image = v.opt_int("image_size", maximum=1 << 16)
    if positions:
        total += positions * h
    elif image:
        total += (image // patch) ** 2 * h
    out = v.int_("out_hidden_size", "text_hidden_size", default=text_hidden)
    merge = v.opt_int("spatial_merge_size", maximum=64)
    kernel = v.raw("merge_kernel_size")
    group = merge * merge if merge else 1
    if isinstance(kernel, list) and all(isinstance(k, int) and 0 < k < 64 for k in kernel):
        group = math.prod(kernel)
    merged = h * group
    total += merged * merged + merged * out if group > 1 else h * out
    return total


def _skip_group(entry: str) -> str | None:
    """The params group one `modules_to_not_convert` / `ignore` entry keeps unquantised, if any.

    Entries are module names ("lm_head", "model.layers.*.self_attn") or compressed-tensors regexes
    ("re:.*shared_experts.*"); norms and other small tensors are 16-bit anyway and map to nothing.
    """
    name = entry.removeprefix("re:").replace("\\", "").replace(".*", "").rstrip(".*")
    if name.endswith("lm_head"):
        return "lm_head"
    if name.endswith("embed_tokens"):
        return "embedding"
    if name.endswith("self_attn") or re.search(r"self_attn\.(q|k|v|o|qkv)_proj$", name):
        return "attention"
    if name in ("gate", "router") or name.endswith(("mlp.gate", "mlp.router", "e_score_correction_bias")):
        return "router"
    if "shared_expert" in name:
        return "shared_experts"
    if re.search(r"(^|\.)mlp\.\(?(gate|up|gate_up|down)[|_)]", name):
        return "dense_mlp"
    if any(k in name for k in ("vision_tower", "mm_projector", "visual")):
        return "vision"
    if "linear_attn" in name:
        return "linear_mixers"
    return None


_LAYER_INDEX = re.compile(r"(?:^|\.)layers\.(\d+)\.")

Skip = tuple[tuple[str, ...], tuple[tuple[str, int], ...]]


def _skip_groups(entries: Sequence[Any]) -> Skip:
    """Map `modules_to_not_convert` / compressed-tensors `ignore` entries to params groups:
    (groups kept 16-bit in every layer, (group, number of layers) for entries that name single
    layers, e.g. Meta's Llama-3.1-405B FP8 keeps the first and last layers' MLPs in BF16)."""
    whole: set[str] = set()
    layers: dict[str, set[int]] = {}
    for e in entries:
        if not isinstance(e, str):
            continue
        group = _skip_group(e)
        if group is None:
            continue
        m = _LAYER_INDEX.search(e)
        if m is None:
            whole.add(group)
        else:
            layers.setdefault(group, set()).add(int(m.group(1)))
    per_layer = tuple(sorted((g, len(ix)) for g, ix in layers.items() if g not in whole))
    return tuple(sorted(whole)), per_layer


def _quant(
    qc: Mapping[str, Any] | None,
) -> tuple[str | None, str | None, int | None, int | None, Skip]:
    """(quant_method, native_dtype, bits, group_size, skipped groups) from `quantization_config`."""
    if qc is None:
        return None, None, None, None, ((), ())
    q = _Cfg(qc, "quantization_config.")
    method = q.str_("quant_method")
    if method is None:
        raise _err("quantization_config.quant_method", "missing")
    method = method.lower()
    skip = _skip_groups(q.list_("modules_to_not_convert") or q.list_("ignore") or [])
    bits: int | None
    group: int | None
    dtype: str | None
    if method == "fp8":  # block-wise FP8 (DeepSeek-V3, Qwen3-FP8, MiniMax-M2): 128x128 blocks
        return method, "fp8", 8, None, skip
    if method == "mxfp4":  # gpt-oss: 4-bit e2m1 + one e8m0 scale per 32 weights
        return method, "mxfp4", 4, 32, skip
    if method in ("awq", "gptq", "auto-round", "hqq", "exl2", "aqlm"):
        bits = q.int_("bits", "w_bit", default=4, maximum=16)
        group = q.opt_int("group_size", "q_group_size", minimum=-1, maximum=_MAX_DIM)
        return method, "int4" if bits <= 4 else "int8", bits, (group if group and group > 0 else None), skip
    if method == "bitsandbytes":
        four = q.bool_("load_in_4bit")
        return method, "int4" if four else "int8", 4 if four else 8, 64 if four else None, skip
    if method in ("compressed-tensors", "modelopt", "fbgemm_fp8"):
        fmt = (q.str_("format") or q.str_("quant_algo") or "").lower()
        groups = q.dict_("config_groups") or {}
        weights: Mapping[str, Any] = {}
        for g in groups.values():
            if isinstance(g, dict) and isinstance(g.get("weights"), dict):
                weights = g["weights"]
                break
        w = _Cfg(weights, "quantization_config.config_groups.weights.")
        bits = w.opt_int("num_bits", maximum=32)
        group = w.opt_int("group_size", minimum=-1, maximum=_MAX_DIM)
        wtype = w.str_("type") or ""
        if "nvfp4" in fmt:
            dtype, bits, group = "nvfp4", 4, 16
        elif "mxfp4" in fmt:
            dtype, bits, group = "mxfp4", 4, 32
        elif bits == 8 and (wtype == "float" or "fp8" in fmt):
            dtype = "fp8"
        elif bits is not None and bits <= 4:
            dtype = "int4"
        elif bits == 8:
            dtype = "int8"
        elif method == "fbgemm_fp8":
            dtype, bits = "fp8", 8
        else:
            dtype = None
        return method, dtype, bits, (group if group and group > 0 else None), skip
    return method, None, None, None, skip


def kv_cache_dtype_of(qc: Mapping[str, Any] | None) -> str | None:
    """The KV-cache dtype a quantization config declares: compressed-tensors `kv_cache_scheme`
    ({"num_bits": 8, "type": "float"}) or ModelOpt `kv_cache_quant_algo` ("FP8"; also in the
    `quantization` block of hf_quant_config.json). Only FP8 is read: it is what vLLM, SGLang and
    TensorRT-LLM load from a checkpoint."""
    if not isinstance(qc, Mapping):
        return None
    scheme = qc.get("kv_cache_scheme")
    if isinstance(scheme, Mapping) and scheme.get("num_bits") == 8 and scheme.get("type") == "float":
        return "fp8"
    algo = qc.get("kv_cache_quant_algo")
    if isinstance(algo, str) and algo.lower().startswith("fp8"):
        return "fp8"
    inner = qc.get("quantization")
    if isinstance(inner, Mapping) and inner is not qc:
        return kv_cache_dtype_of(inner)
    return None


def _dtype(c: _Cfg) -> str:
    raw = c.raw("torch_dtype") or c.raw("dtype")
    if isinstance(raw, str):
        return _DTYPES.get(raw.removeprefix("torch."), "bf16")
    return "bf16"


def spec_from_config(config: Mapping[str, Any], *, name: str, source: Source) -> ModelSpec:
    """Build a ModelSpec from a Hugging Face config.json dict (text_config/vision_config aware)."""
    if not isinstance(config, Mapping):
        raise _err("(root)", f"expected a JSON object, got {type(config).__name__}")
    try:
        return _build(config, name=name, source=source)
    except ValidationError as exc:  # a combination our checks let through but the schema refuses
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise _err(where or "(root)", str(first.get("msg", "invalid value"))) from None
    except (TypeError, ValueError, OverflowError, ArithmeticError) as exc:
        raise _err("(root)", f"inconsistent shape fields ({exc})") from None


def _build(config: Mapping[str, Any], *, name: str, source: Source) -> ModelSpec:
    architecture = _architecture(config)
    merged, prefix = _flatten(config)
    c = _Cfg(merged, prefix)
    model_type = (c.str_("model_type") or "").lower()

    hidden = c.int_("hidden_size", "n_embd", "n_embed", "d_model")
    n_layers = c.int_("num_hidden_layers", "n_layer", "num_layers", maximum=_MAX_LAYERS)
    vocab = c.int_("vocab_size", maximum=_MAX_VOCAB)
    attention_free = model_type in _ATTENTION_FREE
    heads = c.int_(
        "num_attention_heads", "n_head", "num_heads", default=1 if attention_free else None, maximum=_MAX_DIM
    )
    if c.raw("multi_query") is True:  # GPT-BigCode / Falcon-7B MQA flag
        kv_heads = 1
    else:
        kv_heads = c.int_("num_key_value_heads", "num_kv_heads", "n_head_kv", default=heads, maximum=heads)
    if heads % kv_heads:
        raise _err(prefix + "num_key_value_heads", f"{kv_heads} does not divide {heads} attention heads")
    max_context = c.int_(
        "max_position_embeddings", "n_positions", "max_sequence_length", "seq_length", maximum=_MAX_CONTEXT
    )
    intermediate = c.int_(
        "intermediate_size",
        "n_inner",
        "ffn_dim",
        "ffn_hidden_size",
        default=4 * hidden if model_type in _MLP_4X_DEFAULT else 0,
        minimum=0,
    )
    if attention_free:
        intermediate = 0  # Mamba's `intermediate_size` is the mixer width; there is no MLP

    mla = _mla(c)
    if mla is not None:
        # MLA heads: q/k are nope + rope wide (qk_head_dim), v is v_head_dim (DeepSeek-V3 modeling)
        head_dim = mla.qk_nope_head_dim + mla.qk_rope_head_dim
        v_head_dim: int | None = mla.v_head_dim if mla.v_head_dim != head_dim else None
        if head_dim < 1:
            raise _err(prefix + "qk_nope_head_dim", "qk_nope_head_dim + qk_rope_head_dim must be > 0")
    else:
        # explicit head_dim wins (Qwen3: 128 with hidden 4096 / 64 heads); else hidden / heads
        head_dim = c.int_("head_dim", "attention_head_dim", default=hidden // heads if hidden >= heads else 0)
        if head_dim < 1:
            raise _err(prefix + "head_dim", f"hidden_size {hidden} < num_attention_heads {heads}")
        v_raw = c.opt_int("v_head_dim", minimum=1)
        v_head_dim = v_raw if v_raw and v_raw != head_dim else None

    kinds, window = _layer_kinds(c, n_layers, mla=mla is not None, max_context=max_context)
    linear = _linear(c, hidden, heads, head_dim) if "linear" in kinds else None

    moe, dense_inter = _moe(c, n_layers, intermediate)
    dense_mlp_layers: int | None = None
    if attention_free:
        dense_mlp_layers = 0
    elif c.str_("hybrid_override_pattern") is not None:
        dense_mlp_layers = (c.str_("hybrid_override_pattern") or "").count("-")
    elif moe is not None and c.bool_("enable_moe_block"):
        dense_mlp_layers = 0  # the dense MLP is counted as the shared expert
    if moe is None and intermediate < 1 and dense_mlp_layers != 0:
        raise _err(prefix + "intermediate_size", "missing (required to size the MLP)")
    global_dim = c.opt_int("global_head_dim", minimum=1)
    global_kv = c.opt_int("num_global_key_value_heads", minimum=1, maximum=heads) if global_dim else None
    # Gemma-3n / Gemma-4 E-models: a per-layer input embedding of vocab_size_per_layer_input x
    # (layers x hidden_size_per_layer_input) plus its projection (modeling_gemma3n.py)
    per_layer_dim = c.opt_int("hidden_size_per_layer_input") or 0
    per_layer_embed = 0
    if per_layer_dim:
        per_layer_vocab = c.int_("vocab_size_per_layer_input", default=vocab, maximum=_MAX_VOCAB)
        per_layer_embed = per_layer_vocab * n_layers * per_layer_dim + hidden * n_layers * per_layer_dim

    # MTP: DeepSeek/GLM/MiniMax-M3 `num_nextn_predict_layers`, Qwen3.5 `mtp_num_hidden_layers`,
    # MiniMax-M2 `num_mtp_modules` x `mtp_transformer_layers`.
    mtp = c.opt_int("num_nextn_predict_layers", "mtp_num_hidden_layers", maximum=_MAX_LAYERS) or 0
    if not mtp and c.raw("use_mtp") is True:
        mtp = c.int_("num_mtp_modules", default=1, maximum=_MAX_LAYERS) * c.int_(
            "mtp_transformer_layers", default=1, maximum=_MAX_LAYERS
        )
    # DeepSeek-V3-format checkpoints store embed_tokens and shared_head.head inside each MTP layer
    # (model.layers.61.* in DeepSeek-V3's model.safetensors.index.json); Qwen3.5 says
    # `mtp_use_dedicated_embeddings`.
    # MiniMax-M2's MTP modules use a dense MLP of `mlp_intermediate_size` (otherwise unused key);
    # this makes 228.7B main + 0.4B MTP = the 229B the HF safetensors metadata reports.
    mtp_inter = c.int_("mlp_intermediate_size", default=0, minimum=0) if model_type == "minimax_m2" else 0
    own_embed = c.bool_("mtp_use_dedicated_embeddings") or model_type in ("deepseek_v3", "deepseek_v32")

    vision_cfg = config.get("vision_config")
    vision = 0
    if vision_cfg is not None:
        if not isinstance(vision_cfg, dict):
            raise _err("vision_config", f"expected an object, got {type(vision_cfg).__name__}")
        vision = vision_params(vision_cfg, hidden)

    quant_method, quant_dtype, bits, group, (skip, skip_layers) = _quant(c.dict_("quantization_config"))
    # a group named in every layer (Meta's FP8 405B lists each layer's attention) is skipped whole
    whole = {g for g, n in skip_layers if n >= n_layers}
    skip = tuple(sorted(set(skip) | whole))
    skip_layers = tuple((g, n) for g, n in skip_layers if g not in whole)
    native = quant_dtype or _dtype(c)
    # DeepSeek-V4 ships its routed experts in FP4 (e2m1 with a ue8m0 scale per 32) and the other
    # linear layers in block FP8; `expert_dtype` says so (config.json, as packaged)
    expert_dtype = (c.str_("expert_dtype") or "").lower()
    expert_bits = {"fp4": 4 + 8 / 32, "mxfp4": 4 + 8 / 32, "fp8": 8 + 32 / 16384}.get(expert_dtype)
    ratios = [r for r in (c.list_("compress_ratios") or [])[:n_layers] if isinstance(r, int)]

    # q_norm/k_norm exist in these modeling files even when the config has no flag for them
    qk_norm = (
        c.bool_("use_qk_norm")
        or c.raw("qk_norm_type") is not None
        or model_type
        in (
            "qwen3",
            "qwen3_moe",
            "qwen3_next",
            "qwen3_5_text",
            "qwen3_5_moe_text",
            "gemma3_text",
            "gemma4_text",
        )
    )
    attention_bias = c.bool_("attention_bias") or c.bool_("qkv_bias") or model_type in ("qwen2", "qwen2_moe")
    gate = c.bool_("attn_output_gate") or model_type == "qwen3_next"
    # Two-matrix (non-gated) MLPs: GPT-2 / StarCoder2 / Phi-2 / Falcon / GPT-NeoX modeling files
    gated = model_type not in (
        "starcoder2",
        "gpt2",
        "gpt_bigcode",
        "phi",
        "falcon",
        "refinedwebmodel",
        "refinedweb",
        "gpt_neox",
        "gptj",
        "gpt_neo",
        "codegen",
        "bloom",
        "opt",
        "nemotron_h",  # relu^2 up/down MLP
    )

    return ModelSpec(
        name=name,
        source=source,
        architecture=architecture,
        hidden_size=hidden,
        num_layers=n_layers,
        vocab_size=vocab,
        intermediate_size=dense_inter,
        num_attention_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=head_dim,
        v_head_dim=v_head_dim,
        layer_kinds=tuple(kinds),
        sliding_window=window,
        attention_sinks=model_type == "gpt_oss",  # learned per-head sink logits (modeling_gpt_oss.py)
        mla=mla,
        moe=moe,
        linear=linear,
        tie_word_embeddings=c.bool_("tie_word_embeddings", default=False),
        max_context=max_context,
        mtp_layers=mtp,
        mtp_own_embeddings=own_embed and mtp > 0,
        mtp_intermediate_size=mtp_inter if mtp else 0,
        vision_params=vision,
        native_dtype=native,
        quant_method=quant_method,
        quant_bits=bits,
        quant_group_size=group,
        quant_skip=skip,
        quant_skip_layers=skip_layers,
        kv_cache_dtype=kv_cache_dtype_of(c.dict_("quantization_config")),
        attention_bias=attention_bias,
        qk_norm=qk_norm,
        attn_output_gate=gate,
        mlp_gated=gated,
        dense_mlp_layers=dense_mlp_layers,
        global_head_dim=global_dim if (global_dim and global_dim != head_dim) or global_kv else None,
        global_kv_heads=global_kv,
        global_k_eq_v=c.bool_("attention_k_eq_v") and global_dim is not None,
        per_layer_embedding_params=per_layer_embed,
        expert_bits=expert_bits,
        kv_compress_ratios=tuple(ratios) if len(ratios) == n_layers and any(r > 1 for r in ratios) else (),
    )
