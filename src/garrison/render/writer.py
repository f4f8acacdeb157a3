"""Atomic bundle writer: all files land in a temporary folder beside DIR, then one rename."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath

from garrison.errors import InputError

EXECUTABLE_SUFFIXES = (".sh",)


def _safe_rel(path: str) -> PurePosixPath:
    rel = PurePosixPath(path)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise InputError("bundle", f"refusing to write outside the bundle: {path!r}")
    return rel


def write_bundle(files: dict[str, str], out_dir: Path, force: bool = False) -> Path:
    """Write `files` to `out_dir` atomically; a non-empty `out_dir` is replaced only with `force`.

    Either the whole new bundle is in place afterwards or `out_dir` is untouched.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError("--out", f"{out_dir} exists and is not a folder", "choose another --out")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise InputError(
            "--out", f"{out_dir} is not empty", "pass --force to replace it, or pick an empty folder"
        )
    parent = out_dir.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=parent))
    try:
        for path, text in sorted(files.items()):
            target = tmp / _safe_rel(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            os.chmod(target, 0o755 if path.endswith(EXECUTABLE_SUFFIXES) else 0o644)
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
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir
