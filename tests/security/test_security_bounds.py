"""The issue's bad inputs, each pinned: one line, exit 2 (or 3), no traceback, no hang."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bundle.designs import gpu_vllm_design
from garrison.simulate.capacity import split_round_robin
from garrison.simulate.workload import Requests
from security.cli_runner import run_cli

REQ = "organisation: {{name: a, team_size: 5}}\nuse_cases:\n  - {{name: b, kind: {kind}, models: [qwen3-8b]{extra}}}\n"


def _plan(tmp_path: Path, text: str) -> tuple[int | None, str]:
    f = tmp_path / "req.yaml"
    f.write_text(text)
    o = run_cli("plan", str(f), "--quiet", "--no-save", hang_s=120)
    assert not o.traceback, o.stderr
    return o.code, o.stderr


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        (", load: {tokens_per_day: 1e15}", "tokens_per_day"),
        (", load: {requests_per_minute: .inf}", "requests_per_minute"),
        (", load: {requests_per_minute: .nan}", "requests_per_minute"),
        (", load: {users: " + "9" * 400 + "}", "users"),
        (", context_length: -.inf", "context_length"),
    ],
)
def test_numbers_out_of_range_are_one_line(tmp_path: Path, extra: str, field: str) -> None:
    code, err = _plan(tmp_path, REQ.format(kind="batch", extra=extra))
    assert code == 2 and field in err and err.count("\n") == 1, err


def test_budget_nan_and_huge_capex(tmp_path: Path) -> None:
    for budget in ("{capex_usd: .nan}", "{capex_usd: 1e300}", "{opex_usd_per_year: " + "9" * 400 + "}"):
        code, err = _plan(tmp_path, REQ.format(kind="chat", extra="") + f"budget: {budget}\n")
        assert code == 2 and "budget." in err, err


@pytest.mark.parametrize(
    "text",
    [
        "organisation: {name: a, team_size: 5}\nuse_cases: " + "[" * 50_000 + "]" * 50_000 + "\n",
        "".join("  " * i + "k:\n" for i in range(2000)) + "  " * 2000 + "v: 1\n",
        "a0: &a0 [x,x,x,x,x,x,x,x,x]\n"
        + "".join(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 10))
        + "organisation: *a9\n",
        "organisation: {name: a, team_size: " + "7" * 5000 + "}\n",
    ],
    ids=["50000-deep-flow", "2000-deep-block", "billion-laughs", "5000-digits"],
)
def test_parser_attacks_are_refused(tmp_path: Path, text: str) -> None:
    code, err = _plan(tmp_path, text)
    assert code == 2 and err.count("\n") == 1, err


def test_500_use_cases_are_refused_at_once(tmp_path: Path) -> None:
    ucs = "".join(f"  - {{name: u{i}, kind: chat, models: [qwen3-8b]}}\n" for i in range(500))
    code, err = _plan(tmp_path, "organisation: {name: a, team_size: 5}\nuse_cases:\n" + ucs)
    assert code == 2 and "at most 16" in err, err


def test_handoff_numbers_are_bounded(tmp_path: Path) -> None:
    """An absurd number in a hand-off is never planned with: refused, or kept as a note."""
    for users in ("1e400", "9" * 400, ".inf", "'1e15 users'"):
        f = tmp_path / "handoff.yaml"
        f.write_text(
            "handoff:\n  source_agent: x\n  context:\n    selected_models: [qwen3-8b]\n"
            f"    concurrent_users: {users}\n"
        )
        o = run_cli("plan", str(f), "--json", "--no-save", hang_s=120)
        assert o.code in (0, 2, 3) and not o.traceback, (users, o.stderr)
        if o.code == 0:
            design = json.loads(o.stdout)
            assert all(d["concurrent_requests"] <= 100_000 for d in design["deployments"]), users


def _design_file(tmp_path: Path, mutate: dict[str, object]) -> Path:
    raw = json.loads(gpu_vllm_design().model_dump_json())
    raw["deployments"][0].update(mutate)
    f = tmp_path / "design.json"
    f.write_text(json.dumps(raw))
    return f


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        ({"tp": 0}, "deployments.0.tp"),
        ({"pp": 0}, "deployments.0.pp"),
        ({"replicas": 10**12}, "deployments.0.replicas"),
        ({"max_model_len": 0}, "deployments.0.max_model_len"),
        ({"gpu_memory_utilization": 7}, "deployments.0.gpu_memory_utilization"),
        ({"requests_per_minute": 10**400}, "deployments.0.requests_per_minute"),
    ],
)
@pytest.mark.parametrize("command", ["render", "tco", "handoff"])
def test_design_numbers_out_of_range(
    tmp_path: Path, mutate: dict[str, object], field: str, command: str
) -> None:
    f = _design_file(tmp_path, mutate)
    extra = {"render": ["--out", str(tmp_path / "out")], "tco": [], "handoff": ["--to", "mlops"]}[command]
    o = run_cli(command, str(f), *extra)
    assert o.code == 2 and field in o.stderr and not o.traceback, o.stderr
    assert not (tmp_path / "out").exists()


def test_design_infinity_and_depth(tmp_path: Path) -> None:
    f = tmp_path / "design.json"
    f.write_text(gpu_vllm_design().model_dump_json().replace('"replicas":2', '"replicas":Infinity', 1))
    o = run_cli("render", str(f), "--out", str(tmp_path / "out"))
    assert o.code == 2 and "Infinity" in o.stderr, o.stderr
    f.write_text("[" * 50_000 + "]" * 50_000)
    o = run_cli("tco", str(f))
    assert o.code == 2 and "nested deeper" in o.stderr, o.stderr


def test_a_design_too_large_for_one_bundle_escalates(tmp_path: Path) -> None:
    d = gpu_vllm_design()
    dep = d.deployments[0]
    many = tuple(dep.model_copy(update={"use_case": f"uc{i}", "replicas": 6000}) for i in range(2))
    f = tmp_path / "design.json"
    f.write_text(d.model_copy(update={"deployments": many}).model_dump_json())
    o = run_cli("render", str(f), "--out", str(tmp_path / "out"))
    assert o.code == 3 and "12,000 replicas" in o.stderr, o.stderr


@pytest.mark.parametrize(
    ("option", "value"),
    [("--memory-gib", "inf"), ("--gpus", "9" * 400), ("--tp", "100000"), ("--gpu-memory-utilization", "nan")],
)
def test_estimate_options_are_bounded(option: str, value: str) -> None:
    o = run_cli("estimate", "qwen3-8b", "--gpu", "h100", option, value)
    assert o.code == 2 and option in o.stderr and not o.traceback, o.stderr


def test_split_round_robin_never_loops_over_empty_replicas() -> None:
    arr = np.arange(4, dtype=float)  # four requests, a trillion replicas: four slices, at once
    reqs = Requests(arr, arr.astype(int), arr.astype(int), arr.astype(int))
    assert len(split_round_robin(reqs, 10**12)) == 4


def test_history_db_creates_no_folders(tmp_path: Path) -> None:
    target = tmp_path / "not" / "there" / "h.db"
    o = run_cli("history", "list", "--db", f"sqlite:///{target}")
    assert o.code == 2 and "does not exist" in o.stderr, o.stderr
    assert not (tmp_path / "not").exists()


def test_airgap_lint_of_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    o = run_cli("airgap", "lint", str(tmp_path / "nonexistent"))
    assert o.code == 2 and "no such folder" in o.stderr
    (tmp_path / "empty").mkdir()
    o = run_cli("airgap", "lint", str(tmp_path / "empty"))
    assert o.code == 2 and "no compose" in o.stderr


def test_a_design_without_deployments_is_refused_by_render(tmp_path: Path) -> None:
    f = tmp_path / "design.json"
    f.write_text(gpu_vllm_design().model_copy(update={"deployments": ()}).model_dump_json())
    o = run_cli("render", str(f), "--out", str(tmp_path / "out"))
    assert o.code == 2 and "deploys nothing" in o.stderr, o.stderr


@pytest.mark.parametrize(
    ("option", "value"),
    [("--num-requests", "1000000000"), ("--burst", "1000000000"), ("--num-requests", "0")],
)
def test_simulate_work_is_bounded(option: str, value: str) -> None:
    o = run_cli("simulate", "qwen3-8b", "--gpu", "h100", option, value, hang_s=60)
    assert o.code == 2 and not o.traceback, o.stderr


def test_simulate_reads_design_json_with_the_same_checks(tmp_path: Path) -> None:
    f = _design_file(tmp_path, {"tp": 0})
    o = run_cli("simulate", str(f))
    assert o.code == 2 and "deployments.0.tp" in o.stderr, o.stderr
