"""Helpers shared by the planner tests (not fixtures): paths, a fixed date, quick plans."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from garrison.catalogue import Catalogue
from garrison.design import Design
from garrison.planner import plan
from garrison.planner.model_refs import load_model_ref
from garrison.requirements import Requirements

CASES = Path(__file__).parent / "cases"
TODAY = date(2026, 12, 1)  # lead times are judged from this date in the tests


def quick_plan(req: Requirements, cat: Catalogue, simulate: bool = False) -> Design:
    """A plan without simulation or escalation re-planning: the analytic ranking alone (fast)."""
    return plan(req, catalogue=cat, load_model=load_model_ref, simulate=simulate, escalate=False, today=TODAY)


def requirements(**use_case: object) -> dict[str, object]:
    """A minimal requirements dict with one use case (overrides merged in)."""
    uc: dict[str, object] = {"name": "x", "kind": "chat", "models": ["qwen3-8b"], "load": {"users": 10}}
    uc.update(use_case)
    return {"organisation": {"name": "t", "team_size": 10}, "use_cases": [uc]}
