"""Load shapes: unit tests of the arrival maths (property tests) and runs against the FAKE stub server
for the shapes that need a server answering on demand (rate limiting, a concurrency cap)."""

from __future__ import annotations

import itertools
import json
import random
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from garrison.bench.arrivals import Arrival, parse_arrival, ramp_span_s, schedule, time_at, trace_times
from garrison.errors import InputError


def _take(it, n):  # type: ignore[no-untyped-def]
    return [next(it) for _ in range(n)]


def test_constant_poisson_gamma_mean_rate_and_spread() -> None:
    rng = random.Random(1)
    n = 20000
    for arr, cv in ((Arrival("constant"), 0.0), (Arrival("poisson"), 1.0), (Arrival("gamma", 0.25), 2.0)):
        t = _take(schedule(arr, rng, 10.0), n)
        gaps = [b - a for a, b in itertools.pairwise(t)]
        assert statistics.fmean(gaps) == pytest.approx(0.1, rel=0.05)
        assert statistics.pstdev(gaps) / statistics.fmean(gaps) == pytest.approx(cv, abs=0.08)


@given(r0=st.floats(0.1, 100), r1=st.floats(0.1, 100), span=st.floats(0.5, 100), frac=st.floats(0, 1.5))
def test_ramp_time_change_inverts_the_cumulative_rate(r0: float, r1: float, span: float, frac: float) -> None:
    t = frac * span
    lam = r0 * t + (r1 - r0) * t * t / (2 * span) if t <= span else (r0 + r1) / 2 * span + r1 * (t - span)
    assert time_at(lam, r0, r1, span) == pytest.approx(t, rel=1e-6, abs=1e-9)


def test_ramp_delivers_its_requests_with_rising_rate() -> None:
    span = ramp_span_s(2.0, 20.0, 110)
    t = _take(schedule(Arrival("constant"), random.Random(0), 2.0, 20.0, span), 110)
    assert t[-1] == pytest.approx(span, rel=0.02)
    first, last = t[1] - t[0], t[-1] - t[-2]
    # the first gap is under 1/2 s (the rate rises during it: 0.9 t^2 + 2 t = 1 gives 0.42 s); the
    # last one is at the final rate, 1/20 s
    assert first == pytest.approx(0.4204, rel=1e-3) and last == pytest.approx(0.05, rel=0.1)


def test_trace_times_rescale_like_simulate() -> None:
    assert trace_times([5.0, 6.0, 9.0], None) == [0.0, 1.0, 4.0]
    # own mean rate (3 - 1) / 4 s = 0.5/s; at 2/s everything is 4x closer
    assert trace_times([5.0, 6.0, 9.0], 2.0) == pytest.approx([0.0, 0.25, 1.0])


def test_bad_arrival_options() -> None:
    with pytest.raises(InputError, match="arrival"):
        parse_arrival("weibull", None)
    with pytest.raises(InputError, match="burstiness"):
        parse_arrival("poisson", 0.5)
    with pytest.raises(InputError, match="burstiness"):
        parse_arrival("gamma", 0.0)
    assert str(parse_arrival("gamma", 0.5)) == "gamma(b=0.5)"


def _bench(cli, url: str, *extra: str, code: int = 0) -> dict:  # type: ignore[no-untyped-def,type-arg]
    p = cli("bench", url, "--model", "stub", "--json", "--no-save", "--output-len", "6", *extra)
    assert p.returncode == code, p.stderr
    assert "Traceback" not in p.stderr
    return json.loads(p.stdout)  # type: ignore[no-any-return]


def test_rate_with_max_concurrency_ramp_and_gamma_steps(cli, stub, tmp_path) -> None:  # type: ignore[no-untyped-def]
    s = stub("--token-delay-ms", "40")
    jl = tmp_path / "r.jsonl"
    d = _bench(
        cli, s.url, "--rate", "max,5:40", "--max-concurrency", "3", "--num-requests", "12",
        "--arrival", "gamma", "--burstiness", "0.5", "--export-requests", str(jl),
    )  # fmt: skip
    cap, ramp = d["steps"]
    assert cap["mode"] == "max" and cap["max_concurrency"] == 3
    assert ramp["mode"] == "ramp" and (ramp["rate"], ramp["rate_end"]) == (5.0, 40.0)
    assert ramp["arrival"] == "gamma(b=0.5)"
    rows = [json.loads(x) for x in jl.read_text().splitlines() if '"step": 0' in x]
    # never more than 3 in flight: at any request's start, count the others still running
    spans = [(r["arrival_s"], r["arrival_s"] + r["e2e_ms"] / 1000) for r in rows]
    for a, _ in spans:
        assert sum(1 for b, e in spans if b <= a < e) <= 3
    # 12 requests of 6 tokens x 40 ms, 3 at a time: at least 4 rounds
    assert cap["duration_s"] >= 4 * 5 * 0.04


def test_warmup_and_cooldown_by_duration(cli, stub) -> None:  # type: ignore[no-untyped-def]
    s = stub("--token-delay-ms", "10")
    d = _bench(cli, s.url, "--concurrency", "2", "--num-requests", "6", "--warmup", "0.5s", "--cooldown", "3")
    st0 = d["steps"][0]
    assert st0["requests"] == 6 and st0["excluded"]["cooldown"] == 3 and st0["excluded"]["warmup"] >= 2
    assert d["workload"]["warmup"] == "0.5 s" and d["workload"]["cooldown"] == "3 requests"


def test_workers_share_the_load_and_keep_prompts_unique(cli, stub) -> None:  # type: ignore[no-untyped-def]
    import urllib.request

    s = stub("--token-delay-ms", "10")
    d = _bench(cli, s.url, "--concurrency", "4", "--rate", "30,max", "--num-requests", "15", "--workers", "2")
    assert [st["requests"] for st in d["steps"]] == [15, 15, 15]
    assert d["steps"][0]["concurrency"] == 4 and d["steps"][1]["rate"] == 30.0
    assert d["steps"][1]["duration_s"] > 0.25  # 15 arrivals at 30/s, not all at once
    with urllib.request.urlopen(s.url + "/stats", timeout=10) as r:
        stats = json.load(r)
    # 45 measured + one warm-up per process and one in the parent, every prompt different
    assert stats["posts"] == 45 + 3 and stats["distinct_prompts"] == stats["posts"]
