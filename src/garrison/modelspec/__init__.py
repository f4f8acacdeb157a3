"""Model specs from the catalogue, a Hugging Face folder or a GGUF file."""

from garrison.modelspec.spec import MLA, LayerKind, LinearAttention, ModelSpec, MoE

__all__ = ["MLA", "LayerKind", "LinearAttention", "MoE", "ModelSpec"]
