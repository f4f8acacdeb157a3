"""Network helpers for tests: free loopback ports, a self-signed TLS certificate, and running a
command inside a fresh network namespace (no route anywhere, only `lo`).

The namespace recipe is from /work/shared/research/feasibility.md section 7: `unshare --net` gives a
namespace whose `lo` is DOWN, so `ip link set lo up` must run first; outbound connects then fail at
once with ENETUNREACH. It needs root (CAP_SYS_ADMIN).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it; a race is possible)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class TlsCert:
    """A self-signed certificate for `localhost` and `127.0.0.1`; `cert` doubles as the CA file."""

    cert: Path
    key: Path


def make_self_signed_cert(directory: str | Path, days: int = 2) -> TlsCert:
    """Write `cert.pem` and `key.pem` (EC P-256, SAN DNS:localhost + IP:127.0.0.1) with openssl."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    cert, key = out / "cert.pem", out / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", str(days),
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return TlsCert(cert=cert, key=key)


def netns_unavailable_reason() -> str | None:
    """Why `run_in_netns` cannot work here (not root, tools missing), or None when it can."""
    if os.geteuid() != 0:
        return "network namespaces need root (unshare --net)"
    for tool in ("unshare", "ip"):
        if shutil.which(tool) is None:
            return f"`{tool}` not found (apt-get install util-linux iproute2)"
    return None


def run_in_netns(
    script: str, *, timeout_s: float = 120.0, cwd: str | Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a `sh -c` script in a new, empty network namespace with `lo` up; output captured.

    Anything the script starts (servers, clients) shares the namespace; nothing outside can reach
    in and nothing inside can reach out. Background processes outlive the script (and keep the
    namespace alive), so the script must stop what it starts (`kill $!`).
    """
    return subprocess.run(
        ["unshare", "--net", "--", "sh", "-c", "ip link set lo up && " + script],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )
