"""`install` on the isolated side: verify, place models, load images, install the wheelhouse offline,
write a receipt. Re-running is safe: files already in place with the right hash are skipped."""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from garrison.airgap import images as img
from garrison.airgap.manifest import MANIFEST_NAME, FileEntry, Manifest, load_manifest
from garrison.airgap.progress import Reporter, Silent
from garrison.airgap.streamio import concat_hashed, sha256_file
from garrison.airgap.verify import verify
from garrison.atomic import write_bytes_atomic as write_atomic
from garrison.errors import CheckFailed, InputError

RECEIPT_NAME = "garrison-airgap-receipt.json"


@dataclass(frozen=True)
class InstallResult:
    """What install did; the same facts are in the receipt file."""

    receipt: Path
    placed: tuple[str, ...]
    unchanged: tuple[str, ...]
    images_loaded: tuple[str, ...]
    images_not_loaded: tuple[str, ...]
    venv: Path | None
    complete: bool


def _previous(receipt: Path) -> dict[str, dict[str, object]]:
    try:
        data = json.loads(receipt.read_text())
        return {str(f["dest"]): f for f in data.get("files", [])}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _place(
    pack: Path,
    m: Manifest,
    f: FileEntry,
    dest: Path,
    prev: dict[str, dict[str, object]],
    force: bool,
    rep: Reporter,
) -> bool:
    """Put `f` at `dest`; False when it was already there. Refuses to replace a foreign file."""
    if dest.is_file():
        st = dest.stat()
        rec = prev.get(str(dest))
        if (
            rec
            and rec.get("sha256") == f.sha256
            and rec.get("size") == st.st_size
            and rec.get("mtime_ns") == st.st_mtime_ns
        ):
            return False
        if st.st_size == f.size and sha256_file(dest) == f.sha256:
            return False
        if not rec and not force:
            raise InputError(
                str(dest),
                "exists with other content and was not placed by a Garrison install",
                "move it away or pass --force",
            )
    parts = [
        (pack / p.stored, p.size)
        for p in sorted((p for p in m.pieces if p.file == f.path), key=lambda p: p.offset)
    ]
    digest = concat_hashed(parts, dest, rep.advance)
    if digest != f.sha256:  # the pack changed between verify and now
        dest.unlink(missing_ok=True)
        raise CheckFailed(f.path, "changed while installing (hash mismatch)", "verify the pack again")
    return True


def install(
    pack_dir: Path,
    models_dir: Path,
    *,
    venv: Path | None = None,
    bundle_dir: Path | None = None,
    trust: Path | None = None,
    load_images: bool = True,
    force: bool = False,
    reporter: Reporter | None = None,
) -> InstallResult:
    """Install a verified pack. `venv` defaults to <models_dir>/../garrison-venv."""
    rep = reporter or Silent()
    report = verify(pack_dir, trust, rep)
    if not report.ok:
        named = [*report.missing, *report.truncated, *report.altered, *report.extra, *report.problems]
        sig = (
            f"; signature {report.signature}"
            if report.signature in ("invalid", "untrusted-key", "absent")
            else ""
        )
        raise CheckFailed(
            str(pack_dir),
            f"verify failed ({len(named)} problem(s): {', '.join(named[:5])}{sig})",
            "run `garrison airgap verify` for the full list and re-copy those files",
        )
    m = load_manifest(pack_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    receipt_path = models_dir / RECEIPT_NAME
    prev = _previous(receipt_path)
    venv = venv or models_dir.resolve().parent / "garrison-venv"

    targets: list[tuple[FileEntry, Path]] = []
    for f in m.files:
        if f.role == "model":
            targets.append((f, models_dir / f.path.removeprefix("models/")))
        elif f.role == "bundle" and bundle_dir is not None:
            targets.append((f, bundle_dir / f.path.removeprefix("bundle/")))
    placed: list[str] = []
    unchanged: list[str] = []
    rep.start("installing", sum(f.size for f, _ in targets))
    records: list[dict[str, object]] = []
    for f, dest in targets:
        (placed if _place(pack_dir, m, f, dest, prev, force, rep) else unchanged).append(f.path)
        if f.role == "bundle" and dest.suffix == ".sh":
            dest.chmod(0o755)  # scripts of the bundle stay runnable, as `garrison plan --out` writes them
        st = dest.stat()
        records.append(
            {
                "path": f.path,
                "dest": str(dest),
                "sha256": f.sha256,
                "size": st.st_size,
                "mtime_ns": st.st_mtime_ns,
            }
        )
    rep.finish()

    loaded: list[str] = []
    not_loaded: list[str] = []
    wheels = [f for f in m.files if f.role == "wheel"]
    image_files = {f.path: f for f in m.files if f.role == "image"}
    runtime = img.detect_runtime(("docker", "podman")) if load_images and image_files else None
    with tempfile.TemporaryDirectory(prefix="garrison-install-") as tmp:
        for entry in m.images:
            image_file = image_files.get(entry.archive)
            if image_file is None or runtime is None:
                not_loaded.append(entry.ref)
                continue
            archive = Path(tmp) / "images" / Path(image_file.path).name
            _place(pack_dir, m, image_file, archive, {}, True, rep)
            rep.note(f"loading image {entry.ref} into {runtime}")
            img.load_archive(runtime, archive)
            archive.unlink()
            loaded.append(entry.ref)
        if wheels and m.wheelhouse_requirement:
            wh = Path(tmp) / "wheelhouse"
            for f in wheels:
                _place(pack_dir, m, f, wh / Path(f.path).name, {}, True, rep)
            rep.note(f"installing {m.wheelhouse_requirement} into {venv} with no index")
            from garrison.airgap.wheelhouse import install_wheelhouse

            install_wheelhouse(wh, venv, m.wheelhouse_requirement)
    receipt = {
        "pack": m.name,
        "manifest_sha256": hashlib.sha256((pack_dir / MANIFEST_NAME).read_bytes()).hexdigest(),
        "garrison_version": m.garrison_version,
        "complete": m.complete,
        "incomplete_reasons": list(m.incomplete_reasons),
        "signature": report.signature,
        "files": records,
        "models": [
            {"name": e.name, "path": str(models_dir / e.path.removeprefix("models/")), **e.origin}
            for e in m.models
        ],
        "images_loaded": loaded,
        "images_not_loaded": not_loaded,
        "venv": str(venv) if wheels else "",
        "requirement": m.wheelhouse_requirement,
    }
    write_atomic(receipt_path, (json.dumps(receipt, indent=1, sort_keys=True) + "\n").encode())
    return InstallResult(
        receipt_path,
        tuple(placed),
        tuple(unchanged),
        tuple(loaded),
        tuple(not_loaded),
        venv if wheels else None,
        m.complete,
    )
