"""verify catches every kind of tampering, by name; install refuses a tampered pack."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from garrison.airgap import generate_keypair, install, pack, verify
from garrison.airgap.manifest import MANIFEST_NAME, SIGNATURE_NAME, sign_bytes
from garrison.errors import CheckFailed

from .conftest import requirements_yaml, run_cli


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return generate_keypair(tmp_path / "keys" / "site")


@pytest.fixture(params=[None, "1M"], ids=["whole-files", "volumes"])
def signed_pack(
    request: pytest.FixtureRequest, tmp_path: Path, hf_folder: Path, keys: tuple[Path, Path]
) -> Path:
    (hf_folder / "model-00002.safetensors").write_bytes(bytes(range(256)) * 9000)  # 2.2 MiB: split in volumes
    req = requirements_yaml(tmp_path / "src" / "req.yaml", ["./models/tiny-llama"])
    out = tmp_path / "pack"
    pack(req, out, volume_size=request.param, sign_key=keys[0], wheelhouse=False)
    assert verify(out, keys[1]).ok
    return out


def _stored(pack_dir: Path) -> list[str]:
    return sorted(p["stored"] for p in json.loads((pack_dir / MANIFEST_NAME).read_text())["pieces"])


def _flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def test_every_flipped_byte_in_every_file_is_caught(signed_pack: Path, keys: tuple[Path, Path]) -> None:
    stored = _stored(signed_pack)
    checked = 0
    for rel in stored:
        p = signed_pack / rel
        size = p.stat().st_size
        for at in sorted({0, size // 2, size - 1}):
            if size == 0:
                continue
            original = p.read_bytes()
            _flip(p, at)
            rep = verify(signed_pack, keys[1])
            assert not rep.ok and rep.altered == (rel,), (rel, at, rep)
            p.write_bytes(original)
            checked += 1
    assert checked >= 3 * (len(stored) - 1)
    assert verify(signed_pack, keys[1]).ok


Tamper = Callable[[Path], None]


def _truncate(pack_dir: Path) -> None:
    rel = max(_stored(pack_dir), key=lambda r: (pack_dir / r).stat().st_size)
    p = pack_dir / rel
    with p.open("r+b") as f:
        f.truncate(p.stat().st_size - 1)


def _remove(pack_dir: Path) -> None:
    (pack_dir / _stored(pack_dir)[0]).unlink()


def _add(pack_dir: Path) -> None:
    (pack_dir / _stored(pack_dir)[0]).with_name("evil.py").write_text("import os\n")


def _add_root(pack_dir: Path) -> None:
    (pack_dir / "run-me.sh").write_text("#!/bin/sh\n")


def _edit_manifest_hash(pack_dir: Path) -> None:
    m = json.loads((pack_dir / MANIFEST_NAME).read_text())
    m["pieces"][0]["sha256"] = "0" * 64
    (pack_dir / MANIFEST_NAME).write_text(json.dumps(m))


def _swap_file_and_manifest(pack_dir: Path) -> None:
    """An attacker replaces a file and rewrites the manifest to match: only the signature can tell."""
    import hashlib

    m = json.loads((pack_dir / MANIFEST_NAME).read_text())
    piece = next(p for p in m["pieces"] if p["stored"].endswith("config.json"))
    evil = b'{"architectures": ["Evil"]}'
    (pack_dir / piece["stored"]).write_bytes(evil)
    piece["sha256"] = hashlib.sha256(evil).hexdigest()
    piece["size"] = len(evil)
    for f in m["files"]:
        if f["path"] == piece["file"]:
            f["sha256"], f["size"] = piece["sha256"], len(evil)
    (pack_dir / MANIFEST_NAME).write_text(json.dumps(m))


def _symlink(pack_dir: Path) -> None:
    rel = _stored(pack_dir)[0]
    copy = pack_dir.parent / "elsewhere"
    shutil.copy2(pack_dir / rel, copy)
    (pack_dir / rel).unlink()
    (pack_dir / rel).symlink_to(copy)


CASES: dict[str, tuple[Tamper, str]] = {
    "truncated file": (_truncate, "truncated"),
    "removed file": (_remove, "missing"),
    "added file": (_add, "extra"),
    "added file at the root": (_add_root, "extra"),
    "changed manifest hash": (_edit_manifest_hash, "altered"),
    "file and manifest swapped together": (_swap_file_and_manifest, "signature"),
    "file replaced by a symlink": (_symlink, "altered"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_tampering_is_caught_by_name(
    case: str, signed_pack: Path, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    tamper, field = CASES[case]
    before = set(_stored(signed_pack))
    tamper(signed_pack)
    rep = verify(signed_pack, keys[1])
    assert not rep.ok
    if field == "signature":
        assert rep.signature == "invalid"
        assert not (rep.missing or rep.altered or rep.truncated or rep.extra), (
            "consistent edit: only sig can tell"
        )
    else:
        named = getattr(rep, field)
        assert len(named) == 1
        assert named[0] in before or field == "extra"
    r = run_cli("airgap", "verify", str(signed_pack), "--trust", str(keys[1]), "--json")
    assert r.returncode == 1, r.stdout + r.stderr
    out = json.loads(r.stdout)
    assert out["ok"] is False
    with pytest.raises(CheckFailed, match="verify failed"):
        install(signed_pack, tmp_path / "models", venv=tmp_path / "venv", trust=keys[1])
    assert not (tmp_path / "models" / "tiny-llama").exists()


def test_signature_from_another_key_is_untrusted(signed_pack: Path, tmp_path: Path) -> None:
    _, other_pub = generate_keypair(tmp_path / "other")
    rep = verify(signed_pack, other_pub)
    assert not rep.ok and rep.signature == "untrusted-key"


def test_forged_signature_is_invalid(signed_pack: Path, keys: tuple[Path, Path], tmp_path: Path) -> None:
    other_key, _ = generate_keypair(tmp_path / "other")
    forged = json.loads(sign_bytes(b"something else", other_key))
    real = json.loads((signed_pack / SIGNATURE_NAME).read_text())
    forged["public_key"] = real["public_key"]  # claims the trusted key, signature made by another
    (signed_pack / SIGNATURE_NAME).write_text(json.dumps(forged))
    assert verify(signed_pack, keys[1]).signature == "invalid"
    (signed_pack / SIGNATURE_NAME).write_text("not json")
    assert verify(signed_pack, keys[1]).signature == "invalid"


def test_removed_signature_fails_when_a_key_is_trusted(signed_pack: Path, keys: tuple[Path, Path]) -> None:
    (signed_pack / SIGNATURE_NAME).unlink()
    rep = verify(signed_pack, keys[1])
    assert not rep.ok and rep.signature == "absent"
    assert verify(signed_pack).ok, "without --trust the signature is optional"


def test_unreadable_manifest_is_a_failed_check(signed_pack: Path) -> None:
    (signed_pack / MANIFEST_NAME).write_text("{ not json")
    rep = verify(signed_pack)
    assert not rep.ok and rep.problems
    r = run_cli("airgap", "verify", str(signed_pack))
    assert r.returncode == 1 and "Traceback" not in r.stderr


def test_path_escaping_the_pack_is_rejected(signed_pack: Path, tmp_path: Path) -> None:
    m = json.loads((signed_pack / MANIFEST_NAME).read_text())
    m["pieces"][0]["stored"] = "../outside"
    m["files"][0]["path"] = "models/../../outside"
    (signed_pack / MANIFEST_NAME).write_text(json.dumps(m))
    rep = verify(signed_pack)
    assert not rep.ok
    assert any("unsafe" in p for p in rep.problems)
    with pytest.raises(CheckFailed):
        install(signed_pack, tmp_path / "models", venv=tmp_path / "venv")


def test_clean_pack_exit_0_and_json_shape(signed_pack: Path, keys: tuple[Path, Path]) -> None:
    r = run_cli("airgap", "verify", str(signed_pack), "--trust", str(keys[1]), "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout)
    assert out["ok"] is True
    assert out["missing"] == out["extra"] == out["altered"] == out["truncated"] == []
    assert out["signature"] == "valid"
