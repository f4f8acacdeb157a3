"""`garrison bench URL`: load-test an OpenAI-compatible server; a thin layer over `garrison.bench`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer

from garrison.errors import CheckFailed, InputError


class Interrupted(CheckFailed):
    """Ctrl-C ended the run early; the partial results were printed (exit 130, as for SIGINT)."""

    exit_code = 130


def _csv(text: str | None, option: str, cast: type) -> tuple[float, ...]:
    if not text:
        return ()
    out = []
    for part in text.split(","):
        p = part.strip().lower()
        try:
            out.append(math.inf if cast is float and p in ("max", "inf") else cast(p))
        except ValueError:
            raise InputError(option, f"{part!r} is not a number", f"give e.g. {option} 1,4,16") from None
        if out[-1] <= 0:
            raise InputError(option, f"{part!r} must be > 0", f"give e.g. {option} 1,4,16")
    return tuple(out)


def parse_rates(text: str) -> tuple[tuple[float | tuple[float, float], ...], bool]:
    """`--rate 1,2:20,max,slo`: rates, ramps (FROM:TO), max; and whether `slo` (the search) was asked."""
    rates: list[float | tuple[float, float]] = []
    search = False
    for part in (text or "").split(","):
        p = part.strip().lower()
        if not p:
            continue
        if p == "slo":
            search = True
        elif ":" in p:
            lo, hi = (_csv(x, "--rate", float)[0] for x in p.split(":", 1))
            if math.isinf(lo) or math.isinf(hi):
                raise InputError("--rate", f"{part!r}: a ramp needs finite rates", "e.g. --rate 2:20")
            rates.append((lo, hi))
        else:
            rates.append(_csv(p, "--rate", float)[0])
    return tuple(rates), search


def parse_budget(text: str | None, option: str):  # type: ignore[no-untyped-def]
    """`N` requests or `Ns` seconds (warm-up, cool-down)."""
    from garrison.bench.run import Budget

    if text is None:
        return None
    t = text.strip().lower()
    try:
        if t.endswith("s"):
            secs = float(t[:-1])
            if secs < 0:
                raise ValueError
            return Budget(seconds=secs)
        n = int(t)
        if n < 0:
            raise ValueError
        return Budget(requests=n)
    except ValueError:
        raise InputError(
            option, f"{text!r} is not a count or a duration", f"give e.g. {option} 10 or 30s"
        ) from None


def load_trace(path: str):  # type: ignore[no-untyped-def]
    """`--trace FILE`: the CSV (arrival_s,input_tokens,output_tokens) or JSONL `simulate --trace` reads."""
    from garrison.bench.run import TraceRow
    from garrison.simulate.workload import parse_trace_file

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError("--trace", f"cannot read {path}: {e}", "give a CSV or JSONL trace") from None
    rows = sorted(parse_trace_file(text, p.suffix, "--trace"))
    if not rows:
        raise InputError("--trace", f"{path} has no requests", "give at least one row")
    return tuple(TraceRow(a, i, o) for a, i, o in rows)


def load_design(path: str):  # type: ignore[no-untyped-def]
    """Read a design.json (the `garrison plan` output) or fail with one line."""
    from pydantic import ValidationError

    from garrison.design import Design

    try:
        return Design.model_validate_json(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise InputError("--design", f"cannot read {path}: {e.strerror}", "give a design.json path") from None
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise InputError(
            "--design",
            f"{path} is not a Garrison design ({where}: {first['msg']})",
            "pass design.json from `garrison plan`",
        ) from None


def register(app: typer.Typer) -> None:
    """Add `garrison bench`."""

    @app.command()
    def bench(
        url: str = typer.Argument(
            ..., help="Server or gateway base URL, e.g. https://host:8443 (/v1 optional)."
        ),
        model: str = typer.Option(None, "--model", help="Model name clients pass (default: the design's)."),
        api_key: str = typer.Option(None, "--api-key", envvar="GARRISON_API_KEY", help="Bearer key."),
        endpoint: str = typer.Option("chat", "--endpoint", help="chat or completions."),
        concurrency: str = typer.Option(None, "--concurrency", help="Concurrency sweep, e.g. 1,4,16."),
        rate: str = typer.Option(
            None,
            "--rate",
            help="Open-loop rate sweep in req/s, e.g. 1,2,4; FROM:TO = a ramp; `max` = all at once; "
            "`slo` = search. With --trace: rescale the trace to these mean rates.",
        ),
        arrival: str = typer.Option(
            "poisson", "--arrival", help="Gaps between sends at a rate: poisson, constant or gamma."
        ),
        burstiness: float = typer.Option(
            None, "--burstiness", help="Gamma shape: 1 = Poisson, <1 burstier, >1 more regular."
        ),
        max_concurrency: int = typer.Option(
            None, "--max-concurrency", help="Open loop: at most N requests in flight; the rest wait."
        ),
        trace: str = typer.Option(
            None,
            "--trace",
            help="Replay arrivals and lengths from a CSV (arrival_s,input_tokens,output_tokens) or "
            "an --export-requests JSONL, as `garrison simulate --trace` reads.",
        ),
        warmup: str = typer.Option(
            None, "--warmup", help="Per step, sent first and not counted: N requests or Ns seconds."
        ),
        cooldown: str = typer.Option(
            None,
            "--cooldown",
            help="Per step, sent last and not counted (keeps the load on while the measured ones end).",
        ),
        workers: int = typer.Option(
            1,
            "--workers",
            help="Client processes sharing the load: more when one core cannot follow the tokens.",
        ),
        seed: int = typer.Option(
            None, "--seed", help="Lengths, offsets and arrivals repeat with the same seed (default: fresh)."
        ),
        num_requests: int = typer.Option(
            None, "--num-requests", help="Requests per step (default 100; unlimited with --duration)."
        ),
        duration: float = typer.Option(
            None, "--duration", help="Seconds per step (stops launching after it)."
        ),
        input_len: str = typer.Option(None, "--input-len", help="Prompt tokens: N or LO:HI (default 256)."),
        output_len: str = typer.Option(None, "--output-len", help="Output tokens: N or LO:HI (default 128)."),
        dataset: str = typer.Option(
            None, "--dataset", help='JSONL prompts: {"prompt": ..., "output_len": N}.'
        ),
        tokenizer: str = typer.Option("auto", "--tokenizer", help="auto, server, approx, or a model folder."),
        prefix_len: int = typer.Option(
            0, "--prefix-len", help="A shared prefix of N tokens in every prompt (a system prompt)."
        ),
        prefix_share: float = typer.Option(
            0.0, "--prefix-share", help="A shared prefix of this share of every prompt, 0..1."
        ),
        slo_ttft_ms: float = typer.Option(
            None, "--slo-ttft-ms", help="TTFT target per request (goodput, SLO search)."
        ),
        slo_itl_ms: float = typer.Option(
            None, "--slo-itl-ms", help="TPOT target per request (goodput, SLO search)."
        ),
        slo_attainment: float = typer.Option(
            0.95, "--slo-attainment", help="Share of requests that must meet the targets (SLO search)."
        ),
        percentiles: str = typer.Option(
            None, "--percentiles", help="Percentiles to report, e.g. 50,90,99,99.9 (default 50,90,95,99)."
        ),
        max_error_rate: float = typer.Option(
            None, "--max-error-rate", help="Stop the run when more than this share of a step fails."
        ),
        retry_after: bool = typer.Option(
            False, "--retry-after", help="On 429/503 with Retry-After, wait and resend (up to 3 times)."
        ),
        metrics_url: str = typer.Option(
            None, "--metrics-url", help="Prometheus endpoint to scrape (default URL/metrics); `none`: off."
        ),
        export_requests: str = typer.Option(
            None, "--export-requests", help="Write one JSON line per request (timings, tokens, errors)."
        ),
        export_tokens: bool = typer.Option(
            False, "--export-tokens", help="With --export-requests: every token's arrival time too."
        ),
        export_csv: str = typer.Option(None, "--export-csv", help="Write a CSV summary, one row per step."),
        design: str = typer.Option(None, "--design", help="design.json: workload defaults and predictions."),
        out: str = typer.Option(None, "--out", help="Write results.json and report.html here."),
        force: bool = typer.Option(False, "--force", help="Overwrite files in --out."),
        as_json: bool = typer.Option(False, "--json", help="Print the result JSON on stdout."),
        ignore_eos: bool = typer.Option(
            True, "--ignore-eos/--no-ignore-eos", help="Ask for exactly max_tokens."
        ),
        timeout: float = typer.Option(
            300.0, "--timeout", help="Seconds without a byte before a request fails."
        ),
        ca: str = typer.Option(None, "--ca", help="CA certificate (PEM) to trust."),
        insecure: bool = typer.Option(False, "--insecure", help="Do not check the TLS certificate."),
        save: bool = typer.Option(True, "--save/--no-save", help="Record the run in the history store."),
        db: str = typer.Option(
            None, "--db", help="History database URL (default GARRISON_DB_URL or GARRISON_HOME)."
        ),
    ) -> None:
        """Load-test an OpenAI-compatible endpoint: TTFT, ITL, throughput, goodput, errors."""
        from garrison.atomic import write_text_atomic
        from garrison.bench.arrivals import parse_arrival
        from garrison.bench.compare import compare_to_design, pick_deployment
        from garrison.bench.export import requests_jsonl, summary_csv
        from garrison.bench.report import text_table, write_outputs
        from garrison.bench.results import DEFAULT_PERCENTILES
        from garrison.bench.run import BenchConfig, run_bench_records
        from garrison.bench.workload import Length, parse_length

        if endpoint not in ("chat", "completions"):
            raise InputError("--endpoint", f"{endpoint!r} is not chat or completions", "use --endpoint chat")
        if ca and insecure:
            raise InputError("--ca", "--ca and --insecure exclude each other", "give one of them")
        dsg = load_design(design) if design else None
        dep = pick_deployment(dsg, model) if dsg else None
        rates, search = parse_rates(rate or "")
        trace_rows = load_trace(trace) if trace else ()
        if trace_rows and any(isinstance(r, tuple) or math.isinf(r) for r in rates):
            raise InputError("--rate", "with --trace, give plain rates", "e.g. --trace t.csv --rate 2,4")
        pcts = _csv(percentiles, "--percentiles", float) if percentiles else None
        outputs = [Path(p) for p in (export_requests, export_csv) if p]
        for p in outputs:
            if p.exists() and not force:
                raise InputError(str(p), "already exists", "pass --force to overwrite it")
        cfg = BenchConfig(
            url=url,
            model=model or (dep.model_name if dep else "") or "",
            api_key=api_key,
            endpoint=endpoint,  # type: ignore[arg-type]
            concurrency=tuple(int(c) for c in _csv(concurrency, "--concurrency", int))
            or ((dep.estimate.concurrency,) if dep and not rate and not trace else ()),
            rates=rates,
            arrival=parse_arrival(arrival, burstiness),
            max_concurrency=max_concurrency,
            trace=trace_rows,
            trace_name=Path(trace).name if trace else None,
            warmup=parse_budget(warmup, "--warmup"),
            cooldown=parse_budget(cooldown, "--cooldown"),
            seed=seed,
            workers=workers,
            prefix_len=prefix_len,
            prefix_share=prefix_share,
            slo_attainment=slo_attainment,
            percentiles=tuple(sorted(set(pcts))) if pcts else DEFAULT_PERCENTILES,
            max_error_rate=max_error_rate,
            retry_after=retry_after,
            metrics_url=metrics_url,
            slo_search=search,
            num_requests=num_requests if num_requests is not None else (0 if duration else 100),
            duration_s=duration,
            input_len=parse_length(input_len, "--input-len")
            if input_len
            else Length(*(2 * [dep.input_tokens if dep else 256])),
            output_len=parse_length(output_len, "--output-len")
            if output_len
            else Length(*(2 * [dep.output_tokens if dep else 128])),
            dataset=dataset,
            tokenizer=tokenizer,
            slo_ttft_ms=slo_ttft_ms if slo_ttft_ms is not None else (dep.ttft_p95_target_ms if dep else None),
            slo_itl_ms=slo_itl_ms if slo_itl_ms is not None else (dep.itl_p95_target_ms if dep else None),
            ignore_eos=ignore_eos,
            request_timeout_s=timeout,
            ca=ca,
            insecure=insecure,
            progress=not as_json,
        )
        if not cfg.model:
            raise InputError("--model", "no model name", "give --model NAME (or --design design.json)")
        result, records = run_bench_records(cfg)
        if dsg is not None:
            result = result.model_copy(update={"comparison": compare_to_design(result, dsg)})
        if save:
            from garrison.store import Store

            st = Store(db)
            run_id = st.save_bench_run(result, st.save_design(dsg) if dsg else None)
            typer.echo(f"saved as run-{run_id} in {st.url}", err=True)
        if out:
            for p in write_outputs(result, out, force, records):
                typer.echo(f"wrote {p}", err=True)
        if export_requests:
            write_text_atomic(Path(export_requests), requests_jsonl(result, records, export_tokens), force)
            typer.echo(f"wrote {export_requests}", err=True)
        if export_csv:
            write_text_atomic(Path(export_csv), summary_csv(result), force)
            typer.echo(f"wrote {export_csv}", err=True)
        for w in result.warnings:
            typer.echo(f"warning: {w}", err=True)
        typer.echo(json.dumps(result.model_dump(mode="json"), indent=2) if as_json else text_table(result))
        if result.steps and all(s.requests == 0 for s in result.steps):
            raise CheckFailed("bench", "every request failed", "see the errors column")
        if result.interrupted:
            raise Interrupted("bench", "interrupted (Ctrl-C): partial results printed above")
        if result.stopped:
            raise CheckFailed("--max-error-rate", f"stopped at {result.stopped}", "see the errors column")
