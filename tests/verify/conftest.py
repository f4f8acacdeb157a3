"""Fixtures for bench/verify/history tests: the CLI as a subprocess, the fake stub server, llama-server."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).parent
SRC = HERE.parents[1] / "src"


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
            [sys.executable, "-m", "garrison", *args],
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


def make_design(
    model_name: str,
    *,
    ttft_ms: float,
    itl_ms: float,
    output_tokens_per_s: float,
    concurrency: int = 4,
    input_len: int = 32,
    output_len: int = 32,
    requests_per_minute: float = 60,
) -> object:
    """A small hand-made Design (as `garrison plan` would write) whose estimate the tests compare with."""
    from garrison.testing import designs

    est = designs.make_estimate(
        reason="",
        model=model_name,
        device="cpu-test",
        device_kind="cpu",
        engine="llama.cpp",
        quant="f32",
        kv_dtype="f16",
        gpus=0,
        replicas=1,
        max_model_len=2048,
        max_num_seqs=4,
        max_num_batched_tokens=2048,
        weights_gib_per_gpu=0.001,
        kv_cache_gib_per_gpu=0.01,
        kv_cache_tokens=2048,
        kv_bytes_per_token=1024,
        fixed_state_bytes_per_seq=0,
        max_concurrency=4,
        concurrency=concurrency,
        input_len=input_len,
        output_len=output_len,
        prefill_tokens_per_s=10000,
        decode_tokens_per_s_single=1000,
        output_tokens_per_s=output_tokens_per_s,
        ttft_ms=ttft_ms,
        itl_ms=itl_ms,
        memory=designs.make_memory(
            total_gib=1,
            usable_gib=1,
            weights_gib=0.001,
            activations_gib=0,
            runtime_gib=0,
            kv_cache_gib=0.01,
            free_gib=0,
        ),
    )
    dep = designs.make_deployment(
        model_id="tiny",
        model_name=model_name,
        engine="llama.cpp",
        engine_image="llama.cpp:server",
        quant="f32",
        kv_dtype="f16",
        device="cpu-test",
        device_kind="cpu",
        gpus_per_replica=0,
        replicas=1,
        max_model_len=2048,
        max_num_seqs=4,
        max_num_batched_tokens=2048,
        requests_per_minute=requests_per_minute,
        concurrent_requests=concurrency,
        input_tokens=input_len,
        output_tokens=output_len,
        estimate=est,
    )
    req = designs.make_requirements([designs.chat_use_case(["tiny"])], name="test", team_size=5)
    return designs.make_design(req, (dep,), name="tiny-test", costs=designs.zero_costs())


@pytest.fixture
def design_file(tmp_path: Path) -> Callable[..., Path]:
    """Write a design.json for `make_design(...)` and return its path."""

    def write(model_name: str, **kw: float) -> Path:
        d = make_design(model_name, **kw)  # type: ignore[arg-type]
        p = tmp_path / f"design-{model_name}.json"
        p.write_text(d.model_dump_json(indent=2))  # type: ignore[attr-defined]
        return p

    return write


@pytest.fixture(scope="session")
def netns_ok() -> None:
    """Skips unless this process may create a network namespace (root, unshare, ip)."""
    from garrison.testing.net import netns_unavailable_reason

    reason = netns_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
