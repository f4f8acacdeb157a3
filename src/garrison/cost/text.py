"""Plain-text rendering of a TCO for the terminal."""

from __future__ import annotations

from garrison.cost.result import TCO


def usd(x: float | None) -> str:
    """`$12,345` or `n/a`."""
    return "n/a" if x is None else f"${x:,.0f}"


def mtok(x: float | None) -> str:
    """`$0.64/Mtok` or `n/a`."""
    return "n/a" if x is None else f"${x:,.3f}/Mtok"


def horizon(years: float) -> str:
    """`2 years`, `1 year`, `18 months`: the TCO horizon as people say it."""
    months = round(years * 12)
    if months % 12:
        return f"{months} months"
    return f"{months // 12} year" + ("s" if months != 12 else "")


def tco_text(t: TCO) -> str:
    """A short human summary: capex, opex, cost per token, the cloud table, warnings."""
    cx = t.capex_usd
    be = "never" if t.breakeven_month is None else f"month {t.breakeven_month}"
    pct = "n/a" if t.savings_pct is None else f"{t.savings_pct:.0f} %"
    lines = [
        f"TCO for {t.design} over {horizon(t.years)}",
        f"  capex            {usd(cx.low)} - {usd(cx.high)} (expected {usd(cx.expected)})",
        f"  opex / year      {usd(t.annual_opex_usd)} (power {usd(t.annual_power_usd)}, "
        f"maintenance {usd(t.annual_maintenance_usd)}, staff {usd(t.annual_staff_usd)}, "
        f"colocation {usd(t.annual_colocation_usd)})",
        f"  utilisation      {t.expected_utilisation:.0%} expected; "
        f"{t.tokens_per_year / 1e9:,.2f} B tokens/year",
        f"  self-hosted      {mtok(t.self_hosted_usd_per_mtok.expected_utilisation)} expected, "
        f"{mtok(t.self_hosted_usd_per_mtok.full_utilisation)} at full utilisation",
        f"  vs {t.reference or 'n/a'}: break-even {be}, savings {pct} over {horizon(t.years)}",
        "  cloud at the same volume:",
    ]
    for c in t.cloud:
        be = "never" if c.breakeven_month is None else f"month {c.breakeven_month}"
        lines.append(
            f"    {c.provider + '/' + c.model:<48} {usd(c.usd_per_year):>14}/y  break-even {be}"
            + ("  [stale price]" if c.stale else "")
        )
    lines += [f"  missing: {m}" for m in t.missing]
    lines += [f"  stale: {s}" for s in t.stale]
    return "\n".join(lines)
