"""The human report: one self-contained report.html per design."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from garrison.cost.result import TCO
from garrison.design import Design
from garrison.errors import GarrisonError
from garrison.report.html_report import Comparison, render_report


def report_files(
    design: Design,
    tco: TCO | None = None,
    bench_runs: Sequence[Any] | None = None,
) -> dict[str, str]:
    """`{"report.html": text}` for the bundle; the TCO is computed from the shipped catalogue if not given."""
    note = "no TCO was computed"
    if tco is None:
        from garrison.cost.inputs import tco_for_design

        try:
            tco = tco_for_design(design)
        except GarrisonError as e:
            note = e.one_line()
    return {"report.html": render_report(design, tco, bench_runs, tco_note=note)}


__all__ = ["Comparison", "render_report", "report_files"]
