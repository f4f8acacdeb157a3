"""Benchmark: simulate 100,000 requests on one core; requests simulated per second.

Compared in the same run with a baseline that is the least any event-driven simulator of these
requests must do in plain Python: push and pop one arrival and one finish event per request on a
heap (400,000 heap operations). Run: `python bench/bench_simulate.py [--requests N] [--roofline]`.
"""

from __future__ import annotations

import argparse
import heapq
import time
from dataclasses import dataclass

from garrison.simulate import EngineConfig, LengthDist, Workload, generate_requests, simulate, summarise
from garrison.sizing.step_time import StepTimeModel


@dataclass(frozen=True)
class AffineStep:
    """A step-time function as cheap as a line: 4 ms + 20 us per sequence + 20 ns per KV token read +
    60 us per prefill token (roughly an 8B model on one H100)."""

    kv_capacity_tokens: int = 400_000
    block_size: int = 16

    def step_time_s(
        self, decode_seqs: int, decode_context_tokens: int, prefill_tokens: int, prefill_context_tokens: int
    ) -> float:
        return 0.004 + 2e-5 * decode_seqs + 2e-8 * decode_context_tokens + 6e-5 * prefill_tokens


def roofline() -> StepTimeModel:
    """The sizing roofline for Llama-3.1-8B bf16 on one H100 SXM (vLLM defaults)."""
    from garrison.catalogue import load_catalogue
    from garrison.modelspec import load_model_spec
    from garrison.sizing.estimate import EstimateOptions, estimate, step_model_for

    cat = load_catalogue()
    spec, fmt, gpu = load_model_spec("llama-3.1-8b-instruct"), cat.quant("bf16"), cat.gpu("h100-sxm")
    est = estimate(spec, fmt, gpu=gpu, opts=EstimateOptions(input_len=512, output_len=128))
    return step_model_for(spec, fmt, est, gpu=gpu)


def baseline_s(n: int) -> float:
    """Seconds for 2n heap pushes and 2n pops of (time, id) events: the event-loop floor."""
    t0 = time.process_time()
    heap: list[tuple[float, int]] = []
    for i in range(n):
        heapq.heappush(heap, (i * 0.1, i))
    while heap:
        t, i = heapq.heappop(heap)
        if i >= 0:
            heapq.heappush(heap, (t + 1.0, -1 - i))
    return time.process_time() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--roofline", action="store_true", help="time with the sizing roofline as the step model")
    args = ap.parse_args()
    n = args.requests
    base = baseline_s(n)
    print(f"baseline: {4 * n:,} heap operations in {base:.3f} s CPU")
    models: list[tuple[str, StepTimeModel]] = [("affine step model", AffineStep())]
    if args.roofline:
        models.append(("sizing roofline (Llama-3.1-8B, H100)", roofline()))
    eng = EngineConfig(max_num_seqs=256, max_num_batched_tokens=8192)
    for name, model in models:
        for rate in (5.0, 20.0, 35.0):
            w = Workload(
                rate_per_s=rate,
                num_requests=n,
                input_len=LengthDist.parse("lognormal:512:0.6"),
                output_len=LengthDist.parse("lognormal:128:0.6"),
            )
            reqs = generate_requests(w, seed=1)
            t0, c0 = time.perf_counter(), time.process_time()
            trace = simulate(reqs, eng, model)
            cpu, wall = time.process_time() - c0, time.perf_counter() - t0
            s = summarise(trace, rate)
            print(
                f"{name}, {rate:g} req/s: {n:,} requests ({trace.steps:,} engine steps, mean batch "
                f"{s.mean_running:.1f}) in {cpu:.2f} s CPU / {wall:.2f} s wall = {n / cpu:,.0f} requests/s "
                f"= {cpu / base:.1f}x baseline; P95 TTFT {s.ttft_ms.p95:.0f} ms"
            )


if __name__ == "__main__":
    main()
