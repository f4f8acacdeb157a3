"""Gateway API keys: generate, add, rotate and revoke entries of the nginx `api_keys.map` file.

The file holds digests, not keys. A key is `sk-garrison-` + an 8-hex-digit public handle + a
43-character secret (256 random bits, URL-safe base64). Each line is
`<handle> "<key id> <digest>";` where digest = base64url(MD5(secret)), unpadded: the one digest
stock nginx can compute on a request (`secure_link_md5`; the gateway compares it with the stored
one). MD5's weakness is collisions; what protects a stored digest is preimage resistance, and
against a 256-bit random secret that is far beyond reach (the same reasoning that lets services
store API tokens under an unsalted fast hash). The file is still kept 0600 outside the bundle and
written atomically (temp file beside it, fsync, then rename), so nginx never reads half a file.

Every change is a read-modify-write under an exclusive `flock` on a lock file beside the map
(`.<name>.lock`): the map itself cannot carry the lock because each write replaces its inode.
Concurrent `garrison keys` runs (threads or processes) therefore serialise, and no added key is
lost and no revoked key comes back.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import re
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from garrison.errors import InputError

KEY_PREFIX = "sk-garrison-"
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
_KEY = re.compile(r"^sk-garrison-(?P<handle>[0-9a-f]{8})(?P<secret>[A-Za-z0-9_-]{43})$")
_LINE = re.compile(
    r'^(?P<handle>[0-9a-f]{8})\s+"(?P<id>[a-z0-9][a-z0-9._-]*) (?P<digest>[A-Za-z0-9_-]{22})";\s*$'
)
DEFAULT_FILE = Path("/etc/garrison/api_keys.map")
# nginxinc/nginx-unprivileged runs as uid 101, gid 101 (nginx); the gateway reads the key map and
# the TLS key as that group, so they are root-owned, group 101, mode 0640 (GARRISON_GATEWAY_GID).
GATEWAY_GID = 101
ENGINE_KEY_PREFIX = "sk-engine-"


@dataclass(frozen=True)
class StoredKey:
    """What the map file keeps of one key: its public handle and the digest of its secret."""

    handle: str
    digest: str


def generate_key() -> str:
    """A new key: prefix + 8 hex digits of handle + 256 random bits, URL-safe base64 (43 chars)."""
    return KEY_PREFIX + secrets.token_hex(4) + secrets.token_urlsafe(32)


def stored_form(key: str) -> StoredKey:
    """The handle and digest of `key`, as the gateway's map file keeps them."""
    m = _KEY.match(key)
    if not m:
        raise ValueError("not a garrison key: sk-garrison- + 8 hex digits + 43 URL-safe base64 characters")
    raw = hashlib.md5(m.group("secret").encode("ascii"), usedforsecurity=False).digest()
    return StoredKey(m.group("handle"), base64.urlsafe_b64encode(raw).decode("ascii").rstrip("="))


def map_lines(entries: dict[str, StoredKey]) -> str:
    """`api_keys.map` text for `key id -> stored key` entries."""
    text = "# garrison API key digests for the nginx gateway (handle -> key id + MD5 of the secret). Keep 0600.\n"
    return text + "".join(f'{k.handle} "{kid} {k.digest}";\n' for kid, k in sorted(entries.items()))


def read_keys(path: Path) -> dict[str, StoredKey]:
    """`key id -> stored key` from a map file (empty when it does not exist)."""
    if not path.exists():
        return {}
    if not path.is_file():
        raise InputError(str(path), "is not a regular file", "give the path of the api_keys.map file")
    out: dict[str, StoredKey] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _LINE.match(line.strip())
        if not m:
            hint = (
                "this is a plaintext key line from garrison < 0.2: issue the key again with "
                "`garrison keys --name ID` into a new file"
                if line.lstrip().startswith('"Bearer ')
                else "fix or remove the line; garrison keys writes only such lines"
            )
            raise InputError(f"{path}:{n}", 'not a `<handle> "<id> <digest>";` line', hint)
        out[m.group("id")] = StoredKey(m.group("handle"), m.group("digest"))
    return out


def _write(path: Path, keys: dict[str, StoredKey], gid: int | None = None) -> None:
    write_secret(path, map_lines(keys), gid)


def write_secret(path: Path, text: str, gid: int | None = None) -> None:
    """Write `text` atomically: mode 0640 owned by group `gid` (the gateway container's group, so
    nginx-unprivileged can read it without privileges), or 0600 when `gid` is None or this user
    may not give the file to that group (`garrison keys` then says so)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        if gid is not None:
            try:
                os.fchown(fd, -1, gid)
                os.fchmod(fd, 0o640)
            except PermissionError:
                pass
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def gateway_can_read(path: Path, gid: int) -> bool:
    """Whether the gateway (group `gid`) can read `path`: group `gid` with group read, or world read."""
    st = path.stat()
    return bool(st.st_mode & 0o004) or (st.st_gid == gid and bool(st.st_mode & 0o040))


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable: a crash after `keys` exits must not bring the old map back."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def lock_path(path: Path) -> Path:
    """The lock file that serialises changes to the map at `path`."""
    return path.parent / f".{path.name}.lock"


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the exclusive lock for the map at `path` (creating its folder and lock file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path(path), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released when fd is closed, also if the process dies
        yield
    finally:
        os.close(fd)


def _check_place(path: Path) -> None:
    for parent in [path.parent, *path.parent.parents]:
        if (parent / "design.json").is_file() and (parent / "gateway").is_dir():
            raise InputError(
                "--file",
                f"{path} is inside the bundle {parent}",
                "keep keys outside the bundle, e.g. /etc/garrison/api_keys.map",
            )


def add_key(path: Path, key_id: str, rotate: bool = False, gid: int | None = GATEWAY_GID) -> str:
    """Add (or with `rotate`, replace) the key for `key_id`; returns the new key."""
    if not _ID.match(key_id):
        raise InputError(
            "--name",
            f"{key_id!r} is not a key id",
            "use lower-case letters, digits, '.', '_' or '-' (at most 63)",
        )
    path = Path(path)
    _check_place(path)
    with locked(path):
        keys = read_keys(path)
        if key_id in keys and not rotate:
            raise InputError("--name", f"{key_id!r} already has a key", "pass --rotate to replace it")
        if key_id not in keys and rotate:
            raise InputError("--name", f"{key_id!r} has no key to rotate", "drop --rotate to add it")
        taken = {k.handle for kid, k in keys.items() if kid != key_id}
        key = generate_key()
        while stored_form(key).handle in taken:  # handles are the map's keys: never two alike
            key = generate_key()
        keys[key_id] = stored_form(key)
        _write(path, keys, gid)
    return key


def revoke_key(path: Path, key_id: str, gid: int | None = GATEWAY_GID) -> None:
    """Remove the key of `key_id`."""
    path = Path(path)
    if not path.exists():
        raise InputError("--revoke", f"{key_id!r} has no key in {path}", "the map file does not exist")
    with locked(path):
        keys = read_keys(path)
        if key_id not in keys:
            raise InputError("--revoke", f"{key_id!r} has no key in {path}")
        del keys[key_id]
        _write(path, keys, gid)


ENGINE_AUTH = "engine_auth.conf"
ENGINE_KEY = "engine.key"
ENGINE_ENV_VAR = "GARRISON_ENGINE_API_KEY"


def engine_auth_conf(key: str) -> str:
    """The nginx include that makes the gateway present `key` to every engine (`$engine_authorization`)."""
    if not re.fullmatch(r"sk-engine-[A-Za-z0-9_-]{43}", key):
        raise ValueError("not an engine key")
    return (
        "# garrison: the key the gateway presents to every engine (the engines' --api-key). Keep 0640 root:101.\n"
        "map $host $engine_authorization {\n"
        f'    default "Bearer {key}";\n'
        "}\n"
    )


def _set_env_line(path: Path, name: str, value: str) -> str:
    """`path`'s text with `name=value` replacing an existing `name=` line, or appended."""
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    out = [ln for ln in lines if not ln.startswith(f"{name}=")]
    return "\n".join([*out, f"{name}={value}"]) + "\n"


def issue_engine_key(folder: Path, env_file: Path | None, gid: int | None = GATEWAY_GID) -> str:
    """Make the engines' shared key (the second lock behind the gateway) and write it where it is read:

    - `folder/engine_auth.conf`: the gateway's nginx include (0640, group `gid`);
    - `folder/engine.key`: the bare key, for `kubectl create secret` (0600);
    - `env_file` (compose): its `GARRISON_ENGINE_API_KEY=` line, which the engines read (0600).
    A new key replaces the old one: reload the gateway and restart the engines together.
    """
    folder = Path(folder)
    _check_place(folder / ENGINE_AUTH)
    if env_file is not None:
        _check_place(Path(env_file))
    key = ENGINE_KEY_PREFIX + secrets.token_urlsafe(32)
    with locked(folder / ENGINE_AUTH):
        write_secret(folder / ENGINE_KEY, key + "\n")
        write_secret(folder / ENGINE_AUTH, engine_auth_conf(key), gid)
        if env_file is not None:
            env_file = Path(env_file)
            env_file.parent.mkdir(parents=True, exist_ok=True)
            write_secret(env_file, _set_env_line(env_file, ENGINE_ENV_VAR, key))
    return key
