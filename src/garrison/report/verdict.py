"""The verdict for a decision maker: what to buy, what it costs, what it does at the design load, how it
compares with the cheapest and the strongest cloud API, when (or why never) it pays back, and what is at
risk. Pure: computed once from the Design and its TCO; the report's first screen, `garrison plan` and
the programme manager's hand-off all print this one object, so their numbers cannot differ.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from garrison.cost.result import TCO, CloudCost, UsdRange
from garrison.cost.text import horizon, usd
from garrison.design import Deployment, Design


class _V(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BuyLine(_V):
    """One server line of the bill of materials, as a purchase."""

    count: int
    server: str
    what: str  # "8 x h200-sxm, 2 x epyc-9554, 2240 GiB RAM, 7.68 TB NVMe"
    usd_each: UsdRange | None


class AtLoad(_V):
    """One deployment at its design load: the planner's own numbers, with where they come from."""

    use_case: str
    model: str
    hardware: str
    rate_rpm: float
    ttft_p95_ms: float | None
    itl_p95_ms: float | None
    ttft_target_ms: float | None
    itl_target_ms: float | None
    meets: bool | None  # None: no target to hold
    source: str  # "simulation at the design rate" | "simulation, nearest point" | "estimate (no simulation)"
    missed: tuple[str, ...] = ()


class CloudLine(_V):
    """A cloud model at the design's token volume, and the break-even against it."""

    name: str  # provider/model
    usd_per_year: float
    tco_usd: float  # its bill over the TCO horizon
    breakeven_month: int | None
    savings_pct: float | None
    why: str  # "cheapest in the price list", "most expensive (flagship tier) in the price list", ...


class Verdict(_V):
    """Everything the first screen says."""

    design: str
    decision: str  # one sentence
    buy: tuple[BuyLine, ...]
    capex_usd: UsdRange | None  # None: no TCO could be computed (cost_note says why)
    capex_complete: bool
    annual_opex_usd: float | None
    years: float | None  # the TCO horizon (1.5 = 18 months)
    tco_usd: UsdRange | None
    at_load: tuple[AtLoad, ...]
    cheapest: CloudLine | None
    reference: CloudLine | None
    strongest: CloudLine | None
    breakeven: str  # the sentence: "month 14 against X" or why none
    risks: tuple[str, ...]
    escalations: tuple[str, ...]
    cost_note: str = ""


# Beyond this a break-even month says nothing a buyer can use (servers are written off in 3-5 years).
BREAKEVEN_HORIZON_MONTHS = 120


def breakeven_words(month: int | None) -> str:
    """`break-even month 14`, `no break-even within 10 years`, `never pays back`."""
    if month is None:
        return "never pays back"
    if month > BREAKEVEN_HORIZON_MONTHS:
        return f"no break-even within {BREAKEVEN_HORIZON_MONTHS // 12} years"
    return f"break-even month {month}"


def at_design_load(dep: Deployment) -> AtLoad:
    """P95 TTFT/ITL at the design rate: the planner's SLO check when present, else the simulated load
    point nearest the design rate, else the sizing estimate (mean, not P95; said so)."""
    ttft_t, itl_t = dep.ttft_p95_target_ms, dep.itl_p95_target_ms
    hw = f"{dep.gpus_per_replica * dep.replicas} x {dep.device}" if dep.device_kind == "gpu" else dep.device
    base = {
        "use_case": dep.use_case,
        "model": dep.model_id,
        "hardware": hw,
        "ttft_target_ms": ttft_t,
        "itl_target_ms": itl_t,
    }
    if dep.slo_check is not None:
        s = dep.slo_check
        return AtLoad(
            **base,
            rate_rpm=s.rate_rpm,
            ttft_p95_ms=s.ttft_p95_ms,
            itl_p95_ms=s.itl_p95_ms,
            meets=s.meets if (ttft_t or itl_t) else None,
            source="simulation at the design rate (planner's SLO check)",
            missed=s.failed,
        )
    if dep.load_curve:
        p = min(dep.load_curve, key=lambda x: abs(x.rate_rpm - dep.requests_per_minute))
        ttft, itl, source = p.ttft_p95_ms, p.itl_p95_ms, f"simulation at {p.rate_rpm:,.1f} req/min"
    else:
        ttft, itl, source = dep.estimate.ttft_ms, dep.estimate.itl_ms, "sizing estimate (mean, no simulation)"
    missed = []
    if ttft_t is not None and ttft > ttft_t:
        missed.append(f"TTFT P95 {ttft:,.0f} ms > {ttft_t:,.0f} ms")
    if itl_t is not None and itl > itl_t:
        missed.append(f"ITL P95 {itl:,.1f} ms > {itl_t:,.1f} ms")
    return AtLoad(
        **base,
        rate_rpm=dep.requests_per_minute,
        ttft_p95_ms=ttft,
        itl_p95_ms=itl,
        meets=(not missed) if (ttft_t or itl_t) else None,
        source=source,
        missed=tuple(missed),
    )


def _buy(d: Design) -> tuple[BuyLine, ...]:
    out = []
    for s in d.servers:
        parts = [f"{s.gpus_per_server} x {s.gpu}"] if s.gpu else []
        parts += [f"{s.cpu_sockets} x {s.cpu}", f"{s.ram_gib:,} GiB RAM"]
        out.append(BuyLine(count=s.count, server=s.name, what=", ".join(parts), usd_each=_usd(s.price_usd)))
    return tuple(out)


def _usd(r: object) -> UsdRange | None:
    if r is None:
        return None
    return UsdRange(low=r.low, expected=r.expected, high=r.high)  # type: ignore[attr-defined]


def _cloud(c: CloudCost | None, t: TCO, why: str) -> CloudLine | None:
    if c is None:
        return None
    return CloudLine(
        name=f"{c.provider}/{c.model}",
        usd_per_year=c.usd_per_year,
        tco_usd=c.usd_per_year * t.years,
        breakeven_month=c.breakeven_month,
        savings_pct=c.savings_pct,
        why=why,
    )


def _breakeven_sentence(t: TCO, ref: CloudLine | None, cheapest: CloudLine | None) -> str:
    """When self-hosting pays back against the reference, or why it never does."""
    if not t.capex_complete:
        return "not computed: hardware prices are missing (see the TCO section)"
    if ref is None:
        return "not computed: the cloud price list is empty"
    months = round(t.years * 12)
    if ref.breakeven_month is None:
        sentence = (
            f"never against {ref.name}: at this volume its bill ({usd(ref.usd_per_year)}/year) does not cover "
            f"the running cost alone ({usd(t.annual_opex_usd)}/year), so no horizon recovers the "
            f"{usd(t.capex_usd.expected)} hardware"
        )
    elif ref.breakeven_month > months:
        sentence = (
            f"month {ref.breakeven_month} against {ref.name}, after the {months}-month horizon "
            f"(savings {ref.savings_pct:.0f} % over {horizon(t.years)})"
            if ref.savings_pct is not None
            else f"month {ref.breakeven_month} against {ref.name}, after the {months}-month horizon"
        )
    else:
        sentence = f"month {ref.breakeven_month} against {ref.name}" + (
            f" (saves {ref.savings_pct:.0f} % over {horizon(t.years)})" if ref.savings_pct is not None else ""
        )
    if cheapest is not None and cheapest.name != ref.name:
        if cheapest.breakeven_month is None:
            sentence += f"; never against the cheapest, {cheapest.name} ({usd(cheapest.usd_per_year)}/year)"
        elif cheapest.breakeven_month > BREAKEVEN_HORIZON_MONTHS:
            sentence += (
                f"; not within {BREAKEVEN_HORIZON_MONTHS // 12} years against the cheapest, {cheapest.name} "
                f"({usd(cheapest.usd_per_year)}/year)"
            )
        else:
            sentence += f"; month {cheapest.breakeven_month} against the cheapest, {cheapest.name}"
    return sentence


def _risks(d: Design, t: TCO | None, at_load: tuple[AtLoad, ...]) -> tuple[str, ...]:
    out: list[str] = []
    for a in at_load:
        if a.meets is False:
            out.append(f"{a.use_case}: misses its targets at the design load ({'; '.join(a.missed)})")
        if a.source.startswith("sizing estimate"):
            out.append(f"{a.use_case}: no load simulation; latency is the estimate's mean, not a P95")
    for x in d.deployments:
        if x.replicas < 2:
            out.append(f"{x.use_case}: one replica, so a hardware fault stops the service until repaired")
    if t is not None:
        out += [f"price missing: {m}" for m in t.missing]
        out += [f"stale price: {s}" for s in t.stale]
    if d.requirements.handoff is not None:
        out += [
            f"hand-off value not applied: {f.key} = {f.value!r}"
            for f in d.requirements.handoff.fields
            if f.status == "ignored" and "NOT APPLIED" in f.result
        ]
    return tuple(dict.fromkeys(out))


def _decision(d: Design, t: TCO | None, at_load: tuple[AtLoad, ...], ref: CloudLine | None) -> str:
    buy = (
        ", ".join(f"{s.count} x {s.name}" for s in d.servers if s.role == "inference") or "the servers listed"
    )
    if t is None:
        cost = "a price Garrison could not compute"
    elif t.capex_complete:
        cost = f"{usd(t.capex_usd.low)}-{usd(t.capex_usd.high)} up front and {usd(t.annual_opex_usd)} a year"
    else:
        cost = "a price that is incomplete (see the TCO section)"
    if d.escalations:
        return (
            f"Not ready to buy: {len(d.escalations)} requirement(s) cannot be met as stated; decide the "
            f"escalations below first (the nearest design is {buy}, {cost})."
        )
    misses = [a.use_case for a in at_load if a.meets is False]
    if misses:
        return f"Not ready to buy: {', '.join(misses)} miss their latency targets at the design load."
    if t is None or ref is None or not t.capex_complete:
        return f"Buy {buy} for {cost}; the cloud comparison is incomplete."
    if ref.breakeven_month is not None and ref.breakeven_month <= round(t.years * 12):
        return (
            f"Buy {buy} for {cost}: it meets every target at the design load and pays back in month "
            f"{ref.breakeven_month} against {ref.name}."
        )
    pays = (
        "never pays back"
        if ref.breakeven_month is None
        else f"does not pay back within {horizon(t.years)} (month {ref.breakeven_month})"
    )
    return (
        f"Buy {buy} for {cost} only for data control, not for cost: it meets every target at the design "
        f"load but {pays} against {ref.name} at this volume."
    )


def build_verdict(design: Design, tco: TCO | None, cost_note: str = "") -> Verdict:
    """The verdict from a design and its TCO (pure); without a TCO, `cost_note` says why."""
    at_load = tuple(at_design_load(x) for x in design.deployments)
    esc = tuple(f"{e.kind} ({e.field}): {e.problem}" for e in design.escalations)
    if tco is None:
        return Verdict(
            design=design.name,
            decision=_decision(design, None, at_load, None),
            buy=_buy(design),
            capex_usd=None,
            capex_complete=False,
            annual_opex_usd=None,
            years=None,
            tco_usd=None,
            at_load=at_load,
            cheapest=None,
            reference=None,
            strongest=None,
            breakeven=f"not computed: {cost_note or 'no TCO'}",
            risks=_risks(design, None, at_load),
            escalations=esc,
            cost_note=cost_note,
        )
    cloud = sorted(tco.cloud, key=lambda c: c.usd_per_year)
    cheapest = _cloud(cloud[0], tco, "cheapest in the price list") if cloud else None
    strongest = (
        _cloud(
            cloud[-1], tco, "most expensive in the price list (flagship tier; price stands in for strength)"
        )
        if cloud
        else None
    )
    ref_row = next((c for c in cloud if f"{c.provider}/{c.model}" == tco.reference), None)
    reference = _cloud(ref_row, tco, "median bill (the TCO's reference)")
    return Verdict(
        design=design.name,
        decision=_decision(design, tco, at_load, reference),
        buy=_buy(design),
        capex_usd=tco.capex_usd,
        capex_complete=tco.capex_complete,
        annual_opex_usd=tco.annual_opex_usd,
        years=tco.years,
        tco_usd=tco.tco_usd,
        at_load=at_load,
        cheapest=cheapest,
        reference=reference,
        strongest=strongest,
        breakeven=_breakeven_sentence(tco, reference, cheapest),
        risks=_risks(design, tco, at_load),
        escalations=esc,
    )
