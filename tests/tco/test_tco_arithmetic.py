"""TCO arithmetic pinned by hand-computed cases, and its invariants as properties.

Hand case (tests/tco/conftest.py make_design): one server with 2 x H100 priced $50k/$60k/$70k drawing
1500 W typical, one gateway $4k/$5k/$6k at 200 W; chat at 60 req/min, 1000 in + 500 out tokens,
2000 active h/year; estimate 1000 output tokens/s; PUE 1.5, $0.10/kWh, utilisation 0.5 (stated).
"""

from __future__ import annotations

import itertools
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from garrison.cost import CostParameters, compute_tco
from garrison.cost.dates import parse_as_of
from garrison.design import Range
from garrison.errors import InputError

from .conftest import H100, make_deployment, make_design, make_gpu, make_price

HALF = CostParameters(expected_utilisation=0.5)
SOL = make_price("openai", "gpt-6-sol", 2.0, 10.0, cached=0.2)


def test_capex_power_maintenance_by_hand(design, gpus):
    t = compute_tco(design, [SOL], gpus, HALF)
    assert (t.capex_usd.low, t.capex_usd.expected, t.capex_usd.high) == (54_000, 65_000, 76_000)
    # IT W = the design's typical draw: 1500 (GPU server) + 200 (gateway) = 1700; x PUE 1.5 = 2.55 kW
    assert t.power_kw_expected == pytest.approx(2.55)
    assert t.annual_power_usd == pytest.approx(2.55 * 8760 * 0.10)  # 2233.80
    assert t.annual_maintenance_usd == pytest.approx(6_500)  # 10 % of 65k
    assert t.annual_opex_usd == pytest.approx(8_733.8)


def test_volume_cloud_and_discounts_by_hand(design, gpus):
    t = compute_tco(design, [SOL], gpus, HALF)
    # 60 req/min x 60 x 2000 h = 7.2 M requests -> 7.2 B input, 3.6 B output tokens
    assert t.volume[0].input_tokens_per_year == pytest.approx(7.2e9)
    assert t.volume[0].output_tokens_per_year == pytest.approx(3.6e9)
    # list: 7200 x $2 + 3600 x $10 = 50,400; 30 % cached: 7200 x (0.7 x 2 + 0.3 x 0.2) + 36,000 = 46,512
    assert t.cloud[0].usd_per_year_list == pytest.approx(50_400)
    assert t.cloud[0].usd_per_year == pytest.approx(46_512)


def test_breakeven_savings_and_cost_per_token_by_hand(design, gpus):
    t = compute_tco(design, [SOL], gpus, HALF, years=3)
    # monthly saving (46,512 - 8,733.8) / 12 = 3,148.18; 65,000 / 3,148.18 = 20.6 -> month 21
    assert t.breakeven_month == 21
    # 3 y: cloud 139,536; self-hosted 65,000 + 3 x 8,733.8 = 91,201.4; saving 48,334.6 = 34.6 %
    assert t.savings_pct == pytest.approx(48_334.6 / 139_536 * 100)
    assert [round(s.savings_usd) for s in t.savings] == [-27_222, 10_556, 48_335]
    assert t.tco_usd is not None and t.tco_usd.expected == pytest.approx(91_201.4)
    # $/Mtok at 0.5: (65,000 / 3 + 8,733.8) / (0.5 x 1000 tok/s x 3600 x 8760 x 3) x 1e6
    capacity = 1000 * 3600 * 8760 * 3
    assert t.self_hosted_usd_per_mtok.expected_utilisation == pytest.approx(
        (65_000 / 3 + 8_733.8) / (0.5 * capacity) * 1e6
    )
    # full utilisation: the same typical draw (power does not follow utilisation), twice the tokens
    assert t.self_hosted_usd_per_mtok.full_utilisation == pytest.approx(
        (65_000 / 3 + 8_733.8) / capacity * 1e6
    )


def test_batch_discount_applies_only_to_batch_use_cases(gpus):
    batch = make_deployment(use_case="nightly", kind="batch", rpm=10, inp=2000, out=1000)
    d = make_design(deployments=(make_deployment(), batch))
    p = make_price("openai", "gpt-6-sol", 2.0, 10.0, batch=0.5)
    t = compute_tco(d, [p], gpus, HALF.model_copy(update={"cached_input_share": 0.0}))
    chat = 7200 * 2 + 3600 * 10  # 50,400
    # batch: 10 x 60 x 8760 h = 5.256 M requests -> 10,512 Mtok in, 5,256 Mtok out, at half price
    nightly = (10_512 * 2 + 5_256 * 10) * 0.5
    assert t.cloud[0].usd_per_year == pytest.approx(chat + nightly)
    assert t.cloud[0].usd_per_year_list == pytest.approx(chat + nightly * 2)


def test_no_breakeven_when_cloud_is_cheaper_than_running_cost(design, gpus):
    t = compute_tco(design, [make_price("together.ai", "Qwen3.5-9B", 0.1, 0.5)], gpus, HALF)
    assert t.cloud[0].usd_per_year == pytest.approx(720 + 1800)
    assert t.breakeven_month is None and t.savings_pct is not None and t.savings_pct < 0


def test_missing_gpu_price_is_named_and_nothing_is_invented(prices):
    d = make_design(gpu_price=None)
    t = compute_tco(d, prices, {H100: make_gpu(price=None)}, HALF)
    assert not t.capex_complete
    assert any("h100-sxm has no price" in m for m in t.missing)
    assert t.capex_usd.expected == 5_000  # the gateway only; no number made up for the GPU server
    assert t.breakeven_month is None and t.savings_pct is None and t.tco_usd is None
    assert t.self_hosted_usd_per_mtok.expected_utilisation is None
    assert all(c.breakeven_month is None for c in t.cloud) and t.sensitivity == ()


def test_gpu_only_price_from_catalogue_is_flagged(prices):
    t = compute_tco(make_design(gpu_price=None), prices, {H100: make_gpu(price=(25_000, 35_000))}, HALF)
    assert t.capex_usd.low == 4_000 + 50_000 and t.capex_usd.high == 6_000 + 70_000
    assert not t.capex_complete and "chassis" in t.missing[0]


def test_stale_prices_flagged_against_injected_date(design, gpus):
    old = make_price("google", "gemini-2.5-pro", 1.25, 10.0, as_of="2025-06")
    new = make_price("openai", "gpt-6-sol", 2.0, 10.0, as_of="2026-09-22")
    t = compute_tco(design, [old, new], gpus, HALF, today=date(2026, 12, 4))
    assert [c.stale for c in sorted(t.cloud, key=lambda c: c.model)] == [True, False]
    assert len(t.stale) == 1 and "gemini-2.5-pro" in t.stale[0]
    # the design's own catalogue date is the default reference; the clock is never read
    t2 = compute_tco(make_design(catalogue_as_of="2026-05-01"), [old], gpus, HALF)
    assert t2.stale == () and t2.reference_date == "2026-05-01"


def test_parse_as_of_periods():
    assert parse_as_of("2026") == date(2026, 1, 1)
    assert parse_as_of("2026-Q3") == date(2026, 7, 1)
    assert parse_as_of("2026-05") == date(2026, 5, 1)
    assert parse_as_of("2026 (page read in corpus)") == date(2026, 1, 1)
    assert parse_as_of("") is None and parse_as_of("null") is None


def test_against_and_median_reference(design, gpus, prices):
    t = compute_tco(design, prices, gpus, HALF)
    assert t.reference == "openai/gpt-6-sol"  # middle of three by annual bill
    t2 = compute_tco(design, prices, gpus, HALF, against="anthropic/claude-fable-5.1")
    assert t2.breakeven_month is not None and t2.breakeven_month < t.breakeven_month  # type: ignore[operator]
    with pytest.raises(InputError, match="not in the cloud price list"):
        compute_tco(design, prices, gpus, HALF, against="nobody/none")
    with pytest.raises(InputError):
        compute_tco(design, prices, gpus, HALF, years=0)


def test_derived_utilisation_is_volume_over_capacity(design, gpus):
    t = compute_tco(design, [SOL], gpus)
    assert t.expected_utilisation == pytest.approx(10.8e9 / (1000 * 3600 * 8760 * 3))


def test_sensitivity_rows_cover_three_factors(design, gpus, prices):
    t = compute_tco(design, prices, gpus, HALF)
    assert {r.factor for r in t.sensitivity} == {"utilisation", "power_price", "hardware_price"}
    base = next(r for r in t.sensitivity if r.label.endswith("(base)"))
    assert base.tco_usd == pytest.approx(t.tco_usd.expected)  # type: ignore[union-attr]


prices_st = st.floats(min_value=0.01, max_value=2.0)
util_st = st.floats(min_value=0.01, max_value=1.0)


@settings(max_examples=60, deadline=None)
@given(a=prices_st, b=prices_st, util=util_st, hw=st.floats(min_value=1_000, max_value=5e6))
def test_higher_power_price_never_lowers_tco(a, b, util, hw):
    lo, hi = sorted((a, b))
    d = make_design(gpu_price=Range(low=hw * 0.9, expected=hw, high=hw * 1.1))
    gpus = {H100: make_gpu()}
    t_lo = compute_tco(d, [SOL], gpus, CostParameters(usd_per_kwh=lo, expected_utilisation=util))
    t_hi = compute_tco(d, [SOL], gpus, CostParameters(usd_per_kwh=hi, expected_utilisation=util))
    assert t_hi.tco_usd.expected >= t_lo.tco_usd.expected  # type: ignore[union-attr]
    assert t_hi.annual_opex_usd >= t_lo.annual_opex_usd
    for rl, rh in zip(t_lo.sensitivity, t_hi.sensitivity, strict=True):
        assert rh.tco_usd >= rl.tco_usd - 1e-6  # type: ignore[operator]


@settings(max_examples=60, deadline=None)
@given(u1=util_st, u2=util_st, kwh=prices_st, tps=st.floats(min_value=1, max_value=1e5))
def test_more_utilisation_never_raises_cost_per_token(u1, u2, kwh, tps):
    lo, hi = sorted((u1, u2))
    d = make_design(deployments=(make_deployment(output_tps=tps),))
    gpus = {H100: make_gpu()}
    c_lo = compute_tco(d, [SOL], gpus, CostParameters(usd_per_kwh=kwh, expected_utilisation=lo))
    c_hi = compute_tco(d, [SOL], gpus, CostParameters(usd_per_kwh=kwh, expected_utilisation=hi))
    a = c_lo.self_hosted_usd_per_mtok.expected_utilisation
    b = c_hi.self_hosted_usd_per_mtok.expected_utilisation
    assert a is not None and b is not None and b <= a * (1 + 1e-12)
    per_u = [r.usd_per_mtok for r in c_lo.sensitivity if r.factor == "utilisation"]
    assert all(y <= x * (1 + 1e-12) for x, y in itertools.pairwise(per_u))  # type: ignore[operator]
