"""Streaming copy and hash with bounded memory: one reused buffer, never a whole file in memory."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

# 8 MiB: large enough that per-call overhead vanishes next to disk and SHA-256 speed, small enough
# that peak memory stays a few MiB whatever the model size (the issue asks for 1-8 MiB chunks).
CHUNK_BYTES = 8 * 1024 * 1024

Progress = Callable[[int], None]


def sha256_file(
    path: Path, offset: int = 0, length: int | None = None, progress: Progress | None = None
) -> str:
    """SHA-256 hex of `length` bytes of `path` from `offset` (to the end when None), streamed."""
    h = hashlib.sha256()
    buf = bytearray(CHUNK_BYTES)
    view = memoryview(buf)
    with path.open("rb", buffering=0) as f:
        if offset:
            f.seek(offset)
        left = length
        while left is None or left > 0:
            want = CHUNK_BYTES if left is None else min(CHUNK_BYTES, left)
            n = f.readinto(view[:want])
            if not n:
                break
            h.update(view[:n])
            if left is not None:
                left -= n
            if progress:
                progress(n)
    return h.hexdigest()


def copy_range_hashed(
    src: Path,
    dst: Path,
    offset: int,
    length: int,
    whole: hashlib._Hash | None = None,
    progress: Progress | None = None,
) -> str:
    """Copy `length` bytes of `src` from `offset` to `dst` atomically; returns their SHA-256.

    Hashes while copying (one read of the source), also feeding `whole` (the hash of the whole
    file across pieces). Writes `dst.partial`, fsyncs and renames, so `dst` is complete or absent.
    """
    h = hashlib.sha256()
    buf = bytearray(CHUNK_BYTES)
    view = memoryview(buf)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".partial")
    with src.open("rb", buffering=0) as fin, tmp.open("wb", buffering=0) as fout:
        fin.seek(offset)
        left = length
        while left > 0:
            n = fin.readinto(view[: min(CHUNK_BYTES, left)])
            if not n:
                raise OSError(f"{src} shrank while packing ({left} bytes short)")
            chunk = view[:n]
            h.update(chunk)
            if whole is not None:
                whole.update(chunk)
            written = 0
            while written < n:
                written += fout.write(chunk[written:]) or 0
            left -= n
            if progress:
                progress(n)
        os.fsync(fout.fileno())
    os.replace(tmp, dst)
    return h.hexdigest()


def hash_into(src: Path, offset: int, length: int, whole: hashlib._Hash, *more: hashlib._Hash) -> None:
    """Feed `length` bytes of `src` from `offset` into `whole` (and `more`), streamed."""
    buf = bytearray(CHUNK_BYTES)
    view = memoryview(buf)
    with src.open("rb", buffering=0) as f:
        f.seek(offset)
        left = length
        while left > 0:
            n = f.readinto(view[: min(CHUNK_BYTES, left)])
            if not n:
                raise OSError(f"{src} shrank while packing")
            whole.update(view[:n])
            for h in more:
                h.update(view[:n])
            left -= n


def concat_hashed(parts: list[tuple[Path, int]], dst: Path, progress: Progress | None = None) -> str:
    """Reassemble `parts` (path, size) in order into `dst` atomically; returns the whole SHA-256."""
    h = hashlib.sha256()
    buf = bytearray(CHUNK_BYTES)
    view = memoryview(buf)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".partial")
    with tmp.open("wb", buffering=0) as fout:
        for src, size in parts:
            with src.open("rb", buffering=0) as fin:
                left = size
                while left > 0:
                    n = fin.readinto(view[: min(CHUNK_BYTES, left)])
                    if not n:
                        raise OSError(f"{src} is shorter than the manifest says")
                    h.update(view[:n])
                    written = 0
                    while written < n:
                        written += fout.write(view[written:n]) or 0
                    left -= n
                    if progress:
                        progress(n)
        os.fsync(fout.fileno())
    os.replace(tmp, dst)
    return h.hexdigest()
