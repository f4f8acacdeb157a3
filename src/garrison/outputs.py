"""What `plan --out` writes, and the atomic folder writer every command uses."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from garrison.design import Design
from garrison.errors import InputError


def design_json(design: Design) -> str:
    """design.json text: sorted keys, no timestamps, so diffs of two plans mean something."""
    return json.dumps(json.loads(design.model_dump_json()), indent=2, sort_keys=True) + "\n"


def design_files(design: Design) -> dict[str, str]:
    """Every file `garrison plan --out` writes, as {relative path: text}: design.json and the bundle."""
    from garrison.render import render_bundle  # the bundle renders from the same design.json text

    return {**render_bundle(design), "design.json": design_json(design)}


def write_tree(files: dict[str, str], out: Path, *, force: bool = False) -> None:
    """Write files into `out` atomically: build a sibling temp folder, then swap it in.

    A non-empty `out` is refused unless `force`; on any error nothing is left half-written.
    """
    out = out.expanduser()
    if out.exists() and not out.is_dir():
        raise InputError(str(out), "exists and is not a folder", "choose another --out")
    if out.exists() and any(out.iterdir()) and not force:
        raise InputError(
            str(out), "folder is not empty", "pass --force to replace it, or choose another --out"
        )
    for rel in files:
        p = Path(rel)
        if p.is_absolute() or ".." in p.parts:
            raise ValueError(f"refusing to write outside the bundle: {rel}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    try:
        for rel, text in sorted(files.items()):
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            if rel.endswith(".sh"):
                target.chmod(0o755)
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
