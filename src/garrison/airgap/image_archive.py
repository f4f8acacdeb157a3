"""What an image archive holds, read without a container runtime: the digests it can prove.

Two formats, both tar files (OCI image layout, https://github.com/opencontainers/image-spec/blob/main/image-layout.md;
`docker save`, https://docs.docker.com/reference/cli/docker/image/save/):
- OCI layout (`skopeo copy oci-archive:`, and `docker save` since Docker 25, which adds it beside the
  legacy manifest.json): `index.json` lists the images, each a descriptor (digest, size, name annotations)
  of a manifest or an image index stored under `blobs/sha256/<hex>`.
- legacy `docker save`: `manifest.json` lists each image's config file, RepoTags and layer files.

An archive proves a digest when a blob with that digest is in it and its bytes hash to it: the index's
manifests (and, through an image index, the per-platform manifests present) and the image configs. A
registry digest (`repo@sha256:...`) can be pinned in the bundle only when proven: only then will the
isolated side, loading or pushing the archive with its manifests kept, find the image by that digest.
Layers are checked for presence and size (the pack's SHA-256 manifest covers the archive's bytes).
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from garrison.errors import CheckFailed

_INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
# JSON blobs (indexes, manifests, configs) are small; anything larger is a layer and is not read
_MAX_JSON = 16 * 2**20
_NAME_KEYS = ("io.containerd.image.name", "org.opencontainers.image.ref.name")


@dataclass(frozen=True)
class ArchivedImage:
    """One image an archive holds: its names, the digest of its top manifest (OCI layout only) and every
    digest the archive proves for it (that manifest, the per-platform manifests present, the configs)."""

    names: tuple[str, ...]
    digest: str  # sha256:... of the index.json entry; "" for a legacy docker archive
    proven: frozenset[str]


def normalise(ref: str) -> str:
    """`busybox` -> `docker.io/library/busybox:latest`; a digest suffix is dropped."""
    name = ref.split("@", 1)[0]
    first, _, rest = name.partition("/")
    if not rest or ("." not in first and ":" not in first and first != "localhost"):
        name = f"docker.io/{name}"
    host, _, path = name.partition("/")
    if host == "docker.io" and "/" not in path:
        name = f"docker.io/library/{path}"
    if ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    return name


def _fail(path: Path, problem: str) -> CheckFailed:
    return CheckFailed(
        str(path),
        problem,
        "save the image again (skopeo copy --preserve-digests docker://REF oci-archive:FILE:REF, or docker save)",
    )


class _Tar:
    """The members of an archive by name, with a checked read of the small JSON blobs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.tar = tarfile.open(path)  # noqa: SIM115 - closed by read_image_archive
        except (OSError, tarfile.TarError) as e:
            raise _fail(path, f"is not a tar archive ({e})") from e
        self.members = {m.name.lstrip("./"): m for m in self.tar.getmembers() if m.isfile()}

    def json(self, name: str) -> Any:
        m = self.members.get(name)
        if m is None:
            raise _fail(self.path, f"has no {name}")
        if m.size > _MAX_JSON:
            raise _fail(self.path, f"{name} is {m.size} bytes, too large for image metadata")
        f = self.tar.extractfile(m)
        assert f is not None
        data = f.read()
        try:
            return data, json.loads(data)
        except ValueError as e:
            raise _fail(self.path, f"{name} is not JSON ({e})") from e

    def blob(self, digest: str, size: int | None) -> Any:
        """The parsed JSON blob `digest`, after checking its bytes hash to it (and its size)."""
        algo, _, hexd = str(digest).partition(":")
        if algo != "sha256" or len(hexd) != 64:
            raise _fail(self.path, f"names a blob by {digest!r}, not a sha256 digest")
        data, parsed = self.json(f"blobs/sha256/{hexd}")
        if hashlib.sha256(data).hexdigest() != hexd or (size is not None and len(data) != size):
            raise _fail(self.path, f"blob {digest} does not hash to its name: the archive was altered")
        return parsed

    def has_blob(self, desc: dict[str, Any]) -> bool:
        m = self.members.get(f"blobs/sha256/{str(desc.get('digest', '')).partition(':')[2]}")
        return m is not None and (desc.get("size") is None or m.size == desc["size"])


def _manifest_digests(t: _Tar, desc: dict[str, Any]) -> set[str]:
    """Digests proven under one index.json descriptor: it, nested manifests present, their configs."""
    digest, media = str(desc.get("digest", "")), str(desc.get("mediaType", ""))
    body = t.blob(digest, desc.get("size"))
    proven = {digest}
    if media in _INDEX_TYPES or "manifests" in body:
        for sub in body.get("manifests", []):
            if t.has_blob(sub):  # a single-platform save keeps one of the index's manifests
                proven |= _manifest_digests(t, sub)
        return proven
    config = body.get("config", {})
    t.blob(str(config.get("digest", "")), config.get("size"))
    proven.add(str(config["digest"]))
    for layer in body.get("layers", []):
        if not t.has_blob(layer):
            raise _fail(t.path, f"layer {layer.get('digest')} of {digest} is missing or has the wrong size")
    return proven


def read_image_archive(path: Path) -> tuple[ArchivedImage, ...]:
    """Every image in an OCI-layout or `docker save` archive, with the digests the archive proves."""
    t = _Tar(path)
    try:
        images: list[ArchivedImage] = []
        if "index.json" in t.members:
            _, index = t.json("index.json")
            for desc in index.get("manifests", []):
                notes = desc.get("annotations") or {}
                names = tuple(str(notes[k]) for k in _NAME_KEYS if k in notes)
                images.append(
                    ArchivedImage(names, str(desc.get("digest", "")), frozenset(_manifest_digests(t, desc)))
                )
        if "manifest.json" in t.members:  # legacy docker save: configs named by their digest
            _, legacy = t.json("manifest.json")
            for entry in legacy:
                config = str(entry.get("Config", ""))
                hexd = config.rsplit("/", 1)[-1].removesuffix(".json")
                data, _ = t.json(config)
                if hashlib.sha256(data).hexdigest() != hexd:
                    raise _fail(path, f"config {config} does not hash to its name: the archive was altered")
                for layer in entry.get("Layers", []):
                    if str(layer).lstrip("./") not in t.members:
                        raise _fail(path, f"layer {layer} is missing")
                names = tuple(str(n) for n in entry.get("RepoTags") or ())
                twin = next((i for i in images if f"sha256:{hexd}" in i.proven), None)
                if twin is None:  # already listed through index.json (Docker 25+ writes both)
                    images.append(ArchivedImage(names, "", frozenset({f"sha256:{hexd}"})))
        if not images:
            raise _fail(path, "holds no image (neither index.json nor manifest.json lists one)")
        return tuple(images)
    finally:
        t.tar.close()


def image_for(ref: str, images: tuple[ArchivedImage, ...], path: Path) -> ArchivedImage:
    """The archived image named `ref` (by full name, or by tag alone where the archive gives only that);
    an archive of one unnamed image is taken as that image."""
    want = normalise(ref)
    tag = want.rsplit(":", 1)[-1]
    for i in images:
        if any(normalise(n) == want for n in i.names if n != tag) or (
            len(i.names) == 1 and i.names[0] == tag and len(images) == 1
        ):
            return i
    if len(images) == 1 and not images[0].names:
        return images[0]
    held = ", ".join(n for i in images for n in i.names) or "unnamed images"
    raise CheckFailed(
        str(path),
        f"holds {held}, not {ref}",
        f"save {ref} into {path.name} (the file name says which image it must hold)",
    )
