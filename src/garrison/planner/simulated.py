"""Replicas, load curve and scaling-trigger loads from the continuous-batching simulator.

The analytic sizing (candidates.size_option) ranks thousands of candidates quickly; the chosen one
is then checked by simulating its scheduler under Poisson arrivals, because queueing, chunked
prefill and the KV budget decide P95 latency, not the steady-state average.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from garrison.design import LoadPoint, ScalingTriggers
from garrison.planner.candidates import Sized
from garrison.simulate import LengthDist, Slo, Workload
from garrison.simulate.capacity import replicas_for_slo, sweep_rates, trigger_loads
from garrison.simulate.setup import engine_config
from garrison.sizing.efficiency import Efficiency
from garrison.sizing.estimate import step_model_for

# Request lengths vary around the typical value: lognormal with log-space sigma 0.5 (a 90% range of
# about 0.44x-2.3x the mean), the shape serving-trace studies report for chat prompts and replies.
LENGTH_SIGMA = 0.5
SIM_REQUESTS = 300  # per simulated load point: enough for a stable P95 at planning resolution
CURVE_FACTORS = (0.25, 0.5, 1.0, 1.5, 2.0)


@dataclass(frozen=True)
class SimulatedSizing:
    replicas: int
    rate_rpm: float  # the load simulated (growth headroom included)
    curve: tuple[LoadPoint, ...]
    triggers: ScalingTriggers
    notes: tuple[str, ...]


def _lengths(mean: int, cap: int) -> LengthDist:
    if mean <= 2:
        return LengthDist(kind="fixed", mean=max(1, mean))
    return LengthDist(kind="lognormal", mean=float(mean), sigma=LENGTH_SIGMA, low=1, high=max(2, cap))


def simulate_sizing(
    s: Sized,
    *,
    rate_rpm: float,
    input_tokens: int,
    output_tokens: int,
    ttft_target_ms: float | None,
    itl_target_ms: float | None,
    min_replicas: int,
    eff: Efficiency,
) -> SimulatedSizing | None:
    """Simulated replicas for the P95 targets at `rate_rpm` (headroom included), the curve and triggers."""
    if rate_rpm <= 0:
        return None
    o = s.option
    model = step_model_for(o.spec, o.fmt, s.est, gpu=o.gpu, cpu=o.cpu, efficiency=eff, sockets=o.sockets)
    # max_model_len is per request for every engine (a llama.cpp slot holds exactly that much)
    engine = engine_config(o.engine, s.est.max_num_seqs, s.est.max_num_batched_tokens, s.max_model_len)
    per_seq_ctx = s.max_model_len
    cap_out = max(2, per_seq_ctx // 4)
    workload = Workload(
        rate_per_s=rate_rpm / 60,
        num_requests=SIM_REQUESTS,
        input_len=_lengths(input_tokens, max(2, per_seq_ctx - cap_out)),
        output_len=_lengths(output_tokens, cap_out),
    )
    slo = Slo(ttft_ms=ttft_target_ms, itl_ms=itl_target_ms)
    plan = replicas_for_slo(model, rate_rpm / 60, slo, engine, workload=workload, max_replicas=64)
    notes: list[str] = []
    if plan is None:
        replicas = max(min_replicas, s.replicas)
        notes.append(
            f"simulation: no replica count up to 64 holds the P95 targets at {rate_rpm:.1f} req/min; "
            f"kept the analytic {replicas}"
        )
    else:
        # the simulation may add replicas to the analytic count, never remove them (never undersize)
        replicas = max(min_replicas, plan.replicas, s.replicas)
        notes.append(
            f"simulation ({SIM_REQUESTS} Poisson requests, lognormal lengths): {plan.replicas} replica(s) hold "
            f"P95 TTFT {plan.summary.ttft_ms.p95:.0f} ms / ITL {plan.summary.itl_ms.p95:.1f} ms at "
            f"{rate_rpm:.1f} req/min (analytic estimate: {s.replicas})"
        )
    rates = [rate_rpm / 60 * f for f in CURVE_FACTORS]
    sweep = sweep_rates(model, engine, workload, rates, replicas=replicas, slo=slo)
    curve = tuple(
        LoadPoint(
            rate_rpm=round(p.rate * 60, 3),
            ttft_p95_ms=round(_finite(p.ttft_ms.p95), 2),
            itl_p95_ms=round(_finite(p.itl_ms.p95), 3),
            e2e_p95_ms=round(_finite(p.e2e_ms.p95), 2),
            output_tokens_per_s=round(p.output_tokens_per_s, 2),
            mean_waiting=round(p.mean_waiting, 3),
            mean_running=round(p.mean_running, 3),
            preemptions=p.preemptions,
        )
        for p in sweep.steps
    )
    # triggers fire near saturation: search up to 3x the analytic capacity of the replicas
    capacity_rps = s.rps_per_replica * replicas
    trig = trigger_loads(
        model,
        engine,
        workload=workload,
        replicas=replicas,
        rel_tol=0.15,
        max_rate=max(3 * capacity_rps, 2 * rate_rpm / 60),
    )

    def rpm(x: float | None) -> float | None:
        return None if x is None else round(x * 60, 2)

    triggers = ScalingTriggers(
        rpm_at_queue_trigger=rpm(trig.rate_at_queue_trigger),
        rpm_at_latency_trigger=rpm(trig.rate_at_latency_trigger),
    )
    return SimulatedSizing(replicas, rate_rpm, curve, triggers, tuple(notes))


def _finite(x: float) -> float:
    return x if math.isfinite(x) else -1.0
