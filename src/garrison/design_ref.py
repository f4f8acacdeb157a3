"""A design by reference: a history id (`design-3`, `3`), a design.json path, or a bundle folder holding
one. MCP tools and commands that take a design accept any of these, so an agent never has to send the
whole Design back with every call."""

from __future__ import annotations

import re
from pathlib import Path

from garrison.design import Design
from garrison.errors import InputError

_ID = re.compile(r"^(?:design-)?(\d+)$")


def load_design_ref(ref: str, field: str = "design", db: str | None = None) -> Design:
    """The Design `ref` names; every problem is one InputError naming `field`."""
    text = str(ref).strip()
    if not text:
        raise InputError(field, "empty", "give a history id (design-3) or the path of a design.json")
    m = _ID.match(text)
    if m and not Path(text).exists():
        from garrison.store import Store

        try:
            return Store(db).get_design(int(m.group(1)))
        except InputError as e:
            raise InputError(field, e.problem, e.fix) from None
    p = Path(text).expanduser()
    if p.is_dir():
        p = p / "design.json"
    if not p.is_file():
        raise InputError(
            field,
            f"{text!r} is neither a stored design nor a design.json",
            "give a history id such as design-3 (see `garrison history list`) or a design.json path",
        )
    from garrison.render.design_file import load_design

    try:
        return load_design(p)
    except InputError as e:
        raise InputError(field, f"{e.field}: {e.problem}", e.fix) from None
