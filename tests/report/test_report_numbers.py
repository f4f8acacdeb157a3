"""One source for every number: `garrison plan`'s summary, design.json, `garrison tco --json`, report.html
and the programme manager's hand-off give the same capex, opex, TCO over the same horizon, cloud bills
and break-even for the same design. Everything runs through the real CLI."""

from __future__ import annotations

import html as html_mod
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from garrison.cost.text import horizon, usd
from garrison.report.verdict import breakeven_words

ROOT = Path(__file__).resolve().parents[2]
CASES = [
    ROOT / "tests" / "handoff" / "data" / "analyst.yaml",  # 24-month horizon
    ROOT / "examples" / "enterprise-150.yaml",  # 36-month horizon
    ROOT / "tests" / "report" / "data" / "horizon-18-months.yaml",  # not a whole number of years
]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "400"}  # one line per value: nothing wraps in the summary
    return subprocess.run(
        [sys.executable, "-m", "garrison", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=600,
    )


def _text(page: str) -> str:
    """report.html as text: tags dropped, entities decoded, whitespace collapsed."""
    return " ".join(html_mod.unescape(re.sub(r"<[^>]+>", " ", page)).split())


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_cli_design_json_tco_report_and_handoff_agree(path: Path, tmp_path: Path) -> None:
    planned = _cli("plan", str(path), "--out", str(tmp_path / "b"), "--no-save", cwd=tmp_path)
    assert planned.returncode in (0, 3), planned.stderr
    summary = " ".join(planned.stdout.split())
    design = json.loads((tmp_path / "b" / "design.json").read_text())
    report = _text((tmp_path / "b" / "report.html").read_text())
    tco_run = _cli("tco", str(tmp_path / "b" / "design.json"), "--json", cwd=tmp_path)
    assert tco_run.returncode == 0, tco_run.stderr
    tco = json.loads(tco_run.stdout)
    pm_run = _cli("handoff", str(tmp_path / "b"), "--to", "program-manager", cwd=tmp_path)
    assert pm_run.returncode == 0, pm_run.stderr
    pm = yaml.safe_load(pm_run.stdout)["handoff"]["context"]

    costs = design["costs"]
    years = costs["horizon_months"] / 12
    span = horizon(years)  # "2 years", "18 months"
    assert tco["years"] == pytest.approx(years) and pm["cost"]["tco_years"] == pytest.approx(years)
    assert f"TCO over {span}" in summary and f"TCO over {span}" in report
    assert f"{costs['horizon_months']}-month TCO" in summary

    # design.json is the source; every other place prints the same dollars
    capex = [usd(costs["capex_usd"][k]) for k in ("low", "expected", "high")]
    assert [usd(tco["capex_usd"][k]) for k in ("low", "expected", "high")] == capex
    assert [usd(pm["cost"]["capex_usd"][k]) for k in ("low", "expected", "high")] == capex
    opex, power, maint = (
        usd(costs[k]) for k in ("annual_opex_usd", "annual_power_usd", "annual_maintenance_usd")
    )
    assert (
        usd(tco["annual_opex_usd"]),
        usd(tco["annual_power_usd"]),
        usd(tco["annual_maintenance_usd"]),
    ) == (
        opex,
        power,
        maint,
    )
    assert usd(pm["cost"]["annual_opex_usd"]) == opex
    total = [usd(costs["tco_usd"][k]) for k in ("low", "high")]
    assert [usd(tco["tco_usd"][k]) for k in ("low", "high")] == total

    # the CLI summary: the verdict block and the cost line
    assert f"hardware (capex) {capex[0]} - {capex[2]} (expected {capex[1]})" in summary
    assert f"running cost {opex}/year" in summary
    assert f"TCO over {span} {total[0]} - {total[1]}" in summary
    assert (
        f"capex {capex[0]}-{capex[2]}" in summary
        and f"opex {opex}/year (power {power}, maintenance {maint})" in summary
    )
    assert f"{costs['horizon_months']}-month TCO {total[0]}-{total[1]}" in summary

    # report.html: the first screen and the TCO section
    assert f"Hardware (capex) {capex[0]} - {capex[2]} expected {capex[1]}" in report
    assert f"Running cost {opex}/year" in report
    assert f"TCO over {span} {total[0]} - {total[1]}" in report
    assert f"opex per year {opex} (power {power}, maintenance {maint}" in report

    # cloud comparison: cheapest and strongest, with the break-even, everywhere
    cloud = sorted(tco["cloud"], key=lambda c: c["usd_per_year"])
    for role, c in (("cheapest", cloud[0]), ("strongest", cloud[-1])):
        name, bill = f"{c['provider']}/{c['model']}", usd(c["usd_per_year"])
        be = breakeven_words(c["breakeven_month"])
        assert f"{role} cloud {name}: {bill}/year, {be}" in summary
        assert f"{role.capitalize()} cloud: {name} {bill}/year {be}" in report
        assert pm["cloud_comparison"][role]["name"] == name
        assert usd(pm["cloud_comparison"][role]["usd_per_year"]) == bill
    ref_be = tco["breakeven_month"]
    ref_text = "never against" if ref_be is None else f"month {ref_be} against {tco['reference']}"
    assert ref_text in summary and ref_text in report and ref_text in pm["cloud_comparison"]["breakeven"]
