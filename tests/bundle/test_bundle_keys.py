"""garrison keys: keys printed once, map file 0600 outside the bundle, rotate and revoke."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from garrison.errors import InputError
from garrison.keys import add_key, read_keys, revoke_key
from garrison.render import render_bundle, write_bundle
from bundle.designs import gpu_vllm_design


def test_add_rotate_revoke(tmp_path: Path) -> None:
    f = tmp_path / "etc" / "api_keys.map"
    k1 = add_key(f, "alice")
    assert k1.startswith("sk-garrison-") and len(k1) > 40
    assert stat.S_IMODE(f.stat().st_mode) == 0o600
    assert f'"Bearer {k1}" alice;' in f.read_text()
    with pytest.raises(InputError, match="already has a key"):
        add_key(f, "alice")
    k2 = add_key(f, "alice", rotate=True)
    assert k2 != k1 and read_keys(f) == {"alice": k2}
    add_key(f, "bob")
    revoke_key(f, "alice")
    assert set(read_keys(f)) == {"bob"}
    assert stat.S_IMODE(f.stat().st_mode) == 0o600


@pytest.mark.parametrize("bad", ['al"ice', "a b", "x;include /etc/passwd", "", "A"])
def test_key_ids_cannot_inject_config(tmp_path: Path, bad: str) -> None:
    with pytest.raises(InputError):
        add_key(tmp_path / "k.map", bad)


def test_refuses_to_write_keys_inside_a_bundle(tmp_path: Path) -> None:
    out = write_bundle(render_bundle(gpu_vllm_design()), tmp_path / "b")
    with pytest.raises(InputError, match="inside the bundle"):
        add_key(out / "gateway" / "api_keys.map", "alice")


def test_cli_prints_key_once_on_stdout(tmp_path: Path) -> None:
    f = tmp_path / "api_keys.map"
    r = subprocess.run(
        [sys.executable, "-m", "garrison", "keys", "--name", "ci", "--file", str(f)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    key = r.stdout.strip()
    assert read_keys(f) == {"ci": key}
    assert key not in r.stderr
