"""checkov over the rendered k8s and the whole bundle (secrets): every failed check is listed with its
reason in security/accepted-checks.md, and every listed check really fails (no stale entries)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from garrison.render import render_bundle, write_bundle
from garrison.testing.ci import skip_or_fail

pytestmark = pytest.mark.slow


def _checkov() -> str:
    found = shutil.which("checkov") or str(Path(sys.executable).parent / "checkov")
    if not Path(found).exists():
        skip_or_fail("checkov not installed (pip install checkov)")
    return found


def _run(root: Path, *args: str) -> list[dict[str, Any]]:
    # --skip-download: no calls to the vendor's API; the scan itself is local
    r = subprocess.run(
        [_checkov(), *args, "--skip-download", "--quiet", "--compact", "-o", "json"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode in (0, 1), r.stderr[-2000:]
    data = json.loads(r.stdout)
    reports = data if isinstance(data, list) else [data]
    return [c for rep in reports if "results" in rep for c in rep["results"]["failed_checks"]]


def _accepted(root: Path) -> dict[str, str]:
    text = (root / "security" / "accepted-checks.md").read_text()
    rows = re.findall(r"^\| (CKV[\w, ]+?) \| [^|]+ \| ([^|]+) \|$", text, re.M)
    out: dict[str, str] = {}
    for ids, reason in rows:
        for cid in ids.split(", "):
            out[cid] = reason.strip()
    return out


GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("case", sorted(p.name for p in GOLDEN.iterdir()) if GOLDEN.is_dir() else [])
def test_checkov_failures_are_exactly_the_accepted_ones(case: str, tmp_path: Path) -> None:
    root = GOLDEN / case  # every hand-built design and every example
    failed = _run(root, "-d", "k8s", "--framework", "kubernetes")
    accepted = _accepted(root)
    assert accepted and all(len(r) > 30 for r in accepted.values())
    failed_ids = {c["check_id"] for c in failed}
    unexplained = sorted(
        {f"{c['check_id']} {c['resource']}" for c in failed if c["check_id"] not in accepted}
    )
    assert not unexplained, unexplained
    assert failed_ids == set(accepted), f"stale accepted entries: {set(accepted) - failed_ids}"


def test_no_secrets_in_the_bundle(tmp_path: Path) -> None:
    from bundle.designs import gpu_vllm_design

    root = write_bundle(render_bundle(gpu_vllm_design()), tmp_path / "b")
    assert _run(root, "-d", ".", "--framework", "secrets") == []
    # the scan can fail: a planted AWS key pair is found
    (root / "compose" / "leak.yaml").write_text(
        "aws_secret_access_key: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
        "aws_access_key_id: AKIAIOSFODNN7EXAMPLE\n"
    )
    assert _run(root, "-d", ".", "--framework", "secrets")
