"""Queueing sanity: with constant step times the simulator is an M/D/1 queue."""

from __future__ import annotations

import numpy as np
import pytest

from garrison.simulate import EngineConfig, LengthDist, Workload, generate_requests, simulate
from garrison.simulate.results import request_metrics

from .conftest import ConstantStep

S = 0.01  # seconds per step


def _one_slot_run(rho: float, out_tokens: int, n: int, seed: int):
    """One sequence at a time; each request takes out_tokens steps (prefill emits the first token)."""
    rate = rho / (S * out_tokens)
    w = Workload(
        rate_per_s=rate,
        num_requests=n,
        input_len=LengthDist.parse("10"),
        output_len=LengthDist.parse(str(out_tokens)),
    )
    reqs = generate_requests(w, seed)
    trace = simulate(reqs, EngineConfig(max_num_seqs=1, max_num_batched_tokens=64), ConstantStep(S))
    return reqs, trace


def test_matches_lindley_recursion_exactly() -> None:
    """Per request, the wait equals the single-server FIFO recursion W_n = max(0, W_{n-1} + D - A_n)."""
    out = 4
    reqs, trace = _one_slot_run(0.8, out, 5000, seed=3)
    ttft, _, e2e = request_metrics(trace)
    d = S * out
    gaps = np.diff(reqs.arrival_s, prepend=reqs.arrival_s[0])
    w = np.zeros(len(reqs))
    for i in range(1, len(reqs)):
        w[i] = max(0.0, w[i - 1] + d - gaps[i])
    np.testing.assert_allclose(ttft - S, w, atol=1e-9)
    np.testing.assert_allclose(e2e, w + d, atol=1e-9)


@pytest.mark.parametrize("out_tokens", [1, 3])
def test_mean_wait_is_md1_within_2_percent(out_tokens: int) -> None:
    """Pollaczek-Khinchine for deterministic service: Wq = rho * D / (2 (1 - rho))."""
    rho = 0.5
    d = S * out_tokens
    waits = []
    for seed in range(3):
        _, trace = _one_slot_run(rho, out_tokens, 100_000, seed)
        ttft, _, _ = request_metrics(trace)
        waits.append(float(np.mean(ttft - S)))
    theory = rho * d / (2 * (1 - rho))
    assert abs(np.mean(waits) / theory - 1) < 0.02


def test_littles_law_within_2_percent() -> None:
    """L = lambda W: time-average requests in the engine equals arrival rate x mean time in it."""

    class Batched(ConstantStep):
        pass

    w = Workload(
        rate_per_s=30,
        num_requests=20_000,
        input_len=LengthDist.parse("uniform:50-400"),
        output_len=LengthDist.parse("lognormal:60:0.7"),
    )
    reqs = generate_requests(w, 7)
    trace = simulate(reqs, EngineConfig(max_num_seqs=8, max_num_batched_tokens=512), Batched(0.02))
    _, _, e2e = request_metrics(trace)
    span = float(np.nanmax(trace.finish_s) - reqs.arrival_s[0])
    lam = len(reqs) / span
    in_system = trace.mean_waiting + trace.mean_running
    assert trace.mean_waiting > 0.1  # the queue is really exercised
    assert abs(in_system / (lam * float(np.mean(e2e))) - 1) < 0.02
