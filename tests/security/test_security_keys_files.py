"""Key files the gateway container (nginx-unprivileged, uid/gid 101, no capabilities) can read, and
the engines' shared key written to every place it is read."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from garrison.keys import ENGINE_AUTH, ENGINE_KEY, GATEWAY_GID, add_key, gateway_can_read, issue_engine_key

ROOT = os.geteuid() == 0


@pytest.mark.skipif(not ROOT, reason="giving a file to group 101 needs root")
def test_key_map_is_root_owned_group_101_mode_0640(tmp_path: Path) -> None:
    f = tmp_path / "api_keys.map"
    add_key(f, "alice")
    st = f.stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, GATEWAY_GID, 0o640)
    assert gateway_can_read(f, GATEWAY_GID)


@pytest.mark.skipif(not ROOT, reason="setpriv to uid 101 needs root")
def test_uid_101_without_capabilities_reads_the_map_but_not_the_engine_key() -> None:
    """What the compose gateway is: uid 101, gid 101, every capability dropped."""
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:  # pytest's own tmp root is 0700
        tmp_path = Path(tmp)
        os.chmod(tmp_path, 0o755)
        _check_as_nginx(tmp_path)


def _check_as_nginx(tmp_path: Path) -> None:
    f = tmp_path / "api_keys.map"
    add_key(f, "alice")
    issue_engine_key(tmp_path, tmp_path / "compose.env")

    def read_as_nginx(path: Path) -> int:
        return subprocess.run(
            ["setpriv", "--reuid=101", "--regid=101", "--clear-groups", "--inh-caps=-all", "cat", str(path)],
            capture_output=True,
            timeout=30,
        ).returncode

    assert read_as_nginx(f) == 0
    assert read_as_nginx(tmp_path / ENGINE_AUTH) == 0
    assert read_as_nginx(tmp_path / ENGINE_KEY) != 0  # only root: it goes into a k8s Secret
    assert read_as_nginx(tmp_path / "compose.env") != 0


def test_engine_key_lands_in_the_gateway_include_the_key_file_and_the_env_file(tmp_path: Path) -> None:
    env = tmp_path / "compose.env"
    env.write_text("GRAFANA_ADMIN_PASSWORD=x\nGARRISON_ENGINE_API_KEY=old\n")
    key = issue_engine_key(tmp_path, env)
    assert key.startswith("sk-engine-") and len(key) == len("sk-engine-") + 43
    assert f'default "Bearer {key}";' in (tmp_path / ENGINE_AUTH).read_text()
    assert (tmp_path / ENGINE_KEY).read_text() == key + "\n"
    assert env.read_text() == f"GRAFANA_ADMIN_PASSWORD=x\nGARRISON_ENGINE_API_KEY={key}\n"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / ENGINE_KEY).stat().st_mode) == 0o600
    again = issue_engine_key(tmp_path, env)
    assert again != key and env.read_text().count("GARRISON_ENGINE_API_KEY=") == 1


def test_cli_engine_key_prints_no_secret(tmp_path: Path) -> None:
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "garrison",
            "keys",
            "--engine",
            "--file",
            str(tmp_path / "api_keys.map"),
            "--env-file",
            str(tmp_path / "compose.env"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    key = (tmp_path / ENGINE_KEY).read_text().strip()
    assert key not in r.stdout + r.stderr and r.stdout == ""
