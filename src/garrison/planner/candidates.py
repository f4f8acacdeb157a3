"""Enumerate deployment candidates for one use case and size each against its load and targets."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from garrison.catalogue.schema import CPU, GPU, QuantFormat
from garrison.design import Estimate
from garrison.modelspec.spec import ModelSpec
from garrison.planner.load import LoadTarget
from garrison.sizing.efficiency import Efficiency
from garrison.sizing.estimate import EstimateOptions, estimate, scheduler_limits, step_model_for
from garrison.sizing.steady_state import replica_load

# Latency a use case gets when its requirements name none: chat should stream faster than people
# read (~10 tokens/s), completion must arrive before the developer types on (~0.5-1 s).
DEFAULT_TARGETS_MS = {
    "chat": (2000.0, 100.0),
    "code": (800.0, 50.0),
    "batch": (None, None),
}


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

    if spec.source == "gguf":
        fmt = gguf_native or q(spec.native_dtype)
        return [(fmt, "llama.cpp")] if fmt else []
    native = q(spec.native_dtype) or q("bf16")
    out: list[tuple[QuantFormat, str]] = []
    gpu_engine = "sglang" if spec.mla is not None else "vllm"
    if pinned:
        fmt = q(pinned)
        if fmt is None:
            return []
        return [(fmt, "llama.cpp" if fmt.family == "gguf" else gpu_engine)]
    if device_gpu is None:  # CPU host: GGUF through llama.cpp
        return [(f, "llama.cpp") for f in (q("q8_0"), q("q4_k_m")) if f]
    if device_gpu.segment == "apple":
        return [(f, "llama.cpp") for f in (q("q8_0"), q("q4_k_m")) if f]
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
        out += [(f, "llama.cpp") for f in (q("q8_0"), q("q4_k_m")) if f]
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
                if engine == "sglang" and "vllm" in allowed_engines:
                    engine = "vllm"
                else:
                    continue
            for tp, pp in gpu_counts(gpu, max_per_server, per_chassis(gpu)):
                if engine == "llama.cpp" and pp > 1:
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
    slots = 1
    max_len = context_length
    if opt.engine == "llama.cpp":
        # llama.cpp splits n_ctx over `--parallel` slots: give each slot the full context
        slots = 4 if kind != "batch" else 8
        max_len = context_length * slots
    opts = EstimateOptions(
        engine=opt.engine,
        gpus=opt.gpus_per_replica or 1,
        tp=opt.tp,
        pp=opt.pp,
        sockets=opt.sockets,
        max_model_len=max_len,
        input_len=inp,
        output_len=out,
        concurrency=slots if opt.engine == "llama.cpp" else None,
        efficiency=eff,
    )
    est = estimate(opt.spec, opt.fmt, gpu=opt.gpu, cpu=opt.cpu, opts=opts)
    if not est.fits:
        return None
    model = step_model_for(
        opt.spec, opt.fmt, est, gpu=opt.gpu, cpu=opt.cpu, efficiency=eff, sockets=opt.sockets
    )
    d_ttft, d_itl = DEFAULT_TARGETS_MS.get(kind, (None, None))
    ttft_t = ttft_target_ms if ttft_target_ms is not None else d_ttft
    itl_t = itl_target_ms if itl_target_ms is not None else d_itl
    # the performance model answers: requests in flight per replica within the targets, in the
    # steady state the batching simulator reaches (garrison.sizing.steady_state)
    limits, slot = scheduler_limits(est)
    rl = replica_load(
        model,
        limits,
        input_len=inp,
        output_len=out,
        upper=est.concurrency,
        itl_target_s=itl_t / 1e3 if itl_t else None,
        ttft_target_s=ttft_t / 1e3 if ttft_t else None,
        slot_tokens=slot,
    )
    conc, ttft, itl, rps = rl.clients, rl.ttft_s, rl.state.itl_s, rl.state.requests_per_s
    misses = list(rl.misses)
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
