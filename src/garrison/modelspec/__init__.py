"""Model specs from the catalogue, a Hugging Face folder or a GGUF file."""

from garrison.modelspec.from_config import spec_from_config
from garrison.modelspec.params import ParamCounts, param_counts
from garrison.modelspec.spec import MLA, LayerKind, LinearAttention, ModelSpec, MoE

__all__ = [
    "MLA",
    "LayerKind",
    "LinearAttention",
    "ModelSpec",
    "MoE",
    "ParamCounts",
    "param_counts",
    "spec_from_config",
]
