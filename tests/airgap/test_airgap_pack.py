"""pack: local folder, HF cache layout, GGUF, design input, volumes, resume, missing models."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from garrison.airgap import install, pack, verify
from garrison.airgap.images import archive_name
from garrison.airgap.manifest import MANIFEST_NAME, STATE_NAME
from garrison.airgap.pack import parse_size
from garrison.airgap.progress import Silent
from garrison.errors import InputError

from .conftest import make_design, requirements_yaml, run_cli, run_cli_subprocess
from .image_archives import make_image_archive


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_pack_local_folder_lists_every_file_with_hash_and_origin(tmp_path: Path, hf_folder: Path) -> None:
    req = requirements_yaml(tmp_path / "src" / "req.yaml", ["./models/tiny-llama"])
    res = pack(req, tmp_path / "out", wheelhouse=False)
    m = res.manifest
    by_path = {f.path: f for f in m.files}
    for name in (
        "config.json",
        "generation_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "LICENSE",
        "model.safetensors",
    ):
        f = by_path[f"models/tiny-llama/{name}"]
        assert f.sha256 == _sha(hf_folder / name)
        assert f.size == (hf_folder / name).stat().st_size
        assert f.role == "model"
        assert f.origin["kind"] == "local-folder"
        assert (tmp_path / "out" / f.path).read_bytes() == (hf_folder / name).read_bytes()
    assert not any(".cache" in p for p in by_path), "the download cache of a local dir must not be packed"
    assert m.garrison_version == "0.1.0"
    assert not (tmp_path / "out" / STATE_NAME).exists()
    assert verify(tmp_path / "out").ok


def test_pack_hf_cache_layout_records_repo_and_revision(tmp_path: Path, hf_cache: Path) -> None:
    req = requirements_yaml(tmp_path / "req.yaml", ["tiny-org/tiny-model"])
    res = pack(req, tmp_path / "out", [hf_cache], wheelhouse=False)
    (model,) = res.manifest.models
    assert model.kind == "hf-cache"
    assert model.origin["repo_id"] == "tiny-org/tiny-model"
    assert model.origin["revision"] == "0123456789abcdef0123456789abcdef01234567"
    packed = tmp_path / "out" / "models" / "tiny-org--tiny-model"
    assert sorted(p.name for p in packed.iterdir()) == sorted(
        [
            "config.json",
            "generation_config.json",
            "tokenizer.json",
            "tokenizer_config.json",
            "LICENSE",
            "model.safetensors",
        ]
    )
    assert not any(p.is_symlink() for p in packed.iterdir()), "symlinks into blobs/ must be packed as content"
    assert verify(tmp_path / "out").ok


def test_pack_gguf_file(tmp_path: Path, gguf_file: Path) -> None:
    req = requirements_yaml(tmp_path / "req.yaml", [str(gguf_file)])
    res = pack(req, tmp_path / "out", wheelhouse=False)
    (f,) = [f for f in res.manifest.files if f.role == "model"]
    assert f.path == "models/tiny-q4.gguf"
    assert f.sha256 == _sha(gguf_file)
    assert (tmp_path / "out" / f.path).read_bytes()[:4] == b"GGUF"
    assert res.manifest.models[0].kind == "gguf"


def test_design_json_without_container_runtime_is_marked_incomplete(
    tmp_path: Path, hf_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    design = make_design(str(hf_folder))
    src = tmp_path / "design.json"
    src.write_text(design.model_dump_json())
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))  # no docker, podman or skopeo on PATH
    res = pack(src, tmp_path / "out", wheelhouse=False)
    m = res.manifest
    assert m.complete is False
    assert "SAVE-IMAGES.sh" in m.incomplete_reasons[0]
    refs = [i.ref for i in m.images]
    assert "vllm/vllm-openai:v0.11.0" in refs  # the design's engine image
    script = (tmp_path / "out" / "images" / "SAVE-IMAGES.sh").read_text()
    for ref in refs:
        assert f"docker pull {ref}" in script
        assert f"docker save -o garrison-images/{archive_name(ref)} {ref}" in script
    if m.bundle:  # the renderer is merged: its support images (gateway, monitoring ...) come along
        assert len(refs) > 1 and any(f.path.startswith("bundle/compose/") for f in m.files)
        assert not [f for f in m.offline_findings if f.startswith("error")]
    assert verify(tmp_path / "out").ok  # incomplete is not corrupt


FAKE_DOCKER = """#!/bin/sh
# FAKE docker (no daemon can run here): answers the calls pack and install make; `save` copies an
# image archive the test made (tests/airgap/image_archives.py), `image inspect --format` reports its
# image ID and a registry digest for the asked repository.
echo "$@" >> "$FAKE_DOCKER_LOG"
case "$1" in
  info) exit 0 ;;
  pull) exit 0 ;;
  image)
    case "$3" in
      --format) printf '{"id":"%s","repo_digests":["%s@%s"]}\\n' "$FAKE_IMAGE_ID" "${5%:*}" "$FAKE_IMAGE_DIGEST" ;;
      *) echo '[{}]' ;;
    esac ;;
  save) cp "$FAKE_IMAGE_TAR" "$3" ;;
  load) exit 0 ;;
esac
"""


def _fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    fake_bin = tmp_path / "fakebin"
    fake_bin.mkdir()
    (fake_bin / "docker").write_text(FAKE_DOCKER)
    (fake_bin / "docker").chmod(0o755)
    log = tmp_path / "docker.log"
    made = make_image_archive(tmp_path / "fake-image.tar", None)  # unnamed: stands for any image
    monkeypatch.setenv("PATH", f"{fake_bin}:/usr/bin:/bin")
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(log))
    monkeypatch.setenv("FAKE_IMAGE_TAR", str(made.path))
    monkeypatch.setenv("FAKE_IMAGE_ID", made.config_digest)
    monkeypatch.setenv("FAKE_IMAGE_DIGEST", made.manifest_digest)
    return log


def test_images_saved_by_digest_with_a_runtime(
    tmp_path: Path, hf_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Uses a FAKE docker (a shell script): no container daemon can run on this machine."""
    log = _fake_docker(tmp_path, monkeypatch)
    src = tmp_path / "design.json"
    src.write_text(make_design(str(hf_folder)).model_dump_json())
    m = pack(src, tmp_path / "out", wheelhouse=False).manifest
    assert m.complete
    image = next(i for i in m.images if i.ref == "vllm/vllm-openai:v0.11.0")
    made = make_image_archive(tmp_path / "same.tar", None)  # the archive the fake saved (deterministic)
    assert image.digest == made.manifest_digest
    assert image.saved_with == "docker"
    assert (tmp_path / "out" / image.archive).read_bytes() == made.path.read_bytes()
    assert all(i.archive and i.digest for i in m.images)
    assert "save -o" in log.read_text()
    res = install(tmp_path / "out", tmp_path / "models", venv=tmp_path / "venv")
    assert set(res.images_loaded) == {i.ref for i in m.images} and res.images_not_loaded == ()
    assert "load -i" in log.read_text()


def test_missing_models_listed_with_fix_and_nothing_written(tmp_path: Path) -> None:
    req = requirements_yaml(tmp_path / "req.yaml", ["./models/absent", "ghost-org/ghost-model"])
    with pytest.raises(InputError) as e:
        pack(req, tmp_path / "out", wheelhouse=False)
    text = e.value.one_line()
    assert "./models/absent" in text and "ghost-org/ghost-model" in text
    assert "--model-source" in text and "--download" in text
    assert not (tmp_path / "out").exists()
    r = run_cli_subprocess("airgap", "pack", str(req), "--out", str(tmp_path / "out2"), "--no-wheelhouse")
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "ghost-org/ghost-model" in r.stderr
    assert not (tmp_path / "out2").exists()


def test_volumes_split_large_files_and_install_reassembles(tmp_path: Path, hf_folder: Path) -> None:
    big = hf_folder / "model-00002.safetensors"
    big.write_bytes(os.urandom(3 * 1024 * 1024 + 123))
    req = requirements_yaml(tmp_path / "src" / "req.yaml", ["./models/tiny-llama"])
    m = pack(req, tmp_path / "out", volume_size="1M", wheelhouse=False).manifest
    assert m.volumes >= 4
    for p in m.pieces:
        assert p.size <= 1024 * 1024
    parts = [p for p in m.pieces if p.file == "models/tiny-llama/model-00002.safetensors"]
    assert len(parts) >= 4 and all(".part" in p.stored for p in parts)
    vol_sizes: dict[int, int] = {}
    for p in m.pieces:
        vol_sizes[p.volume] = vol_sizes.get(p.volume, 0) + p.size
    assert max(vol_sizes.values()) <= 1024 * 1024
    assert verify(tmp_path / "out").ok
    install(tmp_path / "out", tmp_path / "models", venv=tmp_path / "venv")
    assert (tmp_path / "models" / "tiny-llama" / big.name).read_bytes() == big.read_bytes()


class _StopAfter(Silent):
    def __init__(self, limit: int) -> None:
        self.seen = 0
        self.limit = limit

    def advance(self, nbytes: int) -> None:
        self.seen += nbytes
        if self.seen >= self.limit:
            raise KeyboardInterrupt


def test_interrupted_pack_resumes_and_never_looks_complete(tmp_path: Path, hf_folder: Path) -> None:
    (hf_folder / "model-00002.safetensors").write_bytes(os.urandom(5 * 1024 * 1024))
    req = requirements_yaml(tmp_path / "src" / "req.yaml", ["./models/tiny-llama"])
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        pack(req, out, volume_size="1M", wheelhouse=False, reporter=_StopAfter(3 * 1024 * 1024))
    assert (out / STATE_NAME).is_file()
    assert not (out / MANIFEST_NAME).exists(), "an interrupted pack must not carry a manifest"
    with pytest.raises(InputError):
        verify(out)
    res = pack(req, out, volume_size="1M", wheelhouse=False)
    assert res.pieces_reused >= 2
    assert verify(out).ok
    fresh = pack(req, tmp_path / "fresh", volume_size="1M", wheelhouse=False)
    assert fresh.manifest.files == res.manifest.files


def test_manifest_is_deterministic_and_refuses_overwrite(tmp_path: Path, hf_folder: Path) -> None:
    req = requirements_yaml(tmp_path / "src" / "req.yaml", ["./models/tiny-llama"])
    pack(req, tmp_path / "a", wheelhouse=False)
    pack(req, tmp_path / "b", wheelhouse=False)
    assert (tmp_path / "a" / MANIFEST_NAME).read_bytes() == (tmp_path / "b" / MANIFEST_NAME).read_bytes()
    with pytest.raises(InputError, match="already holds a finished pack"):
        pack(req, tmp_path / "a", wheelhouse=False)
    pack(req, tmp_path / "a", wheelhouse=False, force=True)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "user-file.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty"):
        pack(req, tmp_path / "c", wheelhouse=False)


def test_signed_pack_verifies_with_trusted_key(tmp_path: Path, hf_folder: Path) -> None:
    r = run_cli("airgap", "keygen", "--out", str(tmp_path / "keys" / "site"))
    assert r.returncode == 0, r.stderr
    assert oct((tmp_path / "keys" / "site.key").stat().st_mode)[-3:] == "600"
    req = requirements_yaml(tmp_path / "src" / "req.yaml", ["./models/tiny-llama"])
    r = run_cli(
        "airgap",
        "pack",
        str(req),
        "--out",
        str(tmp_path / "out"),
        "--no-wheelhouse",
        "--sign",
        str(tmp_path / "keys" / "site.key"),
        "--json",
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["signed"] is True
    r = run_cli(
        "airgap", "verify", str(tmp_path / "out"), "--trust", str(tmp_path / "keys" / "site.pub"), "--json"
    )
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads(r.stdout)
    assert rep["ok"] is True and rep["signature"] == "valid"
    assert {"ok", "missing", "extra", "altered", "truncated", "signature"} <= set(rep)


@pytest.mark.parametrize(
    ("text", "bytes_"),
    [("4G", 4 * 1024**3), ("700M", 700 * 1024**2), ("1.5GiB", 1536 * 1024**2), ("2097152", 2 * 1024**2)],
)
def test_parse_size(text: str, bytes_: int) -> None:
    assert parse_size(text) == bytes_


@pytest.mark.parametrize("bad", ["4Q", "", "-1G", "100"])
def test_parse_size_rejects(bad: str) -> None:
    with pytest.raises(InputError):
        parse_size(bad)


def test_requirements_are_planned_and_catalogue_models_found_in_a_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shipped air-gapped example, planned for real; its model comes from a (tiny) HF cache."""
    from .conftest import REPO, model_files

    cache = tmp_path / "hub"
    snap = cache / "models--Qwen--Qwen3-32B" / "snapshots" / ("f" * 40)
    model_files(snap)
    (cache / "models--Qwen--Qwen3-32B" / "refs").mkdir()
    (cache / "models--Qwen--Qwen3-32B" / "refs" / "main").write_text("f" * 40)
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))  # no container runtime: images become commands
    m = pack(
        REPO / "examples" / "airgapped-regulated.yaml", tmp_path / "out", [cache], wheelhouse=False
    ).manifest
    assert m.name == "St. Elsewhere Hospital"
    (model,) = m.models
    assert model.origin["repo_id"] == "Qwen/Qwen3-32B" and model.origin["revision"] == "f" * 40
    assert m.images and all(i.ref for i in m.images)
    assert m.complete is False and "SAVE-IMAGES.sh" in m.incomplete_reasons[0]
    assert m.bundle and any(f.path.startswith("bundle/") for f in m.files)
    assert verify(tmp_path / "out").ok


def test_download_only_when_asked_and_it_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Uses a FAKE huggingface_hub module (no Hub access from here) to check the wiring: pack only
    downloads with download=True, says so on stderr, and records the commit it got."""
    import sys
    import types

    from garrison.airgap.progress import StderrReporter

    from .conftest import model_files

    calls: list[tuple[str, str | None]] = []

    def snapshot_download(repo_id: str, revision: str | None = None, cache_dir: object = None) -> str:
        calls.append((repo_id, revision))
        snap = tmp_path / "dl" / ("models--" + repo_id.replace("/", "--")) / "snapshots" / ("c" * 40)
        model_files(snap)
        return str(snap)

    fake = types.ModuleType("huggingface_hub")
    fake.snapshot_download = snapshot_download  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "huggingface_hub", fake)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    req = requirements_yaml(tmp_path / "req.yaml", ["remote-org/remote-model"])
    with pytest.raises(InputError, match="remote-org/remote-model"):
        pack(req, tmp_path / "out", wheelhouse=False)
    assert calls == [], "no download unless asked"
    m = pack(req, tmp_path / "out", wheelhouse=False, download=True, reporter=StderrReporter()).manifest
    assert calls == [("remote-org/remote-model", None)]
    assert "downloading remote-org/remote-model from the Hugging Face Hub" in capsys.readouterr().err
    (model,) = m.models
    assert model.kind == "hub" and model.origin["revision"] == "c" * 40


def test_images_saved_before_an_interruption_are_not_saved_again(
    tmp_path: Path, hf_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FAKE docker again; counts `docker save` calls across an interrupted and a resumed pack."""
    log = _fake_docker(tmp_path, monkeypatch)
    src = tmp_path / "design.json"
    src.write_text(make_design(str(hf_folder)).model_dump_json())
    with pytest.raises(KeyboardInterrupt):
        pack(src, tmp_path / "out", wheelhouse=False, reporter=_StopAfter(1))
    saves = log.read_text().count("save -o")
    assert saves >= 1
    m = pack(src, tmp_path / "out", wheelhouse=False).manifest
    assert log.read_text().count("save -o") == saves == len(m.images)
    assert verify(tmp_path / "out").ok


@pytest.mark.parametrize("engine", ["llama.cpp", "vllm"])
def test_pack_refuses_a_model_format_the_engine_cannot_load(
    tmp_path: Path, hf_folder: Path, gguf_file: Path, engine: str
) -> None:
    """llama.cpp loads a .gguf file, vLLM a safetensors folder: the wrong one is refused before any write."""
    wrong = hf_folder if engine == "llama.cpp" else gguf_file
    design = make_design(str(wrong))
    dep = design.deployments[0].model_copy(
        update={"engine": engine, "quant": "q8_0" if engine == "llama.cpp" else "bf16"}
    )
    src = tmp_path / "design.json"
    src.write_text(design.model_copy(update={"deployments": (dep,)}).model_dump_json())
    with pytest.raises(InputError, match="cannot load the model") as e:
        pack(src, tmp_path / "out", wheelhouse=False)
    assert ".gguf" in str(e.value) if engine == "llama.cpp" else "safetensors" in str(e.value)
    assert not (tmp_path / "out").exists()
