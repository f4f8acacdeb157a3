"""`garrison estimate`: memory and speed of one model on one device configuration."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import typer

from garrison.errors import InputError
from garrison.input_limits import is_finite, show_number

if TYPE_CHECKING:  # the sizing core is imported when the command runs, so `--help` starts fast
    from rich.console import Console

    from garrison.catalogue.schema import CPU, GPU
    from garrison.design import Estimate

EngineName = Literal["vllm", "sglang", "llama.cpp", "trtllm", "tgi"]
KV_DTYPES = ("auto", "bf16", "fp16", "fp8")


def _custom_gpu(
    base: GPU | None, memory_gib: float | None, bw: float | None, tflops: float | None
) -> GPU | None:
    from garrison.catalogue.schema import GPU, Interconnect

    if base is None and memory_gib is None and bw is None and tflops is None:
        return None
    if base is None:
        missing = [
            n
            for n, v in (("--memory-gib", memory_gib), ("--bandwidth-gbs", bw), ("--tflops", tflops))
            if v is None
        ]
        if missing:
            raise InputError(
                missing[0],
                "needed to define a device without --gpu",
                "give --memory-gib, --bandwidth-gbs and --tflops, or name a --gpu",
            )
        assert memory_gib is not None and bw is not None and tflops is not None
        return GPU(
            id="custom",
            name="custom device",
            source="command line",
            as_of="2026",
            vendor="nvidia",
            arch="custom",
            segment="datacenter",
            memory_gb=memory_gib * 1.073741824,
            usable_memory_gib=memory_gib,
            mem_bw_gbps=bw,
            bf16_dense_tflops=tflops,
            tdp_w=300,
            interconnect=Interconnect(kind="pcie", bw_gbps_per_direction=32),
        )
    update: dict[str, float] = {}
    if memory_gib is not None:
        update["usable_memory_gib"] = memory_gib
    if bw is not None:
        update["mem_bw_gbps"] = bw
    if tflops is not None:
        update["bf16_dense_tflops"] = tflops
        update["fp8_dense_tflops"] = tflops * 2 if base.fp8_dense_tflops else 0
    return base.model_copy(update={k: v for k, v in update.items() if v})


CPU_ISAS = ("avx2", "avx_vnni", "avx512", "avx512_zen5", "amx", "neon")


def _custom_cpu(
    base: CPU | None, cores: int | None, base_ghz: float | None, bw: float | None, isa: str | None
) -> CPU | None:
    """A CPU from `--cores/--base-ghz/--bandwidth-gbs/--isa`, or a catalogue CPU with those overridden."""
    from garrison.catalogue.schema import CPU

    if base is None and cores is None and base_ghz is None and isa is None:
        return None
    isa_tags = {
        "avx2": ("avx2",),
        "avx_vnni": ("avx2", "avx_vnni"),
        "avx512": ("avx2", "avx512", "avx512_vnni"),
        "avx512_zen5": ("avx2", "avx512", "avx512_vnni"),
        "amx": ("avx2", "avx512", "avx512_vnni", "amx_int8"),
        "neon": ("neon",),
    }
    if isa is not None and isa not in isa_tags:
        raise InputError("--isa", f"unknown {isa!r}", f"use one of {', '.join(CPU_ISAS)}")
    if base is None:
        missing = [
            n for n, v in (("--cores", cores), ("--base-ghz", base_ghz), ("--bandwidth-gbs", bw)) if v is None
        ]
        if missing:
            raise InputError(
                missing[0],
                "needed to define a CPU without --cpu",
                "give --cores, --base-ghz and --bandwidth-gbs (per socket; --isa defaults to avx2), or name a --cpu",
            )
        assert cores is not None and base_ghz is not None and bw is not None
        tags = isa_tags[isa or "avx2"]
        return CPU(
            id="custom-cpu",
            name="custom CPU",
            source="command line" + (" (Zen 5)" if isa == "avx512_zen5" else ""),
            as_of="2026",
            vendor="amd" if isa == "avx512_zen5" else "intel",
            cores=cores,
            base_ghz=base_ghz,
            memory_channels=1,
            memory_mts=max(1000, int(bw * 125)),  # one notional channel carrying the bandwidth
            mem_bw_gbps=bw,
            isa=tags,
            matmul_tflops=max(1e-3, cores * base_ghz * 64 / 1000),
            tdp_w=100,
            sockets_max=2,
        )
    update: dict[str, object] = {}
    if cores is not None:
        update["cores"] = cores
    if base_ghz is not None:
        update["base_ghz"] = base_ghz
    if bw is not None:
        update["mem_bw_gbps"] = bw
    if isa is not None:
        update["isa"] = isa_tags[isa]
    return base.model_copy(update=update) if update else base


# Upper ends of the physical range of each numeric option (a GPU with 100 TiB, a 1 PB/s link or a
# billion-token prompt is a typo, and unbounded values overflow the integer maths downstream).
_OPTION_MAX: dict[str, float] = {
    "--gpus": 100_000,
    "--tp": 1024,
    "--pp": 1024,
    "--max-model-len": 100_000_000,
    "--max-num-seqs": 1_000_000,
    "--max-num-batched-tokens": 100_000_000,
    "--block-size": 4096,
    "--input-len": 100_000_000,
    "--output-len": 100_000_000,
    "--concurrency": 10_000_000,
    "--memory-gib": 100_000,
    "--bandwidth-gbs": 1_000_000,
    "--tflops": 1_000_000,
    "--sockets": 16,
    "--cores": 4096,
    "--base-ghz": 20,
}


def _positive(name: str, value: float | None) -> None:
    if value is None:
        return
    if not is_finite(value):
        raise InputError(name, f"must be a finite number, got {value:g}", "give a number greater than 0")
    if value <= 0:
        raise InputError(name, f"must be positive, got {show_number(value)}", "give a number greater than 0")
    if value > _OPTION_MAX[name]:
        raise InputError(
            name, f"{show_number(value)} is more than {_OPTION_MAX[name]:g}", "give a realistic value"
        )


def run_estimate(
    model: str,
    *,
    gpu: str | None,
    cpu: str | None,
    gpus: int,
    tp: int | None,
    pp: int,
    quant: str,
    kv_dtype: str,
    engine: str,
    gpu_memory_utilization: float | None,
    mem_fraction_static: float | None,
    max_model_len: int | None,
    max_num_seqs: int | None,
    max_num_batched_tokens: int | None,
    block_size: int | None,
    input_len: int,
    output_len: int,
    concurrency: int | None,
    memory_gib: float | None,
    bandwidth_gbs: float | None,
    tflops: float | None,
    calibration: str = "default",
    sockets: int = 1,
    numa: str = "off",
    cores: int | None = None,
    base_ghz: float | None = None,
    isa: str | None = None,
    expert_parallel: bool = False,
    split_mode: str = "layer",
    p2p: str = "auto",
    engine_version: str | None = None,
) -> Estimate:
    """Resolve names, validate numbers and run the estimate (library entry point of the command)."""
    from garrison import engines
    from garrison.catalogue import load_catalogue
    from garrison.cli.common import load_model, resolve_quant
    from garrison.requirements import ModelRef
    from garrison.sizing.calibration_profiles import load_efficiency
    from garrison.sizing.estimate import EstimateOptions, estimate

    cat = load_catalogue()
    for name, value in (
        ("--gpus", gpus),
        ("--tp", tp),
        ("--pp", pp),
        ("--max-model-len", max_model_len),
        ("--max-num-seqs", max_num_seqs),
        ("--max-num-batched-tokens", max_num_batched_tokens),
        ("--block-size", block_size),
        ("--input-len", input_len),
        ("--output-len", output_len),
        ("--concurrency", concurrency),
        ("--memory-gib", memory_gib),
        ("--bandwidth-gbs", bandwidth_gbs),
        ("--tflops", tflops),
        ("--sockets", sockets),
        ("--cores", cores),
        ("--base-ghz", base_ghz),
    ):
        _positive(name, value)
    if numa not in ("off", "distribute"):
        raise InputError("--numa", f"unknown {numa!r}", "use off or distribute")
    if split_mode not in ("layer", "row"):
        raise InputError("--split-mode", f"unknown {split_mode!r}", "use layer (llama.cpp default) or row")
    if p2p not in ("auto", "yes", "no"):
        raise InputError("--p2p", f"unknown {p2p!r}", "use auto, yes or no")
    if engine_version is not None and not re.fullmatch(
        r"\d{1,3}\.\d{1,3}(\.\d{1,4})?([.+-][A-Za-z0-9.]{1,20})?", engine_version
    ):
        raise InputError("--engine-version", f"not a version: {engine_version!r}", "e.g. 0.6.3 or 0.10.1")
    for name, frac in (
        ("--gpu-memory-utilization", gpu_memory_utilization),
        ("--mem-fraction-static", mem_fraction_static),
    ):
        if frac is not None and not (is_finite(frac) and 0 < frac <= 1):
            raise InputError(name, f"must be in (0, 1], got {show_number(frac)}", "e.g. 0.9")
    if kv_dtype not in KV_DTYPES:
        raise InputError("--kv-dtype", f"unknown {kv_dtype!r}", f"use one of {', '.join(KV_DTYPES)}")
    if gpu and cpu:
        raise InputError("--cpu", "given together with --gpu", "choose one device kind")
    is_path = model.endswith(".gguf") or Path(model).expanduser().exists()
    ref = ModelRef(path=model) if is_path else ModelRef(id=model)
    _, spec = load_model(ref)
    if max_model_len is not None and max_model_len > spec.max_context:
        raise InputError(
            "--max-model-len",
            f"{max_model_len} is longer than the model supports ({spec.max_context})",
            f"use at most {spec.max_context}",
        )
    cpu_flags = cores is not None or base_ghz is not None or isa is not None
    if gpu and cpu_flags:
        raise InputError(
            "--cores", "CPU flags given with --gpu", "drop --cores/--base-ghz/--isa, or use --cpu"
        )
    c = (
        _custom_cpu(cat.cpu(cpu) if cpu else None, cores, base_ghz, bandwidth_gbs, isa)
        if (cpu or cpu_flags)
        else None
    )
    g = (
        None
        if c is not None
        else _custom_gpu(cat.gpu(gpu) if gpu else None, memory_gib, bandwidth_gbs, tflops)
    )
    if g is None and c is None:
        raise InputError(
            "--gpu",
            "no device given",
            "name a --gpu (e.g. h100) or --cpu, or define one with --memory-gib/--bandwidth-gbs/--tflops "
            "(a GPU) or --cores/--base-ghz/--bandwidth-gbs (a CPU)",
        )
    if c is not None and sockets > c.sockets_max:
        raise InputError(
            "--sockets", f"{c.id} fits {c.sockets_max} socket(s) per server", f"use --sockets {c.sockets_max}"
        )
    profile = engines.get(engine, "--engine")
    if c is not None and not profile.runs_on_cpu:
        profile = engines.cpu_default()
    engine = profile.name
    fmt = resolve_quant(cat, spec, quant, engine)
    # llama.cpp serves GGUF quant types and plain F16/BF16/F32 and MXFP4 GGUF files (`convert_hf_to_gguf.py
    # --outtype f16|bf16`): its profile lists the families it loads
    gguf_file = spec.source == "gguf"  # a .gguf file: its own format, whatever --quant says
    if not profile.loads(fmt.family) and not gguf_file:
        if fmt.family == "gguf":
            fix = f"use --engine {engines.gguf_default().name}, or a format like fp8/awq"
        else:
            fix = "use e.g. --quant Q4_K_M, Q8_0, F16 or BF16"
        raise InputError("--quant", f"{fmt.id} ({fmt.family}) is not a format {profile.title} loads", fix)
    opts = EstimateOptions(
        engine=engine,
        gpus=gpus,
        tp=tp,
        pp=pp,
        gpu_memory_utilization=gpu_memory_utilization,
        mem_fraction_static=mem_fraction_static,
        max_model_len=max_model_len,
        max_num_seqs=max_num_seqs,
        max_num_batched_tokens=max_num_batched_tokens,
        block_size=block_size,
        input_len=input_len,
        output_len=output_len,
        concurrency=concurrency,
        kv_dtype=kv_dtype,
        efficiency=load_efficiency(calibration),
        sockets=sockets,
        numa_distribute=numa == "distribute",
        expert_parallel=expert_parallel,
        split_mode="row" if split_mode == "row" else "layer",
        p2p=None if p2p == "auto" else p2p == "yes",
        engine_version=engine_version,
    )
    return estimate(spec, fmt, gpu=g, cpu=c, opts=opts)


def render_estimate(est: Estimate, console: Console) -> None:
    """A readable summary of an estimate."""
    from rich.table import Table

    verdict = "[green]fits[/green]" if est.fits else f"[red]does not fit[/red]: {est.reason}"
    console.print(
        f"[bold]{est.model}[/bold] {est.quant} on {est.gpus or 1}x {est.device} ({est.engine}): {verdict}"
    )
    t = Table(show_header=False, box=None)
    rows = [
        ("parallelism", f"TP {est.tp} x PP {est.pp}, {est.replicas} replica(s)"),
        ("weights per GPU", f"{est.weights_gib_per_gpu:.2f} GiB"),
        (
            "KV cache per GPU",
            f"{est.kv_cache_gib_per_gpu:.2f} GiB = {est.kv_cache_tokens:,} tokens per replica",
        ),
        ("max concurrency", f"{est.max_concurrency:.2f} x {est.max_model_len:,}-token sequences"),
        ("prefill", f"{est.prefill_tokens_per_s:,.0f} tokens/s at {est.input_len} input tokens"),
        ("decode, one stream", f"{est.decode_tokens_per_s_single:,.1f} tokens/s"),
        ("output, whole system", f"{est.output_tokens_per_s:,.0f} tokens/s at {est.concurrency} per replica"),
        ("TTFT / ITL", f"{est.ttft_ms:,.0f} ms / {est.itl_ms:,.1f} ms"),
    ]
    for k, v in rows:
        t.add_row(k, v)
    console.print(t)
    for r in ("output_tokens_per_s", "itl_ms"):
        if r in est.ranges:
            rg = est.ranges[r]
            console.print(f"  range {r}: {rg.low:,.1f} - {rg.high:,.1f}")
    console.print("[dim]assumptions:[/dim]")
    for a in est.assumptions:
        console.print(f"  [dim]- {a}[/dim]")


def register(app: typer.Typer) -> None:
    """Adds `garrison estimate`."""

    @app.command("estimate")
    def estimate_cmd(
        model: str = typer.Argument(..., help="Catalogue id, a folder with config.json, or a .gguf file."),
        gpu: str | None = typer.Option(None, "--gpu", help="GPU name, e.g. h100, rtx-4090."),
        cpu: str | None = typer.Option(None, "--cpu", help="CPU name for llama.cpp on CPU, e.g. epyc-9654."),
        gpus: int = typer.Option(1, "--gpus", help="GPUs in the whole system (replicas fill the rest)."),
        tp: int | None = typer.Option(
            None, "--tp", help="Tensor parallel size (default: smallest that fits)."
        ),
        pp: int = typer.Option(1, "--pp", help="Pipeline parallel size."),
        quant: str = typer.Option(
            "auto", "--quant", help="auto|bf16|fp16|fp8|int8|awq|gptq|mxfp4|nvfp4|<GGUF type>."
        ),
        kv_dtype: str = typer.Option("auto", "--kv-dtype", help="auto|bf16|fp16|fp8."),
        engine: EngineName = typer.Option("vllm", "--engine", help="vllm|sglang|llama.cpp|trtllm|tgi."),
        gpu_memory_utilization: float | None = typer.Option(None, "--gpu-memory-utilization"),
        mem_fraction_static: float | None = typer.Option(None, "--mem-fraction-static"),
        max_model_len: int | None = typer.Option(None, "--max-model-len"),
        max_num_seqs: int | None = typer.Option(None, "--max-num-seqs"),
        max_num_batched_tokens: int | None = typer.Option(None, "--max-num-batched-tokens"),
        block_size: int | None = typer.Option(None, "--block-size"),
        input_len: int = typer.Option(1024, "--input-len"),
        output_len: int = typer.Option(256, "--output-len"),
        concurrency: int | None = typer.Option(
            None, "--concurrency", help="Sequences per replica (default: saturate)."
        ),
        memory_gib: float | None = typer.Option(
            None, "--memory-gib", help="Define or override device memory."
        ),
        bandwidth_gbs: float | None = typer.Option(
            None, "--bandwidth-gbs", help="Define or override bandwidth."
        ),
        tflops: float | None = typer.Option(None, "--tflops", help="Define or override dense bf16 TFLOPS."),
        calibration: str = typer.Option(
            "default", "--calibration", help="Efficiency profile (garrison calibrate)."
        ),
        sockets: int = typer.Option(1, "--sockets", help="CPU sockets in the host (llama.cpp on CPU)."),
        numa: str = typer.Option(
            "off", "--numa", help="off|distribute: llama.cpp's --numa placement on a multi-socket host."
        ),
        cores: int | None = typer.Option(None, "--cores", help="Define or override CPU cores per socket."),
        base_ghz: float | None = typer.Option(
            None, "--base-ghz", help="Define or override the CPU's all-core base clock, GHz."
        ),
        isa: str | None = typer.Option(
            None, "--isa", help="Define or override the CPU's matrix path: " + "|".join(CPU_ISAS) + "."
        ),
        expert_parallel: bool = typer.Option(
            False, "--expert-parallel", help="MoE experts split by expert over the TP ranks (vLLM EP)."
        ),
        split_mode: str = typer.Option(
            "layer", "--split-mode", help="layer|row: how llama.cpp splits a model over several GPUs."
        ),
        p2p: str = typer.Option(
            "auto", "--p2p", help="auto|yes|no: GPUs reach each other peer-to-peer (auto: not on GeForce)."
        ),
        engine_version: str | None = typer.Option(
            None,
            "--engine-version",
            help="The engine's version where its defaults changed (vLLM < 0.8: V0, chunked prefill off "
            "below 32k context). Default: the current release.",
        ),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    ) -> None:
        """Memory per GPU, KV capacity, concurrency, prefill/decode speed, TTFT and ITL."""
        est = run_estimate(
            model,
            gpu=gpu,
            cpu=cpu,
            gpus=gpus,
            tp=tp,
            pp=pp,
            quant=quant,
            kv_dtype=kv_dtype,
            engine=engine,
            gpu_memory_utilization=gpu_memory_utilization,
            mem_fraction_static=mem_fraction_static,
            max_model_len=max_model_len,
            max_num_seqs=max_num_seqs,
            max_num_batched_tokens=max_num_batched_tokens,
            block_size=block_size,
            input_len=input_len,
            output_len=output_len,
            concurrency=concurrency,
            memory_gib=memory_gib,
            bandwidth_gbs=bandwidth_gbs,
            tflops=tflops,
            calibration=calibration,
            sockets=sockets,
            numa=numa,
            cores=cores,
            base_ghz=base_ghz,
            isa=isa,
            expert_parallel=expert_parallel,
            split_mode=split_mode,
            p2p=p2p,
            engine_version=engine_version,
        )
        if as_json:
            from garrison.cli.common import print_json

            print_json(est.model_dump(mode="json"))
        else:
            from rich.console import Console

            render_estimate(est, Console())
