"""A pack killed with SIGKILL mid-copy resumes where it stopped and ends byte-identical to a fresh one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from garrison.airgap import verify
from garrison.airgap.manifest import MANIFEST_NAME, STATE_NAME

from .conftest import REPO, requirements_yaml, run_cli


@pytest.mark.slow
def test_sigkill_mid_pack_then_resume(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    with model.open("wb") as f:
        f.write(b"GGUF")
        f.write(os.urandom(1024))
        f.truncate(256 * 1024 * 1024)
    req = requirements_yaml(tmp_path / "req.yaml", [str(model)])
    out = tmp_path / "out"
    args = [
        "airgap",
        "pack",
        str(req),
        "--out",
        str(out),
        "--no-wheelhouse",
        "--volume-size",
        "16M",
        "--quiet",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "garrison", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    done = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            done = len(json.loads((out / STATE_NAME).read_text())["pieces"])
        except (OSError, ValueError, KeyError):
            done = 0
        if done >= 3:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "pack finished before it could be killed; make the file bigger"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert done >= 3
    assert not (out / MANIFEST_NAME).exists()

    r = run_cli(*args, "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["pieces_reused"] >= 3
    assert summary["bytes_written"] < 256 * 1024 * 1024
    rep = verify(out)
    assert rep.ok, rep
    assert not list(out.rglob("*.partial"))
    r = run_cli(
        "airgap",
        "pack",
        str(req),
        "--out",
        str(tmp_path / "fresh"),
        "--no-wheelhouse",
        "--volume-size",
        "16M",
        "--quiet",
    )
    assert r.returncode == 0
    assert (tmp_path / "fresh" / MANIFEST_NAME).read_bytes() == (out / MANIFEST_NAME).read_bytes()
