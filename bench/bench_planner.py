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
    runs = []
    design = None
    for _ in range(5):
        t = time.perf_counter()
        design = plan(req, catalogue=cat, load_model=load_model)
        runs.append(time.perf_counter() - t)
    assert design is not None
    b, p = statistics.median(base), statistics.median(runs)
    n = int(design.extra.get("candidates_evaluated", "0"))
    print(f"example: {path.name}")
    print(f"candidates evaluated: {n}")
    print(f"baseline (one estimate): {b * 1e3:.2f} ms")
    print(
        f"plan (median of 5): {p * 1e3:.0f} ms  -> {p / b:.0f}x one estimate, {p / max(n, 1) * 1e3:.2f} ms per candidate"
    )
    print(f"target < 1 s: {'met' if p < 1 else 'NOT met'}")


if __name__ == "__main__":
    main()
