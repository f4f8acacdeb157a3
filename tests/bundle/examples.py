"""Designs planned from examples/*.yaml, tests/planner/cases/*.yaml and tests/bundle/engine_cases/*.yaml,
each planned once per test run."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from garrison.design import Design
from garrison.errors import GarrisonError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
# tests/planner/cases/expected.yaml holds the planner tests' expectations, not requirements
PLANNER_CASES = sorted(
    p for p in (ROOT / "tests" / "planner" / "cases").glob("*.yaml") if p.name != "expected.yaml"
)
ENGINE_CASES = sorted((Path(__file__).parent / "engine_cases").glob("*.yaml"))


@cache
def _planned(path: Path) -> Design | str:
    from garrison.cli.plan_cmd import run_plan

    try:
        return run_plan(path)
    except GarrisonError as e:
        return e.one_line()


def planned(path: Path) -> Design:
    """The design `garrison plan` makes of a requirements file; skips when it does not plan."""
    d = _planned(path)
    if isinstance(d, str):  # the planner or catalogue cannot plan it: not a bundle fault
        pytest.skip(f"{path.name} does not plan: {d}")
    return d
