"""The `garrison` command: a thin layer over the library, one module per command.

Start-up is lazy: `main()` imports only the module of the command being run. `garrison --help`,
`--version` and a usage error load no command module at all; the command list they show comes from
`COMMANDS` (a test keeps its one-line help equal to each command's own).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

import typer

from garrison import __version__
from garrison.errors import GarrisonError

# name -> (module under garrison.cli, one-line help shown by `garrison --help`), in help order.
COMMANDS: dict[str, tuple[str, str]] = {
    "estimate": (
        "estimate_cmd",
        "Memory per GPU, KV capacity, concurrency, prefill/decode speed, TTFT and ITL.",
    ),
    "plan": (
        "plan_cmd",
        "Size and design the platform; exit 3 when a requirement cannot be met (trade-offs printed).",
    ),
    "render": (
        "render_cmd",
        "Write the deployment bundle (compose, k8s, gateway, monitoring, firewall, runbooks, report).",
    ),
    "validate": (
        "validate_cmd",
        "Check every artifact with its real tool (nginx, promtool, k8s schemas, shellcheck, nft ...).",
    ),
    "keys": ("keys_cmd", "Generate an API key, print it once, and add it to the gateway's key map."),
    "bench": (
        "bench_cmd",
        "Load-test an OpenAI-compatible endpoint: TTFT, ITL, throughput, goodput, errors.",
    ),
    "verify": (
        "verify_cmd",
        "Check health, models, TLS, authentication, rate limit and egress; exit 1 on any failure.",
    ),
    "simulate": (
        "simulate_cmd",
        "Simulate continuous batching under load: TTFT/ITL/E2E percentiles per rate, and where SLOs break.",
    ),
    "calibrate": (
        "calibrate_cmd",
        "Fit bandwidth/compute efficiency and per-step overhead to measurements; print held-out error.",
    ),
    "tco": (
        "tco_cmd",
        "Capex, opex, cost per million tokens, break-even and savings against every cloud model.",
    ),
    "handoff": (
        "handoff_cmd",
        "Hand-off YAML per colleague: MLOps, security, programme manager, model evaluator, API, ROI, compliance.",
    ),
    "mcp": (
        "mcp_cmd",
        "MCP server on stdio: plan, estimate, tco, render, validate, simulate, bench, handoff, airgap, history.",
    ),
    "history": ("history_cmd", "Stored designs, benchmark runs and verifications."),
    "airgap": ("airgap_cmd", "Air-gapped installs: pack, verify, install."),
}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"garrison {__version__}")
        raise typer.Exit()


def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print version."),
) -> None:
    """Garrison: requirements in, a sized and justified platform out."""


def _placeholder() -> None:
    """Stands in for a command in the help listing; never runs (main() loads the real one first)."""
    raise typer.Exit(2)


def build_app(load: Sequence[str] | None = None) -> typer.Typer:
    """The Typer app with the real commands named in `load` (all when None) and light placeholders
    for the others, so the help listing, "No such command" and its suggestions stay complete."""
    app = typer.Typer(
        name="garrison",
        help="Size, design, deploy and verify a self-hosted LLM platform.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        # click's plain help wraps long option names and help at the terminal width; rich's panels
        # cut them with "…" at 80 columns
        rich_markup_mode=None,
    )
    app.callback()(_root)
    wanted = set(COMMANDS) if load is None else set(load)
    for name, (module, short_help) in COMMANDS.items():
        if name in wanted:
            importlib.import_module(f"garrison.cli.{module}").register(app)
        else:
            app.command(
                name,
                help=short_help,
                context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
            )(_placeholder)
    from garrison.cli.examples import apply_examples

    apply_examples(app)
    return app


def _command_in(argv: Sequence[str]) -> str | None:
    """The subcommand `argv` runs: the first token that is not an option (the root takes no values)."""
    for token in argv:
        if token == "--":
            return None
        if not token.startswith("-"):
            return token if token in COMMANDS else None
    return None


def __getattr__(name: str) -> Any:
    # `from garrison.cli import app` (tests, embedding) gets the full app with every command loaded.
    if name == "app":
        return build_app()
    raise AttributeError(name)


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point. Usage errors are typer's own (usage text, exit 2); library errors become
    one line on stderr and their exit code; nothing else ever prints a traceback."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = _command_in(args)
    try:
        # standalone mode: typer (whichever click it uses, its own copy or click itself) prints usage
        # errors and exits 2; GarrisonError and anything unexpected propagate to us.
        build_app([command] if command else [])(args=args, prog_name="garrison", standalone_mode=True)
    except GarrisonError as e:
        if os.environ.get("GARRISON_DEBUG"):
            raise
        print(f"garrison: {e.one_line()}", file=sys.stderr)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        print("garrison: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as e:
        if os.environ.get("GARRISON_DEBUG"):
            raise
        print(
            f"garrison: internal error: {type(e).__name__}: {e} (GARRISON_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        sys.exit(1)
