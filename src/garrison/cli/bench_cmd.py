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
            help="Poisson rate sweep in req/s, e.g. 1,2,4; `max` = all at once; `slo` = search.",
        ),
        num_requests: int = typer.Option(100, "--num-requests", help="Requests per step."),
        duration: float = typer.Option(
            None, "--duration", help="Seconds per step (stops launching after it)."
        ),
        input_len: str = typer.Option(None, "--input-len", help="Prompt tokens: N or LO:HI (default 256)."),
        output_len: str = typer.Option(None, "--output-len", help="Output tokens: N or LO:HI (default 128)."),
        dataset: str = typer.Option(
            None, "--dataset", help='JSONL prompts: {"prompt": ..., "output_len": N}.'
        ),
        tokenizer: str = typer.Option("auto", "--tokenizer", help="auto, server, approx, or a model folder."),
        slo_ttft_ms: float = typer.Option(None, "--slo-ttft-ms", help="P95 TTFT target for goodput/search."),
        slo_itl_ms: float = typer.Option(None, "--slo-itl-ms", help="P95 ITL target for goodput/search."),
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
        from garrison.bench import BenchConfig, run_bench
        from garrison.bench.compare import compare_to_design, pick_deployment
        from garrison.bench.report import text_table, write_outputs
        from garrison.bench.workload import Length, parse_length

        if endpoint not in ("chat", "completions"):
            raise InputError("--endpoint", f"{endpoint!r} is not chat or completions", "use --endpoint chat")
        if ca and insecure:
            raise InputError("--ca", "--ca and --insecure exclude each other", "give one of them")
        dsg = load_design(design) if design else None
        dep = pick_deployment(dsg, model) if dsg else None
        rates_text = (rate or "").lower()
        search = "slo" in [r.strip() for r in rates_text.split(",")]
        rates = _csv(",".join(r for r in rates_text.split(",") if r.strip() != "slo"), "--rate", float)
        cfg = BenchConfig(
            url=url,
            model=model or (dep.model_name if dep else "") or "",
            api_key=api_key,
            endpoint=endpoint,  # type: ignore[arg-type]
            concurrency=tuple(int(c) for c in _csv(concurrency, "--concurrency", int))
            or ((dep.estimate.concurrency,) if dep and not rate else ()),
            rates=rates,
            slo_search=search,
            num_requests=num_requests,
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
        result = run_bench(cfg)
        if dsg is not None:
            result = result.model_copy(update={"comparison": compare_to_design(result, dsg)})
        if save:
            from garrison.store import Store

            st = Store(db)
            run_id = st.save_bench_run(result, st.save_design(dsg) if dsg else None)
            typer.echo(f"saved as run-{run_id} in {st.url}", err=True)
        if out:
            for p in write_outputs(result, out, force):
                typer.echo(f"wrote {p}", err=True)
        typer.echo(json.dumps(result.model_dump(mode="json"), indent=2) if as_json else text_table(result))
        if result.steps and all(s.requests == 0 for s in result.steps):
            raise CheckFailed("bench", "every request failed", "see the errors column")
        if result.interrupted:
            raise Interrupted("bench", "interrupted (Ctrl-C): partial results printed above")
