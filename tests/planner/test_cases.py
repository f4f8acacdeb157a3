"""Realistic requirement files (tests/planner/cases) plan to the designs expected.yaml describes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from garrison.catalogue import Catalogue
from garrison.design import Deployment, Design
from garrison.errors import InputError
from garrison.outputs import design_files
from garrison.planner import plan
from garrison.planner.model_refs import load_model_ref
from garrison.requirements_file import load_requirements
from planner.helpers import CASES, TODAY

EXPECTED: dict[str, dict[str, Any]] = yaml.safe_load((CASES / "expected.yaml").read_text())


def test_every_case_file_has_an_expectation() -> None:
    files = {p.stem for p in CASES.glob("*.yaml") if p.stem != "expected"}
    assert files == set(EXPECTED), files ^ set(EXPECTED)
    assert len(files) >= 8
    for name, exp in EXPECTED.items():
        assert len(exp["why"]) > 80, f"{name}: say why"


def _exit(d: Design) -> int:
    return 3 if d.escalations else 0


@pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items() if e.get("exit") != 2))
def test_case_plans_as_expected(name: str, planned: Callable[[str], Design]) -> None:
    exp = EXPECTED[name]
    d = planned(name)
    assert _exit(d) == exp["exit"], [e.problem for e in d.escalations]
    if "escalations" in exp:
        assert sorted({e.kind for e in d.escalations}) == sorted(exp["escalations"])
    if exp.get("costed"):
        for e in d.escalations:
            assert e.costed_options, e
            assert any(o.capex_usd is not None for o in e.costed_options), e.costed_options
    for dep in d.deployments:  # every deployment was simulated at its design load
        assert dep.slo_check is not None
        assert dep.slo_check.rate_rpm > 0
        if exp["exit"] == 0:
            assert dep.slo_check.meets, dep.slo_check
        _check_marginal_flag(dep)
    if exp.get("consumer_gpus") is False:
        segments = {cat_gpu_segment(s.gpu) for s in d.servers if s.gpu}
        assert "consumer" not in segments
    if "capex_max_usd" in exp:
        assert d.costs.capex_usd.expected <= exp["capex_max_usd"]
    if exp.get("capex_zero"):
        assert d.costs.capex_usd.high == 0 and d.costs.annual_maintenance_usd == 0
        assert d.costs.owned_hardware
    if "gateway_colocated" in exp:
        separate = any(s.role == "gateway" for s in d.servers)
        assert separate != exp["gateway_colocated"], [s.name for s in d.servers]
        if exp["gateway_colocated"]:
            assert any("gateway" in s.hosts for s in d.servers)
    if "server_count_max" in exp:
        assert sum(s.count for s in d.servers) <= exp["server_count_max"]
    if "power_max_kw" in exp:
        assert sum(s.power_max_w * s.count for s in d.servers) <= exp["power_max_kw"] * 1000
    if "gpus_per_server" in exp:
        assert {s.gpus_per_server for s in d.servers if s.gpu} == {exp["gpus_per_server"]}
    if "capex_below_case" in exp:  # the same requirements with another hardware choice cost more
        other = planned(exp["capex_below_case"])
        assert d.costs.capex_usd.high < other.costs.capex_usd.low, (d.costs.capex_usd, other.costs.capex_usd)
    if exp.get("multi_node_network"):  # replicas across nodes get one fast NIC per GPU
        assert all("400G" in s.network for s in d.servers if s.gpu), [s.network for s in d.servers]
    deps = {dep.name: dep for dep in d.deployments}
    for dep_name, want in exp.get("deployments", {}).items():
        assert dep_name in deps, list(deps)
        dep = deps[dep_name]
        if "model_in" in want:
            assert dep.model_id in want["model_in"]
        if "quant_in" in want:
            assert dep.quant in want["quant_in"]
        if "engine_in" in want:
            assert dep.engine in want["engine_in"]
        if "device_kind" in want:
            assert dep.device_kind == want["device_kind"]
        if "licence_in" in want:
            assert dep.licence in want["licence_in"]
        if "replicas_min" in want:
            assert dep.replicas >= want["replicas_min"]
        if "device_in" in want:
            assert dep.device in want["device_in"]
        if "nodes_per_replica" in want:
            assert dep.nodes_per_replica == want["nodes_per_replica"]
        if "max_model_len_min" in want:
            assert dep.max_model_len >= want["max_model_len_min"]
        if "checkpoint_repo" in want:
            assert dep.checkpoint is not None and dep.checkpoint.repo == want["checkpoint_repo"]
        text = "\n".join(dep.reasons)
        for needle in want.get("reason_has", []):
            assert needle in text, (needle, text)
        assert dep.checkpoint is not None  # every catalogue deployment names its weights
        assert dep.licence


def _check_marginal_flag(dep: Deployment) -> None:
    """A deployment that meets its targets by less than the simulation's resolution says so."""
    sc = dep.slo_check
    if sc is None or not sc.meets:
        return
    close = [
        (value, target)
        for value, target in (
            (sc.ttft_p95_ms, dep.ttft_p95_target_ms),
            (sc.itl_p95_ms, dep.itl_p95_target_ms),
        )
        if target is not None and value > target * 0.95
    ]
    if sc.capacity_rpm is not None and sc.capacity_rpm < sc.rate_rpm * 1.05:
        close.append((sc.capacity_rpm, sc.rate_rpm))
    flagged = any("marginal at the design load" in r for r in dep.reasons)
    assert flagged == bool(close), (dep.name, close, sc)


def cat_gpu_segment(gpu_id: str) -> str:
    from garrison.catalogue import load_catalogue

    return load_catalogue().gpus[gpu_id].segment


@pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items() if e.get("exit") == 2))
def test_case_is_an_input_error(name: str, cat: Catalogue) -> None:
    req = load_requirements(CASES / f"{name}.yaml")
    with pytest.raises(InputError) as err:
        plan(req, catalogue=cat, load_model=load_model_ref, today=TODAY)
    assert EXPECTED[name]["error"] in str(err.value)


@pytest.mark.parametrize("name", ["two-models-one-use-case", "impossible-budget"])
def test_case_bundle_renders(name: str, planned: Callable[[str], Design]) -> None:
    files = design_files(planned(name))
    readme = files["README.md"]
    if EXPECTED[name]["exit"] == 3:
        assert readme.startswith("# ESCALATION"), readme[:200]
    else:
        assert "ESCALATION" not in readme
    assert "design.json" in files


def test_cli_exit_3_writes_a_bundle_that_says_so(tmp_path: Path) -> None:
    import subprocess
    import sys

    out = tmp_path / "bundle"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "garrison",
            "plan",
            str(CASES / "impossible-budget.yaml"),
            "--out",
            str(out),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 3, r.stderr
    assert "escalation budget" in r.stderr and "capex" in r.stderr
    assert (out / "README.md").read_text().startswith("# ESCALATION")


def test_cli_judges_the_deadline_from_today() -> None:
    """`garrison plan` passes today's date: a sourced H100 lead time misses a deadline weeks away."""
    import json
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "-m", "garrison", "plan", str(CASES / "deadline-h100.yaml"), "--json", "--no-save"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 3, r.stderr
    design = json.loads(r.stdout)
    assert [e["kind"] for e in design["escalations"]] == ["schedule"]
    assert "escalation schedule" in r.stderr
