"""Edge helpers shared by commands: resolving names to specs, writing files atomically, output."""

from __future__ import annotations

import json
import sys
from typing import Any

from garrison import engines
from garrison.catalogue import Catalogue
from garrison.catalogue.schema import QuantFormat
from garrison.modelspec import ModelSpec
from garrison.planner.model_refs import load_model_ref
from garrison.sizing.formats import native_format

load_model = load_model_ref  # the CLI's name for it


def resolve_quant(cat: Catalogue, spec: ModelSpec, quant: str, engine: str) -> QuantFormat:
    """`auto` means the checkpoint's own format (the GGUF file type for .gguf; Q4_K_M for llama.cpp)."""
    if quant == "auto":
        if spec.source == "gguf":
            return native_format(spec, cat)
        if engines.get(engine, "--engine").single_file_model and spec.native_dtype in (
            "bf16",
            "fp16",
            "fp32",
        ):
            return cat.quant("q4_k_m")  # a GGUF engine serves a 16-bit model as Q4_K_M by default
        return cat.quant(spec.native_dtype)
    return cat.quant(quant)


def print_json(obj: Any) -> None:
    """Results on stdout, sorted keys, one object."""
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
