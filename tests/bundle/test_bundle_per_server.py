"""Per-server compose: each server's file holds that server's GPUs and the replicas the design placed
there; the gateway and Prometheus reach every replica at the address and port its server publishes."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from bundle.designs import cpu_llamacpp_design, gpu_vllm_design, multinode_design
from bundle.examples import ENGINE_CASES, EXAMPLES, PLANNER_CASES, planned
from garrison.design import Design
from garrison.errors import InputError
from garrison.render import render_bundle
from garrison.render.context import slug

CASES = [*EXAMPLES, *PLANNER_CASES, *ENGINE_CASES]


def _per_server(files: dict[str, str]) -> dict[str, dict]:
    return {
        m.group(1): yaml.safe_load(text)
        for path, text in files.items()
        if (m := re.fullmatch(r"compose/([a-z0-9-]+)/compose\.yaml", path))
    }


def _servers(design: Design) -> dict[str, int]:
    """Physical server name -> its GPU count, as the bundle names them."""
    return {
        f"{slug(s.name)}-{i}": (s.gpus_per_server if s.gpu else 0)
        for s in design.servers
        for i in range(1, s.count + 1)
    }


def _device_ids(svc: dict) -> list[str]:
    devices = svc.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])
    return [i for d in devices for i in d.get("device_ids", [])]


def _check(design: Design) -> None:
    files = render_bundle(design)
    servers = _servers(design)
    per = _per_server(files)
    if sum(s.count for s in design.servers) <= 1:
        assert not per and "compose/compose.yaml" in files
        return
    assert "compose/compose.yaml" not in files
    assert set(per) == set(servers), "one compose file per physical server"
    assert "WARNING" not in "".join(files[p] for p in files if p.startswith("compose/"))
    published: dict[tuple[str, int], str] = {}
    seen: Counter[str] = Counter()
    for host, compose in per.items():
        used: list[str] = []
        for name, svc in compose["services"].items():
            ids = _device_ids(svc)
            used += ids
            assert all(0 <= int(i) < servers[host] for i in ids), f"{host}:{name} uses GPUs {ids}"
            if "command" in svc and name not in ("gateway-exporter", "node-exporter", "prometheus"):
                seen[name] += 1
            for port in svc.get("ports", []):
                m = re.fullmatch(r"\$\{(GARRISON_ADDR_\w+):\?[^}]*\}:(\d+):(\d+)", str(port))
                if m:  # published on this server's own address
                    assert m.group(1) == "GARRISON_ADDR_" + host.upper().replace("-", "_"), port
                    published[(host, int(m.group(2)))] = name
        assert len(used) == len(set(used)), f"{host}: two services share a GPU"
    # every single-node replica of every deployment runs exactly once, somewhere
    for dep in design.deployments:
        name = slug(dep.name or dep.use_case)
        if dep.nodes_per_replica > 1:
            continue
        for r in range(dep.replicas):
            assert seen[f"{name}-{r}"] == 1, f"{name}-{r} runs {seen[f'{name}-{r}']} times"
    # the gateway's upstreams and Prometheus's targets are server:port pairs some server publishes
    ups = re.findall(r"^\s*server ([a-z0-9-]+):(\d+) ", files["gateway/upstreams.conf"], re.M)
    for host, port in ups:
        if host.endswith(".internal"):
            continue  # a multi-node replica's leader (Kubernetes only)
        assert (host, int(port)) in published, f"upstream {host}:{port} is published by no server"
    prom = yaml.safe_load(files["monitoring/prometheus.yml"])
    for job in prom["scrape_configs"]:
        for sc in job["static_configs"]:
            for t in sc["targets"]:
                host, port = t.rsplit(":", 1)
                if host in servers:
                    assert (host, int(port)) in published, f"{job['job_name']} target {t} is not published"
    # the gateway's server can resolve every server it proxies to
    gw_hosts = [h for h, c in per.items() if "gateway" in c["services"]]
    assert gw_hosts, "no server runs the gateway"
    for h in gw_hosts:
        known = set(per[h]["services"]["gateway"].get("extra_hosts", {}))
        assert {host for host, _ in ups if not host.endswith(".internal")} <= known


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_every_plan_gets_one_compose_file_per_server(path: Path) -> None:
    _check(planned(path))


@pytest.mark.parametrize("make", [gpu_vllm_design, cpu_llamacpp_design, multinode_design])
def test_hand_built_designs(make) -> None:  # type: ignore[no-untyped-def]
    _check(make())


def test_replicas_spread_before_they_share_a_server() -> None:
    """Two HA replicas on two servers of two GPUs each: one per server, each on its server's GPU 0."""
    d = gpu_vllm_design()
    server = d.servers[0].model_copy(update={"count": 2, "gpus_per_server": 2})
    per = _per_server(render_bundle(d.model_copy(update={"servers": (server,)})))
    assert sorted(per) == ["inference-1", "inference-2"]
    assert _device_ids(per["inference-1"]["services"]["chat-0"]) == ["0"]
    assert _device_ids(per["inference-2"]["services"]["chat-1"]) == ["0"]


def test_co_located_gateway_reaches_local_and_remote_replicas() -> None:
    """No gateway server in the design: the first server runs the gateway next to its own replica."""
    per = _per_server(render_bundle(cpu_llamacpp_design()))
    assert {"assistant-0", "gateway", "prometheus"} <= set(per["cpu-node-1"]["services"])
    assert set(per["cpu-node-2"]["services"]) == {"assistant-1", "node-exporter"}
    assert per["cpu-node-1"]["services"]["gateway"]["extra_hosts"] == {
        "cpu-node-1": "${GARRISON_ADDR_CPU_NODE_1:?set GARRISON_ADDR_CPU_NODE_1 in compose.env}",
        "cpu-node-2": "${GARRISON_ADDR_CPU_NODE_2:?set GARRISON_ADDR_CPU_NODE_2 in compose.env}",
    }


def test_replicas_that_do_not_fit_the_servers_are_refused() -> None:
    d = gpu_vllm_design()
    server = d.servers[0].model_copy(update={"gpus_per_server": 1})
    with pytest.raises(InputError, match="replica 2 of chat needs 1 free GPU"):
        render_bundle(d.model_copy(update={"servers": (server,)}))


def test_single_server_keeps_one_compose_file() -> None:
    files = render_bundle(gpu_vllm_design())
    assert "compose/compose.yaml" in files and "compose/README.md" not in files
    assert "GARRISON_ADDR_" not in files["compose/compose.yaml"] + files["compose/.env.example"]
