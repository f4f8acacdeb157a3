"""Pure pieces of the load generator: percentiles, aggregation, goodput, lengths, metrics parsing, URLs."""

from __future__ import annotations

import random

import pytest

from garrison.bench.client import parse_target
from garrison.bench.results import RequestRecord, dist_ms, meets_slo, percentile, summarise_step
from garrison.bench.scrape import parse_metrics
from garrison.bench.workload import Length, PromptMaker, approx_counter, parse_length
from garrison.errors import InputError


def test_percentile_matches_numpy_linear() -> None:
    import numpy as np

    xs = sorted(random.Random(1).random() for _ in range(101))
    for q in (0, 50, 90, 95, 99, 100):
        assert percentile(xs, q) == pytest.approx(float(np.percentile(xs, q)))


def test_dist_in_ms_and_empty() -> None:
    d = dist_ms([0.001, 0.002, 0.003])
    assert (d.mean, d.p50, d.count) == (2.0, 2.0, 3)
    assert dist_ms([]).p50 is None


def _rec(start: float, ttft: float, gap: float, n: int, error: str | None = None) -> RequestRecord:
    times = [start + ttft + i * gap for i in range(n)]
    return RequestRecord(
        start_s=start,
        end_s=times[-1],
        first_token_s=times[0],
        token_times_s=times,
        input_tokens=10,
        output_tokens=n,
        tokens_from_usage=True,
        error=error,
    )


def test_summary_rates_itl_and_errors() -> None:
    recs = [
        _rec(0, 0.1, 0.01, 11),
        _rec(0.5, 0.2, 0.02, 11),
        RequestRecord(start_s=0.2, end_s=0.3, error="http_500"),
    ]
    s = summarise_step(recs, mode="concurrency", concurrency=2, slo_ttft_ms=150, slo_itl_ms=50)
    assert s.requests == 2 and s.errors == {"http_500": 1}
    assert s.itl_ms.count == 20  # every gap, not one mean per request
    assert s.tpot_ms.p50 == pytest.approx(15.0)
    assert s.duration_s == pytest.approx(0.5 + 0.2 + 0.2)
    assert s.output_tokens_per_s == pytest.approx(22 / 0.9, rel=1e-3)
    assert s.goodput_requests_per_s == pytest.approx(1 / 0.9, rel=1e-3)  # the 200 ms TTFT one misses the SLO


def test_meets_slo_uses_tpot() -> None:
    r = _rec(0, 0.05, 0.03, 5)
    assert meets_slo(r, 100, 40) and not meets_slo(r, 100, 20) and not meets_slo(r, 10, None)


def test_lengths() -> None:
    assert parse_length("128", "--input-len") == Length(128, 128)
    assert parse_length("16:32", "--input-len") == Length(16, 32)
    for bad in ("0", "x", "9:3", ""):
        with pytest.raises(InputError):
            parse_length(bad, "--input-len")
    maker = PromptMaker(approx_counter, Length(100, 100), Length(8, 8), random.Random(0), nonce=1)
    ps = [maker.next() for _ in range(5)]
    # 4 characters per token, each word at least one token
    assert all(300 <= len(p.text) <= 500 and p.max_tokens == 8 for p in ps), [len(p.text) for p in ps]
    assert len({p.text for p in ps}) == 5


LLAMA_METRICS = """# HELP llamacpp:prompt_tokens_total Number of prompt tokens processed.
# TYPE llamacpp:prompt_tokens_total counter
llamacpp:prompt_tokens_total 1234
# HELP llamacpp:kv_cache_usage_ratio KV-cache usage. 1 means 100 percent usage.
# TYPE llamacpp:kv_cache_usage_ratio gauge
llamacpp:kv_cache_usage_ratio 0.5
# TYPE llamacpp:requests_processing gauge
llamacpp:requests_processing 3
"""
VLLM_METRICS = """# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="m"} 2.0
vllm:num_requests_waiting{engine="1",model_name="m"} 1.0
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.25
"""


def test_parse_metrics_engines() -> None:
    assert parse_metrics(LLAMA_METRICS).values == {
        "llamacpp:prompt_tokens_total": 1234.0,
        "llamacpp:kv_cache_usage_ratio": 0.5,
        "llamacpp:requests_processing": 3.0,
    }
    assert parse_metrics(VLLM_METRICS).values == {
        "vllm:num_requests_waiting": 3.0,
        "vllm:kv_cache_usage_perc": 0.25,
    }
    assert parse_metrics("# TYPE sglang:num_queue_reqs gauge\nsglang:num_queue_reqs 4\n").values == {
        "sglang:num_queue_reqs": 4.0
    }


def test_parse_target() -> None:
    t = parse_target("https://gw:8443/v1/", "k")
    assert (t.root, t.api, t.headers) == (
        "https://gw:8443",
        "https://gw:8443/v1",
        {"Authorization": "Bearer k"},
    )
    assert parse_target("http://h:1").headers == {}
    with pytest.raises(InputError):
        parse_target("h:1")
