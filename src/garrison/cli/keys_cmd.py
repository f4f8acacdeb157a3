"""`garrison keys`: make, rotate or revoke gateway API keys; make the engines' shared key."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from garrison.errors import InputError
from garrison.keys import (
    DEFAULT_FILE,
    ENGINE_AUTH,
    ENGINE_KEY,
    GATEWAY_GID,
    add_key,
    gateway_can_read,
    issue_engine_key,
    revoke_key,
)


def _gid(value: str) -> int:
    try:
        gid = int(value)
    except ValueError:
        raise InputError("--group", f"{value!r} is not a numeric group id", "e.g. 101") from None
    if not 0 <= gid <= 2**31 - 1:
        raise InputError("--group", f"{gid} is not a group id", "e.g. 101")
    return gid


def _warn_unreadable(path: Path, gid: int) -> None:
    if not gateway_can_read(path, gid):
        typer.echo(
            f"warning: the gateway (group {gid}) cannot read {path}; run as root, or: "
            f"sudo chgrp {gid} {path} && sudo chmod 640 {path}",
            err=True,
        )


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
            help="The gateway's api_keys.map (outside the bundle; written 0640, group --group).",
        ),
        rotate: bool = typer.Option(False, "--rotate", help="Replace the existing key of --name."),
        revoke: str = typer.Option(None, "--revoke", help="Remove the key with this id."),
        engine: bool = typer.Option(
            False,
            "--engine",
            help="Make the engines' shared key (the lock behind the gateway): engine_auth.conf and "
            "engine.key in the folder of --file, and GARRISON_ENGINE_API_KEY in --env-file.",
        ),
        env_file: Path = typer.Option(
            Path(os.environ.get("GARRISON_ENV_FILE", "/etc/garrison/compose.env")),
            "--env-file",
            help="With --engine: the compose settings file that gets GARRISON_ENGINE_API_KEY.",
        ),
        group: str = typer.Option(
            os.environ.get("GARRISON_GATEWAY_GID", str(GATEWAY_GID)),
            "--group",
            help="Numeric group the gateway runs as (nginx-unprivileged: 101); it may read the files.",
        ),
    ) -> None:
        """Generate an API key, print it once, and add it to the gateway's key map."""
        gid = _gid(group)
        if engine:
            issue_engine_key(file.parent, env_file, gid)
            _warn_unreadable(file.parent / ENGINE_AUTH, gid)
            typer.echo(
                f"wrote the engine key to {file.parent / ENGINE_AUTH} (gateway), {file.parent / ENGINE_KEY} "
                f"and {env_file} ({'GARRISON_ENGINE_API_KEY'}); restart the engines and reload the gateway",
                err=True,
            )
            return
        if revoke:
            revoke_key(file, revoke, gid)
            _warn_unreadable(file, gid)
            typer.echo(f"revoked {revoke}; reload the gateway (nginx -s reload)", err=True)
            return
        if not name:
            raise InputError("--name", "missing", "pass --name <key id>, --revoke <key id> or --engine")
        key = add_key(file, name, rotate=rotate, gid=gid)
        typer.echo(key)
        _warn_unreadable(file, gid)
        typer.echo(
            f"{'rotated' if rotate else 'added'} key for {name} in {file} (shown once; "
            "reload the gateway: nginx -s reload)",
            err=True,
        )
