"""report.html: one self-contained page (inline CSS and SVG, no scripts, fonts or images fetched)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from garrison.cost.result import TCO, UsdRange
from garrison.cost.text import horizon, mtok, usd
from garrison.design import Deployment, Design
from garrison.report import charts
from garrison.report.charts import Series
from garrison.report.concurrency import ConcurrencyPoint
from garrison.report.success import SuccessReport
from garrison.report.verdict import CloudLine, Verdict, breakeven_words, build_verdict

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:60rem;
padding:1.5rem;color:#1b1f23;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;border-bottom:1px solid #ccd;margin-top:2rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.85rem}
th,td{border:1px solid #ccd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#eef1f6}td.n{text-align:right;font-variant-numeric:tabular-nums}
.chart{width:100%;max-width:46rem;height:auto}figure{margin:.8rem 0}
details{margin:.3rem 0 1rem}summary{cursor:pointer;color:#1f5aa6}
.warn{background:#fff4e0;border-left:4px solid #d9731a;padding:.4rem .8rem}
.muted{color:#5f6b73;font-size:.85rem}
@media print{details{display:block}}
.verdict{border:2px solid #1f5aa6;border-radius:6px;padding:.5rem .9rem;margin-top:.5rem}
.verdict h2{border:0;margin:0 0 .2rem}.verdict h3{font-size:.9rem;margin:.4rem 0 .15rem}
.decision{font-size:1.08rem;font-weight:600;margin:.1rem 0 .4rem;line-height:1.35}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(10rem,1fr));gap:.35rem}
.tile{background:#f3f6fb;border-radius:4px;padding:.25rem .45rem}
.tile .k{display:block;font-size:.72rem;color:#5f6b73}.tile .v{display:block;font-size:.98rem;font-weight:600}
.tile .s{display:block;font-size:.72rem}
.cols{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1.9fr);gap:.9rem}
.verdict p{margin:.35rem 0}.verdict ul{margin:.1rem 0;padding-left:1.1rem;font-size:.8rem;line-height:1.3}
.verdict table{margin:.1rem 0;font-size:.76rem}.verdict th,.verdict td{padding:.15rem .35rem}
.verdict td.n{white-space:nowrap}
.ok{color:#2e7d32;font-weight:600}.bad{color:#b03a48;font-weight:600}
header h1{margin-top:0}
"""


class Comparison(BaseModel):
    """One measured-vs-predicted number from a benchmark run."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    metric: str  # e.g. "chat output tok/s @ 30 rpm"
    unit: str = ""
    predicted: float
    measured: float


def _e(x: object) -> str:
    return html.escape(str(x))


def _table(head: Sequence[str], rows: Sequence[Sequence[object]], caption: str = "") -> str:
    cap = f"<caption>{_e(caption)}</caption>" if caption else ""
    th = "".join(f'<th scope="col">{_e(h)}</th>' for h in head)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{_e(c)}</td>' if isinstance(c, (int, float)) else f"<td>{_e(c)}</td>" for c in r
        )
        + "</tr>"
        for r in rows
    )
    return f"<table>{cap}<thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _figure(svg: str, head: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A chart and its data as a table, the text alternative."""
    return f"<figure>{svg}<details><summary>Data table</summary>{_table(head, rows)}</details></figure>"


def _fmt(x: float, digits: int = 1) -> str:
    return f"{x:,.{digits}f}"


def _summary(d: Design) -> str:
    r = d.requirements
    deps = [
        (
            x.use_case,
            x.kind,
            x.model_name,
            x.engine,
            x.quant,
            f"{x.gpus_per_replica} x {x.device}",
            f"TP{x.tp} PP{x.pp}",
            x.replicas,
            _fmt(x.requests_per_minute),
        )
        for x in d.deployments
    ]
    servers = [
        (
            s.name,
            s.role,
            s.count,
            f"{s.gpus_per_server} x {s.gpu}" if s.gpu else "none",
            s.cpu,
            s.ram_gib,
            _fmt(s.power_typical_w, 0),
            s.rack_units,
            f"{usd(s.price_usd.low)} - {usd(s.price_usd.high)}" if s.price_usd else "not priced",
        )
        for s in d.servers
    ]
    reasons = "".join(f"<li>{_e(x)}</li>" for x in d.platform_reasons)
    return (
        f"<p>{_e(r.organisation.name)}: team of {r.organisation.team_size}, "
        f"{len(r.use_cases)} use case(s); catalogue as of {_e(d.catalogue_as_of or 'unknown')}; "
        f"calibration {_e(d.calibration)}.</p>"
        + (f"<ul>{reasons}</ul>" if reasons else "")
        + _table(
            (
                "use case",
                "kind",
                "model",
                "engine",
                "quant",
                "GPUs per replica",
                "parallelism",
                "replicas",
                "req/min",
            ),
            deps,
            "Deployments",
        )
        + _table(
            ("server", "role", "count", "GPUs", "CPU", "RAM GiB", "typical W", "RU", "price each"),
            servers,
            "Bill of materials",
        )
    )


def _memory(d: Design) -> str:
    parts = ("weights_gib", "activations_gib", "runtime_gib", "kv_cache_gib", "free_gib")
    names = ("weights", "activations", "runtime", "KV cache", "free")
    cats = [f"{x.use_case} ({x.device})" for x in d.deployments]
    stacks = [
        Series(n, [], [getattr(x.estimate.memory, p) for x in d.deployments])
        for p, n in zip(parts, names, strict=True)
    ]
    svg = charts.stacked_bars(
        "mem",
        "Memory per GPU",
        "Stacked GiB per GPU for each deployment: weights, activations, runtime, KV cache and free memory.",
        "GiB per GPU",
        cats,
        stacks,
    )
    rows = [
        (c, *(_fmt(getattr(x.estimate.memory, p)) for p in parts), _fmt(x.estimate.memory.total_gib))
        for c, x in zip(cats, d.deployments, strict=True)
    ]
    return _figure(svg, ("deployment", *names, "total"), rows)


def _throughput(dep: Deployment, idx: int, curve: Sequence[ConcurrencyPoint] = ()) -> str:
    """Throughput and ITL vs concurrency of one replica, from one model: the step-time model the planner
    and the load simulation use (rebuilt with the design's calibration). The design load is marked where
    the simulation of that same model puts it (mean running sequences and output tokens/s per replica at
    the simulated rate nearest the design rate). Without the model, the sizing estimate's single-stream
    point and its operating point."""
    est = dep.estimate
    reps = max(dep.replicas, 1)
    at = min(dep.load_curve, key=lambda p: abs(p.rate_rpm - dep.requests_per_minute), default=None)
    mark = (
        # the simulation's mean_running is already per replica (capacity.merge_traces); its output rate
        # is the whole deployment's
        (at.mean_running, at.output_tokens_per_s / reps, at.rate_rpm)
        if at is not None and at.mean_running > 0
        else None
    )
    if curve:
        pts = [(float(p.concurrency), p.output_tokens_per_s, p.itl_ms) for p in curve]
        label, source = "step-time model (decode)", "the planner's step-time model"
    else:
        single_itl = 1000.0 / est.decode_tokens_per_s_single if est.decode_tokens_per_s_single > 0 else 0.0
        pts = [(1.0, est.decode_tokens_per_s_single, single_itl)]
        label, source = "sizing estimate", "the sizing estimate (the step-time model could not be rebuilt)"
    name = f"{dep.model_name} on {dep.gpus_per_replica} x {dep.device}"
    thr = [Series(label, [x[0] for x in pts], [x[1] for x in pts])]
    if mark is not None:
        thr.append(
            Series(f"design load ({mark[2]:,.1f} req/min, simulated)", [mark[0]], [mark[1]], dashed=True)
        )
    svg_t = charts.line_chart(
        f"thr{idx}",
        f"{dep.use_case}: {dep.model_id}, output throughput vs concurrency",
        f"Output tokens per second of one replica of {name} against concurrent sequences in decode, from "
        f"{source}; the marked point is the design load as the simulation of the same model puts it.",
        "concurrent sequences per replica",
        "output tokens/s per replica",
        thr,
    )
    svg_l = charts.line_chart(
        f"itl{idx}",
        f"{dep.use_case}: {dep.model_id}, inter-token latency vs concurrency",
        f"Mean inter-token latency in milliseconds of {name} against concurrent sequences, from {source}.",
        "concurrent sequences per replica",
        "inter-token latency (ms)",
        [Series(label, [x[0] for x in pts], [x[2] for x in pts])],
        hline=(dep.itl_p95_target_ms, "ITL P95 target") if dep.itl_p95_target_ms else None,
        vline=(mark[0], "design load (mean running)") if mark else None,
    )
    rows = [(_fmt(x, 0), _fmt(t), _fmt(i), label) for x, t, i in pts]
    if mark is not None:
        rows.append((_fmt(mark[0], 1), _fmt(mark[1]), "-", "design load (simulated)"))
    return svg_t + _figure(svg_l, ("concurrency", "output tok/s", "ITL ms", "source"), rows)


def _load_curve(dep: Deployment, idx: int) -> str:
    c = dep.load_curve
    xs = [p.rate_rpm for p in c]
    svg = charts.line_chart(
        f"p95-{idx}",
        f"{dep.use_case}: simulated P95 latency vs load",
        f"Simulated P95 time to first token and end-to-end latency in milliseconds of {dep.use_case} "
        f"against request rate; the design rate is {dep.requests_per_minute:g} requests per minute.",
        "requests per minute",
        "P95 latency (ms, log scale)",
        [
            Series("TTFT P95", xs, [p.ttft_p95_ms for p in c]),
            Series("end-to-end P95", xs, [p.e2e_p95_ms for p in c], dashed=True),
        ],
        hline=(dep.ttft_p95_target_ms, "TTFT P95 target") if dep.ttft_p95_target_ms else None,
        vline=(dep.requests_per_minute, "design rate"),
        logy=True,
    )
    rows = [
        (
            _fmt(p.rate_rpm),
            _fmt(p.ttft_p95_ms, 0),
            _fmt(p.itl_p95_ms),
            _fmt(p.e2e_p95_ms, 0),
            _fmt(p.output_tokens_per_s),
            _fmt(p.mean_waiting, 2),
            p.preemptions,
        )
        for p in c
    ]
    return _figure(
        svg,
        ("req/min", "TTFT P95 ms", "ITL P95 ms", "E2E P95 ms", "output tok/s", "mean waiting", "preemptions"),
        rows,
    )


def _tco(t: TCO | None, note: str) -> str:
    if t is None:
        return f'<p class="warn">TCO not available: {_e(note)}</p>'
    out = []
    if t.missing:
        out.append(
            '<div class="warn"><p>Prices missing; figures that depend on them are left out:</p><ul>'
            + "".join(f"<li>{_e(m)}</li>" for m in t.missing)
            + "</ul></div>"
        )
    if t.stale:
        out.append(
            '<div class="warn"><p>Stale or undated prices:</p><ul>'
            + "".join(f"<li>{_e(s)}</li>" for s in t.stale)
            + "</ul></div>"
        )
    out.append(
        _table(
            ("quantity", "value"),
            [
                (
                    "capex",
                    f"{usd(t.capex_usd.low)} - {usd(t.capex_usd.high)} "
                    f"(expected {usd(t.capex_usd.expected)})",
                ),
                (
                    "opex per year",
                    f"{usd(t.annual_opex_usd)} (power {usd(t.annual_power_usd)}, maintenance "
                    f"{usd(t.annual_maintenance_usd)}, staff {usd(t.annual_staff_usd)}, colocation "
                    f"{usd(t.annual_colocation_usd)})",
                ),
                (
                    "tokens per year",
                    f"{t.tokens_per_year / 1e9:,.2f} billion at {t.expected_utilisation:.0%} utilisation",
                ),
                (
                    "self-hosted cost per million tokens",
                    f"{mtok(t.self_hosted_usd_per_mtok.expected_utilisation)} expected, "
                    f"{mtok(t.self_hosted_usd_per_mtok.full_utilisation)} at full utilisation",
                ),
                (
                    f"against {t.reference or 'n/a'}",
                    f"break-even {'never' if t.breakeven_month is None else f'month {t.breakeven_month}'}; "
                    "savings "
                    f"{'n/a' if t.savings_pct is None else f'{t.savings_pct:.0f} %'} over {horizon(t.years)}",
                ),
            ],
            "Total cost of ownership",
        )
    )
    if t.capex_complete and t.cloud:
        months = list(range(0, round(t.years * 12) + 1))
        picks = {t.cloud[0].model, t.cloud[-1].model, t.reference.split("/", 1)[-1]}
        series = [
            Series(
                "self-hosted (expected capex)",
                months,
                [t.capex_usd.expected + t.annual_opex_usd / 12 * m for m in months],
            )
        ]
        series += [
            Series(f"{c.provider}/{c.model}", months, [c.usd_per_year / 12 * m for m in months], dashed=True)
            for c in t.cloud
            if c.model in picks
        ]
        svg = charts.line_chart(
            "tco",
            "Cumulative cost: self-hosted vs cloud APIs",
            f"Cumulative US dollars over {round(t.years * 12)} months: self-hosted "
            "(capex up front plus monthly opex) "
            "against the cheapest, reference and most expensive cloud model at the same token volume.",
            "month",
            "cumulative cost (USD)",
            series,
            money=True,
        )
        yearly = [(m, *(_fmt(s.y[m], 0) for s in series)) for m in months if m % 6 == 0]
        out.append(_figure(svg, ("month", *(s.label for s in series)), yearly))
    out.append(
        _table(
            (
                "provider",
                "model",
                "USD/year",
                "USD/year list",
                "in $/Mtok",
                "out $/Mtok",
                "cached in",
                "batch off",
                "break-even month",
                "as of",
                "stale",
            ),
            [
                (
                    c.provider,
                    c.model,
                    usd(c.usd_per_year),
                    usd(c.usd_per_year_list),
                    c.input_usd_per_mtok,
                    c.output_usd_per_mtok,
                    "-" if c.cached_input_usd_per_mtok is None else c.cached_input_usd_per_mtok,
                    "-" if c.batch_discount is None else f"{c.batch_discount:.0%}",
                    "never" if c.breakeven_month is None else c.breakeven_month,
                    c.as_of,
                    "yes" if c.stale else "",
                )
                for c in t.cloud
            ],
            "Cloud APIs at the design's token volume",
        )
    )
    if t.sensitivity:
        out.append(
            _table(
                ("factor", "value", "USD/Mtok", f"TCO over {horizon(t.years)}", "break-even month"),
                [
                    (
                        r.factor.replace("_", " "),
                        r.label,
                        mtok(r.usd_per_mtok),
                        usd(r.tco_usd),
                        "never" if r.breakeven_month is None else r.breakeven_month,
                    )
                    for r in t.sensitivity
                ],
                "Sensitivity: one factor changed at a time",
            )
        )
    out.append(
        "<details><summary>TCO assumptions</summary><ul>"
        + "".join(f"<li>{_e(a)}</li>" for a in t.assumptions)
        + "</ul></details>"
    )
    return "".join(out)


def _bench(comparisons: Sequence[Comparison]) -> str:
    cats = [f"{c.metric} ({c.unit})" if c.unit else c.metric for c in comparisons]
    svg = charts.grouped_bars(
        "bench",
        "Measured vs predicted",
        "Benchmark measurements next to the sizing prediction for each metric.",
        "value (units per metric)",
        cats,
        [
            Series("predicted", [], [c.predicted for c in comparisons]),
            Series("measured", [], [c.measured for c in comparisons]),
        ],
    )
    rows = [
        (
            n,
            _fmt(c.predicted, 2),
            _fmt(c.measured, 2),
            f"{(c.measured - c.predicted) / c.predicted * 100:+.0f} %" if c.predicted else "-",
        )
        for n, c in zip(cats, comparisons, strict=True)
    ]
    return _figure(svg, ("metric", "predicted", "measured", "error"), rows)


def _yes(x: bool | None) -> str:
    return "-" if x is None else "yes" if x else "no"


def _range(r: UsdRange | None) -> str:
    return "n/a" if r is None else f"{usd(r.low)} - {usd(r.high)}"


def _tile(key: str, value: str, sub: str = "", data: str = "") -> str:
    attr = f' data-value="{_e(data)}"' if data else ""
    return (
        f'<div class="tile"{attr}><span class="k">{_e(key)}</span><span class="v">{_e(value)}</span>'
        + (f'<span class="s">{_e(sub)}</span>' if sub else "")
        + "</div>"
    )


def _cloud_tile(role: str, c: CloudLine | None) -> str:
    if c is None:
        return _tile(role, "n/a", "no cloud price list")
    be = breakeven_words(c.breakeven_month)
    return _tile(f"{role}: {c.name}", f"{usd(c.usd_per_year)}/year", be, f"{c.usd_per_year:.2f}")


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f} ms" if x >= 100 else f"{x:,.1f} ms"


def _num(x: float | None) -> str:
    """Milliseconds without the unit (the column says ms): 688 / 27.2 / '-'."""
    return "-" if x is None else f"{x:,.0f}" if x >= 100 else f"{x:,.1f}"


def _verdict(v: Verdict, shown: int = 4) -> str:
    """The first screen: the decision, the money, what it does at the design load, risks."""
    tiles = [
        _tile(
            "Hardware (capex)",
            _range(v.capex_usd),
            f"expected {usd(v.capex_usd.expected)}" if v.capex_usd else v.cost_note,
            f"{v.capex_usd.expected:.2f}" if v.capex_usd else "",
        ),
        _tile(
            "Running cost",
            f"{usd(v.annual_opex_usd)}/year" if v.annual_opex_usd is not None else "n/a",
            "power, maintenance, staff, space",
            f"{v.annual_opex_usd:.2f}" if v.annual_opex_usd is not None else "",
        ),
        _tile(
            f"TCO over {horizon(v.years) if v.years else 'the horizon'}",
            _range(v.tco_usd),
            f"expected {usd(v.tco_usd.expected)}" if v.tco_usd else "",
            f"{v.tco_usd.expected:.2f}" if v.tco_usd else "",
        ),
        _cloud_tile("Cheapest cloud", v.cheapest),
        _cloud_tile("Strongest cloud", v.strongest),
    ]
    buy = "".join(
        f"<li><strong>{b.count} x {_e(b.server)}</strong>: {_e(b.what)}"
        + (f" ({usd(b.usd_each.low)} - {usd(b.usd_each.high)} each)" if b.usd_each else " (not priced)")
        + "</li>"
        for b in v.buy
    )
    load_rows = "".join(
        "<tr>"
        f"<td>{_e(a.use_case)}</td><td>{_e(a.model)}</td><td>{_e(a.hardware)}</td>"
        f'<td class="n">{a.rate_rpm:,.1f}</td>'
        f'<td class="n">{_num(a.ttft_p95_ms)} / {_num(a.ttft_target_ms)}</td>'
        f'<td class="n">{_num(a.itl_p95_ms)} / {_num(a.itl_target_ms)}</td>'
        + (
            '<td class="ok">meets</td>'
            if a.meets
            else '<td class="bad">misses</td>'
            if a.meets is False
            else "<td>no target</td>"
        ).replace("</td>", "" if a.source.startswith("simulation") else " (estimate)</td>")
        + "</tr>"
        for a in v.at_load
    )
    issues = [*(f"Escalation: {x}" for x in v.escalations), *v.risks]
    more = len(issues) - shown
    risk_list = "".join(f"<li>{_e(x)}</li>" for x in issues[:shown]) or "<li>none found</li>"
    if more > 0:
        risk_list += f'<li><a href="#risks">{more} more</a></li>'
    return (
        f'<p class="decision">{_e(v.decision)}</p>'
        f'<div class="tiles">{"".join(tiles)}</div>'
        f"<p><strong>Break-even:</strong> {_e(v.breakeven)}</p>"
        '<div class="cols"><div><h3>What to buy</h3>'
        f"<ul>{buy}</ul></div>"
        "<div><h3>At the design load: simulated P95 / target</h3>"
        "<table><thead><tr><th>use case</th><th>model</th><th>hardware</th><th>req/min</th>"
        "<th>TTFT ms</th><th>ITL ms</th><th>targets</th></tr></thead>"
        f"<tbody>{load_rows}</tbody></table>"
        f"</div></div><h3>Risks and escalations</h3><ul>{risk_list}</ul>"
    )


def _risks_section(v: Verdict) -> str:
    items = [*(f"Escalation: {x}" for x in v.escalations), *v.risks]
    return "<ul>" + ("".join(f"<li>{_e(x)}</li>" for x in items) or "<li>none found</li>") + "</ul>"


def _success(sr: SuccessReport | None, note: str) -> str:
    """The role description's success metrics: target, result, met or not, with the evidence."""
    if sr is None:
        return f'<p class="warn">Not evaluated: {_e(note)}</p>'

    def mark(m: bool | None) -> str:
        return "meets" if m else "does not meet" if m is False else "not evaluated"

    out = [
        _table(
            ("metric", "role's target", "this design", "verdict"),
            [(m.name, m.target, m.result, mark(m.meets)) for m in sr.metrics],
            "The role's success metrics",
        )
    ]
    if sr.latency:
        out.append(
            "<details><summary>Latency against named cloud APIs</summary>"
            + _table(
                (
                    "use case",
                    "cloud API",
                    "cloud P95 TTFT",
                    "our P95 TTFT",
                    "ratio",
                    "cloud tok/s",
                    "our tok/s",
                    "ratio",
                ),
                [
                    (
                        r.use_case,
                        r.api,
                        _ms(r.cloud_ttft_p95_ms),
                        _ms(r.ours_ttft_p95_ms),
                        "-" if r.ttft_ratio is None else f"{r.ttft_ratio:.2f}",
                        "-" if r.cloud_tokens_per_s is None else f"{r.cloud_tokens_per_s:,.0f}",
                        "-" if r.ours_tokens_per_s is None else f"{r.ours_tokens_per_s:,.0f}",
                        "-" if r.speed_ratio is None else f"{r.speed_ratio:.2f}",
                    )
                    for r in sr.latency
                ],
            )
            + "</details>"
        )
    if sr.availability:
        out.append(
            "<details><summary>Availability per deployment</summary>"
            + _table(
                (
                    "use case",
                    "failure units",
                    "MTBF per unit (h)",
                    "expected",
                    "spares on site",
                    "no contract",
                    "all units up",
                ),
                [
                    (
                        r.use_case,
                        r.units,
                        f"{r.unit_mtbf_h:,.0f}",
                        f"{r.availability_pct:.3f} %",
                        f"{r.availability_best_pct:.3f} %",
                        f"{r.availability_worst_pct:.2f} %",
                        f"{r.full_capacity_pct:.2f} %",
                    )
                    for r in sr.availability
                ],
            )
            + "</details>"
        )
    if sr.tco_savings:
        out.append(
            "<details><summary>Saving over 2 years against every cloud model</summary>"
            + _table(
                ("cloud model", "saving over 2 years"),
                [(n, "n/a" if p is None else f"{p:+.0f} %") for n, p in sr.tco_savings],
            )
            + "</details>"
        )
    out.append(
        "<details><summary>Sources and assumptions</summary><ul>"
        + "".join(f"<li>{_e(x)}</li>" for x in (*sr.sources, *sr.assumptions))
        + "</ul></details>"
    )
    return "".join(out)


def comparisons_from(bench_runs: Sequence[Any]) -> list[Comparison]:
    """Comparison rows from objects or mappings with metric, unit, predicted and measured."""
    out = []
    for b in bench_runs:
        data = b if isinstance(b, Mapping) else getattr(b, "__dict__", {})
        if hasattr(b, "model_dump"):
            data = b.model_dump()
        out.append(Comparison.model_validate(data))
    return out


def render_report(
    design: Design,
    tco: TCO | None,
    bench_runs: Sequence[Any] | None = None,
    tco_note: str = "no TCO was computed",
    curves: Mapping[str, Sequence[ConcurrencyPoint]] | None = None,
    success: SuccessReport | None = None,
    success_note: str = "the success metrics were not evaluated",
) -> str:
    """The whole report as one HTML string; deterministic for the same inputs.

    The first screen is the verdict (`garrison.report.verdict`, the object `garrison plan` prints and the
    programme manager's hand-off carries) and the role's success metrics; the detail follows.
    """
    d = design
    v = build_verdict(d, tco, tco_note)
    sec: list[tuple[str, str, str]] = [
        ("summary", "Design summary", _summary(d)),
        ("memory", "Memory per GPU", _memory(d)),
    ]
    sec.append(
        (
            "throughput",
            "Throughput and latency vs concurrency",
            "".join(
                _throughput(x, i, (curves or {}).get(x.use_case, ())) for i, x in enumerate(d.deployments)
            ),
        )
    )
    simulated = [(i, x) for i, x in enumerate(d.deployments) if x.load_curve]
    sec.append(
        (
            "load",
            "Simulated P95 latency vs load",
            "".join(_load_curve(x, i) for i, x in simulated)
            if simulated
            else "<p>No load simulation in this design.</p>",
        )
    )
    sec.append(("tco", "Cost: self-hosted vs cloud APIs", _tco(tco, tco_note)))
    if bench_runs:
        sec.append(("bench", "Measured vs predicted", _bench(comparisons_from(bench_runs))))
    alts = [
        (
            x.use_case,
            a.summary,
            usd(a.annual_cost_usd),
            f"{usd(a.capex_usd.low)} - {usd(a.capex_usd.high)}" if a.capex_usd else "-",
            a.why_lost,
        )
        for x in d.deployments
        for a in x.alternatives
    ]
    sec.append(
        (
            "alternatives",
            "Alternatives and why they lost",
            _table(("use case", "alternative", "annual cost", "capex", "why it lost"), alts)
            if alts
            else "<p>No alternatives were recorded.</p>",
        )
    )
    sec.append(("risks", "Risks", _risks_section(v)))
    esc = "".join(
        f'<div class="warn"><p><strong>{_e(e.kind)}</strong> ({_e(e.field)}): {_e(e.problem)}</p><ul>'
        + "".join(f"<li>{_e(o)}</li>" for o in e.options)
        + "</ul>"
        + (
            _table(
                (
                    "option",
                    "what the re-plan chose",
                    "capex",
                    "opex/year",
                    "meets targets",
                    "fits budget",
                    "resolves",
                ),
                [
                    (
                        o.option,
                        o.summary or "-",
                        _range(
                            UsdRange(
                                low=o.capex_usd.low, expected=o.capex_usd.expected, high=o.capex_usd.high
                            )
                        )
                        if o.capex_usd
                        else "-",
                        usd(o.annual_opex_usd),
                        _yes(o.meets_targets),
                        _yes(o.fits_budget),
                        _yes(o.resolves),
                    )
                    for o in e.costed_options
                ],
                "Each option re-planned and costed",
            )
            if e.costed_options
            else ""
        )
        + "</div>"
        for e in d.escalations
    )
    sec.append(("escalations", "Escalations", esc or "<p>None: every requirement is met as stated.</p>"))
    if d.requirements.handoff is not None:
        sec.append(("handoff", "Hand-off received", _handoff(d)))
    assumptions = [*d.assumptions, *(a for x in d.deployments for a in x.estimate.assumptions)]
    sec.append(
        (
            "assumptions",
            "Assumptions",
            "<ul>" + "".join(f"<li>{_e(a)}</li>" for a in dict.fromkeys(assumptions)) + "</ul>",
        )
    )
    nav = "".join(
        f'<li><a href="#{k}">{_e(title)}</a></li>'
        for k, title in (("success", "Success metrics"), *((k, t) for k, t, _ in sec))
    )
    body = "".join(f'<section id="{k}"><h2>{_e(title)}</h2>{content}</section>' for k, title, content in sec)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'; "
        'img-src data:">'
        f"<title>Garrison report: {_e(d.name)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>Garrison report: {_e(d.name)}</h1>"
        f'<p class="muted">Garrison {_e(d.garrison_version)}, design schema v{d.schema_version}; '
        f"catalogue as of {_e(d.catalogue_as_of or 'unknown')}</p></header>"
        f'<main><section id="verdict" class="verdict"><h2>Verdict</h2>{_verdict(v)}</section>'
        f'<section id="success"><h2>Success metrics</h2>{_success(success, success_note)}</section>'
        f'<nav aria-label="Sections"><h2>Detail</h2><ul>{nav}</ul></nav>{body}</main></body></html>\n'
    )


def _handoff(d: Design) -> str:
    """What another agent handed over and what Garrison did with each value."""
    h = d.requirements.handoff
    assert h is not None
    rows = [(f.key, f.value, f.status, f.result) for f in h.fields]
    head = f"<p>From {_e(h.source_agent or 'an agent')}: {_e(h.request)}</p>"
    notes = "".join(f"<li>{_e(n)}</li>" for n in h.notes)
    return (
        head
        + _table(("value", "as written", "status", "what it became"), rows)
        + (f"<p>Kept as notes:</p><ul>{notes}</ul>" if notes else "")
    )
