"""report.html for a bundle: the TCO, the planner's step-time models and the success metrics computed
from the shipped catalogue, then rendered (`html_report.render_report`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from garrison.cost.result import TCO
from garrison.design import Deployment, Design
from garrison.errors import GarrisonError
from garrison.report.concurrency import ConcurrencyPoint, design_curves
from garrison.report.html_report import render_report
from garrison.sizing.step_time import StepTimeModel


def planner_step_model(design: Design, dep: Deployment) -> StepTimeModel | None:
    """The step-time model the planner and the load simulation used for `dep`: the model loaded the way
    the planner loads it, the design's quant format and device, the efficiency profile named in
    `design.calibration`, and the server's CPU sockets. None when it cannot be rebuilt here."""
    try:
        from garrison.catalogue import load_catalogue
        from garrison.planner.model_refs import load_model_ref
        from garrison.requirements import ModelRef
        from garrison.sizing.calibration_profiles import load_efficiency
        from garrison.sizing.estimate import step_model_for

        cat = load_catalogue()
        _, spec = load_model_ref(
            ModelRef(path=dep.model_path) if dep.model_path else ModelRef(id=dep.model_id)
        )
        fmt = cat.quant(dep.quant)
        eff = load_efficiency(design.calibration)
        if dep.device_kind == "gpu":
            return step_model_for(spec, fmt, dep.estimate, gpu=cat.gpu(dep.device), efficiency=eff)
        sockets = next((s.cpu_sockets for s in design.servers if dep.use_case in s.hosts), 1)
        return step_model_for(
            spec, fmt, dep.estimate, cpu=cat.cpu(dep.device), efficiency=eff, sockets=sockets
        )
    except (ImportError, GarrisonError, KeyError, ValueError, OSError):
        return None


def report_files(
    design: Design,
    tco: TCO | None = None,
    bench_runs: Sequence[Any] | None = None,
    curves: Mapping[str, Sequence[ConcurrencyPoint]] | None = None,
) -> dict[str, str]:
    """`{"report.html": text}` for the bundle. The TCO and the concurrency curves are computed from the
    shipped catalogue when not given; when that fails the report says why and shows what it has."""
    note = "no TCO was computed"
    if tco is None:
        from garrison.cost.inputs import tco_for_design

        try:
            tco = tco_for_design(design)
        except GarrisonError as e:
            note = e.one_line()
    if curves is None:
        curves = design_curves(design, lambda dep: planner_step_model(design, dep))
    success, success_note = None, "the TCO is not available"
    if tco is not None:
        from garrison.report.success import evaluate_success

        try:
            success = evaluate_success(design, tco)
        except GarrisonError as e:
            success_note = e.one_line()
    return {
        "report.html": render_report(
            design, tco, bench_runs, tco_note=note, curves=curves, success=success, success_note=success_note
        )
    }
