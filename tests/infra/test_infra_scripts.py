"""The set-up and CI scripts are clean shell: shellcheck (the real one) finds nothing."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from garrison.testing.ci import require_tool

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = [*sorted((ROOT / "scripts").glob("*.sh")), ROOT / ".ci" / "run"]


def test_the_scripts_exist() -> None:
    names = {p.name for p in SCRIPTS}
    assert {"quickstart.sh", "test.sh", "ensure-llama-server.sh", "run"} <= names


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_shellcheck_is_clean(script: Path) -> None:
    shellcheck = require_tool("shellcheck")
    result = subprocess.run(
        [shellcheck, "-x", str(script)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_quickstart_has_exactly_the_two_setup_commands() -> None:
    quickstart = (
        (ROOT / "README.md").read_text(encoding="utf-8").split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    )
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", quickstart, flags=re.S)
    commands = [
        line.strip()
        for block in blocks
        for line in block.splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert commands == ["bash scripts/quickstart.sh", "bash scripts/test.sh"]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "bash scripts/test.sh" in ci, ".ci/run must call the README's test command"
