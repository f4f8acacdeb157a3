"""`garrison mcp`: not yet built (owned by its issue's work)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Adds nothing until the command is built."""
    del app
