"""Continuous-batching simulation: requests -> engine scheduler steps (timed by a StepTimeModel) -> latencies.

Public API: `Workload`/`LengthDist`/`generate_requests` (traffic), `EngineConfig`/`simulate` (one
replica), `summarise`/`Slo`/`SimSummary` (numbers), and in `garrison.simulate.capacity`
`replicas_for_slo`, `trigger_loads`, `run_load_point`.
"""

from __future__ import annotations

from garrison.simulate.engine import EngineConfig, SimTrace, simulate
from garrison.simulate.results import Percentiles, SimSummary, Slo, summarise
from garrison.simulate.workload import LengthDist, Requests, Workload, generate_requests

__all__ = [
    "EngineConfig",
    "LengthDist",
    "Percentiles",
    "Requests",
    "SimSummary",
    "SimTrace",
    "Slo",
    "Workload",
    "generate_requests",
    "simulate",
    "summarise",
]
