"""Fixtures for the air-gap tests: tiny models in every layout pack accepts, made on the fly."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from garrison.design import Design, Range
from garrison.requirements import Requirements
from garrison.testing import designs

REPO = Path(__file__).resolve().parents[2]


def write_safetensors(path: Path, n_floats: int = 4096) -> None:
    """A real (tiny) safetensors file: 8-byte header length, JSON header, raw F32 data."""
    data = struct.pack(f"<{n_floats}f", *(float(i % 97) / 97 for i in range(n_floats)))
    header = json.dumps({"w": {"dtype": "F32", "shape": [n_floats], "data_offsets": [0, len(data)]}}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header + data)


def write_gguf(path: Path) -> None:
    """A valid GGUF v3 file with one metadata key and no tensors (magic, version, counts, kv)."""
    key, val = b"general.name", b"tiny"
    kv = struct.pack("<Q", len(key)) + key + struct.pack("<I", 8) + struct.pack("<Q", len(val)) + val
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + kv + b"\0" * 4096)


def model_files(root: Path) -> dict[str, bytes]:
    """What a Hugging Face model folder holds (engine-relevant files incl. tokenizer and licence)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"], "hidden_size": 64}))
    (root / "generation_config.json").write_text(json.dumps({"temperature": 0.6}))
    (root / "tokenizer.json").write_text(json.dumps({"model": {"type": "BPE", "vocab": {"a": 0}}}))
    (root / "tokenizer_config.json").write_text(json.dumps({"eos_token": "</s>"}))
    (root / "LICENSE").write_text("Apache License 2.0 (test)\n")
    write_safetensors(root / "model.safetensors")
    return {p.name: p.read_bytes() for p in root.iterdir()}


@pytest.fixture
def hf_folder(tmp_path: Path) -> Path:
    """A local Hugging Face model folder."""
    root = tmp_path / "src" / "models" / "tiny-llama"
    model_files(root)
    (root / ".cache" / "huggingface").mkdir(parents=True)  # must be skipped by pack
    (root / ".cache" / "huggingface" / "junk").write_text("x")
    return root


@pytest.fixture
def hf_cache(tmp_path: Path) -> Path:
    """A hub cache laid out as huggingface_hub writes it: blobs, snapshots (symlinks), refs/main."""
    cache = tmp_path / "hfcache"
    repo = cache / "models--tiny-org--tiny-model"
    staging = tmp_path / "staging-model"
    files = model_files(staging)
    rev = "0123456789abcdef0123456789abcdef01234567"
    (repo / "blobs").mkdir(parents=True)
    (repo / "snapshots" / rev).mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(rev)
    for name, data in files.items():
        blob = hashlib.sha256(data).hexdigest()
        (repo / "blobs" / blob).write_bytes(data)
        os.symlink(f"../../blobs/{blob}", repo / "snapshots" / rev / name)
    return cache


@pytest.fixture
def gguf_file(tmp_path: Path) -> Path:
    """A tiny GGUF file."""
    p = tmp_path / "src" / "tiny-q4.gguf"
    p.parent.mkdir(parents=True, exist_ok=True)
    write_gguf(p)
    return p


def requirements_yaml(path: Path, models: list[object]) -> Path:
    """A valid requirements file whose one use case names `models`."""
    doc = {
        "organisation": {"name": "acme", "team_size": 20},
        "use_cases": [{"name": "chat", "kind": "chat", "models": models}],
    }
    Requirements.model_validate(doc)
    path.write_text(yaml.safe_dump(doc))
    return path


def make_design(model_path: str, engine_image: str = "vllm/vllm-openai:v0.11.0") -> Design:
    """A small but complete Design (built by hand; the planner is not needed for packing)."""
    est = designs.make_estimate(
        model=model_path,
        device="h100-80g",
        kv_dtype="bf16",
        gpus=1,
        replicas=1,
        max_model_len=8192,
        weights_gib_per_gpu=1,
        kv_cache_gib_per_gpu=68,
        kv_cache_tokens=100000,
        kv_bytes_per_token=1000,
        fixed_state_bytes_per_seq=0,
        max_concurrency=12,
        concurrency=8,
        prefill_tokens_per_s=1e4,
        decode_tokens_per_s_single=50,
        output_tokens_per_s=400,
        ttft_ms=200,
        itl_ms=20,
        memory=designs.make_memory(
            total_gib=80,
            usable_gib=72,
            weights_gib=1,
            activations_gib=1,
            runtime_gib=2,
            kv_cache_gib=68,
            free_gib=8,
        ),
    )
    dep = designs.make_deployment(
        model_id=model_path,
        model_name="tiny",
        model_path=model_path,
        engine_image=engine_image,
        kv_dtype="bf16",
        device="h100-80g",
        replicas=1,
        max_model_len=8192,
        requests_per_minute=60,
        concurrent_requests=8,
        estimate=est,
    )
    r = Range(low=1, expected=2, high=3)
    costs = designs.make_costs(
        capex_usd=r, annual_power_usd=1, annual_maintenance_usd=1, annual_opex_usd=2, three_year_tco_usd=r
    )
    req = designs.make_requirements([designs.chat_use_case([model_path])], name="acme", team_size=20)
    return designs.make_design(req, (dep,), costs=costs)


def run_cli_subprocess(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m garrison ...` as a user runs it (source tree on PYTHONPATH)."""
    full = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run(
        [sys.executable, "-m", "garrison", *args], capture_output=True, text=True, env=full, timeout=600
    )


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The console entry point `garrison.cli.main` in this process (same exit codes and output,
    without paying the interpreter start-up for each of the many tamper cases)."""
    from garrison.cli import main

    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["garrison", *args]
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    finally:
        sys.argv = argv
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())
