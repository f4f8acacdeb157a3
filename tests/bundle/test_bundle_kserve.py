"""k8s/kserve: KServe LLMInferenceService (llm-d) output beside the plain workloads, checked against the
CRD's stored OpenAPI schema (strict), the API server's value formats, and `kubectl kustomize`.

The engine flags of these objects are compared with the sizing in test_bundle_sized_is_rendered.py."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from bundle.designs import gpu_vllm_design
from bundle.examples import ENGINE_CASES, EXAMPLES, PLANNER_CASES, planned
from bundle.test_bundle_gateway import KEYS, Gateway
from garrison.engines import kserve
from garrison.render import render_bundle, write_bundle
from garrison.render.context import served_names, slug
from garrison.testing.ci import require_tool
from garrison.validate import crd_schemas, runner
from garrison.validate.gateway_sandbox import Ports, prepare_gateway

CASES = [*EXAMPLES, *PLANNER_CASES, *ENGINE_CASES]
KUBECTL = shutil.which("kubectl")


def _write(files: dict[str, str], root: Path) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")


def _services(files: dict[str, str]) -> dict[str, dict[str, Any]]:
    out = {}
    for path, text in files.items():
        if path.startswith("k8s/kserve/") and path.endswith("-llminferenceservice.yaml"):
            doc = yaml.safe_load(text)
            out[doc["metadata"]["name"]] = doc
    return out


@pytest.mark.parametrize("path", CASES, ids=[f"{p.parent.name}/{p.stem}" for p in CASES])
def test_llminferenceservice_matches_the_design_and_the_crd(path: Path) -> None:
    design = planned(path)
    files = render_bundle(design)
    objs = _services(files)
    want = set()
    for dep, served in zip(design.deployments, served_names(design), strict=True):
        name = slug(dep.name or dep.use_case)
        if not kserve.fit(dep).use:
            continue
        want.add(name)
        doc = objs[name]
        spec = doc["spec"]
        assert spec["replicas"] == dep.replicas
        assert spec["parallelism"] == {"tensor": dep.tp}
        assert spec["model"]["name"] == served
        assert spec["model"]["uri"].startswith(f"pvc://{name}-models/")
        assert f"k8s/base/{name}-pvc.yaml" in files
        assert set(spec["router"]) == {"scheduler", "route", "gateway"}
        pod = spec["template"]
        (main,) = pod["containers"]
        assert main["name"] == "main"
        assert main["resources"]["limits"]["nvidia.com/gpu"] == str(dep.gpus_per_replica)
        # the plain Deployment's secure defaults
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert main["securityContext"]["allowPrivilegeEscalation"] is False
        assert main["securityContext"]["capabilities"]["drop"] == ["ALL"]
        assert crd_schemas.crd_errors(doc) == [], name
    assert set(objs) == want
    if want:
        kust = yaml.safe_load(files["k8s/kserve/kustomization.yaml"])
        assert kust["resources"][0] == "../overlays/production"
        assert {f"{n}-llminferenceservice.yaml" for n in want} <= set(kust["resources"])
    else:
        assert not [f for f in files if f.startswith("k8s/kserve/")]


@pytest.mark.skipif(KUBECTL is None, reason="kubectl not installed")
@pytest.mark.parametrize(
    "path", [p for p in EXAMPLES if p.stem in ("enterprise-150", "airgapped-regulated")], ids=lambda p: p.stem
)
def test_kserve_overlay_builds_and_validates(path: Path, tmp_path: Path) -> None:
    """`kubectl kustomize k8s/kserve` replaces the plain workloads and the gateway's upstreams, and every
    object it builds passes the strict checks (the runner's own k8s and nginx checks, run for real)."""
    files = render_bundle(planned(path))
    _write(files, tmp_path)
    assert KUBECTL is not None
    built = subprocess.run(
        [KUBECTL, "kustomize", str(tmp_path / "k8s/kserve")], capture_output=True, text=True, check=True
    ).stdout
    docs = [d for d in yaml.safe_load_all(built) if d]
    names = set(_services(files))
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for n in names:
        assert ("LLMInferenceService", n) in kinds
        assert ("Deployment", n) not in kinds, f"plain Deployment {n} still in the KServe variant"
        assert ("ScaledObject", n) not in kinds
    (conf,) = [
        d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("gateway-conf")
    ]
    for n in names:
        assert (
            f"proxy_pass http://kserve_gateway/{docs[0]['metadata']['name']}/{n}/;"
            in conf["data"]["upstreams.conf"]
        )
    results = [*runner._kubernetes(tmp_path), *runner._nginx(tmp_path)]
    mine = [r for r in results if "kserve" in r.artifact]
    assert mine and all(r.status == "ok" for r in mine), [r for r in mine if r.status != "ok"]


def _one(path: str) -> dict[str, Any]:
    files = render_bundle(planned(next(p for p in EXAMPLES if p.stem == path)))
    return next(iter(_services(files).values()))


def test_a_broken_llminferenceservice_is_refused() -> None:
    good = _one("enterprise-150")
    assert crd_schemas.crd_errors(good) == []
    cases: list[tuple[str, Any]] = []

    def broken(edit: Any, expect: str) -> None:
        doc = copy.deepcopy(good)
        edit(doc)
        cases.append((expect, crd_schemas.crd_errors(doc)))

    broken(lambda d: d["spec"].update(modle={"uri": "x"}), "'modle' was unexpected")
    broken(lambda d: d["spec"]["router"].update(schedular={}), "'schedular' was unexpected")
    broken(lambda d: d["spec"]["model"].pop("uri"), "'uri' is a required property")
    broken(lambda d: d["spec"].update(replicas="two"), "'two' is not of type 'integer'")
    broken(lambda d: d["spec"].update(scaling={"maxReplicas": 4}), "mutually exclusive")
    broken(
        lambda d: d["spec"]["template"]["containers"][0]["resources"]["limits"].update(memory='13"Gi"'),
        '13"Gi"',
    )
    broken(lambda d: d["metadata"].update(name="Chat_Model"), "metadata")
    broken(lambda d: d["spec"]["template"]["containers"][0].update(name="Main"), "containers.0.name")
    for expect, errs in cases:
        assert errs, f"not refused: {expect}"
        assert any(expect in e for e in errs), (expect, errs)


def test_the_runner_fails_a_bundle_with_a_broken_llminferenceservice(tmp_path: Path) -> None:
    files = render_bundle(planned(next(p for p in EXAMPLES if p.stem == "enterprise-150")))
    _write(files, tmp_path)
    target = tmp_path / "k8s/kserve/chat-llminferenceservice.yaml"
    doc = yaml.safe_load(target.read_text())
    doc["spec"]["router"]["scheduler"]["pluginz"] = []
    target.write_text(yaml.safe_dump(doc))
    rows = [
        r for r in runner._kubernetes(tmp_path) if r.artifact == "k8s/kserve/chat-llminferenceservice.yaml"
    ]
    assert [r.status for r in rows] == ["failed"]
    assert "pluginz" in rows[0].detail


def test_stored_schema_says_where_it_is_from_and_is_made_strict() -> None:
    crd = crd_schemas.stored("serving.kserve.io/v1alpha2", "LLMInferenceService")
    assert crd is not None
    assert crd.release == kserve.RELEASE and len(crd.commit) == 40 and crd.as_of
    assert crd.source.startswith("https://github.com/kserve/kserve/")
    spec = crd.schema["properties"]["spec"]
    assert "additionalProperties" not in spec  # as published: the API server prunes, kubectl rejects
    assert crd_schemas.strict(crd.schema)["properties"]["spec"]["additionalProperties"] is False
    assert crd_schemas.stored("serving.kserve.io/v1alpha1", "LLMInferenceService") is None


def test_which_output_and_why() -> None:
    design = planned(next(p for p in EXAMPLES if p.stem == "enterprise-150"))
    dep = design.deployments[0]
    assert kserve.fit(dep).use and "prefix" in kserve.fit(dep).reason
    one = dep.model_copy(update={"replicas": 1})
    assert not kserve.fit(one).use and "one replica" in kserve.fit(one).reason
    multi = dep.model_copy(update={"nodes_per_replica": 2, "pp": 2})
    assert not kserve.fit(multi).use and "LeaderWorkerSet" in kserve.fit(multi).reason
    other = dep.model_copy(update={"engine": "sglang"})
    assert not kserve.fit(other).use and "vLLM only" in kserve.fit(other).reason
    files = render_bundle(design)
    assert "kubectl apply -k k8s/kserve" in files["README.md"]
    readme = files["k8s/kserve/README.md"]
    for d in design.deployments:
        assert kserve.fit(d).reason in readme


class _StandInGateway(ThreadingHTTPServer):
    """A stand-in for KServe's ingress Gateway (Envoy/Istio with llm-d cannot run here: no cluster).
    It records each request and answers like vLLM's OpenAI server; a fake, named as such."""

    seen: list[tuple[str, dict[str, str], dict[str, Any]]]


class _Handler(BaseHTTPRequestHandler):
    server: _StandInGateway

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.seen.append((self.path, dict(self.headers), body))
        reply = {
            "id": "cmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "length"}
            ],
        }
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        del format, args


def test_gateway_sends_kserve_models_through_the_ingress_gateway_path(
    tmp_path: Path, free_port: Callable[[], int]
) -> None:
    """Real nginx with k8s/kserve's gateway config: a request for the KServe-served model, by name on /v1
    and on its path route, reaches KServe's ingress Gateway at /<namespace>/<name>/v1/... (the path
    KServe's managed HTTPRoute matches), with the engine key instead of the client's API key."""
    require_tool("nginx")
    design = gpu_vllm_design()
    files = render_bundle(design)
    bundle = write_bundle(files, tmp_path / "bundle")
    ns = yaml.safe_load(files["k8s/base/namespace.yaml"])["metadata"]["name"]
    stand_in = _StandInGateway(("127.0.0.1", 0), _Handler)
    stand_in.seen = []
    threading.Thread(target=stand_in.serve_forever, daemon=True).start()
    try:
        ports = Ports(http=free_port(), https=free_port(), status=free_port())
        conf = prepare_gateway(
            bundle / "k8s/kserve/gateway",
            tmp_path / "gw",
            keys=KEYS,
            servers={"kserve_gateway": [f"127.0.0.1:{stand_in.server_address[1]}"]},
            ports=ports,
        )
        ups = conf.parent / "upstreams.conf"
        hop = free_port()  # the rendered hop listens on 127.0.0.1:18100; any free port here
        ups.write_text(ups.read_text().replace("127.0.0.1:18100", f"127.0.0.1:{hop}"))
        gw = Gateway(conf, ports).start()
        try:
            key = next(iter(KEYS))
            served = design.deployments[0].model_name
            for route in ("/v1", "/chat/v1"):
                r = gw.client(key, route).chat.completions.create(
                    model=served, messages=[{"role": "user", "content": "hello"}], max_tokens=4
                )
                assert r.choices[0].message.content == "hi"
            assert [p for p, _, _ in stand_in.seen] == [f"/{ns}/chat/v1/chat/completions"] * 2
            for _, headers, body in stand_in.seen:
                assert body["model"] == served
                # the client's key stops at the Garrison gateway; only the engine key (`garrison keys
                # --engine`, the second lock every engine requires) travels on
                assert key not in headers.get("Authorization", "")
                assert headers.get("Authorization", "").startswith("Bearer sk-engine-")
                assert headers.get("X-Request-Id")
            # without a key nothing reaches KServe
            status, _, _ = gw.request("/v1/chat/completions", None, "POST", {"model": served, "messages": []})
            assert status == 401 and len(stand_in.seen) == 2
        finally:
            gw.stop()
    finally:
        stand_in.shutdown()


def test_an_llminferenceservice_of_a_version_without_a_stored_schema_fails(tmp_path: Path) -> None:
    """Only the stored version is vouched for: an object of another version is a failure, never a pass."""
    files = render_bundle(planned(next(p for p in EXAMPLES if p.stem == "enterprise-150")))
    _write(files, tmp_path)
    target = tmp_path / "k8s/kserve/chat-llminferenceservice.yaml"
    target.write_text(target.read_text().replace("serving.kserve.io/v1alpha2", "serving.kserve.io/v1alpha1"))
    rows = [
        r for r in runner._kubernetes(tmp_path) if r.artifact == "k8s/kserve/chat-llminferenceservice.yaml"
    ]
    assert [r.status for r in rows] == ["failed"]
    assert "no schema" in rows[0].detail
