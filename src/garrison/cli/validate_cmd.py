"""`garrison validate`: run the real validators over a bundle and print a table."""

from __future__ import annotations

from pathlib import Path

import typer

from garrison.errors import CheckFailed
from garrison.validate import validate_bundle


def register(app: typer.Typer) -> None:
    """Add `garrison validate`."""

    @app.command("validate")
    def validate(
        bundle: Path = typer.Argument(..., help="A bundle folder written by garrison render/plan."),
        as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
    ) -> None:
        """Check every artifact with its real tool (nginx, promtool, k8s schemas, shellcheck, nft ...)."""
        from garrison.cli.progress import working

        with working(f"validating {bundle} with the real tools"):
            report = validate_bundle(bundle)
        if as_json:
            typer.echo(report.to_json())
        else:
            rows = [(r.artifact, r.tool, r.status, r.detail) for r in report.results]
            w0 = max(len(r[0]) for r in rows)
            w1 = max(len(r[1]) for r in rows)
            typer.echo(f"{'artifact':<{w0}}  {'tool':<{w1}}  result")
            for a, t, s, d in rows:
                typer.echo(f"{a:<{w0}}  {t:<{w1}}  {s}{': ' + d if d else ''}")
            counts = {s: sum(1 for r in rows if r[2] == s) for s in ("ok", "failed", "missing", "skipped")}
            typer.echo(", ".join(f"{n} {s}" for s, n in counts.items()))
        if report.failed:
            n = sum(1 for r in report.results if r.status == "failed")
            raise CheckFailed("validate", f"{n} check(s) failed in {bundle}", "see the table above")
