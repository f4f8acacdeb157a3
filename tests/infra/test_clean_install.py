"""Garrison as a user installs it: the wheel in a fresh venv with no extras, not the test venv.

Two venvs, cached outside the checkout by a hash of pyproject.toml and the Python version (like the
llama-server build): `newest` takes whatever pip resolves today, `oldest` pins typer to the lowest
version pyproject.toml allows. Each run rebuilds only the wheel and reinstalls it without deps.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
pytestmark = pytest.mark.slow


def _cache_root() -> Path:
    base = os.environ.get("GARRISON_CACHE") or str(Path.home() / ".cache" / "garrison")
    return Path(base) / "clean-venv"


def _typer_floor() -> str:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    m = re.search(r'"typer>=([0-9.]+)', text)
    assert m, "pyproject.toml must give typer a lower bound"
    return m.group(1)


VARIANTS = {"newest": [], "oldest": [f"typer=={_typer_floor()}"]}


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # a copy without build leftovers, so the wheel holds exactly what a clean checkout holds
    src = out / "src-tree"
    shutil.copytree(
        ROOT,
        src,
        ignore=shutil.ignore_patterns(
            ".venv", ".git", "build", "*.egg-info", "__pycache__", "out", ".*_cache"
        ),
    )
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    (whl,) = out.glob("garrison-*.whl")
    return whl


def _venv(variant: str, wheel: Path) -> Path:
    pins = VARIANTS[variant]
    key = hashlib.sha256(
        (ROOT / "pyproject.toml").read_bytes() + sys.version.encode() + " ".join(pins).encode()
    ).hexdigest()[:16]
    root = _cache_root()
    root.mkdir(parents=True, exist_ok=True)
    venv = root / f"{variant}-{key}"
    py = venv / "bin" / "python"
    with open(root / f".{variant}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder per cache; others wait and reuse
        if not (venv / ".ready").exists():
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
            r = subprocess.run(
                [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel), *pins],
                capture_output=True,
                text=True,
                timeout=900,
            )
            assert r.returncode == 0, r.stderr[-3000:]
            (venv / ".ready").write_text(" ".join(pins))
        r = subprocess.run(
            [str(py), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(wheel)],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert r.returncode == 0, r.stderr[-3000:]
    return venv


@pytest.fixture(scope="session", params=list(VARIANTS))
def venv(request: pytest.FixtureRequest, wheel: Path) -> Iterator[Path]:
    yield _venv(str(request.param), wheel)


@pytest.fixture(scope="session")
def newest_venv(wheel: Path) -> Path:
    """For the slower checks, which need not run on both typer versions."""
    return _venv("newest", wheel)


def run(venv: Path, *args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(home),
        "GARRISON_HOME": str(home / "garrison"),
        "COLUMNS": "100",
        "LANG": "C.UTF-8",
    }
    return subprocess.run(
        [str(venv / "bin" / "garrison"), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=home,
        timeout=300,
    )


def no_traceback(r: subprocess.CompletedProcess[str]) -> None:
    both = r.stdout + r.stderr
    assert "Traceback" not in both, both[-3000:]
    assert "internal error" not in both, both[-3000:]


def test_the_venv_has_no_test_extras(venv: Path) -> None:
    r = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import importlib.util as u, json; print(json.dumps([m for m in ('pytest', 'click', "
            "'openai', 'mcp', 'kubernetes_validate', 'tokenizers', 'hypothesis') if u.find_spec(m)]))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    found = json.loads(r.stdout)
    # the oldest typer still depends on click; nothing else of the extras may be there
    assert set(found) <= {"click"}, found


def test_help_and_version(venv: Path, tmp_path: Path) -> None:
    r = run(venv, "--help", home=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Usage" in r.stdout and "plan" in r.stdout
    r = run(venv, "--version", home=tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("garrison ")


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        ((), "Usage"),
        (("plan",), "Missing argument"),
        (("estimate", "--bogus"), "No such option"),
        (("bogus",), "No such command"),
        (("airgap", "bogus"), "No such command"),
        (("estimate", "qwen3-8b", "--gpus", "many"), "Invalid value"),
    ],
)
def test_usage_errors_are_typers_own_exit_2(
    venv: Path, tmp_path: Path, args: tuple[str, ...], expect: str
) -> None:
    r = run(venv, *args, home=tmp_path)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert expect in r.stdout + r.stderr
    no_traceback(r)


def test_bad_requirements_are_one_line_exit_2(venv: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("organisation: x\nuse_cases: 7\n")
    r = run(venv, "plan", str(bad), home=tmp_path)
    assert r.returncode == 2, r.stderr
    no_traceback(r)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("garrison: "), r.stderr


def test_an_optional_part_names_its_extra(venv: Path, tmp_path: Path) -> None:
    r = run(venv, "mcp", home=tmp_path)
    assert r.returncode == 2
    assert "garrison[mcp]" in r.stderr
    no_traceback(r)


def test_every_module_imports_without_extras(newest_venv: Path) -> None:
    code = (
        "import importlib, pkgutil, garrison\n"
        "bad = []\n"
        "for m in pkgutil.walk_packages(garrison.__path__, 'garrison.'):\n"
        "    if m.name == 'garrison.__main__':\n"
        "        continue  # runs the CLI\n"
        "    try:\n"
        "        importlib.import_module(m.name)\n"
        "    except Exception as e:\n"
        "        bad.append(f'{m.name}: {type(e).__name__}: {e}')\n"
        "print('\\n'.join(bad))\n"
    )
    r = subprocess.run(
        [str(newest_venv / "bin" / "python"), "-c", code], capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip() == "", r.stdout


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_examples_plan_in_the_clean_venv(newest_venv: Path, tmp_path: Path, example: Path) -> None:
    r = run(newest_venv, "plan", str(example), "--json", home=tmp_path)
    assert r.returncode in (0, 3), r.stderr[-3000:]
    no_traceback(r)
    assert r.stdout.lstrip().startswith("{")
