"""Invariants under load, searched with hypothesis over workloads and engine limits (common random numbers)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from garrison.simulate import EngineConfig, LengthDist, Requests, Workload, generate_requests, summarise
from garrison.simulate.capacity import simulate_deployment

from .conftest import AffineStep, ConstantStep

# derandomize: the same examples every run, so the suite is deterministic (no flaky CI)
FAST = settings(
    max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


def _scaled(reqs: Requests, factor: float) -> Requests:
    """The same requests arriving `factor` times as fast."""
    return Requests(reqs.arrival_s / factor, reqs.input_tokens, reqs.output_tokens, reqs.cached_tokens)


@FAST
@given(
    rate=st.floats(0.5, 40), factor=st.floats(1.05, 4.0), seed=st.integers(0, 10_000), out=st.integers(1, 60)
)
def test_more_load_never_lowers_p95_single_slot(rate: float, factor: float, seed: int, out: int) -> None:
    """One slot, constant steps: FIFO waits are monotone in the arrival gaps (Lindley), so every
    request's latency, hence P95, can only grow when the same requests come faster."""
    w = Workload(
        rate_per_s=rate,
        num_requests=400,
        input_len=LengthDist.parse("10"),
        output_len=LengthDist.parse(str(out)),
    )
    reqs = generate_requests(w, seed)
    eng = EngineConfig(max_num_seqs=1, max_num_batched_tokens=64)
    lo = summarise(simulate_deployment(reqs, eng, ConstantStep(0.01)), rate)
    hi = summarise(simulate_deployment(_scaled(reqs, factor), eng, ConstantStep(0.01)), rate * factor)
    assert hi.ttft_ms.p95 >= lo.ttft_ms.p95 - 1e-9
    assert hi.e2e_ms.p95 >= lo.e2e_ms.p95 - 1e-9


@FAST
@given(rate=st.floats(1, 60), factor=st.floats(1.5, 4.0), seed=st.integers(0, 10_000))
def test_more_load_never_lowers_p95_batched(rate: float, factor: float, seed: int) -> None:
    """Continuous batching with an affine step time: P95 TTFT and E2E do not fall with more load.

    Batching can make one request luckier, so this holds for the 95th percentile over a few hundred
    requests, not per request; factors below 1.5 are within sampling noise of P95 and not asserted.
    """
    w = Workload(
        rate_per_s=rate,
        num_requests=600,
        input_len=LengthDist.parse("lognormal:400:0.6"),
        output_len=LengthDist.parse("lognormal:100:0.6"),
    )
    reqs = generate_requests(w, seed)
    eng = EngineConfig(max_num_seqs=16, max_num_batched_tokens=1024)
    model = AffineStep()
    lo = summarise(simulate_deployment(reqs, eng, model), rate)
    hi = summarise(simulate_deployment(_scaled(reqs, factor), eng, model), rate * factor)
    assert hi.ttft_ms.p95 >= lo.ttft_ms.p95 * 0.98
    assert hi.e2e_ms.p95 >= lo.e2e_ms.p95 * 0.98


@FAST
@given(rate=st.floats(5, 80), replicas=st.integers(1, 4), seed=st.integers(0, 10_000))
def test_more_replicas_never_raise_p95(rate: float, replicas: int, seed: int) -> None:
    """Round-robin over k+1 replicas instead of k: every replica sees a thinner stream, P95 falls or holds.

    Not per request: a different split changes which requests share a batch, so at light load (no
    queue) P95 over 600 requests moves by a few percent either way; hypothesis found +2.1% at 4 -> 5
    replicas, 21 req/s. 5% covers that noise; a real regression (queueing) is far larger.
    """
    w = Workload(
        rate_per_s=rate,
        num_requests=600,
        input_len=LengthDist.parse("lognormal:400:0.6"),
        output_len=LengthDist.parse("lognormal:100:0.6"),
    )
    reqs = generate_requests(w, seed)
    eng = EngineConfig(max_num_seqs=8, max_num_batched_tokens=1024)
    model = AffineStep()
    fewer = summarise(simulate_deployment(reqs, eng, model, replicas), rate)
    more = summarise(simulate_deployment(reqs, eng, model, replicas + 1), rate)
    assert more.ttft_ms.p95 <= fewer.ttft_ms.p95 * 1.05 + 1e-9
    assert more.e2e_ms.p95 <= fewer.e2e_ms.p95 * 1.05 + 1e-9


def test_kv_limited_engine_preempts_and_throughput_plateaus() -> None:
    """With KV for ~6 sequences but max_num_seqs 64, output throughput stops growing with load and
    preemptions appear; with ample KV the same load is served without preemption."""
    small = AffineStep(kv_capacity_tokens=6 * 1200)
    big = AffineStep(kv_capacity_tokens=200 * 1200)
    eng = EngineConfig(max_num_seqs=64, max_num_batched_tokens=2048)
    base = Workload(
        rate_per_s=1.0,
        num_requests=1500,
        input_len=LengthDist.parse("400"),
        output_len=LengthDist.parse("800"),
    )
    unit = generate_requests(base, 11)
    tput = []
    pre = []
    for rate in (2.0, 8.0, 32.0):
        s = summarise(simulate_deployment(_scaled(unit, rate), eng, small), rate)
        tput.append(s.output_tokens_per_s)
        pre.append(s.preemptions)
    roomy = summarise(simulate_deployment(_scaled(unit, 32.0), eng, big), 32.0)
    assert pre[-1] > 0 and roomy.preemptions == 0
    assert tput[2] < 1.1 * tput[1]  # plateau: 4x the load, at most 10% more tokens
    assert roomy.output_tokens_per_s > 1.5 * tput[2]  # the plateau is the KV limit, not the GPU


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    scheduler=st.sampled_from(["vllm", "sglang", "llamacpp"]),
    kv_blocks=st.integers(4, 200),
    block=st.sampled_from([1, 4, 16]),
    seqs=st.integers(1, 12),
    budget_extra=st.integers(0, 600),
    rate=st.floats(1, 200),
    seed=st.integers(0, 1000),
    hit=st.sampled_from([0.0, 0.5]),
)
def test_every_request_finishes_or_is_refused(
    scheduler: str,
    kv_blocks: int,
    block: int,
    seqs: int,
    budget_extra: int,
    rate: float,
    seed: int,
    hit: float,
) -> None:
    """Tight KV, tiny budgets, bursts of long prompts: the loop never stalls, every request ends, KV
    is never over-committed, and each completed request emitted exactly its output tokens."""
    from garrison.simulate import simulate

    w = Workload(
        rate_per_s=rate,
        num_requests=120,
        input_len=LengthDist.parse("lognormal:120:1.0"),
        output_len=LengthDist.parse("lognormal:40:1.0"),
        burst_size=3,
        prefix_hit_rate=hit,
    )
    reqs = generate_requests(w, seed)
    model = AffineStep(kv_capacity_tokens=kv_blocks * block, block_size=block)
    eng = EngineConfig(scheduler=scheduler, max_num_seqs=seqs, max_num_batched_tokens=seqs + budget_extra)
    t = simulate(reqs, eng, model)
    done = ~np.isnan(t.finish_s)
    assert int(done.sum()) + t.rejected == len(reqs)
    assert np.all(t.step_kv_frac <= 1.0 + 1e-12)
    assert np.all(t.finish_s[done] >= t.first_token_s[done])
    assert t.itl_weight.sum() == float((t.output_tokens[done] - 1).sum())
