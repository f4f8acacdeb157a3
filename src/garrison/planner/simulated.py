"""The simulator's verdict on a sized option: replicas for the P95 targets, the check at design load,
the load curve and the scaling-trigger loads.

The analytic sizing (candidates.size_option) ranks thousands of candidates quickly; the chosen ones
are then checked by simulating their scheduler under Poisson arrivals with lognormal request lengths,
because queueing, chunked prefill and the KV budget decide P95 latency, not the steady-state average.
A design whose simulation misses a target is not a success: the planner tries the next candidate and
escalates when none holds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from garrison import engines
from garrison.alert_thresholds import design_point, latency_thresholds, queue_threshold
from garrison.alert_thresholds import latency_fires as alert_latency_fires
from garrison.alert_thresholds import queue_fires as alert_queue_fires
from garrison.design import LoadPoint, ScalingTriggers, SLOCheck
from garrison.planner.candidates import Sized
from garrison.planner.load import LENGTH_SIGMA, LoadTarget
from garrison.planner.targets import Targets
from garrison.simulate import EngineConfig, LengthDist, Slo, Workload
from garrison.simulate.capacity import fewest, meets, replicas_for_slo, run_load_point, sweep_rates
from garrison.simulate.results import SimSummary
from garrison.simulate.setup import engine_config
from garrison.sizing.efficiency import Efficiency
from garrison.sizing.estimate import step_model_for
from garrison.sizing.speed import RooflineStepModel

SIM_REQUESTS = 300  # per simulated load point: enough for a stable P95 at planning resolution
MAX_REPLICAS = 64
# Load points of the curve, as multiples of the design load; 3x finds the capacity of a deployment
# that holds its targets well past the design load. Capacity is bisected between points to 10 %.
CURVE_FACTORS = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0)
# When a target or a scaling trigger still holds at the last curve point, further loads are simulated
# (these multiples of the design load) until each has broken or fired, for the capacity and the runbook.
EXTEND_FACTORS = (4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 48.0, 64.0)
CAPACITY_REL_TOL = 0.1
# A deployment without latency targets (batch) keeps up while its queue stays below the scaling
# trigger's queue depth (mean waiting requests per replica): the same threshold the alerts use.
QUEUE_OK = ScalingTriggers().queue_depth
# A P95 measured on SIM_REQUESTS requests is the 285th of 300 sorted values; the rank of the true P95 among
# them is binomial (sd = sqrt(n p (1 - p)) = 3.8 ranks), so the measured value stands for anything between
# about P92.5 and P97.5 (+-1.96 sd). A result this close to its target is flagged as marginal.
MARGINAL = 0.05


@dataclass(frozen=True)
class Verdict:
    """Fewest replicas whose simulated P95 targets hold at the design load (None: none up to the cap)."""

    replicas: int | None
    summary: SimSummary | None  # at `replicas` (or at the analytic count when none held)


@dataclass(frozen=True)
class SimulatedSizing:
    """What the simulation says about the chosen deployment."""

    replicas: int
    rate_rpm: float  # the design load simulated (growth headroom included)
    slo_check: SLOCheck
    curve: tuple[LoadPoint, ...]
    triggers: ScalingTriggers
    notes: tuple[str, ...]
    # every load simulated to find the triggers: the curve plus the loads past it (EXTEND_FACTORS)
    trigger_steps: tuple[LoadPoint, ...] = ()


def slo_of(targets: Targets) -> Slo:
    """The simulator's SLO for the planner's targets."""
    return Slo(ttft_ms=targets.ttft_ms, itl_ms=targets.itl_ms, e2e_ms=targets.e2e_ms)


def _lengths(mean: int, cap: int) -> LengthDist:
    if mean <= 2:
        return LengthDist(kind="fixed", mean=max(1, mean))
    return LengthDist(kind="lognormal", mean=float(mean), sigma=LENGTH_SIGMA, low=1, high=max(2, cap))


def _setup(
    s: Sized, load: LoadTarget, rate_rpm: float, eff: Efficiency
) -> tuple[RooflineStepModel, EngineConfig, Workload]:
    o = s.option
    model = step_model_for(o.spec, o.fmt, s.est, gpu=o.gpu, cpu=o.cpu, efficiency=eff, sockets=o.sockets)
    # max_model_len is per request for every engine (a llama.cpp slot holds exactly that much)
    engine = engine_config(o.engine, s.est.max_num_seqs, s.est.max_num_batched_tokens, s.max_model_len)
    per_seq_ctx = s.max_model_len
    cap_out = max(2, per_seq_ctx // 4)
    workload = Workload(
        rate_per_s=rate_rpm / 60,
        num_requests=SIM_REQUESTS,
        input_len=_lengths(load.input_tokens, max(2, per_seq_ctx - cap_out)),
        output_len=_lengths(load.output_tokens, cap_out),
    )
    return model, engine, workload


def design_rpm(s: Sized, load: LoadTarget) -> float:
    """The load to simulate: the design rate; for a stated concurrency, the rate that keeps that many
    requests in flight (Little's law: rate = in flight / time each spends, TTFT + output x ITL)."""
    if load.design_rpm > 0:
        return load.design_rpm
    in_flight = load.concurrent_requests or 1
    per_request_s = (s.ttft_ms + load.output_tokens * s.itl_ms) / 1000
    return in_flight / per_request_s * 60 if per_request_s > 0 else s.rps_per_replica * s.replicas * 60


def verdict(s: Sized, load: LoadTarget, targets: Targets, eff: Efficiency) -> Verdict:
    """Fewest replicas that hold every P95 target at the design load (never fewer than the analytic count)."""
    rate = design_rpm(s, load)
    model, engine, workload = _setup(s, load, rate, eff)
    slo = slo_of(targets)
    if not targets.any:  # batch: enough replicas that the queue stays short at the design load
        cache: dict[int, SimSummary] = {}

        def keeps_up(r: int) -> bool:
            if r not in cache:
                cache[r] = run_load_point(workload, engine, model, replicas=r)
            return cache[r].rejected == 0 and cache[r].mean_waiting <= QUEUE_OK

        found = fewest(keeps_up, s.replicas, MAX_REPLICAS)
        return Verdict(found, cache[found] if found is not None else cache[s.replicas])
    plan = replicas_for_slo(model, rate / 60, slo, engine, workload=workload, max_replicas=MAX_REPLICAS)
    if plan is None:
        return Verdict(None, run_load_point(workload, engine, model, replicas=s.replicas, slo=slo))
    if plan.replicas >= s.replicas:
        return Verdict(plan.replicas, plan.summary)
    # the simulation may add replicas to the analytic count, never remove them (never undersize)
    return Verdict(s.replicas, run_load_point(workload, engine, model, replicas=s.replicas, slo=slo))


def _failed(summ: SimSummary, targets: Targets) -> tuple[str, ...]:
    out: list[str] = []
    checks = (
        ("ttft_p95", targets.ttft_ms, summ.ttft_ms.p95),
        ("itl_p95", targets.itl_ms, summ.itl_ms.p95),
        ("e2e_p95", targets.e2e_ms, summ.e2e_ms.p95),
    )
    for name, target, value in checks:
        if target is not None and not (value == value and value <= target):
            out.append(f"{name} {value:,.0f} ms > {target:,.0f} ms")
    if summ.rejected:
        out.append(f"{summ.rejected} requests refused (longer than the context the engine holds)")
    if not targets.any and summ.mean_waiting > QUEUE_OK:
        out.append(
            f"the queue grows: {summ.mean_waiting:,.1f} requests waiting per replica on average "
            f"(> {QUEUE_OK:g}, the scaling trigger): the replicas do not keep up with the offered load"
        )
    return tuple(out)


def _trigger_rate(steps: tuple[SimSummary, ...], fires: Callable[[SimSummary], bool]) -> float | None:
    """The load where a trigger starts to fire along the sweep: between the last quiet and the first firing
    point (geometric mean), None when it never fires within the sweep."""
    prev: SimSummary | None = None
    for p in steps:
        if fires(p):
            return p.rate if prev is None else math.sqrt(p.rate * prev.rate)
        prev = p
    return None


def finish(
    s: Sized, load: LoadTarget, targets: Targets, eff: Efficiency, replicas: int, held: bool
) -> SimulatedSizing:
    """The chosen deployment at `replicas`: the load curve, the SLO check at the design load (a point of
    the curve), the capacity within the targets and the loads at which the scaling triggers fire."""
    rate = design_rpm(s, load)
    model, engine, workload = _setup(s, load, rate, eff)
    slo = slo_of(targets) if targets.any else None
    rates = [rate / 60 * f for f in CURVE_FACTORS]
    sweep = sweep_rates(model, engine, workload, rates, replicas=replicas, slo=slo, rel_tol=CAPACITY_REL_TOL)
    steps = list(sweep.steps)
    t = ScalingTriggers()
    # the loads at which the triggers fire use the alert rules' own thresholds (garrison.alert_thresholds,
    # from the targets and the simulated point at the design rate), so the capacity runbook and the alerts agree
    curve = _curve(sweep.steps)
    point = design_point(curve, round(load.design_rpm if load.design_rpm > 0 else rate, 2))
    latency_thr = latency_thresholds(
        targets.ttft_ms, targets.itl_ms, load.output_tokens, t.p95_latency_s, point
    )
    queue_thr = queue_threshold(t.queue_depth, point)
    m = engines.launch_of(s.option.engine).metrics
    has = (m.e2e_bucket is not None, m.ttft_bucket is not None, m.itl_bucket is not None)

    def queue_fires(p: SimSummary) -> bool:
        return m.queue is not None and alert_queue_fires(queue_thr, p.mean_waiting)

    def latency_fires(p: SimSummary) -> bool:
        return alert_latency_fires(latency_thr, p.e2e_ms.p95, p.ttft_ms.p95, p.itl_ms.p95, has)

    def breaks(p: SimSummary) -> bool:
        return slo is not None and not meets(p, slo)

    for f in EXTEND_FACTORS:
        # a trigger without an alert (an engine without that metric) never fires: nothing to look for
        fired = (m.queue is None or any(queue_fires(p) for p in steps)) and (
            not any(has) or any(latency_fires(p) for p in steps)
        )
        if fired and (slo is None or any(breaks(p) for p in steps)):
            break
        extra = sweep_rates(model, engine, workload, [rate / 60 * f], replicas=replicas)
        steps += list(extra.steps)
    summ = min(sweep.steps, key=lambda p: abs(p.rate - rate / 60))
    failed = _failed(summ, targets)
    if not held and not failed:  # the replica search found no count that holds at the design load
        failed = (f"no replica count up to {MAX_REPLICAS} holds every target at the design load",)
    ok = held and (meets(summ, slo) if slo is not None else True) and not failed
    queue_rate = _trigger_rate(tuple(steps), queue_fires)
    capacity: float | None = None
    bisected = False  # the capacity is the lower end of a bisection interval of width CAPACITY_REL_TOL
    if (
        slo is None and queue_rate is not None
    ):  # no latency target: capacity is where the queue starts to grow
        capacity = round(queue_rate * 60, 2)
    if sweep.breaks:
        edges = [b.breaks_at / (1 + CAPACITY_REL_TOL) for b in sweep.breaks if b.breaks_at is not None]
        if edges:
            capacity = round(min(edges) * 60, 2)
            bisected = True
        else:  # held over the whole curve: the first extension point that breaks bounds it
            broke = _trigger_rate(tuple(steps), breaks)
            capacity = round((broke if broke is not None else steps[-1].rate) * 60, 2)
    check = SLOCheck(
        rate_rpm=round(rate, 3),
        ttft_p95_ms=round(_finite(summ.ttft_ms.p95), 2),
        itl_p95_ms=round(_finite(summ.itl_ms.p95), 3),
        e2e_p95_ms=round(_finite(summ.e2e_ms.p95), 2),
        meets=ok,
        capacity_rpm=capacity,
        failed=failed,
    )
    queue = queue_rate
    latency = _trigger_rate(tuple(steps), latency_fires)

    def rpm(x: float | None) -> float | None:
        return None if x is None else round(x * 60, 2)

    triggers = ScalingTriggers(rpm_at_queue_trigger=rpm(queue), rpm_at_latency_trigger=rpm(latency))
    notes: list[str] = []
    cap_txt = ""
    if capacity is not None:
        cap_txt = f"; capacity within the targets ~{capacity:,.1f} req/min"
        if bisected:  # say what the number is: the safe end of the interval where the targets break
            cap_txt = (
                f"; capacity within the targets {capacity:,.1f} req/min (the targets break between "
                f"{capacity:,.1f} and {capacity * (1 + CAPACITY_REL_TOL):,.1f}; the lower end is reported), "
                f"{capacity / rate - 1:+.0%} over the design load"
            )
    if held:
        notes.append(
            f"simulation ({SIM_REQUESTS} Poisson requests, lognormal lengths): {replicas} replica(s) hold "
            f"P95 TTFT {check.ttft_p95_ms:,.0f} ms / ITL {check.itl_p95_ms:,.1f} ms at {rate:,.1f} req/min"
            f" (analytic estimate: {s.replicas}){cap_txt}"
        )
    else:
        notes.append(
            f"simulation: no replica count up to {MAX_REPLICAS} holds the targets at {rate:,.1f} req/min "
            f"({'; '.join(failed) or 'see slo_check'}); this deployment does NOT meet its targets"
        )
    if ok:
        close = [
            f"{name} {value:,.0f} ms is within {MARGINAL:.0%} of its {target:,.0f} ms target"
            for name, target, value in (
                ("P95 TTFT", targets.ttft_ms, check.ttft_p95_ms),
                ("P95 ITL", targets.itl_ms, check.itl_p95_ms),
                ("P95 end-to-end", targets.e2e_ms, check.e2e_p95_ms),
            )
            if target is not None and value > target * (1 - MARGINAL)
        ]
        if capacity is not None and capacity < rate * (1 + MARGINAL):
            close.append(
                f"the capacity found ({capacity:,.1f} req/min) is within {MARGINAL:.0%} of the design load"
            )
        if close:
            notes.append(
                "marginal at the design load: "
                + "; ".join(close)
                + f". A P95 of {SIM_REQUESTS} simulated requests stands for roughly P92.5-P97.5; the growth "
                "headroom is the only margin left, so measure the first server with `garrison bench` before "
                "buying the rest"
            )
    quiet = [
        n
        for n, v, alert in (("queue-depth", queue, m.queue is not None), ("P95-latency", latency, any(has)))
        if v is None and alert
    ]
    if quiet:
        notes.append(
            f"scaling triggers: the {' and '.join(quiet)} trigger{'s do' if len(quiet) > 1 else ' does'} not fire "
            f"below {steps[-1].rate * 60:,.1f} req/min ({steps[-1].rate * 60 / rate:g}x the design load)"
        )
    return SimulatedSizing(replicas, rate, check, curve, triggers, tuple(notes), _curve(steps))


def _curve(steps: tuple[SimSummary, ...] | list[SimSummary]) -> tuple[LoadPoint, ...]:
    """The design's load curve: one rounded LoadPoint per simulated load."""
    return tuple(
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
        for p in steps
    )


def _finite(x: float) -> float:
    return x if math.isfinite(x) else -1.0
