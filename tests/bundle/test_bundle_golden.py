"""Golden bundle trees: every example and every hand-built design, reviewed as diffs.

Refresh after an intended change with `GARRISON_UPDATE_GOLDEN=1 pytest tests/bundle/test_bundle_golden.py`,
then review `git diff tests/bundle/golden/`.
"""

from __future__ import annotations

import difflib
import os
import shutil
from pathlib import Path

import pytest

from bundle.designs import DESIGNS
from bundle.examples import EXAMPLES, ROOT, planned
from garrison.design import Design
from garrison.render import render_bundle, write_bundle
from garrison.render.writer import MANIFEST

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("GARRISON_UPDATE_GOLDEN") == "1"


CASES = [*(f"design-{k}" for k in sorted(DESIGNS)), *(f"example-{p.stem}" for p in EXAMPLES)]


def _design(case: str) -> Design:
    kind, name = case.split("-", 1)
    return DESIGNS[name]() if kind == "design" else planned(ROOT / "examples" / f"{name}.yaml")


@pytest.mark.parametrize("case", CASES)
def test_bundle_matches_golden(case: str) -> None:
    files = render_bundle(_design(case))
    gold = GOLDEN / case
    if UPDATE:
        shutil.rmtree(gold, ignore_errors=True)  # the golden tree holds only rendered files
        write_bundle(files, gold)
        (gold / MANIFEST).unlink()
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


def test_plan_out_writes_design_and_bundle(tmp_path: Path) -> None:
    """`garrison plan REQ --out DIR` writes design.json and the same bundle `render` makes."""
    import subprocess
    import sys

    example = ROOT / "examples" / "edge-cpu.yaml"
    out = tmp_path / "out"
    r = subprocess.run(
        [sys.executable, "-m", "garrison", "plan", str(example), "--out", str(out), "--quiet"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if r.returncode == 2:
        pytest.skip(f"edge-cpu.yaml does not plan: {r.stderr.strip()}")
    assert r.returncode == 0, r.stderr
    again = tmp_path / "again"
    r2 = subprocess.run(
        [sys.executable, "-m", "garrison", "render", str(out / "design.json"), "--out", str(again)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r2.returncode == 0, r2.stderr
    first = {str(p.relative_to(out)): p.read_text() for p in out.rglob("*") if p.is_file()}
    second = {str(p.relative_to(again)): p.read_text() for p in again.rglob("*") if p.is_file()}
    assert "gateway/nginx.conf" in first and first == second
