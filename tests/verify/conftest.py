"""Fixtures for bench/verify/history tests: the CLI as a subprocess, the fake stub server, llama-server."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).parent
SRC = HERE.parents[1] / "src"
LLAMA_VERSION = "11434.0.0"


def llama_server_binary() -> Path | None:
    """The cached llama-server built by scripts/ensure-llama-server.sh, if there."""
    env = os.environ.get("GARRISON_LLAMA_SERVER")
    if env and Path(env).is_file():
        return Path(env)
    cache = Path(os.environ.get("GARRISON_CACHE") or Path.home() / ".cache" / "garrison")
    p = cache / "llama-server" / LLAMA_VERSION / "llama-server"
    return p if p.is_file() else None


def env_for(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    env["GARRISON_HOME"] = str(home)
    env.pop("GARRISON_DB_URL", None)
    env.pop("GARRISON_DEBUG", None)
    return env


@pytest.fixture
def cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run `garrison ARGS` the way a user does: a subprocess, stdout/stderr captured, isolated home."""
    home = tmp_path / "home"

    def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(HERE / "run_cli.py"), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env_for(home),
        )

    return run


class StubServer:
    """The FAKE OpenAI streaming server (tests/verify/stub_server.py) in a subprocess."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "stub_server.py"), *args], stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("PORT "), line
        self.port = int(line.split()[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
def stub() -> Iterator[Callable[..., StubServer]]:
    started: list[StubServer] = []

    def start(*args: str) -> StubServer:
        s = StubServer(*args)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


@pytest.fixture
def cli_env() -> Callable[[Path], dict[str, str]]:
    """The environment `cli` uses, for tests that start the CLI themselves."""
    return env_for


@pytest.fixture
def run_cli_py() -> Path:
    return HERE / "run_cli.py"


def can_unshare() -> bool:
    if shutil.which("unshare") is None or shutil.which("ip") is None or os.geteuid() != 0:
        return False
    r = subprocess.run(["unshare", "--net", "--", "true"], capture_output=True)
    return r.returncode == 0
