"""What `plan --out` / `render` write: design.json, the deployment bundle and report.html."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from garrison.design import Design

if TYPE_CHECKING:
    from garrison.bench.results import BenchResult


def design_json(design: Design) -> str:
    """design.json text: sorted keys, no timestamps, so diffs of two plans mean something."""
    return json.dumps(json.loads(design.model_dump_json()), indent=2, sort_keys=True) + "\n"


def measured_rows(design: Design, runs: Sequence[BenchResult]) -> list[dict[str, object]]:
    """Measured-vs-predicted rows for the report, one per metric a benchmark run measured."""
    from garrison.bench.compare import compare_to_design

    rows: list[dict[str, object]] = []
    for run in runs:
        cmp = compare_to_design(run, design)
        for line in cmp.lines:
            if line.measured is not None:
                rows.append(
                    {
                        "metric": f"{cmp.deployment}: {line.metric} ({cmp.step})",
                        "unit": "",
                        "predicted": line.predicted,
                        "measured": line.measured,
                    }
                )
    return rows


def design_files(design: Design, runs: Sequence[BenchResult] = ()) -> dict[str, str]:
    """Every file of a design's bundle as {relative path: text}: the rendered deployment bundle
    (which carries design.json) plus the self-contained report.html (with measured against
    predicted when benchmark runs are given)."""
    from garrison.render import render_bundle  # the renderer imports design_json from here
    from garrison.report import report_files

    files = dict(render_bundle(design))
    files.update(report_files(design, bench_runs=measured_rows(design, runs) or None))
    return dict(sorted(files.items()))


def write_tree(files: dict[str, str], out: Path, *, force: bool = False) -> Path:
    """Write a bundle atomically (see garrison.render.writer.write_bundle)."""
    from garrison.render import write_bundle

    return write_bundle(files, out, force=force)
