"""Container images: which ones a design needs, and saving them with docker, podman or skopeo."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from garrison.errors import CheckFailed

RUNTIMES = ("docker", "podman", "skopeo")
# `image: repo[:tag][@sha256:...]` in compose files and Kubernetes manifests
_IMAGE_LINE = re.compile(r"^\s*-?\s*image:\s*[\"']?([^\s\"'#]+)", re.MULTILINE)


@dataclass(frozen=True)
class SavedImage:
    """An image saved to an archive (or not), with the digest it was pinned to."""

    ref: str
    digest: str
    archive: Path | None
    saved_with: str
    note: str = ""


def archive_name(ref: str) -> str:
    """File name of an image archive: the reference with every unsafe character as `_`."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", ref) + ".tar"


def images_in_files(files: Mapping[str, str]) -> list[str]:
    """Image references named by `image:` keys in rendered compose / Kubernetes files."""
    found: set[str] = set()
    for path, text in files.items():
        if path.endswith((".yaml", ".yml")):
            found.update(m.group(1) for m in _IMAGE_LINE.finditer(text) if "{{" not in m.group(1))
    return sorted(found)


def detect_runtime(prefer: Iterable[str] = RUNTIMES) -> str | None:
    """The first runtime that can save images here: docker/podman with a reachable daemon, or skopeo."""
    for tool in prefer:
        if not shutil.which(tool):
            continue
        probe = [tool, "--version"] if tool == "skopeo" else [tool, "info"]
        try:
            if subprocess.run(probe, capture_output=True, timeout=20).returncode == 0:
                return tool
        except (OSError, subprocess.TimeoutExpired):
            continue
    return None


def _run(cmd: list[str], timeout: float = 3600) -> str:
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise CheckFailed(cmd[0], f"`{shlex.join(cmd)}` failed ({e})", "check the container runtime") from e
    if res.returncode != 0:
        tail = (res.stderr or res.stdout).strip().splitlines()[-1:] or [""]
        raise CheckFailed(
            cmd[0],
            f"`{shlex.join(cmd)}` exited {res.returncode}: {tail[0]}",
            "check the image name and the runtime's registry access",
        )
    return res.stdout


def _digest_of(ref: str) -> str:
    return ref.split("@", 1)[1] if "@" in ref else ""


def save_image(runtime: str, ref: str, dest: Path) -> SavedImage:
    """Save `ref` to the docker-archive `dest`, pinned by digest where the runtime reports one."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".partial")
    if runtime == "skopeo":
        digest = (
            _digest_of(ref)
            or _run(["skopeo", "inspect", "--format", "{{.Digest}}", f"docker://{ref}"]).strip()
        )
        repo = ref.split("@", 1)[0]
        source = f"docker://{repo.rsplit(':', 1)[0] if ':' in repo.split('/')[-1] else repo}@{digest}"
        _run(["skopeo", "copy", source, f"docker-archive:{tmp}:{repo}"])
    else:
        try:
            _run([runtime, "image", "inspect", ref], timeout=60)
        except CheckFailed:
            _run([runtime, "pull", ref])
        digest = _digest_of(ref)
        if not digest:
            out = _run([runtime, "image", "inspect", "--format", "{{json .RepoDigests}}", ref], timeout=60)
            digests = json.loads(out.strip() or "[]") or []
            digest = digests[0].split("@", 1)[1] if digests and "@" in digests[0] else ""
        _run([runtime, "save", "-o", str(tmp), ref])
    tmp.replace(dest)
    note = "" if digest else "the runtime reported no registry digest (a locally built image?)"
    return SavedImage(ref, digest, dest, runtime, note)


def connected_side_script(refs: Iterable[str]) -> str:
    """Shell commands that save every image on a machine with docker, for `pack --image-dir`."""
    lines = [
        "#!/bin/sh",
        "# Run on a connected machine with docker (or replace docker with podman), then copy",
        "# ./garrison-images next to the pack input and re-run:",
        "#   garrison airgap pack ... --image-dir ./garrison-images",
        "set -eu",
        "mkdir -p garrison-images",
    ]
    for ref in refs:
        q = shlex.quote(ref)
        lines += [
            f"docker pull {q}",
            f"docker image inspect --format '{{{{json .RepoDigests}}}}' {q}"
            f" > garrison-images/{archive_name(ref)}.digest",
            f"docker save -o garrison-images/{archive_name(ref)} {q}",
        ]
    return "\n".join(lines) + "\n"


def from_archive_dir(ref: str, image_dir: Path) -> SavedImage | None:
    """An archive for `ref` saved earlier by the connected-side script, with its recorded digest."""
    tar = image_dir / archive_name(ref)
    if not tar.is_file():
        return None
    digest = _digest_of(ref)
    side = tar.with_name(tar.name + ".digest")
    if not digest and side.is_file():
        try:
            digests = json.loads(side.read_text() or "[]") or []
            digest = digests[0].split("@", 1)[1] if digests and "@" in digests[0] else ""
        except (ValueError, IndexError, AttributeError):
            digest = ""
    return SavedImage(ref, digest, tar, "archive-dir")


def load_archive(runtime: str, archive: Path) -> None:
    """Load a docker-archive into docker or podman on the isolated side."""
    _run([runtime, "load", "-i", str(archive)])
