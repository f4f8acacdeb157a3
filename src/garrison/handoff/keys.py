"""The spellings of hand-off keys Garrison understands, read once from data/handoff_keys.yaml."""

from __future__ import annotations

from functools import cache
from typing import Any

import yaml

from garrison.catalogue.loader import CatalogueDataError, read_data_text


@cache
def _slots() -> dict[str, str]:
    doc: Any = yaml.safe_load(read_data_text("handoff_keys.yaml"))
    slots = doc.get("slots") if isinstance(doc, dict) else None
    if not isinstance(slots, dict):
        raise CatalogueDataError("handoff_keys.yaml", "expected a mapping `slots:`", "fix the file")
    out: dict[str, str] = {}
    for slot, keys in slots.items():
        for key in keys:
            if key in out:
                raise CatalogueDataError("handoff_keys.yaml", f"{key!r} is under two slots", "keep one")
            out[str(key)] = str(slot)
    return out


def slot_of(key: str) -> str | None:
    """The slot a normalised hand-off key fills ("concurrent_users" -> "concurrent"), None if unknown."""
    return _slots().get(key)
