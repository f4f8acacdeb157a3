"""The human report: one self-contained report.html per design."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from garrison.cost.result import TCO
from garrison.design import Deployment, Design
from garrison.errors import GarrisonError
from garrison.report.concurrency import ConcurrencyPoint, concurrency_curve, design_curves
from garrison.report.html_report import Comparison, render_report
from garrison.sizing.step_time import StepTimeModel


def _catalogue_step_model(dep: Deployment) -> StepTimeModel | None:
    """The sizing roofline behind a deployment, rebuilt from the shipped catalogue; None if it can't be."""
    try:
        from garrison.catalogue import load_catalogue
        from garrison.modelspec import load_model_spec
        from garrison.sizing.estimate import step_model_for

        cat = load_catalogue()
        spec = load_model_spec(dep.model_path or cat.model(dep.model_id).id)
        fmt = cat.quant(dep.quant)
        if dep.device_kind == "gpu":
            return step_model_for(spec, fmt, dep.estimate, gpu=cat.gpu(dep.device))
        return step_model_for(spec, fmt, dep.estimate, cpu=cat.cpu(dep.device))
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
        curves = design_curves(design, _catalogue_step_model)
    return {"report.html": render_report(design, tco, bench_runs, tco_note=note, curves=curves)}


__all__ = ["Comparison", "ConcurrencyPoint", "concurrency_curve", "render_report", "report_files"]
