"""A design that cannot be met as stated: the verdict says so first, and every option the planner
re-planned and costed is in the report with its price and whether it resolves the escalation."""

from __future__ import annotations

import re
from pathlib import Path

from garrison.cli.plan_cmd import run_plan
from garrison.cost.text import usd
from garrison.report import report_files

CASE = Path(__file__).resolve().parents[2] / "tests" / "planner" / "cases" / "impossible-budget.yaml"


def test_costed_options_and_verdict_of_an_escalated_design() -> None:
    d = run_plan(CASE)
    assert d.escalations and d.escalations[0].costed_options
    page = report_files(d)["report.html"]
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert text.index("Not ready to buy") < text.index("Success metrics")  # first, before any detail
    assert "Each option re-planned and costed" in page
    for o in d.escalations[0].costed_options:
        assert o.option in text
        if o.capex_usd is not None:
            assert f"{usd(o.capex_usd.low)} - {usd(o.capex_usd.high)}" in text
