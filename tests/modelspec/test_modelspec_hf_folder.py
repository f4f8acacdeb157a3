"""spec_from_folder: config.json alone, real safetensors headers, the shard index, bad files."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

from garrison.errors import InputError
from garrison.modelspec import load_model_spec, spec_from_folder
from garrison.modelspec.hf_folder import summarize_safetensors

from . import configs


def _folder(tmp_path: Path, config: dict[str, Any] | None = None) -> Path:
    folder = tmp_path / "Llama-3.1-8B"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config or configs.LLAMA_8B))
    return folder


def test_config_only(tmp_path: Path) -> None:
    s = spec_from_folder(_folder(tmp_path))
    assert s.source == "hf-folder" and s.name == "Llama-3.1-8B"
    assert s.weight_bytes_exact is None and s.native_dtype == "bf16"


def test_safetensors_headers_give_exact_bytes_and_dtype(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    a = {
        "model.embed_tokens.weight": np.ones((300, 64), np.float16),
        "model.norm.weight": np.ones(64, np.float32),
    }
    b = {"lm_head.weight": np.ones((300, 64), np.float16)}
    save_file(a, str(folder / "model-00001-of-00002.safetensors"))
    save_file(b, str(folder / "model-00002-of-00002.safetensors"))
    s = spec_from_folder(folder)
    expected = sum(x.nbytes for x in (*a.values(), *b.values()))
    assert s.weight_bytes_exact == expected
    assert s.native_dtype == "fp16"
    # cross-check against the safetensors package's own reader
    with safe_open(str(folder / "model-00001-of-00002.safetensors"), "np") as f:
        assert set(f.keys()) == set(a)


def test_only_header_is_read(tmp_path: Path) -> None:
    """A header that claims 10 GB of data in a 200-byte file: counted, never read."""
    folder = _folder(tmp_path)
    header = json.dumps(
        {"w": {"dtype": "BF16", "shape": [50_000, 100_000], "data_offsets": [0, 10_000_000_000]}}
    ).encode()
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header)
    s = spec_from_folder(folder)
    assert s.weight_bytes_exact == 10_000_000_000 and s.native_dtype == "bf16"


def test_index_total_size_when_shards_are_missing(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    index = {
        "metadata": {"total_size": 16_060_522_496},
        "weight_map": {"lm_head.weight": "model-00004-of-00004.safetensors"},
    }
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    assert spec_from_folder(folder).weight_bytes_exact == 16_060_522_496


def test_quantized_checkpoint_keeps_quant_dtype(tmp_path: Path) -> None:
    folder = _folder(tmp_path, configs.DEEPSEEK_V3)
    save_file({"w": np.ones((4, 4), np.float32)}, str(folder / "model.safetensors"))
    s = spec_from_folder(folder)
    assert s.native_dtype == "fp8" and s.weight_bytes_exact == 64


_BAD_OFFSETS = b'{"w": {"dtype": "F16", "data_offsets": [9, 1]}}'


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"\x01", "too short"),
        (struct.pack("<Q", 1 << 40) + b"{}", "not plausible"),
        (struct.pack("<Q", 10) + b"{not json}", "not valid JSON"),
        (struct.pack("<Q", 100) + b"{}", "truncated"),
        (struct.pack("<Q", len(_BAD_OFFSETS)) + _BAD_OFFSETS, "data_offsets"),
    ],
)
def test_bad_safetensors_are_input_errors(tmp_path: Path, content: bytes, match: str) -> None:
    folder = _folder(tmp_path)
    (folder / "model.safetensors").write_bytes(content)
    with pytest.raises(InputError, match=match):
        spec_from_folder(folder)


def test_missing_or_broken_config(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError) as err:
        spec_from_folder(empty)
    assert err.value.field == "config.json"
    (empty / "config.json").write_text("{broken")
    with pytest.raises(InputError, match="not valid JSON"):
        spec_from_folder(empty)


def test_summary_counts_tensors(tmp_path: Path) -> None:
    path = tmp_path / "x.safetensors"
    save_file({"a": np.zeros(3, np.float32), "b": np.zeros((2, 2), np.int8)}, str(path))
    summary = summarize_safetensors([path])
    assert summary.tensors == 2 and summary.bytes_by_dtype == {"F32": 12, "I8": 4}


def test_load_model_spec_folder_and_config_file(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    assert load_model_spec(str(folder)).source == "hf-folder"
    assert load_model_spec(str(folder / "config.json")).name == "Llama-3.1-8B"
    with pytest.raises(InputError, match="does not exist"):
        load_model_spec(str(tmp_path / "nope"))


def test_deeply_nested_json_is_an_input_error(tmp_path: Path) -> None:
    folder = tmp_path / "deep"
    folder.mkdir()
    (folder / "config.json").write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(InputError, match="not valid JSON"):
        spec_from_folder(folder)
