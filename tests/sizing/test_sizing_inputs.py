"""Inputs users have that were refused before issue 12: F16/BF16 GGUFs, older model families, more devices."""

from __future__ import annotations

import pytest

from garrison.catalogue import load_catalogue
from garrison.cli import main
from garrison.cli.estimate_cmd import run_estimate
from garrison.design import Estimate
from garrison.modelspec import load_model_spec
from garrison.modelspec.params import param_counts
from garrison.sizing.kv_cache import kv_bytes_per_token_model, kv_layout


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """The console entry point in-process: exit code and stderr."""
    with pytest.raises(SystemExit) as exit_:
        main(args)
    return int(exit_.value.code or 0), capsys.readouterr().err


def _estimate(model: str, **kw: object) -> Estimate:
    args: dict[str, object] = {
        "gpu": None,
        "cpu": None,
        "gpus": 1,
        "tp": None,
        "pp": 1,
        "quant": "auto",
        "kv_dtype": "auto",
        "engine": "vllm",
        "gpu_memory_utilization": None,
        "mem_fraction_static": None,
        "max_model_len": None,
        "max_num_seqs": None,
        "max_num_batched_tokens": None,
        "block_size": None,
        "input_len": 512,
        "output_len": 128,
        "concurrency": None,
        "memory_gib": None,
        "bandwidth_gbs": None,
        "tflops": None,
    }
    args.update(kw)
    return run_estimate(model, **args)  # type: ignore[arg-type]


@pytest.mark.parametrize("quant", ["f16", "F16", "bf16", "fp16"])
def test_llamacpp_serves_16_bit_ggufs(quant: str) -> None:
    est = _estimate(
        "llama-3.1-8b-instruct", gpu="rtx-4090", engine="llama.cpp", quant=quant, max_model_len=4096
    )
    assert est.fits, est.reason
    # 8.03 B weights x 2 bytes = 14.96 GiB: the file, not a 4-bit guess
    assert est.weights_gib_per_gpu == pytest.approx(8.03e9 * 2 / 2**30, rel=0.01)


def test_llamacpp_still_refuses_a_format_it_cannot_load(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _cli(
        ["estimate", "llama-3.1-8b-instruct", "--gpu", "rtx-4090", "--engine", "llama.cpp", "--quant", "awq"],
        capsys,
    )
    assert code == 2
    assert "--quant" in err


def test_gptj_config_with_null_n_inner_sizes() -> None:
    spec = load_model_spec("gpt-j-6b")
    assert spec.intermediate_size == 4 * 4096  # GPTJBlock: n_inner None -> 4 x n_embd
    assert not spec.mlp_gated
    assert param_counts(spec).total == pytest.approx(6.05e9, rel=0.01)
    est = _estimate("gpt-j-6b", gpu="rtx-3090", quant="fp16", max_model_len=2048)
    assert est.fits


def test_gemma4_top_k_experts_and_global_layers() -> None:
    spec = load_model_spec("gemma-4-26b-a4b-it")
    assert spec.moe is not None
    assert (spec.moe.num_experts, spec.moe.experts_per_token) == (128, 8)  # `top_k_experts`
    assert spec.moe.shared_intermediate_size == 2112  # the dense MLP next to the experts
    assert (spec.global_head_dim, spec.global_kv_heads) == (512, 2)
    counts = param_counts(spec)
    assert counts.active == pytest.approx(3.8e9, rel=0.05)
    # 5 full layers x 2 heads x (512 K + 512 V) + 25 sliding layers x 8 x (256 + 256), bf16
    assert kv_layout(spec, "bf16").growing_bytes_per_token == 5 * 2 * 1024 * 2
    assert kv_bytes_per_token_model(spec, "bf16") == 5 * 2 * 1024 * 2 + 25 * 8 * 512 * 2


@pytest.mark.parametrize(
    ("model", "total_b"),
    [
        ("gpt-neox-20b", 20.55),
        ("falcon-7b", 7.22),
        ("falcon-40b", 41.8),
        ("bloom-7b1", 7.07),
        ("opt-6.7b", 6.7),
        ("phi-2", 2.78),
        ("phi-3-mini-4k-instruct", 3.82),
        ("mamba-2.8b", 2.77),
        ("jamba-v0.1", 51.6),
        ("nemotron-h-8b", 8.1),
        ("gemma-4-31b-it", 31.0),
    ],
)
def test_new_families_count_like_their_cards(model: str, total_b: float) -> None:
    assert param_counts(load_model_spec(model)).total == pytest.approx(total_b * 1e9, rel=0.05)


def test_mamba_holds_a_fixed_state_and_no_kv() -> None:
    spec = load_model_spec("mamba-2.8b")
    layout = kv_layout(spec, "bf16")
    assert layout.growing_bytes_per_token == 0
    # 64 layers x (5120 x 16 state + 5120 x 3 conv) x 4 B (fp32 state)
    assert layout.fixed_bytes_per_seq == 64 * (5120 * 16 + 5120 * 3) * 4


def test_hybrid_layer_patterns() -> None:
    jamba = load_model_spec("jamba-v0.1")
    assert jamba.layer_kinds.count("full") == 4 and jamba.layer_kinds.count("linear") == 28
    assert jamba.moe is not None and jamba.num_layers - jamba.moe.first_dense_layers == 16
    nemo = load_model_spec("nemotron-h-8b")
    assert (
        nemo.layer_kinds.count("linear"),
        nemo.layer_kinds.count("full"),
        nemo.layer_kinds.count("mlp"),
    ) == (
        24,
        4,
        24,
    )
    assert nemo.dense_mlp_layers == 24
    # 4 attention layers x 8 KV heads x 128 x (K + V) x 2 B
    assert kv_bytes_per_token_model(nemo, "bf16") == 4 * 8 * 128 * 2 * 2


@pytest.mark.parametrize(
    ("gpu", "cpu"),
    [
        ("rtx-2080-ti", None),
        ("p40", None),
        ("h20", None),
        ("rx-7900-xtx", None),
        (None, "threadripper-3970x"),
        (None, "core-i5-9500"),
    ],
)
def test_devices_people_self_host_on_are_known(gpu: str | None, cpu: str | None) -> None:
    cat = load_catalogue()
    if gpu:
        assert cat.gpu(gpu).id == gpu
        est = _estimate("qwen3-8b", gpu=gpu, engine="llama.cpp", quant="q4_k_m", max_model_len=8192)
    else:
        assert cat.cpu(cpu or "").id == cpu
        est = _estimate("qwen3-8b", cpu=cpu, quant="q4_k_m", max_model_len=8192)
    assert est.fits and est.decode_tokens_per_s_single > 0


def test_apple_m4_is_an_error_with_choices_not_the_m4_max(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _cli(["estimate", "qwen3-8b", "--gpu", "Apple M4", "--engine", "llama.cpp"], capsys)
    assert code == 2
    assert "ambiguous" in err and "m4-16gb" in err and "m4-max" not in err
