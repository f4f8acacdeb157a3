"""The pack manifest: every file with size, SHA-256, role and origin; canonical bytes; Ed25519."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from garrison.errors import InputError

MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.sig"
STATE_NAME = ".garrison-pack-state.json"
FORMAT = "garrison-airgap/1"

Role = Literal["model", "image", "wheel", "bundle", "doc"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileEntry(_Frozen):
    """One logical file of the pack (reassembled from its pieces on install)."""

    path: str  # logical path, POSIX, relative: models/<name>/..., images/..., wheelhouse/..., bundle/...
    size: int
    sha256: str
    role: Role
    origin: dict[str, str] = {}


class Piece(_Frozen):
    """A stored byte range of one logical file; a file is one piece unless split across volumes."""

    stored: str  # path relative to the pack root, as it is on disk
    file: str  # FileEntry.path
    offset: int
    size: int
    sha256: str
    volume: int = 0  # 0 when the pack is not split


class ModelEntry(_Frozen):
    """A packed model and where it came from."""

    name: str
    path: str  # logical path of its folder or .gguf file
    kind: Literal["hf-folder", "hf-cache", "gguf", "hub"]
    origin: dict[str, str]


class ImageEntry(_Frozen):
    """A container image the platform needs; `archive` is set when it was saved into the pack."""

    ref: str
    digest: str = ""  # sha256:... when known
    archive: str = ""  # logical path of the saved tar
    saved_with: str = ""  # docker | podman | skopeo | archive-dir
    note: str = ""


class Manifest(_Frozen):
    """What a pack holds; its canonical bytes are what the Ed25519 signature covers."""

    format: Literal["garrison-airgap/1"] = "garrison-airgap/1"
    garrison_version: str
    name: str
    complete: bool
    incomplete_reasons: tuple[str, ...] = ()
    volume_size: int | None = None
    volumes: int = 0
    files: tuple[FileEntry, ...]
    pieces: tuple[Piece, ...]
    models: tuple[ModelEntry, ...] = ()
    images: tuple[ImageEntry, ...] = ()
    wheelhouse_requirement: str = ""  # what `pip install --no-index` installs, e.g. garrison==0.1.0
    bundle: bool = False
    offline_findings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def canonical_bytes(self) -> bytes:
        """Sorted-key compact UTF-8 JSON: the exact bytes that are signed."""
        return canonical_json(self.model_dump(mode="json"))


def canonical_json(obj: object) -> bytes:
    """Deterministic JSON bytes (sorted keys, no whitespace)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def manifest_text(m: Manifest) -> bytes:
    """The human-readable manifest.json (sorted keys, indented; no timestamps)."""
    return (
        json.dumps(m.model_dump(mode="json"), sort_keys=True, indent=1, ensure_ascii=False) + "\n"
    ).encode()


def load_manifest(pack_dir: Path) -> Manifest:
    """Parse `pack_dir/manifest.json`; InputError when absent or not a Garrison manifest."""
    path = pack_dir / MANIFEST_NAME
    if not path.is_file():
        raise InputError(
            str(path), "no manifest.json here", "give the folder `garrison airgap pack --out` wrote"
        )
    try:
        return Manifest.model_validate_json(path.read_bytes())
    except (ValidationError, ValueError) as e:
        first = str(e).splitlines()[0]
        raise InputError(
            str(path), f"not a valid Garrison air-gap manifest ({first})", "re-copy it from the pack"
        ) from e


# --- Ed25519 -------------------------------------------------------------------------------------


def generate_keypair(prefix: Path, force: bool = False) -> tuple[Path, Path]:
    """Write `prefix.key` (PKCS#8 PEM, mode 600) and `prefix.pub` (SubjectPublicKeyInfo PEM)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key_path, pub_path = prefix.with_name(prefix.name + ".key"), prefix.with_name(prefix.name + ".pub")
    for p in (key_path, pub_path):
        if p.exists() and not force:
            raise InputError(str(p), "already exists", "pick another --out or pass --force")
    key = Ed25519PrivateKey.generate()
    priv = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    pub = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    prefix.parent.mkdir(parents=True, exist_ok=True)
    tmp = key_path.with_name(key_path.name + ".partial")
    tmp.touch(mode=0o600)
    tmp.write_bytes(priv)
    tmp.replace(key_path)
    pub_path.write_bytes(pub)
    return key_path, pub_path


def sign_bytes(data: bytes, key_file: Path) -> bytes:
    """The manifest.sig content: JSON with the algorithm, public key and signature (base64)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as e:
        raise InputError(
            str(key_file),
            f"cannot read an Ed25519 private key ({e})",
            "make one with `garrison airgap keygen --out NAME`",
        ) from e
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(
            str(key_file), "not an Ed25519 key", "make one with `garrison airgap keygen --out NAME`"
        )
    pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    sig = key.sign(data)
    body = {
        "algorithm": "ed25519",
        "public_key": base64.b64encode(pub).decode(),
        "signature": base64.b64encode(sig).decode(),
    }
    return (json.dumps(body, sort_keys=True, indent=1) + "\n").encode()


def check_signature(data: bytes, sig_file: Path, trust_file: Path) -> str:
    """'valid', 'absent', 'invalid' or 'untrusted-key' for `data` against a trusted public key PEM."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        trusted = serialization.load_pem_public_key(trust_file.read_bytes())
    except (OSError, ValueError) as e:
        raise InputError(
            str(trust_file),
            f"cannot read the trusted public key ({e})",
            "pass the .pub file made by `garrison airgap keygen`",
        ) from e
    if not isinstance(trusted, Ed25519PublicKey):
        raise InputError(
            str(trust_file), "not an Ed25519 public key", "pass the .pub from `garrison airgap keygen`"
        )
    if not sig_file.is_file():
        return "absent"
    try:
        body = json.loads(sig_file.read_bytes())
        sig = base64.b64decode(body["signature"], validate=True)
    except (ValueError, KeyError, TypeError):
        return "invalid"
    try:
        trusted.verify(sig, data)
    except InvalidSignature:
        signer = str(body.get("public_key", ""))
        mine = base64.b64encode(
            trusted.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        ).decode()
        return "untrusted-key" if signer and signer != mine else "invalid"
    return "valid"
