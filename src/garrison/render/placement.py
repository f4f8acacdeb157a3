"""Which server runs what: engine replicas, GPUs and support services per physical server (pure).

The design lists server *types* (`Server`, with a `count`) and which deployments and services each
type hosts (`Server.hosts`). Compose runs on one machine at a time, so the bundle needs the mapping
one step further: each physical server (`<type>-<n>`), the replicas on it, the GPU ids of each
replica within that server, and the host port each engine is published on.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from garrison.design import Deployment, Design
from garrison.errors import InputError

SUPPORT = ("gateway", "prometheus", "grafana", "open-webui")
# host ports the support services publish on a server: an engine never takes one of them
RESERVED_PORTS = frozenset({22, 80, 443, 3000, 3001, 8081, 9090, 9100, 9113, 9180, 9400})


def _label(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return (s or "server")[:50].rstrip("-")


@dataclass(frozen=True)
class PlacedReplica:
    """One engine replica on one server (a multi-node replica has one entry per node)."""

    deployment: str  # the deployment's DNS-safe name (DeploymentView.name)
    index: int  # replica number within the deployment
    service: str  # compose service name, `<deployment>-<index>`
    host: str  # the server it runs on
    gpu_ids: tuple[str, ...]  # device ids within that server
    host_port: int  # the port published on the server's address (multi-server layouts)
    node: int = 0  # node rank within a multi-node replica (0 = leader)


@dataclass(frozen=True)
class Host:
    """One physical server of the design."""

    name: str  # DNS label: `<server type>-<n>`
    server: str  # the server type's name in the design
    role: str
    gpus: int
    addr_var: str  # the compose.env variable that holds this server's internal address
    services: tuple[str, ...]  # support services it runs (gateway, prometheus, grafana, open-webui)
    replicas: tuple[PlacedReplica, ...] = ()
    co_located_note: str = ""  # why the support services run here, when the design did not say

    @property
    def gpu_ids_used(self) -> int:
        """GPUs the replicas on this server take."""
        return sum(len(r.gpu_ids) for r in self.replicas)


@dataclass(frozen=True)
class Layout:
    """Every physical server and what runs on it; `multi` when the design has more than one."""

    hosts: tuple[Host, ...]
    replicas: dict[str, tuple[PlacedReplica, ...]] = field(default_factory=dict)  # by deployment name

    @property
    def multi(self) -> bool:
        """More than one physical server: compose is rendered per server."""
        return len(self.hosts) > 1

    def host(self, name: str) -> Host:
        """The server called `name`."""
        return next(h for h in self.hosts if h.name == name)

    def running(self, service: str) -> tuple[Host, ...]:
        """The servers that run a support service."""
        return tuple(h for h in self.hosts if service in h.services)


def _hosts_of(design: Design) -> list[Host]:
    out: list[Host] = []
    for s in design.servers:
        for i in range(1, max(0, s.count) + 1):
            name = f"{_label(s.name)}-{i}"
            out.append(
                Host(
                    name=name,
                    server=s.name,
                    role=s.role,
                    gpus=s.gpus_per_server if s.gpu else 0,
                    addr_var="GARRISON_ADDR_" + name.upper().replace("-", "_"),
                    services=tuple(x for x in SUPPORT if x in s.hosts),
                )
            )
    return out


def _serves(hosts: tuple[str, ...], dep: Deployment, view_name: str) -> bool:
    return any(h in (dep.name, dep.use_case, view_name) for h in hosts)


def place(design: Design, names: Sequence[str]) -> Layout:
    """Place every replica of the design on its servers.

    `names` are the deployments' DNS-safe names, in design order. A replica goes to the server of
    its deployment's server type with the most free GPUs (ties: the first), so replicas spread over
    servers before they share one, as the Kubernetes spread constraint does; a multi-node replica
    takes that many servers. CPU replicas spread by count. A design without servers (hand-written)
    gets one server that holds everything.
    """
    hosts = _hosts_of(design)
    inference = [h for h in hosts if h.role == "inference"] or hosts
    if not inference:  # no servers in the design: one implicit server with what the replicas need
        need = sum(d.gpus_per_replica * d.replicas for d in design.deployments if d.device_kind == "gpu")
        inference = hosts = [
            Host(
                name="server-1",
                server="server",
                role="inference",
                gpus=need,
                addr_var="GARRISON_ADDR_SERVER_1",
                services=(),
            )
        ]
    free = {h.name: list(range(h.gpus)) for h in hosts}
    count = {h.name: 0 for h in hosts}
    ports: dict[str, set[int]] = {h.name: set(RESERVED_PORTS) for h in hosts}
    placed: dict[str, list[PlacedReplica]] = {h.name: [] for h in hosts}
    by_dep: dict[str, tuple[PlacedReplica, ...]] = {}
    hosted = {s.name: s.hosts for s in design.servers}
    from garrison import engines  # the engine's port

    for i, (dep, name) in enumerate(zip(design.deployments, names, strict=True)):
        cands = [h for h in inference if _serves(hosted.get(h.server, ()), dep, name)]
        if not cands:
            cands = inference
        nodes = max(1, dep.nodes_per_replica)
        per_node = math.ceil(dep.gpus_per_replica / nodes) if dep.device_kind == "gpu" else 0
        port = engines.launch_of(dep.engine, f"deployments[{i}].engine").port
        mine: list[PlacedReplica] = []
        for r in range(dep.replicas):
            used: list[str] = []  # servers this replica already has a node on
            for node in range(nodes):
                fits = [h for h in cands if len(free[h.name]) >= per_node]
                if not fits:
                    have = ", ".join(f"{h.name}: {len(free[h.name])}" for h in cands)
                    raise InputError(
                        "servers",
                        f"replica {r + 1} of {name} needs {per_node} free GPU(s) on each of {nodes} node(s); "
                        f"the servers that host it have {have} free",
                        "re-plan the design (garrison plan) so its servers hold every replica",
                    )
                # a node of a multi-node replica goes to another server when one has room (the
                # LeaderWorkerSet spreads its pods), else beside its leader
                h = min(
                    fits,
                    key=lambda h: (h.name in used, -len(free[h.name]), count[h.name], inference.index(h)),
                )
                used.append(h.name)
                ids = tuple(str(g) for g in free[h.name][:per_node])
                del free[h.name][:per_node]
                count[h.name] += 1
                hp = port
                while hp in ports[h.name]:
                    hp += 1
                ports[h.name].add(hp)
                p = PlacedReplica(name, r, f"{name}-{r}", h.name, ids, hp, node)
                placed[h.name].append(p)
                mine.append(p)
        by_dep[name] = tuple(mine)
    out = [
        Host(h.name, h.server, h.role, h.gpus, h.addr_var, h.services, tuple(placed[h.name])) for h in hosts
    ]
    out = _support(out)
    return Layout(hosts=tuple(out), replicas=by_dep)


def _support(hosts: list[Host]) -> list[Host]:
    """Support services the design placed nowhere go with the gateway, or, without a gateway server,
    onto the first inference server (co-located, as the planner does for a single server)."""
    missing = [s for s in SUPPORT if not any(s in h.services for h in hosts)]
    if not missing:
        return hosts
    gw = [h for h in hosts if "gateway" in h.services]
    target = gw or [next((h for h in hosts if h.role == "inference"), hosts[0])]
    note = "" if gw else "the design names no server for the gateway and monitoring: they run on this one"
    names = {h.name for h in target}
    return [
        Host(
            h.name,
            h.server,
            h.role,
            h.gpus,
            h.addr_var,
            tuple(s for s in SUPPORT if s in h.services or s in missing),
            h.replicas,
            note,
        )
        if h.name in names
        else h
        for h in hosts
    ]
