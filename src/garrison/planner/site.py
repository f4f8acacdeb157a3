"""Site constraints: rack space, power, cooling and the deadline against hardware lead times."""

from __future__ import annotations

import math
from datetime import date, timedelta

from garrison.catalogue import Catalogue
from garrison.design import Escalation, Server
from garrison.requirements import Requirements

# After delivery: the architect role's success metric "<2 weeks from hardware arrival to production"
# (shared/research/architect-role.md, Success Metrics).
INSTALL_WEEKS = 2.0


def totals(servers: tuple[Server, ...] | list[Server]) -> tuple[float, float, int]:
    """Maximum draw (W), heat (BTU/h) and rack units of every server of the design."""
    return (
        sum(s.power_max_w * s.count for s in servers),
        sum(s.cooling_btu_h * s.count for s in servers),
        sum(s.rack_units * s.count for s in servers),
    )


def lead_weeks(servers: list[Server], cat: Catalogue) -> tuple[float | None, list[str], list[str]]:
    """Longest sourced lead time (weeks) of what must be bought, the items it covers, and unknown items."""
    worst: float | None = None
    known: list[str] = []
    unknown: list[str] = []
    for s in servers:
        if s.owned:
            continue
        item = s.gpu or "cpu-server"
        lt = cat.lead_times.get(item) or (cat.lead_times.get("gpu-server") if s.gpu else None)
        if lt is None:
            unknown.append(item)
            continue
        known.append(f"{item} {lt.weeks_low:g}-{lt.weeks_high:g} weeks (as of {lt.as_of}: {lt.source})")
        worst = lt.weeks_high if worst is None else max(worst, lt.weeks_high)
    return worst, known, unknown


def site_escalations(
    req: Requirements, servers: list[Server], cat: Catalogue, today: date | None
) -> tuple[list[Escalation], list[str]]:
    """Escalations for every site limit the design misses, and notes (what was checked, what is unknown)."""
    site = req.site
    out: list[Escalation] = []
    notes: list[str] = []
    power_w, btu, units = totals(servers)
    if site.power_kw is not None:
        if power_w > site.power_kw * 1000:
            out.append(
                Escalation(
                    kind="site",
                    field="site.power_kw",
                    problem=f"the design draws up to {power_w / 1000:,.1f} kW at maximum, over the site's "
                    f"{site.power_kw:g} kW",
                    options=(
                        f"provision {math.ceil(power_w / 100) / 10:g} kW (plus PSU redundancy) at the site",
                    ),
                )
            )
        else:
            notes.append(
                f"power: {power_w / 1000:,.1f} kW maximum draw within the site's {site.power_kw:g} kW"
            )
    if site.cooling_btu_h is not None:
        if btu > site.cooling_btu_h:
            out.append(
                Escalation(
                    kind="site",
                    field="site.cooling_btu_h",
                    problem=f"the design gives off up to {btu:,.0f} BTU/h, over the room's {site.cooling_btu_h:,.0f}",
                    options=(f"add cooling for {btu - site.cooling_btu_h:,.0f} BTU/h",),
                )
            )
        else:
            notes.append(f"cooling: {btu:,.0f} BTU/h within the room's {site.cooling_btu_h:,.0f}")
    if site.rack_units is not None:
        if units > site.rack_units:
            out.append(
                Escalation(
                    kind="site",
                    field="site.rack_units",
                    problem=f"the design needs {units} U of rack space, the site has {site.rack_units} U",
                    options=(f"free {units - site.rack_units} U or add a rack",),
                )
            )
        else:
            notes.append(f"rack space: {units} U within the site's {site.rack_units} U")
    if site.deadline is not None:
        worst, known, unknown = lead_weeks(servers, cat)
        if unknown:
            notes.append(
                f"no sourced lead time for {', '.join(sorted(set(unknown)))} (data/lead_times.yaml): unknown, "
                "not assumed short; ask the vendor for a delivery date before committing to the "
                f"{site.deadline.isoformat()} deadline"
            )
            if worst is None:
                notes.append(
                    f"site.deadline {site.deadline.isoformat()} not checked: no item of this design has a sourced "
                    "lead time"
                )
        if today is None:
            notes.append(
                "site.deadline not checked against lead times: the planner was given no date (today)"
            )
        elif worst is not None:
            ready = today + timedelta(weeks=worst + INSTALL_WEEKS)
            if ready > site.deadline:
                out.append(
                    Escalation(
                        kind="schedule",
                        field="site.deadline",
                        problem=f"hardware lead time up to {worst:g} weeks + {INSTALL_WEEKS:g} weeks to install puts "
                        f"production at {ready.isoformat()}, after the {site.deadline.isoformat()} deadline "
                        f"({'; '.join(known)})",
                        options=(f"move the deadline to {ready.isoformat()} or later",),
                    )
                )
            else:
                notes.append(
                    f"schedule: ready by {ready.isoformat()} (lead time up to {worst:g} weeks + "
                    f"{INSTALL_WEEKS:g} weeks to install), before the {site.deadline.isoformat()} deadline"
                )
    return out, notes
