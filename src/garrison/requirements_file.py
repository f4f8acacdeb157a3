"""Read requirements YAML (Garrison's own shape or a planning agent's hand-off) into Requirements."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from garrison.errors import InputError
from garrison.input_limits import MAX_DOCUMENT_BYTES, yaml_document
from garrison.names import check_names
from garrison.requirements import Requirements


def validation_to_input_error(e: ValidationError, prefix: str = "") -> InputError:
    """The first pydantic error as `field: problem; fix` (one line)."""
    err = e.errors()[0]
    loc = ".".join(str(p) for p in err.get("loc", ()))
    field = f"{prefix}{loc}" if loc else prefix.rstrip(".") or "input"
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return InputError(
            field, "unknown key", "remove it or check its spelling against docs/requirements.md"
        )
    if kind == "missing":
        return InputError(field, "required but missing", "add it (see examples/ for the shape)")
    msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    return InputError(field, msg, "fix the value (see docs/requirements.md)")


def parse_requirements(doc: Any) -> Requirements:
    """Validate a parsed YAML document (either shape)."""
    if not isinstance(doc, dict):
        raise InputError("requirements", "the file must be a YAML mapping", "see examples/ for the shape")
    if "handoff" in doc:
        from garrison.handoff.intake import from_handoff

        doc = from_handoff(doc)
    try:
        req = Requirements.model_validate(doc)
    except ValidationError as e:
        raise validation_to_input_error(e) from None
    check_names(req, "")
    return req


def load_requirements(path: str | Path) -> Requirements:
    """Read and validate a requirements YAML file; every problem is one InputError line."""
    p = Path(path)
    if not p.is_file():
        raise InputError(str(path), "no such file", "give the path of a requirements YAML file")
    if p.stat().st_size > MAX_DOCUMENT_BYTES:
        raise InputError(str(path), "too large for a requirements file", "check the path")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(str(path), "not a text file", "give a YAML file") from None
    return parse_requirements(yaml_document(text, str(path)))
