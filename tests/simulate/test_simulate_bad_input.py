"""Bad input is an InputError naming the field (exit 2 on the command line), never a traceback."""

from __future__ import annotations

import json
import math

import pytest

from garrison.errors import InputError
from garrison.simulate import EngineConfig, LengthDist, Workload
from garrison.simulate.capacity import replicas_for_slo, sweep_rates
from garrison.simulate.results import Slo
from garrison.simulate.workload import parse_bench_json, parse_trace_csv, requests_from_rows

from .conftest import ConstantStep


@pytest.mark.parametrize("rate", [0.0, -1.0, math.inf, math.nan])
def test_rates_must_be_positive(rate: float) -> None:
    with pytest.raises(InputError, match="rate"):
        Workload(rate_per_s=rate)
    with pytest.raises(InputError, match="rate"):
        sweep_rates(ConstantStep(), EngineConfig(), Workload(rate_per_s=1), [1.0, rate])
    with pytest.raises(InputError, match="rate"):
        replicas_for_slo(ConstantStep(), rate, Slo(ttft_ms=100), EngineConfig())


@pytest.mark.parametrize(
    "text",
    [
        "0",
        "-5",
        "12.5",
        "uniform:10-5",
        "uniform:0-5",
        "lognormal:512:0",
        "lognormal:-3:0.5",
        "normal:512:-1",
        "normal:100000:10:1-4096",
        "poisson:4",
        "abc",
        "normal:5:0:10-20",
    ],
)
def test_unsampleable_distributions(text: str) -> None:
    with pytest.raises(InputError) as e:
        LengthDist.parse(text, "--input-len")
    assert e.value.field == "--input-len"


def test_good_distributions_sample_in_range() -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    for text in ("512", "uniform:128-1024", "lognormal:512:0.6", "normal:512:128:1-4096"):
        d = LengthDist.parse(text)
        x = d.sample(rng, 10_000)
        assert x.min() >= d.low and x.max() <= d.high
        assert abs(x.mean() / d.expected - 1) < 0.05


@pytest.mark.parametrize(
    "body,where",
    [
        ("arrival_s,input_tokens,output_tokens\n0.0,10,5\n0.5,ten,5\n", "line 3"),
        ("arrival_s,input_tokens,output_tokens\n0.0,10\n", "line 2"),
        ("arrival_s,input_tokens,output_tokens\n-1,10,5\n", "line 2"),
        ("arrival_s,input_tokens,output_tokens\n0,0,5\n", "line 2"),
        ("time,in,out\n0,10,5\n", "header"),
    ],
)
def test_broken_trace_rows(body: str, where: str) -> None:
    with pytest.raises(InputError, match=where):
        parse_trace_csv(body, "trace.csv")


def test_trace_rows_sorted_and_shifted() -> None:
    rows = parse_trace_csv("arrival_s,input_tokens,output_tokens\n5.0,10,3\n2.0,20,4\n\n", "t")
    reqs = requests_from_rows(rows, "t")
    assert reqs.arrival_s.tolist() == [0.0, 3.0]
    assert reqs.input_tokens.tolist() == [20, 10]


def test_bench_json() -> None:
    good = {
        "requests": [
            {"start_s": 1.0, "input_tokens": 10, "output_tokens": 4},
            {"arrival_s": 1.5, "input_tokens": 12, "output_tokens": 8},
        ]
    }
    assert parse_bench_json(json.dumps(good)) == [(1.0, 10, 4), (1.5, 12, 8)]
    for bad in (
        "{",
        json.dumps({"runs": []}),
        json.dumps({"requests": [{"input_tokens": 1}]}),
        json.dumps({"requests": [5]}),
    ):
        with pytest.raises(InputError):
            parse_bench_json(bad, "results.json")


def test_workload_fields() -> None:
    with pytest.raises(InputError, match="prefix_hit_rate"):
        Workload(rate_per_s=1, prefix_hit_rate=1.0)
    with pytest.raises(InputError, match="num_requests"):
        Workload(rate_per_s=1, num_requests=0)
    with pytest.raises(InputError, match="kv_capacity_tokens"):
        from garrison.simulate import generate_requests, simulate

        simulate(
            generate_requests(Workload(rate_per_s=1, num_requests=3)),
            EngineConfig(),
            ConstantStep(kv_capacity_tokens=0),
        )
