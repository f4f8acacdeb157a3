"""`estimate`: memory and speed of one configuration (model x device x parallelism x engine)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Literal

from garrison import engines
from garrison.catalogue.schema import CPU, GPU, QuantFormat
from garrison.design import Estimate, MemoryBreakdown, Range
from garrison.engines import EngineProfile
from garrison.modelspec.params import ParamCounts, param_counts
from garrison.modelspec.spec import ModelSpec
from garrison.sizing.efficiency import DEFAULT_EFFICIENCY, Efficiency
from garrison.sizing.engine_memory import EngineMemory, engine_memory
from garrison.sizing.kv_cache import kv_bytes_per_token_model, kv_layout
from garrison.sizing.speed import Device, RooflineStepModel, SplitMode, has_p2p
from garrison.sizing.steady_state import (
    THRASH_THROUGHPUT_LOSS,
    SchedulerLimits,
    kv_resident_sequences,
    steady_state,
)
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
    # MoE experts split by expert over the tp ranks instead of sliced (vLLM --enable-expert-parallel)
    expert_parallel: bool = False
    # llama.cpp on several GPUs: `--split-mode layer` (its default: a pipeline) or `row`
    split_mode: Literal["layer", "row"] = "layer"
    # GPUs reach each other peer-to-peer (None: infer - GeForce boards have P2P disabled)
    p2p: bool | None = None
    # llama.cpp on a multi-socket CPU host started with `--numa distribute`
    numa_distribute: bool = False
    # CUDA graphs captured at start-up (vLLM/SGLang default); False = --enforce-eager
    cuda_graphs: bool = True
    # the engine's release where its defaults changed (its profile's version_defaults, e.g. vLLM
    # before 0.8); None = the current release
    engine_version: str | None = None


# a mixing scheduler without chunked prefill runs prefill-first steps, as SGLang's does
_WITHOUT_CHUNKS: dict[str, Literal["vllm", "sglang", "llamacpp"]] = {"vllm": "sglang"}


def scheduler_of(
    engine: str | EngineProfile, chunked_prefill: bool = True
) -> Literal["vllm", "sglang", "llamacpp"]:
    """Which scheduler an engine's batching follows (its profile's; an engine release without
    chunked prefill, e.g. vLLM before 0.5.1, runs prefill-first steps like SGLang)."""
    profile = engines.get(engine) if isinstance(engine, str) else engine
    return profile.scheduler if chunked_prefill else _WITHOUT_CHUNKS.get(profile.scheduler, profile.scheduler)


def _split(engine: EngineProfile, opts: EstimateOptions) -> SplitMode:
    if engine.gpu_kernels != "ggml":  # llama.cpp's --split-mode is ggml's
        return "tp"
    return "row" if opts.split_mode == "row" else "layer"


def _kv_dtype(opts: EstimateOptions, engine: EngineProfile, spec: ModelSpec | None = None) -> str:
    """--kv-dtype, or what 'auto' means to the engine: the dtype the checkpoint declares for its KV
    cache where the engine follows it (ModelOpt / compressed-tensors FP8 on vLLM, SGLang,
    TensorRT-LLM), else the engine's default (llama.cpp f16, others the model's 16-bit dtype)."""
    if opts.kv_dtype != "auto":
        return opts.kv_dtype
    if engine.checkpoint_kv_dtype and spec is not None and spec.kv_cache_dtype:
        return spec.kv_cache_dtype
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
    ep: bool = False,
    cuda_graphs: bool | None = None,
) -> Sized:
    wb = weight_bytes(spec, counts, fmt).per_gpu(tp, pp, ep)
    mem = engine_memory(
        engine=engine,
        spec=spec,
        total_bytes=total_bytes,
        weights_bytes=wb,
        tp=tp,
        memory_fraction=fraction,
        max_num_batched_tokens=mnbt,
        max_num_seqs=mns,
        cuda_graphs=cuda_graphs,
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
    kv_dtype = _kv_dtype(opts, engine, spec)
    if engine.fixed_slots:
        d_mns = opts.concurrency or d_mns
    # an older release's defaults where they changed (--engine-version; the engine's profile)
    chunked, reserve_graphs = True, (None if opts.cuda_graphs else False)
    if opts.engine_version is not None and engine.version_defaults is not None:
        old = engine.version_defaults(
            opts.engine_version, gpu.usable_memory_gib if gpu is not None else None, max_len
        )
        d_mnbt, d_mns, chunked = old.max_num_batched_tokens, old.max_num_seqs, old.chunked_prefill
        if not old.graphs_before_kv:
            reserve_graphs = False
        assumptions.append(old.note)
    mnbt = opts.max_num_batched_tokens or d_mnbt
    mns = opts.max_num_seqs or d_mns
    if engine.fixed_slots:
        assumptions.append(
            f"{engine.title}: KV for n_ctx = {max_len:,} tokens per request x {mns} slots "
            f"= {engine.context_tokens(max_len, mns):,} tokens allocated at start"
        )
    fraction = _memory_fraction(opts, engine)
    block = opts.block_size or engine.kv_block_tokens
    split = _split(engine, opts)
    ep = opts.expert_parallel and spec.moe is not None
    pp = opts.pp
    gpus = opts.gpus if gpu is not None else 1
    if split == "layer" and gpu is not None and gpus > 1:
        # llama.cpp's default layer split: each GPU holds whole layers, one token walks them in turn
        tps, pp = [1], gpus
        assumptions.append(
            f"llama.cpp --split-mode layer over {gpus} GPUs: a pipeline, so one stream decodes no faster "
            "than on one GPU holding every layer; the GPUs add memory, not speed"
        )
    elif split == "row" and gpu is not None:
        tps = [opts.tp or gpus]
        assumptions.append(
            "llama.cpp --split-mode row: every matmul split by rows, gathered on the main GPU "
            f"through the host ({eff.llamacpp_row_sync_us:g} us per sync, 7 per layer)"
        )
    elif opts.tp is not None:
        tps = [opts.tp]
    else:
        tps = _tp_choices(spec, gpus, pp) if gpu is not None else [1]
    if not tps:
        tps = [1]

    def size_at(tp: int) -> Sized:
        return _size(
            spec,
            counts,
            fmt,
            total_bytes,
            tp,
            pp,
            engine,
            fraction,
            mnbt,
            mns,
            max_len,
            kv_dtype,
            ep,
            reserve_graphs,
        )

    sized = None
    for tp in tps:
        if gpu is not None and tp * pp > gpus:
            continue
        sized = size_at(tp)
        if sized.fits:
            break
    if sized is None:  # --tp x --pp larger than --gpus
        tp = tps[0]
        sized = size_at(tp)
        sized = Sized(
            tp, sized.mem, False, f"--tp {tp} x --pp {pp} needs {tp * pp} GPUs but --gpus is {gpus}"
        )
    tp = sized.tp
    mem = sized.mem
    replicas = max(1, gpus // (tp * pp)) if gpu is not None else 1
    layout = kv_layout(spec, kv_dtype, tp, pp)
    kv_free = max(0.0, mem.kv)
    one_seq = layout.bytes_per_seq(max_len)
    slack = mem.kv - one_seq
    if sized.fits and not engine.fixed_slots and slack < (1.0 - MEMORY_RANGE[0]) * mem.budget:
        # inside the memory model's error: the start-up may still fail (docs/accuracy.md)
        assumptions.append(
            f"fits by {slack / GIB:.2f} GiB per GPU: one {max_len}-token sequence needs "
            f"{one_seq / GIB:.2f} GiB of KV and {mem.kv / GIB:.2f} GiB is left, within the memory "
            f"model's {1.0 - MEMORY_RANGE[0]:.0%} error; the engine may refuse to start: lower "
            "--max-model-len or add memory"
        )
    per_token_at_max = layout.effective_bytes_per_token(max_len)
    kv_tokens = int(kv_free / per_token_at_max) if per_token_at_max > 0 else 0
    if engine.memory_model == "context_upfront" and sized.fits:
        # exactly n_ctx = max_len x slots tokens of KV at start; the rest of the device stays free
        kv_tokens = engine.context_tokens(max_len, mns)
        allocated = layout.bytes_per_seq(max_len) * mns
        mem = replace(mem, kv=allocated, budget=mem.weights + mem.activations + mem.runtime + allocated)
    max_conc = kv_tokens / max_len if max_len else 0.0
    if gpu is not None:
        device = Device.from_gpu(gpu, fmt, eff, engine.gpu_kernels, p2p=opts.p2p)
        servers = math.ceil(tp * pp / gpu.interconnect.max_gpus_per_node)
        if servers > 1:
            assumptions.append(
                f"{tp * pp} GPUs span {servers} servers of {gpu.interconnect.max_gpus_per_node}: "
                + (
                    "tensor-parallel all-reduces"
                    if tp > gpu.interconnect.max_gpus_per_node
                    else "pipeline hops"
                )
                + f" between servers go over the network ({eff.network_gbit_s_per_gpu:g} Gb/s per GPU, "
                f"{eff.allreduce_latency_us_network:g} us per hop; efficiency.Efficiency)"
            )
        if tp * pp > 1 and not (has_p2p(gpu) if opts.p2p is None else opts.p2p):
            assumptions.append(
                f"{gpu.id}: no PCIe peer-to-peer (GeForce driver), so collectives go through host memory "
                f"at {eff.no_p2p_bw:g} of the link and {eff.no_p2p_latency_factor:g}x the latency"
            )
    else:
        assert cpu is not None
        device = Device.from_cpu(cpu, opts.sockets, eff, opts.numa_distribute, fmt.id)
    peak_bw = gpu.mem_bw_gbps if gpu is not None else cpu.mem_bw_gbps * opts.sockets if cpu else 1.0
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
        ep=ep,
        split=split,
    )
    chunk = min(mnbt, opts.input_len)
    prefill_s = model.prefill_time_s(opts.input_len, chunk)
    itl_1 = model.decode_step_s(1, opts.input_len + opts.output_len // 2)
    # The load: `concurrency` closed-loop clients per replica, or as many as the replica sustains:
    # max_num_seqs (llama.cpp: its slots), or fewer when the paged KV cache holds fewer (sizing.steady_state)
    limits = SchedulerLimits(scheduler_of(engine, chunked), mns, max(mnbt, mns))
    slot = max_len if engine.fixed_slots else None  # each slot holds one max_model_len request
    sustain = float(mns)
    if not engine.fixed_slots:
        sustain = min(sustain, kv_resident_sequences(kv_tokens, block, opts.input_len, opts.output_len))
    clients = float(opts.concurrency) if opts.concurrency is not None else max(1.0, math.floor(sustain))
    st = steady_state(model, limits, opts.input_len, opts.output_len, clients, slot_tokens=slot)
    conc = max(1, round(clients))
    itl = st.itl_s
    ttft = st.ttft_s
    out_tps_replica = st.output_tokens_per_s
    if not engine.fixed_slots and mns > sustain:
        assumptions.append(
            f"{engine.name}: the KV cache sustains ~{sustain:.0f} sequences of {opts.input_len} + "
            f"{opts.output_len} tokens; with more in flight (max_num_seqs {mns}) the engine preempts and "
            f"recomputes, up to {THRASH_THROUGHPUT_LOSS:.0%} less throughput in simulation: cap "
            f"max_num_seqs near {sustain:.0f} for the numbers shown"
        )
    assumptions += [
        f"efficiency '{eff.name}': {device.mem_bw_bytes_s / 1e9:,.0f} GB/s achieved "
        f"({device.mem_bw_bytes_s / 1e9 / peak_bw:.2f} of the datasheet), {device.flops_s / 1e12:,.1f} "
        f"TFLOPS in GEMMs, {device.step_overhead_s * 1e3:g} ms per step",
        f"KV cache {kv_dtype}; weights {fmt.id} at {fmt.bits_per_weight} bits per weight (incl. scales)",
        f"{engine.name}: max_num_seqs {mns}, max_num_batched_tokens {mnbt}"
        + (f", gpu_memory_utilization {fraction:g}" if engine.memory_model == "utilisation" else "")
        + (f", mem_fraction_static {fraction:g}" if engine.memory_model == "static_pool" else ""),
        f"speed at {conc} closed-loop client(s) per replica in the steady state the batching simulator "
        f"reaches ({st.running:.0f} running, limited by {st.limited_by.replace('_', ' ')}); TTFT includes "
        "the wait behind other prompts' chunks and the step in progress and, past the limit, the queue",
        "MoE experts touched per step assume uniform routing (upper bound on bytes)",
    ]
    if ep:
        assumptions.append("MoE: expert parallel over the tensor-parallel ranks (all-to-all dispatch)")
    if pp > 1 and split != "layer":
        assumptions.append("pipeline parallel: micro-batch pipelining not credited (conservative throughput)")
    if cpu is not None and opts.sockets > 1:
        assumptions.append(
            f"{opts.sockets} sockets: prompt processing uses every core; decode bandwidth "
            + (
                f"gains {eff.cpu_numa_gain:.0%} per extra socket (--numa distribute)"
                if opts.numa_distribute
                else "of one socket (llama.cpp without --numa distribute does not gain from the second)"
            )
        )
    weights_gib = wbytes.per_gpu(tp, pp, ep) / GIB
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
    # past the sustainable clients the engine thrashes: the low end of throughput covers it
    lo_tps = lo_s * (1 - THRASH_THROUGHPUT_LOSS) if clients > sustain and not engine.fixed_slots else lo_s
    ranges = {
        "output_tokens_per_s": Range(low=out_tps * lo_tps, expected=out_tps, high=out_tps * hi_s),
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
    expert_parallel: bool = False,
    p2p: bool | None = None,
    numa_distribute: bool = False,
) -> RooflineStepModel:
    """The step-time model behind an estimate, for the batching simulator (one replica).

    llama.cpp's split mode is read back from the estimate's shape (layer split: pp > 1; row: tp > 1).
    """
    counts = param_counts(spec)
    engine = engines.get(est.engine)
    device = (
        Device.from_gpu(gpu, fmt, efficiency, engine.gpu_kernels, p2p=p2p)
        if gpu is not None
        else Device.from_cpu(cpu, sockets, efficiency, numa_distribute, fmt.id)
        if cpu is not None
        else None
    )
    if device is None:
        raise ValueError("step_model_for needs a gpu or a cpu")
    block = engine.kv_block_tokens
    split: SplitMode = "tp"
    if engine.gpu_kernels == "ggml":
        split = "row" if est.tp > 1 else "layer"
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
        ep=expert_parallel and spec.moe is not None,
        split=split,
    )


def scheduler_limits(est: Estimate) -> tuple[SchedulerLimits, int | None]:
    """The scheduler settings of an estimate's replica, and a fixed-slot engine's per-slot context
    (its max_model_len: llama.cpp holds one request per slot; else None)."""
    engine = engines.get(est.engine)
    limits = SchedulerLimits(
        scheduler_of(engine), est.max_num_seqs, max(est.max_num_batched_tokens, est.max_num_seqs)
    )
    slot = est.max_model_len if engine.fixed_slots else None
    return limits, slot


def saturating_clients(est: Estimate, block: int = 16) -> float:
    """The most closed-loop clients one replica of `est` sustains (its max_num_seqs or the KV limit)."""
    if engines.get(est.engine).fixed_slots:
        return float(est.max_num_seqs)
    return min(
        float(est.max_num_seqs),
        kv_resident_sequences(est.kv_cache_tokens, block, est.input_len, est.output_len),
    )


__all__ = [
    "EstimateOptions",
    "estimate",
    "saturating_clients",
    "scheduler_limits",
    "scheduler_of",
    "step_model_for",
]
