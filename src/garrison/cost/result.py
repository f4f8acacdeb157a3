"""The TCO result: one object, serialised as `garrison tco --json` and drawn by the report."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from garrison.cost.parameters import CostParameters


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UsdRange(_Out):
    """Dollars as a range; `expected` is the design's own middle figure."""

    low: float
    expected: float
    high: float


class TokenVolume(_Out):
    """Tokens a deployment serves per year, and how that was derived."""

    use_case: str
    kind: str
    input_tokens_per_year: float
    output_tokens_per_year: float
    capacity_tokens_per_year: float  # input + output at full utilisation, from the estimate
    assumption: str


class CloudCost(_Out):
    """One cloud API model priced at the design's token volume."""

    provider: str
    model: str
    usd_per_year: float  # with cached-input and batch discounts where the price list has them
    usd_per_year_list: float  # list input/output prices only
    input_usd_per_mtok: float
    output_usd_per_mtok: float
    cached_input_usd_per_mtok: float | None
    batch_discount: float | None
    as_of: str
    source: str
    stale: bool
    breakeven_month: int | None  # self-hosted cash cost drops below this model's; None: never
    savings_pct: float | None  # over `years`, vs this model


class SelfHostedPerMtok(_Out):
    """Self-hosted dollars per million tokens (input + output), depreciated capex plus opex."""

    expected_utilisation: float | None
    full_utilisation: float | None


class YearSavings(_Out):
    year: int
    self_hosted_usd: float
    cloud_usd: float
    savings_usd: float
    savings_pct: float


class SensitivityRow(_Out):
    """The result with one factor changed; everything else as in the base case."""

    factor: str  # utilisation | power_price | hardware_price
    label: str
    value: float
    usd_per_mtok: float | None
    tco_usd: float | None
    breakeven_month: int | None


class TCO(_Out):
    """Total cost of ownership of a design against cloud APIs at the same token volume."""

    design: str
    years: (
        float  # the horizon: the design's growth.horizon_months / 12 unless asked otherwise (1.5 = 18 months)
    )
    reference_date: str  # the date stale prices are judged against ("" when none was known)
    capex_usd: UsdRange
    capex_complete: bool
    missing: tuple[str, ...]
    power_kw_expected: float  # at the wall (incl. PUE) at expected utilisation
    annual_power_usd: float
    annual_maintenance_usd: float
    annual_staff_usd: float
    annual_colocation_usd: float
    annual_opex_usd: float
    expected_utilisation: float
    volume: tuple[TokenVolume, ...]
    tokens_per_year: float
    self_hosted_usd_per_mtok: SelfHostedPerMtok
    cloud: tuple[CloudCost, ...]
    reference: str  # provider/model the headline break-even and savings compare against
    breakeven_month: int | None
    savings_pct: float | None  # over `years`, vs the reference
    savings: tuple[YearSavings, ...]  # each whole year within the horizon
    tco_usd: UsdRange | None  # capex + opex x years (cash), None while capex is incomplete
    sensitivity: tuple[SensitivityRow, ...]
    stale: tuple[str, ...]
    assumptions: tuple[str, ...]
    parameters: CostParameters
