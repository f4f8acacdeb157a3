"""`estimate`: memory and speed of one configuration (model x device x parallelism x engine)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from garrison import engines
from garrison.catalogue.schema import CPU, GPU, QuantFormat
from garrison.design import Estimate, MemoryBreakdown, Range
from garrison.engines import EngineProfile
from garrison.modelspec.params import ParamCounts, param_counts
from garrison.modelspec.spec import ModelSpec
from garrison.sizing.efficiency import DEFAULT_EFFICIENCY, Efficiency
from garrison.sizing.engine_memory import EngineMemory, engine_memory
from garrison.sizing.kv_cache import kv_bytes_per_token_model, kv_layout
from garrison.sizing.speed import Device, RooflineStepModel
from garrison.sizing.units import GIB
from garrison.sizing.weights import weight_bytes

# Spread of predictions around the expected value, from the calibration errors (docs/accuracy.md):
SPEED_RANGE = (0.75, 1.25)
MEMORY_RANGE = (0.97, 1.03)


@dataclass(frozen=True)
class EstimateOptions:
    """Everything `garrison estimate` takes besides the model and the device."""

    engine: str = "vllm"  # a name or alias from the engine registry (garrison.engines)
    gpus: int = 1
    tp: int | None = None
    pp: int = 1
    sockets: int = 1  # CPU hosts
    gpu_memory_utilization: float | None = None
    mem_fraction_static: float | None = None
    max_model_len: int | None = None  # per request (a fixed-slot engine holds this much per slot)
    max_num_seqs: int | None = None  # fixed-slot engines (llama.cpp): the number of slots
    max_num_batched_tokens: int | None = None
    block_size: int | None = None
    input_len: int = 1024
    output_len: int = 256
    concurrency: int | None = None
    kv_dtype: str = "auto"
    efficiency: Efficiency = field(default_factory=lambda: DEFAULT_EFFICIENCY)


def _kv_dtype(opts: EstimateOptions, engine: EngineProfile) -> str:
    if opts.kv_dtype != "auto":
        return opts.kv_dtype
    return engine.default_kv_dtype


def _memory_fraction(opts: EstimateOptions, engine: EngineProfile) -> float:
    """The engine's share knob: vLLM's utilisation or SGLang's static fraction, else its default."""
    given = {
        "utilisation": opts.gpu_memory_utilization,
        "static_pool": opts.mem_fraction_static,
    }.get(engine.memory_model)
    return given or engine.memory_fraction


def _tp_choices(spec: ModelSpec, gpus: int, pp: int) -> list[int]:
    """TP sizes an engine accepts: divide the GPU count and the attention heads (vLLM's check)."""
    out = []
    tp = 1
    while tp * pp <= gpus:
        if gpus % (tp * pp) == 0 and spec.num_attention_heads % tp == 0:
            out.append(tp)
        tp *= 2
    return out


@dataclass(frozen=True)
class Sized:
    """Intermediate result for one TP choice."""

    tp: int
    mem: EngineMemory
    fits: bool
    reason: str


def _size(
    spec: ModelSpec,
    counts: ParamCounts,
    fmt: QuantFormat,
    total_bytes: float,
    tp: int,
    pp: int,
    engine: EngineProfile,
    fraction: float,
    mnbt: int,
    mns: int,
    max_len: int,
    kv_dtype: str,
) -> Sized:
    wb = weight_bytes(spec, counts, fmt).per_gpu(tp, pp)
    mem = engine_memory(
        engine=engine,
        spec=spec,
        total_bytes=total_bytes,
        weights_bytes=wb,
        tp=tp,
        memory_fraction=fraction,
        max_num_batched_tokens=mnbt,
        max_num_seqs=mns,
    )
    layout = kv_layout(spec, kv_dtype, tp, pp)
    one_seq = layout.bytes_per_seq(max_len)
    # a fixed-slot engine allocates every slot's context at start; a batching engine needs room for
    # at least one full-length sequence
    need = one_seq * (mns if engine.fixed_slots else 1)
    if wb > mem.budget:
        return Sized(
            tp,
            mem,
            False,
            f"weights need {wb / GIB:.1f} GiB per GPU but the engine may use {mem.budget / GIB:.1f} GiB",
        )
    if mem.kv <= 0:
        return Sized(
            tp,
            mem,
            False,
            f"no memory left for KV cache: {mem.kv / GIB:.2f} GiB after weights "
            f"{wb / GIB:.1f}, activations {mem.activations / GIB:.1f} and runtime "
            f"{mem.runtime / GIB:.1f} GiB",
        )
    if need > mem.kv:
        what = (
            f"{mns} slots of {max_len} tokens need"
            if engine.fixed_slots
            else f"one {max_len}-token sequence needs"
        )
        return Sized(
            tp,
            mem,
            False,
            f"{what} {need / GIB:.2f} GiB of KV but only {mem.kv / GIB:.2f} GiB is left; "
            "lower --max-model-len or add GPUs",
        )
    return Sized(tp, mem, True, "fits")


def estimate(
    spec: ModelSpec,
    fmt: QuantFormat,
    *,
    gpu: GPU | None = None,
    cpu: CPU | None = None,
    opts: EstimateOptions,
) -> Estimate:
    """Size one configuration. Never raises for a configuration that does not fit: `fits` says so."""
    if (gpu is None) == (cpu is None):
        raise ValueError("estimate needs exactly one of gpu or cpu")
    eff = opts.efficiency
    counts = param_counts(spec)
    wbytes = weight_bytes(spec, counts, fmt)
    engine = engines.get(opts.engine, "--engine")
    assumptions: list[str] = []
    max_len = opts.max_model_len or spec.max_context
    if gpu is not None:
        total_bytes = gpu.usable_memory_gib * GIB
        d_mnbt, d_mns = engine.batching(gpu.usable_memory_gib)
        device_id, device_kind = gpu.id, "gpu"
    else:
        assert cpu is not None
        # a CPU host: model in system RAM; assume RAM sized to 2x weights (planner sizes it properly)
        wb_host = wbytes.total
        total_bytes = max(64 * GIB, 2 * wb_host + 16 * GIB)
        device_id, device_kind = cpu.id, "cpu"
        if not engine.runs_on_cpu:
            engine = engines.cpu_default()
        d_mnbt, d_mns = engine.batching(None)
        assumptions.append(f"CPU host RAM taken as {total_bytes / GIB:.0f} GiB (2x weights + 16 GiB)")
    kv_dtype = _kv_dtype(opts, engine)
    if engine.fixed_slots:
        d_mns = opts.concurrency or d_mns
    mnbt = opts.max_num_batched_tokens or d_mnbt
    mns = opts.max_num_seqs or d_mns
    if engine.fixed_slots:
        assumptions.append(
            f"{engine.title}: KV for n_ctx = {max_len:,} tokens per request x {mns} slots "
            f"= {engine.context_tokens(max_len, mns):,} tokens allocated at start"
        )
    fraction = _memory_fraction(opts, engine)
    block = opts.block_size or engine.kv_block_tokens
    pp = opts.pp
    gpus = opts.gpus if gpu is not None else 1
    if opts.tp is not None:
        tps = [opts.tp]
    else:
        tps = _tp_choices(spec, gpus, pp) if gpu is not None else [1]
    if not tps:
        tps = [1]
    sized = None
    for tp in tps:
        if gpu is not None and tp * pp > gpus:
            continue
        sized = _size(spec, counts, fmt, total_bytes, tp, pp, engine, fraction, mnbt, mns, max_len, kv_dtype)
        if sized.fits:
            break
    if sized is None:  # --tp x --pp larger than --gpus
        tp = tps[0]
        sized = _size(spec, counts, fmt, total_bytes, tp, pp, engine, fraction, mnbt, mns, max_len, kv_dtype)
        sized = Sized(
            tp, sized.mem, False, f"--tp {tp} x --pp {pp} needs {tp * pp} GPUs but --gpus is {gpus}"
        )
    tp = sized.tp
    mem = sized.mem
    replicas = max(1, gpus // (tp * pp)) if gpu is not None else 1
    layout = kv_layout(spec, kv_dtype, tp, pp)
    kv_free = max(0.0, mem.kv)
    per_token_at_max = layout.effective_bytes_per_token(max_len)
    kv_tokens = int(kv_free / per_token_at_max) if per_token_at_max > 0 else 0
    if engine.memory_model == "context_upfront" and sized.fits:
        # exactly n_ctx = max_len x slots tokens of KV at start; the rest of the device stays free
        kv_tokens = engine.context_tokens(max_len, mns)
        allocated = layout.bytes_per_seq(max_len) * mns
        mem = replace(mem, kv=allocated, budget=mem.weights + mem.activations + mem.runtime + allocated)
    max_conc = kv_tokens / max_len if max_len else 0.0
    seq_len = opts.input_len + opts.output_len
    seq_bytes = layout.bytes_per_seq(seq_len)
    if opts.concurrency is not None:
        conc = opts.concurrency
    elif engine.fixed_slots:
        conc = mns  # every slot holds a full request
    else:
        conc = min(mns, int(kv_free / seq_bytes)) if seq_bytes > 0 else mns
    conc = max(1, conc)
    if gpu is not None:
        device = Device.from_gpu(gpu, fmt, eff, engine.gpu_kernels)
    else:
        assert cpu is not None
        device = Device.from_cpu(cpu, opts.sockets, eff)
    model = RooflineStepModel(
        spec,
        counts,
        fmt,
        wbytes,
        kv_layout(spec, kv_dtype, tp, 1),
        device,
        tp,
        pp,
        eff,
        kv_tokens,
        block,
    )
    chunk = min(mnbt, opts.input_len)
    prefill_s = model.prefill_time_s(opts.input_len, chunk)
    ctx_mid = opts.input_len + opts.output_len // 2
    itl_1 = model.decode_step_s(1, ctx_mid)
    itl = model.decode_step_s(conc, ctx_mid)
    # Steady state of continuous batching: each of `conc` requests needs its prefill and
    # output_len decode steps; prefill work is interleaved with decoding (chunked prefill), so
    # per request cycle the replica spends conc x prefill + output_len x step(conc).
    # Adding prefill and decode time (rather than overlapping them, as a mixed step partly does) is
    # the conservative side: measured NIM/TRT-LLM sweeps land between sum and max (docs/accuracy.md).
    cycle_s = conc * prefill_s + opts.output_len * itl
    out_tps_replica = conc * opts.output_len / cycle_s if cycle_s > 0 else 0.0
    if conc > 1:
        # what a client sees between tokens: decode steps slowed by the other requests' prefill chunks
        itl = cycle_s / opts.output_len
    ttft = prefill_s + model.decode_step_s(1, opts.input_len) if conc == 1 else prefill_s + itl
    assumptions += [
        f"efficiency '{eff.name}': {eff.gpu_bw if device_kind == 'gpu' else eff.cpu_bw:.2f} of peak bandwidth, "
        f"{eff.gpu_compute if device_kind == 'gpu' else eff.cpu_compute:.2f} of peak compute, "
        f"{eff.step_overhead_ms} ms per step",
        f"KV cache {kv_dtype}; weights {fmt.id} at {fmt.bits_per_weight} bits per weight (incl. scales)",
        f"{engine.name}: max_num_seqs {mns}, max_num_batched_tokens {mnbt}"
        + (f", gpu_memory_utilization {fraction:g}" if engine.memory_model == "utilisation" else "")
        + (f", mem_fraction_static {fraction:g}" if engine.memory_model == "static_pool" else ""),
        "TTFT is for a request arriving at an idle-to-steady engine (no queueing); "
        "use `garrison simulate` for behaviour under load",
        "MoE experts touched per step assume uniform routing (upper bound on bytes)",
    ]
    if pp > 1:
        assumptions.append("pipeline parallel: micro-batch pipelining not credited (conservative throughput)")
    weights_gib = wbytes.per_gpu(tp, pp) / GIB
    memory = MemoryBreakdown(
        total_gib=mem.total / GIB,
        usable_gib=mem.budget / GIB,
        weights_gib=weights_gib,
        activations_gib=mem.activations / GIB,
        runtime_gib=mem.runtime / GIB,
        kv_cache_gib=mem.kv / GIB,
        free_gib=mem.free / GIB if gpu is not None else 0.0,  # a CPU host's RAM is sized to fit
    )
    out_tps = out_tps_replica * replicas if sized.fits else 0.0
    lo_s, hi_s = SPEED_RANGE
    lo_m, hi_m = MEMORY_RANGE
    ranges = {
        "output_tokens_per_s": Range(low=out_tps * lo_s, expected=out_tps, high=out_tps * hi_s),
        "ttft_ms": Range(low=ttft * 1e3 * lo_s, expected=ttft * 1e3, high=ttft * 1e3 * hi_s),
        "itl_ms": Range(low=itl * 1e3 * lo_s, expected=itl * 1e3, high=itl * 1e3 * hi_s),
        "kv_cache_gib_per_gpu": Range(
            low=mem.kv / GIB - weights_gib * (hi_m - 1),
            expected=mem.kv / GIB,
            high=mem.kv / GIB + weights_gib * (1 - lo_m),
        ),
    }
    return Estimate(
        fits=sized.fits,
        reason=sized.reason,
        model=spec.name,
        device=device_id,
        device_kind=device_kind,
        engine=engine.name,
        quant=fmt.id,
        kv_dtype=kv_dtype,
        gpus=gpus if gpu is not None else 0,
        tp=tp,
        pp=pp,
        replicas=replicas,
        max_model_len=max_len,
        max_num_seqs=mns,
        max_num_batched_tokens=mnbt,
        weights_gib_per_gpu=round(weights_gib, 3),
        kv_cache_gib_per_gpu=round(mem.kv / GIB, 3),
        kv_cache_tokens=kv_tokens,
        kv_bytes_per_token=kv_bytes_per_token_model(spec, kv_dtype),
        fixed_state_bytes_per_seq=layout.fixed_bytes_per_seq * tp * pp,
        max_concurrency=round(max_conc, 3),
        concurrency=conc,
        input_len=opts.input_len,
        output_len=opts.output_len,
        prefill_tokens_per_s=opts.input_len / prefill_s if prefill_s > 0 else 0.0,
        decode_tokens_per_s_single=1 / itl_1 if itl_1 > 0 else 0.0,
        output_tokens_per_s=out_tps,
        ttft_ms=ttft * 1e3,
        itl_ms=itl * 1e3,
        memory=memory,
        ranges=ranges,
        assumptions=tuple(assumptions),
    )


def step_model_for(
    spec: ModelSpec,
    fmt: QuantFormat,
    est: Estimate,
    *,
    gpu: GPU | None = None,
    cpu: CPU | None = None,
    efficiency: Efficiency = DEFAULT_EFFICIENCY,
    sockets: int = 1,
) -> RooflineStepModel:
    """The step-time model behind an estimate, for the batching simulator (one replica)."""
    counts = param_counts(spec)
    engine = engines.get(est.engine)
    device = (
        Device.from_gpu(gpu, fmt, efficiency, engine.gpu_kernels)
        if gpu is not None
        else Device.from_cpu(cpu, sockets, efficiency)
        if cpu is not None
        else None
    )
    if device is None:
        raise ValueError("step_model_for needs a gpu or a cpu")
    block = engine.kv_block_tokens
    return RooflineStepModel(
        spec,
        counts,
        fmt,
        weight_bytes(spec, counts, fmt),
        kv_layout(spec, est.kv_dtype, est.tp, 1),
        device,
        est.tp,
        est.pp,
        efficiency,
        est.kv_cache_tokens,
        block,
    )


__all__ = ["EstimateOptions", "estimate", "step_model_for"]
