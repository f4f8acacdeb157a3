"""The set-up and CI scripts are clean shell: shellcheck (the real one) finds nothing."""

from __future__ import annotations

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
