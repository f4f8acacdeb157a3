"""install: places models, writes a receipt, re-runs safely, never clobbers a foreign file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from garrison.airgap import install, pack
from garrison.airgap.install import RECEIPT_NAME
from garrison.errors import InputError

from .conftest import requirements_yaml, run_cli


@pytest.fixture
def packed(tmp_path: Path, hf_folder: Path, gguf_file: Path) -> Path:
    req = requirements_yaml(tmp_path / "src" / "req.yaml", ["./models/tiny-llama", str(gguf_file)])
    pack(req, tmp_path / "pack", wheelhouse=False)
    return tmp_path / "pack"


def test_install_places_models_and_writes_receipt(
    packed: Path, tmp_path: Path, hf_folder: Path, gguf_file: Path
) -> None:
    models = tmp_path / "srv" / "models"
    res = install(packed, models)
    assert (models / "tiny-q4.gguf").read_bytes() == gguf_file.read_bytes()
    for p in hf_folder.iterdir():
        if p.is_file():
            assert (models / "tiny-llama" / p.name).read_bytes() == p.read_bytes()
    assert len(res.placed) == 7 and res.unchanged == ()
    receipt = json.loads((models / RECEIPT_NAME).read_text())
    assert receipt["pack"] == "acme"
    assert receipt["complete"] is False, "tiny test models cannot be planned: no images, so incomplete"
    assert {m["name"] for m in receipt["models"]} == {"tiny-llama", "tiny-q4.gguf"}
    assert all(len(f["sha256"]) == 64 for f in receipt["files"])


def test_reinstall_is_idempotent_and_repairs(packed: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    install(packed, models)
    again = install(packed, models)
    assert again.placed == () and len(again.unchanged) == 7
    (models / "tiny-llama" / "config.json").write_text("damaged")  # a file we placed, since damaged
    third = install(packed, models)
    assert third.placed == ("models/tiny-llama/config.json",)
    r = run_cli("airgap", "install", str(packed), "--models-dir", str(models), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["unchanged"] == 7


def test_install_does_not_overwrite_a_foreign_file_without_force(packed: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    (models / "tiny-llama").mkdir(parents=True)
    (models / "tiny-llama" / "config.json").write_text("the operator's own file")
    with pytest.raises(InputError, match="--force"):
        install(packed, models)
    install(packed, models, force=True)
    assert (models / "tiny-llama" / "config.json").read_text() != "the operator's own file"


def test_bundle_is_installed_and_stays_offline(
    tmp_path: Path, hf_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("garrison.render")
    from garrison.airgap import lint_dir

    from .conftest import make_design

    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))  # no container runtime
    src = tmp_path / "design.json"
    src.write_text(make_design(str(hf_folder)).model_dump_json())
    pack(src, tmp_path / "pack", wheelhouse=False)
    res = install(tmp_path / "pack", tmp_path / "models", bundle_dir=tmp_path / "bundle")
    assert res.complete is False and "vllm/vllm-openai:v0.11.0" in res.images_not_loaded
    assert list((tmp_path / "bundle").rglob("compose*.yaml"))
    scripts = list((tmp_path / "bundle").rglob("*.sh"))
    assert all(p.stat().st_mode & 0o111 for p in scripts)
    assert [f.one_line() for f in lint_dir(tmp_path / "bundle") if f.severity == "error"] == []
