"""Every example: planned, costed and its report opened in headless Chromium (no console errors,
no request leaves the page, every chart present and titled)."""

from __future__ import annotations

from pathlib import Path

import pytest

from garrison.report import report_files
from garrison.testing.ci import skip_or_fail

from .browser import CHROMIUM, open_page

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_report_in_chromium(example: Path, tmp_path: Path) -> None:
    from garrison.cli.plan_cmd import run_plan
    from garrison.cost.inputs import tco_for_design

    design = run_plan(example)
    if not design.deployments:
        pytest.skip(f"{example.name} escalates before any deployment: {design.escalations[0].problem}")
    tco = tco_for_design(design)
    assert tco.volume and tco.capex_usd.high >= tco.capex_usd.low
    html = report_files(design, tco=tco)["report.html"]
    assert "TCO not available" not in html
    if not Path(CHROMIUM).exists():
        skip_or_fail("chromium is not installed (apt-get install chromium)")
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    r = open_page(page)
    assert r.console_errors == []
    assert all(u.startswith(("file://", "data:")) for u in r.requests), r.requests
    charts = html.count('<svg role="img"')
    assert charts >= 2 + len(design.deployments) and r.svg_img_count == charts == r.svg_titled_count
