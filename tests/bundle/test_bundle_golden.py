"""Golden bundle trees: every example and every hand-built design, reviewed as diffs.

Refresh after an intended change with `GARRISON_UPDATE_GOLDEN=1 pytest tests/bundle/test_bundle_golden.py`,
then review `git diff tests/bundle/golden/`.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

from garrison.design import Design
from garrison.errors import GarrisonError
from garrison.render import render_bundle, write_bundle
from bundle.designs import DESIGNS

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
UPDATE = os.environ.get("GARRISON_UPDATE_GOLDEN") == "1"


def _plan_example(path: Path) -> Design:
    from garrison.cli.plan_cmd import run_plan

    try:
        return run_plan(path)
    except GarrisonError as e:  # the planner or catalogue cannot plan it yet: not a bundle fault
        pytest.skip(f"{path.name} does not plan: {e.one_line()}")


CASES = [*(f"design-{k}" for k in sorted(DESIGNS)), *(f"example-{p.stem}" for p in EXAMPLES)]


def _design(case: str) -> Design:
    kind, name = case.split("-", 1)
    return DESIGNS[name]() if kind == "design" else _plan_example(ROOT / "examples" / f"{name}.yaml")


@pytest.mark.parametrize("case", CASES)
def test_bundle_matches_golden(case: str) -> None:
    files = render_bundle(_design(case))
    gold = GOLDEN / case
    if UPDATE:
        write_bundle(files, gold, force=True)
        return
    if not gold.is_dir():
        pytest.fail(f"no golden tree for {case}; create it with GARRISON_UPDATE_GOLDEN=1")
    on_disk = {
        str(p.relative_to(gold)): p.read_text(encoding="utf-8") for p in gold.rglob("*") if p.is_file()
    }
    assert sorted(on_disk) == sorted(files), "file list differs from the golden tree"
    diffs = []
    for path, text in files.items():
        if on_disk[path] != text:
            diffs.append(
                "".join(
                    difflib.unified_diff(
                        on_disk[path].splitlines(True),
                        text.splitlines(True),
                        f"golden/{path}",
                        f"rendered/{path}",
                        n=1,
                    )
                )[:2000]
            )
    assert not diffs, (
        "rendered bundle differs from golden (GARRISON_UPDATE_GOLDEN=1 to accept):\n" + "\n".join(diffs)
    )
