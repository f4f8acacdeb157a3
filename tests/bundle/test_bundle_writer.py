"""write_bundle is atomic and refuses to overwrite; design.json input is checked strictly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bundle.designs import gpu_vllm_design
from garrison.errors import InputError
from garrison.render import load_design, render_bundle, write_bundle
from garrison.render.design_file import parse_design


def test_refuses_non_empty_dir_without_force(tmp_path: Path) -> None:
    out = tmp_path / "b"
    out.mkdir()
    (out / "mine.txt").write_text("user file")
    with pytest.raises(InputError, match="not empty"):
        write_bundle({"a.txt": "x"}, out)
    assert (out / "mine.txt").read_text() == "user file"
    write_bundle({"a.txt": "x"}, out, force=True)
    assert sorted(p.name for p in out.iterdir()) == [".garrison-manifest", "a.txt", "mine.txt"]
    assert (out / "mine.txt").read_text() == "user file"


def test_failure_leaves_nothing_half_written(tmp_path: Path) -> None:
    out = tmp_path / "b"
    write_bundle({"old.txt": "old"}, out)
    # "x" is a file and also a folder: the second write fails after the first succeeded
    with pytest.raises(OSError):
        write_bundle({"x": "file", "x/y": "nested"}, out, force=True)
    assert sorted(p.name for p in out.iterdir()) == [".garrison-manifest", "old.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["b"]  # no temp folders left behind


def test_refuses_paths_outside_the_bundle(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        write_bundle({"../escape.txt": "x"}, tmp_path / "b")
    assert not (tmp_path / "escape.txt").exists()


def test_scripts_are_executable(tmp_path: Path) -> None:
    out = write_bundle(render_bundle(gpu_vllm_design()), tmp_path / "b")
    for script in out.glob("scripts/*.sh"):
        assert os.access(script, os.X_OK)


def test_design_round_trips_through_bundle(tmp_path: Path) -> None:
    d = gpu_vllm_design()
    out = write_bundle(render_bundle(d), tmp_path / "b")
    assert load_design(out / "design.json") == d


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda raw: raw.update(schema_version=2), "schema_version"),
        (lambda raw: raw.pop("deployments"), "deployments"),
        (lambda raw: raw["deployments"][0].update(replicas="many"), "deployments.0.replicas"),
        (lambda raw: raw["deployments"][0].update(unknown_field=1), "deployments.0.unknown_field"),
    ],
)
def test_bad_design_is_one_input_error(mutate, where: str) -> None:  # type: ignore[no-untyped-def]
    raw = json.loads(gpu_vllm_design().model_dump_json())
    mutate(raw)
    with pytest.raises(InputError) as e:
        parse_design(json.dumps(raw))
    assert where in e.value.one_line() and "\n" not in e.value.one_line()


def _garrison(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "garrison", *args], capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("content", ["{not json", '{"schema_version": 99}', '["a list"]'])
def test_cli_render_bad_input_exit_2_nothing_written(tmp_path: Path, content: str) -> None:
    src = tmp_path / "design.json"
    src.write_text(content)
    r = _garrison("render", str(src), "--out", str(tmp_path / "out"))
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists()


def test_cli_render_then_refuse_then_force(tmp_path: Path) -> None:
    src = tmp_path / "design.json"
    src.write_text(gpu_vllm_design().model_dump_json())
    out = tmp_path / "out"
    r = _garrison("render", str(src), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert (out / "gateway" / "nginx.conf").is_file()
    r = _garrison("render", str(src), "--out", str(out))
    assert r.returncode == 2 and "--force" in r.stderr
    assert _garrison("render", str(src), "--out", str(out), "--force").returncode == 0
