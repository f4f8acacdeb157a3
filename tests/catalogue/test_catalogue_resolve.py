"""Name resolution: the way people type names, ambiguity and unknown names."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from garrison.catalogue import Catalogue, load_catalogue, normalise
from garrison.errors import InputError


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return load_catalogue()


@pytest.mark.parametrize(
    ("typed", "gpu_id"),
    [
        ("h100", "h100-sxm"),
        ("H100", "h100-sxm"),
        ("NVIDIA H100 80GB HBM3", "h100-sxm"),  # torch.cuda.get_device_name() of the SXM part
        ("h100 sxm", "h100-sxm"),
        ("H100 PCIe", "h100-pcie"),
        ("h100 94gb", "h100-nvl"),  # memory-qualified: the only H100 with 94 GB
        ("rtx-4090", "rtx-4090"),
        ("RTX 4090", "rtx-4090"),
        ("4090", "rtx-4090"),
        ("NVIDIA GeForce RTX 3090", "rtx-3090"),
        ("a100-80g", "a100-80gb-sxm"),  # documented default: memory-qualified A100 -> SXM4
        ("NVIDIA A100-SXM4-40GB", "a100-40gb-sxm"),
        ("NVIDIA A100 80GB PCIe", "a100-80gb-pcie"),
        ("a100_80gb_pcie", "a100-80gb-pcie"),
        ("AMD Instinct MI300X", "mi300x"),
        ("mi355x", "mi355x"),
        ("6000 ada", "rtx-6000-ada"),
        ("rtx pro 6000", "rtx-pro-6000-blackwell"),
        ("l40s", "l40s"),
        ("L4", "l4"),
        ("a10", "a10"),
        ("Tesla T4", "t4"),
        ("m3 ultra 512gb", "m3-ultra-512gb"),
        ("M4 Max 128GB", "m4-max-128gb"),
        ("m4 max 64gb", "m4-max-64gb"),
        ("3090 ti", "rtx-3090-ti"),
        ("2080 Ti", "rtx-2080-ti"),
        ("DGX Spark", "gb10"),
        ("Radeon RX 7900 XTX", "rx-7900-xtx"),
        ("h200", "h200-sxm"),
        ("b200", "b200"),
    ],
)
def test_gpu_names_resolve_as_typed(cat: Catalogue, typed: str, gpu_id: str) -> None:
    assert cat.gpu(typed).id == gpu_id


@pytest.mark.parametrize(
    ("typed", "model_id"),
    [
        ("qwen3-32b", "qwen3-32b"),
        ("Qwen/Qwen3-32B", "qwen3-32b"),
        ("Qwen3-32B", "qwen3-32b"),
        ("qwen3 32b", "qwen3-32b"),
        ("MiniMaxAI/MiniMax-M2", "minimax-m2"),
        ("zai-org/GLM-4.6", "glm-4.6"),
        ("GLM 4.6", "glm-4.6"),
        ("Qwen/Qwen3-Next-80B-A3B-Instruct", "qwen3-next-80b-a3b-instruct"),
        ("meta-llama/Llama-3.1-70B-Instruct", "llama-3.1-70b-instruct"),
        ("llama-3.1-70b", "llama-3.1-70b"),
        ("gpt-oss-120b", "gpt-oss-120b"),
    ],
)
def test_model_names_resolve_including_hf_ids(cat: Catalogue, typed: str, model_id: str) -> None:
    assert cat.model(typed).id == model_id


def test_bare_a100_is_ambiguous_and_lists_all_four(cat: Catalogue) -> None:
    # A100 comes with 40 and 80 GB: a silent guess could halve the memory of a plan, so it is an error.
    with pytest.raises(InputError) as err:
        cat.gpu("a100")
    message = str(err.value)
    assert err.value.field == "gpu"
    assert "ambiguous" in message
    for gpu_id in ("a100-40gb-pcie", "a100-40gb-sxm", "a100-80gb-pcie", "a100-80gb-sxm"):
        assert gpu_id in message


@pytest.mark.parametrize(
    ("typed", "choices"),
    [
        ("Apple M4", ("m4-16gb", "m4-24gb", "m4-32gb")),
        ("M4 Max", ("m4-max-36gb", "m4-max-48gb", "m4-max-64gb", "m4-max-128gb")),
        ("M2 Ultra", ("m2-ultra-64gb", "m2-ultra-128gb", "m2-ultra-192gb")),
    ],
)
def test_a_chip_name_with_several_memory_sizes_is_ambiguous(
    cat: Catalogue, typed: str, choices: tuple[str, ...]
) -> None:
    # "Apple M4" once resolved to the M4 Max 128 GB (4.5x the bandwidth): it must list the M4s instead
    with pytest.raises(InputError) as err:
        cat.gpu(typed)
    assert "ambiguous" in str(err.value)
    for gpu_id in choices:
        assert gpu_id in str(err.value)


@pytest.mark.parametrize(
    ("typed", "not_this"),
    [
        ("m4", "m4-max-128gb"),
        ("rtx 3090", "rtx-3090-ti"),
        ("m4 pro", "m4-max-128gb"),
        ("4080", "rtx-4080-super"),
    ],
)
def test_a_name_never_resolves_to_a_different_device(cat: Catalogue, typed: str, not_this: str) -> None:
    try:
        row = cat.gpu(typed)
    except InputError:
        return
    assert row.id != not_this


def test_new_cpu_names_resolve(cat: Catalogue) -> None:
    assert cat.cpu("Threadripper 3970X").id == "threadripper-3970x"
    # the model names lscpu prints
    assert cat.cpu("Intel(R) Core(TM) i5-9500 CPU @ 3.00GHz").id == "core-i5-9500"
    assert cat.cpu("AMD EPYC 7763 64-Core Processor").id == "epyc-7763"


def test_unknown_gpu_lists_closest_choices(cat: Catalogue) -> None:
    with pytest.raises(InputError) as err:
        cat.gpu("h1000")
    assert "unknown GPU 'h1000'" in str(err.value)
    assert "closest: " in err.value.fix
    assert "h100" in err.value.fix


def test_unknown_model_lists_closest_choices(cat: Catalogue) -> None:
    with pytest.raises(InputError) as err:
        cat.model("qwen3-33b")
    assert err.value.field == "model"
    assert "qwen3-32b" in err.value.fix


@pytest.mark.parametrize("typed", ["b20", "h1", "rtx 409", "a1000"])
def test_partial_numbers_do_not_resolve(cat: Catalogue, typed: str) -> None:
    # a contained match may not cut a number: "b20" is a typo, not the B200
    with pytest.raises(InputError):
        cat.gpu(typed)


def test_empty_name_is_an_error(cat: Catalogue) -> None:
    with pytest.raises(InputError):
        cat.gpu("  ")


def test_normalise_drops_vendor_words_separators_and_memory_types() -> None:
    assert normalise("NVIDIA GeForce RTX-4090") == normalise("rtx 4090") == "rtx4090"
    assert normalise("NVIDIA H100 80GB HBM3") == "h10080gb"
    assert normalise("a100-80g") == normalise("A100 80 GiB".replace(" GiB", "GiB")) == "a10080gb"
    assert normalise("Intel(R) Xeon(R) Platinum 8480+") == "xeon8480+"


def test_no_two_rows_share_a_name_key(cat: Catalogue) -> None:
    for kind, index in cat.indexes.items():
        assert index.collisions() == {}, kind


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=40))
def test_any_typed_name_resolves_or_raises_input_error(text: str) -> None:
    # whatever a user types, the answer is a row or one InputError line - never another exception
    cat = load_catalogue()
    for lookup in (cat.gpu, cat.cpu, cat.model, cat.platform, cat.quant):
        try:
            row = lookup(text)
        except InputError as err:
            assert "\n" not in err.one_line()
        else:
            assert row.id


@settings(max_examples=100, deadline=None)
@given(gpu_id=st.sampled_from(sorted(load_catalogue().gpus)), sep=st.sampled_from([" ", "-", "_", ""]))
def test_every_id_and_name_resolves_to_itself(gpu_id: str, sep: str) -> None:
    cat = load_catalogue()
    row = cat.gpus[gpu_id]
    assert cat.gpu(gpu_id.replace("-", sep)).id == gpu_id
    assert cat.gpu(row.name.upper()).id == gpu_id


def test_every_row_resolves_by_id_name_and_alias() -> None:
    cat = load_catalogue()
    tables = {
        cat.gpu: cat.gpus,
        cat.cpu: cat.cpus,
        cat.platform: cat.platforms,
        cat.quant: cat.quant_formats,
    }
    for lookup, rows in tables.items():
        for row in rows.values():
            for name in (row.id, row.name, *row.aliases):
                assert lookup(name).id == row.id, name
    for entry in cat.models.values():
        for name in (entry.id, entry.name, entry.hf_id, *entry.aliases):
            assert cat.model(name).id == entry.id, name
