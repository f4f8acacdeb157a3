"""The template context: every number a template prints, derived from the Design once (pure)."""

from __future__ import annotations

import ipaddress
import json
import math
import shlex
from dataclasses import dataclass
from typing import Any

from garrison import engines
from garrison.design import Deployment, Design
from garrison.engines import Cluster, EngineMetrics
from garrison.names import slug
from garrison.render.alerts import (
    Alert,
    LatencyThresholds,
    design_alerts,
    latency_thresholds,
    queue_threshold,
)
from garrison.render.images import engine_image, support_image
from garrison.render.placement import PlacedReplica, place


@dataclass(frozen=True)
class Replica:
    """One engine replica as a compose service."""

    service: str
    gpu_ids: tuple[str, ...]  # within its server (the leader's, for a multi-node replica)
    host: str = ""  # the server it runs on (render/placement.py)
    host_port: int = 0  # the port it is published on at that server's address (multi-server compose)


@dataclass(frozen=True)
class DeploymentView:
    """What the templates need about one deployment."""

    d: Deployment  # served_name is in d.model_name
    served_name: str  # the `model` clients send; unique across the design
    model_json: str  # this model as GET /v1/models/<name> returns it
    model_file: str  # folder or .gguf under /models
    fetch_cmd: str | None  # downloads the checkpoint into MODELS_DIR (connected machine), when known
    name: str  # DNS-safe use-case name: k8s object names, compose services, Prometheus job
    image: str
    entrypoint: tuple[str, ...]
    args: tuple[str, ...]
    env: dict[str, str]
    port: int
    upstream_keepalive: bool  # gateway may pool idle connections to this engine
    health_path: str
    metrics_path: str | None
    metrics: EngineMetrics
    replicas: tuple[Replica, ...]
    read_only_root: bool
    queue_threshold: float  # queued requests per replica the alerts and KEDA fire at
    latency: LatencyThresholds  # P95 alert thresholds from the targets and the simulated load curve
    data_dir: str | None  # writable scratch besides /tmp (TABBY_ROOT)
    ray_cluster: bool  # multi-node replicas start a Ray cluster the leader's engine drives
    route: str  # gateway path prefix, e.g. /chat/v1/
    min_replicas: int
    max_replicas: int
    cpu_request: str
    memory_request: str
    memory_limit: str
    model_storage: str  # the models PVC's size, a Kubernetes quantity
    shm_size: str
    multi_node: bool
    ha: bool  # the use case asked for high availability: replicas on separate servers
    leader_args: tuple[str, ...]
    worker_args: tuple[str, ...]


def _memory_gib(dep: Deployment) -> int:
    # host RAM per replica: model weights are staged through page cache (x1.2) plus 8 GiB for the
    # engine's Python/CUDA runtime; for CPU engines weights and KV live in RAM entirely.
    est = dep.estimate
    if dep.device_kind == "cpu":
        return max(4, math.ceil(est.memory.weights_gib + est.memory.kv_cache_gib + 2))
    return max(16, math.ceil(est.weights_gib_per_gpu * dep.gpus_per_replica * 1.2 + 8))


def _model_storage_gib(dep: Deployment) -> int:
    # the checkpoint's download size when known, else the weights the estimate sized (per GPU x GPUs
    # of a replica); x1.5 for tokenizer, configs and a second revision during upgrades, + 10 GiB
    if dep.checkpoint is not None and dep.checkpoint.size_gib:
        weights = dep.checkpoint.size_gib
    else:
        gpus = dep.gpus_per_replica if dep.device_kind == "gpu" else 1
        weights = dep.estimate.memory.weights_gib * gpus
    return math.ceil(weights * 1.5) + 10


def served_names(design: Design) -> list[str]:
    """The `model` name of each deployment as clients send it: the deployment's model_name, or, when
    an earlier deployment already serves that name, model_name-use_case (routing by model needs
    every name once)."""
    out: list[str] = []
    for dep in design.deployments:
        name = dep.model_name
        if name in out:
            name = f"{name}-{slug(dep.use_case)}"
        out.append(name)
    return out


def _fetch_cmd(dep: Deployment, model_file: str) -> str | None:
    """`hf download` of the deployment's checkpoint (huggingface_hub CLI), pinned to its revision,
    into the folder or file name the engine is started with."""
    ck = dep.checkpoint
    if ck is None:
        return None
    if ck.file:
        return (
            f"hf download {shlex.quote(ck.repo)} {shlex.quote(ck.file)} --revision {shlex.quote(ck.revision)} "
            '--local-dir "${MODELS_DIR:-/srv/models}"'
        )
    return (
        f"hf download {shlex.quote(ck.repo)} --revision {shlex.quote(ck.revision)} "
        f'--local-dir "${{MODELS_DIR:-/srv/models}}/{model_file}"'
    )


def _model_object(name: str) -> dict[str, Any]:
    # the OpenAI "model" object (GET /v1/models); created is fixed so the bundle stays deterministic
    return {"id": name, "object": "model", "created": 0, "owned_by": "garrison"}


def _view(
    dep: Deployment, index: int, headroom_pct: float, placed: tuple[PlacedReplica, ...], ha: bool = False
) -> DeploymentView:
    launch = engines.launch_of(dep.engine, f"deployments[{index}].engine")
    profile = engines.get(dep.engine)
    name = slug(dep.name or dep.use_case)
    replicas = [
        Replica(service=p.service, gpu_ids=p.gpu_ids, host=p.host, host_port=p.host_port)
        for p in placed
        if p.node == 0
    ]
    # autoscaling ceiling: the design's replicas plus the growth headroom (needs that many spare
    # accelerators in the cluster; the capacity runbook says so)
    max_r = max(dep.replicas, math.ceil(dep.replicas * (1 + headroom_pct / 100)))
    mem = _memory_gib(dep)
    nodes = dep.nodes_per_replica
    view = DeploymentView(
        d=dep,
        served_name=dep.model_name,
        model_json=json.dumps(_model_object(dep.model_name), separators=(",", ":")),
        model_file=engines.model_dir_name(dep, profile),
        fetch_cmd=_fetch_cmd(dep, engines.model_dir_name(dep, profile)),
        name=name,
        image=engine_image(dep),
        entrypoint=launch.entrypoint,
        args=tuple(launch.args(dep, Cluster())),
        env=dict(sorted({**engines.OFFLINE_ENV, **launch.env}.items())),
        port=launch.port,
        upstream_keepalive=launch.upstream_keepalive,
        health_path=launch.health_path,
        metrics_path=launch.metrics_path,
        metrics=launch.metrics,
        replicas=tuple(replicas),
        read_only_root=launch.read_only_root,
        queue_threshold=queue_threshold(dep),
        latency=latency_thresholds(dep),
        data_dir=launch.data_dir,
        ray_cluster=launch.multi_node == "ray",
        route=f"/{name}/v1/",
        min_replicas=dep.replicas,
        max_replicas=max_r,
        cpu_request=str(max(2, min(32, dep.max_num_seqs // 8 + 2))) if dep.device_kind == "gpu" else "8",
        memory_request=f"{mem}Gi",
        memory_limit=f"{mem + 8}Gi",
        model_storage=f"{_model_storage_gib(dep)}Gi",
        # NCCL and the engines' worker processes share tensors through /dev/shm
        shm_size=f"{max(2, 2 * dep.tp * dep.pp)}Gi",
        multi_node=nodes > 1,
        ha=ha,
        leader_args=tuple(launch.args(dep, Cluster(nodes, "0", "$(LWS_LEADER_ADDRESS):5000"))),
        worker_args=tuple(
            launch.args(dep, Cluster(nodes, "$(LWS_WORKER_INDEX)", "$(LWS_LEADER_ADDRESS):5000"))
        ),
    )
    return view


@dataclass(frozen=True)
class GatewayLimits:
    """Gateway numbers and where they come from."""

    rate_per_min: int
    burst: int
    body_mb: int
    read_timeout_s: int


def gateway_limits(design: Design) -> GatewayLimits:
    """Per-key rate, burst, body size and read timeout from the design's load and limits."""
    total_rpm = sum(d.requests_per_minute for d in design.deployments)
    total_conc = sum(d.concurrent_requests for d in design.deployments)
    # one key may use at most half of the platform's designed request rate (so a runaway client
    # cannot starve the others), never below 60 requests per minute: a shared front end such as
    # Open WebUI sends all its users' requests with one key
    rate = max(60, math.ceil(total_rpm / 2))
    burst = max(5, math.ceil(total_conc / 2))
    # request bodies: the longest prompt is max_model_len tokens x ~4 bytes of text per token,
    # x2 for JSON escaping and message framing, rounded up to whole MiB, at least 1 MiB
    longest = max(d.max_model_len for d in design.deployments)
    body_mb = max(1, math.ceil(longest * 4 * 2 / 2**20))
    # a generation may run max_model_len output tokens at the design's inter-token latency;
    # twice that, clamped to [300 s, 3600 s]
    worst = max(d.max_model_len * d.estimate.itl_ms / 1000 for d in design.deployments)
    timeout = int(min(3600, max(300, math.ceil(2 * worst))))
    return GatewayLimits(rate_per_min=rate, burst=burst, body_mb=body_mb, read_timeout_s=timeout)


def _networks(design: Design) -> tuple[list[str], list[str]]:
    v4: list[str] = []
    v6: list[str] = []
    for cidr in design.requirements.security.internal_networks:
        net = ipaddress.ip_network(cidr, strict=False)
        (v4 if net.version == 4 else v6).append(str(net))
    return sorted(set(v4)), sorted(set(v6))


def build_context(design: Design) -> dict[str, Any]:
    """Everything the templates read, computed once from the design."""
    views: list[DeploymentView] = []
    headroom = design.requirements.growth.headroom_pct
    names = [slug(d.name or d.use_case) for d in design.deployments]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        from garrison.errors import InputError

        raise InputError(
            "deployments",
            f"two deployments share the use case name {dup[0]!r}",
            "give each use case its own name",
        )
    layout = place(design, names)
    for i, (dep, served) in enumerate(zip(design.deployments, served_names(design), strict=True)):
        if served != dep.model_name:
            dep = dep.model_copy(update={"model_name": served})
        ha = any(u.high_availability for u in design.requirements.use_cases if u.name == dep.use_case)
        views.append(_view(dep, i, headroom, layout.replicas[names[i]], ha))
    v4, v6 = _networks(design)
    alerts: list[Alert] = design_alerts(design)
    groups: dict[str, list[Alert]] = {}
    for a in alerts:
        groups.setdefault(a.group, []).append(a)
    gpu_count = sum(h.gpu_ids_used for h in layout.hosts)
    return {
        "design": design,
        "req": design.requirements,
        "name": slug(design.name),
        "namespace": f"garrison-{slug(design.name)}"[:63].rstrip("-"),
        "deployments": views,
        "default": views[0],
        "models_json": json.dumps(
            {"object": "list", "data": [_model_object(v.served_name) for v in views]}, separators=(",", ":")
        ),
        "gpu": any(v.d.device_kind == "gpu" for v in views),
        "gpu_count": gpu_count,
        "layout": layout,
        "multi_server": layout.multi,
        "views_by_name": {v.name: v for v in views},
        "limits": gateway_limits(design),
        "nets_v4": v4,
        "nets_v6": v6,
        "alerts": alerts,
        "alert_groups": sorted(groups.items()),
        "images": {
            k: support_image(k)
            for k in (
                "gateway",
                "gateway-exporter",
                "prometheus",
                "grafana",
                "dcgm-exporter",
                "node-exporter",
                "open-webui",
            )
        },
        "totals": {
            "servers": sum(s.count for s in design.servers),
            "rack_units": sum(s.rack_units * s.count for s in design.servers),
            "max_w": sum(s.power_max_w * s.count for s in design.servers),
        },
        # the Helm release name kube-prometheus-stack selects ServiceMonitors and PrometheusRules by
        # (its chart's default serviceMonitorSelector / ruleSelector: release: <release name>)
        "prometheus_release": "kube-prometheus-stack",
        "domain": f"llm.{slug(design.requirements.organisation.name)}.internal",
    }
