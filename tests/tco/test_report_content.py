"""report.html content: every section, determinism, self-containment, text alternatives."""

from __future__ import annotations

import re

from garrison.cost import compute_tco
from garrison.report import render_report, report_files
from garrison.report.charts import Series, line_chart

from .conftest import H100, make_design, make_gpu


def test_sections_and_numbers(design, gpus, prices):
    t = compute_tco(design, prices, gpus)
    html = render_report(design, t, [{"metric": "tok/s", "predicted": 100, "measured": 90}])
    for section in (
        "summary",
        "memory",
        "throughput",
        "load",
        "tco",
        "bench",
        "alternatives",
        "escalations",
        "assumptions",
    ):
        assert f'<section id="{section}">' in html
    assert "PCIe all-reduce made ITL miss the target" in html  # why the alternative lost
    assert "over budget by 5 %" in html and "raise the budget" in html  # escalation + options
    assert f"month {t.breakeven_month}" in html
    assert "-10 %" in html  # measured vs predicted error column


def test_deterministic_and_self_contained(design, gpus, prices):
    t = compute_tco(design, prices, gpus)
    a, b = render_report(design, t), render_report(design, t)
    assert a == b
    # nothing that a browser would fetch: no scripts, no external links, fonts or images
    assert "<script" not in a and "<link" not in a and "@import" not in a and "<img" not in a
    assert not re.search(r'(?:src|href)="(?!#)', a)
    assert "url(http" not in a and 'xlink:href="http' not in a
    ids = re.findall(r'\bid="([^"]+)"', a)
    assert len(ids) == len(set(ids)), "element ids collide between charts"


def test_every_chart_has_a_data_table(design, gpus, prices):
    html = render_report(design, compute_tco(design, prices, gpus))
    assert (
        html.count("<summary>Data table</summary>") >= html.count('<svg role="img"') - 1
    )  # throughput shares


def test_chart_svg_is_accessible():
    svg = line_chart("c1", "A & B", "desc <x>", "x axis", "y axis", [Series("s", [1, 2], [3, 4])])
    assert svg.startswith('<svg role="img" aria-labelledby="c1-title c1-desc"')
    assert '<title id="c1-title">A &amp; B</title>' in svg and "desc &lt;x&gt;" in svg
    assert "x axis" in svg and "y axis" in svg  # text kept as text (svg.fonttype none)


def test_report_files_names_the_missing_tco(monkeypatch):
    from garrison.cost import inputs
    from garrison.errors import InputError

    def no_catalogue() -> None:
        raise InputError("catalogue", "not installed", "install it")

    monkeypatch.setattr(inputs, "catalogue_prices", no_catalogue)
    files = report_files(make_design())
    assert (
        list(files) == ["report.html"]
        and "TCO not available: catalogue: not installed" in files["report.html"]
    )
    files = report_files(make_design(), tco=compute_tco(make_design(), [], {H100: make_gpu()}))
    assert "cloud price list is empty" in files["report.html"]
