"""Fault injection and bad input for `garrison bench` / `verify`, against the FAKE stub server
(a real server cannot be made to fail on demand). Each fault is counted under its error type."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def _json(p: subprocess.CompletedProcess[str]) -> dict:  # type: ignore[type-arg]
    assert p.stdout.strip(), p.stderr
    return json.loads(p.stdout)  # type: ignore[no-any-return]


def _bench_json_argv(url: str, *options: str) -> list[str]:
    """`garrison bench URL --model stub OPTIONS --json --no-save` as an argument list."""
    return ["bench", url, "--model", "stub", *options, "--json", "--no-save"]


def test_every_fault_counted_by_type_and_run_survives(cli, stub) -> None:  # type: ignore[no-untyped-def]
    s = stub("--behaviours", "ok,http500,stall,reset,malformed,truncated,ok")
    p = cli(
        *_bench_json_argv(
            s.url, "--concurrency", "3", "--num-requests", "14", "--timeout", "1.5", "--output-len", "8"
        ),
    )
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    d = _json(p)
    assert d["schema_version"] == 2
    step = d["steps"][0]
    # warm-up takes the first "ok"; then 14 requests cycle through the 7 behaviours twice
    assert step["errors"] == {"http_500": 2, "malformed_stream": 4, "reset": 2, "timeout": 2}, step["errors"]
    assert step["requests"] == 4
    for key in ("ttft_ms", "itl_ms", "tpot_ms", "e2e_ms"):
        assert set(step[key]) >= {"mean", "p50", "p90", "p95", "p99"}
        assert step[key]["p50"] is not None
    assert step["output_tokens"] == 4 * 8  # from the server's usage chunk
    assert step["tokens_from_usage"] is True
    assert step["concurrency"] == 3
    for k in ("output_tokens_per_s", "input_tokens_per_s", "requests_per_s", "goodput_requests_per_s"):
        assert step[k] > 0


def test_metrics_scraped_during_run(cli, stub) -> None:  # type: ignore[no-untyped-def]
    s = stub("--token-delay-ms", "20", "--metrics", "vllm")
    p = cli(
        *_bench_json_argv(s.url, "--concurrency", "2", "--num-requests", "6", "--output-len", "30"),
    )
    assert p.returncode == 0, p.stderr
    srv = _json(p)["steps"][0]["server"]
    assert srv["samples"] >= 1
    assert srv["engine"] == "vllm"
    assert "vllm:num_requests_running" in srv["names"]
    assert srv["kv_usage_max"] == 0.25
    assert srv["counters"]["vllm:generation_tokens_total"] >= 6 * 30


def test_ctrl_c_keeps_partial_results(tmp_path: Path, stub, cli_env) -> None:  # type: ignore[no-untyped-def]
    s = stub("--token-delay-ms", "30")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "garrison",
            *_bench_json_argv(s.url, "--concurrency", "2", "--num-requests", "200", "--output-len", "10"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(tmp_path),
    )
    deadline = time.time() + 60  # wait until the run is measuring (slow start-up on a loaded machine)
    while time.time() < deadline:
        with urllib.request.urlopen(s.url + "/stats", timeout=10) as r:
            if len(json.load(r)["server_ttft_s"]) >= 4:
                break
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    d = json.loads(out)
    assert d["interrupted"] is True
    assert 0 < d["steps"][0]["requests"] < 200
    assert d["steps"][0]["interrupted"] is True


def test_rate_sweep_and_max_and_slo_search(cli, stub) -> None:  # type: ignore[no-untyped-def]
    s = stub("--token-delay-ms", "2")
    p = cli(
        *_bench_json_argv(
            s.url,
            "--endpoint",
            "completions",
            "--rate",
            "20,max,slo",
            "--num-requests",
            "10",
            "--output-len",
            "5",
            "--slo-ttft-ms",
            "5000",
            "--slo-itl-ms",
            "1000",
        ),
    )
    assert p.returncode == 0, p.stderr
    d = _json(p)
    modes = [(st["mode"], st["rate"]) for st in d["steps"]]
    assert modes[0] == ("rate", 20.0) and modes[1] == ("max", None)
    assert d["slo_search"]["max_rate_meeting_slo"] == d["slo_search"]["max_throughput_rate"] > 0
    # every request met the generous SLO, so goodput equals throughput
    assert d["steps"][0]["goodput_requests_per_s"] == d["steps"][0]["requests_per_s"]


def test_tight_slo_lowers_goodput(cli, stub) -> None:  # type: ignore[no-untyped-def]
    s = stub("--token-delay-ms", "5")
    p = cli(
        *_bench_json_argv(
            s.url, "--concurrency", "2", "--num-requests", "6", "--output-len", "5", "--slo-itl-ms", "1"
        ),
    )
    step = _json(p)["steps"][0]
    assert step["requests"] == 6 and step["goodput_requests_per_s"] == 0


def test_out_dir_writes_offline_report(cli, stub, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    s = stub()
    out = tmp_path / "out"
    p = cli(
        "bench",
        s.url,
        "--model",
        "stub",
        "--concurrency",
        "1,2",
        "--num-requests",
        "4",
        "--out",
        str(out),
        "--no-save",
    )
    assert p.returncode == 0, p.stderr
    res = json.loads((out / "results.json").read_text())
    assert len(res["steps"]) == 2
    html = (out / "report.html").read_text()
    assert html.count("<svg") >= 3
    for external in ('src="http', 'href="http', "<script src", "<link"):
        assert external not in html
    p2 = cli("bench", s.url, "--model", "stub", "--num-requests", "2", "--out", str(out), "--no-save")
    assert p2.returncode == 2 and "--force" in p2.stderr


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["bench", "ftp://127.0.0.1:1", "--model", "m"], 2, "scheme"),
        (["bench", "http://127.0.0.1:1", "--model", "m"], 1, "cannot connect"),
        (["verify", "http://127.0.0.1:1"], 1, "cannot connect"),
        (["verify", "gopher://x"], 2, "scheme"),
        (["bench", "http://127.0.0.1:1", "--model", "m", "--concurrency", "x"], 2, "not a number"),
        (["bench", "http://127.0.0.1:1", "--model", "m", "--input-len", "0"], 2, "--input-len"),
        (["verify", "http://127.0.0.1:1", "--egress-probe", "nohost"], 2, "HOST:PORT"),
    ],
)
def test_bad_input_is_one_line(cli, args, code, needle) -> None:  # type: ignore[no-untyped-def]
    p = cli(*args)
    assert p.returncode == code, (p.stdout, p.stderr)
    assert needle in p.stderr
    assert "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_bad_key_and_not_openai_and_unknown_model(cli, stub) -> None:  # type: ignore[no-untyped-def]
    s = stub("--api-key", "good")
    p = cli("bench", s.url, "--model", "stub", "--api-key", "bad")
    assert p.returncode == 1 and "refused the key" in p.stderr and len(p.stderr.splitlines()) == 1
    p = cli("bench", s.url, "--model", "nope", "--api-key", "good")
    assert p.returncode == 2 and "not served" in p.stderr
    blog = stub("--not-openai")
    p = cli("bench", blog.url, "--model", "stub")
    assert p.returncode == 1 and "OpenAI" in p.stderr and "Traceback" not in p.stderr


def test_broken_dataset_line(cli, stub, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    s = stub()
    ds = tmp_path / "w.jsonl"
    ds.write_text('{"prompt": "hello", "output_len": 4}\n\n{"prompt": "broken\n')
    p = cli("bench", s.url, "--model", "stub", "--dataset", str(ds), "--no-save")
    assert p.returncode == 2
    assert "line 3" in p.stderr and "Traceback" not in p.stderr
    ds.write_text('{"prompt": "hello", "output_len": 4}\n{"prompt": "world"}\n')
    p = cli(
        "bench", s.url, "--model", "stub", "--dataset", str(ds), "--num-requests", "4", "--json", "--no-save"
    )
    assert p.returncode == 0, p.stderr
    d = _json(p)
    assert d["workload"]["prompt_source"].startswith("dataset")
    assert d["steps"][0]["requests"] == 4


def test_verify_reports_failures_and_exit_1(cli, stub) -> None:  # type: ignore[no-untyped-def]
    open_server = stub()  # no key required: auth checks must fail
    p = cli("verify", open_server.url, "--json", "--no-save")
    assert p.returncode == 1
    d = json.loads(p.stdout)
    assert d["ok"] is False
    by = {c["name"]: c for c in d["checks"]}
    assert by["tls"]["ok"] is False and "plain HTTP" in by["tls"]["detail"]
    assert by["auth GET /v1/models"]["ok"] is False
    assert by["health"]["ok"] is True
    assert all(set(c) == {"name", "ok", "detail"} for c in d["checks"])


def test_duration_bounds_a_step(cli, stub) -> None:  # type: ignore[no-untyped-def]
    s = stub("--token-delay-ms", "10")
    t0 = time.perf_counter()
    p = cli(
        *_bench_json_argv(s.url, "--concurrency", "2", "--duration", "2", "--output-len", "10"),
    )
    assert p.returncode == 0, p.stderr
    step = _json(p)["steps"][0]
    assert step["requests"] >= 4  # well over the 100-request default would need 50 s
    assert 1.5 < step["duration_s"] < 4 and time.perf_counter() - t0 < 30
