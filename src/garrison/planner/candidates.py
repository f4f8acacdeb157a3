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
from garrison.planner.targets import Targets
from garrison.sizing.efficiency import Efficiency
from garrison.sizing.estimate import EstimateOptions, estimate, scheduler_limits, step_model_for
from garrison.sizing.steady_state import replica_load

# Formats llama.cpp runs that are not float: a model released in one of these (gpt-oss in MXFP4) is run
# in its own format on CPU hosts and small GPUs instead of being re-quantised to Q8_0 / Q4_K_M.
LLAMACPP_NATIVE_FAMILIES = ("mxfp4",)


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
    owned: bool = False  # runs on GPUs the organisation already has


@dataclass(frozen=True)
class Sized:
    """An option sized for the load: replicas, per-replica capacity, latency at that load."""

    option: Option
    est: Estimate
    replicas: int
    conc_per_replica: int
    rps_per_replica: float
    ttft_ms: float  # steady state at conc_per_replica, for the P95 prompt (sizing.steady_state)
    itl_ms: float  # analytic, at conc_per_replica
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
    """(format, engine) pairs worth trying on a device, the model's own released format first.

    A checkpoint released in FP8, MXFP4 or NVFP4 is served as released; 16-bit releases are also tried
    in FP8 (where the GPU computes in FP8) and AWQ, and as GGUF on CPUs, Apple and desk-side GPUs.
    """

    def q(name: str) -> QuantFormat | None:
        return quants.get(name.lower())

    gguf_engine = engines.gguf_default().name
    cpu_engine = engines.cpu_default().name
    if spec.source == "gguf":
        fmt = gguf_native or q(spec.native_dtype)
        return [(fmt, gguf_engine)] if fmt else []
    native = q(spec.native_dtype) or q("bf16")
    gpu_engine = engines.gpu_default(mla=spec.mla is not None).name
    if pinned:
        fmt = q(pinned)
        if fmt is None:
            return []
        return [(fmt, gguf_engine if fmt.family == "gguf" else gpu_engine)]
    llamacpp_native = native is not None and native.family in LLAMACPP_NATIVE_FAMILIES
    gguf = [f for f in (q("q8_0"), q("q4_k_m")) if f]
    if device_gpu is None or device_gpu.segment == "apple":  # CPU host or Apple: llama.cpp
        engine = cpu_engine if device_gpu is None else gguf_engine
        if llamacpp_native and native is not None:
            return [(native, engine)]
        return [(f, engine) for f in gguf]
    out: list[tuple[QuantFormat, str]] = []
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
        if llamacpp_native and native is not None:
            out.append((native, gguf_engine))
        else:
            out += [(f, gguf_engine) for f in gguf]
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
    owned: frozenset[str] = frozenset(),
) -> Iterator[Option]:
    """All device x count x format x engine combinations for one model (`owned`: GPU ids already owned)."""
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
                yield Option(model_key, spec, fmt, engine, gpu, None, tp * pp, tp, pp, owned=gpu.id in owned)
    for cpu in cpus:
        for fmt, engine in quant_choices(spec, None, quants, pinned_quant, gguf_native):
            if allowed_engines and engine not in allowed_engines:
                continue
            for sockets in range(1, min(2, cpu.sockets_max) + 1):  # the catalogue says how many sockets fit
                yield Option(model_key, spec, fmt, engine, None, cpu, 0, 1, 1, sockets)


def size_option(
    opt: Option,
    *,
    kind: str,
    context_length: int,
    load: LoadTarget,
    targets: Targets,
    high_availability: bool,
    eff: Efficiency,
) -> Sized | None:
    """Replicas and per-replica capacity for one option, or None when it cannot start at all.

    Throughput uses the typical (mean) request; the latency targets are checked on the P95 request
    (load.input_p95): a long prompt arriving while the replica decodes its other sequences.
    """
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
    ttft_t, itl_t = targets.ttft_ms, targets.itl_ms
    # the performance model answers: requests in flight per replica within the targets (TTFT judged
    # on the P95 prompt), in the steady state the batching simulator reaches (garrison.sizing.steady_state)
    limits, slot = scheduler_limits(est)
    rl = replica_load(
        model,
        limits,
        input_len=inp,
        output_len=out,
        upper=est.concurrency,
        itl_target_s=itl_t / 1e3 if itl_t else None,
        ttft_target_s=ttft_t / 1e3 if ttft_t else None,
        ttft_prompt_len=load.input_p95,
        slot_tokens=slot,
    )
    conc, ttft, itl, rps = rl.clients, rl.ttft_s, rl.state.itl_s, rl.state.requests_per_s
    misses = list(rl.misses)
    if targets.e2e_ms is not None:
        e2e = ttft + load.output_p95 * itl
        if e2e * 1e3 > targets.e2e_ms:
            misses.append(f"end-to-end {e2e:.1f} s for the P95 request > target {targets.e2e_ms / 1e3:g} s")
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
