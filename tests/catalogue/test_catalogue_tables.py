"""CPUs, platforms, quant formats and cloud prices: formulas, coverage and the facts the planner relies on."""

from __future__ import annotations

import pytest

from garrison.catalogue import Catalogue, load_catalogue
from garrison.errors import InputError


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return load_catalogue()


def test_cpu_bandwidth_is_channels_times_speed_times_eight_bytes(cat: Catalogue) -> None:
    for cpu in cat.cpus.values():
        assert cpu.mem_bw_gbps == pytest.approx(cpu.memory_channels * cpu.memory_mts * 8 / 1000), cpu.id


@pytest.mark.parametrize(
    ("cpu_id", "bw"),
    [("epyc-9654", 460.8), ("epyc-9755", 576.0), ("xeon-8480p", 307.2), ("xeon-6980p", 614.4)],
)
def test_cpu_bandwidth_matches_reference(cat: Catalogue, cpu_id: str, bw: float) -> None:
    assert cat.cpus[cpu_id].mem_bw_gbps == bw


def test_amx_parts_out_multiply_e_cores(cat: Catalogue) -> None:
    assert "amx_int8" in cat.cpus["xeon-8480p"].isa
    assert "avx512" not in cat.cpus["xeon-6740e"].isa
    assert cat.cpus["xeon-8480p"].matmul_tflops > 10 * cat.cpus["xeon-6740e"].matmul_tflops


@pytest.mark.parametrize(
    ("typed", "cpu_id"),
    [("Intel(R) Xeon(R) Platinum 8480+", "xeon-8480p"), ("EPYC 9654", "epyc-9654"), ("9965", "epyc-9965")],
)
def test_cpu_names_resolve(cat: Catalogue, typed: str, cpu_id: str) -> None:
    assert cat.cpu(typed).id == cpu_id


def test_required_platforms_and_kinds(cat: Catalogue) -> None:
    kinds = {p.id: p.kind for p in cat.platforms.values()}
    for engine in ("vllm", "sglang", "tgi", "llama.cpp", "trtllm", "localai"):
        assert kinds[engine] == "engine"
    assert kinds["tabby"] == kinds["continue"] == "assistant"
    assert kinds["open-webui"] == "frontend"


def test_tgi_is_not_actively_maintained(cat: Catalogue) -> None:
    tgi = cat.platform("text-generation-inference")
    assert tgi.maintenance != "active"
    assert "2025-12-11" in tgi.maintenance_note


@pytest.mark.parametrize(
    ("engine", "prefix"), [("vllm", "vllm:"), ("sglang", "sglang:"), ("llama.cpp", "llamacpp:")]
)
def test_metric_prefixes(cat: Catalogue, engine: str, prefix: str) -> None:
    assert cat.platform(engine).metrics_prefix == prefix


def test_images_are_pinned(cat: Catalogue) -> None:
    for platform in cat.platforms.values():
        if platform.image:
            assert platform.image_tag and platform.image_tag not in ("latest", "main"), platform.id


def test_platform_names_resolve(cat: Catalogue) -> None:
    assert cat.platform("llama-server").id == "llama.cpp"
    assert cat.platform("llamacpp").id == "llama.cpp"
    assert cat.platform("TensorRT-LLM").id == "trtllm"
    assert cat.platform("TabbyML").id == "tabby"


def test_platform_quant_families_exist(cat: Catalogue) -> None:
    families = {q.family for q in cat.quant_formats.values()}
    for platform in cat.platforms.values():
        assert set(platform.quant_families) <= families, platform.id


def test_quant_engines_are_catalogue_platforms(cat: Catalogue) -> None:
    for quant in cat.quant_formats.values():
        for engine in quant.engines:
            assert engine in cat.platforms, (quant.id, engine)


@pytest.mark.parametrize(
    ("quant_id", "bpw"),
    [
        ("bf16", 16),
        ("fp8", 8.002),  # 8 + 32 / (128 x 128)
        ("awq", 4.156),  # 4 + 16/128 (fp16 scale) + 4/128 (packed zero)
        ("mxfp4", 4.25),  # 4 + 8/32
        ("nvfp4", 4.5),  # 4 + 8/16
        ("q8_0", 8.5008),  # llama.cpp README, Llama-3.1-8B whole file
        ("q4_k_m", 4.8944),
        ("q5_k_m", 5.7036),
        ("iq4_xs", 4.4597),
    ],
)
def test_real_bits_per_weight(cat: Catalogue, quant_id: str, bpw: float) -> None:
    assert cat.quant_formats[quant_id].bits_per_weight == bpw


def test_quant_scales_are_counted(cat: Catalogue) -> None:
    # every quantised format costs more than its element width because scales/zeros are stored too
    element_bits = {"fp8": 8, "int8": 8, "awq": 4, "gptq": 4, "mxfp4": 4, "nvfp4": 4}
    for quant_id, bits in element_bits.items():
        assert cat.quant_formats[quant_id].bits_per_weight > bits, quant_id


def test_gguf_mixes_are_ordered_by_size(cat: Catalogue) -> None:
    order = ["q2_k", "q3_k_m", "q4_k_s", "q4_k_m", "q5_k_s", "q5_k_m", "q6_k", "q8_0"]
    bpw = [cat.quant_formats[q].bits_per_weight for q in order]
    assert bpw == sorted(bpw)


def test_gguf_names_resolve_as_typed(cat: Catalogue) -> None:
    assert cat.quant("Q4_K_M").id == "q4_k_m"
    assert cat.quant("q4-k-m").id == "q4_k_m"
    with pytest.raises(InputError, match="ambiguous"):
        cat.quant("fp4")  # mxfp4 or nvfp4: the user must choose


def test_cloud_prices(cat: Catalogue) -> None:
    assert len(cat.cloud_prices) >= 20
    providers = {p.provider for p in cat.cloud_prices.values()}
    assert {"openai", "anthropic", "google"} <= providers
    for price in cat.cloud_prices.values():
        assert price.output_usd_per_mtok >= price.input_usd_per_mtok, price.id
        if price.cached_input_usd_per_mtok is not None:
            assert price.cached_input_usd_per_mtok <= price.input_usd_per_mtok, price.id
