"""Docs checked by tests: every command registered in the `garrison` app has `--help` text, is
mentioned in README.md and has its page docs/<command>.md linked from there. Only registered
commands are checked, so a command that is built without docs fails here; one not built yet does not.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from garrison.cli import app

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands() -> dict[str, Any]:
    """Every command path ("keys", "keys add", ...) of the typer app, sub-groups included.

    Duck-typed on `.commands`: recent typer ships its own copy of click, so isinstance checks
    against the `click` package would silently find nothing.
    """
    found: dict[str, Any] = {}

    def walk(prefix: str, cmd: Any) -> None:
        subs = getattr(cmd, "commands", None)
        if isinstance(subs, dict):
            for name, sub in subs.items():
                path = f"{prefix} {name}".strip()
                found[path] = sub
                walk(path, sub)

    walk("", typer.main.get_command(app))
    return found


COMMANDS = _commands()
assert hasattr(typer.main.get_command(app), "commands"), "the garrison app is no longer a command group"
TOP_LEVEL = sorted(name for name in COMMANDS if " " not in name)


def test_the_app_itself_has_help() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


@pytest.mark.parametrize("path", sorted(COMMANDS) or ["<none registered>"])
def test_every_command_has_help_text(path: str) -> None:
    if path not in COMMANDS:
        pytest.skip("no command registered yet")
    cmd = COMMANDS[path]
    assert (cmd.help or cmd.short_help or "").strip(), f"`garrison {path}` has no help text (docstring)"
    result = CliRunner().invoke(app, [*path.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


@pytest.mark.parametrize("name", TOP_LEVEL or ["<none registered>"])
def test_every_command_is_in_the_readme_with_its_docs_page(name: str) -> None:
    if name not in COMMANDS:
        pytest.skip("no command registered yet")
    assert re.search(rf"\bgarrison {re.escape(name)}\b", README), (
        f"README.md never mentions `garrison {name}`"
    )
    assert f"(docs/{name}.md)" in README, f"README.md does not link docs/{name}.md"
    assert (ROOT / "docs" / f"{name}.md").is_file(), f"docs/{name}.md is missing for `garrison {name}`"
