"""The role's success metrics: latency against named cloud APIs, TCO saving over 2 years, availability
from replicas and sourced failure/repair rates. Numbers are recomputed here by hand from the formulas."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from garrison.cost import compute_tco
from garrison.design import SLOCheck
from garrison.report.success import CloudLatency, ReliabilityFact, evaluate_success, load_success_data
from garrison.testing import designs
from tco.conftest import H100, make_deployment, make_design, make_gpu, make_price

REL = {
    "gpu-failure": ReliabilityFact(id="gpu-failure", name="g", per_hour=1e-5, source="test", as_of="2026"),
    "host-failure": ReliabilityFact(id="host-failure", name="h", per_hour=2e-5, source="test", as_of="2026"),
    "repair-expected": ReliabilityFact(id="repair-expected", name="r", hours=48, source="test", as_of="2026"),
    "repair-spares-on-site": ReliabilityFact(
        id="repair-spares-on-site", name="r", hours=8, source="test", as_of="2026"
    ),
    "repair-no-contract": ReliabilityFact(
        id="repair-no-contract", name="r", hours=240, source="test", as_of="2026"
    ),
}


def _api(name: str, p95: float | None, tps: float | None) -> CloudLatency:
    return CloudLatency(
        id=name,
        name=name,
        provider="p",
        model=name,
        ttft_p95_ms=p95,
        output_tokens_per_s=tps,
        source="test",
        as_of="2026",
    )


def _tco(d):  # type: ignore[no-untyped-def]
    prices = [make_price("openai", "gpt-6-sol", 2.0, 10.0), make_price("together.ai", "q", 0.1, 0.5)]
    return compute_tco(d, prices, {H100: make_gpu()})


def _with_slo(ttft: float, itl: float):  # type: ignore[no-untyped-def]
    dep = make_deployment().model_copy(
        update={
            "slo_check": SLOCheck(rate_rpm=60, ttft_p95_ms=ttft, itl_p95_ms=itl, e2e_p95_ms=9000, meets=True)
        }
    )
    return make_design(deployments=(dep,))


def test_shipped_data_is_sourced() -> None:
    apis, rel = load_success_data()
    assert len(apis) >= 10 and {"gpu-failure", "host-failure", "repair-expected"} <= set(rel)
    for row in (*apis, *rel.values()):
        assert "http" in row.source or "arXiv" in row.source or "Llama 3 paper" in row.source, row.id
    assert all(a.ttft_p95_ms or a.ttft_p50_ms for a in apis)


def test_latency_ratios_against_the_median_api() -> None:
    apis = (_api("a", 1000, 50), _api("b", 2000, 100), _api("c", 3000, 150))  # medians 2000 ms, 100 tok/s
    fast = _with_slo(ttft=2400, itl=20)
    d = fast.deployments[0]
    speed = 1000 / d.estimate.itl_ms  # 1000 / 28 ms = 35.7 tok/s: below 0.8 x 100
    sr = evaluate_success(fast, _tco(fast), apis, REL)
    perf = sr.metrics[0]
    assert perf.name == "Performance" and perf.meets is False
    assert f"ratio {2000 / 2400:.2f}" in perf.result and f"ratio {speed / 100:.2f}" in perf.result
    row = next(r for r in sr.latency if r.api == "b")
    assert row.ttft_ratio == pytest.approx(2000 / 2400) and row.speed_ratio == pytest.approx(speed / 100)
    slow_apis = (_api("a", 1000, 20), _api("b", 2000, 30), _api("c", 3000, 40))  # median 30 tok/s
    assert evaluate_success(fast, _tco(fast), slow_apis, REL).metrics[0].meets is True
    late = _with_slo(ttft=2600, itl=20)  # 2000 / 2600 = 0.77 < 0.8
    assert evaluate_success(late, _tco(late), slow_apis, REL).metrics[0].meets is False


def test_tco_saving_over_two_years_from_the_same_tco() -> None:
    d = make_design()
    t = _tco(d)
    sr = evaluate_success(d, t, (), REL)
    cost = sr.metrics[1]
    for c in t.cloud:
        cloud2 = c.usd_per_year * 2
        expected = (cloud2 - (t.capex_usd.expected + t.annual_opex_usd * 2)) / cloud2 * 100
        assert dict(sr.tco_savings)[f"{c.provider}/{c.model}"] == pytest.approx(expected)
    ref = dict(sr.tco_savings)[t.reference]
    assert cost.meets is (ref is not None and ref >= 60)
    assert f"{ref:+.0f} %" in cost.result


def _availability(replicas: int, servers: int, gpus: int, gateways: int = 1) -> float:
    dep = designs.make_deployment(replicas=replicas, gpus_per_replica=gpus, tp=gpus)
    srv = designs.make_server(
        name="gpu", count=servers, gpus_per_server=gpus * -(-replicas // servers), hosts=("chat",)
    )
    gw = designs.make_server(
        name="gateway", role="gateway", gpu=None, gpus_per_server=0, count=gateways, hosts=()
    )
    d = designs.make_design(
        designs.make_requirements([designs.chat_use_case(["qwen3-8b"])]), (dep,), (srv, gw)
    )
    return evaluate_success(d, _tco(d), (), REL).availability[0].availability_pct


def test_availability_by_hand() -> None:
    # one replica of 8 GPUs on one server: lambda = 8 x 1e-5 + 2e-5 = 1e-4 /h; A = 1 / (1 + 1e-4 x 48)
    unit = 1 / (1 + 1e-4 * 48)
    gw = 1 / (1 + 2e-5 * 48)
    assert _availability(1, 1, 8) == pytest.approx(unit * gw * 100)
    # two replicas on two servers: up while either is
    assert _availability(2, 2, 8) == pytest.approx((1 - (1 - unit) ** 2) * gw * 100)
    # two gateways in front
    assert _availability(1, 1, 8, gateways=2) == pytest.approx(unit * (1 - (1 - gw) ** 2) * 100)


@given(st.integers(1, 6), st.integers(1, 8))
def test_more_replicas_on_more_servers_never_lower_availability(replicas: int, gpus: int) -> None:
    assert _availability(replicas + 1, replicas + 1, gpus) >= _availability(replicas, replicas, gpus) - 1e-9


def test_uptime_verdict_uses_the_role_threshold() -> None:
    one = _availability(1, 1, 8)
    assert one < 99.5 < _availability(2, 2, 8)
    assert math.isclose(one, 100 / 1.0048 / 1.00096, abs_tol=1e-9)  # 99.427 %
