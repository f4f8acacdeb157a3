"""plan saves the design to the history; render --runs puts measured against predicted in report.html."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from garrison.bench.results import BenchResult, RequestRecord, Workload, summarise_step
from garrison.store import Store

ROOT = Path(__file__).resolve().parents[2]


def _run(model: str) -> BenchResult:
    recs = []
    for i in range(8):
        t0 = i * 0.1
        times = [t0 + 0.2 + k * 0.03 for k in range(64)]
        recs.append(
            RequestRecord(
                start_s=t0,
                end_s=times[-1],
                first_token_s=times[0],
                token_times_s=times,
                input_tokens=1800,
                output_tokens=64,
                tokens_from_usage=True,
            )
        )
    step = summarise_step(recs, mode="concurrency", concurrency=4)
    wl = Workload(endpoint="completions", input_len="1800", output_len="64", prompt_source="test")
    return BenchResult(url="https://gw:8443", model=model, workload=wl, steps=(step,))


def test_plan_saves_design_and_render_reports_measured(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "garrison",
            "plan",
            str(ROOT / "examples" / "code-team-10.yaml"),
            "--out",
            str(out),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert "saved as design" in r.stderr
    store = Store()
    assert store.list_all()  # the design is in $GARRISON_HOME's database
    run_id = store.save_bench_run(_run("qwen2.5-coder-7b-instruct"))
    out2 = tmp_path / "with-runs"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "garrison",
            "render",
            str(out / "design.json"),
            "--out",
            str(out2),
            "--runs",
            str(run_id),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    html = (out2 / "report.html").read_text()
    assert "Measured vs predicted" in html
    assert "Measured vs predicted" not in (out / "report.html").read_text()
