"""The engine registry: one profile per engine, found by name or alias, and the only place that
knows engine names (every other module asks it)."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest

from garrison import engines
from garrison.catalogue import load_catalogue
from garrison.errors import InputError
from garrison.requirements import Engine
from garrison.testing.designs import make_deployment

SRC = Path(engines.__file__).resolve().parents[1]


def test_every_engine_name_the_cli_and_requirements_accept_has_a_profile() -> None:
    from garrison.cli.estimate_cmd import EngineName

    for name in typing.get_args(EngineName):
        assert engines.find(name) is not None, name
    planned = {"vllm", "sglang", "llama.cpp", "tabby", "tgi", "trtllm"}
    assert planned <= set(typing.get_args(Engine))
    assert set(engines.PROFILES) == planned


def test_lookup_by_alias_and_case() -> None:
    assert engines.get("llama-server").name == "llama.cpp"
    assert engines.get("VLLM").name == "vllm"
    with pytest.raises(InputError, match="unknown engine"):
        engines.get("not-an-engine")


def test_only_rendered_engines_have_a_launch() -> None:
    assert {n for n, p in engines.PROFILES.items() if p.renders} == {"vllm", "sglang", "llama.cpp", "tabby"}
    with pytest.raises(InputError, match="no bundle templates"):
        engines.launch_of("tgi", "deployments[0].engine")


def test_profiles_agree_with_the_catalogue_platform_rows() -> None:
    """Images and metric prefixes: the catalogue's platforms row and the profile say the same."""
    cat = load_catalogue()
    for name, p in engines.PROFILES.items():
        row = cat.platforms.get(name)
        assert row is not None, name
        if p.launch is not None and p.launch.metrics.queue:
            assert p.launch.metrics.queue.startswith(row.metrics_prefix), name
        # every family the engine loads is one the catalogue lists for it
        assert p.weight_families <= set(row.quant_families), (
            name,
            p.weight_families - set(row.quant_families),
        )


def test_llamacpp_context_is_per_request_times_slots() -> None:
    p = engines.get("llama.cpp")
    assert p.fixed_slots and p.context_tokens(8192, 4) == 32768
    assert engines.get("vllm").context_tokens(8192, 256) == 8192
    dep = make_deployment(
        engine="llama.cpp",
        quant="Q4_K_M",
        kv_dtype="q8_0",
        max_model_len=8192,
        max_num_seqs=4,
        device_kind="cpu",
    )
    args = engines.command_args(dep)
    assert args[args.index("-c") + 1] == "32768" and args[args.index("-np") + 1] == "4"
    assert args[args.index("-ctk") + 1] == "q8_0" and "--no-kv-unified" in args


def test_sglang_renders_the_fraction_it_was_sized_with() -> None:
    dep = make_deployment(engine="sglang", gpu_memory_utilization=0.88)
    args = engines.command_args(dep)
    assert args[args.index("--mem-fraction-static") + 1] == "0.88"
    assert engines.get("sglang").memory_fraction == 0.88


def test_image_variants() -> None:
    cuda = "ghcr.io/ggml-org/llama.cpp:server-cuda-b11434"
    assert engines.image_variant("llama.cpp", cuda, "cpu") == "ghcr.io/ggml-org/llama.cpp:server-b11434"
    assert (
        engines.image_variant("llama.cpp", cuda, "gpu", "amd")
        == "ghcr.io/ggml-org/llama.cpp:server-rocm-b11434"
    )
    assert engines.image_variant("llama.cpp", cuda, "gpu", "nvidia") == cuda
    assert (
        engines.image_variant("vllm", "vllm/vllm-openai:v0.29.0", "gpu", "amd") == "vllm/vllm-openai:v0.29.0"
    )


def test_no_module_outside_the_registry_compares_engine_names() -> None:
    """`engine == "llama.cpp"` and friends live only in garrison/engines/ (templates included)."""
    names = "|".join(re.escape(n) for n in engines.PROFILES)
    pattern = re.compile(rf"""(==|!=|\bin\b)\s*\(?\s*["']({names})["']|["']({names})["']\s*(==|!=)""")
    hits = []
    for path in [*SRC.rglob("*.py"), *SRC.rglob("*.j2")]:
        rel = path.relative_to(SRC)
        # the registry itself; the simulator's scheduler models are keyed by scheduler kind
        # (EngineProfile.scheduler), whose values happen to share names with engines
        if rel.parts[0] == "engines" or str(rel) == "simulate/engine.py":
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                hits.append(f"{rel}:{n}: {line.strip()}")
    assert not hits, "\n".join(hits)
