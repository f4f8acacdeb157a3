"""The role description's success metrics, evaluated for a design: latency against named cloud APIs,
TCO saving over 2 years, and availability from replicas and sourced failure and repair rates.

Pure once the data is loaded (`load_success_data`); the report and the CLI print the same object.
The role description's "Success Metrics":
  Performance: within 80% of cloud API latency; Cost: 60-80% lower TCO than cloud APIs over 2 years;
  Uptime: >99.5% availability.
"""

from __future__ import annotations

import statistics
from functools import cache

from pydantic import BaseModel, ConfigDict, Field

from garrison.catalogue.schema import Row
from garrison.cost.components import savings_pct
from garrison.cost.result import TCO
from garrison.design import Deployment, Design
from garrison.report.verdict import at_design_load

LATENCY_RATIO = 0.8  # "within 80%": self-hosted at least 80 % as fast as the cloud API
TCO_YEARS = 2
TCO_SAVING_PCT = 60.0  # the low end of the role's "60-80% lower TCO"
AVAILABILITY_PCT = 99.5


class CloudLatency(Row):
    """A third-party measurement of one cloud API's latency (data/cloud_latency.yaml)."""

    provider: str
    model: str
    ttft_p50_ms: float | None = Field(default=None, gt=0)
    ttft_p95_ms: float | None = Field(default=None, gt=0)
    output_tokens_per_s: float | None = Field(default=None, gt=0)


class ReliabilityFact(Row):
    """A failure rate per hour or a repair time in hours (data/reliability.yaml)."""

    per_hour: float | None = Field(default=None, gt=0)
    hours: float | None = Field(default=None, gt=0)


@cache
def load_success_data() -> tuple[tuple[CloudLatency, ...], dict[str, ReliabilityFact]]:
    """The shipped cloud latency measurements and reliability facts."""
    from garrison.catalogue.loader import load_table

    latency = load_table("cloud_latency.yaml", "cloud_latency", CloudLatency)
    rel = load_table("reliability.yaml", "reliability", ReliabilityFact)
    return tuple(latency.values()), rel


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LatencyRow(_M):
    """One deployment against one cloud API."""

    use_case: str
    api: str
    cloud_ttft_p95_ms: float | None
    ours_ttft_p95_ms: float | None
    ttft_ratio: float | None  # cloud / ours: >= 0.8 means within 80 %
    cloud_tokens_per_s: float | None
    ours_tokens_per_s: float | None  # per stream = 1000 / the estimate's mean ITL
    speed_ratio: float | None  # ours / cloud


class AvailabilityRow(_M):
    """One deployment's availability at the expected repair time, with the best and worst case."""

    use_case: str
    units: int  # independent failure units (replicas, or servers when replicas share one)
    unit_mtbf_h: float
    availability_pct: float  # at least one unit and the gateway up (expected repair time)
    availability_best_pct: float  # spares on site
    availability_worst_pct: float  # no advance replacement
    full_capacity_pct: float  # every unit up


class Metric(_M):
    """One success metric: the role's target, what the design gives, and whether it meets it."""

    name: str
    target: str
    result: str
    meets: bool | None  # None: cannot be evaluated (says why in `result`)


class SuccessReport(_M):
    """All three metrics with their evidence."""

    metrics: tuple[Metric, ...]
    latency: tuple[LatencyRow, ...]
    availability: tuple[AvailabilityRow, ...]
    tco_savings: tuple[tuple[str, float | None], ...]  # (cloud model, saving % over TCO_YEARS)
    sources: tuple[str, ...]
    assumptions: tuple[str, ...]


# ------------------------------------------------------------------ latency
def _latency(design: Design, apis: tuple[CloudLatency, ...]) -> tuple[Metric, tuple[LatencyRow, ...]]:
    """TTFT ratio = cloud P95 / our P95 at the design load; speed ratio = our per-stream tokens/s (1000 /
    the estimate's mean ITL, like the probes' median) / the cloud's median tokens/s. Met when both ratios reach 0.8 against the median of the named
    APIs, for every interactive deployment."""
    rows: list[LatencyRow] = []
    verdicts: list[bool] = []
    lines: list[str] = []
    for dep in design.deployments:
        if dep.kind == "batch":
            continue
        a = at_design_load(dep)
        # per-stream speed like the probes' median: the estimate's mean ITL at its operating point
        ours_speed = 1000.0 / dep.estimate.itl_ms if dep.estimate.itl_ms > 0 else None
        for api in apis:
            rows.append(
                LatencyRow(
                    use_case=dep.use_case,
                    api=api.name,
                    cloud_ttft_p95_ms=api.ttft_p95_ms,
                    ours_ttft_p95_ms=a.ttft_p95_ms,
                    ttft_ratio=api.ttft_p95_ms / a.ttft_p95_ms if api.ttft_p95_ms and a.ttft_p95_ms else None,
                    cloud_tokens_per_s=api.output_tokens_per_s,
                    ours_tokens_per_s=ours_speed,
                    speed_ratio=ours_speed / api.output_tokens_per_s
                    if ours_speed and api.output_tokens_per_s
                    else None,
                )
            )
        p95s = [x.ttft_p95_ms for x in apis if x.ttft_p95_ms]
        speeds = [x.output_tokens_per_s for x in apis if x.output_tokens_per_s]
        if not (p95s and speeds and a.ttft_p95_ms and ours_speed):
            continue
        ttft_ratio = statistics.median(p95s) / a.ttft_p95_ms
        speed_ratio = ours_speed / statistics.median(speeds)
        ok = ttft_ratio >= LATENCY_RATIO and speed_ratio >= LATENCY_RATIO
        verdicts.append(ok)
        lines.append(
            f"{dep.use_case}: P95 TTFT {a.ttft_p95_ms:,.0f} ms vs the APIs' median {statistics.median(p95s):,.0f} ms "
            f"(ratio {ttft_ratio:.2f}); {ours_speed:,.0f} tokens/s per stream vs {statistics.median(speeds):,.0f} "
            f"(ratio {speed_ratio:.2f})"
        )
    if not verdicts:
        return Metric(
            name="Performance",
            target="within 80% of cloud API latency",
            result="not evaluated: no interactive deployment with latency figures",
            meets=None,
        ), tuple(rows)
    return Metric(
        name="Performance",
        target="within 80% of cloud API latency (ratios >= 0.80 against the median named API)",
        result="; ".join(lines),
        meets=all(verdicts),
    ), tuple(rows)


# ------------------------------------------------------------------ TCO
def _tco(tco: TCO) -> tuple[Metric, tuple[tuple[str, float | None], ...]]:
    """Saving over 2 years = (cloud x 2 - (capex + opex x 2)) / (cloud x 2), from the same TCO numbers
    (expected capex, annual opex, each cloud model's yearly bill at the design's token volume)."""
    if not tco.capex_complete or not tco.cloud:
        return Metric(
            name="Cost",
            target="60-80% lower TCO than cloud APIs over 2 years",
            result="not evaluated: " + ("hardware prices are missing" if tco.cloud else "no cloud prices"),
            meets=None,
        ), ()
    cx, opex = tco.capex_usd.expected, tco.annual_opex_usd
    savings = tuple(
        (f"{c.provider}/{c.model}", savings_pct(cx, opex, c.usd_per_year, TCO_YEARS))
        for c in sorted(tco.cloud, key=lambda c: c.usd_per_year)
    )
    by_name = dict(savings)
    ref = by_name.get(tco.reference)
    cheapest_name, cheapest = savings[0]
    strongest_name, strongest = savings[-1]

    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{x:+.0f} %"

    return Metric(
        name="Cost",
        target=f"60-80% lower TCO than cloud APIs over {TCO_YEARS} years (against the reference, {tco.reference})",
        result=(
            f"saving over {TCO_YEARS} years: {pct(ref)} against {tco.reference}, {pct(cheapest)} against the "
            f"cheapest ({cheapest_name}), {pct(strongest)} against the most expensive ({strongest_name})"
        ),
        meets=None if ref is None else ref >= TCO_SAVING_PCT,
    ), savings


# ------------------------------------------------------------------ availability
def _servers_of(design: Design, dep: Deployment) -> int:
    return sum(s.count for s in design.servers if dep.use_case in s.hosts) or 1


def _availability(
    design: Design, rel: dict[str, ReliabilityFact]
) -> tuple[Metric, tuple[AvailabilityRow, ...]]:
    """A failure unit is a replica (its GPUs and its share of hosts) or, when replicas share a server, the
    server: unit failure rate = GPUs x GPU rate + hosts x host rate; unit availability = MTBF / (MTBF +
    MTTR). The service is up while at least one unit and one gateway are up (independent failures):
    A = (1 - (1 - A_unit)^units) x (1 - (1 - A_gateway)^gateways)."""
    gpu_rate = rel["gpu-failure"].per_hour or 0.0
    host_rate = rel["host-failure"].per_hour or 0.0
    repairs = {
        k: rel[k].hours or 0.0 for k in ("repair-expected", "repair-spares-on-site", "repair-no-contract")
    }
    gateways = sum(s.count for s in design.servers if s.role == "gateway")
    rows: list[AvailabilityRow] = []
    for dep in design.deployments:
        servers = _servers_of(design, dep)
        if dep.nodes_per_replica > 1 or servers >= dep.replicas:
            units = dep.replicas  # each replica on its own server(s)
            gpus, hosts = dep.gpus_per_replica, dep.nodes_per_replica
        else:
            units = servers  # replicas share servers: a server is the unit
            gpus, hosts = dep.gpus_per_replica * -(-dep.replicas // servers), 1
        if dep.device_kind == "cpu":
            gpus = 0
        rate = gpus * gpu_rate + hosts * host_rate

        def avail(mttr: float, rate: float = rate, units: int = units) -> tuple[float, float]:
            a_unit = 1.0 / (1.0 + rate * mttr)
            a_gw = 1.0 - (1.0 - 1.0 / (1.0 + host_rate * mttr)) ** gateways if gateways else 1.0
            return (1.0 - (1.0 - a_unit) ** units) * a_gw, a_unit**units * a_gw

        expected, full = avail(repairs["repair-expected"])
        rows.append(
            AvailabilityRow(
                use_case=dep.use_case,
                units=units,
                unit_mtbf_h=1.0 / rate if rate > 0 else float("inf"),
                availability_pct=expected * 100,
                availability_best_pct=avail(repairs["repair-spares-on-site"])[0] * 100,
                availability_worst_pct=avail(repairs["repair-no-contract"])[0] * 100,
                full_capacity_pct=full * 100,
            )
        )
    if not rows:
        return Metric(name="Uptime", target=">99.5% availability", result="no deployments", meets=None), ()
    worst = min(rows, key=lambda r: r.availability_pct)
    return Metric(
        name="Uptime",
        target=f">{AVAILABILITY_PCT:g}% availability",
        result="; ".join(
            f"{r.use_case}: {r.availability_pct:.3f} % ({r.units} unit(s), MTBF {r.unit_mtbf_h:,.0f} h each; "
            f"{r.availability_best_pct:.3f} % with spares on site, {r.availability_worst_pct:.2f} % without a "
            "replacement contract)"
            for r in rows
        ),
        meets=worst.availability_pct > AVAILABILITY_PCT,
    ), tuple(rows)


def evaluate_success(
    design: Design,
    tco: TCO,
    apis: tuple[CloudLatency, ...] | None = None,
    reliability: dict[str, ReliabilityFact] | None = None,
) -> SuccessReport:
    """The three metrics for `design` (the shipped data unless `apis` / `reliability` are given)."""
    if apis is None or reliability is None:
        shipped_apis, shipped_rel = load_success_data()
        apis = shipped_apis if apis is None else apis
        reliability = shipped_rel if reliability is None else reliability
    lat, lat_rows = _latency(design, apis)
    cost, savings = _tco(tco)
    up, up_rows = _availability(design, reliability)
    sources = sorted({a.source for a in apis} | {r.source for r in reliability.values()})
    return SuccessReport(
        metrics=(lat, cost, up),
        latency=lat_rows,
        availability=up_rows,
        tco_savings=savings,
        sources=tuple(sources),
        assumptions=(
            "cloud TTFT was measured with a minimal prompt (network, queueing and the first step); the "
            "design's P95 TTFT includes prefill of its full prompt, so the comparison favours the cloud",
            "our tokens/s per stream = 1000 / the sizing estimate's mean ITL at its operating point, "
            "compared with the probes' median generation speed",
            "failure rates come from a 16,384-GPU training run at full load; inference duty is lower",
            "failures are independent; software restarts (minutes) are left out",
        ),
    )
