"""Measured against predicted: a bench result next to a Design's estimate for the same workload (pure)."""

from __future__ import annotations

from garrison.bench.results import BenchResult, Comparison, Prediction, Step
from garrison.design import Deployment, Design

# A prediction within +-25 % of the measurement is "close". Roofline estimates with default efficiency
# factors are typically this far off before calibration (see docs/bench.md); calibration narrows it.
TOLERANCE_PCT = 25.0


def pick_deployment(design: Design, model: str | None) -> Deployment:
    """The deployment serving `model` (by the name clients pass), else the first one."""
    for d in design.deployments:
        if model in (d.model_name, d.model_id):
            return d
    return design.deployments[0]


def _closest_step(result: BenchResult, concurrency: int) -> Step | None:
    by_c = [s for s in result.steps if s.concurrency is not None and s.requests > 0]
    if by_c:
        return min(by_c, key=lambda s: abs((s.concurrency or 0) - concurrency))
    ok = [s for s in result.steps if s.requests > 0]
    return ok[0] if ok else None


def _line(metric: str, predicted: float, measured: float | None, higher_is_better: bool) -> Prediction:
    if measured is None or predicted <= 0:
        return Prediction(
            metric=metric,
            predicted=predicted,
            measured=measured,
            error_pct=None,
            off=False,
            verdict="not measured",
        )
    err = (measured - predicted) / predicted * 100.0
    off = abs(err) > TOLERANCE_PCT
    if not off:
        verdict = "close"
    else:
        better = (err > 0) == higher_is_better
        verdict = ("better" if better else "worse") + f" than predicted by {abs(err):.0f}%"
    return Prediction(
        metric=metric,
        predicted=round(predicted, 3),
        measured=round(measured, 3),
        error_pct=round(err, 1),
        off=off,
        verdict=verdict,
    )


def compare_to_design(result: BenchResult, design: Design) -> Comparison:
    """Compare median TTFT, median ITL and output tokens/s at the step closest to the estimate's
    concurrency with the estimate; say which prediction was off and by how much."""
    dep = pick_deployment(design, result.model)
    est = dep.estimate
    step = _closest_step(result, est.concurrency)
    notes: list[str] = []
    if step is None:
        lines: tuple[Prediction, ...] = ()
        notes.append("no step completed any request: nothing to compare")
        where = "none"
    else:
        where = (
            f"concurrency {step.concurrency}"
            if step.concurrency is not None
            else f"rate {step.rate or 'max'}"
        )
        if step.concurrency != est.concurrency:
            notes.append(f"the estimate assumes concurrency {est.concurrency}; compared at {where}")
        w = result.workload
        if w.input_len != str(est.input_len) or w.output_len != str(est.output_len):
            notes.append(
                f"workload differs: measured input {w.input_len}/output {w.output_len} tokens, "
                f"estimate {est.input_len}/{est.output_len}"
            )
        lines = (
            _line("ttft_ms", est.ttft_ms, step.ttft_ms.p50, higher_is_better=False),
            _line("itl_ms", est.itl_ms, step.itl_ms.p50, higher_is_better=False),
            _line(
                "output_tokens_per_s",
                est.output_tokens_per_s,
                step.output_tokens_per_s,
                higher_is_better=True,
            ),
        )
        off = [ln for ln in lines if ln.off]
        notes.append(
            f"all predictions within ±{TOLERANCE_PCT:.0f}%"
            if not off
            else "off: " + "; ".join(f"{ln.metric} {ln.verdict}" for ln in off)
        )
    return Comparison(
        design=design.name,
        deployment=dep.use_case,
        step=where,
        tolerance_pct=TOLERANCE_PCT,
        lines=lines,
        notes=tuple(notes),
    )
