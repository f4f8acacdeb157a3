"""The weight format of a checkpoint that is already quantised on disk (a GGUF file)."""

from __future__ import annotations

from garrison import engines
from garrison.catalogue import Catalogue
from garrison.catalogue.schema import QuantFormat
from garrison.errors import GarrisonError
from garrison.modelspec.params import param_counts
from garrison.modelspec.spec import ModelSpec


def native_format(spec: ModelSpec, cat: Catalogue) -> QuantFormat:
    """The catalogue row for the checkpoint's own format; for a GGUF file type the catalogue lacks
    (F32, a custom mix), a row whose bits per weight are the file's exact bytes x 8 / parameters."""
    try:
        return cat.quant(spec.native_dtype)
    except GarrisonError:
        if spec.source != "gguf" or not spec.weight_bytes_exact:
            raise
    bits = spec.weight_bytes_exact * 8 / max(1, param_counts(spec).total)
    return QuantFormat(
        id=spec.native_dtype.lower(),
        name=f"GGUF {spec.native_dtype} (from the file)",
        source="the GGUF file's tensor table",
        as_of="2026",
        family="gguf",
        bits_per_weight=min(32.0, max(0.5, bits)),
        compute="fp16",
        engines=(engines.gguf_default().name,),
    )
