"""Hand-off in: analyst-style hand-offs plan in one run; every value is parsed, guessed or kept as a
note (never dropped); targets and compliance survive into design.json."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from garrison.catalogue import load_catalogue
from garrison.cli.common import load_model
from garrison.design import Design
from garrison.handoff.intake import from_handoff, intake_lines
from garrison.planner import plan
from garrison.requirements import Requirements
from garrison.requirements_file import load_requirements, parse_requirements
from garrison.sizing.calibration_profiles import load_efficiency

DATA = Path(__file__).parent / "data"
HANDOFFS = sorted(p.stem for p in DATA.glob("*.yaml"))
ROOT = Path(__file__).resolve().parents[2]


def _doc(name: str) -> dict[str, Any]:
    return yaml.safe_load((DATA / f"{name}.yaml").read_text())


@cache
def _planned(name: str) -> Design:
    req = load_requirements(DATA / f"{name}.yaml")
    return plan(req, catalogue=load_catalogue(), load_model=load_model, efficiency=load_efficiency("default"))


def _keys(doc: dict[str, Any]) -> list[str]:
    """Every key the hand-off's context holds (and keys beside the context)."""
    h = doc["handoff"]
    keys = [f"context.{k}" for k in (h.get("context") or {})]
    return keys + [k for k in h if k not in ("source_agent", "target_agent", "context", "request")]


@pytest.mark.parametrize("name", HANDOFFS)
def test_every_value_is_accounted_for(name: str) -> None:
    doc = _doc(name)
    req = parse_requirements(doc)
    assert req.handoff is not None
    recorded = [f.key for f in req.handoff.fields]
    for key in _keys(doc):
        assert any(r == key or r.startswith(key + ".") or r.startswith(key + "[") for r in recorded), (
            f"{key} of {name} vanished without a record"
        )
    for f in req.handoff.fields:
        if f.status == "ignored":
            assert any(n.startswith(f.key) for n in req.handoff.notes), (
                f"{f.key} ignored but not kept as a note"
            )
    lines = intake_lines(req.handoff)
    for f in req.handoff.fields:
        if f.status != "parsed":
            assert any(f.key in line and f.result in line for line in lines), f"{f.key} not printed"


def test_role_description_shape_keeps_every_placeholder_as_a_note() -> None:
    req = parse_requirements(_doc("role-description"))
    assert req.handoff is not None
    status = {f.key: f.status for f in req.handoff.fields}
    for key in (
        "model_sizes",
        "selected_models",
        "concurrent_users",
        "context_lengths",
        "throughput_requirements",
    ):
        assert status[f"context.{key}"] == "ignored"
    assert "context.throughput_requirements: Tokens per second target" in req.handoff.notes
    # the source agent is not the organisation (issue 14 saw "Requirements-Analyst")
    assert req.organisation.name == "Unnamed organisation"
    assert req.handoff.source_agent == "@Open-Source-Model-Evaluator"
    assert req.use_cases[0].model_refs()[0].recommend


def test_analyst_handoff_maps_every_field() -> None:
    req = parse_requirements(_doc("analyst"))
    assert req.organisation.name == "Northwind Health"
    assert req.organisation.team_size == 120
    code, chat = req.use_cases
    assert (code.kind, code.fim, code.model_refs()[0].id) == ("code", True, "qwen2.5-coder-7b")
    assert (chat.kind, chat.model_refs()[0].id) == ("chat", "qwen3-32b")
    assert code.latency.ttft_p95_ms == chat.latency.ttft_p95_ms == 2000
    assert req.budget.capex_usd == 250_000
    assert req.security.compliance == ("GDPR", "HIPAA")
    assert req.security.data_residency == "EU (Frankfurt)"
    assert req.handoff is not None and req.handoff.deadline == "2027-03-31"
    assert str(req.site.deadline) == "2027-03-31"


def test_free_form_handoff_parses_strings() -> None:
    req = parse_requirements(_doc("free-form"))
    assert req.organisation.team_size == 300
    kinds = {u.kind: u for u in req.use_cases}
    assert set(kinds) == {"batch", "chat"}
    chat = kinds["chat"]
    assert chat.model_refs()[0].id == "llama-3.3-70b-instruct" and chat.model_refs()[0].quant == "fp8"
    assert chat.context_length == 32768
    assert chat.load.concurrent_requests == 60
    assert chat.latency.ttft_p95_ms == 2000 and chat.latency.e2e_p95_s == 60
    assert chat.latency.itl_p95_ms == pytest.approx(1000 / 15, abs=0.1)
    assert all(u.high_availability for u in req.use_cases)
    assert req.security.air_gapped and req.security.vlan_segmented
    assert req.security.compliance == ("GDPR", "EU AI Act", "client privilege")
    assert req.budget.capex_usd == 400_000 and req.budget.opex_usd_per_year == 60_000
    assert req.power.usd_per_kwh == 0.28
    assert req.handoff is not None
    assert req.handoff.availability_pct == 99.9
    assert req.handoff.licences == ("apache-2.0", "llama3.1", "llama3.3")
    assert all(u.licences == ("apache-2.0", "llama3.1", "llama3.3") for u in req.use_cases)
    assert str(req.site.deadline) == "2027-06-30"  # "live by the end of Q2 2027"
    guessed = {f.key for f in req.handoff.fields if f.status == "guessed"}
    assert "context.budget" in guessed  # EUR taken as USD is a guess and says so
    assert "context.power_price" in guessed


def test_evaluator_model_dicts_and_per_use_case_targets() -> None:
    req = parse_requirements(_doc("evaluator"))
    chat = next(u for u in req.use_cases if u.kind == "chat")
    code = next(u for u in req.use_cases if u.kind == "code")
    assert chat.model_refs()[0].id == "qwen3-32b" and chat.model_refs()[0].quant == "fp8"
    assert chat.context_length == 32768
    assert (chat.latency.ttft_p95_ms, chat.latency.itl_p95_ms) == (1500, 60)
    assert code.fim and code.load.users == 30
    assert req.handoff is not None
    assert "context.favourite_colour: blue" in req.handoff.notes


def test_unknown_model_name_is_recorded_and_recommended() -> None:
    req = parse_requirements(
        {"handoff": {"context": {"selected_models": ["Qwen9-700B-Imaginary"], "concurrent_users": 5}}}
    )
    assert req.handoff is not None
    rec = next(f for f in req.handoff.fields if f.key.startswith("context.selected_models"))
    assert rec.status == "ignored" and "not a model in the catalogue" in rec.result


def test_size_only_picks_the_closest_catalogue_model_as_a_guess() -> None:
    req = parse_requirements({"handoff": {"context": {"model_sizes": "70B at FP8", "concurrent_users": 5}}})
    ref = req.use_cases[0].model_refs()[0]
    assert ref.quant == "fp8"
    assert ref.id is not None and "70b" in ref.id
    assert req.handoff is not None
    assert any(f.status == "guessed" and "70B" in f.value for f in req.handoff.fields)


def test_unreadable_target_is_printed_not_dropped() -> None:
    req = parse_requirements(
        {
            "handoff": {
                "context": {
                    "selected_models": "qwen3-8b",
                    "latency_targets": "within 80% of cloud API latency",
                }
            }
        }
    )
    assert req.handoff is not None
    lines = intake_lines(req.handoff)
    assert any("latency_targets" in line and "NOT APPLIED" in line for line in lines)


def test_handoff_record_round_trips_through_requirements_json() -> None:
    req = Requirements.model_validate(from_handoff(_doc("free-form")))
    again = Requirements.model_validate_json(req.model_dump_json())
    assert again == req


@pytest.mark.parametrize("name", HANDOFFS)
def test_handoff_plans_in_one_run_and_keeps_targets_and_compliance(name: str) -> None:
    d = _planned(name)
    assert d.deployments, d.escalations
    req = d.requirements
    js = json.loads(d.model_dump_json())
    assert js["requirements"]["handoff"]["fields"], "the intake record is in design.json"
    for uc in req.use_cases:
        deps = [x for x in d.deployments if x.use_case == uc.name]
        for x in deps:
            if uc.latency.ttft_p95_ms is not None:
                assert x.ttft_p95_target_ms == uc.latency.ttft_p95_ms
            if uc.latency.itl_p95_ms is not None:
                assert x.itl_p95_target_ms == uc.latency.itl_p95_ms
    raw = _doc(name)["handoff"].get("context", {})
    if "compliance" in raw:
        assert js["requirements"]["security"]["compliance"]
        gpus = {s.gpu for s in d.servers if s.gpu}
        cat = load_catalogue()
        assert all(cat.gpu(g).segment != "consumer" for g in gpus), f"GeForce chosen under compliance: {gpus}"


def test_cli_prints_guesses_on_stderr(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "garrison", "plan", str(DATA / "analyst.yaml"), "--no-save", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    assert "hand-off guessed: context.concurrent_users = '50'" in out.stderr
    design = json.loads(out.stdout)
    assert design["requirements"]["organisation"]["name"] == "Northwind Health"


def test_site_limits_and_power_price_are_told_apart() -> None:
    req = parse_requirements(
        {
            "handoff": {
                "context": {
                    "selected_models": "qwen3-8b",
                    "power": "12 kW available in the server room",
                    "electricity_price": "$0.21/kWh",
                    "rack_space": "8U free",
                    "deadline": "as soon as possible",
                }
            }
        }
    )
    assert req.site.power_kw == 12 and req.site.rack_units == 8
    assert req.power.usd_per_kwh == 0.21
    assert req.site.deadline is None
    assert req.handoff is not None
    rec = next(f for f in req.handoff.fields if f.key == "context.deadline")
    assert rec.status == "ignored" and "not checked" in rec.result


def test_hostile_text_is_cleaned_and_oversized_values_are_kept_as_notes() -> None:
    long_residency = "Data must stay in the EU; " * 20  # 520 characters
    regimes = [f"internal policy {i}" for i in range(40)]
    req = parse_requirements(
        {
            "handoff": {
                "context": {
                    "organisation": "Contoso\u2028Legal\x07 " + "x" * 300,
                    "selected_models": "qwen3-8b",
                    "data_residency": long_residency,
                    "compliance": regimes,
                    "deadline": "2027-01-31\u200b",
                },
            }
        }
    )
    assert req.handoff is not None
    assert req.organisation.name.startswith("Contoso Legal xxx") and len(req.organisation.name) <= 200
    assert req.security.data_residency is not None and len(req.security.data_residency) <= 200
    assert any(long_residency.strip()[:100] in n for n in req.handoff.notes)  # the whole text is kept
    assert len(req.security.compliance) == 32
    assert any("internal policy 39" in n for n in req.handoff.notes)  # never dropped
    assert str(req.site.deadline) == "2027-01-31"
