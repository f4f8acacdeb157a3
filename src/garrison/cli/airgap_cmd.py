"""`garrison airgap`: pack on the connected side, verify and install on the isolated side."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from garrison.airgap import generate_keypair, install, lint_dir, pack, verify
from garrison.airgap.pack import PackInterrupted
from garrison.airgap.progress import StderrReporter
from garrison.errors import CheckFailed, GarrisonError


class PackStopped(GarrisonError):
    """Ctrl-C during `airgap pack`: what is left and how to resume, one line (exit 130, as for SIGINT)."""

    exit_code = 130


airgap_app = typer.Typer(help="Air-gapped installs: pack, verify, install.", no_args_is_help=True)


@airgap_app.command("pack")
def pack_cmd(
    source: Path = typer.Argument(..., help="Requirements YAML or design.json."),
    out: Path = typer.Option(..., "--out", help="Folder to write the pack to (resumes an interrupted pack)."),
    model_source: list[Path] = typer.Option(
        [], "--model-source", help="Folder, HF cache or .gguf to take models from."
    ),
    volume_size: str | None = typer.Option(
        None, "--volume-size", help="Split into volumes of this size, e.g. 4G."
    ),
    sign: Path | None = typer.Option(None, "--sign", help="Ed25519 private key (PEM) to sign the manifest."),
    download: bool = typer.Option(
        False, "--download", help="Download missing models from the Hugging Face Hub."
    ),
    image_dir: Path | None = typer.Option(
        None, "--image-dir", help="Image archives saved by images/SAVE-IMAGES.sh."
    ),
    no_wheelhouse: bool = typer.Option(False, "--no-wheelhouse", help="Leave out Garrison's Python wheels."),
    python_version: str | None = typer.Option(None, "--python-version", help="Target Python, e.g. 3.11."),
    platform: str | None = typer.Option(
        None, "--platform", help="Target wheel platform, e.g. manylinux2014_x86_64."
    ),
    force: bool = typer.Option(False, "--force", help="Replace a finished pack in --out."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress output."),
) -> None:
    """Pack models, images, wheels and the bundle a design needs into one verifiable folder."""
    try:
        res = pack(
            source,
            out,
            model_source,
            volume_size,
            sign,
            wheelhouse=not no_wheelhouse,
            download=download,
            image_dir=image_dir,
            python_version=python_version,
            platform=platform,
            force=force,
            reporter=StderrReporter(quiet),
        )
    except PackInterrupted as e:  # typer would turn it into a silent exit 130
        raise PackStopped("", str(e)) from None
    m = res.manifest
    summary = {
        "out": str(res.out_dir),
        "complete": m.complete,
        "files": len(m.files),
        "bytes": sum(f.size for f in m.files),
        "volumes": m.volumes,
        "signed": sign is not None,
        "incomplete_reasons": list(m.incomplete_reasons),
        "pieces_reused": res.pieces_reused,
        "bytes_written": res.bytes_written,
        "offline_findings": list(m.offline_findings),
    }
    if as_json:
        typer.echo(json.dumps(summary, indent=1, sort_keys=True))
    else:
        typer.echo(
            f"packed {summary['files']} files ({summary['bytes']} bytes) into {res.out_dir}"
            + ("" if m.complete else " -- INCOMPLETE: " + "; ".join(m.incomplete_reasons))
        )


@airgap_app.command("verify")
def verify_cmd(
    pack_dir: Path = typer.Argument(..., help="The pack folder."),
    trust: Path | None = typer.Option(
        None, "--trust", help="Trusted Ed25519 public key; the signature must match."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress output."),
) -> None:
    """Check every file against the manifest (and the signature); exit 1 on any problem."""
    rep = verify(pack_dir, trust, StderrReporter(quiet))
    if as_json:
        typer.echo(json.dumps(rep.to_json(), indent=1, sort_keys=True))
    else:
        for kind in ("missing", "truncated", "altered", "extra", "problems"):
            for name in getattr(rep, kind):
                typer.echo(f"{kind}: {name}")
        typer.echo(f"signature: {rep.signature}")
        typer.echo(
            ("ok" if rep.ok else "FAILED")
            + f": {rep.files} files, {rep.bytes} bytes"
            + ("" if rep.complete else " (pack is marked incomplete)")
        )
    if not rep.ok:  # exit 1 through the CLI's error path (one line on stderr)
        n = len(rep.missing) + len(rep.truncated) + len(rep.altered) + len(rep.extra) + len(rep.problems)
        sig = (
            ""
            if rep.signature not in ("invalid", "untrusted-key", "absent")
            else f", signature {rep.signature}"
        )
        raise CheckFailed(
            str(pack_dir), f"verify failed: {n} file problem(s){sig}", "re-copy the files listed"
        )


@airgap_app.command("install")
def install_cmd(
    pack_dir: Path = typer.Argument(..., help="The pack folder."),
    models_dir: Path = typer.Option(..., "--models-dir", help="Where models are placed."),
    venv: Path | None = typer.Option(
        None, "--venv", help="Virtualenv for Garrison (default <models-dir>/../garrison-venv)."
    ),
    bundle_dir: Path | None = typer.Option(
        None, "--bundle-dir", help="Also place the deployment bundle here."
    ),
    trust: Path | None = typer.Option(None, "--trust", help="Trusted Ed25519 public key."),
    no_images: bool = typer.Option(False, "--no-images", help="Do not load container images."),
    force: bool = typer.Option(False, "--force", help="Replace files not placed by an earlier install."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress output."),
) -> None:
    """Verify, then place models, load images and install the wheelhouse with no network."""
    res = install(
        pack_dir,
        models_dir,
        venv=venv,
        bundle_dir=bundle_dir,
        trust=trust,
        load_images=not no_images,
        force=force,
        reporter=StderrReporter(quiet),
    )
    out = {
        "receipt": str(res.receipt),
        "placed": len(res.placed),
        "unchanged": len(res.unchanged),
        "images_loaded": list(res.images_loaded),
        "images_not_loaded": list(res.images_not_loaded),
        "venv": str(res.venv) if res.venv else None,
        "complete": res.complete,
    }
    if as_json:
        typer.echo(json.dumps(out, indent=1, sort_keys=True))
    else:
        typer.echo(
            f"installed: {out['placed']} files placed, {out['unchanged']} already in place; "
            f"receipt {res.receipt}"
            + (f"; images not loaded: {', '.join(res.images_not_loaded)}" if res.images_not_loaded else "")
        )


@airgap_app.command("keygen")
def keygen_cmd(
    out: Path = typer.Option(..., "--out", help="Prefix: writes PREFIX.key (secret) and PREFIX.pub."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing key files."),
) -> None:
    """Make an Ed25519 key pair for signing packs."""
    key, pub = generate_keypair(out, force)
    typer.echo(
        f"private key {key} (keep it on the connected side); public key {pub} (give it to the isolated side)"
    )


@airgap_app.command("lint")
def lint_cmd(
    bundle: Path = typer.Argument(..., help="A rendered bundle folder."),
    as_json: bool = typer.Option(False, "--json", help="Print findings as JSON."),
) -> None:
    """Find settings in a bundle that would reach the network at run time; exit 1 on errors."""
    findings = lint_dir(bundle)
    if as_json:
        typer.echo(json.dumps([f.__dict__ for f in findings], indent=1, sort_keys=True))
    else:
        for f in findings:
            typer.echo(f.one_line())
        typer.echo(f"{len(findings)} finding(s)")
    errors = sum(f.severity == "error" for f in findings)
    if errors:
        raise CheckFailed(
            str(bundle), f"{errors} setting(s) would reach the network at run time", "see the list"
        )


def register(app: typer.Typer) -> None:
    """Adds `garrison airgap pack|verify|install|keygen|lint`."""
    app.add_typer(airgap_app, name="airgap")
