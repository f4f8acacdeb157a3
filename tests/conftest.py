"""Fixtures shared by every test (owned by infra). Area-specific fixtures live in tests/<area>/conftest.py.

- every test gets its own `GARRISON_HOME` (CLI isolation by one env var, nothing else);
- `llama_server_bin`, `tiny_gguf`, `llama_server`: a real llama.cpp server with a tiny model;
- `free_port`, `tls_cert`, `netns`: loopback ports, a self-signed cert, a network namespace.

Reusable non-fixture code is in `garrison.testing` so benchmarks can use it too.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from garrison.testing import net
from garrison.testing.ci import skip_or_fail
from garrison.testing.net import TlsCert
from garrison.testing.servers import LlamaServer, cached_llama_server_path, find_llama_server
from garrison.testing.tiny_gguf import write_tiny_gguf


@pytest.fixture(autouse=True)
def garrison_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty GARRISON_HOME for each test; nothing touches the user's real one."""
    home = tmp_path_factory.mktemp("garrison-home")
    monkeypatch.setenv("GARRISON_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def llama_server_bin() -> Path:
    """Path of the real llama-server binary; skips when absent, except under CI where it fails."""
    found = find_llama_server()
    if found is not None:
        return found
    where = os.environ.get("GARRISON_LLAMA_SERVER") or str(cached_llama_server_path())
    skip_or_fail(f"llama-server not found at {where}; `bash scripts/test.sh` builds it once (~10 min)")


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight llama GGUF (about 0.5 MB, 463-token vocab), written once per session."""
    return write_tiny_gguf(tmp_path_factory.mktemp("models") / "tiny.gguf")


@pytest.fixture
def llama_server(
    llama_server_bin: Path, tiny_gguf: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., LlamaServer]]:
    """Factory: `srv = llama_server(parallel=2)` starts a healthy llama-server on 127.0.0.1 and a
    free port serving `tiny_gguf` as model "tiny"; `srv.base_url` is `http://127.0.0.1:PORT`.
    Call it several times for several replicas; all are stopped after the test. Keyword
    arguments go to `garrison.testing.servers.LlamaServer` (model=, api_key=, extra_args=, ...).
    """
    started: list[LlamaServer] = []
    logs = tmp_path_factory.mktemp("llama-logs")

    def start(**kwargs: Any) -> LlamaServer:
        kwargs.setdefault("model", tiny_gguf)
        kwargs.setdefault("log_path", logs / f"replica-{len(started)}.log")
        server = LlamaServer(llama_server_bin, **kwargs)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def free_port() -> Callable[[], int]:
    """`free_port()` returns a TCP port on 127.0.0.1 that is free right now."""
    return net.free_port


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> TlsCert:
    """A self-signed cert/key for localhost and 127.0.0.1 (made by openssl); `.cert` is also the CA."""
    return net.make_self_signed_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def netns() -> Callable[..., Any]:
    """`netns("script", timeout_s=120)` runs `sh -c script` in a fresh network namespace with
    only `lo` up and returns the CompletedProcess (text output). Skips when not root."""
    reason = net.netns_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    return net.run_in_netns
