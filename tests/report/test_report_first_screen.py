"""report.html in real headless Chromium (1200 x 900 window): the first screen holds the verdict for a
decision maker (what to buy, what it costs, what it does at the design load, the TCO against the
cheapest and the strongest cloud option, the break-even or why none, risks and escalations), and the
screenshot of that screen is written next to the test's files for a person to look at."""

from __future__ import annotations

from pathlib import Path

import pytest

from garrison.cost import compute_tco
from garrison.design import Escalation
from garrison.report import report_files
from garrison.testing.ci import skip_or_fail
from tco.browser import CHROMIUM, open_page
from tco.conftest import H100, make_deployment, make_design, make_gpu, make_price

ROOT = Path(__file__).resolve().parents[2]
PLANNED = [
    ROOT / "tests" / "handoff" / "data" / "analyst.yaml",  # an analyst's hand-off, two deployments
    ROOT / "examples" / "enterprise-150.yaml",  # three deployments, four server lines
    ROOT / "examples" / "airgapped-regulated.yaml",
]

PROBES = {
    "viewport": "window.innerHeight",
    "verdict_top": "document.getElementById('verdict').getBoundingClientRect().top",
    "verdict_bottom": "document.getElementById('verdict').getBoundingClientRect().bottom",
    "verdict_text": "document.getElementById('verdict').innerText",
    "first_section": "document.querySelector('main > section').id",
    "tiles": "[...document.querySelectorAll('#verdict .tile')].map(t => t.innerText)",
}
MUST_SAY = (
    "Verdict",
    "What to buy",
    "Hardware (capex)",
    "Running cost",
    "TCO over",
    "Cheapest cloud",
    "Strongest cloud",
    "Break-even",
    "At the design load",
    "Risks and escalations",
)


@pytest.fixture(autouse=True)
def _chromium() -> None:
    if not Path(CHROMIUM).exists():
        skip_or_fail("chromium is not installed (apt-get install chromium)")


def _open(html: str, tmp_path: Path, name: str) -> dict[str, object]:
    page = tmp_path / f"{name}.html"
    page.write_text(html, encoding="utf-8")
    r = open_page(page, screenshot=True, evaluate=PROBES)
    (tmp_path / f"{name}-first-screen.png").write_bytes(r.screenshot_png)
    assert r.console_errors == []
    assert r.screenshot_png.startswith(b"\x89PNG") and len(r.screenshot_png) > 20_000
    return r.values


def _assert_first_screen(v: dict[str, object]) -> None:
    assert v["first_section"] == "verdict", "the verdict is not the first thing on the page"
    assert float(v["verdict_top"]) < 150  # type: ignore[arg-type]
    assert float(v["verdict_bottom"]) <= float(v["viewport"]), (  # type: ignore[arg-type]
        f"the verdict ends at {v['verdict_bottom']} px, below the first screen ({v['viewport']} px)"
    )
    text = str(v["verdict_text"])
    for phrase in MUST_SAY:
        assert phrase in text, f"the first screen does not say {phrase!r}"


@pytest.mark.parametrize("path", PLANNED, ids=[p.stem for p in PLANNED])
def test_planned_report_first_screen(path: Path, tmp_path: Path) -> None:
    from garrison.cli.plan_cmd import run_plan

    design = run_plan(path)
    html = report_files(design)["report.html"]
    v = _open(html, tmp_path, path.stem)
    _assert_first_screen(v)
    text = str(v["verdict_text"])
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines[1].startswith(("Buy ", "Not ready to buy"))  # the decision comes first
    for x in design.deployments:
        assert x.use_case in text and x.model_id in text
    for s in design.servers:
        assert s.name in text


def test_escalated_design_shows_escalations_on_the_first_screen(tmp_path: Path) -> None:
    esc = tuple(
        Escalation(
            kind="budget", field=f"budget.capex_usd.{i}", problem=f"over budget ({i})", options=("raise",)
        )
        for i in range(6)
    )
    d = make_design(deployments=(make_deployment(), make_deployment("nightly", "batch", rpm=5, curve=False)))
    d = d.model_copy(update={"escalations": esc})
    prices = [make_price("openai", "gpt-6-sol", 2.0, 10.0), make_price("together.ai", "q", 0.1, 0.5)]
    tco = compute_tco(d, prices, {H100: make_gpu()})
    v = _open(report_files(d, tco=tco)["report.html"], tmp_path, "escalated")
    _assert_first_screen(v)
    text = str(v["verdict_text"])
    assert "Not ready to buy: 6 requirement(s) cannot be met" in text
    assert "Escalation: budget (budget.capex_usd.0): over budget (0)" in text
    assert "more" in text  # the rest are linked, not pushed below the fold
