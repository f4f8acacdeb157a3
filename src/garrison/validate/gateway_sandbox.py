"""Copy a bundle's gateway config into a folder where stock nginx can check or run it.

The rendered nginx.conf is written for the container layout (/tmp for pid and temp files, ports
8080/8443/8081, upstream host names from compose or Kubernetes). This module rewrites only those
environment-specific parts; every directive that decides behaviour (keys, limits, TLS, proxying)
is kept verbatim.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from garrison.keys import generate_key, map_lines, stored_form

_UPSTREAM = re.compile(r"^(\s*upstream\s+)(\w+)(\s*\{)(.*?)^(\s*\})", re.S | re.M)
_SERVER = re.compile(r"^(\s*server\s+)([A-Za-z0-9._-]+):(\d+)(.*)$", re.M)


@dataclass(frozen=True)
class Ports:
    """Where the sandboxed gateway listens (all on 127.0.0.1)."""

    http: int
    https: int
    status: int


def make_self_signed(tls_dir: Path) -> Path:
    """Write tls/server.crt and tls/server.key (EC P-256, SAN localhost and 127.0.0.1)."""
    tls_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(tls_dir / "server.key"),
            "-out",
            str(tls_dir / "server.crt"),
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    os.chmod(tls_dir / "server.key", 0o600)
    return tls_dir / "server.crt"


def rewrite_upstreams(text: str, servers: dict[str, list[str]] | None) -> str:
    """Point every upstream at local addresses: `servers[name]` when given, else 127.0.0.1:<port>."""

    def one(m: re.Match[str]) -> str:
        name, body = m.group(2), m.group(4)
        if servers is not None and name in servers:
            lines = [ln for ln in body.splitlines() if not _SERVER.match(ln)]
            params = _SERVER.search(body)
            tail = params.group(4) if params else ";"
            new = [f"    server {addr}{tail}" for addr in servers[name]]
            body = "\n".join([lines[0], *new, *lines[1:]]) + "\n"
        else:
            body = _SERVER.sub(lambda s: f"{s.group(1)}127.0.0.1:{s.group(3)}{s.group(4)}", body)
        return f"{m.group(1)}{name}{m.group(3)}{body}{m.group(5)}"

    return _UPSTREAM.sub(one, text)


def prepare_gateway(
    conf_dir: Path,
    dest: Path,
    *,
    keys: dict[str, str] | None = None,
    servers: dict[str, list[str]] | None = None,
    ports: Ports | None = None,
) -> Path:
    """Build a runnable copy of `conf_dir` (nginx.conf + upstreams.conf) under `dest`; returns nginx.conf.

    keys: key -> key id, written to api_keys.map as digests (a random key when None).
    servers: upstream name -> ["127.0.0.1:port", ...] (default: every host mapped to 127.0.0.1).
    ports: local listen ports (default: the rendered ones).
    """
    dest.mkdir(parents=True, exist_ok=True)
    run = dest / "run"
    run.mkdir(exist_ok=True)
    conf = (conf_dir / "nginx.conf").read_text(encoding="utf-8")
    conf = conf.replace("/tmp/", f"{run}/")
    if ports is not None:
        for old, new in (
            (r"listen 8080;", f"listen 127.0.0.1:{ports.http};"),
            (r"listen 8443 ssl;", f"listen 127.0.0.1:{ports.https} ssl;"),
            (r"listen 127.0.0.1:8081;", f"listen 127.0.0.1:{ports.status};"),
        ):
            if conf.count(old) != 1:
                raise ValueError(f"nginx.conf: expected one `{old}`")
            conf = conf.replace(old, new)
        # the local status listener also answers /v1/models and unknown models ($model_pool's default)
        conf = conf.replace("127.0.0.1:8081", f"127.0.0.1:{ports.status}")
        # the redirect keeps the test's HTTPS port (production: 443, so no port in the URL)
        conf = conf.replace(
            "return 301 https://$host$request_uri;", f"return 301 https://$host:{ports.https}$request_uri;"
        )
    (dest / "nginx.conf").write_text(conf, encoding="utf-8")
    ups = (conf_dir / "upstreams.conf").read_text(encoding="utf-8")
    (dest / "upstreams.conf").write_text(rewrite_upstreams(ups, servers), encoding="utf-8")
    entries = keys if keys is not None else {generate_key(): "validate"}
    keyfile = dest / "api_keys.map"
    keyfile.write_text(map_lines({kid: stored_form(k) for k, kid in entries.items()}), encoding="utf-8")
    os.chmod(keyfile, 0o600)
    make_self_signed(dest / "tls")
    return dest / "nginx.conf"


def nginx_cmd(conf: Path, *extra: str) -> list[str]:
    """nginx with the sandbox as prefix and its own error log."""
    d = conf.parent
    return ["nginx", "-p", f"{d}/", "-e", str(d / "error.log"), "-c", str(conf), *extra]
