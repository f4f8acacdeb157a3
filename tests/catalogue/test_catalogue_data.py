"""Every packaged row validates, and physical invariants hold across the tables."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from garrison.catalogue import Catalogue, as_of_key, load_catalogue

GIB_PER_GB = 1e9 / 2**30


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return load_catalogue()


def _data_text(name: str) -> str:
    return resources.files("garrison").joinpath("data", name).read_text(encoding="utf-8")


def test_minimum_coverage(cat: Catalogue) -> None:
    assert len(cat.gpus) >= 30
    assert len(cat.models) >= 45
    segments = {g.segment for g in cat.gpus.values()}
    assert segments == {"datacenter", "workstation", "consumer", "apple"}


REQUIRED_GPUS = [
    "a100-40gb-pcie",
    "a100-40gb-sxm",
    "a100-80gb-pcie",
    "a100-80gb-sxm",
    "h100-pcie",
    "h100-sxm",
    "h100-nvl",
    "h200-sxm",
    "h200-nvl",
    "b200",
    "l4",
    "l40s",
    "l40",
    "a10",
    "a30",
    "t4",
    "v100-32gb",
    "mi300x",
    "mi325x",
    "mi355x",
    "rtx-a6000",
    "rtx-6000-ada",
    "rtx-pro-6000-blackwell",
    "rtx-3080",
    "rtx-3090",
    "rtx-4080",
    "rtx-4090",
    "rtx-5090",
    "m2-ultra-192gb",
    "m3-ultra-512gb",
    "m4-max-128gb",
]


@pytest.mark.parametrize("gpu_id", REQUIRED_GPUS)
def test_required_gpus_present(cat: Catalogue, gpu_id: str) -> None:
    assert gpu_id in cat.gpus


@pytest.mark.parametrize(
    "model_id",
    ["qwen3-next-80b-a3b-instruct", "minimax-m2", "glm-4.6", "qwen3-32b", "llama-3.1-70b-instruct"],
)
def test_role_description_models_present(cat: Catalogue, model_id: str) -> None:
    assert model_id in cat.models


def test_usable_memory_below_marketed_capacity(cat: Catalogue) -> None:
    # DRAM on a GPU is built from binary-sized chips: "24 GB" is 24 GiB, and the engine sees a little less.
    for gpu in cat.gpus.values():
        assert gpu.usable_memory_gib <= gpu.memory_gb, gpu.id
        if gpu.interconnect.kind != "unified":
            # engines see at least 90 % of a discrete card (Apple/APU hosts wire ~75 % by default)
            assert gpu.usable_memory_gib >= 0.9 * gpu.memory_gb, gpu.id


def test_apple_usable_is_the_macos_gpu_working_set(cat: Catalogue) -> None:
    # macOS lets the GPU wire ~3/4 of unified memory above 36 GB and ~2/3 at or below (gpus.yaml header)
    for gpu in cat.gpus.values():
        if gpu.vendor == "apple":
            share = 0.75 if gpu.memory_gb > 36 else 2 / 3
            assert gpu.usable_memory_gib == pytest.approx(share * gpu.memory_gb, abs=0.05), gpu.id


def test_lower_precision_is_never_slower(cat: Catalogue) -> None:
    for gpu in cat.gpus.values():
        if gpu.fp8_dense_tflops is not None:
            assert gpu.fp8_dense_tflops >= gpu.bf16_dense_tflops, gpu.id
        if gpu.fp4_dense_tflops is not None:
            assert gpu.fp4_dense_tflops >= (gpu.fp8_dense_tflops or gpu.bf16_dense_tflops), gpu.id


def test_interconnect_is_per_direction(cat: Catalogue) -> None:
    # marketed NVLink totals are bidirectional; the catalogue stores one direction (NVLink5 1800 -> 900)
    for gpu in cat.gpus.values():
        assert gpu.interconnect.bw_gbps_per_direction <= 900, gpu.id
        if gpu.interconnect.kind == "pcie":
            assert gpu.interconnect.bw_gbps_per_direction in (16, 32, 64), gpu.id


def test_prices_are_ordered_ranges(cat: Catalogue) -> None:
    for gpu in cat.gpus.values():
        if gpu.price is not None:
            assert gpu.price.low_usd <= gpu.price.high_usd, gpu.id


def test_every_model_config_exists_and_parses(cat: Catalogue) -> None:
    for entry in cat.models.values():
        config = cat.model_config(entry)
        text_config = config.get("text_config", config)
        layers = text_config.get("num_hidden_layers", text_config.get("n_layer"))  # GPT-J/BLOOM: n_layer
        assert isinstance(layers, int), entry.id
        assert entry.params_active_b <= entry.params_total_b, entry.id


def test_model_config_is_a_fresh_copy(cat: Catalogue) -> None:
    first = cat.model_config("qwen3-32b")
    first["num_hidden_layers"] = -1
    assert cat.model_config("qwen3-32b")["num_hidden_layers"] == 64


def test_copied_configs_are_exact_copies_of_the_reference() -> None:
    # the reference folder exists on the project machine only; the packaged copies must match byte for byte
    from pathlib import Path

    ref = Path("/work/shared/reference/models")
    if not ref.is_dir():
        pytest.skip("shared reference folder not present on this machine")
    for folder in ref.iterdir():
        if not folder.is_dir():
            continue
        original = folder / "config.json"
        if not original.exists():
            original = folder / "config.reconstructed.json"
        packaged = _data_text(f"model_configs/{folder.name}.json")
        assert packaged == original.read_text(encoding="utf-8"), folder.name


def test_written_configs_say_so(cat: Catalogue) -> None:
    # configs Garrison wrote itself carry a marker key and a "WRITTEN" note in the row's source
    for entry in cat.models.values():
        config = json.loads(_data_text(f"model_configs/{entry.config_file}"))
        if "_garrison_written" in config:
            assert "WRITTEN" in entry.source, entry.id


@pytest.mark.parametrize(
    "name",
    ["gpus.yaml", "cpus.yaml", "models.yaml", "platforms.yaml", "quant_formats.yaml", "cloud_prices.yaml"],
)
def test_each_data_file_names_its_sources_in_a_header(name: str) -> None:
    header = _data_text(name).split("\n\n", 1)[0]
    assert header.startswith("#") and "ource" in header, name


def test_as_of_is_the_newest_row_date(cat: Catalogue) -> None:
    dates = [row.as_of for table in (cat.gpus, cat.models) for row in table.values()]
    assert as_of_key(cat.as_of) >= max(as_of_key(d) for d in dates)
    assert as_of_key("2026-Q2") > as_of_key("2026-05-31")
    assert as_of_key("2026-Q2") < as_of_key("2026-07")


def test_docs_list_every_row() -> None:
    # docs/catalogue.md is the user-facing list; a row missing there is an undocumented row
    from pathlib import Path

    doc = Path(__file__).resolve().parents[2] / "docs" / "catalogue.md"
    if not doc.exists():
        pytest.skip("docs/ not present (installed package)")
    text = doc.read_text(encoding="utf-8")
    cat = load_catalogue()
    tables = (cat.gpus, cat.cpus, cat.models, cat.platforms, cat.quant_formats, cat.cloud_prices)
    missing = [row_id for table in tables for row_id in table if f"`{row_id}`" not in text]
    assert missing == [], f"add these ids to docs/catalogue.md: {missing}"


def test_data_files_pass_yamllint() -> None:
    # the real linter over the packaged files: indentation, duplicate keys, trailing spaces, syntax
    import shutil
    import subprocess
    from pathlib import Path

    exe = shutil.which("yamllint")
    if exe is None:
        pytest.skip("yamllint not installed (it is in the `test` extra)")
    data = Path(str(resources.files("garrison").joinpath("data")))
    config = (
        "{extends: default, rules: {line-length: disable, document-start: disable, "
        "comments: {min-spaces-from-content: 1}, truthy: {check-keys: false}}}"
    )
    files = sorted(str(p) for p in data.glob("*.yaml"))
    result = subprocess.run([exe, "-s", "-d", config, *files], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
