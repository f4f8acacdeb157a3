"""spec_from_config on hand-written configs and on every shared reference config."""

from __future__ import annotations

import copy

import pytest

from garrison.errors import InputError
from garrison.modelspec.from_config import spec_from_config
from garrison.modelspec.spec import ModelSpec

from . import configs
from .conftest import load_reference, reference_dirs


def spec(cfg: dict[str, object], name: str = "t") -> ModelSpec:
    return spec_from_config(cfg, name=name, source="inline")


def kv_bytes_per_token(s: ModelSpec, dtype_bytes: float = 2.0) -> float:
    """Test-only KV bytes per token of the layers whose cache grows with context (README formula).

    full: 2 (K and V) x kv_heads x head_dim (V may differ) x bytes; mla: (kv_lora_rank + rope dim)
    x bytes, one latent per layer; sliding and linear layers are bounded and not counted here.
    """
    per_layer = {
        "full": s.num_kv_heads * (s.head_dim + (s.v_head_dim or s.head_dim)) * dtype_bytes,
        "mla": ((s.mla.kv_lora_rank + s.mla.qk_rope_head_dim) * dtype_bytes) if s.mla else 0.0,
    }
    return sum(per_layer.get(k, 0.0) for k in s.layer_kinds)


def test_llama_dense_gqa() -> None:
    s = spec(configs.LLAMA_8B)
    assert (s.num_layers, s.num_kv_heads, s.head_dim) == (32, 8, 128)
    assert set(s.layer_kinds) == {"full"} and s.moe is None and s.mla is None
    assert s.native_dtype == "bf16" and s.quant_method is None
    assert kv_bytes_per_token(s) == 131_072


def test_explicit_head_dim_wins_over_hidden_by_heads() -> None:
    s = spec(configs.QWEN3_30B_A3B)
    assert s.head_dim == 128  # not 2048 / 32 = 64
    assert s.moe is not None and s.moe.num_experts == 128 and s.moe.experts_per_token == 8
    assert s.moe.expert_intermediate_size == 768 and s.moe.first_dense_layers == 0
    assert s.intermediate_size == 0  # no dense layer
    assert s.qk_norm


def test_mla_moe_mtp_fp8() -> None:
    s = spec(configs.DEEPSEEK_V3)
    assert s.mla is not None and s.mla.kv_lora_rank == 512 and s.mla.qk_rope_head_dim == 64
    assert set(s.layer_kinds) == {"mla"}
    assert s.moe is not None and s.moe.first_dense_layers == 3 and s.moe.shared_experts == 1
    assert s.moe.shared_intermediate_size == 2048
    assert s.mtp_layers == 1 and s.mtp_own_embeddings
    assert (s.native_dtype, s.quant_method, s.quant_bits) == ("fp8", "fp8", 8)
    assert kv_bytes_per_token(s) == 70_272


def test_sliding_pattern_sinks_and_mxfp4_skip_list() -> None:
    s = spec(configs.GPT_OSS_120B)
    assert s.layer_kinds.count("sliding") == 18 and s.layer_kinds[0] == "sliding"
    assert s.sliding_window == 128 and s.attention_sinks
    assert s.native_dtype == "mxfp4" and s.quant_group_size == 32
    assert set(s.quant_skip) == {"attention", "router", "embedding", "lm_head"}
    assert kv_bytes_per_token(s) == 36_864


def test_hybrid_gated_deltanet_state() -> None:
    s = spec(configs.QWEN3_NEXT)
    assert s.layer_kinds.count("full") == 12 and s.layer_kinds.count("linear") == 36
    assert s.layer_kinds[3] == "full" and s.layer_kinds[0] == "linear"
    assert s.linear is not None
    assert s.linear.state_elements_per_layer == 32 * 128 * 128
    assert s.linear.conv_elements_per_layer == (2 * 16 * 128 + 32 * 128) * 3
    # README: ~18.9 M state + ~0.9 M conv elements per sequence over the 36 linear layers
    assert 36 * s.linear.state_elements_per_layer == pytest.approx(18.9e6, rel=0.01)
    assert 36 * s.linear.conv_elements_per_layer == pytest.approx(0.88e6, rel=0.01)
    assert s.attn_output_gate and s.moe is not None and s.moe.shared_intermediate_size == 512
    assert kv_bytes_per_token(s) == 24_576


def test_nested_text_config_gemma3_defaults_and_vision() -> None:
    s = spec(configs.GEMMA3_27B)
    assert s.architecture == "Gemma3ForConditionalGeneration"
    assert s.vocab_size == 262_208 and s.tie_word_embeddings  # Gemma3TextConfig defaults
    assert s.layer_kinds.count("full") == 10 and s.layer_kinds.count("sliding") == 52
    assert s.layer_kinds[5] == "full" and s.sliding_window == 1024
    assert 0.3e9 < s.vision_params < 0.5e9  # SigLIP-So400m tower + projector
    assert kv_bytes_per_token(s) == 81_920


def test_mistral_style_all_sliding_and_unused_window_ignored() -> None:
    mistral = dict(configs.LLAMA_8B, model_type="mistral", sliding_window=4096)
    assert set(spec(mistral).layer_kinds) == {"sliding"}
    qwen2 = dict(configs.LLAMA_8B, model_type="qwen2", sliding_window=131072, use_sliding_window=False)
    s = spec(qwen2)
    assert set(s.layer_kinds) == {"full"} and s.sliding_window is None and s.attention_bias


def test_mqa_flag_and_tied_embeddings() -> None:
    s = spec(dict(configs.LLAMA_8B, num_key_value_heads=None, multi_query=True, tie_word_embeddings=True))
    assert s.num_kv_heads == 1 and s.tie_word_embeddings


@pytest.mark.parametrize(
    ("qc", "dtype", "bits", "group"),
    [
        ({"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": True}, "int4", 4, 128),
        ({"quant_method": "gptq", "bits": 8, "group_size": -1}, "int8", 8, None),
        (
            {
                "quant_method": "compressed-tensors",
                "format": "nvfp4-pack-quantized",
                "config_groups": {"g": {"weights": {"num_bits": 4, "type": "float", "group_size": 16}}},
            },
            "nvfp4",
            4,
            16,
        ),
        (
            {
                "quant_method": "compressed-tensors",
                "format": "pack-quantized",
                "config_groups": {"g": {"weights": {"num_bits": 4, "type": "int", "group_size": 32}}},
                "ignore": ["lm_head", "re:.*self_attn.*", "re:.*shared_experts.*"],
            },
            "int4",
            4,
            32,
        ),
    ],
)
def test_quantization_configs(qc: dict[str, object], dtype: str, bits: int, group: int | None) -> None:
    s = spec(dict(configs.LLAMA_8B, quantization_config=qc))
    assert (s.native_dtype, s.quant_bits, s.quant_group_size) == (dtype, bits, group)
    assert s.quant_method == qc["quant_method"]


@pytest.mark.parametrize(
    ("field", "mutate"),
    [
        ("hidden_size", lambda c: c.pop("hidden_size")),
        ("num_hidden_layers", lambda c: c.update(num_hidden_layers=-3)),
        ("vocab_size", lambda c: c.update(vocab_size="lots")),
        ("num_key_value_heads", lambda c: c.update(num_key_value_heads=5)),
        ("max_position_embeddings", lambda c: c.pop("max_position_embeddings")),
        ("intermediate_size", lambda c: c.pop("intermediate_size")),
        ("layer_types", lambda c: c.update(layer_types=["full_attention"])),
        ("tie_word_embeddings", lambda c: c.update(tie_word_embeddings="no")),
    ],
)
def test_bad_config_names_the_field(field: str, mutate: object) -> None:
    cfg = copy.deepcopy(configs.LLAMA_8B)
    mutate(cfg)  # type: ignore[operator]
    with pytest.raises(InputError) as err:
        spec(cfg)
    assert err.value.field == f"config.json: {field}"
    assert err.value.fix


def test_missing_moe_width_is_named() -> None:
    cfg = copy.deepcopy(configs.QWEN3_30B_A3B)
    del cfg["moe_intermediate_size"], cfg["intermediate_size"]
    with pytest.raises(InputError, match="moe_intermediate_size"):
        spec(cfg)


def test_text_config_field_errors_carry_prefix() -> None:
    cfg = copy.deepcopy(configs.GEMMA3_27B)
    del cfg["text_config"]["hidden_size"]  # type: ignore[attr-defined]
    with pytest.raises(InputError) as err:
        spec(cfg)
    assert err.value.field == "config.json: text_config.hidden_size"


# --- every shared reference config ---------------------------------------------------------------

REF_DIRS = reference_dirs() or ["(absent)"]


@pytest.mark.parametrize("dirname", REF_DIRS)
def test_every_reference_config_builds(dirname: str) -> None:
    s = spec(load_reference(dirname), name=dirname)
    assert len(s.layer_kinds) == s.num_layers


# README table "Derived KV-cache bytes per token (BF16 K/V)" in /work/shared/reference/README.md
README_KV = {
    "Qwen__Qwen3-Next-80B-A3B-Instruct": 24_576,
    "Qwen__Qwen3.5-397B-A17B": 30_720,
    "Qwen__Qwen3.5-122B-A10B": 24_576,
    "Qwen__Qwen3.5-35B-A3B": 20_480,
    "Qwen__Qwen3.5-27B": 65_536,
    "MiniMaxAI__MiniMax-M2": 253_952,
    "MiniMaxAI__MiniMax-M2.5": 253_952,
    "MiniMaxAI__MiniMax-M2.7": 253_952,
    "zai-org__GLM-4.6": 376_832,
    "zai-org__GLM-4.7-FP8": 376_832,
    "Qwen__Qwen3-Coder-30B-A3B-Instruct": 98_304,
    "Qwen__Qwen3-30B-A3B": 98_304,
    "Qwen__Qwen3-Coder-480B-A35B-Instruct": 253_952,
    "Qwen__Qwen3-235B-A22B": 192_512,
    "Qwen__Qwen3-32B": 262_144,
    "Qwen__Qwen3-8B": 147_456,
    "Qwen__Qwen3-0.6B": 114_688,
    "meta-llama__Llama-3.1-8B": 131_072,
    "meta-llama__Llama-3.1-70B": 327_680,
    "meta-llama__Llama-3.3-70B-Instruct": 327_680,
    "meta-llama__Llama-3.1-405B": 516_096,
    "Qwen__Qwen2.5-7B": 57_344,
    "Qwen__Qwen2.5-32B": 262_144,
    "Qwen__Qwen2.5-72B": 327_680,
    "microsoft__phi-4": 204_800,
    "google__gemma-3-27b-it": 81_920,
    "openai__gpt-oss-120b": 36_864,
    "openai__gpt-oss-20b": 24_576,
    "deepseek-ai__DeepSeek-V3": 70_272,
    "deepseek-ai__DeepSeek-V3.1": 70_272,
    "deepseek-ai__DeepSeek-V3.2": 70_272,
    "deepseek-ai__DeepSeek-R1": 70_272,
    "moonshotai__Kimi-K2-Instruct": 70_272,
    "moonshotai__Kimi-K2.5": 70_272,
    "zai-org__GLM-4.7-Flash": 54_144,
    "zai-org__GLM-5": 89_856,
    "zai-org__GLM-5.1": 89_856,
    "moonshotai__Kimi-K3": 27_648,
    "MiniMaxAI__MiniMax-M3": 122_880,
}


@pytest.mark.parametrize(("dirname", "kv"), sorted(README_KV.items()))
def test_readme_kv_bytes_follow_from_spec(dirname: str, kv: int) -> None:
    s = spec(load_reference(dirname), name=dirname)
    assert kv_bytes_per_token(s) == kv


def test_gemma_sliding_layers_cap_matches_readme() -> None:
    s = spec(load_reference("google__gemma-3-27b-it"))
    n_sliding = s.layer_kinds.count("sliding")
    capped = n_sliding * (s.sliding_window or 0) * 2 * s.num_kv_heads * s.head_dim * 2
    assert n_sliding == 52 and capped == pytest.approx(436e6, rel=0.01)  # README: ~436 MB per sequence


def test_index_head_dim_for_dsa_models() -> None:
    for dirname in ("deepseek-ai__DeepSeek-V3.2", "zai-org__GLM-5"):
        s = spec(load_reference(dirname))
        assert s.mla is not None and s.mla.index_head_dim == 128
    assert spec(load_reference("deepseek-ai__DeepSeek-V3")).mla.index_head_dim == 0  # type: ignore[union-attr]


def test_kimi_k3_kda_layers_and_latent_moe() -> None:
    s = spec(load_reference("moonshotai__Kimi-K3"))
    assert s.layer_kinds.count("mla") == 24 and s.layer_kinds.count("linear") == 69
    assert s.layer_kinds[3] == "mla" and s.layer_kinds[92] == "mla"  # 1-based 4 and 93
    assert s.linear is not None and s.linear.state_elements_per_layer == 96 * 128 * 128
    assert s.moe is not None and s.moe.latent_size == 3584 and s.moe.shared_experts == 2
    assert s.native_dtype == "mxfp4" and "vision" in s.quant_skip


def test_llama4_chunked_attention_and_shared_expert() -> None:
    s = spec(configs.LLAMA4_SCOUT)
    assert s.layer_kinds.count("full") == 12 and s.layer_kinds.count("sliding") == 36
    assert s.sliding_window == 8192 and s.layer_kinds[3] == "full"
    assert s.moe is not None and s.moe.first_dense_layers == 0 and s.moe.shared_experts == 1
    assert s.moe.shared_intermediate_size == 8192


def test_minimax_lightning_hybrid() -> None:
    s = spec(configs.MINIMAX_LIGHTNING)
    assert s.layer_kinds.count("linear") == 14 and s.layer_kinds[7] == "full"
    assert s.linear is not None and s.linear.state_elements_per_layer == 8 * 64 * 64
    assert s.linear.conv_elements_per_layer == 0


def test_mamba2_hybrid_state() -> None:
    s = spec(configs.MAMBA2_HYBRID)
    assert s.layer_kinds == ("linear", "linear", "full", "linear", "linear", "full")
    assert s.linear is not None and s.linear.state_elements_per_layer == 8 * 64 * 128
    assert s.linear.conv_elements_per_layer == (8 * 64 + 2 * 128) * 3
    assert s.head_dim == 64 and s.num_kv_heads == 1


def test_deepseek_v4_compress_ratios_map_to_kinds() -> None:
    s = spec(load_reference("deepseek-ai__DeepSeek-V4-Flash"))
    assert s.num_kv_heads == 1 and s.head_dim == 512 and s.sliding_window == 128
    assert {"sliding", "full"} >= set(s.layer_kinds)
