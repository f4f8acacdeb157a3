"""Sizing physics pinned to published numbers and to physical invariants."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from garrison.catalogue import load_catalogue
from garrison.modelspec import load_model_spec, param_counts
from garrison.sizing.estimate import EstimateOptions, estimate
from garrison.sizing.kv_cache import kv_bytes_per_token_model, kv_layout
from garrison.sizing.units import GIB
from garrison.sizing.weights import experts_touched, weight_bytes


def spec(model: str):
    return load_model_spec(load_catalogue().model(model).id)


def fmt(name: str):
    return load_catalogue().quant(name)


# KV bytes per token (bf16) derived from the configs in the shared reference README
@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("meta-llama/Llama-3.1-8B-Instruct", 131_072),
        ("meta-llama/Llama-3.3-70B-Instruct", 327_680),
        ("Qwen/Qwen3-32B", 262_144),
        ("Qwen/Qwen3-30B-A3B", 98_304),
        ("deepseek-ai/DeepSeek-V3", 70_272),  # MLA latent 512 + 64 rope, 61 layers
        ("MiniMaxAI/MiniMax-M2", 253_952),
        ("Qwen/Qwen3-Next-80B-A3B-Instruct", 24_576),  # only 12 of 48 layers keep a growing cache
    ],
)
def test_kv_bytes_per_token_matches_reference(model: str, expected: int) -> None:
    assert kv_bytes_per_token_model(spec(model), "bf16") == pytest.approx(expected)


def test_mla_latent_is_replicated_not_split_by_tp() -> None:
    s = spec("deepseek-ai/DeepSeek-V3")
    assert (
        kv_layout(s, "bf16", tp=8).growing_bytes_per_token
        == kv_layout(s, "bf16", tp=1).growing_bytes_per_token
    )


def test_gqa_kv_heads_fewer_than_tp_are_replicated() -> None:
    s = spec("Qwen/Qwen3-Next-80B-A3B-Instruct")  # 2 KV heads
    assert (
        kv_layout(s, "bf16", tp=4).growing_bytes_per_token
        == kv_layout(s, "bf16", tp=2).growing_bytes_per_token
    )


def test_hybrid_linear_state_is_fixed_per_sequence() -> None:
    layout = kv_layout(spec("Qwen/Qwen3-Next-80B-A3B-Instruct"), "bf16")
    assert layout.fixed_bytes_per_seq > 10e6  # tens of MB of recurrent state per sequence
    assert layout.bytes_per_seq(100_000) - layout.bytes_per_seq(1_000) == pytest.approx(
        99_000 * layout.growing_bytes_per_token
    )


def test_sliding_window_layers_stop_growing() -> None:
    s = spec("google/gemma-3-27b-it")
    layout = kv_layout(s, "bf16")
    assert layout.window == 1024
    long, longer = layout.bytes_per_seq(50_000), layout.bytes_per_seq(60_000)
    assert longer - long == pytest.approx(10_000 * layout.growing_bytes_per_token)


def test_llama_8b_bf16_weights_match_vllm_log() -> None:
    # vLLM issue #10517: "Loading model weights took 14.9888 GB" (GiB) for Llama-3.1-8B-Instruct
    s = spec("meta-llama/Llama-3.1-8B-Instruct")
    w = weight_bytes(s, param_counts(s), fmt("bf16")).per_gpu(1, 1) / GIB
    assert w == pytest.approx(14.99, rel=0.01)


def test_quantisation_keeps_embeddings_in_16_bit() -> None:
    s = spec("meta-llama/Llama-3.1-8B-Instruct")
    c = param_counts(s)
    bf16 = weight_bytes(s, c, fmt("bf16"))
    fp8 = weight_bytes(s, c, fmt("fp8"))
    assert fp8.embedding == bf16.embedding
    assert fp8.layers < 0.6 * bf16.layers


def test_role_description_claims_are_corrected() -> None:
    """'13B full precision on a 24 GB card' and '70B full precision on one 80 GB A100': physics says no."""
    cat = load_catalogue()
    e70 = estimate(
        spec("meta-llama/Llama-3.3-70B-Instruct"),
        fmt("bf16"),
        gpu=cat.gpu("a100 80gb sxm"),
        opts=EstimateOptions(max_model_len=8192),
    )
    assert not e70.fits
    assert "weights need" in e70.reason
    assert e70.weights_gib_per_gpu > 130
    e8 = estimate(
        spec("meta-llama/Llama-3.3-70B-Instruct"),
        fmt("bf16"),
        gpu=cat.gpu("a100 80gb sxm"),
        opts=EstimateOptions(gpus=4, max_model_len=8192),
    )
    assert e8.fits and e8.tp == 4


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 256), k=st.integers(1, 16), t=st.integers(1, 10_000))
def test_experts_touched_bounded_and_monotone(n: int, k: int, t: int) -> None:
    k = min(k, n)
    a, b = experts_touched(n, k, t), experts_touched(n, k, t + 1)
    assert 0 < a <= n + 1e-9
    assert b >= a - 1e-9


@settings(max_examples=25, deadline=None)
@given(ctx=st.integers(1024, 120_000), extra=st.integers(1, 8_000))
def test_more_context_never_gives_more_concurrency(ctx: int, extra: int) -> None:
    cat = load_catalogue()
    s = spec("meta-llama/Llama-3.1-8B-Instruct")
    ctx2 = min(ctx + extra, s.max_context)
    a = estimate(s, fmt("bf16"), gpu=cat.gpu("h100 sxm"), opts=EstimateOptions(max_model_len=ctx))
    b = estimate(s, fmt("bf16"), gpu=cat.gpu("h100 sxm"), opts=EstimateOptions(max_model_len=ctx2))
    assert b.max_concurrency <= a.max_concurrency + 1e-9
    assert b.kv_cache_gib_per_gpu == pytest.approx(a.kv_cache_gib_per_gpu)


@settings(max_examples=20, deadline=None)
@given(batch=st.integers(1, 512))
def test_itl_never_falls_with_a_larger_batch(batch: int) -> None:
    cat = load_catalogue()
    s = spec("Qwen/Qwen3-30B-A3B")
    a = estimate(
        s, fmt("bf16"), gpu=cat.gpu("h100 sxm"), opts=EstimateOptions(max_model_len=8192, concurrency=batch)
    )
    b = estimate(
        s,
        fmt("bf16"),
        gpu=cat.gpu("h100 sxm"),
        opts=EstimateOptions(max_model_len=8192, concurrency=batch + 1),
    )
    assert b.itl_ms >= a.itl_ms - 1e-9


def test_moe_batch_touches_more_expert_bytes_than_batch_one() -> None:
    cat = load_catalogue()
    s = spec("Qwen/Qwen3-30B-A3B")
    one = estimate(
        s, fmt("bf16"), gpu=cat.gpu("h100 sxm"), opts=EstimateOptions(max_model_len=8192, concurrency=1)
    )
    many = estimate(
        s, fmt("bf16"), gpu=cat.gpu("h100 sxm"), opts=EstimateOptions(max_model_len=8192, concurrency=64)
    )
    # batch 1 reads ~3B active params; batch 64 reads most of the 30B experts: ITL must grow a lot
    assert many.itl_ms > 2 * one.itl_ms


def test_tensor_parallel_past_one_server_pays_the_network() -> None:
    """TP16 on 8-GPU servers reduces over the network: slower per token than the same ranks on one
    (hypothetical) 16-GPU NVLink domain, and a prompt's all-reduce volume is bounded by the NIC."""
    cat = load_catalogue()
    spec, fmt = load_model_spec("llama-3.1-70b-instruct"), cat.quant("fp8")
    h100 = cat.gpu("h100-sxm")
    one_domain = h100.model_copy(
        update={"interconnect": h100.interconnect.model_copy(update={"max_gpus_per_node": 16})}
    )
    opts = EstimateOptions(engine="vllm", gpus=16, tp=16, input_len=8192, output_len=256, concurrency=1)
    split = estimate(spec, fmt, gpu=h100, opts=opts)
    joined = estimate(spec, fmt, gpu=one_domain, opts=opts)
    assert split.ttft_ms > joined.ttft_ms * 1.05  # 16 MB of activations per all-reduce over 35 GB/s
    assert split.itl_ms >= joined.itl_ms
