"""Scheduler behaviour: batching, chunked prefill, KV blocks and preemption, llama.cpp slots, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from garrison.errors import InputError
from garrison.simulate import (
    EngineConfig,
    LengthDist,
    Requests,
    Workload,
    generate_requests,
    simulate,
    summarise,
)
from garrison.simulate.results import request_metrics

from .conftest import AffineStep, ConstantStep


def _reqs(arrivals: list[float], inp: list[int], out: list[int], cached: list[int] | None = None) -> Requests:
    return Requests(
        np.array(arrivals, dtype=float), np.array(inp), np.array(out), np.array(cached or [0] * len(inp))
    )


def test_single_request_timeline() -> None:
    """A 100-token prompt with budget 40 prefills in 3 chunks, then decodes 4 more tokens."""
    reqs = _reqs([0.0], [100], [5])
    trace = simulate(reqs, EngineConfig(max_num_seqs=4, max_num_batched_tokens=40), ConstantStep(0.01))
    assert trace.first_token_s[0] == pytest.approx(0.03)
    assert trace.finish_s[0] == pytest.approx(0.07)
    assert trace.steps == 7


def test_decodes_share_steps() -> None:
    """Two requests arriving together decode in the same steps: both finish at the same time."""
    reqs = _reqs([0.0, 0.0], [10, 10], [50, 50])
    trace = simulate(reqs, EngineConfig(max_num_seqs=4, max_num_batched_tokens=64), ConstantStep(0.01))
    assert trace.finish_s[0] == pytest.approx(0.5)
    assert trace.finish_s[1] == pytest.approx(0.5)


def test_max_num_seqs_queues_the_rest() -> None:
    reqs = _reqs([0.0] * 3, [10] * 3, [10] * 3)
    trace = simulate(reqs, EngineConfig(max_num_seqs=2, max_num_batched_tokens=64), ConstantStep(0.01))
    assert sorted(trace.finish_s.tolist()) == pytest.approx([0.1, 0.1, 0.2])


def test_prefix_cache_saves_prefill_steps() -> None:
    cold = simulate(
        _reqs([0.0], [1000], [2]),
        EngineConfig(max_num_seqs=4, max_num_batched_tokens=256),
        ConstantStep(0.01),
    )
    warm = simulate(
        _reqs([0.0], [1000], [2], [800]),
        EngineConfig(max_num_seqs=4, max_num_batched_tokens=256),
        ConstantStep(0.01),
    )
    assert cold.first_token_s[0] == pytest.approx(0.04)  # 1000 tokens / 256 per step
    assert warm.first_token_s[0] == pytest.approx(0.01)  # 200 left (800 cached = 50 blocks)


def test_kv_exhaustion_preempts_newest_and_all_finish() -> None:
    """20 x 1000 tokens cannot all hold KV in 8000 tokens: preemption, then everyone finishes."""
    model = ConstantStep(0.01, kv_capacity_tokens=8000, block_size=16)
    reqs = _reqs([0.0] * 20, [200] * 20, [800] * 20)
    trace = simulate(reqs, EngineConfig(max_num_seqs=64, max_num_batched_tokens=4096), model)
    assert trace.preemptions > 0
    assert not np.isnan(trace.finish_s).any()
    assert trace.rejected == 0
    # the oldest request is never the victim: it runs without a break
    assert trace.finish_s[0] == pytest.approx(0.01 * 800, rel=1e-9)


def test_too_long_for_kv_is_rejected_not_stalled() -> None:
    model = ConstantStep(0.01, kv_capacity_tokens=1000, block_size=16)
    trace = simulate(_reqs([0.0, 0.0], [2000, 10], [10, 10]), EngineConfig(), model)
    assert trace.rejected == 1
    assert np.isnan(trace.finish_s[0]) and not np.isnan(trace.finish_s[1])


def test_llamacpp_slots_and_context() -> None:
    """4 slots of 2048 context: 8 simultaneous requests run 4 at a time; long prompts are refused."""
    model = ConstantStep(0.01, kv_capacity_tokens=8192, block_size=1)
    eng = EngineConfig(scheduler="llamacpp", max_num_seqs=4, max_num_batched_tokens=2048)
    trace = simulate(_reqs([0.0] * 8, [100] * 8, [20] * 8), eng, model)
    assert sorted(trace.finish_s.tolist()) == pytest.approx([0.2] * 4 + [0.4] * 4)
    refused = simulate(_reqs([0.0], [3000], [5]), eng, model)
    assert refused.rejected == 1
    truncated = simulate(_reqs([0.0], [2000], [500]), eng, model)
    assert truncated.output_tokens[0] == 48


def test_sglang_separates_prefill_and_decode() -> None:
    """SGLang runs a prefill batch while decodes wait: the decoding request's ITL sees the gap."""
    reqs = _reqs([0.0, 0.05], [10, 10], [20, 5])
    vllm = simulate(
        reqs, EngineConfig(scheduler="vllm", max_num_seqs=4, max_num_batched_tokens=64), ConstantStep(0.01)
    )
    sgl = simulate(
        reqs, EngineConfig(scheduler="sglang", max_num_seqs=4, max_num_batched_tokens=64), ConstantStep(0.01)
    )
    assert vllm.finish_s[0] == pytest.approx(0.2)
    assert sgl.finish_s[0] == pytest.approx(0.21)
    assert sgl.itl_gap_s.max() == pytest.approx(0.02)


def test_fast_forward_matches_step_by_step() -> None:
    """The closed-form decode runs give the same times as stepping one by one (a non-affine model)."""

    class Wobbly(AffineStep):
        def step_time_s(self, d: int, dc: int, p: int, pc: int) -> float:
            return super().step_time_s(d, dc, p, pc) + 1e-6 * (dc % 7)

    w = Workload(
        rate_per_s=20,
        num_requests=500,
        input_len=LengthDist.parse("uniform:50-500"),
        output_len=LengthDist.parse("uniform:10-200"),
    )
    reqs = generate_requests(w, 1)
    eng = EngineConfig(max_num_seqs=32, max_num_batched_tokens=1024)
    exact = simulate(reqs, eng, Wobbly())  # never affine: always stepped
    affine = AffineStep()
    fast = simulate(reqs, eng, affine)

    # the affine model stepped one by one (as the wobbly path does) must agree with its fast runs
    class Stepped(AffineStep):
        def step_time_s(self, d: int, dc: int, p: int, pc: int) -> float:
            return super().step_time_s(d, dc, p, pc) * (1 + 1e-12 * (dc % 3))  # breaks the line check

    slow = simulate(reqs, eng, Stepped())
    np.testing.assert_allclose(fast.finish_s, slow.finish_s, rtol=1e-7)
    np.testing.assert_allclose(fast.first_token_s, slow.first_token_s, rtol=1e-7)
    assert fast.steps == slow.steps
    assert np.all(exact.finish_s >= exact.first_token_s)


def test_same_seed_same_result_and_itl_accounts_every_token() -> None:
    w = Workload(
        rate_per_s=15,
        num_requests=2000,
        input_len=LengthDist.parse("lognormal:300:0.5"),
        output_len=LengthDist.parse("normal:80:30:2-400"),
    )
    eng = EngineConfig(max_num_seqs=16, max_num_batched_tokens=512)
    a = simulate(generate_requests(w, 5), eng, AffineStep(kv_capacity_tokens=20_000))
    b = simulate(generate_requests(w, 5), eng, AffineStep(kv_capacity_tokens=20_000))
    np.testing.assert_array_equal(a.finish_s, b.finish_s)
    # one gap per output token after the first, preempted or not
    assert a.itl_weight.sum() == pytest.approx(float((a.output_tokens - 1).sum()))
    s = summarise(a, 15)
    assert s.completed == 2000 and s.ttft_ms.p50 <= s.ttft_ms.p95 <= s.ttft_ms.p99
    ttft, _, e2e = request_metrics(a)
    assert np.all(e2e >= ttft)


def test_engine_config_rejects_small_budget() -> None:
    with pytest.raises(InputError, match="max_num_batched_tokens"):
        EngineConfig(max_num_seqs=256, max_num_batched_tokens=128)


def test_closed_loop_keeps_concurrency_and_counts_queue_time() -> None:
    """4 clients, one slot: each request waits for the three ahead of it; the queue is accounted."""
    reqs = _reqs([0.0] * 12, [10] * 12, [10] * 12)
    eng = EngineConfig(max_num_seqs=1, max_num_batched_tokens=64)
    t = simulate(reqs, eng, ConstantStep(0.01), concurrency=4)
    assert t.arrival_s[:4].tolist() == [0.0] * 4
    # request k >= 4 is sent when request k-4 finishes
    np.testing.assert_allclose(t.arrival_s[4:], t.finish_s[:-4])
    _, _, e2e = request_metrics(t)
    assert e2e[6] == pytest.approx(0.4)  # three ahead of it, then its own 10 steps
    # 3 waiting for 0.9 s, then 2, 1, 0 for 0.1 s each, over 1.2 s: (2.7 + 0.2 + 0.1) / 1.2
    assert t.mean_waiting == pytest.approx(2.5)
    assert t.mean_running == pytest.approx(1.0)


def test_max_model_len_is_per_request_for_every_engine() -> None:
    """One meaning everywhere: a llama.cpp slot holds max_model_len tokens (n_ctx = that x slots)."""
    from garrison.simulate.setup import engine_config

    eng = engine_config("llama.cpp", 4, 2048, 8192)
    assert eng.scheduler == "llamacpp" and eng.max_model_len == 8192
    assert engine_config("llama-server", 4, 2048, 8192).scheduler == "llamacpp"
    assert engine_config("sglang", 256, 8192, 8192).scheduler == "sglang"
    assert engine_config("vllm", 256, 8192, 8192).max_model_len == 8192
