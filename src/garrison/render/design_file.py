"""Read a design.json strictly: another schema version or nonsense is one InputError."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from garrison.design import DESIGN_SCHEMA_VERSION, Design
from garrison.design_bounds import check_design
from garrison.errors import InputError
from garrison.input_limits import MAX_DOCUMENT_BYTES, json_document
from garrison.names import check_names


def parse_design(text: str, source: str = "design.json") -> Design:
    """Parse and validate design JSON text."""
    raw = json_document(text, source, "pass a design.json written by garrison")
    if not isinstance(raw, dict):
        raise InputError(
            source, "not a design (expected a JSON object)", "pass a design.json written by garrison"
        )
    version = raw.get("schema_version")
    if version != DESIGN_SCHEMA_VERSION:
        raise InputError(
            f"{source}: schema_version",
            f"is {version!r}, this garrison reads version {DESIGN_SCHEMA_VERSION}",
            "re-plan the requirements with this garrison version (garrison plan)",
        )
    try:
        design = Design.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        more = f" (and {len(e.errors()) - 1} more problems)" if len(e.errors()) > 1 else ""
        raise InputError(
            f"{source}: {loc}", f"{err['msg']}{more}", "re-plan instead of hand-editing the design"
        ) from e
    check_design(design, source)
    check_names(design, source)
    return design


def load_design(path: Path) -> Design:
    """Load a design.json file."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_DOCUMENT_BYTES:
            raise InputError(
                str(path), "too large for a design.json", "pass the design.json written by garrison plan"
            )
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise InputError(str(path), "no such file", "pass the design.json written by garrison plan") from e
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(str(path), f"cannot read it ({e})") from e
    return parse_design(text, path.name)
