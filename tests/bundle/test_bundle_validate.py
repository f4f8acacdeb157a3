"""garrison validate runs the real tools: green on every bundle, red when an artifact is broken."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bundle.designs import DESIGNS, gpu_vllm_design
from garrison.errors import InputError
from garrison.render import render_bundle, write_bundle
from garrison.validate import validate_bundle
from garrison.validate.runner import compose_binary

GOLDEN = Path(__file__).parent / "golden"
pytestmark = pytest.mark.slow


def _problems(root: Path) -> list[str]:
    report = validate_bundle(root)
    bad = [r for r in report.results if r.status in ("failed", "missing")]
    return [f"{r.artifact} [{r.tool}] {r.status}: {r.detail}" for r in bad]


@pytest.mark.parametrize("case", sorted(p.name for p in GOLDEN.iterdir()) if GOLDEN.is_dir() else [])
def test_every_golden_bundle_validates_with_real_tools(case: str) -> None:
    assert _problems(GOLDEN / case) == []


def test_every_tool_ran(tmp_path: Path) -> None:
    out = write_bundle(render_bundle(DESIGNS["multinode"]()), tmp_path / "b")
    tools = {r.tool.split(" ")[0] for r in validate_bundle(out).results if r.status == "ok"}
    expected = {
        "nginx",
        "promtool",
        "kubernetes-validate",
        "kubectl",
        "check-jsonschema",
        "shellcheck",
        "nft",
        "iptables-restore",
        "yamllint",
        "json",
    }
    if compose_binary():
        expected.add("docker")
    assert expected <= tools, expected - tools


def _break(root: Path, rel: str, old: str, new: str) -> None:
    p = root / rel
    text = p.read_text()
    assert old in text, (rel, old)
    p.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("rel", "old", "new", "tool"),
    [
        ("gateway/nginx.conf", "proxy_buffering off;", "proxy_buffering off", "nginx -t"),
        (
            "monitoring/prometheus.yml",
            "scrape_interval: 15s",
            "scrape_interval: fifteen",
            "promtool check config",
        ),
        ("monitoring/rules/garrison-alerts.yml", "for: 10m", "for: ten", "promtool check rules"),
        ("k8s/base/chat-deployment.yaml", "replicas: 2", "replicaz: 2", "kubernetes-validate"),
        ("compose/compose.yaml", "shm_size:", "shm_sise:", "check-jsonschema"),
        ("scripts/apply-firewall.sh", 'nft -c -f "$rules"', "nft -c -f $rules", "shellcheck"),
        ("security/nftables.conf", "policy drop;", "policy dropp;", "nft"),
        ("security/iptables.rules", "--ctstate INVALID", "--ctstate INVALIDD", "iptables-restore"),
        ("k8s/base/chat-service.yaml", "  type: ClusterIP", "  type: ClusterIP   ", "yamllint"),
        ("k8s/base/chat-service.yaml", "  type: ClusterIP", "   type: ClusterIP", "kubernetes-validate"),
        # value formats the published JSON schemas leave out and the API server rejects
        ("k8s/base/chat-pvc.yaml", 'storage: "33Gi"', 'storage: 33"Gi"', "kubernetes-validate"),
        ("k8s/base/chat-deployment.yaml", "part-of: garrison", "part-of: garrison!", "kubernetes-validate"),
        (
            "k8s/base/chat-deployment.yaml",
            "containerPort: 8000",
            "containerPort: 80000",
            "kubernetes-validate",
        ),
        ("k8s/base/chat-deployment.yaml", 'memory: "', 'memory: "1.5 ', "kubernetes-validate"),
        ("k8s/base/chat-service.yaml", 'name: "chat"', 'name: "chat.v1"', "kubernetes-validate"),
    ],
)
def test_a_broken_artifact_fails_its_tool(tmp_path: Path, rel: str, old: str, new: str, tool: str) -> None:
    out = write_bundle(render_bundle(gpu_vllm_design()), tmp_path / "b")
    _break(out, rel, old, new)
    failed = [r for r in validate_bundle(out).results if r.status == "failed"]
    assert any(r.artifact == rel and r.tool.startswith(tool) for r in failed), failed


def test_every_alert_unit_test_can_fail(tmp_path: Path) -> None:
    """Raising each alert's threshold out of reach must break exactly that alert's promtool test."""
    out = write_bundle(render_bundle(DESIGNS["multinode"]()), tmp_path / "b")
    rules = out / "monitoring/rules/garrison-alerts.yml"
    original = rules.read_text()
    names = re.findall(r"- alert: (\w+)", original)
    assert len(names) >= 6
    for name in names:
        block = re.search(rf"- alert: {name}\n\s+expr: \"(.*)\"", original)
        assert block, name
        expr = block.group(1)
        broken = re.sub(r"(>|==) [0-9.]+$", r"\1 99999", expr)
        assert broken != expr, expr
        rules.write_text(original.replace(expr, broken, 1))
        r = subprocess.run(
            ["promtool", "test", "rules", "tests/garrison-alerts.test.yml"],
            cwd=out / "monitoring",
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert r.returncode == 1 and name in r.stdout + r.stderr, (name, r.stdout[-500:])
    rules.write_text(original)


def test_not_a_bundle(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(InputError, match="not a garrison bundle"):
        validate_bundle(tmp_path)
    r = subprocess.run(
        [sys.executable, "-m", "garrison", "validate", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "not a garrison bundle" in r.stderr and "Traceback" not in r.stderr


def test_cli_table_and_json(tmp_path: Path) -> None:
    out = write_bundle(render_bundle(gpu_vllm_design()), tmp_path / "b")
    r = subprocess.run(
        [sys.executable, "-m", "garrison", "validate", str(out)], capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "gateway/nginx.conf" in r.stdout and "nginx -t" in r.stdout
    _break(out, "security/nftables.conf", "policy drop;", "policy dropp;")
    r = subprocess.run(
        [sys.executable, "-m", "garrison", "validate", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 1
    data = json.loads(r.stdout)
    assert data["failed"] is True
    assert any(x["artifact"] == "security/nftables.conf" and x["status"] == "failed" for x in data["results"])


def test_a_bundle_pinned_by_digest_validates(tmp_path: Path) -> None:
    """`render_bundle(design, image_digests=...)` (what `airgap pack` does with the digests its archives
    prove) names those images `image:tag@sha256:...` in every compose and Kubernetes file, and the
    pinned bundle still passes the real tools."""
    from garrison.airgap.images import images_in_files

    d = gpu_vllm_design()
    plain = render_bundle(d)
    engine = next(r for r in images_in_files(plain) if "vllm" in r)
    gateway = next(r for r in images_in_files(plain) if "nginx-unprivileged" in r)
    pins = {engine: "sha256:" + "a" * 64, gateway: "sha256:" + "b" * 64}
    files = render_bundle(d, image_digests=pins)
    refs = images_in_files(files)
    assert {f"{r}@{pins[r]}" for r in pins} <= set(refs)
    assert not set(pins) & set(refs), "an image left unpinned somewhere"
    assert [r for r in refs if "@" not in r] == [r for r in images_in_files(plain) if r not in pins]
    assert _problems(write_bundle(files, tmp_path / "b")) == []
