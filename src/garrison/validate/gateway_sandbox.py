"""Copy a bundle's gateway config into a folder where stock nginx can check or run it.

The rendered nginx.conf is written for the container layout (/tmp for pid and temp files, ports
8080/8443/8081, upstream host names from compose or Kubernetes). This module rewrites only those
environment-specific parts; every directive that decides behaviour (keys, limits, TLS, proxying)
is kept verbatim.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from garrison.keys import (
    ENGINE_AUTH,
    ENGINE_KEY_PREFIX,
    engine_auth_conf,
    generate_key,
    map_lines,
    stored_form,
)

_UPSTREAM = re.compile(r"^(\s*upstream\s+)(\w+)(\s*\{)(.*?)^(\s*\})", re.S | re.M)
_SERVER = re.compile(r"^(\s*server\s+)([A-Za-z0-9._-]+):(\d+)(.*)$", re.M)


@dataclass(frozen=True)
class Ports:
    """Where the sandboxed gateway listens (all on 127.0.0.1); 0 = a free port picked at start."""

    http: int
    https: int
    status: int
    health: int = 0
    stream: int = 0  # the local hop for streamed requests (8083 in the container)
    whole: int = 0  # the local hop for whole responses (8084)
    metrics: int = 0  # compose's engine-metrics listener (9180)

    def filled(self) -> Ports:
        """These ports with every 0 replaced by a free port."""
        from garrison.testing.net import free_port

        pick = {k: free_port() for k in ("health", "stream", "whole", "metrics") if not getattr(self, k)}
        return Ports(
            http=self.http,
            https=self.https,
            status=self.status,
            health=pick.get("health", self.health),
            stream=pick.get("stream", self.stream),
            whole=pick.get("whole", self.whole),
            metrics=pick.get("metrics", self.metrics),
        )


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


def _addresses(ups: str, servers: dict[str, list[str]] | None) -> dict[str, str]:
    """Rendered `host:port` of each replica -> where the sandbox reaches it."""
    out: dict[str, str] = {}
    for m in _UPSTREAM.finditer(ups):
        rendered = [f"{s.group(2)}:{s.group(3)}" for s in _SERVER.finditer(m.group(4))]
        local = (servers or {}).get(m.group(2)) or [f"127.0.0.1:{r.rsplit(':', 1)[1]}" for r in rendered]
        for i, r in enumerate(rendered):
            out.setdefault(r, local[min(i, len(local) - 1)])
    return out


def _rewrite_metrics(ups: str, addresses: dict[str, str]) -> str:
    """Point the metrics listener's `proxy_pass http://host:port/...` at the sandbox's addresses."""

    def one(m: re.Match[str]) -> str:
        hostport = m.group(1)
        return f"proxy_pass http://{addresses.get(hostport, '127.0.0.1:' + hostport.rsplit(':', 1)[1])}/"

    return re.sub(r"proxy_pass http://([A-Za-z0-9._-]+:\d+)/", one, ups)


def _replace_once(text: str, old: str, new: str, where: str) -> str:
    if text.count(old) != 1:
        raise ValueError(f"{where}: expected one `{old}`")
    return text.replace(old, new)


def prepare_gateway(
    conf_dir: Path,
    dest: Path,
    *,
    keys: dict[str, str] | None = None,
    servers: dict[str, list[str]] | None = None,
    ports: Ports | None = None,
    engine_key: str | None = None,
) -> Path:
    """Build a runnable copy of `conf_dir` (nginx.conf + upstreams.conf) under `dest`; returns nginx.conf.

    keys: key -> key id, written to api_keys.map as digests (a random key when None).
    servers: upstream name -> ["127.0.0.1:port", ...] (default: every host mapped to 127.0.0.1).
    ports: local listen ports (default: the rendered ones); zeros are filled with free ports.
    engine_key: the key the gateway presents to the engines (engine_auth.conf; random when None).
    """
    dest.mkdir(parents=True, exist_ok=True)
    run = dest / "run"
    run.mkdir(exist_ok=True)
    conf = (conf_dir / "nginx.conf").read_text(encoding="utf-8")
    conf = conf.replace("/tmp/", f"{run}/")
    ups = (conf_dir / "upstreams.conf").read_text(encoding="utf-8")
    if ports is not None:
        ports = ports.filled()
        for old, new in (
            ("listen 8080;", f"listen 127.0.0.1:{ports.http};"),
            ("listen 8443 ssl;", f"listen 127.0.0.1:{ports.https} ssl;"),
            ("listen 127.0.0.1:8081;", f"listen 127.0.0.1:{ports.status};"),
            ("listen 8082;", f"listen 127.0.0.1:{ports.health};"),
            ("listen 127.0.0.1:8083;", f"listen 127.0.0.1:{ports.stream};"),
            ("listen 127.0.0.1:8084;", f"listen 127.0.0.1:{ports.whole};"),
        ):
            conf = _replace_once(conf, old, new, "nginx.conf")
        # the local status listener also answers /v1/models and unknown models ($model_pool's default)
        conf = conf.replace("127.0.0.1:8081", f"127.0.0.1:{ports.status}")
        conf = conf.replace("server 127.0.0.1:8083;", f"server 127.0.0.1:{ports.stream};")
        conf = conf.replace("server 127.0.0.1:8084;", f"server 127.0.0.1:{ports.whole};")
        # the redirect keeps the test's HTTPS port (production: 443, so no port in the URL)
        conf = re.sub(
            r"return 301 https://([A-Za-z0-9.-]+)\$request_uri;",
            lambda m: f"return 301 https://{m.group(1)}:{ports.https}$request_uri;",
            conf,
        )
        if "listen 9180;" in ups:
            ups = _replace_once(ups, "listen 9180;", f"listen 127.0.0.1:{ports.metrics};", "upstreams.conf")
    (dest / "nginx.conf").write_text(conf, encoding="utf-8")
    ups = _rewrite_metrics(ups, _addresses(ups, servers))
    (dest / "upstreams.conf").write_text(rewrite_upstreams(ups, servers), encoding="utf-8")
    entries = keys if keys is not None else {generate_key(): "validate"}
    keyfile = dest / "api_keys.map"
    keyfile.write_text(map_lines({kid: stored_form(k) for k, kid in entries.items()}), encoding="utf-8")
    os.chmod(keyfile, 0o600)
    auth = dest / ENGINE_AUTH
    auth.write_text(engine_auth_conf(engine_key or ENGINE_KEY_PREFIX + secrets.token_urlsafe(32)))
    os.chmod(auth, 0o600)
    make_self_signed(dest / "tls")
    return dest / "nginx.conf"


def nginx_cmd(conf: Path, *extra: str) -> list[str]:
    """nginx with the sandbox as prefix and its own error log."""
    d = conf.parent
    return ["nginx", "-p", f"{d}/", "-e", str(d / "error.log"), "-c", str(conf), *extra]
