"""Fitting the efficiency factors (garrison.sizing.efficiency.Efficiency) to measured speeds.

Fitted: `gpu_bw` (decode is bound by bytes / bandwidth), `gpu_compute` (prefill by FLOPs / compute)
and `step_overhead_ms` (the fixed cost of every step). Loss: Huber on the log of predicted /
measured (delta 0.3, i.e. errors beyond ~35% count linearly), so one point from a very different
engine cannot drag every factor, and over- and under-prediction by the same factor weigh the same.
Minimised by Nelder-Mead (Nelder & Mead, Computer Journal 1965) over box-bounded parameters
mapped through a logistic, which needs nothing beyond numpy.
Points: the shipped calibration set (data/calibration_points.yaml, each with its public source)
and, optionally, stored `garrison bench` runs whose design says what was measured.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from garrison.errors import InputError
from garrison.sizing.accuracy import SPEED_FIELDS, calibration_points, predict
from garrison.sizing.efficiency import DEFAULT_EFFICIENCY, Efficiency

# (field, low, high): the box each fitted factor stays in (the Efficiency model's own limits,
# narrowed to physically plausible values: no kernel streams HBM at under 30% in decode, and none
# beats a plain device-to-device copy, measured at 0.89 of datasheet on an H200:
# bench/results/gpu_roofline_h200.json).
FITTED: tuple[tuple[str, float, float], ...] = (
    ("gpu_bw", 0.3, 0.89),
    ("gpu_compute", 0.1, 1.0),
    ("step_overhead_ms", 0.0, 20.0),
)
HUBER_DELTA = 0.3


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PointError(_Frozen):
    """One measured quantity with the prediction before and after calibration."""

    point: str
    quantity: str
    measured: float
    before: float
    after: float
    held_out: bool

    @property
    def error_before(self) -> float:
        return (self.before - self.measured) / abs(self.measured)

    @property
    def error_after(self) -> float:
        return (self.after - self.measured) / abs(self.measured)


class CalibrationReport(_Frozen):
    """The fitted profile and its errors on the fitted and the held-out points."""

    name: str
    efficiency: Efficiency
    fitted_on: tuple[str, ...]
    held_out: tuple[str, ...]
    rows: tuple[PointError, ...]
    evaluations: int

    def median_abs_error(self, held_out: bool, after: bool) -> float:
        errs = [abs(r.error_after if after else r.error_before) for r in self.rows if r.held_out == held_out]
        return statistics.median(errs) if errs else float("nan")


def speed_points() -> list[dict[str, Any]]:
    """The shipped calibration set's speed points."""
    pts: list[dict[str, Any]] = calibration_points()["speed"]
    return list(pts)


def bench_points(runs: Sequence[tuple[dict[str, Any], dict[str, Any]]]) -> list[dict[str, Any]]:
    """Calibration points from stored bench runs: (BenchResult JSON, Design JSON of what was measured).

    Each concurrency step of a run becomes one point with the deployment's model, GPU, engine,
    quantisation and TP, the bench workload's fixed input/output lengths, and its measured mean
    ITL and output throughput (P50 TTFT for single-stream steps). Runs with variable lengths or
    without a deployment are skipped: the roofline predicts one shape at a time.
    """
    out: list[dict[str, Any]] = []
    for n, (bench, design) in enumerate(runs):
        deps = design.get("deployments") or []
        wl = bench.get("workload") or {}
        try:
            inp, outp = int(str(wl.get("input_len"))), int(str(wl.get("output_len")))
        except ValueError:
            continue
        if not deps:
            continue
        dep = deps[0]
        for step in bench.get("steps") or []:
            conc = step.get("concurrency")
            if step.get("mode") != "concurrency" or not conc or not step.get("requests"):
                continue
            measured: dict[str, float] = {}
            if (step.get("itl_ms") or {}).get("mean"):
                measured["itl_ms"] = float(step["itl_ms"]["mean"])
            if step.get("output_tokens_per_s"):
                measured["output_tokens_per_s"] = float(step["output_tokens_per_s"])
            if conc == 1 and (step.get("ttft_ms") or {}).get("p50"):
                measured["ttft_ms"] = float(step["ttft_ms"]["p50"])
            if not measured:
                continue
            out.append(
                {
                    "id": f"bench-{bench.get('id', n)}-c{conc}",
                    "source": f"garrison bench run {bench.get('id', n)} against {bench.get('url', '?')}",
                    "model": dep["model_id"],
                    "gpu": dep["device"],
                    "gpus": dep["gpus_per_replica"],
                    "tp": dep["tp"],
                    "engine": dep["engine"],
                    "quant": dep["quant"],
                    "max_model_len": dep["max_model_len"],
                    "input_len": inp,
                    "output_len": outp,
                    "concurrency": int(conc),
                    "measured": measured,
                }
            )
    return out


def split_points(
    points: list[dict[str, Any]], holdout: float, seed: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(fit, held out): a seeded random `holdout` fraction of the points (at least one each side)."""
    if not 0.0 < holdout < 1.0:
        raise InputError("--holdout", f"must be between 0 and 1, got {holdout}", "e.g. 0.3")
    if len(points) < 2:
        raise InputError(
            "points", f"only {len(points)} measured points", "at least two are needed to fit and check"
        )
    ids = sorted(p["id"] for p in points)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(ids))
    k = min(max(1, round(holdout * len(ids))), len(ids) - 1)
    held = {ids[i] for i in order[:k]}
    return [p for p in points if p["id"] not in held], [p for p in points if p["id"] in held]


def _predictions(points: list[dict[str, Any]], eff: Efficiency) -> list[tuple[str, str, float, float]]:
    """(point, quantity, predicted, measured) for every measured speed quantity."""
    out = []
    for p in points:
        est = predict(p, eff)
        for q in SPEED_FIELDS:
            if q in p["measured"]:
                out.append((p["id"], q, float(getattr(est, q)), float(p["measured"][q])))
    return out


def fit_loss(points: list[dict[str, Any]], eff: Efficiency) -> float:
    """The loss the fit minimises (mean Huber of log errors) for `points` under `eff`."""
    return _loss(_predictions(points, eff))


def _loss(preds: list[tuple[str, str, float, float]]) -> float:
    total = 0.0
    for _, _, pred, meas in preds:
        if pred <= 0 or meas <= 0:
            total += 10.0
            continue
        r = abs(math.log(pred / meas))
        total += 0.5 * r * r if r <= HUBER_DELTA else HUBER_DELTA * (r - 0.5 * HUBER_DELTA)
    return total / max(len(preds), 1)


def _nelder_mead(
    f: Callable[[np.ndarray], float], x0: np.ndarray, step: float = 0.5, iters: int = 150, tol: float = 1e-7
) -> tuple[np.ndarray, int]:
    """Minimises f from x0 (standard coefficients: reflect 1, expand 2, contract 0.5, shrink 0.5)."""
    n = len(x0)
    simplex = [x0] + [x0 + step * np.eye(n)[i] for i in range(n)]
    values = [f(x) for x in simplex]
    evals = n + 1
    for _ in range(iters):
        order = np.argsort(values)
        simplex = [simplex[i] for i in order]
        values = [values[i] for i in order]
        if abs(values[-1] - values[0]) < tol:
            break
        centroid = np.mean(simplex[:-1], axis=0)
        xr = centroid + (centroid - simplex[-1])
        fr = f(xr)
        evals += 1
        if fr < values[0]:
            xe = centroid + 2 * (centroid - simplex[-1])
            fe = f(xe)
            evals += 1
            simplex[-1], values[-1] = (xe, fe) if fe < fr else (xr, fr)
        elif fr < values[-2]:
            simplex[-1], values[-1] = xr, fr
        else:
            xc = centroid + 0.5 * (simplex[-1] - centroid)
            fc = f(xc)
            evals += 1
            if fc < values[-1]:
                simplex[-1], values[-1] = xc, fc
            else:
                for i in range(1, n + 1):
                    simplex[i] = simplex[0] + 0.5 * (simplex[i] - simplex[0])
                    values[i] = f(simplex[i])
                    evals += 1
    best = int(np.argmin(values))
    return simplex[best], evals


def _to_box(z: np.ndarray) -> dict[str, float]:
    """Unbounded z -> each factor inside its box via the logistic function."""
    return {
        name: lo + (hi - lo) / (1.0 + math.exp(-float(v)))
        for (name, lo, hi), v in zip(FITTED, z, strict=True)
    }


def _from_box(eff: Efficiency) -> np.ndarray:
    z = []
    for name, lo, hi in FITTED:
        frac = min(max((float(getattr(eff, name)) - lo) / (hi - lo), 1e-4), 1 - 1e-4)
        z.append(math.log(frac / (1 - frac)))
    return np.array(z)


def fit_efficiency(
    points: list[dict[str, Any]], start: Efficiency = DEFAULT_EFFICIENCY, name: str = "fitted"
) -> tuple[Efficiency, int]:
    """The efficiency factors minimising the loss on `points`, and how many evaluations it took."""
    if not points:
        raise InputError("points", "nothing to fit", "give measured points")

    def f(z: np.ndarray) -> float:
        return _loss(_predictions(points, start.model_copy(update=_to_box(z))))

    z, evals = _nelder_mead(f, _from_box(start))
    return start.model_copy(update={**_to_box(z), "name": name}), evals


def calibrate(
    points: list[dict[str, Any]],
    *,
    name: str,
    holdout: float = 0.3,
    seed: int = 0,
    start: Efficiency = DEFAULT_EFFICIENCY,
) -> CalibrationReport:
    """Fits on a seeded part of the points and reports every point's error before and after."""
    fit_pts, held_pts = split_points(points, holdout, seed)
    eff, evals = fit_efficiency(fit_pts, start, name)
    rows = []
    for pts, held in ((fit_pts, False), (held_pts, True)):
        before = _predictions(pts, start)
        after = _predictions(pts, eff)
        for (pid, q, b, m), (_, _, a, _) in zip(before, after, strict=True):
            rows.append(PointError(point=pid, quantity=q, measured=m, before=b, after=a, held_out=held))
    return CalibrationReport(
        name=name,
        efficiency=eff,
        fitted_on=tuple(sorted(p["id"] for p in fit_pts)),
        held_out=tuple(sorted(p["id"] for p in held_pts)),
        rows=tuple(rows),
        evaluations=evals,
    )


def profile_json(report: CalibrationReport) -> str:
    """The profile file `--calibration NAME` reads: {"efficiency": {...}, plus how it was made}."""
    doc = {
        "name": report.name,
        "efficiency": report.efficiency.model_dump(),
        "fitted_on": list(report.fitted_on),
        "held_out": list(report.held_out),
        "median_abs_error_held_out": {
            "before": report.median_abs_error(True, False),
            "after": report.median_abs_error(True, True),
        },
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"
