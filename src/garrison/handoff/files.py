"""Writing a hand-off file: atomic, and never over an existing file without force."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from garrison.errors import InputError


def write_atomic(path: Path, text: str, force: bool) -> None:
    """Write via a temporary file and rename; refuse to replace an existing file without force."""
    if path.exists() and not force:
        raise InputError(str(path), "already exists", "pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
