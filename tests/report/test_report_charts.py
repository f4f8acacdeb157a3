"""Charts: no mathtext in any SVG (the log axis printed `$\\mathdefault{10^{3}}$`), one performance model per
chart, and that model is the planner's (its single-stream speed is the estimate's)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from garrison.design import Design
from garrison.report import planner_step_model, report_files
from garrison.report.concurrency import concurrency_curve

ROOT = Path(__file__).resolve().parents[2]
CASES = [ROOT / "tests" / "handoff" / "data" / "analyst.yaml", ROOT / "examples" / "edge-cpu.yaml"]


@cache
def _planned(path: Path) -> tuple[Design, str]:
    from garrison.cli.plan_cmd import run_plan

    d = run_plan(path)
    return d, report_files(d)["report.html"]


def _svgs(html: str) -> list[str]:
    return re.findall(r"<svg .*?</svg>", html, flags=re.S)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_no_mathtext_in_any_svg(path: Path) -> None:
    _, html = _planned(path)
    svgs = _svgs(html)
    assert any("log scale" in s for s in svgs), "no log-axis chart to check"
    for svg in svgs:
        texts = re.findall(r">([^<>]+)</text>", svg)
        for t in texts:
            assert "mathdefault" not in t and not re.search(r"\$.*\^|\\\\|\{\d", t), t
        assert "mathdefault" not in svg


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_one_model_per_chart_and_it_is_the_planners(path: Path) -> None:
    d, html = _planned(path)
    throughput = [s for s in _svgs(html) if "vs concurrency" in s]
    assert len(throughput) == 2 * len(d.deployments)
    for svg in throughput:
        title = re.search(r"<title[^>]*>([^<]+)</title>", svg)
        assert title is not None
        named = [x for x in d.deployments if f"{x.use_case}: {x.model_id}," in title.group(1)]
        assert len(named) == 1, f"chart {title.group(1)!r} is not about exactly one deployment"
        legends = set(re.findall(r">(step-time model \(decode\)|sizing estimate)</text>", svg))
        assert len(legends) == 1, f"{title.group(1)!r} mixes performance models: {legends}"
    for dep in d.deployments:
        model = planner_step_model(d, dep)
        assert model is not None, f"the planner's step model for {dep.use_case} could not be rebuilt"
        curve = concurrency_curve(model, dep)
        # the curve's single stream is the sizing estimate's: the same model, the same efficiency
        assert curve[0].output_tokens_per_s == pytest.approx(
            dep.estimate.decode_tokens_per_s_single, rel=0.05
        )
        row = f"<td>1</td><td>{curve[0].output_tokens_per_s:,.1f}</td>"
        assert row in html, f"the chart's data table for {dep.use_case} is not the planner's curve"
