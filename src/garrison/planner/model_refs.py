"""Resolve a requirements model reference (catalogue id, folder or .gguf path) to (key, ModelSpec)."""

from __future__ import annotations

from pathlib import Path

from garrison.catalogue import load_catalogue
from garrison.errors import InputError
from garrison.modelspec import ModelSpec, load_model_spec
from garrison.requirements import ModelRef


def load_model_ref(ref: ModelRef) -> tuple[str, ModelSpec]:
    """(key, spec): the catalogue id for catalogue models, the path as given for local ones."""
    if ref.path is not None:
        path = Path(ref.path).expanduser()
        if not path.exists():
            raise InputError(
                f"models.path {ref.path}",
                "no such file or folder",
                "give a Hugging Face model folder (with config.json) or a .gguf file",
            )
        return str(ref.path), load_model_spec(str(path))
    assert ref.id is not None
    entry = load_catalogue().model(ref.id)
    return entry.id, load_model_spec(entry.id)
