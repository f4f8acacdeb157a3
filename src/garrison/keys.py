"""Gateway API keys: generate, add, rotate and revoke entries of the nginx `api_keys.map` file.

Stock nginx can only compare the Authorization header with exact strings, so the file holds
`"Bearer <key>" <key id>;` lines. It is the secret: it lives outside the bundle, mode 0600, and is
written atomically (temp file beside it, then rename), so nginx never reads half a file.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from pathlib import Path

from garrison.errors import InputError

KEY_PREFIX = "sk-garrison-"
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
_LINE = re.compile(r'^"Bearer (?P<key>[A-Za-z0-9_-]+)"\s+(?P<id>[a-z0-9][a-z0-9._-]*);\s*$')
DEFAULT_FILE = Path("/etc/garrison/api_keys.map")


def generate_key() -> str:
    """A new key: prefix + 256 random bits, URL-safe base64."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def read_keys(path: Path) -> dict[str, str]:
    """`key id -> key` from a map file (empty when it does not exist)."""
    if not path.exists():
        return {}
    out: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _LINE.match(line.strip())
        if not m:
            raise InputError(
                f"{path}:{n}",
                'not a `"Bearer <key>" <id>;` line',
                "fix or remove the line; garrison keys writes only such lines",
            )
        out[m.group("id")] = m.group("key")
    return out


def _write(path: Path, keys: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "# garrison API keys for the nginx gateway (map $http_authorization $api_client). Keep 0600.\n"
    text += "".join(f'"Bearer {key}" {kid};\n' for kid, key in sorted(keys.items()))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _check_place(path: Path) -> None:
    for parent in [path.parent, *path.parent.parents]:
        if (parent / "design.json").is_file() and (parent / "gateway").is_dir():
            raise InputError(
                "--file",
                f"{path} is inside the bundle {parent}",
                "keep keys outside the bundle, e.g. /etc/garrison/api_keys.map",
            )


def add_key(path: Path, key_id: str, rotate: bool = False) -> str:
    """Add (or with `rotate`, replace) the key for `key_id`; returns the new key."""
    if not _ID.match(key_id):
        raise InputError(
            "--name",
            f"{key_id!r} is not a key id",
            "use lower-case letters, digits, '.', '_' or '-' (at most 63)",
        )
    path = Path(path)
    _check_place(path)
    keys = read_keys(path)
    if key_id in keys and not rotate:
        raise InputError("--name", f"{key_id!r} already has a key", "pass --rotate to replace it")
    if key_id not in keys and rotate:
        raise InputError("--name", f"{key_id!r} has no key to rotate", "drop --rotate to add it")
    key = generate_key()
    keys[key_id] = key
    _write(path, keys)
    return key


def revoke_key(path: Path, key_id: str) -> None:
    """Remove the key of `key_id`."""
    path = Path(path)
    keys = read_keys(path)
    if key_id not in keys:
        raise InputError("--revoke", f"{key_id!r} has no key in {path}")
    del keys[key_id]
    _write(path, keys)
