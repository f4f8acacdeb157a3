"""Enumerate deployment candidates for one use case and size each against its load and targets."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from garrison import engines
from garrison.catalogue.schema import CPU, GPU, QuantFormat
from garrison.design import Estimate
from garrison.modelspec.spec import ModelSpec
from garrison.planner.load import LoadTarget
from garrison.sizing.efficiency import Efficiency
from garrison.sizing.estimate import EstimateOptions, estimate, step_model_for
from garrison.sizing.speed import RooflineStepModel

# Latency a use case gets when its requirements name none: chat should stream faster than people
# read (~10 tokens/s), completion must arrive before the developer types on (~0.5-1 s).
DEFAULT_TARGETS_MS = {
    "chat": (2000.0, 100.0),
    "code": (800.0, 50.0),
    "batch": (None, None),
}


# Slots a fixed-slot engine (llama.cpp) gets: llama-server's default of 4 for interactive use, 8 for
# batch work where throughput matters more than each request's latency.
FIXED_SLOTS = 4
FIXED_SLOTS_BATCH = 8


@dataclass(frozen=True)
class Option:
    """One way to deploy a model: device x count x format x engine (before replicas)."""

    model_key: str
    spec: ModelSpec
    fmt: QuantFormat
    engine: str
    gpu: GPU | None
    cpu: CPU | None
    gpus_per_replica: int
    tp: int
    pp: int
    sockets: int = 1


@dataclass(frozen=True)
class Sized:
    """An option sized for the load: replicas, per-replica capacity, latency at that load."""

    option: Option
    est: Estimate
    replicas: int
    conc_per_replica: int
    rps_per_replica: float
    ttft_ms: float
    itl_ms: float
    meets: bool
    misses: tuple[str, ...]
    max_model_len: int

    @property
    def total_gpus(self) -> int:
        return self.replicas * self.option.gpus_per_replica


def quant_choices(
    spec: ModelSpec,
    device_gpu: GPU | None,
    quants: dict[str, QuantFormat],
    pinned: str | None,
    gguf_native: QuantFormat | None = None,
) -> list[tuple[QuantFormat, str]]:
    """(format, engine) pairs worth trying on a device, native format first."""

    def q(name: str) -> QuantFormat | None:
        return quants.get(name.lower())

    gguf = engines.gguf_default().name
    cpu = engines.cpu_default().name
    if spec.source == "gguf":
        fmt = gguf_native or q(spec.native_dtype)
        return [(fmt, gguf)] if fmt else []
    native = q(spec.native_dtype) or q("bf16")
    out: list[tuple[QuantFormat, str]] = []
    gpu_engine = engines.gpu_default(mla=spec.mla is not None).name
    if pinned:
        fmt = q(pinned)
        if fmt is None:
            return []
        return [(fmt, gguf if fmt.family == "gguf" else gpu_engine)]
    if device_gpu is None:  # CPU host: GGUF through llama.cpp
        return [(f, cpu) for f in (q("q8_0"), q("q4_k_m")) if f]
    if device_gpu.segment == "apple":
        return [(f, gguf) for f in (q("q8_0"), q("q4_k_m")) if f]
    if native is not None:
        out.append((native, gpu_engine))
    if spec.native_dtype in ("bf16", "fp16", "fp32"):
        fp8 = q("fp8")
        if fp8 and device_gpu.fp8_dense_tflops:
            out.append((fp8, gpu_engine))
        awq = q("awq")
        if awq and device_gpu.vendor == "nvidia":
            out.append((awq, gpu_engine))
    if device_gpu.segment in ("consumer", "workstation"):
        out += [(f, gguf) for f in (q("q8_0"), q("q4_k_m")) if f]
    return out


def gpu_counts(gpu: GPU, max_per_server: int, per_chassis: int) -> list[tuple[int, int]]:
    """(tp, pp) shapes to try: one server up to its GPU count; two servers for data-centre GPUs."""
    shapes = []
    n = 1
    limit = min(max_per_server, gpu.interconnect.max_gpus_per_node, per_chassis)
    if gpu.segment == "apple":
        return [(1, 1)]
    while n <= limit:
        shapes.append((n, 1))
        n *= 2
    if gpu.segment == "datacenter":
        shapes.append((limit, 2))  # a model that spans two servers (LeaderWorkerSet)
    return shapes


def enumerate_options(
    model_key: str,
    spec: ModelSpec,
    gpus: list[GPU],
    cpus: list[CPU],
    quants: dict[str, QuantFormat],
    pinned_quant: str | None,
    allowed_engines: tuple[str, ...],
    max_per_server: int,
    per_chassis: Callable[[GPU], int],
    gguf_native: QuantFormat | None = None,
) -> Iterator[Option]:
    """All device x count x format x engine combinations for one model."""
    for gpu in gpus:
        for fmt, engine in quant_choices(spec, gpu, quants, pinned_quant, gguf_native):
            if allowed_engines and engine not in allowed_engines:
                # the SGLang-for-MLA preference is a speed choice: vLLM serves the same checkpoints
                fallback = engines.gpu_default()
                if fallback.name in allowed_engines and fallback.loads(fmt.family):
                    engine = fallback.name
                else:
                    continue
            profile = engines.get(engine)
            for tp, pp in gpu_counts(gpu, max_per_server, per_chassis(gpu)):
                if pp > 1 and not profile.pipeline_parallel:
                    continue
                if spec.num_attention_heads % tp:
                    continue
                yield Option(model_key, spec, fmt, engine, gpu, None, tp * pp, tp, pp)
    for cpu in cpus:
        for fmt, engine in quant_choices(spec, None, quants, pinned_quant, gguf_native):
            if allowed_engines and engine not in allowed_engines:
                continue
            for sockets in (1, 2):
                yield Option(model_key, spec, fmt, engine, None, cpu, 0, 1, 1, sockets)


def _max_conc_under_itl(model: RooflineStepModel, ctx: int, c_max: int, itl_target_s: float | None) -> int:
    """Largest batch whose inter-token latency meets the target (ITL grows with batch)."""
    if itl_target_s is None:
        return c_max
    if model.decode_step_s(1, ctx) > itl_target_s:
        return 0
    lo, hi = 1, c_max
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if model.decode_step_s(mid, ctx) <= itl_target_s:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _ttft_loaded_s(model: RooflineStepModel, conc: int, ctx: int, input_len: int, budget: int) -> float:
    """TTFT of a new prompt while `conc - 1` others decode: its chunks share each step's token
    budget with the decodes (vLLM V1 schedules decodes first, then prefill chunks)."""
    others = max(0, conc - 1)
    chunk = max(1, min(input_len, budget - others))
    t, done = 0.0, 0
    while done < input_len:
        step = min(chunk, input_len - done)
        done += step
        t += model.step_time_s(others, others * ctx, step, done)
    return t + model.decode_step_s(conc, ctx)


def size_option(
    opt: Option,
    *,
    kind: str,
    context_length: int,
    load: LoadTarget,
    ttft_target_ms: float | None,
    itl_target_ms: float | None,
    high_availability: bool,
    eff: Efficiency,
) -> Sized | None:
    """Replicas and per-replica capacity for one option, or None when it cannot start at all."""
    inp, out = load.input_tokens, load.output_tokens
    max_len = context_length  # per request, for every engine
    slots = None
    if engines.get(opt.engine).fixed_slots:
        # every slot holds a full context_length request; batch work gets more slots
        slots = FIXED_SLOTS_BATCH if kind == "batch" else FIXED_SLOTS
    opts = EstimateOptions(
        engine=opt.engine,
        gpus=opt.gpus_per_replica or 1,
        tp=opt.tp,
        pp=opt.pp,
        sockets=opt.sockets,
        max_model_len=max_len,
        max_num_seqs=slots,
        input_len=inp,
        output_len=out,
        concurrency=slots,
        efficiency=eff,
    )
    est = estimate(opt.spec, opt.fmt, gpu=opt.gpu, cpu=opt.cpu, opts=opts)
    if not est.fits:
        return None
    model = step_model_for(
        opt.spec, opt.fmt, est, gpu=opt.gpu, cpu=opt.cpu, efficiency=eff, sockets=opt.sockets
    )
    ctx = inp + out // 2
    d_ttft, d_itl = DEFAULT_TARGETS_MS.get(kind, (None, None))
    ttft_t = ttft_target_ms if ttft_target_ms is not None else d_ttft
    itl_t = itl_target_ms if itl_target_ms is not None else d_itl
    c_sat = est.concurrency
    conc = _max_conc_under_itl(model, ctx, c_sat, itl_t / 1e3 if itl_t else None)
    misses: list[str] = []
    if conc == 0:
        conc = 1
        misses.append(
            f"inter-token latency {model.decode_step_s(1, ctx) * 1e3:.0f} ms even alone > target {itl_t:g} ms"
        )
    budget = est.max_num_batched_tokens
    ttft = _ttft_loaded_s(model, conc, ctx, inp, budget)
    if ttft_t is not None:
        while conc > 1 and ttft * 1e3 > ttft_t:
            conc = max(1, conc * 3 // 4)
            ttft = _ttft_loaded_s(model, conc, ctx, inp, budget)
        if ttft * 1e3 > ttft_t:
            misses.append(f"TTFT {ttft * 1e3:.0f} ms > target {ttft_t:g} ms")
    itl = model.decode_step_s(conc, ctx)
    prefill_alone = model.prefill_time_s(inp, min(inp, budget))
    # Little's law: conc requests in flight, each for ttft + out x itl seconds; and the replica
    # cannot take requests faster than it can do their prefill work plus their share of decode steps.
    rps = min(conc / (ttft + out * itl), 1 / (prefill_alone + out * itl / conc))
    if load.concurrent_requests is not None:
        replicas = math.ceil(load.concurrent_requests / conc)
    else:
        replicas = max(1, math.ceil(load.design_rpm / 60 / rps)) if rps > 0 else 1
    if high_availability:
        replicas = max(2, replicas)
    return Sized(
        option=opt,
        est=est,
        replicas=replicas,
        conc_per_replica=conc,
        rps_per_replica=rps,
        ttft_ms=ttft * 1e3,
        itl_ms=itl * 1e3,
        meets=not misses,
        misses=tuple(misses),
        max_model_len=max_len,
    )
