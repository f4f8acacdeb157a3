"""`garrison simulate`: continuous-batching simulation of a design or a model at one or more rates."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from garrison.errors import InputError
from garrison.simulate.capacity import Sweep, sweep_rates
from garrison.simulate.setup import SimulationSetup, setup_from_design, setup_from_model
from garrison.simulate.workload import LengthDist, parse_bench_json, parse_trace_csv, requests_from_rows


def _rates(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise InputError("--rate", f"cannot read {text!r}", "give requests per second, e.g. --rate 1,2.5,5") from None


def _print_table(sweep: Sweep, setup: SimulationSetup) -> None:
    typer.echo(f"{setup.description} | {sweep.replicas} replica(s) | engine {setup.engine.scheduler}")
    head = f"{'rate/s':>8} {'TTFT p50':>9} {'TTFT p95':>9} {'ITL p50':>8} {'ITL p95':>8} {'E2E p95':>9} " \
           f"{'out tok/s':>10} {'running':>8} {'waiting':>8} {'preempt':>8}"
    typer.echo(head)
    for s in sweep.steps:
        typer.echo(f"{s.rate:>8.3g} {s.ttft_ms.p50:>9.0f} {s.ttft_ms.p95:>9.0f} {s.itl_ms.p50:>8.1f} "
                   f"{s.itl_ms.p95:>8.1f} {s.e2e_ms.p95:>9.0f} {s.output_tokens_per_s:>10.0f} "
                   f"{s.mean_running:>8.1f} {s.mean_waiting:>8.1f} {s.preemptions:>8d}")
    typer.echo("latencies in ms; rates in requests per second for the whole deployment")
    for b in sweep.breaks:
        if b.breaks_at is None:
            typer.echo(f"SLO {b.metric} <= {b.target_ms:g} ms holds at every simulated rate")
        else:
            typer.echo(f"SLO {b.metric} <= {b.target_ms:g} ms breaks at {b.breaks_at:.3g} req/s")


def register(app: typer.Typer) -> None:
    """Adds `garrison simulate`."""

    @app.command("simulate")
    def simulate_cmd(
        model_or_design: str = typer.Argument(..., help="A design.json, or a model (catalogue id / folder / .gguf)."),
        rate: str = typer.Option("", "--rate", help="Requests per SECOND, comma-separated for a sweep "
                                 "(default: the design's requests_per_minute / 60)."),
        num_requests: int = typer.Option(2000, "--num-requests", help="Requests simulated per rate."),
        input_len: str = typer.Option("", "--input-len", help="Prompt tokens: 512, uniform:128-1024, "
                                      "lognormal:MEAN:SIGMA, normal:MEAN:STD[:LOW-HIGH]."),
        output_len: str = typer.Option("", "--output-len", help="Output tokens, same syntax as --input-len."),
        seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same result)."),
        replicas: int = typer.Option(0, "--replicas", help="Replicas behind round-robin (default: the design's)."),
        burst: int = typer.Option(1, "--burst", help="Requests arriving together in each Poisson burst."),
        prefix_hit_rate: float = typer.Option(0.0, "--prefix-hit-rate", help="Fraction of prompt tokens cached."),
        trace: Path | None = typer.Option(None, "--trace", help="Arrivals from a CSV (arrival_s,input_tokens,"
                                          "output_tokens) or a garrison bench results.json; rate-scaled."),
        use_case: str = typer.Option("", "--use-case", help="Which deployment of the design (default: first)."),
        slo_ttft_ms: float | None = typer.Option(None, "--slo-ttft-ms", help="P95 TTFT target, ms."),
        slo_itl_ms: float | None = typer.Option(None, "--slo-itl-ms", help="P95 ITL target, ms."),
        gpu: str = typer.Option("", "--gpu", help="(MODEL) GPU id, as for garrison estimate."),
        gpus: int = typer.Option(1, "--gpus", help="(MODEL) GPUs per replica (tensor parallel)."),
        quant: str = typer.Option("", "--quant", help="(MODEL) quantisation, as for garrison estimate."),
        engine: str = typer.Option("vllm", "--engine", help="(MODEL) vllm | sglang | llamacpp."),
        max_model_len: int = typer.Option(0, "--max-model-len", help="(MODEL) context length."),
        max_num_seqs: int = typer.Option(0, "--max-num-seqs", help="Override the engine's max_num_seqs."),
        max_num_batched_tokens: int = typer.Option(0, "--max-num-batched-tokens", help="Override the token budget."),
        calibration: str = typer.Option("", "--calibration", help="(MODEL) named calibration profile."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON: {steps: [...], slo_breaks: [...]}."),
    ) -> None:
        """Simulate continuous batching under load: TTFT/ITL/E2E percentiles per rate, and where SLOs break."""
        path = Path(model_or_design)
        overrides = {"max_num_seqs": max_num_seqs, "max_num_batched_tokens": max_num_batched_tokens}
        if path.suffix == ".json" and path.is_file():
            setup = setup_from_design(path.read_text(encoding="utf-8"), str(path), use_case=use_case,
                                      engine_overrides=overrides)
        else:
            setup = setup_from_model(model_or_design, gpu=gpu, gpus=gpus, quant=quant, engine=engine,
                                     max_model_len=max_model_len, calibration=calibration,
                                     engine_overrides=overrides)
        workload = setup.workload(
            input_len=LengthDist.parse(input_len, "--input-len") if input_len else None,
            output_len=LengthDist.parse(output_len, "--output-len") if output_len else None,
            num_requests=num_requests, burst_size=burst, prefix_hit_rate=prefix_hit_rate)
        requests = None
        if trace is not None:
            if not trace.is_file():
                raise InputError("--trace", f"{trace} does not exist", "give a CSV or a bench results.json")
            text = trace.read_text(encoding="utf-8")
            rows = parse_bench_json(text, str(trace)) if trace.suffix == ".json" else parse_trace_csv(text, str(trace))
            requests = requests_from_rows(rows, str(trace), prefix_hit_rate)
        rates = _rates(rate) if rate else [setup.default_rate_per_s]
        slo = setup.slo(ttft_ms=slo_ttft_ms, itl_ms=slo_itl_ms)
        sweep = sweep_rates(setup.model, setup.engine, workload, rates, replicas=replicas or setup.replicas,
                            seed=seed, slo=slo, requests=requests)
        if as_json:
            typer.echo(json.dumps(sweep_json(sweep), indent=2, sort_keys=True))
        else:
            _print_table(sweep, setup)


def sweep_json(sweep: Sweep) -> dict[str, object]:
    """The `--json` document: the contract's fields first-class, the rest alongside."""
    steps = []
    for s in sweep.steps:
        d = s.model_dump()
        for key in ("ttft_ms", "itl_ms", "e2e_ms", "tpot_ms"):
            d[key] = {k: v for k, v in d[key].items()}
        steps.append(d)
    return {"steps": steps, "slo_breaks": [b.model_dump() for b in sweep.breaks], "replicas": sweep.replicas}
