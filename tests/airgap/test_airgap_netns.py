"""End to end with no network: pack (connected) here, then verify + install inside `unshare --net`.

The namespace has only a loopback interface, so any attempt to reach PyPI, the Hugging Face Hub
or a registry fails with "Network is unreachable"; the test proves that first."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from garrison.airgap import generate_keypair, pack

from .conftest import REPO, requirements_yaml

PROBE = (
    "import socket,sys\n"
    "s=socket.socket()\n"
    "s.settimeout(3)\n"
    "try:\n    s.connect(('1.1.1.1',443))\n"
    "except OSError as e:\n    print('no-network', e.errno)\n    sys.exit(0)\n"
    "sys.exit('network is reachable: the isolation is broken')\n"
)


def _need_netns() -> None:
    ok = os.geteuid() == 0 and shutil.which("unshare") and shutil.which("ip")
    if not ok:
        msg = "needs root, unshare and ip for a network namespace"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_install_with_no_network_and_run_installed_garrison(tmp_path: Path, hf_folder: Path) -> None:
    _need_netns()
    key, pub = generate_keypair(tmp_path / "site")
    req = requirements_yaml(tmp_path / "src" / "req.yaml", ["./models/tiny-llama"])
    packed = tmp_path / "pack"
    m = pack(req, packed, volume_size="64M", sign_key=key).manifest  # builds (or reuses) the wheelhouse
    assert m.wheelhouse_requirement == "garrison==0.1.0"
    assert any(f.path.startswith("wheelhouse/garrison-0.1.0") for f in m.files)

    venv, models = tmp_path / "iso" / "venv", tmp_path / "iso" / "models"
    py = sys.executable
    inst = (
        f"{py} -m garrison airgap install {packed} --models-dir {models} --venv {venv} --trust {pub} --json"
    )
    installed = f"env -u PYTHONPATH {venv}/bin"
    script = " && ".join(
        [
            "ip link set lo up",
            f'{py} -c "$PROBE"',
            f"{inst} > install.json",
            f"{installed}/garrison --version",
            f"{installed}/python -c 'import garrison; print(garrison.__file__)'",
            f"{installed}/garrison airgap verify {packed} --trust {pub} --json > verify.json",
            # second run: idempotent, still offline
            f"{inst} > install2.json",
        ]
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "src"),
        "PROBE": PROBE,
        "PIP_NO_INDEX": "",
        "HOME": str(tmp_path / "home"),
    }
    r = subprocess.run(
        ["unshare", "--net", "--", "sh", "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=800,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("no-network 101"), lines  # ENETUNREACH
    assert "garrison 0.1.0" in lines
    assert any(line.startswith(str(venv)) and "site-packages/garrison" in line for line in lines), lines
    first = json.loads((tmp_path / "install.json").read_text())
    second = json.loads((tmp_path / "install2.json").read_text())
    assert first["placed"] == 6 and first["venv"] == str(venv)
    assert second["placed"] == 0 and second["unchanged"] == 6
    assert json.loads((tmp_path / "verify.json").read_text())["signature"] == "valid"
    assert (models / "tiny-llama" / "tokenizer.json").read_bytes() == (
        hf_folder / "tokenizer.json"
    ).read_bytes()
