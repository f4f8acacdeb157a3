"""`garrison handoff`: the hand-off YAML for the architect's colleagues, one file per agent."""

from __future__ import annotations

from pathlib import Path

import typer

from garrison.atomic import write_text_atomic
from garrison.errors import InputError
from garrison.handoff import TARGETS


def register(app: typer.Typer) -> None:
    """Adds `garrison handoff`."""

    @app.command("handoff")
    def handoff(
        design: str = typer.Argument(
            ...,
            help="The design: design.json, a bundle folder, or a history id (garrison history list).",
        ),
        to: str = typer.Option(
            "all",
            "--to",
            help="Colleague: all, " + ", ".join(TARGETS) + ".",
        ),
        out: Path | None = typer.Option(
            None,
            "--out",
            help="A file for one colleague, a folder for --to all (handoff-<agent>.yaml each).",
        ),
        force: bool = typer.Option(False, "--force", help="Overwrite existing files."),
    ) -> None:
        """Hand-off YAML per colleague: MLOps, security, programme manager, model evaluator, API, ROI, compliance.

        Escalations are addressed to the agent the role description names for them.
        """
        from garrison.cost.inputs import tco_for_design
        from garrison.design_ref import load_design_ref
        from garrison.handoff import handoff_files, handoff_yaml

        d = load_design_ref(design, "DESIGN")
        if to != "all" and to not in TARGETS:
            raise InputError("--to", f"{to!r} is not a colleague", "use all or one of: " + ", ".join(TARGETS))
        tco = tco_for_design(d)
        if to != "all":
            text = handoff_yaml(d, to, tco)
            if out is None:
                typer.echo(text, nl=False)
            else:
                write_text_atomic(out, text, force)
                typer.echo(f"wrote {out}", err=True)
            return
        if out is None:
            raise InputError("--out", "--to all writes one file per colleague", "give --out FOLDER")
        files = handoff_files(d, tco)
        if out.exists() and not out.is_dir():
            raise InputError("--out", f"{out} is a file", "give a folder for --to all")
        clash = [n for n in files if (out / n).exists()]
        if clash and not force:
            raise InputError(str(out / clash[0]), "already exists", "pass --force to overwrite it")
        for name, text in files.items():
            write_text_atomic(out / name, text, force=True)
        typer.echo(f"wrote {len(files)} hand-offs to {out}", err=True)
