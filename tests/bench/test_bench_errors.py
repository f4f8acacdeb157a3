"""Error policy against the FAKE stub server (a real server does not fail or rate-limit on demand):
--max-error-rate stops a run, Retry-After is honoured when asked, and the SLO search reads a
rate-limited step as over capacity and says so."""

from __future__ import annotations

import json

from garrison.bench.client import parse_retry_after


def test_max_error_rate_stops_the_run_with_partial_results(cli, stub) -> None:  # type: ignore[no-untyped-def]
    s = stub("--behaviours", "ok,http500")
    p = cli(
        "bench", s.url, "--model", "stub", "--concurrency", "2,2", "--num-requests", "40",
        "--output-len", "4", "--max-error-rate", "0.2", "--json", "--no-save",
    )  # fmt: skip
    assert p.returncode == 1, p.stderr
    assert "--max-error-rate" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    d = json.loads(p.stdout)
    assert len(d["steps"]) == 1  # the second step never ran
    st = d["steps"][0]
    assert st["stopped"].startswith("error rate") and "http_500" in st["stopped"]
    assert st["requests"] + sum(st["errors"].values()) < 40
    assert d["stopped"].startswith("concurrency 2:")


def test_retry_after_honoured_only_when_asked(cli, stub) -> None:  # type: ignore[no-untyped-def]
    s = stub("--behaviours", "ok,http429,ok")
    args = (
        "bench",
        s.url,
        "--model",
        "stub",
        "--concurrency",
        "1",
        "--num-requests",
        "4",
        "--output-len",
        "3",
    )
    plain = json.loads(cli(*args, "--json", "--no-save").stdout)["steps"][0]
    assert plain["errors"] == {"http_429": 2}  # the warm-up took the first "ok"
    p = cli(*args, "--retry-after", "--json", "--no-save")
    assert p.returncode == 0, p.stderr
    st = json.loads(p.stdout)["steps"][0]
    assert st["errors"] == {} and st["requests"] == 4 and st["retries"] >= 1
    assert st["e2e_ms"]["max"] >= 1000  # the retried request waited the server's Retry-After: 1


def test_slo_search_reads_rate_limiting_as_over_capacity(cli, stub) -> None:  # type: ignore[no-untyped-def]
    s = stub("--behaviours", "ok,ok,ok,ok,ok,ok,ok,http429", "--token-delay-ms", "2")
    p = cli(
        "bench", s.url, "--model", "stub", "--rate", "slo", "--slo-ttft-ms", "5000", "--num-requests", "8",
        "--output-len", "4", "--json", "--no-save",
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    ss = json.loads(p.stdout)["slo_search"]
    assert ss["tried"][0]["passed"] is False
    assert "over capacity" in ss["tried"][0]["reason"] and "HTTP 429" in ss["tried"][0]["reason"]
    assert len(ss["tried"]) > 1  # it went on looking below the ceiling


def test_retry_after_header_forms() -> None:
    from datetime import datetime, timezone

    now = datetime(2026, 1, 1, 0, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("Thu, 01 Jan 2026 00:00:03 GMT", now) == 3.0
    assert parse_retry_after("Wed, 31 Dec 2025 23:59:00 GMT", now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
