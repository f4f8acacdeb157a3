"""A wheelhouse of Garrison and its dependencies, so the isolated side installs with `pip --no-index`."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import garrison
from garrison.errors import CheckFailed, InputError


def cache_root() -> Path:
    """Where downloads are cached between packs: $GARRISON_CACHE (as for llama-server), else
    $XDG_CACHE_HOME/garrison, else ~/.cache/garrison."""
    if os.environ.get("GARRISON_CACHE"):
        return Path(os.environ["GARRISON_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "garrison"


def project_root() -> Path | None:
    """The source checkout Garrison runs from (src layout), or None when installed from a wheel."""
    root = Path(garrison.__file__).resolve().parent.parent.parent
    return root if (root / "pyproject.toml").is_file() and (root / "src" / "garrison").is_dir() else None


def _pip(args: list[str], what: str) -> None:
    res = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)
    if res.returncode != 0:
        tail = (res.stderr or res.stdout).strip().splitlines()[-3:]
        raise InputError(
            "wheelhouse",
            f"{what} failed: {' | '.join(tail)}",
            "run pack where PyPI (or your mirror) is reachable, or pass --no-wheelhouse",
        )


def build_own_wheel(dest: Path) -> Path:
    """Build Garrison's wheel from the checkout, in a scratch copy (the checkout stays clean)."""
    root = project_root()
    if root is None:
        raise InputError(
            "wheelhouse",
            "Garrison is not running from a source checkout, so its wheel cannot be built",
            "run pack from a checkout, or pass --no-wheelhouse",
        )
    with tempfile.TemporaryDirectory(prefix="garrison-wheel-") as tmp:
        work = Path(tmp) / "src-copy"
        shutil.copytree(
            root / "src", work / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
        )
        shutil.copy2(root / "pyproject.toml", work / "pyproject.toml")
        readme = root / "README.md"
        (work / "README.md").write_bytes(readme.read_bytes() if readme.is_file() else b"# garrison\n")
        out = Path(tmp) / "dist"
        _pip(["wheel", "--no-deps", "-q", "-w", str(out), str(work)], "building Garrison's wheel")
        wheels = sorted(out.glob("garrison-*.whl"))
        if not wheels:
            raise CheckFailed("wheelhouse", "pip built no garrison wheel", "build it by hand: pip wheel .")
        dest.mkdir(parents=True, exist_ok=True)
        target = dest / wheels[0].name
        shutil.copy2(wheels[0], target)
        return target


def build_wheelhouse(python_version: str | None = None, platform: str | None = None) -> list[Path]:
    """Garrison's wheel plus every dependency as a binary wheel for the target (default: this machine).

    Dependencies are cached in `cache_root()/wheelhouse-<hash of pyproject.toml and target>`,
    so only the first pack downloads them; Garrison's own wheel is rebuilt each time."""
    root = project_root()
    own_dir = cache_root() / "own-wheel"
    shutil.rmtree(own_dir, ignore_errors=True)
    own = build_own_wheel(own_dir)
    assert root is not None
    target = f"{python_version or ''}|{platform or ''}"
    key = hashlib.sha256((root / "pyproject.toml").read_bytes() + target.encode()).hexdigest()[:16]
    deps = cache_root() / f"wheelhouse-{key}"
    if not (deps / ".complete").is_file():
        partial = deps.with_name(deps.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        args = ["download", "-q", "--only-binary=:all:", "-d", str(partial)]
        if platform:
            args += ["--platform", platform]
        if python_version:
            args += ["--python-version", python_version]
        _pip([*args, str(own)], "downloading the dependency wheels")
        for w in partial.glob("garrison-*.whl"):
            w.unlink()
        (partial / ".complete").write_text("")
        shutil.rmtree(deps, ignore_errors=True)
        partial.rename(deps)
    return [own, *sorted(p for p in deps.glob("*.whl"))]


def install_wheelhouse(wheel_dir: Path, venv: Path, requirement: str) -> None:
    """Create `venv` (if needed) and install `requirement` from `wheel_dir` with no index at all.

    `--isolated` ignores pip's config files and environment, so no mirror or find-links configured
    on the machine can mask a missing wheel."""
    py = venv / "bin" / "python"
    # The target venv must see only itself: a PYTHONPATH inherited from the caller (e.g. a source
    # checkout with an editable install's garrison.egg-info) would make pip think it is installed.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PIP_TARGET")}
    if not py.is_file():
        res = subprocess.run(
            [sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True, env=env
        )
        if res.returncode != 0:
            raise CheckFailed(
                str(venv),
                f"cannot create a virtual environment ({res.stderr.strip()[-200:]})",
                "install python3-venv, or pass another --venv",
            )
    res = subprocess.run(
        [
            str(py),
            "-m",
            "pip",
            "--isolated",
            "install",
            "-q",
            "--no-index",
            "--find-links",
            str(wheel_dir),
            requirement,
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    if res.returncode != 0:
        tail = " | ".join((res.stderr or res.stdout).strip().splitlines()[-3:])
        raise CheckFailed(
            "wheelhouse",
            f"offline install of {requirement} failed: {tail}",
            "the pack's wheelhouse lacks a wheel for this platform; pack with --python-version/--platform",
        )
