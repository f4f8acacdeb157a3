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
    """An image saved to an archive (or not), with the digest it was pinned to.

    `digest` is the registry digest the bundle pins (proven by the archive once `prove` has run);
    `image_id` and `repo_digests` are what the saving runtime reported, checked by `prove`."""

    ref: str
    digest: str
    archive: Path | None
    saved_with: str
    note: str = ""
    image_id: str = ""
    repo_digests: tuple[str, ...] = ()


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
    """Save `ref` to the archive `dest` and pin the registry digest the archive proves (`prove`).

    skopeo writes an OCI archive with the registry's manifests kept byte for byte (--preserve-digests;
    one platform of a multi-platform image), so its manifest digest is a registry digest; docker and
    podman write `docker save` archives and report the image ID and RepoDigests, checked by `prove`.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".partial")
    if runtime == "skopeo":
        repo = ref.split("@", 1)[0]
        _run(["skopeo", "copy", "--preserve-digests", f"docker://{ref}", f"oci-archive:{tmp}:{repo}"])
        tmp.replace(dest)
        from garrison.airgap.image_archive import image_for, read_image_archive

        kept = image_for(ref, read_image_archive(dest), dest).digest
        return prove(SavedImage(ref, "", dest, runtime, "", "", (f"{repo}@{kept}",) if kept else ()))
    try:
        _run([runtime, "image", "inspect", ref], timeout=60)
    except CheckFailed:
        _run([runtime, "pull", ref])
    out = _run([runtime, "image", "inspect", "--format", INSPECT_FORMAT, ref], timeout=60)
    image_id, repo_digests = parse_inspect(out)
    _run([runtime, "save", "-o", str(tmp), ref])
    tmp.replace(dest)
    return prove(SavedImage(ref, _digest_of(ref), dest, runtime, "", image_id, repo_digests))


# what `docker image inspect` records for an image: its ID and the registry digests it was pulled by
INSPECT_FORMAT = '{"id":{{json .Id}},"repo_digests":{{json .RepoDigests}}}'


def parse_inspect(text: str) -> tuple[str, tuple[str, ...]]:
    """(image id, registry digests) from INSPECT_FORMAT output, or from the older `.digest` files that
    held the RepoDigests list alone; ("", ()) when unreadable."""
    try:
        data = json.loads(text.strip() or "[]")
    except ValueError:
        return "", ()
    if isinstance(data, list):
        return "", tuple(str(d) for d in data if "@" in str(d))
    if isinstance(data, dict):
        digests = data.get("repo_digests") or []
        return str(data.get("id") or ""), tuple(str(d) for d in digests if "@" in str(d))
    return "", ()


def _same_repo(a: str, b: str) -> bool:
    from garrison.airgap.image_archive import normalise

    return normalise(a).rsplit(":", 1)[0] == normalise(b).rsplit(":", 1)[0]


def prove(saved: SavedImage) -> SavedImage:
    """Check `saved.archive` holds the image the runtime or the reference says, and pin what it proves.

    Refused (CheckFailed): an archive that is no image archive, holds another image, or lacks the digest
    the reference pins (`ref@sha256:...`) or the image ID the runtime recorded: a wrong image.
    Pinned: the reference's digest, else the first registry digest of the image's repository that the
    archive holds. A registry digest the archive lacks is not pinned (docker's classic image store
    rebuilds the manifests on `docker save`, so they no longer match the registry's), and says so.
    """
    from garrison.airgap.image_archive import image_for, read_image_archive

    assert saved.archive is not None
    found = image_for(saved.ref, read_image_archive(saved.archive), saved.archive)
    for claim, what in (
        (_digest_of(saved.ref), "the reference pins"),
        (saved.image_id, "the runtime recorded"),
    ):
        if claim and claim not in found.proven:
            raise CheckFailed(
                str(saved.archive),
                f"holds {found.digest or 'an image'} for {saved.ref}, not {claim} that {what}: a different image",
                f"save {saved.ref} again into {saved.archive.name} and its .digest file "
                "(images/SAVE-IMAGES.sh), or remove a stale .digest file",
            )
    registry = [d.split("@", 1)[1] for d in saved.repo_digests if _same_repo(d, saved.ref)]
    pin = _digest_of(saved.ref) or next((d for d in registry if d in found.proven), "")
    note = saved.note
    if not pin and registry:
        note = (
            f"registry digest {registry[0]} is not in the archive (the saving runtime rebuilt the "
            "manifests; docker's containerd image store or skopeo copy --preserve-digests keep them): "
            "the bundle keeps the tag"
        )
    elif not pin:
        note = "no registry digest recorded for the archive: the bundle keeps the tag"
    return SavedImage(
        saved.ref, pin, saved.archive, saved.saved_with, note, saved.image_id, saved.repo_digests
    )


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
            f"docker image inspect --format {shlex.quote(INSPECT_FORMAT)} {q}"
            f" > garrison-images/{archive_name(ref)}.digest",
            f"docker save -o garrison-images/{archive_name(ref)} {q}",
        ]
    return "\n".join(lines) + "\n"


def from_archive_dir(ref: str, image_dir: Path) -> SavedImage | None:
    """An archive for `ref` saved earlier by the connected-side script, checked against its `.digest`
    file and pinned to the registry digest it proves (`prove`)."""
    tar = image_dir / archive_name(ref)
    if not tar.is_file():
        return None
    side = tar.with_name(tar.name + ".digest")
    image_id, repo_digests = parse_inspect(side.read_text()) if side.is_file() else ("", ())
    return prove(SavedImage(ref, _digest_of(ref), tar, "archive-dir", "", image_id, repo_digests))


def load_archive(runtime: str, archive: Path) -> None:
    """Load a docker-archive into docker or podman on the isolated side."""
    _run([runtime, "load", "-i", str(archive)])
