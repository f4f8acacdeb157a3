"""Raw data: per-request JSONL and CSV summary from a real llama-server run; the JSONL replays in
`garrison simulate --trace` and in `garrison bench --trace` (the same trace drives both)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from garrison.simulate.workload import parse_requests_jsonl

pytestmark = [pytest.mark.slow, pytest.mark.needs_llama]


def _lines(path: Path) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_requests_jsonl_round_trips_into_simulate_and_bench(cli, llama_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    srv = llama_server(parallel=2)
    jl, summary = tmp_path / "requests.jsonl", tmp_path / "summary.csv"
    p = cli(
        "bench", srv.base_url, "--model", "tiny", "--endpoint", "completions", "--rate", "8",
        "--num-requests", "12", "--warmup", "2", "--cooldown", "2", "--input-len", "20:80",
        "--output-len", "4:12", "--seed", "7", "--percentiles", "50,99.9", "--no-save", "--json",
        "--export-requests", str(jl), "--export-csv", str(summary),
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    rows = _lines(jl)
    assert len(rows) == 16
    assert [r["phase"] for r in rows].count("measured") == 12 == d["steps"][0]["requests"]
    assert d["steps"][0]["excluded"] == {"cooldown": 2, "warmup": 2}
    for r in rows:
        assert r["error"] is None and r["ttft_ms"] > 0 and r["e2e_ms"] >= r["ttft_ms"]
        assert r["output_tokens"] == r["max_tokens"] and 4 <= r["max_tokens"] <= 12
        assert r["tokens_from_usage"] is True
    arrivals = [r["arrival_s"] for r in rows]
    assert arrivals == sorted(arrivals) and arrivals[0] == 0.0
    table = list(csv.DictReader(summary.open()))
    assert len(table) == 1 and float(table[0]["ttft_ms_p99.9"]) >= float(table[0]["ttft_ms_p50"])
    assert d["steps"][0]["ttft_ms"]["percentiles"]["p99.9"] == pytest.approx(float(table[0]["ttft_ms_p99.9"]))

    # simulate reads the very same file: one simulated request per line, same lengths
    assert parse_requests_jsonl(jl.read_text()) == [
        (r["arrival_s"], r["input_tokens"], r["output_tokens"]) for r in rows
    ]
    sim = cli("simulate", "qwen3-8b", "--gpu", "h100", "--trace", str(jl), "--rate", "8", "--json")
    assert sim.returncode == 0, sim.stderr
    assert json.loads(sim.stdout)["steps"][0]["requests"] == 16

    # and bench replays it: the same arrivals (relative), prompt lengths and output lengths
    jl2 = tmp_path / "replay.jsonl"
    p = cli(
        "bench", srv.base_url, "--model", "tiny", "--endpoint", "completions", "--trace", str(jl),
        "--no-save", "--json", "--export-requests", str(jl2),
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    again = _lines(jl2)
    assert json.loads(p.stdout)["steps"][0]["mode"] == "trace"
    assert [r["max_tokens"] for r in again] == [r["output_tokens"] for r in rows]
    assert [r["input_tokens"] for r in again] == [r["input_tokens"] for r in rows]
    lag = [abs(a["arrival_s"] - b["arrival_s"]) for a, b in zip(again, rows, strict=True)]
    assert max(lag) < 0.25, lag
