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


def _compose_files(files: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Every compose file of the bundle: one (single server) or one per server, by path."""
    out = {
        path: yaml.safe_load(text)
        for path, text in files.items()
        if path.startswith("compose/") and path.endswith("compose.yaml")
    }
    assert out, "no compose file rendered"
    return out


def compose_violations(files: dict[str, str], ctx: dict[str, Any]) -> list[str]:
    """Every path to an engine that skips the gateway, in every rendered compose file.

    Single server: an engine shares networks (all internal) with the gateway and nobody else, and
    publishes no port. Multi-server: an engine is alone on its network on its server and publishes
    its port on the server's internal address only (not 0.0.0.0); the gateway reaches it there with
    the engine key, and the gateway's upstreams name exactly that server and port.
    """
    bad: list[str] = []
    engines = {r.service: dep for dep in ctx["deployments"] if not dep.multi_node for r in dep.replicas}
    multi = ctx["multi_server"]
    found: set[str] = set()
    for path, compose in _compose_files(files).items():
        reach = compose_reach(compose)
        services = compose["services"]
        for svc in services:
            if svc not in engines:
                continue
            found.add(svc)
            spec, dep = services[svc], engines[svc]
            callers = {netns_of(compose, s) for s in reach[svc]}
            if multi:
                if callers:
                    bad.append(f"{path}: {svc} shares a network with {sorted(callers)}")
                r = next(r for r in dep.replicas if r.service == svc)
                want = f"${{{ctx['layout'].host(r.host).addr_var}:"
                for port in spec.get("ports", []):
                    if not str(port).startswith(want):
                        bad.append(f"{path}: {svc} publishes {port} beyond the server's internal address")
            else:
                if "ports" in spec:
                    bad.append(f"{path}: {svc} publishes a port")
                if callers != {"gateway"}:
                    bad.append(f"{path}: {svc} is reached by {sorted(callers)}, not only the gateway")
                for net in spec.get("networks", []):
                    if compose["networks"][net].get("internal") is not True:
                        bad.append(f"{path}: {svc} is on {net}, which is not internal")
        for svc in services:
            if netns_of(compose, svc) != "gateway" and svc not in engines and set(engines) & reach[svc]:
                bad.append(f"{path}: {svc} reaches an engine")
    missing = set(engines) - found
    if missing:
        bad.append(f"engine replicas in no compose file: {sorted(missing)}")
    if multi:  # the gateway's upstreams: the replica's server and published port, nothing else
        ups = files["gateway/upstreams.conf"]
        for svc, dep in engines.items():
            r = next(r for r in dep.replicas if r.service == svc)
            if f"server {r.host}:{r.host_port} " not in ups:
                bad.append(f"gateway/upstreams.conf: {svc} is not reached at {r.host}:{r.host_port}")
    return bad


def metrics_violations(files: dict[str, str], ctx: dict[str, Any]) -> list[str]:
    """Prometheus reads engine metrics only through the gateway's metrics port (compose)."""
    bad: list[str] = []
    prom = yaml.safe_load(files["monitoring/prometheus.yml"])
    blocks = _server_blocks(files["gateway/nginx.conf"] + files["gateway/upstreams.conf"])
    engine_hosts = {r.service for dep in ctx["deployments"] for r in dep.replicas}
    gateway_hosts = {"gateway"}
    if ctx["multi_server"]:
        gateway_hosts = {h.name for h in ctx["layout"].running("gateway")}
        engine_ports = {
            (r.host, str(r.host_port))
            for dep in ctx["deployments"]
            if not dep.multi_node
            for r in dep.replicas
        }
    else:
        engine_ports = set()
    metered = {d.name for d in ctx["deployments"] if d.metrics_path and not d.multi_node}
    via_gateway: set[str] = set()
    for job in prom["scrape_configs"]:
        for sc in job.get("static_configs", []):
            for target in sc["targets"]:
                host, _, port = target.partition(":")
                if host in engine_hosts or (host, port) in engine_ports:
                    bad.append(f"prometheus job {job['job_name']} scrapes engine {target} directly")
                if job["job_name"] in metered:
                    if host not in gateway_hosts:
                        bad.append(f"prometheus job {job['job_name']} scrapes {target}, not the gateway")
                        continue
                    listening = [b for b in blocks if re.search(rf"\blisten\s+{port}\s*;", b)]
                    if not listening or not all(_only_metrics(b) for b in listening):
                        bad.append(
                            f"prometheus job {job['job_name']}: gateway port {port} serves more than metrics"
                        )
                    via_gateway.add(job["job_name"])
    if metered - via_gateway:
        bad.append(f"engine metrics not scraped: {sorted(metered - via_gateway)}")
    return bad


def _published_engine_ports(files: dict[str, str], ctx: dict[str, Any]) -> set[int]:
    """The host ports the compose files publish for engine replicas (multi-server layouts)."""
    engines = {r.service for dep in ctx["deployments"] if not dep.multi_node for r in dep.replicas}
    ports = set()
    for compose in _compose_files(files).values():
        for svc, spec in compose["services"].items():
            if svc in engines:
                ports |= {int(str(p).rsplit(":", 2)[-2]) for p in spec.get("ports", [])}
    return ports


METRICS_PORTS = {9100, 9113, 9180, 9400}


def firewall_violations(files: dict[str, str], ctx: dict[str, Any]) -> list[str]:
    """Multi-server: every published engine port is open to the gateway servers only and every
    metrics port to the Prometheus servers only, in nftables and in iptables; the loader fills the
    sets with exactly those servers."""
    if not ctx["multi_server"]:
        return []
    bad: list[str] = []
    engine_ports = _published_engine_ports(files, ctx)
    nft = files["security/nftables.conf"]
    for peers, want in (("gateway_servers_v4", engine_ports), ("prometheus_servers_v4", METRICS_PORTS)):
        rules = re.findall(rf"ct original proto-dst \{{ ([0-9, ]+) \}} ip saddr != @{peers} drop", nft)
        got = {int(p) for r in rules for p in r.split(",")}
        if not want <= got:
            bad.append(f"nftables: ports {sorted(want - got)} are open beyond {peers}")
    if "hook forward priority filter - 10; policy accept;" not in nft:
        bad.append("nftables: no forward-hook chain for published ports")
    ipt = files["security/iptables.rules"]
    for chain, want in (
        ("GARRISON-FROM-GATEWAYS", engine_ports),
        ("GARRISON-FROM-PROMETHEUS", METRICS_PORTS),
    ):
        got = {int(p) for p in re.findall(rf"--ctorigdstport (\d+) -j {chain}\n", ipt)}
        if not want <= got:
            bad.append(f"iptables: ports {sorted(want - got)} skip {chain}")
        if f"-A {chain} -j DROP" not in ipt:
            bad.append(f"iptables: {chain} does not end in DROP")
    loader = files["scripts/apply-firewall.sh"]
    for peers, service in (("gateway", "gateway"), ("prometheus", "prometheus")):
        want_vars = {h.addr_var for h in ctx["layout"].running(service)}
        got_vars = set(re.findall(rf"^{peers}s?\+=\(\"\$\(ipv4_of (\w+)\)\"\)$", loader, re.M))
        if got_vars != want_vars:
            bad.append(f"apply-firewall.sh: {service} servers {sorted(got_vars)} != {sorted(want_vars)}")
    return bad


def test_published_ports_open_to_the_gateway_and_prometheus_servers_only(bundle: Any) -> None:
    _, files, ctx = bundle
    assert firewall_violations(files, ctx) == []


def test_compose_engines_are_reachable_from_the_gateway_only(bundle: Any) -> None:
    _, files, ctx = bundle
    assert compose_violations(files, ctx) == []


def test_compose_prometheus_scrapes_engines_through_a_metrics_only_port(bundle: Any) -> None:
    _, files, ctx = bundle
    assert metrics_violations(files, ctx) == []


def test_compose_prometheus_ui_is_published_on_loopback(bundle: Any) -> None:
    _, files, _ = bundle
    for path, compose in _compose_files(files).items():
        prom = compose["services"].get("prometheus")
        if prom is None:
            continue
        assert "127.0.0.1:9090:9090" in prom["ports"], path
        # Docker publishes no port of a container that is only on internal networks
        assert any(not compose["networks"][n].get("internal") for n in prom["networks"]), prom["networks"]


def test_compose_engines_require_a_key(bundle: Any) -> None:
    _, files, ctx = bundle
    checked = 0
    for path, compose in _compose_files(files).items():
        for dep in ctx["deployments"]:
            if dep.multi_node or dep.d.engine in KEYLESS_ENGINES:
                continue
            for r in dep.replicas:
                spec = compose["services"].get(r.service)
                if spec is None:
                    continue
                env = spec.get("environment", {})
                var = ENGINE_KEY_ENV.get(dep.d.engine)
                cmd = " ".join(map(str, spec.get("command", [])))
                has_key = (var in env) if var else "--api-key" in cmd
                assert has_key, (path, r.service, dep.d.engine)
                checked += 1
        if "gateway" in compose["services"]:
            vols = " ".join(compose["services"]["gateway"]["volumes"])
            assert "/etc/nginx/engine_auth.conf:ro" in vols, path  # the gateway presents the key
    assert checked or all(d.multi_node or d.d.engine in KEYLESS_ENGINES for d in ctx["deployments"])


def _port_names(template: dict[str, Any]) -> dict[str, set[int | str]]:
    """container -> its port names and numbers."""
    return {
        c["name"]: {p["containerPort"] for p in c.get("ports", [])} | {p["name"] for p in c.get("ports", [])}
        for c in template["spec"]["containers"]
    }


GATEWAY_PODS = (("app.kubernetes.io/component", "gateway"), ("app.kubernetes.io/name", "gateway"))
DNS_PEER = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
}


def _egress_rules(policies: list[dict[str, Any]], labels: dict[str, str]) -> list[dict[str, Any]] | None:
    """The egress rules that apply to a pod; None when no policy limits its egress."""
    isolated, rules = False, []
    for pol in policies:
        spec = pol["spec"]
        if "Egress" not in (spec.get("policyTypes") or []):
            continue
        want = (spec.get("podSelector") or {}).get("matchLabels") or {}
        if all(labels.get(k) == v for k, v in want.items()):
            isolated = True
            rules += spec.get("egress") or []
    return rules if isolated else None


def k8s_violations(files: dict[str, str], ctx: dict[str, Any]) -> list[str]:
    """Every way into an engine pod other than gateway -> API port and Prometheus -> metrics port,
    and every way out of an engine or the gateway beyond DNS and what the platform needs."""
    bad: list[str] = []
    docs = k8s_docs(files)
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    by_name = {d.name: d for d in ctx["deployments"]}
    seen = 0
    for obj, tpl in pod_templates(docs):
        labels = tpl["metadata"]["labels"]
        egress = _egress_rules(policies, labels)
        if labels.get("app.kubernetes.io/component") == "gateway":
            for rule in egress or [{}]:
                to = rule.get("to")
                if to == [DNS_PEER] or to == [
                    {"podSelector": {"matchLabels": {"app.kubernetes.io/component": "inference"}}}
                ]:
                    continue
                bad.append(f"{obj}: gateway egress beyond DNS and the engines: {rule}")
        if labels.get("app.kubernetes.io/component") != "inference":
            continue
        seen += 1
        dep = by_name[labels["app.kubernetes.io/name"]]
        peers = ingress_peers(policies, labels)
        if peers is None:
            bad.append(f"{obj}: no policy isolates it")
            continue
        expected = {Peer(GATEWAY_PODS, None, ("http",) if _named(tpl) else (dep.port,))}
        if dep.metrics_path:
            expected.add(Peer(PROMETHEUS, MONITORING_NS, ("metrics",)))
        if dep.multi_node:
            expected.add(Peer((("app.kubernetes.io/name", dep.name),), None, None))
        # a rule whose ports are all names this pod has no port for admits nothing (a worker pod
        # has no API or metrics port)
        has = set().union(*_port_names(tpl).values())
        extra = {p for p in peers if _admits(p, has)} - expected
        if extra:
            bad.append(f"{obj}: admits {sorted(map(str, extra))}")
        if egress is None:
            bad.append(f"{obj}: no policy limits its egress")
            continue
        own = {"podSelector": {"matchLabels": {"app.kubernetes.io/name": dep.name}}}
        for rule in egress:
            to = rule.get("to")
            if to == [DNS_PEER] or (dep.multi_node and to == [own]):
                continue
            bad.append(
                f"{obj}: engine egress beyond DNS{' and its own pods' if dep.multi_node else ''}: {rule}"
            )
    if not seen:
        bad.append("no engine pod template found")
    return bad


def test_k8s_engines_admit_exactly_the_gateway_and_prometheus(bundle: Any) -> None:
    _, files, ctx = bundle
    assert k8s_violations(files, ctx) == []


def _admits(peer: Peer, ports: set[int | str]) -> bool:
    return peer.ports is None or any(isinstance(p, int) or p in ports for p in peer.ports)


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


def _mutated(files: dict[str, str], path: str, edit: Any) -> dict[str, str]:
    """A copy of `files` with the YAML (or, for a str -> str edit, the text) of `path` changed."""
    out = dict(files)
    if path.endswith((".yaml", ".yml")):
        docs = list(yaml.safe_load_all(files[path]))
        edit(docs)
        out[path] = yaml.safe_dump_all(docs, sort_keys=False)
    else:
        out[path] = edit(files[path])
    return out


def test_the_checks_find_every_kind_of_path_around_the_gateway() -> None:
    """The checks above can fail: each mutation of a rendered file opens one path, and is found."""
    single = _design("design-gpu-vllm")
    files, ctx = render_bundle(single), build_context(single)
    assert compose_violations(files, ctx) == [] and metrics_violations(files, ctx) == []
    assert k8s_violations(files, ctx) == []
    path = "compose/compose.yaml"

    def webui_joins_an_engine_network(docs: list[Any]) -> None:
        docs[0]["services"]["open-webui"]["networks"].append("eng-chat-0")

    def engine_publishes(docs: list[Any]) -> None:
        docs[0]["services"]["chat-1"]["ports"] = ["8000:8000"]

    def engine_network_not_internal(docs: list[Any]) -> None:
        docs[0]["networks"]["eng-chat-0"]["internal"] = False

    def exporter_shares_the_engine_network(docs: list[Any]) -> None:
        docs[0]["services"]["node-exporter"]["networks"] = ["monitoring", "eng-chat-1"]

    for edit in (
        webui_joins_an_engine_network,
        engine_publishes,
        engine_network_not_internal,
        exporter_shares_the_engine_network,
    ):
        assert compose_violations(_mutated(files, path, edit), ctx), edit.__name__

    def prometheus_scrapes_an_engine(docs: list[Any]) -> None:
        docs[0]["scrape_configs"][1]["static_configs"][0]["targets"] = ["chat-0:8000"]

    assert metrics_violations(_mutated(files, "monitoring/prometheus.yml", prometheus_scrapes_an_engine), ctx)
    # the metrics port starts to proxy the API too
    api_on_metrics_port = _mutated(
        files,
        "gateway/upstreams.conf",
        lambda text: text.replace(
            "    location / {\n",
            "    location /v1/ {\n        proxy_pass http://up_chat;\n    }\n    location / {\n",
            1,
        ),
    )
    assert metrics_violations(api_on_metrics_port, ctx)

    policy = "k8s/base/networkpolicy.yaml"

    def monitoring_namespace_reaches_every_port(docs: list[Any]) -> None:
        engine = next(d for d in docs if d["metadata"]["name"] == "engine-chat")
        engine["spec"]["ingress"][1]["ports"] = None

    def any_pod_in_monitoring(docs: list[Any]) -> None:
        engine = next(d for d in docs if d["metadata"]["name"] == "engine-chat")
        del engine["spec"]["ingress"][1]["from"][0]["podSelector"]

    def engine_egress_open(docs: list[Any]) -> None:
        engine = next(d for d in docs if d["metadata"]["name"] == "engine-chat")
        engine["spec"]["egress"] = [{}]

    def engine_policy_dropped(docs: list[Any]) -> None:
        docs[:] = [d for d in docs if d["metadata"]["name"] != "engine-chat"]
        for d in docs:  # and the namespace's default deny with it
            if d["metadata"]["name"] == "default-deny-all":
                d["spec"]["policyTypes"] = ["Egress"]

    def gateway_egress_anywhere(docs: list[Any]) -> None:
        gw = next(d for d in docs if d["metadata"]["name"] == "gateway")
        gw["spec"]["egress"].append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]})

    for edit in (
        monitoring_namespace_reaches_every_port,
        any_pod_in_monitoring,
        engine_egress_open,
        engine_policy_dropped,
        gateway_egress_anywhere,
    ):
        assert k8s_violations(_mutated(files, policy, edit), ctx), edit.__name__

    # multi-server compose: a replica published on every address, or sharing its server's network
    multi = _design("example-airgapped-regulated")
    files, ctx = render_bundle(multi), build_context(multi)
    assert ctx["multi_server"] and compose_violations(files, ctx) == []
    host = next(h for h in ctx["layout"].hosts if h.replicas)
    path = f"compose/{host.name}/compose.yaml"
    svc = host.replicas[0].service

    def published_everywhere(docs: list[Any]) -> None:
        docs[0]["services"][svc]["ports"] = ["8000:8000"]

    def shares_with_the_exporter(docs: list[Any]) -> None:
        docs[0]["services"][svc]["networks"].append("inbound")

    for edit in (published_everywhere, shares_with_the_exporter):
        assert compose_violations(_mutated(files, path, edit), ctx), edit.__name__
    # the host firewall: an engine port left out of the rule, an open chain, a loader that skips a server
    assert firewall_violations(files, ctx) == []
    port = str(host.replicas[0].host_port)
    for where, old, new in (
        ("security/nftables.conf", f"proto-dst {{ {port} }}", "proto-dst { 1 }"),
        ("security/iptables.rules", "-A GARRISON-FROM-GATEWAYS -j DROP\n", ""),
        (
            "security/iptables.rules",
            f"--ctorigdstport {port} -j GARRISON-FROM-GATEWAYS",
            "--ctorigdstport 1 -j RETURN",
        ),
        ("scripts/apply-firewall.sh", 'gateways+=("$(ipv4_of GARRISON_ADDR_GATEWAY_2)")\n', ""),
    ):
        assert old in files[where], (where, old)
        assert firewall_violations(_mutated(files, where, lambda s, o=old, n=new: s.replace(o, n)), ctx), (
            where
        )
