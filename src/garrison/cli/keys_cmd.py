"""`garrison keys`: make, rotate or revoke gateway API keys."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from garrison.errors import InputError
from garrison.keys import DEFAULT_FILE, add_key, revoke_key


def register(app: typer.Typer) -> None:
    """Add `garrison keys`."""

    @app.command("keys")
    def keys(
        name: str = typer.Option(
            None, "--name", help="Key id (who or what uses the key); shown in the audit log."
        ),
        file: Path = typer.Option(
            Path(os.environ.get("GARRISON_API_KEYS_FILE", str(DEFAULT_FILE))),
            "--file",
            help="The gateway's api_keys.map (outside the bundle; written 0600).",
        ),
        rotate: bool = typer.Option(False, "--rotate", help="Replace the existing key of --name."),
        revoke: str = typer.Option(None, "--revoke", help="Remove the key with this id."),
    ) -> None:
        """Generate an API key, print it once, and add it to the gateway's key map."""
        if revoke:
            revoke_key(file, revoke)
            typer.echo(f"revoked {revoke}; reload the gateway (nginx -s reload)", err=True)
            return
        if not name:
            raise InputError("--name", "missing", "pass --name <key id>, or --revoke <key id>")
        key = add_key(file, name, rotate=rotate)
        typer.echo(key)
        typer.echo(
            f"{'rotated' if rotate else 'added'} key for {name} in {file} (shown once; "
            "reload the gateway: nginx -s reload)",
            err=True,
        )
