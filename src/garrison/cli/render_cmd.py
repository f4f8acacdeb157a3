"""`garrison render`: re-render a bundle from a design.json without recomputing the design."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from garrison.outputs import design_files
from garrison.render import load_design
from garrison.render.writer import write_bundle_files

if TYPE_CHECKING:
    from garrison.bench.results import BenchResult


def _runs(ids: str | None, db: str | None) -> list[BenchResult]:
    if not ids:
        return []
    from garrison.errors import InputError
    from garrison.store import Store

    store = Store(db)
    out = []
    for part in ids.split(","):
        try:
            run_id = int(part.strip().removeprefix("run-"))
        except ValueError:
            raise InputError("--runs", f"{part!r} is not a run id", "see `garrison history list`") from None
        out.append(store.get_run(run_id)[0])
    return out


def register(app: typer.Typer) -> None:
    """Add `garrison render`."""

    @app.command("render")
    def render(
        design: Path = typer.Argument(..., help="design.json written by garrison plan."),
        out: Path = typer.Option(..., "--out", help="Folder to write the bundle to."),
        force: bool = typer.Option(
            False,
            "--force",
            help="Replace the files an earlier render wrote in --out; files it did not write stay.",
        ),
        runs: str | None = typer.Option(
            None,
            "--runs",
            help="Stored benchmark run ids (garrison history list): report measured vs predicted.",
        ),
        db: str | None = typer.Option(None, "--db", help="History database URL (default: GARRISON_HOME)."),
        quiet: bool = typer.Option(False, "--quiet", help="Print nothing on success."),
    ) -> None:
        """Write the deployment bundle (compose, k8s, gateway, monitoring, firewall, runbooks, report)."""
        files = design_files(load_design(design), _runs(runs, db))
        done = write_bundle_files(files, out, force=force)
        if done.edited:
            typer.echo(
                f"replaced {len(done.edited)} rendered file(s) edited since the last render: "
                + ", ".join(done.edited[:5])
                + (" ..." if len(done.edited) > 5 else ""),
                err=True,
            )
        if not quiet:
            kept = f"; kept {len(done.kept)} file(s) garrison did not write" if done.kept else ""
            typer.echo(f"wrote {len(files)} files to {out}{kept}")
