"""`garrison verify URL`: live checks of a running platform; a thin layer over `garrison.verify`."""

from __future__ import annotations

import json

import typer

from garrison.errors import CheckFailed, InputError


def register(app: typer.Typer) -> None:
    """Add `garrison verify`."""

    @app.command()
    def verify(
        url: str = typer.Argument(..., help="Gateway base URL, e.g. https://host:8443."),
        api_key: str = typer.Option(None, "--api-key", envvar="GARRISON_API_KEY", help="A valid key."),
        design: str = typer.Option(None, "--design", help="design.json: the models that must be served."),
        egress_probe: str = typer.Option(None, "--egress-probe", help="HOST:PORT that must be unreachable."),
        ca: str = typer.Option(None, "--ca", help="CA certificate (PEM) to trust."),
        insecure: bool = typer.Option(False, "--insecure", help="Do not check the TLS certificate."),
        burst: int = typer.Option(60, "--burst", help="Simultaneous requests for the rate-limit check."),
        as_json: bool = typer.Option(False, "--json", help="Print the report JSON on stdout."),
        save: bool = typer.Option(True, "--save/--no-save", help="Record the result in the history store."),
        db: str = typer.Option(None, "--db", help="History database URL."),
    ) -> None:
        """Check health, models, TLS, authentication, rate limit and egress; exit 1 on any failure."""
        from garrison.cli.bench_cmd import load_design
        from garrison.verify import VerifyConfig, run_checks

        if ca and insecure:
            raise InputError("--ca", "--ca and --insecure exclude each other", "give one of them")
        dsg = load_design(design) if design else None
        cfg = VerifyConfig(
            url=url,
            api_key=api_key,
            expected_models=tuple(d.model_name for d in dsg.deployments) if dsg else (),
            egress_probe=egress_probe,
            ca=ca,
            insecure=insecure,
            rate_limit_burst=burst,
        )
        report = run_checks(cfg)
        if save:
            from garrison.store import Store

            st = Store(db)
            vid = st.save_verification(
                report.model_dump(mode="json"), url, st.save_design(dsg) if dsg else None
            )
            typer.echo(f"saved as verify-{vid} in {st.url}", err=True)
        if as_json:
            typer.echo(json.dumps(report.model_dump(mode="json"), indent=2))
        else:
            width = max(len(c.name) for c in report.checks)
            for c in report.checks:
                typer.echo(f"{'PASS' if c.ok else 'FAIL'}  {c.name:<{width}}  {c.detail}")
            typer.echo("all checks passed" if report.ok else "some checks FAILED")
        if not report.ok:
            failed = [c.name for c in report.checks if not c.ok]
            raise CheckFailed(
                "verify", f"{len(failed)} of {len(report.checks)} checks failed: {', '.join(failed)}"
            )
