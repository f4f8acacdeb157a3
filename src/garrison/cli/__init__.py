"""The `garrison` command: a thin layer over the library, one module per command."""

from __future__ import annotations

import os
import sys

import typer

from garrison import __version__
from garrison.errors import GarrisonError

app = typer.Typer(
    name="garrison",
    help="Size, design, deploy and verify a self-hosted LLM platform.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"garrison {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print version."),
) -> None:
    """Garrison: requirements in, a sized and justified platform out."""


# Each command module has `register(app)`. Keep this list sorted; one line per module.
from garrison.cli import (  # noqa: E402
    airgap_cmd,
    bench_cmd,
    calibrate_cmd,
    estimate_cmd,
    handoff_cmd,
    history_cmd,
    keys_cmd,
    mcp_cmd,
    plan_cmd,
    render_cmd,
    simulate_cmd,
    tco_cmd,
    validate_cmd,
    verify_cmd,
)

for _module in (
    estimate_cmd,
    plan_cmd,
    render_cmd,
    validate_cmd,
    keys_cmd,
    bench_cmd,
    verify_cmd,
    history_cmd,
    airgap_cmd,
    simulate_cmd,
    calibrate_cmd,
    tco_cmd,
    handoff_cmd,
    mcp_cmd,
):
    _module.register(app)


def main() -> None:
    """Console entry point: library errors become one line on stderr and an exit code."""
    try:
        # without standalone mode click returns (not raises) the code of `typer.Exit(n)`
        rc = app(standalone_mode=False)
        if isinstance(rc, int) and rc:
            sys.exit(rc)
    except GarrisonError as e:
        if os.environ.get("GARRISON_DEBUG"):
            raise
        print(f"garrison: {e.one_line()}", file=sys.stderr)
        sys.exit(e.exit_code)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        print("garrison: aborted", file=sys.stderr)
        sys.exit(130)
    except KeyboardInterrupt:
        print("garrison: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as e:  # click usage errors and anything unexpected: one line, never a traceback
        import click

        if isinstance(e, click.exceptions.ClickException):
            e.show()
            sys.exit(e.exit_code)
        if os.environ.get("GARRISON_DEBUG"):
            raise
        print(
            f"garrison: internal error: {type(e).__name__}: {e} (GARRISON_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        sys.exit(1)
