"""Benchmark: the simulator before and after its split into replica state + scheduler policies.

Runs the pre-refactor `simulate()` (read from git history, commit BEFORE) and the current one on the
same 100,000-request workloads in the same run, checks that they produce the same trace, and prints
CPU seconds and the ratio after / before. Target (issue 12): 100k requests in < 5 s.
Run: `python bench/bench_simulate_refactor.py [--requests N]` from a git checkout.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from garrison.simulate import EngineConfig, LengthDist, Workload, generate_requests
from garrison.simulate import simulate as simulate_after

ROOT = Path(__file__).resolve().parents[1]
BEFORE = "f5c8167"  # last commit with the single 468-line simulate()

sys.path.insert(0, str(ROOT / "bench"))
from bench_simulate import AffineStep  # noqa: E402


def _load_before():  # type: ignore[no-untyped-def]
    text = subprocess.run(
        ["git", "show", f"{BEFORE}:src/garrison/simulate/engine.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "engine_before.py"
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("engine_before", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["engine_before"] = mod  # dataclasses look their module up while the class is built
    spec.loader.exec_module(mod)
    return mod


def _same(a, b) -> bool:  # type: ignore[no-untyped-def]
    for f in ("first_token_s", "finish_s", "itl_gap_s", "itl_weight", "step_start_s", "output_tokens"):
        x, y = getattr(a, f), getattr(b, f)
        if x.shape != y.shape or not np.allclose(x, y, equal_nan=True, rtol=0, atol=1e-12):
            return False
    return bool(a.steps == b.steps and a.preemptions == b.preemptions and a.rejected == b.rejected)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--requests", type=int, default=100_000)
    args = ap.parse_args()
    before = _load_before()
    model = AffineStep()
    cases = [
        ("vllm", 5.0),
        ("vllm", 20.0),
        ("vllm", 35.0),
        ("sglang", 20.0),
        ("llamacpp", 1.0),
    ]
    total_b = total_a = 0.0
    for sched, rate in cases:
        eng_a = EngineConfig(
            scheduler=sched,  # type: ignore[arg-type]
            max_num_seqs=8 if sched == "llamacpp" else 256,
            max_num_batched_tokens=8192,
            max_model_len=16384 if sched == "llamacpp" else 0,
        )
        eng_b = before.EngineConfig(**eng_a.model_dump())
        w = Workload(
            rate_per_s=rate,
            num_requests=args.requests,
            input_len=LengthDist.parse("lognormal:512:0.6"),
            output_len=LengthDist.parse("lognormal:128:0.6"),
        )
        reqs = generate_requests(w, seed=1)
        c0 = time.process_time()
        tb = before.simulate(reqs, eng_b, model)
        cb = time.process_time() - c0
        c0 = time.process_time()
        ta = simulate_after(reqs, eng_a, model)
        ca = time.process_time() - c0
        total_b += cb
        total_a += ca
        print(
            f"{sched:9s} {rate:5.1f} req/s: {args.requests:,} requests, {ta.steps:,} steps: "
            f"before {cb:.2f} s CPU, after {ca:.2f} s CPU = {ca / cb:.2f}x; "
            f"same trace: {'yes' if _same(ta, tb) else 'NO'}"
        )
    print(f"total: before {total_b:.2f} s, after {total_a:.2f} s = {total_a / total_b:.2f}x")


if __name__ == "__main__":
    main()
