"""`apt_ensure` in scripts/lib.sh, run by real bash against stand-ins for the Debian tools.

The stand-ins (`dpkg-query`, `apt-cache`, `apt-get`, `id`) are shell scripts on PATH: the point is
the shell logic around them. `apt-cache` writes far more than a pipe buffer after the Candidate
line, which is what made `apt-cache policy | grep -q` fail under `set -o pipefail` (SIGPIPE, 141)
and install nothing on a fresh machine.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FAKES = {
    # every package is "not installed"
    "dpkg-query": "#!/bin/sh\nexit 1\n",
    # a candidate for every package except those named in $NO_CANDIDATE; then 200 KiB of version table
    "apt-cache": """#!/bin/bash
pkg=$2
echo "$pkg:"
echo "  Installed: (none)"
case " $NO_CANDIDATE " in
  *" $pkg "*) echo "  Candidate: (none)" ;;
  *) echo "  Candidate: 1.0-1" ;;
esac
echo "  Version table:"
for i in $(seq 1 4000); do echo "     1.0-$i 500 http://deb.debian.org/debian bookworm/main amd64 Packages"; done
""",
    "apt-get": '#!/bin/sh\necho "apt-get $*" >> "$APT_LOG"\n',
    "id": "#!/bin/sh\necho 0\n",
}


@pytest.fixture()
def fake_bin(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in FAKES.items():
        f = bin_dir / name
        f.write_text(body)
        f.chmod(f.stat().st_mode | stat.S_IXUSR)
    return bin_dir


def run_apt_ensure(
    fake_bin: Path, tmp_path: Path, *packages: str, ci: bool, no_candidate: str = ""
) -> tuple[subprocess.CompletedProcess[str], str]:
    log = tmp_path / "apt.log"
    log.write_text("")
    env = {
        "PATH": f"{fake_bin}:{os.environ['PATH']}",
        "APT_LOG": str(log),
        "NO_CANDIDATE": no_candidate,
        "CI": "true" if ci else "",
        "HOME": str(tmp_path),
    }
    script = f'set -euo pipefail; source "{ROOT}/scripts/lib.sh"; apt_ensure {" ".join(packages)}'
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=120)
    return r, log.read_text()


def test_the_old_pipeline_is_really_fooled_by_sigpipe(fake_bin: Path) -> None:
    """The premise: `apt-cache policy | grep -q` under pipefail is false although the line is there."""
    env = {**os.environ, "PATH": f"{fake_bin}:{os.environ['PATH']}", "NO_CANDIDATE": ""}
    r = subprocess.run(
        ["bash", "-c", "set -o pipefail; apt-cache policy nginx | grep -q 'Candidate: [^(]'; echo $?"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert r.stdout.strip() == "141"


def test_installs_every_package_that_has_a_candidate(fake_bin: Path, tmp_path: Path) -> None:
    r, log = run_apt_ensure(fake_bin, tmp_path, "nginx", "yamllint", "shellcheck", ci=True)
    assert r.returncode == 0, r.stderr
    installs = [line for line in log.splitlines() if " install " in line]
    assert len(installs) == 1
    assert installs[0].split()[-3:] == ["nginx", "yamllint", "shellcheck"]
    assert "WARNING" not in r.stderr


def test_a_package_without_candidate_fails_the_step_under_ci(fake_bin: Path, tmp_path: Path) -> None:
    r, log = run_apt_ensure(fake_bin, tmp_path, "nginx", "chromium", ci=True, no_candidate="chromium")
    assert r.returncode == 1
    assert "no installation candidate for chromium" in r.stderr
    assert "install -y" in log and "nginx" in log  # what can be installed still is


def test_a_package_without_candidate_is_a_warning_locally(fake_bin: Path, tmp_path: Path) -> None:
    r, _ = run_apt_ensure(fake_bin, tmp_path, "nginx", "chromium", ci=False, no_candidate="chromium")
    assert r.returncode == 0, r.stderr
    assert "WARNING: no installation candidate for chromium" in r.stderr
    assert "apt-get install -y --no-install-recommends chromium" in r.stderr
