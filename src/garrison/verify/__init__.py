"""Live checks of a running platform: TLS, health, models, authentication, rate limit, no egress.

`run_checks(VerifyConfig) -> VerifyReport`; the report is the `garrison verify --json` object.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict

from garrison.bench.client import Target, parse_target, ssl_context
from garrison.errors import CheckFailed, InputError

# Paths that must refuse a missing or wrong key. /metrics may instead be absent from the gateway (404).
PROTECTED: tuple[tuple[str, str], ...] = (
    ("GET", "/v1/models"),
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/completions"),
    ("GET", "/metrics"),
)
REFUSED = (401, 403)


class Check(BaseModel):
    """One pass/fail line."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    ok: bool
    detail: str


class VerifyReport(BaseModel):
    """`{"ok": bool, "checks": [...]}`: ok only when every check passed."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    ok: bool
    checks: tuple[Check, ...]


@dataclass(frozen=True)
class VerifyConfig:
    url: str
    api_key: str | None = None
    expected_models: tuple[str, ...] = ()
    egress_probe: str | None = None  # HOST:PORT that must NOT be reachable
    ca: str | None = None
    insecure: bool = False
    rate_limit_burst: int = 60
    timeout_s: float = 15.0


def parse_probe(text: str) -> tuple[str, int]:
    """`HOST:PORT` (IPv6 as `[addr]:port`)."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError("--egress-probe", f"{text!r} is not HOST:PORT", "give e.g. 1.1.1.1:443")
    return host, int(port)


def check_egress(host: str, port: int, timeout_s: float = 3.0) -> Check:
    """Egress is blocked when a TCP connect to an outside address fails (refused, unreachable, timeout)."""
    t0 = time.perf_counter()
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as e:
        ms = (time.perf_counter() - t0) * 1000
        why = e.strerror or type(e).__name__
        return Check(
            name="egress blocked", ok=True, detail=f"connect {host}:{port} failed in {ms:.1f} ms: {why}"
        )
    return Check(
        name="egress blocked", ok=False, detail=f"connected to {host}:{port}: outbound traffic is open"
    )


def check_tls(url: str, ca: str | None, insecure: bool, timeout_s: float) -> Check:
    """Negotiated protocol (TLS 1.2 or 1.3 required) and the certificate (chain, host name, expiry)."""
    parts = urlsplit(url)
    if parts.scheme != "https":
        return Check(name="tls", ok=False, detail="plain HTTP: traffic and API keys travel unencrypted")
    host, port = parts.hostname or "", parts.port or 443
    ctx = ssl.create_default_context(cafile=ca) if not insecure else ssl._create_unverified_context()
    try:
        with (
            socket.create_connection((host, port), timeout=timeout_s) as raw,
            ctx.wrap_socket(raw, server_hostname=host) as s,
        ):
            version = s.version() or "?"
            cert = s.getpeercert() if not insecure else {}
    except ssl.SSLCertVerificationError as e:
        return Check(name="tls", ok=False, detail=f"certificate rejected: {e.verify_message}; pass --ca FILE")
    except (ssl.SSLError, OSError) as e:
        return Check(name="tls", ok=False, detail=f"TLS handshake failed: {e}")
    ok = version in ("TLSv1.2", "TLSv1.3")
    detail = f"{version}"
    if insecure:
        detail += "; certificate NOT checked (--insecure)"
    elif cert:
        not_after = datetime.fromtimestamp(ssl.cert_time_to_seconds(str(cert["notAfter"])), timezone.utc)
        days = (not_after - datetime.now(timezone.utc)).days
        detail += f"; certificate valid for {host} until {not_after:%Y-%m-%d} ({days} days left)"
        ok = ok and days >= 0
    if version not in ("TLSv1.2", "TLSv1.3"):
        detail += "; needs TLS 1.2 or 1.3"
    return Check(name="tls", ok=ok, detail=detail)


def _probe_body(path: str, model: str) -> dict[str, object] | None:
    if path.endswith("/chat/completions"):
        return {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}
    if path.endswith("/completions"):
        return {"model": model, "prompt": "hi", "max_tokens": 1}
    return None


def _auth_checks(c: httpx.Client, target: Target, model: str) -> list[Check]:
    out = []
    for method, path in PROTECTED:
        codes = {}
        for label, headers in (
            ("no key", {}),
            ("wrong key", {"Authorization": "Bearer garrison-wrong-key-0000"}),
        ):
            r = c.request(method, target.root + path, headers=headers, json=_probe_body(path, model))
            codes[label] = r.status_code
        refused = all(v in REFUSED for v in codes.values())
        hidden = path == "/metrics" and all(v == 404 for v in codes.values())
        detail = ", ".join(f"{k} {v}" for k, v in codes.items()) + (" (not exposed)" if hidden else "")
        out.append(Check(name=f"auth {method} {path}", ok=refused or hidden, detail=detail))
    return out


async def _burst(target: Target, verify: ssl.SSLContext | bool, n: int) -> list[int]:
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(verify=verify, timeout=30, limits=limits, headers=target.headers) as c:

        async def one() -> int:
            try:
                return (await c.get(target.api + "/models")).status_code
            except httpx.HTTPError:
                return 0

        return list(await asyncio.gather(*(one() for _ in range(n))))


def check_rate_limit(target: Target, verify: ssl.SSLContext | bool, burst: int) -> Check:
    """A burst of `burst` simultaneous requests with a valid key must get at least one 429."""
    if not target.api_key:
        return Check(name="rate limit", ok=False, detail="needs --api-key to test the per-key limit")
    codes = asyncio.run(_burst(target, verify, burst))
    n429, n200 = codes.count(429), codes.count(200)
    other = len(codes) - n429 - n200
    detail = f"{burst} simultaneous requests: {n200} x 200, {n429} x 429" + (
        f", {other} other" if other else ""
    )
    return Check(name="rate limit", ok=n429 > 0 and other == 0, detail=detail)


def run_checks(cfg: VerifyConfig) -> VerifyReport:
    """Run every check against the URL; a server that cannot be reached at all is one CheckFailed."""
    target = parse_target(cfg.url, cfg.api_key)
    probe = parse_probe(cfg.egress_probe) if cfg.egress_probe else None
    verify = ssl_context(cfg.ca, cfg.insecure)
    checks: list[Check] = [check_tls(target.root, cfg.ca, cfg.insecure, cfg.timeout_s)]
    with httpx.Client(verify=verify, timeout=cfg.timeout_s) as c:
        try:
            h = c.get(target.root + "/health")
        except httpx.ConnectError as e:
            if checks[0].ok or not target.root.startswith("https"):
                raise CheckFailed(
                    "URL", f"cannot connect to {target.root}: {e}", "check the address"
                ) from None
            raise CheckFailed("URL", checks[0].detail, "fix TLS first") from None
        except httpx.HTTPError as e:
            raise CheckFailed(
                "URL", f"{target.root} did not answer: {type(e).__name__}", "check the server"
            ) from None
        checks.append(Check(name="health", ok=h.status_code == 200, detail=f"GET /health {h.status_code}"))
        m = c.get(target.api + "/models", headers=target.headers)
        ids: list[str] = []
        try:
            data = m.json().get("data") if m.status_code == 200 else None
            ids = [str(x.get("id")) for x in data or [] if isinstance(x, dict)]
        except ValueError:
            data = None
        if m.status_code != 200 or not isinstance(data, list):
            detail = f"GET /v1/models {m.status_code}" + (
                " (give --api-key)" if m.status_code in REFUSED else ""
            )
            checks.append(Check(name="models", ok=False, detail=detail))
        else:
            missing = [e for e in cfg.expected_models if e not in ids]
            detail = f"served: {', '.join(ids) or '(none)'}" + (
                f"; missing from design: {', '.join(missing)}" if missing else ""
            )
            checks.append(Check(name="models", ok=not missing and bool(ids), detail=detail))
        model = (cfg.expected_models or tuple(ids) or ("default",))[0]
        if m.status_code == 200:
            r = c.post(
                target.api + "/chat/completions",
                headers=target.headers,
                json=_probe_body("/chat/completions", model),
            )
            ok = r.status_code == 200 and "choices" in r.text
            checks.append(
                Check(name="completion", ok=ok, detail=f"POST /v1/chat/completions {r.status_code}")
            )
        checks.extend(_auth_checks(c, target, model))
    checks.append(check_rate_limit(target, verify, cfg.rate_limit_burst))
    if probe is not None:
        checks.append(check_egress(*probe))
    return VerifyReport(ok=all(ch.ok for ch in checks), checks=tuple(checks))
