"""Planner speed on the largest example, against a baseline measured in the same run.

Baseline: one `estimate` of the same model on one GPU (the unit of work the planner repeats).
Prints candidates evaluated, plan time, and plan time / baseline (how many estimates a plan costs).
Target (issue "Garrison core"): the largest example plans in < 1 s.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from garrison.catalogue import load_catalogue
from garrison.cli.common import load_model
from garrison.modelspec import load_model_spec
from garrison.planner import plan
from garrison.requirements_file import load_requirements
from garrison.sizing.estimate import EstimateOptions, estimate

ROOT = Path(__file__).resolve().parents[1]


def _largest_example() -> Path:
    best, size = ROOT / "examples" / "enterprise-150.yaml", 0
    for p in sorted((ROOT / "examples").glob("*.yaml")):
        req = load_requirements(p) if "handoff" not in p.read_text() else None
        n = sum(len(u.models) for u in req.use_cases) if req else 0
        if n > size:
            best, size = p, n
    return best


def main() -> None:
    cat = load_catalogue()
    path = _largest_example()
    req = load_requirements(path)
    plan(req, catalogue=cat, load_model=load_model)  # warm caches (catalogue, configs)
    spec = load_model_spec(cat.model("qwen3-32b").id)
    fmt = cat.quant("bf16")
    gpu = cat.gpu("h100 sxm")
    base = []
    for _ in range(50):
        t = time.perf_counter()
        estimate(spec, fmt, gpu=gpu, opts=EstimateOptions(max_model_len=16384))
        base.append(time.perf_counter() - t)
    def median_plan(simulate: bool) -> tuple[float, int]:
        runs, n = [], 0
        for _ in range(3):
            t = time.perf_counter()
            d = plan(req, catalogue=cat, load_model=load_model, simulate=simulate)
            runs.append(time.perf_counter() - t)
            n = int(d.extra.get("candidates_evaluated", "0"))
        return statistics.median(runs), n

    b = statistics.median(base)
    search, n = median_plan(simulate=False)
    full, _ = median_plan(simulate=True)
    print(f"example: {path.name}")
    print(f"candidates evaluated: {n}")
    print(f"baseline (one estimate): {b * 1e3:.2f} ms")
    print(
        f"search (median of 3): {search * 1e3:.0f} ms -> {search / b:.0f}x one estimate, "
        f"{search / max(n, 1) * 1e3:.2f} ms per candidate; target < 1 s: {'met' if search < 1 else 'NOT met'}"
    )
    print(
        f"search + simulation of the chosen deployments (median of 3): {full * 1e3:.0f} ms "
        f"({full / search:.1f}x the search)"
    )


if __name__ == "__main__":
    main()
