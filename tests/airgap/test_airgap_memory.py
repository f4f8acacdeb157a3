"""A 2 GiB (sparse) model file packs and verifies with bounded memory: peak RSS of the child process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO, requirements_yaml

LIMIT_MB = 200  # what the issue allows; the copy buffer is 8 MiB, the rest is the interpreter + imports
SIZE = 2 * 1024**3


def peak_rss_mb(*garrison_args: str) -> tuple[int, float]:
    """(exit code, peak RSS in MB) of `python -m garrison ARGS`, measured by a wrapper process
    through getrusage(RUSAGE_CHILDREN), so no other child of the test run can inflate it."""
    code = (
        "import json, resource, subprocess, sys\n"
        "r = subprocess.run([sys.executable, '-m', 'garrison', *sys.argv[1:]], stdout=subprocess.DEVNULL)\n"
        "print(json.dumps([r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    out = subprocess.run(
        [sys.executable, "-c", code, *garrison_args],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=True,
    )
    rc, kb = json.loads(out.stdout)
    return int(rc), kb / 1024  # ru_maxrss is in KiB on Linux


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_two_gib_sparse_file_packs_with_bounded_memory(tmp_path: Path) -> None:
    model = tmp_path / "big.gguf"
    with model.open("wb") as f:
        f.write(b"GGUF")
        f.truncate(SIZE)  # sparse: costs no disk to create, reads as zeros
    req = requirements_yaml(tmp_path / "req.yaml", [str(model)])
    out = tmp_path / "pack"
    _, baseline = peak_rss_mb("--version")
    rc, pack_mb = peak_rss_mb(
        "airgap", "pack", str(req), "--out", str(out), "--no-wheelhouse", "--quiet", "--volume-size", "1G"
    )
    assert rc == 0
    assert sum(p.stat().st_size for p in out.rglob("*.part*")) == SIZE
    rc, verify_mb = peak_rss_mb("airgap", "verify", str(out), "--quiet")
    assert rc == 0
    print(
        f"\npeak RSS: garrison --version {baseline:.0f} MB, pack 2 GiB {pack_mb:.0f} MB, "
        f"verify {verify_mb:.0f} MB (limit {LIMIT_MB} MB)"
    )
    assert pack_mb < LIMIT_MB and verify_mb < LIMIT_MB
    assert pack_mb - baseline < 64, "pack must stream: memory may not grow with the file"
