"""report.html content: every section, determinism, self-containment, text alternatives."""

from __future__ import annotations

import itertools
import re

import pytest

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


class LinearStep:
    """A step-time model with a fixed weight read plus KV read per token (the roofline's decode shape)."""

    kv_capacity_tokens = 200_000
    block_size = 16

    def step_time_s(
        self, decode_seqs: int, decode_context_tokens: int, prefill_tokens: int, prefill_context_tokens: int
    ) -> float:
        return 0.010 + decode_context_tokens * 1e-7


def test_concurrency_curve_from_a_step_model(design, gpus, prices):
    from garrison.report import concurrency_curve

    dep = design.deployments[0]
    pts = concurrency_curve(LinearStep(), dep)
    # ctx = 1000 + 250; 128 x 1250 = 160k tokens fits, so levels 1..128
    assert [p.concurrency for p in pts] == [1, 2, 4, 8, 16, 32, 64, 128]
    assert pts[0].itl_ms == pytest.approx(10.125)
    assert pts[3].output_tokens_per_s == pytest.approx(8 / (0.010 + 8 * 1250 * 1e-7))
    assert all(b.output_tokens_per_s > a.output_tokens_per_s for a, b in itertools.pairwise(pts))
    html = render_report(design, compute_tco(design, prices, gpus), curves={"chat": pts})
    assert "step-time model (decode)" in html
