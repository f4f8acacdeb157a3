"""Image archives made by the tests themselves (no Docker daemon here): an OCI image layout tar as
`skopeo copy oci-archive:` writes it, optionally with the legacy manifest.json `docker save` (Docker 25+)
adds beside it. The real `skopeo` reads them back in the tests, so they are archives a runtime accepts.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class MadeArchive:
    """What the test archive holds: the manifest digest (a registry digest) and the config digest (image ID)."""

    path: Path
    manifest_digest: str
    config_digest: str


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _tar_bytes(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def make_image_archive(
    path: Path,
    ref: str | None,
    *,
    docker_save: bool = False,
    payload: bytes = b"hello from a test image\n",
) -> MadeArchive:
    """Write a one-layer linux/amd64 image as an OCI-layout tar (named `ref` in index.json, unnamed
    when None); `docker_save` adds the manifest.json and repositories files `docker save` writes."""
    layer_tar = _tar_bytes({"hello.txt": payload})
    layer = gzip.compress(layer_tar, mtime=0)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/hello"]},
            "rootfs": {"type": "layers", "diff_ids": [_sha(layer_tar)]},
        },
        separators=(",", ":"),
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": _sha(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": _sha(layer),
                    "size": len(layer),
                }
            ],
        },
        separators=(",", ":"),
    ).encode()
    desc: dict[str, object] = {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": _sha(manifest),
        "size": len(manifest),
    }
    if ref is not None:
        desc["annotations"] = {"org.opencontainers.image.ref.name": ref}
    files = {
        "oci-layout": b'{"imageLayoutVersion":"1.0.0"}',
        "index.json": json.dumps({"schemaVersion": 2, "manifests": [desc]}).encode(),
        **{f"blobs/sha256/{_sha(b)[7:]}": b for b in (layer, config, manifest)},
    }
    if docker_save:
        legacy = [
            {
                "Config": f"blobs/sha256/{_sha(config)[7:]}",
                "RepoTags": [ref] if ref else [],
                "Layers": [f"blobs/sha256/{_sha(layer)[7:]}"],
            }
        ]
        files["manifest.json"] = json.dumps(legacy).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_tar_bytes(files))
    return MadeArchive(path, _sha(manifest), _sha(config))


def write_digest_file(archive: Path, image_id: str, repo_digests: list[str]) -> None:
    """The `.digest` file images/SAVE-IMAGES.sh writes beside an archive (docker image inspect)."""
    archive.with_name(archive.name + ".digest").write_text(
        json.dumps({"id": image_id, "repo_digests": repo_digests}) + "\n"
    )
