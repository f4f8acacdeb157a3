"""`garrison calibrate`: fit the efficiency factors to measurements and save a named profile."""

from __future__ import annotations

import importlib
import json
from typing import Any

import typer

from garrison.atomic import write_text_atomic
from garrison.calibrate import CalibrationReport, bench_points, calibrate, profile_json
from garrison.calibrate.fit import speed_points
from garrison.errors import InputError
from garrison.sizing.calibration_profiles import profile_path


def stored_bench_runs() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(bench result, design) JSON pairs from the history store, for runs linked to a design."""
    try:
        store_mod: Any = importlib.import_module("garrison.store")
    except ImportError:
        return []
    store = store_mod.Store()
    pairs = []
    for row in store.list_runs():
        if row.design_id is None:
            continue
        result, design_id = store.get_run(row.id)
        bench = {**result.model_dump(mode="json"), "id": row.id}
        pairs.append((bench, store.get_design(design_id).model_dump(mode="json")))
    return pairs


def _print(report: CalibrationReport, path: str) -> None:
    typer.echo(
        f"{'point':<22} {'quantity':<27} {'measured':>10} {'before':>10} {'after':>10} "
        f"{'err before':>10} {'err after':>9}  set"
    )
    for r in sorted(report.rows, key=lambda r: (r.held_out, r.point, r.quantity)):
        typer.echo(
            f"{r.point:<22} {r.quantity:<27} {r.measured:>10.2f} {r.before:>10.2f} {r.after:>10.2f} "
            f"{r.error_before:>+10.1%} {r.error_after:>+9.1%}  {'held out' if r.held_out else 'fit'}"
        )
    for held in (False, True):
        typer.echo(
            f"median |error| on {'held-out' if held else 'fitted'} points: "
            f"{report.median_abs_error(held, False):.1%} before -> {report.median_abs_error(held, True):.1%} after"
        )
    e = report.efficiency
    typer.echo(
        f"fitted: gpu_bw {e.gpu_bw:.3f}, gpu_compute {e.gpu_compute:.3f}, "
        f"step_overhead_ms {e.step_overhead_ms:.2f} ({report.evaluations} evaluations)"
    )
    if path:
        typer.echo(f"wrote {path}; use it with --calibration {report.name}")


def _held_out_worse(report: CalibrationReport) -> str | None:
    """A one-line statement when the fit predicts the held-out points worse than the default."""
    before, after = report.median_abs_error(True, False), report.median_abs_error(True, True)
    if not after > before:  # also False when nothing is held out (nan)
        return None
    return (
        f"the fitted profile predicts the held-out points worse than the default "
        f"({before:.1%} -> {after:.1%} median |error|)"
    )


def register(app: typer.Typer) -> None:
    """Adds `garrison calibrate`."""

    @app.command("calibrate")
    def calibrate_cmd(
        name: str = typer.Option(
            ..., "--name", help="Profile name; written to $GARRISON_HOME/calibrations/NAME.json."
        ),
        holdout: float = typer.Option(0.3, "--holdout", help="Fraction of points held out to check the fit."),
        seed: int = typer.Option(0, "--seed", help="Seed of the held-out split."),
        history: bool = typer.Option(
            True, "--history/--no-history", help="Also fit stored `garrison bench` runs linked to a design."
        ),
        force: bool = typer.Option(False, "--force", help="Overwrite an existing profile of that name."),
        keep_worse: bool = typer.Option(
            False, "--keep-worse", help="Save the profile even when it predicts the held-out points worse."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the profile and per-point errors as JSON."),
    ) -> None:
        """Fit bandwidth/compute efficiency and per-step overhead to measurements; print held-out error."""
        if not name.replace("-", "").replace("_", "").isalnum() or name == "default":
            raise InputError(
                "--name",
                f"{name!r} is not a usable profile name",
                "use letters, digits, - and _ (not 'default')",
            )
        points = speed_points() + (bench_points(stored_bench_runs()) if history else [])
        report = calibrate(points, name=name, holdout=holdout, seed=seed)
        path = profile_path(name)
        worse = _held_out_worse(report)
        saved = worse is None or keep_worse
        if saved:
            write_text_atomic(path, profile_json(report), force=force)
        if as_json:
            rows = [
                {**r.model_dump(), "error_before": r.error_before, "error_after": r.error_after}
                for r in report.rows
            ]
            typer.echo(
                json.dumps(
                    {
                        "profile": json.loads(profile_json(report)),
                        "path": str(path) if saved else None,
                        "saved": saved,
                        "rows": rows,
                    },
                    indent=2,
                    sort_keys=True,
                )
            )
        else:
            _print(report, str(path) if saved else "")
        if worse and keep_worse:
            typer.echo(f"garrison: warning: {worse}; saved because of --keep-worse", err=True)
        elif worse:
            typer.echo(
                f"garrison: calibrate: {worse}; not saved. Keep the default, add `garrison bench` runs "
                "of your own engine linked to their design, or pass --keep-worse to save it anyway",
                err=True,
            )
            raise typer.Exit(1)
