"""No network path to an engine that skips the gateway, in every example and hand-built design.

Compose: each engine replica sits alone on its own internal network with the gateway; Prometheus
scrapes engines through the gateway's metrics listener, a port that serves nothing but /metrics.
Kubernetes: the NetworkPolicies let exactly the gateway reach an engine's API port and exactly
Prometheus (namespace `monitoring`) reach its metrics port, which a sidecar serves and nothing
else; the pods of one multi-node replica reach each other. Every engine that can take a key
also requires one (the second lock), and every probe works from the kubelet (no `host:`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bundle.designs import DESIGNS
from garrison.design import Design
from garrison.render import load_design, render_bundle
from garrison.render.context import build_context
from security.network_graph import Peer, compose_reach, ingress_peers, k8s_docs, netns_of, pod_templates

GOLDEN = Path(__file__).resolve().parents[1] / "bundle" / "golden"
CASES = sorted(
    [f"design-{k}" for k in DESIGNS] + [p.parent.name for p in GOLDEN.glob("example-*/design.json")]
)
KEYLESS_ENGINES = {"tabby"}  # TabbyML has no static API key (its tokens are issued in its admin UI)
ENGINE_KEY_ENV = {"vllm": "VLLM_API_KEY", "llama.cpp": "LLAMA_ARG_API_KEY"}
PROMETHEUS = (("app.kubernetes.io/name", "prometheus"),)
MONITORING_NS = (("kubernetes.io/metadata.name", "monitoring"),)


def _design(case: str) -> Design:
    kind, name = case.split("-", 1)
    return DESIGNS[name]() if kind == "design" else load_design(GOLDEN / case / "design.json")


@pytest.fixture(scope="module", params=CASES)
def bundle(request: pytest.FixtureRequest) -> tuple[Design, dict[str, str], dict[str, Any]]:
    design = _design(request.param)
    return design, render_bundle(design), build_context(design)


def _server_blocks(conf: str) -> list[str]:
    """The text of each `server { ... }` block of an nginx config (brace matching, comments dropped)."""
    text = re.sub(r"#[^\n]*", "", conf)
    blocks = []
    for m in re.finditer(r"\bserver\s*\{", text):
        depth, i = 0, m.end() - 1
        for j in range(i, len(text)):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            if depth == 0:
                blocks.append(text[i : j + 1])
                break
    return blocks


def _only_metrics(block: str) -> bool:
    locations = re.findall(r"\blocation\s+(=\s*)?(\S+)\s*\{", block)
    return bool(locations) and all(
        path.startswith("/metrics") or (path == "/" and "return 404" in block) for _, path in locations
    )


def test_compose_engines_are_reachable_from_the_gateway_only(bundle: Any) -> None:
    _, files, ctx = bundle
    compose = yaml.safe_load(files["compose/compose.yaml"])
    reach = compose_reach(compose)
    engines = [r.service for dep in ctx["deployments"] if not dep.multi_node for r in dep.replicas]
    for svc in engines:
        spec = compose["services"][svc]
        assert "ports" not in spec, f"{svc} publishes a port"
        assert reach[svc], f"{svc}: nothing reaches it, not even the gateway"
        assert {netns_of(compose, s) for s in reach[svc]} == {"gateway"}, (svc, reach[svc])
        for net in spec["networks"]:
            assert compose["networks"][net].get("internal") is True, (svc, net)
    for svc in compose["services"]:
        if netns_of(compose, svc) != "gateway" and svc not in engines:
            assert not set(engines) & reach[svc], f"{svc} reaches an engine"


def test_compose_prometheus_scrapes_engines_through_a_metrics_only_port(bundle: Any) -> None:
    _, files, ctx = bundle
    compose = yaml.safe_load(files["compose/compose.yaml"])
    reach = compose_reach(compose)
    prom = yaml.safe_load(files["monitoring/prometheus.yml"])
    gateway_conf = files["gateway/nginx.conf"] + files["gateway/upstreams.conf"]
    blocks = _server_blocks(gateway_conf)
    scraped_via_gateway = False
    for job in prom["scrape_configs"]:
        for sc in job.get("static_configs", []):
            for target in sc["targets"]:
                host, _, port = target.partition(":")
                if host == "localhost":
                    continue
                assert host in reach["prometheus"], (job["job_name"], target)
                if netns_of(compose, host) == "gateway" and job["job_name"] != "gateway":
                    listening = [b for b in blocks if re.search(rf"\blisten\s+{port}\s*;", b)]
                    assert listening and all(_only_metrics(b) for b in listening), (job["job_name"], port)
                    scraped_via_gateway = True
    metered = [d for d in ctx["deployments"] if d.metrics_path and not d.multi_node]
    assert scraped_via_gateway or not metered


def test_compose_prometheus_ui_is_published_on_loopback(bundle: Any) -> None:
    _, files, _ = bundle
    compose = yaml.safe_load(files["compose/compose.yaml"])
    prom = compose["services"]["prometheus"]
    assert "127.0.0.1:9090:9090" in prom["ports"]
    # Docker publishes no port of a container that is only on internal networks
    assert any(not compose["networks"][n].get("internal") for n in prom["networks"]), prom["networks"]


def test_compose_engines_require_a_key(bundle: Any) -> None:
    _, files, ctx = bundle
    compose = yaml.safe_load(files["compose/compose.yaml"])
    for dep in ctx["deployments"]:
        if dep.multi_node or dep.d.engine in KEYLESS_ENGINES:
            continue
        for r in dep.replicas:
            spec = compose["services"][r.service]
            env = spec.get("environment", {})
            var = ENGINE_KEY_ENV.get(dep.d.engine)
            has_key = (var in env) if var else "--api-key" in " ".join(map(str, spec.get("command", [])))
            assert has_key, (r.service, dep.d.engine)
    assert "engine_auth.conf" in files["compose/compose.yaml"]  # the gateway presents the key


def _port_names(template: dict[str, Any]) -> dict[str, set[int | str]]:
    """container -> its port names and numbers."""
    return {
        c["name"]: {p["containerPort"] for p in c.get("ports", [])} | {p["name"] for p in c.get("ports", [])}
        for c in template["spec"]["containers"]
    }


def test_k8s_engines_admit_exactly_the_gateway_and_prometheus(bundle: Any) -> None:
    _, files, ctx = bundle
    docs = k8s_docs(files)
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    by_name = {d.name: d for d in ctx["deployments"]}
    gateway_pods = (("app.kubernetes.io/component", "gateway"), ("app.kubernetes.io/name", "gateway"))
    seen = 0
    for obj, tpl in pod_templates(docs):
        labels = tpl["metadata"]["labels"]
        if labels.get("app.kubernetes.io/component") != "inference":
            continue
        seen += 1
        dep = by_name[labels["app.kubernetes.io/name"]]
        peers = ingress_peers(policies, labels)
        assert peers is not None, f"{obj}: no policy isolates it"
        expected = {Peer(gateway_pods, None, ("http",) if _named(tpl) else (dep.port,))}
        if dep.metrics_path:
            expected.add(Peer(PROMETHEUS, MONITORING_NS, ("metrics",)))
        if dep.multi_node:
            expected.add(Peer((("app.kubernetes.io/name", dep.name),), None, None))
        assert set(peers) == expected, (obj, peers)
    assert seen


def _named(tpl: dict[str, Any]) -> bool:
    return any(p.get("name") == "http" for c in tpl["spec"]["containers"] for p in c.get("ports", []))


def test_k8s_metrics_port_serves_metrics_only(bundle: Any) -> None:
    _, files, ctx = bundle
    docs = k8s_docs(files)
    for obj, tpl in pod_templates(docs):
        labels = tpl["metadata"]["labels"]
        if labels.get("app.kubernetes.io/component") != "inference":
            continue
        dep = next(d for d in ctx["deployments"] if d.name == labels["app.kubernetes.io/name"])
        names = _port_names(tpl)
        if not dep.metrics_path or obj.endswith("/worker"):
            assert not any("metrics" in ports for ports in names.values()), obj
            continue
        sidecars = [c for c, ports in names.items() if "metrics" in ports]
        assert sidecars == ["metrics"], (obj, names)
        conf = files[f"k8s/base/metrics/{dep.name}.conf"]
        blocks = _server_blocks(conf)
        assert blocks and all(_only_metrics(b) for b in blocks), obj


def test_k8s_engines_require_a_key_from_a_secret(bundle: Any) -> None:
    _, files, ctx = bundle
    docs = k8s_docs(files)
    for obj, tpl in pod_templates(docs):
        labels = tpl["metadata"]["labels"]
        if labels.get("app.kubernetes.io/component") != "inference" or obj.endswith("/worker"):
            continue
        dep = next(d for d in ctx["deployments"] if d.name == labels["app.kubernetes.io/name"])
        if dep.d.engine in KEYLESS_ENGINES:
            continue
        engine = next(c for c in tpl["spec"]["containers"] if c["name"] == "engine")
        secret_env = [e for e in engine.get("env", []) if "valueFrom" in e]
        assert any(e["valueFrom"]["secretKeyRef"]["name"] == "garrison-engine-key" for e in secret_env), obj


def test_every_probe_works_from_the_kubelet(bundle: Any) -> None:
    _, files, _ = bundle
    for obj, tpl in pod_templates(k8s_docs(files)):
        for c in tpl["spec"]["containers"]:
            ports = {p["name"] for p in c.get("ports", [])} | {p["containerPort"] for p in c.get("ports", [])}
            for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
                probe = c.get(kind)
                if not probe or "exec" in probe:
                    continue
                action = probe.get("httpGet") or probe.get("tcpSocket")
                assert action and "host" not in action, (obj, c["name"], kind)
                assert action["port"] in ports, (obj, c["name"], kind, action["port"])
