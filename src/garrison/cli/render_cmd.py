"""`garrison render`: re-render a bundle from a design.json without recomputing the design."""

from __future__ import annotations

from pathlib import Path

import typer

from garrison.outputs import design_files
from garrison.render import load_design, write_bundle


def register(app: typer.Typer) -> None:
    """Add `garrison render`."""

    @app.command("render")
    def render(
        design: Path = typer.Argument(..., help="design.json written by garrison plan."),
        out: Path = typer.Option(..., "--out", help="Folder to write the bundle to."),
        force: bool = typer.Option(False, "--force", help="Replace a non-empty --out folder."),
        quiet: bool = typer.Option(False, "--quiet", help="Print nothing on success."),
    ) -> None:
        """Write the deployment bundle (compose, k8s, gateway, monitoring, firewall, runbooks)."""
        files = design_files(load_design(design))
        write_bundle(files, out, force=force)
        if not quiet:
            typer.echo(f"wrote {len(files)} files to {out}")
