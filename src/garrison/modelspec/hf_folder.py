"""ModelSpec from a local Hugging Face model folder: config.json, plus safetensors headers if present.

A safetensors file starts with an 8-byte little-endian header length N and N bytes of JSON that map
each tensor name to `{"dtype", "shape", "data_offsets": [begin, end]}` (format spec:
huggingface/safetensors README). Only those header bytes are read, never the tensor data, so a
700 GB checkpoint is measured in milliseconds. `model.safetensors.index.json` lists the shards and,
in `metadata.total_size`, the exact byte count of all tensors; it is used when shards are missing.
"""

from __future__ import annotations

import json
import struct
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from garrison.errors import InputError
from garrison.modelspec.from_config import kv_cache_dtype_of, spec_from_config
from garrison.modelspec.spec import ModelSpec

_MAX_HEADER = 256 * 1024 * 1024  # a header larger than this is not a safetensors file

# safetensors dtype names -> ModelSpec.native_dtype names
_ST_DTYPES = {
    "BF16": "bf16",
    "F16": "fp16",
    "F32": "fp32",
    "F64": "fp32",
    "F8_E4M3": "fp8",
    "F8_E5M2": "fp8",
    "F8_E8M0": "fp8",
    "F4": "nvfp4",
    "I8": "int8",
    "U8": "int8",
    "I32": "int4",  # GPTQ/AWQ pack eight 4-bit weights into one int32
    "I64": "fp32",
    "BOOL": "fp32",
}


@dataclass(frozen=True)
class SafetensorsSummary:
    """What the headers say: exact tensor bytes, bytes by dtype, tensor count."""

    total_bytes: int
    bytes_by_dtype: dict[str, int]
    tensors: int
    files: int


def read_safetensors_header(path: Path) -> dict[str, Any]:
    """The JSON header of one .safetensors file (reads 8 + N bytes only)."""
    field = f"{path.name}"
    try:
        with path.open("rb") as fh:
            raw = fh.read(8)
            if len(raw) != 8:
                raise InputError(field, "too short to be a safetensors file", "re-download the file")
            (length,) = struct.unpack("<Q", raw)
            if length < 2 or length > _MAX_HEADER:
                raise InputError(field, f"header length {length} is not plausible", "re-download the file")
            body = fh.read(length)
    except OSError as exc:
        raise InputError(field, f"cannot read ({exc.strerror})", "check the path and permissions") from None
    if len(body) != length:
        raise InputError(field, "header is truncated", "re-download the file")
    try:
        header = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise InputError(field, "header is not valid JSON", "re-download the file") from None
    if not isinstance(header, dict):
        raise InputError(field, "header is not a JSON object", "re-download the file")
    return header


def summarize_safetensors(files: list[Path]) -> SafetensorsSummary:
    """Sum tensor bytes (end - begin of `data_offsets`) per dtype over the given files."""
    by_dtype: Counter[str] = Counter()
    tensors = 0
    for path in files:
        for name, info in read_safetensors_header(path).items():
            if name == "__metadata__":
                continue
            if not isinstance(info, dict):
                raise InputError(
                    f"{path.name}: {name}", "tensor entry is not an object", "re-download the file"
                )
            offsets = info.get("data_offsets")
            dtype = info.get("dtype")
            if (
                not isinstance(offsets, list)
                or len(offsets) != 2
                or not all(isinstance(o, int) and o >= 0 for o in offsets)
                or offsets[1] < offsets[0]
                or not isinstance(dtype, str)
            ):
                raise InputError(f"{path.name}: {name}", "bad dtype or data_offsets", "re-download the file")
            by_dtype[dtype] += offsets[1] - offsets[0]
            tensors += 1
    return SafetensorsSummary(sum(by_dtype.values()), dict(by_dtype), tensors, len(files))


def _load_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(what, f"cannot read ({exc.strerror})", "check the path and permissions") from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InputError(
            what, f"not valid JSON ({type(exc).__name__})", "restore the original file"
        ) from None
    if not isinstance(data, dict):
        raise InputError(what, "is not a JSON object", "restore the original file")
    return data


def _weight_files(folder: Path) -> tuple[list[Path], int | None]:
    """Shards to read, and the index's total_size when some listed shards are missing."""
    index_path = folder / "model.safetensors.index.json"
    if index_path.is_file():
        index = _load_json(index_path, index_path.name)
        weight_map = index.get("weight_map")
        names = (
            sorted({v for v in weight_map.values() if isinstance(v, str)})
            if isinstance(weight_map, dict)
            else []
        )
        present = [folder / n for n in names if (folder / n).is_file()]
        if names and len(present) == len(names):
            return present, None
        meta = index.get("metadata")
        total = meta.get("total_size") if isinstance(meta, dict) else None
        if isinstance(total, int) and total > 0:
            return [], total
        return [], None  # shards missing and no total: a partial sum would not be exact
    files = sorted(folder.glob("*.safetensors"))
    # Mistral repos ship consolidated.safetensors next to the HF shards: count one copy only
    hf = [f for f in files if not f.name.startswith("consolidated")]
    return (hf or files), None


def _native_dtype(by_dtype: dict[str, int]) -> str | None:
    """The dtype holding the most bytes among the weight tensors."""
    if not by_dtype:
        return None
    dtype = max(sorted(by_dtype), key=lambda d: by_dtype[d])
    return _ST_DTYPES.get(dtype)


def spec_from_folder(path: str | Path) -> ModelSpec:
    """Read `config.json` (required) and, when present, only the headers of the safetensors files."""
    folder = Path(path)
    if not folder.is_dir():
        raise InputError("model", f"{folder} is not a folder", "pass a folder that holds config.json")
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise InputError(
            "config.json",
            f"not found in {folder}",
            "download config.json from the model's Hugging Face repository",
        )
    config = _load_json(config_path, "config.json")
    spec = spec_from_config(config, name=folder.name, source="hf-folder")
    sidecar = folder / "hf_quant_config.json"  # ModelOpt checkpoints: kv_cache_quant_algo
    if sidecar.is_file() and spec.kv_cache_dtype is None:
        kv = kv_cache_dtype_of(_load_json(sidecar, sidecar.name))
        if kv is not None:
            spec = spec.model_copy(update={"kv_cache_dtype": kv})

    files, index_total = _weight_files(folder)
    if index_total is not None:
        return spec.model_copy(update={"weight_bytes_exact": index_total})
    if not files:
        return spec
    summary = summarize_safetensors(files)
    update: dict[str, Any] = {"weight_bytes_exact": summary.total_bytes}
    if spec.quant_method is None:
        native = _native_dtype(summary.bytes_by_dtype)
        if native is not None:
            update["native_dtype"] = native
    return spec.model_copy(update=update)
