"""What `plan --out` / `render` write: design.json, the deployment bundle and report.html."""

from __future__ import annotations

import json
from pathlib import Path

from garrison.design import Design


def design_json(design: Design) -> str:
    """design.json text: sorted keys, no timestamps, so diffs of two plans mean something."""
    return json.dumps(json.loads(design.model_dump_json()), indent=2, sort_keys=True) + "\n"


def design_files(design: Design) -> dict[str, str]:
    """Every file of a design's bundle as {relative path: text}: the rendered deployment bundle
    (which carries design.json) plus the self-contained report.html."""
    from garrison.render import render_bundle  # the renderer imports design_json from here
    from garrison.report import report_files

    files = dict(render_bundle(design))
    if "report.html" not in files:
        files.update(report_files(design))
    return dict(sorted(files.items()))


def write_tree(files: dict[str, str], out: Path, *, force: bool = False) -> Path:
    """Write a bundle atomically (see garrison.render.writer.write_bundle)."""
    from garrison.render import write_bundle

    return write_bundle(files, out, force=force)
