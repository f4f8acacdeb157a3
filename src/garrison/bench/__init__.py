"""Load generator for OpenAI-compatible servers: `run_bench(BenchConfig) -> BenchResult`.

Stages, in data-flow order: workload (prompts) -> client (one timed stream) -> run (concurrency,
Poisson rate, max, SLO search) + scrape (/metrics) -> results (aggregation, `--json` schema) ->
compare (against a Design) -> report (HTML).
"""

from __future__ import annotations

from garrison.bench.results import BENCH_SCHEMA_VERSION, BenchResult, Step
from garrison.bench.run import MAX, BenchConfig, run_bench

__all__ = ["BENCH_SCHEMA_VERSION", "MAX", "BenchConfig", "BenchResult", "Step", "run_bench"]
