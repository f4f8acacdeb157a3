"""Compose the cost quantities into a TCO against every cloud model in the price list. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from garrison.catalogue.schema import GPU, CloudPrice
from garrison.cost import components as c
from garrison.cost.dates import parse_as_of, stale_note
from garrison.cost.parameters import CostParameters
from garrison.cost.result import (
    TCO,
    CloudCost,
    SelfHostedPerMtok,
    SensitivityRow,
    TokenVolume,
    UsdRange,
    YearSavings,
)
from garrison.design import Design
from garrison.errors import InputError

UTILISATION_STEPS = (0.1, 0.25, 0.5, 0.75, 1.0)
POWER_PRICE_FACTORS = (0.5, 1.0, 1.5, 2.0)
HARDWARE_PRICE_FACTORS = (0.75, 1.0, 1.25, 1.5)


class _Base:
    """The fixed inputs of one TCO; `annual_cost_usd` varies utilisation, power price and capex."""

    def __init__(
        self, design: Design, gpus: Mapping[str, GPU], params: CostParameters, usd_per_kwh: float, pue: float
    ) -> None:
        self.design, self.gpus, self.params = design, gpus, params
        self.usd_per_kwh, self.pue = usd_per_kwh, pue

    def it_power_w(self) -> float:
        return sum(c.server_power_w(s) for s in self.design.servers)

    def opex_usd_per_year(self, utilisation: float, capex: float, usd_per_kwh: float | None = None) -> float:
        """Running cost/year = power + maintenance + staff + colocation. Power is the design's typical
        draw, the same at every utilisation (`utilisation` changes the tokens served, not the bill)."""
        del utilisation
        kwh_price = self.usd_per_kwh if usd_per_kwh is None else usd_per_kwh
        return (
            c.power_usd_per_year(self.it_power_w(), self.pue, kwh_price)
            + c.maintenance_usd_per_year(capex, self.params.maintenance_pct_per_year)
            + self.params.staff_usd_per_year
            + c.colocation_usd_per_year(self.design, self.params.colocation_usd_per_rack_unit_month)
        )

    def usd_per_mtok(
        self, utilisation: float, capacity_tokens: float, capex: float, usd_per_kwh: float | None = None
    ) -> float | None:
        """$/Mtok = (capex / depreciation years + opex at that utilisation) / (utilisation x capacity)."""
        tokens = utilisation * capacity_tokens
        if tokens <= 0:
            return None
        annual = capex / self.params.depreciation_years + self.opex_usd_per_year(
            utilisation, capex, usd_per_kwh
        )
        return annual / tokens * 1e6


def compute_tco(
    design: Design,
    cloud_prices: Sequence[CloudPrice],
    gpus: Mapping[str, GPU],
    params: CostParameters | None = None,
    years: float | None = None,
    today: date | None = None,
    against: str | None = None,
) -> TCO:
    """TCO of `design` over `years` against each cloud price, at the design's token volume.

    `years` defaults to the design's own horizon (`horizon_years`), so the report, `garrison tco`,
    `garrison plan` and the hand-offs speak of one horizon.

    `today` is the date stale prices are judged against; without it, the design's catalogue_as_of.
    `against` ("provider/model") picks the headline comparison; default: the median cloud bill.
    """
    if years is None:
        years = horizon_years(design)
    if not 1 / 12 - 1e-9 <= years <= 10:
        raise InputError(
            "years", f"{years:g} is outside 1 month to 10 years", "pass --years between 1 and 10"
        )
    params = params or CostParameters()
    kwh = params.usd_per_kwh if params.usd_per_kwh is not None else design.requirements.power.usd_per_kwh
    pue = params.pue if params.pue is not None else design.requirements.power.pue
    base = _Base(design, gpus, params, kwh, pue)
    ref_date = today or parse_as_of(design.catalogue_as_of)
    assumptions: list[str] = []

    volume = tuple(c.token_volume(d, params) for d in design.deployments)
    tokens = sum(v.input_tokens_per_year + v.output_tokens_per_year for v in volume)
    capacity = sum(v.capacity_tokens_per_year for v in volume)
    util = _expected_utilisation(params, tokens, capacity, assumptions)

    capex, missing = c.capex_usd(design, gpus)
    complete = not missing
    opex = base.opex_usd_per_year(util, capex.expected)
    cx = capex.expected

    cloud = _cloud_costs(cloud_prices, volume, params, ref_date, cx, opex, years, complete)
    ref = _reference(cloud, against)
    ref_cost = ref.usd_per_year if ref else 0.0

    stale = [
        n
        for n in (
            stale_note(f"{p.provider}/{p.model}", p.as_of, ref_date, params.stale_after_months)
            for p in cloud_prices
        )
        if n
    ]
    for gid in sorted({s.gpu for s in design.servers if s.gpu}):
        g = gpus.get(gid)
        if g is not None and g.price is not None:
            note = stale_note(f"GPU {gid}", g.price.as_of, ref_date, params.stale_after_months)
            if note:
                stale.append(note)
    if ref_date is None:
        assumptions.append("no reference date (catalogue_as_of or --today): stale prices not checked")
    if not cloud_prices:
        missing = (*missing, "cloud price list is empty: no cloud comparison is possible")

    per_mtok = SelfHostedPerMtok(
        expected_utilisation=base.usd_per_mtok(util, capacity, cx) if complete else None,
        full_utilisation=base.usd_per_mtok(1.0, capacity, cx) if complete else None,
    )
    savings = (
        tuple(
            YearSavings(
                year=y,
                self_hosted_usd=cx + opex * y,
                cloud_usd=ref_cost * y,
                savings_usd=ref_cost * y - (cx + opex * y),
                savings_pct=c.savings_pct(cx, opex, ref_cost, y) or 0.0,
            )
            for y in range(1, max(1, int(years + 1e-9)) + 1)
        )
        if complete and ref
        else ()
    )
    assumptions += [
        f"power: the design's typical draw per server ({base.it_power_w():,.0f} W in all; planner: 60 % of GPU "
        f"TDP + 70 % of the rest) x PUE {pue:g} x ${kwh:g}/kWh x 8760 h, the same at every utilisation",
        f"maintenance {params.maintenance_pct_per_year:g} % of capex per year; "
        f"cost per token depreciates capex over {params.depreciation_years:g} years",
        "break-even and savings are cash views: capex paid up front, opex and cloud bills monthly",
        f"cloud: {params.cached_input_share:.0%} of input tokens at the cached-input price where listed; "
        "batch use cases get the listed batch discount",
        *(v.assumption for v in volume),
    ]
    return TCO(
        design=design.name,
        years=years,
        reference_date=ref_date.isoformat() if ref_date else "",
        capex_usd=capex,
        capex_complete=complete,
        missing=missing,
        power_kw_expected=base.it_power_w() * pue / 1000.0,
        annual_power_usd=c.power_usd_per_year(base.it_power_w(), pue, kwh),
        annual_maintenance_usd=c.maintenance_usd_per_year(cx, params.maintenance_pct_per_year),
        annual_staff_usd=params.staff_usd_per_year,
        annual_colocation_usd=c.colocation_usd_per_year(design, params.colocation_usd_per_rack_unit_month),
        annual_opex_usd=opex,
        expected_utilisation=util,
        volume=volume,
        tokens_per_year=tokens,
        self_hosted_usd_per_mtok=per_mtok,
        cloud=cloud,
        reference=f"{ref.provider}/{ref.model}" if ref else "",
        breakeven_month=ref.breakeven_month if ref else None,
        savings_pct=ref.savings_pct if ref else None,
        savings=savings,
        tco_usd=UsdRange(
            low=capex.low + opex * years, expected=cx + opex * years, high=capex.high + opex * years
        )
        if complete
        else None,
        sensitivity=_sensitivity(base, util, capacity, capex, years, ref_cost, complete),
        stale=tuple(stale),
        assumptions=tuple(assumptions),
        parameters=params,
    )


def horizon_years(design: Design) -> float:
    """The design's one TCO horizon in years: `costs.horizon_months` / 12 when the planner set it, else
    `requirements.growth.horizon_months` / 12 (default 24 months: the role's 2-year TCO)."""
    months = design.costs.horizon_months or design.requirements.growth.horizon_months
    return min(10.0, months / 12)


def _expected_utilisation(params: CostParameters, tokens: float, capacity: float, notes: list[str]) -> float:
    """Stated, or the design's token volume over its capacity at full load, clamped to (0.01, 1]."""
    if params.expected_utilisation is not None:
        notes.append(f"expected utilisation {params.expected_utilisation:.2f} (stated)")
        return params.expected_utilisation
    if capacity <= 0:
        notes.append("no throughput estimate: utilisation taken as 1.0")
        return 1.0
    util = tokens / capacity
    if util > 1:
        notes.append(f"the token volume is {util:.1f}x the estimated capacity; utilisation capped at 1.0")
    else:
        notes.append(f"expected utilisation {util:.2f} = token volume / capacity at full load")
    return min(1.0, max(0.01, util))


def _cloud_costs(
    prices: Sequence[CloudPrice],
    volume: Sequence[TokenVolume],
    params: CostParameters,
    ref_date: date | None,
    capex: float,
    opex: float,
    years: float,
    complete: bool,
) -> tuple[CloudCost, ...]:
    out = []
    for p in prices:
        usd = c.cloud_usd_per_year(p, volume, params.cached_input_share)
        out.append(
            CloudCost(
                provider=p.provider,
                model=p.model,
                usd_per_year=usd,
                usd_per_year_list=c.cloud_usd_per_year(p, volume, params.cached_input_share, discounts=False),
                input_usd_per_mtok=p.input_usd_per_mtok,
                output_usd_per_mtok=p.output_usd_per_mtok,
                cached_input_usd_per_mtok=p.cached_input_usd_per_mtok,
                batch_discount=p.batch_discount,
                as_of=p.as_of,
                source=p.source,
                stale=stale_note("", p.as_of, ref_date, params.stale_after_months) is not None,
                breakeven_month=c.breakeven_month(capex, opex, usd) if complete else None,
                savings_pct=c.savings_pct(capex, opex, usd, years) if complete else None,
            )
        )
    return tuple(sorted(out, key=lambda x: (x.usd_per_year, x.provider, x.model)))


def _reference(cloud: Sequence[CloudCost], against: str | None) -> CloudCost | None:
    if not cloud:
        return None
    if against:
        for x in cloud:
            if against in (f"{x.provider}/{x.model}", x.model):
                return x
        names = ", ".join(f"{x.provider}/{x.model}" for x in cloud)
        raise InputError("against", f"{against!r} is not in the cloud price list", f"pick one of: {names}")
    return cloud[(len(cloud) - 1) // 2]  # the list is sorted by bill: the lower median


def _sensitivity(
    base: _Base, util: float, capacity: float, capex: UsdRange, years: float, ref_cost: float, complete: bool
) -> tuple[SensitivityRow, ...]:
    """Rows: utilisation (cloud bill scales with the tokens served), power price, hardware price."""
    if not complete:
        return ()
    rows: list[SensitivityRow] = []
    cx = capex.expected
    for u in sorted({*UTILISATION_STEPS, round(util, 4)}):
        opex = base.opex_usd_per_year(u, cx)
        cloud = ref_cost * u / util if util > 0 else 0.0
        rows.append(
            SensitivityRow(
                factor="utilisation",
                label=f"{u:.0%}" + (" (expected)" if abs(u - util) < 1e-4 else ""),
                value=u,
                usd_per_mtok=base.usd_per_mtok(u, capacity, cx),
                tco_usd=cx + opex * years,
                breakeven_month=c.breakeven_month(cx, opex, cloud),
            )
        )
    for f in POWER_PRICE_FACTORS:
        kwh = base.usd_per_kwh * f
        opex = base.opex_usd_per_year(util, cx, kwh)
        rows.append(
            SensitivityRow(
                factor="power_price",
                label=f"${kwh:.3f}/kWh" + (" (base)" if f == 1.0 else ""),
                value=kwh,
                usd_per_mtok=base.usd_per_mtok(util, capacity, cx, kwh),
                tco_usd=cx + opex * years,
                breakeven_month=c.breakeven_month(cx, opex, ref_cost),
            )
        )
    hw = [
        ("low", capex.low),
        *((f"{f:.2f}x expected", cx * f) for f in HARDWARE_PRICE_FACTORS),
        ("high", capex.high),
    ]
    for label, value in hw:
        opex = base.opex_usd_per_year(util, value)
        rows.append(
            SensitivityRow(
                factor="hardware_price",
                label=label,
                value=value,
                usd_per_mtok=base.usd_per_mtok(util, capacity, value),
                tco_usd=value + opex * years,
                breakeven_month=c.breakeven_month(value, opex, ref_cost),
            )
        )
    return tuple(rows)
