"""The human report: one self-contained report.html per design.

Imports are lazy: `garrison.report.verdict` (what `garrison plan` and the hand-offs print) must not pull
in matplotlib, which only the charts of `report_files` / `render_report` need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from garrison.report.concurrency import ConcurrencyPoint, concurrency_curve
    from garrison.report.files import planner_step_model, report_files
    from garrison.report.html_report import Comparison, render_report

_WHERE = {
    "Comparison": "garrison.report.html_report",
    "render_report": "garrison.report.html_report",
    "ConcurrencyPoint": "garrison.report.concurrency",
    "concurrency_curve": "garrison.report.concurrency",
    "planner_step_model": "garrison.report.files",
    "report_files": "garrison.report.files",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'garrison.report' has no attribute {name!r}")


__all__ = [
    "Comparison",
    "ConcurrencyPoint",
    "concurrency_curve",
    "planner_step_model",
    "render_report",
    "report_files",
]
