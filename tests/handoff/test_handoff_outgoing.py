"""Hand-off out: one YAML per colleague, escalations addressed to the agent the role description names,
the programme manager's deadline turned into a hardware arrival date, and the CLI writing them all."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import yaml

from garrison.cost import compute_tco
from garrison.design import Escalation
from garrison.handoff import ESCALATION_ROUTES, TARGETS, handoff, handoff_files
from garrison.handoff.parse import deadline_date
from garrison.requirements import Handoff
from garrison.store import Store
from tco.conftest import make_design, make_gpu, make_price

ROOT = Path(__file__).resolve().parents[2]


def _design_with_every_escalation():  # type: ignore[no-untyped-def]
    d = make_design()
    esc = tuple(
        Escalation(kind=k, field=f"field.{k}", problem=f"{k} problem", options=(f"fix {k}",))  # type: ignore[arg-type]
        for k in ESCALATION_ROUTES
    )
    req = d.requirements.model_copy(
        update={
            "handoff": Handoff(source_agent="@Requirements-Analyst", deadline="Q2 2027", licences=("mit",))
        }
    )
    return d.model_copy(update={"escalations": esc, "requirements": req})


def _tco(d):  # type: ignore[no-untyped-def]
    return compute_tco(
        d,
        [make_price("openai", "gpt-6-sol", 2.0, 10.0), make_price("together.ai", "q", 0.1, 0.5)],
        {"h100-sxm": make_gpu()},
    )


def test_every_escalation_goes_to_the_agent_the_role_names() -> None:
    d = _design_with_every_escalation()
    ml = handoff(d, "mlops")["handoff"]["context"]["escalations"]
    assert {e["kind"]: e["to"] for e in ml} == {k: v[0] for k, v in ESCALATION_ROUTES.items()}
    assert {e["kind"]: e["to"] for e in ml}["budget"] == "@Program-Manager"
    assert {e["kind"]: e["to"] for e in ml}["model-too-large"] == "@Open-Source-Model-Evaluator"
    assert {e["kind"]: e["to"] for e in ml}["security"] == "@Security-Risk-Compliance-Advisor"
    assert {e["kind"]: e["to"] for e in ml}["data"] == "@Data-Sovereignty-Advisor"
    pm = handoff(d, "program-manager", _tco(d))["handoff"]["context"]
    assert {e["kind"] for e in pm["escalations"]} == {"budget", "capacity", "schedule", "site", "timeline"}
    ev = handoff(d, "model-evaluator")["handoff"]["context"]
    assert {e["kind"] for e in ev["escalations"]} == {"model-too-large", "latency", "licence"}
    sec = handoff(d, "security")["handoff"]["context"]
    assert {e["kind"] for e in sec["open_escalations"]} == {"security", "data"}


def test_programme_manager_gets_the_verdict_and_the_arrival_date() -> None:
    d = _design_with_every_escalation()
    t = _tco(d)
    pm = handoff(d, "program-manager", t)["handoff"]["context"]
    assert pm["decision"].startswith("Not ready to buy")  # escalations are open
    assert pm["cost"]["capex_usd"]["low"] == t.capex_usd.low
    assert pm["cost"]["tco_years"] == t.years
    assert pm["timeline"]["hardware_must_arrive_by"] == "2027-06-16"  # Q2 2027 ends 06-30, minus 14 days
    assert pm["what_to_buy"][0]["count"] == 1 and "h100-sxm" in pm["what_to_buy"][0]["what"]
    assert pm["cloud_comparison"]["cheapest"]["name"] == "together.ai/q"
    assert pm["cloud_comparison"]["strongest"]["name"] == "openai/gpt-6-sol"


def test_model_evaluator_checks_the_licence_policy() -> None:
    d = _design_with_every_escalation()
    dep = d.deployments[0].model_copy(update={"licence": "apache-2.0"})
    d = d.model_copy(update={"deployments": (dep,)})
    pol = handoff(d, "model-evaluator")["handoff"]["context"]["licence_policy"]
    assert pol["allowed"] == ["mit"]
    assert pol["deployments"][0]["status"] == "NOT in the allowed list"


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2027-03-31", date(2027, 3, 31)),
        ("live by the end of Q2 2027", date(2027, 6, 30)),
        ("end of March 2027", date(2027, 3, 31)),
        ("2027-02", date(2027, 2, 28)),
        ("as soon as possible", None),
    ],
)
def test_deadline_date(text: str, day: date | None) -> None:
    assert deadline_date(text) == day


def test_handoff_files_one_per_colleague() -> None:
    d = make_design()
    files = handoff_files(d, _tco(d))
    assert sorted(files) == sorted(f"handoff-{t}.yaml" for t in TARGETS)
    for name, text in files.items():
        h = yaml.safe_load(text)["handoff"]
        assert h["target_agent"].startswith("@") and h["context"], name


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "garrison", *args], capture_output=True, text=True, cwd=ROOT, timeout=300
    )


def test_cli_writes_all_handoffs_for_a_stored_design(tmp_path: Path) -> None:
    design_id = Store().save_design(make_design())
    out = tmp_path / "hand"
    r = _cli("handoff", f"design-{design_id}", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(f"handoff-{t}.yaml" for t in TARGETS)
    again = _cli("handoff", f"design-{design_id}", "--out", str(out))
    assert again.returncode == 2 and "--force" in again.stderr
    assert _cli("handoff", f"design-{design_id}", "--out", str(out), "--force").returncode == 0
    one = _cli("handoff", str(design_id), "--to", "program-manager")
    assert one.returncode == 0 and "@Program-Manager" in one.stdout


def test_cli_bad_reference_is_one_line(tmp_path: Path) -> None:
    r = _cli("handoff", "design-999", "--to", "mlops")
    assert r.returncode == 2
    assert r.stderr.startswith("garrison: DESIGN: no design 999") and len(r.stderr.strip().splitlines()) == 1
