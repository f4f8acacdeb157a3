"""`garrison simulate`: continuous-batching simulation of a design or a model at one or more rates."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from garrison import engines
from garrison.catalogue import load_catalogue
from garrison.cli.common import load_model, resolve_quant
from garrison.design import Design
from garrison.errors import GarrisonError, InputError
from garrison.requirements import ModelRef
from garrison.simulate.capacity import Sweep, sweep_rates
from garrison.simulate.setup import (
    SimulationSetup,
    pick_deployment,
    read_design,
    setup_from_design,
    setup_from_estimate,
)
from garrison.simulate.workload import LengthDist, parse_trace_file, requests_from_rows
from garrison.sizing.calibration_profiles import load_efficiency
from garrison.sizing.estimate import EstimateOptions, estimate, step_model_for
from garrison.sizing.step_time import StepTimeModel


def _rates(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise InputError(
            "--rate", f"cannot read {text!r}", "give requests per second, e.g. --rate 1,2.5,5"
        ) from None


def _print_table(sweep: Sweep, setup: SimulationSetup) -> None:
    typer.echo(f"{setup.description} | {sweep.replicas} replica(s) | engine {setup.engine.scheduler}")
    head = (
        f"{'rate/s':>8} {'TTFT p50':>9} {'TTFT p95':>9} {'ITL p50':>8} {'ITL p95':>8} {'E2E p95':>9} "
        f"{'out tok/s':>10} {'running':>8} {'waiting':>8} {'preempt':>8}"
    )
    typer.echo(head)
    for s in sweep.steps:
        typer.echo(
            f"{s.rate:>8.3g} {s.ttft_ms.p50:>9.0f} {s.ttft_ms.p95:>9.0f} {s.itl_ms.p50:>8.1f} "
            f"{s.itl_ms.p95:>8.1f} {s.e2e_ms.p95:>9.0f} {s.output_tokens_per_s:>10.0f} "
            f"{s.mean_running:>8.1f} {s.mean_waiting:>8.1f} {s.preemptions:>8d}"
        )
    typer.echo("latencies in ms; rates in requests per second for the whole deployment")
    for b in sweep.breaks:
        if b.breaks_at is None:
            typer.echo(f"SLO {b.metric} <= {b.target_ms:g} ms holds at every simulated rate")
        else:
            typer.echo(f"SLO {b.metric} <= {b.target_ms:g} ms breaks at {b.breaks_at:.3g} req/s")


def design_setup(path: Path, use_case: str, overrides: dict[str, int]) -> SimulationSetup:
    """A design's deployment with its roofline rebuilt from the catalogue (or, failing that, its estimate)."""
    design = read_design(path.read_text(encoding="utf-8"), str(path))
    return setup_for_design(design, str(path), use_case, overrides)


def setup_for_design(
    design: Design, source: str, use_case: str, overrides: dict[str, int]
) -> SimulationSetup:
    """`design_setup` for a Design already in memory (MCP passes stored designs by id)."""
    dep = pick_deployment(design, source, use_case)
    model: StepTimeModel | None = None
    try:
        cat = load_catalogue()
        ref = ModelRef(path=dep.model_path) if dep.model_path else ModelRef(id=dep.model_id)
        _, spec = load_model(ref)
        fmt = cat.quant(dep.quant)
        eff = load_efficiency(design.calibration)
        if dep.device_kind == "gpu":
            model = step_model_for(spec, fmt, dep.estimate, gpu=cat.gpu(dep.device), efficiency=eff)
        else:
            model = step_model_for(spec, fmt, dep.estimate, cpu=cat.cpu(dep.device), efficiency=eff)
    except (GarrisonError, KeyError, OSError):
        model = None  # falls back to the step model fitted to the design's own estimate numbers
    return setup_from_design(design, source, use_case=use_case, model=model, engine_overrides=overrides)


def model_setup(
    model: str,
    *,
    gpu: str,
    cpu: str,
    gpus: int,
    tp: int | None,
    quant: str,
    engine: str,
    kv_dtype: str,
    max_model_len: int | None,
    input_len: int,
    output_len: int,
    calibration: str,
    overrides: dict[str, int],
) -> SimulationSetup:
    """The roofline of one configuration, resolved as `garrison estimate` resolves it."""
    cat = load_catalogue()
    is_path = model.endswith(".gguf") or Path(model).expanduser().exists()
    _, spec = load_model(ModelRef(path=model) if is_path else ModelRef(id=model))
    if not gpu and not cpu:
        raise InputError("--gpu", "no device given", "name a --gpu (e.g. h100-sxm) or a --cpu")
    if cpu and not engines.get(engine, "--engine").runs_on_cpu:
        engine = engines.cpu_default().name
    fmt = resolve_quant(cat, spec, quant, engine)
    eff = load_efficiency(calibration or "default")
    opts = EstimateOptions(
        engine=engine,
        gpus=gpus,
        tp=tp,
        max_model_len=max_model_len,
        max_num_seqs=overrides.get("max_num_seqs") or None,
        max_num_batched_tokens=overrides.get("max_num_batched_tokens") or None,
        input_len=input_len,
        output_len=output_len,
        kv_dtype=kv_dtype,
        efficiency=eff,
    )
    g = cat.gpu(gpu) if gpu else None
    c = cat.cpu(cpu) if cpu else None
    est = estimate(spec, fmt, gpu=g, cpu=c, opts=opts)
    if not est.fits:
        raise InputError(
            "MODEL", f"{model} does not fit: {est.reason}", "more --gpus, another --quant or --gpu"
        )
    step = step_model_for(spec, fmt, est, gpu=g, cpu=c, efficiency=eff)
    return setup_from_estimate(
        est,
        step,
        description=f"{model} {fmt.id} on {est.gpus or 1}x {est.device} "
        f"(TP {est.tp}, {est.replicas} replica(s))",
        engine_overrides=overrides,
    )


def register(app: typer.Typer) -> None:
    """Adds `garrison simulate`."""

    @app.command("simulate")
    def simulate_cmd(
        model_or_design: str = typer.Argument(
            ..., help="A design.json, or a model (catalogue id / folder / .gguf)."
        ),
        rate: str = typer.Option(
            "",
            "--rate",
            help="Requests per SECOND, comma-separated for a sweep "
            "(default: the design's requests_per_minute / 60).",
        ),
        num_requests: int = typer.Option(2000, "--num-requests", help="Requests simulated per rate."),
        input_len: str = typer.Option(
            "",
            "--input-len",
            help="Prompt tokens: 512, uniform:128-1024, lognormal:MEAN:SIGMA, normal:MEAN:STD[:LOW-HIGH].",
        ),
        output_len: str = typer.Option("", "--output-len", help="Output tokens, same syntax as --input-len."),
        seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same result)."),
        replicas: int = typer.Option(
            0, "--replicas", help="Replicas behind round-robin (default: the design's)."
        ),
        burst: int = typer.Option(1, "--burst", help="Requests arriving together in each Poisson burst."),
        prefix_hit_rate: float = typer.Option(
            0.0, "--prefix-hit-rate", help="Fraction of prompt tokens cached."
        ),
        trace: Path | None = typer.Option(
            None,
            "--trace",
            help="Arrivals from a CSV (arrival_s,input_tokens,"
            "output_tokens), bench --export-requests JSONL or a bench results.json; rate-scaled.",
        ),
        use_case: str = typer.Option(
            "", "--use-case", help="Which deployment of the design (default: first)."
        ),
        slo_ttft_ms: float | None = typer.Option(None, "--slo-ttft-ms", help="P95 TTFT target, ms."),
        slo_itl_ms: float | None = typer.Option(None, "--slo-itl-ms", help="P95 ITL target, ms."),
        gpu: str = typer.Option("", "--gpu", help="(MODEL) GPU name, as for garrison estimate."),
        cpu: str = typer.Option("", "--cpu", help="(MODEL) CPU name: llama.cpp on CPU."),
        gpus: int = typer.Option(
            1, "--gpus", help="(MODEL) GPUs in the whole system (replicas fill the rest)."
        ),
        tp: int | None = typer.Option(None, "--tp", help="(MODEL) tensor parallel size."),
        quant: str = typer.Option("auto", "--quant", help="(MODEL) quantisation, as for garrison estimate."),
        kv_dtype: str = typer.Option("auto", "--kv-dtype", help="(MODEL) auto|bf16|fp16|fp8."),
        engine: str = typer.Option("vllm", "--engine", help="(MODEL) vllm | sglang | llama.cpp."),
        max_model_len: int | None = typer.Option(None, "--max-model-len", help="(MODEL) context length."),
        max_num_seqs: int = typer.Option(0, "--max-num-seqs", help="Override the engine's max_num_seqs."),
        max_num_batched_tokens: int = typer.Option(
            0, "--max-num-batched-tokens", help="Override the token budget."
        ),
        calibration: str = typer.Option("", "--calibration", help="(MODEL) named calibration profile."),
        series: bool = typer.Option(
            False, "--series", help="With --json: waiting/running/KV usage over time per rate (replica 0)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print JSON: {steps: [...], slo_breaks: [...]}."),
    ) -> None:
        """Simulate continuous batching under load: TTFT/ITL/E2E percentiles per rate, and where SLOs break."""
        path = Path(model_or_design)
        overrides = {"max_num_seqs": max_num_seqs, "max_num_batched_tokens": max_num_batched_tokens}
        in_dist = LengthDist.parse(input_len, "--input-len") if input_len else None
        out_dist = LengthDist.parse(output_len, "--output-len") if output_len else None
        if path.suffix == ".json" and path.is_file():
            setup = design_setup(path, use_case, overrides)
        else:
            setup = model_setup(
                model_or_design,
                gpu=gpu,
                cpu=cpu,
                gpus=gpus,
                tp=tp,
                quant=quant,
                engine=engine,
                kv_dtype=kv_dtype,
                max_model_len=max_model_len,
                input_len=int(in_dist.expected) if in_dist else 1024,
                output_len=int(out_dist.expected) if out_dist else 256,
                calibration=calibration,
                overrides=overrides,
            )
        workload = setup.workload(
            input_len=in_dist,
            output_len=out_dist,
            num_requests=num_requests,
            burst_size=burst,
            prefix_hit_rate=prefix_hit_rate,
        )
        requests = None
        if trace is not None:
            if not trace.is_file():
                raise InputError(
                    "--trace", f"{trace} does not exist", "give a CSV, JSONL or bench results.json"
                )
            text = trace.read_text(encoding="utf-8")
            rows = parse_trace_file(text, trace.suffix, str(trace))
            requests = requests_from_rows(rows, str(trace), prefix_hit_rate)
        rates = _rates(rate) if rate else [setup.default_rate_per_s]
        slo = setup.slo(ttft_ms=slo_ttft_ms, itl_ms=slo_itl_ms)
        from garrison.cli.progress import working

        with working(f"simulating {len(rates)} rate(s) x {num_requests} requests"):
            sweep = sweep_rates(
                setup.model,
                setup.engine,
                workload,
                rates,
                replicas=replicas or setup.replicas,
                seed=seed,
                slo=slo,
                requests=requests,
            )
        if as_json:
            typer.echo(json.dumps(sweep_json(sweep, series), indent=2, sort_keys=True))
        else:
            _print_table(sweep, setup)


def sweep_json(sweep: Sweep, series: bool = False) -> dict[str, object]:
    """The `--json` document; with `series`, each step also carries the engine state over time."""
    steps = []
    for n, s in enumerate(sweep.steps):
        d = s.model_dump()
        if series and n < len(sweep.series):
            d["series"] = sweep.series[n].model_dump()
        steps.append(d)
    return {"steps": steps, "slo_breaks": [b.model_dump() for b in sweep.breaks], "replicas": sweep.replicas}
