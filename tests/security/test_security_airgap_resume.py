"""Air-gap pack: Ctrl-C says what is left and how to resume; a resumed pack re-checks every piece it
keeps against its recorded SHA-256, so a corrupted volume piece is copied again, never shipped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from airgap.conftest import REPO, requirements_yaml
from garrison.airgap import verify
from garrison.airgap.manifest import MANIFEST_NAME, STATE_NAME


@pytest.mark.slow
def test_sigint_says_what_is_left_and_resume_rechecks_kept_pieces(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    with model.open("wb") as f:
        f.write(b"GGUF")
        f.write(os.urandom(1 << 20))
        f.truncate(512 * 1024 * 1024)  # 64 pieces of 8 MiB: far more than a fast disk copies between polls
    req = requirements_yaml(tmp_path / "req.yaml", [str(model)])
    out = tmp_path / "out"
    args = ["airgap", "pack", str(req), "--out", str(out), "--no-wheelhouse", "--volume-size", "8M"]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "garrison", *args, "--quiet"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a runner started in the background (`cmd &` in a script) hands its children SIGINT ignored,
        # and Python then installs no KeyboardInterrupt handler: give the child the default back
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    state: dict[str, dict[str, str]] = {}
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            state = json.loads((out / STATE_NAME).read_text())["pieces"]
        except (OSError, ValueError, KeyError):
            state = {}
        if len(state) >= 2:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "pack finished before it could be interrupted; make the file bigger"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert "pieces" in err and "are left to copy" in err and "again to resume" in err, err
    assert not (out / MANIFEST_NAME).exists()

    # corrupt one finished piece without changing its size: the resume must notice and copy it again
    state = json.loads((out / STATE_NAME).read_text())["pieces"]
    victim = out / sorted(state)[0]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))

    r = subprocess.run(
        [sys.executable, "-m", "garrison", *args, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    assert f"{sorted(state)[0]} no longer matches its recorded SHA-256" in r.stderr
    summary = json.loads(r.stdout)
    assert summary["pieces_reused"] == len(state) - 1
    report = verify(out)
    assert report.ok, report
