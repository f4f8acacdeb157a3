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


def make_design(
    model_name: str,
    *,
    ttft_ms: float,
    itl_ms: float,
    output_tokens_per_s: float,
    concurrency: int = 4,
    input_len: int = 32,
    output_len: int = 32,
) -> object:
    """A small hand-made Design (as `garrison plan` would write) whose estimate the tests compare with."""
    from garrison.design import Costs, Deployment, Design, Estimate, MemoryBreakdown, Range
    from garrison.requirements import Requirements

    req = Requirements.model_validate(
        {
            "organisation": {"name": "test", "team_size": 5},
            "use_cases": [{"name": "chat", "kind": "chat", "models": ["tiny"]}],
        }
    )
    mem = MemoryBreakdown(
        total_gib=1,
        usable_gib=1,
        weights_gib=0.001,
        activations_gib=0,
        runtime_gib=0,
        kv_cache_gib=0.01,
        free_gib=0,
    )
    est = Estimate(
        fits=True,
        reason="",
        model=model_name,
        device="cpu-test",
        device_kind="cpu",
        engine="llama.cpp",
        quant="f32",
        kv_dtype="f16",
        gpus=0,
        tp=1,
        pp=1,
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
        memory=mem,
    )
    dep = Deployment(
        use_case="chat",
        kind="chat",
        model_id="tiny",
        model_name=model_name,
        engine="llama.cpp",
        engine_image="llama.cpp:server",
        quant="f32",
        kv_dtype="f16",
        device="cpu-test",
        device_kind="cpu",
        gpus_per_replica=0,
        tp=1,
        pp=1,
        replicas=1,
        max_model_len=2048,
        max_num_seqs=4,
        max_num_batched_tokens=2048,
        gpu_memory_utilization=0.9,
        requests_per_minute=60,
        concurrent_requests=concurrency,
        input_tokens=input_len,
        output_tokens=output_len,
        estimate=est,
    )
    r = Range(low=0, expected=0, high=0)
    return Design(
        garrison_version="0.1.0",
        name="tiny-test",
        requirements=req,
        deployments=(dep,),
        servers=(),
        costs=Costs(
            capex_usd=r, annual_power_usd=0, annual_maintenance_usd=0, annual_opex_usd=0, three_year_tco_usd=r
        ),
    )


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
def llama_server_path() -> Path:
    """The real llama-server binary; skips (with the command to build it) when it is not built."""
    p = llama_server_binary()
    if p is None:
        pytest.skip("llama-server not built: run scripts/ensure-llama-server.sh")
    return p


@pytest.fixture(scope="session")
def netns_ok() -> None:
    """Skips unless this process may create a network namespace (root, unshare, ip)."""
    if not can_unshare():
        pytest.skip("needs root, unshare and ip (network namespace)")
