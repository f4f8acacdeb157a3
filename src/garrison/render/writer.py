"""Atomic bundle writer: all files land in a temporary folder beside DIR, then one rename.

The writer keeps a manifest of its own files (`.garrison-manifest`, `sha256sum` format, so
`sha256sum -c .garrison-manifest` checks a bundle). With `--force` it replaces only what an earlier
render listed there: every other file in the folder (a user's `compose/.env`, notes, certificates)
is carried into the new bundle unchanged (a hard link, so owner, mode and contents stay), and a
user file where the new bundle wants to write is refused rather than overwritten.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from garrison.errors import InputError

EXECUTABLE_SUFFIXES = (".sh",)
MANIFEST = ".garrison-manifest"
_MANIFEST_LINE = re.compile(r"^(?P<digest>[0-9a-f]{64})  (?P<path>.+)$")


@dataclass(frozen=True)
class BundleWrite:
    """What a write did: the folder, user files carried over, and rendered files the user had edited."""

    out_dir: Path
    kept: tuple[str, ...] = ()  # files garrison did not write, carried over unchanged
    edited: tuple[str, ...] = field(default=())  # garrison's files changed since, now replaced


def _safe_rel(path: str) -> PurePosixPath:
    rel = PurePosixPath(path)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts or path == MANIFEST:
        raise InputError("bundle", f"refusing to write outside the bundle: {path!r}")
    return rel


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest_text(files: dict[str, str]) -> str:
    """`<sha256>  <path>` lines, sorted by path: what `sha256sum -c` reads."""
    return "".join(f"{_sha256(text.encode('utf-8'))}  {path}\n" for path, text in sorted(files.items()))


def read_manifest(out_dir: Path) -> dict[str, str]:
    """`path -> sha256` of the files an earlier render wrote into `out_dir` (empty when none)."""
    f = out_dir / MANIFEST
    if not f.is_file() or f.is_symlink():
        return {}
    out: dict[str, str] = {}
    for line in f.read_text(encoding="utf-8", errors="replace").splitlines():
        m = _MANIFEST_LINE.match(line)
        if m:
            out[m.group("path")] = m.group("digest")
    return out


def _existing(out_dir: Path) -> tuple[list[str], list[str]]:
    """(non-directory entries, directories) under `out_dir`, relative POSIX paths, symlinks not followed."""
    entries: list[str] = []
    dirs: list[str] = []
    for dirpath, dirnames, filenames in os.walk(out_dir):
        rel_dir = Path(dirpath).relative_to(out_dir)
        for d in list(dirnames):
            if (Path(dirpath) / d).is_symlink():  # a link to a folder is an entry, not a folder to walk
                dirnames.remove(d)
                entries.append((rel_dir / d).as_posix())
            else:
                dirs.append((rel_dir / d).as_posix())
        entries.extend((rel_dir / n).as_posix() for n in filenames)
    return entries, dirs


def _edited(out_dir: Path, rel: str, digest: str) -> bool:
    p = out_dir / rel
    if p.is_symlink() or not p.is_file():
        return True
    return _sha256(p.read_bytes()) != digest


def _carry(src: Path, dst: Path) -> None:
    """Put user entry `src` at `dst`: a hard link (same file), else a symlink copy or a full copy."""
    if src.is_symlink():
        os.symlink(os.readlink(src), dst)
        return
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError:
        shutil.copy2(src, dst, follow_symlinks=False)


def _plan_carry(
    out_dir: Path, files: dict[str, str], old: dict[str, str]
) -> tuple[list[str], list[str], list[str]]:
    """(user entries to carry, user folders to keep, edited garrison files) for a --force write."""
    entries, dirs = _existing(out_dir)
    new_paths = set(files) | {MANIFEST}
    new_dirs = {p.as_posix() for f in files for p in PurePosixPath(f).parents if p.parts}
    user = [e for e in entries if e not in old and e != MANIFEST]
    clash = sorted(e for e in user if e in new_paths or e in new_dirs)
    clash += sorted(d for d in dirs if d in new_paths)
    clash += sorted(f for f in files for p in PurePosixPath(f).parents if p.parts and p.as_posix() in user)
    if clash:
        raise InputError(
            "--out",
            f"{out_dir / clash[0]} was not written by garrison (it is not in {MANIFEST}) and the new "
            f"bundle would replace it ({len(clash)} such path{'s' if len(clash) > 1 else ''})",
            "move it out of the bundle folder, or render into an empty folder",
        )
    old_dirs = {p.as_posix() for f in old for p in PurePosixPath(f).parents if p.parts}
    keep_dirs = [d for d in dirs if d not in old_dirs or any(u.startswith(d + "/") for u in user)]
    edited = sorted(f for f, digest in old.items() if (out_dir / f).exists() and _edited(out_dir, f, digest))
    return user, keep_dirs, edited


def write_bundle_files(files: dict[str, str], out_dir: Path, force: bool = False) -> BundleWrite:
    """Write `files` to `out_dir` atomically and report what was carried over or replaced.

    A non-empty `out_dir` is replaced only with `force`, and then only the files a previous render
    listed in its manifest: user files stay. Either the whole new bundle is in place afterwards or
    `out_dir` is untouched.
    """
    out_dir = Path(out_dir)
    rels = {path: _safe_rel(path) for path in files}
    if out_dir.is_symlink() or (out_dir.exists() and not out_dir.is_dir()):
        raise InputError("--out", f"{out_dir} exists and is not a folder", "choose another --out")
    non_empty = out_dir.is_dir() and any(out_dir.iterdir())
    if non_empty and not force:
        raise InputError(
            "--out", f"{out_dir} is not empty", "pass --force to replace it, or pick an empty folder"
        )
    user: list[str] = []
    keep_dirs: list[str] = []
    edited: list[str] = []
    if non_empty:
        user, keep_dirs, edited = _plan_carry(out_dir, files, read_manifest(out_dir))
    parent = out_dir.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=parent))
    try:
        for path, text in sorted(files.items()):
            target = tmp / rels[path]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            os.chmod(target, 0o755 if path.endswith(EXECUTABLE_SUFFIXES) else 0o644)
        (tmp / MANIFEST).write_text(manifest_text(files), encoding="utf-8")
        os.chmod(tmp / MANIFEST, 0o644)
        for d in sorted(keep_dirs):
            (tmp / d).mkdir(parents=True, exist_ok=True)
            shutil.copystat(out_dir / d, tmp / d)
        for e in sorted(user):
            (tmp / e).parent.mkdir(parents=True, exist_ok=True)
            _carry(out_dir / e, tmp / e)
        os.chmod(tmp, 0o755)
        if out_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=parent))
            old.rmdir()
            os.rename(out_dir, old)  # two renames: the old bundle stays whole until the new one is in
            try:
                os.rename(tmp, out_dir)
            except OSError:
                os.rename(old, out_dir)
                raise
            shutil.rmtree(old, ignore_errors=True)  # user files live on through their links in out_dir
        else:
            os.rename(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return BundleWrite(out_dir, tuple(sorted(user)), tuple(edited))


def write_bundle(files: dict[str, str], out_dir: Path, force: bool = False) -> Path:
    """Write `files` to `out_dir` atomically (see `write_bundle_files`); returns `out_dir`."""
    return write_bundle_files(files, out_dir, force=force).out_dir
