"""One entry point: a catalogue id, a Hugging Face folder or a .gguf file -> ModelSpec."""

from __future__ import annotations

from pathlib import Path

from garrison.errors import InputError
from garrison.modelspec.gguf_file import spec_from_gguf
from garrison.modelspec.hf_folder import spec_from_folder
from garrison.modelspec.spec import ModelSpec


def load_model_spec(ref: str) -> ModelSpec:
    """Resolve `ref`: an existing folder, an existing `.gguf` file, else a catalogue id or HF id."""
    path = Path(ref).expanduser()
    if path.is_dir():
        return spec_from_folder(path)
    if path.is_file():
        if path.suffix.lower() == ".gguf":
            return spec_from_gguf(path)
        if path.name == "config.json":
            return spec_from_folder(path.parent)
        raise InputError(
            "model", f"{ref} is a file but not a .gguf", "pass a .gguf file, a model folder or an id"
        )
    if ref.lower().endswith(".gguf") or ref.startswith((".", "/", "~")):
        raise InputError("model", f"{ref} does not exist", "check the path, or pass a catalogue model id")
    return _from_catalogue(ref)


def _from_catalogue(ref: str) -> ModelSpec:
    from garrison.modelspec.from_config import spec_from_config

    try:
        from garrison.catalogue import load_catalogue  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        raise InputError(
            "model", f"{ref!r} is not a folder or .gguf file and the catalogue is unavailable", "pass a path"
        ) from None
    cat = load_catalogue()
    entry = cat.model(ref)  # raises InputError listing the closest ids when unknown
    spec = spec_from_config(cat.model_config(entry), name=entry.id, source="catalogue")
    return spec.model_copy(
        update={
            "license": entry.license,
            "fim": entry.fim,
            "params_total_b_card": entry.params_total_b,
            "params_active_b_card": entry.params_active_b,
        }
    )
