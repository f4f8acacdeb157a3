"""Hand-off models: names, Hugging Face ids, paths or model mappings, with their sizes and precision,
resolved against the catalogue (an unknown name is recorded, never an error)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from garrison.errors import GarrisonError
from garrison.handoff import parse as p
from garrison.handoff.intake_record import Intake, ModelDraft, as_text, norm_key


def catalogue_model(it: Intake, label: str) -> Any | None:
    """The catalogue row for a name, or None (unknown or ambiguous names are not errors here)."""
    try:
        return it.cat.model(label)
    except GarrisonError:
        return None


def _model_from_row(row: Any, label: str, quant: str | None) -> ModelDraft:
    ref: dict[str, Any] = {"id": row.id}
    if quant:
        ref["quant"] = quant
    kinds = tuple(k for k in row.use_cases if k in ("chat", "code", "batch")) or ("chat",)
    return ModelDraft(ref, label, kinds, bool(row.fim), int(row.context_max))


def _is_path(text: str) -> bool:
    return text.startswith(("/", "./", "../", "~")) or text.endswith(".gguf")


def read_models(it: Intake, slots: Mapping[str, list[tuple[str, Any]]]) -> list[ModelDraft]:
    """Models named in the hand-off, with their precision pinned when stated."""
    sizes = _sizes(it, slots)
    out: list[ModelDraft] = []
    for path, value in slots.get("models", []):
        items = (
            value if isinstance(value, list) else p.split_list(value) if isinstance(value, str) else [value]
        )
        for i, item in enumerate(items):
            key = f"{path}[{i}]" if isinstance(value, list) else path
            if isinstance(item, dict):
                out += model_from_mapping(it, key, item)
                continue
            label = str(item).strip()
            m = model_named(it, key, label, sizes.get(label) or sizes.get("*"))
            if m is not None:
                out.append(m)
    if not out:
        size = sizes.get("*")
        if size is not None and size.total_b:
            guess = _model_of_size(it, size)
            if guess is not None:
                out.append(guess)
    return out


def model_from_mapping(it: Intake, key: str, item: dict[str, Any]) -> list[ModelDraft]:
    """`{name|id|model: ..., size|parameters: ..., precision|quant: ..., context: ...}`."""
    name = next((item[k] for k in item if norm_key(k) in ("name", "id", "model", "hf_id", "path")), None)
    size_text = " ".join(
        str(item[k])
        for k in item
        if norm_key(k) in ("size", "parameters", "params", "precision", "quant", "quantization", "dtype")
    )
    size = p.model_size(size_text) if size_text else None
    used = {"name", "id", "model", "hf_id", "path", "size", "parameters", "params", "precision", "quant"}
    used |= {"quantization", "dtype", "context", "context_length"}
    for k, v in item.items():
        if norm_key(k) not in used:
            it.ignored(f"{key}.{k}", v, "not a model fact Garrison uses")
    if name is None:
        if size is not None and size.total_b:
            m = _model_of_size(it, size, key)
            return [m] if m else []
        it.ignored(key, item, "no model name in it")
        return []
    m = model_named(it, f"{key}.name", str(name), size)
    if m is None:
        return []
    ctx_key = next((k for k in item if norm_key(k) in ("context", "context_length")), None)
    if ctx_key is not None:
        n = p.tokens(item[ctx_key])
        if n:
            m.context = n
            it.parsed(f"{key}.{ctx_key}", item[ctx_key], f"context_length = {n} for {m.label}")
        else:
            it.ignored(f"{key}.{ctx_key}", item[ctx_key], "no token count in it")
    return [m]


def model_named(it: Intake, key: str, label: str, size: p.ModelSize | None) -> ModelDraft | None:
    """A model from a name or path; unknown names are recorded and left for the planner to replace."""
    quant = _precision(it, key, size)
    if _is_path(label):
        ref: dict[str, Any] = {"path": label}
        if quant:
            ref["quant"] = quant
        it.parsed(key, label, f"model path {label}")
        return ModelDraft(ref, label)
    row = catalogue_model(it, label)
    if row is None:
        # "Models to be deployed", "a 70B model": not a name; try the size, else the planner recommends
        parsed = p.model_size(label)
        if parsed is not None and parsed.total_b and p.is_size_phrase(label):
            return _model_of_size(it, parsed, key)
        it.ignored(key, label, "not a model in the catalogue (the planner recommends one instead)")
        return None
    it.parsed(key, label, f"model {row.id}" + (f" at {quant}" if quant else ""))
    if (
        size is not None
        and size.total_b
        and abs(size.total_b - row.params_total_b) > 0.15 * row.params_total_b
    ):
        it.notes.append(
            f"{key}: the hand-off says {size.total_b:g}B for {label}; the catalogue says "
            f"{row.params_total_b:g}B ({row.source}); sized with the catalogue's"
        )
    return _model_from_row(row, label, quant)


def _precision(it: Intake, key: str, size: p.ModelSize | None) -> str | None:
    if size is None or size.precision is None:
        return None
    try:
        fmt = it.cat.quant(size.precision)
    except GarrisonError:
        return None
    if size.precision_guessed:
        it.guessed(key + " (precision)", size.precision, f"weights pinned to {fmt.id} (a generic bit width)")
    return str(fmt.id)


def _model_of_size(it: Intake, size: p.ModelSize, key: str = "context.model_sizes") -> ModelDraft | None:
    """The catalogue model closest to a stated size (total, and active for MoE), newest first on ties."""
    total = size.total_b or 0.0
    rows = [r for r in it.cat.models.values() if abs(r.params_total_b - total) <= 0.15 * total]
    if size.active_b:
        rows = [r for r in rows if abs(r.params_active_b - size.active_b) <= 0.3 * size.active_b] or rows
    if not rows:
        it.ignored(key, f"{size.total_b:g}B", "no catalogue model of that size (the planner recommends one)")
        return None
    # closest size first (to 1 %), then the newest release
    best = min(rows, key=lambda r: (round(abs(r.params_total_b - total) / total, 2), _newest(r)))
    quant = _precision(it, key, size)
    it.guessed(
        key,
        f"{size.total_b:g}B" + (f" at {size.precision}" if size.precision else ""),
        f"model {best.id} ({best.params_total_b:g}B, the closest catalogue model of that size)"
        + (f" at {quant}" if quant else ""),
    )
    return _model_from_row(best, f"{size.total_b:g}B", quant)


def _newest(row: Any) -> tuple[int, str]:
    """Sort key: newer releases first, then by id."""
    digits = re.sub(r"\D", "", row.release or "")
    return (-int(digits or 0), row.id)


def _sizes(it: Intake, slots: Mapping[str, list[tuple[str, Any]]]) -> dict[str, p.ModelSize]:
    """Model sizes by model label; "*" applies to every model."""
    out: dict[str, p.ModelSize] = {}
    for path, value in slots.get("model_sizes", []):
        if isinstance(value, dict):
            for k, v in value.items():
                s = p.model_size(str(v))
                if s is None:
                    it.ignored(f"{path}.{k}", v, "no parameter count or precision in it")
                else:
                    out[str(k)] = s
                    it.parsed(f"{path}.{k}", v, _size_text(s))
            continue
        s = p.model_size(as_text(value)) if value is not None else None
        if s is None:
            it.ignored(path, value, "no parameter count or precision in it")
        else:
            out["*"] = s
            it.parsed(path, value, _size_text(s))
    return out


def _size_text(s: p.ModelSize) -> str:
    parts = []
    if s.total_b:
        parts.append(f"{s.total_b:g}B parameters")
    if s.active_b:
        parts.append(f"{s.active_b:g}B active")
    if s.precision:
        parts.append(f"precision {s.precision}")
    return ", ".join(parts)


# ------------------------------------------------------------------ use cases
