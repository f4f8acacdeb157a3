"""Beyond dense GPUs: MoE variants, expert vs tensor parallel, CPUs, and llama.cpp on several GPUs."""

from __future__ import annotations

import pytest

from garrison.catalogue import load_catalogue
from garrison.cli.estimate_cmd import run_estimate
from garrison.design import Estimate
from garrison.modelspec import load_model_spec
from garrison.modelspec.params import param_counts
from garrison.sizing.estimate import EstimateOptions, estimate, step_model_for
from garrison.sizing.units import GIB
from garrison.sizing.weights import weight_bytes


def _gpu(model: str, quant: str, gpu: str, gpus: int, **kw: object) -> Estimate:
    cat = load_catalogue()
    opts = EstimateOptions(gpus=gpus, max_model_len=kw.pop("max_model_len", 32768), **kw)  # type: ignore[arg-type]
    return estimate(load_model_spec(model), cat.quant(quant), gpu=cat.gpu(gpu), opts=opts)


def _cpu(cpu: str, sockets: int = 1, numa: bool = False, model: str = "llama-3.1-8b-instruct") -> Estimate:
    cat = load_catalogue()
    opts = EstimateOptions(
        engine="llama.cpp",
        sockets=sockets,
        numa_distribute=numa,
        max_model_len=8192,
        input_len=512,
        output_len=128,
        concurrency=1,
    )
    return estimate(load_model_spec(model), cat.quant("q4_k_m"), cpu=cat.cpu(cpu), opts=opts)


# ---------------------------------------------------------------- MoE
def test_latent_experts_never_make_dense_bytes_negative_or_beat_the_bandwidth_floor() -> None:
    # Kimi-K3 experts work in a 3,584-wide latent: the old model sized them at the 7,168 hidden width
    cat = load_catalogue()
    spec = load_model_spec("kimi-k3")
    fmt = cat.quant(spec.native_dtype)
    w = weight_bytes(spec, param_counts(spec), fmt)
    assert 0 < w.dense_layers < w.layers
    est = _gpu("kimi-k3", spec.native_dtype, "b300", 8)
    model = step_model_for(spec, fmt, est, gpu=cat.gpu("b300"))
    # one token reads at least the dense weights and its k experts, over 8 GPUs' bandwidth
    counts = param_counts(spec)
    floor_bytes = (
        (counts.active - counts.embedding) * fmt.bits_per_weight / 8 * 0.5
    )  # experts fp4, rest 16-bit
    floor_s = floor_bytes / 8 / model.device.mem_bw_bytes_s
    assert model.decode_step_s(1, 1024) > floor_s


def test_deepseek_v4_experts_are_sized_in_fp4() -> None:
    # `expert_dtype: fp4` (4.25 bits with ue8m0 scales): ~75 GiB per GPU on 2x H200, not 136 at FP8
    est = _gpu("deepseek-v4-flash", "fp8", "h200-sxm", 2)
    assert est.fits and est.kv_cache_gib_per_gpu > 0
    assert est.weights_gib_per_gpu == pytest.approx(75, rel=0.05)


@pytest.mark.parametrize(("model", "gib"), [("gpt-oss-120b", 64.38), ("gpt-oss-20b", 13.47)])
def test_mxfp4_moe_weights_match_vllm_logs(model: str, gib: float) -> None:
    # vLLM 'Model loading took' on one H100: 64.38 GiB (vllm #33155), 13.47 GiB (llm-d empirical results)
    est = _gpu(model, "mxfp4", "h100-sxm", 1, max_model_len=16000)
    assert est.weights_gib_per_gpu == pytest.approx(gib, rel=0.01)


def test_expert_parallel_keeps_memory_and_pays_all_to_all() -> None:
    tp = _gpu("qwen3-235b-a22b-fp8", "fp8", "h100-sxm", 8, tp=8)
    ep = _gpu("qwen3-235b-a22b-fp8", "fp8", "h100-sxm", 8, tp=8, expert_parallel=True)
    assert ep.weights_gib_per_gpu == pytest.approx(tp.weights_gib_per_gpu, rel=1e-6)
    # batch 1: the busiest rank holds 2-3 of the 8 experts a token picks, in full: slower than 1/8 slices
    assert ep.decode_tokens_per_s_single < tp.decode_tokens_per_s_single
    assert any("expert parallel" in a for a in ep.assumptions)


def test_deep_moe_on_eight_gpus_pays_per_layer_latency() -> None:
    # issue 12: DeepSeek-V3 at batch 1 on 8 GPUs was predicted at 266 tokens/s (3-5x optimistic)
    cat = load_catalogue()
    spec = load_model_spec("deepseek-v3")
    est = _gpu("deepseek-v3", "fp8", "h200-sxm", 8)
    model = step_model_for(spec, cat.quant("fp8"), est, gpu=cat.gpu("h200-sxm"))
    step = model.decode_step_s(1, 2048)
    comm_and_routing = model._comm_s(1) + model._fixed_s(1)
    assert comm_and_routing > 0.5 * step
    assert est.decode_tokens_per_s_single < 150


# ---------------------------------------------------------------- CPUs
def test_cpu_prefill_uses_the_measured_kernel_rate_not_the_int8_peak() -> None:
    # issue 12: a Xeon 6980P was predicted at ~16,000 prompt tokens/s for an 8B model
    assert 300 < _cpu("xeon-6980p").prefill_tokens_per_s < 3000
    # a Ryzen 7950X: llama-bench pp512 ~157 t/s for an 8B Q5_0 (ik_llama.cpp PR #121)
    assert _cpu("ryzen-9-7950x").prefill_tokens_per_s == pytest.approx(157, rel=0.25)


def test_amx_serves_only_the_weight_types_llama_cpp_repacks_for_it() -> None:
    # ggml-cpu/amx/common.h qtype_has_amx_kernels: Q8_0 and the K-quants yes, Q5_0 / Q3_K / F16 no
    from garrison.sizing.cpu import kernel_for

    cat = load_catalogue()
    xeon = cat.cpu("xeon-8480p")
    assert kernel_for(xeon, "q8_0").id == "amx"
    assert kernel_for(xeon, "q4_k_m").id == "amx"
    assert kernel_for(xeon, "q5_0").id == "avx512"
    assert kernel_for(xeon, "q3_k_m").id == "avx512"
    assert kernel_for(xeon, "fp16").id == "avx512"
    spec = load_model_spec("llama-3.1-8b-instruct")
    opts = EstimateOptions(
        engine="llama.cpp", max_model_len=8192, input_len=512, output_len=128, concurrency=1
    )
    amx = estimate(spec, cat.quant("q4_k_m"), cpu=xeon, opts=opts).prefill_tokens_per_s
    other = estimate(spec, cat.quant("q5_0"), cpu=xeon, opts=opts).prefill_tokens_per_s
    assert amx > 1.5 * other


def test_cpu_decode_depends_on_cores_and_numa() -> None:
    few, many = _cpu("epyc-9124"), _cpu("epyc-9554")
    assert (
        few.decode_tokens_per_s_single < many.decode_tokens_per_s_single
    )  # 16 cores cannot fill 12 channels
    assert few.prefill_tokens_per_s < many.prefill_tokens_per_s / 3
    one, two, two_numa = _cpu("epyc-9554"), _cpu("epyc-9554", 2), _cpu("epyc-9554", 2, numa=True)
    assert two.decode_tokens_per_s_single == pytest.approx(
        one.decode_tokens_per_s_single
    )  # no NUMA placement
    # the second socket's bandwidth (cpu_numa_gain), less the fixed per-token cost it cannot share
    assert two_numa.decode_tokens_per_s_single > 1.35 * one.decode_tokens_per_s_single
    assert two.prefill_tokens_per_s == pytest.approx(
        2 * one.prefill_tokens_per_s, rel=0.01
    )  # every core computes


def test_a_cpu_not_in_the_catalogue_can_be_described() -> None:
    base = {
        "gpu": None,
        "cpu": None,
        "gpus": 1,
        "tp": None,
        "pp": 1,
        "quant": "q4_k_m",
        "kv_dtype": "auto",
        "engine": "llama.cpp",
        "gpu_memory_utilization": None,
        "mem_fraction_static": None,
        "max_model_len": 8192,
        "max_num_seqs": None,
        "max_num_batched_tokens": None,
        "block_size": None,
        "input_len": 512,
        "output_len": 128,
        "concurrency": 1,
        "memory_gib": None,
        "tflops": None,
    }
    custom = run_estimate("qwen3-8b", **base, cores=16, base_ghz=4.5, bandwidth_gbs=83.2, isa="avx512")  # type: ignore[arg-type]
    known = run_estimate("qwen3-8b", **{**base, "cpu": "ryzen-9-7950x"}, bandwidth_gbs=None)  # type: ignore[arg-type]
    assert custom.device == "custom-cpu"
    assert custom.decode_tokens_per_s_single == pytest.approx(known.decode_tokens_per_s_single, rel=1e-6)
    assert custom.prefill_tokens_per_s == pytest.approx(known.prefill_tokens_per_s, rel=1e-6)
    slower = run_estimate("qwen3-8b", **{**base, "cpu": "ryzen-9-7950x"}, bandwidth_gbs=40.0)  # type: ignore[arg-type]
    assert slower.decode_tokens_per_s_single < known.decode_tokens_per_s_single


# ---------------------------------------------------------------- llama.cpp on several GPUs
def test_llamacpp_layer_split_adds_memory_not_single_stream_speed() -> None:
    # issue 12: Qwen3-32B Q8_0 was 32.6 / 50.5 / 80.4 tokens/s on 1 / 2 / 4 GPUs (modelled as TP)
    two = _gpu("qwen3-32b", "q8_0", "rtx-5090", 2, engine="llama.cpp", max_model_len=8192)
    four = _gpu("qwen3-32b", "q8_0", "rtx-5090", 4, engine="llama.cpp", max_model_len=8192)
    assert two.fits and (two.tp, two.pp) == (1, 2)
    assert four.decode_tokens_per_s_single == pytest.approx(two.decode_tokens_per_s_single, rel=0.03)
    assert two.weights_gib_per_gpu < 0.55 * 34.8e9 / GIB * 1.1


def test_llamacpp_row_split_gains_less_than_the_gpu_count() -> None:
    layer = _gpu("qwen3-32b", "q8_0", "rtx-5090", 4, engine="llama.cpp", max_model_len=8192)
    row = _gpu("qwen3-32b", "q8_0", "rtx-5090", 4, engine="llama.cpp", max_model_len=8192, split_mode="row")
    assert (
        layer.decode_tokens_per_s_single
        < row.decode_tokens_per_s_single
        < 2 * layer.decode_tokens_per_s_single
    )
    assert any("no PCIe peer-to-peer" in a for a in row.assumptions)  # GeForce: through host memory
