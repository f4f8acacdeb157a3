"""Who can open a connection to whom, read from a rendered bundle (compose networks, k8s NetworkPolicies).

Compose: two containers can connect when they share a network; a container in another's network
namespace (`network_mode: service:X`) is X as far as the network is concerned.
Kubernetes: an evaluator of the NetworkPolicy ingress rules of one namespace (default deny once any
policy with Ingress selects a pod; peers by pod selector, namespace selector or both; ports).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml


def compose_reach(compose: dict[str, Any]) -> dict[str, set[str]]:
    """service -> the other services that can connect to it."""
    services: dict[str, Any] = compose["services"]
    nets: dict[str, set[str]] = {}
    for name, svc in services.items():
        mode = svc.get("network_mode", "")
        if mode.startswith("service:"):
            continue
        declared = svc.get("networks", ["default"])
        nets[name] = set(declared if isinstance(declared, list) else declared.keys())
    for name, svc in services.items():  # netns sharers take their host's networks
        mode = svc.get("network_mode", "")
        if mode.startswith("service:"):
            nets[name] = nets[mode.split(":", 1)[1]]
    return {
        name: {other for other, theirs in nets.items() if other != name and theirs & mine}
        for name, mine in nets.items()
    }


def netns_of(compose: dict[str, Any], service: str) -> str:
    """The service whose network namespace `service` runs in (itself, unless network_mode: service:X)."""
    mode = compose["services"][service].get("network_mode", "")
    return mode.split(":", 1)[1] if mode.startswith("service:") else service


@dataclass(frozen=True)
class Peer:
    """One allowed source: pods matching `pods` in namespaces matching `namespaces` (None: own namespace)."""

    pods: tuple[tuple[str, str], ...] | None  # matchLabels items; None = every pod
    namespaces: tuple[tuple[str, str], ...] | None  # None = the policy's own namespace
    ports: tuple[int | str, ...] | None  # None = every port


def _labels(sel: dict[str, Any] | None) -> tuple[tuple[str, str], ...] | None:
    if sel is None:
        return None
    if sel.get("matchExpressions"):
        raise AssertionError("matchExpressions: extend the evaluator before relying on it")
    return tuple(sorted((sel.get("matchLabels") or {}).items()))


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    want = selector.get("matchLabels") or {}
    if selector.get("matchExpressions"):
        raise AssertionError("matchExpressions: extend the evaluator before relying on it")
    return all(labels.get(k) == v for k, v in want.items())


def ingress_peers(policies: list[dict[str, Any]], pod_labels: dict[str, str]) -> list[Peer] | None:
    """Allowed ingress peers of a pod with `pod_labels`; None when no policy isolates it (all allowed)."""
    isolated = False
    peers: list[Peer] = []
    for pol in policies:
        spec = pol["spec"]
        if not _selects(spec.get("podSelector") or {}, pod_labels):
            continue
        types = spec.get("policyTypes") or ["Ingress"]
        if "Ingress" not in types:
            continue
        isolated = True
        for rule in spec.get("ingress") or []:
            ports = rule.get("ports")
            port_set = tuple(p.get("port") for p in ports) if ports else None
            froms = rule.get("from")
            if not froms:
                peers.append(Peer(None, (), port_set))  # every source
                continue
            for f in froms:
                peers.append(
                    Peer(
                        _labels(f.get("podSelector")) if "podSelector" in f else None,
                        _labels(f.get("namespaceSelector")) if "namespaceSelector" in f else None,
                        port_set,
                    )
                )
    return peers if isolated else None


def k8s_docs(files: dict[str, str]) -> list[dict[str, Any]]:
    """Every Kubernetes object in k8s/base."""
    out: list[dict[str, Any]] = []
    for path, text in sorted(files.items()):
        if path.startswith("k8s/base/") and path.endswith(".yaml") and path.count("/") == 2:
            out += [d for d in yaml.safe_load_all(text) if isinstance(d, dict) and d.get("kind")]
    return out


def pod_templates(docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(object name, pod template) for Deployments and both templates of LeaderWorkerSets."""
    out = []
    for d in docs:
        if d["kind"] == "Deployment":
            out.append((d["metadata"]["name"], d["spec"]["template"]))
        elif d["kind"] == "LeaderWorkerSet":
            t = d["spec"]["leaderWorkerTemplate"]
            out.append((d["metadata"]["name"] + "/leader", t["leaderTemplate"]))
            out.append((d["metadata"]["name"] + "/worker", t["workerTemplate"]))
    return out
