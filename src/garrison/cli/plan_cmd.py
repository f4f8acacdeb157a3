"""`garrison plan`: requirements YAML in; a design summary, design.json and the bundle out."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from garrison.catalogue import load_catalogue
from garrison.cli.common import load_model, print_json
from garrison.design import Design
from garrison.errors import EXIT_ESCALATION
from garrison.outputs import design_files, write_tree
from garrison.planner import plan
from garrison.requirements_file import load_requirements
from garrison.sizing.calibration_profiles import load_efficiency


def run_plan(path: Path, calibration: str = "default") -> Design:
    """Library entry point of the command: load, validate and plan (today's date for lead times)."""
    req = load_requirements(path)
    return plan(
        req,
        catalogue=load_catalogue(),
        load_model=load_model,
        efficiency=load_efficiency(calibration),
        today=date.today(),
    )


def render_summary(d: Design, console: Console) -> None:
    """The readable plan: deployments, servers, costs, escalations.

    Latency is shown as the simulation saw it at the design load (growth headroom included), and
    capacity separately: the highest load at which every P95 target still held.
    """
    if d.escalations:
        console.print(
            f"[bold red]ESCALATION: the requirements cannot all be met as stated ({len(d.escalations)} "
            "issue(s) below, each option re-planned and costed)[/bold red]"
        )
    console.print(f"[bold]Garrison design for {escape(d.name)}[/bold] (catalogue as of {d.catalogue_as_of})")
    t = Table(
        title="Deployments (latency simulated at the design load; capacity = max load within the targets)"
    )
    cols = (
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
    )
    for col in cols:
        t.add_column(col)
    for dep in d.deployments:
        hw = f"{dep.gpus_per_replica}x {dep.device}" if dep.device_kind == "gpu" else f"CPU {dep.device}"
        sc = dep.slo_check
        target = f"{dep.ttft_p95_target_ms:,.0f}" if dep.ttft_p95_target_ms is not None else "-"
        itl_target = f"{dep.itl_p95_target_ms:,.0f}" if dep.itl_p95_target_ms is not None else "-"
        t.add_row(
            dep.name or dep.use_case,
            escape(dep.model_id),
            dep.quant,
            dep.engine,
            hw,
            str(dep.replicas),
            f"{dep.requests_per_minute:,.1f}",
            f"{sc.ttft_p95_ms:,.0f} (target {target})" if sc else "not simulated",
            f"{sc.itl_p95_ms:,.1f} (target {itl_target})" if sc else "not simulated",
            f"{sc.capacity_rpm:,.1f}" if sc and sc.capacity_rpm is not None else "-",
            ("[green]met[/green]" if sc.meets else "[red]MISSED: " + escape("; ".join(sc.failed)) + "[/red]")
            if sc
            else "-",
        )
    console.print(t)
    s = Table(title="Servers")
    for col in (
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
        "price USD",
    ):
        s.add_column(col)
    for srv in d.servers:
        price = (
            "owned"
            if srv.owned
            else (f"{srv.price_usd.low:,.0f}-{srv.price_usd.high:,.0f}" if srv.price_usd else "n/a")
        )
        s.add_row(
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
            price,
        )
    console.print(s)
    c = d.costs
    months = c.horizon_months or d.requirements.growth.horizon_months
    tco = c.tco_usd or c.three_year_tco_usd
    console.print(
        f"capex {c.capex_usd.low:,.0f}-{c.capex_usd.high:,.0f} USD (what must be bought); opex "
        f"{c.annual_opex_usd:,.0f} USD/year (power {c.annual_power_usd:,.0f}); {months}-month TCO "
        f"{tco.low:,.0f}-{tco.high:,.0f} USD"
    )
    for item in c.owned_hardware:
        console.print(f"owned, not in capex: {item}")
    for dep in d.deployments:
        console.print(f"[bold]{dep.name or dep.use_case}[/bold]:")
        for r in dep.reasons:
            console.print(f"  - {escape(r)}")
        for a in dep.alternatives:
            console.print(f"  [dim]alternative: {escape(a.summary)} - lost: {escape(a.why_lost)}[/dim]")
    for e in d.escalations:
        console.print(f"[red]ESCALATION ({e.kind})[/red] {escape(e.field)}: {escape(e.problem)}")
        for o in e.options:
            console.print(f"    option: {escape(o)}")


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
        design = plan(
            req, catalogue=load_catalogue(), load_model=load_model, efficiency=load_efficiency(calibration)
        )
        if out is not None and design.deployments:
            write_tree(design_files(design), out, force=force)
        if save and design.deployments:
            from garrison.store import Store

            design_id = Store().save_design(design)
            typer.echo(f"saved as design {design_id} in the history (garrison history list)", err=True)
        if as_json:
            print_json(json.loads(design.model_dump_json()))
        elif not quiet:
            console = Console()
            if not console.is_terminal:  # piped or in CI: wide enough that tables do not truncate
                console = Console(width=160)
            render_summary(design, console)
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
