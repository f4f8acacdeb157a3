"""Atomic single-file writes: a file is either the old one, the complete new one, or absent."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from garrison.errors import InputError


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same folder, fsync, then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str, force: bool = False) -> None:
    """Write text atomically; an existing file is replaced only with `force` (the CLI's --force)."""
    if path.exists() and not force:
        raise InputError(str(path), "already exists", "pass --force to overwrite it")
    write_bytes_atomic(path, text.encode("utf-8"))
