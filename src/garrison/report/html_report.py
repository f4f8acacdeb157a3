"""report.html: one self-contained page (inline CSS and SVG, no scripts, fonts or images fetched)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from garrison.cost.result import TCO
from garrison.cost.text import mtok, usd
from garrison.design import Deployment, Design
from garrison.report import charts
from garrison.report.charts import Series
from garrison.report.concurrency import ConcurrencyPoint

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
    """Throughput and ITL vs concurrency per replica: the sizing model's curve when given, the
    estimate's own points, and simulated ones if any."""
    est = dep.estimate
    reps = max(dep.replicas, 1)
    single_itl = 1000.0 / est.decode_tokens_per_s_single if est.decode_tokens_per_s_single > 0 else 0.0
    est_pts = sorted(
        {
            1.0: (est.decode_tokens_per_s_single, single_itl),
            float(est.concurrency): (est.output_tokens_per_s / max(est.replicas, 1), est.itl_ms),
        }.items()
    )
    sim_pts = sorted(
        (p.mean_running / reps, (p.output_tokens_per_s / reps, p.itl_p95_ms))
        for p in dep.load_curve
        if p.mean_running > 0
    )

    model_pts = [(float(p.concurrency), (p.output_tokens_per_s, p.itl_ms)) for p in curve]

    def series(i: int, label_est: str, label_sim: str) -> list[Series]:
        out = [Series(label_est, [x for x, _ in est_pts], [v[i] for _, v in est_pts])]
        if model_pts:
            out.insert(
                0, Series("sizing model (decode)", [x for x, _ in model_pts], [v[i] for _, v in model_pts])
            )
        if sim_pts:
            out.append(Series(label_sim, [x for x, _ in sim_pts], [v[i] for _, v in sim_pts], dashed=True))
        return out

    svg_t = charts.line_chart(
        f"thr{idx}",
        f"{dep.use_case}: output throughput vs concurrency",
        f"Output tokens per second of one replica of {dep.model_name} on {dep.device} against concurrent "
        "sequences, from the sizing estimate and, where present, the load simulation.",
        "concurrent sequences per replica",
        "output tokens/s per replica",
        series(0, "estimate", "simulated"),
    )
    svg_l = charts.line_chart(
        f"itl{idx}",
        f"{dep.use_case}: inter-token latency vs concurrency",
        f"Inter-token latency in milliseconds of {dep.model_name} against concurrent sequences: the "
        "estimate's mean and, where present, the simulated P95.",
        "concurrent sequences per replica",
        "inter-token latency (ms)",
        series(1, "estimate (mean)", "simulated (P95)"),
        hline=(dep.itl_p95_target_ms, "ITL P95 target") if dep.itl_p95_target_ms else None,
    )
    rows = [(_fmt(x, 2), _fmt(v[0]), _fmt(v[1]), "sizing model (decode)") for x, v in model_pts]
    rows += [(_fmt(x, 2), _fmt(v[0]), _fmt(v[1]), "estimate") for x, v in est_pts]
    rows += [(_fmt(x, 2), _fmt(v[0]), _fmt(v[1]), "simulated (P95 ITL)") for x, v in sim_pts]
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
                    f"{'n/a' if t.savings_pct is None else f'{t.savings_pct:.0f} %'} over {t.years} year(s)",
                ),
            ],
            "Total cost of ownership",
        )
    )
    if t.capex_complete and t.cloud:
        months = list(range(0, t.years * 12 + 1))
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
            f"Cumulative US dollars over {t.years * 12} months: self-hosted "
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
                ("factor", "value", "USD/Mtok", f"TCO {t.years} y", "break-even month"),
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
) -> str:
    """The whole report as one HTML string; deterministic for the same inputs."""
    d = design
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
    esc = "".join(
        f'<div class="warn"><p><strong>{_e(e.kind)}</strong> ({_e(e.field)}): {_e(e.problem)}</p><ul>'
        + "".join(f"<li>{_e(o)}</li>" for o in e.options)
        + "</ul></div>"
        for e in d.escalations
    )
    sec.append(("escalations", "Escalations", esc or "<p>None: every requirement is met as stated.</p>"))
    assumptions = [*d.assumptions, *(a for x in d.deployments for a in x.estimate.assumptions)]
    sec.append(
        (
            "assumptions",
            "Assumptions",
            "<ul>" + "".join(f"<li>{_e(a)}</li>" for a in dict.fromkeys(assumptions)) + "</ul>",
        )
    )
    nav = "".join(f'<li><a href="#{k}">{_e(title)}</a></li>' for k, title, _ in sec)
    body = "".join(f'<section id="{k}"><h2>{_e(title)}</h2>{content}</section>' for k, title, content in sec)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'; "
        'img-src data:">'
        f"<title>Garrison report: {_e(d.name)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>Garrison report: {_e(d.name)}</h1>"
        f'<p class="muted">Garrison {_e(d.garrison_version)}, design schema v{d.schema_version}</p>'
        f'<nav aria-label="Sections"><ul>{nav}</ul></nav></header><main>{body}</main></body></html>\n'
    )
