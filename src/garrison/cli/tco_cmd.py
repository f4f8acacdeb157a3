"""`garrison tco`: total cost of ownership of a design against cloud APIs."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from garrison.cost.inputs import read_design, tco_for_design
from garrison.cost.text import tco_text
from garrison.errors import InputError


def register(app: typer.Typer) -> None:
    """Adds `garrison tco`."""

    @app.command("tco")
    def tco(
        design_file: Path = typer.Argument(..., help="design.json written by `garrison plan`."),
        years: int | None = typer.Option(
            None,
            "--years",
            help="Horizon for TCO and savings, 1-10 years (default: the design's, growth.horizon_months).",
        ),
        against: str = typer.Option("", "--against", help="provider/model for the headline comparison."),
        today: str = typer.Option(
            "",
            "--today",
            help="Judge price age against this date (YYYY-MM-DD); default: the design's catalogue date.",
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the TCO as JSON."),
    ) -> None:
        """Capex, opex, cost per million tokens, break-even and savings against every cloud model."""
        try:
            ref = date.fromisoformat(today) if today else None
        except ValueError:
            raise InputError("--today", f"{today!r} is not a date", "use YYYY-MM-DD") from None
        result = tco_for_design(read_design(design_file), years=years, today=ref, against=against or None)
        typer.echo(result.model_dump_json(indent=2) if as_json else tco_text(result))
