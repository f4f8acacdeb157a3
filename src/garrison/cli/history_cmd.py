"""`garrison history`: stored designs, bench runs and verifications; thin layer over `garrison.store`."""

from __future__ import annotations

import json

import typer


def register(app: typer.Typer) -> None:
    """Add `garrison history list|show|compare`."""
    history = typer.Typer(help="Stored designs, benchmark runs and verifications.", no_args_is_help=True)
    app.add_typer(history, name="history")
    db_opt = typer.Option(
        None, "--db", help="History database URL (default GARRISON_DB_URL or GARRISON_HOME)."
    )

    @history.command("list")
    def list_(
        db: str = db_opt, as_json: bool = typer.Option(False, "--json", help="JSON on stdout.")
    ) -> None:
        """List everything stored, newest first."""
        from garrison.store import Store

        items = Store(db).list_all()
        if as_json:
            typer.echo(json.dumps([{**i, "created_at": str(i["created_at"])} for i in items], indent=2))
            return
        for i in items:
            typer.echo(f"{i['id']:<12} {i['created_at']:%Y-%m-%d %H:%M:%S}  {i['summary']}")
        if not items:
            typer.echo("nothing stored yet")

    @history.command("show")
    def show(
        item: str = typer.Argument(..., help="run-N, design-N or verify-N (a bare N is a run)."),
        db: str = db_opt,
    ) -> None:
        """Print one stored item as JSON (a run as its table)."""
        from garrison.bench.report import text_table
        from garrison.store import Store, parse_id

        st = Store(db)
        kind, n = parse_id(item, "run")
        if kind == "run":
            result, did = st.get_run(n)
            typer.echo(text_table(result) + (f"\ndesign: design-{did}" if did else ""))
        elif kind == "design":
            typer.echo(st.get_design(n).model_dump_json(indent=2))
        else:
            typer.echo(json.dumps(st.get_verification(n), indent=2))

    @history.command("compare")
    def compare(
        run: str = typer.Argument(..., help="run-N (or N)."),
        design: str = typer.Argument(..., help="design-N (or N), or a design.json path."),
        db: str = db_opt,
        as_json: bool = typer.Option(False, "--json", help="JSON on stdout."),
    ) -> None:
        """Measured (a stored run) against predicted (a stored design or design.json)."""
        from pathlib import Path

        from garrison.bench.compare import compare_to_design
        from garrison.bench.report import text_table
        from garrison.cli.bench_cmd import load_design
        from garrison.store import Store, parse_id

        st = Store(db)
        result, _ = st.get_run(parse_id(run, "run")[1])
        if Path(design).is_file():
            dsg = load_design(design)
        else:
            n = parse_id(design, "design")[1]
            dsg = st.get_design(n)
        comp = compare_to_design(result, dsg)
        if as_json:
            typer.echo(comp.model_dump_json(indent=2))
        else:
            typer.echo(text_table(result.model_copy(update={"comparison": comp})))
