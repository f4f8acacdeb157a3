"""`verify`: every stored piece against the manifest, plus the Ed25519 signature when trusted."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath

from garrison.airgap.manifest import MANIFEST_NAME, SIGNATURE_NAME, Manifest, check_signature, load_manifest
from garrison.airgap.progress import Reporter, Silent
from garrison.airgap.streamio import sha256_file
from garrison.errors import InputError


@dataclass(frozen=True)
class VerifyReport:
    """What is wrong with a pack; `ok` only when nothing is.

    signature: valid | invalid | untrusted-key | absent (a key was trusted but there is no signature)
    | unsigned / not-checked (no --trust given)."""

    ok: bool
    missing: tuple[str, ...]
    extra: tuple[str, ...]
    altered: tuple[str, ...]
    truncated: tuple[str, ...]
    signature: str
    problems: tuple[str, ...] = ()
    complete: bool = True
    files: int = 0
    bytes: int = 0

    def to_json(self) -> dict[str, object]:
        """The `--json` object (keys: ok, missing, extra, altered, truncated, signature, ...)."""
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def safe_relpath(p: str) -> bool:
    """A manifest path must stay inside the pack (relative, no `..`, no backslashes)."""
    pp = PurePosixPath(p)
    return (
        bool(p)
        and not pp.is_absolute()
        and ".." not in pp.parts
        and "\\" not in p
        and p not in (MANIFEST_NAME, SIGNATURE_NAME)
    )


def _coverage_problems(m: Manifest) -> list[str]:
    """Pieces must tile each file exactly, and every path must stay inside the pack."""
    out: list[str] = []
    pieces: dict[str, list[tuple[int, int]]] = {}
    for p in m.pieces:
        if not safe_relpath(p.stored):
            out.append(f"manifest: unsafe stored path {p.stored!r}")
        pieces.setdefault(p.file, []).append((p.offset, p.size))
    for f in m.files:
        if not safe_relpath(f.path):
            out.append(f"manifest: unsafe file path {f.path!r}")
        at = 0
        for off, size in sorted(pieces.get(f.path, [])):
            if off != at:
                break
            at += size
        if at != f.size:
            out.append(f"manifest: pieces of {f.path} do not add up to its {f.size} bytes")
    known = {f.path for f in m.files}
    out += [f"manifest: piece for unknown file {name}" for name in sorted(set(pieces) - known)]
    return out


def _walk_files(root: Path) -> list[str]:
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in filenames:
            out.append((Path(dirpath) / name).relative_to(root).as_posix())
    return out


def verify(pack_dir: Path, trust: Path | None = None, reporter: Reporter | None = None) -> VerifyReport:
    """Check a pack: missing, extra, truncated and altered files by name; the signature if trusted."""
    rep = reporter or Silent()
    if not pack_dir.is_dir():
        raise InputError(
            str(pack_dir), "no such folder", "give the folder `garrison airgap pack --out` wrote"
        )
    if not (pack_dir / MANIFEST_NAME).is_file():
        raise InputError(
            str(pack_dir),
            "no manifest.json here (not a pack, or the pack did not finish)",
            "give the pack's root folder, or re-run pack to finish it",
        )
    try:
        m = load_manifest(pack_dir)
    except InputError as e:
        return VerifyReport(False, (), (), (MANIFEST_NAME,), (), "not-checked", (e.problem,), False)

    if trust is not None:
        signature = check_signature(m.canonical_bytes(), pack_dir / SIGNATURE_NAME, trust)
    else:
        signature = "not-checked" if (pack_dir / SIGNATURE_NAME).exists() else "unsigned"

    problems = _coverage_problems(m)
    expected = {p.stored: p for p in m.pieces}
    extra = sorted(set(_walk_files(pack_dir)) - set(expected) - {MANIFEST_NAME, SIGNATURE_NAME})
    missing: list[str] = []
    truncated: list[str] = []
    altered: list[str] = []
    total = sum(p.size for p in m.pieces)
    rep.start("verifying", total)
    for p in sorted(m.pieces, key=lambda p: p.stored):
        path = pack_dir / p.stored
        if not safe_relpath(p.stored):
            continue
        if path.is_symlink():
            altered.append(p.stored)
            continue
        if not path.is_file():
            missing.append(p.stored)
            continue
        size = path.stat().st_size
        if size < p.size:
            truncated.append(p.stored)
        elif size > p.size or sha256_file(path, progress=rep.advance) != p.sha256:
            altered.append(p.stored)
    rep.finish()
    ok = not (missing or extra or altered or truncated or problems) and signature not in (
        "invalid",
        "untrusted-key",
        "absent",
    )
    return VerifyReport(
        ok,
        tuple(missing),
        tuple(extra),
        tuple(altered),
        tuple(truncated),
        signature,
        tuple(problems),
        m.complete,
        len(m.files),
        total,
    )
