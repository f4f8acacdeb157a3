"""param_counts against the model cards (tolerances stated per row) and its group arithmetic."""

from __future__ import annotations

import pytest

from garrison.modelspec.from_config import spec_from_config
from garrison.modelspec.params import param_counts

from . import configs
from .conftest import load_reference

# (reference dir, card total B, card active B, rel. tolerance, active convention)
# Cards: Meta Llama 3.1 / 3.3 cards, Qwen3 / Qwen2.5 cards (30.5B total, 3.3B activated), DeepSeek-V3
# card (671B main + 14B MTP = 685B; 37B activated), OpenAI gpt-oss card (116.8B / 5.1B active,
# counted without the embedding table), Qwen3-Next blog (80B / 3B), MiniMax-M2 card (230B / 10B),
# GLM-4.5/4.6 docs (355B / 32B), Kimi-K2 card (1T / 32B), gemma-3 card (27B incl. vision), phi-4 (14.7B),
# GLM-5 card (744B / 40B).
# "main" = total without MTP layers (what the cards quote); "ne" = active without the embedding table.
CARDS = [
    ("meta-llama__Llama-3.1-8B", 8.03, 8.03, 0.005, "all"),
    ("meta-llama__Llama-3.1-70B", 70.6, 70.6, 0.005, "all"),
    ("meta-llama__Llama-3.1-405B", 405.0, 405.0, 0.01, "all"),
    ("Qwen__Qwen3-32B", 32.8, 32.8, 0.005, "all"),
    ("Qwen__Qwen3-8B", 8.2, 8.2, 0.005, "all"),
    ("Qwen__Qwen3-30B-A3B", 30.5, 3.3, 0.02, "all"),
    ("Qwen__Qwen3-235B-A22B", 235.0, 22.0, 0.02, "all"),
    ("Qwen__Qwen3-Coder-480B-A35B-Instruct", 480.0, 35.0, 0.02, "all"),
    ("Qwen__Qwen2.5-72B", 72.7, 72.7, 0.005, "all"),
    ("deepseek-ai__DeepSeek-V3", 671.0, 37.0, 0.02, "all"),
    ("openai__gpt-oss-120b", 116.8, 5.1, 0.01, "ne"),
    ("openai__gpt-oss-20b", 20.9, 3.6, 0.01, "ne"),
    # Qwen's "A3B" rounds down: 3.87B incl. embedding + head (3.56B without the embedding table)
    ("Qwen__Qwen3-Next-80B-A3B-Instruct", 80.0, 3.0, 0.20, "ne"),
    ("MiniMaxAI__MiniMax-M2", 230.0, 10.0, 0.05, "ne"),
    ("zai-org__GLM-4.6", 355.0, 32.0, 0.03, "ne"),
    ("moonshotai__Kimi-K2-Instruct", 1000.0, 32.0, 0.03, "ne"),
    ("zai-org__GLM-5", 744.0, 40.0, 0.03, "ne"),
    ("microsoft__phi-4", 14.7, 14.7, 0.005, "all"),
]


@pytest.mark.parametrize(("dirname", "total_b", "active_b", "tol", "convention"), CARDS)
def test_totals_match_model_cards(
    dirname: str, total_b: float, active_b: float, tol: float, convention: str
) -> None:
    p = param_counts(spec_from_config(load_reference(dirname), name=dirname, source="inline"))
    main = p.total - p.mtp
    active = p.active_non_embedding if convention == "ne" else p.active
    assert main / 1e9 == pytest.approx(total_b, rel=tol)
    assert active / 1e9 == pytest.approx(active_b, rel=tol)


def test_deepseek_v3_mtp_is_about_14b() -> None:
    p = param_counts(spec_from_config(configs.DEEPSEEK_V3, name="v3", source="inline"))
    assert p.mtp / 1e9 == pytest.approx(14.0, rel=0.05)  # card: 685B checkpoint = 671B + 14B MTP
    assert p.total / 1e9 == pytest.approx(685.0, rel=0.01)


def test_gemma3_counts_vision_in_total_not_active() -> None:
    p = param_counts(spec_from_config(configs.GEMMA3_27B, name="g", source="inline"))
    assert p.total / 1e9 == pytest.approx(27.4, rel=0.01)  # 27B LM + ~0.4B SigLIP
    assert p.lm_head == 0  # tied
    assert p.active == p.total - p.vision


def test_llama_8b_exact_group_arithmetic() -> None:
    p = param_counts(spec_from_config(configs.LLAMA_8B, name="l", source="inline"))
    h, layers, vocab = 4096, 32, 128256
    assert p.embedding == p.lm_head == vocab * h
    assert p.attention == layers * (h * 4096 + 2 * h * 1024 + 4096 * h)
    assert p.dense_mlp == layers * 3 * h * 14336
    assert p.norms == 2 * h * layers + h
    assert p.total == 8_030_261_248  # HF safetensors metadata of meta-llama/Llama-3.1-8B
    assert p.experts_total == p.experts_active == p.router == p.mtp == p.vision == 0
    assert p.quantizable == p.attention + p.dense_mlp
    assert p.kept_16bit == p.embedding + p.lm_head + p.norms


def test_moe_active_uses_top_k_experts() -> None:
    p = param_counts(spec_from_config(configs.QWEN3_30B_A3B, name="q", source="inline"))
    assert p.experts_active * 128 == p.experts_total * 8
    assert p.total - p.active == p.experts_total - p.experts_active
    assert p.router == 48 * (2048 * 128 + 128)


def test_checkpoint_skip_list_moves_groups_to_16bit() -> None:
    p = param_counts(spec_from_config(configs.GPT_OSS_120B, name="g", source="inline"))
    # gpt-oss keeps attention, router, embedding and lm_head in bf16; only experts are MXFP4
    assert p.quantizable == p.experts_total + p.dense_mlp + p.shared_experts
    assert p.kept_16bit == p.total - p.quantizable
    assert p.quantizable_active + p.kept_16bit_active == p.active


def test_as_dict_has_every_group() -> None:
    d = param_counts(spec_from_config(configs.QWEN3_NEXT, name="n", source="inline")).as_dict()
    assert d["linear_mixers"] > 0 and d["total"] == sum(
        d[k]
        for k in (
            "embedding",
            "lm_head",
            "attention",
            "linear_mixers",
            "dense_mlp",
            "experts_total",
            "shared_experts",
            "router",
            "norms",
            "mtp",
            "vision",
        )
    )


def test_llama4_scout_card() -> None:
    # Meta's card: 109B total, 17B active (text 107.8B by shape + ~1B vision tower not modelled here)
    p = param_counts(spec_from_config(configs.LLAMA4_SCOUT, name="scout", source="inline"))
    assert p.total / 1e9 == pytest.approx(108.0, rel=0.02)
    assert p.active / 1e9 == pytest.approx(17.0, rel=0.03)


def test_linear_mixers_counted_per_linear_layer() -> None:
    s = spec_from_config(configs.MAMBA2_HYBRID, name="m", source="inline")
    p = param_counts(s)
    assert s.linear is not None and p.linear_mixers == 4 * s.linear.params_per_layer
