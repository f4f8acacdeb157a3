"""render --force replaces only what garrison wrote: user files survive, colliding ones are refused."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bundle.designs import gpu_vllm_design
from garrison.errors import InputError
from garrison.render.writer import MANIFEST, read_manifest, write_bundle_files


def _garrison(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "garrison", *args], capture_output=True, text=True, timeout=300
    )


def test_render_force_keeps_user_files_with_owner_mode_and_content(tmp_path: Path) -> None:
    src = tmp_path / "design.json"
    src.write_text(gpu_vllm_design().model_dump_json())
    out = tmp_path / "bundle"
    assert _garrison("render", str(src), "--out", str(out)).returncode == 0
    env = out / "compose" / ".env"
    env.write_text("GRAFANA_ADMIN_PASSWORD=s3cret\n")
    os.chmod(env, 0o600)
    (out / "notes").mkdir()
    (out / "notes" / "site.md").write_text("rack B7\n")
    (out / "empty-dir").mkdir()
    (out / "link-to-env").symlink_to("compose/.env")
    before = env.stat()
    (out / "gateway" / "nginx.conf").write_text("# my local edit\n")

    r = _garrison("render", str(src), "--out", str(out), "--force")
    assert r.returncode == 0, r.stderr
    assert "kept 3 file(s)" in r.stdout
    assert "gateway/nginx.conf" in r.stderr  # the edited rendered file is named as replaced
    assert env.read_text() == "GRAFANA_ADMIN_PASSWORD=s3cret\n"
    after = env.stat()
    assert (after.st_ino, after.st_uid, stat.S_IMODE(after.st_mode)) == (before.st_ino, before.st_uid, 0o600)
    assert (out / "notes" / "site.md").read_text() == "rack B7\n"
    assert (out / "empty-dir").is_dir()
    assert os.readlink(out / "link-to-env") == "compose/.env"
    assert "# my local edit" not in (out / "gateway" / "nginx.conf").read_text()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp folders


def test_files_of_the_old_render_that_the_new_one_lacks_are_removed(tmp_path: Path) -> None:
    out = tmp_path / "b"
    write_bundle_files({"a.txt": "a", "sub/old.txt": "old"}, out)
    done = write_bundle_files({"a.txt": "a2"}, out, force=True)
    assert done.kept == () and not (out / "sub").exists()
    assert sorted(read_manifest(out)) == ["a.txt"]


@pytest.mark.parametrize("user_path", ["b.txt", "sub", "sub/c.txt/x"])
def test_a_user_file_where_the_bundle_writes_is_refused_and_nothing_changes(
    tmp_path: Path, user_path: str
) -> None:
    out = tmp_path / "b"
    write_bundle_files({"a.txt": "a"}, out)
    p = out / user_path
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text("mine")
    with pytest.raises(InputError, match="not written by garrison"):
        write_bundle_files({"a.txt": "a2", "b.txt": "b", "sub/c.txt": "c"}, out, force=True)
    assert p.read_text() == "mine" and (out / "a.txt").read_text() == "a"


def test_a_folder_without_manifest_is_all_user_files(tmp_path: Path) -> None:
    out = tmp_path / "b"
    out.mkdir()
    (out / "a.txt").write_text("someone else's")
    with pytest.raises(InputError, match=MANIFEST):
        write_bundle_files({"a.txt": "a"}, out, force=True)
    assert (out / "a.txt").read_text() == "someone else's"


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="coreutils sha256sum missing")
def test_manifest_is_checked_by_sha256sum(tmp_path: Path) -> None:
    src = tmp_path / "design.json"
    src.write_text(gpu_vllm_design().model_dump_json())
    out = tmp_path / "bundle"
    assert _garrison("render", str(src), "--out", str(out)).returncode == 0
    r = subprocess.run(["sha256sum", "-c", "--quiet", MANIFEST], cwd=out, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    (out / "README.md").write_text("changed")
    r = subprocess.run(["sha256sum", "-c", "--quiet", MANIFEST], cwd=out, capture_output=True, text=True)
    assert r.returncode == 1 and "README.md: FAILED" in r.stdout
