"""report.html opened in real headless Chromium: no console errors, no request leaves the page,
every chart present and labelled. The harness itself is checked against a page that does fetch."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from garrison.cost import compute_tco
from garrison.report import render_report
from garrison.testing.ci import skip_or_fail

from .browser import CHROMIUM, open_page
from .conftest import H100, make_deployment, make_design, make_gpu


@pytest.fixture(autouse=True)
def _chromium() -> None:
    if not Path(CHROMIUM).exists():
        skip_or_fail("chromium is not installed (apt-get install chromium)")


BENCH = [
    {"metric": "chat output tok/s", "unit": "tok/s", "predicted": 1000, "measured": 870},
    {"metric": "chat TTFT P95", "unit": "ms", "predicted": 180, "measured": 240},
]


def _expected_charts(html: str) -> int:
    return len(re.findall(r'<svg role="img"', html))


def test_report_in_chromium(tmp_path, prices):
    d = make_design(deployments=(make_deployment(), make_deployment("nightly", "batch", rpm=5, curve=False)))
    html = render_report(d, compute_tco(d, prices, {H100: make_gpu()}), BENCH)
    # memory + 2 x (throughput, ITL) + 1 load curve + TCO + bench
    assert _expected_charts(html) == 8
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    r = open_page(page, screenshot=True)
    assert r.console_errors == []
    assert r.requests and all(u.startswith(("file://", "data:")) for u in r.requests), r.requests
    assert r.svg_img_count == 8 and r.svg_titled_count == 8
    assert r.screenshot_png.startswith(b"\x89PNG") and len(r.screenshot_png) > 10_000


def test_report_without_prices_still_renders(tmp_path, prices):
    d = make_design(gpu_price=None)
    t = compute_tco(d, prices, {H100: make_gpu(price=None)})
    html = render_report(d, t)
    assert "has no price in the catalogue" in html and "Cumulative cost" not in html
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    r = open_page(page)
    assert r.console_errors == [] and r.svg_img_count == _expected_charts(html) == 4


def test_harness_catches_requests_and_console_errors(tmp_path):
    page = tmp_path / "leaky.html"
    page.write_text(
        '<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/x.png" alt="x">'
        "<script>console.error('boom')</script></body></html>"
    )
    r = open_page(page)
    assert any(u.startswith("http://127.0.0.1:9/") for u in r.requests)
    assert any("boom" in e for e in r.console_errors)
