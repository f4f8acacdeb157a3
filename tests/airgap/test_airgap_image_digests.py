"""Images by digest: `airgap pack --image-dir` reads each archive (no container runtime), refuses one that
holds a different image than its reference or .digest file says, and pins the registry digest the archive
proves in the bundle's compose and Kubernetes files.

The archives are made by the tests (tests/airgap/image_archives.py) and read back by the real `skopeo`,
which also writes the legacy `docker save` archive; no Docker daemon can run here.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

from garrison.airgap import pack, verify
from garrison.airgap.image_archive import normalise, read_image_archive
from garrison.airgap.images import archive_name
from garrison.airgap.manifest import Manifest
from garrison.errors import CheckFailed
from garrison.testing.ci import require_tool

from .conftest import make_design, run_cli_subprocess
from .image_archives import MadeArchive, make_image_archive, write_digest_file

REF = "vllm/vllm-openai:v0.11.0"
REPO = "vllm/vllm-openai"


@pytest.fixture
def skopeo() -> str:
    """The real skopeo (resolved before `no_runtime` empties PATH)."""
    return require_tool("skopeo")


@pytest.fixture
def no_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No docker, podman or skopeo on PATH for pack: images not in --image-dir become commands."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def _design_json(tmp_path: Path, hf_folder: Path, image: str = REF) -> Path:
    src = tmp_path / "design.json"
    src.write_text(make_design(str(hf_folder), engine_image=image).model_dump_json())
    return src


def _archive(tmp_path: Path, *, docker_save: bool = False, payload: bytes = b"hi\n") -> MadeArchive:
    return make_image_archive(
        tmp_path / "images" / archive_name(REF), REF, docker_save=docker_save, payload=payload
    )


def _packed(out: Path, m: Manifest, logical: str) -> str:
    """A bundle file as the pack stores it (one piece: the test files are small)."""
    (piece,) = [p for p in m.pieces if p.file == logical]
    return (out / piece.stored).read_text()


def _skopeo_digest(skopeo: str, path: Path, transport: str = "oci-archive") -> str:
    out = subprocess.run(
        [skopeo, "inspect", "--raw", f"{transport}:{path}"], capture_output=True, timeout=60, check=True
    ).stdout
    return "sha256:" + hashlib.sha256(out).hexdigest()


@pytest.mark.parametrize("docker_save", [False, True], ids=["oci-layout", "docker-save"])
def test_pack_pins_the_digest_the_archive_proves(
    tmp_path: Path, hf_folder: Path, skopeo: str, no_runtime: None, docker_save: bool
) -> None:
    made = _archive(tmp_path, docker_save=docker_save)
    assert (
        _skopeo_digest(skopeo, made.path) == made.manifest_digest
    )  # skopeo reads the test's archive as we do
    write_digest_file(made.path, made.config_digest, [f"{REPO}@{made.manifest_digest}"])
    m = pack(
        _design_json(tmp_path, hf_folder), tmp_path / "out", wheelhouse=False, image_dir=made.path.parent
    ).manifest
    entry = next(i for i in m.images if i.ref == REF)
    assert entry.digest == made.manifest_digest and entry.saved_with == "archive-dir", entry
    pinned = f"{REF}@{made.manifest_digest}"
    compose = yaml.safe_load(_packed(tmp_path / "out", m, "bundle/compose/compose.yaml"))
    assert {s["image"] for s in compose["services"].values() if "vllm" in s["image"]} == {pinned}
    (dep,) = [
        f.path
        for f in m.files
        if f.path.startswith("bundle/k8s/base/")
        and f.path.endswith("-deployment.yaml")
        and "gateway" not in f.path
    ]
    k8s = yaml.safe_load(_packed(tmp_path / "out", m, dep))
    images = {c["name"]: c["image"] for c in k8s["spec"]["template"]["spec"]["containers"]}
    assert images["engine"] == pinned, images
    # the other images have no archive: tag only, and the offline lint still says so
    assert not any(REPO in f for f in m.offline_findings), m.offline_findings
    assert any("image-tag-only" in f or "tag only" in f for f in m.offline_findings), m.offline_findings
    assert verify(tmp_path / "out").ok


def test_a_wrong_image_id_is_refused_before_anything_is_written(
    tmp_path: Path, hf_folder: Path, no_runtime: None
) -> None:
    made = _archive(tmp_path)
    wrong = "sha256:" + hashlib.sha256(b"another image").hexdigest()
    write_digest_file(made.path, wrong, [f"{REPO}@{made.manifest_digest}"])
    src = _design_json(tmp_path, hf_folder)
    with pytest.raises(CheckFailed, match="a different image") as e:
        pack(src, tmp_path / "out", wheelhouse=False, image_dir=made.path.parent)
    assert wrong in e.value.one_line() and made.manifest_digest in e.value.one_line()
    assert not (tmp_path / "out").exists()
    r = run_cli_subprocess(
        "airgap", "pack", str(src), "--out", str(tmp_path / "out2"), "--no-wheelhouse",
        "--image-dir", str(made.path.parent),
    )  # fmt: skip
    assert r.returncode == 1 and "Traceback" not in r.stderr and "a different image" in r.stderr, r.stderr
    assert not (tmp_path / "out2").exists()


def test_a_reference_pinned_to_another_digest_is_refused(
    tmp_path: Path, hf_folder: Path, no_runtime: None
) -> None:
    wrong = "sha256:" + "e" * 64
    made = make_image_archive(tmp_path / "images" / archive_name(f"{REF}@{wrong}"), REF)
    with pytest.raises(CheckFailed, match=f"not {wrong} that the reference pins"):
        pack(
            _design_json(tmp_path, hf_folder, f"{REF}@{wrong}"),
            tmp_path / "out",
            wheelhouse=False,
            image_dir=made.path.parent,
        )
    assert not (tmp_path / "out").exists()


def test_an_altered_or_misnamed_archive_is_refused(tmp_path: Path, hf_folder: Path, no_runtime: None) -> None:
    other = make_image_archive(tmp_path / "images" / archive_name(REF), "prom/prometheus:v3.6.0")
    with pytest.raises(CheckFailed, match=f"holds prom/prometheus:v3.6.0, not {REF}"):
        pack(
            _design_json(tmp_path, hf_folder), tmp_path / "out", wheelhouse=False, image_dir=other.path.parent
        )
    made = _archive(tmp_path, payload=b"x")
    with tarfile.open(made.path) as t:  # flip the config's bytes: its digest no longer matches its name
        members = [(m, t.extractfile(m).read()) for m in t.getmembers()]  # type: ignore[union-attr]
    cfg = made.config_digest.split(":")[1]
    with tarfile.open(made.path, "w") as t:
        for m, data in members:
            t.addfile(m, io.BytesIO(data.replace(b"amd64", b"arm64") if m.name.endswith(cfg) else data))
    with pytest.raises(CheckFailed, match="does not hash to its name"):
        pack(
            _design_json(tmp_path, hf_folder), tmp_path / "out", wheelhouse=False, image_dir=made.path.parent
        )
    assert not (tmp_path / "out").exists()


def test_a_legacy_docker_archive_checks_the_image_id_but_pins_nothing(
    tmp_path: Path, hf_folder: Path, skopeo: str, no_runtime: None
) -> None:
    """`docker save` before Docker 25 (here written by the real skopeo) keeps the config but rebuilds the
    manifest: the image ID is checked, the registry digest cannot be proven and is not pinned."""
    made = make_image_archive(tmp_path / "oci" / "a.tar", REF)
    legacy = tmp_path / "images" / archive_name(REF)
    legacy.parent.mkdir()
    subprocess.run(
        [skopeo, "--insecure-policy", "copy", "-q", f"oci-archive:{made.path}", f"docker-archive:{legacy}:{REF}"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    with tarfile.open(legacy) as t:
        assert "index.json" not in t.getnames() and "manifest.json" in t.getnames()
    (image,) = read_image_archive(legacy)
    assert image.digest == "" and image.proven == {made.config_digest}
    assert [normalise(n) for n in image.names] == [normalise(REF)]
    write_digest_file(legacy, made.config_digest, [f"{REPO}@{made.manifest_digest}"])
    m = pack(
        _design_json(tmp_path, hf_folder), tmp_path / "out", wheelhouse=False, image_dir=legacy.parent
    ).manifest
    entry = next(i for i in m.images if i.ref == REF)
    assert entry.digest == "" and made.manifest_digest in entry.note and "keeps the tag" in entry.note
    compose = _packed(tmp_path / "out", m, "bundle/compose/compose.yaml")
    assert "@sha256:" not in compose
    write_digest_file(legacy, "sha256:" + "0" * 64, [])
    with pytest.raises(CheckFailed, match="a different image"):
        pack(_design_json(tmp_path, hf_folder), tmp_path / "out2", wheelhouse=False, image_dir=legacy.parent)


def test_old_digest_files_still_read(tmp_path: Path, hf_folder: Path, no_runtime: None) -> None:
    """A .digest file from the earlier SAVE-IMAGES.sh holds the RepoDigests list alone."""
    made = _archive(tmp_path)
    made.path.with_name(made.path.name + ".digest").write_text(json.dumps([f"{REPO}@{made.manifest_digest}"]))
    m = pack(
        _design_json(tmp_path, hf_folder), tmp_path / "out", wheelhouse=False, image_dir=made.path.parent
    ).manifest
    assert next(i for i in m.images if i.ref == REF).digest == made.manifest_digest
