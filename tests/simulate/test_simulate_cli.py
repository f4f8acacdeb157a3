"""`garrison simulate` end to end, as a user runs it (a subprocess; exit codes and one-line errors)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from garrison.design import Design
from garrison.testing import designs


def _design(model_id: str = "llama-3.1-8b-instruct") -> Design:
    est = designs.make_estimate(
        model=model_id,
        kv_dtype="bf16",
        gpus=1,
        replicas=1,
        max_model_len=8192,
        max_num_seqs=256,
        kv_cache_gib_per_gpu=54,
        max_concurrency=48,
        concurrency=64,
        decode_tokens_per_s_single=140,
        output_tokens_per_s=5000,
        ttft_ms=60,
        memory=designs.make_memory(
            total_gib=80,
            usable_gib=72,
            weights_gib=15,
            activations_gib=2,
            runtime_gib=1,
            kv_cache_gib=54,
            free_gib=8,
        ),
    )
    dep = designs.make_deployment(
        model_id=model_id,
        model_name="chat",
        kv_dtype="bf16",
        max_model_len=8192,
        max_num_seqs=256,
        requests_per_minute=300,
        concurrent_requests=20,
        ttft_p95_target_ms=2000,
        itl_p95_target_ms=50,
        estimate=est,
    )
    req = designs.make_requirements([designs.chat_use_case(["x"])], name="t", team_size=10)
    return designs.make_design(req, (dep,), garrison_version="0", name="t", costs=designs.zero_costs())


def _run(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GARRISON_HOME": str(home)}
    env.pop("GARRISON_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "garrison", "simulate", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.fixture()
def design_file(tmp_path: Path) -> Path:
    p = tmp_path / "design.json"
    p.write_text(_design().model_dump_json(), encoding="utf-8")
    return p


def test_design_sweep_json(design_file: Path, tmp_path: Path) -> None:
    r = _run(str(design_file), "--rate", "1,5,40", "--num-requests", "600", "--json", home=tmp_path)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    steps = doc["steps"]
    assert [s["rate"] for s in steps] == [1, 5, 40]
    for s in steps:
        for key in ("ttft_ms", "itl_ms", "e2e_ms"):
            assert set(s[key]) >= {"mean", "p50", "p95", "p99"}
        for key in ("output_tokens_per_s", "mean_running", "mean_waiting", "preemptions"):
            assert key in s
    assert steps[2]["ttft_ms"]["p95"] >= steps[0]["ttft_ms"]["p95"]
    assert doc["replicas"] == 2  # the design's
    assert {b["metric"] for b in doc["slo_breaks"]} == {"ttft_p95", "itl_p95"}  # the design's targets


def test_design_default_rate_and_table(design_file: Path, tmp_path: Path) -> None:
    r = _run(
        str(design_file),
        "--num-requests",
        "300",
        "--input-len",
        "uniform:200-2000",
        "--output-len",
        "lognormal:200:0.5",
        home=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert "TTFT p95" in r.stdout and "requests per second" in r.stdout
    assert "       5 " in r.stdout  # 300 requests per minute


def test_same_seed_same_output(design_file: Path, tmp_path: Path) -> None:
    a = _run(str(design_file), "--rate", "3", "--num-requests", "300", "--seed", "4", "--json", home=tmp_path)
    b = _run(str(design_file), "--rate", "3", "--num-requests", "300", "--seed", "4", "--json", home=tmp_path)
    assert a.returncode == 0 and a.stdout == b.stdout


def test_trace_csv(design_file: Path, tmp_path: Path) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text(
        "arrival_s,input_tokens,output_tokens\n"
        + "".join(f"{i * 0.1:.1f},{100 + i},{20 + i % 7}\n" for i in range(200)),
        encoding="utf-8",
    )
    r = _run(str(design_file), "--trace", str(trace), "--rate", "2,8", "--json", home=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["steps"][0]["requests"] == 200


@pytest.mark.parametrize(
    "args,field",
    [
        (["--rate", "0"], "rate"),
        (["--rate", "-2,3"], "rate"),
        (["--rate", "fast"], "--rate"),
        (["--input-len", "uniform:9-3"], "--input-len"),
        (["--use-case", "nope"], "--use-case"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    design_file: Path, tmp_path: Path, args: list[str], field: str
) -> None:
    r = _run(str(design_file), *args, home=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and field in r.stderr
    assert "Traceback" not in r.stderr


def test_broken_trace_exits_2(design_file: Path, tmp_path: Path) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text("arrival_s,input_tokens,output_tokens\n0,10,5\n1,x,5\n", encoding="utf-8")
    r = _run(str(design_file), "--trace", str(trace), home=tmp_path)
    assert r.returncode == 2 and "line 3" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_model_path_uses_the_roofline(tmp_path: Path) -> None:
    r = _run(
        "llama-3.1-8b-instruct",
        "--gpu",
        "h100-sxm",
        "--rate",
        "2,20",
        "--num-requests",
        "400",
        "--json",
        home=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    steps = json.loads(r.stdout)["steps"]
    assert 0 < steps[0]["itl_ms"]["p50"] < 50  # an 8B model on an H100 decodes in milliseconds
    assert steps[1]["output_tokens_per_s"] > steps[0]["output_tokens_per_s"]


def test_design_with_unknown_model_uses_its_estimate(tmp_path: Path) -> None:
    """A design whose model cannot be resolved here is simulated from the numbers its estimate records."""
    p = tmp_path / "design.json"
    p.write_text(_design("org/private-model").model_dump_json(), encoding="utf-8")
    r = _run(str(p), "--rate", "1", "--num-requests", "300", "--json", home=tmp_path)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)["steps"][0]
    # the estimate says ITL 7 ms alone (140 tok/s) and prefill at 20k tok/s: 1024 tokens ~ 51 ms
    assert 6.0 < s["itl_ms"]["p50"] < 12.0
    assert 45.0 < s["ttft_ms"]["p50"] < 80.0


def test_series_over_time(design_file: Path, tmp_path: Path) -> None:
    r = _run(str(design_file), "--rate", "2,60", "--num-requests", "400", "--json", "--series", home=tmp_path)
    assert r.returncode == 0, r.stderr
    low, high = (s["series"] for s in json.loads(r.stdout)["steps"])
    assert len(high["t_s"]) == len(high["kv_usage"]) == 200
    assert all(0 <= x <= 1 for x in high["kv_usage"])
    assert max(high["running"]) > max(low["running"])  # more load, bigger batches at some point
