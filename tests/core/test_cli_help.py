"""Every option of every command has help text; every option that takes a value and every argument has
an example, and the example converts with the parameter's own type; every command shows whole example
command lines; --help never cuts a name with "…" at 80 columns."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from garrison.cli import app
from garrison.cli.examples import COMMANDS as COMMAND_EXAMPLES


def _commands() -> dict[str, Any]:
    found: dict[str, Any] = {}

    def walk(prefix: str, cmd: Any) -> None:
        subs = getattr(cmd, "commands", None)
        if isinstance(subs, dict):
            for name, sub in subs.items():
                walk(f"{prefix} {name}".strip(), sub)
        else:
            found[prefix] = cmd

    walk("", typer.main.get_command(app))
    return found


COMMANDS = _commands()
PARAMS = [(path, p) for path, cmd in sorted(COMMANDS.items()) for p in cmd.params]


def _id(item: tuple[str, Any]) -> str:
    path, p = item
    return f"{path}:{p.name}"


@pytest.mark.parametrize("item", PARAMS, ids=[_id(i) for i in PARAMS])
def test_every_parameter_has_help_and_an_example(item: tuple[str, Any]) -> None:
    path, p = item
    text = (getattr(p, "help", None) or "").strip()
    assert text, f"`garrison {path}` {p.name}: no help text"
    if getattr(p, "is_flag", False):
        return  # a flag's example is its own spelling, printed beside its help
    # "Example: VALUE" (cli/examples.py appends it) or the option's own "e.g. VALUE"
    m = re.search(r"Example: (\S+)", text) or re.search(r"\be\.g\. ([^\s,;]+(?:,[^\s,;]+)*)", text)
    assert m, f"`garrison {path}` {p.name}: no example in {text!r}; add one to garrison/cli/examples.py"
    value = m.group(1).rstrip(".,;)")
    cmd = COMMANDS[path]
    ctx = cmd.make_context(path, [], resilient_parsing=True)
    # the parameter's own conversion and validation (types, choices, ranges) accepts the example
    is_multi = p.multiple or p.nargs == -1
    assert p.process_value(ctx, [value] if is_multi else value) is not None


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_command_shows_example_lines(path: str) -> None:
    assert path in COMMAND_EXAMPLES, f"`garrison {path}` has no example command lines"
    for line in COMMAND_EXAMPLES[path]:
        assert line.startswith(f"garrison {path}"), line
    result = CliRunner().invoke(app, [*path.split(), "--help"], terminal_width=80)
    assert result.exit_code == 0, result.output
    assert "Examples:" in result.output
    assert COMMAND_EXAMPLES[path][0] in result.output


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_help_wraps_and_never_truncates_at_80_columns(path: str) -> None:
    result = CliRunner().invoke(app, [*path.split(), "--help"], terminal_width=80, env={"COLUMNS": "80"})
    assert "…" not in result.output, result.output
    for p in COMMANDS[path].params:
        for opt in getattr(p, "opts", []):
            if opt.startswith("--"):
                assert opt in result.output, f"{opt} missing or cut in `garrison {path} --help`"
