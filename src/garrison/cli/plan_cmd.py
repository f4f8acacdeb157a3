"""`garrison plan`: requirements YAML in; a design summary, design.json and the bundle out."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from garrison.catalogue import load_catalogue
from garrison.cli.common import load_model, print_json
from garrison.cli.tables import print_table
from garrison.cost.result import TCO
from garrison.cost.text import horizon, usd
from garrison.design import Design
from garrison.errors import EXIT_ESCALATION, GarrisonError
from garrison.outputs import design_files, write_tree
from garrison.planner import plan
from garrison.report.verdict import Verdict, breakeven_words
from garrison.requirements import Requirements
from garrison.requirements_file import load_requirements
from garrison.sizing.calibration_profiles import load_efficiency


def run_plan(path: Path, calibration: str = "default") -> Design:
    """Library entry point of the command: load, validate and plan (today's date for lead times)."""
    return plan_requirements(load_requirements(path), calibration)


def plan_requirements(req: Requirements, calibration: str = "default") -> Design:
    """Plan validated requirements with the shipped catalogue, as `garrison plan` does."""
    from garrison.cli.progress import working

    with working("planning: searching GPUs, formats, engines and replicas, then simulating"):
        return plan(
            req,
            catalogue=load_catalogue(),
            load_model=load_model,
            efficiency=load_efficiency(calibration),
            today=date.today(),
        )


def render_summary(d: Design, console: Console, tco: TCO | None = None, tco_note: str = "") -> None:
    """The readable plan: the verdict first (the object report.html's first screen prints), then the
    deployments and servers as tables that fit the terminal, costs, reasons and escalations.

    Latency is shown as the simulation saw it at the design load (growth headroom included), and
    capacity separately: the highest load at which every P95 target still held.
    """
    from garrison.report.verdict import build_verdict

    v = build_verdict(d, tco, tco_note)
    console.print(f"[bold]Garrison design for {escape(d.name)}[/bold] (catalogue as of {d.catalogue_as_of})")
    render_verdict(v, console)
    rows = []
    for dep in d.deployments:
        hw = f"{dep.gpus_per_replica}x {dep.device}" if dep.device_kind == "gpu" else f"CPU {dep.device}"
        sc = dep.slo_check
        target = f"{dep.ttft_p95_target_ms:,.0f}" if dep.ttft_p95_target_ms is not None else "-"
        itl_target = f"{dep.itl_p95_target_ms:,.0f}" if dep.itl_p95_target_ms is not None else "-"
        rows.append(
            (
                dep.name or dep.use_case,
                dep.model_id,
                dep.quant,
                dep.engine,
                hw,
                str(dep.replicas),
                f"{dep.requests_per_minute:,.1f}",
                f"{sc.ttft_p95_ms:,.0f} (target {target})" if sc else "not simulated",
                f"{sc.itl_p95_ms:,.1f} (target {itl_target})" if sc else "not simulated",
                f"{sc.capacity_rpm:,.1f}" if sc and sc.capacity_rpm is not None else "-",
                ("met" if sc.meets else "MISSED: " + "; ".join(sc.failed)) if sc else "-",
            )
        )
    print_table(
        console,
        "Deployments (latency simulated at the design load; capacity = max load within the targets)",
        (
            "deployment",
            "model",
            "format",
            "engine",
            "hardware",
            "replicas",
            "design req/min",
            "P95 TTFT ms at design load",
            "P95 ITL ms at design load",
            "capacity req/min",
            "targets",
        ),
        rows,
        right=(5, 6, 9),
    )
    servers = [
        (
            srv.name,
            str(srv.count),
            f"{srv.gpus_per_server}x {srv.gpu}" if srv.gpu else "-",
            f"{srv.cpu_sockets}x {srv.cpu}",
            str(srv.ram_gib),
            f"{srv.nvme_tb:g}",
            str(srv.psu_w),
            f"{srv.power_max_w:,.0f}",
            f"{srv.cooling_btu_h:,.0f}",
            str(srv.rack_units),
            "owned"
            if srv.owned
            else (f"{usd(srv.price_usd.low)}-{usd(srv.price_usd.high)}" if srv.price_usd else "n/a"),
        )
        for srv in d.servers
    ]
    print_table(
        console,
        "Servers",
        (
            "server",
            "count",
            "GPUs",
            "CPU",
            "RAM GiB",
            "NVMe TB",
            "PSU W",
            "max W",
            "BTU/h",
            "U",
            "price each",
        ),
        servers,
        right=(1, 4, 5, 6, 7, 8, 9),
    )
    c = d.costs
    months = c.horizon_months or d.requirements.growth.horizon_months
    total = c.tco_usd or c.three_year_tco_usd
    console.print(
        Text(
            f"capex {usd(c.capex_usd.low)}-{usd(c.capex_usd.high)} (what must be bought); opex "
            f"{usd(c.annual_opex_usd)}/year (power {usd(c.annual_power_usd)}, maintenance "
            f"{usd(c.annual_maintenance_usd)}); {months}-month TCO {usd(total.low)}-{usd(total.high)}"
        )
    )
    for item in c.owned_hardware:
        console.print(Text(f"owned, not in capex: {item}"))
    for dep in d.deployments:
        console.print(Text(f"{dep.name or dep.use_case}:", style="bold"))
        for r in dep.reasons:
            console.print(Text(f"  - {r}"))
        for a in dep.alternatives:
            console.print(Text(f"  alternative: {a.summary} - lost: {a.why_lost}", style="dim"))
    for e in d.escalations:
        console.print(Text(f"ESCALATION ({e.kind}) {e.field}: {e.problem}", style="red"))
        for o in e.options:
            console.print(Text(f"    option: {o}"))


def render_verdict(v: Verdict, console: Console) -> None:
    """The verdict block: the same numbers as report.html's first screen."""
    console.print(Text("Verdict: " + v.decision, style="bold"))
    lines: list[tuple[str, str]] = []
    if v.capex_usd is not None and v.annual_opex_usd is not None:
        lines.append(
            (
                "hardware (capex)",
                f"{usd(v.capex_usd.low)} - {usd(v.capex_usd.high)} (expected {usd(v.capex_usd.expected)})",
            )
        )
        lines.append(("running cost", f"{usd(v.annual_opex_usd)}/year"))
        if v.tco_usd is not None:
            lines.append(
                (f"TCO over {horizon(v.years or 0)}", f"{usd(v.tco_usd.low)} - {usd(v.tco_usd.high)}")
            )
    else:
        lines.append(("cost", v.cost_note or "not computed"))
    for role, cl in (("cheapest cloud", v.cheapest), ("strongest cloud", v.strongest)):
        if cl is not None:
            lines.append(
                (role, f"{cl.name}: {usd(cl.usd_per_year)}/year, {breakeven_words(cl.breakeven_month)}")
            )
    lines.append(("break-even", v.breakeven))
    for a in v.at_load:
        ttft = "-" if a.ttft_p95_ms is None else f"{a.ttft_p95_ms:,.0f}"
        itl = "-" if a.itl_p95_ms is None else f"{a.itl_p95_ms:,.1f}"
        verdict = (
            "meets its targets" if a.meets else "MISSES its targets" if a.meets is False else "no targets"
        )
        lines.append(
            (
                f"at load: {a.use_case}",
                f"P95 TTFT {ttft} ms, ITL {itl} ms at {a.rate_rpm:,.1f} req/min; {verdict}",
            )
        )
    for r in (*(f"escalation: {x}" for x in v.escalations), *v.risks):
        lines.append(("risk", r))
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for k, val in lines:
        grid.add_row(Text(f"  {k}"), Text(val))
    console.print(grid)


def register(app: typer.Typer) -> None:
    """Adds `garrison plan`."""

    @app.command("plan")
    def plan_cmd(
        requirements: Path = typer.Argument(..., help="Requirements YAML (Garrison's shape or a hand-off)."),
        out: Path | None = typer.Option(
            None, "--out", help="Write design.json and the deployment bundle here."
        ),
        force: bool = typer.Option(False, "--force", help="Replace a non-empty --out folder."),
        as_json: bool = typer.Option(False, "--json", help="Print the design as JSON."),
        calibration: str = typer.Option("default", "--calibration", help="Efficiency profile to use."),
        quiet: bool = typer.Option(False, "--quiet", help="No summary."),
        save: bool = typer.Option(True, "--save/--no-save", help="Keep the design in the history database."),
    ) -> None:
        """Size and design the platform; exit 3 when a requirement cannot be met (trade-offs printed)."""
        req = load_requirements(requirements)
        if req.handoff is not None and not quiet:
            from garrison.handoff.intake import intake_lines

            for line in intake_lines(req.handoff):
                typer.echo(f"garrison: {line}", err=True)
        design = plan_requirements(req, calibration)
        if out is not None and design.deployments:
            write_tree(design_files(design), out, force=force)
        if save and design.deployments:
            from garrison.store import Store

            design_id = Store().save_design(design)
            typer.echo(f"saved as design {design_id} in the history (garrison history list)", err=True)
        if as_json:
            print_json(json.loads(design.model_dump_json()))
        elif not quiet:
            from garrison.cost.inputs import tco_for_design

            tco, note = None, ""
            try:
                tco = tco_for_design(design)
            except GarrisonError as err:
                note = err.one_line()
            # tables fit the terminal (or $COLUMNS, 80 when piped): a grid when it fits, else stacked
            render_summary(design, Console(), tco, note)
            if out is not None:
                Console(stderr=True).print(f"wrote {out}")
        if design.escalations:
            if as_json or quiet:
                for e in design.escalations:
                    typer.echo(
                        f"garrison: escalation {e.kind}: {e.field}: {e.problem}; options: "
                        + " | ".join(e.options),
                        err=True,
                    )
            raise typer.Exit(EXIT_ESCALATION)
