"""Engine- and checkpoint-aware defaults: KV dtype from the checkpoint, engine versions, per-layer
quantisation skips, the GPU rates llama.cpp runs at, and the verdicts near the memory edge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from garrison.catalogue import load_catalogue
from garrison.engines.vllm import version_defaults as vllm_defaults
from garrison.modelspec import load_model_spec
from garrison.modelspec.from_config import kv_cache_dtype_of, spec_from_config
from garrison.modelspec.hf_folder import spec_from_folder
from garrison.modelspec.params import param_counts
from garrison.sizing.estimate import EstimateOptions, estimate
from garrison.sizing.speed import fp16_tflops

LLAMA_8B = load_model_spec("llama-3.1-8b-instruct")


def _est(**kw: object) -> object:
    cat = load_catalogue()
    opts = EstimateOptions(**kw)  # type: ignore[arg-type]
    return estimate(LLAMA_8B, cat.quant("fp8"), gpu=cat.gpu("h100-sxm"), opts=opts)


# ---------------------------------------------------------------- KV dtype the checkpoint declares
def test_kv_dtype_from_compressed_tensors_and_modelopt_configs() -> None:
    ct = {"quant_method": "compressed-tensors", "kv_cache_scheme": {"num_bits": 8, "type": "float"}}
    assert kv_cache_dtype_of(ct) == "fp8"
    assert kv_cache_dtype_of({"quant_method": "modelopt", "kv_cache_quant_algo": "FP8"}) == "fp8"
    sidecar = {
        "producer": {"name": "modelopt"},
        "quantization": {"quant_algo": "FP8", "kv_cache_quant_algo": "FP8"},
    }
    assert kv_cache_dtype_of(sidecar) == "fp8"
    assert kv_cache_dtype_of({"quant_method": "fp8"}) is None
    assert kv_cache_dtype_of({"quant_method": "modelopt", "kv_cache_quant_algo": None}) is None
    assert kv_cache_dtype_of(None) is None


def test_modelopt_sidecar_in_a_folder_sets_the_kv_dtype(tmp_path: Path) -> None:
    cfg = json.loads(
        (
            Path(__file__).resolve().parents[2]
            / "src/garrison/data/model_configs/meta-llama__Llama-3.1-8B-Instruct.json"
        ).read_text(encoding="utf-8")
    )
    cfg.pop("_garrison_written", None)
    (tmp_path / "config.json").write_text(json.dumps(cfg), encoding="utf-8")
    assert spec_from_folder(tmp_path).kv_cache_dtype is None
    (tmp_path / "hf_quant_config.json").write_text(
        json.dumps({"quantization": {"quant_algo": "FP8", "kv_cache_quant_algo": "FP8"}}), encoding="utf-8"
    )
    spec = spec_from_folder(tmp_path)
    assert spec.kv_cache_dtype == "fp8"
    cat = load_catalogue()
    est = estimate(spec, cat.quant("fp8"), gpu=cat.gpu("h100-sxm"), opts=EstimateOptions(max_model_len=8192))
    assert est.kv_dtype == "fp8"  # vLLM's kv_cache_dtype 'auto' follows the checkpoint
    forced = estimate(
        spec,
        cat.quant("fp8"),
        gpu=cat.gpu("h100-sxm"),
        opts=EstimateOptions(max_model_len=8192, kv_dtype="bf16"),
    )
    assert forced.kv_dtype == "bf16" and forced.kv_cache_tokens < est.kv_cache_tokens * 0.6
    lcpp = estimate(
        spec,
        cat.quant("q4_k_m"),
        gpu=cat.gpu("rtx-4090"),
        opts=EstimateOptions(engine="llama.cpp", max_model_len=8192),
    )
    assert lcpp.kv_dtype == "fp16"  # llama.cpp's own default


# ---------------------------------------------------------------- per-layer quantisation skips
def test_modules_kept_16_bit_in_single_layers_count_only_those_layers() -> None:
    cfg = json.loads(
        (
            Path(__file__).resolve().parents[2]
            / "src/garrison/data/model_configs/meta-llama__Llama-3.1-8B-Instruct.json"
        ).read_text(encoding="utf-8")
    )
    layers = cfg["num_hidden_layers"]
    skip = [f"model.layers.{i}.self_attn.{p}_proj" for i in range(layers) for p in "qkvo"]
    skip += [f"model.layers.{i}.mlp.{p}_proj" for i in (0, layers - 1) for p in ("gate", "up", "down")]
    cfg["quantization_config"] = {"quant_method": "fbgemm_fp8", "modules_to_not_convert": [*skip, "lm_head"]}
    spec = spec_from_config(cfg, name="x", source="hf-folder")
    assert spec.quant_skip == ("attention", "lm_head")  # every layer's attention
    assert spec.quant_skip_layers == (("dense_mlp", 2),)  # two layers' MLPs, not all of them
    c = param_counts(spec)
    mlp_one_layer = c.dense_mlp / layers
    assert c.quantizable == pytest.approx(c.dense_mlp - 2 * mlp_one_layer, rel=1e-6)


# ---------------------------------------------------------------- engine versions
def test_vllm_defaults_by_version() -> None:
    new = vllm_defaults("0.10.1", 79.2, 8192)
    assert new.chunked_prefill and new.graphs_before_kv and new.max_num_batched_tokens == 8192
    old = vllm_defaults("0.4.3", 79.2, 8192)
    assert not old.chunked_prefill and not old.graphs_before_kv and old.max_num_batched_tokens == 8192
    assert vllm_defaults("0.4.3", 79.2, 1024).max_num_batched_tokens == 2048
    long5 = vllm_defaults("0.5.3", 79.2, 131072)
    assert long5.chunked_prefill and long5.max_num_batched_tokens == 512
    assert vllm_defaults("0.5.0", 79.2, 131072).chunked_prefill is False
    assert vllm_defaults("0.6.3", 79.2, 131072).max_num_batched_tokens == 2048
    assert not vllm_defaults("0.6.3", 79.2, 32768).chunked_prefill
    assert vllm_defaults("0.8.0", 30.0, 8192).max_num_batched_tokens == 2048  # small GPU: V1's 2048


def test_vllm_without_chunked_prefill_runs_prefill_first() -> None:
    new = _est(max_model_len=8192, input_len=2000, output_len=200)
    old = _est(max_model_len=8192, input_len=2000, output_len=200, engine_version="0.4.3")
    assert any("without chunked prefill" in a for a in old.assumptions)  # type: ignore[attr-defined]
    # decodes wait through whole-prompt steps (higher ITL), prompts do not wait for decodes (lower TTFT)
    assert old.itl_ms > new.itl_ms  # type: ignore[attr-defined]
    assert old.ttft_ms < new.ttft_ms  # type: ignore[attr-defined]
    # V0 sized the KV cache before capturing CUDA graphs: a little more KV
    assert old.kv_cache_tokens >= new.kv_cache_tokens  # type: ignore[attr-defined]


# ---------------------------------------------------------------- llama.cpp's GEMM rate
def test_fp16_accumulate_rate_is_half_the_int8_rate_on_nvidia() -> None:
    cat = load_catalogue()
    assert fp16_tflops(cat.gpu("rtx-4090")) == pytest.approx(330.3, rel=0.01)  # 2x its FP32-accumulate BF16
    assert fp16_tflops(cat.gpu("h100-sxm")) == pytest.approx(cat.gpu("h100-sxm").bf16_dense_tflops, rel=0.01)
    assert fp16_tflops(cat.gpu("rx-7900-xtx")) == cat.gpu("rx-7900-xtx").bf16_dense_tflops
    assert fp16_tflops(cat.gpu("b300")) == cat.gpu("b300").bf16_dense_tflops  # INT8 cut on B300


# ---------------------------------------------------------------- verdicts near the edge
def test_a_fit_inside_the_memory_error_says_so() -> None:
    cat = load_catalogue()
    spec = load_model_spec("llama-3.1-405b-instruct")
    spec = spec.model_copy(update={"quant_skip": ("attention",), "quant_skip_layers": (("dense_mlp", 2),)})
    est = estimate(
        spec,
        cat.quant("fp8"),
        gpu=cat.gpu("h100-sxm"),
        opts=EstimateOptions(gpus=8, tp=8, max_model_len=131072),
    )
    assert est.fits
    assert any(a.startswith("fits by ") and "may refuse to start" in a for a in est.assumptions)
    roomy = estimate(
        spec,
        cat.quant("fp8"),
        gpu=cat.gpu("h100-sxm"),
        opts=EstimateOptions(gpus=8, tp=8, max_model_len=16384),
    )
    assert not any(a.startswith("fits by ") for a in roomy.assumptions)


def test_ttft_under_load_waits_for_the_step_in_progress() -> None:
    one = _est(max_model_len=8192, input_len=4000, output_len=300, concurrency=1)
    many = _est(max_model_len=8192, input_len=4000, output_len=300, concurrency=16)
    assert many.ttft_ms > one.ttft_ms * 1.2  # type: ignore[attr-defined]
