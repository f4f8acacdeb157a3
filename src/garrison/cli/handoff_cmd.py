"""`garrison handoff`: the hand-off YAML for one of the architect's colleagues."""

from __future__ import annotations

from pathlib import Path

import typer

from garrison.atomic import write_text_atomic
from garrison.cost.inputs import read_design, tco_for_design
from garrison.handoff import TARGETS, handoff_yaml


def register(app: typer.Typer) -> None:
    """Adds `garrison handoff`."""

    @app.command("handoff")
    def handoff(
        design_file: Path = typer.Argument(..., help="design.json written by `garrison plan`."),
        to: str = typer.Option(..., "--to", help="Colleague: " + " | ".join(TARGETS)),
        out: Path | None = typer.Option(None, "--out", help="Write the YAML here instead of stdout."),
        force: bool = typer.Option(False, "--force", help="Overwrite --out if it exists."),
    ) -> None:
        """Hand-off YAML: configs to MLOps, endpoints to API integration, TCO to ROI, facts to compliance."""
        design = read_design(design_file)
        text = handoff_yaml(design, to, tco_for_design(design) if to == "roi" else None)
        if out is None:
            typer.echo(text, nl=False)
        else:
            write_text_atomic(out, text, force)
