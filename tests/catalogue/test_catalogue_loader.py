"""Loading: lazy and cached, and a broken data file is reported by file, row and field."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import garrison.catalogue as catalogue_pkg
from garrison.catalogue import GPU, ModelEntry, load_catalogue
from garrison.catalogue.loader import CatalogueDataError, parse_rows, read_data_text
from garrison.errors import InputError

GOOD_ROW = """
  - id: test-gpu
    name: Test GPU
    vendor: nvidia
    arch: hopper
    segment: datacenter
    memory_gb: 80
    usable_memory_gib: 79
    mem_bw_gbps: 3000
    bf16_dense_tflops: 900
    tdp_w: 700
    interconnect: {kind: nvlink, bw_gbps_per_direction: 450}
    source: test fixture
    as_of: "2026-12-04"
"""


def test_valid_rows_parse() -> None:
    rows = parse_rows("gpus:" + GOOD_ROW, "gpus.yaml", "gpus", GPU)
    assert rows["test-gpu"].memory_gb == 80


def test_bad_field_names_file_row_and_field() -> None:
    text = (
        "gpus:"
        + GOOD_ROW
        + GOOD_ROW.replace("test-gpu", "second").replace("bf16_dense_tflops: 900", "bf16_dense_tflops: -1")
    )
    with pytest.raises(CatalogueDataError) as err:
        parse_rows(text, "gpus.yaml", "gpus", GPU)
    message = str(err.value)
    assert "gpus.yaml" in message
    assert "row 2 (id second)" in message
    assert "bf16_dense_tflops" in message
    assert isinstance(err.value, InputError)


def test_unknown_key_is_rejected() -> None:
    text = "gpus:" + GOOD_ROW.replace("tdp_w: 700", "tdp_w: 700\n    tdp_watts: 700")
    with pytest.raises(CatalogueDataError, match="tdp_watts"):
        parse_rows(text, "gpus.yaml", "gpus", GPU)


def test_missing_source_is_rejected() -> None:
    text = "gpus:" + GOOD_ROW.replace("    source: test fixture\n", "")
    with pytest.raises(CatalogueDataError, match="field source"):
        parse_rows(text, "gpus.yaml", "gpus", GPU)


def test_duplicate_ids_are_rejected() -> None:
    with pytest.raises(CatalogueDataError, match="duplicate id 'test-gpu'"):
        parse_rows("gpus:" + GOOD_ROW + GOOD_ROW, "gpus.yaml", "gpus", GPU)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("gpus: [unclosed", "invalid YAML"),
        ("rows: []", "top-level list `gpus:`"),
        ("gpus:\n  - just a string", "mapping"),
    ],
)
def test_malformed_documents(text: str, problem: str) -> None:
    with pytest.raises(CatalogueDataError, match=problem):
        parse_rows(text, "gpus.yaml", "gpus", GPU)


def test_bad_model_row_names_the_model() -> None:
    text = """models:
  - id: m
    name: M
    hf_id: org/m
    config_file: m.json
    params_total_b: 1
    params_active_b: 1
    license: mit
    context_max: 100
    source: test fixture
    as_of: "2026"
"""
    with pytest.raises(CatalogueDataError, match=r"models.yaml row 1 \(id m\) field context_max"):
        parse_rows(text, "models.yaml", "models", ModelEntry)


def test_missing_data_file() -> None:
    with pytest.raises(CatalogueDataError, match="missing"):
        read_data_text("no-such-table.yaml")


def test_load_is_cached() -> None:
    assert load_catalogue() is load_catalogue()


def test_import_reads_no_data(monkeypatch: pytest.MonkeyPatch) -> None:
    # nothing is read at import time: re-importing with the reader broken must not fail
    def broken(*parts: str) -> str:
        raise AssertionError(f"read at import time: {parts}")

    monkeypatch.setattr("garrison.catalogue.loader.read_data_text", broken)
    importlib.reload(catalogue_pkg)
    catalogue_pkg.load_catalogue.cache_clear()


def test_data_ships_with_the_package_not_the_working_directory(tmp_path: object) -> None:
    # importlib.resources, not paths relative to the CWD: load from an unrelated directory
    code = "from garrison.catalogue import load_catalogue; print(len(load_catalogue().gpus))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=str(tmp_path), capture_output=True, text=True, check=True
    )
    assert int(out.stdout) >= 30
