"""Render a BenchResult: a plain-text table for the terminal and a self-contained offline HTML report."""

from __future__ import annotations

import html
import io
import json
from collections.abc import Sequence
from pathlib import Path

from garrison.bench.results import BenchResult, Dist, RequestRecord, Step


def _f(x: float | None, nd: int = 1) -> str:
    return "-" if x is None else f"{x:,.{nd}f}"


def step_label(s: Step) -> str:
    """`c=8`, `r=2.5/s` or `max`."""
    if s.concurrency is not None:
        return f"c={s.concurrency}"
    if s.mode == "trace":
        return "trace" if s.rate is None else f"trace@{s.rate:g}/s"
    if s.mode == "ramp":
        return f"r={s.rate:g}-{s.rate_end:g}/s"
    return "max" if s.rate is None else f"r={s.rate:g}/s"


def text_table(result: BenchResult) -> str:
    """A fixed-width table: one row per step, latencies in ms (P50/P95), throughput, errors."""
    head = (
        f"{'step':>10} {'ok':>5} {'errors':<40} {'TTFT p50/p95':>15} {'ITL p50/p95':>13} "
        f"{'E2E p95':>9} {'req/s':>7} {'out tok/s':>10} {'goodput':>8}"
    )
    rows = [head]
    for s in result.steps:
        errs = ",".join(f"{k}:{v}" for k, v in s.errors.items()) or "-"
        rows.append(
            f"{step_label(s):>10} {s.requests:>5} {errs[:40]:<40} "
            f"{_f(s.ttft_ms.p50) + '/' + _f(s.ttft_ms.p95):>15} "
            f"{_f(s.itl_ms.p50, 2) + '/' + _f(s.itl_ms.p95, 2):>13} "
            f"{_f(s.e2e_ms.p95):>9} {s.requests_per_s:>7.2f} {s.output_tokens_per_s:>10.1f} "
            f"{s.goodput_requests_per_s:>8.2f}"
        )
    lines = ["\n".join(rows)]
    srv = [s for s in result.steps if s.server.ttft_ms is not None or s.server.itl_ms is not None]
    if srv:
        lines.append("server's own histograms (" + (srv[0].server.engine or "?") + "), ms:")
        for s in srv:
            t, i = s.server.ttft_ms, s.server.itl_ms
            lines.append(
                f"{step_label(s):>10} server TTFT p50/p95 {_f(t.p50 if t else None)}/{_f(t.p95 if t else None)}"
                f" vs client {_f(s.ttft_ms.p50)}/{_f(s.ttft_ms.p95)};"
                f" server ITL p50/p95 {_f(i.p50 if i else None, 2)}/{_f(i.p95 if i else None, 2)}"
                f" vs client {_f(s.itl_ms.p50, 2)}/{_f(s.itl_ms.p95, 2)}"
            )
    extra = [q for q in result.workload.percentiles if f"p{q:g}" not in ("p50", "p90", "p95", "p99")]
    if extra:
        for s in result.steps:
            lines.append(
                f"{step_label(s):>10} "
                + "; ".join(
                    f"{name} {', '.join(f'{k} {v:,.2f}' for k, v in d.percentiles.items())}"
                    f" min {_f(d.min, 2)} max {_f(d.max, 2)} std {_f(d.std, 2)}"
                    for name, d in (("TTFT", s.ttft_ms), ("ITL", s.itl_ms))
                )
            )
    if result.slo_search is not None:
        ss = result.slo_search
        lines.append(
            f"max load under SLO ({ss.attainment:.0%} of requests with TTFT <= {_f(ss.slo_ttft_ms, 0)} ms "
            f"and TPOT <= {_f(ss.slo_itl_ms, 0)} ms): "
            f"{_f(ss.max_rate_meeting_slo, 2)} req/s (max throughput {_f(ss.max_throughput_rate, 2)} req/s)"
        )
        for tr in ss.tried:
            where = "max" if tr.rate is None else f"{tr.rate:g} req/s"
            lines.append(f"  {where:>12}: {'under' if tr.passed else 'over'} the SLO: {tr.reason}")
    if result.comparison is not None:
        c = result.comparison
        lines.append(f"measured vs predicted ({c.design} / {c.deployment}, {c.step}):")
        for ln in c.lines:
            lines.append(
                f"  {ln.metric:<20} predicted {_f(ln.predicted, 2):>10} measured {_f(ln.measured, 2):>10} "
                f"error {_f(ln.error_pct, 1):>7}%  {ln.verdict}"
            )
        lines.extend(f"  note: {n}" for n in c.notes)
    lines.append(f"prompts: {result.workload.prompt_source}")
    lines.extend(f"note: {n}" for n in result.notes)
    lines.extend(f"warning: {w}" for w in result.warnings)
    if result.stopped:
        lines.append(f"stopped: {result.stopped}")
    if result.interrupted:
        lines.append("interrupted: partial results")
    return "\n".join(lines)


def _svg_chart(
    title: str, xlabel: str, ylabel: str, series: dict[str, tuple[list[float], list[float]]]
) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "garrison"  # stable element ids: the same data gives the same SVG
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for name, (xs, ys) in series.items():
        ax.plot(xs, ys, marker="o", label=name)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    plt.close(fig)
    svg = buf.getvalue()
    return svg[svg.index("<svg") :]


def _svg_hist(title: str, values_ms: list[float]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "garrison"
    fig, ax = plt.subplots(figsize=(6, 3.4))
    ax.bar(range(len(values_ms)), values_ms)
    ax.set_xticks(range(len(values_ms)), ["mean", "p50", "p90", "p95", "p99"][: len(values_ms)])
    ax.set_title(title)
    ax.set_ylabel("ms")
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    plt.close(fig)
    svg = buf.getvalue()
    return svg[svg.index("<svg") :]


def _x(s: Step, i: int) -> float:
    if s.concurrency is not None:
        return float(s.concurrency)
    return s.rate if s.rate is not None else s.requests_per_s or float(i)


def html_report(result: BenchResult) -> str:
    """One HTML file, no external assets: inline CSS and inline SVG charts."""
    steps = [s for s in result.steps if s.requests > 0]
    charts: list[str] = []
    if steps:
        xs = [_x(s, i) for i, s in enumerate(steps)]
        xl = "concurrency" if all(s.concurrency is not None for s in steps) else "load (concurrency or req/s)"

        def pick(get: str, p: str) -> list[float]:
            return [float(getattr(getattr(s, get), p) or 0.0) for s in steps]

        charts.append(
            _svg_chart(
                "Time to first token",
                xl,
                "ms",
                {"p50": (xs, pick("ttft_ms", "p50")), "p95": (xs, pick("ttft_ms", "p95"))},
            )
        )
        charts.append(
            _svg_chart(
                "Inter-token latency (every gap)",
                xl,
                "ms",
                {
                    "p50": (xs, pick("itl_ms", "p50")),
                    "p95": (xs, pick("itl_ms", "p95")),
                    "p99": (xs, pick("itl_ms", "p99")),
                },
            )
        )
        charts.append(
            _svg_chart(
                "Throughput",
                xl,
                "output tokens/s",
                {"output tokens/s": (xs, [s.output_tokens_per_s for s in steps])},
            )
        )
        last = steps[-1].itl_ms
        charts.append(
            _svg_hist(
                f"ITL distribution at {steps[-1].concurrency or steps[-1].rate or 'max'}", _dist_list(last)
            )
        )
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(str(v))}</td>"
            for v in (
                _label(s),
                s.requests,
                ", ".join(f"{k}: {v}" for k, v in s.errors.items()) or "-",
                _f(s.ttft_ms.p50),
                _f(s.ttft_ms.p95),
                _f(s.itl_ms.p50, 2),
                _f(s.itl_ms.p95, 2),
                _f(s.tpot_ms.p50, 2),
                _f(s.e2e_ms.p95),
                f"{s.requests_per_s:.2f}",
                f"{s.output_tokens_per_s:.1f}",
                f"{s.goodput_requests_per_s:.2f}",
                _f(s.server.queue_depth_max, 0),
                _f(s.server.kv_usage_max, 2),
            )
        )
        + "</tr>"
        for s in result.steps
    )
    comp = ""
    if result.comparison is not None:
        c = result.comparison
        crow = "".join(
            f"<tr class={'off' if ln.off else 'ok'}><td>{ln.metric}</td><td>{_f(ln.predicted, 2)}</td>"
            f"<td>{_f(ln.measured, 2)}</td><td>{_f(ln.error_pct)}%</td>"
            f"<td>{html.escape(ln.verdict)}</td></tr>"
            for ln in c.lines
        )
        comp = (
            f"<h2>Measured vs predicted: {html.escape(c.design)} / {html.escape(c.deployment)} "
            f"({html.escape(c.step)})</h2>"
            "<table><tr><th>metric</th><th>predicted</th><th>measured</th><th>error</th><th>verdict</th></tr>"
            f"{crow}</table><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in c.notes) + "</ul>"
        )
    notes = "".join(
        f"<li>{html.escape(n)}</li>"
        for n in (
            *result.notes,
            *(f"warning: {w}" for w in result.warnings),
            f"prompts: {result.workload.prompt_source}",
        )
    )
    interrupted = " · <b>interrupted: partial results</b>" if result.interrupted else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>garrison bench: {html.escape(result.model)}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}}
table{{border-collapse:collapse;font-size:13px}}
td,th{{border:1px solid #ccc;padding:3px 7px;text-align:right}}
th{{background:#f2f2f2}} .off td{{background:#fde2e2}} .charts{{display:flex;flex-wrap:wrap;gap:1em}}
.charts svg{{width:520px;height:auto}}
</style></head><body>
<h1>Benchmark: {html.escape(result.model)}</h1>
<p>{html.escape(result.url)} · {result.workload.endpoint} · input {result.workload.input_len} / output
{result.workload.output_len} tokens{interrupted}</p>
<table><tr><th>step</th><th>ok</th><th>errors</th><th>TTFT p50</th><th>TTFT p95</th><th>ITL p50</th>
<th>ITL p95</th><th>TPOT p50</th><th>E2E p95</th><th>req/s</th><th>out tok/s</th><th>goodput req/s</th>
<th>queue max</th><th>KV max</th></tr>{rows}</table>
{comp}
<div class="charts">{"".join(charts)}</div>
<ul>{notes}</ul>
<details><summary>results.json</summary><pre>{html.escape(result.model_dump_json(indent=2))}</pre></details>
</body></html>
"""


def _label(s: Step) -> str:
    return step_label(s) + (" (interrupted)" if s.interrupted else "")


def _dist_list(d: Dist) -> list[float]:
    return [float(v or 0.0) for v in (d.mean, d.p50, d.p90, d.p95, d.p99)]


def write_outputs(
    result: BenchResult, out_dir: str, force: bool, records: Sequence[Sequence[RequestRecord]] = ()
) -> list[Path]:
    """Write results.json, report.html, summary.csv and (with records) requests.jsonl atomically;
    refuse to overwrite without `force`."""
    from garrison.atomic import write_text_atomic
    from garrison.bench.export import requests_jsonl, summary_csv
    from garrison.errors import InputError

    d = Path(out_dir)
    files = {
        d / "results.json": json.dumps(result.model_dump(mode="json"), indent=2, sort_keys=True) + "\n",
        d / "report.html": html_report(result),
        d / "summary.csv": summary_csv(result),
    }
    if records:
        files[d / "requests.jsonl"] = requests_jsonl(result, records)
    existing = [p for p in files if p.exists()]
    if existing and not force:
        raise InputError("--out", f"{existing[0]} exists", "use another folder or pass --force")
    for p, text in files.items():
        write_text_atomic(p, text, force=True)
    return list(files)
