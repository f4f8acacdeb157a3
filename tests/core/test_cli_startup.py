"""The lazy command table: help listing equal to the commands' own help, nothing loaded early."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer

from garrison.cli import COMMANDS, build_app


@pytest.mark.parametrize("name", list(COMMANDS))
def test_listing_help_is_the_commands_own(name: str) -> None:
    group = typer.main.get_command(build_app([name]))
    real = group.commands[name]  # type: ignore[attr-defined]
    own = (real.help or "").strip().split("\n\n")[0]
    assert " ".join(own.split()) == COMMANDS[name][1]


def test_version_and_usage_errors_load_no_command_module() -> None:
    code = (
        "import sys\n"
        "from garrison.cli import main\n"
        "for argv in (['--version'], ['bogus']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "loaded = sorted(m for m in sys.modules if m.endswith('_cmd') or m.startswith('garrison.planner'))\n"
        "print(loaded)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]"


def test_a_command_loads_only_its_own_module() -> None:
    code = (
        "import sys\n"
        "from garrison.cli import main\n"
        "try:\n"
        "    main(['estimate', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.endswith('_cmd')))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.stdout.strip().splitlines()[-1] == "['garrison.cli.estimate_cmd']"
