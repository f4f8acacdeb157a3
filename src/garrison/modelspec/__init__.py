"""Model specs from the catalogue, a Hugging Face folder or a GGUF file."""

from garrison.modelspec.from_config import spec_from_config
from garrison.modelspec.gguf_file import spec_from_gguf
from garrison.modelspec.hf_folder import spec_from_folder
from garrison.modelspec.load import load_model_spec
from garrison.modelspec.params import ParamCounts, param_counts
from garrison.modelspec.spec import MLA, LayerKind, LinearAttention, ModelSpec, MoE

__all__ = [
    "MLA",
    "LayerKind",
    "LinearAttention",
    "MoE",
    "ModelSpec",
    "ParamCounts",
    "load_model_spec",
    "param_counts",
    "spec_from_config",
    "spec_from_folder",
    "spec_from_gguf",
]
