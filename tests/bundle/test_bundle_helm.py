"""The Helm chart beside kustomize, checked by the real Helm CLI (v3.17.3, scripts/lib.sh helm_ensure).

`helm template` with the chart's default values must give exactly the kustomize base's objects (plus
the gateway ConfigMap kustomize generates), its values must be live and schema-checked, and a broken
chart must fail `garrison validate` (helm lint --strict; helm template + strict Kubernetes values).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from bundle.designs import DESIGNS, gpu_vllm_design, multinode_design
from bundle.examples import ROOT, planned
from garrison.design import Design
from garrison.render import render_bundle, write_bundle
from garrison.testing.ci import skip_or_fail
from garrison.validate import validate_bundle
from garrison.validate.runner import helm_binary

pytestmark = pytest.mark.slow

CASES = {
    **{f"design-{k}": v for k, v in DESIGNS.items()},
    "example-enterprise-150": lambda: planned(ROOT / "examples" / "enterprise-150.yaml"),
}


@pytest.fixture(scope="module")
def helm() -> str:
    found = helm_binary()
    if found is None:
        skip_or_fail(
            "Helm CLI not installed (bash -c 'source scripts/lib.sh && helm_ensure'; docs/validate.md)"
        )
    return found


def _chart(root: Path) -> Path:
    (chart,) = sorted((root / "helm").iterdir())
    return chart


def _template(helm: str, chart: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [helm, "template", "garrison", str(chart), *args], capture_output=True, text=True, timeout=120
    )


def _key(doc: dict[str, Any]) -> tuple[str, str]:
    return doc["kind"], doc["metadata"]["name"]


def _base_objects(files: dict[str, str]) -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for path, text in files.items():
        top = path.startswith("k8s/base/") and path.count("/") == 2 and path.endswith(".yaml")
        if top and not path.endswith("kustomization.yaml"):
            out.update({_key(d): d for d in yaml.safe_load_all(text) if d})
    return out


@pytest.mark.parametrize("case", sorted(CASES))
def test_helm_template_gives_the_kustomize_objects(tmp_path: Path, helm: str, case: str) -> None:
    d: Design = CASES[case]()
    files = render_bundle(d)
    chart = _chart(write_bundle(files, tmp_path / "b"))
    lint = subprocess.run([helm, "lint", "--strict", str(chart)], capture_output=True, text=True, timeout=120)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    r = _template(helm, chart)
    assert r.returncode == 0, r.stderr
    built = {_key(x): x for x in yaml.safe_load_all(r.stdout) if x}
    conf = built.pop(("ConfigMap", "gateway-conf"))
    assert conf["data"] == {n: files[f"k8s/base/gateway/{n}"] for n in ("nginx.conf", "upstreams.conf")}
    gw = built[("Deployment", "gateway")]["spec"]["template"]["metadata"]
    assert len(gw.pop("annotations").pop("checksum/gateway-conf")) == 64
    base = _base_objects(files)
    assert sorted(built) == sorted(base)
    for k, obj in base.items():  # alert templates ({{ $labels.instance }}) included, not expanded by Helm
        assert built[k] == obj, k


def test_values_are_live_and_schema_checked(tmp_path: Path, helm: str) -> None:
    chart = _chart(write_bundle(render_bundle(multinode_design()), tmp_path / "b"))
    values = yaml.safe_load((chart / "values.yaml").read_text())
    assert set(values["workloads"]) == {"code", "frontier", "gateway"}
    assert (
        values["workloads"]["frontier"]["containers"]["leader-engine"]["resources"]["limits"][
            "nvidia.com/gpu"
        ]
        == "8"
    )
    r = _template(helm, chart, "--set", "workloads.code.replicas=3", "--set", "storage.code-models=99Gi")
    assert r.returncode == 0, r.stderr
    docs = {_key(x): x for x in yaml.safe_load_all(r.stdout) if x}
    assert docs[("Deployment", "code")]["spec"]["replicas"] == 3
    assert (
        docs[("PersistentVolumeClaim", "code-models")]["spec"]["resources"]["requests"]["storage"] == "99Gi"
    )
    for bad in ("workloads.code.replicas=-1", 'storage.code-models=13"Gi"', "workloads.code.extra=1"):
        r = _template(helm, chart, "--set", bad)
        assert r.returncode != 0 and "values don't meet the specifications of the schema" in r.stderr, bad


@pytest.mark.parametrize(
    ("rel", "old", "new", "tool"),
    [
        ("values.yaml", "chat-models: 33Gi", 'chat-models: 33"Gi"', "helm lint --strict"),
        ("templates/chat-service.yaml", "port: 8000", "port: 80000", "helm template + kubernetes-validate"),
        ("templates/chat-deployment.yaml", "kind: Deployment", "kind: Deployment\n{{ .Oops", "helm lint"),
    ],
)
def test_a_broken_chart_fails_validate(
    tmp_path: Path, helm: str, rel: str, old: str, new: str, tool: str
) -> None:
    root = write_bundle(render_bundle(gpu_vllm_design()), tmp_path / "b")
    chart = _chart(root)
    p = chart / rel
    text = p.read_text()
    assert old in text, (rel, old, text[:2000])
    p.write_text(text.replace(old, new, 1))
    failed = [r for r in validate_bundle(root).results if r.status == "failed"]
    art = str(chart.relative_to(root))
    assert any(r.artifact == art and r.tool.startswith(tool) for r in failed), failed
