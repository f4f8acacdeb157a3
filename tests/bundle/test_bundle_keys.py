"""garrison keys: keys printed once, map file 0600 outside the bundle, rotate and revoke."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bundle.designs import gpu_vllm_design
from garrison.errors import InputError
from garrison.keys import add_key, read_keys, revoke_key, stored_form
from garrison.render import render_bundle, write_bundle

# root-owned and readable by the gateway's group (101) when run as root; else private to the user
PRIVATE_MODE = 0o640 if os.geteuid() == 0 else 0o600


def test_add_rotate_revoke(tmp_path: Path) -> None:
    f = tmp_path / "etc" / "api_keys.map"
    k1 = add_key(f, "alice")
    assert k1.startswith("sk-garrison-") and len(k1) == len("sk-garrison-") + 8 + 43
    assert stat.S_IMODE(f.stat().st_mode) == PRIVATE_MODE
    text = f.read_text()
    s1 = stored_form(k1)
    assert f'{s1.handle} "alice {s1.digest}";' in text and k1 not in text and k1[-43:] not in text
    with pytest.raises(InputError, match="already has a key"):
        add_key(f, "alice")
    k2 = add_key(f, "alice", rotate=True)
    assert k2 != k1 and read_keys(f) == {"alice": stored_form(k2)}
    add_key(f, "bob")
    revoke_key(f, "alice")
    assert set(read_keys(f)) == {"bob"}
    assert stat.S_IMODE(f.stat().st_mode) == PRIVATE_MODE


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
    assert read_keys(f) == {"ci": stored_form(key)}
    assert key not in r.stderr


def test_digest_is_base64url_md5_of_the_secret_as_nginx_secure_link_computes_it() -> None:
    import base64
    import hashlib

    key = "sk-garrison-0123abcd" + "A" * 43
    s = stored_form(key)
    assert s.handle == "0123abcd" and len(s.digest) == 22 and "=" not in s.digest
    assert base64.urlsafe_b64decode(s.digest + "==") == hashlib.md5(b"A" * 43).digest()
    with pytest.raises(ValueError):
        stored_form("sk-garrison-short")


def test_a_plaintext_key_file_from_before_is_refused_with_the_fix(tmp_path: Path) -> None:
    f = tmp_path / "api_keys.map"
    f.write_text('"Bearer sk-garrison-abc" alice;\n')
    with pytest.raises(InputError, match="plaintext key line"):
        read_keys(f)
