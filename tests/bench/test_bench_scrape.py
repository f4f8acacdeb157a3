"""Scraping degrades, never destroys: HTML, JSON or a failing /metrics is a warning; the run goes on.
Against the FAKE stub server (a real engine cannot be made to answer HTML on demand)."""

from __future__ import annotations

import json

import pytest

from garrison.bench.scrape import Snapshot, histogram_dist_ms, histogram_quantile, parse_metrics


def _run(cli, url: str, *extra: str):  # type: ignore[no-untyped-def]
    p = cli("bench", url, "--model", "stub", "--json", "--no-save", "--output-len", "10", *extra)
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    return json.loads(p.stdout), p.stderr


@pytest.mark.parametrize("flavour", ["html", "json"])
def test_metrics_answering_html_or_json_is_a_warning_and_the_run_completes(cli, stub, flavour) -> None:  # type: ignore[no-untyped-def]
    s = stub("--token-delay-ms", "5", "--metrics", flavour)
    d, err = _run(cli, s.url, "--concurrency", "2,4", "--num-requests", "8")
    assert [st["requests"] for st in d["steps"]] == [8, 8]
    assert all(st["ttft_ms"]["p50"] is not None for st in d["steps"])
    assert any("not Prometheus text" in w for w in d["warnings"]), d["warnings"]
    assert "warning:" in err and "not Prometheus" in err


def test_metrics_turning_to_html_mid_run_keeps_what_was_scraped(cli, stub) -> None:  # type: ignore[no-untyped-def]
    s = stub("--token-delay-ms", "20", "--metrics", "vllm-then-html")
    d, _ = _run(cli, s.url, "--concurrency", "2,2", "--num-requests", "6")
    first, second = d["steps"]
    assert first["requests"] == second["requests"] == 6
    assert first["server"]["samples"] >= 1 and first["server"]["engine"] == "vllm"
    assert any("text/html" in w for w in second["server"]["warnings"]), second["server"]
    assert d["warnings"]


def test_metrics_url_none_and_elsewhere(cli, stub) -> None:  # type: ignore[no-untyped-def]
    s = stub("--metrics", "html")
    d, _ = _run(cli, s.url, "--num-requests", "3", "--metrics-url", "none")
    assert d["warnings"] == [] and d["steps"][0]["server"]["samples"] == 0
    good = stub("--metrics", "vllm")
    d, _ = _run(cli, s.url, "--num-requests", "3", "--metrics-url", good.url + "/metrics")
    assert d["warnings"] == [] and d["steps"][0]["server"]["engine"] == "vllm"


def test_server_histograms_beside_the_clients(cli, stub) -> None:  # type: ignore[no-untyped-def]
    s = stub("--token-delay-ms", "30", "--metrics", "vllm")
    d, _ = _run(cli, s.url, "--concurrency", "2", "--num-requests", "8", "--output-len", "12")
    srv = d["steps"][0]["server"]
    # the stub sleeps 30 ms between tokens: its own ITL histogram (buckets 20/40 ms) puts p50 inside
    assert 20 <= srv["itl_ms"]["p50"] <= 40, srv["itl_ms"]
    assert srv["itl_ms"]["count"] >= 8 * 11
    assert srv["ttft_ms"]["count"] >= 8
    client = d["steps"][0]["itl_ms"]
    assert abs(client["mean"] - srv["itl_ms"]["mean"]) < 10, (client, srv["itl_ms"])


def test_histogram_quantile_matches_prometheus_rules() -> None:
    b = {0.1: 10.0, 0.2: 30.0, 0.5: 40.0, float("inf"): 40.0}
    assert histogram_quantile(0.25, b) == pytest.approx(0.1)  # rank 10 at the first bound
    assert histogram_quantile(0.5, b) == pytest.approx(0.15)  # rank 20: halfway through (0.1, 0.2]
    assert histogram_quantile(0.875, b) == pytest.approx(0.35)  # rank 35 in (0.2, 0.5]
    assert histogram_quantile(1.0, {0.1: 1.0, float("inf"): 2.0}) == pytest.approx(0.1)  # +Inf bucket
    assert histogram_quantile(0.5, {}) is None
    first = Snapshot(0.0, {"vllm:x_count": 2.0, "vllm:x_sum": 0.2}, {}, {"vllm:x_bucket": {0.1: 2.0}})
    last = Snapshot(
        1.0, {"vllm:x_count": 6.0, "vllm:x_sum": 1.0}, {}, {"vllm:x_bucket": {0.1: 2.0, 0.5: 6.0}}
    )
    d = histogram_dist_ms(first, last, "vllm:x_bucket")
    assert d is not None and d.count == 4 and d.mean == pytest.approx(200.0)


@pytest.mark.parametrize(
    "body",
    ["<html><body>502 Bad Gateway</body></html>", '{"detail": "Not Found"}', "not a metric line at all {"],
)
def test_foreign_bodies_raise_not_prometheus(body: str) -> None:
    with pytest.raises(ValueError):
        parse_metrics(body)
