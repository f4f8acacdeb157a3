"""Raw data out of a run: one JSON line per request (timings, token counts, errors) and a CSV summary
with one row per step (pure text builders; the CLI writes them atomically).

The per-request lines carry `arrival_s`, `input_tokens` and `output_tokens`, the columns of the trace
`garrison simulate --trace` and `garrison bench --trace` read, so a measured run replays in both.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from garrison.bench.report import step_label
from garrison.bench.results import DEFAULT_PERCENTILES, BenchResult, Dist, RequestRecord, pct_key


def _ms(x: float | None) -> float | None:
    return None if x is None else round(x * 1000.0, 3)


def request_rows(
    result: BenchResult, records: Sequence[Sequence[RequestRecord]], tokens: bool = False
) -> list[dict[str, object]]:
    """One dict per request, in send order within each step; times in seconds from the run's first
    request (`arrival_s`) or milliseconds (latencies). With `tokens`, every token's arrival too."""
    starts = [r.start_s for recs in records for r in recs]
    origin = min(starts) if starts else 0.0
    rows: list[dict[str, object]] = []
    for i, (step, recs) in enumerate(zip(result.steps, records, strict=True)):
        for r in sorted(recs, key=lambda r: r.start_s):
            gaps = r.itl_gaps_s
            row: dict[str, object] = {
                "step": i,
                "step_label": step_label(step),
                "phase": r.phase,
                "arrival_s": round(r.start_s - origin, 6),
                "scheduled_s": None if r.scheduled_s is None else round(r.scheduled_s - origin, 6),
                "input_tokens": r.input_tokens if r.ok else r.stated_input_tokens,
                "output_tokens": r.output_tokens if r.ok else r.max_tokens,
                "max_tokens": r.max_tokens,
                "tokens_from_usage": r.tokens_from_usage,
                "ttft_ms": _ms(r.ttft_s),
                "tpot_ms": _ms(r.tpot_s),
                "e2e_ms": _ms(r.e2e_s),
                "itl_ms_mean": _ms(sum(gaps) / len(gaps)) if gaps else None,
                "itl_ms_max": _ms(max(gaps)) if gaps else None,
                "chunks": len(r.token_times_s),
                "error": r.error,
                "error_detail": r.error_detail or None,
                "retries": r.retries,
            }
            if tokens:
                row["token_ms"] = [round((t - r.start_s) * 1000.0, 3) for t in r.token_times_s]
            rows.append(row)
    return rows


def requests_jsonl(
    result: BenchResult, records: Sequence[Sequence[RequestRecord]], tokens: bool = False
) -> str:
    """The `--export-requests` file: one JSON object per line. A failed request states the prompt and
    output lengths it asked for, so the file still describes the offered load."""
    return "".join(json.dumps(r, sort_keys=True) + "\n" for r in request_rows(result, records, tokens))


_DISTS = ("ttft_ms", "itl_ms", "tpot_ms", "e2e_ms")


def _dist_cols(prefix: str, d: Dist | None, percentiles: tuple[float, ...]) -> dict[str, object]:
    cols: dict[str, object] = {}
    stats = ("mean", "std", "min", "max")
    for s in stats:
        cols[f"{prefix}_{s}"] = getattr(d, s) if d else None
    for q in percentiles:
        key = pct_key(q)
        val = None
        if d is not None:
            val = getattr(d, key) if q in DEFAULT_PERCENTILES else d.percentiles.get(key)
        cols[f"{prefix}_{key}"] = val
    return cols


def summary_csv(result: BenchResult) -> str:
    """One row per step: load, counts, rates, goodput, client latencies with the asked percentiles,
    and the server's own TTFT/ITL where its histograms were scraped."""
    pcts = result.workload.percentiles
    rows = []
    for s in result.steps:
        row: dict[str, object] = {
            "step": step_label(s),
            "mode": s.mode,
            "concurrency": s.concurrency,
            "rate": s.rate,
            "rate_end": s.rate_end,
            "arrival": s.arrival,
            "requests": s.requests,
            "errors": sum(s.errors.values()),
            "error_types": ";".join(f"{k}:{v}" for k, v in s.errors.items()),
            "duration_s": s.duration_s,
            "requests_per_s": s.requests_per_s,
            "input_tokens_per_s": s.input_tokens_per_s,
            "output_tokens_per_s": s.output_tokens_per_s,
            "goodput_requests_per_s": s.goodput_requests_per_s,
            "slo_attainment": s.slo_attainment,
        }
        for name in _DISTS:
            row.update(_dist_cols(name.removesuffix("_ms") + "_ms", getattr(s, name), pcts))
        for name in ("ttft_ms", "itl_ms"):
            row.update(
                _dist_cols("server_" + name.removesuffix("_ms") + "_ms", getattr(s.server, name), pcts)
            )
        row["client_cpu_s_per_1k_tokens"] = s.client_cpu_s_per_1k_tokens
        row["stopped"] = s.stopped
        rows.append(row)
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return buf.getvalue()
