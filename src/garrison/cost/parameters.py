"""Named cost parameters, each with the source or reasoning behind its default."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

HOURS_PER_YEAR = 8760.0  # 365 x 24; leap years ignored (0.3 % effect)


class CostParameters(BaseModel):
    """Every factor of the TCO; change any of them and the result says which values it used.

    `usd_per_kwh` and `pue` default to the design's own `requirements.power` when left as None.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    usd_per_kwh: float | None = Field(default=None, gt=0, le=5)
    pue: float | None = Field(default=None, ge=1.0, le=3.0)
    # Share of the design's capacity its token volume uses: sets the cost per token and scales the
    # cloud bill in the sensitivity rows. Power does not follow it: the TCO costs the design's typical
    # draw (what the planner sized). None: derived from the design's token volume over its capacity.
    expected_utilisation: float | None = Field(default=None, gt=0, le=1)
    # Hardware support contract / spares per year as a share of capex. Source: OEM 3-year support
    # packs are typically 8-15 % of list per year; 10 % is the middle.
    maintenance_pct_per_year: float = Field(default=10.0, ge=0, le=100)
    # Straight-line depreciation period used for cost per token (the cash view ignores it).
    # Source: common 3-5 year server depreciation schedules; 3 years because GPU generations turn over.
    depreciation_years: float = Field(default=3.0, gt=0, le=10)
    # Optional people and space costs; zero unless the organisation states them.
    staff_usd_per_year: float = Field(default=0.0, ge=0)
    colocation_usd_per_rack_unit_month: float = Field(default=0.0, ge=0)
    # Token volume: requests_per_minute is the design rate, sustained during active hours.
    # Interactive use (chat, code): 8 h x 250 working days = 2000 h/year. Batch runs around the clock.
    interactive_active_hours_per_year: float = Field(default=2000.0, gt=0, le=HOURS_PER_YEAR)
    batch_active_hours_per_year: float = Field(default=HOURS_PER_YEAR, gt=0, le=HOURS_PER_YEAR)
    # Share of input tokens a cloud API bills at its cached-input price (repeated system prompts and
    # chat history; providers report 30-60 % hit rates for chat). Set 0 for list prices only.
    cached_input_share: float = Field(default=0.3, ge=0, le=1)
    # Prices older than this, before the reference date, are flagged as stale.
    stale_after_months: int = Field(default=12, ge=1, le=120)
